/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * json: the one JSON writer behind every --json output. A small streaming writer with a
 * nesting stack: objects, arrays, keys, strings (escaped per RFC 8259), numbers, booleans
 * and null, written to a FILE. Commas and nesting are its business, not the caller's.
 */
#ifndef STRATUM_JSON_H
#define STRATUM_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

struct json {
    FILE *f;
    int depth;
    bool first[JSON_MAX_DEPTH];     /* no member written yet at this level */
    bool after_key;
    bool pretty;
};

void json_init(struct json *j, FILE *f, bool pretty);
void json_object_begin(struct json *j);
void json_object_end(struct json *j);
void json_array_begin(struct json *j);
void json_array_end(struct json *j);
/* A member name; the next value call writes its value. */
void json_key(struct json *j, const char *key);
void json_string(struct json *j, const char *s);
/* Finite numbers as %.9g (enough for nanoseconds in seconds); NaN and infinities as null. */
void json_double(struct json *j, double v);
/* Fixed decimals, for values with a known resolution (offsets in s: 9). */
void json_fixed(struct json *j, double v, int decimals);
void json_int(struct json *j, int64_t v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);
/* Ends the document with a newline. */
void json_finish(struct json *j);

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF), or 0 when it is not one. Also for other text outputs that
 * must be UTF-8 (Prometheus label values). */
size_t json_utf8_len(const unsigned char *p);

#endif
