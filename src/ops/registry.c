/* ops registry: the op table expanded from op_list.inc, name lookup and
 * binding of graph nodes to ops (an unsupported op fails here, at load). */
#include <string.h>

#include "ops/op.h"

#define OP(name, family) extern const op_def op_def_##name;
#include "ops/op_list.inc"
#undef OP

static const op_def *const k_ops[OP_COUNT] = {
#define OP(name, family) &op_def_##name,
#include "ops/op_list.inc"
#undef OP
};

static const char *const k_names[OP_COUNT] = {
#define OP(name, family) #name,
#include "ops/op_list.inc"
#undef OP
};

const op_def *op_get(int op) {
    if (op < 0 || op >= OP_COUNT) return NULL;
    return k_ops[op];
}

const char *op_name(int op) { return op >= 0 && op < OP_COUNT ? k_names[op] : "?"; }

/* Ops of ONNX Runtime's contrib domain that cleave runs (the quantized
 * graphs its QDQ lowering makes use them). */
static int is_contrib(const char *op_type) { return !strcmp(op_type, "QLinearAdd"); }

int op_lookup(const char *domain, const char *op_type) {
    int contrib = domain && !strcmp(domain, "com.microsoft");
    if (domain && domain[0] && strcmp(domain, "ai.onnx") != 0 && !contrib) return -1;
    if (contrib != is_contrib(op_type)) return -1;
    for (int i = 0; i < OP_COUNT; i++)
        if (strcmp(k_names[i], op_type) == 0) return i;
    return -1;
}

cleave_status op_bind_graph(cleave_ctx *ctx, ir_graph *g) {
    const char *src = g->source_path ? g->source_path : "graph";
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *n = &g->nodes[i];
        n->op = op_lookup(n->domain, n->op_type);
        char b[300];
        if (n->op < 0)
            return cv_fail(ctx, CLEAVE_E_UNSUPPORTED, "%s: %s: unsupported op '%s%s%s'", src,
                           ir_node_label(n, b, sizeof b), n->domain[0] ? n->domain : "",
                           n->domain[0] ? "." : "", n->op_type);
        const op_def *d = k_ops[n->op];
        if (n->n_in < d->min_in || n->n_in > d->max_in || n->n_out < d->min_out ||
            n->n_out > d->max_out)
            return cv_fail(ctx, CLEAVE_E_INVALID,
                           "%s: %s: has %d inputs and %d outputs, expected %d..%d inputs and "
                           "%d..%d outputs",
                           src, ir_node_label(n, b, sizeof b), n->n_in, n->n_out, d->min_in,
                           d->max_in, d->min_out, d->max_out);
    }
    return CLEAVE_OK;
}
