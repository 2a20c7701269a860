/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * stratum: the command-line tool. `query` asks servers for the time and never changes the
 * clock; `sync` sets it once (step or slew) when enough servers agree. Exit codes (one
 * table, also in stratum(1)): 0 ok, 1 usage or config error, 2 network failure (timeout,
 * name), 3 server refused or unusable (KoD, unsynchronized, bad reply, disagreement), 4
 * not permitted.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock/clock.h"
#include "clock/rtc.h"
#include "core/decide.h"
#include "io/json.h"
#include "io/plat.h"
#include "tools/ctl.h"
#ifndef _WIN32
#include "tools/monitor.h"
#endif
#include "tools/query.h"
#include "tools/status.h"

#define EXIT_OK 0
#define EXIT_USAGE 1
#define EXIT_NETWORK 2
#define EXIT_UNUSABLE 3
#define EXIT_DENIED 4

#define JSON_SCHEMA_VERSION 1

static void usage_main(FILE *f)
{
    fprintf(f,
            "Usage: stratum COMMAND [options] [arguments]\n"
            "\n"
            "Commands:\n"
            "  query HOST[:PORT] ...   ask NTP servers for the time (never changes the clock)\n"
            "  sync HOST[:PORT] ...    set this machine's clock once from agreeing servers\n"
            "  status [HOST[:PORT]]    a server's state in words (mode 6; default 127.0.0.1)\n"
            "  peers [HOST[:PORT]]     a server's sources, as ntpq -p\n"
            "  clients [HOST[:PORT]]   the clients a server has seen (its MRU list)\n"
            "  ctl REQUEST             change the local stratumd (reload, add, remove, step,\n"
            "                          writedrift, sources) through its socket\n"
            "  monitor COMMAND         the fleet monitor: an inventory of devices, sweeps,\n"
            "                          the devices whose time is not standard, alarms\n"
            "\n"
            "  stratum COMMAND --help  options of a command\n"
            "  stratum --version\n"
            "\n"
            "Exit codes: 0 ok, 1 usage error, 2 network failure (timeout, unknown name),\n"
            "3 server refused or unusable (kiss-o'-death, unsynchronized, bad reply,\n"
            "servers disagree), 4 not permitted. See stratum(1).\n");
}

static void usage_query(FILE *f, const char *cmd)
{
    bool sync = strcmp(cmd, "sync") == 0;
    fprintf(f, "Usage: stratum %s [options] HOST[:PORT] ...\n", cmd);
    if (sync) {
        fprintf(f,
                "Sets the clock once, like ntpdate done right: queries the servers, requires\n"
                "a majority of those that answered to agree, then slews the clock when the\n"
                "offset is below the step threshold and steps it otherwise.\n");
    } else {
        fprintf(f, "Asks NTP servers for the time, in parallel, and never changes the clock.\n"
                   "HOST is a name (all its addresses are asked), an IPv4 address, or an IPv6\n"
                   "address ([addr]:port with a port).\n");
    }
    fprintf(f,
            "\n"
            "  -4, -6                only IPv4 / only IPv6 addresses\n"
            "  -n, --samples N       requests per server, best (lowest delay) kept (default %d)\n"
            "  -i, --interval S      seconds between requests to one server (default 0.5)\n"
            "  -t, --timeout S       seconds to wait for each answer (default 1)\n"
            "  -p, --port N          server port when HOST has none (default 123)\n"
            "      --ntp-version N   NTP version of the requests, 1-4 (default 4)\n"
            "  -j, --json            JSON output (schema: docs/schema/stratum-%s.schema.json)\n"
            "      --clock KIND      clock read%s: system (default), sim, none\n",
            sync ? 4 : 1, cmd, sync ? " and corrected" : "");
    if (sync) {
        fprintf(f,
                "      --dry-run         print what would be done, change nothing\n"
                "      --step            always step\n"
                "      --slew            always slew\n"
                "      --threshold S     step threshold in seconds (default 0.128)\n"
                "      --max-step S      refuse offsets beyond S seconds (default 1000)\n"
                "      --force           act beyond --max-step\n"
                "      --min-agree N     servers that must agree (default: a majority of\n"
                "                        those that answered)\n"
                "      --rtc             also set the hardware clock\n"
                "      --rtc-device PATH the RTC device (default " RTC_DEFAULT_DEVICE ")\n");
    }
    fprintf(f, "  -h, --help            this text\n");
}

static int parse_number(const char *opt, const char *arg, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (*arg == '\0' || *end != '\0' || errno != 0 || !isfinite(v) || v < min || v > max) {
        fprintf(stderr, "stratum: %s '%s': expected a number from %g to %g\n", opt, arg, min,
                max);
        return -1;
    }
    *out = v;
    return 0;
}

/* Whole numbers only: "2.5", "0x7b" and "1e1" are usage errors, not silently truncated. */
static int parse_count(const char *opt, const char *arg, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (*arg == '\0' || *end != '\0' || errno != 0 || v < min || v > max) {
        fprintf(stderr, "stratum: %s '%s': expected a whole number from %ld to %ld\n", opt, arg,
                min, max);
        return -1;
    }
    *out = v;
    return 0;
}

struct cmd_opts {
    struct q_opts q;
    struct sync_policy policy;
    bool dry_run;
    bool rtc;
    const char *rtc_device;
};

enum {
    OPT_NTPVER = 256, OPT_CLOCK, OPT_DRYRUN, OPT_STEP, OPT_SLEW, OPT_THRESHOLD, OPT_MAXSTEP,
    OPT_FORCE, OPT_MINAGREE, OPT_RTC, OPT_RTCDEV,
};

/* Parses the options of query and sync. Returns the index of the first host argument,
 * or -1 (usage error, message printed), or -2 (help printed). */
static int parse_opts(int argc, char **argv, const char *cmd, struct cmd_opts *o)
{
    static const struct option opts[] = {
        { "samples", required_argument, NULL, 'n' },
        { "interval", required_argument, NULL, 'i' },
        { "timeout", required_argument, NULL, 't' },
        { "port", required_argument, NULL, 'p' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { "ntp-version", required_argument, NULL, OPT_NTPVER },
        { "clock", required_argument, NULL, OPT_CLOCK },
        { "dry-run", no_argument, NULL, OPT_DRYRUN },
        { "step", no_argument, NULL, OPT_STEP },
        { "slew", no_argument, NULL, OPT_SLEW },
        { "threshold", required_argument, NULL, OPT_THRESHOLD },
        { "max-step", required_argument, NULL, OPT_MAXSTEP },
        { "force", no_argument, NULL, OPT_FORCE },
        { "min-agree", required_argument, NULL, OPT_MINAGREE },
        { "rtc", no_argument, NULL, OPT_RTC },
        { "rtc-device", required_argument, NULL, OPT_RTCDEV },
        { NULL, 0, NULL, 0 },
    };
    bool sync = strcmp(cmd, "sync") == 0;
    int c;
    long v;

    memset(o, 0, sizeof(*o));
    o->q.samples = sync ? 4 : 1;
    o->q.interval = 0.5;
    o->q.timeout = 1.0;
    o->q.port = 123;
    o->q.version = 4;
    o->q.clock = CLK_SYSTEM;
    o->policy.mode = SYNC_AUTO;
    o->policy.step_threshold = 0.128;
    o->policy.max_step = 1000.0;
    o->rtc_device = RTC_DEFAULT_DEVICE;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":46n:i:t:p:jh", opts, NULL)) != -1) {
        if (!sync && c >= OPT_DRYRUN) {
            fprintf(stderr, "stratum %s: '%s' is an option of 'stratum sync'\n", cmd,
                    argv[optind - 1]);
            return -1;
        }
        switch (c) {
        case '4':
            o->q.family = 4;
            break;
        case '6':
            o->q.family = 6;
            break;
        case 'n':
            if (parse_count("--samples", optarg, 1, Q_MAX_SAMPLES, &v) != 0) {
                return -1;
            }
            o->q.samples = (int)v;
            break;
        case 'i':
            if (parse_number("--interval", optarg, 0, 3600, &o->q.interval) != 0) {
                return -1;
            }
            break;
        case 't':
            if (parse_number("--timeout", optarg, 0.001, 60, &o->q.timeout) != 0) {
                return -1;
            }
            break;
        case 'p':
            if (parse_count("--port", optarg, 1, 65535, &v) != 0) {
                return -1;
            }
            o->q.port = (uint16_t)v;
            break;
        case 'j':
            o->q.json = true;
            break;
        case 'h':
            usage_query(stdout, cmd);
            return -2;
        case OPT_NTPVER:
            if (parse_count("--ntp-version", optarg, 1, 4, &v) != 0) {
                return -1;
            }
            o->q.version = (uint8_t)v;
            break;
        case OPT_CLOCK:
            if (clk_kind_parse(optarg, &o->q.clock) != 0) {
                fprintf(stderr, "stratum %s: --clock '%s': expected system, sim or none\n", cmd,
                        optarg);
                return -1;
            }
            break;
        case OPT_DRYRUN:
            o->dry_run = true;
            break;
        case OPT_STEP:
        case OPT_SLEW:
            if (o->policy.mode != SYNC_AUTO) {
                fprintf(stderr, "stratum sync: give --step or --slew, not both\n");
                return -1;
            }
            o->policy.mode = c == OPT_STEP ? SYNC_STEP : SYNC_SLEW;
            break;
        case OPT_THRESHOLD:
            if (parse_number("--threshold", optarg, 0, 1e6, &o->policy.step_threshold) != 0) {
                return -1;
            }
            break;
        case OPT_MAXSTEP:
            if (parse_number("--max-step", optarg, 0, 1e10, &o->policy.max_step) != 0) {
                return -1;
            }
            break;
        case OPT_FORCE:
            o->policy.force = true;
            break;
        case OPT_MINAGREE:
            if (parse_count("--min-agree", optarg, 1, Q_MAX_TARGETS, &v) != 0) {
                return -1;
            }
            o->policy.min_agree = (size_t)v;
            break;
        case OPT_RTC:
            o->rtc = true;
            break;
        case OPT_RTCDEV:
            o->rtc_device = optarg;
            o->rtc = true;
            break;
        case ':':
            fprintf(stderr, "stratum %s: %s needs a value (see --help)\n", cmd,
                    argv[optind - 1]);
            return -1;
        default:
            fprintf(stderr, "stratum %s: unknown option '%s' (see --help)\n", cmd,
                    argv[optind - 1]);
            return -1;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "stratum %s: no server given (see --help)\n", cmd);
        return -1;
    }
    return optind;
}

static int prepare(struct q_run *r, const struct cmd_opts *o, char **hosts, int n)
{
    char err[256];
    memset(r, 0, sizeof(*r));
    r->opts = o->q;
    if (q_resolve(r, hosts, n, err, sizeof(err)) != 0) {
        fprintf(stderr, "stratum: %s\n", err);
        return EXIT_USAGE;
    }
    r->clk = clk_open(o->q.clock, NULL, err, sizeof(err));
    if (r->clk == NULL) {
        fprintf(stderr, "stratum: %s\n", err);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

static void json_begin(struct json *j, const char *command)
{
    json_init(j, stdout, true);
    json_object_begin(j);
    json_key(j, "schema_version");
    json_int(j, JSON_SCHEMA_VERSION);
    json_key(j, "command");
    json_string(j, command);
}

static int cmd_query(int argc, char **argv)
{
    struct cmd_opts o;
    static struct q_run r;
    int first = parse_opts(argc, argv, "query", &o);
    if (first < 0) {
        return first == -2 ? EXIT_OK : EXIT_USAGE;
    }
    int rc = prepare(&r, &o, argv + first, argc - first);
    if (rc != EXIT_OK) {
        return rc;
    }
    q_measure(&r);
    if (o.q.json) {
        struct json j;
        json_begin(&j, "query");
        q_json_members(&r, &j);
        json_object_end(&j);
        json_finish(&j);
    } else {
        q_print_text(&r, stdout);
    }
    clk_close(r.clk);
    return q_exit_code(&r);
}

static const char *mode_word(enum sync_action a)
{
    return a == SYNC_DO_STEP ? "step" : a == SYNC_DO_SLEW ? "slew" : "none";
}

static int cmd_sync(int argc, char **argv)
{
    struct cmd_opts o;
    static struct q_run r;
    char err[256] = "";
    int first = parse_opts(argc, argv, "sync", &o);
    if (first < 0) {
        return first == -2 ? EXIT_OK : EXIT_USAGE;
    }
    int rc = prepare(&r, &o, argv + first, argc - first);
    if (rc != EXIT_OK) {
        return rc;
    }
    q_measure(&r);

    double offset = r.agree.n_true > 0 ? r.agree.offset : 0.0;
    enum sync_action a = sync_decide(&o.policy, r.n_ok, r.agree.n_true, offset);
    size_t need = sync_required(&o.policy, r.n_ok);
    int applied = 0;            /* 0 not tried, 1 done, <0 CLK_* error */
    int rtc_applied = 0;
    char rtc_err[256] = "";

    if (!o.dry_run && (a == SYNC_DO_STEP || a == SYNC_DO_SLEW)) {
        int c = a == SYNC_DO_STEP ? clk_step(r.clk, offset, err, sizeof(err))
                                  : clk_slew_once(r.clk, offset, err, sizeof(err));
        applied = c == 0 ? 1 : c;
    }
    if (!o.dry_run && o.rtc && (applied == 1 || a == SYNC_NOTHING)) {
        /* The RTC gets the corrected time: now on this clock plus what a slew has yet to
         * apply. */
        struct timespec now;
        clk_now(r.clk, &now);
        if (a == SYNC_DO_SLEW) {
            ntp_timespec_add(&now, offset);
        }
        int c = rtc_write(o.rtc_device, &now, rtc_err, sizeof(rtc_err));
        rtc_applied = c == 0 ? 1 : c;
    }

    /* Exit code. */
    if (a == SYNC_REFUSE_NONE) {
        rc = q_exit_code(&r);
    } else if (a == SYNC_REFUSE_DISAGREE || a == SYNC_REFUSE_TOO_LARGE) {
        rc = EXIT_UNUSABLE;
    } else if (applied == CLK_NOT_PERMITTED || rtc_applied == CLK_NOT_PERMITTED) {
        rc = EXIT_DENIED;
    } else if (applied < 0 || rtc_applied < 0) {
        rc = EXIT_USAGE;
    } else {
        rc = EXIT_OK;
    }

    const char *clock_name = clk_name(r.clk);
    if (o.q.json) {
        struct json j;
        json_begin(&j, "sync");
        q_json_members(&r, &j);
        json_key(&j, "decision");
        json_object_begin(&j);
        json_key(&j, "action");
        json_string(&j, sync_action_name(a));
        json_key(&j, "offset");
        if (r.agree.n_true > 0) {
            json_fixed(&j, offset, 9);
        } else {
            json_null(&j);
        }
        json_key(&j, "required_agree");
        json_int(&j, (int64_t)need);
        json_key(&j, "step_threshold");
        json_double(&j, o.policy.step_threshold);
        json_key(&j, "max_step");
        json_double(&j, o.policy.max_step);
        json_key(&j, "dry_run");
        json_bool(&j, o.dry_run);
        json_key(&j, "clock");
        json_string(&j, clock_name);
        json_key(&j, "applied");
        json_bool(&j, applied == 1);
        json_key(&j, "error");
        if (applied < 0) {
            json_string(&j, err);
        } else {
            json_null(&j);
        }
        json_key(&j, "rtc");
        if (!o.rtc) {
            json_null(&j);
        } else {
            json_object_begin(&j);
            json_key(&j, "device");
            json_string(&j, o.rtc_device);
            json_key(&j, "applied");
            json_bool(&j, rtc_applied == 1);
            json_key(&j, "error");
            if (rtc_applied < 0) {
                json_string(&j, rtc_err);
            } else {
                json_null(&j);
            }
            json_object_end(&j);
        }
        json_object_end(&j);
        json_key(&j, "exit_code");
        json_int(&j, rc);
        json_object_end(&j);
        json_finish(&j);
    } else {
        q_print_text(&r, stdout);
        switch (a) {
        case SYNC_REFUSE_NONE:
            printf("not changing the clock: no server gave a usable answer\n");
            break;
        case SYNC_REFUSE_DISAGREE:
            printf("not changing the clock: %zu of %zu servers agree, %zu required\n",
                   r.agree.n_true, r.n_ok, need);
            break;
        case SYNC_REFUSE_TOO_LARGE:
            printf("not changing the clock: offset %+.6f s is beyond --max-step %g s (use "
                   "--force to step anyway)\n", offset, o.policy.max_step);
            break;
        case SYNC_NOTHING:
            printf("the clock is right: offset %+.9f s, nothing to do\n", offset);
            break;
        case SYNC_DO_STEP:
        case SYNC_DO_SLEW:
            if (o.dry_run) {
                printf("dry run: would %s the %s clock by %+.6f s (%zu of %zu servers agree; "
                       "step threshold %g s)\n", mode_word(a), clock_name, offset,
                       r.agree.n_true, r.n_ok, o.policy.step_threshold);
            } else if (applied == 1 && a == SYNC_DO_SLEW && clk_slew_in_background(r.clk)) {
                printf("slewing the %s clock by %+.6f s (the system completes the slew by "
                       "itself, at most 0.5 ms per second)\n", clock_name, offset);
            } else if (applied == 1) {
                printf("%s the %s clock by %+.6f s\n", a == SYNC_DO_STEP ? "stepped" : "slewed",
                       clock_name, offset);
            } else {
                printf("could not %s the clock: %s\n", mode_word(a), err);
            }
            break;
        }
        if (o.rtc) {
            if (o.dry_run) {
                printf("dry run: would set the hardware clock %s\n", o.rtc_device);
            } else if (rtc_applied == 1) {
                printf("set the hardware clock %s\n", o.rtc_device);
            } else if (rtc_applied < 0) {
                printf("could not set the hardware clock: %s\n", rtc_err);
            }
        }
    }
    if (!o.q.json && rc == EXIT_DENIED) {
        fprintf(stderr, "stratum sync: not permitted: changing the clock needs root or "
                        "CAP_SYS_TIME (Windows: an administrator with SeSystemtimePrivilege); "
                        "--dry-run shows what would be done\n");
    }
    clk_close(r.clk);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage_main(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage_main(stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        printf("stratum %s\n", STRATUM_VERSION);
        return EXIT_OK;
    }
    if (plat_init() != 0) {
        fprintf(stderr, "stratum: cannot initialise networking\n");
        return EXIT_NETWORK;
    }
    int rc;
    if (strcmp(cmd, "query") == 0) {
        rc = cmd_query(argc - 1, argv + 1);
    } else if (strcmp(cmd, "sync") == 0) {
        rc = cmd_sync(argc - 1, argv + 1);
    } else if (strcmp(cmd, "status") == 0 || strcmp(cmd, "peers") == 0 ||
               strcmp(cmd, "clients") == 0) {
        rc = status_command(cmd, argc - 1, argv + 1);
    } else if (strcmp(cmd, "ctl") == 0) {
        rc = ctl_command(argc - 1, argv + 1);
#ifndef _WIN32
    } else if (strcmp(cmd, "monitor") == 0) {
        rc = monitor_command(argc - 1, argv + 1);
#endif
    } else {
        fprintf(stderr,
                "stratum: '%s' is not a command (query, sync, status, peers, clients, ctl, monitor; "
                "see --help)\n",
                cmd);
        rc = EXIT_USAGE;
    }
    fflush(stdout);
    plat_cleanup();
    return rc;
}
