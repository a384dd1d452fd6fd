/* cost: what one node of a model costs on a device. The types every cost
 * model shares: the compute dtype, the kind of work a node does (its op
 * class) and the per-node features all predictors read. Features come from
 * a compiled plan (concrete shapes), so they exist for any model cleave can
 * run and for any part of it. */
#ifndef CLEAVE_COST_H
#define CLEAVE_COST_H

#include <stdint.h>

#include "base/base.h"
#include "ir/graph.h"
#include "runtime/runtime.h"

/* Compute dtype of a node (what the kernel multiplies). Weights below 8 bits
 * are widened to int8 for compute, so they cost what int8 costs. */
typedef enum cost_dtype { COST_DT_FP32 = 0, COST_DT_INT8 = 1, COST_DT_N } cost_dtype;

/* Kind of work, for efficiency factors (roofline) and per-class regression. */
typedef enum cost_op_class {
    COST_OP_CONV = 0, /* dense / grouped convolution (groups < channels) */
    COST_OP_DWCONV,   /* depthwise convolution (groups == in channels) */
    COST_OP_GEMM,     /* Gemm, MatMul, QLinearMatMul, MatMulInteger */
    COST_OP_POOL,     /* Max/Average/Global pools */
    COST_OP_ELTWISE,  /* unary/binary elementwise, activations, Q/DQ, BN, Clip */
    COST_OP_NORM,     /* Softmax, LayerNorm, InstanceNorm, reductions */
    COST_OP_MOVE,     /* Concat, Split, Slice, Transpose, Pad, Resize, Gather, Reshape... */
    COST_OP_WCONV,    /* fp32 3x3 stride-1 dense conv of >= COST_WCONV_MIN_MACS: a fast
                       * backend may run it by Winograd (ops/winograd.c), fewer
                       * multiplies than 2 x MACs, so its efficiency may exceed 1 */
    COST_OP_N
} cost_op_class;

/* The conv size from which the oneDNN backend times Winograd against its
 * direct kernel (CONV_TUNE_MIN_MACS in ops/dnnl/fast_conv_dnnl.c). */
#define COST_WCONV_MIN_MACS 20000000.0
/* The most a class's efficiency may be: 1 (the device's peak) except for
 * COST_OP_WCONV (Winograd F(2x2, 3x3) does 16 / 36 of the multiplies). */
#define COST_EFF_MAX(c) ((c) == COST_OP_WCONV ? 2.25 : 1.0)

/* Per-node features (doubles so regression reads them directly). Byte
 * counts are of the dtypes the node really has after lowering. */
typedef struct cost_features {
    int node;           /* node index in the graph */
    const char *name;   /* node name (owned by the graph) */
    const char *op_type;
    cost_op_class cls;
    cost_dtype dtype;
    double macs;        /* multiply-accumulates (conv, gemm) */
    double flops;       /* other arithmetic: >= 1 per output element */
    double in_bytes;    /* activation inputs (non-constant) */
    double out_bytes;   /* outputs */
    double param_bytes; /* constant inputs (weights, biases) */
    double out_elems;
    /* convolution / pool geometry (0 when not applicable) */
    int kh, kw, stride, groups;
    int64_t cin, cout, out_h, out_w;
    int out_rank;       /* rank of output 0 (4 for a 2-D conv's NCHW) */
} cost_features;

/* Per-node overheads the executor adds at each step are part of the node's
 * time in every model below. */

/* Features of every step of a compiled plan, in schedule order. *out is
 * cv_malloc'd; n = rt_plan_n_steps(p). */
cleave_status cost_features_from_plan(cleave_ctx *ctx, const ir_graph *g, const rt_plan *p,
                                      cost_features **out, int *n);
/* Classify an op type (after lowering; fused activations do not change it). */
cost_op_class cost_op_class_of(const ir_graph *g, const ir_node *n, const cv_tensor *const *in);
const char *cost_op_class_name(cost_op_class c);
const char *cost_dtype_name(cost_dtype d);
/* Parse "fp32" / "int8"; -1 if neither. */
int cost_dtype_parse(const char *s);

#endif
