/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * monitor: `stratum monitor`, the fleet monitor's command line: the inventory (add,
 * import, list, remove, groups), sweeps, the non-standard-time report (Nagios exit
 * codes), history, stats, prune, and serve (scheduled sweeps with alarms). Linux only.
 */
#ifndef STRATUM_MONITOR_H
#define STRATUM_MONITOR_H

/* argv[0] is "monitor". Returns the exit status. */
int monitor_command(int argc, char **argv);

#endif
