/* onnx loader: ModelProto -> ir_graph. Copies what cleave keeps (opsets,
 * metadata, inputs/outputs/value_info with shapes, initializers, nodes with
 * every attribute kind) into the graph's arena, then links producers and
 * sorts topologically. Attribute kinds cleave does not interpret (graphs,
 * sparse tensors, type protos) are kept as packed bytes for a faithful save. */
#include <stdio.h>
#include <string.h>

#include "onnx.pb-c.h"
#include "onnx/onnx_internal.h"

static const char *sdup(ir_graph *g, const char *s) {
    return s ? cv_arena_strdup(&g->arena, s) : NULL;
}

static cleave_status nomem(cleave_ctx *ctx, const char *path) {
    return cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory while loading", path);
}

/* Type and shape from a ValueInfoProto. */
static cleave_status load_value_info(cleave_ctx *ctx, ir_graph *g, const Onnx__ValueInfoProto *vi,
                                     const char *path, const char *role, int *out_id) {
    if (!vi->name || !vi->name[0])
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: a graph %s has no name", path, role);
    int v = ir_graph_intern_value(g, vi->name);
    if (v < 0) return nomem(ctx, path);
    ir_value *val = &g->values[v];
    const Onnx__TypeProto *tp = vi->type;
    if (tp && tp->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && tp->tensor_type) {
        const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
        if (tt->has_elem_type) val->dtype = (cv_dtype)tt->elem_type;
        if (tt->shape) {
            if (tt->shape->n_dim > CV_MAX_DIMS)
                return cv_fail(ctx, CLEAVE_E_LIMIT, "%s: %s '%s': rank %zu exceeds the limit of %d",
                               path, role, vi->name, tt->shape->n_dim, CV_MAX_DIMS);
            val->ndim = (int)tt->shape->n_dim;
            for (size_t i = 0; i < tt->shape->n_dim; i++) {
                const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
                val->dims[i] = -1;
                val->dim_param[i] = NULL;
                if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
                    d->dim_value >= 0)
                    val->dims[i] = d->dim_value;
                else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM)
                    val->dim_param[i] = sdup(g, d->dim_param);
            }
        }
    } else if (tp && tp->value_case != ONNX__TYPE_PROTO__VALUE__NOT_SET) {
        return cv_fail(ctx, CLEAVE_E_UNSUPPORTED,
                       "%s: %s '%s': only tensor types are supported (sequence/map/optional "
                       "are not)",
                       path, role, vi->name);
    }
    *out_id = v;
    return CLEAVE_OK;
}

static cleave_status load_attr(cleave_ctx *ctx, ir_graph *g, const Onnx__AttributeProto *ap,
                               ir_attr *a, const char *path, const char *where) {
    memset(a, 0, sizeof *a);
    a->name = sdup(g, ap->name ? ap->name : "");
    a->ref_attr_name = sdup(g, ap->ref_attr_name);
    a->kind = ap->has_type ? (ir_attr_kind)ap->type : IR_ATTR_UNDEF;
    if (a->kind == IR_ATTR_UNDEF) {
        /* Old files omit the type; infer it from the populated field. */
        if (ap->n_ints) a->kind = IR_ATTR_INTS;
        else if (ap->n_floats) a->kind = IR_ATTR_FLOATS;
        else if (ap->n_strings) a->kind = IR_ATTR_STRINGS;
        else if (ap->n_tensors) a->kind = IR_ATTR_TENSORS;
        else if (ap->t) a->kind = IR_ATTR_TENSOR;
        else if (ap->has_s) a->kind = IR_ATTR_STRING;
        else if (ap->has_f) a->kind = IR_ATTR_FLOAT;
        else if (ap->has_i) a->kind = IR_ATTR_INT;
    }
    size_t cap = ONNX_MAX_ATTR_ELEMS;
    if (ap->n_ints > cap || ap->n_floats > cap || ap->n_strings > cap || ap->n_tensors > cap)
        return cv_fail(ctx, CLEAVE_E_LIMIT, "%s: %s: attribute '%s' has too many elements", path,
                       where, a->name);
    char what[1024];
    switch (a->kind) {
    case IR_ATTR_FLOAT: a->f = ap->f; break;
    case IR_ATTR_INT: a->i = ap->i; break;
    case IR_ATTR_STRING: {
        char *s = cv_arena_alloc(&g->arena, ap->s.len + 1);
        if (!s) return nomem(ctx, path);
        if (ap->s.len) memcpy(s, ap->s.data, ap->s.len);
        a->s = s;
        a->s_len = ap->s.len;
        break;
    }
    case IR_ATTR_FLOATS:
        a->n = (int)ap->n_floats;
        a->floats = cv_arena_memdup(&g->arena, ap->floats, sizeof(float) * ap->n_floats);
        break;
    case IR_ATTR_INTS:
        a->n = (int)ap->n_ints;
        a->ints = cv_arena_memdup(&g->arena, ap->ints, sizeof(int64_t) * ap->n_ints);
        break;
    case IR_ATTR_STRINGS: {
        a->n = (int)ap->n_strings;
        const char **ss = cv_arena_alloc(&g->arena, sizeof(char *) * ap->n_strings);
        size_t *ls = cv_arena_alloc(&g->arena, sizeof(size_t) * ap->n_strings);
        if (!ss || !ls) return nomem(ctx, path);
        for (size_t i = 0; i < ap->n_strings; i++) {
            char *s = cv_arena_alloc(&g->arena, ap->strings[i].len + 1);
            if (!s) return nomem(ctx, path);
            if (ap->strings[i].len) memcpy(s, ap->strings[i].data, ap->strings[i].len);
            ss[i] = s;
            ls[i] = ap->strings[i].len;
        }
        a->strings = ss;
        a->string_lens = ls;
        break;
    }
    case IR_ATTR_TENSOR:
    case IR_ATTR_TENSORS: {
        size_t n = a->kind == IR_ATTR_TENSOR ? 1 : ap->n_tensors;
        if (a->kind == IR_ATTR_TENSOR && !ap->t)
            return cv_fail(ctx, CLEAVE_E_INVALID, "%s: %s: tensor attribute '%s' has no tensor",
                           path, where, a->name);
        a->n = (int)n;
        a->tensors = cv_arena_alloc(&g->arena, sizeof(cv_tensor) * n);
        a->tensor_names = cv_arena_alloc(&g->arena, sizeof(char *) * n);
        if (!a->tensors || !a->tensor_names) return nomem(ctx, path);
        for (size_t i = 0; i < n; i++) {
            const Onnx__TensorProto *tp = a->kind == IR_ATTR_TENSOR ? ap->t : ap->tensors[i];
            snprintf(what, sizeof what, "%.400s: attribute '%.400s'", where, a->name);
            CV_TRY(onnx_tensor_decode(ctx, tp, path, what, &g->arena, &a->tensors[i]));
            a->tensor_names[i] = sdup(g, tp->name);
        }
        break;
    }
    default: {
        /* Keep uninterpreted kinds verbatim: pack the whole AttributeProto. */
        size_t n = onnx__attribute_proto__get_packed_size(ap);
        uint8_t *raw = cv_arena_alloc(&g->arena, n);
        if (!raw) return nomem(ctx, path);
        onnx__attribute_proto__pack(ap, raw);
        a->raw = raw;
        a->raw_len = n;
        break;
    }
    }
    if ((a->kind == IR_ATTR_FLOATS && a->n && !a->floats) || (a->kind == IR_ATTR_INTS && a->n && !a->ints))
        return nomem(ctx, path);
    return CLEAVE_OK;
}

static cleave_status load_graph(cleave_ctx *ctx, ir_graph *g, const Onnx__GraphProto *gp,
                                const char *path) {
    char where[512];
    g->graph_name = sdup(g, gp->name);
    g->doc = sdup(g, gp->doc_string);
    if (gp->n_node > ONNX_MAX_NODES)
        return cv_fail(ctx, CLEAVE_E_LIMIT, "%s: %zu nodes exceed the limit of %d", path,
                       gp->n_node, ONNX_MAX_NODES);
    if (gp->n_sparse_initializer)
        return cv_fail(ctx, CLEAVE_E_UNSUPPORTED, "%s: sparse initializers are not supported", path);
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        if (!tp->name || !tp->name[0])
            return cv_fail(ctx, CLEAVE_E_INVALID, "%s: initializer #%zu has no name", path, i);
        int v = ir_graph_intern_value(g, tp->name);
        if (v < 0) return nomem(ctx, path);
        if (g->values[v].is_initializer)
            return cv_fail(ctx, CLEAVE_E_INVALID, "%s: initializer '%s' appears twice", path,
                           tp->name);
        cv_tensor t;
        snprintf(where, sizeof where, "initializer '%s'", tp->name);
        CV_TRY(onnx_tensor_decode(ctx, tp, path, where, &g->arena, &t));
        ir_value *val = &g->values[v];
        val->dtype = t.dtype;
        val->ndim = t.ndim;
        for (int d = 0; d < t.ndim; d++) val->dims[d] = t.dims[d];
        val->data = t.data;
        val->is_initializer = 1;
        val->external = tp->has_data_location &&
                        tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    }
    g->inputs = cv_malloc(sizeof(int) * (gp->n_input + 1));
    g->outputs = cv_malloc(sizeof(int) * (gp->n_output + 1));
    if (!g->inputs || !g->outputs) return nomem(ctx, path);
    for (size_t i = 0; i < gp->n_input; i++) {
        int v;
        /* An initializer listed as input keeps its own dtype/shape. */
        int pre = gp->input[i]->name ? ir_graph_find_value(g, gp->input[i]->name) : -1;
        if (pre >= 0 && g->values[pre].is_initializer) {
            v = pre;
        } else {
            CV_TRY(load_value_info(ctx, g, gp->input[i], path, "input", &v));
        }
        g->values[v].is_input = 1;
        g->inputs[g->n_inputs++] = v;
    }
    for (size_t i = 0; i < gp->n_output; i++) {
        int v;
        CV_TRY(load_value_info(ctx, g, gp->output[i], path, "output", &v));
        g->values[v].is_output = 1;
        g->outputs[g->n_outputs++] = v;
    }
    for (size_t i = 0; i < gp->n_value_info; i++) {
        int v = gp->value_info[i]->name ? ir_graph_find_value(g, gp->value_info[i]->name) : -1;
        if (v >= 0 && g->values[v].is_initializer) continue;
        CV_TRY(load_value_info(ctx, g, gp->value_info[i], path, "value_info", &v));
        g->values[v].has_info = 1;
    }
    int ins[4096], outs[4096];
    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        const char *op_type = np->op_type ? np->op_type : "";
        snprintf(where, sizeof where, "node '%s' (%s)", np->name && np->name[0] ? np->name : "<unnamed>",
                 op_type);
        if (!op_type[0]) return cv_fail(ctx, CLEAVE_E_INVALID, "%s: node #%zu has no op_type", path, i);
        if (np->n_input > 4096 || np->n_output > 4096)
            return cv_fail(ctx, CLEAVE_E_LIMIT, "%s: %s: too many inputs/outputs", path, where);
        for (size_t k = 0; k < np->n_input; k++) {
            const char *nm = np->input[k];
            ins[k] = nm && nm[0] ? ir_graph_intern_value(g, nm) : -1;
            if (nm && nm[0] && ins[k] < 0) return nomem(ctx, path);
        }
        for (size_t k = 0; k < np->n_output; k++) {
            const char *nm = np->output[k];
            outs[k] = nm && nm[0] ? ir_graph_intern_value(g, nm) : -1;
            if (nm && nm[0] && outs[k] < 0) return nomem(ctx, path);
        }
        int id = ir_graph_add_node(g, np->name, op_type, np->domain, ins, (int)np->n_input, outs,
                                   (int)np->n_output);
        if (id < 0) return nomem(ctx, path);
        ir_node *n = &g->nodes[id];
        n->doc = sdup(g, np->doc_string);
        if (np->n_attribute) {
            if (np->n_attribute > 10000)
                return cv_fail(ctx, CLEAVE_E_LIMIT, "%s: %s: too many attributes", path, where);
            n->attrs = cv_calloc(np->n_attribute, sizeof(ir_attr));
            if (!n->attrs) return nomem(ctx, path);
            for (size_t k = 0; k < np->n_attribute; k++) {
                n->n_attrs = (int)k + 1;
                CV_TRY(load_attr(ctx, g, np->attribute[k], &n->attrs[k], path, where));
            }
        }
    }
    return CLEAVE_OK;
}

cleave_status onnx_load_bytes(cleave_ctx *ctx, const uint8_t *data, size_t len,
                              const char *path, ir_graph **out) {
    const char *src = path ? path : "<memory>";
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, data);
    if (!mp)
        return cv_fail(ctx, CLEAVE_E_PARSE,
                       "%s: not a valid ONNX model (protobuf decode failed: truncated or corrupt)",
                       src);
    cleave_status st = CLEAVE_OK;
    ir_graph *g = NULL;
    if (!mp->graph) {
        st = cv_fail(ctx, CLEAVE_E_PARSE, "%s: the model has no graph", src);
        goto done;
    }
    if (ir_graph_create(&g) != CLEAVE_OK) {
        st = nomem(ctx, src);
        goto done;
    }
    g->source_path = sdup(g, src);
    g->ir_version = mp->has_ir_version ? mp->ir_version : 0;
    g->producer_name = sdup(g, mp->producer_name);
    g->producer_version = sdup(g, mp->producer_version);
    g->domain = sdup(g, mp->domain);
    g->model_version = mp->has_model_version ? mp->model_version : 0;
    g->opsets = cv_calloc(mp->n_opset_import + 1, sizeof(ir_opset));
    if (!g->opsets) {
        st = nomem(ctx, src);
        goto done;
    }
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        g->opsets[i].domain = sdup(g, mp->opset_import[i]->domain ? mp->opset_import[i]->domain : "");
        g->opsets[i].version = mp->opset_import[i]->version;
    }
    g->n_opsets = (int)mp->n_opset_import;
    if (mp->n_functions) {
        st = cv_fail(ctx, CLEAVE_E_UNSUPPORTED, "%s: model-local functions are not supported", src);
        goto done;
    }
    st = load_graph(ctx, g, mp->graph, src);
    if (st == CLEAVE_OK) st = ir_graph_toposort(ctx, g);
done:
    onnx__model_proto__free_unpacked(mp, NULL);
    if (st != CLEAVE_OK) {
        ir_graph_destroy(g);
        return st;
    }
    *out = g;
    return CLEAVE_OK;
}

cleave_status onnx_load_file(cleave_ctx *ctx, const char *path, ir_graph **out) {
    uint8_t *buf;
    size_t len;
    CV_TRY(cv_read_file(ctx, path, ONNX_MAX_FILE_BYTES, &buf, &len));
    cleave_status st = onnx_load_bytes(ctx, buf, len, path, out);
    cv_free(buf);
    return st;
}
