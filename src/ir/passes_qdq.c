/* ir passes, QDQ lowering: a QDQ model (every quantized tensor between a
 * QuantizeLinear and a DequantizeLinear) computes in float; the same model
 * on integers replaces each "dequantize, float op, quantize" chain by one
 * integer op, as ONNX Runtime does: Conv -> QLinearConv, MatMul ->
 * QLinearMatMul, Gemm -> a 1x1 QLinearConv between two Reshapes, Add ->
 * QLinearAdd, MaxPool on the integers. The result differs from the float
 * simulation only where a value sits within rounding of a quantization step. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ir/passes.h"

static int is_op(const ir_node *n, const char *t) { return !n->dead && !n->domain[0] && !strcmp(n->op_type, t); }

static const ir_node *producer(const ir_graph *g, int v) {
    if (v < 0 || g->values[v].producer < 0) return NULL;
    return &g->nodes[g->values[v].producer];
}

static int64_t numel(const ir_value *v) { return cv_shape_numel(v->ndim < 0 ? 0 : v->ndim, v->dims); }

static int const_scalar_f32(const ir_graph *g, int v, float *out) {
    return ir_value_scalar_f32(g, v, out) && *out > 0 && isfinite(*out);
}

/* A per-tensor quantization: scale (f32 scalar > 0) and zero point (u8 or
 * i8 scalar, absent = u8 0). */
typedef struct qparm {
    float scale;
    int32_t zp;
    cv_dtype type;
    int scale_v, zp_v; /* value ids (zp_v -1 when absent) */
} qparm;

static int per_tensor(const ir_graph *g, const ir_node *n, qparm *q) {
    if (n->n_in < 2 || !const_scalar_f32(g, n->in[1], &q->scale)) return 0;
    q->scale_v = n->in[1];
    q->zp_v = n->n_in > 2 ? n->in[2] : -1;
    q->type = CV_U8;
    q->zp = 0;
    if (q->zp_v >= 0) {
        const ir_value *z = &g->values[q->zp_v];
        if (!z->data || numel(z) != 1 || (z->dtype != CV_U8 && z->dtype != CV_I8)) return 0;
        q->type = z->dtype;
        q->zp = z->dtype == CV_U8 ? *(const uint8_t *)z->data : *(const int8_t *)z->data;
    }
    return 1;
}

/* Activation input k of node n comes from a per-tensor DequantizeLinear. */
static int dq_input(const ir_graph *g, const ir_node *n, int k, qparm *q, int *xq) {
    const ir_node *d = producer(g, n->in[k]);
    if (!d || !is_op(d, "DequantizeLinear") || !per_tensor(g, d, q)) return 0;
    *xq = d->in[0];
    return 1;
}

/* Node n's output goes only to a per-tensor QuantizeLinear; returns its index. */
static int q_output(const ir_graph *g, const ir_node *n, qparm *q) {
    if (n->n_out != 1) return -1;
    int ci = ir_graph_sole_consumer(g, n->out[0]);
    if (ci < 0 || !is_op(&g->nodes[ci], "QuantizeLinear") || g->nodes[ci].in[0] != n->out[0] ||
        !per_tensor(g, &g->nodes[ci], q) || g->nodes[ci].act.kind != IR_ACT_NONE)
        return -1; /* a QuantizeLinear with a fused code clip (an earlier lowering) stays */
    return ci;
}

static int zp_value(cleave_ctx *ctx, ir_graph *g, const qparm *q, const char *hint) {
    if (q->zp_v >= 0) return q->zp_v;
    int v = ir_graph_new_value(g, hint);
    if (v < 0) return -1;
    uint8_t z = 0;
    if (ir_value_set_data(ctx, g, v, CV_U8, 0, NULL, &z)) return -1;
    g->values[v].is_initializer = 1;
    return v;
}

/* The integer node replacing float node src: named "<src>_int8", src's
 * fused activation kept; its index, or -1 when out of memory. */
static int add_int8_node(ir_graph *g, int src, const char *op, const char *domain, const int *in,
                         int n_in, int out) {
    char name[300];
    snprintf(name, sizeof name, "%.250s_int8", g->nodes[src].name);
    int ni = ir_graph_add_node(g, name, op, domain, in, n_in, &out, 1);
    if (ni >= 0) g->nodes[ni].act = g->nodes[src].act;
    return ni;
}

static int copy_attrs(ir_node *dst, const ir_node *src) {
    if (!src->n_attrs) return 1;
    dst->attrs = cv_malloc(sizeof(ir_attr) * (size_t)src->n_attrs);
    if (!dst->attrs) return 0;
    memcpy(dst->attrs, src->attrs, sizeof(ir_attr) * (size_t)src->n_attrs);
    dst->n_attrs = src->n_attrs;
    return 1;
}

/* A new constant initializer; its id, -1 on OOM. */
static int new_const(cleave_ctx *ctx, ir_graph *g, const char *hint, cv_dtype dt, int ndim,
                     const int64_t *dims, const void *data) {
    int v = ir_graph_new_value(g, hint);
    if (v < 0 || ir_value_set_data(ctx, g, v, dt, ndim, dims, data)) return -1;
    g->values[v].is_initializer = 1;
    return v;
}

/* The weight DequantizeLinear's zero point is absent or int8 all 0. */
static int weight_zp_zero(const ir_graph *g, const ir_node *dw) {
    if (dw->n_in < 3 || dw->in[2] < 0) return 1;
    const ir_value *zw = &g->values[dw->in[2]];
    if (!zw->data || zw->dtype != CV_I8) return 0;
    for (int64_t i = 0; i < numel(zw); i++)
        if (((const int8_t *)zw->data)[i]) return 0;
    return 1;
}

/* The weight's zero point for a QLinear* op (required there): the DQ's own,
 * else a new int8 scalar 0. */
static int weight_zp_value(cleave_ctx *ctx, ir_graph *g, int dwi) {
    const ir_node *dw = &g->nodes[dwi];
    if (dw->n_in > 2 && dw->in[2] >= 0) return dw->in[2];
    int8_t z = 0;
    return new_const(ctx, g, "qlinear_w_zero_point", CV_I8, 0, NULL, &z);
}

/* Input 1 of node n is a DequantizeLinear of a constant int8 2-D weight with
 * zero point 0 and a scale that is per-tensor or has one value per index of
 * weight axis `ax` (the DQ's axis attribute says so). Returns the DQ's node
 * index, -1 if not. */
static int dq_weight_2d(const ir_graph *g, const ir_node *n, int ax) {
    const ir_node *dw = producer(g, n->in[1]);
    if (!dw || !is_op(dw, "DequantizeLinear") || dw->n_in < 2 || dw->in[0] < 0 || dw->in[1] < 0)
        return -1;
    const ir_value *wq = &g->values[dw->in[0]], *sw = &g->values[dw->in[1]];
    if (!wq->data || wq->dtype != CV_I8 || wq->ndim != 2 || !sw->data || sw->dtype != CV_F32 ||
        sw->ndim > 1)
        return -1;
    int64_t ns = numel(sw), axis = ir_attr_int(dw, "axis", 1);
    if (axis < 0) axis += 2;
    if (ns != 1 && (ns != wq->dims[ax] || axis != ax)) return -1;
    for (int64_t i = 0; i < ns; i++) {
        float s = ((const float *)sw->data)[i];
        if (!(s > 0) || !isfinite(s)) return -1;
    }
    if (!weight_zp_zero(g, dw)) return -1;
    return g->values[n->in[1]].producer;
}

/* Bias b (f32, M values) in the accumulator's scale, b / (sx * sw[m])
 * rounded to nearest, as a new int32 [M] initializer; its id, -1 on OOM. */
static int bias_i32(cleave_ctx *ctx, ir_graph *g, int b_v, int64_t M, float sx, int sw_v) {
    int32_t *bi = cv_malloc(sizeof(int32_t) * (size_t)M);
    if (!bi) return -1;
    const float *bf = g->values[b_v].data, *s = g->values[sw_v].data;
    int64_t ns = numel(&g->values[sw_v]);
    for (int64_t m = 0; m < M; m++) {
        double v = nearbyint((double)bf[m] / ((double)sx * (double)s[ns == 1 ? 0 : m]));
        bi[m] = v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
    }
    char hint[300];
    snprintf(hint, sizeof hint, "%.200s_i32", g->values[b_v].name);
    int64_t dm = M;
    int v = new_const(ctx, g, hint, CV_I32, 1, &dm, bi);
    cv_free(bi);
    return v;
}

/* Conv: returns 1 if rewritten, 0 if not matched, -1 on OOM. */
static int lower_conv(cleave_ctx *ctx, ir_graph *g, int ci) {
    const ir_node *c = &g->nodes[ci];
    if (c->n_in < 2 || (c->act.kind != IR_ACT_NONE && c->act.kind != IR_ACT_RELU)) return 0;
    qparm qx, qy;
    int xq;
    if (!dq_input(g, c, 0, &qx, &xq)) return 0;
    const ir_node *dw = producer(g, c->in[1]);
    if (!dw || !is_op(dw, "DequantizeLinear") || dw->n_in < 2) return 0;
    const ir_value *wq = &g->values[dw->in[0]], *sw = &g->values[dw->in[1]];
    if (!wq->data || wq->dtype != CV_I8 || wq->ndim < 3 || !sw->data || sw->dtype != CV_F32) return 0;
    int64_t M = wq->dims[0], ns = numel(sw);
    if (ns != 1 && (ns != M || ir_attr_int(dw, "axis", 1) != 0)) return 0;
    if (!weight_zp_zero(g, dw)) return 0;
    int qi = q_output(g, c, &qy);
    if (qi < 0) return 0;
    /* bias in the accumulator's scale: b / (sx * sw[m]) */
    int bias_v = -1;
    if (c->n_in > 2 && c->in[2] >= 0) {
        const ir_value *b = &g->values[c->in[2]];
        if (!b->data || b->dtype != CV_F32 || numel(b) != M) return 0;
        if ((bias_v = bias_i32(ctx, g, c->in[2], M, qx.scale, dw->in[1])) < 0) return -1;
    }
    c = &g->nodes[ci];
    dw = producer(g, c->in[1]);
    int zx = zp_value(ctx, g, &qx, "qlinear_x_zero_point");
    int zy = zp_value(ctx, g, &qy, "qlinear_y_zero_point");
    int zw = weight_zp_value(ctx, g, g->values[c->in[1]].producer);
    if (zx < 0 || zy < 0 || zw < 0) return -1;
    c = &g->nodes[ci];
    dw = producer(g, c->in[1]);
    int in[9] = {xq, qx.scale_v, zx, dw->in[0], dw->in[1], zw, qy.scale_v, zy, bias_v};
    int ni = add_int8_node(g, ci, "QLinearConv", "", in, bias_v >= 0 ? 9 : 8, g->nodes[qi].out[0]);
    if (ni < 0 || !copy_attrs(&g->nodes[ni], &g->nodes[ci])) return -1;
    g->nodes[ci].dead = 1;
    g->nodes[qi].dead = 1;
    return 1;
}

/* MatMul of a per-tensor DQ(x) and DQ(w), w a constant int8 [K, N] with
 * per-tensor or per-column (axis 1) scales: QLinearMatMul computes the same
 * numpy matmul for any rank of x against a 2-D b (qconv.c), with b_scale /
 * b_zero_point of 1 or N values and a fused ReLU. 1 rewritten, 0 not
 * matched, -1 OOM. */
static int lower_matmul(cleave_ctx *ctx, ir_graph *g, int mi) {
    const ir_node *m = &g->nodes[mi];
    if (m->n_in != 2 || (m->act.kind != IR_ACT_NONE && m->act.kind != IR_ACT_RELU)) return 0;
    qparm qx, qy;
    int xq;
    if (!dq_input(g, m, 0, &qx, &xq)) return 0;
    int xr = g->values[m->in[0]].ndim; /* -1: unknown here, the kernel checks it */
    if (xr >= 0 && xr < 2) return 0;
    int dwi = dq_weight_2d(g, m, 1);
    if (dwi < 0) return 0;
    int qi = q_output(g, m, &qy);
    if (qi < 0) return 0;
    int zx = zp_value(ctx, g, &qx, "qlinear_a_zero_point");
    int zy = zp_value(ctx, g, &qy, "qlinear_y_zero_point");
    int zw = weight_zp_value(ctx, g, dwi);
    if (zx < 0 || zy < 0 || zw < 0) return -1;
    const ir_node *dw = &g->nodes[dwi];
    int in[8] = {xq, qx.scale_v, zx, dw->in[0], dw->in[1], zw, qy.scale_v, zy};
    if (add_int8_node(g, mi, "QLinearMatMul", "", in, 8, g->nodes[qi].out[0]) < 0) return -1;
    g->nodes[mi].dead = 1;
    g->nodes[qi].dead = 1;
    return 1;
}

/* Gemm (alpha 1, beta 1, transA 0) of a per-tensor DQ(x [B, K]) and DQ(w),
 * w a constant int8 [K, M] (transB 0) or [M, K] (transB 1) with scales per
 * tensor or per output channel, an optional constant f32 bias [M] and a
 * fused ReLU, into
 *   Reshape(x_q, [0, K, 1, 1]) -> QLinearConv(w' [M, K, 1, 1], int32 bias)
 *   -> Reshape([0, M])
 * QLinearMatMul has no bias input, and adding the bias after its
 * requantization would round twice; a 1x1 QLinearConv on a 1x1 image is
 * the same product with the bias in the accumulator (b / (sx * sw[m]), as
 * for Conv), per-output-channel scales and ReLU, and runs on the same
 * kernels (fast_qconv / the int32 reference). Shape 0 copies the batch dim,
 * so a dynamic batch keeps working. 1 rewritten, 0 not matched, -1 OOM. */
static int lower_gemm(cleave_ctx *ctx, ir_graph *g, int gi) {
    const ir_node *n = &g->nodes[gi];
    if (n->n_in < 2 || n->n_in > 3 || (n->act.kind != IR_ACT_NONE && n->act.kind != IR_ACT_RELU))
        return 0;
    int has_bias = n->n_in > 2 && n->in[2] >= 0;
    int64_t tb = ir_attr_int(n, "transB", 0);
    if (ir_attr_float(n, "alpha", 1.0f) != 1.0f || ir_attr_int(n, "transA", 0) != 0 ||
        (tb != 0 && tb != 1) || (has_bias && ir_attr_float(n, "beta", 1.0f) != 1.0f))
        return 0;
    qparm qx, qy;
    int xq;
    if (!dq_input(g, n, 0, &qx, &xq)) return 0;
    int xr = g->values[n->in[0]].ndim;
    if (xr >= 0 && xr != 2) return 0;
    const int oax = tb ? 0 : 1; /* w's output axis (qdq.c's weight_axis) */
    int dwi = dq_weight_2d(g, n, oax);
    if (dwi < 0) return 0;
    const ir_value *wq = &g->values[g->nodes[dwi].in[0]];
    const int64_t M = wq->dims[oax], K = wq->dims[1 - oax];
    if (M < 1 || K < 1) return 0;
    if (has_bias) {
        const ir_value *b = &g->values[n->in[2]];
        if (!b->data || b->dtype != CV_F32 || numel(b) != M ||
            !(b->ndim == 1 || (b->ndim == 2 && b->dims[0] == 1)))
            return 0;
    }
    int qi = q_output(g, n, &qy);
    if (qi < 0) return 0;

    /* the weight as M x K x 1 x 1 (w transposed when transB is 0) */
    int8_t *w4 = cv_malloc((size_t)(M * K));
    if (!w4) return -1;
    const int8_t *w = wq->data;
    for (int64_t o = 0; o < M; o++)
        for (int64_t k = 0; k < K; k++) w4[o * K + k] = tb ? w[o * K + k] : w[k * M + o];
    char hint[300];
    snprintf(hint, sizeof hint, "%.200s_1x1", wq->name);
    int64_t wd[4] = {M, K, 1, 1}, s_in[4] = {0, K, 1, 1}, s_out[2] = {0, M}, four = 4, two = 2;
    int w4_v = new_const(ctx, g, hint, CV_I8, 4, wd, w4);
    cv_free(w4);
    int sw_v = g->nodes[dwi].in[1];
    int bias_v = has_bias ? bias_i32(ctx, g, g->nodes[gi].in[2], M, qx.scale, sw_v) : -1;
    int sin_v = new_const(ctx, g, "qlinear_gemm_shape_in", CV_I64, 1, &four, s_in);
    int sout_v = new_const(ctx, g, "qlinear_gemm_shape_out", CV_I64, 1, &two, s_out);
    int zx = zp_value(ctx, g, &qx, "qlinear_x_zero_point");
    int zy = zp_value(ctx, g, &qy, "qlinear_y_zero_point");
    int zw = weight_zp_value(ctx, g, dwi);
    const char *gname = g->nodes[gi].name;
    snprintf(hint, sizeof hint, "%.200s_x4", gname);
    int x4 = ir_graph_new_value(g, hint);
    snprintf(hint, sizeof hint, "%.200s_y4", gname);
    int y4 = ir_graph_new_value(g, hint);
    if (w4_v < 0 || (has_bias && bias_v < 0) || sin_v < 0 || sout_v < 0 || zx < 0 || zy < 0 ||
        zw < 0 || x4 < 0 || y4 < 0)
        return -1;
    int out = g->nodes[qi].out[0];
    int r_in[2] = {xq, sin_v}, r_out[2] = {y4, sout_v};
    int c_in[9] = {x4, qx.scale_v, zx, w4_v, sw_v, zw, qy.scale_v, zy, bias_v};
    char name[300];
    snprintf(name, sizeof name, "%.250s_int8_in", gname);
    if (ir_graph_add_node(g, name, "Reshape", "", r_in, 2, &x4, 1) < 0) return -1;
    if (add_int8_node(g, gi, "QLinearConv", "", c_in, has_bias ? 9 : 8, y4) < 0) return -1;
    snprintf(name, sizeof name, "%.250s_int8_out", g->nodes[gi].name);
    if (ir_graph_add_node(g, name, "Reshape", "", r_out, 2, &out, 1) < 0) return -1;
    g->nodes[gi].dead = 1;
    g->nodes[qi].dead = 1;
    return 1;
}

static int same_q(const qparm *a, const qparm *b) {
    return a->scale == b->scale && a->zp == b->zp && a->type == b->type;
}

static int lower_add(cleave_ctx *ctx, ir_graph *g, int ai) {
    const ir_node *a = &g->nodes[ai];
    if (a->n_in != 2 || (a->act.kind != IR_ACT_NONE && a->act.kind != IR_ACT_RELU)) return 0;
    qparm qa, qb, qy;
    int xa, xb;
    if (!dq_input(g, a, 0, &qa, &xa) || !dq_input(g, a, 1, &qb, &xb)) return 0;
    int qi = q_output(g, a, &qy);
    if (qi < 0 || qa.type != qy.type || qb.type != qy.type) return 0;
    int za = zp_value(ctx, g, &qa, "qlinear_a_zero_point"), zb = zp_value(ctx, g, &qb, "qlinear_b_zero_point");
    int zy = zp_value(ctx, g, &qy, "qlinear_y_zero_point");
    if (za < 0 || zb < 0 || zy < 0) return -1;
    int in[8] = {xa, qa.scale_v, za, xb, qb.scale_v, zb, qy.scale_v, zy};
    if (add_int8_node(g, ai, "QLinearAdd", "com.microsoft", in, 8, g->nodes[qi].out[0]) < 0) return -1;
    g->nodes[ai].dead = 1;
    g->nodes[qi].dead = 1;
    return 1;
}

/* MaxPool commutes with a monotonic quantizer of the same parameters. */
static int lower_maxpool(ir_graph *g, int pi) {
    ir_node *p = &g->nodes[pi];
    if (p->n_out != 1 || p->act.kind != IR_ACT_NONE) return 0;
    qparm qx, qy;
    int xq;
    if (!dq_input(g, p, 0, &qx, &xq)) return 0;
    int qi = q_output(g, p, &qy);
    if (qi < 0 || !same_q(&qx, &qy)) return 0;
    p->in[0] = xq;
    p->out[0] = g->nodes[qi].out[0];
    g->nodes[qi].dead = 1;
    return 1;
}

cleave_status ir_pass_lower_qdq(cleave_ctx *ctx, ir_graph *g, int *count) {
    int c = 0, n = g->n_nodes;
    CV_TRY(ir_graph_link(ctx, g));
    for (int i = 0; i < n; i++) {
        int r = 0;
        if (is_op(&g->nodes[i], "Conv")) r = lower_conv(ctx, g, i);
        else if (is_op(&g->nodes[i], "Gemm")) r = lower_gemm(ctx, g, i);
        else if (is_op(&g->nodes[i], "MatMul")) r = lower_matmul(ctx, g, i);
        else if (is_op(&g->nodes[i], "Add")) r = lower_add(ctx, g, i);
        else if (is_op(&g->nodes[i], "MaxPool")) r = lower_maxpool(g, i);
        if (r < 0) return cv_fail(ctx, CLEAVE_E_NOMEM, "QDQ lowering: out of memory");
        if (r > 0) {
            c++;
            CV_TRY(ir_graph_link(ctx, g));
        }
    }
    if (count) *count = c;
    if (!c) return CLEAVE_OK;
    CV_TRY(ir_graph_compact(ctx, g));
    CV_TRY(ir_graph_link(ctx, g));
    return ir_graph_toposort(ctx, g);
}
