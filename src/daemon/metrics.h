/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * metrics: the daemon's status (struct status) rendered for the HTTP listener: the
 * Prometheus text exposition format (/metrics) and the JSON status document
 * (/status.json, docs/schema/stratumd-status.schema.json). Pure: no clock reads, no
 * system calls beyond writing to the FILE given; it does not own the HTTP side (http.c)
 * nor the snapshot (statusbox.c).
 */
#ifndef STRATUM_METRICS_H
#define STRATUM_METRICS_H

#include <stdio.h>

#include "daemon/status.h"

/* The schema_version of /status.json; bump it when a member changes meaning or goes. */
#define METRICS_JSON_SCHEMA_VERSION 1

/* Content types of the two documents. */
#define METRICS_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_JSON_CONTENT_TYPE "application/json"

/* Writes st to f in the Prometheus text format, version 0.0.4: a HELP and a TYPE line
 * for every family, names prefixed "stratum_", seconds in *_seconds, counters in
 * *_total. Values that are not finite are left out (never NaN or Inf), label values
 * are escaped and made valid UTF-8. Write errors show in ferror(f). */
void metrics_write_prometheus(FILE *f, const struct status *st);

/* Writes st to f as one JSON document (schema_version METRICS_JSON_SCHEMA_VERSION),
 * ending with a newline; pretty adds line breaks and indentation. Values that are not
 * finite are written as null. */
void metrics_write_json(FILE *f, const struct status *st, bool pretty);

#endif
