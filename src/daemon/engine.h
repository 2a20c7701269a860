/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * engine: the daemon's single main thread. It owns the configuration, the clock, the
 * system state and the published snapshot; runs timers and signals on one poll() loop;
 * starts and stops the server workers, or serves itself when `workers 0`.
 */
#ifndef STRATUM_ENGINE_H
#define STRATUM_ENGINE_H

#include "clock/clock.h"
#include "daemon/conf.h"

struct engine;

/* Opens the sockets of every listen entry (as workers need them). Returns NULL with a
 * message in err. */
struct engine *engine_new(const struct conf *conf, struct clk *clk, char *err, size_t errlen);

/* Starts workers and runs until SIGTERM/SIGINT. Returns the exit status. */
int engine_run(struct engine *e);

void engine_free(struct engine *e);

#endif
