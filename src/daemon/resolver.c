/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * resolver: one thread running getaddrinfo for queued requests; results go back as
 * fixed-size records over a pipe. A record is larger than PIPE_BUF, so the writer (only
 * this thread) writes each one whole with a blocking write and the engine reads whole
 * records.
 */
#include "resolver.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RESOLVER_QUEUE 32

struct request {
    int tag;
    char host[256];
    uint16_t port;
};

struct resolver {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct request queue[RESOLVER_QUEUE];
    unsigned head, count;
    int stop;
    int pipe_rd, pipe_wr;
};

static void lookup(const struct request *q, struct resolver_result *res)
{
    char port[8];
    struct addrinfo hints, *ai = NULL;
    memset(res, 0, sizeof(*res));
    res->tag = q->tag;
    snprintf(port, sizeof(port), "%u", (unsigned)q->port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_protocol = IPPROTO_UDP;
    hints.ai_flags = AI_NUMERICSERV;
    int g = getaddrinfo(q->host, port, &hints, &ai);
    if (g != 0 || ai == NULL) {
        res->error = g != 0 ? g : EAI_NONAME;
        snprintf(res->message, sizeof(res->message), "%s", gai_strerror(res->error));
        return;
    }
    for (struct addrinfo *a = ai; a != NULL && res->n < RESOLVER_MAX_ADDRS; a = a->ai_next) {
        if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
            a->ai_addrlen > sizeof(res->addr[0])) {
            continue;
        }
        memcpy(&res->addr[res->n], a->ai_addr, a->ai_addrlen);
        res->len[res->n++] = (socklen_t)a->ai_addrlen;
    }
    freeaddrinfo(ai);
}

static void *resolver_main(void *arg)
{
    struct resolver *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->lock);
        while (r->count == 0 && !r->stop) {
            pthread_cond_wait(&r->cond, &r->lock);
        }
        if (r->stop) {
            pthread_mutex_unlock(&r->lock);
            return NULL;
        }
        struct request q = r->queue[r->head];
        r->head = (r->head + 1) % RESOLVER_QUEUE;
        r->count--;
        pthread_mutex_unlock(&r->lock);

        struct resolver_result *res = malloc(sizeof(*res));
        if (res == NULL) {
            continue;
        }
        lookup(&q, res);
        /* The record goes whole through the pipe: the write end blocks, the engine reads
         * whole records. */
        const char *p = (const char *)res;
        size_t left = sizeof(*res);
        while (left > 0) {
            ssize_t w = write(r->pipe_wr, p, left);
            if (w < 0) {
                if (errno == EINTR) {
                    continue;
                }
                break;
            }
            p += w;
            left -= (size_t)w;
        }
        free(res);
    }
}

struct resolver *resolver_start(void)
{
    struct resolver *r = calloc(1, sizeof(*r));
    int fds[2];
    if (r == NULL) {
        return NULL;
    }
    if (pipe(fds) != 0) {
        free(r);
        return NULL;
    }
    r->pipe_rd = fds[0];
    r->pipe_wr = fds[1];
    fcntl(r->pipe_rd, F_SETFD, FD_CLOEXEC);
    fcntl(r->pipe_wr, F_SETFD, FD_CLOEXEC);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&r->thread, NULL, resolver_main, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        close(r->pipe_rd);
        close(r->pipe_wr);
        free(r);
        return NULL;
    }
    return r;
}

int resolver_fd(const struct resolver *r)
{
    return r->pipe_rd;
}

int resolver_request(struct resolver *r, int tag, const char *host, uint16_t port)
{
    pthread_mutex_lock(&r->lock);
    if (r->count == RESOLVER_QUEUE) {
        pthread_mutex_unlock(&r->lock);
        return -1;
    }
    struct request *q = &r->queue[(r->head + r->count) % RESOLVER_QUEUE];
    q->tag = tag;
    snprintf(q->host, sizeof(q->host), "%s", host);
    q->port = port;
    r->count++;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
    return 0;
}

int resolver_take(struct resolver *r, struct resolver_result *out)
{
    char *p = (char *)out;
    size_t got = 0;
    /* Only called when poll said readable: the first read cannot block; the rest of the
     * record follows at once from the writer. */
    while (got < sizeof(*out)) {
        ssize_t n = read(r->pipe_rd, p + got, sizeof(*out) - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return 0;
        }
        got += (size_t)n;
    }
    return 1;
}

void resolver_stop(struct resolver *r)
{
    if (r == NULL) {
        return;
    }
    pthread_mutex_lock(&r->lock);
    r->stop = 1;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
    /* A lookup in flight finishes first; its result is written to a pipe nobody reads:
     * close the read end first so the write fails instead of blocking. */
    close(r->pipe_rd);
    pthread_join(r->thread, NULL);
    close(r->pipe_wr);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    free(r);
}
