/* QDQ lowering of Gemm and MatMul (ir/passes_qdq.c) on tiny graphs
 *   x -> Q -> DQ -> Gemm / MatMul (DQ(int8 w), f32 bias, fused ReLU) -> Q -> y
 * run by the executor as built (the float simulation) and after
 * ir_pass_lower_qdq. The lowered graph holds no Gemm / MatMul; its uint8
 * output equals an integer computation written here bit for bit, and the
 * float simulation's except where a value sits within rounding of a step:
 * |diff| <= 1 on at most 2% of the elements. The lowered Gemm also runs at
 * a second batch size (Reshape's 0 copies the batch dim). Gemm with
 * alpha != 1, transA = 1 or a float (unquantized) output stays as it is. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ir/passes.h"
#include "ops/op.h"
#include "runtime/runtime.h"

static cleave_ctx *ctx;

typedef struct tcase {
    const char *op; /* "Gemm" or "MatMul" */
    int trans_b, bias, per_channel, relu;
    int64_t lead, B, K, M; /* x [lead, B, K] (lead 0: [B, K]), y [.., M] */
    float alpha;
    int trans_a, float_out; /* negative cases */
} tcase;

/* The graph and what the reference needs: xq [lead * B][K] uint8, w as
 * W[m][k] (output channel m), one scale per channel (copies when per
 * tensor), the bias. */
typedef struct tgraph {
    ir_graph *g;
    int64_t rows; /* lead * B */
    uint8_t *xq;
    float *x;
    int8_t *w;
    float *sw, *bias;
    float sx, sy;
    int32_t zx, zy;
} tgraph;

static uint32_t seed = 2024u;
static int32_t rnd(int32_t lo, int32_t hi) {
    seed = seed * 1664525u + 1013904223u;
    return lo + (int32_t)((seed >> 8) % (uint32_t)(hi - lo + 1));
}

static int cst(ir_graph *g, const char *name, cv_dtype dt, int ndim, const int64_t *dims,
               const void *data) {
    int v = ir_graph_intern_value(g, name);
    CHECK(v >= 0 && ir_value_set_data(ctx, g, v, dt, ndim, dims, data) == CLEAVE_OK);
    g->values[v].is_initializer = 1;
    return v;
}

static int node(ir_graph *g, const char *name, const char *op, const int *in, int n_in, int out) {
    int ni = ir_graph_add_node(g, name, op, "", in, n_in, &out, 1);
    CHECK(ni >= 0);
    return ni;
}

/* acc[r][m] = sum_k (xq - zx) * W[m][k] (+ the bias as int32), and the
 * output scale s[m] = sx * sw[m] / sy as the kernels form it. */
static int64_t ref_acc(const tcase *c, const tgraph *t, int64_t r, int64_t m) {
    int64_t acc = 0;
    for (int64_t k = 0; k < c->K; k++)
        acc += (int64_t)(t->xq[r * c->K + k] - t->zx) * t->w[m * c->K + k];
    if (c->bias) acc += (int64_t)nearbyint((double)t->bias[m] / ((double)t->sx * (double)t->sw[m]));
    return acc;
}
static uint8_t ref_out(const tcase *c, const tgraph *t, int64_t r, int64_t m) {
    float s = t->sx * t->sw[m] / t->sy, lo = (float)(0 - t->zy), hi = (float)(255 - t->zy);
    if (c->relu && lo < 0) lo = 0;
    float v = fmaxf(fminf((float)ref_acc(c, t, r, m) * s, hi), lo);
    return (uint8_t)((int32_t)rintf(v) + t->zy);
}

static void build(const tcase *c, tgraph *t) {
    memset(t, 0, sizeof *t);
    const int64_t K = c->K, M = c->M;
    t->rows = (c->lead ? c->lead : 1) * c->B;
    t->sx = 1.0f / 32, t->zx = 128, t->zy = c->relu ? 10 : 128;
    t->xq = malloc((size_t)(t->rows * K));
    t->x = malloc(sizeof(float) * (size_t)(t->rows * K));
    t->w = malloc((size_t)(M * K));
    t->sw = malloc(sizeof(float) * (size_t)M);
    t->bias = malloc(sizeof(float) * (size_t)M);
    for (int64_t i = 0; i < t->rows * K; i++) {
        t->xq[i] = (uint8_t)rnd(0, 255);
        t->x[i] = (float)(t->xq[i] - t->zx) * t->sx; /* on the grid: Q gives xq back */
    }
    for (int64_t i = 0; i < M * K; i++)
        t->w[i] = (int8_t)rnd(-127, 127);
    float s0 = 0.001f * (float)rnd(2, 9);
    for (int64_t m = 0; m < M; m++) {
        t->sw[m] = c->per_channel ? 0.0007f * (float)rnd(1, 17) : s0;
        t->bias[m] = 0.01f * (float)rnd(-300, 300);
    }
    /* y's scale: the largest |real output| lands near q = +-110 */
    double mx = 1e-6;
    for (int64_t r = 0; r < t->rows; r++)
        for (int64_t m = 0; m < M; m++)
            mx = fmax(mx, fabs((double)ref_acc(c, t, r, m) * t->sx * t->sw[m]));
    t->sy = (float)(mx / 110);

    ir_graph *g;
    CHECK(ir_graph_create(&g) == CLEAVE_OK);
    t->g = g;
    g->opsets = cv_calloc(1, sizeof(ir_opset));
    g->opsets[0].domain = "", g->opsets[0].version = 17, g->n_opsets = 1;
    g->inputs = cv_malloc(sizeof(int) * 2);
    g->outputs = cv_malloc(sizeof(int) * 2);
    int x = ir_graph_intern_value(g, "x");
    ir_value *xv = &g->values[x];
    xv->dtype = CV_F32, xv->is_input = 1;
    xv->ndim = 0;
    if (c->lead) xv->dims[xv->ndim++] = c->lead;
    if (c->trans_a)
        xv->dims[xv->ndim++] = K, xv->dims[xv->ndim++] = -1;
    else
        xv->dims[xv->ndim++] = -1, xv->dims[xv->ndim++] = K; /* dynamic batch */
    g->inputs[g->n_inputs++] = x;
    uint8_t zx = (uint8_t)t->zx, zy = (uint8_t)t->zy;
    int64_t dm = M;
    int sx = cst(g, "x_scale", CV_F32, 0, NULL, &t->sx), zxv = cst(g, "x_zp", CV_U8, 0, NULL, &zx);
    int xq = ir_graph_intern_value(g, "x_q"), xd = ir_graph_intern_value(g, "x_dq");
    int in3[3] = {x, sx, zxv};
    node(g, "q_x", "QuantizeLinear", in3, 3, xq);
    in3[0] = xq;
    node(g, "dq_x", "DequantizeLinear", in3, 3, xd);
    /* the weight as stored: Gemm transB 1 [M, K], else [K, M] */
    int8_t *ws = malloc((size_t)(M * K));
    int gemm = !strcmp(c->op, "Gemm"), mk = gemm && c->trans_b;
    for (int64_t m = 0; m < M; m++)
        for (int64_t k = 0; k < K; k++)
            ws[mk ? m * K + k : k * M + m] = t->w[m * K + k];
    int64_t wd[2] = {mk ? M : K, mk ? K : M};
    int8_t zw[64] = {0};
    int wv = cst(g, "w_q", CV_I8, 2, wd, ws);
    int swv = cst(g, "w_scale", CV_F32, c->per_channel ? 1 : 0, &dm, t->sw);
    int zwv = cst(g, "w_zp", CV_I8, c->per_channel ? 1 : 0, &dm, zw);
    free(ws);
    int wdq = ir_graph_intern_value(g, "w_dq");
    int win[3] = {wv, swv, zwv};
    int dqw = node(g, "dq_w", "DequantizeLinear", win, 3, wdq);
    if (c->per_channel)
        CHECK(ir_node_set_attr_int(g, &g->nodes[dqw], "axis", mk ? 0 : 1) == CLEAVE_OK);
    int yf = ir_graph_intern_value(g, "y_f"), y = ir_graph_intern_value(g, "y");
    int gin[3] = {xd, wdq, c->bias ? cst(g, "bias", CV_F32, 1, &dm, t->bias) : -1};
    int ni = node(g, "fc", c->op, gin, c->bias ? 3 : 2, c->float_out ? y : yf);
    if (gemm) {
        ir_node *n = &g->nodes[ni];
        if (c->trans_b) CHECK(ir_node_set_attr_int(g, n, "transB", 1) == CLEAVE_OK);
        if (c->trans_a) CHECK(ir_node_set_attr_int(g, n, "transA", 1) == CLEAVE_OK);
        if (c->alpha != 1.0f) CHECK(ir_node_set_attr_float(g, n, "alpha", c->alpha) == CLEAVE_OK);
    }
    if (c->relu) g->nodes[ni].act.kind = IR_ACT_RELU; /* as ir_pass_fuse_activations leaves it */
    if (!c->float_out) {
        int qin[3] = {yf, cst(g, "y_scale", CV_F32, 0, NULL, &t->sy),
                      cst(g, "y_zp", CV_U8, 0, NULL, &zy)};
        node(g, "q_y", "QuantizeLinear", qin, 3, y);
    }
    g->values[y].is_output = 1;
    g->outputs[g->n_outputs++] = y;
    CHECK(ir_graph_link(ctx, g) == CLEAVE_OK && ir_graph_toposort(ctx, g) == CLEAVE_OK);
    CHECK(op_bind_graph(ctx, g) == CLEAVE_OK);
}

static void tg_free(tgraph *t) {
    ir_graph_destroy(t->g);
    free(t->xq), free(t->x), free(t->w), free(t->sw), free(t->bias);
}

/* Run g on x as [lead,] b x K; a malloc'd copy of output 0 (uint8). */
static uint8_t *run(ir_graph *g, const tcase *c, const tgraph *t, int64_t b) {
    cv_tensor in;
    memset(&in, 0, sizeof in);
    in.dtype = CV_F32, in.data = t->x;
    if (c->lead) in.dims[in.ndim++] = c->lead;
    in.dims[in.ndim++] = b, in.dims[in.ndim++] = c->K;
    rt_plan *p = NULL;
    uint8_t *out = NULL;
    if (rt_plan_create(ctx, g, NULL, 0, NULL, 0, &in, NULL, &p) == CLEAVE_OK &&
        rt_plan_run(p, &in) == CLEAVE_OK) {
        const cv_tensor *y = rt_plan_output(p, 0);
        CHECK(y->dtype == CV_U8 && cv_numel(y) == (c->lead ? c->lead : 1) * b * c->M);
        out = malloc((size_t)cv_numel(y));
        memcpy(out, y->data, (size_t)cv_numel(y));
    } else {
        fprintf(stderr, "  run: %s\n", cleave_ctx_error(ctx));
        CHECK(0);
    }
    rt_plan_destroy(p);
    return out;
}

static int count_op(const ir_graph *g, const char *op) {
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        n += !g->nodes[i].dead && !strcmp(g->nodes[i].op_type, op);
    return n;
}

static void run_case(const tcase *c) {
    tgraph t;
    build(c, &t);
    ir_graph *h = NULL;
    int lowered = -1;
    CHECK(ir_graph_clone(ctx, t.g, &h) == CLEAVE_OK);
    CHECK(ir_pass_lower_qdq(ctx, h, &lowered) == CLEAVE_OK);
    CHECK(ir_pass_remove_dead(ctx, h, NULL) == CLEAVE_OK && op_bind_graph(ctx, h) == CLEAVE_OK);
    printf("%s transB %d bias %d per-channel %d relu %d x %s[%lld, %lld]: ", c->op, c->trans_b,
           c->bias, c->per_channel, c->relu, c->lead ? "[2] + " : "", (long long)c->B,
           (long long)c->K);
    if (c->alpha != 1.0f || c->trans_a || c->float_out) { /* must stay as it is */
        CHECK(lowered == 0 && count_op(h, c->op) == 1);
        printf("not lowered (alpha %g, transA %d, float output %d)\n", c->alpha, c->trans_a,
               c->float_out);
        ir_graph_destroy(h);
        tg_free(&t);
        return;
    }
    CHECK(lowered == 1 && count_op(h, "Gemm") == 0 && count_op(h, "MatMul") == 0);
    CHECK(count_op(h, !strcmp(c->op, "Gemm") ? "QLinearConv" : "QLinearMatMul") == 1);
    uint8_t *ys = run(t.g, c, &t, c->B), *yl = run(h, c, &t, c->B);
    int64_t n = t.rows * c->M, diff_sim = 0, diff_ref = 0, worst = 0;
    for (int64_t i = 0; ys && yl && i < n; i++) {
        int d = abs((int)yl[i] - (int)ys[i]);
        diff_sim += d != 0;
        worst = d > worst ? d : worst;
        diff_ref += yl[i] != ref_out(c, &t, i / c->M, i % c->M);
    }
    printf("%lld / %lld differ from the float simulation (max %lld), %lld from the integer "
           "reference\n",
           (long long)diff_sim, (long long)n, (long long)worst, (long long)diff_ref);
    CHECK(worst <= 1 && diff_sim * 50 <= n);
    CHECK(diff_ref == 0);
    free(ys), free(yl);
    if (!c->lead && c->B > 2) { /* another batch size, same lowered graph */
        uint8_t *y2 = run(h, c, &t, 2);
        int same = 1;
        for (int64_t i = 0; y2 && i < 2 * c->M; i++)
            same &= y2[i] == ref_out(c, &t, i / c->M, i % c->M);
        CHECK(y2 && same);
        free(y2);
    }
    ir_graph_destroy(h);
    tg_free(&t);
}

int main(void) {
    CHECK(cleave_ctx_create(&ctx) == CLEAVE_OK);
    static const tcase cases[] = {
        /* op, transB, bias, per-channel, relu, lead, B, K, M, alpha, transA, float out */
        {"Gemm", 0, 0, 0, 0, 0, 7, 37, 11, 1, 0, 0},
        {"Gemm", 0, 1, 1, 0, 0, 7, 37, 11, 1, 0, 0},
        {"Gemm", 0, 1, 0, 1, 0, 7, 37, 11, 1, 0, 0},
        {"Gemm", 0, 0, 1, 1, 0, 7, 37, 11, 1, 0, 0},
        {"Gemm", 1, 0, 0, 1, 0, 5, 64, 10, 1, 0, 0},
        {"Gemm", 1, 1, 1, 1, 0, 5, 64, 10, 1, 0, 0},
        {"Gemm", 1, 1, 0, 0, 0, 5, 64, 10, 1, 0, 0},
        {"Gemm", 1, 0, 1, 0, 0, 5, 64, 10, 1, 0, 0},
        {"Gemm", 1, 1, 1, 0, 0, 64, 61, 33, 1, 0, 0},
        {"MatMul", 0, 0, 1, 0, 0, 7, 37, 11, 1, 0, 0},
        {"MatMul", 0, 0, 0, 1, 0, 5, 64, 10, 1, 0, 0},
        {"MatMul", 0, 0, 1, 1, 2, 3, 29, 13, 1, 0, 0},
        /* negative: stay unlowered */
        {"Gemm", 1, 1, 1, 0, 0, 5, 64, 10, 0.5f, 0, 0},
        {"Gemm", 0, 1, 1, 0, 0, 5, 64, 10, 1, 1, 0},
        {"Gemm", 1, 1, 1, 0, 0, 5, 64, 10, 1, 0, 1},
        {"MatMul", 0, 0, 1, 0, 0, 5, 64, 10, 1, 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i]);
    cleave_ctx_destroy(ctx);
    return check_summary("test_qdq_lower");
}
