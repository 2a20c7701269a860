/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of the mode 6 codec: header checks, fragments, reassembly, variable lists,
 * status words. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/ctl.h"

/* A request as NTPsec's ntpq sends it: version 2, READVAR, sequence 5, no data. */
static const uint8_t ntpq_readvar[12] = {0x16, 0x02, 0x00, 0x05, 0, 0, 0, 0, 0, 0, 0, 0};

static void decode_ntpq_request(void **state)
{
    (void)state;
    struct ctl_msg m;
    assert_int_equal(ctl_decode(ntpq_readvar, sizeof(ntpq_readvar), &m), CTL_OK);
    assert_int_equal(m.version, 2);
    assert_int_equal(m.opcode, CTL_OP_READVAR);
    assert_int_equal(m.seq, 5);
    assert_int_equal(m.count, 0);
    assert_false(m.response);
    assert_int_equal(m.trailer, 0);
    assert_int_equal(ctl_check_request(&m), CTL_OK);
}

static void decode_rejects(void **state)
{
    (void)state;
    struct ctl_msg m;
    uint8_t b[64];

    assert_int_equal(ctl_decode(ntpq_readvar, 11, &m), CTL_BAD_SHORT);
    assert_int_equal(ctl_decode(NULL, 0, &m), CTL_BAD_SHORT);
    memset(b, 0, sizeof(b));
    assert_int_equal(ctl_decode(b, CTL_MAX_DGRAM + 4, &m), CTL_BAD_LONG);

    memcpy(b, ntpq_readvar, 12);
    b[0] = 0x13; /* mode 3 */
    assert_int_equal(ctl_decode(b, 12, &m), CTL_BAD_MODE);
    b[0] = 0x06; /* version 0 */
    assert_int_equal(ctl_decode(b, 12, &m), CTL_BAD_VERSION);
    b[0] = 0x2e; /* version 5 */
    assert_int_equal(ctl_decode(b, 12, &m), CTL_BAD_VERSION);

    /* count beyond the datagram, and above 468 */
    memcpy(b, ntpq_readvar, 12);
    b[11] = 8;
    assert_int_equal(ctl_decode(b, 16, &m), CTL_BAD_COUNT);
    assert_int_equal(ctl_decode(b, 20, &m), CTL_OK);
    b[10] = 0x01;
    b[11] = 0xd5; /* 469 */
    uint8_t big[CTL_MAX_DGRAM];
    memset(big, 0, sizeof(big));
    memcpy(big, b, 12);
    assert_int_equal(ctl_decode(big, CTL_HEADER_LEN + 472, &m), CTL_BAD_COUNT);

    /* Anything after the padded data (a MAC, or junk) is ignored and measured. */
    memcpy(b, ntpq_readvar, 12);
    b[11] = 4;
    assert_int_equal(ctl_decode(b, 24, &m), CTL_OK);
    assert_int_equal(m.trailer, 8);
    assert_int_equal(ctl_decode(b, 16 + 20, &m), CTL_OK);
    assert_int_equal(m.trailer, 20);
    assert_int_equal(ctl_check_request(&m), CTL_OK);
    /* A length that is not a multiple of 4: "bad format" (the header is still read). */
    assert_int_equal(ctl_decode(b, 17, &m), CTL_OK);
    assert_int_equal(ctl_check_request(&m), CTL_BAD_ALIGN);
    assert_int_equal(ctl_check_response(&m), CTL_BAD_ALIGN);
    /* A response must hold its padded data. */
    b[11] = 3;
    assert_int_equal(ctl_decode(b, 15, &m), CTL_OK);
    assert_int_equal(ctl_check_response(&m), CTL_BAD_ALIGN);
    assert_int_equal(ctl_decode(b, 16, &m), CTL_OK);
    assert_int_equal(ctl_check_response(&m), CTL_OK);
    /* count beyond the datagram still fills the header (for the error reply). */
    b[11] = 40;
    b[3] = 9;
    assert_int_equal(ctl_decode(b, 16, &m), CTL_BAD_COUNT);
    assert_int_equal(m.seq, 9);
    assert_int_equal(m.opcode, CTL_OP_READVAR);

    /* request checks */
    memcpy(b, ntpq_readvar, 12);
    b[1] = 0x82;
    assert_int_equal(ctl_decode(b, 12, &m), CTL_OK);
    assert_int_equal(ctl_check_request(&m), CTL_BAD_RESPONSE);
    b[1] = 0x22; /* more bit */
    ctl_decode(b, 12, &m);
    assert_int_equal(ctl_check_request(&m), CTL_BAD_RESPONSE);
    b[1] = 0x02;
    b[9] = 4; /* offset */
    ctl_decode(b, 12, &m);
    assert_int_equal(ctl_check_request(&m), CTL_BAD_OFFSET);
    for (int r = 0; r < CTL_REASON_COUNT; r++) {
        assert_string_not_equal(ctl_reason_name((enum ctl_reason)r), "?");
    }
}

static void request_round_trip(void **state)
{
    (void)state;
    uint8_t b[64];
    struct ctl_msg m;
    size_t n = ctl_encode_request(2, CTL_OP_READVAR, 77, 3, "a,b", 3, b, sizeof(b));
    assert_int_equal(n, 16);
    assert_int_equal(b[15], 0);
    assert_int_equal(ctl_decode(b, n, &m), CTL_OK);
    assert_int_equal(m.count, 3);
    assert_int_equal(m.associd, 3);
    assert_int_equal(m.seq, 77);
    assert_memory_equal(m.data, "a,b", 3);
    assert_int_equal(ctl_encode_request(2, 1, 1, 0, "x", 1, b, 15), 0);
    assert_int_equal(ctl_encode_request(2, 1, 1, 0, b, CTL_MAX_DATA + 1, b, sizeof(b)), 0);
}

static void fragments_and_reassembly(void **state)
{
    (void)state;
    static uint8_t payload[1000];
    for (size_t i = 0; i < sizeof(payload); i++) {
        payload[i] = (uint8_t)(i * 7 + 1);
    }
    struct ctl_msg req;
    assert_int_equal(ctl_decode(ntpq_readvar, 12, &req), CTL_OK);
    assert_int_equal(ctl_fragments(sizeof(payload)), 3);
    assert_int_equal(ctl_fragments(0), 1);
    assert_int_equal(ctl_fragments(468), 1);
    assert_int_equal(ctl_fragments(469), 2);

    uint8_t d[3][CTL_MAX_DGRAM];
    size_t len[3];
    for (size_t f = 0; f < 3; f++) {
        len[f] = ctl_encode_response(&req, 1, 0x1234, 0, payload, sizeof(payload), f, d[f],
                                     CTL_MAX_DGRAM);
    }
    assert_int_equal(ctl_encode_response(&req, 1, 0, 0, payload, sizeof(payload), 3, d[0],
                                         CTL_MAX_DGRAM),
                     0);
    assert_int_equal(len[0], 480);
    assert_int_equal(len[1], 480);
    assert_int_equal(len[2], 12 + 64);
    struct ctl_msg m[3];
    for (size_t f = 0; f < 3; f++) {
        assert_int_equal(ctl_decode(d[f], len[f], &m[f]), CTL_OK);
        assert_true(m[f].response);
        assert_int_equal(m[f].version, 2); /* the request's */
        assert_int_equal(m[f].leap, 1);
        assert_int_equal(m[f].status, 0x1234);
        assert_int_equal(m[f].offset, f * 468);
        assert_int_equal(m[f].more, f < 2);
    }
    assert_int_equal(m[2].count, 64);

    /* Out of order, with a duplicate: complete and equal. */
    static struct ctl_reasm r;
    ctl_reasm_init(&r);
    assert_int_equal(ctl_reasm_add(&r, &m[2], 5, CTL_OP_READVAR), CTL_REASM_MORE);
    assert_int_equal(ctl_reasm_add(&r, &m[0], 5, CTL_OP_READVAR), CTL_REASM_MORE);
    assert_int_equal(ctl_reasm_add(&r, &m[0], 5, CTL_OP_READVAR), CTL_REASM_IGNORED);
    assert_int_equal(ctl_reasm_add(&r, &m[1], 4, CTL_OP_READVAR), CTL_REASM_IGNORED);
    assert_int_equal(ctl_reasm_add(&r, &m[1], 5, CTL_OP_READSTAT), CTL_REASM_IGNORED);
    assert_int_equal(ctl_reasm_add(&r, &m[1], 5, CTL_OP_READVAR), CTL_REASM_DONE);
    assert_int_equal(r.end, sizeof(payload));
    assert_memory_equal(r.buf, payload, sizeof(payload));
    assert_int_equal(r.status, 0x1234);

    /* An empty response is one datagram with no data. */
    uint8_t e[CTL_MAX_DGRAM];
    size_t el = ctl_encode_response(&req, 0, 0, 0, payload, 0, 0, e, sizeof(e));
    assert_int_equal(el, 12);
    struct ctl_msg em;
    assert_int_equal(ctl_decode(e, el, &em), CTL_OK);
    ctl_reasm_init(&r);
    assert_int_equal(ctl_reasm_add(&r, &em, 5, CTL_OP_READVAR), CTL_REASM_DONE);
    assert_int_equal(r.end, 0);
}

static struct ctl_msg frag(uint16_t offset, uint16_t count, bool more, const uint8_t *data)
{
    struct ctl_msg m;
    memset(&m, 0, sizeof(m));
    m.response = true;
    m.more = more;
    m.opcode = CTL_OP_READ_MRU;
    m.seq = 9;
    m.offset = offset;
    m.count = count;
    m.data = data;
    m.version = 2;
    return m;
}

static void reassembly_refuses_hostile_fragments(void **state)
{
    (void)state;
    static uint8_t zeros[CTL_MAX_DATA];
    static struct ctl_reasm r;
    struct ctl_msg m;

    /* Past the largest payload. */
    ctl_reasm_init(&r);
    m = frag(CTL_MAX_PAYLOAD - 10, 20, true, zeros);
    assert_int_equal(ctl_reasm_add(&r, &m, 9, CTL_OP_READ_MRU), CTL_REASM_BAD);

    /* A second "last", and data beyond the last one's end. */
    ctl_reasm_init(&r);
    m = frag(100, 50, false, zeros);
    assert_int_equal(ctl_reasm_add(&r, &m, 9, CTL_OP_READ_MRU), CTL_REASM_MORE);
    m = frag(0, 10, false, zeros);
    assert_int_equal(ctl_reasm_add(&r, &m, 9, CTL_OP_READ_MRU), CTL_REASM_BAD);
    m = frag(140, 20, true, zeros);
    assert_int_equal(ctl_reasm_add(&r, &m, 9, CTL_OP_READ_MRU), CTL_REASM_BAD);
    /* Overlap: ignored as a duplicate. */
    m = frag(90, 20, true, zeros);
    assert_int_equal(ctl_reasm_add(&r, &m, 9, CTL_OP_READ_MRU), CTL_REASM_IGNORED);
    m = frag(0, 100, true, zeros);
    assert_int_equal(ctl_reasm_add(&r, &m, 9, CTL_OP_READ_MRU), CTL_REASM_DONE);

    /* A last fragment ending before data already received. */
    ctl_reasm_init(&r);
    m = frag(400, 10, true, zeros);
    assert_int_equal(ctl_reasm_add(&r, &m, 9, CTL_OP_READ_MRU), CTL_REASM_MORE);
    m = frag(0, 10, false, zeros);
    assert_int_equal(ctl_reasm_add(&r, &m, 9, CTL_OP_READ_MRU), CTL_REASM_BAD);

    /* Empty non-final fragments are ignored; an endless stream of them is bounded. */
    ctl_reasm_init(&r);
    m = frag(0, 0, true, zeros);
    assert_int_equal(ctl_reasm_add(&r, &m, 9, CTL_OP_READ_MRU), CTL_REASM_IGNORED);
    enum ctl_reasm_result res = CTL_REASM_MORE;
    for (unsigned i = 0; i < 3 * CTL_MAX_FRAGS && res != CTL_REASM_BAD; i++) {
        m = frag((uint16_t)(i * 4), 4, true, zeros);
        res = ctl_reasm_add(&r, &m, 9, CTL_OP_READ_MRU);
    }
    assert_int_equal(res, CTL_REASM_BAD);

    /* An error response. */
    uint8_t d[CTL_MAX_DGRAM];
    struct ctl_msg req;
    ctl_decode(ntpq_readvar, 12, &req);
    size_t n = ctl_encode_error(&req, 3, CTL_ERR_UNKNOWNVAR, d, sizeof(d));
    assert_int_equal(n, 12);
    assert_int_equal(ctl_decode(d, n, &m), CTL_OK);
    assert_true(m.error && m.response);
    ctl_reasm_init(&r);
    assert_int_equal(ctl_reasm_add(&r, &m, 5, CTL_OP_READVAR), CTL_REASM_ERROR);
    assert_int_equal(ctl_error_of(r.status), CTL_ERR_UNKNOWNVAR);
    assert_string_equal(ctl_error_name(CTL_ERR_UNKNOWNVAR), "unknown variable");
    assert_string_equal(ctl_error_name((enum ctl_error)200), "unknown error");
}

static void text_layout(void **state)
{
    (void)state;
    char buf[512];
    struct ctl_text t;
    ctl_text_init(&t, buf, sizeof(buf));
    ctl_text_add(&t, "version", NULL);
    ctl_text_add(&t, "stratum", "%d", 2);
    ctl_text_add(&t, "offset", "%.6f", -0.25);
    assert_string_equal(buf, "version, stratum=2, offset=-0.250000");
    /* An item that would take the line to 72 characters goes to a new one. */
    ctl_text_str(&t, "name", "0123456789012345678901234567890");
    assert_string_equal(buf, "version, stratum=2, offset=-0.250000,\r\n"
                             "name=\"0123456789012345678901234567890\"");
    assert_int_equal(t.line, 38);
    assert_false(t.overflow);

    /* NTPsec 1.2.2's default system variables, laid out byte for byte as it sends them. */
    ctl_text_init(&t, buf, sizeof(buf));
    ctl_text_add(&t, "leap", "%d", 3);
    ctl_text_add(&t, "stratum", "%d", 16);
    ctl_text_add(&t, "precision", "%d", -24);
    ctl_text_add(&t, "rootdelay", "%.3f", 0.0);
    ctl_text_add(&t, "rootdisp", "%.3f", 0.135);
    ctl_text_add(&t, "refid", "%s", "INIT");
    ctl_text_add(&t, "reftime", "%s", "0x00000000.00000000");
    ctl_text_add(&t, "tc", "%d", 0);
    ctl_text_add(&t, "peer", "%d", 0);
    ctl_text_add(&t, "offset", "%.6f", 0.0);
    ctl_text_add(&t, "frequency", "%.6f", 0.0);
    ctl_text_add(&t, "sys_jitter", "%.6f", 0.0);
    ctl_text_add(&t, "clk_jitter", "%.6f", 0.00006);
    ctl_text_add(&t, "clock", "%s", "0xeec068c5.9f1ca48b");
    ctl_text_str(&t, "processor", "x86_64");
    ctl_text_str(&t, "system", "Linux/6.18.44-fc-v1300");
    ctl_text_str(&t, "version", "ntpd ntpsec-1.2.2");
    ctl_text_add(&t, "clk_wander", "%.6f", 0.0);
    ctl_text_add(&t, "mintc", "%d", 0);
    ctl_text_finish(&t);
    static const char want[] =
        "leap=3, stratum=16, precision=-24, rootdelay=0.000, rootdisp=0.135,\r\n"
        "refid=INIT, reftime=0x00000000.00000000, tc=0, peer=0, offset=0.000000,\r\n"
        "frequency=0.000000, sys_jitter=0.000000, clk_jitter=0.000060,\r\n"
        "clock=0xeec068c5.9f1ca48b, processor=\"x86_64\",\r\n"
        "system=\"Linux/6.18.44-fc-v1300\", version=\"ntpd ntpsec-1.2.2\",\r\n"
        "clk_wander=0.000000, mintc=0\r\n";
    assert_string_equal(buf, want);
    assert_int_equal(t.len, 346);

    /* An empty list stays empty. */
    ctl_text_init(&t, buf, sizeof(buf));
    ctl_text_finish(&t);
    assert_int_equal(t.len, 0);

    /* Quotes inside a string, control characters. */
    ctl_text_init(&t, buf, sizeof(buf));
    ctl_text_str(&t, "s", "a\"b\nc");
    assert_string_equal(buf, "s=\"a'b?c\"");

    /* Overflow: the item is dropped whole. */
    char small[16];
    ctl_text_init(&t, small, sizeof(small));
    ctl_text_add(&t, "a", "%d", 1);
    ctl_text_add(&t, "bbbbbbbbbbbb", "%d", 2);
    assert_true(t.overflow);
    assert_string_equal(small, "a=1");
}

static void items(void **state)
{
    (void)state;
    static const char text[] = "nonce=abc, frags=32,addr.0=1.2.3.4:123,\r\n last.0=0x1.2, , "
                               "flag ,version=\"ntpd 4.2, x\",  ";
    struct ctl_item it;
    size_t pos = 0;
    char v[64];

    assert_true(ctl_items_next(text, sizeof(text) - 1, &pos, &it));
    assert_true(ctl_item_is(&it, "nonce"));
    assert_true(ctl_item_value(&it, v, sizeof(v)));
    assert_string_equal(v, "abc");
    assert_true(ctl_items_next(text, sizeof(text) - 1, &pos, &it));
    assert_true(ctl_item_is(&it, "frags"));
    assert_true(ctl_items_next(text, sizeof(text) - 1, &pos, &it));
    assert_true(ctl_item_is(&it, "addr.0"));
    ctl_item_value(&it, v, sizeof(v));
    assert_string_equal(v, "1.2.3.4:123");
    assert_true(ctl_items_next(text, sizeof(text) - 1, &pos, &it));
    assert_true(ctl_item_is(&it, "last.0"));
    assert_true(ctl_items_next(text, sizeof(text) - 1, &pos, &it));
    assert_true(ctl_item_is(&it, "flag"));
    assert_null(it.value);
    assert_false(ctl_item_value(&it, v, sizeof(v)));
    assert_true(ctl_items_next(text, sizeof(text) - 1, &pos, &it));
    assert_true(ctl_item_is(&it, "version"));
    ctl_item_value(&it, v, sizeof(v));
    assert_string_equal(v, "ntpd 4.2, x");
    assert_false(ctl_items_next(text, sizeof(text) - 1, &pos, &it));
    assert_false(ctl_items_next(text, sizeof(text) - 1, &pos, &it));

    /* NULs at the edges are blanks; a value longer than the buffer is cut and said so. */
    static const char nul[] = "\0\0a=123456\0";
    pos = 0;
    assert_true(ctl_items_next(nul, sizeof(nul) - 1, &pos, &it));
    assert_true(ctl_item_is(&it, "a"));
    assert_false(ctl_item_value(&it, v, 4));
    assert_string_equal(v, "123");
    /* An unterminated quote runs to the end, nothing beyond. */
    static const char q[] = "a=\"x, b=1";
    pos = 0;
    assert_true(ctl_items_next(q, sizeof(q) - 1, &pos, &it));
    assert_int_equal(it.value_len, strlen("\"x, b=1"));
    assert_false(ctl_items_next(q, sizeof(q) - 1, &pos, &it));
}

static void status_words(void **state)
{
    (void)state;
    assert_int_equal(ctl_sys_status(0, CTL_SST_NTP, 3, CTL_SEV_SYNC), 0x0635);
    assert_int_equal(ctl_sys_status(3, CTL_SST_UNSPEC, 1, CTL_SEV_FREQ_NOT_SET), 0xc011);
    assert_int_equal(ctl_peer_status(CTL_PST_CONFIG | CTL_PST_REACH, CTL_SEL_SYSPEER, 1,
                                     CTL_PEV_SYSPEER),
                     0x961a);
    assert_int_equal(ctl_peer_status(CTL_PST_CONFIG, CTL_SEL_REJECT, 0, CTL_PEV_UNREACH),
                     0x8003);
    const char *tally = " x.-+#*o";
    for (unsigned s = 0; s < 8; s++) {
        assert_int_equal(ctl_sel_tally(s), tally[s]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decode_ntpq_request),
        cmocka_unit_test(decode_rejects),
        cmocka_unit_test(request_round_trip),
        cmocka_unit_test(fragments_and_reassembly),
        cmocka_unit_test(reassembly_refuses_hostile_fragments),
        cmocka_unit_test(text_layout),
        cmocka_unit_test(items),
        cmocka_unit_test(status_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
