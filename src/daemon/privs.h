/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * privs: dropping privileges after the sockets are bound. The daemon changes to an
 * unprivileged user and keeps only the capabilities its clock backend needs
 * (CAP_SYS_TIME for `clock system`, none for sim/none). Linux, libcap.
 */
#ifndef STRATUM_PRIVS_H
#define STRATUM_PRIVS_H

#include <stdbool.h>
#include <stddef.h>

/* The user the daemon runs as when started as root and none is given. */
#define PRIVS_DEFAULT_USER "_stratum"

/* Changes to user (and its primary group, or group when not NULL) keeping CAP_SYS_TIME
 * only if keep_sys_time and the process has it now. user NULL: the default user if it
 * exists, else stay root but still drop every capability not needed. Not root: only
 * drops capabilities. Returns 0, or -1 with a message in err. */
int privs_drop(const char *user, bool keep_sys_time, char *err, size_t errlen);

#endif
