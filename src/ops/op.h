/* ops: the operator interface. Each op supplies
 *   infer   - output dtype and shape from input dtypes/shapes (and values of
 *             inputs known at compile time: in[k]->data != NULL);
 *   prepare - optional, once per compiled node: pick the kernel for dtype,
 *             shape and CPU, pack weights, create library primitives, state
 *             the scratch size;
 *   run     - compute; outputs are preallocated with the inferred shapes;
 *   release - free what prepare made.
 * The op list is src/ops/op_list.inc (X-macro): enum, names, lookup. */
#ifndef CLEAVE_OPS_OP_H
#define CLEAVE_OPS_OP_H

#include "base/base.h"
#include "base/tensor.h"
#include "ir/graph.h"

typedef struct op_call {
    const ir_node *node;   /* attributes, opset, fused activation (node->act) */
    cleave_ctx *ctx;       /* error buffer */
    int n_in, n_out;
    const cv_tensor **in;  /* in[k] NULL when the optional input is omitted */
    cv_tensor **out;       /* out[k] NULL when the optional output is omitted */
    void *state;           /* set by prepare, passed to run/release */
    void *scratch;         /* run: scratch_bytes of 64-byte aligned memory */
    size_t scratch_bytes;  /* prepare: set how much run needs */
    int threads;           /* thread budget for this node */
    int fast;              /* 1: fast library kernels allowed */
    /* Set by the executor only (a Conv whose sole consumer was an Add):
     * y = sum_act(op(x) + sum), sum in y's shape and layout; node->act
     * is then none. NULL otherwise. */
    const cv_tensor *sum;
    ir_act sum_act;
    /* Set by prepare: bytes of constants the state holds (weights packed
     * or reordered), and bit k when the state has its own copy of input k
     * (run does not read in[k]'s data). */
    size_t held_bytes;
    unsigned owns_in;
} op_call;

typedef cleave_status (*op_fn)(op_call *c);

enum {
    OP_F_SHAPE_ONLY = 1u << 0, /* run needs only input shapes (Shape): fold when shapes known */
    OP_F_VIEW = 1u << 1,       /* output 0 is input 0's bytes reshaped (Reshape, Flatten, ...) */
    OP_F_NOFOLD = 1u << 2      /* never constant-fold (random ops) */
};

typedef struct op_def {
    const char *name; /* ONNX op_type */
    int min_in, max_in, min_out, max_out;
    op_fn infer;
    op_fn prepare; /* may be NULL */
    op_fn run;
    void (*release)(void *state); /* may be NULL */
    unsigned flags;
} op_def;

typedef enum op_id {
#define OP(name, family) OP_##name,
#include "ops/op_list.inc"
#undef OP
    OP_COUNT
} op_id;

/* Definition of an op, NULL if the op is not compiled in. */
const op_def *op_get(int op);
/* Look up by ONNX domain and op_type; -1 when unsupported. */
int op_lookup(const char *domain, const char *op_type);
const char *op_name(int op);

/* Run one node once, outside a plan (constant folding): prepare, a
 * temporary scratch, run, release. Outputs must already have data. */
cleave_status op_run_once(const op_def *d, op_call *c);

/* Resolve node->op for every node; fails naming the first unsupported node. */
cleave_status op_bind_graph(cleave_ctx *ctx, ir_graph *g);

/* ---- helpers shared by op implementations (ops/op_util.c) ---- */

/* Fail with "node 'x' (Op): <message>". */
cleave_status op_fail(op_call *c, cleave_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Require an input present and of a numeric dtype; message names the node. */
cleave_status op_need_input(op_call *c, int k);
/* Require in[k]->data known at compile time (shape-like inputs). */
cleave_status op_need_const(op_call *c, int k, const char *what);
/* Set out[k] dtype/shape. */
void op_set_out(op_call *c, int k, cv_dtype dt, int ndim, const int64_t *dims);
/* Numpy-style broadcast of n shapes; fails on mismatch. */
cleave_status op_broadcast_shape(op_call *c, int n, const cv_tensor *const *ts, int *ndim,
                                 int64_t *dims);
/* Conv/pool window attributes over nsp spatial dims: strides and dilations
 * (>= 1) into s/d, pads into pb (begin) / pe (end) — entries not given are
 * left as the caller set them — and auto_pad as 0 NOTSET, 1 SAME_UPPER,
 * 2 SAME_LOWER, 3 VALID. Fails naming the attribute. */
cleave_status op_window_attrs(op_call *c, int nsp, int64_t *s, int64_t *d, int64_t *pb,
                              int64_t *pe, int *autopad);
/* Apply a fused activation in place to n floats. */
void op_apply_act_f32(const ir_act *act, float *x, int64_t n);
/* The integer kernels' requantization (ONNX Runtime's):
 *   y[j] = clamp(rne(float(acc[j] + bias) * s_j) + zp, lo, hi), s_j = svec[j] or s;
 * lo..hi are output codes within yt's range (op_int_bounds: the range
 * itself, from zp up for a fused ReLU, a fused Clip's codes). Clamping
 * before rounding equals clamping after (integer bounds), as in
 * MlasRequantizeOutput; acc + bias wraps mod 2^32. y uint8 / int8 by yt. */
void op_requant_s32(const int32_t *acc, int64_t n, int32_t bias, float s, const float *svec,
                    int32_t zp, int32_t lo, int32_t hi, cv_dtype yt, void *y);
/* The output codes [lo, hi] an integer op (output dtype yt, zero point zp)
 * may write under its fused activation: none -> yt's range; Relu (of the
 * real value) -> from zp; Clip -> its bounds, which on an integer op are
 * codes (ir_pass_fuse_code_clips puts them there): integers within yt's
 * range, lo <= hi. Anything else fails naming the node. */
cleave_status op_int_bounds(op_call *c, cv_dtype yt, int32_t zp, int32_t *lo, int32_t *hi);
/* Clamp n codes of dtype yt (uint8 / int8) in place to [lo, hi]. */
void op_clamp_codes(void *y, cv_dtype yt, int64_t n, int32_t lo, int32_t hi);
/* After a kernel that wrote out[0]'s codes without the node's fused Clip
 * of codes (IR_ACT_CLIP on an integer op): apply it now. Nothing for any
 * other activation. */
cleave_status op_clamp_out_codes(op_call *c);

#endif
