/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * udp: server sockets and their control messages (Linux).
 */
#include "udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <linux/filter.h>
#include <linux/net_tstamp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51
#endif

/* Receive buffer: bursts of a paced 200k/s load must not overflow it (chronyd's default of
 * ~208 KiB loses packets at 100k/s), yet a queue much deeper than the cache only adds
 * latency and cache misses under overload: 2 MiB measured best here (bench/server.sh,
 * 1/2/4/8 MiB compared). */
#ifndef UDP_RCVBUF
#define UDP_RCVBUF (2 * 1024 * 1024)
#endif
#ifndef UDP_SNDBUF
#define UDP_SNDBUF (4 * 1024 * 1024)
#endif

static void set_buf(int fd, int force_opt, int opt, int size)
{
    if (setsockopt(fd, SOL_SOCKET, force_opt, &size, sizeof(size)) != 0) {
        (void)setsockopt(fd, SOL_SOCKET, opt, &size, sizeof(size));
    }
}

int udp_open_server(const struct net_addr *addr, int family, uint16_t port, unsigned flags,
                    char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    int one = 1;
    bool wildcard = addr == NULL || addr->family == NET_NONE;
    int fam = wildcard ? family : addr->family;
    char desc[80];

    udp_describe(addr, fam, port, desc, sizeof(desc));
    memset(&ss, 0, sizeof(ss));
    if (fam == NET_IPV4) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        if (!wildcard) {
            memcpy(&sin->sin_addr, addr->bytes, 4);
        }
        sslen = sizeof(*sin);
    } else if (fam == NET_IPV6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        if (!wildcard) {
            memcpy(&sin6->sin6_addr, addr->bytes, 16);
        }
        sslen = sizeof(*sin6);
    } else {
        snprintf(err, errlen, "%s: unknown address family", desc);
        return -1;
    }

    int fd = socket(fam == NET_IPV4 ? AF_INET : AF_INET6, SOCK_DGRAM, 0);
    if (fd < 0) {
        snprintf(err, errlen, "%s: socket: %s", desc, strerror(errno));
        return -1;
    }
    /* Contract item 5: non-blocking set with fcntl, so libc interposers see it. */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        snprintf(err, errlen, "%s: fcntl: %s", desc, strerror(errno));
        close(fd);
        return -1;
    }
    if (fam == NET_IPV6) {
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    if ((flags & UDP_REUSEPORT) != 0 &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
        snprintf(err, errlen, "%s: SO_REUSEPORT: %s", desc, strerror(errno));
        close(fd);
        return -1;
    }
    int ts = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
    if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &ts, sizeof(ts)) != 0) {
        /* Not fatal: the receive time is then read in user space. */
        (void)ts;
    }
    if (wildcard) {
        if (fam == NET_IPV4) {
            (void)setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
        } else {
            (void)setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
        }
    }
    set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, UDP_RCVBUF);
    set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, UDP_SNDBUF);
    if (bind(fd, (struct sockaddr *)&ss, sslen) != 0) {
        snprintf(err, errlen, "%s: bind: %s", desc, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

void udp_parse_cmsgs(const struct msghdr *m, struct udp_rxinfo *out)
{
    memset(out, 0, sizeof(*out));
    for (struct cmsghdr *c = CMSG_FIRSTHDR((struct msghdr *)m); c != NULL;
         c = CMSG_NXTHDR((struct msghdr *)m, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPING &&
            c->cmsg_len >= CMSG_LEN(sizeof(struct scm_timestamping))) {
            struct scm_timestamping sts;
            memcpy(&sts, CMSG_DATA(c), sizeof(sts));
            if (sts.ts[0].tv_sec != 0 || sts.ts[0].tv_nsec != 0) {
                out->have_ts = true;
                out->ts = sts.ts[0];
            }
        } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
                   c->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof(pi));
            out->have_dst = true;
            out->family = NET_IPV4;
            /* ipi_spec_dst is the local unicast address the reply should come from;
             * ipi_addr is the header's destination, which may be a broadcast address. */
            out->dst4 = pi.ipi_spec_dst;
            out->to_multicast = pi.ipi_addr.s_addr != pi.ipi_spec_dst.s_addr;
            out->ifindex = pi.ipi_ifindex;
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
                   c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
            struct in6_pktinfo pi6;
            memcpy(&pi6, CMSG_DATA(c), sizeof(pi6));
            out->have_dst = true;
            out->family = NET_IPV6;
            out->dst6 = pi6.ipi6_addr;
            out->to_multicast = IN6_IS_ADDR_MULTICAST(&pi6.ipi6_addr);
            out->ifindex = (int)pi6.ipi6_ifindex;
        }
    }
}

size_t udp_reply_cmsgs(const struct udp_rxinfo *rx, void *buf, size_t cap)
{
    if (!rx->have_dst) {
        return 0;
    }
    memset(buf, 0, cap);
    struct cmsghdr *c = (struct cmsghdr *)buf;
    if (rx->family == NET_IPV4) {
        if (cap < CMSG_SPACE(sizeof(struct in_pktinfo))) {
            return 0;
        }
        struct in_pktinfo pi;
        memset(&pi, 0, sizeof(pi));
        pi.ipi_spec_dst = rx->dst4;
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(pi));
        memcpy(CMSG_DATA(c), &pi, sizeof(pi));
        return CMSG_SPACE(sizeof(pi));
    }
    if (cap < CMSG_SPACE(sizeof(struct in6_pktinfo))) {
        return 0;
    }
    struct in6_pktinfo pi6;
    memset(&pi6, 0, sizeof(pi6));
    pi6.ipi6_addr = rx->dst6;
    pi6.ipi6_ifindex = (unsigned)rx->ifindex;
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(pi6));
    memcpy(CMSG_DATA(c), &pi6, sizeof(pi6));
    return CMSG_SPACE(sizeof(pi6));
}

int udp_sockaddr_to_net(const struct sockaddr_storage *ss, struct net_addr *out,
                        uint16_t *port)
{
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    memset(out, 0, sizeof(*out));
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        out->family = NET_IPV4;
        memcpy(out->bytes, &sin->sin_addr, 4);
        *port = ntohs(sin->sin_port);
        return 0;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        if (memcmp(&sin6->sin6_addr, mapped, 12) == 0) {
            out->family = NET_IPV4;
            memcpy(out->bytes, (const uint8_t *)&sin6->sin6_addr + 12, 4);
        } else {
            out->family = NET_IPV6;
            memcpy(out->bytes, &sin6->sin6_addr, 16);
        }
        *port = ntohs(sin6->sin6_port);
        return 0;
    }
    return -1;
}

int udp_steer_by_source(int fd, int family, unsigned n)
{
    /* Classic BPF run by the kernel's reuseport selection; loads are relative to the
     * network header through SKF_NET_OFF. The program returns the socket index. */
    struct sock_filter v4[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 12), /* saddr */
        BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, n),
        BPF_STMT(BPF_RET | BPF_A, 0),
    };
    struct sock_filter v6[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 8),  /* saddr[0..3] */
        BPF_STMT(BPF_MISC | BPF_TAX, 0),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 12), /* saddr[4..7] */
        BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
        BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, n),
        BPF_STMT(BPF_RET | BPF_A, 0),
    };
    struct sock_fprog prog;
    if (family == NET_IPV4) {
        prog.len = sizeof(v4) / sizeof(v4[0]);
        prog.filter = v4;
    } else {
        prog.len = sizeof(v6) / sizeof(v6[0]);
        prog.filter = v6;
    }
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog));
}

bool udp_steer_available(void)
{
    struct net_addr lo;
    char err[160];
    bool ok = false;

    memset(&lo, 0, sizeof(lo));
    lo.family = NET_IPV4;
    lo.bytes[0] = 127;
    lo.bytes[3] = 1;
    int a = udp_open_server(&lo, NET_IPV4, 0, UDP_REUSEPORT, err, sizeof(err));
    if (a < 0) {
        return false;
    }
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    if (getsockname(a, (struct sockaddr *)&sin, &len) == 0) {
        int b = udp_open_server(&lo, NET_IPV4, ntohs(sin.sin_port), UDP_REUSEPORT, err,
                                sizeof(err));
        if (b >= 0) {
            ok = udp_steer_by_source(a, NET_IPV4, 2) == 0;
            close(b);
        }
    }
    close(a);
    return ok;
}

const char *udp_describe(const struct net_addr *addr, int family, uint16_t port, char *out,
                         size_t size)
{
    char a[48];
    if (addr == NULL || addr->family == NET_NONE) {
        snprintf(a, sizeof(a), "%s", family == NET_IPV6 ? "::" : "0.0.0.0");
    } else {
        net_addr_format(addr, a, sizeof(a));
    }
    snprintf(out, size, "%s port %u", a, (unsigned)port);
    return out;
}
