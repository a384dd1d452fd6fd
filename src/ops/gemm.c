/* gemm: Gemm (alpha, beta, transposes, broadcast C) and MatMul (numpy
 * batching and 1-D operands) on the blocked SGEMM of sgemm.c; a constant
 * operand is packed once in prepare. MatMul also runs float64/int32/int64
 * with a plain triple loop (shape arithmetic in some models). */
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "ops/fast.h"
#include "ops/op.h"
#include "ops/sgemm.h"

/* State for both ops: the pre-packed constant operands. */
typedef struct gemm_state {
    float *packed_a, *packed_b;
    int threads;
    void *fast; /* fast backend (ops/fast.h) for Gemm with constant B, or NULL */
} gemm_state;

static void gemm_release(void *state) {
    gemm_state *st = (gemm_state *)state;
    if (!st) return;
    if (st->fast) fast_gemm_destroy(st->fast);
    cv_aligned_free(st->packed_a);
    cv_aligned_free(st->packed_b);
    cv_free(st);
}

static int gemm_threads(const op_call *c) {
    return c->threads > 1 ? c->threads : 1;
}

/* Packs the constant operands (pack_a / pack_b say which may be packed). */
static cleave_status gemm_make_state(op_call *c, int64_t M, int64_t N, int64_t K, int ta, int tb,
                                     int64_t lda, int64_t ldb, int pack_a, int pack_b) {
    gemm_state *st = (gemm_state *)cv_calloc(1, sizeof *st);
    if (!st) return op_fail(c, CLEAVE_E_NOMEM, "out of memory");
    st->threads = gemm_threads(c);
    const float *a = (const float *)c->in[0]->data, *b = (const float *)c->in[1]->data;
    if (pack_b && b && K > 0) {
        st->packed_b = (float *)cv_aligned_alloc(sgemm_packed_b_floats(K, N) * sizeof(float));
        if (st->packed_b) sgemm_pack_b(tb, K, N, b, ldb, st->packed_b);
    }
    if (pack_a && a && K > 0) {
        st->packed_a = (float *)cv_aligned_alloc(sgemm_packed_a_floats(M, K) * sizeof(float));
        if (st->packed_a) sgemm_pack_a(ta, M, K, a, lda, st->packed_a);
    }
    c->held_bytes = ((st->packed_b ? sgemm_packed_b_floats(K, N) : 0) +
                     (st->packed_a ? sgemm_packed_a_floats(M, K) : 0)) * sizeof(float);
    c->state = st;
    return CLEAVE_OK;
}

/* ---- Gemm ---- */

typedef struct gemm_dims {
    int64_t M, N, K;
    int ta, tb;
    int64_t cm, cn; /* C viewed as cm x cn (each 1 or M / N); 0 x 0 when absent */
} gemm_dims;

static cleave_status gemm_shape(op_call *c, gemm_dims *d) {
    CV_TRY(op_need_input(c, 0));
    CV_TRY(op_need_input(c, 1));
    const cv_tensor *a = c->in[0], *b = c->in[1];
    const cv_tensor *cc = c->n_in > 2 ? c->in[2] : NULL;
    for (int k = 0; k < 3; k++)
        if (k < c->n_in && c->in[k] && c->in[k]->dtype != CV_F32)
            return op_fail(c, CLEAVE_E_UNSUPPORTED,
                           "input %d has dtype %s; only float32 is supported", k,
                           cv_dtype_name(c->in[k]->dtype));
    if (a->ndim != 2 || b->ndim != 2)
        return op_fail(c, CLEAVE_E_INVALID, "A and B must be 2-D, got ranks %d and %d", a->ndim,
                       b->ndim);
    d->ta = ir_attr_int(c->node, "transA", 0) != 0;
    d->tb = ir_attr_int(c->node, "transB", 0) != 0;
    d->M = a->dims[d->ta], d->K = a->dims[!d->ta], d->N = b->dims[!d->tb];
    if (b->dims[d->tb] != d->K)
        return op_fail(c, CLEAVE_E_INVALID,
                       "inner dims differ: op(A) is %lldx%lld, op(B) is %lldx%lld", (long long)d->M,
                       (long long)d->K, (long long)b->dims[d->tb], (long long)d->N);
    d->cm = d->cn = 0;
    if (cc) {
        if (cc->ndim > 2)
            return op_fail(c, CLEAVE_E_INVALID, "C must have rank <= 2, got %d", cc->ndim);
        d->cm = cc->ndim == 2 ? cc->dims[0] : 1;
        d->cn = cc->ndim >= 1 ? cc->dims[cc->ndim - 1] : 1;
        if ((d->cm != 1 && d->cm != d->M) || (d->cn != 1 && d->cn != d->N))
            return op_fail(c, CLEAVE_E_INVALID, "C (%lldx%lld) cannot be broadcast to %lldx%lld",
                           (long long)d->cm, (long long)d->cn, (long long)d->M, (long long)d->N);
    }
    return CLEAVE_OK;
}

static cleave_status gemm_infer(op_call *c) {
    gemm_dims d;
    CV_TRY(gemm_shape(c, &d));
    int64_t dims[2] = {d.M, d.N};
    op_set_out(c, 0, CV_F32, 2, dims);
    return CLEAVE_OK;
}

static cleave_status gemm_prepare(op_call *c) {
    gemm_dims d;
    CV_TRY(gemm_shape(c, &d));
    const cv_tensor *a = c->in[0], *b = c->in[1];
    CV_TRY(gemm_make_state(c, d.M, d.N, d.K, d.ta, d.tb, a->dims[1], b->dims[1], 1, 1));
    gemm_state *st = (gemm_state *)c->state;
    const cv_tensor *cc = c->n_in > 2 ? c->in[2] : NULL;
    const float beta = ir_attr_float(c->node, "beta", 1.0f);
    /* Fast path: Y = A * op(B) + row-vector bias, B and bias constant. */
    if (c->fast && b->data && !d.ta && ir_attr_float(c->node, "alpha", 1.0f) == 1.0f &&
        (!cc || (cc->data && d.cm == 1)) && d.M > 0 && d.N > 0 && d.K > 0) {
        float *bv = NULL;
        if (cc && beta != 0.0f) {
            bv = (float *)cv_malloc(sizeof(float) * (size_t)d.N);
            if (!bv) return op_fail(c, CLEAVE_E_NOMEM, "out of memory");
            for (int64_t j = 0; j < d.N; j++) bv[j] = beta * ((const float *)cc->data)[d.cn == 1 ? 0 : j];
        }
        fast_gemm_desc fd = {.m = d.M, .n = d.N, .k = d.K, .trans_b = d.tb,
                             .b = (const float *)b->data, .bias = bv, .act = c->node->act,
                             .threads = st->threads};
        int r = fast_gemm_create(&fd, &st->fast);
        cv_free(bv);
        if (r == FAST_NOMEM) return op_fail(c, CLEAVE_E_NOMEM, "out of memory creating the fast kernel");
        if (r == FAST_OK) { /* the reference path's packed copies are not needed */
            cv_aligned_free(st->packed_a);
            cv_aligned_free(st->packed_b);
            st->packed_a = st->packed_b = NULL;
            c->scratch_bytes = fast_gemm_scratch_bytes(st->fast);
            c->held_bytes = fast_held_bytes(st->fast);
            c->owns_in |= 1u << 1 | (cc ? 1u << 2 : 0);
            return CLEAVE_OK;
        }
        st->fast = NULL;
    }
    size_t bias = (size_t)(d.M > d.N ? d.M : d.N);
    bias = (bias + 15) / 16 * 16; /* keep the SGEMM scratch 64-byte aligned */
    c->scratch_bytes =
        bias * sizeof(float) +
        sgemm_scratch_bytes(d.M, d.N, d.K, st->packed_a != NULL, st->packed_b != NULL, st->threads);
    return CLEAVE_OK;
}

static cleave_status gemm_run(op_call *c) {
    const gemm_state *st = (const gemm_state *)c->state;
    if (!st) return op_fail(c, CLEAVE_E_INTERNAL, "run without prepare");
    if (st->fast) {
        if (fast_gemm_run(st->fast, (const float *)c->in[0]->data, (float *)c->out[0]->data,
                          c->scratch) != 0)
            return op_fail(c, CLEAVE_E_INTERNAL, "fast kernel (%s) failed", fast_impl_name(st->fast));
        return CLEAVE_OK;
    }
    gemm_dims d;
    CV_TRY(gemm_shape(c, &d));
    const cv_tensor *a = c->in[0], *b = c->in[1], *cc = c->n_in > 2 ? c->in[2] : NULL;
    float *y = (float *)c->out[0]->data;
    float *bias = (float *)c->scratch;
    size_t nbias = (size_t)(d.M > d.N ? d.M : d.N);
    void *scratch = bias + (nbias + 15) / 16 * 16;
    sgemm_params p = {0};
    p.M = d.M, p.N = d.N, p.K = d.K, p.alpha = ir_attr_float(c->node, "alpha", 1.0f);
    p.A = (const float *)a->data, p.lda = a->dims[1], p.trans_a = d.ta, p.packed_a = st->packed_a;
    p.B = (const float *)b->data, p.ldb = b->dims[1], p.trans_b = d.tb, p.packed_b = st->packed_b;
    p.C = y, p.ldc = d.N, p.act = &c->node->act;
    const float beta = ir_attr_float(c->node, "beta", 1.0f);
    if (cc && beta != 0.0f && d.M > 0 && d.N > 0) {
        const float *cv = (const float *)cc->data;
        if (d.cm == d.M && d.cn == d.N && !(d.M == 1 && d.N == 1)) {
            memcpy(y, cv, sizeof(float) * (size_t)(d.M * d.N));
            p.beta = beta;
        } else if (d.cm == 1) { /* one row (or a scalar) added to every row */
            for (int64_t j = 0; j < d.N; j++)
                bias[j] = beta * cv[d.cn == 1 ? 0 : j];
            p.col_bias = bias;
        } else { /* one column */
            for (int64_t i = 0; i < d.M; i++)
                bias[i] = beta * cv[i];
            p.row_bias = bias;
        }
    }
    sgemm_f32(&p, scratch, st->threads < gemm_threads(c) ? st->threads : gemm_threads(c));
    return CLEAVE_OK;
}

/* ---- MatMul ---- */

/* Batch geometry: out = batch dims + [M, N]; per batch dim the element
 * stride of A's and B's matrices (0 where broadcast). */
typedef struct matmul_dims {
    int64_t M, N, K, batch;
    int nb, ndim_out;
    int64_t bdims[CV_MAX_DIMS], astr[CV_MAX_DIMS], bstr[CV_MAX_DIMS];
    int64_t out[CV_MAX_DIMS];
    int b_single; /* B has no batch dims: A's batch folds into M */
} matmul_dims;

static int matmul_dtype_ok(cv_dtype t) {
    return t == CV_F32 || t == CV_F64 || t == CV_I32 || t == CV_I64;
}

static cleave_status matmul_shape(op_call *c, matmul_dims *d) {
    CV_TRY(op_need_input(c, 0));
    CV_TRY(op_need_input(c, 1));
    const cv_tensor *a = c->in[0], *b = c->in[1];
    if (!matmul_dtype_ok(a->dtype))
        return op_fail(c, CLEAVE_E_UNSUPPORTED,
                       "dtype %s is not supported (float32, float64, int32, int64)",
                       cv_dtype_name(a->dtype));
    if (b->dtype != a->dtype)
        return op_fail(c, CLEAVE_E_INVALID, "A is %s but B is %s", cv_dtype_name(a->dtype),
                       cv_dtype_name(b->dtype));
    if (a->ndim < 1 || b->ndim < 1)
        return op_fail(c, CLEAVE_E_INVALID, "A and B must have rank >= 1");
    const int ar = a->ndim, br = b->ndim;
    d->M = ar == 1 ? 1 : a->dims[ar - 2];
    d->K = a->dims[ar - 1];
    const int64_t kb = br == 1 ? b->dims[0] : b->dims[br - 2];
    d->N = br == 1 ? 1 : b->dims[br - 1];
    if (kb != d->K)
        return op_fail(c, CLEAVE_E_INVALID,
                       "inner dims differ: A has %lld columns, B has %lld rows", (long long)d->K,
                       (long long)kb);
    const int na = ar > 2 ? ar - 2 : 0, nbb = br > 2 ? br - 2 : 0;
    d->nb = na > nbb ? na : nbb;
    d->b_single = nbb == 0;
    d->batch = 1;
    int64_t sa = d->M * d->K, sb = d->K * d->N;
    for (int i = d->nb - 1; i >= 0; i--) {
        int ia = i - (d->nb - na), ib = i - (d->nb - nbb);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return op_fail(c, CLEAVE_E_INVALID, "batch dims %lld and %lld cannot be broadcast",
                           (long long)da, (long long)db);
        d->bdims[i] = da > db ? da : db;
        if (da == 0 || db == 0) d->bdims[i] = 0;
        d->astr[i] = da == 1 ? 0 : sa;
        d->bstr[i] = db == 1 ? 0 : sb;
        sa *= da, sb *= db;
        d->batch *= d->bdims[i];
    }
    d->ndim_out = 0;
    for (int i = 0; i < d->nb; i++)
        d->out[d->ndim_out++] = d->bdims[i];
    if (ar > 1) d->out[d->ndim_out++] = d->M;
    if (br > 1) d->out[d->ndim_out++] = d->N;
    return CLEAVE_OK;
}

static cleave_status matmul_infer(op_call *c) {
    matmul_dims d;
    CV_TRY(matmul_shape(c, &d));
    op_set_out(c, 0, c->in[0]->dtype, d.ndim_out, d.out);
    return CLEAVE_OK;
}

/* Rows of the single SGEMM when A's batch folds into M. */
static int64_t matmul_rows(const matmul_dims *d) {
    return d->b_single ? d->batch * d->M : d->M;
}

static cleave_status matmul_prepare(op_call *c) {
    matmul_dims d;
    CV_TRY(matmul_shape(c, &d));
    if (c->in[0]->dtype != CV_F32) return CLEAVE_OK;
    const int64_t M = matmul_rows(&d);
    /* B constant without batch dims: pack it once (the usual weight case). */
    CV_TRY(gemm_make_state(c, M, d.N, d.K, 0, 0, d.K, d.N, 0, d.b_single));
    gemm_state *st = (gemm_state *)c->state;
    /* Constant B without batch dims (a weight matrix): the fast backend. */
    if (c->fast && d.b_single && c->in[1]->data && M > 0 && d.N > 0 && d.K > 0) {
        fast_gemm_desc fd = {.m = M, .n = d.N, .k = d.K, .trans_b = 0,
                             .b = (const float *)c->in[1]->data, .act = c->node->act,
                             .threads = st->threads};
        int r = fast_gemm_create(&fd, &st->fast);
        if (r == FAST_NOMEM) return op_fail(c, CLEAVE_E_NOMEM, "out of memory creating the fast kernel");
        if (r == FAST_OK) { /* the reference path's packed copies are not needed */
            cv_aligned_free(st->packed_a);
            cv_aligned_free(st->packed_b);
            st->packed_a = st->packed_b = NULL;
            c->scratch_bytes = fast_gemm_scratch_bytes(st->fast);
            c->held_bytes = fast_held_bytes(st->fast);
            c->owns_in |= 1u << 1;
            return CLEAVE_OK;
        }
        st->fast = NULL;
    }
    c->scratch_bytes = sgemm_scratch_bytes(M, d.N, d.K, 0, st->packed_b != NULL, st->threads);
    return CLEAVE_OK;
}

/* Output batch q -> element offsets of its A and B matrices. */
static void matmul_offsets(const matmul_dims *d, int64_t q, int64_t *ao, int64_t *bo) {
    *ao = *bo = 0;
    for (int i = d->nb - 1; i >= 0; i--) {
        int64_t x = q % d->bdims[i];
        q /= d->bdims[i];
        *ao += x * d->astr[i], *bo += x * d->bstr[i];
    }
}

#define MATMUL_NAIVE(NAME, T, ACC)                                                                 \
    static void NAME(const matmul_dims *d, const T *a, const T *b, T *y) {                         \
        for (int64_t q = 0; q < d->batch; q++) {                                                   \
            int64_t ao, bo;                                                                        \
            matmul_offsets(d, q, &ao, &bo);                                                        \
            T *yq = y + q * d->M * d->N;                                                           \
            for (int64_t i = 0; i < d->M; i++)                                                     \
                for (int64_t j = 0; j < d->N; j++) {                                               \
                    ACC s = 0;                                                                     \
                    for (int64_t k = 0; k < d->K; k++)                                             \
                        s += (ACC)a[ao + i * d->K + k] * (ACC)b[bo + k * d->N + j];                \
                    yq[i * d->N + j] = (T)s;                                                       \
                }                                                                                  \
        }                                                                                          \
    }

MATMUL_NAIVE(matmul_f64_naive, double, double)
MATMUL_NAIVE(matmul_i32_naive, int32_t, int64_t)
MATMUL_NAIVE(matmul_i64_naive, int64_t, int64_t)

static cleave_status matmul_run(op_call *c) {
    matmul_dims d;
    CV_TRY(matmul_shape(c, &d));
    const void *av = c->in[0]->data, *bv = c->in[1]->data;
    void *yv = c->out[0]->data;
    switch (c->in[0]->dtype) {
    case CV_F64: matmul_f64_naive(&d, av, bv, yv); return CLEAVE_OK;
    case CV_I32: matmul_i32_naive(&d, av, bv, yv); return CLEAVE_OK;
    case CV_I64: matmul_i64_naive(&d, av, bv, yv); return CLEAVE_OK;
    default: break;
    }
    const gemm_state *st = (const gemm_state *)c->state;
    if (!st) return op_fail(c, CLEAVE_E_INTERNAL, "run without prepare");
    if (st->fast) {
        if (fast_gemm_run(st->fast, av, yv, c->scratch) != 0)
            return op_fail(c, CLEAVE_E_INTERNAL, "fast kernel (%s) failed", fast_impl_name(st->fast));
        return CLEAVE_OK;
    }
    const float *a = (const float *)av, *b = (const float *)bv;
    float *y = (float *)yv;
    int threads = st->threads < gemm_threads(c) ? st->threads : gemm_threads(c);
    sgemm_params p = {0};
    p.N = d.N, p.K = d.K, p.alpha = 1.0f, p.lda = d.K, p.ldb = d.N, p.ldc = d.N;
    p.packed_b = st->packed_b, p.act = &c->node->act;
    if (d.b_single) { /* one SGEMM over all of A's rows */
        p.M = matmul_rows(&d), p.A = a, p.B = b, p.C = y;
        sgemm_f32(&p, c->scratch, threads);
        return CLEAVE_OK;
    }
    p.M = d.M;
    /* Large products: batches in turn, threads inside the SGEMM; small
     * ones: threads over batches, each with its own scratch slice. */
    const int by_batch = threads > 1 && d.batch > 1 && d.M * d.N * d.K < (1 << 18);
    if (!by_batch) {
        for (int64_t q = 0; q < d.batch; q++) {
            int64_t ao, bo;
            matmul_offsets(&d, q, &ao, &bo);
            p.A = a + ao, p.B = b + bo, p.C = y + q * d.M * d.N;
            sgemm_f32(&p, c->scratch, threads);
        }
        return CLEAVE_OK;
    }
    const size_t slice = sgemm_scratch_bytes(d.M, d.N, d.K, 0, 0, 1);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int64_t q = 0; q < d.batch; q++) {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        int64_t ao, bo;
        matmul_offsets(&d, q, &ao, &bo);
        sgemm_params pq = p;
        pq.A = a + ao, pq.B = b + bo, pq.C = y + q * d.M * d.N;
        sgemm_f32(&pq, (char *)c->scratch + (size_t)tid * slice, 1);
    }
    return CLEAVE_OK;
}

const op_def op_def_Gemm = {"Gemm",       2, 3, 1, 1, gemm_infer, gemm_prepare, gemm_run,
                            gemm_release, 0};
const op_def op_def_MatMul = {"MatMul",     2, 2, 1, 1, matmul_infer, matmul_prepare, matmul_run,
                              gemm_release, 0};
