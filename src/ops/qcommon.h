/* ops/qcommon: what the integer products share (qconv.c: QLinearConv,
 * ConvInteger; qmatmul.c: QLinearMatMul, MatMulInteger): parameter checks,
 * operands shifted by their zero points as int16, and the reference int32
 * GEMM. The requantization is op_requant_s32 (ops/op.h). */
#ifndef CLEAVE_OPS_QCOMMON_H
#define CLEAVE_OPS_QCOMMON_H

#include "ops/op.h"

/* Element i of a scale (float32) or zero point (uint8 / int8) tensor of 1
 * or more values; absent zero points (t NULL) are 0. */
float qc_scale(const cv_tensor *t, int64_t i);
int32_t qc_zp(const cv_tensor *t, int64_t i);
/* Input k (skipped when k < 0, or absent and optional): dtype `want` (0:
 * uint8 or int8) with 1, n1 or n2 values (n1, n2 <= 1: only 1). */
cleave_status qc_param(op_call *c, int k, cv_dtype want, int64_t n1, int64_t n2, int optional,
                       const char *what);
/* Input k is present with a quantized (uint8 / int8) dtype. */
cleave_status qc_need_q8(op_call *c, int k, const char *what);
/* 1 when input k is absent or a known tensor of all zeros. */
int qc_zero_or_absent(const op_call *c, int k);
/* 1 when input k is absent or known at prepare. */
int qc_known(const op_call *c, int k);
/* Input k, or NULL when the op has no such input or it is omitted. */
const cv_tensor *qc_in(const op_call *c, int k);
/* dst[i] = src[i] - zp as int16, src uint8 / int8 (|result| <= 255). */
void qc_shift(const void *src, cv_dtype t, int32_t zp, int16_t *dst, int64_t n);

/* Weights held packed: row m of an M x K operand is `bits`-bit two's
 * complement at pk + m * row (row = q_packed_bytes(K, bits)). */
typedef struct qc_packed {
    const uint8_t *pk;
    int bits;
    size_t row;
} qc_packed;

/* C (M x N, row stride ldc) = A (M x K, row-major) * B (K x N, row stride
 * ldb), int16 operands of at most 9 bits (products fit int32), int32 sums
 * wrapping mod 2^32, parallel over (row, 512-column tile) tasks. With Apk,
 * A is NULL and each task widens its row of the packed operand into rowbuf
 * (K int16 per thread: `threads` rows). */
void qc_gemm_s16_ref(int64_t M, int64_t N, int64_t K, const int16_t *A, const int16_t *B,
                     int64_t ldb, int32_t *C, int64_t ldc, int threads, const qc_packed *Apk,
                     int16_t *rowbuf);

/* n rounded up to 64 bytes (scratch layout). */
size_t qc_align(size_t n);
/* The fused activation an integer op can apply: none; with a requantized
 * output (y_zp its zero point; NULL for a raw int32 output) also ReLU and
 * a Clip of the codes, whose bounds op_int_bounds checks here (infer). */
cleave_status qc_check_act(op_call *c, const cv_tensor *y_zp);
/* Free a half-built state and fail with out-of-memory (prepare's error
 * paths leave no state behind, as conv.c's do). */
cleave_status qc_nomem(op_call *c, void (*release)(void *), const char *what);

#endif
