/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * http: libmicrohttpd with one internal polling thread on a listening socket we bind
 * ourselves (MHD_OPTION_LISTEN_SOCKET), so that binding happens while the daemon still
 * has its privileges and the thread is created after daemonising. Each request takes
 * a copy of the published status and renders it into memory; nothing else is shared.
 */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <dlfcn.h>
#include <microhttpd.h>

#include "daemon/metrics.h"
#include "io/log.h"

/* libmicrohttpd is loaded only when an `http` line asks for it: linked in, it brings
 * GnuTLS and five more libraries into every daemon (about 2.4 MB of idle RSS, more than
 * the rest of stratumd together), for a listener that is off by default. */
#ifndef HTTP_MHD_LIBRARY
#define HTTP_MHD_LIBRARY "libmicrohttpd.so.12"
#endif
static struct {
    bool loaded;
    struct MHD_Daemon *(*start_daemon)(unsigned int, uint16_t, MHD_AcceptPolicyCallback, void *,
                                       MHD_AccessHandlerCallback, void *, ...);
    void (*stop_daemon)(struct MHD_Daemon *);
    struct MHD_Response *(*create_response_from_buffer)(size_t, void *,
                                                        enum MHD_ResponseMemoryMode);
    enum MHD_Result (*add_response_header)(struct MHD_Response *, const char *, const char *);
    enum MHD_Result (*queue_response)(struct MHD_Connection *, unsigned int,
                                      struct MHD_Response *);
    void (*destroy_response)(struct MHD_Response *);
} mhd;

static int mhd_load(char *err, size_t errlen)
{
    if (mhd.loaded) {
        return 0;
    }
    void *h = dlopen(HTTP_MHD_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        snprintf(err, errlen, "http: cannot load %s (Debian package libmicrohttpd12): %s",
                 HTTP_MHD_LIBRARY, dlerror());
        return -1;
    }
    /* POSIX: a function pointer is converted from dlsym's void * through memcpy. */
#define SYM(field, name)                                                                           \
    do {                                                                                           \
        void *p = dlsym(h, name);                                                                  \
        if (p == NULL) {                                                                           \
            snprintf(err, errlen, "http: %s has no %s", HTTP_MHD_LIBRARY, name);                 \
            dlclose(h);                                                                            \
            return -1;                                                                             \
        }                                                                                          \
        memcpy(&mhd.field, &p, sizeof(p));                                                         \
    } while (0)
    SYM(start_daemon, "MHD_start_daemon");
    SYM(stop_daemon, "MHD_stop_daemon");
    SYM(create_response_from_buffer, "MHD_create_response_from_buffer");
    SYM(add_response_header, "MHD_add_response_header");
    SYM(queue_response, "MHD_queue_response");
    SYM(destroy_response, "MHD_destroy_response");
#undef SYM
    mhd.loaded = true; /* never unloaded: the listener may come back after a restart */
    return 0;
}

struct http {
    int fd; /* the listening socket until MHD owns it; -1 then */
    struct MHD_Daemon *mhd;
    struct status_box *box;
    char desc[80];    /* "ADDR port N" */
    struct status st; /* scratch: requests are handled by one thread */
    pthread_mutex_t log_mu;
    struct log_limit log_limit; /* libmicrohttpd's messages, some of which a client causes */
};

static const char *describe(const struct net_addr *addr, uint16_t port, char *out, size_t size)
{
    char a[48];
    net_addr_format(addr, a, sizeof(a));
    snprintf(out, size, "%s port %u", a, (unsigned)port);
    return out;
}

struct http *http_open(const struct net_addr *addr, uint16_t port, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    int one = 1;
    char desc[80];

    describe(addr, port, desc, sizeof(desc));
    if (mhd_load(err, errlen) != 0) {
        return NULL;
    }
    memset(&ss, 0, sizeof(ss));
    if (addr->family == NET_IPV4) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        memcpy(&sin->sin_addr, addr->bytes, 4);
        sslen = sizeof(*sin);
    } else if (addr->family == NET_IPV6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        memcpy(&sin6->sin6_addr, addr->bytes, 16);
        sslen = sizeof(*sin6);
    } else {
        snprintf(err, errlen, "http %s: unknown address family", desc);
        return NULL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (fd < 0) {
        snprintf(err, errlen, "http %s: socket: %s", desc, strerror(errno));
        return NULL;
    }
    /* Non-blocking by fcntl (contract item 5), close-on-exec; SO_REUSEADDR only lets a
     * restart bind while old connections are in TIME_WAIT: a listener still bound to
     * the address makes bind fail. */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (addr->family == NET_IPV6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)) {
        snprintf(err, errlen, "http %s: socket options: %s", desc, strerror(errno));
        close(fd);
        return NULL;
    }
    if (bind(fd, (const struct sockaddr *)&ss, sslen) != 0) {
        snprintf(err, errlen, "http %s: cannot bind: %s", desc, strerror(errno));
        close(fd);
        return NULL;
    }
    if (listen(fd, 32) != 0) {
        snprintf(err, errlen, "http %s: listen: %s", desc, strerror(errno));
        close(fd);
        return NULL;
    }
    struct http *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        snprintf(err, errlen, "http %s: out of memory", desc);
        close(fd);
        return NULL;
    }
    h->fd = fd;
    snprintf(h->desc, sizeof(h->desc), "%s", desc);
    pthread_mutex_init(&h->log_mu, NULL);
    h->log_limit.burst = 5;
    h->log_limit.tokens = 5;
    h->log_limit.interval_ms = 60000;
    return h;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct http *h = cls;
    char msg[256];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\r\n")] = '\0';
    pthread_mutex_lock(&h->log_mu);
    bool pass = log_limit_pass(&h->log_limit, mono_ms());
    pthread_mutex_unlock(&h->log_mu);
    if (pass) {
        log_msg(LOGL_WARN, "IO: http: %s", msg);
    }
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type, char *body,
                             size_t len, bool must_free)
{
    struct MHD_Response *r = mhd.create_response_from_buffer(
        len, body, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        if (must_free) {
            free(body);
        }
        return MHD_NO;
    }
    (void)mhd.add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    (void)mhd.add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED) {
        (void)mhd.add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    }
    enum MHD_Result ret = mhd.queue_response(c, code, r);
    mhd.destroy_response(r);
    return ret;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned code, const char *msg)
{
    return reply(c, code, "text/plain; charset=utf-8", (char *)msg, strlen(msg), false);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    struct http *h = cls;
    (void)version;
    (void)upload_data;

    /* Other methods are answered on the first call, before any body is read (the
     * connection is then closed). */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: GET or HEAD only\n");
    }
    /* GET and HEAD: the first call only sees the headers; answering then would make
     * libmicrohttpd close the connection, so the answer waits for the second call (and
     * a body, which these methods should not have, is read and ignored). */
    if (*req_cls == NULL) {
        *req_cls = h;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    bool prom = strcmp(url, "/metrics") == 0;
    if (!prom && strcmp(url, "/status.json") != 0) {
        return text(c, MHD_HTTP_NOT_FOUND, "not found: /metrics or /status.json\n");
    }
    if (!status_box_get(h->box, &h->st)) {
        return text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "no status published yet\n");
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) {
        return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    if (prom) {
        metrics_write_prometheus(f, &h->st);
    } else {
        metrics_write_json(f, &h->st, true);
    }
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad) {
        free(buf);
        return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    return reply(c, MHD_HTTP_OK, prom ? METRICS_PROM_CONTENT_TYPE : METRICS_JSON_CONTENT_TYPE, buf,
                 len, true);
}

int http_start(struct http *h, struct status_box *box)
{
    h->box = box;
    /* One thread polls the listener and every connection; the logger comes first, so
     * that start-up messages go to our log. */
    /* clang-format off */
    h->mhd = mhd.start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        on_request, h,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)h->fd,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)HTTP_MAX_PER_ADDRESS,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
        MHD_OPTION_END);
    /* clang-format on */
    if (h->mhd == NULL) {
        log_msg(LOGL_ERR, "IO: http %s: cannot start the listener (libmicrohttpd)", h->desc);
        return -1;
    }
    h->fd = -1; /* MHD_stop_daemon closes it */
    log_msg(LOGL_NOTICE, "IO: http listening on %s", h->desc);
    return 0;
}

void http_free(struct http *h)
{
    if (h == NULL) {
        return;
    }
    if (h->mhd != NULL) {
        mhd.stop_daemon(h->mhd);
    }
    if (h->fd >= 0) {
        close(h->fd);
    }
    pthread_mutex_destroy(&h->log_mu);
    free(h);
}
