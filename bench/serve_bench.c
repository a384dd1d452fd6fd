/* serve_bench: the issue-7 bar "server overhead (HTTP + decode) < 5% of
 * tail compute for resnet18 at batch 1". A v2_server runs in-process on
 * loopback (1 worker, 1 engine thread); a kept-alive libcurl client POSTs
 * binary bodies: the model input, and a single-tensor cut after layer2 as
 * float32 and as 8- and 4-bit packed codes (so the decode of packed
 * tensors is measured). Per case the medians of the server's compute and
 * decode times, the response encode, the client round trip, overhead =
 * round trip - compute per request, the server's own time beyond compute
 * (from /metrics), and HTTP alone (the same body to the link-test sink).
 * Usage: serve_bench MODEL.onnx [--n N] [--warmup W] [--json]; a missing
 * model is a skip (make models). Figures: docs/serve.md. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base/npy.h"
#include "ir/extract.h"
#include "net/http_client.h"
#include "net/v2.h"
#include "net/v2_server.h"
#include "onnx/onnx.h"
#include "runtime/optimize.h"
#include "runtime/runtime.h"

static uint64_t s_ = 88172645463325252ull;
static float frand(void) {
    s_ ^= s_ << 13, s_ ^= s_ >> 7, s_ ^= s_ << 17;
    return (float)((s_ >> 11) * (1.0 / 9007199254740992.0)) * 2 - 1;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of n values (sorted in place). */
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* 1 when v alone (with the weights) determines `out`: a single-tensor cut. */
static int single_cut(const ir_graph *g, int v, int out) {
    uint8_t *a = ir_graph_computable(g, &v, 1);
    int cut = a && a[out] && v != out;
    cv_free(a);
    return cut;
}

/* The cut tensor: the last single-tensor cut of shape 1x128x28x28 (resnet18's
 * layer2 output), else the first single-tensor cut past the middle. */
static int find_cut(const ir_graph *g, const rt_plan *p, int out) {
    int layer2 = -1, mid = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].dead || g->nodes[i].n_out < 1) continue;
        int v = g->nodes[i].out[0];
        const cv_tensor *t = v >= 0 ? rt_plan_value(p, v) : NULL;
        if (!t || t->dtype != CV_F32 || !single_cut(g, v, out)) continue;
        if (t->ndim == 4 && t->dims[0] == 1 && t->dims[1] == 128 && t->dims[2] == 28 && t->dims[3] == 28)
            layer2 = v;
        if (mid < 0 && i >= g->n_nodes / 2) mid = v;
    }
    return layer2 >= 0 ? layer2 : mid;
}

/* Asymmetric min/max quantization of x to `bits`-bit codes (uint8 tensor). */
static void quantize(const cv_tensor *x, int bits, cv_tensor *codes, float *scale, int32_t *zp) {
    const float *v = x->data;
    int64_t n = cv_numel(x);
    float lo = 0, hi = 0;
    for (int64_t i = 0; i < n; i++) lo = v[i] < lo ? v[i] : lo, hi = v[i] > hi ? v[i] : hi;
    int qmax = (1 << bits) - 1;
    *scale = hi > lo ? (hi - lo) / (float)qmax : 1;
    *zp = (int32_t)lrintf(-lo / *scale);
    *codes = *x;
    codes->dtype = CV_U8;
    codes->data = cv_aligned_alloc((size_t)n);
    uint8_t *q = codes->data;
    for (int64_t i = 0; q && i < n; i++) {
        long c = lrintf(v[i] / *scale) + *zp;
        q[i] = (uint8_t)(c < 0 ? 0 : c > qmax ? qmax : c);
    }
}

static double max_rel_diff(const float *a, const float *b, int64_t n) {
    double m = 0, s = 1e-6;
    for (int64_t i = 0; i < n; i++) s = fabs(b[i]) > s ? fabs(b[i]) : s;
    for (int64_t i = 0; i < n; i++) m = fabs(a[i] - b[i]) / s > m ? fabs(a[i] - b[i]) / s : m;
    return m;
}

typedef struct bench_case {
    const char *what;
    net_v2_input in;
    int binary;
    int reps;
    const float *ref; /* expected logits (float cases), or NULL */
    int64_t n_ref;
    int in_bar;
    /* results (medians, ms) */
    size_t bytes;
    double compute, decode, queue, compile, encode, rt, over, parse;
    double http, http_idle; /* the same body to the link-test sink (run_case) */
    double server;          /* mean of the server's request time - compute */
} bench_case;

static double param(const net_v2_response *r, const char *k) {
    return json_number_value(json_object_get(r->parameters, k));
}

/* From the server's /metrics, for model resnet18: [0] the sum of request
 * durations (headers read to reply queued), [1] the sum of compute times,
 * both in ms, [2] the number of requests; 0 on success. */
static int scrape(net_http_client *cl, const char *base, double v[3]) {
    static const char *const key[3] = {"cleave_request_duration_seconds_sum{model=\"resnet18\"} ",
                                       "cleave_compute_seconds_sum{model=\"resnet18\"} ",
                                       "cleave_request_duration_seconds_count{model=\"resnet18\"} "};
    char u[160];
    snprintf(u, sizeof u, "%s/metrics", base);
    net_http_result res;
    if (net_http_client_get(cl, u, &res)) return 1;
    int found = 0;
    for (int k = 0; k < 3 && res.status == 200; k++) {
        const char *at = strstr((const char *)res.body, key[k]);
        if (at) v[k] = strtod(at + strlen(key[k]), NULL) * (k < 2 ? 1e3 : 1), found++;
    }
    net_http_result_free(&res);
    return found != 3;
}

/* Warm up, then time c->reps requests of one body; 0 on success. */
static int run_case(cleave_ctx *ctx, net_http_client *cl, const char *base, bench_case *c, int warm) {
    net_buf body = {0}, enc = {0};
    size_t hl = 0;
    int rc = 1, n = c->reps;
    double *v = calloc((size_t)n * 8, sizeof *v), *col = malloc(sizeof *col * (size_t)n);
    if (!v || !col || net_v2_request_encode(ctx, "bench", &c->in, 1, NULL, 0, c->binary, NULL, &body, &hl)) goto out;
    c->bytes = body.len;
    char h[80];
    const char *hd[1] = {h};
    snprintf(h, sizeof h, "Inference-Header-Content-Length: %zu", hl);
    const char *ctype = c->binary ? "application/octet-stream" : "application/json";
    char url[160], sink[160];
    snprintf(url, sizeof url, "%s/v2/models/resnet18/infer", base);
    snprintf(sink, sizeof sink, "%s/cleave/linktest", base);
    double m0[3], m1[3];
    for (int i = -warm; i < n; i++) {
        if (i == 0 && scrape(cl, base, m0)) {
            fprintf(stderr, "%s: cannot read the server's /metrics\n", c->what);
            goto out;
        }
        net_http_result res;
        double t0 = cv_now_ms();
        if (net_http_client_post_h(cl, url, ctype, hd, c->binary ? 1 : 0, body.data, body.len, &res)) goto out;
        double t1 = cv_now_ms();
        net_v2_response r;
        if (res.status != 200 ||
            net_v2_response_parse(ctx, res.body, res.body_len, res.infer_header_len[0] ? res.infer_header_len : NULL,
                                  &r)) {
            fprintf(stderr, "%s: HTTP %ld: %.300s %s\n", c->what, res.status, res.body ? (char *)res.body : "",
                    cleave_ctx_error(ctx));
            net_http_result_free(&res);
            goto out;
        }
        double t2 = cv_now_ms();
        cv_tensor o = {0};
        /* binary outputs point into res.body: decode before freeing it */
        cleave_status dst = r.n_outputs == 1 ? net_v2_tensor_decode(ctx, &r.outputs[0], &o) : CLEAVE_E_INVALID;
        net_http_result_free(&res);
        if (dst) {
            fprintf(stderr, "%s: expected one decodable output: %s\n", c->what, cleave_ctx_error(ctx));
            net_v2_response_free(&r);
            goto out;
        }
        if (i == 0 && c->ref) {
            double d = cv_numel(&o) == c->n_ref ? max_rel_diff(o.data, c->ref, c->n_ref) : INFINITY;
            if (!(d < 1e-4)) {
                fprintf(stderr, "%s: the logits differ from the local run (max rel diff %.3g)\n", c->what, d);
                cv_aligned_free(o.data);
                net_v2_response_free(&r);
                goto out;
            }
        }
        if (i >= 0) {
            /* what the server spends encoding this reply, measured here on
             * the same tensor with the same function */
            const char *name = r.outputs[0].name;
            int bin = c->binary;
            json_t *par = json_pack("{s:f,s:f,s:f,s:f,s:b}", "server_compute_ms", 1.0, "server_decode_ms", 1.0,
                                    "server_queue_ms", 1.0, "server_compile_ms", 0.0, "plan_compiled", 0);
            size_t ehl;
            double te = cv_now_ms();
            cleave_status st = net_v2_response_encode(ctx, "resnet18", "1", "bench", &o, &name, &bin, 1, par, &enc, &ehl);
            double te1 = cv_now_ms();
            json_decref(par);
            if (st) {
                cv_aligned_free(o.data);
                net_v2_response_free(&r);
                goto out;
            }
            double *row = v + (size_t)i * 8;
            row[0] = param(&r, "server_compute_ms");
            row[1] = param(&r, "server_decode_ms");
            row[2] = param(&r, "server_queue_ms");
            row[3] = param(&r, "server_compile_ms");
            row[4] = te1 - te;
            row[5] = t1 - t0;
            row[6] = row[5] - row[0];
            row[7] = t2 - t1;
        }
        cv_aligned_free(o.data);
        net_v2_response_free(&r);
    }
    if (scrape(cl, base, m1) || m1[2] - m0[2] != n) {
        fprintf(stderr, "%s: cannot read the server's /metrics\n", c->what);
        goto out;
    }
    /* the server's own time per request beyond the engine's (a mean): from
     * its request headers read to its reply queued, minus compute */
    c->server = (m1[0] - m0[0] - (m1[1] - m0[1])) / n;
    /* column-wise medians */
    double *dst[8] = {&c->compute, &c->decode, &c->queue, &c->compile, &c->encode, &c->rt, &c->over, &c->parse};
    for (int k = 0; k < 8; k++) {
        for (int i = 0; i < n; i++) col[i] = v[(size_t)i * 8 + k];
        *dst[k] = median(col, n);
    }
    /* the same body to the server's link-test sink (reads it, answers a few
     * bytes): what HTTP alone costs for this body on this connection, with
     * the sink answering at once, and sleeping as long as the inference
     * computes (round trip - its server_ms): threads that sleep that long
     * take longer to wake (idle CPUs), a cost of the platform, not of the
     * server's work */
    for (int idle = 0; idle < 2; idle++) {
        char su[256];
        snprintf(su, sizeof su, "%s?delay_ms=%.3f", sink, idle ? c->compute : 0.0);
        for (int i = -warm; i < n; i++) {
            net_http_result res;
            double t0 = cv_now_ms();
            if (net_http_client_post_h(cl, su, ctype, NULL, 0, body.data, body.len, &res)) goto out;
            double t1 = cv_now_ms();
            json_t *j = res.status == 200 ? json_loadb((const char *)res.body, res.body_len, 0, NULL) : NULL;
            double server_ms = json_number_value(json_object_get(j, "server_ms"));
            json_decref(j);
            long status = res.status;
            net_http_result_free(&res);
            if (status != 200) {
                fprintf(stderr, "%s: link-test sink: HTTP %ld\n", c->what, status);
                goto out;
            }
            if (i >= 0) col[i] = t1 - t0 - server_ms;
        }
        *(idle ? &c->http_idle : &c->http) = median(col, n);
    }
    rc = 0;
out:
    if (rc && cleave_ctx_error(ctx)[0]) fprintf(stderr, "%s: %s\n", c->what, cleave_ctx_error(ctx));
    free(v);
    free(col);
    net_buf_free(&body);
    net_buf_free(&enc);
    return rc;
}

static double loadavg(void) {
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1;
        fclose(f);
    }
    return l;
}

int main(int argc, char **argv) {
    const char *path = NULL;
    int n = 50, warm = 5, json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc) n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warm = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json")) json = 1;
        else if (argv[i][0] != '-' && !path) path = argv[i];
        else {
            fprintf(stderr, "usage: serve_bench MODEL.onnx [--n N] [--warmup W] [--json]\n");
            return 2;
        }
    }
    if (!path || n < 1 || n > 100000 || warm < 0) {
        fprintf(stderr, "usage: serve_bench MODEL.onnx [--n N (1..100000)] [--warmup W] [--json]\n");
        return 2;
    }
    if (access(path, R_OK)) {
        printf("serve_bench: %s not found (make models exports it): skipped\n", path);
        return 0;
    }
    cleave_ctx *ctx;
    if (cleave_ctx_create(&ctx)) return 1;
    cleave_ctx_set_threads(ctx, 1);
    int rc = 1;
    ir_graph *g = NULL;
    rt_plan *p = NULL, *pm = NULL;
    v2_server *s = NULL;
    net_http_client *cl = NULL;
    cv_tensor x = {0}, c8 = {0}, c4 = {0};
    float *ref = NULL, *midv = NULL;
    if (onnx_load_file(ctx, path, &g) || rt_graph_optimize(ctx, g, NULL)) goto out;

    /* the input: the exported one next to the model when there, else random */
    int in_id = -1;
    for (int k = 0; k < g->n_inputs && in_id < 0; k++)
        if (!g->values[g->inputs[k]].is_initializer) in_id = g->inputs[k];
    int logits = g->outputs[0];
    char npy[4096];
    snprintf(npy, sizeof npy, "%.*s.input.npy", (int)(strlen(path) > 5 ? strlen(path) - 5 : strlen(path)), path);
    const char *xsrc = "random";
    if (!access(npy, R_OK) && !cv_npy_load(ctx, npy, &x)) xsrc = npy;
    else {
        cleave_ctx_clear_error(ctx);
        const ir_value *iv = &g->values[in_id];
        x = (cv_tensor){.dtype = CV_F32, .ndim = iv->ndim};
        for (int d = 0; d < iv->ndim; d++) x.dims[d] = iv->dims[d] > 0 ? iv->dims[d] : 1;
        x.data = cv_aligned_alloc((size_t)cv_numel(&x) * 4);
        if (!x.data) goto out;
        for (int64_t i = 0; i < cv_numel(&x); i++) ((float *)x.data)[i] = frand();
    }

    /* local reference: logits, the cut tensor's values */
    if (rt_plan_create(ctx, g, &in_id, 1, &logits, 1, &x, NULL, &p) || rt_plan_run(p, &x)) goto out;
    const cv_tensor *lt = rt_plan_output(p, 0);
    int64_t n_ref = cv_numel(lt);
    ref = malloc((size_t)n_ref * 4);
    if (!ref) goto out;
    memcpy(ref, lt->data, (size_t)n_ref * 4);
    int mid = find_cut(g, p, logits);
    if (mid < 0) {
        fprintf(stderr, "serve_bench: %s has no single-tensor cut\n", path);
        goto out;
    }
    if (rt_plan_create(ctx, g, &in_id, 1, &mid, 1, &x, NULL, &pm) || rt_plan_run(pm, &x)) goto out;
    cv_tensor mt = *rt_plan_output(pm, 0);
    midv = cv_aligned_alloc((size_t)cv_numel(&mt) * 4);
    if (!midv) goto out;
    memcpy(midv, mt.data, (size_t)cv_numel(&mt) * 4);
    mt.data = midv;
    float sc8, sc4;
    int32_t zp8, zp4;
    quantize(&mt, 8, &c8, &sc8, &zp8);
    quantize(&mt, 4, &c4, &sc4, &zp4);
    if (!c8.data || !c4.data) goto out;

    v2_server_opts so = {.bind_addr = "127.0.0.1", .port = 0, .workers = 1, .threads = 1};
    if (v2_server_create(ctx, &so, &s) || v2_server_add_model(s, "resnet18", NULL, path) || v2_server_start(s) ||
        net_http_client_create(ctx, NULL, &cl))
        goto out;
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", v2_server_port(s));

    const char *in_name = g->values[in_id].name, *mid_name = g->values[mid].name;
    int nj = n / 5 > 5 ? n / 5 : 5;
    bench_case cases[] = {
        {.what = "input fp32", .in = {.name = in_name, .t = &x}, .binary = 1, .reps = n, .ref = ref, .n_ref = n_ref,
         .in_bar = 1},
        {.what = "cut fp32", .in = {.name = mid_name, .t = &mt}, .binary = 1, .reps = n, .ref = ref,
         .n_ref = n_ref, .in_bar = 1},
        {.what = "cut 8-bit packed", .in = {.name = mid_name, .t = &c8, .quant_bits = 8, .quant_scale = sc8,
                                           .quant_zero_point = zp8},
         .binary = 1, .reps = n, .in_bar = 1},
        {.what = "cut 4-bit packed", .in = {.name = mid_name, .t = &c4, .quant_bits = 4, .quant_scale = sc4,
                                           .quant_zero_point = zp4},
         .binary = 1, .reps = n, .in_bar = 1},
        {.what = "input fp32 as JSON", .in = {.name = in_name, .t = &x}, .binary = 0, .reps = nj, .ref = ref,
         .n_ref = n_ref},
    };
    int n_cases = (int)(sizeof cases / sizeof cases[0]) - (json ? 0 : 1);
    char sb[2][96];
    const char *b = strrchr(path, '/');
    printf("serve_bench: %s batch 1 (input %s from %s); server in-process on 127.0.0.1, 1 worker x 1 engine "
           "thread; kept-alive libcurl client; %d requests per case after %d warm-up; load average %.2f at start\n",
           b ? b + 1 : path, cv_shape_str(x.ndim, x.dims, sb[0], sizeof sb[0]), xsrc, n, warm, loadavg());
    printf("cut: '%s' %s (a single-tensor cut; layer2's output for resnet18)\n", mid_name,
           cv_shape_str(mt.ndim, mt.dims, sb[1], sizeof sb[1]));
    printf("%-20s %8s %8s %7s %6s %7s %7s %10s %9s %7s %7s %7s %7s\n", "case", "bytes", "compute", "decode",
           "queue", "encode", "server", "round-trip", "overhead", "% comp", "server%", "http", "h-idle");
    for (int k = 0; k < n_cases; k++) {
        bench_case *c = &cases[k];
        if (run_case(ctx, cl, base, c, k == 4 ? 1 : warm)) goto out;
        printf("%-20s %8zu %8.3f %7.3f %6.3f %7.3f %7.3f %10.3f %9.3f %6.2f%% %6.2f%% %7.3f %7.3f\n", c->what,
               c->bytes, c->compute, c->decode, c->queue, c->encode, c->server, c->rt, c->over,
               100 * c->over / c->compute, 100 * c->server / c->compute, c->http, c->http_idle);
        fflush(stdout);
    }
    printf("(ms, medians over the requests unless said. compute, decode, queue: the server's server_compute_ms, "
           "server_decode_ms (decompression, JSON parse, copy or dequantization, checks), server_queue_ms; "
           "encode: net_v2_response_encode of the same reply, timed here; server: the server's own time beyond "
           "compute, request headers read to reply queued (mean, from /metrics); round-trip: the client's POST "
           "call; overhead: round-trip - server_compute_ms per request, i.e. both HTTP transfers, thread "
           "wake-ups, decode, queue, encode; http / h-idle: the same body POSTed to the server's /cleave/linktest "
           "sink answering at once / after sleeping as long as compute (minus that sleep): HTTP alone, with threads "
           "kept busy / waking from idle as after an inference)\n");
    for (int k = 0; k < n_cases; k++) {
        const bench_case *c = &cases[k];
        if (!c->in_bar) continue;
        printf("bar%s%s%s: overhead %.1f%% of %scompute (goal < 5%%), %.3f of %.3f ms: %s; the server's own "
               "share %.1f%% (%.3f ms)\n", k ? " (" : "", k ? c->what : "", k ? ")" : "", 100 * c->over / c->compute,
               k ? "tail " : "", c->over, c->compute, c->over < 0.05 * c->compute ? "met" : "NOT met",
               100 * c->server / c->compute, c->server);
    }
    rc = 0;
out:
    if (rc && cleave_ctx_error(ctx)[0]) fprintf(stderr, "serve_bench: %s\n", cleave_ctx_error(ctx));
    net_http_client_destroy(cl);
    v2_server_destroy(s);
    rt_plan_destroy(p);
    rt_plan_destroy(pm);
    ir_graph_destroy(g);
    cv_aligned_free(x.data);
    cv_aligned_free(c8.data);
    cv_aligned_free(c4.data);
    cv_aligned_free(midv);
    free(ref);
    cleave_ctx_destroy(ctx);
    return rc;
}
