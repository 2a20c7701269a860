/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * control: mode 6 requests in, replies out, as NTPsec's ntpd answers them (variable
 * names, formats, the order of variables, the line layout, errors, the MRU protocol),
 * so that ntpq, ntpmon and check_ntp_peer work unchanged. Times in variables are
 * milliseconds and frequencies ppm, as ntpd writes them.
 */
#include "control.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "core/siphash.h"

/* NONCE_TIMEOUT of ntpq/ntpd: a nonce is good this long. */
#define NONCE_LIFE_MS 16000
/* The client list snapshot is rebuilt when older than this (a busy server's list moves
 * under an ntpq that reads it in many requests; ntpd's resumption copes with that). */
#define MRU_SNAPSHOT_MS 1000
/* READ_MRU limits (ntpd's MRU_FRAGS_LIMIT and MRU_ROW_LIMIT). */
#define MRU_FRAGS_LIMIT 128
#define MRU_ROW_LIMIT 256
#define MRU_RESUME_MAX 16
/* Replies are limited: per source only under `limited` (32 back to back, then one a
 * second on average: ntpq -p against 16 peers is 17 requests), and in all to this many
 * datagrams a second, so that the control path can never be a flood of its own. */
#define CTL_RL_BURST 32
#define CTL_RL_ENTRIES 1024
#define CTL_MAX_DGRAMS_PER_S 1000

/* ntpd's restrict bits. */
#define RES_IGNORE 0x0001u
#define RES_DONTSERVE 0x0002u
#define RES_DONTTRUST 0x0004u
#define RES_VERSION 0x0008u
#define RES_NOPEER 0x0010u
#define RES_LIMITED 0x0020u
#define RES_NOQUERY 0x0040u
#define RES_NOMODIFY 0x0080u
#define RES_NOTRAP 0x0100u
#define RES_LPTRAP 0x0200u
#define RES_KOD 0x0400u
#define RES_MSSNTP 0x0800u
#define RES_NOMRULIST 0x2000u
#define RES_NOEPEER 0x4000u

struct mru_rec {
    struct net_addr addr;
    uint16_t port;
    int64_t first_ms, last_ms;
    uint32_t count, limited;
    uint16_t kods;
    uint8_t mode_version;
    uint32_t res;
};

struct control {
    const struct acl *acl;
    struct control_env env;
    uint64_t k0, k1;
    int64_t epoch_ms;
    ntp_ts_t epoch_wall;
    struct control_counters cnt;
    struct rl_table *rl;
    double tokens;
    int64_t tokens_ms;
    char utsname[2][256];
    /* The client list, oldest first, as of mru_built_ms. */
    struct mru_rec *mru;
    size_t mru_n, mru_cap;
    int64_t mru_built_ms;
    bool mru_valid;
    struct status st;
    char text[CTL_MAX_PAYLOAD + 1];
};

uint32_t control_res_bits(uint32_t f)
{
    static const struct {
        uint32_t acl, res;
    } map[] = {
        {ACL_IGNORE, RES_IGNORE},     {ACL_NOSERVE, RES_DONTSERVE},
        {ACL_NOTRUST, RES_DONTTRUST}, {ACL_VERSION, RES_VERSION},
        {ACL_NOPEER, RES_NOPEER},     {ACL_LIMITED, RES_LIMITED},
        {ACL_NOQUERY, RES_NOQUERY},   {ACL_NOMODIFY, RES_NOMODIFY},
        {ACL_NOTRAP, RES_NOTRAP},     {ACL_LOWPRIOTRAP, RES_LPTRAP},
        {ACL_KOD, RES_KOD},           {ACL_MSSNTP, RES_MSSNTP},
        {ACL_NOMRULIST, RES_NOMRULIST}, {ACL_NOEPEER, RES_NOEPEER},
    };
    uint32_t r = 0;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if ((f & map[i].acl) != 0) {
            r |= map[i].res;
        }
    }
    return r;
}

struct control *control_new(const struct acl *acl, const struct control_env *env,
                            const uint8_t key[16], int64_t now_ms, ntp_ts_t wall)
{
    struct control *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    c->acl = acl;
    c->env = *env;
    c->k0 = siphash_load_le64(key);
    c->k1 = siphash_load_le64(key + 8);
    control_set_epoch(c, now_ms, wall);
    struct rl_config rc = {.average_log2 = 0, .minimum_s = 0, .burst = CTL_RL_BURST};
    c->rl = calloc(1, rl_size(CTL_RL_ENTRIES));
    if (c->rl == NULL) {
        free(c);
        return NULL;
    }
    uint8_t rk[16];
    for (unsigned i = 0; i < 16; i++) {
        rk[i] = (uint8_t)(key[i] ^ 0x5a);
    }
    rl_init(c->rl, CTL_RL_ENTRIES, &rc, rk);
    c->tokens = CTL_MAX_DGRAMS_PER_S;
    c->tokens_ms = now_ms;
    struct utsname u;
    if (uname(&u) == 0) {
        snprintf(c->utsname[0], sizeof(c->utsname[0]), "%s", u.machine);
        snprintf(c->utsname[1], sizeof(c->utsname[1]), "%s/%s", u.sysname, u.release);
    }
    return c;
}

void control_free(struct control *c)
{
    if (c != NULL) {
        free(c->rl);
        free(c->mru);
        free(c);
    }
}

void control_set_epoch(struct control *c, int64_t now_ms, ntp_ts_t wall)
{
    c->epoch_ms = now_ms;
    c->epoch_wall = wall;
    c->mru_valid = false;
}

const struct control_counters *control_counters(const struct control *c)
{
    return &c->cnt;
}

/* Our clock's time at monotonic ms t: fixed against the epoch, so that the same source
 * shows the same times in every request (ntpq resumes by them). */
static ntp_ts_t mono_to_ntp(const struct control *c, int64_t t_ms)
{
    int64_t d = t_ms - c->epoch_ms;
    /* ms -> 2^-32 s units, exactly the same for the same d every time. */
    int64_t sec = d / 1000, rem = d % 1000;
    if (rem < 0) {
        rem += 1000;
        sec -= 1;
    }
    uint64_t units = ((uint64_t)sec << 32) + (uint64_t)(rem * 4294967296LL / 1000);
    return c->epoch_wall + (ntp_ts_t)units;
}

static void put_lfp(char *out, size_t size, ntp_ts_t t)
{
    snprintf(out, size, "0x%08x.%08x", (unsigned)(t >> 32), (unsigned)(t & 0xffffffffu));
}

/* "0x%08x.%08x" back to a timestamp; false if it is not one. */
static bool parse_lfp(const char *s, ntp_ts_t *out)
{
    unsigned hi, lo;
    char tail;
    if (strlen(s) != 19 || sscanf(s, "0x%8x.%8x%c", &hi, &lo, &tail) != 2) {
        return false;
    }
    *out = (ntp_ts_t)hi << 32 | lo;
    return true;
}

/* Refids as ntpd writes them: a dotted quad for a server that is synchronized to
 * another server (1 < stratum < 16), else the ASCII code (cut at NUL, '.' for anything
 * unprintable). */
static void put_refid(char *out, size_t size, uint32_t refid, bool as_text)
{
    uint8_t b[4] = {(uint8_t)(refid >> 24), (uint8_t)(refid >> 16), (uint8_t)(refid >> 8),
                    (uint8_t)refid};
    if (!as_text) {
        snprintf(out, size, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
        return;
    }
    size_t n = 0;
    for (unsigned i = 0; i < 4 && b[i] != 0 && n + 1 < size; i++) {
        out[n++] = (b[i] > 0x20 && b[i] < 0x7f && b[i] != ',' && b[i] != '"') ? (char)b[i] : '.';
    }
    out[n] = '\0';
}

static double ms(double s)
{
    return isfinite(s) ? s * 1e3 : 0.0;
}

/* ---- variables ---------------------------------------------------------------------- */

/* System variables, in the order they are sent. D: in the default set. */
enum sysvar {
    SV_LEAP, SV_STRATUM, SV_PRECISION, SV_ROOTDELAY, SV_ROOTDISP, SV_REFID, SV_REFTIME,
    SV_TC, SV_PEER, SV_OFFSET, SV_FREQUENCY, SV_SYS_JITTER, SV_CLK_JITTER, SV_CLOCK,
    SV_PROCESSOR, SV_SYSTEM, SV_VERSION, SV_CLK_WANDER, SV_MINTC, SV_SYNC_STATE,
    SV_CLOCK_KIND, SV_CLOCK_STEPS, SV_CLOCK_LAST_STEP, SV_CLOCK_TOTAL_ADJUST,
    SV_DEFAULT_END, /* the rest only when asked for */
    SV_ROOTDIST = SV_DEFAULT_END, SV_PEERADR, SV_PEERMODE, SV_AUTHDELAY, SV_FREQ_APPLIED,
    SV_STEPPED, SV_SS_UPTIME, SV_SS_NUMCTLREQ,
    SV_SS_FIRST, /* 15 counters since the hourly reset, then the same 15 since start */
    SV_SS_LAST = SV_SS_FIRST + 30,
    SV_IOSTATS_RESET = SV_SS_LAST, SV_TOTAL_RBUF, SV_FREE_RBUF, SV_USED_RBUF,
    SV_RBUF_LOWATER, SV_IO_DROPPED, SV_IO_IGNORED, SV_IO_RECEIVED, SV_IO_SENT,
    SV_IO_SENDFAILED, SV_IO_WAKEUPS, SV_IO_GOODWAKEUPS, SV_TIMERSTATS_RESET,
    SV_TIMER_OVERRUNS, SV_TIMER_XMTS, SV_KOFFSET, SV_KFREQ, SV_KMAXERR, SV_KESTERR,
    SV_KSTFLAGS, SV_KTIMECONST, SV_KPRECIS, SV_KFREQTOL, SV_KPPSFREQ, SV_KPPSSTAB,
    SV_KPPSJITTER, SV_KPPSCALIBDUR, SV_KPPSCALIBS, SV_KPPSJITEXC, SV_KPPSSTBEXC,
    SV_KPPSCALIBERRS, SV_MRU_ENABLED, SV_MRU_HASHSLOTS, SV_MRU_DEPTH, SV_MRU_DEEPEST,
    SV_MRU_MAXDEPTH, SV_MRU_MINDEPTH, SV_MRU_MAXAGE, SV_MRU_MINAGE, SV_MRU_MEM,
    SV_MRU_MAXMEM, SV_MRU_EXISTS, SV_MRU_NEW, SV_MRU_RECYCLEOLD, SV_MRU_RECYCLEFULL,
    SV_MRU_NONE, SV_MRU_OLDEST_AGE, SV_AUTHRESET, SV_AUTHKEYS, SV_AUTHFREEK,
    SV_AUTHKLOOKUPS, SV_AUTHKNOTFOUND, SV_AUTHENCRYPTS, SV_AUTHDIGESTENCRYPTS,
    SV_AUTHCMACENCRYPTS, SV_AUTHDECRYPTS, SV_AUTHDIGESTDECRYPTS, SV_AUTHDIGESTFAILS,
    SV_AUTHCMACDECRYPTS, SV_AUTHCMACFAILS,
    SV_COUNT
};

/* The sysstats counters, in ntpq's order, and which server counter each one is. */
static const struct {
    const char *name;
    int cnt; /* -1: the seconds since the reset (ss_reset) */
} ss_vars[15] = {
    {"ss_reset", -1},
    {"ss_received", CNT_RECEIVED},
    {"ss_thisver", CNT_THISVER},
    {"ss_oldver", CNT_OLDVER},
    {"ss_ver1", CNT_VERSION_FIRST + 1},
    {"ss_ver1client", CNT_V1_CLIENT},
    {"ss_ver1zero", CNT_V1_ZERO},
    {"ss_ver1symm", CNT_V1_SYMM},
    {"ss_badformat", CNT_BADFORMAT},
    {"ss_badauth", CNT_BADAUTH},
    {"ss_declined", CNT_DECLINED},
    {"ss_restricted", CNT_RESTRICTED},
    {"ss_limited", CNT_LIMITED},
    {"ss_kodsent", CNT_KODSENT},
    {"ss_processed", CNT_PROCESSED},
};

static const char *const sys_names[SV_COUNT] = {
    [SV_LEAP] = "leap", [SV_STRATUM] = "stratum", [SV_PRECISION] = "precision",
    [SV_ROOTDELAY] = "rootdelay", [SV_ROOTDISP] = "rootdisp", [SV_REFID] = "refid",
    [SV_REFTIME] = "reftime", [SV_TC] = "tc", [SV_PEER] = "peer", [SV_OFFSET] = "offset",
    [SV_FREQUENCY] = "frequency", [SV_SYS_JITTER] = "sys_jitter",
    [SV_CLK_JITTER] = "clk_jitter", [SV_CLOCK] = "clock", [SV_PROCESSOR] = "processor",
    [SV_SYSTEM] = "system", [SV_VERSION] = "version", [SV_CLK_WANDER] = "clk_wander",
    [SV_MINTC] = "mintc", [SV_SYNC_STATE] = "sync_state", [SV_CLOCK_KIND] = "clock_kind",
    [SV_CLOCK_STEPS] = "clock_steps", [SV_CLOCK_LAST_STEP] = "clock_last_step",
    [SV_CLOCK_TOTAL_ADJUST] = "clock_total_adjust", [SV_ROOTDIST] = "rootdist",
    [SV_PEERADR] = "peeradr", [SV_PEERMODE] = "peermode", [SV_AUTHDELAY] = "authdelay",
    [SV_FREQ_APPLIED] = "freq_applied", [SV_STEPPED] = "clock_stepped",
    [SV_SS_UPTIME] = "ss_uptime", [SV_SS_NUMCTLREQ] = "ss_numctlreq",
    [SV_IOSTATS_RESET] = "iostats_reset", [SV_TOTAL_RBUF] = "total_rbuf",
    [SV_FREE_RBUF] = "free_rbuf", [SV_USED_RBUF] = "used_rbuf",
    [SV_RBUF_LOWATER] = "rbuf_lowater", [SV_IO_DROPPED] = "io_dropped",
    [SV_IO_IGNORED] = "io_ignored", [SV_IO_RECEIVED] = "io_received",
    [SV_IO_SENT] = "io_sent", [SV_IO_SENDFAILED] = "io_sendfailed",
    [SV_IO_WAKEUPS] = "io_wakeups", [SV_IO_GOODWAKEUPS] = "io_goodwakeups",
    [SV_TIMERSTATS_RESET] = "timerstats_reset", [SV_TIMER_OVERRUNS] = "timer_overruns",
    [SV_TIMER_XMTS] = "timer_xmts", [SV_KOFFSET] = "koffset", [SV_KFREQ] = "kfreq",
    [SV_KMAXERR] = "kmaxerr", [SV_KESTERR] = "kesterr", [SV_KSTFLAGS] = "kstflags",
    [SV_KTIMECONST] = "ktimeconst", [SV_KPRECIS] = "kprecis", [SV_KFREQTOL] = "kfreqtol",
    [SV_KPPSFREQ] = "kppsfreq", [SV_KPPSSTAB] = "kppsstab", [SV_KPPSJITTER] = "kppsjitter",
    [SV_KPPSCALIBDUR] = "kppscalibdur", [SV_KPPSCALIBS] = "kppscalibs",
    [SV_KPPSJITEXC] = "kppsjitexc", [SV_KPPSSTBEXC] = "kppsstbexc",
    [SV_KPPSCALIBERRS] = "kppscaliberrs", [SV_MRU_ENABLED] = "mru_enabled",
    [SV_MRU_HASHSLOTS] = "mru_hashslots", [SV_MRU_DEPTH] = "mru_depth",
    [SV_MRU_DEEPEST] = "mru_deepest", [SV_MRU_MAXDEPTH] = "mru_maxdepth",
    [SV_MRU_MINDEPTH] = "mru_mindepth", [SV_MRU_MAXAGE] = "mru_maxage",
    [SV_MRU_MINAGE] = "mru_minage", [SV_MRU_MEM] = "mru_mem", [SV_MRU_MAXMEM] = "mru_maxmem",
    [SV_MRU_EXISTS] = "mru_exists", [SV_MRU_NEW] = "mru_new",
    [SV_MRU_RECYCLEOLD] = "mru_recycleold", [SV_MRU_RECYCLEFULL] = "mru_recyclefull",
    [SV_MRU_NONE] = "mru_none", [SV_MRU_OLDEST_AGE] = "mru_oldest_age",
    [SV_AUTHRESET] = "authreset", [SV_AUTHKEYS] = "authkeys", [SV_AUTHFREEK] = "authfreek",
    [SV_AUTHKLOOKUPS] = "authklookups", [SV_AUTHKNOTFOUND] = "authknotfound",
    [SV_AUTHENCRYPTS] = "authencrypts", [SV_AUTHDIGESTENCRYPTS] = "authdigestencrypts",
    [SV_AUTHCMACENCRYPTS] = "authcmacencrypts", [SV_AUTHDECRYPTS] = "authdecrypts",
    [SV_AUTHDIGESTDECRYPTS] = "authdigestdecrypts",
    [SV_AUTHDIGESTFAILS] = "authdigestfails", [SV_AUTHCMACDECRYPTS] = "authcmacdecrypts",
    [SV_AUTHCMACFAILS] = "authcmacfails",
};

static const char *sys_name(unsigned i, char *buf, size_t size)
{
    if (i >= SV_SS_FIRST && i < SV_SS_LAST) {
        unsigned k = i - SV_SS_FIRST;
        snprintf(buf, size, "%s%s", ss_vars[k % 15].name, k >= 15 ? "_r" : "");
        return buf;
    }
    return sys_names[i];
}

static uint64_t cnt_of(const struct status_sys *s, int i, bool since_start)
{
    if (i < 0) {
        /* Whole seconds, at least 1: ntpq divides the counters by it. */
        double t = ceil(since_start ? s->uptime : s->reset_age);
        return t >= 1.0 ? (uint64_t)t : 1;
    }
    return since_start ? s->cnt[i] : s->cnt[i] - s->cnt_reset[i];
}

static void put_sys(struct control *c, struct ctl_text *t, unsigned i)
{
    const struct status_sys *s = &c->st.sys;
    char b[64], nb[32];
    const char *n = sys_name(i, nb, sizeof(nb));
    if (i >= SV_SS_FIRST && i < SV_SS_LAST) {
        unsigned k = i - SV_SS_FIRST;
        ctl_text_add(t, n, "%llu", (unsigned long long)cnt_of(s, ss_vars[k % 15].cnt, k >= 15));
        return;
    }
    switch ((enum sysvar)i) {
    case SV_LEAP:
        ctl_text_add(t, n, "%u", (unsigned)s->leap);
        break;
    case SV_STRATUM:
        ctl_text_add(t, n, "%u", (unsigned)s->stratum);
        break;
    case SV_PRECISION:
        ctl_text_add(t, n, "%d", (int)s->precision);
        break;
    case SV_ROOTDELAY:
        ctl_text_add(t, n, "%.3f", ms(s->rootdelay));
        break;
    case SV_ROOTDISP:
        ctl_text_add(t, n, "%.3f", ms(s->rootdisp));
        break;
    case SV_REFID:
        put_refid(b, sizeof(b), s->refid, s->stratum <= 1 || s->stratum >= 16 || !s->synced);
        ctl_text_add(t, n, "%s", b);
        break;
    case SV_REFTIME:
        put_lfp(b, sizeof(b), s->reftime);
        ctl_text_add(t, n, "%s", b);
        break;
    case SV_TC:
        ctl_text_add(t, n, "%d", s->tc);
        break;
    case SV_PEER:
        ctl_text_add(t, n, "%u", (unsigned)s->peer);
        break;
    case SV_OFFSET:
        ctl_text_add(t, n, "%.6f", ms(s->offset));
        break;
    case SV_FREQUENCY:
        ctl_text_add(t, n, "%.6f", s->frequency);
        break;
    case SV_SYS_JITTER:
        ctl_text_add(t, n, "%.6f", ms(s->sys_jitter));
        break;
    case SV_CLK_JITTER:
        ctl_text_add(t, n, "%.6f", ms(s->clk_jitter));
        break;
    case SV_CLOCK:
        put_lfp(b, sizeof(b), s->clock);
        ctl_text_add(t, n, "%s", b);
        break;
    case SV_PROCESSOR:
        ctl_text_str(t, n, c->utsname[0]);
        break;
    case SV_SYSTEM:
        ctl_text_str(t, n, c->utsname[1]);
        break;
    case SV_VERSION:
        ctl_text_str(t, n, "stratumd " STRATUM_VERSION);
        break;
    case SV_CLK_WANDER:
        ctl_text_add(t, n, "%.6f", s->clk_wander);
        break;
    case SV_MINTC:
        ctl_text_add(t, n, "%d", s->mintc);
        break;
    case SV_SYNC_STATE:
        ctl_text_str(t, n, s->state != NULL ? s->state : "");
        break;
    case SV_CLOCK_KIND:
        ctl_text_str(t, n, s->clock_kind != NULL ? s->clock_kind : "");
        break;
    case SV_CLOCK_STEPS:
        ctl_text_add(t, n, "%u", s->clock_steps);
        break;
    case SV_CLOCK_LAST_STEP:
        ctl_text_add(t, n, "%.6f", s->clock_last_step);
        break;
    case SV_CLOCK_TOTAL_ADJUST:
        ctl_text_add(t, n, "%.6f", s->clock_total_adjust);
        break;
    case SV_ROOTDIST:
        ctl_text_add(t, n, "%.3f", ms(s->rootdelay / 2.0 + s->rootdisp));
        break;
    case SV_PEERADR:
        ctl_text_add(t, n, "%s", s->peeradr[0] != '\0' ? s->peeradr : "0.0.0.0:0");
        break;
    case SV_PEERMODE:
        ctl_text_add(t, n, "%u", s->peer != 0 ? 3u : 0u);
        break;
    case SV_AUTHDELAY:
        ctl_text_add(t, n, "%.3f", 0.0);
        break;
    case SV_FREQ_APPLIED:
        ctl_text_add(t, n, "%.6f", s->freq_applied);
        break;
    case SV_STEPPED:
        ctl_text_add(t, n, "%.6f", s->stepped);
        break;
    case SV_SS_UPTIME:
        ctl_text_add(t, n, "%llu", (unsigned long long)cnt_of(s, -1, true));
        break;
    case SV_SS_NUMCTLREQ:
        ctl_text_add(t, n, "%llu", (unsigned long long)c->cnt.requests);
        break;
    case SV_IOSTATS_RESET:
        ctl_text_add(t, n, "%llu", (unsigned long long)cnt_of(s, -1, true));
        break;
    case SV_IO_RECEIVED:
        ctl_text_add(t, n, "%llu", (unsigned long long)s->cnt[CNT_RECEIVED]);
        break;
    case SV_IO_SENT:
        ctl_text_add(t, n, "%llu",
                     (unsigned long long)(s->cnt[CNT_PROCESSED] + s->cnt[CNT_KODSENT] +
                                          c->cnt.datagrams));
        break;
    case SV_IO_SENDFAILED:
        ctl_text_add(t, n, "%llu", (unsigned long long)s->cnt[CNT_SENDERR]);
        break;
    case SV_IO_DROPPED:
        ctl_text_add(t, n, "%llu", (unsigned long long)s->cnt[CNT_TRUNCATED]);
        break;
    case SV_IO_IGNORED:
        ctl_text_add(t, n, "%llu",
                     (unsigned long long)(s->cnt[CNT_RESTRICTED] + s->cnt[CNT_DECLINED]));
        break;
    case SV_KFREQ:
        ctl_text_add(t, n, "%g", s->freq_applied);
        break;
    case SV_KSTFLAGS:
        ctl_text_str(t, n, "");
        break;
    case SV_MRU_ENABLED:
        ctl_text_add(t, n, "0x%x", s->client_slots > 0 ? 1u : 0u);
        break;
    case SV_MRU_HASHSLOTS:
    case SV_MRU_MAXDEPTH:
        ctl_text_add(t, n, "%u", s->client_slots);
        break;
    case SV_MRU_DEPTH:
    case SV_MRU_DEEPEST:
        ctl_text_add(t, n, "%u", s->clients);
        break;
    case SV_MRU_MEM:
        ctl_text_add(t, n, "%u", (unsigned)((uint64_t)s->clients * RL_SLOT_BYTES / 1024));
        break;
    case SV_MRU_MAXMEM:
        ctl_text_add(t, n, "%u",
                     (unsigned)((uint64_t)s->client_slots * RL_SLOT_BYTES / 1024));
        break;
    case SV_MRU_MINAGE:
    case SV_MRU_MAXAGE:
    case SV_MRU_MINDEPTH:
    case SV_MRU_OLDEST_AGE:
    case SV_KTIMECONST:
    case SV_KPPSCALIBDUR:
    case SV_KPPSCALIBS:
    case SV_KPPSJITEXC:
    case SV_KPPSSTBEXC:
    case SV_KPPSCALIBERRS:
        ctl_text_add(t, n, "0");
        break;
    case SV_KOFFSET:
    case SV_KMAXERR:
    case SV_KESTERR:
    case SV_KPRECIS:
    case SV_KFREQTOL:
    case SV_KPPSFREQ:
    case SV_KPPSSTAB:
    case SV_KPPSJITTER:
        ctl_text_add(t, n, "%g", 0.0);
        break;
    default:
        /* Counters Stratum has no such thing for (receive buffers, timers, keys): 0. */
        ctl_text_add(t, n, "0");
        break;
    }
}

/* Peer variables, in the order they are sent. */
enum peervar {
    PV_SRCADR, PV_SRCPORT, PV_DSTADR, PV_DSTPORT, PV_LEAP, PV_HMODE, PV_STRATUM, PV_PPOLL,
    PV_HPOLL, PV_PRECISION, PV_ROOTDELAY, PV_ROOTDISP, PV_REFID, PV_REFTIME, PV_REC, PV_XMT,
    PV_REACH, PV_UNREACH, PV_DELAY, PV_OFFSET, PV_JITTER, PV_DISPERSION, PV_KEYID,
    PV_FILTDELAY, PV_FILTOFFSET, PV_PMODE, PV_FILTDISP, PV_FLASH, PV_HEADWAY, PV_SRCHOST,
    PV_NTSCOOKIES, PV_SELECTION,
    PV_DEFAULT_END,
    PV_CONFIG = PV_DEFAULT_END, PV_AUTHENABLE, PV_AUTHENTIC, PV_TIMER, PV_RECEIVED, PV_SENT,
    PV_TIMEREC, PV_TIMEREACH, PV_BADAUTH, PV_BOGUSORG, PV_OLDPKT, PV_SELDISP, PV_SELBROKEN,
    PV_CANDIDATE, PV_PROCESSED, PV_KOD_RX, PV_BADFORMAT, PV_BADTIME, PV_UNSYNC, PV_DISTANCE,
    PV_LOOP, PV_MINPOLL, PV_MAXPOLL, PV_ROOTDIST,
    PV_COUNT
};

static const char *const peer_names[PV_COUNT] = {
    [PV_SRCADR] = "srcadr", [PV_SRCPORT] = "srcport", [PV_DSTADR] = "dstadr",
    [PV_DSTPORT] = "dstport", [PV_LEAP] = "leap", [PV_HMODE] = "hmode",
    [PV_STRATUM] = "stratum", [PV_PPOLL] = "ppoll", [PV_HPOLL] = "hpoll",
    [PV_PRECISION] = "precision", [PV_ROOTDELAY] = "rootdelay", [PV_ROOTDISP] = "rootdisp",
    [PV_REFID] = "refid", [PV_REFTIME] = "reftime", [PV_REC] = "rec", [PV_XMT] = "xmt",
    [PV_REACH] = "reach", [PV_UNREACH] = "unreach", [PV_DELAY] = "delay",
    [PV_OFFSET] = "offset", [PV_JITTER] = "jitter", [PV_DISPERSION] = "dispersion",
    [PV_KEYID] = "keyid", [PV_FILTDELAY] = "filtdelay", [PV_FILTOFFSET] = "filtoffset",
    [PV_PMODE] = "pmode", [PV_FILTDISP] = "filtdisp", [PV_FLASH] = "flash",
    [PV_HEADWAY] = "headway", [PV_SRCHOST] = "srchost", [PV_NTSCOOKIES] = "ntscookies",
    [PV_SELECTION] = "selection", [PV_CONFIG] = "config", [PV_AUTHENABLE] = "authenable",
    [PV_AUTHENTIC] = "authentic", [PV_TIMER] = "timer", [PV_RECEIVED] = "received",
    [PV_SENT] = "sent", [PV_TIMEREC] = "timerec", [PV_TIMEREACH] = "timereach",
    [PV_BADAUTH] = "badauth", [PV_BOGUSORG] = "bogusorg", [PV_OLDPKT] = "oldpkt",
    [PV_SELDISP] = "seldisp", [PV_SELBROKEN] = "selbroken", [PV_CANDIDATE] = "candidate",
    [PV_PROCESSED] = "processed", [PV_KOD_RX] = "kod_rx", [PV_BADFORMAT] = "badformat",
    [PV_BADTIME] = "badtime", [PV_UNSYNC] = "unsync", [PV_DISTANCE] = "distance",
    [PV_LOOP] = "loop", [PV_MINPOLL] = "minpoll", [PV_MAXPOLL] = "maxpoll",
    [PV_ROOTDIST] = "rootdist",
};

static void put_filt(struct ctl_text *t, const char *n, const double *v, unsigned cnt)
{
    char b[8 * 16 + 1];
    size_t len = 0;
    for (unsigned i = 0; i < 8; i++) {
        int w = snprintf(b + len, sizeof(b) - len, " %.2f", i < cnt ? ms(v[i]) : 0.0);
        if (w < 0 || (size_t)w >= sizeof(b) - len) {
            break;
        }
        len += (size_t)w;
    }
    ctl_text_add(t, n, "%s", b);
}

static void put_peer(struct ctl_text *t, const struct status_peer *p, unsigned i)
{
    char b[64];
    const char *n = peer_names[i];
    const struct assoc_counters *k = &p->cnt;
    switch ((enum peervar)i) {
    case PV_SRCADR:
        ctl_text_add(t, n, "%s", p->srcadr);
        break;
    case PV_SRCPORT:
        ctl_text_add(t, n, "%u", (unsigned)p->srcport);
        break;
    case PV_DSTADR:
        ctl_text_add(t, n, "%s", p->dstadr[0] != '\0' ? p->dstadr : "0.0.0.0");
        break;
    case PV_DSTPORT:
        ctl_text_add(t, n, "%u", (unsigned)p->dstport);
        break;
    case PV_LEAP:
        ctl_text_add(t, n, "%u", (unsigned)p->leap);
        break;
    case PV_HMODE:
        ctl_text_add(t, n, "%u", (unsigned)p->hmode);
        break;
    case PV_STRATUM:
        ctl_text_add(t, n, "%u", (unsigned)p->stratum);
        break;
    case PV_PPOLL:
        ctl_text_add(t, n, "%d", (int)p->ppoll);
        break;
    case PV_HPOLL:
        ctl_text_add(t, n, "%d", (int)p->hpoll);
        break;
    case PV_PRECISION:
        ctl_text_add(t, n, "%d", (int)p->precision);
        break;
    case PV_ROOTDELAY:
        ctl_text_add(t, n, "%.3f", ms(p->rootdelay));
        break;
    case PV_ROOTDISP:
        ctl_text_add(t, n, "%.3f", ms(p->rootdisp));
        break;
    case PV_REFID:
        put_refid(b, sizeof(b), p->refid, p->stratum <= 1 || p->stratum >= 16);
        ctl_text_add(t, n, "%s", b);
        break;
    case PV_REFTIME:
        put_lfp(b, sizeof(b), p->reftime);
        ctl_text_add(t, n, "%s", b);
        break;
    case PV_REC:
        put_lfp(b, sizeof(b), p->rec);
        ctl_text_add(t, n, "%s", b);
        break;
    case PV_XMT:
        put_lfp(b, sizeof(b), p->xmt);
        ctl_text_add(t, n, "%s", b);
        break;
    case PV_REACH:
        ctl_text_add(t, n, "0x%x", (unsigned)p->reach);
        break;
    case PV_UNREACH:
        ctl_text_add(t, n, "%u", p->unreach);
        break;
    case PV_DELAY:
        ctl_text_add(t, n, "%.6f", ms(p->delay));
        break;
    case PV_OFFSET:
        ctl_text_add(t, n, "%.6f", ms(p->offset));
        break;
    case PV_JITTER:
        ctl_text_add(t, n, "%.6f", ms(p->jitter));
        break;
    case PV_DISPERSION:
        ctl_text_add(t, n, "%.6f", ms(p->dispersion));
        break;
    case PV_KEYID:
    case PV_HEADWAY:
    case PV_AUTHENTIC:
    case PV_BADAUTH:
    case PV_SELBROKEN:
        ctl_text_add(t, n, "0");
        break;
    case PV_AUTHENABLE: /* as ntpd reads it: 1 when the association has no key */
        ctl_text_add(t, n, "1");
        break;
    case PV_FILTDELAY:
        put_filt(t, n, p->filt_delay, p->n_filt);
        break;
    case PV_FILTOFFSET:
        put_filt(t, n, p->filt_offset, p->n_filt);
        break;
    case PV_FILTDISP:
        put_filt(t, n, p->filt_disp, p->n_filt);
        break;
    case PV_PMODE:
        ctl_text_add(t, n, "%u", (unsigned)p->pmode);
        break;
    case PV_FLASH:
        ctl_text_add(t, n, "0x%x", (unsigned)p->flash);
        break;
    case PV_SRCHOST:
        ctl_text_str(t, n, p->host);
        break;
    case PV_NTSCOOKIES:
        ctl_text_add(t, n, "-1");
        break;
    case PV_SELECTION:
        ctl_text_str(t, n, p->why != NULL ? p->why : "");
        break;
    case PV_CONFIG:
        ctl_text_add(t, n, "%u", p->pool ? 0u : 1u);
        break;
    case PV_TIMER:
        ctl_text_add(t, n, "%.0f", p->next_poll > 0.0 ? p->next_poll : 0.0);
        break;
    case PV_TIMEREC:
    case PV_TIMEREACH:
        ctl_text_add(t, n, "%.0f", p->since_rec >= 0.0 ? p->since_rec : 0.0);
        break;
    case PV_RECEIVED:
        ctl_text_add(t, n, "%llu", (unsigned long long)k->received);
        break;
    case PV_SENT:
        ctl_text_add(t, n, "%llu", (unsigned long long)k->sent);
        break;
    case PV_BOGUSORG:
        ctl_text_add(t, n, "%llu", (unsigned long long)k->bogusorg);
        break;
    case PV_OLDPKT:
        ctl_text_add(t, n, "%llu", (unsigned long long)k->oldpkt);
        break;
    case PV_SELDISP:
        ctl_text_add(t, n, "%.6f", ms(p->dispersion));
        break;
    case PV_CANDIDATE:
        ctl_text_add(t, n, "%u", (unsigned)p->sel);
        break;
    case PV_PROCESSED:
        ctl_text_add(t, n, "%llu", (unsigned long long)k->processed);
        break;
    case PV_KOD_RX:
        ctl_text_add(t, n, "%llu", (unsigned long long)k->kod_rx);
        break;
    case PV_BADFORMAT:
        ctl_text_add(t, n, "%llu", (unsigned long long)k->badformat);
        break;
    case PV_BADTIME:
        ctl_text_add(t, n, "%llu", (unsigned long long)k->badtime);
        break;
    case PV_UNSYNC:
        ctl_text_add(t, n, "%llu", (unsigned long long)k->unsync);
        break;
    case PV_DISTANCE:
        ctl_text_add(t, n, "%llu", (unsigned long long)k->distance);
        break;
    case PV_LOOP:
        ctl_text_add(t, n, "%llu", (unsigned long long)k->loop);
        break;
    case PV_MINPOLL:
        ctl_text_add(t, n, "%d", (int)p->minpoll);
        break;
    case PV_MAXPOLL:
        ctl_text_add(t, n, "%d", (int)p->maxpoll);
        break;
    case PV_ROOTDIST:
        ctl_text_add(t, n, "%.3f", ms(p->rootdist));
        break;
    case PV_COUNT:
        break;
    }
}

/* ---- requests ------------------------------------------------------------------------ */

/* The names of a READVAR list: each known one marks want[], an unknown one fails the
 * whole request (ntpd's CERR_UNKNOWNVAR; ntpq then asks for the names one by one). */
static bool want_vars(const uint8_t *data, size_t len, bool sys, bool *want, unsigned nvars)
{
    struct ctl_item it;
    size_t pos = 0;
    char nb[32];
    while (ctl_items_next((const char *)data, len, &pos, &it)) {
        bool found = false;
        for (unsigned i = 0; i < nvars && !found; i++) {
            const char *n = sys ? sys_name(i, nb, sizeof(nb)) : peer_names[i];
            if (n != NULL && ctl_item_is(&it, n)) {
                want[i] = true;
                found = true;
            }
        }
        if (!found) {
            return false;
        }
    }
    return true;
}

static const struct status_peer *find_peer(const struct control *c, uint16_t associd)
{
    for (unsigned k = 0; k < c->st.sys.n_peers; k++) {
        if (c->st.peer[k].associd == associd) {
            return &c->st.peer[k];
        }
    }
    return NULL;
}

/* A whole reply, in fragments, into out. */
static void reply(struct control *c, const struct ctl_msg *req, uint16_t status,
                  const uint8_t *payload, size_t plen, size_t max_frags, struct control_out *out)
{
    size_t n = ctl_fragments(plen);
    if (n > max_frags) {
        n = max_frags;
    }
    for (size_t f = 0; f < n && out->n < CTL_MAX_FRAGS; f++) {
        size_t len = ctl_encode_response(req, c->st.sys.leap, status, req->associd, payload,
                                         plen, f, out->dgram[out->n], sizeof(out->dgram[0]));
        if (len == 0) {
            break;
        }
        out->len[out->n++] = (uint16_t)len;
    }
}

static void reply_error(struct control *c, const struct ctl_msg *req, enum ctl_error err,
                        struct control_out *out)
{
    out->len[0] = (uint16_t)ctl_encode_error(req, c->st.sys.leap, err, out->dgram[0],
                                             sizeof(out->dgram[0]));
    out->n = out->len[0] > 0 ? 1 : 0;
    c->cnt.errors++;
}

static void do_readstat(struct control *c, const struct ctl_msg *req, struct control_out *out)
{
    if (req->associd != 0) {
        const struct status_peer *p = find_peer(c, req->associd);
        if (p == NULL) {
            reply_error(c, req, CTL_ERR_BADASSOC, out);
            return;
        }
        reply(c, req, p->status, NULL, 0, 1, out);
        return;
    }
    uint8_t b[4 * STATUS_MAX_PEERS];
    size_t n = 0;
    for (unsigned k = 0; k < c->st.sys.n_peers; k++) {
        const struct status_peer *p = &c->st.peer[k];
        b[n++] = (uint8_t)(p->associd >> 8);
        b[n++] = (uint8_t)p->associd;
        b[n++] = (uint8_t)(p->status >> 8);
        b[n++] = (uint8_t)p->status;
    }
    reply(c, req, c->st.sys.status, b, n, CTL_MAX_FRAGS, out);
}

static void do_readvar(struct control *c, const struct ctl_msg *req, struct control_out *out)
{
    bool want[(int)SV_COUNT > (int)PV_COUNT ? (int)SV_COUNT : (int)PV_COUNT];
    memset(want, 0, sizeof(want));
    bool sys = req->associd == 0;
    const struct status_peer *p = NULL;
    if (!sys && (p = find_peer(c, req->associd)) == NULL) {
        reply_error(c, req, CTL_ERR_BADASSOC, out);
        return;
    }
    unsigned nvars = sys ? SV_COUNT : PV_COUNT;
    if (!want_vars(req->data, req->count, sys, want, nvars)) {
        reply_error(c, req, CTL_ERR_UNKNOWNVAR, out);
        return;
    }
    bool any = false;
    for (unsigned i = 0; i < nvars; i++) {
        any = any || want[i];
    }
    struct ctl_text t;
    ctl_text_init(&t, c->text, sizeof(c->text));
    for (unsigned i = 0; i < nvars; i++) {
        bool dflt = i < (sys ? (unsigned)SV_DEFAULT_END : (unsigned)PV_DEFAULT_END);
        if (any ? want[i] : dflt) {
            if (sys) {
                put_sys(c, &t, i);
            } else {
                put_peer(&t, p, i);
            }
        }
    }
    ctl_text_finish(&t);
    reply(c, req, sys ? c->st.sys.status : p->status, (const uint8_t *)c->text, t.len,
          CTL_MAX_FRAGS, out);
}

/* Nonces: our clock's time of the request and 32 bits of a keyed hash of it and the
 * client's address and port, all as 24 hex digits (timestamp first, as ntpd's, so the
 * text is never all decimal: ntpq reads every value through int(v, 0)). */
static uint32_t nonce_mac(const struct control *c, ntp_ts_t ts, const struct net_addr *src,
                          uint16_t port)
{
    uint8_t m[8 + 1 + 16 + 2];
    for (unsigned i = 0; i < 8; i++) {
        m[i] = (uint8_t)(ts >> (56 - 8 * i));
    }
    m[8] = src->family;
    memcpy(m + 9, src->bytes, 16);
    m[25] = (uint8_t)(port >> 8);
    m[26] = (uint8_t)port;
    return (uint32_t)siphash24(c->k0, c->k1, m, sizeof(m));
}

static void make_nonce(const struct control *c, ntp_ts_t wall, const struct net_addr *src,
                       uint16_t port, char *out, size_t size)
{
    snprintf(out, size, "%08x%08x%08x", (unsigned)(wall >> 32), (unsigned)wall,
             (unsigned)nonce_mac(c, wall, src, port));
}

static bool nonce_ok(const struct control *c, const char *text, ntp_ts_t wall,
                     const struct net_addr *src, uint16_t port)
{
    unsigned hi, lo, mac;
    char tail;
    if (strlen(text) != 24 || sscanf(text, "%8x%8x%8x%c", &hi, &lo, &mac, &tail) != 3) {
        return false;
    }
    ntp_ts_t ts = (ntp_ts_t)hi << 32 | lo;
    int64_t age = ntp_ts_diff(wall, ts) >= 0 ? (int64_t)(ntp_ts_diff(wall, ts) * 1000.0) : -1;
    return mac == nonce_mac(c, ts, src, port) && age >= 0 && age <= NONCE_LIFE_MS;
}

static void do_nonce(struct control *c, const struct ctl_msg *req, const struct net_addr *src,
                     uint16_t port, ntp_ts_t wall, struct control_out *out)
{
    char nonce[32];
    make_nonce(c, wall, src, port, nonce, sizeof(nonce));
    struct ctl_text t;
    ctl_text_init(&t, c->text, sizeof(c->text));
    ctl_text_add(&t, "nonce", "%s", nonce);
    ctl_text_finish(&t);
    reply(c, req, 0, (const uint8_t *)c->text, t.len, 1, out);
}

static int mru_cmp(const void *a, const void *b)
{
    const struct mru_rec *x = a, *y = b;
    if (x->last_ms != y->last_ms) {
        return x->last_ms < y->last_ms ? -1 : 1;
    }
    if (x->addr.family != y->addr.family) {
        return x->addr.family < y->addr.family ? -1 : 1;
    }
    int r = memcmp(x->addr.bytes, y->addr.bytes, 16);
    return r != 0 ? r : (x->port > y->port) - (x->port < y->port);
}

/* The client list from every server context's table, oldest first. */
static bool mru_build(struct control *c, int64_t now_ms)
{
    if (c->mru_valid && now_ms - c->mru_built_ms < MRU_SNAPSHOT_MS && now_ms >= c->mru_built_ms) {
        return true;
    }
    const struct rl_table *tabs[CONTROL_MAX_TABLES];
    unsigned nt = c->env.tables != NULL ? c->env.tables(c->env.arg, tabs, CONTROL_MAX_TABLES) : 0;
    size_t cap = 0;
    for (unsigned i = 0; i < nt; i++) {
        cap += rl_used(tabs[i]);
    }
    if (cap > c->mru_cap) {
        size_t want = cap + cap / 4 + 64;
        struct mru_rec *m = realloc(c->mru, want * sizeof(*m));
        if (m == NULL) {
            return false;
        }
        c->mru = m;
        c->mru_cap = want;
    }
    size_t n = 0;
    for (unsigned i = 0; i < nt; i++) {
        uint32_t slots = rl_capacity(tabs[i]);
        for (uint32_t s = 0; s < slots && n < c->mru_cap; s++) {
            struct rl_client cl;
            if (!rl_read(tabs[i], s, &cl)) {
                continue;
            }
            struct mru_rec *r = &c->mru[n++];
            r->addr = cl.addr;
            r->port = cl.port;
            r->first_ms = cl.first_ms;
            r->last_ms = cl.last_ms;
            r->count = cl.count;
            r->limited = cl.limited;
            r->kods = cl.kods;
            r->mode_version = cl.mode_version;
            r->res = control_res_bits(cl.flags);
        }
    }
    qsort(c->mru, n, sizeof(*c->mru), mru_cmp);
    c->mru_n = n;
    c->mru_built_ms = now_ms;
    c->mru_valid = true;
    return true;
}

static void mru_addr_text(const struct mru_rec *r, char *out, size_t size)
{
    char a[64];
    net_addr_format(&r->addr, a, sizeof(a));
    if (r->addr.family == NET_IPV6) {
        snprintf(out, size, "[%s]:%u", a, (unsigned)r->port);
    } else {
        snprintf(out, size, "%s:%u", a, (unsigned)r->port);
    }
}

struct mru_query {
    char nonce[64];
    long frags, limit;
    long mincount, mindrop;
    unsigned long resall, resany;
    long maxlstint, minlstint;
    long recent;
    bool have_frags, have_limit, have_recent;
    char addr[MRU_RESUME_MAX][64];
    ntp_ts_t last[MRU_RESUME_MAX];
    bool have_addr[MRU_RESUME_MAX], have_last[MRU_RESUME_MAX];
};

static bool parse_long(const struct ctl_item *it, long lo, long hi, long *out)
{
    char v[32], *end;
    if (!ctl_item_value(it, v, sizeof(v)) || v[0] == '\0') {
        return false;
    }
    long x = strtol(v, &end, 0);
    if (*end != '\0' || x < lo || x > hi) {
        return false;
    }
    *out = x;
    return true;
}

/* Parses a READ_MRU request; false for anything malformed (no reply then, as ntpd). */
static bool mru_parse(const struct ctl_msg *req, struct mru_query *q)
{
    memset(q, 0, sizeof(*q));
    q->maxlstint = -1;
    struct ctl_item it;
    size_t pos = 0;
    while (ctl_items_next((const char *)req->data, req->count, &pos, &it)) {
        long v;
        if (ctl_item_is(&it, "nonce")) {
            if (!ctl_item_value(&it, q->nonce, sizeof(q->nonce))) {
                return false;
            }
        } else if (ctl_item_is(&it, "frags")) {
            if (!parse_long(&it, 0, 1L << 30, &q->frags)) {
                return false;
            }
            q->have_frags = true;
        } else if (ctl_item_is(&it, "limit")) {
            if (!parse_long(&it, 0, 1L << 30, &q->limit)) {
                return false;
            }
            q->have_limit = true;
        } else if (ctl_item_is(&it, "mincount")) {
            if (!parse_long(&it, 0, 1L << 30, &q->mincount)) {
                return false;
            }
        } else if (ctl_item_is(&it, "mindrop")) {
            if (!parse_long(&it, 0, 1L << 30, &q->mindrop)) {
                return false;
            }
        } else if (ctl_item_is(&it, "resall") || ctl_item_is(&it, "resany")) {
            if (!parse_long(&it, 0, 0xffffffL, &v)) {
                return false;
            }
            *(ctl_item_is(&it, "resall") ? &q->resall : &q->resany) = (unsigned long)v;
        } else if (ctl_item_is(&it, "maxlstint")) {
            if (!parse_long(&it, 0, 1L << 30, &q->maxlstint)) {
                return false;
            }
        } else if (ctl_item_is(&it, "minlstint")) {
            if (!parse_long(&it, 0, 1L << 30, &q->minlstint)) {
                return false;
            }
        } else if (ctl_item_is(&it, "recent")) {
            if (!parse_long(&it, 0, 1L << 30, &q->recent)) {
                return false;
            }
            q->have_recent = true;
        } else if (it.name_len > 5 && (memcmp(it.name, "addr.", 5) == 0 ||
                                       memcmp(it.name, "last.", 5) == 0)) {
            char idx[8];
            size_t il = it.name_len - 5;
            if (il == 0 || il >= sizeof(idx)) {
                return false;
            }
            memcpy(idx, it.name + 5, il);
            idx[il] = '\0';
            char *end;
            long k = strtol(idx, &end, 10);
            if (*end != '\0' || k < 0 || k >= MRU_RESUME_MAX) {
                return false;
            }
            if (it.name[0] == 'a') {
                if (!ctl_item_value(&it, q->addr[k], sizeof(q->addr[k]))) {
                    return false;
                }
                q->have_addr[k] = true;
            } else {
                char v2[32];
                if (!ctl_item_value(&it, v2, sizeof(v2)) || !parse_lfp(v2, &q->last[k])) {
                    return false;
                }
                q->have_last[k] = true;
            }
        }
        /* laddr, sort, kod, limited and anything else: ignored, as ntpd does. */
    }
    return true;
}

static bool mru_filter(const struct mru_query *q, const struct mru_rec *r, int64_t now_ms)
{
    int64_t lstint = (now_ms - r->last_ms) / 1000;
    return r->count >= (uint64_t)q->mincount && r->limited >= (uint64_t)q->mindrop &&
           (r->res & q->resall) == q->resall && (q->resany == 0 || (r->res & q->resany) != 0) &&
           (q->maxlstint < 0 || lstint <= q->maxlstint) && lstint >= q->minlstint;
}

static void do_mru(struct control *c, const struct ctl_msg *req, const struct net_addr *src,
                   uint16_t port, uint32_t flags, int64_t now_ms, ntp_ts_t wall,
                   struct control_out *out, enum control_drop *drop)
{
    if ((flags & ACL_NOMRULIST) != 0) {
        reply_error(c, req, CTL_ERR_PERMISSION, out);
        return;
    }
    struct mru_query q;
    if (!mru_parse(req, &q) || !nonce_ok(c, q.nonce, wall, src, port)) {
        *drop = CONTROL_DROP_NONCE;
        return;
    }
    long frags = q.have_frags ? q.frags : MRU_FRAGS_LIMIT;
    long limit = q.have_limit ? q.limit : 0;
    if ((!q.have_frags && !q.have_limit) ||
        (q.have_frags && (frags < 1 || frags > MRU_FRAGS_LIMIT)) ||
        (!q.have_frags && (limit < 1 || limit > MRU_ROW_LIMIT))) {
        reply_error(c, req, CTL_ERR_BADVALUE, out);
        return;
    }
    if (!mru_build(c, now_ms)) {
        reply_error(c, req, CTL_ERR_PERMISSION, out); /* ntpd's "no resource" */
        return;
    }
    /* Where to start: after the first resume point that still names an entry with that
     * time (the client's newest first), else from the oldest. */
    size_t start = 0;
    bool resumed = false;
    const struct mru_rec *older = NULL;
    for (unsigned k = 0; k < MRU_RESUME_MAX && q.have_addr[k] && q.have_last[k] && !resumed;
         k++) {
        int64_t d = (int64_t)(ntp_ts_diff(q.last[k], c->epoch_wall) * 1000.0 +
                              (ntp_ts_diff(q.last[k], c->epoch_wall) >= 0 ? 0.5 : -0.5));
        int64_t t = c->epoch_ms + d;
        /* binary search for the first entry with last_ms >= t */
        size_t lo = 0, hi = c->mru_n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (c->mru[mid].last_ms < t) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        for (size_t i = lo; i < c->mru_n && c->mru[i].last_ms == t; i++) {
            char a[80];
            mru_addr_text(&c->mru[i], a, sizeof(a));
            if (strcmp(a, q.addr[k]) == 0) {
                start = i + 1;
                resumed = true;
                older = &c->mru[i];
                break;
            }
        }
    }
    if (!resumed && q.have_addr[0] && q.have_last[0]) {
        reply_error(c, req, CTL_ERR_UNKNOWNVAR, out);
        return;
    }
    if (!resumed && q.have_recent && q.recent > 0 && (size_t)q.recent < c->mru_n) {
        start = c->mru_n - (size_t)q.recent;
    }

    size_t cap_frags = (size_t)(frags < CTL_MAX_FRAGS ? frags : CTL_MAX_FRAGS);
    /* Room for the closing "now" and "last.newest" pair. */
    size_t room = cap_frags * CTL_MAX_DATA - 80;
    struct ctl_text t;
    ctl_text_init(&t, c->text, sizeof(c->text));
    char b[80], nb[32];
    if (older != NULL) {
        put_lfp(b, sizeof(b), mono_to_ntp(c, older->last_ms));
        ctl_text_add(&t, "last.older", "%s", b);
        mru_addr_text(older, b, sizeof(b));
        ctl_text_add(&t, "addr.older", "%s", b);
    }
    make_nonce(c, wall, src, port, b, sizeof(b));
    ctl_text_add(&t, "nonce", "%s", b);
    size_t i = start;
    unsigned rows = 0;
    const struct mru_rec *last_sent = NULL;
    for (; i < c->mru_n; i++) {
        const struct mru_rec *r = &c->mru[i];
        if (!mru_filter(&q, r, now_ms)) {
            continue;
        }
        if (q.have_limit && rows >= (unsigned)limit) {
            break;
        }
        /* One entry is about 140 characters: stop before one could pass the room. */
        if (t.len + 200 > room) {
            break;
        }
        size_t before = t.len;
        char addr[80], first[32], last[32];
        mru_addr_text(r, addr, sizeof(addr));
        put_lfp(first, sizeof(first), mono_to_ntp(c, r->first_ms));
        put_lfp(last, sizeof(last), mono_to_ntp(c, r->last_ms));
        snprintf(nb, sizeof(nb), "addr.%u", rows);
        ctl_text_add(&t, nb, "%s", addr);
        snprintf(nb, sizeof(nb), "last.%u", rows);
        ctl_text_add(&t, nb, "%s", last);
        snprintf(nb, sizeof(nb), "first.%u", rows);
        ctl_text_add(&t, nb, "%s", first);
        snprintf(nb, sizeof(nb), "ct.%u", rows);
        ctl_text_add(&t, nb, "%u", r->count);
        snprintf(nb, sizeof(nb), "mv.%u", rows);
        ctl_text_add(&t, nb, "%u", (unsigned)r->mode_version);
        snprintf(nb, sizeof(nb), "rs.%u", rows);
        ctl_text_add(&t, nb, "0x%x", r->res);
        snprintf(nb, sizeof(nb), "dr.%u", rows);
        ctl_text_add(&t, nb, "%u", r->limited);
        snprintf(nb, sizeof(nb), "kd.%u", rows);
        ctl_text_add(&t, nb, "%u", (unsigned)r->kods);
        if (t.overflow) {
            t.len = before;
            c->text[before] = '\0';
            break;
        }
        rows++;
        last_sent = r;
    }
    if (i >= c->mru_n) {
        put_lfp(b, sizeof(b), wall);
        ctl_text_add(&t, "now", "%s", b);
        if (last_sent != NULL) {
            put_lfp(b, sizeof(b), mono_to_ntp(c, last_sent->last_ms));
            ctl_text_add(&t, "last.newest", "%s", b);
        }
    }
    ctl_text_finish(&t);
    reply(c, req, 0, (const uint8_t *)c->text, t.len, cap_frags, out);
}

/* Control replies to one source under `limited`, and to everyone together. */
static bool rate_ok(struct control *c, const struct net_addr *src, uint16_t port,
                    uint32_t flags, int64_t now_ms)
{
    if ((flags & ACL_LIMITED) != 0) {
        struct rl_datagram dg = {.src = src, .port = port, .mode_version = 6, .limit = true};
        if (rl_account(c->rl, &dg, now_ms) != RL_PASS) {
            return false;
        }
    }
    if (now_ms > c->tokens_ms) {
        c->tokens += (double)(now_ms - c->tokens_ms) * (CTL_MAX_DGRAMS_PER_S / 1000.0);
        if (c->tokens > CTL_MAX_DGRAMS_PER_S) {
            c->tokens = CTL_MAX_DGRAMS_PER_S;
        }
        c->tokens_ms = now_ms;
    }
    return c->tokens >= 1.0;
}

enum control_drop control_respond(struct control *c, const uint8_t *req, size_t len,
                                  const struct net_addr *src, uint16_t port, int64_t now_ms,
                                  ntp_ts_t wall, struct control_out *out)
{
    struct ctl_msg m;
    enum control_drop drop = CONTROL_ANSWERED;
    out->n = 0;
    c->cnt.requests++;
    enum ctl_reason r = ctl_decode(req, len, &m);
    enum ctl_reason rq = ctl_check_request(&m);
    /* ntpd's order: a short datagram, a response or fragment, a non-zero offset or a bad
     * version get no reply; a count beyond the data or a ragged length "bad format". */
    if (r == CTL_BAD_SHORT || r == CTL_BAD_LONG || r == CTL_BAD_MODE ||
        r == CTL_BAD_VERSION || rq == CTL_BAD_RESPONSE || rq == CTL_BAD_OFFSET) {
        c->cnt.by_drop[CONTROL_DROP_MALFORMED]++;
        return CONTROL_DROP_MALFORMED;
    }
    uint32_t flags = c->acl != NULL ? acl_match_port(c->acl, src, port) : 0;
    if (!rate_ok(c, src, port, flags, now_ms)) {
        c->cnt.by_drop[CONTROL_DROP_RATE]++;
        return CONTROL_DROP_RATE;
    }
    if (c->env.status != NULL) {
        c->env.status(c->env.arg, &c->st);
    }
    if (r == CTL_BAD_COUNT || rq == CTL_BAD_ALIGN) {
        reply_error(c, &m, CTL_ERR_BADFMT, out);
    } else {
        switch (m.opcode) {
        case CTL_OP_UNSPEC: {
            const struct status_peer *p = m.associd != 0 ? find_peer(c, m.associd) : NULL;
            if (m.associd != 0 && p == NULL) {
                reply_error(c, &m, CTL_ERR_BADASSOC, out);
            } else {
                reply(c, &m, p != NULL ? p->status : c->st.sys.status, NULL, 0, 1, out);
            }
            break;
        }
        case CTL_OP_READSTAT:
            do_readstat(c, &m, out);
            break;
        case CTL_OP_READVAR:
            do_readvar(c, &m, out);
            break;
        case CTL_OP_READCLOCK:
            reply_error(c, &m, CTL_ERR_BADASSOC, out); /* no reference clocks */
            break;
        case CTL_OP_WRITEVAR:
        case CTL_OP_WRITECLOCK:
        case CTL_OP_CONFIGURE:
        case CTL_OP_READ_ORDLIST_A:
            /* The network never changes the daemon, nor reads what needs a key. */
            reply_error(c, &m, CTL_ERR_PERMISSION, out);
            break;
        case CTL_OP_REQ_NONCE:
            do_nonce(c, &m, src, port, wall, out);
            break;
        case CTL_OP_READ_MRU:
            do_mru(c, &m, src, port, flags, now_ms, wall, out, &drop);
            break;
        default:
            reply_error(c, &m, CTL_ERR_BADOP, out);
            break;
        }
    }
    if (drop != CONTROL_ANSWERED) {
        out->n = 0;
        c->cnt.by_drop[drop]++;
        return drop;
    }
    c->tokens -= out->n;
    c->cnt.datagrams += out->n;
    return CONTROL_ANSWERED;
}
