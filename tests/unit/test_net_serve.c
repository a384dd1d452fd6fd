/* Unit tests of the KServe v2 server (net/v2_server) in-process on loopback:
 * inference from the model input and from an intermediate tensor (float,
 * and 4-bit packed codes) equals the engine run locally; gzip/zstd bodies;
 * every malformed request is a 4xx with a message and the server keeps
 * serving; metadata, readiness, metrics, draining; a bounded concurrent
 * load (32 clients x 200 requests) with zero errors. Needs the committed
 * models/fmnist-cnn.onnx and models/fmnist-resnet.onnx. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#ifdef CLEAVE_HAVE_NET
#include <jansson.h>

#include "net/http_client.h"
#include "net/v2.h"
#include "net/v2_server.h"
#include "onnx/onnx.h"
#include "runtime/optimize.h"
#include "runtime/runtime.h"

static char base_url[128];
/* Response bodies a parsed response still points into (binary outputs),
 * freed at the end. */
static uint8_t *kept[256];
static int n_kept;

static uint64_t rng = 88172645463325252ull;
static float frand(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2 - 1;
}

/* POST a v2 request; returns the HTTP status, parses a 200 reply into r. */
static long post(net_http_client *c, const char *model, const net_v2_input *in, int n, int binary,
                 const char *encoding, net_v2_response *r, char *err, size_t errn) {
    cleave_ctx *ctx;
    cleave_ctx_create(&ctx);
    net_buf body = {0}, z = {0};
    size_t hl = 0;
    long status = -1;
    if (net_v2_request_encode(ctx, "t", in, n, NULL, 0, binary, NULL, &body, &hl)) goto done;
    const uint8_t *b = body.data;
    size_t bl = body.len;
    char h1[80], h2[64], url[256];
    const char *hd[2];
    int nh = 0;
    if (binary) {
        snprintf(h1, sizeof h1, "Inference-Header-Content-Length: %zu", hl);
        hd[nh++] = h1;
    }
    if (encoding) {
        if (net_compress(ctx, (net_encoding)net_encoding_parse(encoding), body.data, body.len, 0, &z)) goto done;
        b = z.data, bl = z.len;
        snprintf(h2, sizeof h2, "Content-Encoding: %s", encoding);
        hd[nh++] = h2;
    }
    snprintf(url, sizeof url, "%s/v2/models/%s/infer", base_url, model);
    net_http_result res;
    if (net_http_client_post_h(c, url, binary ? "application/octet-stream" : "application/json", hd, nh, b, bl,
                               &res))
        goto done;
    status = res.status;
    if (status == 200 && r)
        if (net_v2_response_parse(ctx, res.body, res.body_len, res.infer_header_len[0] ? res.infer_header_len : NULL,
                                  r))
            status = -2;
    if (err) snprintf(err, errn, "%s", res.body ? (const char *)res.body : "");
    if (status == 200 && r && n_kept < 256) {
        kept[n_kept++] = res.body;
        res.body = NULL;
    }
    net_http_result_free(&res);
done:
    if (status == -1) fprintf(stderr, "post: %s\n", cleave_ctx_error(ctx));
    net_buf_free(&body);
    net_buf_free(&z);
    cleave_ctx_destroy(ctx);
    return status;
}

/* Raw POST of a hand-made body with optional header length. */
static long post_raw(net_http_client *c, const char *path, const char *body, size_t len, const char *hlen,
                     char *reply, size_t rn) {
    char url[256], h[80];
    const char *hd[1];
    int nh = 0;
    if (hlen) {
        snprintf(h, sizeof h, "Inference-Header-Content-Length: %s", hlen);
        hd[nh++] = h;
    }
    snprintf(url, sizeof url, "%s%s", base_url, path);
    net_http_result res;
    if (net_http_client_post_h(c, url, "application/json", hd, nh, body, len, &res)) return -1;
    long st = res.status;
    if (reply) snprintf(reply, rn, "%s", res.body ? (const char *)res.body : "");
    net_http_result_free(&res);
    return st;
}

static long get(net_http_client *c, const char *path, char *reply, size_t rn) {
    char url[256];
    snprintf(url, sizeof url, "%s%s", base_url, path);
    net_http_result res;
    if (net_http_client_get(c, url, &res)) return -1;
    long st = res.status;
    if (reply) snprintf(reply, rn, "%s", res.body ? (const char *)res.body : "");
    net_http_result_free(&res);
    return st;
}

static double max_rel_diff(const cv_tensor *a, const float *b) {
    double m = 0, scale = 1e-6;
    const float *x = a->data;
    for (int64_t i = 0; i < cv_numel(a); i++)
        if (fabs(b[i]) > scale) scale = fabs(b[i]);
    for (int64_t i = 0; i < cv_numel(a); i++)
        if (fabs(x[i] - b[i]) / scale > m) m = fabs(x[i] - b[i]) / scale;
    return m;
}

/* ---- load test ---- */
typedef struct load_arg {
    int id, n, errors;
    const cv_tensor *x;
    double *lat;
} load_arg;

static void *load_thread(void *p) {
    load_arg *a = p;
    cleave_ctx *ctx;
    cleave_ctx_create(&ctx);
    net_http_client *c = NULL;
    if (net_http_client_create(ctx, NULL, &c)) {
        a->errors = a->n;
        cleave_ctx_destroy(ctx);
        return NULL;
    }
    net_v2_input in = {.name = "input", .t = a->x};
    for (int i = 0; i < a->n; i++) {
        double t0 = cv_now_ms();
        long st = post(c, "cnn", &in, 1, 1, NULL, NULL, NULL, 0);
        a->lat[i] = cv_now_ms() - t0;
        if (st != 200) a->errors++;
    }
    net_http_client_destroy(c);
    cleave_ctx_destroy(ctx);
    return NULL;
}

/* A node output past the middle of the graph that alone (with the
 * weights) determines `out`: a single-tensor cut. */
static int mid_tensor(const ir_graph *g, int out) {
    uint8_t *a = calloc((size_t)g->n_values, 1);
    int found = -1;
    for (int i = g->n_nodes / 2; i < g->n_nodes && found < 0; i++) {
        int v = g->nodes[i].out[0];
        memset(a, 0, (size_t)g->n_values);
        for (int k = 0; k < g->n_values; k++) a[k] = g->values[k].is_initializer;
        a[v] = 1;
        for (int j = 0; j < g->n_nodes; j++) {
            int ok = 1;
            for (int k = 0; k < g->nodes[j].n_in; k++)
                if (g->nodes[j].in[k] >= 0 && !a[g->nodes[j].in[k]]) ok = 0;
            if (ok)
                for (int k = 0; k < g->nodes[j].n_out; k++)
                    if (g->nodes[j].out[k] >= 0) a[g->nodes[j].out[k]] = 1;
        }
        if (a[out] && v != out) found = v;
    }
    free(a);
    return found;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(void) {
    cleave_ctx *ctx;
    if (cleave_ctx_create(&ctx)) return 1;
    const char *cnn = CLEAVE_SOURCE_DIR "/models/fmnist-cnn.onnx";
    const char *res = CLEAVE_SOURCE_DIR "/models/fmnist-resnet.onnx";
    v2_server *s = NULL;
    v2_server_opts o = {.bind_addr = "127.0.0.1", .port = 0, .workers = 2, .max_body = 1 << 20};
    CHECK(v2_server_create(ctx, &o, &s) == CLEAVE_OK);
    CHECK(v2_server_add_model(s, "cnn", NULL, cnn) == CLEAVE_OK);
    CHECK(v2_server_add_model(s, "resnet", "3", res) == CLEAVE_OK);
    CHECK(v2_server_add_model(s, "cnn", NULL, cnn) == CLEAVE_E_INVALID); /* twice */
    cleave_ctx_clear_error(ctx);
    CHECK(v2_server_add_model(s, "missing", NULL, "/nonexistent.onnx") != CLEAVE_OK);
    cleave_ctx_clear_error(ctx);
    CHECK(v2_server_start(s) == CLEAVE_OK);
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%d", v2_server_port(s));
    net_http_client *c = NULL;
    CHECK(net_http_client_create(ctx, NULL, &c) == CLEAVE_OK);
    char reply[4096];

    /* health, metadata */
    CHECK(get(c, "/v2/health/live", reply, sizeof reply) == 200 && strstr(reply, "\"live\":true"));
    CHECK(get(c, "/v2/health/ready", reply, sizeof reply) == 200 && strstr(reply, "\"ready\":true"));
    CHECK(get(c, "/v2/models/cnn", reply, sizeof reply) == 200 && strstr(reply, "\"inputs\"") &&
          strstr(reply, "\"FP32\""));
    CHECK(get(c, "/v2/models/resnet/versions/3/ready", reply, sizeof reply) == 200);
    CHECK(get(c, "/v2/models/resnet/versions/2", reply, sizeof reply) == 404 && strstr(reply, "version"));
    CHECK(get(c, "/v2/models/nope", reply, sizeof reply) == 404 && strstr(reply, "unknown model"));
    CHECK(get(c, "/v2/models/cnn/infer", reply, sizeof reply) == 405);

    /* local reference: the resnet's canonical graph, input -> mid tensor and
     * logits, mid -> logits */
    ir_graph *g = NULL;
    CHECK(onnx_load_file(ctx, res, &g) == CLEAVE_OK);
    CHECK(rt_graph_optimize(ctx, g, NULL) == CLEAVE_OK);
    int in_id = g->inputs[0];
    cv_tensor x = {.dtype = CV_F32, .ndim = 4, .dims = {1, 1, 112, 112}};
    x.data = cv_aligned_alloc(112 * 112 * 4);
    for (int i = 0; i < 112 * 112; i++) ((float *)x.data)[i] = frand();
    int logits = g->outputs[g->n_outputs - 1];
    int mid = mid_tensor(g, logits);
    CHECK(mid >= 0);
    int outs[2] = {mid, logits};
    rt_plan *p = NULL;
    CHECK(rt_plan_create(ctx, g, &in_id, 1, outs, 2, &x, NULL, &p) == CLEAVE_OK);
    CHECK(rt_plan_run(p, &x) == CLEAVE_OK);
    cv_tensor midt = *rt_plan_output(p, 0), lg = *rt_plan_output(p, 1);
    int64_t nmid = cv_numel(&midt);
    float *midv = cv_aligned_alloc((size_t)nmid * 4), *ref = cv_aligned_alloc((size_t)cv_numel(&lg) * 4);
    memcpy(midv, midt.data, (size_t)nmid * 4);
    memcpy(ref, lg.data, (size_t)cv_numel(&lg) * 4);
    midt.data = midv;
    const char *lname = g->values[logits].name;

    /* from the input, JSON and binary, plain/gzip/zstd */
    net_v2_input in = {.name = g->values[in_id].name, .t = &x};
    for (int mode = 0; mode < 4; mode++) {
        net_v2_response r;
        const char *enc = mode == 2 ? "gzip" : mode == 3 ? "zstd" : NULL;
        long st = post(c, "resnet", &in, 1, mode > 0, enc, &r, reply, sizeof reply);
        CHECK(st == 200);
        if (st != 200) {
            fprintf(stderr, "mode %d: %ld %s\n", mode, st, reply);
            continue;
        }
        CHECK(r.n_outputs >= 1);
        int k = -1;
        for (int j = 0; j < r.n_outputs; j++)
            if (!strcmp(r.outputs[j].name, lname)) k = j;
        CHECK(k >= 0);
        cv_tensor t = {0};
        if (k >= 0 && !net_v2_tensor_decode(ctx, &r.outputs[k], &t)) {
            CHECK(max_rel_diff(&t, ref) < 1e-5);
            cv_aligned_free(t.data);
        }
        CHECK(json_number_value(json_object_get(r.parameters, "server_compute_ms")) > 0);
        net_v2_response_free(&r);
    }

    /* from the mid tensor (what a cut sends) */
    rt_plan *tail = NULL;
    CHECK(rt_plan_create(ctx, g, &mid, 1, &logits, 1, &midt, NULL, &tail) == CLEAVE_OK);
    {
        net_v2_input mi = {.name = g->values[mid].name, .t = &midt};
        net_v2_response r;
        CHECK(post(c, "resnet", &mi, 1, 1, NULL, &r, reply, sizeof reply) == 200);
        cv_tensor t = {0};
        CHECK(r.n_outputs == 1 && !net_v2_tensor_decode(ctx, &r.outputs[0], &t));
        CHECK(t.data && max_rel_diff(&t, ref) < 1e-4);
        cv_aligned_free(t.data);
        net_v2_response_free(&r);
    }
    /* 4-bit codes of the mid tensor: the server's answer equals the tail
     * run here on the dequantized values */
    {
        float lo = 0, hi = 0;
        for (int64_t i = 0; i < nmid; i++) lo = midv[i] < lo ? midv[i] : lo, hi = midv[i] > hi ? midv[i] : hi;
        float scale = (hi - lo) / 15;
        int32_t zp = (int32_t)lrintf(-lo / scale);
        cv_tensor codes = midt;
        codes.dtype = CV_U8;
        uint8_t *q = cv_aligned_alloc((size_t)nmid);
        float *dq = cv_aligned_alloc((size_t)nmid * 4);
        for (int64_t i = 0; i < nmid; i++) {
            long v = lrintf(midv[i] / scale) + zp;
            q[i] = (uint8_t)(v < 0 ? 0 : v > 15 ? 15 : v);
            dq[i] = scale * (float)((int32_t)q[i] - zp);
        }
        codes.data = q;
        cv_tensor dqt = midt;
        dqt.data = dq;
        CHECK(rt_plan_run(tail, &dqt) == CLEAVE_OK);
        const cv_tensor *lt = rt_plan_output(tail, 0);
        net_v2_input mi = {.name = g->values[mid].name, .t = &codes, .quant_bits = 4, .quant_scale = scale,
                           .quant_zero_point = zp};
        net_v2_response r;
        CHECK(post(c, "resnet", &mi, 1, 1, "zstd", &r, reply, sizeof reply) == 200);
        cv_tensor t = {0};
        CHECK(r.n_outputs == 1 && !net_v2_tensor_decode(ctx, &r.outputs[0], &t));
        CHECK(t.data && max_rel_diff(&t, lt->data) < 1e-4);
        cv_aligned_free(t.data);
        net_v2_response_free(&r);
        /* the wrong shape for that tensor */
        codes.dims[2] += 1;
        uint8_t *q2 = cv_calloc((size_t)cv_numel(&codes), 1);
        codes.data = q2;
        CHECK(post(c, "resnet", &mi, 1, 1, NULL, NULL, reply, sizeof reply) == 400 && strstr(reply, "shape"));
        cv_free(q2);
        cv_aligned_free(q);
        cv_aligned_free(dq);
    }

    /* bad requests: each a 4xx with a message; the server keeps serving */
    const char *malformed = "{\"inputs\": [";
    CHECK(post_raw(c, "/v2/models/cnn/infer", malformed, strlen(malformed), NULL, reply, sizeof reply) == 400 &&
          strstr(reply, "error"));
    const char *baddt =
        "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,1,28,28],\"datatype\":\"INT32\",\"data\":[1]}]}";
    long st = post_raw(c, "/v2/models/cnn/infer", baddt, strlen(baddt), NULL, reply, sizeof reply);
    CHECK(st == 400);
    const char *unk = "{\"inputs\":[{\"name\":\"nosuch\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}";
    CHECK(post_raw(c, "/v2/models/cnn/infer", unk, strlen(unk), NULL, reply, sizeof reply) == 400 &&
          strstr(reply, "nosuch"));
    CHECK(post_raw(c, "/v2/models/zzz/infer", unk, strlen(unk), NULL, reply, sizeof reply) == 404);
    {
        /* truncated binary: header says 4 floats follow, 2 do */
        char b[512];
        int hl = snprintf(b, sizeof b,
                          "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,1,2,2],\"datatype\":\"FP32\","
                          "\"parameters\":{\"binary_data_size\":16}}]}");
        memset(b + hl, 0, 8);
        char hs[16];
        snprintf(hs, sizeof hs, "%d", hl);
        CHECK(post_raw(c, "/v2/models/cnn/infer", b, (size_t)hl + 8, hs, reply, sizeof reply) == 400);
        /* wrong dtype for the model (UINT8 image) */
        hl = snprintf(b, sizeof b,
                      "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,1,28,28],\"datatype\":\"UINT8\","
                      "\"parameters\":{\"binary_data_size\":784}}]}");
        char *big = calloc(1, (size_t)hl + 784);
        memcpy(big, b, (size_t)hl);
        snprintf(hs, sizeof hs, "%d", hl);
        CHECK(post_raw(c, "/v2/models/cnn/infer", big, (size_t)hl + 784, hs, reply, sizeof reply) == 400 &&
              strstr(reply, "datatype"));
        free(big);
    }
    {
        /* over the 1 MiB body cap */
        size_t n = (size_t)2 << 20;
        char *big = calloc(1, n);
        CHECK(post_raw(c, "/v2/models/cnn/infer", big, n, NULL, reply, sizeof reply) == 413);
        free(big);
    }
    CHECK(get(c, "/v2/health/ready", reply, sizeof reply) == 200);

    /* concurrent load on the small model */
    cv_tensor xc = {.dtype = CV_F32, .ndim = 4, .dims = {1, 1, 28, 28}};
    xc.data = cv_aligned_alloc(784 * 4);
    for (int i = 0; i < 784; i++) ((float *)xc.data)[i] = frand();
    enum { NT = 32, NR = 200 };
    pthread_t th[NT];
    load_arg la[NT];
    double *lat = calloc(NT * NR, sizeof *lat);
    double t0 = cv_now_ms();
    for (int i = 0; i < NT; i++) {
        la[i] = (load_arg){.id = i, .n = NR, .x = &xc, .lat = lat + i * NR};
        pthread_create(&th[i], NULL, load_thread, &la[i]);
    }
    int errors = 0;
    for (int i = 0; i < NT; i++) {
        pthread_join(th[i], NULL);
        errors += la[i].errors;
    }
    double wall = cv_now_ms() - t0;
    qsort(lat, NT * NR, sizeof *lat, cmp_d);
    printf("load: %d clients x %d requests in %.0f ms (%.0f req/s), %d errors, p50 %.2f ms, p99 %.2f ms\n", NT, NR,
           wall, NT * NR / (wall / 1e3), errors, lat[NT * NR / 2], lat[NT * NR * 99 / 100]);
    CHECK(errors == 0);
    free(lat);

    /* metrics count what happened */
    {
        char m[16384];
        CHECK(get(c, "/metrics", m, sizeof m) == 200);
        char want[128];
        snprintf(want, sizeof want, "cleave_requests_total{model=\"cnn\",code=\"2xx\"} %d", NT * NR);
        CHECK(strstr(m, want) != NULL);
        CHECK(strstr(m, "cleave_request_duration_seconds_bucket{model=\"resnet\",le=\"+Inf\"}") != NULL);
    }

    /* draining: not ready, inference refused with 503 */
    CHECK(v2_server_drain(s, 1000) == 0);
    CHECK(get(c, "/v2/health/ready", reply, sizeof reply) == 503);
    {
        net_v2_input ci = {.name = "input", .t = &xc};
        CHECK(post(c, "cnn", &ci, 1, 1, NULL, NULL, reply, sizeof reply) == 503 && strstr(reply, "shutting down"));
    }

    net_http_client_destroy(c);
    v2_server_destroy(s);
    rt_plan_destroy(p);
    rt_plan_destroy(tail);
    ir_graph_destroy(g);
    cv_aligned_free(x.data);
    cv_aligned_free(xc.data);
    cv_aligned_free(midv);
    cv_aligned_free(ref);
    for (int i = 0; i < n_kept; i++) cv_free(kept[i]);
    cleave_ctx_destroy(ctx);
    return check_summary("test_net_serve");
}
#else
int main(void) {
    printf("test_net_serve: skipped (built without the net module)\n");
    return 77;
}
#endif
