/* ir passes, QDQ clip: quant/qdq.c writes an activation of fewer than 8
 * bits as Clip(lo, hi) followed by a uint8 QuantizeLinear (the b-bit grid
 * ends at 2^b - 1, the uint8 one at 255). Quantizing is monotonic, so
 *     Q(clip(v, lo, hi)) = clip(Q(v), Q(lo), Q(hi))
 * exactly: moving the clip after the quantizer, onto the codes, leaves
 * "op -> QuantizeLinear" for ir_pass_lower_qdq to turn into an integer op,
 * and the clip runs on uint8 codes. The Clip may stand alone or be fused
 * into its producer (ir_pass_fuse_activations). After the lowering, such a
 * clip of codes is fused into the integer op that writes them. */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "ir/passes.h"

static int live_op(const ir_node *n, const char *t) {
    return !n->dead && !n->domain[0] && !strcmp(n->op_type, t);
}

/* A constant float32 scalar (absent: keep *out). */
static int const_f32(const ir_graph *g, int v, float *out) {
    return v < 0 || ir_value_scalar_f32(g, v, out);
}

/* QuantizeLinear node q with a per-tensor scale and a uint8 zero point:
 * its scale and zero point. */
static int q_params(const ir_graph *g, const ir_node *q, float *scale, int32_t *zp) {
    if (q->n_in < 2 || !const_f32(g, q->in[1], scale) || !(*scale > 0) || !isfinite(*scale)) return 0;
    *zp = 0;
    if (q->n_in > 2 && q->in[2] >= 0) {
        const ir_value *z = &g->values[q->in[2]];
        if (!z->data || z->dtype != CV_U8 || cv_shape_numel(z->ndim < 0 ? 0 : z->ndim, z->dims) != 1)
            return 0;
        *zp = *(const uint8_t *)z->data;
    }
    return 1;
}

/* QuantizeLinear of one value: round half to even, saturate to uint8. */
static uint8_t quantize_u8(float x, float scale, int32_t zp) {
    if (isnan(x)) return (uint8_t)zp;
    float r = nearbyintf(x / scale) + (float)zp;
    return (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
}

static int new_u8(cleave_ctx *ctx, ir_graph *g, const char *hint, uint8_t v) {
    int id = ir_graph_new_value(g, hint);
    if (id < 0 || ir_value_set_data(ctx, g, id, CV_U8, 0, NULL, &v)) return -1;
    g->values[id].is_initializer = 1;
    return id;
}

/* Rewrite the Clip in front of QuantizeLinear node qi: 1 done, 0 no match,
 * -1 out of memory. */
static int move_clip(cleave_ctx *ctx, ir_graph *g, int qi) {
    const ir_node *q = &g->nodes[qi];
    float scale;
    int32_t zp;
    if (q->n_out != 1 || q->in[0] < 0 || !q_params(g, q, &scale, &zp)) return 0;
    const int pv = g->values[q->in[0]].producer;
    if (pv < 0) return 0;
    ir_node *p = &g->nodes[pv];
    float lo = -INFINITY, hi = INFINITY;
    int clip_node = -1;
    if (live_op(p, "Clip") && p->opset >= 11 && p->n_out == 1 && ir_graph_sole_consumer(g, p->out[0]) == qi) {
        /* a Clip node of its own: Q reads the clip's input instead */
        if (!const_f32(g, p->n_in > 1 ? p->in[1] : -1, &lo) || !const_f32(g, p->n_in > 2 ? p->in[2] : -1, &hi))
            return 0;
        clip_node = pv;
    } else if (p->act.kind == IR_ACT_CLIP && p->n_out >= 1 && p->out[0] == q->in[0] &&
               ir_graph_sole_consumer(g, p->out[0]) == qi) {
        lo = p->act.alpha, hi = p->act.beta; /* fused: the producer drops it */
    } else {
        return 0;
    }
    if (isnan(lo) || isnan(hi) || lo > hi) return 0;
    const uint8_t qlo = isinf(lo) ? 0 : quantize_u8(lo, scale, zp);
    const uint8_t qhi = isinf(hi) ? 255 : quantize_u8(hi, scale, zp);
    char hint[300];
    const char *vname = g->values[q->out[0]].name;
    snprintf(hint, sizeof hint, "%.200s_unclipped", vname);
    const int codes = ir_graph_new_value(g, hint);
    snprintf(hint, sizeof hint, "%.200s_min", vname);
    const int vmin = new_u8(ctx, g, hint, qlo);
    snprintf(hint, sizeof hint, "%.200s_max", vname);
    const int vmax = new_u8(ctx, g, hint, qhi);
    if (codes < 0 || vmin < 0 || vmax < 0) return -1;
    q = &g->nodes[qi];
    const int out = q->out[0];
    int in[3] = {codes, vmin, vmax};
    char name[300];
    snprintf(name, sizeof name, "%.250s_codes_clip", q->name);
    const int ci = ir_graph_add_node(g, name, "Clip", "", in, 3, &out, 1);
    if (ci < 0) return -1;
    g->nodes[ci].opset = 13;
    ir_node *qn = &g->nodes[qi];
    qn->out[0] = codes;
    if (clip_node >= 0) {
        qn->in[0] = g->nodes[clip_node].in[0];
        g->nodes[clip_node].dead = 1;
    } else {
        g->nodes[pv].act.kind = IR_ACT_NONE;
        g->nodes[pv].act.alpha = g->nodes[pv].act.beta = 0;
    }
    return 1;
}

cleave_status ir_pass_qdq_clip_codes(cleave_ctx *ctx, ir_graph *g, int *count) {
    int c = 0, n = g->n_nodes;
    for (int i = 0; i < n; i++) {
        if (!live_op(&g->nodes[i], "QuantizeLinear")) continue;
        int r = move_clip(ctx, g, i);
        if (r < 0) return cv_fail(ctx, CLEAVE_E_NOMEM, "QDQ clip: out of memory");
        c += r;
    }
    if (count) *count = c;
    if (!c) return CLEAVE_OK;
    CV_TRY(ir_graph_compact(ctx, g));
    CV_TRY(ir_graph_link(ctx, g));
    return ir_graph_toposort(ctx, g);
}

/* A constant integer scalar of dtype t (uint8 / int8). */
static int const_int(const ir_graph *g, int v, cv_dtype t, int32_t *out) {
    if (v < 0) return 0;
    const ir_value *x = &g->values[v];
    if (!x->data || x->dtype != t || cv_shape_numel(x->ndim < 0 ? 0 : x->ndim, x->dims) != 1) return 0;
    *out = t == CV_U8 ? *(const uint8_t *)x->data : *(const int8_t *)x->data;
    return 1;
}

/* Whether node n's output codes can take a fused clip (ops/op.h,
 * op_int_bounds): 1 with *zk the input index of its output zero point, or
 * -1 for MaxPool (no zero point: max commutes with the clip); 0 if not. */
static int code_clip_target(const ir_node *n, int *zk) {
    if (n->dead) return 0;
    *zk = -1;
    if (!n->domain[0] && (!strcmp(n->op_type, "QLinearConv") || !strcmp(n->op_type, "QLinearMatMul")))
        *zk = 7;
    else if (!strcmp(n->domain, "com.microsoft") && !strcmp(n->op_type, "QLinearAdd"))
        *zk = 7;
    else if (!n->domain[0] && !strcmp(n->op_type, "QuantizeLinear") && n->act.kind == IR_ACT_NONE)
        *zk = 2;
    else if (!(!n->domain[0] && !strcmp(n->op_type, "MaxPool") && n->act.kind == IR_ACT_NONE))
        return 0;
    return *zk < 0 || (*zk < n->n_in && n->in[*zk] >= 0);
}

/* Fuse Clip node ci into the integer op producing its input: 1 done, 0 no match. */
static int fuse_code_clip(ir_graph *g, int ci) {
    const ir_node *c = &g->nodes[ci];
    if (c->opset < 11 || c->n_in != 3 || c->n_out != 1 || c->in[0] < 0) return 0;
    const int pi = g->values[c->in[0]].producer;
    if (pi < 0) return 0;
    ir_node *p = &g->nodes[pi];
    int zk;
    if (!code_clip_target(p, &zk) || p->n_out != 1 || p->out[0] != c->in[0]) return 0;
    if (ir_graph_sole_consumer(g, p->out[0]) != ci || c->in[1] < 0) return 0;
    /* the codes' dtype: the zero point's, or (MaxPool) the clip bounds' */
    const cv_dtype t = g->values[zk >= 0 ? p->in[zk] : c->in[1]].dtype;
    int32_t zp = 0, lo, hi;
    if ((t != CV_U8 && t != CV_I8) || (zk >= 0 && !const_int(g, p->in[zk], t, &zp)) ||
        !const_int(g, c->in[1], t, &lo) || !const_int(g, c->in[2], t, &hi) || lo > hi)
        return 0;
    if (p->act.kind == IR_ACT_RELU) {
        if (zp > lo) lo = zp; /* ReLU of the real value: codes >= zp */
    } else if (p->act.kind != IR_ACT_NONE) {
        return 0;
    }
    if (lo > hi) lo = hi; /* clip(max(v, zp), lo, hi) with zp > hi: hi everywhere */
    p->act.kind = IR_ACT_CLIP;
    p->act.alpha = (float)lo;
    p->act.beta = (float)hi;
    p->out[0] = c->out[0];
    g->nodes[ci].dead = 1;
    return 1;
}

cleave_status ir_pass_fuse_code_clips(cleave_ctx *ctx, ir_graph *g, int *count) {
    int c = 0;
    if (count) *count = 0;
    const char *off = getenv("CLEAVE_FUSE_CODE_CLIPS"); /* =0: A/B runs and tests only */
    if (off && *off == '0') return CLEAVE_OK;
    for (int i = 0; i < g->n_nodes; i++)
        if (live_op(&g->nodes[i], "Clip")) c += fuse_code_clip(g, i);
    if (count) *count = c;
    if (!c) return CLEAVE_OK;
    CV_TRY(ir_graph_compact(ctx, g));
    CV_TRY(ir_graph_link(ctx, g));
    return ir_graph_toposort(ctx, g);
}
