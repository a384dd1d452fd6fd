/* ir passes: graph rewrites that keep outputs numerically equal (up to
 * float rounding). Each returns how many rewrites it made through *count
 * (may be NULL). Constant folding needs the op kernels and lives in
 * runtime/optimize.c. */
#ifndef CLEAVE_IR_PASSES_H
#define CLEAVE_IR_PASSES_H

#include "ir/graph.h"

/* Identity and inference-mode Dropout: consumers read the input directly. */
cleave_status ir_pass_remove_identity(cleave_ctx *ctx, ir_graph *g, int *count);
/* Conv/ConvTranspose/Gemm followed by BatchNormalization (all constant):
 * scale the weights and bias, drop the BN. */
cleave_status ir_pass_fold_batchnorm(cleave_ctx *ctx, ir_graph *g, int *count);
/* Conv/ConvTranspose/Gemm/MatMul (and f32 Add/Sub/Mul, e.g. a residual
 * add) followed by Relu, Clip (constant bounds),
 * LeakyRelu, Sigmoid, HardSigmoid, HardSwish or Tanh: fuse into node->act. */
cleave_status ir_pass_fuse_activations(cleave_ctx *ctx, ir_graph *g, int *count);
/* Nodes whose outputs nobody reads (and are not graph outputs). */
cleave_status ir_pass_remove_dead(cleave_ctx *ctx, ir_graph *g, int *count);

/* QDQ -> integer kernels, the way ONNX Runtime runs QDQ models:
 *   DQ(x) -> Conv(DQ(w), b)[+Relu] -> Q      => QLinearConv (bias as int32)
 *   DQ(a) + DQ(b) [+Relu] -> Q               => com.microsoft QLinearAdd
 *   DQ(x) -> MaxPool -> Q with x's own params => MaxPool on the integers
 * Only per-tensor activation parameters, constant weights with zero point
 * 0 (int8) and 8-bit activations (no Clip in between) match; everything
 * else stays in float. Run after activation fusion, before constants are
 * folded (folding would turn DQ(w) into a float weight). */
cleave_status ir_pass_lower_qdq(cleave_ctx *ctx, ir_graph *g, int *count);

/* Before ir_pass_lower_qdq: an activation of fewer than 8 bits, written as
 * op -> Clip(lo, hi) -> QuantizeLinear (the Clip possibly fused into op),
 * becomes op -> QuantizeLinear -> Clip(Q(lo), Q(hi)) on the uint8 codes,
 * which is exactly the same (quantizing is monotonic) and leaves op ->
 * QuantizeLinear for the lowering (passes_qdq_clip.c). */
cleave_status ir_pass_qdq_clip_codes(cleave_ctx *ctx, ir_graph *g, int *count);

/* After ir_pass_lower_qdq: a Clip of uint8 / int8 codes (constant scalar
 * bounds) whose input only it reads, produced by QLinearConv,
 * QLinearMatMul, QLinearAdd, QuantizeLinear or MaxPool, becomes that op's fused
 * activation (IR_ACT_CLIP with code bounds; a fused ReLU folds in as the
 * bound zp): the op clamps while it writes, and the engine no longer holds
 * a second copy of the tensor (passes_qdq_clip.c). CLEAVE_FUSE_CODE_CLIPS=0
 * turns it off (A/B runs). */
cleave_status ir_pass_fuse_code_clips(cleave_ctx *ctx, ir_graph *g, int *count);

#endif
