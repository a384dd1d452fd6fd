/* Unit test for ops/sgemm and the Gemm/MatMul ops on it: the blocked SGEMM
 * against a double-precision triple loop over odd sizes (edge slivers,
 * several depth blocks), both transposes, alpha/beta, pre-packed operands,
 * biases, activation and two threads; tolerance 1e-4 relative to the sum of
 * |a*b| terms. Gemm C broadcasting and MatMul batching / 1-D operands via
 * hand-built op_calls. Prints one single-thread GFLOP/s figure for 256^3
 * (informational, not asserted). */
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "check.h"
#include "ops/op.h"
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

/* ---- Gemm / MatMul through op_calls ---- */

static cleave_ctx *g_ctx;

typedef struct tnode {
    ir_node n;
    ir_attr a[6];
} tnode;

static void tn_init(tnode *t, const char *op, int id) {
    memset(t, 0, sizeof *t);
    t->n.name = "t", t->n.op_type = op, t->n.domain = "", t->n.opset = 17, t->n.op = id;
    t->n.attrs = t->a;
}
static void tn_int(tnode *t, const char *name, int64_t v) {
    ir_attr *a = &t->a[t->n.n_attrs++];
    a->name = name, a->kind = IR_ATTR_INT, a->i = v;
}
static void tn_float(tnode *t, const char *name, float v) {
    ir_attr *a = &t->a[t->n.n_attrs++];
    a->name = name, a->kind = IR_ATTR_FLOAT, a->f = v;
}

static cv_tensor tt(cv_dtype dt, int ndim, const int64_t *dims, void *data) {
    cv_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dt, t.ndim = ndim, t.data = data;
    for (int i = 0; i < ndim; i++)
        t.dims[i] = dims[i];
    return t;
}

/* infer + prepare + run; inputs outside const_mask are shape-only until run. */
static cleave_status call_op(tnode *t, int n_in, cv_tensor *in, cv_tensor *out, int threads,
                             unsigned const_mask) {
    const op_def *d = op_get(t->n.op);
    const cv_tensor *inp[3];
    cv_tensor *outp[1] = {out}, shape_in[3];
    for (int k = 0; k < n_in; k++) {
        shape_in[k] = in[k];
        if (!(const_mask >> k & 1)) shape_in[k].data = NULL;
        inp[k] = &shape_in[k];
    }
    op_call c = {.node = &t->n, .ctx = g_ctx, .n_in = n_in, .n_out = 1, .in = inp, .out = outp, .threads = threads, .fast = 0};
    cleave_ctx_clear_error(g_ctx);
    cleave_status st = d->infer(&c);
    if (st) return st;
    if (d->prepare && (st = d->prepare(&c))) return st;
    for (int k = 0; k < n_in; k++)
        shape_in[k].data = in[k].data;
    out->data = calloc((size_t)cv_numel(out) + 1, 8);
    if (c.scratch_bytes) c.scratch = cv_aligned_alloc(c.scratch_bytes);
    st = d->run(&c);
    cv_aligned_free(c.scratch);
    if (d->release) d->release(c.state);
    return st;
}

/* MatMul of a (ra dims) by b (rb dims) against a broadcasting loop. */
static void check_matmul(int ra, const int64_t *ad, int rb, const int64_t *bd, int ro,
                         const int64_t *od, int threads, unsigned mask, int relu) {
    float *a = make((size_t)cv_shape_numel(ra, ad)), *b = make((size_t)cv_shape_numel(rb, bd));
    tnode t;
    tn_init(&t, "MatMul", OP_MatMul);
    if (relu) t.n.act.kind = IR_ACT_RELU;
    cv_tensor in[2] = {tt(CV_F32, ra, ad, a), tt(CV_F32, rb, bd, b)}, out = {0};
    CHECK(call_op(&t, 2, in, &out, threads, mask) == CLEAVE_OK);
    CHECK(out.ndim == ro);
    CHECK(cv_shape_numel(ro, od) == cv_numel(&out));
    for (int i = 0; i < ro; i++)
        CHECK(out.dims[i] == od[i]);
    /* reference: promote to rank 4 with 1-D rules */
    int64_t A[4] = {1, 1, 1, 1}, B[4] = {1, 1, 1, 1};
    if (ra == 1)
        A[3] = ad[0];
    else
        for (int i = 0; i < ra; i++)
            A[4 - ra + i] = ad[i];
    if (rb == 1)
        B[2] = bd[0];
    else
        for (int i = 0; i < rb; i++)
            B[4 - rb + i] = bd[i];
    int64_t O0 = A[0] > B[0] ? A[0] : B[0], O1 = A[1] > B[1] ? A[1] : B[1];
    int64_t M = A[2], K = A[3], N = B[3];
    const float *y = (const float *)out.data;
    int bad = 0;
    for (int64_t p = 0; p < O0; p++)
        for (int64_t q = 0; q < O1; q++)
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++) {
                    double s = 0;
                    int64_t ao = ((A[0] > 1 ? p : 0) * A[1] + (A[1] > 1 ? q : 0)) * M * K;
                    int64_t bo = ((B[0] > 1 ? p : 0) * B[1] + (B[1] > 1 ? q : 0)) * K * N;
                    for (int64_t k = 0; k < K; k++)
                        s += (double)a[ao + i * K + k] * b[bo + k * N + j];
                    if (relu && s < 0) s = 0;
                    double v = y[((p * O1 + q) * M + i) * N + j];
                    if (fabs(v - s) > 1e-4 * (1 + fabs(s))) bad++;
                }
    CHECK(bad == 0);
    free(a), free(b), free(out.data);
}

static void test_matmul(void) {
    const int64_t a1[4] = {2, 1, 3, 4}, b1[3] = {5, 4, 6}, o1[4] = {2, 5, 3, 6};
    for (int th = 1; th <= 2; th++)
        check_matmul(4, a1, 3, b1, 4, o1, th, 0, 0);
    /* constant 2-D B: A's batch folds into one SGEMM over packed B */
    const int64_t a2[3] = {3, 5, 70}, b2[2] = {70, 9}, o2[3] = {3, 5, 9};
    check_matmul(3, a2, 2, b2, 3, o2, 2, 2, 1);
    check_matmul(3, a2, 2, b2, 3, o2, 1, 0, 0);
    const int64_t a3[1] = {4}, b3[2] = {4, 3}, o3[1] = {3};
    check_matmul(1, a3, 2, b3, 1, o3, 1, 2, 0);
    const int64_t a4[3] = {2, 3, 4}, b4[1] = {4}, o4[2] = {2, 3};
    check_matmul(3, a4, 1, b4, 2, o4, 1, 0, 0);
    check_matmul(1, a3, 1, b4, 0, NULL, 1, 0, 0);
    /* large batched product: threads inside the SGEMM */
    const int64_t a5[3] = {2, 70, 80}, b5[3] = {2, 80, 90}, o5[3] = {2, 70, 90};
    check_matmul(3, a5, 3, b5, 3, o5, 2, 0, 0);
    /* int64 is exact; mismatched inner dims are invalid */
    int64_t ia[6] = {1, 2, 3, 4, 5, 6}, ib[6] = {7, 8, 9, 10, 11, 12}, d23[2] = {2, 3},
            d32[2] = {3, 2};
    tnode t;
    tn_init(&t, "MatMul", OP_MatMul);
    cv_tensor in[2] = {tt(CV_I64, 2, d23, ia), tt(CV_I64, 2, d32, ib)}, out = {0};
    CHECK(call_op(&t, 2, in, &out, 1, 0) == CLEAVE_OK);
    CHECK(((int64_t *)out.data)[0] == 58 && ((int64_t *)out.data)[3] == 154);
    free(out.data);
    in[1] = tt(CV_I64, 2, d23, ib);
    CHECK(call_op(&t, 2, in, &out, 1, 0) == CLEAVE_E_INVALID);
}

/* Gemm with C of shape cdims (rank rc), const B when mask has bit 1. */
static void check_gemm(int64_t M, int64_t N, int64_t K, int ta, int tb, int rc,
                       const int64_t *cdims, unsigned mask, int threads) {
    int64_t ad[2] = {ta ? K : M, ta ? M : K}, bd[2] = {tb ? N : K, tb ? K : N};
    float *a = make((size_t)(M * K)), *b = make((size_t)(K * N));
    float *cv = make((size_t)(rc >= 0 ? cv_shape_numel(rc, cdims) : 1));
    tnode t;
    tn_init(&t, "Gemm", OP_Gemm);
    tn_int(&t, "transA", ta), tn_int(&t, "transB", tb);
    tn_float(&t, "alpha", 0.5f), tn_float(&t, "beta", 2.0f);
    cv_tensor in[3] = {tt(CV_F32, 2, ad, a), tt(CV_F32, 2, bd, b), tt(CV_F32, rc, cdims, cv)};
    cv_tensor out = {0};
    CHECK(call_op(&t, rc >= 0 ? 3 : 2, in, &out, threads, mask) == CLEAVE_OK);
    CHECK(out.ndim == 2 && out.dims[0] == M && out.dims[1] == N);
    int64_t cm = rc == 2 ? cdims[0] : 1, cn = rc >= 1 ? cdims[rc - 1] : 1;
    int bad = 0;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++)
                s +=
                    (double)(ta ? a[k * M + i] : a[i * K + k]) * (tb ? b[j * K + k] : b[k * N + j]);
            s *= 0.5;
            if (rc >= 0) s += 2.0 * cv[(cm > 1 ? i : 0) * cn + (cn > 1 ? j : 0)];
            if (fabs(((float *)out.data)[i * N + j] - s) > 1e-4 * (1 + fabs(s))) bad++;
        }
    CHECK(bad == 0);
    free(a), free(b), free(cv), free(out.data);
}

static void test_gemm(void) {
    const int64_t cv1[1] = {33}, crow[2] = {1, 33}, ccol[2] = {17, 1}, cfull[2] = {17, 33};
    for (unsigned mask = 0; mask < 8; mask += 2)
        for (int tr = 0; tr < 4; tr++) {
            check_gemm(17, 33, 40, tr & 1, tr >> 1, 1, cv1, mask, 1 + (tr & 1));
            check_gemm(17, 33, 40, tr & 1, tr >> 1, 2, crow, mask, 1);
            check_gemm(17, 33, 40, tr & 1, tr >> 1, 2, ccol, mask, 1);
            check_gemm(17, 33, 40, tr & 1, tr >> 1, 2, cfull, mask, 2);
        }
    check_gemm(1, 1000, 300, 0, 1, 0, NULL, 2, 2); /* scalar C, FC layer shape */
    check_gemm(5, 7, 3, 0, 0, -1, NULL, 0, 1);     /* no C */
    /* bad C shape, unsupported dtype */
    int64_t ad[2] = {2, 3}, bd[2] = {3, 4}, cd[1] = {3};
    float v[12] = {0};
    tnode t;
    tn_init(&t, "Gemm", OP_Gemm);
    cv_tensor in[3] = {tt(CV_F32, 2, ad, v), tt(CV_F32, 2, bd, v), tt(CV_F32, 1, cd, v)}, out = {0};
    CHECK(call_op(&t, 3, in, &out, 1, 0) == CLEAVE_E_INVALID);
    in[0].dtype = in[1].dtype = CV_I32;
    CHECK(call_op(&t, 2, in, &out, 1, 0) == CLEAVE_E_UNSUPPORTED);
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
    cleave_ctx_create(&g_ctx);
    test_matmul();
    test_gemm();
    cleave_ctx_destroy(g_ctx);
    bench_256();
    return check_summary("test_sgemm");
}
