/* ir extract: a sub-graph between two sets of values. One backward walk
 * from the outputs marks the values and nodes needed, stopping at the
 * given inputs and at constants; the marked nodes are then copied in the
 * source order into a fresh graph with only the values they touch. */
#include "ir/extract.h"

#include <string.h>

/* Value v of g copied (name, type, shape, constant payload) into ng; map
 * remembers the copy. Returns the id in ng or -1 on OOM. */
static int map_value(const ir_graph *g, ir_graph *ng, int *map, int v) {
    if (v < 0) return -1;
    if (map[v] >= 0) return map[v];
    const ir_value *s = &g->values[v];
    int id = ir_graph_intern_value(ng, s->name);
    if (id < 0) return -1;
    ir_value *d = &ng->values[id];
    d->dtype = s->dtype;
    d->ndim = s->ndim;
    memcpy(d->dims, s->dims, sizeof d->dims);
    memcpy(d->dim_param, s->dim_param, sizeof d->dim_param);
    d->has_info = s->has_info;
    d->external = s->external;
    if (s->data && s->producer < 0) {
        d->data = s->data; /* shared, as ir_graph_clone does */
        d->is_initializer = 1;
    }
    map[v] = id;
    return id;
}

static cleave_status check_ids(cleave_ctx *ctx, const ir_graph *g, const int *ids, int n,
                               const char *what, uint8_t *seen) {
    for (int k = 0; k < n; k++) {
        if (ids[k] < 0 || ids[k] >= g->n_values)
            return cv_fail(ctx, CLEAVE_E_INVALID, "extract: %s %d: value id %d out of range", what, k,
                           ids[k]);
        if (seen[ids[k]])
            return cv_fail(ctx, CLEAVE_E_INVALID, "extract: %s: '%s' listed twice", what,
                           g->values[ids[k]].name);
        seen[ids[k]] = 1;
    }
    return CLEAVE_OK;
}

/* Marks need[] (values) and keep[] (nodes) by a backward walk from the
 * outputs; prod[v] is v's producing live node or -1. */
static cleave_status walk(cleave_ctx *ctx, const ir_graph *g, const int *prod, const uint8_t *is_in,
                          const int *outputs, int n_out, uint8_t *need, uint8_t *keep, int *stack,
                          int *reader) {
    int sp = 0;
    for (int k = 0; k < n_out; k++) {
        stack[sp++] = outputs[k];
        reader[outputs[k]] = -1;
    }
    while (sp) {
        int v = stack[--sp];
        if (need[v]) continue;
        need[v] = 1;
        const ir_value *val = &g->values[v];
        if (is_in[v] || (val->data && prod[v] < 0)) continue;
        int p = prod[v];
        if (p < 0) {
            char b[300];
            if (reader[v] < 0)
                return cv_fail(ctx, CLEAVE_E_INVALID,
                               "extract: output '%s' is neither an input, a constant nor made by a node",
                               val->name);
            return cv_fail(ctx, CLEAVE_E_INVALID,
                           "extract: %s reads '%s', which is neither one of the inputs, a constant "
                           "nor computable from them",
                           ir_node_label(&g->nodes[reader[v]], b, sizeof b), val->name);
        }
        if (keep[p]) continue;
        keep[p] = 1;
        const ir_node *n = &g->nodes[p];
        for (int j = 0; j < n->n_in; j++) {
            int u = n->in[j];
            if (u < 0 || need[u]) continue;
            reader[u] = p;
            stack[sp++] = u;
        }
    }
    return CLEAVE_OK;
}

static cleave_status copy_nodes(cleave_ctx *ctx, const ir_graph *g, const uint8_t *keep, ir_graph *ng,
                                int *map) {
    for (int i = 0; i < g->n_nodes; i++) {
        if (!keep[i]) continue;
        const ir_node *s = &g->nodes[i];
        int in[64], out[64], *pin = in, *pout = out;
        int big = s->n_in > 64 || s->n_out > 64;
        if (big) {
            pin = cv_malloc(sizeof(int) * (size_t)(s->n_in + 1));
            pout = cv_malloc(sizeof(int) * (size_t)(s->n_out + 1));
        }
        int ok = pin && pout;
        for (int j = 0; ok && j < s->n_in; j++) {
            pin[j] = s->in[j] < 0 ? -1 : map_value(g, ng, map, s->in[j]);
            ok = s->in[j] < 0 || pin[j] >= 0;
        }
        for (int j = 0; ok && j < s->n_out; j++) {
            pout[j] = s->out[j] < 0 ? -1 : map_value(g, ng, map, s->out[j]);
            ok = s->out[j] < 0 || pout[j] >= 0;
        }
        int ni = ok ? ir_graph_add_node(ng, s->name, s->op_type, s->domain, pin, s->n_in, pout, s->n_out) : -1;
        if (big) {
            cv_free(pin);
            cv_free(pout);
        }
        if (ni < 0) return cv_fail(ctx, CLEAVE_E_NOMEM, "extract: out of memory");
        ir_node *d = &ng->nodes[ni];
        d->op = s->op;
        d->opset = s->opset;
        d->act = s->act;
        d->doc = s->doc;
        if (s->n_attrs) {
            /* the attribute structs are copied, their payloads shared */
            d->attrs = cv_malloc(sizeof(ir_attr) * (size_t)s->n_attrs);
            if (!d->attrs) return cv_fail(ctx, CLEAVE_E_NOMEM, "extract: out of memory");
            memcpy(d->attrs, s->attrs, sizeof(ir_attr) * (size_t)s->n_attrs);
            d->n_attrs = s->n_attrs;
        }
    }
    return CLEAVE_OK;
}

static cleave_status build(cleave_ctx *ctx, const ir_graph *g, const int *inputs, int n_in,
                           const int *outputs, int n_out, const uint8_t *keep, ir_graph *ng, int *map) {
    ng->ir_version = g->ir_version;
    ng->model_version = g->model_version;
    ng->producer_name = g->producer_name, ng->producer_version = g->producer_version;
    ng->domain = g->domain, ng->graph_name = g->graph_name, ng->doc = g->doc;
    ng->source_path = g->source_path;
    ng->opsets = cv_malloc(sizeof(ir_opset) * (size_t)(g->n_opsets + 1));
    ng->inputs = cv_malloc(sizeof(int) * (size_t)(n_in + 1));
    ng->outputs = cv_malloc(sizeof(int) * (size_t)(n_out + 1));
    if (!ng->opsets || !ng->inputs || !ng->outputs) return cv_fail(ctx, CLEAVE_E_NOMEM, "extract: out of memory");
    if (g->n_opsets) memcpy(ng->opsets, g->opsets, sizeof(ir_opset) * (size_t)g->n_opsets);
    ng->n_opsets = g->n_opsets;
    for (int k = 0; k < n_in; k++) {
        int id = map_value(g, ng, map, inputs[k]);
        if (id < 0) return cv_fail(ctx, CLEAVE_E_NOMEM, "extract: out of memory");
        ng->values[id].is_input = 1;
        ng->inputs[ng->n_inputs++] = id;
    }
    CV_TRY(copy_nodes(ctx, g, keep, ng, map));
    for (int k = 0; k < n_out; k++) {
        int id = map_value(g, ng, map, outputs[k]);
        if (id < 0) return cv_fail(ctx, CLEAVE_E_NOMEM, "extract: out of memory");
        ng->values[id].is_output = 1;
        ng->outputs[ng->n_outputs++] = id;
    }
    CV_TRY(ir_graph_link(ctx, ng));
    return ir_graph_toposort(ctx, ng);
}

cleave_status ir_graph_extract(cleave_ctx *ctx, const ir_graph *g, const int *inputs, int n_in,
                               const int *outputs, int n_out, ir_graph **out) {
    *out = NULL;
    if (n_in < 0 || n_out < 1 || (n_in && !inputs) || !outputs)
        return cv_fail(ctx, CLEAVE_E_INVALID, "extract: needs at least one output");
    size_t nv = (size_t)g->n_values + 1, nn = (size_t)g->n_nodes + 1;
    uint8_t *is_in = cv_calloc(nv, 1), *is_out = cv_calloc(nv, 1), *need = cv_calloc(nv, 1);
    uint8_t *keep = cv_calloc(nn, 1);
    int *prod = cv_malloc(sizeof(int) * nv), *map = cv_malloc(sizeof(int) * nv);
    int *reader = cv_malloc(sizeof(int) * nv);
    /* every value is pushed at most once per reading input slot */
    size_t slots = (size_t)n_out + 1;
    for (int i = 0; i < g->n_nodes; i++) slots += (size_t)g->nodes[i].n_in;
    int *stack = cv_malloc(sizeof(int) * slots);
    ir_graph *ng = NULL;
    cleave_status s = CLEAVE_OK;
    if (!is_in || !is_out || !need || !keep || !prod || !map || !reader || !stack || ir_graph_create(&ng)) {
        s = cv_fail(ctx, CLEAVE_E_NOMEM, "extract: out of memory");
        goto done;
    }
    for (int v = 0; v < g->n_values; v++) prod[v] = -1, map[v] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0) prod[n->out[k]] = i;
    }
    if ((s = check_ids(ctx, g, inputs, n_in, "inputs", is_in))) goto done;
    if ((s = check_ids(ctx, g, outputs, n_out, "outputs", is_out))) goto done;
    if ((s = walk(ctx, g, prod, is_in, outputs, n_out, need, keep, stack, reader))) goto done;
    s = build(ctx, g, inputs, n_in, outputs, n_out, keep, ng, map);
done:
    cv_free(is_in), cv_free(is_out), cv_free(need), cv_free(keep);
    cv_free(prod), cv_free(map), cv_free(reader), cv_free(stack);
    if (s) ir_graph_destroy(ng);
    else *out = ng;
    return s;
}

uint8_t *ir_graph_computable(const ir_graph *g, const int *given, int n) {
    uint8_t *a = cv_calloc((size_t)g->n_values + 1, 1);
    if (!a) return NULL;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].is_initializer) a[v] = 1;
    for (int k = 0; k < n; k++) a[given[k]] = 1;
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *nd = &g->nodes[i];
        if (nd->dead) continue;
        int ok = 1;
        for (int j = 0; j < nd->n_in && ok; j++)
            if (nd->in[j] >= 0 && !a[nd->in[j]]) ok = 0;
        if (ok)
            for (int j = 0; j < nd->n_out; j++)
                if (nd->out[j] >= 0) a[nd->out[j]] = 1;
    }
    return a;
}
