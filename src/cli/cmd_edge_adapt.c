/* cleave run --plan, the adaptive part and the report: the bandwidth
 * estimate from the client's own transfers and probes, the choice of
 * solution at that estimate, and the per-solution summary. docs/run.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd_edge.h"

/* ------------------------------------------------------------- bandwidth */

/* The bucket lead_ms from now: what the last transfer left, refilled at
 * mbit since, at most the burst. */
static double bucket_at(const edge_run *r, double mbit, double lead_ms) {
    double burst = r->link.burst_bytes > 0 ? r->link.burst_bytes : 0;
    if (r->bucket_ms <= 0) return burst;
    /* 1 Mbit/s = 125 bytes per ms */
    double b = r->bucket_bytes + (cv_now_ms() + lead_ms - r->bucket_ms) * mbit * 125.0;
    return b < burst ? b : burst;
}

double edge_bucket_now(const edge_run *r, double lead_ms) {
    return bucket_at(r, r->bw.mbit, lead_ms);
}

void edge_bucket_spend(edge_run *r, double payload, double before) {
    double left = before - cost_link_wire_bytes(&r->link, payload);
    r->bucket_bytes = left > 0 ? left : 0;
    r->bucket_ms = cv_now_ms();
}

/* Solution k at mbit, the request's bytes finding the bucket as it is now
 * (now) or full. */
static double sol_predict(const edge_run *r, int k, double mbit, int now) {
    const plan_file_solution *s = &r->pf.sol[k];
    cost_link l = r->link;
    l.mbit_s = mbit;
    /* the bucket when the request leaves: after the head and the first
     * half of the emulated RTT (the client sleeps it before sending) */
    if (now && l.burst_bytes > 0) l.burst_bytes = bucket_at(r, mbit, r->rtt_ms / 2 + s->edge_ms);
    double tx = s->n_cross > 0 ? cost_link_transfer_ms(&l, s->sent_bytes) : 0;
    return s->edge_ms + tx + (s->n_cross > 0 ? s->codec_ms : 0) + s->cloud_ms;
}

double edge_sol_predict_now(const edge_run *r, int k, double mbit) { return sol_predict(r, k, mbit, 1); }

double edge_sol_predict(const edge_run *r, int k, double mbit) { return sol_predict(r, k, mbit, 0); }

/* A transfer of `payload` body bytes took xfer_ms on the wire (request out,
 * reply back, no server time, no emulated RTT): a bandwidth sample when
 * enough of it had to queue behind the shaper. */
void edge_bw_sample(edge_run *r, double payload, double xfer_ms) {
    double wire = cost_link_wire_bytes(&r->link, payload) - r->link.burst_bytes;
    double t = xfer_ms - r->link.overhead_ms;
    if (wire < 4000) return;
    /* too fast to time (the shaper's burst at a high rate lets a probe
     * through at once): still a lower bound, which lifts a stale estimate */
    double m = t < 0.3 ? wire * 8 / (0.3 * 1e3) : wire * 8 / (t * 1e3);
    if (t < 0.3 && m <= r->bw.mbit) {
        r->bw.last_ms = cv_now_ms();
        return;
    }
    r->bw.mbit = r->bw.informative ? exp(0.5 * log(r->bw.mbit) + 0.5 * log(m)) : m;
    r->bw.informative++;
    r->bw.last_ms = cv_now_ms();
}

/* POST n bytes to the link-test sink; a bandwidth sample from it. The
 * transfer's ms on the wire (server time out), or -1. */
static double probe_once(edge_run *r, size_t n) {
    double wire_ms = -1;
    uint8_t *buf = cv_calloc(n, 1);
    if (!buf) return -1;
    for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)(i * 2654435761u >> 24); /* incompressible-ish */
    net_http_result res;
    double rtt = r->rtt_ms, bucket = edge_bucket_now(r, 0);
    net_http_client_set_rtt(r->http, 0);
    cleave_status s = net_http_client_post(r->http, r->probe_url, NULL, buf, n, &res);
    net_http_client_set_rtt(r->http, rtt);
    edge_bucket_spend(r, (double)n, bucket);
    cv_free(buf);
    r->n_probes++;
    r->probe_bytes += (double)n;
    if (!s && res.status == 200) {
        json_t *o = json_loadb((const char *)res.body, res.body_len, 0, NULL);
        double server = o ? json_number_value(json_object_get(o, "server_ms")) : 0;
        json_decref(o);
        wire_ms = res.t.curl_total_ms - server;
        edge_bw_sample(r, (double)n, wire_ms);
    } else {
        cleave_ctx_clear_error(r->ctx);
    }
    net_http_result_free(&res);
    return wire_ms;
}

void edge_probe(edge_run *r) {
    /* about 30 ms of data at the current estimate, 8 KB .. 32 KB: a big
     * probe sent just before the link falls would hold the next requests
     * behind it for seconds (256 KB at 1 Mbit/s: 2 s) */
    double bytes = r->bw.mbit * 1e6 / 8 * 0.03;
    if (bytes < 8192) bytes = 8192;
    if (bytes > 32768) bytes = 32768;
    double ms = probe_once(r, (size_t)bytes);
    /* Done in under 3 ms: the link is fast, and the probe went mostly in
     * the shaper's burst (25 KB at 200 Mbit/s), a coarse sample. Now that
     * the link has shown it is fast, a second one of about 30 ms at the
     * new estimate (4x the first .. 256 KB) times the rate itself. */
    if (ms >= 0 && ms < 3.0) {
        double big = r->bw.mbit * 1e6 / 8 * 0.03;
        if (big < 4 * bytes) big = 4 * bytes;
        if (big > 262144) big = 262144;
        probe_once(r, (size_t)big);
    }
}

/* The solution to run at the estimated bandwidth. Hysteresis against
 * flapping on a noisy estimate: the current one stays unless the best is
 * more than 5% faster and has been the best for two decisions in a row,
 * or the current one is predicted over 1.5x slower (a link that fell). */
int edge_choose(edge_run *r, int cur, double *pred) {
    int best = -1;
    double bt = INFINITY;
    for (int k = 0; k < r->pf.n_sol; k++) {
        if (!r->pf.sol[k].feasible || r->es[k].failed) continue;
        double t = edge_sol_predict(r, k, r->bw.mbit);
        if (t < bt) bt = t, best = k;
    }
    if (cur >= 0 && best >= 0 && best != cur && r->pf.sol[cur].feasible && !r->es[cur].failed) {
        double tc = edge_sol_predict(r, cur, r->bw.mbit);
        if (tc <= bt * 1.05) {
            r->pending = -1, r->pending_n = 0; /* a near tie: stay */
            best = cur;
        } else {
            if (best == r->pending) r->pending_n++;
            else r->pending = best, r->pending_n = 1;
            if (r->pending_n < 2 && tc <= bt * 1.5) best = cur; /* once: wait for a second look */
        }
    } else {
        r->pending = -1, r->pending_n = 0; /* the current one is the fastest */
    }
    if (best >= 0) *pred = edge_sol_predict(r, best, r->bw.mbit);
    return best;
}

/* ---------------------------------------------------------------- report */

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double edge_pct(double *v, int n, double p) {
    if (!n) return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    double i = p * (n - 1);
    int lo = (int)i;
    return lo + 1 < n ? v[lo] + (i - lo) * (v[lo + 1] - v[lo]) : v[lo];
}

void edge_summarize(const edge_run *r, const rec *rv, int n, int sol, sol_summary *s) {
    memset(s, 0, sizeof *s);
    s->sol = sol;
    double *t = cv_malloc(sizeof(double) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        const rec *x = &rv[i];
        if (sol >= 0 && x->sol != sol) continue;
        t[s->n++] = x->total_ms;
        s->mean += x->total_ms, s->edge += x->edge_ms, s->encode += x->encode_ms, s->transfer += x->transfer_ms;
        s->server += x->server_ms, s->decode += x->decode_ms, s->sent += x->sent, s->wire += x->wire_sent;
        s->pred_req += x->pred_ms;
        if (x->label >= 0) s->labelled++, s->correct += x->pred == x->label;
        s->fallbacks += x->fallback > 0;
    }
    if (s->n) {
        double d = s->n;
        s->mean /= d, s->edge /= d, s->encode /= d, s->transfer /= d, s->server /= d, s->decode /= d;
        s->sent /= d, s->wire /= d, s->pred_req /= d;
        s->p50 = edge_pct(t, s->n, 0.5);
        s->p99 = edge_pct(t, s->n, 0.99);
    }
    cv_free(t);
}

json_t *edge_summary_json(const edge_run *r, const sol_summary *s, int adaptive) {
    const plan_file_solution *p = s->sol >= 0 ? &r->pf.sol[s->sol] : NULL;
    json_t *o = json_object();
    if (p) {
        json_object_set_new(o, "solution", json_integer(p->id));
        json_object_set_new(o, "method", json_string(p->method));
        json_object_set_new(o, "recommended", json_boolean(p->recommended));
        json_object_set_new(o, "feasible", json_boolean(p->feasible));
    }
    json_object_set_new(o, "inputs", json_integer(s->n));
    if (s->labelled) json_object_set_new(o, "top1", json_real(100.0 * s->correct / s->labelled));
    json_object_set_new(o, "answered_on_device", json_integer(s->fallbacks));
    json_t *m = json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "p50_ms", s->p50, "p99_ms", s->p99, "mean_ms",
                          s->mean, "edge_ms", s->edge, "encode_ms", s->encode, "transfer_ms", s->transfer, "server_ms",
                          s->server, "decode_ms", s->decode, "body_bytes", s->sent, "wire_body_bytes", s->wire);
    json_object_set_new(o, "measured", m);
    if (p) {
        json_t *pj = json_pack("{s:f,s:f,s:f,s:f,s:f,s:f}", "total_ms", p->total_ms, "edge_ms", p->edge_ms,
                               "transfer_ms", p->transfer_ms, "codec_ms", p->codec_ms, "cloud_ms",
                               p->cloud_ms, "sent_bytes", p->sent_bytes);
        json_object_set_new(o, "predicted", pj);
        const esol *e = &r->es[s->sol];
        if (e->built && e->head) { /* the head as the engine holds it vs the plan's figure */
            json_t *mj = json_pack("{s:f,s:i,s:i}", "predicted_bytes", p->edge_memory_bytes,
                                   "engine_arena_bytes", (json_int_t)rt_plan_arena_bytes(e->head),
                                   "engine_weight_bytes", (json_int_t)rt_plan_weight_bytes(e->head));
            json_object_set_new(o, "edge_memory", mj);
        }
        if (s->n) json_object_set_new(o, "predicted_per_request_ms", json_real(s->pred_req));
        double pred = adaptive ? s->pred_req : p->total_ms;
        if (s->n && s->mean > 0)
            json_object_set_new(o, "error_pct", json_real(100.0 * (pred - s->mean) / s->mean));
    }
    return o;
}
