/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * udp: server sockets (non-blocking via fcntl, kernel receive timestamps by
 * SO_TIMESTAMPING, destination address by IP_PKTINFO / IPV6_RECVPKTINFO on wildcard
 * sockets so replies leave from the address the request came to), the control messages
 * of a received datagram and of its reply, and address conversion to the core's
 * struct net_addr. Linux.
 */
#ifndef STRATUM_UDP_H
#define STRATUM_UDP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "core/netaddr.h"

enum udp_flags {
    UDP_REUSEPORT = 1u << 0,    /* join an SO_REUSEPORT group (worker threads) */
};

/* Opens and binds a UDP server socket. addr->family NET_NONE means the wildcard address
 * of `family` (NET_IPV4 or NET_IPV6). Returns the fd, or -1 with a message in err. */
int udp_open_server(const struct net_addr *addr, int family, uint16_t port, unsigned flags,
                    char *err, size_t errlen);

/* Control buffer large enough for the cmsgs we ask for. */
#define UDP_CMSG_SPACE 128

struct udp_rxinfo {
    bool have_ts;
    struct timespec ts;         /* CLOCK_REALTIME, from the kernel */
    bool have_dst;
    int family;                 /* of the destination below */
    struct in_addr dst4;
    struct in6_addr dst6;
    int ifindex;
    bool to_multicast;          /* sent to a broadcast or multicast address */
};

/* Reads the timestamp and destination out of a received message's control data. */
void udp_parse_cmsgs(const struct msghdr *m, struct udp_rxinfo *out);

/* Writes control data into buf (UDP_CMSG_SPACE) so that a reply leaves from the address
 * the request arrived on; returns its length (0 when not needed). */
size_t udp_reply_cmsgs(const struct udp_rxinfo *rx, void *buf, size_t cap);

/* sockaddr to net_addr and port; IPv4-mapped IPv6 becomes IPv4. Returns 0 or -1 for
 * other families. */
int udp_sockaddr_to_net(const struct sockaddr_storage *ss, struct net_addr *out,
                        uint16_t *port);

/* Steers datagrams of a SO_REUSEPORT group of n sockets by source address (IPv4, or the
 * IPv6 /64), so that one source always reaches the same worker and per-source state
 * cannot be dodged by changing ports. Returns 0 or -1 (errno). */
int udp_steer_by_source(int fd, int family, unsigned n);

/* True when this kernel accepts udp_steer_by_source (tried on a throwaway loopback
 * socket group). */
bool udp_steer_available(void);

/* "127.0.0.1 port 123" style text for logs. */
const char *udp_describe(const struct net_addr *addr, int family, uint16_t port, char *out,
                         size_t size);

#endif
