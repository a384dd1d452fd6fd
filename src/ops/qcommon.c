/* ops/qcommon: the integer products' shared pieces (ops/qcommon.h). */
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "base/pack.h"
#include "ops/qcommon.h"

/* Element i of a scale (float32) or zero point (uint8 / int8) tensor of 1
 * or more values; absent zero points are 0. */
float qc_scale(const cv_tensor *t, int64_t i) {
    return ((const float *)t->data)[cv_numel(t) == 1 ? 0 : i];
}
int32_t qc_zp(const cv_tensor *t, int64_t i) {
    if (!t) return 0;
    if (cv_numel(t) == 1) i = 0;
    return t->dtype == CV_U8 ? ((const uint8_t *)t->data)[i] : ((const int8_t *)t->data)[i];
}

/* Input k (skipped when k < 0, or absent and optional): dtype `want` (0:
 * uint8 or int8) with 1, n1 or n2 values (n1, n2 <= 1: only 1). */
cleave_status qc_param(op_call *c, int k, cv_dtype want, int64_t n1, int64_t n2, int optional,
                       const char *what) {
    if (k < 0) return CLEAVE_OK;
    if (k >= c->n_in || !c->in[k]) {
        if (optional) return CLEAVE_OK;
        return op_fail(c, CLEAVE_E_INVALID, "input %s is missing", what);
    }
    const cv_tensor *t = c->in[k];
    if (want ? t->dtype != want : t->dtype != CV_U8 && t->dtype != CV_I8)
        return op_fail(c, CLEAVE_E_UNSUPPORTED, "%s has dtype %s, expected %s", what,
                       cv_dtype_name(t->dtype), want ? cv_dtype_name(want) : "uint8 or int8");
    int64_t v = cv_numel(t);
    if (v != 1 && (n1 <= 1 || v != n1) && (n2 <= 1 || v != n2))
        return op_fail(c, CLEAVE_E_UNSUPPORTED, "%s has %lld values, expected 1%s", what,
                       (long long)v, n1 > 1 ? " or one per channel / row / column" : "");
    return CLEAVE_OK;
}

/* Input k is present with a quantized (uint8 / int8) dtype. */
cleave_status qc_need_q8(op_call *c, int k, const char *what) {
    CV_TRY(op_need_input(c, k));
    const cv_tensor *t = c->in[k];
    if (t->dtype != CV_U8 && t->dtype != CV_I8)
        return op_fail(c, CLEAVE_E_UNSUPPORTED, "%s has dtype %s, expected uint8 or int8", what,
                       cv_dtype_name(t->dtype));
    return CLEAVE_OK;
}

/* 1 when input k is absent or a known tensor of all zeros. */
int qc_zero_or_absent(const op_call *c, int k) {
    if (k < 0 || k >= c->n_in || !c->in[k]) return 1;
    const cv_tensor *t = c->in[k];
    if (!t->data) return 0;
    for (int64_t i = 0; i < cv_numel(t); i++)
        if (qc_zp(t, i) != 0) return 0;
    return 1;
}

/* 1 when input k is absent or known at prepare. */
int qc_known(const op_call *c, int k) {
    return k < 0 || k >= c->n_in || !c->in[k] || c->in[k]->data;
}

/* dst[i] = src[i] - zp as int16, src uint8 / int8 (|result| <= 255). */
void qc_shift(const void *src, cv_dtype t, int32_t zp, int16_t *dst, int64_t n) {
    if (t == CV_U8)
        for (int64_t i = 0; i < n; i++) dst[i] = (int16_t)(((const uint8_t *)src)[i] - zp);
    else
        for (int64_t i = 0; i < n; i++) dst[i] = (int16_t)(((const int8_t *)src)[i] - zp);
}

/* C (M x N, row stride ldc) = A (M x K, row-major) * B (K x N, row stride
 * ldb), int16 operands of at most 9 bits (products fit int32), int32 sums
 * wrapping mod 2^32. Parallel over (row, 512-column tile) tasks so that
 * M = 1 (depthwise) still splits; a tile of B stays in L2 across rows.
 * With Apk, A is NULL and each task widens its row of the packed operand
 * into rowbuf (K int16 per thread: `threads` rows). */
#define QC_NT 512
void qc_gemm_s16_ref(int64_t M, int64_t N, int64_t K, const int16_t *A, const int16_t *B,
                     int64_t ldb, int32_t *C, int64_t ldc, int threads, const qc_packed *Apk,
                     int16_t *rowbuf) {
    const int64_t nt = (N + QC_NT - 1) / QC_NT, tasks = M * nt;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && M * N * K > (1 << 18))
    for (int64_t t = 0; t < tasks; t++) {
        const int64_t m = t / nt, n0 = t % nt * QC_NT, nn = N - n0 < QC_NT ? N - n0 : QC_NT;
        uint32_t *restrict cr = (uint32_t *)(C + m * ldc + n0); /* unsigned: defined wrap */
        for (int64_t j = 0; j < nn; j++) cr[j] = 0;
        const int16_t *ar = A ? A + m * K : NULL;
        if (Apk) {
            int tid = 0;
#ifdef _OPENMP
            tid = omp_get_thread_num();
#endif
            int16_t *rb = rowbuf + (size_t)tid * (size_t)K;
            q_unpack_s16(Apk->pk + (size_t)m * Apk->row, (size_t)K, Apk->bits, rb);
            ar = rb;
        }
        for (int64_t k = 0; k < K; k++) {
            const int32_t av = ar[k];
            if (!av) continue;
            const int16_t *restrict br = B + k * ldb + n0;
            for (int64_t j = 0; j < nn; j++) cr[j] += (uint32_t)(av * br[j]);
        }
    }
}

size_t qc_align(size_t n) {
    return (n + 63) & ~(size_t)63;
}

cleave_status qc_check_act(op_call *c, const cv_tensor *y_zp) {
    const int k = c->node->act.kind;
    if (k == IR_ACT_NONE || (y_zp && k == IR_ACT_RELU)) return CLEAVE_OK;
    if (y_zp && k == IR_ACT_CLIP) { /* integer bounds within the output type */
        int32_t lo, hi;
        return op_int_bounds(c, y_zp->dtype, 0, &lo, &hi);
    }
    return op_fail(c, CLEAVE_E_UNSUPPORTED, "fused activation is not supported on this op");
}

/* Free a half-built state and fail with out-of-memory (prepare's error
 * paths leave no state behind, as conv.c's do). */
cleave_status qc_nomem(op_call *c, void (*release)(void *), const char *what) {
    release(c->state);
    c->state = NULL;
    return op_fail(c, CLEAVE_E_NOMEM, "out of memory %s", what);
}

const cv_tensor *qc_in(const op_call *c, int k) {
    return k >= 0 && k < c->n_in ? c->in[k] : NULL;
}

