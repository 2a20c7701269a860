/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * worker: batched serving threads and the plain single-datagram path.
 */
#include "worker.h"

#include <errno.h>
#include <stddef.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/ntp_time.h"
#include "io/log.h"
#include "io/udp.h"

/* Receive buffer per datagram: larger than PKT_MAX_LEN so oversized datagrams are seen
 * whole (and dropped) rather than silently cut. */
#define RECV_BUF 1152

/* Receive errors (which a peer can provoke, e.g. with ICMP errors): a few, then one a
 * minute, per thread, so no lock is needed. */
static _Thread_local struct log_limit rx_limit = { .tokens = 5, .burst = 5,
                                                   .interval_ms = 60000 };

struct worker {
    pthread_t thread;
    int id;
    int fds[WORKER_MAX_FDS];
    unsigned nfds;
    int stop_fd;
    int ctl_fd;
    struct clk *clk;
    const struct snapshot *snap;
    struct server_ctx ctx;

    struct mmsghdr rmsg[WORKER_BATCH];
    struct iovec riov[WORKER_BATCH];
    struct sockaddr_storage raddr[WORKER_BATCH];
    uint8_t rctl[WORKER_BATCH][UDP_CMSG_SPACE];
    uint8_t rbuf[WORKER_BATCH][RECV_BUF];

    struct mmsghdr smsg[WORKER_BATCH];
    struct iovec siov[WORKER_BATCH];
    uint8_t sctl[WORKER_BATCH][UDP_CMSG_SPACE];
    uint8_t sbuf[WORKER_BATCH][PKT_HEADER_LEN];
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Receive time of a datagram in this clock's time: the kernel's stamp when there is one
 * (SO_TIMESTAMPING), else now. */
static ntp_ts_t rx_time(struct clk *clk, const struct udp_rxinfo *info)
{
    struct timespec t;
    if (info->have_ts) {
        clk_from_system(clk, &info->ts, &t);
    } else {
        clk_now(clk, &t);
    }
    return ntp_ts_from_timespec(&t);
}

static void stamp_xmt(struct clk *clk, uint8_t *reply, struct server_ctx *ctx)
{
    struct timespec now;
    clk_now(clk, &now);
    srv_stamp_xmt(reply, ntp_ts_from_timespec(&now), ctx->precision,
                  (uint32_t)rng_fast_u64(&ctx->rng));
}

struct worker *worker_new(int id, const int *fds, unsigned nfds, int stop_fd, int ctl_fd,
                          struct clk *clk, const struct snapshot *snap, const struct acl *acl,
                          const struct rl_config *rl, uint32_t rl_entries, int8_t precision,
                          bool monitor)
{
    if (nfds > WORKER_MAX_FDS) {
        return NULL;
    }
    struct worker *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return NULL;
    }
    w->id = id;
    memcpy(w->fds, fds, nfds * sizeof(int));
    w->nfds = nfds;
    w->stop_fd = stop_fd;
    w->ctl_fd = ctl_fd;
    w->clk = clk;
    w->snap = snap;
    if (server_ctx_init(&w->ctx, acl, rl, rl_entries, precision, monitor) != 0) {
        free(w);
        return NULL;
    }
    for (unsigned i = 0; i < WORKER_BATCH; i++) {
        w->riov[i].iov_base = w->rbuf[i];
        w->riov[i].iov_len = RECV_BUF;
        w->siov[i].iov_base = w->sbuf[i];
    }
    return w;
}

/* Fills a forward record for a control datagram. */
static bool make_fwd(struct ctl_fwd *f, int fd, const struct sockaddr_storage *from,
                     socklen_t fromlen, const struct udp_rxinfo *info, const uint8_t *buf,
                     size_t len)
{
    if (len > sizeof(f->buf) || fromlen > sizeof(f->from)) {
        return false;
    }
    f->fd = fd;
    f->fromlen = fromlen;
    memcpy(&f->from, from, fromlen);
    f->info = *info;
    f->len = (uint16_t)len;
    memcpy(f->buf, buf, len);
    return true;
}

/* Queues a control datagram for the engine; a full queue drops it. */
static void forward(struct worker *w, int fd, const struct sockaddr_storage *from,
                    socklen_t fromlen, const struct udp_rxinfo *info, const uint8_t *buf,
                    size_t len)
{
    struct ctl_fwd f;
    if (!make_fwd(&f, fd, from, fromlen, info, buf, len) ||
        send(w->ctl_fd, &f, offsetof(struct ctl_fwd, buf) + f.len, MSG_DONTWAIT) < 0) {
        server_count(&w->ctx, CNT_SENDERR);
    }
}

static void serve_batch(struct worker *w, int fd)
{
    /* A bounded number of batches per wake-up keeps several sockets fair. */
    for (int round = 0; round < 16; round++) {
        for (unsigned i = 0; i < WORKER_BATCH; i++) {
            struct msghdr *m = &w->rmsg[i].msg_hdr;
            m->msg_name = &w->raddr[i];
            m->msg_namelen = sizeof(w->raddr[i]);
            m->msg_iov = &w->riov[i];
            m->msg_iovlen = 1;
            m->msg_control = w->rctl[i];
            m->msg_controllen = UDP_CMSG_SPACE;
            m->msg_flags = 0;
        }
        int n = recvmmsg(fd, w->rmsg, WORKER_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                log_limit_pass(&rx_limit, mono_ms())) {
                log_msg(LOGL_WARN, "IO: recvmmsg: %s", strerror(errno));
            }
            return;
        }
        struct srv_sys sys;
        snapshot_read(w->snap, &sys);
        int64_t now = mono_ms();
        unsigned nout = 0;
        for (int i = 0; i < n; i++) {
            struct msghdr *m = &w->rmsg[i].msg_hdr;
            struct udp_rxinfo info;
            struct net_addr src;
            uint16_t port;
            udp_parse_cmsgs(m, &info);
            if (udp_sockaddr_to_net(&w->raddr[i], &src, &port) != 0) {
                continue;
            }
            size_t len = w->rmsg[i].msg_len;
            unsigned fl = ((m->msg_flags & MSG_TRUNC) != 0 || len > PKT_MAX_LEN
                               ? SERVER_RX_TRUNCATED : 0u) |
                          (info.to_multicast ? SERVER_RX_TO_GROUP : 0u);
            bool control;
            size_t out = server_handle(&w->ctx, &sys, w->rbuf[i], len, fl, &src, port,
                                       rx_time(w->clk, &info), now, w->sbuf[nout],
                                       PKT_HEADER_LEN, &control);
            if (control) {
                forward(w, fd, &w->raddr[i], m->msg_namelen, &info, w->rbuf[i], len);
            }
            if (out == 0) {
                continue;
            }
            struct msghdr *o = &w->smsg[nout].msg_hdr;
            o->msg_name = &w->raddr[i];
            o->msg_namelen = w->rmsg[i].msg_hdr.msg_namelen;
            w->siov[nout].iov_len = out;
            o->msg_iov = &w->siov[nout];
            o->msg_iovlen = 1;
            o->msg_controllen = udp_reply_cmsgs(&info, w->sctl[nout], UDP_CMSG_SPACE);
            o->msg_control = o->msg_controllen > 0 ? w->sctl[nout] : NULL;
            o->msg_flags = 0;
            nout++;
        }
        /* Transmit timestamps as late as possible: right before the send call. */
        for (unsigned i = 0; i < nout; i++) {
            stamp_xmt(w->clk, w->sbuf[i], &w->ctx);
        }
        unsigned sent = 0;
        while (sent < nout) {
            int r = sendmmsg(fd, w->smsg + sent, nout - sent, 0);
            if (r < 0) {
                if (errno == EINTR) {
                    continue;
                }
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
                    /* The socket is full: drop the rest of the batch rather than spin. */
                    for (unsigned k = sent; k < nout; k++) {
                        server_count(&w->ctx, CNT_SENDERR);
                    }
                    break;
                }
                /* sendmmsg fails only on its first message: skip that one reply (an
                 * address the kernel refuses) so it cannot cost the others theirs. */
                server_count(&w->ctx, CNT_SENDERR);
                sent++;
                continue;
            }
            sent += (unsigned)r;
        }
        if (n < WORKER_BATCH) {
            return;
        }
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct pollfd pfd[WORKER_MAX_FDS + 1];

    for (unsigned i = 0; i < w->nfds; i++) {
        pfd[i].fd = w->fds[i];
        pfd[i].events = POLLIN;
    }
    pfd[w->nfds].fd = w->stop_fd;
    pfd[w->nfds].events = POLLIN;
    for (;;) {
        int r = poll(pfd, w->nfds + 1, -1);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            log_msg(LOGL_ERR, "IO: worker %d: poll: %s", w->id, strerror(errno));
            break;
        }
        if (pfd[w->nfds].revents != 0) {
            break;
        }
        for (unsigned i = 0; i < w->nfds; i++) {
            if (pfd[i].revents != 0) {
                serve_batch(w, w->fds[i]);
            }
        }
    }
    return NULL;
}

int worker_start(struct worker *w)
{
    sigset_t all, old;
    sigfillset(&all);
    /* Signals go to the engine thread only. */
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int r = pthread_create(&w->thread, NULL, worker_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r == 0 ? 0 : -1;
}

void worker_set_stop_fd(struct worker *w, int stop_fd)
{
    w->stop_fd = stop_fd;
}

void worker_join(struct worker *w)
{
    pthread_join(w->thread, NULL);
}

void worker_free(struct worker *w)
{
    if (w != NULL) {
        server_ctx_free(&w->ctx);
        free(w);
    }
}

struct server_ctx *worker_ctx(struct worker *w)
{
    return &w->ctx;
}

void serve_plain(int fd, struct server_ctx *ctx, struct clk *clk, const struct snapshot *snap,
                 unsigned budget, ctl_sink_fn sink, void *sink_arg)
{
    uint8_t buf[RECV_BUF];
    uint8_t reply[PKT_HEADER_LEN];
    uint8_t ctl[UDP_CMSG_SPACE];
    uint8_t sctl[UDP_CMSG_SPACE];
    struct sockaddr_storage from;
    struct iovec iov;
    struct msghdr m;

    for (unsigned k = 0; k < budget; k++) {
        memset(&m, 0, sizeof(m));
        iov.iov_base = buf;
        iov.iov_len = sizeof(buf);
        m.msg_name = &from;
        m.msg_namelen = sizeof(from);
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = ctl;
        m.msg_controllen = sizeof(ctl);
        ssize_t n = recvmsg(fd, &m, 0);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                log_limit_pass(&rx_limit, mono_ms())) {
                log_msg(LOGL_WARN, "IO: recvmsg: %s", strerror(errno));
            }
            return;
        }
        struct udp_rxinfo info;
        struct net_addr src;
        uint16_t port;
        struct srv_sys sys;
        udp_parse_cmsgs(&m, &info);
        if (udp_sockaddr_to_net(&from, &src, &port) != 0) {
            continue;
        }
        snapshot_read(snap, &sys);
        unsigned fl = ((m.msg_flags & MSG_TRUNC) != 0 || (size_t)n > PKT_MAX_LEN
                           ? SERVER_RX_TRUNCATED : 0u) |
                      (info.to_multicast ? SERVER_RX_TO_GROUP : 0u);
        bool control;
        size_t out = server_handle(ctx, &sys, buf, (size_t)n, fl, &src, port,
                                   rx_time(clk, &info), mono_ms(), reply, sizeof(reply),
                                   sink != NULL ? &control : NULL);
        if (sink != NULL && control) {
            struct ctl_fwd f;
            if (make_fwd(&f, fd, &from, m.msg_namelen, &info, buf, (size_t)n)) {
                sink(sink_arg, &f);
            }
        }
        if (out == 0) {
            continue;
        }
        struct msghdr o;
        memset(&o, 0, sizeof(o));
        iov.iov_base = reply;
        iov.iov_len = out;
        o.msg_name = &from;
        o.msg_namelen = m.msg_namelen;
        o.msg_iov = &iov;
        o.msg_iovlen = 1;
        o.msg_controllen = udp_reply_cmsgs(&info, sctl, sizeof(sctl));
        o.msg_control = o.msg_controllen > 0 ? sctl : NULL;
        stamp_xmt(clk, reply, ctx);
        if (sendmsg(fd, &o, 0) < 0) {
            server_count(ctx, CNT_SENDERR);
        }
    }
}
