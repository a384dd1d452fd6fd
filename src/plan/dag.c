/* plan/dag: building the planner's DAG (from a compiled plan or from an
 * edge list) and the two questions every cut asks: is it closed under
 * predecessors, and which tensors cross it. */
#include "plan/dag.h"

#include <stdlib.h>
#include <string.h>

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Sort and dedupe a small int list in place; returns the new length. */
static int uniq(int *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_int);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!m || v[m - 1] != v[i]) v[m++] = v[i];
    return m;
}

/* Fill consumers and predecessor lists from nodes' in/out lists. */
static cleave_status finish(cleave_ctx *ctx, plan_dag *d) {
    int *cnt = cv_calloc((size_t)d->n_tensors + 1, sizeof *cnt);
    if (!cnt) return cv_fail(ctx, CLEAVE_E_NOMEM, "plan: out of memory");
    for (int i = 0; i < d->n_nodes; i++)
        for (int k = 0; k < d->nodes[i].n_in; k++) cnt[d->nodes[i].in[k]]++;
    for (int t = 0; t < d->n_tensors; t++) {
        d->tensors[t].cons = cv_arena_alloc(&d->arena, sizeof(int) * (size_t)(cnt[t] + 1));
        if (!d->tensors[t].cons) {
            cv_free(cnt);
            return cv_fail(ctx, CLEAVE_E_NOMEM, "plan: out of memory");
        }
        d->tensors[t].n_cons = 0;
    }
    cv_free(cnt);
    for (int i = 0; i < d->n_nodes; i++) {
        plan_node *n = &d->nodes[i];
        n->pred = cv_arena_alloc(&d->arena, sizeof(int) * (size_t)(n->n_in + 1));
        if (!n->pred) return cv_fail(ctx, CLEAVE_E_NOMEM, "plan: out of memory");
        n->n_pred = 0;
        for (int k = 0; k < n->n_in; k++) {
            plan_tensor *t = &d->tensors[n->in[k]];
            if (!t->n_cons || t->cons[t->n_cons - 1] != i) t->cons[t->n_cons++] = i;
            if (t->producer >= 0) {
                if (t->producer >= i)
                    return cv_fail(ctx, CLEAVE_E_INVALID,
                                   "plan: node %d reads tensor '%s' made by a later node %d "
                                   "(not in topological order)", i, t->name ? t->name : "?",
                                   t->producer);
                n->pred[n->n_pred++] = t->producer;
            }
        }
        n->n_pred = uniq(n->pred, n->n_pred);
    }
    return CLEAVE_OK;
}

static cleave_status alloc_dag(cleave_ctx *ctx, int n_nodes, int n_tensors, plan_dag **out) {
    if (n_nodes < 0 || n_nodes > PLAN_MAX_NODES || n_tensors < 0 || n_tensors > 4 * PLAN_MAX_NODES)
        return cv_fail(ctx, CLEAVE_E_LIMIT, "plan: %d nodes / %d tensors: over the limit of %d nodes",
                       n_nodes, n_tensors, PLAN_MAX_NODES);
    plan_dag *d = cv_calloc(1, sizeof *d);
    if (!d) return cv_fail(ctx, CLEAVE_E_NOMEM, "plan: out of memory");
    d->nodes = cv_arena_alloc(&d->arena, sizeof *d->nodes * (size_t)(n_nodes + 1));
    d->tensors = cv_arena_alloc(&d->arena, sizeof *d->tensors * (size_t)(n_tensors + 1));
    if (!d->nodes || !d->tensors) {
        plan_dag_destroy(d);
        return cv_fail(ctx, CLEAVE_E_NOMEM, "plan: out of memory");
    }
    d->n_nodes = n_nodes;
    d->n_tensors = n_tensors;
    *out = d;
    return CLEAVE_OK;
}

void plan_dag_destroy(plan_dag *d) {
    if (!d) return;
    cv_arena_destroy(&d->arena);
    cv_free(d);
}

cleave_status plan_dag_build(cleave_ctx *ctx, int n_nodes, int n_tensors, const int64_t *numel,
                             const int (*edges)[3], int n_edges, const int *outputs, int n_outputs,
                             plan_dag **out) {
    plan_dag *d = NULL;
    CV_TRY(alloc_dag(ctx, n_nodes, n_tensors, &d));
    cleave_status st = CLEAVE_OK;
    for (int t = 0; t < n_tensors; t++) {
        d->tensors[t].producer = -2; /* unset */
        d->tensors[t].numel = numel[t];
        d->tensors[t].elem_bytes = 4;
    }
    int *nin = cv_calloc((size_t)n_nodes + 1, sizeof *nin), *nout = cv_calloc((size_t)n_nodes + 1, sizeof *nout);
    if (!nin || !nout) {
        st = cv_fail(ctx, CLEAVE_E_NOMEM, "plan: out of memory");
        goto out;
    }
    for (int e = 0; e < n_edges; e++) {
        int p = edges[e][0], c = edges[e][1], t = edges[e][2];
        if (p < -1 || p >= n_nodes || c < -1 || c >= n_nodes || t < 0 || t >= n_tensors ||
            (c >= 0 && p >= c) || (c < 0 && p < 0)) {
            st = cv_fail(ctx, CLEAVE_E_INVALID, "plan: edge %d (%d -> %d, tensor %d) out of range "
                         "or not topological", e, p, c, t);
            goto out;
        }
        if (d->tensors[t].producer != -2 && d->tensors[t].producer != p) {
            st = cv_fail(ctx, CLEAVE_E_INVALID, "plan: tensor %d has two producers", t);
            goto out;
        }
        d->tensors[t].producer = p;
        if (c >= 0) nin[c]++;
    }
    for (int t = 0; t < n_tensors; t++) {
        if (d->tensors[t].producer == -2) d->tensors[t].producer = -1;
        if (d->tensors[t].producer >= 0) nout[d->tensors[t].producer]++;
    }
    for (int i = 0; i < n_nodes; i++) {
        d->nodes[i].graph_node = -1;
        d->nodes[i].in = cv_arena_alloc(&d->arena, sizeof(int) * (size_t)(nin[i] + 1));
        d->nodes[i].out = cv_arena_alloc(&d->arena, sizeof(int) * (size_t)(nout[i] + 1));
        if (!d->nodes[i].in || !d->nodes[i].out) {
            st = cv_fail(ctx, CLEAVE_E_NOMEM, "plan: out of memory");
            goto out;
        }
    }
    for (int e = 0; e < n_edges; e++) {
        if (edges[e][1] < 0) continue;
        plan_node *n = &d->nodes[edges[e][1]];
        int t = edges[e][2], dup = 0;
        for (int k = 0; k < n->n_in; k++) dup |= n->in[k] == t;
        if (!dup) n->in[n->n_in++] = t;
    }
    for (int t = 0; t < n_tensors; t++) {
        int p = d->tensors[t].producer;
        if (p >= 0) d->nodes[p].out[d->nodes[p].n_out++] = t;
    }
    for (int k = 0; k < n_outputs; k++)
        if (outputs[k] >= 0 && outputs[k] < n_tensors) d->tensors[outputs[k]].is_output = 1;
    st = finish(ctx, d);
    for (int t = 0; !st && t < n_tensors; t++)
        if (!d->tensors[t].n_cons) d->tensors[t].is_output = 1;
out:
    cv_free(nin);
    cv_free(nout);
    if (st) plan_dag_destroy(d);
    else *out = d;
    return st;
}

cleave_status plan_dag_from_plan(cleave_ctx *ctx, const ir_graph *g, const rt_plan *p,
                                 plan_dag **out) {
    int ns = rt_plan_n_steps(p);
    /* tensor ids: graph value id -> dag tensor, for non-constant values */
    int *tid = cv_malloc(sizeof(int) * (size_t)(g->n_values + 1));
    if (!tid) return cv_fail(ctx, CLEAVE_E_NOMEM, "plan: out of memory");
    for (int v = 0; v < g->n_values; v++) tid[v] = -1;
    int nt = 0;
    for (int k = 0; k < rt_plan_n_inputs(p); k++) {
        int v = rt_plan_input_id(p, k);
        if (v >= 0 && tid[v] < 0) tid[v] = nt++;
    }
    for (int s = 0; s < ns; s++) {
        const ir_node *n = &g->nodes[rt_plan_step_node(p, s)];
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0 && tid[n->out[k]] < 0) tid[n->out[k]] = nt++;
    }
    plan_dag *d = NULL;
    cleave_status st = alloc_dag(ctx, ns, nt, &d);
    if (st) {
        cv_free(tid);
        return st;
    }
    for (int v = 0; v < g->n_values; v++) {
        if (tid[v] < 0) continue;
        plan_tensor *t = &d->tensors[tid[v]];
        const cv_tensor *info = rt_plan_value(p, v);
        t->name = g->values[v].name;
        t->producer = -1;
        t->numel = info ? cv_numel(info) : 0;
        t->elem_bytes = info ? (int)cv_dtype_size(info->dtype) : 4;
        t->is_output = g->values[v].is_output;
    }
    for (int s = 0; s < ns && !st; s++) {
        const ir_node *n = &g->nodes[rt_plan_step_node(p, s)];
        plan_node *pn = &d->nodes[s];
        pn->name = n->name;
        pn->graph_node = rt_plan_step_node(p, s);
        pn->in = cv_arena_alloc(&d->arena, sizeof(int) * (size_t)(n->n_in + 1));
        pn->out = cv_arena_alloc(&d->arena, sizeof(int) * (size_t)(n->n_out + 1));
        if (!pn->in || !pn->out) {
            st = cv_fail(ctx, CLEAVE_E_NOMEM, "plan: out of memory");
            break;
        }
        for (int k = 0; k < n->n_in; k++) {
            int v = n->in[k];
            if (v < 0 || tid[v] < 0) continue; /* omitted or constant */
            int dup = 0;
            for (int j = 0; j < pn->n_in; j++) dup |= pn->in[j] == tid[v];
            if (!dup) pn->in[pn->n_in++] = tid[v];
        }
        for (int k = 0; k < n->n_out; k++) {
            int v = n->out[k];
            if (v < 0 || tid[v] < 0) continue;
            pn->out[pn->n_out++] = tid[v];
            d->tensors[tid[v]].producer = s;
        }
    }
    cv_free(tid);
    if (!st) st = finish(ctx, d);
    if (st) plan_dag_destroy(d);
    else *out = d;
    return st;
}

int plan_cut_valid(const plan_dag *d, const uint8_t *edge) {
    for (int i = 0; i < d->n_nodes; i++)
        if (edge[i])
            for (int k = 0; k < d->nodes[i].n_pred; k++)
                if (!edge[d->nodes[i].pred[k]]) return 0;
    return 1;
}

int plan_cut_crossing(const plan_dag *d, const uint8_t *edge, int *out) {
    int n = 0;
    for (int t = 0; t < d->n_tensors; t++) {
        const plan_tensor *x = &d->tensors[t];
        if (x->producer >= 0 && !edge[x->producer]) continue;
        for (int k = 0; k < x->n_cons; k++)
            if (!edge[x->cons[k]]) {
                out[n++] = t;
                break;
            }
    }
    return n;
}

int plan_cut_returned(const plan_dag *d, const uint8_t *edge, int *out) {
    int n = 0;
    for (int t = 0; t < d->n_tensors; t++) {
        const plan_tensor *x = &d->tensors[t];
        if (x->is_output && x->producer >= 0 && !edge[x->producer]) out[n++] = t;
    }
    return n;
}

void plan_dag_ancestors(const plan_dag *d, int t, uint8_t *keep) {
    memset(keep, 0, (size_t)d->n_nodes);
    int p = d->tensors[t].producer;
    if (p < 0) return;
    keep[p] = 1;
    /* predecessors have lower indices: one backward sweep closes the set */
    for (int i = p; i >= 0; i--)
        if (keep[i])
            for (int k = 0; k < d->nodes[i].n_pred; k++) keep[d->nodes[i].pred[k]] = 1;
}

cleave_status plan_dag_subset(cleave_ctx *ctx, const plan_dag *d, const uint8_t *keep,
                              const int *outputs, int n_outputs, plan_dag **out, int *node_map,
                              int *tensor_map) {
    int nn = 0, nt = 0;
    for (int i = 0; i < d->n_nodes; i++) node_map[i] = keep[i] ? nn++ : -1;
    for (int t = 0; t < d->n_tensors; t++) {
        const plan_tensor *x = &d->tensors[t];
        int used = x->producer >= 0 && keep[x->producer];
        for (int k = 0; k < x->n_cons && !used; k++) used = keep[x->cons[k]];
        tensor_map[t] = used ? nt++ : -1;
    }
    plan_dag *s = NULL;
    CV_TRY(alloc_dag(ctx, nn, nt, &s));
    cleave_status st = CLEAVE_OK;
    for (int t = 0; t < d->n_tensors; t++) {
        if (tensor_map[t] < 0) continue;
        plan_tensor *y = &s->tensors[tensor_map[t]];
        *y = d->tensors[t];
        y->producer = y->producer >= 0 ? node_map[y->producer] : -1;
        y->is_output = 0;
        y->cons = NULL;
        y->n_cons = 0;
    }
    for (int k = 0; k < n_outputs; k++)
        if (outputs[k] >= 0 && outputs[k] < d->n_tensors && tensor_map[outputs[k]] >= 0)
            s->tensors[tensor_map[outputs[k]]].is_output = 1;
    for (int i = 0; i < d->n_nodes && !st; i++) {
        if (!keep[i]) continue;
        const plan_node *a = &d->nodes[i];
        plan_node *b = &s->nodes[node_map[i]];
        b->name = a->name;
        b->graph_node = a->graph_node;
        b->in = cv_arena_alloc(&s->arena, sizeof(int) * (size_t)(a->n_in + 1));
        b->out = cv_arena_alloc(&s->arena, sizeof(int) * (size_t)(a->n_out + 1));
        if (!b->in || !b->out) {
            st = cv_fail(ctx, CLEAVE_E_NOMEM, "plan: out of memory");
            break;
        }
        for (int k = 0; k < a->n_in; k++) {
            if (tensor_map[a->in[k]] < 0) {
                st = cv_fail(ctx, CLEAVE_E_INVALID, "plan: subset not closed under predecessors at node '%s'",
                             a->name ? a->name : "?");
                break;
            }
            b->in[b->n_in++] = tensor_map[a->in[k]];
        }
        for (int k = 0; k < a->n_out; k++)
            if (tensor_map[a->out[k]] >= 0) b->out[b->n_out++] = tensor_map[a->out[k]];
    }
    if (!st) st = finish(ctx, s);
    for (int t = 0; !st && t < s->n_tensors; t++)
        if (!s->tensors[t].n_cons && s->tensors[t].producer >= 0) s->tensors[t].is_output = 1;
    if (st) plan_dag_destroy(s);
    else *out = s;
    return st;
}
