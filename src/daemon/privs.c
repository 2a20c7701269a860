/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * privs: setgid/setuid with PR_SET_KEEPCAPS, then a capability set of at most
 * CAP_SYS_TIME. Learned from OpenNTPD's privilege separation: the process that parses the
 * network should hold as little as possible.
 */
#include "privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "io/log.h"

static bool have_permitted(cap_value_t v)
{
    cap_t now = cap_get_proc();
    cap_flag_value_t f = CAP_CLEAR;
    if (now != NULL) {
        cap_get_flag(now, v, CAP_PERMITTED, &f);
        cap_free(now);
    }
    return f == CAP_SET;
}

static int set_caps(bool keep_sys_time, char *err, size_t errlen)
{
    cap_t caps = cap_init();    /* all clear */
    cap_value_t keep[] = { CAP_SYS_TIME };
    if (caps == NULL) {
        snprintf(err, errlen, "cap_init: %s", strerror(errno));
        return -1;
    }
    if (keep_sys_time && have_permitted(CAP_SYS_TIME)) {
        cap_set_flag(caps, CAP_PERMITTED, 1, keep, CAP_SET);
        cap_set_flag(caps, CAP_EFFECTIVE, 1, keep, CAP_SET);
    }
    int r = cap_set_proc(caps);
    cap_free(caps);
    if (r != 0) {
        snprintf(err, errlen, "cap_set_proc: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int privs_drop(const char *user, bool keep_sys_time, char *err, size_t errlen)
{
    if (geteuid() != 0) {
        return set_caps(keep_sys_time, err, errlen);
    }
    const char *name = user != NULL ? user : PRIVS_DEFAULT_USER;
    errno = 0;
    struct passwd *pw = getpwnam(name);
    if (pw == NULL) {
        if (user != NULL) {
            snprintf(err, errlen, "user '%s' does not exist", user);
            return -1;
        }
        log_msg(LOGL_NOTICE, "PROTO: user %s does not exist: staying root, with no "
                             "capabilities but those the clock needs", name);
        return set_caps(keep_sys_time, err, errlen);
    }
    if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) != 0) {
        snprintf(err, errlen, "prctl(PR_SET_KEEPCAPS): %s", strerror(errno));
        return -1;
    }
    if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
        snprintf(err, errlen, "cannot change to user %s: %s", name, strerror(errno));
        return -1;
    }
    if (setuid(0) == 0) {
        snprintf(err, errlen, "could regain root after changing to %s", name);
        return -1;
    }
    if (set_caps(keep_sys_time, err, errlen) != 0) {
        return -1;
    }
    prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L);
    log_msg(LOGL_NOTICE, "PROTO: running as user %s (uid %u)%s", name, (unsigned)pw->pw_uid,
            keep_sys_time ? ", keeping CAP_SYS_TIME" : ", no capabilities");
    return 0;
}
