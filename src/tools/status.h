/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * status: `stratum status`, `stratum peers` and `stratum clients`, over the control
 * protocol (mode 6) to stratumd, ntpd or NTPsec: option parsing, gathering through
 * ctlclient, text and JSON output, and --watch. The exit codes are stratum(1)'s table.
 */
#ifndef STRATUM_STATUS_H
#define STRATUM_STATUS_H

/* Runs command cmd ("status", "peers" or "clients"); argv[0] is the command's name.
 * Returns the exit status. */
int status_command(const char *cmd, int argc, char **argv);

#endif
