/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * clock_none: observe only. Reads the system clock and never corrects it.
 */
#include "clock_impl.h"

const struct clk_ops clk_ops_none = {
    .name = "none",
    .now = clk_read_realtime,
    .from_system = clk_identity,
    .step = clk_refuse,
    .slew_once = clk_refuse,
    .set_freq = clk_refuse,
    .set_leap = clk_refuse_leap,
    .set_synced = clk_refuse_synced,
};
