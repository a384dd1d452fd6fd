/* quant qdq: find a canonical graph's quantization points and rewrite the
 * graph into ONNX QDQ form for a per-layer bit configuration. Weights are
 * quantized here once (per output channel, symmetric, into int8 storage);
 * activations get QuantizeLinear/DequantizeLinear pairs with ranges from the
 * calibration histograms, preceded by a Clip when fewer than 8 bits are
 * wanted (uint8 Q would otherwise saturate at 255, not at 2^b - 1). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ir/passes.h"
#include "ops/op.h"
#include "quant/qgraph.h"

static int is_type(const ir_node *n, const char *t) { return !strcmp(n->op_type, t) && !n->domain[0]; }

/* Output-channel axis of node n's weight (input 1), -2 when n has no
 * quantizable weight, -1 for per-tensor. */
static int weight_axis(const ir_graph *g, const ir_node *n) {
    if (n->n_in < 2 || n->in[1] < 0) return -2;
    const ir_value *w = &g->values[n->in[1]];
    if (!w->data || w->dtype != CV_F32 || w->ndim < 1) return -2;
    if (is_type(n, "Conv")) return 0;
    if (is_type(n, "ConvTranspose")) return ir_attr_int(n, "group", 1) == 1 && w->ndim >= 2 ? 1 : -1;
    if (is_type(n, "Gemm")) return w->ndim == 2 ? (ir_attr_int(n, "transB", 0) ? 0 : 1) : -1;
    if (is_type(n, "MatMul")) return w->ndim == 2 ? 1 : -1;
    return -2;
}

static int act_quantizable(const ir_graph *g, const rt_plan *p, const ir_node *n) {
    if (n->n_out < 1 || n->out[0] < 0) return 0;
    const ir_value *v = &g->values[n->out[0]];
    if (v->is_output || v->data) return 0;
    const op_def *d = n->op >= 0 ? op_get(n->op) : NULL;
    if (d && (d->flags & (OP_F_VIEW | OP_F_SHAPE_ONLY))) return 0;
    const cv_tensor *t = rt_plan_value(p, n->out[0]);
    return t && t->dtype == CV_F32;
}

/* elements per sample of a [N, ...] activation */
static int64_t per_sample(const cv_tensor *t) {
    int64_t n = cv_numel(t);
    return t->ndim >= 1 && t->dims[0] > 0 ? n / t->dims[0] : n;
}

cleave_status quant_layers_find(cleave_ctx *ctx, const ir_graph *g, const rt_plan *p,
                                quant_layer **out, int *n) {
    quant_layer *l = cv_calloc((size_t)(g->n_nodes + g->n_inputs) + 1, sizeof *l);
    if (!l) return cv_fail(ctx, CLEAVE_E_NOMEM, "quantization layers: out of memory");
    int k = 0;
    for (int i = 0; i < g->n_inputs; i++) {
        const ir_value *v = &g->values[g->inputs[i]];
        const cv_tensor *t = rt_plan_value(p, g->inputs[i]);
        if (v->is_initializer || !t || t->dtype != CV_F32) continue;
        l[k++] = (quant_layer){v->name, -1, -1, 0, g->inputs[i], 0, per_sample(t)};
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *nd = &g->nodes[i];
        if (nd->dead) continue;
        int ax = weight_axis(g, nd);
        int act = act_quantizable(g, p, nd) ? nd->out[0] : -1;
        if (ax == -2 && act < 0) continue;
        const char *name = nd->name && nd->name[0] ? nd->name : g->values[nd->out[0]].name;
        quant_layer *q = &l[k++];
        *q = (quant_layer){name, i, -1, ax, act, 0, 0};
        if (ax != -2) {
            q->weight = nd->in[1];
            q->w_numel = cv_shape_numel(g->values[q->weight].ndim, g->values[q->weight].dims);
        }
        if (act >= 0) q->a_numel = per_sample(rt_plan_value(p, act));
    }
    for (int a = 0; a < k; a++)
        for (int b = 0; b < a; b++)
            if (!strcmp(l[a].name, l[b].name)) {
                cv_free(l);
                return cv_fail(ctx, CLEAVE_E_INVALID,
                               "%s: two quantization points are both named '%s'; node names must "
                               "be unique",
                               g->source_path ? g->source_path : "model", l[a].name);
            }
    *out = l;
    *n = k;
    return CLEAVE_OK;
}

int quant_layer_index(const quant_layer *l, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(l[i].name, name)) return i;
    return -1;
}

/* ---- rewriting helpers ---- */

static int new_const(cleave_ctx *ctx, ir_graph *g, const char *hint, cv_dtype dt, int ndim,
                     const int64_t *dims, const void *data) {
    int v = ir_graph_new_value(g, hint);
    if (v < 0) return -1;
    if (ir_value_set_data(ctx, g, v, dt, ndim, dims, data)) return -1;
    g->values[v].is_initializer = 1;
    g->values[v].producer = -1;
    return v;
}

static int add_node(ir_graph *g, const char *base, const char *suffix, const char *op,
                    const int *in, int n_in, int out) {
    char name[320];
    snprintf(name, sizeof name, "%.250s/%s", base, suffix);
    return ir_graph_add_node(g, name, op, "", in, n_in, &out, 1);
}

/* Quantize weight w (float, channel axis ax or -1) into int8 storage with
 * per-channel scales; rewires node ni's input 1 to a DequantizeLinear. */
static cleave_status quant_weight(cleave_ctx *ctx, ir_graph *g, const quant_layer *l, int bits,
                                  const quant_config *c, quant_apply_info *info) {
    ir_value *wv = &g->values[l->weight];
    const char *wname = wv->name; /* g->values moves when values are added */
    int ndim = wv->ndim;
    int64_t dims[CV_MAX_DIMS];
    memcpy(dims, wv->dims, sizeof dims);
    int64_t numel = cv_shape_numel(ndim, dims);
    const float *w = wv->data;
    int ax = l->w_axis;
    int64_t C = ax < 0 ? 1 : dims[ax];
    int64_t inner = 1; /* elements after the axis */
    for (int d = ax + 1; ax >= 0 && d < ndim; d++) inner *= dims[d];
    int64_t outer = ax < 0 ? 1 : numel / (C * inner);
    int64_t per_ch = numel / C;

    float *tmp = cv_malloc(sizeof(float) * (size_t)numel);
    int8_t *q = cv_malloc((size_t)numel);
    q_params *qp = cv_malloc(sizeof(q_params) * (size_t)C);
    float *scale = cv_malloc(sizeof(float) * (size_t)C);
    int8_t *zp = cv_calloc((size_t)C, 1);
    int8_t *qc = cv_malloc((size_t)per_ch);
    cleave_status s = CLEAVE_OK;
    if (!tmp || !q || !qp || !scale || !zp || !qc) {
        s = cv_fail(ctx, CLEAVE_E_NOMEM, "weight '%s': out of memory", wv->name);
        goto done;
    }
    /* gather channel-major: tmp[c][o][i] = w[o][c][i] */
    for (int64_t o = 0; o < outer; o++)
        for (int64_t ch = 0; ch < C; ch++)
            memcpy(tmp + ch * per_ch + o * inner, w + (o * C + ch) * inner,
                   sizeof(float) * (size_t)inner);
    if ((s = q_weight_params_per_channel(ctx, tmp, C, per_ch, bits, c->w_method, qp))) goto done;
    for (int64_t ch = 0; ch < C; ch++) {
        q_quantize_s8(tmp + ch * per_ch, (size_t)per_ch, &qp[ch], qc);
        for (int64_t o = 0; o < outer; o++)
            memcpy(q + (o * C + ch) * inner, qc + o * inner, (size_t)inner);
        scale[ch] = qp[ch].scale;
    }
    char hint[300];
    snprintf(hint, sizeof hint, "%.200s_q%d", wname, bits);
    int vq = new_const(ctx, g, hint, CV_I8, ndim, dims, q);
    snprintf(hint, sizeof hint, "%.200s_scale", wname);
    int64_t cdim = C;
    int vs = new_const(ctx, g, hint, CV_F32, ax < 0 ? 0 : 1, &cdim, scale);
    snprintf(hint, sizeof hint, "%.200s_zero_point", wname);
    int vz = new_const(ctx, g, hint, CV_I8, ax < 0 ? 0 : 1, &cdim, zp);
    snprintf(hint, sizeof hint, "%.200s_dq", wname);
    int vdq = ir_graph_new_value(g, hint);
    if (vq < 0 || vs < 0 || vz < 0 || vdq < 0) {
        s = cv_fail(ctx, CLEAVE_E_NOMEM, "weight '%s': out of memory", g->values[l->weight].name);
        goto done;
    }
    g->values[vdq].dtype = CV_F32;
    int in[3] = {vq, vs, vz};
    int ni = add_node(g, l->name, "weight_dq", "DequantizeLinear", in, 3, vdq);
    if (ni < 0 || (ax >= 0 && ir_node_set_attr_int(g, &g->nodes[ni], "axis", ax))) {
        s = cv_fail(ctx, CLEAVE_E_NOMEM, "weight '%s': out of memory", g->values[l->weight].name);
        goto done;
    }
    g->nodes[l->node].in[1] = vdq;
    info->weights_float_bytes += numel * 4;
    info->weights_packed_bytes += (int64_t)q_packed_bytes((size_t)numel, bits) + C * 4;
    info->n_weights++;
done:
    cv_free(tmp);
    cv_free(q);
    cv_free(qp);
    cv_free(scale);
    cv_free(zp);
    cv_free(qc);
    return s;
}

/* A quantized activation made so far: its dequantized value and params. */
typedef struct act_rec {
    int vdq, vs, vz;
    q_params qp;
} act_rec;

static cleave_status quant_act(cleave_ctx *ctx, ir_graph *g, const quant_layer *l, int bits,
                               const quant_config *c, const quant_stats *st, act_rec *rec,
                               int *n_rec, quant_apply_info *info) {
    int v = l->act;
    const char *vname = g->values[v].name;
    q_params qp;
    int vs = -1, vz = -1;
    /* MaxPool of a quantized tensor at the same width keeps its grid: reuse
     * the input's parameters (no second rounding; runs on the integers) */
    if (l->node >= 0 && is_type(&g->nodes[l->node], "MaxPool"))
        for (int i = 0; i < *n_rec; i++)
            if (rec[i].vdq == g->nodes[l->node].in[0] && rec[i].qp.bits == bits) {
                qp = rec[i].qp;
                vs = rec[i].vs;
                vz = rec[i].vz;
            }
    char hint[300];
    if (vs < 0) {
        int h = st ? quant_stats_find(st, vname) : -1;
        if (h < 0)
            return cv_fail(ctx, CLEAVE_E_INVALID,
                           "layer '%s': no calibration statistics for activation '%s' (calibrate "
                           "this model first)",
                           l->name, vname);
        float lo, hi;
        CV_TRY(q_hist_range(ctx, &st->hist[h], c->a_method, bits, 0, c->a_param, &lo, &hi));
        CV_TRY(q_params_from_range(ctx, lo, hi, bits, 0, &qp));
        snprintf(hint, sizeof hint, "%.200s_scale", vname);
        vs = new_const(ctx, g, hint, CV_F32, 0, NULL, &qp.scale);
        uint8_t z = (uint8_t)qp.zero_point;
        snprintf(hint, sizeof hint, "%.200s_zero_point", vname);
        vz = new_const(ctx, g, hint, CV_U8, 0, NULL, &z);
        if (vs < 0 || vz < 0)
            return cv_fail(ctx, CLEAVE_E_NOMEM, "activation '%s': out of memory", vname);
    }
    int n_before = g->n_nodes;
    int x = v;
    if (bits < 8) {
        /* the b-bit grid ends at q = 2^b - 1: clip there in float so the
         * uint8 QuantizeLinear lands inside it */
        float mn = qp.scale * (float)(0 - qp.zero_point);
        float mx = qp.scale * (float)(((1 << bits) - 1) - qp.zero_point);
        snprintf(hint, sizeof hint, "%.200s_clip_min", vname);
        int vmin = new_const(ctx, g, hint, CV_F32, 0, NULL, &mn);
        snprintf(hint, sizeof hint, "%.200s_clip_max", vname);
        int vmax = new_const(ctx, g, hint, CV_F32, 0, NULL, &mx);
        snprintf(hint, sizeof hint, "%.200s_clipped", vname);
        int vc = ir_graph_new_value(g, hint);
        if (vmin < 0 || vmax < 0 || vc < 0)
            return cv_fail(ctx, CLEAVE_E_NOMEM, "activation '%s': out of memory", vname);
        int in[3] = {v, vmin, vmax};
        if (add_node(g, l->name, "act_clip", "Clip", in, 3, vc) < 0)
            return cv_fail(ctx, CLEAVE_E_NOMEM, "activation '%s': out of memory", vname);
        x = vc;
    }
    snprintf(hint, sizeof hint, "%.200s_q%d", vname, bits);
    int vq = ir_graph_new_value(g, hint);
    snprintf(hint, sizeof hint, "%.200s_dq", vname);
    int vdq = ir_graph_new_value(g, hint);
    if (vq < 0 || vdq < 0) return cv_fail(ctx, CLEAVE_E_NOMEM, "activation '%s': out of memory", vname);
    int qin[3] = {x, vs, vz}, dqin[3] = {vq, vs, vz};
    if (add_node(g, l->name, "act_q", "QuantizeLinear", qin, 3, vq) < 0 ||
        add_node(g, l->name, "act_dq", "DequantizeLinear", dqin, 3, vdq) < 0)
        return cv_fail(ctx, CLEAVE_E_NOMEM, "activation '%s': out of memory", vname);
    /* every earlier consumer now reads the dequantized tensor */
    for (int i = 0; i < n_before; i++) {
        ir_node *nd = &g->nodes[i];
        if (nd->dead) continue;
        for (int j = 0; j < nd->n_in; j++)
            if (nd->in[j] == v) nd->in[j] = vdq;
    }
    rec[*n_rec] = (act_rec){vdq, vs, vz, qp};
    (*n_rec)++;
    info->n_acts++;
    return CLEAVE_OK;
}

cleave_status quant_apply(cleave_ctx *ctx, ir_graph *g, const quant_layer *l, int n,
                          const int *wbits, const int *abits, const quant_config *c,
                          const quant_stats *st, quant_apply_info *info) {
    memset(info, 0, sizeof *info);
    if (ir_graph_opset(g, "") < 13)
        return cv_fail(ctx, CLEAVE_E_UNSUPPORTED,
                       "%s: opset %lld: quantization needs opset >= 13 (per-channel "
                       "DequantizeLinear)",
                       g->source_path ? g->source_path : "model",
                       (long long)ir_graph_opset(g, ""));
    act_rec *rec = cv_malloc(sizeof(act_rec) * ((size_t)n + 1));
    if (!rec) return cv_fail(ctx, CLEAVE_E_NOMEM, "quantize: out of memory");
    int n_rec = 0;
    cleave_status s = CLEAVE_OK;
    for (int k = 0; k < n && !s; k++) {
        if (l[k].weight >= 0 && wbits[k] != QUANT_FLOAT) s = quant_weight(ctx, g, &l[k], wbits[k], c, info);
        if (!s && l[k].act >= 0 && abits[k] != QUANT_FLOAT)
            s = quant_act(ctx, g, &l[k], abits[k], c, st, rec, &n_rec, info);
    }
    cv_free(rec);
    CV_TRY(s);
    /* float weights now read by nobody are not part of the model any more */
    int *uses = ir_graph_consumer_counts(g);
    if (!uses) return cv_fail(ctx, CLEAVE_E_NOMEM, "quantize: out of memory");
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].is_initializer && !uses[v] && !g->values[v].is_output &&
            !g->values[v].is_input) {
            g->values[v].is_initializer = 0;
            g->values[v].data = NULL;
        }
    cv_free(uses);
    CV_TRY(ir_graph_link(ctx, g));
    CV_TRY(ir_graph_toposort(ctx, g));
    return op_bind_graph(ctx, g);
}

cleave_status quant_lower_int8(cleave_ctx *ctx, ir_graph *g, int *count) {
    CV_TRY(ir_pass_qdq_clip_codes(ctx, g, NULL));
    CV_TRY(ir_pass_lower_qdq(ctx, g, count));
    CV_TRY(ir_pass_fuse_code_clips(ctx, g, NULL));
    CV_TRY(ir_pass_remove_dead(ctx, g, NULL));
    return op_bind_graph(ctx, g);
}
