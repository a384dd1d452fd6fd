/* cost/link: the link model (bandwidth, RTT, per-request overhead, framing,
 * shaper burst, slow start after idle) and its string form "3mbit,20ms".
 * Only arithmetic here: the measured validation lives in net/ and
 * `cleave link validate` (docs/link.md). */
#include "cost/link.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LINK_MAX_STR 128

cost_link cost_link_make(double mbit_s, double rtt_ms) {
    cost_link l = {
        .mbit_s = mbit_s,
        .rtt_ms = rtt_ms,
        .overhead_ms = COST_LINK_OVERHEAD_MS,
        .payload_efficiency = COST_LINK_EFFICIENCY,
        .http_bytes = COST_LINK_HTTP_REQUEST_BYTES,
        .burst_bytes = 0,
        .init_cwnd = COST_LINK_INIT_CWND,
    };
    return l;
}

/* Split "12.5mbit" into the number and its unit; 0 on a malformed number. */
static int split_number(const char *f, double *v, const char **unit) {
    char *e;
    errno = 0;
    *v = strtod(f, &e);
    if (e == f || errno || !isfinite(*v)) return 0;
    while (*e == ' ') e++;
    *unit = e;
    return 1;
}

static cleave_status parse_rate(cleave_ctx *ctx, const char *s, const char *f, double *mbit) {
    static const struct { const char *u; double scale; } units[] = {
        {"bit", 1e-6}, {"kbit", 1e-3}, {"mbit", 1.0}, {"gbit", 1e3},
    };
    double v;
    const char *u;
    if (!split_number(f, &v, &u))
        return cv_fail(ctx, CLEAVE_E_INVALID, "link '%s': rate '%s': not a number", s, f);
    if (!*u)
        return cv_fail(ctx, CLEAVE_E_INVALID,
                       "link '%s': rate '%s': missing unit (bit, kbit, mbit or gbit)", s, f);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcasecmp(u, units[i].u)) {
            *mbit = v * units[i].scale;
            if (!(*mbit > 0) || *mbit > 1e6)
                return cv_fail(ctx, CLEAVE_E_INVALID,
                               "link '%s': rate '%s': must be > 0 and at most 1000 gbit", s, f);
            return CLEAVE_OK;
        }
    return cv_fail(ctx, CLEAVE_E_INVALID,
                   "link '%s': rate '%s': unknown unit '%s' (bit, kbit, mbit or gbit)", s, f, u);
}

static cleave_status parse_time(cleave_ctx *ctx, const char *s, const char *what, const char *f,
                                double *ms) {
    static const struct { const char *u; double scale; } units[] = {
        {"s", 1e3}, {"ms", 1.0}, {"us", 1e-3},
    };
    double v;
    const char *u;
    if (!split_number(f, &v, &u))
        return cv_fail(ctx, CLEAVE_E_INVALID, "link '%s': %s '%s': not a number", s, what, f);
    if (!*u)
        return cv_fail(ctx, CLEAVE_E_INVALID, "link '%s': %s '%s': missing unit (s, ms or us)", s,
                       what, f);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcasecmp(u, units[i].u)) {
            *ms = v * units[i].scale;
            if (*ms < 0 || *ms > 600e3)
                return cv_fail(ctx, CLEAVE_E_INVALID,
                               "link '%s': %s '%s': must be between 0 and 600 s", s, what, f);
            return CLEAVE_OK;
        }
    return cv_fail(ctx, CLEAVE_E_INVALID, "link '%s': %s '%s': unknown unit '%s' (s, ms or us)",
                   s, what, f, u);
}

cleave_status cost_link_parse(cleave_ctx *ctx, const char *s, cost_link *out) {
    if (!s || !*s) return cv_fail(ctx, CLEAVE_E_INVALID, "link '': empty (expected e.g. 3mbit,20ms)");
    size_t n = strlen(s);
    if (n >= LINK_MAX_STR)
        return cv_fail(ctx, CLEAVE_E_INVALID, "link '%.40s...': longer than %d characters", s,
                       LINK_MAX_STR - 1);
    char buf[LINK_MAX_STR];
    memcpy(buf, s, n + 1);
    char *field[3];
    int nf = 0;
    double burst = 0;
    for (char *p = buf;; p++) {
        char *f = p;
        p = strchr(p, ',');
        if (p) *p = 0;
        while (*f == ' ') f++;
        if (!strncmp(f, "burst=", 6)) { /* the shaper's token-bucket burst, bytes */
            char *e;
            burst = strtod(f + 6, &e);
            while (*e == ' ') e++;
            if (e == f + 6 || (*e && strcmp(e, "b") && strcmp(e, "B")) || !(burst >= 0 && burst <= 1e9))
                return cv_fail(ctx, CLEAVE_E_INVALID, "link '%s': '%s': expected burst=BYTES (0..1e9)", s, f);
        } else {
            if (nf == 3)
                return cv_fail(ctx, CLEAVE_E_INVALID,
                               "link '%s': more than 3 fields (expected RATE[,RTT[,OVERHEAD]][,burst=BYTES])", s);
            field[nf++] = f;
        }
        if (!p) break;
    }
    if (!nf) return cv_fail(ctx, CLEAVE_E_INVALID, "link '%s': no rate (expected e.g. 3mbit,20ms)", s);
    for (int i = 0; i < nf; i++) {
        while (*field[i] == ' ') field[i]++;
        char *e = field[i] + strlen(field[i]);
        while (e > field[i] && e[-1] == ' ') *--e = 0;
        if (!*field[i])
            return cv_fail(ctx, CLEAVE_E_INVALID,
                           "link '%s': field %d is empty (expected RATE[,RTT[,OVERHEAD]])", s, i + 1);
    }
    double mbit = 0, rtt = 0;
    CV_TRY(parse_rate(ctx, s, field[0], &mbit));
    if (nf > 1) CV_TRY(parse_time(ctx, s, "RTT", field[1], &rtt));
    cost_link l = cost_link_make(mbit, rtt);
    if (nf > 2) CV_TRY(parse_time(ctx, s, "overhead", field[2], &l.overhead_ms));
    l.burst_bytes = burst;
    *out = l;
    return CLEAVE_OK;
}

void cost_link_format(const cost_link *l, char *buf, size_t len) {
    if (l->burst_bytes > 0)
        snprintf(buf, len, "%g Mbit/s, RTT %g ms, overhead %g ms, burst %g B", l->mbit_s, l->rtt_ms,
                 l->overhead_ms, l->burst_bytes);
    else
        snprintf(buf, len, "%g Mbit/s, RTT %g ms, overhead %g ms", l->mbit_s, l->rtt_ms,
                 l->overhead_ms);
}

double cost_link_wire_bytes(const cost_link *l, double payload_bytes) {
    double eff = l->payload_efficiency > 0 && l->payload_efficiency <= 1 ? l->payload_efficiency
                                                                         : COST_LINK_EFFICIENCY;
    return (payload_bytes + l->http_bytes) / eff;
}

double cost_link_slow_start_ms(const cost_link *l, double wire_bytes) {
    if (l->init_cwnd <= 0 || l->rtt_ms <= 0 || l->mbit_s <= 0) return 0;
    double bytes_per_ms = l->mbit_s * 1e3 / 8;
    double bdp = bytes_per_ms * l->rtt_ms;
    double cwnd = (double)l->init_cwnd * COST_LINK_FRAME_BYTES, sent = 0, idle = 0;
    /* Each round sends one window, then waits for the first ACK of it (one
     * RTT after the round began) unless the window already fills the pipe. */
    for (int round = 0; round < 64 && cwnd < bdp; round++) {
        sent += cwnd;
        if (sent >= wire_bytes) break; /* last round: no wait for ACKs */
        idle += l->rtt_ms - cwnd / bytes_per_ms;
        cwnd *= 2;
    }
    return idle;
}

double cost_link_transfer_ms(const cost_link *l, double payload_bytes) {
    double wire = cost_link_wire_bytes(l, payload_bytes);
    double shaped = wire - (l->burst_bytes > 0 ? l->burst_bytes : 0);
    if (shaped < 0) shaped = 0;
    double ser_ms = l->mbit_s > 0 ? shaped * 8 / (l->mbit_s * 1e3) : 0;
    return l->overhead_ms + l->rtt_ms + ser_ms + cost_link_slow_start_ms(l, wire);
}

int64_t cost_tensor_bytes(int64_t numel, int bits) {
    if (bits < 1 || bits > 32 || numel < 0) return -1;
    if (numel > (INT64_MAX - 7) / bits) return -1;
    return (numel * bits + 7) / 8;
}

double cost_link_tensor_ms(const cost_link *l, int64_t numel, int bits, double codec_factor) {
    int64_t raw = cost_tensor_bytes(numel, bits);
    if (raw < 0 || !(codec_factor > 0) || codec_factor > 2) return -1;
    return cost_link_transfer_ms(l, ceil((double)raw * codec_factor));
}
