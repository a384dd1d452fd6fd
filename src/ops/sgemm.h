/* sgemm: the portable single-precision matrix multiply every reference conv,
 * Gemm and MatMul kernel runs on. Goto/BLIS-style blocking (Goto & van de
 * Geijn, "Anatomy of High-Performance Matrix Multiplication", TOMS 2008):
 * A and B are packed into MR-row / NR-column slivers, a register-tiled
 * micro-kernel written in plain C (gcc -O3 vectorises it) sweeps them. */
#ifndef CLEAVE_OPS_SGEMM_H
#define CLEAVE_OPS_SGEMM_H

#include <stddef.h>
#include <stdint.h>

#include "ir/graph.h"

/* C = alpha * op(A) * op(B) + beta * C (+ row_bias[i] + col_bias[j]), then
 * the activation. All matrices row-major floats: op(A) is M x K (A is K x M
 * when trans_a), op(B) is K x N (B is N x K when trans_b), C is M x N with
 * leading dimension ldc. beta == 0 never reads C (it may hold garbage). */
typedef struct sgemm_params {
    int64_t M, N, K;
    float alpha, beta;
    const float *A;
    int64_t lda;
    int trans_a;
    const float *B;
    int64_t ldb;
    int trans_b;
    const float *packed_a; /* from sgemm_pack_a for this A (then A unused), or NULL */
    const float *packed_b; /* from sgemm_pack_b for this B (then B unused), or NULL */
    float *C;
    int64_t ldc;
    const float *row_bias; /* optional, M floats */
    const float *col_bias; /* optional, N floats */
    const ir_act *act;     /* optional fused activation applied to the result */
} sgemm_params;

/* Floats needed to hold op(A) (M x K) / op(B) (K x N) packed. */
size_t sgemm_packed_a_floats(int64_t M, int64_t K);
size_t sgemm_packed_b_floats(int64_t K, int64_t N);
/* Pack a whole operand once (weights at prepare time); dst must hold the
 * number of floats above. */
void sgemm_pack_a(int trans_a, int64_t M, int64_t K, const float *A, int64_t lda, float *dst);
void sgemm_pack_b(int trans_b, int64_t K, int64_t N, const float *B, int64_t ldb, float *dst);

/* Scratch bytes sgemm_f32 needs for these sizes and at most `threads`
 * threads (0 when both operands are pre-packed). */
size_t sgemm_scratch_bytes(int64_t M, int64_t N, int64_t K, int packed_a, int packed_b,
                           int threads);

/* Run the product; scratch: sgemm_scratch_bytes (same threads) of 64-byte
 * aligned memory. threads > 1 splits C into chunks with OpenMP when the
 * product is large enough to pay for it. */
void sgemm_f32(const sgemm_params *p, void *scratch, int threads);

/* Plain triple loop with the same contract (tests, tiny products). */
void sgemm_f32_naive(const sgemm_params *p);

#endif
