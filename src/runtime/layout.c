/* runtime layout pass: with a fast backend, 4-D f32 activations between
 * ops that handle it stay in the backend's channel-blocked layout, and
 * 4-D uint8 ones in NHWC; everything else reads converted copies. See
 * docs/architecture.md. */
#include <stdlib.h>
#include <string.h>

#include "ops/blocked.h"
#include "ops/fast.h"
#include "runtime/plan_internal.h"

/* ---- layouts ----
 * With a fast backend, 4-D f32 activations between ops that handle it stay
 * in the backend's channel-blocked layout: convolutions (the backend reads
 * and writes either layout), pools, channel concats and element-wise ops on
 * equal shapes. 4-D uint8 activations (a lowered QDQ model) stay NHWC,
 * i.e. blocked by their whole C, between QLinearConvs, 2-D MaxPools and
 * same-shape QLinearAdds: oneDNN's int8 convolutions run channels-last.
 * Plan inputs and outputs are always plain; an op that needs plain reads a
 * converted copy made just before it runs. */
enum { LK_PLAIN, LK_CONV, LK_POOL, LK_CONCAT, LK_ELT };

static int is_4d_f32(const cv_tensor *t) { return t && t->dtype == CV_F32 && t->ndim == 4; }
static int is_4d_u8(const cv_tensor *t) { return t && t->dtype == CV_U8 && t->ndim == 4; }
/* An activation the pass may block: 4-D f32 or uint8. */
static int is_4d_act(const cv_tensor *t) { return is_4d_f32(t) || is_4d_u8(t); }
/* The block a value of this type takes: the backend's for f32, C (NHWC)
 * for uint8. */
static int act_block(const rt_plan *p, const cv_tensor *t) {
    return t->dtype == CV_U8 ? (int)t->dims[1] : p->block;
}

static int layout_kind_u8(const rt_step *s) {
    const op_call *c = &s->call;
    const ir_node *n = c->node;
    for (int k = 1; k < n->n_out; k++)
        if (c->out[k]) return LK_PLAIN;
    if (c->in[0]->dims[1] > (1 << 20)) return LK_PLAIN;
    switch (n->op) {
    case OP_QLinearConv:
        return c->in[3] && c->in[3]->data && c->in[3]->ndim == 4 ? LK_CONV : LK_PLAIN;
    case OP_MaxPool: return LK_POOL;
    case OP_Clip: /* codes of a narrower grid (ir_pass_qdq_clip_codes): any layout */
        for (int k = 1; k < n->n_in; k++)
            if (c->in[k] && cv_numel(c->in[k]) != 1) return LK_PLAIN;
        return LK_ELT;
    case OP_QLinearAdd:
        return c->in[3] && is_4d_u8(c->in[3]) && cv_shape_eq(c->in[0], c->out[0]) &&
                       cv_shape_eq(c->in[3], c->out[0])
                   ? LK_ELT
                   : LK_PLAIN;
    default: return LK_PLAIN;
    }
}

static int layout_kind(const rt_plan *p, const rt_step *s) {
    const op_call *c = &s->call;
    const ir_node *n = c->node;
    if (is_4d_u8(c->in[0]) && is_4d_u8(c->out[0])) return layout_kind_u8(s);
    if (!is_4d_f32(c->in[0]) || !c->out[0] || !is_4d_f32(c->out[0])) return LK_PLAIN;
    for (int k = 1; k < n->n_out; k++)
        if (c->out[k]) return LK_PLAIN; /* MaxPool Indices, BN extras, ... */
    switch (n->op) {
    case OP_Conv:
        if (!c->in[1] || !c->in[1]->data || c->in[1]->ndim != 4) return LK_PLAIN;
        if (n->n_in > 2 && c->in[2] && !c->in[2]->data) return LK_PLAIN;
        return LK_CONV;
    case OP_MaxPool:
    case OP_AveragePool:
    case OP_GlobalAveragePool:
    case OP_GlobalMaxPool: return LK_POOL;
    case OP_Concat: {
        int64_t axis = ir_attr_int(n, "axis", 1);
        if ((axis != 1 && axis != -3) || n->n_in > 64) return LK_PLAIN;
        for (int k = 0; k < n->n_in; k++)
            if (!is_4d_f32(c->in[k]) || c->in[k]->dims[1] % p->block) return LK_PLAIN;
        return LK_CONCAT;
    }
    case OP_Add:
    case OP_Sub:
    case OP_Mul:
        if (n->n_in != 2 || !c->in[1] || !cv_shape_eq(c->in[1], c->out[0]) ||
            !cv_shape_eq(c->in[0], c->out[0]) || c->in[1]->dtype != CV_F32)
            return LK_PLAIN;
        return LK_ELT;
    case OP_Relu:
    case OP_LeakyRelu:
    case OP_Sigmoid:
    case OP_Tanh:
    case OP_HardSigmoid:
    case OP_HardSwish:
        return LK_ELT;
    case OP_Clip:
        for (int k = 1; k < n->n_in; k++)
            if (c->in[k] && cv_numel(c->in[k]) != 1) return LK_PLAIN;
        return LK_ELT;
    default: return LK_PLAIN;
    }
}

void rt_choose_layouts(rt_plan *p) {
    const ir_graph *g = p->g;
    p->block = p->ctx->fast ? fast_block_size() : 0;
    if (p->block <= 0 || p->block > 64) {
        p->block = 0;
        return;
    }
    char *is_out = cv_calloc((size_t)g->n_values + 1, 1), *wants = cv_calloc((size_t)g->n_values + 1, 1);
    if (!is_out || !wants) {
        cv_free(is_out);
        cv_free(wants);
        p->block = 0;
        return;
    }
    for (int k = 0; k < p->n_out; k++) is_out[p->out_ids[k]] = 1;
    for (int i = 0; i < p->n_steps; i++) {
        rt_step *s = &p->steps[i];
        s->kind = layout_kind(p, s);
        if (s->kind == LK_PLAIN) continue;
        const ir_node *n = s->call.node;
        for (int k = 0; k < (s->kind == LK_CONV ? 1 : n->n_in); k++)
            if (n->in[k] >= 0 && is_4d_act(s->call.in[k])) wants[n->in[k]] = 1;
    }
    for (int i = 0; i < p->n_steps; i++) {
        rt_step *s = &p->steps[i];
        const ir_node *n = s->call.node;
        int y = n->out[0];
        if (s->kind == LK_PLAIN || is_out[y]) continue;
        if (s->kind == LK_CONV) {
            s->blocked = wants[y];
        } else {
            int all = 1;
            for (int k = 0; k < n->n_in; k++)
                if (n->in[k] >= 0 && is_4d_act(s->call.in[k]) && !p->blk[n->in[k]]) all = 0;
            s->blocked = all;
        }
        if (s->blocked) p->blk[y] = act_block(p, s->call.out[0]);
    }
    cv_free(is_out);
    cv_free(wants);
}

/* A blocked tensor as the flat vector of its storage (what an
 * element-wise op on equal shapes sees). */
static void flatten(cv_tensor *t) {
    int64_t flat = (int64_t)(cv_storage_bytes(t) / cv_dtype_size(t->dtype));
    t->ndim = 1;
    t->dims[0] = flat;
    t->block = 0;
}

/* Each step gets its own in/out tensors: layout as the step runs it (a
 * blocked element-wise op sees flat vectors), conversions where a value's
 * layout differs from what the step reads. */
void rt_build_views(rt_plan *p) {
    size_t vi = 0;
    for (int i = 0; i < p->n_steps; i++) {
        rt_step *s = &p->steps[i];
        op_call *c = &s->call;
        const ir_node *n = c->node;
        s->view0 = (int)vi;
        s->conv0 = p->n_convs;
        for (int k = 0; k < n->n_in; k++, vi++) {
            int v = n->in[k];
            if (v < 0) continue;
            cv_tensor *t = &p->views[vi];
            *t = p->vt[v];
            t->block = p->blk[v];
            int want = 0;
            if (is_4d_act(t) && !t->data) {
                if (s->kind == LK_CONV) want = t->block; /* the conv reads either layout */
                else if (s->blocked) want = act_block(p, t);
                if (want != t->block) {
                    p->convs[p->n_convs++] = (rt_conv){.value = v, .view = (int)vi, .buf = -1};
                    t->block = want;
                }
            }
            if (s->blocked && s->kind == LK_ELT && is_4d_act(t)) flatten(t);
            c->in[k] = t;
        }
        for (int k = 0; k < n->n_out; k++, vi++) {
            int v = n->out[k];
            if (v < 0) continue;
            cv_tensor *t = &p->views[vi];
            *t = p->vt[v];
            t->block = p->blk[v];
            if (s->blocked && s->kind == LK_ELT && is_4d_act(t)) flatten(t);
            c->out[k] = t;
        }
        s->n_conv = p->n_convs - s->conv0;
    }
}

void rt_fuse_sums(rt_plan *p) {
    const char *off = getenv("CLEAVE_NO_FUSE_SUM"); /* A/B runs and tests */
    if (!p->block || (off && *off == '1')) return;
    const ir_graph *g = p->g;
    int nv = g->n_values;
    int *prod = cv_malloc(sizeof(int) * ((size_t)nv + 1)), *uses = cv_calloc((size_t)nv + 1, sizeof(int));
    int *user = cv_malloc(sizeof(int) * ((size_t)nv + 1));
    char *is_out = cv_calloc((size_t)nv + 1, 1);
    if (!prod || !uses || !user || !is_out) goto out; /* no fusion: still correct */
    for (int v = 0; v < nv; v++) prod[v] = -1, user[v] = -1;
    for (int k = 0; k < p->n_out; k++) is_out[p->out_ids[k]] = 1;
    for (int i = 0; i < p->n_steps; i++) {
        const ir_node *n = p->steps[i].call.node;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) uses[n->in[k]]++, user[n->in[k]] = i;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0) prod[n->out[k]] = i;
    }
    for (int i = 0; i < p->n_steps; i++) {
        rt_step *s = &p->steps[i];
        const ir_node *n = s->call.node;
        if (n->op != OP_Conv || s->kind != LK_CONV || n->act.kind != IR_ACT_NONE || !s->call.fast) continue;
        int y = n->out[0];
        if (y < 0 || !p->blk[y] || is_out[y] || uses[y] != 1 || !is_4d_f32(&p->vt[y])) continue;
        rt_step *a = &p->steps[user[y]];
        const ir_node *an = a->call.node;
        if (an->op != OP_Add || a->kind != LK_ELT || !a->blocked || an->n_in != 2 || a->n_conv) continue;
        if (an->act.kind != IR_ACT_NONE && an->act.kind != IR_ACT_RELU) continue; /* padded lanes stay 0 */
        int o = an->in[0] == y ? an->in[1] : an->in[0], z = an->out[0];
        if (o < 0 || o == y || z < 0 || p->vt[o].data || p->blk[o] != p->blk[y] || p->blk[z] != p->blk[y])
            continue;
        if (prod[o] >= i || !cv_shape_eq(&p->vt[o], &p->vt[y]) || !cv_shape_eq(&p->vt[z], &p->vt[y]))
            continue;
        s->fused_out = z;
        s->sum_value = o;
        s->sum_view = p->vt[o];
        s->sum_view.block = p->blk[o];
        s->call.sum = &s->sum_view;
        s->call.sum_act = an->act;
        cv_tensor *ov = &p->views[s->view0 + n->n_in];
        *ov = p->vt[z];
        ov->block = p->blk[z];
        a->fused_away = 1;
    }
out:
    cv_free(prod);
    cv_free(uses);
    cv_free(user);
    cv_free(is_out);
}

/* Point every view at its value's buffer (or its conversion buffer). */
void rt_bind_views(rt_plan *p) {
    for (int i = 0; i < p->n_steps; i++) {
        rt_step *s = &p->steps[i];
        const ir_node *n = s->call.node;
        int vi = s->view0;
        for (int k = 0; k < n->n_in; k++, vi++)
            if (n->in[k] >= 0) p->views[vi].data = p->vt[n->in[k]].data;
        for (int k = 0; k < n->n_out; k++, vi++) {
            int v = k == 0 && s->fused_out >= 0 ? s->fused_out : n->out[k];
            if (v >= 0) p->views[vi].data = p->vt[v].data;
        }
        if (s->sum_value >= 0) s->sum_view.data = p->vt[s->sum_value].data;
        for (int j = 0; j < s->n_conv; j++) {
            rt_conv *cv = &p->convs[s->conv0 + j];
            p->views[cv->view].data = p->arena + p->bufs[cv->buf].off;
        }
        if (s->scratch >= 0) s->call.scratch = p->arena + p->bufs[s->scratch].off;
    }
}

void rt_run_conversion(rt_plan *p, const rt_conv *cv) {
    const cv_tensor *src = &p->vt[cv->value], *dst = &p->views[cv->view];
    int from = p->blk[cv->value];
    int64_t hw = src->dims[2] * src->dims[3];
    if (src->dtype == CV_U8) {
        const int nt = p->ctx->threads;
        if (from) blk_to_plain_b8(src->data, dst->data, src->dims[0], src->dims[1], hw, from, nt);
        else blk_to_blocked_b8(src->data, dst->data, src->dims[0], src->dims[1], hw, dst->block, nt);
        return;
    }
    if (from) blk_to_plain_f32(src->data, dst->data, src->dims[0], src->dims[1], hw, from, p->ctx->threads);
    else blk_to_blocked_f32(src->data, dst->data, src->dims[0], src->dims[1], hw, dst->block, p->ctx->threads);
}

