/* ir graph: construction, name lookup (open-addressing hash), linking of
 * producers, compaction after passes and a stable topological sort. */
#include "ir/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cleave_status ir_graph_create(ir_graph **out) {
    ir_graph *g = cv_calloc(1, sizeof *g);
    if (!g) return CLEAVE_E_NOMEM;
    g->ir_version = 8;
    *out = g;
    return CLEAVE_OK;
}

void ir_graph_destroy(ir_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->n_nodes; i++) {
        cv_free(g->nodes[i].in);
        cv_free(g->nodes[i].out);
        cv_free(g->nodes[i].attrs);
    }
    cv_free(g->nodes);
    cv_free(g->values);
    cv_free(g->inputs);
    cv_free(g->outputs);
    cv_free(g->opsets);
    cv_free(g->name_index);
    cv_arena_destroy(&g->arena);
    cv_free(g);
}

static void *dup_array(const void *p, size_t n) {
    void *q = cv_malloc(n ? n : 1);
    if (q && n) memcpy(q, p, n);
    return q;
}

cleave_status ir_graph_clone(cleave_ctx *ctx, const ir_graph *src, ir_graph **out) {
    ir_graph *g = cv_calloc(1, sizeof *g);
    if (!g) return cv_fail(ctx, CLEAVE_E_NOMEM, "graph copy: out of memory");
    *g = *src;
    memset(&g->arena, 0, sizeof g->arena);
    g->nodes = NULL;
    g->n_nodes = g->cap_nodes = 0;
    g->values = dup_array(src->values, sizeof(ir_value) * (size_t)src->cap_values);
    g->inputs = dup_array(src->inputs, sizeof(int) * (size_t)src->n_inputs);
    g->outputs = dup_array(src->outputs, sizeof(int) * (size_t)src->n_outputs);
    g->opsets = dup_array(src->opsets, sizeof(ir_opset) * (size_t)src->n_opsets);
    g->name_index = src->name_cap ? dup_array(src->name_index, sizeof(int) * (size_t)src->name_cap)
                                  : NULL;
    g->nodes = cv_calloc((size_t)(src->cap_nodes ? src->cap_nodes : 1), sizeof(ir_node));
    int ok = g->values && g->inputs && g->outputs && g->opsets && g->nodes &&
             (g->name_index || !src->name_cap);
    g->cap_nodes = src->cap_nodes ? src->cap_nodes : 1;
    for (int i = 0; ok && i < src->n_nodes; i++) {
        const ir_node *s = &src->nodes[i];
        ir_node *d = &g->nodes[i];
        *d = *s;
        d->in = dup_array(s->in, sizeof(int) * (size_t)s->n_in);
        d->out = dup_array(s->out, sizeof(int) * (size_t)s->n_out);
        d->attrs = s->n_attrs ? dup_array(s->attrs, sizeof(ir_attr) * (size_t)s->n_attrs) : NULL;
        g->n_nodes = i + 1;
        ok = d->in && d->out && (d->attrs || !s->n_attrs);
    }
    if (!ok) {
        ir_graph_destroy(g);
        return cv_fail(ctx, CLEAVE_E_NOMEM, "graph copy: out of memory");
    }
    *out = g;
    return CLEAVE_OK;
}

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    while (*s) h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return h;
}

static int index_rebuild(ir_graph *g, int cap) {
    int *idx = cv_malloc(sizeof(int) * (size_t)cap);
    if (!idx) return 0;
    for (int i = 0; i < cap; i++) idx[i] = -1;
    for (int v = 0; v < g->n_values; v++) {
        uint64_t h = hash_str(g->values[v].name) & (uint64_t)(cap - 1);
        while (idx[h] >= 0) h = (h + 1) & (uint64_t)(cap - 1);
        idx[h] = v;
    }
    cv_free(g->name_index);
    g->name_index = idx;
    g->name_cap = cap;
    return 1;
}

int ir_graph_find_value(const ir_graph *g, const char *name) {
    if (!g->name_cap) return -1;
    uint64_t h = hash_str(name) & (uint64_t)(g->name_cap - 1);
    while (g->name_index[h] >= 0) {
        int v = g->name_index[h];
        if (strcmp(g->values[v].name, name) == 0) return v;
        h = (h + 1) & (uint64_t)(g->name_cap - 1);
    }
    return -1;
}

static int add_value(ir_graph *g, const char *name) {
    if (g->n_values == g->cap_values) {
        int cap = g->cap_values ? g->cap_values * 2 : 64;
        ir_value *nv = cv_realloc(g->values, sizeof *nv * (size_t)cap);
        if (!nv) return -1;
        g->values = nv;
        g->cap_values = cap;
    }
    if ((g->n_values + 1) * 2 > g->name_cap) {
        if (!index_rebuild(g, g->name_cap ? g->name_cap * 2 : 128)) return -1;
    }
    ir_value *v = &g->values[g->n_values];
    memset(v, 0, sizeof *v);
    v->name = cv_arena_strdup(&g->arena, name);
    if (!v->name) return -1;
    v->ndim = -1;
    v->producer = -1;
    int id = g->n_values++;
    uint64_t h = hash_str(name) & (uint64_t)(g->name_cap - 1);
    while (g->name_index[h] >= 0) h = (h + 1) & (uint64_t)(g->name_cap - 1);
    g->name_index[h] = id;
    return id;
}

int ir_graph_intern_value(ir_graph *g, const char *name) {
    int v = ir_graph_find_value(g, name);
    return v >= 0 ? v : add_value(g, name);
}

int ir_graph_new_value(ir_graph *g, const char *hint) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", hint);
    for (int k = 1; ir_graph_find_value(g, buf) >= 0; k++)
        snprintf(buf, sizeof buf, "%.200s__%d", hint, k);
    return add_value(g, buf);
}

int ir_graph_add_node(ir_graph *g, const char *name, const char *op_type, const char *domain,
                      const int *in, int n_in, const int *out, int n_out) {
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? g->cap_nodes * 2 : 64;
        ir_node *nn = cv_realloc(g->nodes, sizeof *nn * (size_t)cap);
        if (!nn) return -1;
        g->nodes = nn;
        g->cap_nodes = cap;
    }
    ir_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->name = cv_arena_strdup(&g->arena, name ? name : "");
    n->op_type = cv_arena_strdup(&g->arena, op_type);
    n->domain = cv_arena_strdup(&g->arena, domain ? domain : "");
    n->in = cv_malloc(sizeof(int) * (size_t)(n_in ? n_in : 1));
    n->out = cv_malloc(sizeof(int) * (size_t)(n_out ? n_out : 1));
    if (!n->name || !n->op_type || !n->domain || !n->in || !n->out) {
        cv_free(n->in);
        cv_free(n->out);
        return -1;
    }
    if (n_in) memcpy(n->in, in, sizeof(int) * (size_t)n_in);
    if (n_out) memcpy(n->out, out, sizeof(int) * (size_t)n_out);
    n->n_in = n_in;
    n->n_out = n_out;
    n->op = -1;
    n->opset = (int)ir_graph_opset(g, n->domain);
    return g->n_nodes++;
}

const char *ir_node_label(const ir_node *n, char *buf, size_t len) {
    snprintf(buf, len, "node '%s' (%s)", n->name && n->name[0] ? n->name : "<unnamed>",
             n->op_type);
    return buf;
}

cleave_status ir_graph_link(cleave_ctx *ctx, ir_graph *g) {
    for (int v = 0; v < g->n_values; v++) g->values[v].producer = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_out; k++) {
            int v = n->out[k];
            if (v < 0) continue;
            ir_value *val = &g->values[v];
            if (val->producer >= 0 || val->is_initializer) {
                char b[300];
                return cv_fail(ctx, CLEAVE_E_INVALID,
                               "%s: %s: output '%s' is already produced by another node or is "
                               "an initializer",
                               g->source_path ? g->source_path : "graph",
                               ir_node_label(n, b, sizeof b), val->name);
            }
            val->producer = i;
        }
    }
    return CLEAVE_OK;
}

cleave_status ir_graph_compact(cleave_ctx *ctx, ir_graph *g) {
    int w = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].dead) {
            cv_free(g->nodes[i].in);
            cv_free(g->nodes[i].out);
            cv_free(g->nodes[i].attrs);
            continue;
        }
        g->nodes[w++] = g->nodes[i];
    }
    g->n_nodes = w;
    return ir_graph_link(ctx, g);
}

cleave_status ir_graph_toposort(cleave_ctx *ctx, ir_graph *g) {
    CV_TRY(ir_graph_link(ctx, g));
    int n = g->n_nodes;
    int *state = cv_calloc((size_t)n + 1, sizeof(int)); /* 0 new, 1 on stack, 2 done */
    int *order = cv_malloc(sizeof(int) * ((size_t)n + 1));
    int *stack = cv_malloc(sizeof(int) * 2 * ((size_t)n + 1));
    if (!state || !order || !stack) {
        cv_free(state);
        cv_free(order);
        cv_free(stack);
        return cv_fail(ctx, CLEAVE_E_NOMEM, "toposort: out of memory");
    }
    const char *src = g->source_path ? g->source_path : "graph";
    cleave_status st = CLEAVE_OK;
    int n_order = 0;
    /* Iterative DFS from each node in file order: emit a node after all
     * its producers, so a valid file order is preserved exactly. */
    for (int root = 0; root < n && st == CLEAVE_OK; root++) {
        if (state[root]) continue;
        int sp = 0;
        stack[sp++] = root;
        stack[sp++] = 0;
        state[root] = 1;
        while (sp && st == CLEAVE_OK) {
            int node = stack[sp - 2], k = stack[sp - 1];
            ir_node *nd = &g->nodes[node];
            if (k < nd->n_in) {
                stack[sp - 1] = k + 1;
                int v = nd->in[k];
                if (v < 0) continue;
                int p = g->values[v].producer;
                if (p < 0) {
                    ir_value *val = &g->values[v];
                    if (!val->is_input && !val->is_initializer && !val->data) {
                        char b[300];
                        st = cv_fail(ctx, CLEAVE_E_INVALID,
                                     "%s: %s: input '%s' is not a graph input, an initializer "
                                     "or the output of any node",
                                     src, ir_node_label(nd, b, sizeof b), val->name);
                    }
                    continue;
                }
                if (state[p] == 1) {
                    char b[300];
                    st = cv_fail(ctx, CLEAVE_E_INVALID, "%s: %s: the graph has a cycle", src,
                                 ir_node_label(&g->nodes[p], b, sizeof b));
                } else if (state[p] == 0) {
                    state[p] = 1;
                    stack[sp++] = p;
                    stack[sp++] = 0;
                }
            } else {
                state[node] = 2;
                order[n_order++] = node;
                sp -= 2;
            }
        }
    }
    if (st == CLEAVE_OK) {
        ir_node *sorted = cv_malloc(sizeof *sorted * ((size_t)n + 1));
        if (!sorted) {
            st = cv_fail(ctx, CLEAVE_E_NOMEM, "toposort: out of memory");
        } else {
            for (int i = 0; i < n; i++) sorted[i] = g->nodes[order[i]];
            memcpy(g->nodes, sorted, sizeof *sorted * (size_t)n);
            cv_free(sorted);
            st = ir_graph_link(ctx, g);
        }
    }
    cv_free(state);
    cv_free(order);
    cv_free(stack);
    return st;
}

int64_t ir_graph_opset(const ir_graph *g, const char *domain) {
    const char *d = domain ? domain : "";
    if (strcmp(d, "ai.onnx") == 0) d = "";
    for (int i = 0; i < g->n_opsets; i++) {
        const char *od = g->opsets[i].domain ? g->opsets[i].domain : "";
        if (strcmp(od, "ai.onnx") == 0) od = "";
        if (strcmp(od, d) == 0) return g->opsets[i].version;
    }
    return 0;
}

int ir_graph_sole_consumer(const ir_graph *g, int v) {
    if (v < 0 || g->values[v].is_output) return -1;
    int who = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] == v) {
                if (who >= 0 && who != i) return -1;
                who = i;
            }
    }
    return who;
}

int ir_value_scalar_f32(const ir_graph *g, int v, float *out) {
    if (v < 0) return 0;
    const ir_value *x = &g->values[v];
    if (!x->data || x->dtype != CV_F32 || cv_shape_numel(x->ndim < 0 ? 0 : x->ndim, x->dims) != 1)
        return 0;
    *out = *(const float *)x->data;
    return 1;
}

int *ir_graph_consumer_counts(const ir_graph *g) {
    int *c = cv_calloc((size_t)g->n_values + 1, sizeof(int));
    if (!c) return NULL;
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) c[n->in[k]]++;
    }
    return c;
}

cleave_status ir_value_set_data(cleave_ctx *ctx, ir_graph *g, int v, cv_dtype dt, int ndim,
                                const int64_t *dims, const void *data) {
    ir_value *val = &g->values[v];
    int64_t numel = cv_shape_numel(ndim, dims);
    size_t bytes = (size_t)numel * cv_dtype_size(dt);
    void *p = cv_arena_alloc(&g->arena, bytes);
    if (!p) return cv_fail(ctx, CLEAVE_E_NOMEM, "constant '%s': out of memory", val->name);
    if (bytes && data) memcpy(p, data, bytes);
    val->dtype = dt;
    val->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        val->dims[i] = dims[i];
        val->dim_param[i] = NULL;
    }
    val->data = p;
    return CLEAVE_OK;
}

cv_tensor ir_value_tensor(const ir_graph *g, int v) {
    cv_tensor t;
    memset(&t, 0, sizeof t);
    const ir_value *val = &g->values[v];
    t.dtype = val->dtype;
    t.ndim = val->ndim < 0 ? 0 : val->ndim;
    for (int i = 0; i < t.ndim; i++) t.dims[i] = val->dims[i];
    t.data = val->data;
    return t;
}

int ir_value_shape_known(const ir_value *v) {
    if (v->ndim < 0) return 0;
    for (int i = 0; i < v->ndim; i++)
        if (v->dims[i] < 0) return 0;
    return 1;
}

const ir_attr *ir_node_attr(const ir_node *n, const char *name) {
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
    return NULL;
}

int64_t ir_attr_int(const ir_node *n, const char *name, int64_t dflt) {
    const ir_attr *a = ir_node_attr(n, name);
    if (!a) return dflt;
    if (a->kind == IR_ATTR_INT) return a->i;
    if (a->kind == IR_ATTR_FLOAT) return (int64_t)a->f;
    return dflt;
}

float ir_attr_float(const ir_node *n, const char *name, float dflt) {
    const ir_attr *a = ir_node_attr(n, name);
    if (!a) return dflt;
    if (a->kind == IR_ATTR_FLOAT) return a->f;
    if (a->kind == IR_ATTR_INT) return (float)a->i;
    return dflt;
}

const char *ir_attr_string(const ir_node *n, const char *name, const char *dflt) {
    const ir_attr *a = ir_node_attr(n, name);
    return a && a->kind == IR_ATTR_STRING ? a->s : dflt;
}

int ir_attr_ints(const ir_node *n, const char *name, const int64_t **out) {
    const ir_attr *a = ir_node_attr(n, name);
    if (!a || a->kind != IR_ATTR_INTS) {
        *out = NULL;
        return 0;
    }
    *out = a->ints;
    return a->n;
}

int ir_attr_floats(const ir_node *n, const char *name, const float **out) {
    const ir_attr *a = ir_node_attr(n, name);
    if (!a || a->kind != IR_ATTR_FLOATS) {
        *out = NULL;
        return 0;
    }
    *out = a->floats;
    return a->n;
}

static ir_attr *attr_slot(ir_graph *g, ir_node *n, const char *name) {
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) {
            const char *keep = n->attrs[i].name;
            memset(&n->attrs[i], 0, sizeof n->attrs[i]);
            n->attrs[i].name = keep;
            return &n->attrs[i];
        }
    ir_attr *na = cv_realloc(n->attrs, sizeof *na * (size_t)(n->n_attrs + 1));
    if (!na) return NULL;
    n->attrs = na;
    ir_attr *a = &na[n->n_attrs];
    memset(a, 0, sizeof *a);
    a->name = cv_arena_strdup(&g->arena, name);
    if (!a->name) return NULL;
    n->n_attrs++;
    return a;
}

cleave_status ir_node_set_attr_int(ir_graph *g, ir_node *n, const char *name, int64_t v) {
    ir_attr *a = attr_slot(g, n, name);
    if (!a) return CLEAVE_E_NOMEM;
    a->kind = IR_ATTR_INT;
    a->i = v;
    return CLEAVE_OK;
}

cleave_status ir_node_set_attr_float(ir_graph *g, ir_node *n, const char *name, float v) {
    ir_attr *a = attr_slot(g, n, name);
    if (!a) return CLEAVE_E_NOMEM;
    a->kind = IR_ATTR_FLOAT;
    a->f = v;
    return CLEAVE_OK;
}

cleave_status ir_node_set_attr_ints(ir_graph *g, ir_node *n, const char *name,
                                    const int64_t *v, int count) {
    ir_attr *a = attr_slot(g, n, name);
    if (!a) return CLEAVE_E_NOMEM;
    a->kind = IR_ATTR_INTS;
    a->n = count;
    a->ints = cv_arena_memdup(&g->arena, v, sizeof(int64_t) * (size_t)count);
    return a->ints || !count ? CLEAVE_OK : CLEAVE_E_NOMEM;
}

void ir_node_del_attr(ir_node *n, const char *name) {
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) {
            memmove(&n->attrs[i], &n->attrs[i + 1], sizeof(ir_attr) * (size_t)(n->n_attrs - i - 1));
            n->n_attrs--;
            return;
        }
}
