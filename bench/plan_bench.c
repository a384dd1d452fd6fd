/* plan_bench: planning time (issue 6 bars: resnet50, all cuts x bit
 * allocation, < 100 ms; a synthetic 1,000-node DAG < 1 s). The model's
 * real DAG and layers are used; node times and distortion tables are
 * seeded random numbers (the search's work does not depend on their
 * values, only on the graph). Usage: plan_bench [MODEL.onnx ...]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cost/cost.h"
#include "onnx/onnx.h"
#include "plan/planner.h"
#include "quant/qgraph.h"
#include "runtime/optimize.h"

static uint64_t s_ = 12345;
static double urand(void) {
    s_ ^= s_ << 13, s_ ^= s_ >> 7, s_ ^= s_ << 17;
    return (double)(s_ >> 11) / 9007199254740992.0;
}

/* Random times and tables for pb's DAG and layers; run and time the search. */
static int run(cleave_ctx *ctx, const char *what, plan_problem *pb, int reps) {
    int n = pb->dag->n_nodes, L = pb->n_layers;
    double *e32 = malloc(sizeof(double) * (size_t)n), *e8 = malloc(sizeof(double) * (size_t)n),
           *cl = malloc(sizeof(double) * (size_t)n);
    quant_distortion *w = malloc(sizeof *w * (size_t)L * 4), *a = malloc(sizeof *a * (size_t)L * 4);
    for (int i = 0; i < n; i++) e32[i] = 0.1 + urand() * 5, e8[i] = e32[i] * 0.4, cl[i] = e32[i] * 0.05;
    for (int k = 0; k < L * 4; k++) {
        int b = 2 + 2 * (k % 4);
        w[k].mse = pb->layers[k / 4].weight >= 0 ? 1e-3 * pow(4.0, -b) * 256 * (0.5 + urand()) : NAN;
        a[k].mse = 1e-3 * pow(4.0, -b) * 256 * (0.5 + urand());
        w[k].flip = a[k].flip = 0;
    }
    quant_table t = {.n_layers = L, .n_bits = 4, .bits = {2, 4, 6, 8}, .w = w, .a = a};
    pb->table = &t;
    pb->edge_fp32_ms = e32, pb->edge_int8_ms = e8, pb->cloud_ms = cl;
    double best = 1e300;
    plan_result r;
    memset(&r, 0, sizeof r);
    for (int k = 0; k < reps; k++) {
        plan_result_free(&r);
        double t0 = cv_now_ms();
        if (plan_search(ctx, pb, &r)) {
            fprintf(stderr, "%s: %s\n", what, cleave_ctx_error(ctx));
            return 1;
        }
        double dt = cv_now_ms() - t0;
        if (dt < best) best = dt;
    }
    printf("%-28s %6d nodes %6d layers  cuts %8ld%s  kept %6d  front %4d  plan %8.2f ms (best of %d)\n", what, n,
           L, r.cuts_total, r.cuts_prefix_fallback ? " (prefixes)" : "", r.cuts_kept, r.n_front, best, reps);
    plan_result_free(&r);
    free(e32), free(e8), free(cl), free(w), free(a);
    return 0;
}

static void defaults(plan_problem *pb) {
    pb->kappa = 1;
    pb->link = cost_link_make(3, 20);
    pb->mem_budget = 4.0 * 1024 * 1024;
    pb->max_drop = 1.0;
    pb->bits[0] = 2, pb->bits[1] = 4, pb->bits[2] = 6, pb->bits[3] = 8;
    pb->n_bits = 4;
    pb->input_bits = 8;
    pb->cut_cap = 20000;
    pb->act_widths = 1; /* as `cleave plan` (CLEAVE_PLAN_ACT8=1: the 8-bit-only search) */
    const char *a8 = getenv("CLEAVE_PLAN_ACT8");
    if (a8 && *a8 == '1') pb->act_widths = 0;
}

static int model(cleave_ctx *ctx, const char *path) {
    ir_graph *g = NULL;
    rt_plan *p = NULL;
    plan_dag *d = NULL;
    cost_features *f = NULL;
    quant_layer *l = NULL;
    int nl = 0, nf = 0, rc = 1;
    cv_tensor in[1];
    memset(in, 0, sizeof in);
    if (onnx_load_file(ctx, path, &g) || rt_graph_optimize(ctx, g, NULL)) goto out;
    int v = -1;
    for (int k = 0; k < g->n_inputs && v < 0; k++)
        if (!g->values[g->inputs[k]].is_initializer) v = g->inputs[k];
    in[0].dtype = CV_F32;
    in[0].ndim = g->values[v].ndim;
    for (int k = 0; k < in[0].ndim; k++) in[0].dims[k] = g->values[v].dims[k] > 0 ? g->values[v].dims[k] : 1;
    if (rt_plan_create(ctx, g, NULL, 0, NULL, 0, in, NULL, &p) || plan_dag_from_plan(ctx, g, p, &d) ||
        cost_features_from_plan(ctx, g, p, &f, &nf) || quant_layers_find(ctx, g, p, &l, &nl))
        goto out;
    int *nlay = malloc(sizeof(int) * (size_t)d->n_nodes), *tlay = malloc(sizeof(int) * (size_t)d->n_tensors);
    plan_map_layers(g, d, l, nl, nlay, tlay);
    plan_problem pb = {.dag = d, .feat = f, .layers = l, .n_layers = nl, .node_layer = nlay, .tensor_layer = tlay};
    defaults(&pb);
    const char *b = strrchr(path, '/');
    rc = run(ctx, b ? b + 1 : path, &pb, 5);
    free(nlay), free(tlay);
out:
    if (rc && cleave_ctx_error(ctx)[0]) fprintf(stderr, "%s: %s\n", path, cleave_ctx_error(ctx));
    cv_free(l), cv_free(f);
    plan_dag_destroy(d);
    rt_plan_destroy(p);
    ir_graph_destroy(g);
    return rc;
}

/* A synthetic DAG of n nodes in blocks of four (stem, two parallel
 * branches, a join that also reads the stem). */
static int synthetic(cleave_ctx *ctx, int n) {
    int (*e)[3] = malloc(sizeof *e * (size_t)(3 * n + 2));
    int64_t *numel = malloc(sizeof(int64_t) * (size_t)(n + 1));
    int ne = 0;
    numel[0] = 150528;
    /* blocks of four: a stem node, two parallel branches reading it, and a
     * join reading both branches and (residual) the stem */
    for (int i = 0; i < n; i++) {
        numel[i + 1] = 1000 + (int64_t)(urand() * 200000);
        int r = i % 4, b = i - r;
        if (r == 0 || r == 1) e[ne][0] = i - 1 - (r == 1 ? 0 : 0), e[ne][1] = i, e[ne][2] = i, ne++;
        else if (r == 2) e[ne][0] = b, e[ne][1] = i, e[ne][2] = b + 1, ne++;
        else {
            e[ne][0] = b + 1, e[ne][1] = i, e[ne][2] = b + 2, ne++;
            e[ne][0] = b + 2, e[ne][1] = i, e[ne][2] = b + 3, ne++;
            e[ne][0] = b, e[ne][1] = i, e[ne][2] = b + 1, ne++;
        }
    }
    e[ne][0] = n - 1, e[ne][1] = -1, e[ne][2] = n, ne++;
    plan_dag *d = NULL;
    if (plan_dag_build(ctx, n, n + 1, numel, (const int(*)[3])e, ne, NULL, 0, &d)) return 1;
    /* every node a weighted layer; every tensor but the output an activation */
    quant_layer *l = calloc((size_t)n + 1, sizeof *l);
    cost_features *f = calloc((size_t)n, sizeof *f);
    int *nlay = malloc(sizeof(int) * (size_t)n), *tlay = malloc(sizeof(int) * (size_t)(n + 1));
    for (int k = 0; k <= n; k++) l[k].node = k - 1, l[k].weight = k ? 1 : -1, l[k].w_numel = k ? 1000 + (int64_t)(urand() * 50000) : 0;
    for (int i = 0; i < n; i++) nlay[i] = i + 1, f[i].param_bytes = 4.0 * (double)l[i + 1].w_numel + 256, f[i].cout = 64;
    for (int t = 0; t < n; t++) tlay[t] = t;
    tlay[n] = -1;
    plan_problem pb = {.dag = d, .feat = f, .layers = l, .n_layers = n + 1, .node_layer = nlay, .tensor_layer = tlay};
    defaults(&pb);
    char what[64];
    snprintf(what, sizeof what, "synthetic %d-node DAG", n);
    int rc = run(ctx, what, &pb, 3);
    plan_dag_destroy(d);
    free(e), free(numel), free(l), free(f), free(nlay), free(tlay);
    return rc;
}

int main(int argc, char **argv) {
    cleave_ctx *ctx;
    if (cleave_ctx_create(&ctx)) return 1;
    int rc = 0;
    for (int i = 1; i < argc; i++) rc |= model(ctx, argv[i]);
    rc |= synthetic(ctx, 1000);
    cleave_ctx_destroy(ctx);
    return rc;
}
