/* cost features: per-node shapes, arithmetic and bytes from a compiled plan,
 * and the op class that decides which efficiency or regression applies. */
#include "cost/cost.h"

#include <string.h>

#include "ir/stats.h"

static int is_any(const char *t, const char *const *list) {
    for (; *list; list++)
        if (!strcmp(t, *list)) return 1;
    return 0;
}

cost_op_class cost_op_class_of(const ir_graph *g, const ir_node *n, const cv_tensor *const *in) {
    (void)g;
    const char *t = n->op_type;
    static const char *const conv[] = {"Conv", "ConvTranspose", "QLinearConv", "ConvInteger", NULL};
    static const char *const gemm[] = {"Gemm", "MatMul", "QLinearMatMul", "MatMulInteger", NULL};
    static const char *const pool[] = {"MaxPool", "AveragePool", "GlobalAveragePool",
                                       "GlobalMaxPool", "LpPool", NULL};
    static const char *const norm[] = {"Softmax", "LogSoftmax", "LayerNormalization",
                                       "InstanceNormalization", "ReduceMean", "ReduceMax",
                                       "ReduceSum", "ArgMax", NULL};
    static const char *const move[] = {"Concat", "Split", "Slice", "Transpose", "Pad", "Resize",
                                       "Gather", "Reshape", "Flatten", "Squeeze", "Unsqueeze",
                                       "Expand", "Tile", "Shape", "Identity", "Cast", NULL};
    if (is_any(t, conv)) {
        int64_t group = ir_attr_int(n, "group", 1);
        const cv_tensor *x = in ? in[0] : NULL;
        if (group > 1 && x && x->ndim >= 2 && x->dims[1] == group) return COST_OP_DWCONV;
        return COST_OP_CONV;
    }
    if (is_any(t, gemm)) return COST_OP_GEMM;
    if (is_any(t, pool)) return COST_OP_POOL;
    if (is_any(t, norm)) return COST_OP_NORM;
    if (is_any(t, move)) return COST_OP_MOVE;
    return COST_OP_ELTWISE;
}

const char *cost_op_class_name(cost_op_class c) {
    static const char *const names[COST_OP_N] = {"conv", "dwconv", "gemm", "pool",
                                                 "eltwise", "norm", "move", "wconv"};
    return (unsigned)c < COST_OP_N ? names[c] : "?";
}

const char *cost_dtype_name(cost_dtype d) { return d == COST_DT_INT8 ? "int8" : "fp32"; }

int cost_dtype_parse(const char *s) {
    if (!s) return -1;
    if (!strcmp(s, "fp32") || !strcmp(s, "float")) return COST_DT_FP32;
    if (!strcmp(s, "int8") || !strcmp(s, "u8") || !strcmp(s, "uint8")) return COST_DT_INT8;
    return -1;
}

/* Geometry of a conv or pool: kernel, stride, groups, channels, output HxW. */
static void geometry(const ir_graph *g, const ir_node *n, const cv_tensor *const *in,
                     const cv_tensor *y, cost_features *f) {
    const cv_tensor *x = in[0];
    int wslot = !strcmp(n->op_type, "QLinearConv") ? 3 : 1;
    const cv_tensor *w = n->n_in > wslot ? in[wslot] : NULL;
    if (x && x->ndim >= 2) f->cin = x->dims[1];
    if (y && y->ndim >= 2) f->cout = y->dims[1];
    if (y) f->out_rank = y->ndim;
    if (y && y->ndim >= 4) {
        f->out_h = y->dims[2];
        f->out_w = y->dims[3];
    } else if (y && y->ndim == 3) {
        f->out_h = 1;
        f->out_w = y->dims[2];
    }
    const ir_attr *ks = ir_node_attr(n, "kernel_shape");
    if (ks && ks->kind == IR_ATTR_INTS && ks->n >= 1) {
        f->kh = (int)ks->ints[0];
        f->kw = (int)ks->ints[ks->n - 1];
    } else if (w && w->ndim >= 3) {
        f->kh = (int)w->dims[2];
        f->kw = (int)w->dims[w->ndim - 1];
    } else if (!strncmp(n->op_type, "Global", 6) && x && x->ndim >= 4) {
        f->kh = (int)x->dims[2];
        f->kw = (int)x->dims[3];
    }
    const ir_attr *st = ir_node_attr(n, "strides");
    f->stride = st && st->kind == IR_ATTR_INTS && st->n >= 1 ? (int)st->ints[0] : 1;
    f->groups = (int)ir_attr_int(n, "group", 1);
    (void)g;
}

cleave_status cost_features_from_plan(cleave_ctx *ctx, const ir_graph *g, const rt_plan *p,
                                      cost_features **out, int *n_out) {
    int ns = rt_plan_n_steps(p);
    cost_features *fs = cv_calloc(ns > 0 ? (size_t)ns : 1, sizeof *fs);
    if (!fs) return cv_fail(ctx, CLEAVE_E_NOMEM, "cost features: out of memory");
    enum { MAXIO = 256 };
    for (int s = 0; s < ns; s++) {
        int ni = rt_plan_step_node(p, s);
        const ir_node *n = &g->nodes[ni];
        const cv_tensor *in[MAXIO] = {0}, *ot[MAXIO] = {0};
        int nin = n->n_in < MAXIO ? n->n_in : MAXIO, nout = n->n_out < MAXIO ? n->n_out : MAXIO;
        for (int k = 0; k < nin; k++) in[k] = n->in[k] >= 0 ? rt_plan_value(p, n->in[k]) : NULL;
        for (int k = 0; k < nout; k++) ot[k] = n->out[k] >= 0 ? rt_plan_value(p, n->out[k]) : NULL;
        ir_node_stats st;
        ir_node_stats_compute(g, n, in, ot, &st);
        cost_features *f = &fs[s];
        f->node = ni;
        f->name = n->name;
        f->op_type = n->op_type;
        f->cls = cost_op_class_of(g, n, in);
        f->macs = (double)st.macs;
        f->flops = st.macs ? 0.0 : (double)st.flops;
        f->param_bytes = (double)st.param_bytes;
        f->out_bytes = (double)st.out_bytes;
        for (int k = 0; k < nin; k++) {
            int v = n->in[k];
            if (v >= 0 && in[k] && !(g->values[v].data && g->values[v].producer < 0))
                f->in_bytes += (double)cv_nbytes(in[k]);
        }
        if (ot[0]) f->out_elems = (double)cv_numel(ot[0]);
        /* int8 compute when the first activation input is 8-bit */
        f->dtype = in[0] && (in[0]->dtype == CV_U8 || in[0]->dtype == CV_I8) ? COST_DT_INT8
                                                                                  : COST_DT_FP32;
        /* QLinear ops: MACs from the quantized weight (slot 3 for conv/matmul) */
        if (!strcmp(n->op_type, "QLinearConv") && nin > 3 && in[3] && ot[0] && in[3]->ndim >= 3)
            f->macs = (double)cv_numel(ot[0]) * (double)cv_shape_numel(in[3]->ndim - 1, in[3]->dims + 1);
        else if (!strcmp(n->op_type, "QLinearMatMul") && in[0] && ot[0] && in[0]->ndim >= 1)
            f->macs = (double)cv_numel(ot[0]) * (double)in[0]->dims[in[0]->ndim - 1];
        if (f->macs > 0) f->flops = 0;
        if (f->cls == COST_OP_CONV || f->cls == COST_OP_DWCONV || f->cls == COST_OP_POOL)
            geometry(g, n, in, ot[0], f);
        /* a 3x3 stride-1 fp32 conv big enough for the backend to try Winograd */
        if (f->cls == COST_OP_CONV && f->dtype == COST_DT_FP32 && !strcmp(n->op_type, "Conv") &&
            f->kh == 3 && f->kw == 3 && f->stride == 1 && f->groups == 1 && f->out_rank == 4 &&
            f->macs >= COST_WCONV_MIN_MACS) {
            const ir_attr *st = ir_node_attr(n, "strides"), *dl = ir_node_attr(n, "dilations");
            int ones = 1;
            for (int k = 0; st && st->kind == IR_ATTR_INTS && k < st->n; k++) ones &= st->ints[k] == 1;
            for (int k = 0; dl && dl->kind == IR_ATTR_INTS && k < dl->n; k++) ones &= dl->ints[k] == 1;
            if (ones) f->cls = COST_OP_WCONV;
        }
        else if (f->cls == COST_OP_GEMM && in[0] && in[0]->ndim >= 1 && ot[0] && ot[0]->ndim >= 1) {
            f->cin = in[0]->dims[in[0]->ndim - 1];
            f->cout = ot[0]->dims[ot[0]->ndim - 1];
        }
    }
    *out = fs;
    *n_out = ns;
    return CLEAVE_OK;
}
