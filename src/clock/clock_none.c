/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * clock_none: observe only. Reads the system clock and never corrects it.
 */
#include <stdio.h>

#include "clock_impl.h"

static int none_step(struct clk *c, double offset, char *err, size_t errlen)
{
    (void)c;
    snprintf(err, errlen, "clock none: refusing to step by %+.6f s", offset);
    return -1;
}

const struct clk_ops clk_ops_none = {
    .name = "none",
    .now = clk_read_realtime,
    .from_system = clk_identity,
    .step = none_step,
};
