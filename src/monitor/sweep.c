/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sweep: the concurrent prober. One thread on poll(); name resolution in a few helper
 * threads before the first packet. See sweep.h.
 */
#include "monitor/sweep.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/ctl.h"
#include "core/ntp_time.h"

#define MAX_SOCKS 16      /* per family */
#define RX_BATCH 64       /* datagrams per recvmmsg */
#define RX_BUF 1536       /* a mode 6 fragment is at most CTL_MAX_DGRAM; more is malformed */
#define REASM_POOL 512    /* mode 6 reassembly buffers (15 KB each) lent to devices */
#define NONCE_BUF 512

enum dev_phase {
    DEV_WAITING = 0, /* not launched yet */
    DEV_INFLIGHT,
    DEV_DONE,
};

/* A device's address as the table keys it. */
struct dev_addr {
    uint8_t family; /* 0: unresolved (error in the result), 4, 6 */
    uint8_t addr[16];
    uint16_t port; /* host order */
};

struct dev {
    struct dev_addr a;
    uint8_t phase;
    uint8_t rounds; /* request rounds sent */
    uint32_t gen;   /* timer generation: an older timer entry is stale */
    struct probe p;
};

struct timer {
    uint32_t dev, gen;
    int64_t due_ns;
};

struct sweeper {
    const struct sweep_opts *o;
    const struct mon_target *devs;
    struct mon_result *res;
    struct sweep_stats *stats;
    size_t n;
    struct dev *d;
    /* (address, port) -> device: open addressing, linear probing, -1 empty */
    int32_t *table;
    size_t table_mask;
    /* sockets: [0 .. n4) IPv4, [n4 .. n4 + n6) IPv6 */
    int socks[2 * MAX_SOCKS];
    int n4, n6;
    /* timers: a ring, due times non-decreasing (all intervals are the same) */
    struct timer *tq;
    size_t tq_cap, tq_head, tq_len;
    /* reassembly buffers */
    struct ctl_reasm *pool;
    int *pool_free;
    int pool_nfree;
    /* completed, not yet flushed: device indices */
    uint32_t *done_list;
    size_t done_len;
    struct mon_result *batch;
    size_t completed;
    size_t next_launch;
    size_t inflight;
    double tokens;
    int64_t last_refill_ns;
    int64_t interval_ns;
    uint16_t seq;
    uint64_t nonces[NONCE_BUF];
    size_t nonce_left;
    int8_t precision;
    char *err;
    size_t errlen;
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static ntp_ts_t real_ntp(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ntp_ts_from_timespec(&ts);
}

void sweep_opts_default(struct sweep_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->timeout = 1.0;
    o->tries = 3;
    o->rate = 10000;
    o->max_inflight = 10000;
    o->sockets = 4;
    o->resolvers = 16;
    o->batch = 1000;
}

/* RFC 9109: the origin nonce must be unpredictable; the kernel's CSPRNG, in bulk. */
static uint64_t next_nonce(struct sweeper *s)
{
    if (s->nonce_left == 0) {
        size_t got = 0;
        while (got < sizeof(s->nonces)) {
            ssize_t r = getrandom((uint8_t *)s->nonces + got, sizeof(s->nonces) - got, 0);
            if (r < 0 && errno != EINTR) {
                break;
            }
            got += r > 0 ? (size_t)r : 0;
        }
        s->nonce_left = NONCE_BUF;
    }
    return s->nonces[--s->nonce_left];
}

/* ---- names ------------------------------------------------------------------------------ */

struct resolve_job {
    const struct mon_target *devs;
    struct dev *d;
    struct mon_result *res;
    uint32_t *todo;
    size_t ntodo;
    atomic_size_t next;
    int family;
    volatile sig_atomic_t *stop;
};

static void addr_from_sockaddr(const struct sockaddr *sa, struct dev_addr *a)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        a->family = 4;
        memcpy(a->addr, &in->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        a->family = 6;
        memcpy(a->addr, &in6->sin6_addr, 16);
    }
}

static void *resolve_thread(void *arg)
{
    struct resolve_job *j = arg;
    for (;;) {
        size_t k = atomic_fetch_add(&j->next, 1);
        if (k >= j->ntodo || (j->stop != NULL && *j->stop)) {
            break;
        }
        uint32_t i = j->todo[k];
        struct addrinfo hints = { 0 }, *ai = NULL;
        hints.ai_family = j->family == 4 ? AF_INET : j->family == 6 ? AF_INET6 : AF_UNSPEC;
        hints.ai_socktype = SOCK_DGRAM;
        int rc = getaddrinfo(j->devs[i].host, NULL, &hints, &ai);
        if (rc != 0 || ai == NULL) {
            snprintf(j->res[i].error, sizeof(j->res[i].error), "name %.60s does not resolve: %s",
                     j->devs[i].host, rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        } else {
            addr_from_sockaddr(ai->ai_addr, &j->d[i].a);
        }
        if (ai != NULL) {
            freeaddrinfo(ai);
        }
    }
    return NULL;
}

/* Numeric addresses directly; names by o->resolvers threads. */
static int resolve_all(struct sweeper *s)
{
    uint32_t *todo = malloc(s->n * sizeof(*todo) + 1);
    if (todo == NULL) {
        snprintf(s->err, s->errlen, "out of memory");
        return -1;
    }
    size_t ntodo = 0;
    for (size_t i = 0; i < s->n; i++) {
        struct dev_addr *a = &s->d[i].a;
        a->port = s->devs[i].port;
        if (inet_pton(AF_INET, s->devs[i].host, a->addr) == 1) {
            a->family = 4;
        } else if (inet_pton(AF_INET6, s->devs[i].host, a->addr) == 1) {
            a->family = 6;
        } else {
            todo[ntodo++] = (uint32_t)i;
        }
    }
    if (ntodo > 0) {
        struct resolve_job j = { .devs = s->devs, .d = s->d, .res = s->res, .todo = todo,
                                 .ntodo = ntodo, .family = s->o->family,
                                 .stop = s->o->stop };
        atomic_init(&j.next, 0);
        int nt = s->o->resolvers > 0 ? s->o->resolvers : 1;
        if ((size_t)nt > ntodo) {
            nt = (int)ntodo;
        }
        pthread_t th[64];
        if (nt > 64) {
            nt = 64;
        }
        int started = 0;
        for (int t = 0; t < nt; t++) {
            if (pthread_create(&th[t], NULL, resolve_thread, &j) == 0) {
                started++;
            } else {
                break;
            }
        }
        if (started == 0) {
            resolve_thread(&j);
        }
        for (int t = 0; t < started; t++) {
            pthread_join(th[t], NULL);
        }
    }
    free(todo);
    /* The family filter applies to numeric addresses too. */
    for (size_t i = 0; i < s->n; i++) {
        struct dev_addr *a = &s->d[i].a;
        if (a->family != 0 && s->o->family != 0 && a->family != s->o->family) {
            snprintf(s->res[i].error, sizeof(s->res[i].error), "no IPv%d address",
                     s->o->family);
            a->family = 0;
        }
    }
    return 0;
}

/* ---- the address table ------------------------------------------------------------------ */

static uint64_t addr_hash(const struct dev_addr *a)
{
    /* FNV-1a over the key, then a final mix: the addresses are ours, not an attacker's. */
    uint64_t h = 1469598103934665603ULL;
    size_t len = a->family == 4 ? 4 : 16;
    for (size_t k = 0; k < len; k++) {
        h = (h ^ a->addr[k]) * 1099511628211ULL;
    }
    h = (h ^ a->port) * 1099511628211ULL;
    h ^= h >> 29;
    return h * 0xbf58476d1ce4e5b9ULL;
}

static bool addr_eq(const struct dev_addr *x, const struct dev_addr *y)
{
    return x->family == y->family && x->port == y->port &&
           memcmp(x->addr, y->addr, x->family == 4 ? 4 : 16) == 0;
}

static int table_build(struct sweeper *s)
{
    size_t cap = 16;
    while (cap < s->n * 2) {
        cap <<= 1;
    }
    s->table = malloc(cap * sizeof(*s->table));
    if (s->table == NULL) {
        return -1;
    }
    memset(s->table, 0xff, cap * sizeof(*s->table));
    s->table_mask = cap - 1;
    for (size_t i = 0; i < s->n; i++) {
        if (s->d[i].a.family == 0) {
            continue;
        }
        size_t h = addr_hash(&s->d[i].a) & s->table_mask;
        while (s->table[h] >= 0) {
            h = (h + 1) & s->table_mask;
        }
        s->table[h] = (int32_t)i;
    }
    return 0;
}

/* ---- sockets ---------------------------------------------------------------------------- */

static int open_sock(int family)
{
    int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM, 0);
    if (fd < 0) {
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    int one = 1, big = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
    /* ICMP errors (port unreachable) to the error queue: a device with nothing listening
     * is known at once, not after the timeout. */
    if (family == 4) {
        setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
    } else {
        setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one));
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    return fd;
}

static int open_socks(struct sweeper *s)
{
    bool need4 = false, need6 = false;
    for (size_t i = 0; i < s->n; i++) {
        need4 |= s->d[i].a.family == 4;
        need6 |= s->d[i].a.family == 6;
    }
    int k = s->o->sockets < 1 ? 1 : s->o->sockets > MAX_SOCKS ? MAX_SOCKS : s->o->sockets;
    for (int f = 0; f < 2; f++) {
        bool need = f == 0 ? need4 : need6;
        for (int i = 0; need && i < k; i++) {
            int fd = open_sock(f == 0 ? 4 : 6);
            if (fd < 0) {
                snprintf(s->err, s->errlen, "cannot open a UDP socket (IPv%d): %s",
                         f == 0 ? 4 : 6, strerror(errno));
                return -1;
            }
            s->socks[s->n4 + s->n6] = fd;
            if (f == 0) {
                s->n4++;
            } else {
                s->n6++;
            }
        }
    }
    return 0;
}

static socklen_t make_sockaddr(const struct dev_addr *a, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (a->family == 4) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        memcpy(&in->sin_addr, a->addr, 4);
        in->sin_port = htons(a->port);
        return sizeof(*in);
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    in6->sin6_family = AF_INET6;
    memcpy(&in6->sin6_addr, a->addr, 16);
    in6->sin6_port = htons(a->port);
    return sizeof(*in6);
}

static bool key_from_sockaddr(const struct sockaddr_storage *ss, struct dev_addr *a)
{
    memset(a, 0, sizeof(*a));
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        a->family = 4;
        memcpy(a->addr, &in->sin_addr, 4);
        a->port = ntohs(in->sin_port);
        return true;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        a->family = 6;
        memcpy(a->addr, &in6->sin6_addr, 16);
        a->port = ntohs(in6->sin6_port);
        return true;
    }
    return false;
}

/* ---- devices ---------------------------------------------------------------------------- */

static int timer_push(struct sweeper *s, uint32_t dev, int64_t due)
{
    if (s->tq_len == s->tq_cap) {
        size_t nc = s->tq_cap ? s->tq_cap * 2 : 4096;
        struct timer *t = malloc(nc * sizeof(*t));
        if (t == NULL) {
            return -1;
        }
        for (size_t k = 0; k < s->tq_len; k++) {
            t[k] = s->tq[(s->tq_head + k) % s->tq_cap];
        }
        free(s->tq);
        s->tq = t;
        s->tq_cap = nc;
        s->tq_head = 0;
    }
    struct timer *t = &s->tq[(s->tq_head + s->tq_len) % s->tq_cap];
    t->dev = dev;
    t->gen = s->d[dev].gen;
    t->due_ns = due;
    s->tq_len++;
    return 0;
}

static void complete(struct sweeper *s, uint32_t i)
{
    struct dev *d = &s->d[i];
    if (d->phase == DEV_DONE) {
        return;
    }
    if (d->phase == DEV_INFLIGHT) {
        s->inflight--;
    }
    d->phase = DEV_DONE;
    d->gen++;
    if (d->p.reasm != NULL) {
        s->pool_free[s->pool_nfree++] = (int)(d->p.reasm - s->pool);
        d->p.reasm = NULL;
    }
    s->res[i].time_ms = real_ms();
    s->stats->by_status[s->res[i].status]++;
    s->done_list[s->done_len++] = i;
    s->completed++;
}

static void send_one(struct sweeper *s, uint32_t i, const uint8_t *buf, size_t len)
{
    struct dev *d = &s->d[i];
    struct sockaddr_storage ss;
    socklen_t sl = make_sockaddr(&d->a, &ss);
    int fd = d->a.family == 4 ? s->socks[i % (uint32_t)s->n4]
                              : s->socks[s->n4 + (int)(i % (uint32_t)s->n6)];
    ssize_t r;
    do {
        r = sendto(fd, buf, len, 0, (struct sockaddr *)&ss, sl);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        s->stats->send_errors++;
        if (errno == EPERM || errno == EACCES || errno == ENETUNREACH || errno == EHOSTUNREACH ||
            errno == EADDRNOTAVAIL || errno == EINVAL) {
            /* This machine will not send there: no answer can come. */
            snprintf(s->res[i].error, sizeof(s->res[i].error), "cannot send: %s",
                     strerror(errno));
            probe_finish(&d->p, &s->res[i]);
            complete(s, i);
        }
        return;
    }
    s->stats->sent++;
}

/* One round of requests of device i: the NTP request and/or the mode 6 one. */
static void send_round(struct sweeper *s, uint32_t i)
{
    struct dev *d = &s->d[i];
    uint8_t buf[CTL_MAX_DGRAM];
    d->rounds++;
    size_t len = probe_ntp_request(&d->p, buf, sizeof(buf), next_nonce(s), real_ntp());
    if (len > 0) {
        send_one(s, i, buf, len);
    }
    if (d->phase != DEV_DONE) {
        len = probe_ctl_request(&d->p, buf, sizeof(buf), ++s->seq);
        if (len > 0) {
            send_one(s, i, buf, len);
        }
    }
}

static int launch(struct sweeper *s, uint32_t i, int64_t now)
{
    struct dev *d = &s->d[i];
    probe_init(&d->p, s->devs[i].probe);
    if (probe_wants_ctl(&d->p)) {
        d->p.reasm = &s->pool[s->pool_free[--s->pool_nfree]];
        ctl_reasm_init(d->p.reasm);
    }
    d->phase = DEV_INFLIGHT;
    s->inflight++;
    send_round(s, i);
    if (d->phase == DEV_DONE) {
        return 0;
    }
    return timer_push(s, i, now + s->interval_ns);
}

/* ---- receiving -------------------------------------------------------------------------- */

static void handle_datagram(struct sweeper *s, const struct sockaddr_storage *from,
                            const uint8_t *buf, size_t len, ntp_ts_t t4, bool truncated)
{
    struct dev_addr key;
    s->stats->received++;
    if (!key_from_sockaddr(from, &key)) {
        s->stats->unmatched++;
        return;
    }
    size_t h = addr_hash(&key) & s->table_mask;
    bool matched = false;
    enum probe_drop why = PROBE_DROP_MALFORMED;
    /* Every device at this address and port (two names may resolve to one address). */
    for (; s->table[h] >= 0; h = (h + 1) & s->table_mask) {
        uint32_t i = (uint32_t)s->table[h];
        if (!addr_eq(&s->d[i].a, &key)) {
            continue;
        }
        matched = true;
        if (s->d[i].phase != DEV_INFLIGHT) {
            why = PROBE_DROP_LATE;
            continue;
        }
        if (truncated) {
            why = PROBE_DROP_MALFORMED;
            break;
        }
        enum probe_rx rx = probe_receive(&s->d[i].p, buf, len, t4, s->precision, &s->res[i],
                                         &why);
        if (rx == PROBE_RX_DONE) {
            complete(s, i);
            return;
        }
        if (rx == PROBE_RX_SEND) {
            uint8_t out[CTL_MAX_DGRAM];
            size_t olen = probe_ctl_request(&s->d[i].p, out, sizeof(out), ++s->seq);
            if (olen > 0) {
                send_one(s, i, out, olen);
            }
            return;
        }
        if (rx == PROBE_RX_ACCEPTED) {
            return;
        }
        /* ignored: perhaps another device's at the same address */
    }
    if (!matched) {
        s->stats->unmatched++;
    } else {
        s->stats->dropped[why]++;
    }
}

static void read_socket(struct sweeper *s, int fd)
{
    static uint8_t bufs[RX_BATCH][RX_BUF];
    static char ctrl[RX_BATCH][256];
    struct mmsghdr msgs[RX_BATCH];
    struct iovec iov[RX_BATCH];
    struct sockaddr_storage from[RX_BATCH];
    for (int rounds = 0; rounds < 64; rounds++) {
        for (int k = 0; k < RX_BATCH; k++) {
            iov[k].iov_base = bufs[k];
            iov[k].iov_len = RX_BUF;
            memset(&msgs[k].msg_hdr, 0, sizeof(msgs[k].msg_hdr));
            msgs[k].msg_hdr.msg_name = &from[k];
            msgs[k].msg_hdr.msg_namelen = sizeof(from[k]);
            msgs[k].msg_hdr.msg_iov = &iov[k];
            msgs[k].msg_hdr.msg_iovlen = 1;
            msgs[k].msg_hdr.msg_control = ctrl[k];
            msgs[k].msg_hdr.msg_controllen = sizeof(ctrl[k]);
        }
        int got = recvmmsg(fd, msgs, RX_BATCH, MSG_DONTWAIT, NULL);
        if (got <= 0) {
            return;
        }
        ntp_ts_t now = real_ntp();
        for (int k = 0; k < got; k++) {
            ntp_ts_t t4 = now;
            for (struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[k].msg_hdr); c != NULL;
                 c = CMSG_NXTHDR(&msgs[k].msg_hdr, c)) {
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                    struct timespec ts;
                    memcpy(&ts, CMSG_DATA(c), sizeof(ts));
                    t4 = ntp_ts_from_timespec(&ts);
                }
            }
            bool trunc = (msgs[k].msg_hdr.msg_flags & MSG_TRUNC) != 0;
            handle_datagram(s, &from[k], bufs[k], msgs[k].msg_len, t4, trunc);
        }
        if (got < RX_BATCH) {
            return;
        }
    }
}

/* ICMP errors: the original destination is in msg_name; port or host unreachable ends
 * the probe at once. */
static void read_errors(struct sweeper *s, int fd)
{
    for (int rounds = 0; rounds < 1024; rounds++) {
        uint8_t data[64];
        char ctrl[512];
        struct sockaddr_storage dst;
        struct iovec iov = { data, sizeof(data) };
        struct msghdr mh = { 0 };
        mh.msg_name = &dst;
        mh.msg_namelen = sizeof(dst);
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = ctrl;
        mh.msg_controllen = sizeof(ctrl);
        if (recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
            return;
        }
        const struct sock_extended_err *ee = NULL;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
            if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
                (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
                ee = (const struct sock_extended_err *)(const void *)CMSG_DATA(c);
            }
        }
        struct dev_addr key;
        if (ee == NULL || !key_from_sockaddr(&dst, &key)) {
            continue;
        }
        if (ee->ee_origin != SO_EE_ORIGIN_ICMP && ee->ee_origin != SO_EE_ORIGIN_ICMP6) {
            continue;
        }
        size_t h = addr_hash(&key) & s->table_mask;
        for (; s->table[h] >= 0; h = (h + 1) & s->table_mask) {
            uint32_t i = (uint32_t)s->table[h];
            if (!addr_eq(&s->d[i].a, &key) || s->d[i].phase != DEV_INFLIGHT) {
                continue;
            }
            struct dev *d = &s->d[i];
            if (!d->p.ntp_pending) {
                continue; /* the NTP answer came; only mode 6 is refused */
            }
            snprintf(s->res[i].error, sizeof(s->res[i].error), "ICMP: %s",
                     strerror((int)ee->ee_errno));
            d->p.ntp_pending = false;
            probe_finish(&d->p, &s->res[i]);
            s->res[i].status = MON_UNREACHABLE;
            complete(s, i);
        }
    }
}

/* ---- the loop --------------------------------------------------------------------------- */

static int flush_done(struct sweeper *s)
{
    if (s->o->flush == NULL) {
        s->done_len = 0;
        return 0;
    }
    /* In pieces of at most o->batch: more may have completed since the last flush. */
    size_t off = 0;
    while (off < s->done_len) {
        size_t m = s->done_len - off < s->o->batch ? s->done_len - off : s->o->batch;
        for (size_t k = 0; k < m; k++) {
            s->batch[k] = s->res[s->done_list[off + k]];
        }
        if (s->o->flush(s->o->ctx, s->batch, m) != 0) {
            s->done_len = 0;
            return -1;
        }
        off += m;
    }
    s->done_len = 0;
    return 0;
}

/* Gives up on devices whose last round has had its interval, and sends the next round of
 * the others whose interval is over. Retries come before new devices. */
static int run_timers(struct sweeper *s, int64_t now)
{
    while (s->tq_len > 0) {
        struct timer *t = &s->tq[s->tq_head];
        if (t->due_ns > now) {
            break;
        }
        struct dev *d = &s->d[t->dev];
        bool live = d->phase == DEV_INFLIGHT && d->gen == t->gen;
        if (live && d->rounds < (unsigned)s->o->tries) {
            if (s->tokens < 1) {
                break; /* the rate: this retry waits for tokens */
            }
            s->tokens -= d->p.ntp_pending && d->p.ctl_pending ? 2 : 1;
        }
        uint32_t dev = t->dev;
        s->tq_head = (s->tq_head + 1) % s->tq_cap;
        s->tq_len--;
        if (!live) {
            continue;
        }
        if (d->rounds < (unsigned)s->o->tries) {
            send_round(s, dev);
            if (d->phase != DEV_DONE && timer_push(s, dev, now + s->interval_ns) != 0) {
                return -1;
            }
        } else {
            probe_finish(&d->p, &s->res[dev]);
            complete(s, dev);
        }
    }
    return 0;
}

static int launch_more(struct sweeper *s, int64_t now)
{
    while (s->next_launch < s->n && s->inflight < (size_t)s->o->max_inflight) {
        uint32_t i = (uint32_t)s->next_launch;
        struct dev *d = &s->d[i];
        if (d->a.family == 0) {
            /* the name did not resolve: its error is in the result already */
            probe_init(&d->p, s->devs[i].probe);
            d->p.ntp_pending = d->p.ctl_pending = false;
            d->p.done = true;
            s->res[i].status = MON_UNREACHABLE;
            complete(s, i);
            s->next_launch++;
            continue;
        }
        bool ctl = s->devs[i].probe == MON_PROBE_NTPQ;
        if (s->tokens < (ctl ? 2 : 1)) {
            break;
        }
        if (ctl && s->pool_nfree == 0) {
            break;
        }
        s->tokens -= ctl ? 2 : 1;
        s->next_launch++;
        if (launch(s, i, now) != 0) {
            return -1;
        }
    }
    return 0;
}

static void refill(struct sweeper *s, int64_t now)
{
    double burst = s->o->rate * 0.005;
    if (burst < 2) {
        burst = 2;
    }
    s->tokens += (double)(now - s->last_refill_ns) * 1e-9 * s->o->rate;
    if (s->tokens > burst) {
        s->tokens = burst;
    }
    s->last_refill_ns = now;
}

static int loop(struct sweeper *s)
{
    struct pollfd pfd[2 * MAX_SOCKS];
    int nfd = s->n4 + s->n6;
    for (int k = 0; k < nfd; k++) {
        pfd[k].fd = s->socks[k];
        pfd[k].events = POLLIN;
    }
    int64_t last_flush = mono_ns(), last_progress = 0;
    s->last_refill_ns = mono_ns();
    while (s->completed < s->n) {
        if (s->o->stop != NULL && *s->o->stop) {
            s->stats->stopped = true;
            break;
        }
        int64_t now = mono_ns();
        refill(s, now);
        if (run_timers(s, now) != 0 || launch_more(s, now) != 0) {
            snprintf(s->err, s->errlen, "out of memory");
            return -1;
        }
        if (s->done_len >= s->o->batch || (s->done_len > 0 && now - last_flush > 500000000)) {
            last_flush = now;
            if (flush_done(s) != 0) {
                s->stats->stopped = true;
                return 0;
            }
        }
        if (s->o->progress != NULL && now - last_progress > 100000000) {
            last_progress = now;
            s->o->progress(s->o->ctx, s->completed, s->n);
        }
        if (s->completed >= s->n) {
            break;
        }
        /* Sleep until a timer is due, tokens for waiting work, or a datagram. */
        int64_t wake = now + 100000000;
        if (s->tq_len > 0 && s->tq[s->tq_head].due_ns < wake) {
            wake = s->tq[s->tq_head].due_ns;
        }
        if (s->next_launch < s->n && s->inflight < (size_t)s->o->max_inflight) {
            int64_t need = now + (int64_t)(2e9 / s->o->rate);
            if (need < wake) {
                wake = need;
            }
        }
        int timeout_ms = (int)((wake - now + 999999) / 1000000);
        if (timeout_ms < 0) {
            timeout_ms = 0;
        }
        int pr = poll(pfd, (nfds_t)nfd, timeout_ms);
        if (pr < 0 && errno != EINTR) {
            snprintf(s->err, s->errlen, "poll: %s", strerror(errno));
            return -1;
        }
        for (int k = 0; pr > 0 && k < nfd; k++) {
            if (pfd[k].revents & POLLERR) {
                read_errors(s, pfd[k].fd);
            }
            if (pfd[k].revents & POLLIN) {
                read_socket(s, pfd[k].fd);
            }
        }
    }
    if (s->o->progress != NULL) {
        s->o->progress(s->o->ctx, s->completed, s->n);
    }
    if (flush_done(s) != 0) {
        s->stats->stopped = true;
    }
    return 0;
}

int sweep_run(const struct mon_target *devs, size_t n, const struct sweep_opts *o,
              struct mon_result *results, struct sweep_stats *stats, char *err, size_t errlen)
{
    struct sweeper s;
    memset(&s, 0, sizeof(s));
    memset(stats, 0, sizeof(*stats));
    s.o = o;
    s.devs = devs;
    s.res = results;
    s.stats = stats;
    s.n = n;
    s.err = err;
    s.errlen = errlen;
    s.precision = -20;
    stats->devices = n;
    int tries = o->tries < 1 ? 1 : o->tries > PROBE_MAX_TRIES ? PROBE_MAX_TRIES : o->tries;
    struct sweep_opts oo = *o;
    oo.tries = tries;
    if (oo.rate <= 0) {
        oo.rate = 10000;
    }
    if (oo.max_inflight < 1) {
        oo.max_inflight = 1;
    }
    if (oo.batch < 1) {
        oo.batch = 1000;
    }
    s.o = &oo;
    /* Mode 6 answers are matched by sequence number: an unpredictable start keeps an
     * off-path forger guessing. */
    s.seq = (uint16_t)next_nonce(&s);
    s.interval_ns = (int64_t)(oo.timeout * 1e9 / tries);
    if (s.interval_ns < 1000000) {
        s.interval_ns = 1000000;
    }
    int64_t t0 = mono_ns();
    int rc = -1;
    for (size_t i = 0; i < n; i++) {
        mon_result_init(&results[i], devs[i].id);
        results[i].time_ms = 0;
    }
    s.d = calloc(n ? n : 1, sizeof(*s.d));
    s.done_list = malloc((n ? n : 1) * sizeof(*s.done_list));
    s.batch = malloc((n < oo.batch ? (n ? n : 1) : oo.batch) * sizeof(*s.batch));
    int pool_n = REASM_POOL < oo.max_inflight ? REASM_POOL : oo.max_inflight;
    bool any_ctl = false;
    for (size_t i = 0; i < n; i++) {
        any_ctl |= devs[i].probe == MON_PROBE_NTPQ;
    }
    if (!any_ctl) {
        pool_n = 0;
    }
    s.pool = calloc(pool_n ? (size_t)pool_n : 1, sizeof(*s.pool));
    s.pool_free = malloc((pool_n ? (size_t)pool_n : 1) * sizeof(*s.pool_free));
    for (int k = 0; k < 2 * MAX_SOCKS; k++) {
        s.socks[k] = -1;
    }
    if (s.d == NULL || s.done_list == NULL || s.batch == NULL || s.pool == NULL ||
        s.pool_free == NULL) {
        snprintf(err, errlen, "out of memory for %zu devices", n);
        goto out;
    }
    for (int k = 0; k < pool_n; k++) {
        s.pool_free[k] = k;
    }
    s.pool_nfree = pool_n;
    if (s.batch == NULL || resolve_all(&s) != 0 || table_build(&s) != 0 || open_socks(&s) != 0) {
        if (err[0] == '\0') {
            snprintf(err, errlen, "out of memory for %zu devices", n);
        }
        goto out;
    }
    rc = loop(&s);
out:
    for (int k = 0; k < 2 * MAX_SOCKS; k++) {
        if (s.socks[k] >= 0) {
            close(s.socks[k]);
        }
    }
    stats->completed = s.completed;
    stats->wall_s = (double)(mono_ns() - t0) * 1e-9;
    free(s.d);
    free(s.done_list);
    free(s.batch);
    free(s.pool);
    free(s.pool_free);
    free(s.table);
    free(s.tq);
    return rc;
}
