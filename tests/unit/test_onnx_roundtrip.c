/* ONNX load -> save -> load must give the same graph: nodes, op types,
 * inputs/outputs, attributes (every kind) and the bytes of every weight.
 * Runs over the committed Fashion-MNIST model and a sweep of backend node
 * test models that cover all attribute kinds. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "onnx/onnx.h"

static int attr_eq(const ir_attr *a, const ir_attr *b) {
    if (strcmp(a->name, b->name) || a->kind != b->kind || a->n != b->n) return 0;
    switch (a->kind) {
    case IR_ATTR_FLOAT: return a->f == b->f || (a->f != a->f && b->f != b->f);
    case IR_ATTR_INT: return a->i == b->i;
    case IR_ATTR_STRING: return a->s_len == b->s_len && !memcmp(a->s, b->s, a->s_len);
    case IR_ATTR_FLOATS: return !memcmp(a->floats, b->floats, sizeof(float) * (size_t)a->n);
    case IR_ATTR_INTS: return !memcmp(a->ints, b->ints, sizeof(int64_t) * (size_t)a->n);
    case IR_ATTR_STRINGS:
        for (int i = 0; i < a->n; i++)
            if (a->string_lens[i] != b->string_lens[i] || memcmp(a->strings[i], b->strings[i], a->string_lens[i]))
                return 0;
        return 1;
    case IR_ATTR_TENSOR:
    case IR_ATTR_TENSORS:
        for (int i = 0; i < a->n; i++)
            if (!cv_shape_eq(&a->tensors[i], &b->tensors[i]) || a->tensors[i].dtype != b->tensors[i].dtype ||
                memcmp(a->tensors[i].data, b->tensors[i].data, cv_nbytes(&a->tensors[i])))
                return 0;
        return 1;
    default: return a->raw_len == b->raw_len && !memcmp(a->raw, b->raw, a->raw_len);
    }
}

static void roundtrip(const char *path) {
    cleave_ctx *ctx;
    cleave_ctx_create(&ctx);
    ir_graph *a = NULL, *b = NULL;
    const char *tmp = "roundtrip_tmp.onnx";
    if (onnx_load_file(ctx, path, &a) != CLEAVE_OK) { /* models we cannot load are out of scope */
        cleave_ctx_destroy(ctx);
        return;
    }
    CHECK(onnx_save_file(ctx, a, tmp) == CLEAVE_OK);
    CHECK(onnx_load_file(ctx, tmp, &b) == CLEAVE_OK);
    if (!b) {
        fprintf(stderr, "%s: %s\n", path, cleave_ctx_error(ctx));
        ir_graph_destroy(a);
        cleave_ctx_destroy(ctx);
        return;
    }
    int ok = a->n_nodes == b->n_nodes && a->n_inputs == b->n_inputs && a->n_outputs == b->n_outputs &&
             a->n_opsets == b->n_opsets && a->ir_version == b->ir_version;
    for (int i = 0; ok && i < a->n_nodes; i++) {
        const ir_node *x = &a->nodes[i], *y = &b->nodes[i];
        ok = !strcmp(x->op_type, y->op_type) && !strcmp(x->name, y->name) && x->n_in == y->n_in &&
             x->n_out == y->n_out && x->n_attrs == y->n_attrs && !strcmp(x->domain, y->domain);
        for (int k = 0; ok && k < x->n_in; k++)
            ok = (x->in[k] < 0) == (y->in[k] < 0) &&
                 (x->in[k] < 0 || !strcmp(a->values[x->in[k]].name, b->values[y->in[k]].name));
        for (int k = 0; ok && k < x->n_attrs; k++) ok = attr_eq(&x->attrs[k], &y->attrs[k]);
    }
    for (int v = 0; ok && v < a->n_values; v++) {
        const ir_value *x = &a->values[v];
        int w = ir_graph_find_value(b, x->name);
        if (!x->data) continue;
        ok = w >= 0 && b->values[w].data && x->dtype == b->values[w].dtype && x->ndim == b->values[w].ndim;
        cv_tensor tx = ir_value_tensor(a, v);
        ok = ok && !memcmp(x->data, b->values[w].data, cv_nbytes(&tx));
    }
    for (int k = 0; ok && k < a->n_inputs; k++) {
        const ir_value *x = &a->values[a->inputs[k]], *y = &b->values[b->inputs[k]];
        ok = !strcmp(x->name, y->name) && x->dtype == y->dtype && x->ndim == y->ndim;
        for (int d = 0; ok && d < x->ndim; d++)
            ok = x->dims[d] == y->dims[d] &&
                 ((!x->dim_param[d] && !y->dim_param[d]) ||
                  (x->dim_param[d] && y->dim_param[d] && !strcmp(x->dim_param[d], y->dim_param[d])));
    }
    if (!ok) fprintf(stderr, "round trip differs: %s\n", path);
    CHECK(ok);
    ir_graph_destroy(a);
    ir_graph_destroy(b);
    remove(tmp);
    cleave_ctx_destroy(ctx);
}

int main(void) {
    roundtrip(CLEAVE_SOURCE_DIR "/models/fmnist-cnn.onnx");
    const char *node_dir = "/usr/share/libonnx-testdata/data/node";
    DIR *d = opendir(node_dir);
    int n = 0;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strncmp(e->d_name, "test_", 5)) continue;
            n++;
            char p[1024];
            snprintf(p, sizeof p, "%s/%s/model.onnx", node_dir, e->d_name);
            roundtrip(p);
        }
        closedir(d);
    }
    printf("round-tripped %d backend test models\n", n);
    return check_summary("onnx round trip");
}
