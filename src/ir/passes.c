/* ir passes: Identity/Dropout removal, BatchNorm folding into the producing
 * Conv/ConvTranspose/Gemm, activation fusion, dead-node removal. Ops are
 * matched by op_type (ir does not depend on ops). New weights are new
 * initializers, so a weight shared by two nodes is never modified. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ir/passes.h"

static int is_op(const ir_node *n, const char *t) {
    return !n->dead && (!n->domain[0] || !strcmp(n->domain, "ai.onnx")) && !strcmp(n->op_type, t);
}

static const float *const_f32(const ir_graph *g, int v, int64_t numel) {
    if (v < 0) return NULL;
    const ir_value *val = &g->values[v];
    if (!val->data || val->dtype != CV_F32 || val->producer >= 0) return NULL;
    if (numel >= 0 && cv_shape_numel(val->ndim, val->dims) != numel) return NULL;
    return val->data;
}

static int replace_uses(ir_graph *g, int from, int to) {
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *nd = &g->nodes[i];
        if (nd->dead) continue;
        for (int k = 0; k < nd->n_in; k++)
            if (nd->in[k] == from) nd->in[k] = to, n++;
    }
    return n;
}

static int has_consumers(const ir_graph *g, int v) {
    if (v < 0) return 0;
    if (g->values[v].is_output) return 1;
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] == v) return 1;
    }
    return 0;
}

cleave_status ir_pass_remove_identity(cleave_ctx *ctx, ir_graph *g, int *count) {
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *n = &g->nodes[i];
        int drop = is_op(n, "Dropout");
        if (!is_op(n, "Identity") && !drop) continue;
        if (n->n_in < 1 || n->in[0] < 0 || n->n_out < 1 || n->out[0] < 0) continue;
        if (drop) {
            if (n->n_out > 1 && has_consumers(g, n->out[1])) continue; /* mask is used */
            if (n->n_in > 2 && n->in[2] >= 0) {
                const ir_value *tm = &g->values[n->in[2]];
                if (!tm->data || ((const uint8_t *)tm->data)[0]) continue; /* training mode */
            }
        }
        int x = n->in[0], y = n->out[0];
        if (g->values[y].is_output) {
            /* Keep the output's name: let x's producer write y directly. */
            int p = g->values[x].producer;
            if (p < 0 || g->values[x].is_output || ir_graph_sole_consumer(g, x) != i) continue;
            ir_node *pn = &g->nodes[p];
            for (int k = 0; k < pn->n_out; k++)
                if (pn->out[k] == x) pn->out[k] = y;
        } else {
            replace_uses(g, y, x);
        }
        n->dead = 1;
        c++;
    }
    if (count) *count = c;
    return ir_graph_compact(ctx, g);
}

/* Per-channel BN parameters as scale s and shift t: y = s*x + t. */
static int bn_params(const ir_graph *g, const ir_node *bn, int64_t k, float *s, float *t) {
    if (bn->n_in < 5 || bn->n_out < 1) return 0;
    for (int j = 1; j < bn->n_out; j++)
        if (bn->out[j] >= 0 && has_consumers(g, bn->out[j])) return 0;
    const ir_attr *tm = ir_node_attr(bn, "training_mode");
    if (tm && tm->i) return 0;
    const float *gam = const_f32(g, bn->in[1], k), *bet = const_f32(g, bn->in[2], k),
                *mean = const_f32(g, bn->in[3], k), *var = const_f32(g, bn->in[4], k);
    if (!gam || !bet || !mean || !var) return 0;
    float eps = ir_attr_float(bn, "epsilon", 1e-5f);
    for (int64_t i = 0; i < k; i++) {
        s[i] = (float)(gam[i] / sqrt((double)var[i] + eps));
        t[i] = bet[i] - mean[i] * s[i];
    }
    return 1;
}

static int add_const(cleave_ctx *ctx, ir_graph *g, const char *hint, int ndim, const int64_t *dims,
                     const float *data) {
    int v = ir_graph_new_value(g, hint);
    if (v < 0 || ir_value_set_data(ctx, g, v, CV_F32, ndim, dims, data) != CLEAVE_OK) return -1;
    g->values[v].is_initializer = 1;
    return v;
}

static cleave_status set_input(ir_node *n, int k, int v) {
    if (k >= n->n_in) {
        int *ni = cv_realloc(n->in, sizeof(int) * (size_t)(k + 1));
        if (!ni) return CLEAVE_E_NOMEM;
        for (int j = n->n_in; j <= k; j++) ni[j] = -1;
        n->in = ni;
        n->n_in = k + 1;
    }
    n->in[k] = v;
    return CLEAVE_OK;
}

/* Fold one BN into node p (Conv / ConvTranspose with group 1 / Gemm). */
static int fold_one(cleave_ctx *ctx, ir_graph *g, ir_node *p, ir_node *bn) {
    const ir_value *wv = p->n_in > 1 && p->in[1] >= 0 ? &g->values[p->in[1]] : NULL;
    if (!wv || !const_f32(g, p->in[1], -1) || wv->ndim < 2) return 0;
    int conv = is_op(p, "Conv"), convt = is_op(p, "ConvTranspose");
    int64_t k, inner, outer; /* W viewed as [outer][k][inner] */
    if (conv) {
        k = wv->dims[0];
        outer = 1;
        inner = cv_shape_numel(wv->ndim, wv->dims) / k;
    } else if (convt) {
        if (ir_attr_int(p, "group", 1) != 1) return 0;
        k = wv->dims[1];
        outer = wv->dims[0];
        inner = cv_shape_numel(wv->ndim - 2, wv->dims + 2);
    } else { /* Gemm: B is [K,N] or [N,K] (transB) */
        if (wv->ndim != 2 || ir_attr_int(p, "transA", 0)) return 0;
        int tb = (int)ir_attr_int(p, "transB", 0);
        k = tb ? wv->dims[0] : wv->dims[1];
        outer = tb ? 1 : wv->dims[0];
        inner = tb ? wv->dims[1] : 1;
    }
    int64_t nw = cv_shape_numel(wv->ndim, wv->dims);
    float *s = cv_malloc(sizeof(float) * (size_t)k * 3), *t = s ? s + k : NULL, *b = s ? s + 2 * k : NULL;
    float *w = cv_malloc(sizeof(float) * (size_t)nw);
    int ok = 0;
    if (!s || !w || !bn_params(g, bn, k, s, t)) goto out;
    /* old bias, as a per-channel vector */
    float beta = is_op(p, "Gemm") ? ir_attr_float(p, "beta", 1.0f) : 1.0f;
    int bv = p->n_in > 2 ? p->in[2] : -1;
    if (bv >= 0) {
        const ir_value *bval = &g->values[bv];
        const float *bd = const_f32(g, bv, -1);
        int64_t bn_ = bd ? cv_shape_numel(bval->ndim, bval->dims) : -1;
        if (!bd || (bn_ != k && bn_ != 1)) goto out;
        if (bval->ndim == 2 && bval->dims[0] != 1) goto out; /* Gemm C of shape [M,N] */
        for (int64_t i = 0; i < k; i++) b[i] = beta * bd[bn_ == 1 ? 0 : i];
    } else {
        for (int64_t i = 0; i < k; i++) b[i] = 0;
    }
    const float *w0 = wv->data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t c = 0; c < k; c++)
            for (int64_t i = 0; i < inner; i++) {
                int64_t idx = (o * k + c) * inner + i;
                w[idx] = w0[idx] * s[c];
            }
    for (int64_t i = 0; i < k; i++) b[i] = b[i] * s[i] + t[i];
    char hint[300];
    snprintf(hint, sizeof hint, "%s_bnfold", wv->name);
    int64_t wd[CV_MAX_DIMS];
    memcpy(wd, wv->dims, sizeof(int64_t) * (size_t)wv->ndim);
    int nwv = add_const(ctx, g, hint, wv->ndim, wd, w);
    snprintf(hint, sizeof hint, "%s_bias_bnfold", p->name[0] ? p->name : g->values[p->out[0]].name);
    int nbv = add_const(ctx, g, hint, 1, &k, b);
    if (nwv < 0 || nbv < 0) goto out;
    if (set_input(p, 1, nwv) || set_input(p, 2, nbv)) goto out;
    if (is_op(p, "Gemm") && ir_node_set_attr_float(g, p, "beta", 1.0f)) goto out;
    p->out[0] = bn->out[0];
    bn->dead = 1;
    ok = 1;
out:
    cv_free(s);
    cv_free(w);
    return ok;
}

cleave_status ir_pass_fold_batchnorm(cleave_ctx *ctx, ir_graph *g, int *count) {
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *bn = &g->nodes[i];
        if (!is_op(bn, "BatchNormalization") || bn->n_in < 5 || bn->in[0] < 0) continue;
        int pi = g->values[bn->in[0]].producer;
        if (pi < 0) continue;
        ir_node *p = &g->nodes[pi];
        if (!(is_op(p, "Conv") || is_op(p, "ConvTranspose") || is_op(p, "Gemm"))) continue;
        if (p->act.kind != IR_ACT_NONE || p->out[0] != bn->in[0]) continue;
        if (ir_graph_sole_consumer(g, bn->in[0]) != i) continue;
        c += fold_one(ctx, g, p, bn);
    }
    if (count) *count = c;
    return ir_graph_compact(ctx, g);
}

static int scalar_f32(const ir_graph *g, int v, float *out) {
    if (v < 0) return 1; /* omitted: keep default */
    return g->values[v].producer < 0 && ir_value_scalar_f32(g, v, out);
}

/* Activation described by node a, or IR_ACT_NONE when not fusable. */
static ir_act act_of(const ir_graph *g, const ir_node *a) {
    ir_act r = {IR_ACT_NONE, 0, 0};
    if (is_op(a, "Relu")) r.kind = IR_ACT_RELU;
    else if (is_op(a, "Sigmoid")) r.kind = IR_ACT_SIGMOID;
    else if (is_op(a, "Tanh")) r.kind = IR_ACT_TANH;
    else if (is_op(a, "HardSwish")) r.kind = IR_ACT_HARDSWISH;
    else if (is_op(a, "LeakyRelu")) {
        r.kind = IR_ACT_LEAKY;
        r.alpha = ir_attr_float(a, "alpha", 0.01f);
    } else if (is_op(a, "HardSigmoid")) {
        r.kind = IR_ACT_HARDSIGMOID;
        r.alpha = ir_attr_float(a, "alpha", 0.2f);
        r.beta = ir_attr_float(a, "beta", 0.5f);
    } else if (is_op(a, "Clip")) {
        float lo = -INFINITY, hi = INFINITY;
        if (a->opset < 11) {
            lo = ir_attr_float(a, "min", -INFINITY);
            hi = ir_attr_float(a, "max", INFINITY);
        } else if (!scalar_f32(g, a->n_in > 1 ? a->in[1] : -1, &lo) ||
                   !scalar_f32(g, a->n_in > 2 ? a->in[2] : -1, &hi)) {
            return r;
        }
        r.kind = IR_ACT_CLIP;
        r.alpha = lo;
        r.beta = hi;
    }
    return r;
}

/* Whether v is float32: declared so, or produced by an op that only makes
 * float32 in cleave (conv/gemm), possibly through dtype-preserving ops. */
static int value_is_f32(const ir_graph *g, int v, int depth) {
    if (v < 0 || depth > 64) return 0;
    const ir_value *val = &g->values[v];
    if (val->dtype != CV_UNDEF) return val->dtype == CV_F32;
    if (val->producer < 0) return 0;
    const ir_node *p = &g->nodes[val->producer];
    if (is_op(p, "Conv") || is_op(p, "ConvTranspose") || is_op(p, "Gemm") ||
        is_op(p, "DequantizeLinear"))
        return 1;
    static const char *const keep[] = {"Add", "Sub", "Mul", "Relu", "MaxPool", "AveragePool",
                                       "GlobalAveragePool", "BatchNormalization", "Sigmoid",
                                       "Clip", "Concat", "Flatten", "Reshape", "MatMul"};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        if (is_op(p, keep[i])) return p->n_in > 0 && value_is_f32(g, p->in[0], depth + 1);
    return 0;
}

cleave_status ir_pass_fuse_activations(cleave_ctx *ctx, ir_graph *g, int *count) {
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *p = &g->nodes[i];
        int eltwise = is_op(p, "Add") || is_op(p, "Sub") || is_op(p, "Mul");
        if (!(is_op(p, "Conv") || is_op(p, "ConvTranspose") || is_op(p, "Gemm") || is_op(p, "MatMul") ||
              eltwise))
            continue;
        /* element-wise ops need a float output (an integer Add must not get a Relu) */
        if (eltwise && !value_is_f32(g, p->out[0], 0)) continue;
        if (p->act.kind != IR_ACT_NONE || p->n_out < 1 || p->out[0] < 0) continue;
        if (g->values[p->out[0]].dtype != CV_F32 && g->values[p->out[0]].dtype != CV_UNDEF) continue;
        int ci = ir_graph_sole_consumer(g, p->out[0]);
        if (ci < 0) continue;
        ir_node *a = &g->nodes[ci];
        if (a->n_out < 1 || a->out[0] < 0 || a->in[0] != p->out[0]) continue;
        ir_act act = act_of(g, a);
        if (act.kind == IR_ACT_NONE) continue;
        p->act = act;
        p->out[0] = a->out[0];
        a->dead = 1;
        c++;
    }
    if (count) *count = c;
    return ir_graph_compact(ctx, g);
}

cleave_status ir_pass_remove_dead(cleave_ctx *ctx, ir_graph *g, int *count) {
    int *uses = ir_graph_consumer_counts(g);
    if (!uses) return cv_fail(ctx, CLEAVE_E_NOMEM, "dead-node removal: out of memory");
    int c = 0;
    /* Reverse topological order: a chain of dead nodes goes in one sweep. */
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        ir_node *n = &g->nodes[i];
        if (n->dead) continue;
        int live = 0;
        for (int k = 0; k < n->n_out && !live; k++) {
            int v = n->out[k];
            live = v >= 0 && (uses[v] > 0 || g->values[v].is_output);
        }
        if (live) continue;
        n->dead = 1;
        c++;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) uses[n->in[k]]--;
    }
    cv_free(uses);
    if (count) *count = c;
    return ir_graph_compact(ctx, g);
}
