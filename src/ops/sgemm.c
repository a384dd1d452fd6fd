/* sgemm: portable blocked SGEMM (see sgemm.h). Loop order jc (NC columns)
 * -> pc (KC depth) -> ic (MC rows) -> jr/ir micro-tiles; B's KC x NC panel
 * and A's MC x KC block are packed into slivers so the MR x NR micro-kernel
 * streams both from cache with unit stride. With OpenMP, C is split into
 * independent chunks, each thread packing into its own scratch. */
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "ops/op.h"
#include "ops/sgemm.h"

/* Register tile: MR x NR accumulators. 4 x 8 floats = 8 SSE registers (16 on
 * x86-64, 32 on aarch64), leaving room for the B row and the A broadcasts;
 * measured fastest of 4x8/6x8/8x8/4x16 with gcc -O3 on the SSE2 baseline. */
#define SGEMM_MR 4
#define SGEMM_NR 8
/* Cache blocks: a KC x NR B sliver (8 KB) stays in L1 while the MC x KC A
 * block (144 KB) sits in L2; the KC x NC B panel (at most 4 MB) in L3. */
#define SGEMM_KC 256
#define SGEMM_MC 144
#define SGEMM_NC 4096

/* Below this many multiply-adds threads cost more than they save. */
#define SGEMM_PAR_MIN_MACS ((int64_t)1 << 18)

static int64_t sgemm_round_up(int64_t x, int64_t m) {
    return (x + m - 1) / m * m;
}
static int64_t sgemm_min(int64_t a, int64_t b) {
    return a < b ? a : b;
}

/* One MR-row sliver of op(A): rows r0..r0+rows, depth k0..k0+kc, laid out
 * dst[k*MR + i]; rows past the edge are zero. */
static void sgemm_pack_a_sliver(int trans_a, const float *A, int64_t lda, int64_t r0, int64_t rows,
                                int64_t k0, int64_t kc, float *restrict dst) {
    if (rows < SGEMM_MR) memset(dst, 0, sizeof(float) * (size_t)(kc * SGEMM_MR));
    if (trans_a) {
        for (int64_t k = 0; k < kc; k++) {
            const float *src = A + (k0 + k) * lda + r0;
            for (int64_t i = 0; i < rows; i++)
                dst[k * SGEMM_MR + i] = src[i];
        }
    } else {
        for (int64_t i = 0; i < rows; i++) {
            const float *src = A + (r0 + i) * lda + k0;
            for (int64_t k = 0; k < kc; k++)
                dst[k * SGEMM_MR + i] = src[k];
        }
    }
}

/* One NR-column sliver of op(B): columns c0..c0+cols, depth k0..k0+kc, laid
 * out dst[k*NR + j]; columns past the edge are zero. */
static void sgemm_pack_b_sliver(int trans_b, const float *B, int64_t ldb, int64_t c0, int64_t cols,
                                int64_t k0, int64_t kc, float *restrict dst) {
    if (cols < SGEMM_NR) memset(dst, 0, sizeof(float) * (size_t)(kc * SGEMM_NR));
    if (trans_b) {
        for (int64_t j = 0; j < cols; j++) {
            const float *src = B + (c0 + j) * ldb + k0;
            for (int64_t k = 0; k < kc; k++)
                dst[k * SGEMM_NR + j] = src[k];
        }
    } else if (cols == SGEMM_NR) {
        for (int64_t k = 0; k < kc; k++) {
            const float *restrict src = B + (k0 + k) * ldb + c0;
            for (int64_t j = 0; j < SGEMM_NR; j++)
                dst[k * SGEMM_NR + j] = src[j];
        }
    } else {
        for (int64_t k = 0; k < kc; k++) {
            const float *src = B + (k0 + k) * ldb + c0;
            for (int64_t j = 0; j < cols; j++)
                dst[k * SGEMM_NR + j] = src[j];
        }
    }
}

/* Packed layout of a whole operand: depth blocks of KC one after another;
 * inside the block starting at depth pc (kc deep), the sliver holding rows
 * (columns) from r starts at pc * Mp + r * kc, Mp = M rounded up to MR. */
size_t sgemm_packed_a_floats(int64_t M, int64_t K) {
    return (size_t)(sgemm_round_up(M, SGEMM_MR) * K);
}

size_t sgemm_packed_b_floats(int64_t K, int64_t N) {
    return (size_t)(sgemm_round_up(N, SGEMM_NR) * K);
}

void sgemm_pack_a(int trans_a, int64_t M, int64_t K, const float *A, int64_t lda, float *dst) {
    int64_t Mp = sgemm_round_up(M, SGEMM_MR);
    for (int64_t pc = 0; pc < K; pc += SGEMM_KC) {
        int64_t kc = sgemm_min(SGEMM_KC, K - pc);
        for (int64_t r = 0; r < M; r += SGEMM_MR)
            sgemm_pack_a_sliver(trans_a, A, lda, r, sgemm_min(SGEMM_MR, M - r), pc, kc,
                                dst + pc * Mp + r * kc);
    }
}

void sgemm_pack_b(int trans_b, int64_t K, int64_t N, const float *B, int64_t ldb, float *dst) {
    int64_t Np = sgemm_round_up(N, SGEMM_NR);
    for (int64_t pc = 0; pc < K; pc += SGEMM_KC) {
        int64_t kc = sgemm_min(SGEMM_KC, K - pc);
        for (int64_t c = 0; c < N; c += SGEMM_NR)
            sgemm_pack_b_sliver(trans_b, B, ldb, c, sgemm_min(SGEMM_NR, N - c), pc, kc,
                                dst + pc * Np + c * kc);
    }
}

/* Per-thread scratch in floats: an A block and a B panel, each sized for
 * the whole product so any sub-block a thread gets fits. */
static size_t sgemm_thread_floats(int64_t M, int64_t N, int64_t K, int packed_a, int packed_b) {
    int64_t kc = sgemm_min(SGEMM_KC, K);
    int64_t a = packed_a ? 0 : sgemm_min(sgemm_round_up(M, SGEMM_MR), SGEMM_MC) * kc;
    int64_t b = packed_b ? 0 : sgemm_min(sgemm_round_up(N, SGEMM_NR), SGEMM_NC) * kc;
    return (size_t)(sgemm_round_up(a, 16) + sgemm_round_up(b, 16)); /* 64-byte aligned parts */
}

size_t sgemm_scratch_bytes(int64_t M, int64_t N, int64_t K, int packed_a, int packed_b,
                           int threads) {
    if (threads < 1) threads = 1;
    return (size_t)threads * sgemm_thread_floats(M, N, K, packed_a, packed_b) * sizeof(float);
}

/* How a micro-tile's result is merged into C. */
typedef struct sgemm_ep {
    float alpha, beta;
    int load_c;           /* 0: C = alpha*AB; 1: C = beta*C + alpha*AB */
    int last;             /* last depth block: add biases, apply the activation */
    const float *rb, *cb; /* biases, NULL when absent */
    const ir_act *act;    /* NULL when none */
} sgemm_ep;

/* The micro-kernel: acc = a-sliver^T * b-sliver over kc, then merge the
 * mr x nr corner into C at (i0, j0). The accumulator loops have constant
 * trip counts so gcc unrolls them and keeps acc in vector registers. */
static void sgemm_tile(int64_t kc, const float *restrict a, const float *restrict b,
                       float *restrict c, int64_t ldc, int64_t mr, int64_t nr, const sgemm_ep *ep,
                       int64_t i0, int64_t j0) {
    float acc[SGEMM_MR * SGEMM_NR];
    for (int i = 0; i < SGEMM_MR * SGEMM_NR; i++)
        acc[i] = 0.0f;
    for (int64_t k = 0; k < kc; k++) {
        for (int i = 0; i < SGEMM_MR; i++) {
            const float ai = a[i];
            for (int j = 0; j < SGEMM_NR; j++)
                acc[i * SGEMM_NR + j] += ai * b[j];
        }
        a += SGEMM_MR;
        b += SGEMM_NR;
    }
    const float alpha = ep->alpha, beta = ep->beta;
    for (int64_t i = 0; i < mr; i++) {
        float *restrict cr = c + i * ldc;
        const float *ar = acc + i * SGEMM_NR;
        const float rb = ep->last && ep->rb ? ep->rb[i0 + i] : 0.0f;
        if (!ep->load_c)
            for (int64_t j = 0; j < nr; j++)
                cr[j] = alpha * ar[j] + rb;
        else if (beta == 1.0f)
            for (int64_t j = 0; j < nr; j++)
                cr[j] += alpha * ar[j] + rb;
        else
            for (int64_t j = 0; j < nr; j++)
                cr[j] = beta * cr[j] + alpha * ar[j] + rb;
        if (ep->last && ep->cb)
            for (int64_t j = 0; j < nr; j++)
                cr[j] += ep->cb[j0 + j];
        if (ep->last && ep->act) op_apply_act_f32(ep->act, cr, nr);
    }
}

/* K == 0: the product is empty, C = beta*C + biases. */
static void sgemm_no_depth(const sgemm_params *p, const ir_act *act) {
    for (int64_t i = 0; i < p->M; i++) {
        float *cr = p->C + i * p->ldc;
        float rb = p->row_bias ? p->row_bias[i] : 0.0f;
        for (int64_t j = 0; j < p->N; j++) {
            float v = (p->beta != 0.0f ? p->beta * cr[j] : 0.0f) + rb;
            cr[j] = v + (p->col_bias ? p->col_bias[j] : 0.0f);
        }
        if (act) op_apply_act_f32(act, cr, p->N);
    }
}

/* The blocked loop nest over the sub-block rows [i0, i1) x columns [j0, j1)
 * of C (i0, j0 multiples of MR, NR); buf holds sgemm_thread_floats. */
static void sgemm_block(const sgemm_params *p, const ir_act *act, int64_t i0, int64_t i1,
                        int64_t j0, int64_t j1, float *buf) {
    const int64_t M = p->M, N = p->N, K = p->K;
    const int64_t Mp = sgemm_round_up(M, SGEMM_MR), Np = sgemm_round_up(N, SGEMM_NR);
    float *buf_a = buf, *buf_b = buf;
    if (!p->packed_a) buf_b += sgemm_round_up(sgemm_min(Mp, SGEMM_MC) * sgemm_min(SGEMM_KC, K), 16);
    for (int64_t jc = j0; jc < j1; jc += SGEMM_NC) {
        const int64_t nc = sgemm_min(SGEMM_NC, j1 - jc);
        for (int64_t pc = 0; pc < K; pc += SGEMM_KC) {
            const int64_t kc = sgemm_min(SGEMM_KC, K - pc);
            const float *pb = buf_b;
            if (p->packed_b) {
                pb = p->packed_b + pc * Np + jc * kc;
            } else {
                for (int64_t s = 0; s < nc; s += SGEMM_NR)
                    sgemm_pack_b_sliver(p->trans_b, p->B, p->ldb, jc + s,
                                        sgemm_min(SGEMM_NR, N - jc - s), pc, kc, buf_b + s * kc);
            }
            sgemm_ep ep = {p->alpha,
                           pc > 0 ? 1.0f : p->beta,
                           pc > 0 || p->beta != 0.0f,
                           pc + kc >= K,
                           p->row_bias,
                           p->col_bias,
                           act};
            for (int64_t ic = i0; ic < i1; ic += SGEMM_MC) {
                const int64_t mc = sgemm_min(SGEMM_MC, i1 - ic);
                const float *pa = buf_a;
                if (p->packed_a) {
                    pa = p->packed_a + pc * Mp + ic * kc;
                } else {
                    for (int64_t s = 0; s < mc; s += SGEMM_MR)
                        sgemm_pack_a_sliver(p->trans_a, p->A, p->lda, ic + s,
                                            sgemm_min(SGEMM_MR, M - ic - s), pc, kc,
                                            buf_a + s * kc);
                }
                /* B sliver (L1) reused across the A block (L2). */
                for (int64_t js = 0; js < nc; js += SGEMM_NR) {
                    for (int64_t is = 0; is < mc; is += SGEMM_MR) {
                        const int64_t r = ic + is, c = jc + js;
                        sgemm_tile(kc, pa + is * kc, pb + js * kc, p->C + r * p->ldc + c, p->ldc,
                                   sgemm_min(SGEMM_MR, M - r), sgemm_min(SGEMM_NR, N - c), &ep, r,
                                   c);
                    }
                }
            }
        }
    }
}

void sgemm_f32(const sgemm_params *p, void *scratch, int threads) {
    const int64_t M = p->M, N = p->N, K = p->K;
    if (M <= 0 || N <= 0) return;
    const ir_act *act = p->act && p->act->kind != IR_ACT_NONE ? p->act : NULL;
    if (K <= 0) {
        sgemm_no_depth(p, act);
        return;
    }
    if (threads <= 1 || M * N * K < SGEMM_PAR_MIN_MACS) {
        sgemm_block(p, act, 0, M, 0, N, (float *)scratch);
        return;
    }
    /* Split C into independent chunks along its longer side; each thread
     * packs what its chunks need into its own scratch, so the only
     * synchronisation is the final join (robust when cores are shared).
     * Dynamic scheduling of ~4 chunks per thread evens out the load. */
    const size_t per = sgemm_thread_floats(M, N, K, p->packed_a != NULL, p->packed_b != NULL);
    const int split_n = N >= M;
    const int64_t unit = split_n ? SGEMM_NR : SGEMM_MR;
    const int64_t len = split_n ? N : M;
    int64_t units = (len + unit - 1) / unit;
    int64_t chunks = sgemm_min(units, 4 * (int64_t)threads);
    int64_t per_chunk = (units + chunks - 1) / chunks;
    chunks = (units + per_chunk - 1) / per_chunk;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int64_t ch = 0; ch < chunks; ch++) {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        float *buf = (float *)scratch + (size_t)tid * per;
        int64_t b = ch * per_chunk * unit, e = sgemm_min(len, b + per_chunk * unit);
        if (split_n)
            sgemm_block(p, act, 0, M, b, e, buf);
        else
            sgemm_block(p, act, b, e, 0, N, buf);
    }
}

void sgemm_f32_naive(const sgemm_params *p) {
    for (int64_t i = 0; i < p->M; i++) {
        float *cr = p->C + i * p->ldc;
        for (int64_t j = 0; j < p->N; j++) {
            double s = 0;
            for (int64_t k = 0; k < p->K; k++) {
                double a = p->trans_a ? p->A[k * p->lda + i] : p->A[i * p->lda + k];
                double b = p->trans_b ? p->B[j * p->ldb + k] : p->B[k * p->ldb + j];
                s += a * b;
            }
            double v = p->alpha * s + (p->beta != 0.0f ? (double)p->beta * cr[j] : 0.0);
            if (p->row_bias) v += p->row_bias[i];
            if (p->col_bias) v += p->col_bias[j];
            cr[j] = (float)v;
        }
        if (p->act && p->act->kind != IR_ACT_NONE) op_apply_act_f32(p->act, cr, p->N);
    }
}
