/* cleave run --plan (the edge client): state shared by cmd_edge.c (the
 * command, one input's round trip) and cmd_edge_adapt.c (bandwidth
 * estimate, choice of solution, the report). Private to the CLI. */
#ifndef CLEAVE_CLI_CMD_EDGE_H
#define CLEAVE_CLI_CMD_EDGE_H

#include <stdio.h>

#include <jansson.h>

#include "cli/cli_quant.h"
#include "cost/link.h"
#include "net/http_client.h"
#include "plan/split.h"

typedef struct esol {
    int built, failed;
    plan_split sp;
    rt_plan *head; /* graph inputs -> codes (non-input ones) + edge outputs */
    rt_plan *tail; /* codes -> cloud outputs, for the local answer (lazy) */
    int *head_slot; /* per crossing: head output index, or -1 = it is the graph input */
    int n_head_out;
    /* the request's JSON header, the same for every request of this
     * solution but the id (8 digits at id_off), kept from the first */
    char *req_hdr;
    size_t req_hdr_len, id_off;
} esol;

typedef struct rec {
    int idx, sol, label, pred, fallback, compressed, switched;
    double edge_ms, encode_ms, transfer_ms, server_ms, decode_ms, total_ms, pred_ms;
    double sent, wire_sent, bw;
} rec;

typedef struct bw_est {
    double mbit;     /* current estimate */
    int informative; /* samples so far */
    double last_ms;  /* time of the last informative sample */
} bw_est;

typedef struct edge_run {
    cleave_ctx *ctx;
    cli_qmodel m;
    quant_stats st;
    plan_file pf;
    esol *es;
    cost_link link;     /* plan link with the measured rate */
    bw_est bw;
    net_http_client *http;
    char infer_url[1024], ready_url[1024], probe_url[1024];
    double slowdown, rtt_ms;
    long timeout_ms;
    int compress;       /* 0 never, 1 auto, 2 always */
    int fallback_exit;
    double probe_ms;
    int server_down;
    double next_health_ms;
    int answer_out;     /* value id of the answer (last graph output) */
    FILE *log;
    int n_probes, n_switches;
    double probe_bytes;
    int pending, pending_n; /* a better solution seen pending_n decisions in a row */
    double bucket_bytes, bucket_ms; /* the shaper's token bucket after the last transfer, and
                                     * when (0: never drained, full) */
} edge_run;

typedef struct sol_summary {
    int sol, n, correct, labelled, fallbacks;
    double p50, p99, mean, edge, encode, transfer, server, decode, sent, wire;
    double pred_req; /* mean of the per-request predictions (re-priced at the estimate) */
} sol_summary;

/* cmd_edge_adapt.c */
/* Predicted ms of solution k at `mbit` (the plan's link model, rate
 * replaced): the steady state, what the choice of solution uses. */
double edge_sol_predict(const edge_run *r, int k, double mbit);
/* The same for a request of solution k starting now: the shaper's bucket
 * as the last transfers left it (a probe just before empties it), which is
 * the request's own prediction. */
double edge_sol_predict_now(const edge_run *r, int k, double mbit);
/* The bytes the shaper's bucket holds lead_ms from now (at most the link's
 * burst): what the last transfer left, refilled at the estimated rate. */
double edge_bucket_now(const edge_run *r, double lead_ms);
/* A transfer of `payload` body bytes just went, the bucket holding `before`
 * when its bytes started to leave. */
void edge_bucket_spend(edge_run *r, double payload, double before);
/* A transfer of `payload` body bytes took xfer_ms on the wire: a sample. */
void edge_bw_sample(edge_run *r, double payload, double xfer_ms);
/* POST about 30 ms of data to the server's link-test sink. */
void edge_probe(edge_run *r);
/* The solution index to run next (with hysteresis), its prediction in *pred. */
int edge_choose(edge_run *r, int cur, double *pred);
/* Percentile p (0..1) of v[0..n), interpolated; sorts v. */
double edge_pct(double *v, int n, double p);
/* Figures of solution sol (or all, sol < 0) over rv[0..n). */
void edge_summarize(const edge_run *r, const rec *rv, int n, int sol, sol_summary *s);
/* Its JSON: measured figures, the plan's prediction (with codec_ms), each
 * request's mean prediction (predicted_per_request_ms), and error_pct
 * against the one the table shows: the per-request one when adapting,
 * the plan's otherwise. */
json_t *edge_summary_json(const edge_run *r, const sol_summary *s, int adaptive);

#endif
