/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ctl: `stratum ctl`, the administration of a running stratumd through its local socket:
 * reload, add and remove sources, step now, write the drift file, list the sources. The
 * daemon does the work and says what it did; this side frames the request and maps the
 * answer to an exit code.
 */
#include "tools/ctl.h"

#include <stdio.h>
#include <string.h>

#include "io/plat.h"

#define CTL_DEFAULT_SOCKET "/run/stratum/stratumd.sock"
#define CTL_TIMEOUT_MS 10000

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: stratum ctl [--socket PATH] REQUEST\n"
            "Changes the running stratumd on this machine, through its administration socket\n"
            "(default " CTL_DEFAULT_SOCKET "; `control socket` in stratum.conf).\n"
            "\n"
            "Requests:\n"
            "  reload                       read the configuration file again (as SIGHUP)\n"
            "  add server|pool|peer HOST [OPTIONS]   a source, as a stratum.conf line\n"
            "  remove HOST|ASSOCID          a source line by its host, or one association\n"
            "  step                         step the clock now by the offset still to correct\n"
            "  writedrift                   write the frequency to the drift file now\n"
            "  sources                      list the sources\n"
            "\n"
            "Exit codes: 0 done, 1 usage error, 2 no daemon on the socket, 3 the daemon\n"
            "refused (its message is printed), 4 not permitted (the socket's mode).\n");
}

int ctl_command(int argc, char **argv)
{
    const char *path = CTL_DEFAULT_SOCKET;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--socket") == 0 || strcmp(argv[i], "-s") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "stratum ctl: %s needs a path\n", argv[i]);
                return 1;
            }
            path = argv[++i];
            continue;
        }
        fprintf(stderr, "stratum ctl: unknown option '%s' (see --help)\n", argv[i]);
        return 1;
    }
    if (i >= argc) {
        usage(stderr);
        return 1;
    }
    static const char *const known[] = {"reload", "add", "remove", "step", "writedrift",
                                        "sources", NULL};
    int k = 0;
    while (known[k] != NULL && strcmp(known[k], argv[i]) != 0) {
        k++;
    }
    if (known[k] == NULL) {
        fprintf(stderr, "stratum ctl: '%s' is not a request (reload, add, remove, step, "
                        "writedrift, sources)\n", argv[i]);
        return 1;
    }
    bool wants_args = strcmp(argv[i], "add") == 0 || strcmp(argv[i], "remove") == 0;
    if (wants_args != (i + 1 < argc) || (strcmp(argv[i], "add") == 0 && i + 2 >= argc)) {
        fprintf(stderr, "stratum ctl %s: %s\n", argv[i],
                wants_args ? "needs arguments (see --help)" : "takes no arguments");
        return 1;
    }
    /* The request line: the words as given, each without a newline. */
    char line[1024];
    size_t n = 0;
    for (int j = i; j < argc; j++) {
        size_t w = strlen(argv[j]);
        if (strpbrk(argv[j], "\r\n") != NULL || n + w + 2 > sizeof(line)) {
            fprintf(stderr, "stratum ctl: request too long or with a line break\n");
            return 1;
        }
        if (n > 0) {
            line[n++] = ' ';
        }
        memcpy(line + n, argv[j], w);
        n += w;
    }
    line[n] = '\0';
    static char reply[65536];
    char err[512];
    int r = plat_local_request(path, line, CTL_TIMEOUT_MS, reply, sizeof(reply), err,
                               sizeof(err));
    if (r == PLAT_LOCAL_ABSENT) {
        fprintf(stderr, "stratum ctl: no stratumd answers on %s (%s)\n", path, err);
        return 2;
    }
    if (r == PLAT_LOCAL_DENIED) {
        fprintf(stderr, "stratum ctl: not permitted: %s (run as the daemon's user or root, or "
                        "a member of the socket's group)\n", err);
        return 4;
    }
    if (r != 0) {
        fprintf(stderr, "stratum ctl: %s\n", err);
        return 2;
    }
    if (strncmp(reply, "ok", 2) == 0 && (reply[2] == ' ' || reply[2] == '\n')) {
        fputs(reply[2] == ' ' ? reply + 3 : reply + 3, stdout);
        return 0;
    }
    if (strncmp(reply, "error ", 6) == 0) {
        fprintf(stderr, "stratum ctl: %s", reply + 6);
        return 3;
    }
    fprintf(stderr, "stratum ctl: unexpected reply from the daemon: %.200s\n", reply);
    return 3;
}
