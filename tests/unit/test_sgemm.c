/* Unit test for ops/sgemm: the blocked SGEMM against a double-precision
 * triple loop over odd sizes (edge slivers, several depth blocks), both
 * transposes, alpha/beta, pre-packed operands, biases, activation and two
 * threads; tolerance 1e-4 relative to the sum of |a*b| terms. Prints one
 * single-thread GFLOP/s figure for 256^3 (informational, not asserted). */
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "check.h"
#include "ops/sgemm.h"

static uint32_t rng_state = 12345u;
static float frand(void) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *make(size_t n) {
    float *p = (float *)malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++)
        p[i] = frand();
    return p;
}

/* One case; returns the number of mismatching elements. */
static int run_case(int64_t M, int64_t N, int64_t K, int ta, int tb, float alpha, float beta,
                    int pre_a, int pre_b, int bias, int relu, int threads) {
    int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
    float *A = make((size_t)((ta ? K : M) * lda));
    float *B = make((size_t)((tb ? N : K) * ldb));
    float *C0 = make((size_t)(M * ldc));
    float *C1 = (float *)malloc((size_t)(M * ldc) * sizeof(float));
    float *rb = make((size_t)M), *cb = make((size_t)N);
    memcpy(C1, C0, (size_t)(M * ldc) * sizeof(float));
    ir_act act = {IR_ACT_RELU, 0, 0};
    sgemm_params p = {M,
                      N,
                      K,
                      alpha,
                      beta,
                      A,
                      lda,
                      ta,
                      B,
                      ldb,
                      tb,
                      NULL,
                      NULL,
                      C1,
                      ldc,
                      bias ? rb : NULL,
                      bias ? cb : NULL,
                      relu ? &act : NULL};
    float *pa = NULL, *pb = NULL;
    if (pre_a) {
        pa = (float *)malloc(sgemm_packed_a_floats(M, K) * sizeof(float) + 4);
        sgemm_pack_a(ta, M, K, A, lda, pa);
        p.packed_a = pa;
    }
    if (pre_b) {
        pb = (float *)malloc(sgemm_packed_b_floats(K, N) * sizeof(float) + 4);
        sgemm_pack_b(tb, K, N, B, ldb, pb);
        p.packed_b = pb;
    }
    void *scratch = cv_aligned_alloc(sgemm_scratch_bytes(M, N, K, pre_a, pre_b, threads) + 64);
    sgemm_f32(&p, scratch, threads);
    sgemm_params q = p;
    q.C = C0;
    sgemm_f32_naive(&q);
    int bad = 0;
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            /* error scale: sum of |terms| (cancellation-proof) */
            double mag = fabs(beta) + 1e-3;
            for (int64_t k = 0; k < K; k++) {
                double a = ta ? A[k * lda + i] : A[i * lda + k];
                double b = tb ? B[j * ldb + k] : B[k * ldb + j];
                mag += fabs(alpha * a * b);
            }
            double d = fabs((double)C1[i * ldc + j] - (double)C0[i * ldc + j]);
            if (d > 1e-4 * mag + 1e-6) {
                if (bad < 3)
                    fprintf(stderr, "M%lld N%lld K%lld ta%d tb%d [%lld,%lld]: %g vs %g\n",
                            (long long)M, (long long)N, (long long)K, ta, tb, (long long)i,
                            (long long)j, C1[i * ldc + j], C0[i * ldc + j]);
                bad++;
            }
        }
        /* the padding columns of C must be untouched */
        if (C1[i * ldc + N] != C0[i * ldc + N] || C1[i * ldc + N + 1] != C0[i * ldc + N + 1]) bad++;
    }
    free(A), free(B), free(C0), free(C1), free(rb), free(cb), free(pa), free(pb);
    cv_aligned_free(scratch);
    return bad;
}

static void bench_256(void) {
    const int64_t n = 256;
    float *A = make((size_t)(n * n)), *B = make((size_t)(n * n)), *C = make((size_t)(n * n));
    sgemm_params p = {n, n, n, 1.0f, 0.0f, A, n, 0, B, n, 0, NULL, NULL, C, n, NULL, NULL, NULL};
    void *scratch = cv_aligned_alloc(sgemm_scratch_bytes(n, n, n, 0, 0, 1));
    sgemm_f32(&p, scratch, 1); /* warm up */
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        double t0 = cv_now_ms();
        for (int i = 0; i < 4; i++)
            sgemm_f32(&p, scratch, 1);
        double dt = (cv_now_ms() - t0) / 4;
        if (dt < best) best = dt;
    }
    printf("sgemm 256x256x256, 1 thread: %.3f ms, %.1f GFLOP/s\n", best,
           2.0 * n * n * n / (best * 1e-3) * 1e-9);
    free(A), free(B), free(C);
    cv_aligned_free(scratch);
}

int main(void) {
    static const int64_t sizes[] = {1, 7, 33, 65, 127};
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 5; b++)
            for (int c = 0; c < 5; c++)
                for (int t = 0; t < 4; t++)
                    CHECK(run_case(sizes[a], sizes[b], sizes[c], t & 1, t >> 1, 1.0f, 0.0f, 0, 0, 0,
                                   0, 1) == 0);
    /* several depth blocks (K > KC), row blocks (M > MC) and column edges */
    CHECK(run_case(300, 70, 600, 0, 0, 1.0f, 0.0f, 0, 0, 0, 0, 1) == 0);
    CHECK(run_case(300, 70, 600, 1, 1, 0.5f, 2.0f, 0, 0, 1, 1, 2) == 0);
    CHECK(run_case(150, 517, 257, 0, 1, -1.5f, 0.25f, 1, 0, 1, 0, 2) == 0);
    CHECK(run_case(150, 517, 257, 1, 0, 1.0f, 1.0f, 0, 1, 0, 1, 2) == 0);
    CHECK(run_case(33, 4100, 40, 0, 0, 1.0f, 0.0f, 1, 1, 1, 1, 2) == 0);
    CHECK(run_case(65, 65, 513, 1, 1, 1.0f, 0.0f, 1, 1, 0, 0, 1) == 0);
    CHECK(run_case(1, 1000, 2048, 0, 1, 1.0f, 1.0f, 0, 1, 1, 0, 2) == 0);
    /* K == 0: only beta*C and biases */
    CHECK(run_case(5, 9, 0, 0, 0, 1.0f, 0.5f, 0, 0, 1, 0, 1) == 0);
    for (int t = 0; t < 8; t++)
        CHECK(run_case(7 + t, 33 - t, 65 + 3 * t, t & 1, (t >> 1) & 1, 1.0f, 0.0f, t & 2, t & 4,
                       t & 1, t & 2, 1 + (t & 1)) == 0);
    bench_256();
    return check_summary("test_sgemm");
}
