/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * clock_system: the machine's real clock. Reading only in this version: corrections
 * (clock_adjtime) arrive with clock discipline; until then a step is refused, so no
 * code path can change the system clock.
 */
#include <stdio.h>

#include "clock_impl.h"

static int system_step(struct clk *c, double offset, char *err, size_t errlen)
{
    (void)c;
    snprintf(err, errlen, "stepping the system clock by %+.6f s is not implemented yet",
             offset);
    return -1;
}

const struct clk_ops clk_ops_system = {
    .name = "system",
    .now = clk_read_realtime,
    .from_system = clk_identity,
    .step = system_step,
};
