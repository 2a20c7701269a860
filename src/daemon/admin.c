/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * admin: the Unix stream socket, its connections and the line framing. Linux (POSIX
 * sockets, SO_PEERCRED).
 */
#include "admin.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "io/log.h"

/* A connection must send its line within this. */
#define ADMIN_DEADLINE_MS 5000

struct admin_conn {
    int fd;
    int64_t deadline;
    size_t len;
    char line[ADMIN_LINE_MAX];
};

struct admin {
    int fd;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    admin_exec_fn exec;
    void *arg;
    struct admin_conn conn[ADMIN_MAX_CONN];
    char reply[ADMIN_REPLY_MAX];
};

static int nonblock_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        return -1;
    }
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* The directory of path, created 0755 if missing (one level: /run/stratum). */
static int make_dir(const char *path, char *err, size_t errlen)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir) {
        return 0;
    }
    *slash = '\0';
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "control socket %s: %s is not a directory", path, dir);
            return -1;
        }
        return 0;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "control socket %s: cannot create %s: %s", path, dir,
                 strerror(errno));
        return -1;
    }
    return 0;
}

struct admin *admin_open(const char *path, long gid, admin_exec_fn exec, void *arg, char *err,
                         size_t errlen)
{
    struct sockaddr_un sa;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "control socket %s: path too long (at most %zu characters)", path,
                 sizeof(sa.sun_path) - 1);
        return NULL;
    }
    if (make_dir(path, err, errlen) != 0) {
        return NULL;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);

    /* Something there already: a live daemon's socket is refused, a stale socket is
     * removed, anything else is left alone and refused. */
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "control socket %s: exists and is not a socket", path);
            return NULL;
        }
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            close(probe);
            snprintf(err, errlen, "control socket %s: another daemon answers on it", path);
            return NULL;
        }
        if (probe >= 0) {
            close(probe);
        }
        if (unlink(path) != 0) {
            snprintf(err, errlen, "control socket %s: cannot remove the stale socket: %s", path,
                     strerror(errno));
            return NULL;
        }
    }

    struct admin *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->exec = exec;
    a->arg = arg;
    snprintf(a->path, sizeof(a->path), "%s", path);
    for (unsigned i = 0; i < ADMIN_MAX_CONN; i++) {
        a->conn[i].fd = -1;
    }
    a->fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (a->fd < 0 || nonblock_cloexec(a->fd) != 0) {
        snprintf(err, errlen, "control socket: %s", strerror(errno));
        goto fail;
    }
    /* Created with no access for anyone, then opened up to what was asked: never a moment
     * in which others could connect. */
    mode_t old = umask(0177);
    int r = bind(a->fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (r != 0) {
        snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
        goto fail;
    }
    if (gid >= 0) {
        if (chown(path, (uid_t)-1, (gid_t)gid) != 0 || chmod(path, 0660) != 0) {
            snprintf(err, errlen, "control socket %s: group %ld: %s", path, gid,
                     strerror(errno));
            unlink(path);
            goto fail;
        }
    }
    if (listen(a->fd, ADMIN_MAX_CONN) != 0) {
        snprintf(err, errlen, "control socket %s: listen: %s", path, strerror(errno));
        unlink(path);
        goto fail;
    }
    return a;
fail:
    if (a->fd >= 0) {
        close(a->fd);
    }
    free(a);
    return NULL;
}

void admin_close(struct admin *a)
{
    if (a == NULL) {
        return;
    }
    for (unsigned i = 0; i < ADMIN_MAX_CONN; i++) {
        if (a->conn[i].fd >= 0) {
            close(a->conn[i].fd);
        }
    }
    if (a->fd >= 0) {
        close(a->fd);
        unlink(a->path);
    }
    free(a);
}

unsigned admin_pollfds(const struct admin *a, int *fds, short *events)
{
    unsigned n = 0;
    bool room = false;
    for (unsigned i = 0; i < ADMIN_MAX_CONN; i++) {
        if (a->conn[i].fd >= 0) {
            fds[n] = a->conn[i].fd;
            events[n++] = POLLIN;
        } else {
            room = true;
        }
    }
    /* With every slot taken, new connections wait in the listen queue. */
    if (room) {
        fds[n] = a->fd;
        events[n++] = POLLIN;
    }
    return n;
}

int64_t admin_deadline(const struct admin *a)
{
    int64_t d = -1;
    for (unsigned i = 0; i < ADMIN_MAX_CONN; i++) {
        if (a->conn[i].fd >= 0 && (d < 0 || a->conn[i].deadline < d)) {
            d = a->conn[i].deadline;
        }
    }
    return d;
}

static void drop(struct admin_conn *c)
{
    close(c->fd);
    c->fd = -1;
    c->len = 0;
}

/* Writes all of buf, waiting at most a little for a slow reader (the reply is small and
 * the client is waiting for it). */
static void write_all(int fd, const char *buf, size_t len)
{
    for (int tries = 0; len > 0 && tries < 100; tries++) {
        ssize_t w = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            buf += w;
            len -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            return;
        }
        usleep(1000);
    }
}

static void answer(struct admin *a, struct admin_conn *c)
{
    struct ucred cred = {.pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1};
    socklen_t cl = sizeof(cred);
    if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0) {
        cred.uid = (uid_t)-1;
    }
    c->line[c->len] = '\0';
    a->reply[0] = '\0';
    a->exec(a->arg, c->line, cred.uid, cred.pid, a->reply, sizeof(a->reply));
    size_t n = strlen(a->reply);
    if (n == 0 || a->reply[n - 1] != '\n') {
        if (n + 1 < sizeof(a->reply)) {
            a->reply[n++] = '\n';
            a->reply[n] = '\0';
        }
    }
    write_all(c->fd, a->reply, n);
    drop(c);
}

static void read_conn(struct admin *a, struct admin_conn *c)
{
    for (;;) {
        ssize_t r = recv(c->fd, c->line + c->len, sizeof(c->line) - 1 - c->len, MSG_DONTWAIT);
        if (r == 0) {
            /* The client ended its side: what came is the request (no newline needed). */
            if (c->len > 0) {
                answer(a, c);
            } else {
                drop(c);
            }
            return;
        }
        if (r < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                drop(c);
            }
            return;
        }
        char *nl = memchr(c->line + c->len, '\n', (size_t)r);
        c->len += (size_t)r;
        if (nl != NULL) {
            c->len = (size_t)(nl - c->line);
            answer(a, c);
            return;
        }
        if (c->len >= sizeof(c->line) - 1) {
            const char *msg = "error request line too long\n";
            write_all(c->fd, msg, strlen(msg));
            drop(c);
            return;
        }
    }
}

void admin_service(struct admin *a, int64_t now_ms)
{
    for (unsigned i = 0; i < ADMIN_MAX_CONN; i++) {
        struct admin_conn *c = &a->conn[i];
        if (c->fd >= 0) {
            read_conn(a, c);
        }
        if (c->fd >= 0 && now_ms >= c->deadline) {
            drop(c);
        }
    }
    for (unsigned i = 0; i < ADMIN_MAX_CONN; i++) {
        struct admin_conn *c = &a->conn[i];
        if (c->fd >= 0) {
            continue;
        }
        int fd = accept(a->fd, NULL, NULL);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED) {
                log_msg(LOGL_WARN, "IO: control socket: accept: %s", strerror(errno));
            }
            break;
        }
        if (nonblock_cloexec(fd) != 0) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->len = 0;
        c->deadline = now_ms + ADMIN_DEADLINE_MS;
        read_conn(a, c);
    }
}
