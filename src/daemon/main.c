/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * stratumd: command line, configuration, pidfile lock, logging, daemonising; then the
 * engine runs until told to stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock/clock.h"
#include "daemon/conf.h"
#include "daemon/engine.h"
#include "daemon/privs.h"
#include "io/log.h"

#define DEFAULT_CONF "/etc/stratum/stratum.conf"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: stratumd [options]\n"
            "NTP daemon: serves time to NTP clients.\n"
            "\n"
            "  -c, --config FILE   configuration file (default " DEFAULT_CONF ")\n"
            "  -d, --foreground    stay in the foreground (log to stderr unless a log file\n"
            "                      or syslog is configured; in the background the default\n"
            "                      is syslog)\n"
            "  -l, --logfile FILE  log to FILE (overrides 'logfile')\n"
            "  -p, --pidfile FILE  write the process ID to FILE and lock it (overrides\n"
            "                      'pidfile'); a second daemon on the same file refuses\n"
            "                      to start\n"
            "      --clock KIND    clock backend: system, sim or none (overrides 'clock')\n"
            "  -u, --user USER     run as USER after binding (default, as root: "
            PRIVS_DEFAULT_USER "\n"
            "                      if it exists)\n"
            "  -g, --panicgate     allow the first correction to be of any size (ntpd -g)\n"
            "  -q, --once          set the clock once from the sources and exit (ntpd -q)\n"
            "  -n, --check         check the configuration and exit (0 if it loads)\n"
            "  -D, --debug         log debug messages\n"
            "  -h, --help          this text\n"
            "  -V, --version       print the version\n"
            "\n"
            "Signals: SIGTERM/SIGINT stop; SIGUSR1 logs the packet counters.\n"
            "See stratumd(8) and stratum.conf(5).\n");
}

static void warn_to_log(void *arg, const char *msg)
{
    (void)arg;
    log_msg(LOGL_WARN, "CONF: %s", msg);
}

/* Opens and locks the pidfile. Returns the fd, or -1 after logging why. */
static int lock_pidfile(const char *path)
{
    /* No symlinks: as root, a planted link must not make us truncate another file. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        log_msg(LOGL_ERR, "CONF: pidfile %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        log_msg(LOGL_ERR, "CONF: pidfile %s: not a regular file", path);
        close(fd);
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char buf[32] = "";
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        buf[n > 0 ? n : 0] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        log_msg(LOGL_ERR, "CONF: pidfile %s is locked: another stratumd is running (pid %s)",
                path, buf[0] != '\0' ? buf : "unknown");
        close(fd);
        return -1;
    }
    return fd;
}

static int write_pidfile(int fd)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
        return -1;
    }
    return 0;
}

static void release_pidfile(int fd, const char *path)
{
    if (fd < 0) {
        return;
    }
    /* After dropping privileges the directory may not let us unlink: then leave an empty
     * file, which the next start locks and rewrites. */
    if (unlink(path) != 0 && ftruncate(fd, 0) != 0) {
        log_msg(LOGL_WARN, "CONF: pidfile %s: %s", path, strerror(errno));
    }
    close(fd);
}

static int daemonise(void)
{
    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid > 0) {
        _exit(0);
    }
    if (setsid() < 0) {
        return -1;
    }
    if (chdir("/") != 0) {
        return -1;
    }
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        if (null > 2) {
            close(null);
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "foreground", no_argument, NULL, 'd' },
        { "logfile", required_argument, NULL, 'l' },
        { "pidfile", required_argument, NULL, 'p' },
        { "clock", required_argument, NULL, 'K' },
        { "user", required_argument, NULL, 'u' },
        { "check", no_argument, NULL, 'n' },
        { "panicgate", no_argument, NULL, 'g' },
        { "once", no_argument, NULL, 'q' },
        { "debug", no_argument, NULL, 'D' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *conf_path = DEFAULT_CONF;
    const char *logfile = NULL, *pidfile = NULL, *clock_word = NULL, *user = NULL;
    int foreground = 0, check = 0, debug = 0, allow_first = 0, once = 0;
    int opt;

    while ((opt = getopt_long(argc, argv, "c:dl:p:u:gqnDhV", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            conf_path = optarg;
            break;
        case 'd':
            foreground = 1;
            break;
        case 'l':
            logfile = optarg;
            break;
        case 'p':
            pidfile = optarg;
            break;
        case 'K':
            clock_word = optarg;
            break;
        case 'u':
            user = optarg;
            break;
        case 'n':
            check = 1;
            break;
        case 'g':
            allow_first = 1;
            break;
        case 'q':
            once = 1;
            break;
        case 'D':
            debug = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("stratumd %s\n", STRATUM_VERSION);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "stratumd: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 1;
    }
    log_set_level(debug ? LOGL_DEBUG : LOGL_INFO);

    static struct conf conf;
    char err[1024];
    conf_init(&conf);
    conf.warn = warn_to_log;
    if (conf_load_file(&conf, conf_path, err, sizeof(err)) != 0) {
        log_msg(LOGL_ERR, "CONF: %s", err);
        return 1;
    }
    if (clock_word != NULL && clk_kind_parse(clock_word, &conf.clock) != 0) {
        log_msg(LOGL_ERR, "CONF: --clock '%s': expected system, sim or none", clock_word);
        return 1;
    }
    conf_finish(&conf);
    if (!debug && conf.log_level >= 0) {
        log_set_level((enum log_level)conf.log_level);
    }
    log_set_categories(conf.log_categories);
    conf.allow_first_step = allow_first != 0;
    conf.once = once != 0;
    if (conf.once && conf.n_sources == 0) {
        log_msg(LOGL_ERR, "CONF: -q needs at least one server or pool to synchronize from");
        return 1;
    }
    if (check) {
        printf("%s: configuration OK (%u warning%s)\n", conf_path, conf.n_warnings,
               conf.n_warnings == 1 ? "" : "s");
        return 0;
    }

    if (logfile == NULL && conf.logfile[0] != '\0') {
        logfile = conf.logfile;
    }
    if (logfile != NULL && log_open(logfile) != 0) {
        log_msg(LOGL_ERR, "CONF: logfile %s: %s", logfile, strerror(errno));
        return 1;
    }
    /* Without a log file: syslog when configured, and in the background (as ntpd). */
    bool to_syslog = false;
    if (logfile == NULL && (conf.syslog || !foreground)) {
        const char *sock = conf.syslog_socket[0] != '\0' ? conf.syslog_socket : NULL;
        if (log_open_syslog(sock, conf.syslog_facility, "stratumd") == 0) {
            to_syslog = true;
        } else {
            log_msg(LOGL_WARN, "IO: syslog %s: %s; logging to standard error",
                    sock != NULL ? sock : LOG_SYSLOG_DEFAULT_PATH, strerror(errno));
        }
    }
    if (pidfile == NULL && conf.pidfile[0] != '\0') {
        pidfile = conf.pidfile;
    }
    int pidfd = -1;
    static char pid_abs[CONF_PATH_MAX + 1024];
    if (pidfile != NULL && pidfile[0] != '/') {
        /* Daemonising changes to /: keep a path that still names the file at exit. */
        char cwd[1024];
        if (getcwd(cwd, sizeof(cwd)) != NULL) {
            snprintf(pid_abs, sizeof(pid_abs), "%s/%s", cwd, pidfile);
            pidfile = pid_abs;
        }
    }
    if (pidfile != NULL && (pidfd = lock_pidfile(pidfile)) < 0) {
        return 1;
    }

    char cerr[256];
    /* DESIGN: `clock none` never adjusts the clock but serves its best estimate, clock +
     * measured offset: with sources, corrections go to a virtual clock that starts at the
     * system's time, and only the served time follows them. */
    bool none_virtual = conf.clock == CLK_NONE && conf.n_sources > 0;
    struct clk_sim_params none_sim = { .start_set = false };
    struct clk *clk = none_virtual ? clk_open(CLK_SIM, &none_sim, cerr, sizeof(cerr))
                                   : clk_open(conf.clock, &conf.sim, cerr, sizeof(cerr));
    if (clk == NULL) {
        log_msg(LOGL_ERR, "CLOCK: %s", cerr);
        release_pidfile(pidfd, pidfile);
        return 1;
    }
    if (none_virtual) {
        log_msg(LOGL_NOTICE, "CLOCK: clock none: the system clock is never adjusted; "
                             "corrections apply to the served time only");
    } else if (conf.clock == CLK_SYSTEM) {
        log_msg(LOGL_NOTICE, "CLOCK: system clock%s",
                conf.n_sources > 0 ? ": disciplined from the sources" : "");
    } else {
        log_msg(LOGL_NOTICE, "CLOCK: clock %s: the system clock is never adjusted",
                clk_name(clk));
    }

    struct engine *e = engine_new(&conf, clk, err, sizeof(err));
    if (e == NULL) {
        log_msg(LOGL_ERR, "IO: %s", err);
        clk_close(clk);
        release_pidfile(pidfd, pidfile);
        return 1;
    }
    if (!foreground && logfile == NULL && !to_syslog) {
        log_msg(LOGL_NOTICE, "PROTO: not in the foreground, no log file and no syslog: "
                             "messages are discarded (use -d, 'logfile' or 'syslog')");
    }
    int status = 1;
    if (!foreground && daemonise() != 0) {
        log_msg(LOGL_ERR, "PROTO: cannot detach: %s", strerror(errno));
    } else if (pidfd >= 0 && write_pidfile(pidfd) != 0) {
        log_msg(LOGL_ERR, "CONF: pidfile %s: %s", pidfile, strerror(errno));
    } else if (privs_drop(user, conf.clock == CLK_SYSTEM, err, sizeof(err)) != 0) {
        /* Sockets are bound, files are open: the rest must not need more. */
        log_msg(LOGL_ERR, "PROTO: cannot drop privileges: %s", err);
    } else {
        status = engine_run(e);
    }
    engine_free(e);
    clk_close(clk);
    release_pidfile(pidfd, pidfile);
    log_msg(LOGL_NOTICE, "PROTO: exit %d", status);
    log_close();
    return status;
}
