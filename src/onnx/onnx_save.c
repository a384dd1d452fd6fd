/* onnx saver: ir_graph -> ModelProto bytes. Protobuf structs borrow the
 * graph's strings and weights; only the pointer arrays are allocated (in a
 * scratch arena freed after packing). Fused activations are written back
 * as separate nodes so any ONNX consumer can run the file. */
#include <stdio.h>
#include <string.h>

#include "onnx.pb-c.h"
#include "onnx/onnx_internal.h"

typedef struct saver {
    cleave_ctx *ctx;
    cv_arena a;
    const ir_graph *g;
    int oom;
} saver;

static void *S(saver *s, size_t n) {
    void *p = cv_arena_alloc(&s->a, n);
    if (!p) s->oom = 1;
    return p;
}

static Onnx__ValueInfoProto *value_info(saver *s, int v) {
    const ir_value *val = &s->g->values[v];
    Onnx__ValueInfoProto *vi = S(s, sizeof *vi);
    Onnx__TypeProto *tp = S(s, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = S(s, sizeof *tt);
    if (!vi || !tp || !tt) return NULL;
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    vi->name = (char *)val->name;
    vi->type = tp;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    if (val->dtype != CV_UNDEF) {
        tt->has_elem_type = 1;
        tt->elem_type = (int32_t)val->dtype;
    }
    if (val->ndim >= 0) {
        Onnx__TensorShapeProto *sh = S(s, sizeof *sh);
        Onnx__TensorShapeProto__Dimension **dims = S(s, sizeof(void *) * (size_t)(val->ndim + 1));
        if (!sh || !dims) return NULL;
        onnx__tensor_shape_proto__init(sh);
        sh->n_dim = (size_t)val->ndim;
        sh->dim = dims;
        for (int i = 0; i < val->ndim; i++) {
            Onnx__TensorShapeProto__Dimension *d = S(s, sizeof *d);
            if (!d) return NULL;
            onnx__tensor_shape_proto__dimension__init(d);
            if (val->dim_param[i]) {
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                d->dim_param = (char *)val->dim_param[i];
            } else if (val->dims[i] >= 0) {
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                d->dim_value = val->dims[i];
            }
            dims[i] = d;
        }
        tt->shape = sh;
    }
    return vi;
}

static Onnx__TensorProto *tensor(saver *s, const cv_tensor *t, const char *name) {
    Onnx__TensorProto *tp = S(s, sizeof *tp);
    int64_t *dims = S(s, sizeof(int64_t) * (size_t)(t->ndim + 1));
    if (!tp || !dims) return NULL;
    onnx_tensor_encode(s->ctx, t, name, tp);
    /* t may be a caller's temporary: keep the dims in the saver's arena */
    memcpy(dims, t->dims, sizeof(int64_t) * (size_t)t->ndim);
    tp->dims = dims;
    return tp;
}

static Onnx__AttributeProto *attr(saver *s, const ir_attr *a) {
    if (a->raw) {
        Onnx__AttributeProto *ap = onnx__attribute_proto__unpack(NULL, a->raw_len, a->raw);
        if (!ap) {
            s->oom = 1;
            return NULL;
        }
        return ap; /* freed with free_unpacked after packing (see raws) */
    }
    Onnx__AttributeProto *ap = S(s, sizeof *ap);
    if (!ap) return NULL;
    onnx__attribute_proto__init(ap);
    ap->name = (char *)a->name;
    ap->ref_attr_name = (char *)a->ref_attr_name;
    ap->has_type = 1;
    ap->type = (Onnx__AttributeProto__AttributeType)a->kind;
    switch (a->kind) {
    case IR_ATTR_FLOAT: ap->has_f = 1; ap->f = a->f; break;
    case IR_ATTR_INT: ap->has_i = 1; ap->i = a->i; break;
    case IR_ATTR_STRING:
        ap->has_s = 1;
        ap->s.len = a->s_len;
        ap->s.data = (uint8_t *)a->s;
        break;
    case IR_ATTR_FLOATS: ap->n_floats = (size_t)a->n; ap->floats = (float *)a->floats; break;
    case IR_ATTR_INTS: ap->n_ints = (size_t)a->n; ap->ints = (int64_t *)a->ints; break;
    case IR_ATTR_STRINGS:
        ap->n_strings = (size_t)a->n;
        ap->strings = S(s, sizeof(ProtobufCBinaryData) * (size_t)(a->n + 1));
        if (!ap->strings) return NULL;
        for (int i = 0; i < a->n; i++) {
            ap->strings[i].len = a->string_lens[i];
            ap->strings[i].data = (uint8_t *)a->strings[i];
        }
        break;
    case IR_ATTR_TENSOR: ap->t = tensor(s, &a->tensors[0], a->tensor_names[0]); break;
    case IR_ATTR_TENSORS:
        ap->n_tensors = (size_t)a->n;
        ap->tensors = S(s, sizeof(void *) * (size_t)(a->n + 1));
        if (!ap->tensors) return NULL;
        for (int i = 0; i < a->n; i++) ap->tensors[i] = tensor(s, &a->tensors[i], a->tensor_names[i]);
        break;
    default: break;
    }
    return ap;
}

static const char *act_op(const ir_act *act) {
    switch (act->kind) {
    case IR_ACT_RELU: return "Relu";
    case IR_ACT_CLIP: return "Clip";
    case IR_ACT_LEAKY: return "LeakyRelu";
    case IR_ACT_SIGMOID: return "Sigmoid";
    case IR_ACT_HARDSIGMOID: return "HardSigmoid";
    case IR_ACT_HARDSWISH: return "HardSwish";
    case IR_ACT_TANH: return "Tanh";
    default: return NULL;
    }
}

static char **names(saver *s, const int *ids, int n) {
    char **out = S(s, sizeof(char *) * (size_t)(n + 1));
    if (!out) return NULL;
    for (int i = 0; i < n; i++) out[i] = ids[i] >= 0 ? (char *)s->g->values[ids[i]].name : "";
    return out;
}

/* Fills gp; raw attribute protos unpacked on the way are collected in raws. */
static cleave_status build(saver *s, Onnx__GraphProto *gp, Onnx__AttributeProto ***raws, int *n_raw) {
    const ir_graph *g = s->g;
    onnx__graph_proto__init(gp);
    gp->name = (char *)(g->graph_name ? g->graph_name : "cleave");
    gp->doc_string = (char *)g->doc;
    int n_fused = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        n_fused += n->act.kind != IR_ACT_NONE;
        /* an activation fused into an integer op acts on the real value
         * before requantization; a float Relu node after it cannot say that */
        if (n->act.kind != IR_ACT_NONE &&
            (!strncmp(n->op_type, "QLinear", 7) || !strcmp(n->op_type, "QuantizeLinear") ||
             !strcmp(n->op_type, "MaxPool")))
            return cv_fail(s->ctx, CLEAVE_E_UNSUPPORTED,
                           "node '%s' (%s): an activation fused into an integer op has no ONNX "
                           "form; save the QDQ graph instead",
                           n->name, n->op_type);
    }
    gp->node = S(s, sizeof(void *) * (size_t)(g->n_nodes + n_fused + 1));
    int n_init = 0;
    for (int v = 0; v < g->n_values; v++) n_init += g->values[v].data != NULL && g->values[v].producer < 0;
    gp->initializer = S(s, sizeof(void *) * (size_t)(n_init + 1));
    gp->input = S(s, sizeof(void *) * (size_t)(g->n_inputs + 1));
    gp->output = S(s, sizeof(void *) * (size_t)(g->n_outputs + 1));
    gp->value_info = S(s, sizeof(void *) * (size_t)(g->n_values + 1));
    if (s->oom) return CLEAVE_E_NOMEM;
    for (int v = 0; v < g->n_values; v++) {
        const ir_value *val = &g->values[v];
        if (!val->data || val->producer >= 0) continue;
        cv_tensor t = ir_value_tensor(g, v);
        gp->initializer[gp->n_initializer++] = tensor(s, &t, val->name);
    }
    for (int i = 0; i < g->n_inputs; i++) gp->input[gp->n_input++] = value_info(s, g->inputs[i]);
    for (int i = 0; i < g->n_outputs; i++) gp->output[gp->n_output++] = value_info(s, g->outputs[i]);
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].has_info && !g->values[v].is_input && !g->values[v].is_output)
            gp->value_info[gp->n_value_info++] = value_info(s, v);
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        if (n->dead) continue;
        Onnx__NodeProto *np = S(s, sizeof *np);
        if (!np) return CLEAVE_E_NOMEM;
        onnx__node_proto__init(np);
        np->name = (char *)n->name;
        np->op_type = (char *)n->op_type;
        np->domain = (char *)n->domain;
        np->doc_string = (char *)n->doc;
        np->n_input = (size_t)n->n_in;
        np->input = names(s, n->in, n->n_in);
        np->n_output = (size_t)n->n_out;
        np->output = names(s, n->out, n->n_out);
        np->attribute = S(s, sizeof(void *) * (size_t)(n->n_attrs + 1));
        if (!np->input || !np->output || !np->attribute) return CLEAVE_E_NOMEM;
        for (int k = 0; k < n->n_attrs; k++) {
            Onnx__AttributeProto *ap = attr(s, &n->attrs[k]);
            if (!ap) return CLEAVE_E_NOMEM;
            if (n->attrs[k].raw) (*raws)[(*n_raw)++] = ap;
            np->attribute[np->n_attribute++] = ap;
        }
        gp->node[gp->n_node++] = np;
        const char *aop = act_op(&n->act);
        if (aop && n->n_out > 0 && n->out[0] >= 0) {
            /* conv -> <out>__preact -> Act -> <out> */
            const char *final = g->values[n->out[0]].name;
            size_t len = strlen(final) + 16;
            char *pre = S(s, len);
            char *nm = S(s, strlen(n->name) + 16);
            Onnx__NodeProto *an = S(s, sizeof *an);
            if (!pre || !nm || !an) return CLEAVE_E_NOMEM;
            snprintf(pre, len, "%s__preact", final);
            snprintf(nm, strlen(n->name) + 16, "%s__act", n->name);
            np->output[0] = pre;
            onnx__node_proto__init(an);
            an->name = nm;
            an->op_type = (char *)aop;
            an->domain = "";
            an->n_input = 1;
            an->input = S(s, sizeof(char *) * 3);
            an->n_output = 1;
            an->output = S(s, sizeof(char *));
            an->attribute = S(s, sizeof(void *) * 2);
            if (!an->input || !an->output || !an->attribute) return CLEAVE_E_NOMEM;
            an->input[0] = pre;
            an->output[0] = (char *)final;
            const ir_act *act = &n->act;
            if (act->kind == IR_ACT_LEAKY || act->kind == IR_ACT_HARDSIGMOID) {
                for (int k = 0; k < (act->kind == IR_ACT_HARDSIGMOID ? 2 : 1); k++) {
                    Onnx__AttributeProto *ap = S(s, sizeof *ap);
                    if (!ap) return CLEAVE_E_NOMEM;
                    onnx__attribute_proto__init(ap);
                    ap->name = k ? "beta" : "alpha";
                    ap->has_type = 1;
                    ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
                    ap->has_f = 1;
                    ap->f = k ? act->beta : act->alpha;
                    an->attribute[an->n_attribute++] = ap;
                }
            } else if (act->kind == IR_ACT_CLIP) {
                /* Clip-11+: min/max as constant inputs, stored as initializers. */
                char *mn = S(s, len + 8), *mx = S(s, len + 8);
                float *vals = S(s, 2 * sizeof(float));
                cv_tensor *ts = S(s, 2 * sizeof(cv_tensor));
                if (!mn || !mx || !vals || !ts) return CLEAVE_E_NOMEM;
                snprintf(mn, len + 8, "%s__min", final);
                snprintf(mx, len + 8, "%s__max", final);
                vals[0] = act->alpha;
                vals[1] = act->beta;
                for (int k = 0; k < 2; k++) {
                    ts[k].dtype = CV_F32;
                    ts[k].ndim = 0;
                    ts[k].data = &vals[k];
                }
                Onnx__TensorProto **ni = S(s, sizeof(void *) * (gp->n_initializer + 3));
                if (!ni) return CLEAVE_E_NOMEM;
                memcpy(ni, gp->initializer, sizeof(void *) * gp->n_initializer);
                gp->initializer = ni;
                gp->initializer[gp->n_initializer++] = tensor(s, &ts[0], mn);
                gp->initializer[gp->n_initializer++] = tensor(s, &ts[1], mx);
                an->n_input = 3;
                an->input[1] = mn;
                an->input[2] = mx;
            }
            gp->node[gp->n_node++] = an;
        }
    }
    return s->oom ? CLEAVE_E_NOMEM : CLEAVE_OK;
}

cleave_status onnx_save_file(cleave_ctx *ctx, const ir_graph *g, const char *path) {
    saver s = {.ctx = ctx, .g = g};
    Onnx__ModelProto mp;
    Onnx__GraphProto gp;
    onnx__model_proto__init(&mp);
    mp.has_ir_version = 1;
    mp.ir_version = g->ir_version ? g->ir_version : 8;
    mp.producer_name = (char *)(g->producer_name ? g->producer_name : "cleave");
    mp.producer_version = (char *)g->producer_version;
    mp.domain = (char *)g->domain;
    mp.has_model_version = g->model_version != 0;
    mp.model_version = g->model_version;
    mp.graph = &gp;
    int n_attrs = 0;
    for (int i = 0; i < g->n_nodes; i++) n_attrs += g->nodes[i].n_attrs;
    Onnx__AttributeProto **raws = cv_calloc((size_t)n_attrs + 1, sizeof(void *));
    Onnx__OperatorSetIdProto *ops = cv_calloc((size_t)g->n_opsets + 1, sizeof *ops);
    Onnx__OperatorSetIdProto **opp = cv_calloc((size_t)g->n_opsets + 1, sizeof(void *));
    int n_raw = 0;
    cleave_status st = CLEAVE_OK;
    if (!raws || !ops || !opp) {
        st = cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory while saving", path);
        goto done;
    }
    for (int i = 0; i < g->n_opsets; i++) {
        onnx__operator_set_id_proto__init(&ops[i]);
        ops[i].domain = (char *)g->opsets[i].domain;
        ops[i].has_version = 1;
        ops[i].version = g->opsets[i].version;
        opp[i] = &ops[i];
    }
    mp.n_opset_import = (size_t)g->n_opsets;
    mp.opset_import = opp;
    if (build(&s, &gp, &raws, &n_raw) != CLEAVE_OK) {
        st = cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory while saving", path);
        goto done;
    }
    size_t n = onnx__model_proto__get_packed_size(&mp);
    uint8_t *buf = cv_malloc(n);
    if (!buf) {
        st = cv_fail(ctx, CLEAVE_E_NOMEM, "%s: cannot allocate %zu bytes", path, n);
        goto done;
    }
    onnx__model_proto__pack(&mp, buf);
    st = cv_write_file(ctx, path, buf, n);
    cv_free(buf);
done:
    for (int i = 0; i < n_raw; i++) onnx__attribute_proto__free_unpacked(raws[i], NULL);
    cv_free(raws);
    cv_free(ops);
    cv_free(opp);
    cv_arena_destroy(&s.a);
    return st;
}
