/* runtime layout pass: with a fast backend, 4-D f32 activations between
 * ops that handle it stay in the backend's channel-blocked layout;
 * everything else reads converted copies. See docs/architecture.md. */
#include <string.h>

#include "ops/blocked.h"
#include "ops/fast.h"
#include "runtime/plan_internal.h"

/* ---- layouts ----
 * With a fast backend, 4-D f32 activations between ops that handle it stay
 * in the backend's channel-blocked layout: convolutions (the backend reads
 * and writes either layout), pools, channel concats and element-wise ops on
 * equal shapes. Plan inputs and outputs are always plain; an op that needs
 * plain reads a converted copy made just before it runs. */
enum { LK_PLAIN, LK_CONV, LK_POOL, LK_CONCAT, LK_ELT };

static int is_4d_f32(const cv_tensor *t) { return t && t->dtype == CV_F32 && t->ndim == 4; }

static int layout_kind(const rt_plan *p, const rt_step *s) {
    const op_call *c = &s->call;
    const ir_node *n = c->node;
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
            if (n->in[k] >= 0 && is_4d_f32(s->call.in[k])) wants[n->in[k]] = 1;
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
                if (n->in[k] >= 0 && is_4d_f32(s->call.in[k]) && !p->blk[n->in[k]]) all = 0;
            s->blocked = all;
        }
        if (s->blocked) p->blk[y] = p->block;
    }
    cv_free(is_out);
    cv_free(wants);
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
            if (is_4d_f32(t) && !t->data) {
                if (s->kind == LK_CONV) want = t->block; /* the conv reads either layout */
                else if (s->blocked) want = p->block;
                if (want != t->block) {
                    p->convs[p->n_convs++] = (rt_conv){.value = v, .view = (int)vi, .buf = -1};
                    t->block = want;
                }
            }
            if (s->blocked && s->kind == LK_ELT && is_4d_f32(t)) {
                int64_t flat = (int64_t)(cv_storage_bytes(t) / sizeof(float));
                t->ndim = 1;
                t->dims[0] = flat;
                t->block = 0;
            }
            c->in[k] = t;
        }
        for (int k = 0; k < n->n_out; k++, vi++) {
            int v = n->out[k];
            if (v < 0) continue;
            cv_tensor *t = &p->views[vi];
            *t = p->vt[v];
            t->block = p->blk[v];
            if (s->blocked && s->kind == LK_ELT && is_4d_f32(t)) {
                int64_t flat = (int64_t)(cv_storage_bytes(t) / sizeof(float));
                t->ndim = 1;
                t->dims[0] = flat;
                t->block = 0;
            }
            c->out[k] = t;
        }
        s->n_conv = p->n_convs - s->conv0;
    }
}

/* Point every view at its value's buffer (or its conversion buffer). */
void rt_bind_views(rt_plan *p) {
    for (int i = 0; i < p->n_steps; i++) {
        rt_step *s = &p->steps[i];
        const ir_node *n = s->call.node;
        int vi = s->view0;
        for (int k = 0; k < n->n_in; k++, vi++)
            if (n->in[k] >= 0) p->views[vi].data = p->vt[n->in[k]].data;
        for (int k = 0; k < n->n_out; k++, vi++)
            if (n->out[k] >= 0) p->views[vi].data = p->vt[n->out[k]].data;
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
    if (from) blk_to_plain_f32(src->data, dst->data, src->dims[0], src->dims[1], hw, from, p->ctx->threads);
    else blk_to_blocked_f32(src->data, dst->data, src->dims[0], src->dims[1], hw, dst->block, p->ctx->threads);
}

