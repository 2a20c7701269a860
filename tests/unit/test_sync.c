/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for src/core/sync: a small deterministic exchange loop, no simulator. The
 * servers' replies are built by the real server code (srv_classify, srv_reply,
 * srv_stamp_xmt) from server clocks offset from true time; our clock is true time plus
 * what the engine's actions applied. Checked: the first action is a step of the server's
 * offset, the served state after later samples (stratum, refid, leap, root delay) and
 * unsynchronized before any update and after the hold time, a noselect source is never
 * the system peer, minsane above the number of sources never acts, and the panic
 * threshold with and without allow_first.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "core/assoc.h"
#include "core/discipline.h"
#include "core/ntp_time.h"
#include "core/srv.h"
#include "core/sync.h"

/* True time 0 as an NTP timestamp: some day in 2025. */
#define BASE ((ntp_ts_t)UINT32_C(0xeb000000) << 32)
#define PREC (-20)
#define DELAY 0.020     /* s, round trip of every exchange, split evenly */
#define SRV_ROOT_DELAY 0.004
#define SRV_STRATUM 3
#define OUR_ADDR UINT32_C(0xc0000264)     /* 192.0.2.100 */
#define SRC_REFID(k) (UINT32_C(0xc0000201) + (uint32_t)(k))
#define SRV_REFID UINT32_C(0xc6336401)    /* the servers' own upstream, 198.51.100.1 */
#define MAX_SRC 4

/* The world: true time = monotonic now; our clock = now + phase. */
struct world {
    struct sync s;
    double now;
    double phase;       /* s, our clock minus true time */
    double freq_ppm;    /* last frequency correction asked for (not simulated) */
    double srv_off[MAX_SRC];
    uint8_t srv_leap[MAX_SRC];  /* leap indicator each server announces */
    ntp_ts_t base;              /* NTP time at true time 0 */
    unsigned steps;
    unsigned freqs;
    unsigned panics;
    unsigned limited;
    struct sync_action first;   /* the first action other than NONE */
    bool have_first;
    uint64_t nonce;
    /* After every receive: the system peer must never be this index (-1: no check). */
    int never_peer;
};

static struct sync_config config(unsigned minsane, bool allow_first)
{
    struct sync_config c;
    memset(&c, 0, sizeof(c));
    discipline_config_default(&c.disc);
    c.disc.allow_first = allow_first;
    c.minsane = minsane;
    c.precision = PREC;
    c.addr_refid = OUR_ADDR;
    return c;
}

static void world_init(struct world *w, unsigned minsane, bool allow_first)
{
    memset(w, 0, sizeof(*w));
    struct sync_config c = config(minsane, allow_first);
    sync_init(&w->s, &c, 0.0, 0.0, false);
    w->nonce = UINT64_C(0x0123456789abcdef);
    w->never_peer = -1;
    w->base = BASE;
}

static int add_source(struct world *w, double srv_off, unsigned flags)
{
    struct assoc_config ac;
    assoc_config_default(&ac);
    ac.minpoll = 4;
    ac.maxpoll = 6;
    ac.iburst = true;
    ac.flags = flags;
    int k = sync_add(&w->s, &ac, SRC_REFID(w->s.n), w->now);
    assert_true(k >= 0 && k < MAX_SRC);
    w->srv_off[k] = srv_off;
    return k;
}

static ntp_ts_t our_clock(const struct world *w, double t)
{
    return ntp_ts_add(w->base, t + w->phase);
}

static void apply(struct world *w, const struct sync_action *a)
{
    if (a->kind == SYNC_ACT_NONE) {
        return;
    }
    if (!w->have_first) {
        w->first = *a;
        w->have_first = true;
    }
    switch (a->kind) {
    case SYNC_ACT_FREQ:
        w->freqs++;
        w->freq_ppm = a->freq_ppm;
        break;
    case SYNC_ACT_STEP:
        w->steps++;
        w->phase += a->step;
        w->freq_ppm = a->freq_ppm;
        break;
    case SYNC_ACT_PANIC:
        w->panics++;
        break;
    case SYNC_ACT_STEP_LIMIT:
        w->limited++;
        break;
    case SYNC_ACT_NONE:
        break;
    }
}

/* One exchange with source k, which is due at w->now: request, the server's reply built
 * by srv.c from its clock, and the reply handed to the engine DELAY later (w->now is not
 * moved: replies arrive before anything else is due). */
static void exchange(struct world *w, unsigned k)
{
    uint8_t req[48], rep[48];
    size_t n = sync_request(&w->s, k, w->now, w->nonce, our_clock(w, w->now), req, sizeof(req));
    w->nonce = w->nonce * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
    if (n == 0) {
        return;
    }
    struct ntp_packet p;
    uint8_t mode;
    enum pkt_reason why;
    assert_int_equal(srv_classify(req, n, 12345, &p, &mode, &why), SRV_ANSWER);
    struct srv_sys sys = {
        .leap = w->srv_leap[k],
        .stratum = SRV_STRATUM,
        .precision = PREC,
        .refid = SRV_REFID,
        .root_delay = SRV_ROOT_DELAY,
        .root_disp = 0.001,
    };
    double rx = w->now + DELAY / 2.0 + w->srv_off[k];
    sys.ref_time = ntp_ts_add(w->base, rx - 10.0);
    assert_int_equal(
        srv_reply(&sys, &p, mode, ntp_ts_add(w->base, rx), 0x5a5a5a5au, rep, sizeof(rep)), 48);
    srv_stamp_xmt(rep, ntp_ts_add(w->base, rx + 1e-6), PREC, 0xa5a5a5a5u);
    double t4 = w->now + DELAY + 1e-6;
    enum assoc_result res;
    struct sync_action a = sync_receive(&w->s, k, t4, rep, sizeof(rep), our_clock(w, t4), &res);
    apply(w, &a);
    if (w->never_peer >= 0) {
        assert_int_not_equal(w->s.sys_peer, w->never_peer);
    }
}

/* Runs the engine until monotonic time `until`: each due request gets its exchange, and
 * the discipline's deadline its tick. */
static void run_until(struct world *w, double until)
{
    for (unsigned guard = 0; guard < 100000; guard++) {
        double due = sync_next_due(&w->s);
        if (due < 0.0 || due > until) {
            w->now = until;
            return;
        }
        if (due > w->now) {
            w->now = due;
        }
        for (unsigned k = 0; k < w->s.n; k++) {
            if (assoc_due(&w->s.src[k].as, w->now)) {
                exchange(w, k);
            }
        }
        struct sync_action a = sync_tick(&w->s, w->now);
        apply(w, &a);
    }
    fail_msg("engine never advanced past t %.3f", w->now);
}

static void assert_unsynchronized(const struct world *w, double now)
{
    struct srv_sys v;
    sync_served(&w->s, now, &v);
    assert_int_equal(v.leap, 3);
    assert_int_equal(v.stratum, 16);
}

static void first_step_then_served_then_held(void **state)
{
    (void)state;
    static struct world w;
    world_init(&w, 1, false);
    add_source(&w, 0.3, 0);
    assert_unsynchronized(&w, 0.0);

    /* The third reply (a first step waits for 3 samples): a step of the server's offset
     * (less half the rounding of the timestamps), nothing served yet. */
    run_until(&w, 5.0);
    assert_true(w.have_first);
    assert_int_equal(w.first.kind, SYNC_ACT_STEP);
    assert_true(fabs(w.first.step - 0.3) < 1e-4);
    assert_int_equal(w.steps, 1);
    assert_true(fabs(w.phase - 0.3) < 1e-4);
    assert_unsynchronized(&w, w.now);

    /* Later samples: frequency updates only, and the served state. */
    run_until(&w, 600.0);
    assert_int_equal(w.steps, 1);
    assert_int_equal(w.panics, 0);
    assert_true(w.freqs > 0);
    assert_int_equal(w.s.sys_peer, 0);
    struct srv_sys v;
    sync_served(&w.s, w.now, &v);
    assert_int_equal(v.leap, 0);
    assert_int_equal(v.stratum, SRV_STRATUM + 1);
    assert_int_equal(v.precision, PREC);
    assert_int_equal(v.refid, SRC_REFID(0));
    assert_true(v.root_delay >= DELAY);
    assert_true(v.root_delay >= SRV_ROOT_DELAY + DELAY - 1e-6);
    assert_true(v.root_delay < SRV_ROOT_DELAY + DELAY + 1e-3);
    assert_true(v.root_disp > 0.0 && v.root_disp < 0.1);
    assert_true(v.ref_time != 0);

    /* No updates for the hold time: unsynchronized. Held up to it. */
    double last = w.s.last_update;
    sync_served(&w.s, last + SYNC_HOLD_S - 1.0, &v);
    assert_int_equal(v.stratum, SRV_STRATUM + 1);
    assert_unsynchronized(&w, last + SYNC_HOLD_S + 1.0);
}

static void noselect_is_never_system_peer(void **state)
{
    (void)state;
    static struct world w;
    world_init(&w, 1, false);
    /* The noselect source is the first (it would win ties and be polled first) and has
     * the same path; only the other may become the system peer. */
    int ns = add_source(&w, 0.0, ASSOC_CFG_NOSELECT);
    int ok = add_source(&w, 0.0, 0);
    w.never_peer = ns;
    run_until(&w, 1200.0);
    assert_int_equal(w.s.sys_peer, ok);
    assert_true(w.freqs > 0);
    assert_int_equal(w.steps, 0);

    /* A noselect source alone: never acts, never a peer, nothing served. */
    static struct world w2;
    world_init(&w2, 1, false);
    ns = add_source(&w2, 0.3, ASSOC_CFG_NOSELECT);
    w2.never_peer = ns;
    run_until(&w2, 1200.0);
    assert_false(w2.have_first);
    assert_int_equal(w2.s.sys_peer, -1);
    assert_true(assoc_counters(&w2.s.src[0].as)->processed > 0);
    assert_unsynchronized(&w2, w2.now);
}

static void minsane_two_with_one_source_never_acts(void **state)
{
    (void)state;
    static struct world w;
    world_init(&w, 2, false);
    add_source(&w, 0.3, 0);
    run_until(&w, 1200.0);
    assert_true(assoc_counters(&w.s.src[0].as)->processed >= 10);
    assert_false(w.have_first);
    assert_int_equal(w.s.sys_peer, -1);
    assert_int_equal(w.s.steps, 0);
    assert_unsynchronized(&w, w.now);
}

static void panic_beyond_1000s_unless_allow_first(void **state)
{
    (void)state;
    static struct world w;
    world_init(&w, 1, false);
    add_source(&w, 2000.0, 0);
    run_until(&w, 60.0);
    assert_true(w.have_first);
    assert_int_equal(w.first.kind, SYNC_ACT_PANIC);
    assert_int_equal(w.steps, 0);
    assert_true(w.s.panicked);
    /* After a panic the engine refuses everything. */
    assert_int_equal(w.panics, 1);
    assert_true(fabs(w.phase) < 1e-12);
    assert_unsynchronized(&w, w.now);

    /* Just inside the threshold: a step. */
    world_init(&w, 1, false);
    add_source(&w, 900.0, 0);
    run_until(&w, 5.0);
    assert_int_equal(w.first.kind, SYNC_ACT_STEP);
    assert_true(fabs(w.first.step - 900.0) < 1e-3);

    /* With allow_first (ntpd -g): the first correction steps 2000 s, then synchronized. */
    world_init(&w, 1, true);
    add_source(&w, 2000.0, 0);
    run_until(&w, 5.0);
    assert_int_equal(w.first.kind, SYNC_ACT_STEP);
    assert_true(fabs(w.first.step - 2000.0) < 1e-3);
    run_until(&w, 300.0);
    assert_int_equal(w.steps, 1);
    assert_int_equal(w.panics, 0);
    struct srv_sys v;
    sync_served(&w.s, w.now, &v);
    assert_int_equal(v.stratum, SRV_STRATUM + 1);
}

/* A leap second is served only by a majority of the truechimers, never from a single
 * source, and only in June or December (PROTOCOL-CHECKS sec. 4). BASE is 2024-12-08;
 * 2025-03-01 is not a leap month. */
static void leap_by_majority_in_june_or_december(void **state)
{
    (void)state;
    static struct world w;
    struct srv_sys v;

    /* One source announcing an insertion in December: not from a single source. */
    world_init(&w, 1, false);
    add_source(&w, 0.0, 0);
    w.srv_leap[0] = 1;
    run_until(&w, 200.0);
    sync_served(&w.s, w.now, &v);
    assert_int_equal(v.stratum, SRV_STRATUM + 1);
    assert_int_equal(v.leap, 0);

    /* Two of two in March: not a leap month. */
    world_init(&w, 1, false);
    w.base = (ntp_ts_t)(UINT32_C(1740787200) + UINT32_C(2208988800)) << 32;   /* 2025-03-01 */
    add_source(&w, 0.0, 0);
    add_source(&w, 0.0, 0);
    w.srv_leap[0] = w.srv_leap[1] = 1;
    run_until(&w, 200.0);
    sync_served(&w.s, w.now, &v);
    assert_int_equal(v.stratum, SRV_STRATUM + 1);
    assert_int_equal(v.leap, 0);

    /* December, one of three truechimers: no majority, not served. */
    world_init(&w, 1, false);
    for (int k = 0; k < 3; k++) {
        add_source(&w, 0.0, 0);
    }
    w.srv_leap[1] = 1;
    run_until(&w, 200.0);
    sync_served(&w.s, w.now, &v);
    assert_int_equal(v.stratum, SRV_STRATUM + 1);
    assert_int_equal(v.leap, 0);
    /* Two of three: served. */
    w.srv_leap[2] = 1;
    run_until(&w, 400.0);
    sync_served(&w.s, w.now, &v);
    assert_int_equal(v.leap, 1);
}

/* `true`: a source taken for a truechimer even when it disagrees (ntpd); with two
 * sources 1 s apart neither agrees, but the true one is followed. */
static void true_source_is_always_a_truechimer(void **state)
{
    (void)state;
    static struct world w;
    world_init(&w, 1, false);
    add_source(&w, 0.0, 0);
    int t = add_source(&w, 1.0, ASSOC_CFG_TRUE);
    /* The other source's first samples may come first and set the clock; the true one's
     * 1 s is then a spike until the stepout (900 s) has passed. */
    run_until(&w, 1500.0);
    assert_true(w.s.src[t].truechimer);
    assert_int_equal(w.s.sys_peer, t);
    assert_true(fabs(w.phase - 1.0) < 1e-3);
}

/* A step limit refuses the step that would pass it and leaves the clock alone. */
static void step_limit_refuses(void **state)
{
    (void)state;
    static struct world w;
    memset(&w, 0, sizeof(w));
    struct sync_config c = config(1, false);
    c.disc.step_limit = 0.2;
    sync_init(&w.s, &c, 0.0, 0.0, false);
    w.nonce = 1;
    w.never_peer = -1;
    w.base = BASE;
    add_source(&w, 0.3, 0);
    run_until(&w, 30.0);
    assert_int_equal(w.steps, 0);
    assert_true(w.limited >= 1);
    assert_true(fabs(w.phase) < 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(true_source_is_always_a_truechimer),
        cmocka_unit_test(step_limit_refuses),
        cmocka_unit_test(leap_by_majority_in_june_or_december),
        cmocka_unit_test(first_step_then_served_then_held),
        cmocka_unit_test(noselect_is_never_system_peer),
        cmocka_unit_test(minsane_two_with_one_source_never_acts),
        cmocka_unit_test(panic_beyond_1000s_unless_allow_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
