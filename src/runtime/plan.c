/* runtime plan: select the nodes between the given inputs and outputs,
 * infer shapes in topological order, fold whatever is constant, prepare
 * kernels, then place every activation/scratch buffer in one arena by
 * liveness (greedy by size, first gap that fits: the TFLite/ggml approach)
 * and bind all pointers once. View ops (Reshape, Flatten, ...) alias their
 * input's buffer and are skipped at run time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "runtime/plan_internal.h"

#define ALIGN_UP(x) (((x) + 63) & ~(size_t)63)

void rt_plan_destroy(rt_plan *p) {
    if (!p) return;
    for (int i = 0; i < p->n_steps; i++)
        if (p->steps[i].def && p->steps[i].def->release && p->steps[i].call.state)
            p->steps[i].def->release(p->steps[i].call.state);
    cv_free(p->vt);
    cv_free(p->buf_of);
    cv_free(p->steps);
    cv_free(p->in_ids);
    cv_free(p->out_ids);
    cv_free(p->bufs);
    cv_aligned_free(p->arena);
    cv_arena_destroy(&p->consts);
    cv_free(p->ptrs);
    cv_free(p->views);
    cv_free(p->convs);
    cv_free(p->blk);
    cv_free(p->ns);
    cv_free(p);
}

static int is_int_dtype(cv_dtype t) {
    return t == CV_I64 || t == CV_I32 || t == CV_I16 || t == CV_I8 || t == CV_U8 ||
           t == CV_U16 || t == CV_U32 || t == CV_U64 || t == CV_BOOL;
}

/* Check a provided input against the graph's declared type and shape. */
static cleave_status check_input(cleave_ctx *ctx, const ir_graph *g, int v, const cv_tensor *t) {
    const ir_value *val = &g->values[v];
    const char *src = g->source_path ? g->source_path : "graph";
    char a[128], b[128];
    if (val->dtype != CV_UNDEF && t->dtype != val->dtype)
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: input '%s': got dtype %s, the model expects %s",
                       src, val->name, cv_dtype_name(t->dtype), cv_dtype_name(val->dtype));
    if (!cv_dtype_supported(t->dtype))
        return cv_fail(ctx, CLEAVE_E_UNSUPPORTED, "%s: input '%s': dtype %s is not supported", src,
                       val->name, cv_dtype_name(t->dtype));
    if (t->ndim < 0 || t->ndim > CV_MAX_DIMS)
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: input '%s': invalid rank %d", src, val->name,
                       t->ndim);
    int bad = val->ndim >= 0 && val->ndim != t->ndim;
    for (int i = 0; !bad && val->ndim >= 0 && i < t->ndim; i++)
        bad = val->dims[i] >= 0 && val->dims[i] != t->dims[i];
    for (int i = 0; i < t->ndim; i++) bad |= t->dims[i] < 0;
    if (bad)
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: input '%s': got shape %s, the model expects %s",
                       src, val->name, cv_shape_str(t->ndim, t->dims, a, sizeof a),
                       cv_shape_str(val->ndim < 0 ? 0 : val->ndim, val->dims, b, sizeof b));
    return CLEAVE_OK;
}

/* Mark the nodes needed to compute outputs from inputs and constants. */
static cleave_status select_nodes(rt_plan *p, char *need, char *is_in) {
    const ir_graph *g = p->g;
    const char *src = g->source_path ? g->source_path : "graph";
    char *seen = cv_calloc((size_t)g->n_values + 1, 1);
    int *stack = cv_malloc(sizeof(int) * ((size_t)g->n_values + 1));
    if (!seen || !stack) {
        cv_free(seen);
        cv_free(stack);
        return cv_fail(p->ctx, CLEAVE_E_NOMEM, "plan: out of memory");
    }
    cleave_status st = CLEAVE_OK;
    int sp = 0;
    for (int k = 0; k < p->n_out; k++) {
        if (!seen[p->out_ids[k]]) stack[sp++] = p->out_ids[k];
        seen[p->out_ids[k]] = 1;
    }
    while (sp && st == CLEAVE_OK) {
        int v = stack[--sp];
        if (is_in[v] || g->values[v].data) continue;
        int pn = g->values[v].producer;
        if (pn < 0) {
            st = cv_fail(p->ctx, CLEAVE_E_INVALID,
                         "%s: tensor '%s' is needed but is neither a given input, a constant, "
                         "nor produced by a node",
                         src, g->values[v].name);
            break;
        }
        if (need[pn]) continue;
        need[pn] = 1;
        const ir_node *n = &g->nodes[pn];
        for (int k = 0; k < n->n_in; k++) {
            int u = n->in[k];
            if (u >= 0 && !seen[u]) {
                seen[u] = 1;
                stack[sp++] = u;
            }
        }
    }
    cv_free(seen);
    cv_free(stack);
    return st;
}

/* Run a node now, at compile time, on constant inputs. */
static cleave_status fold_node(rt_plan *p, rt_step *s) {
    op_call *c = &s->call;
    for (int k = 0; k < c->n_out; k++) {
        cv_tensor *o = c->out[k];
        if (!o) continue;
        o->data = cv_arena_alloc(&p->consts, cv_nbytes(o) + 64);
        if (!o->data) return cv_fail(p->ctx, CLEAVE_E_NOMEM, "plan: out of memory folding constants");
    }
    return op_run_once(s->def, c);
}

static int new_buf(rt_plan *p, size_t size, int first) {
    rt_buf *b = &p->bufs[p->n_bufs];
    b->size = ALIGN_UP(size);
    b->first = first;
    b->last = first;
    return p->n_bufs++;
}

/* Greedy placement: largest first, lowest offset that does not overlap any
 * placed buffer whose lifetime intersects. */
static void place_buffers(rt_plan *p) {
    int n = p->n_bufs;
    int *order = cv_malloc(sizeof(int) * ((size_t)n + 1));
    int *placed = cv_malloc(sizeof(int) * ((size_t)n + 1));
    if (!order || !placed) {
        /* Fallback without reuse: everything back to back. */
        size_t off = 0;
        for (int i = 0; i < n; i++) {
            p->bufs[i].off = off;
            off += p->bufs[i].size;
        }
        p->arena_bytes = off;
        cv_free(order);
        cv_free(placed);
        return;
    }
    for (int i = 0; i < n; i++) order[i] = i;
    /* insertion sort by size desc, ties by first use (deterministic) */
    for (int i = 1; i < n; i++) {
        int x = order[i], j = i - 1;
        while (j >= 0 && (p->bufs[order[j]].size < p->bufs[x].size ||
                          (p->bufs[order[j]].size == p->bufs[x].size && order[j] > x))) {
            order[j + 1] = order[j];
            j--;
        }
        order[j + 1] = x;
    }
    int n_placed = 0;
    size_t peak = 0;
    for (int i = 0; i < n; i++) {
        rt_buf *b = &p->bufs[order[i]];
        size_t off = 0;
        /* placed[] is kept sorted by offset */
        for (int j = 0; j < n_placed; j++) {
            rt_buf *o = &p->bufs[placed[j]];
            if (o->last < b->first || o->first > b->last) continue;
            if (off + b->size <= o->off) break;
            if (o->off + o->size > off) off = o->off + o->size;
        }
        b->off = off;
        if (off + b->size > peak) peak = off + b->size;
        int j = n_placed++;
        while (j > 0 && p->bufs[placed[j - 1]].off > off) {
            placed[j] = placed[j - 1];
            j--;
        }
        placed[j] = order[i];
    }
    p->arena_bytes = peak;
    cv_free(order);
    cv_free(placed);
}

/* After prepare: the constant bytes the compiled plan holds, i.e. what
 * the steps' states keep (packed or reordered weights) plus each constant
 * a step still reads at run time, once. The loaded graph's own copies of
 * weights a state has taken over are not counted. */
static void count_weights(rt_plan *p) {
    uint8_t *seen = cv_calloc((size_t)p->g->n_values + 1, 1);
    size_t total = 0;
    for (int i = 0; i < p->n_steps; i++) {
        const rt_step *s = &p->steps[i];
        const ir_node *n = &p->g->nodes[s->node];
        total += s->call.held_bytes;
        for (int k = 0; k < n->n_in; k++) {
            const int v = n->in[k];
            if (v < 0 || !p->vt[v].data || (k < 32 && (s->call.owns_in >> k & 1u))) continue;
            if (seen && seen[v]) continue;
            if (seen) seen[v] = 1;
            total += cv_nbytes(&p->vt[v]);
        }
    }
    cv_free(seen);
    p->weight_bytes = total;
}

cleave_status rt_plan_create(cleave_ctx *ctx, const ir_graph *g, const int *inputs, int n_inputs,
                             const int *outputs, int n_outputs, const cv_tensor *in,
                             const rt_options *opt, rt_plan **out) {
    rt_options dflt = {0};
    if (!opt) opt = &dflt;
    const char *src = g->source_path ? g->source_path : "graph";
    rt_plan *p = cv_calloc(1, sizeof *p);
    if (!p) return cv_fail(ctx, CLEAVE_E_NOMEM, "plan: out of memory");
    p->ctx = ctx;
    p->g = g;
    p->profile = opt->profile;
    p->pack = opt->pack_activations;
    int nv = g->n_values, nn = g->n_nodes;
    char *need = cv_calloc((size_t)nn + 1, 1), *is_in = cv_calloc((size_t)nv + 1, 1);
    p->vt = cv_calloc((size_t)nv + 1, sizeof(cv_tensor));
    p->buf_of = cv_malloc(sizeof(int) * ((size_t)nv + 1));
    p->in_ids = cv_malloc(sizeof(int) * ((size_t)g->n_inputs + (size_t)n_inputs + 1));
    p->out_ids = cv_malloc(sizeof(int) * ((size_t)g->n_outputs + (size_t)n_outputs + 1));
    p->steps = cv_calloc((size_t)nn + 1, sizeof(rt_step));
    cleave_status st = CLEAVE_OK;
    if (!need || !is_in || !p->vt || !p->buf_of || !p->in_ids || !p->out_ids || !p->steps) {
        st = cv_fail(ctx, CLEAVE_E_NOMEM, "plan: out of memory");
        goto fail;
    }
    for (int v = 0; v < nv; v++) p->buf_of[v] = -1;
    if (n_inputs) {
        memcpy(p->in_ids, inputs, sizeof(int) * (size_t)n_inputs);
        p->n_in = n_inputs;
    } else {
        for (int k = 0; k < g->n_inputs; k++)
            if (!g->values[g->inputs[k]].is_initializer) p->in_ids[p->n_in++] = g->inputs[k];
    }
    if (n_outputs) {
        memcpy(p->out_ids, outputs, sizeof(int) * (size_t)n_outputs);
        p->n_out = n_outputs;
    } else {
        memcpy(p->out_ids, g->outputs, sizeof(int) * (size_t)g->n_outputs);
        p->n_out = g->n_outputs;
    }
    for (int v = 0; v < nv; v++) {
        p->vt[v] = ir_value_tensor(g, v);
        if (!g->values[v].data) p->vt[v].ndim = 0;
    }
    for (int k = 0; k < p->n_in; k++) {
        int v = p->in_ids[k];
        st = check_input(ctx, g, v, &in[k]);
        if (st) goto fail;
        is_in[v] = 1;
        cv_tensor *t = &p->vt[v];
        *t = in[k];
        t->data = NULL;
        t->pbits = 0; /* inputs come one element per dtype size */
        /* shape-like inputs: small integer tensors, or tiny float vectors (Resize scales, Range bounds) */
        int shape_like = is_int_dtype(in[k].dtype) ? cv_numel(&in[k]) <= 4096
                                                    : in[k].ndim <= 1 && cv_numel(&in[k]) <= 16;
        if (opt->fold_int_inputs && in[k].data && shape_like) {
            t->data = cv_arena_memdup(&p->consts, in[k].data, cv_nbytes(&in[k]));
            if (!t->data) {
                st = cv_fail(ctx, CLEAVE_E_NOMEM, "plan: out of memory");
                goto fail;
            }
        }
    }
    st = select_nodes(p, need, is_in);
    if (st) goto fail;

    /* Room for every step's in/out pointer arrays. */
    size_t n_ptrs = 0;
    for (int i = 0; i < nn; i++)
        if (need[i]) n_ptrs += (size_t)g->nodes[i].n_in + (size_t)g->nodes[i].n_out;
    p->ptrs = cv_calloc(n_ptrs + 1, sizeof(void *));
    if (!p->ptrs) {
        st = cv_fail(ctx, CLEAVE_E_NOMEM, "plan: out of memory");
        goto fail;
    }
    size_t pi = 0;
    for (int i = 0; i < nn; i++) {
        if (!need[i]) continue;
        const ir_node *n = &g->nodes[i];
        rt_step *s = &p->steps[p->n_steps];
        memset(s, 0, sizeof *s);
        s->node = i;
        s->scratch = -1;
        s->fused_out = s->sum_value = -1;
        s->def = op_get(n->op);
        if (!s->def) {
            char b[300];
            st = cv_fail(ctx, CLEAVE_E_UNSUPPORTED, "%s: %s: op is not supported", src,
                         ir_node_label(n, b, sizeof b));
            goto fail;
        }
        op_call *c = &s->call;
        c->node = n;
        c->ctx = ctx;
        c->n_in = n->n_in;
        c->n_out = n->n_out;
        c->in = &p->ptrs[pi];
        pi += (size_t)n->n_in;
        c->out = (cv_tensor **)&p->ptrs[pi];
        pi += (size_t)n->n_out;
        c->threads = ctx->threads;
        c->fast = ctx->fast;
        int all_const = 1;
        for (int k = 0; k < n->n_in; k++) {
            c->in[k] = n->in[k] >= 0 ? &p->vt[n->in[k]] : NULL;
            if (c->in[k] && !c->in[k]->data) all_const = 0;
        }
        for (int k = 0; k < n->n_out; k++) {
            c->out[k] = n->out[k] >= 0 ? &p->vt[n->out[k]] : NULL;
            if (c->out[k]) memset(c->out[k], 0, sizeof(cv_tensor));
        }
        st = s->def->infer(c);
        if (st) goto fail;
        for (int k = 0; k < n->n_out; k++) {
            cv_tensor *o = c->out[k];
            if (!o) continue;
            char b[300];
            int64_t ne = 1;
            int bad = o->dtype == CV_UNDEF;
            for (int d = 0; d < o->ndim && !bad; d++) {
                if (o->dims[d] < 0 || (o->dims[d] && ne > CV_MAX_ELEMS / o->dims[d])) bad = 1;
                else ne *= o->dims[d];
            }
            if (bad) {
                st = cv_fail(ctx, CLEAVE_E_INVALID, "%s: %s: could not infer a valid shape for output '%s'",
                             src, ir_node_label(n, b, sizeof b), g->values[n->out[k]].name);
                goto fail;
            }
        }
        int shape_only = (s->def->flags & OP_F_SHAPE_ONLY) != 0;
        if (!(s->def->flags & OP_F_NOFOLD) && (all_const || shape_only)) {
            st = fold_node(p, s);
            if (st) goto fail;
            continue;
        }
        p->n_steps++;
    }

    /* Layouts, per-step tensor views and the conversions between them. */
    p->views = cv_calloc(n_ptrs + 1, sizeof(cv_tensor));
    p->convs = cv_calloc(n_ptrs + 1, sizeof(rt_conv));
    p->blk = cv_calloc((size_t)nv + 1, sizeof(int));
    if (!p->views || !p->convs || !p->blk) {
        st = cv_fail(ctx, CLEAVE_E_NOMEM, "plan: out of memory");
        goto fail;
    }
    rt_choose_layouts(p);
    rt_choose_packing(p);
    rt_build_views(p);
    rt_fuse_sums(p);
    for (int i = 0; i < p->n_steps; i++) {
        rt_step *s = &p->steps[i];
        if (s->def->prepare) {
            st = s->def->prepare(&s->call);
            if (st) goto fail;
        }
    }
    count_weights(p);

    /* Buffers: inputs, node outputs (views alias), layout conversions, scratch. */
    size_t max_bufs = (size_t)p->n_in + 2 * (size_t)p->n_steps + 2 * n_ptrs + 1;
    p->bufs = cv_calloc(max_bufs, sizeof(rt_buf));
    if (!p->bufs) {
        st = cv_fail(ctx, CLEAVE_E_NOMEM, "plan: out of memory");
        goto fail;
    }
    for (int k = 0; k < p->n_in; k++) {
        int v = p->in_ids[k];
        if (p->buf_of[v] < 0 && !p->vt[v].data) p->buf_of[v] = new_buf(p, cv_nbytes(&p->vt[v]), -1);
    }
    for (int i = 0; i < p->n_steps; i++) {
        rt_step *s = &p->steps[i];
        const ir_node *n = &g->nodes[s->node];
        for (int k = 0; k < n->n_in; k++) {
            int v = n->in[k];
            if (v >= 0 && p->buf_of[v] >= 0 && p->bufs[p->buf_of[v]].last < i)
                p->bufs[p->buf_of[v]].last = i;
        }
        for (int j = 0; j < s->n_conv; j++) {
            rt_conv *cv = &p->convs[s->conv0 + j];
            cv->buf = new_buf(p, cv_storage_bytes(&p->views[cv->view]), i);
        }
        if (s->sum_value >= 0 && p->buf_of[s->sum_value] >= 0 && p->bufs[p->buf_of[s->sum_value]].last < i)
            p->bufs[p->buf_of[s->sum_value]].last = i;
        for (int k = 0; k < n->n_out; k++) {
            int v = k == 0 && s->fused_out >= 0 ? s->fused_out : n->out[k];
            if (v < 0 || (k == 0 && s->fused_away)) continue; /* the fused conv made it */
            int in0 = n->in[0];
            if (k == 0 && (s->def->flags & OP_F_VIEW) && in0 >= 0 && p->buf_of[in0] >= 0 &&
                !p->blk[in0] && !p->blk[v] && !s->n_conv &&
                cv_nbytes(&p->vt[v]) == cv_nbytes(&p->vt[in0])) {
                p->buf_of[v] = p->buf_of[in0];
                s->alias = 1;
            } else {
                cv_tensor t = p->vt[v];
                t.block = p->blk[v];
                p->buf_of[v] = new_buf(p, cv_storage_bytes(&t), i);
            }
        }
        if (s->call.scratch_bytes) s->scratch = new_buf(p, s->call.scratch_bytes, i);
    }
    for (int k = 0; k < p->n_out; k++) {
        int b = p->buf_of[p->out_ids[k]];
        if (b >= 0) p->bufs[b].last = p->n_steps;
    }
    for (int v = 0; v < nv; v++)
        if (p->buf_of[v] >= 0) p->total_act += cv_storage_bytes(&p->vt[v]);
    /* Lower bound of any placement: the most tensor bytes alive at one step. */
    for (int t = -1; t <= p->n_steps; t++) {
        size_t live = 0;
        for (int b = 0; b < p->n_bufs; b++)
            if (p->bufs[b].first <= t && p->bufs[b].last >= t) live += p->bufs[b].size;
        if (live > p->peak_live) p->peak_live = live;
    }
    for (int i = 0; i < p->n_steps; i++)
        if (p->steps[i].call.scratch_bytes > p->scratch_max) p->scratch_max = p->steps[i].call.scratch_bytes;
    place_buffers(p);
    p->arena = cv_aligned_alloc(p->arena_bytes + 64);
    p->ns = cv_calloc((size_t)p->n_steps + 1, sizeof(uint64_t));
    if (!p->arena || !p->ns) {
        st = cv_fail(ctx, CLEAVE_E_NOMEM, "%s: cannot allocate the %zu-byte activation arena", src,
                     p->arena_bytes);
        goto fail;
    }
    for (int v = 0; v < nv; v++)
        if (p->buf_of[v] >= 0) p->vt[v].data = p->arena + p->bufs[p->buf_of[v]].off;
    rt_bind_views(p);
    cv_free(need);
    cv_free(is_in);
    *out = p;
    return CLEAVE_OK;
fail:
    cv_free(need);
    cv_free(is_in);
    rt_plan_destroy(p);
    return st;
}

size_t rt_plan_weight_bytes(const rt_plan *p) { return p->weight_bytes; }

cleave_status rt_plan_run(rt_plan *p, const cv_tensor *in) {
    const char *src = p->g->source_path ? p->g->source_path : "graph";
    for (int k = 0; k < p->n_in; k++) {
        cv_tensor *t = &p->vt[p->in_ids[k]];
        if (in[k].dtype != t->dtype || !cv_shape_eq(&in[k], t)) {
            char a[128], b[128];
            return cv_fail(p->ctx, CLEAVE_E_INVALID,
                           "%s: input '%s': got %s %s, the plan was compiled for %s %s", src,
                           p->g->values[p->in_ids[k]].name, cv_dtype_name(in[k].dtype),
                           cv_shape_str(in[k].ndim, in[k].dims, a, sizeof a), cv_dtype_name(t->dtype),
                           cv_shape_str(t->ndim, t->dims, b, sizeof b));
        }
        if (!in[k].data)
            return cv_fail(p->ctx, CLEAVE_E_INVALID, "%s: input '%s' has no data", src,
                           p->g->values[p->in_ids[k]].name);
        if (p->buf_of[p->in_ids[k]] >= 0 && cv_nbytes(t)) memcpy(t->data, in[k].data, cv_nbytes(t));
    }
    for (int i = 0; i < p->n_steps; i++) {
        rt_step *s = &p->steps[i];
        if (s->alias || s->fused_away) continue;
        uint64_t t0 = p->profile ? cv_now_ns() : 0;
        for (int j = 0; j < s->n_conv; j++) rt_run_conversion(p, &p->convs[s->conv0 + j]);
        cleave_status st = s->def->run(&s->call);
        if (st) return st;
        if (p->profile) p->ns[i] += cv_now_ns() - t0;
    }
    p->runs++;
    return CLEAVE_OK;
}

int rt_plan_n_inputs(const rt_plan *p) { return p->n_in; }
int rt_plan_n_outputs(const rt_plan *p) { return p->n_out; }
int rt_plan_input_id(const rt_plan *p, int k) { return p->in_ids[k]; }
int rt_plan_output_id(const rt_plan *p, int k) { return p->out_ids[k]; }
const cv_tensor *rt_plan_output(const rt_plan *p, int k) { return &p->vt[p->out_ids[k]]; }
const cv_tensor *rt_plan_value(const rt_plan *p, int v) {
    return v >= 0 && v < p->g->n_values ? &p->vt[v] : NULL;
}
size_t rt_plan_arena_bytes(const rt_plan *p) { return p->arena_bytes; }
size_t rt_plan_total_activation_bytes(const rt_plan *p) { return p->total_act; }
size_t rt_plan_peak_live_bytes(const rt_plan *p) { return p->peak_live; }
size_t rt_plan_max_scratch_bytes(const rt_plan *p) { return p->scratch_max; }
int rt_plan_n_steps(const rt_plan *p) { return p->n_steps; }
int rt_plan_step_node(const rt_plan *p, int step) { return p->steps[step].node; }
uint64_t rt_plan_step_ns(const rt_plan *p, int step) { return p->ns[step]; }
int rt_plan_runs(const rt_plan *p) { return p->runs; }
void rt_plan_reset_profile(rt_plan *p) {
    memset(p->ns, 0, sizeof(uint64_t) * (size_t)p->n_steps);
    p->runs = 0;
}
