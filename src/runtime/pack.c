/* runtime pack: activations below 8 bits held packed (rt_options
 * .pack_activations). A uint8 value is packed at b bits when the op writing
 * it clamps its codes to [lo, hi] with 0 <= lo and hi < 2^b (a fused Clip
 * of codes: ir_pass_fuse_code_clips), and that op and every op reading it
 * can stream packed codes through a small scratch:
 *   writes: QLinearConv (2-D), QLinearAdd (equal shapes), QuantizeLinear,
 *           MaxPool (no Indices output);
 *   reads:  QLinearConv input x (2-D), QLinearAdd (equal shapes), MaxPool,
 *           DequantizeLinear.
 * Plan inputs and outputs stay one byte per code (what callers hand in and
 * read back, and what the edge sends). With a fast backend's blocked
 * layouts (p->block) nothing is packed: every activation stays one byte a
 * code. So packing is the reference engine's (an edge device without
 * oneDNN, or --ref), which is what the planner's memory model describes
 * (plan_act_packable). */
#include "base/pack.h"
#include "runtime/plan_internal.h"

static int is_plain_u8_4d(const cv_tensor *t) {
    return t && t->dtype == CV_U8 && t->ndim == 4 && !t->data;
}

static int same_shape_add(const op_call *c) {
    return c->n_in >= 4 && c->in[0] && c->in[3] && cv_shape_eq(c->in[0], c->out[0]) &&
           cv_shape_eq(c->in[3], c->out[0]);
}

static int no_extra_outputs(const op_call *c) {
    for (int k = 1; k < c->n_out; k++)
        if (c->out[k]) return 0;
    return 1;
}

/* Bits the output codes of step s fit in (1..7), or 0 if s cannot write them packed. */
static int writes_packed(const rt_step *s) {
    const op_call *c = &s->call;
    const ir_node *n = c->node;
    const cv_tensor *y = c->out[0];
    if (!y || y->dtype != CV_U8 || n->act.kind != IR_ACT_CLIP || !no_extra_outputs(c)) return 0;
    switch (n->op) {
    case OP_QLinearConv:
        if (!is_plain_u8_4d(c->in[0]) || y->ndim != 4) return 0;
        break;
    case OP_QLinearAdd:
        if (!same_shape_add(c)) return 0;
        break;
    case OP_QuantizeLinear:
    case OP_MaxPool: break;
    default: return 0;
    }
    if (!(n->act.alpha >= 0.0f) || !(n->act.beta < 128.0f)) return 0;
    int b = 1;
    while ((float)((1 << b) - 1) < n->act.beta) b++;
    return b;
}

/* Whether step s can read input k packed. */
static int reads_packed(const rt_step *s, int k) {
    const op_call *c = &s->call;
    switch (c->node->op) {
    case OP_QLinearConv: return k == 0 && c->out[0] && c->out[0]->ndim == 4 && c->in[0]->ndim == 4;
    case OP_QLinearAdd: return (k == 0 || k == 3) && same_shape_add(c) && c->in[0]->dtype == CV_U8;
    case OP_MaxPool: return k == 0 && no_extra_outputs(c) && c->in[0]->dtype == CV_U8;
    case OP_DequantizeLinear: return k == 0 && c->in[0]->dtype == CV_U8;
    default: return 0;
    }
}

void rt_choose_packing(rt_plan *p) {
    if (!p->pack || p->block) return;
    const ir_graph *g = p->g;
    const int nv = g->n_values;
    int *bits = cv_calloc((size_t)nv + 1, sizeof(int)); /* > 0: candidate; -1: refused */
    if (!bits) return;
    for (int k = 0; k < p->n_in; k++) bits[p->in_ids[k]] = -1;
    for (int k = 0; k < p->n_out; k++) bits[p->out_ids[k]] = -1;
    for (int i = 0; i < p->n_steps; i++) {
        const rt_step *s = &p->steps[i];
        const int y = s->call.node->out[0];
        if (y >= 0 && bits[y] == 0) {
            const int b = writes_packed(s);
            bits[y] = b ? b : -1;
        }
    }
    for (int i = 0; i < p->n_steps; i++) {
        const rt_step *s = &p->steps[i];
        const ir_node *n = s->call.node;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0 && bits[n->in[k]] > 0 && !reads_packed(s, k)) bits[n->in[k]] = -1;
    }
    for (int v = 0; v < nv; v++)
        if (bits[v] > 0 && bits[v] < 8 && !p->vt[v].data && p->vt[v].dtype == CV_U8) p->vt[v].pbits = bits[v];
    cv_free(bits);
}
