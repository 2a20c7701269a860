/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * stats: ntpd's statistics files. A line is formatted into a buffer and appended with
 * one write(), so a reader never sees half a line. The file of a generation is chosen
 * by name: each line computes the name its time calls for and reopens when it differs,
 * which covers midnight, a new week or month, and a step of the clock in either
 * direction alike.
 */
#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECS_PER_DAY INT64_C(86400)
/* MJD of 1970-01-01, the Unix epoch. */
#define MJD_UNIX_EPOCH INT64_C(40587)

static const char *const kind_names[STATS_KINDS] = {
    [STATS_LOOP] = "loopstats",
    [STATS_PEER] = "peerstats",
    [STATS_SYS] = "sysstats",
};

/* Every statistic ntpd 4.2.8 or NTPsec can write. */
static const char *const known_names[] = {
    "loopstats", "peerstats", "sysstats", "clockstats", "rawstats", "protostats",
    "cryptostats", "timingstats", "usestats", NULL,
};

static const char *const gen_names[] = {
    [STATS_GEN_NONE] = "none", [STATS_GEN_PID] = "pid",     [STATS_GEN_DAY] = "day",
    [STATS_GEN_WEEK] = "week", [STATS_GEN_MONTH] = "month", [STATS_GEN_YEAR] = "year",
    [STATS_GEN_AGE] = "age",
};

void stats_config_default(struct stats_config *c)
{
    memset(c, 0, sizeof(*c));
    c->on = true;
    for (unsigned k = 0; k < STATS_KINDS; k++) {
        c->gen[k].type = STATS_GEN_DAY;
        c->gen[k].link = true;
        c->gen[k].enabled = false;
    }
}

const char *stats_kind_name(enum stats_kind k)
{
    return (unsigned)k < STATS_KINDS ? kind_names[k] : "?";
}

int stats_kind_parse(const char *name, enum stats_kind *out)
{
    for (unsigned k = 0; k < STATS_KINDS; k++) {
        if (strcmp(name, kind_names[k]) == 0) {
            *out = (enum stats_kind)k;
            return 0;
        }
    }
    return -1;
}

bool stats_name_known(const char *name)
{
    for (unsigned i = 0; known_names[i] != NULL; i++) {
        if (strcmp(name, known_names[i]) == 0) {
            return true;
        }
    }
    return false;
}

int stats_gen_parse(const char *word, enum stats_gen *out)
{
    for (unsigned g = 0; g < sizeof(gen_names) / sizeof(gen_names[0]); g++) {
        if (strcmp(word, gen_names[g]) == 0) {
            *out = (enum stats_gen)g;
            return 0;
        }
    }
    return -1;
}

const char *stats_gen_name(enum stats_gen g)
{
    return (unsigned)g < sizeof(gen_names) / sizeof(gen_names[0]) ? gen_names[g] : "?";
}

/* ---- line formats --------------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b != 0 && (a < 0) != (b < 0)) {
        q--;
    }
    return q;
}

void stats_time_from_timespec(const struct timespec *t, struct stats_time *out)
{
    int64_t sec = (int64_t)t->tv_sec;
    int64_t ns = (int64_t)t->tv_nsec;
    sec += floor_div(ns, 1000000000);
    ns -= floor_div(ns, 1000000000) * 1000000000;
    int64_t day = floor_div(sec, SECS_PER_DAY);
    int64_t sod = sec - day * SECS_PER_DAY;
    out->mjd = day + MJD_UNIX_EPOCH;
    /* Truncated, not rounded, so the last millisecond of a day never reads 86400.000. */
    out->day_ms = (uint32_t)(sod * 1000 + ns / 1000000);
}

void stats_time_from_ntp(ntp_ts_t t, int64_t pivot_unix_sec, struct stats_time *out)
{
    struct timespec ts;
    ntp_ts_to_timespec(t, pivot_unix_sec, &ts);
    stats_time_from_timespec(&ts, out);
}

static size_t done(int n, size_t cap)
{
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

size_t stats_format_loop(char *buf, size_t cap, const struct stats_time *t,
                         const struct stats_loop *v)
{
    int n = snprintf(buf, cap, "%" PRId64 " %" PRIu32 ".%03" PRIu32 " %.9f %.3f %.9f %.6f %d\n",
                     t->mjd, t->day_ms / 1000, t->day_ms % 1000, v->offset, v->freq_ppm,
                     v->jitter, v->wander_ppm, v->tc);
    return done(n, cap);
}

size_t stats_format_peer(char *buf, size_t cap, const struct stats_time *t,
                         const struct stats_peer *v)
{
    int n = snprintf(buf, cap, "%" PRId64 " %" PRIu32 ".%03" PRIu32 " %s %x %.9f %.9f %.9f %.9f\n",
                     t->mjd, t->day_ms / 1000, t->day_ms % 1000,
                     v->addr[0] != '\0' ? v->addr : "0.0.0.0", (unsigned)v->status, v->offset,
                     v->delay, v->dispersion, v->jitter);
    return done(n, cap);
}

size_t stats_format_sys(char *buf, size_t cap, const struct stats_time *t,
                        const struct stats_sys *v)
{
    int n = snprintf(buf, cap,
                     "%" PRId64 " %" PRIu32 ".%03" PRIu32 " %" PRIu64 " %" PRIu64 " %" PRIu64
                     " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
                     " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
                     t->mjd, t->day_ms / 1000, t->day_ms % 1000, v->since_reset_s, v->received,
                     v->processed, v->thisver, v->oldver, v->restricted, v->badformat,
                     v->badauth, v->declined, v->limited, v->kodsent, v->v1);
    return done(n, cap);
}

int stats_gen_suffix(enum stats_gen g, const struct timespec *now, int64_t uptime_s, long pid,
                     char *buf, size_t cap)
{
    struct tm tm;
    time_t sec = now->tv_sec;
    int n;

    switch (g) {
    case STATS_GEN_NONE:
        n = snprintf(buf, cap, "%s", "");
        break;
    case STATS_GEN_PID:
        n = snprintf(buf, cap, ".#%ld", pid);
        break;
    case STATS_GEN_AGE:
        if (uptime_s < 0) {
            uptime_s = 0;
        }
        n = snprintf(buf, cap, ".a%08" PRId64, uptime_s - uptime_s % SECS_PER_DAY);
        break;
    case STATS_GEN_DAY:
    case STATS_GEN_WEEK:
    case STATS_GEN_MONTH:
    case STATS_GEN_YEAR:
        if (gmtime_r(&sec, &tm) == NULL) {
            return -1;
        }
        if (g == STATS_GEN_DAY) {
            n = snprintf(buf, cap, ".%04d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                         tm.tm_mday);
        } else if (g == STATS_GEN_MONTH) {
            n = snprintf(buf, cap, ".%04d%02d", tm.tm_year + 1900, tm.tm_mon + 1);
        } else if (g == STATS_GEN_YEAR) {
            n = snprintf(buf, cap, ".%04d", tm.tm_year + 1900);
        } else {
            /* ISO 8601 week and its year, as ntpd 4.2.8 names them (".2025w02"). */
            char year[16], week[8];
            if (strftime(year, sizeof(year), "%G", &tm) == 0 ||
                strftime(week, sizeof(week), "%V", &tm) == 0) {
                return -1;
            }
            n = snprintf(buf, cap, ".%sw%s", year, week);
        }
        break;
    default:
        return -1;
    }
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* ---- the files ----------------------------------------------------------------- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void report(struct stats *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A warning, rate-limited over all files (a full disk fails every line). */
static void report(struct stats *s, const char *fmt, ...)
{
    char msg[STATS_PATH_MAX + 512];
    va_list ap;
    if (!log_limit_pass(&s->err_limit, mono_ms())) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_msg(LOGL_WARN, "IO: %s", msg);
}

void stats_init(struct stats *s, const struct stats_config *cfg)
{
    memset(s, 0, sizeof(*s));
    s->cfg = *cfg;
    for (unsigned k = 0; k < STATS_KINDS; k++) {
        s->f[k].fd = -1;
    }
    s->err_limit.burst = 5;
    s->err_limit.tokens = 5;
    s->err_limit.interval_ms = 60000;

    char list[64] = "";
    for (unsigned k = 0; k < STATS_KINDS; k++) {
        if (cfg->gen[k].enabled) {
            strncat(list, list[0] != '\0' ? " " : "", sizeof(list) - strlen(list) - 1);
            strncat(list, kind_names[k], sizeof(list) - strlen(list) - 1);
        }
    }
    if (list[0] == '\0' || !cfg->on) {
        return;
    }
    if (cfg->dir[0] == '\0') {
        log_msg(LOGL_NOTICE, "CONF: statistics %s enabled but no statsdir: no statistics "
                             "files are written", list);
        return;
    }
    struct stat st;
    const char *why = stat(cfg->dir, &st) != 0 ? strerror(errno)
                      : !S_ISDIR(st.st_mode)   ? "not a directory"
                                               : NULL;
    if (why != NULL) {
        log_msg(LOGL_WARN, "IO: statsdir %s: %s; statistics files are written once it is a "
                           "directory", cfg->dir, why);
        return;
    }
    log_msg(LOGL_NOTICE, "IO: statistics %s in %s", list, cfg->dir);
}

void stats_close(struct stats *s)
{
    for (unsigned k = 0; k < STATS_KINDS; k++) {
        if (s->f[k].fd >= 0) {
            close(s->f[k].fd);
            s->f[k].fd = -1;
        }
    }
}

bool stats_wants(const struct stats *s, enum stats_kind k)
{
    return (unsigned)k < STATS_KINDS && s->cfg.on && s->cfg.dir[0] != '\0' &&
           s->cfg.gen[k].enabled;
}

/* statsdir/FILE: the generation's name without its suffix (and the link's name). */
static int base_name(const struct stats *s, enum stats_kind k, char *buf, size_t cap)
{
    const char *dir = s->cfg.dir;
    size_t dl = strlen(dir);
    const char *file = s->cfg.gen[k].file[0] != '\0' ? s->cfg.gen[k].file : kind_names[k];
    int n = snprintf(buf, cap, "%s%s%s", dir, dl > 0 && dir[dl - 1] == '/' ? "" : "/", file);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* Points the link `base` at the file `path` (same directory): a new symlink under a
 * hidden temporary name, renamed over the old one, so readers always find one. A regular
 * file in the way (from `type none`, or ntpd's hard link) is kept under another name. */
static void update_link(struct stats *s, const char *base, const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *target = slash != NULL ? slash + 1 : path;
    const char *bslash = strrchr(base, '/');
    char tmp[STATS_PATH_MAX + STATS_NAME_MAX + 64];
    struct stat st;

    if (lstat(base, &st) == 0 && !S_ISLNK(st.st_mode)) {
        if (!S_ISREG(st.st_mode)) {
            report(s, "statistics link %s: in the way and not a regular file; no link", base);
            return;
        }
        if (st.st_nlink > 1) {
            /* Another name keeps the data (ntpd's hard link to its current file). */
            if (unlink(base) != 0) {
                report(s, "statistics link %s: %s", base, strerror(errno));
                return;
            }
        } else {
            snprintf(tmp, sizeof(tmp), "%s.%ldC%u", base, (long)getpid(), s->conflicts++);
            if (rename(base, tmp) != 0) {
                report(s, "statistics link %s: cannot move the file in the way: %s", base,
                       strerror(errno));
                return;
            }
            log_msg(LOGL_NOTICE, "IO: statistics link %s: the file in the way is now %s",
                    base, tmp);
        }
    }
    int n = bslash != NULL
                ? snprintf(tmp, sizeof(tmp), "%.*s/.%s.link", (int)(bslash - base), base,
                           bslash + 1)
                : snprintf(tmp, sizeof(tmp), ".%s.link", base);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        return;
    }
    (void)unlink(tmp);
    if (symlink(target, tmp) != 0) {
        report(s, "statistics link %s: %s", base, strerror(errno));
        return;
    }
    if (rename(tmp, base) != 0) {
        report(s, "statistics link %s: %s", base, strerror(errno));
        (void)unlink(tmp);
    }
}

/* Opens the file of the current generation. On failure the previous one (if any) stays
 * in use, as ntpd does: lines land in the "wrong" file rather than nowhere. */
static void open_generation(struct stats *s, enum stats_kind k, const char *base,
                            const char *path)
{
    struct stats_file *f = &s->f[k];
    /* O_NONBLOCK: a FIFO planted under the name must not block the engine at open. */
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY |
                            O_NONBLOCK, 0644);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        fd = -1;
        errno = EINVAL;
    }
    if (fd < 0) {
        int err = errno;
        if (f->failed != err) {
            report(s, "statistics file %s: %s%s", path,
                   err == ELOOP ? "a symbolic link (not followed)"
                   : err == EINVAL ? "not a regular file"
                                   : strerror(err),
                   f->fd >= 0 ? "; writing on to the previous file" : "");
        }
        f->failed = err;
        return;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) {
        (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    }
    if (f->fd >= 0) {
        close(f->fd);
    }
    f->fd = fd;
    f->failed = 0;
    snprintf(f->path, sizeof(f->path), "%s", path);
    if (s->cfg.gen[k].link && s->cfg.gen[k].type != STATS_GEN_NONE) {
        update_link(s, base, path);
    }
}

static void write_line(struct stats *s, enum stats_kind k, const struct timespec *now,
                       int64_t uptime_s, const char *line, size_t len)
{
    struct stats_file *f = &s->f[k];
    char base[STATS_PATH_MAX + STATS_NAME_MAX + 2];
    char suffix[32];
    char path[sizeof(f->path)];

    if (len == 0 || base_name(s, k, base, sizeof(base)) != 0 ||
        stats_gen_suffix(s->cfg.gen[k].type, now, uptime_s, (long)getpid(), suffix,
                         sizeof(suffix)) != 0) {
        return;
    }
    int n = snprintf(path, sizeof(path), "%s%s", base, suffix);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        return;
    }
    if (f->fd < 0 || strcmp(f->path, path) != 0) {
        open_generation(s, k, base, path);
        if (f->fd < 0) {
            return;
        }
    }
    ssize_t w = write(f->fd, line, len);
    if (w != (ssize_t)len) {
        int err = w < 0 ? errno : EIO;
        if (f->failed != err) {
            report(s, "statistics file %s: write: %s", f->path,
                   w < 0 ? strerror(err) : "short write");
        }
        f->failed = err;
        return;
    }
    if (strcmp(f->path, path) == 0) {
        f->failed = 0;
    }
}

void stats_write_loop(struct stats *s, const struct timespec *now, int64_t uptime_s,
                      const struct stats_loop *v)
{
    char line[256];
    struct stats_time t;
    if (!stats_wants(s, STATS_LOOP)) {
        return;
    }
    stats_time_from_timespec(now, &t);
    write_line(s, STATS_LOOP, now, uptime_s, line, stats_format_loop(line, sizeof(line), &t, v));
}

void stats_write_peer(struct stats *s, const struct timespec *now, int64_t uptime_s,
                      const struct stats_peer *v)
{
    char line[256];
    struct stats_time t;
    if (!stats_wants(s, STATS_PEER)) {
        return;
    }
    stats_time_from_timespec(now, &t);
    write_line(s, STATS_PEER, now, uptime_s, line, stats_format_peer(line, sizeof(line), &t, v));
}

void stats_write_sys(struct stats *s, const struct timespec *now, int64_t uptime_s,
                     const struct stats_sys *v)
{
    char line[512];
    struct stats_time t;
    if (!stats_wants(s, STATS_SYS)) {
        return;
    }
    stats_time_from_timespec(now, &t);
    write_line(s, STATS_SYS, now, uptime_s, line, stats_format_sys(line, sizeof(line), &t, v));
}
