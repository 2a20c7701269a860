/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ctl: `stratum ctl REQUEST`: administration of the local stratumd through its socket.
 */
#ifndef STRATUM_TOOLS_CTL_H
#define STRATUM_TOOLS_CTL_H

/* argv[0] is "ctl". Returns the exit code. */
int ctl_command(int argc, char **argv);

#endif
