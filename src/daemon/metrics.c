/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * metrics: struct status as Prometheus text (exposition format 0.0.4) and as JSON.
 * The families are listed in stratum.conf(5) under `http`; the JSON shape is pinned by
 * docs/schema/stratumd-status.schema.json.
 */
#include "metrics.h"

#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "core/ctl.h"
#include "core/ntp_time.h"
#include "core/pkt.h"
#include "core/srv.h"
#include "io/json.h"

/* Room for one escaped label set: a host name of 255 octets can grow to 3 octets each
 * (U+FFFD for a byte that is not UTF-8), plus the other labels. */
#define LABELS_MAX 1024

/* The sync states status.sys.state takes, in the order of the state set. */
static const char *const sync_states[] = {"synchronized", "unsynchronized", "local clock", "panic"};

/* ---- Prometheus ------------------------------------------------------------------- */

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Appends the escaped form of s to out (a label value: backslash, double quote and
 * newline escaped, bytes that are not UTF-8 replaced by U+FFFD). Stops before cap. */
static void esc_append(char *out, size_t cap, const char *s)
{
    size_t n = strlen(out);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        char tmp[5];
        size_t k;
        if (*p == '\\' || *p == '"') {
            tmp[0] = '\\';
            tmp[1] = (char)*p;
            k = 2;
        } else if (*p == '\n') {
            memcpy(tmp, "\\n", 2);
            k = 2;
        } else if (*p < 0x80) {
            tmp[0] = (char)*p;
            k = 1;
        } else {
            k = json_utf8_len(p);
            if (k == 0) {
                memcpy(tmp, "\xef\xbf\xbd", 3);
                k = 3;
            } else {
                memcpy(tmp, p, k);
                p += k - 1;
            }
        }
        if (n + k >= cap) {
            break;
        }
        memcpy(out + n, tmp, k);
        n += k;
        out[n] = '\0';
    }
}

/* Appends name="value" (with a comma before it unless out is empty). */
static void label(char *out, size_t cap, const char *name, const char *value)
{
    size_t n = strlen(out);
    snprintf(out + n, cap - n, "%s%s=\"", n > 0 ? "," : "", name);
    esc_append(out, cap, value);
    n = strlen(out);
    snprintf(out + n, cap - n, "\"");
}

static void label_u(char *out, size_t cap, const char *name, unsigned value)
{
    char v[16];
    snprintf(v, sizeof(v), "%u", value);
    label(out, cap, name, v);
}

static void sample_name(FILE *f, const char *name, const char *labels)
{
    if (labels != NULL && labels[0] != '\0') {
        fprintf(f, "%s{%s} ", name, labels);
    } else {
        fprintf(f, "%s ", name);
    }
}

/* One sample; a value that is not finite is left out (promtool and many scrapers take
 * NaN as a value, but it would only say "unknown", which absence says better). */
static void sample_d(FILE *f, const char *name, const char *labels, double v)
{
    if (!isfinite(v)) {
        return;
    }
    sample_name(f, name, labels);
    fprintf(f, "%.9g\n", v == 0.0 ? 0.0 : v); /* no "-0" */
}

static void sample_u(FILE *f, const char *name, const char *labels, uint64_t v)
{
    sample_name(f, name, labels);
    fprintf(f, "%" PRIu64 "\n", v);
}

static void gauge_d(FILE *f, const char *name, const char *help, double v)
{
    family(f, name, "gauge", help);
    sample_d(f, name, NULL, v);
}

static void gauge_u(FILE *f, const char *name, const char *help, uint64_t v)
{
    family(f, name, "gauge", help);
    sample_u(f, name, NULL, v);
}

static void counter_u(FILE *f, const char *name, const char *help, uint64_t v)
{
    family(f, name, "counter", help);
    sample_u(f, name, NULL, v);
}

/* A family of one counter per index in [first, first + n), labelled key="name(i)". */
static void counter_set(FILE *f, const struct status_sys *s, const char *name, const char *help,
                        const char *key, unsigned first, unsigned n,
                        const char *(*name_of)(unsigned i), unsigned skip)
{
    family(f, name, "counter", help);
    for (unsigned i = 0; i < n; i++) {
        if (i == skip) {
            continue;
        }
        char labels[128] = "";
        label(labels, sizeof(labels), key, name_of(i));
        sample_u(f, name, labels, s->cnt[first + i]);
    }
}

static const char *digit_name(unsigned i)
{
    static const char *const d[] = {"0", "1", "2", "3", "4", "5", "6", "7"};
    return i < 8 ? d[i] : "?";
}

static const char *pkt_name(unsigned i)
{
    return pkt_reason_name((enum pkt_reason)i);
}

static const char *drop_name(unsigned i)
{
    return srv_drop_name((enum srv_drop)i);
}

static bool state_is(const struct status_sys *s, const char *state)
{
    const char *cur = s->state != NULL ? s->state : "unsynchronized";
    return strcmp(cur, state) == 0;
}

static void write_system(FILE *f, const struct status_sys *s)
{
    char labels[LABELS_MAX] = "";
    label(labels, sizeof(labels), "version", STRATUM_VERSION);
    label(labels, sizeof(labels), "clock", s->clock_kind != NULL ? s->clock_kind : "");
    family(f, "stratum_info", "gauge", "Version of stratumd and the clock it runs on (always 1).");
    sample_u(f, "stratum_info", labels, 1);

    gauge_d(f, "stratum_uptime_seconds", "Seconds since stratumd started.", s->uptime);
    family(f, "stratum_sync_state", "gauge",
           "Synchronization state: 1 for the current state, 0 for the others.");
    for (size_t i = 0; i < sizeof(sync_states) / sizeof(sync_states[0]); i++) {
        char l[64] = "";
        label(l, sizeof(l), "state", sync_states[i]);
        sample_u(f, "stratum_sync_state", l, state_is(s, sync_states[i]) ? 1 : 0);
    }
    gauge_u(f, "stratum_leap_indicator",
            "Leap indicator served: 0 none, 1 insert, 2 delete, 3 unsynchronized.", s->leap);
    gauge_u(f, "stratum_stratum", "Stratum served (16: unsynchronized).", s->stratum);
    gauge_d(f, "stratum_precision_seconds", "Precision of the clock, seconds.",
            ldexp(1.0, s->precision));
    gauge_d(f, "stratum_offset_seconds", "Offset of the last clock update (ntpq offset), seconds.",
            s->offset);
    gauge_d(f, "stratum_frequency_ppm", "Frequency correction of the clock (ntpq frequency), ppm.",
            s->frequency);
    gauge_d(f, "stratum_jitter_seconds", "System jitter (ntpq sys_jitter), seconds.",
            s->sys_jitter);
    gauge_d(f, "stratum_clock_jitter_seconds", "Clock jitter (ntpq clk_jitter), seconds.",
            s->clk_jitter);
    gauge_d(f, "stratum_clock_wander_ppm", "Clock frequency wander (ntpq clk_wander), ppm.",
            s->clk_wander);
    gauge_d(f, "stratum_root_delay_seconds", "Root delay served, seconds.", s->rootdelay);
    gauge_d(f, "stratum_root_dispersion_seconds", "Root dispersion served, seconds.", s->rootdisp);
    gauge_d(f, "stratum_root_distance_seconds",
            "Root distance: root delay / 2 + root dispersion, seconds.",
            s->rootdelay / 2.0 + s->rootdisp);
    gauge_d(f, "stratum_poll_seconds", "Poll interval of the system peer, seconds.",
            ldexp(1.0, s->tc));
    family(f, "stratum_reference_age_seconds", "gauge",
           "Seconds since the clock was last set or corrected (absent: never).");
    if (s->reftime != 0) {
        sample_d(f, "stratum_reference_age_seconds", NULL, ntp_ts_diff(s->clock, s->reftime));
    }
    gauge_u(f, "stratum_sources", "Sources (associations) in use.", s->n_peers);

    counter_u(f, "stratum_clock_steps_total", "Steps of the clock.", s->clock_steps);
    counter_u(f, "stratum_clock_slews_total", "Slews (phase adjustments) of the clock.",
              s->clock_slews);
    gauge_d(f, "stratum_clock_last_step_seconds", "Size of the last step, signed seconds.",
            s->clock_last_step);
    family(f, "stratum_clock_adjust_seconds_total", "counter",
           "Sum of the sizes of all steps and slews, seconds.");
    sample_d(f, "stratum_clock_adjust_seconds_total", NULL, s->clock_total_adjust);

    gauge_u(f, "stratum_client_list_entries", "Client addresses in the client list.", s->clients);
    gauge_u(f, "stratum_client_list_slots", "Size of the client list.", s->client_slots);
}

static void write_server(FILE *f, const struct status_sys *s)
{
    static const struct {
        const char *outcome;
        unsigned cnt;
    } outcomes[] = {
        {"processed", CNT_PROCESSED}, {"control", CNT_CONTROL},   {"badformat", CNT_BADFORMAT},
        {"badauth", CNT_BADAUTH},     {"declined", CNT_DECLINED}, {"restricted", CNT_RESTRICTED},
        {"limited", CNT_LIMITED},
    };
    counter_u(f, "stratum_server_received_total", "Datagrams received by the server.",
              s->cnt[CNT_RECEIVED]);
    family(f, "stratum_server_packets_total", "counter",
           "Datagrams received by the server, by outcome: processed (answered with time), "
           "control (passed to mode 6), badformat, badauth, declined (mode not served), "
           "restricted (by restrict), limited (over the rate limit).");
    for (size_t i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++) {
        char l[64] = "";
        label(l, sizeof(l), "outcome", outcomes[i].outcome);
        sample_u(f, "stratum_server_packets_total", l, s->cnt[outcomes[i].cnt]);
    }
    counter_u(f, "stratum_server_kod_sent_total",
              "Kiss-o'-death (RATE) replies sent to rate-limited clients.", s->cnt[CNT_KODSENT]);
    counter_set(f, s, "stratum_server_dropped_total",
                "Datagrams the server did not answer, by the classifier's reason.", "reason",
                CNT_SRV_FIRST, SRV_DROP_COUNT, drop_name, SRV_ANSWER);
    counter_set(f, s, "stratum_server_format_errors_total",
                "Datagrams rejected by the packet decoder, by reason.", "reason", CNT_PKT_FIRST,
                PKT_REASON_COUNT, pkt_name, PKT_OK);
    counter_set(f, s, "stratum_server_packets_by_mode_total",
                "Datagrams received by the server, by NTP mode.", "mode", CNT_MODE_FIRST, 8,
                digit_name, 8);
    counter_set(f, s, "stratum_server_packets_by_version_total",
                "Datagrams received by the server, by NTP version.", "version", CNT_VERSION_FIRST,
                8, digit_name, 8);
    family(f, "stratum_server_ntpv1_total", "counter",
           "NTPv1 requests answered, by kind (ntpq ss_ver1client, ss_ver1zero, ss_ver1symm).");
    static const struct {
        const char *kind;
        unsigned cnt;
    } v1[] = {{"client", CNT_V1_CLIENT}, {"zero", CNT_V1_ZERO}, {"symmetric", CNT_V1_SYMM}};
    for (size_t i = 0; i < sizeof(v1) / sizeof(v1[0]); i++) {
        char l[64] = "";
        label(l, sizeof(l), "kind", v1[i].kind);
        sample_u(f, "stratum_server_ntpv1_total", l, s->cnt[v1[i].cnt]);
    }
    counter_u(f, "stratum_server_truncated_total", "Datagrams longer than the receive buffer.",
              s->cnt[CNT_TRUNCATED]);
    counter_u(f, "stratum_server_send_errors_total", "Replies that could not be sent.",
              s->cnt[CNT_SENDERR]);
}

/* The labels that name a source in every per-source family. */
static void source_labels(const struct status_peer *p, char *out, size_t cap)
{
    out[0] = '\0';
    label_u(out, cap, "associd", p->associd);
    label(out, cap, "source", p->srcadr);
    label_u(out, cap, "port", p->srcport);
}

/* A per-source family: its header, then fn's value for each source (skipped when fn
 * returns false). */
typedef bool (*peer_value_fn)(const struct status_peer *p, double *v);

static void peer_family(FILE *f, const struct status *st, const char *name, const char *help,
                        peer_value_fn fn)
{
    family(f, name, "gauge", help);
    for (unsigned k = 0; k < st->sys.n_peers && k < STATUS_MAX_PEERS; k++) {
        const struct status_peer *p = &st->peer[k];
        double v;
        if (fn(p, &v)) {
            char labels[LABELS_MAX];
            source_labels(p, labels, sizeof(labels));
            sample_d(f, name, labels, v);
        }
    }
}

static bool pv_reach(const struct status_peer *p, double *v)
{
    *v = p->reach;
    return true;
}

static bool pv_selected(const struct status_peer *p, double *v)
{
    *v = p->sys_peer ? 1 : 0;
    return true;
}

static bool pv_truechimer(const struct status_peer *p, double *v)
{
    *v = p->truechimer ? 1 : 0;
    return true;
}

static bool pv_stratum(const struct status_peer *p, double *v)
{
    *v = p->stratum;
    return p->cnt.received > 0;
}

static bool pv_leap(const struct status_peer *p, double *v)
{
    *v = p->leap;
    return p->cnt.received > 0;
}

static bool pv_poll(const struct status_peer *p, double *v)
{
    *v = ldexp(1.0, p->hpoll);
    return true;
}

static bool pv_offset(const struct status_peer *p, double *v)
{
    *v = p->offset;
    return p->have_sample;
}

static bool pv_delay(const struct status_peer *p, double *v)
{
    *v = p->delay;
    return p->have_sample;
}

static bool pv_dispersion(const struct status_peer *p, double *v)
{
    *v = p->dispersion;
    return p->have_sample;
}

static bool pv_jitter(const struct status_peer *p, double *v)
{
    *v = p->jitter;
    return p->have_sample;
}

static bool pv_rootdist(const struct status_peer *p, double *v)
{
    *v = p->rootdist;
    return p->have_sample;
}

static bool pv_rootdelay(const struct status_peer *p, double *v)
{
    *v = p->rootdelay;
    return p->cnt.received > 0;
}

static bool pv_rootdisp(const struct status_peer *p, double *v)
{
    *v = p->rootdisp;
    return p->cnt.received > 0;
}

static bool pv_age(const struct status_peer *p, double *v)
{
    *v = p->since_rec;
    return p->since_rec >= 0.0;
}

/* Per-source counters from struct assoc_counters, as exact integers. */
static void source_counter(FILE *f, const struct status *st, const char *name, const char *help,
                           size_t off)
{
    family(f, name, "counter", help);
    for (unsigned k = 0; k < st->sys.n_peers && k < STATUS_MAX_PEERS; k++) {
        const struct status_peer *p = &st->peer[k];
        char labels[LABELS_MAX];
        uint64_t v;
        source_labels(p, labels, sizeof(labels));
        memcpy(&v, (const char *)&p->cnt + off, sizeof(v));
        sample_u(f, name, labels, v);
    }
}

static void write_source_rejects(FILE *f, const struct status *st)
{
    static const struct {
        const char *reason;
        size_t off;
    } reasons[] = {
        {"badformat", offsetof(struct assoc_counters, badformat)},
        {"bogusorg", offsetof(struct assoc_counters, bogusorg)},
        {"oldpkt", offsetof(struct assoc_counters, oldpkt)},
        {"badtime", offsetof(struct assoc_counters, badtime)},
        {"badauth", offsetof(struct assoc_counters, badauth)},
        {"kod", offsetof(struct assoc_counters, kod_rx)},
        {"unsync", offsetof(struct assoc_counters, unsync)},
        {"distance", offsetof(struct assoc_counters, distance)},
        {"loop", offsetof(struct assoc_counters, loop)},
    };
    family(f, "stratum_source_packets_rejected_total", "counter",
           "Replies from a source that gave no sample, by reason.");
    for (unsigned k = 0; k < st->sys.n_peers && k < STATUS_MAX_PEERS; k++) {
        const struct status_peer *p = &st->peer[k];
        for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
            char labels[LABELS_MAX];
            uint64_t v;
            source_labels(p, labels, sizeof(labels));
            label(labels, sizeof(labels), "reason", reasons[i].reason);
            memcpy(&v, (const char *)&p->cnt + reasons[i].off, sizeof(v));
            sample_u(f, "stratum_source_packets_rejected_total", labels, v);
        }
    }
}

static void write_sources(FILE *f, const struct status *st)
{
    unsigned n = st->sys.n_peers < STATUS_MAX_PEERS ? st->sys.n_peers : STATUS_MAX_PEERS;
    family(f, "stratum_source_info", "gauge",
           "A source: its configured host and type (server or pool); always 1.");
    for (unsigned k = 0; k < n; k++) {
        const struct status_peer *p = &st->peer[k];
        char labels[LABELS_MAX];
        source_labels(p, labels, sizeof(labels));
        label(labels, sizeof(labels), "host", p->host);
        label(labels, sizeof(labels), "type", p->pool ? "pool" : "server");
        sample_u(f, "stratum_source_info", labels, 1);
    }
    peer_family(f, st, "stratum_source_reach",
                "Reachability register of a source (8 bits, the last 8 polls).", pv_reach);
    peer_family(f, st, "stratum_source_selected",
                "1 for the system peer (the source the clock follows), else 0.", pv_selected);
    family(f, "stratum_source_selection", "gauge",
           "Selection code of a source (ntpq's tally: reject, falsetick, excess, outlier, "
           "candidate, backup, sys.peer, pps.peer): 1 for the current one, 0 for the others.");
    for (unsigned k = 0; k < n; k++) {
        const struct status_peer *p = &st->peer[k];
        for (unsigned c = 0; c < 8; c++) {
            char labels[LABELS_MAX];
            source_labels(p, labels, sizeof(labels));
            label(labels, sizeof(labels), "selection", ctl_sel_name(c));
            sample_u(f, "stratum_source_selection", labels, (unsigned)p->sel == c ? 1 : 0);
        }
    }
    peer_family(f, st, "stratum_source_truechimer",
                "1 when the source agreed with the majority at the last selection, else 0.",
                pv_truechimer);
    peer_family(f, st, "stratum_source_stratum", "Stratum of a source, from its last reply.",
                pv_stratum);
    peer_family(f, st, "stratum_source_leap_indicator",
                "Leap indicator of a source, from its last reply.", pv_leap);
    peer_family(f, st, "stratum_source_poll_seconds", "Poll interval towards a source, seconds.",
                pv_poll);
    peer_family(f, st, "stratum_source_offset_seconds",
                "Offset of a source (its clock minus ours), seconds.", pv_offset);
    peer_family(f, st, "stratum_source_delay_seconds", "Round-trip delay to a source, seconds.",
                pv_delay);
    peer_family(f, st, "stratum_source_dispersion_seconds",
                "Dispersion of a source's samples, seconds.", pv_dispersion);
    peer_family(f, st, "stratum_source_jitter_seconds", "Jitter of a source, seconds.", pv_jitter);
    peer_family(f, st, "stratum_source_root_distance_seconds",
                "Root distance of a source's latest sample, seconds.", pv_rootdist);
    peer_family(f, st, "stratum_source_root_delay_seconds",
                "Root delay a source announces, seconds.", pv_rootdelay);
    peer_family(f, st, "stratum_source_root_dispersion_seconds",
                "Root dispersion a source announces, seconds.", pv_rootdisp);
    peer_family(f, st, "stratum_source_sample_age_seconds",
                "Seconds since a source's latest sample.", pv_age);
    source_counter(f, st, "stratum_source_packets_sent_total", "Requests sent to a source.",
                   offsetof(struct assoc_counters, sent));
    source_counter(f, st, "stratum_source_packets_received_total",
                   "Replies received from a source.", offsetof(struct assoc_counters, received));
    source_counter(f, st, "stratum_source_samples_total",
                   "Replies from a source that became samples.",
                   offsetof(struct assoc_counters, processed));
    write_source_rejects(f, st);
}

void metrics_write_prometheus(FILE *f, const struct status *st)
{
    write_system(f, &st->sys);
    write_server(f, &st->sys);
    write_sources(f, st);
}

/* ---- JSON ----------------------------------------------------------------------- */

/* Refids as ntpq shows them: a dotted quad for a server synchronized to another
 * server, else the ASCII code. */
static void refid_text(uint32_t refid, bool as_text, char *out, size_t size)
{
    if (as_text) {
        char a[5];
        ntp_refid_to_ascii(refid, a);
        snprintf(out, size, "%s", a);
    } else {
        snprintf(out, size, "%u.%u.%u.%u", (unsigned)(refid >> 24), (unsigned)(refid >> 16) & 255u,
                 (unsigned)(refid >> 8) & 255u, (unsigned)refid & 255u);
    }
}

static void key_s(struct json *j, const char *key, double v)
{
    json_key(j, key);
    json_fixed(j, v, 9);
}

static void key_d(struct json *j, const char *key, double v)
{
    json_key(j, key);
    json_double(j, v);
}

static void key_i(struct json *j, const char *key, int64_t v)
{
    json_key(j, key);
    json_int(j, v);
}

static void key_u(struct json *j, const char *key, uint64_t v)
{
    /* JSON numbers: exact up to 2^53 in most readers; a counter does not get there. */
    json_key(j, key);
    json_int(j, v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v);
}

static void key_b(struct json *j, const char *key, bool v)
{
    json_key(j, key);
    json_bool(j, v);
}

static void key_str(struct json *j, const char *key, const char *v)
{
    json_key(j, key);
    if (v == NULL) {
        json_null(j);
    } else {
        json_string(j, v);
    }
}

static void json_system(struct json *j, const struct status_sys *s)
{
    char b[80];
    json_key(j, "system");
    json_object_begin(j);
    key_str(j, "state", s->state != NULL ? s->state : "unsynchronized");
    key_b(j, "synchronized", s->synced);
    key_i(j, "leap", s->leap);
    key_i(j, "stratum", s->stratum);
    key_i(j, "precision_log2", s->precision);
    refid_text(s->refid, s->stratum <= 1 || s->stratum >= 16 || !s->synced, b, sizeof(b));
    key_str(j, "refid", b);
    json_key(j, "reference_age");
    if (s->reftime != 0) {
        json_fixed(j, ntp_ts_diff(s->clock, s->reftime), 6);
    } else {
        json_null(j);
    }
    key_s(j, "root_delay", s->rootdelay);
    key_s(j, "root_dispersion", s->rootdisp);
    key_s(j, "root_distance", s->rootdelay / 2.0 + s->rootdisp);
    key_s(j, "offset", s->offset);
    key_d(j, "frequency_ppm", s->frequency);
    key_d(j, "frequency_applied_ppm", s->freq_applied);
    key_s(j, "system_jitter", s->sys_jitter);
    key_s(j, "clock_jitter", s->clk_jitter);
    key_d(j, "clock_wander_ppm", s->clk_wander);
    key_i(j, "poll_log2", s->tc);
    key_i(j, "min_poll_log2", s->mintc);
    json_key(j, "system_peer");
    if (s->peer != 0) {
        json_int(j, s->peer);
    } else {
        json_null(j);
    }
    key_str(j, "system_peer_address", s->peeradr[0] != '\0' ? s->peeradr : NULL);
    key_i(j, "status_word", s->status);
    key_b(j, "panicked", s->panicked);
    key_i(j, "sources", s->n_peers);
    json_key(j, "uptime");
    json_fixed(j, s->uptime, 3);
    json_object_end(j);

    json_key(j, "clock");
    json_object_begin(j);
    key_str(j, "kind", s->clock_kind != NULL ? s->clock_kind : "");
    key_u(j, "steps", s->clock_steps);
    key_u(j, "slews", s->clock_slews);
    key_s(j, "last_step", s->clock_last_step);
    key_s(j, "total_adjust", s->clock_total_adjust);
    key_s(j, "stepped", s->stepped);
    json_object_end(j);
}

static void json_server(struct json *j, const struct status_sys *s)
{
    json_key(j, "server");
    json_object_begin(j);
    key_u(j, "clients", s->clients);
    key_u(j, "client_slots", s->client_slots);
    json_key(j, "counters_reset_age");
    json_fixed(j, s->reset_age, 3);
    json_key(j, "counters");
    json_object_begin(j);
    for (unsigned i = 0; i < CNT_COUNT; i++) {
        char name[48];
        key_u(j, server_counter_name(i, name, sizeof(name)), s->cnt[i]);
    }
    json_object_end(j);
    json_key(j, "counters_since_reset");
    json_object_begin(j);
    for (unsigned i = 0; i < CNT_COUNT; i++) {
        char name[48];
        uint64_t v = s->cnt[i] >= s->cnt_reset[i] ? s->cnt[i] - s->cnt_reset[i] : 0;
        key_u(j, server_counter_name(i, name, sizeof(name)), v);
    }
    json_object_end(j);
    json_object_end(j);
}

/* A measured value of a source: null until it has a sample. */
static void key_sample(struct json *j, const char *key, bool have, double v)
{
    json_key(j, key);
    if (have) {
        json_fixed(j, v, 9);
    } else {
        json_null(j);
    }
}

static void json_peer(struct json *j, const struct status_peer *p)
{
    char b[80];
    bool rx = p->cnt.received > 0;
    json_object_begin(j);
    key_i(j, "associd", p->associd);
    key_str(j, "host", p->host);
    key_str(j, "address", p->srcadr);
    key_i(j, "port", p->srcport);
    key_str(j, "local_address", p->dstadr[0] != '\0' ? p->dstadr : NULL);
    json_key(j, "local_port");
    if (p->dstadr[0] != '\0') {
        json_int(j, p->dstport);
    } else {
        json_null(j);
    }
    key_str(j, "type", p->pool ? "pool" : "server");
    key_i(j, "reach", p->reach);
    key_i(j, "unreach", p->unreach);
    key_str(j, "selection", ctl_sel_name(p->sel));
    snprintf(b, sizeof(b), "%c", ctl_sel_tally(p->sel));
    key_str(j, "tally", b);
    key_b(j, "selected", p->sys_peer);
    key_b(j, "truechimer", p->truechimer);
    key_str(j, "why_not_selected", p->why);
    key_b(j, "prefer", p->prefer);
    key_b(j, "noselect", p->noselect);
    key_i(j, "status_word", p->status);
    key_i(j, "flash", p->flash);
    json_key(j, "stratum");
    if (rx) {
        json_int(j, p->stratum);
    } else {
        json_null(j);
    }
    json_key(j, "leap");
    if (rx) {
        json_int(j, p->leap);
    } else {
        json_null(j);
    }
    if (rx) {
        refid_text(p->refid, p->stratum <= 1 || p->stratum >= 16, b, sizeof(b));
    }
    key_str(j, "refid", rx ? b : NULL);
    key_i(j, "poll_log2", p->hpoll);
    key_i(j, "peer_poll_log2", p->ppoll);
    key_i(j, "min_poll_log2", p->minpoll);
    key_i(j, "max_poll_log2", p->maxpoll);
    key_sample(j, "root_delay", rx, p->rootdelay);
    key_sample(j, "root_dispersion", rx, p->rootdisp);
    key_sample(j, "offset", p->have_sample, p->offset);
    key_sample(j, "delay", p->have_sample, p->delay);
    key_sample(j, "dispersion", p->have_sample, p->dispersion);
    key_sample(j, "jitter", p->have_sample, p->jitter);
    key_sample(j, "root_distance", p->have_sample, p->rootdist);
    json_key(j, "sample_age");
    if (p->since_rec >= 0.0) {
        json_fixed(j, p->since_rec, 3);
    } else {
        json_null(j);
    }
    json_key(j, "next_poll");
    json_fixed(j, p->next_poll, 3);
    json_key(j, "counters");
    json_object_begin(j);
    key_u(j, "sent", p->cnt.sent);
    key_u(j, "received", p->cnt.received);
    key_u(j, "processed", p->cnt.processed);
    key_u(j, "badformat", p->cnt.badformat);
    key_u(j, "bogusorg", p->cnt.bogusorg);
    key_u(j, "oldpkt", p->cnt.oldpkt);
    key_u(j, "badtime", p->cnt.badtime);
    key_u(j, "badauth", p->cnt.badauth);
    key_u(j, "kod_rx", p->cnt.kod_rx);
    key_u(j, "unsync", p->cnt.unsync);
    key_u(j, "distance", p->cnt.distance);
    key_u(j, "loop", p->cnt.loop);
    json_object_end(j);
    json_key(j, "filter");
    json_array_begin(j);
    for (unsigned i = 0; i < p->n_filt && i < 8; i++) {
        json_object_begin(j);
        key_s(j, "offset", p->filt_offset[i]);
        key_s(j, "delay", p->filt_delay[i]);
        key_s(j, "dispersion", p->filt_disp[i]);
        json_object_end(j);
    }
    json_array_end(j);
    json_object_end(j);
}

void metrics_write_json(FILE *f, const struct status *st, bool pretty)
{
    struct json j;
    json_init(&j, f, pretty);
    json_object_begin(&j);
    key_i(&j, "schema_version", METRICS_JSON_SCHEMA_VERSION);
    key_str(&j, "version", STRATUM_VERSION);
    json_system(&j, &st->sys);
    json_server(&j, &st->sys);
    json_key(&j, "sources");
    json_array_begin(&j);
    for (unsigned k = 0; k < st->sys.n_peers && k < STATUS_MAX_PEERS; k++) {
        json_peer(&j, &st->peer[k]);
    }
    json_array_end(&j);
    json_object_end(&j);
    json_finish(&j);
}
