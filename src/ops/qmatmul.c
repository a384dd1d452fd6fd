/* qmatmul: QLinearMatMul and MatMulInteger (numpy batching; a 1-D a is
 * [1, K], a 1-D b [K, 1]). Reference: operands minus their zero points as
 * int16, the shared int32 GEMM (ops/qcommon.h), then for QLinearMatMul the
 * requantization of op_requant_s32; 2-D constant b with int8 weights of
 * zero point 0 runs on fast_qgemm (ops/fast.h) when a backend has it. */
#include <stdlib.h>
#include <string.h>

#include "ops/fast.h"
#include "ops/op.h"
#include "ops/qcommon.h"

/* Input positions as for the convs: a, b, their scales / zero points, y's. */
typedef struct qmm_io {
    int a, as, az, b, bs, bz, ys, yz;
} qmm_io;
static const qmm_io QLINEARMATMUL_IO = {0, 1, 2, 3, 4, 5, 6, 7};
static const qmm_io MATMULINTEGER_IO = {0, -1, 2, 1, -1, 3, -1, -1};

/* numpy matmul of a [..., M, K] and b [..., K, N] (a 1-D a is [1, K], a 1-D
 * b is [K, 1], their unit dim dropped from y); batch dims broadcast. */
typedef struct qmm_geom {
    int64_t M, N, K, batch, a_batch, b_batch;
    int nb, a_nb, b_nb;              /* batch ranks of y, a, b */
    int64_t yb[CV_MAX_DIMS], ab[CV_MAX_DIMS], bb[CV_MAX_DIMS];
    int ndim;                        /* y's rank */
    int64_t ydims[CV_MAX_DIMS];
} qmm_geom;

typedef struct qmm_state {
    qmm_io io;
    qmm_geom g;
    int qlinear, relu, threads;
    int16_t *bq;                     /* (b - b_zp) for every b batch when known at prepare */
    size_t off_b, off_acc, off_scale; /* scratch: [a rows][b if not packed][acc][scale row] */
    void *fast;                      /* fast_qgemm state or NULL */
} qmm_state;

static void qmm_release(void *state) {
    qmm_state *st = (qmm_state *)state;
    if (!st) return;
    if (st->fast) fast_qgemm_destroy(st->fast);
    cv_aligned_free(st->bq);
    cv_free(st);
}

static cleave_status qmm_shape(op_call *c, const qmm_io *io, qmm_geom *g) {
    CV_TRY(qc_need_q8(c, io->a, "a"));
    CV_TRY(qc_need_q8(c, io->b, "b"));
    const cv_tensor *a = c->in[io->a], *b = c->in[io->b];
    if (a->ndim < 1 || b->ndim < 1)
        return op_fail(c, CLEAVE_E_INVALID, "a and b must have rank >= 1");
    g->M = a->ndim == 1 ? 1 : a->dims[a->ndim - 2];
    g->K = a->dims[a->ndim - 1];
    g->N = b->ndim == 1 ? 1 : b->dims[b->ndim - 1];
    if ((b->ndim == 1 ? b->dims[0] : b->dims[b->ndim - 2]) != g->K)
        return op_fail(c, CLEAVE_E_INVALID, "inner dims differ: a has K = %lld, b has %lld",
                       (long long)g->K, (long long)(b->ndim == 1 ? b->dims[0] : b->dims[b->ndim - 2]));
    g->a_nb = a->ndim > 2 ? a->ndim - 2 : 0, g->b_nb = b->ndim > 2 ? b->ndim - 2 : 0;
    g->nb = g->a_nb > g->b_nb ? g->a_nb : g->b_nb;
    g->batch = g->a_batch = g->b_batch = 1;
    for (int i = 0; i < g->nb; i++) {
        int ia = i - (g->nb - g->a_nb), ib = i - (g->nb - g->b_nb);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return op_fail(c, CLEAVE_E_INVALID, "batch dim %d: %lld and %lld cannot be broadcast",
                           i, (long long)da, (long long)db);
        g->yb[i] = da == 1 ? db : da;
        if (ia >= 0) g->ab[ia] = da, g->a_batch *= da;
        if (ib >= 0) g->bb[ib] = db, g->b_batch *= db;
        g->batch *= g->yb[i];
    }
    g->ndim = 0;
    for (int i = 0; i < g->nb; i++) g->ydims[g->ndim++] = g->yb[i];
    if (a->ndim > 1) g->ydims[g->ndim++] = g->M;
    if (b->ndim > 1) g->ydims[g->ndim++] = g->N;
    if ((double)g->M * g->K + (double)g->K * g->N + (double)g->M * g->N > (double)CV_MAX_ELEMS)
        return op_fail(c, CLEAVE_E_LIMIT, "the operands would exceed the element cap");
    /* per row of a: M or a_batch * M values; per column of b: N or b_batch * N */
    const int64_t arow = g->a_batch * g->M, bcol = g->b_batch * g->N;
    const int zopt = io->as < 0;
    CV_TRY(qc_param(c, io->as, CV_F32, g->M, arow, 0, "a_scale"));
    CV_TRY(qc_param(c, io->az, a->dtype, g->M, arow, zopt, "a_zero_point"));
    CV_TRY(qc_param(c, io->bs, CV_F32, g->N, bcol, 0, "b_scale"));
    CV_TRY(qc_param(c, io->bz, b->dtype, g->N, bcol, zopt, "b_zero_point"));
    CV_TRY(qc_param(c, io->ys, CV_F32, 1, 1, 0, "y_scale"));
    CV_TRY(qc_param(c, io->yz, 0, 1, 1, 0, "y_zero_point"));
    return qc_check_act(c, io->ys >= 0 ? c->in[io->yz] : NULL);
}

static cleave_status qmm_infer_io(op_call *c, const qmm_io *io) {
    qmm_geom g;
    CV_TRY(qmm_shape(c, io, &g));
    op_set_out(c, 0, io->yz >= 0 ? c->in[io->yz]->dtype : CV_I32, g.ndim, g.ydims);
    return CLEAVE_OK;
}
static cleave_status qlinearmatmul_infer(op_call *c) {
    return qmm_infer_io(c, &QLINEARMATMUL_IO);
}
static cleave_status matmulinteger_infer(op_call *c) {
    return qmm_infer_io(c, &MATMULINTEGER_IO);
}

/* Batch index of a (which 0) or b (which 1) used by y's batch bi. */
static int64_t qmm_src_batch(const qmm_geom *g, int64_t bi, int which) {
    const int nb = which ? g->b_nb : g->a_nb;
    const int64_t *d = which ? g->bb : g->ab;
    int64_t idx = 0, mul = 1;
    for (int i = g->nb - 1; i >= 0; i--) {
        int64_t o = bi % g->yb[i];
        bi /= g->yb[i];
        int j = i - (g->nb - nb);
        if (j < 0) continue;
        idx += (d[j] == 1 ? 0 : o) * mul;
        mul *= d[j];
    }
    return idx;
}

/* Parameter index for row / column r of operand batch ob (n values per batch). */
static int64_t qmm_pidx(const cv_tensor *t, int64_t ob, int64_t n, int64_t r) {
    return t && cv_numel(t) > n ? ob * n + r : r;
}

/* (b - b_zp[column]) as int16 for b batch ob, K x N. */
static void qmm_pack_b(const qmm_geom *g, const cv_tensor *b, const cv_tensor *bz, int64_t ob,
                       int16_t *dst) {
    const size_t el = cv_dtype_size(b->dtype);
    const char *src = (const char *)b->data + (size_t)(ob * g->K * g->N) * el;
    if (!bz || cv_numel(bz) == 1) {
        qc_shift(src, b->dtype, qc_zp(bz, 0), dst, g->K * g->N);
        return;
    }
    for (int64_t k = 0; k < g->K; k++)
        for (int64_t n = 0; n < g->N; n++) {
            int64_t i = k * g->N + n;
            int32_t v = b->dtype == CV_U8 ? ((const uint8_t *)src)[i] : ((const int8_t *)src)[i];
            dst[i] = (int16_t)(v - qc_zp(bz, qmm_pidx(bz, ob, g->N, n)));
        }
}

/* fast_qgemm for a 2-D constant int8 b with zero point 0, a per-tensor a,
 * everything else known now; a's batch dims fold into M. */
static int qmm_try_fast(op_call *c, qmm_state *st) {
    const qmm_io *io = &st->io;
    const qmm_geom *g = &st->g;
    const cv_tensor *a = c->in[io->a], *b = c->in[io->b];
    if (!c->fast || b->ndim != 2 || !b->data || b->dtype != CV_I8 || !qc_zero_or_absent(c, io->bz))
        return FAST_NO;
    const int ks[] = {io->as, io->az, io->bs, io->ys, io->yz};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++)
        if (!qc_known(c, ks[i])) return FAST_NO;
    if (qc_in(c, io->az) && cv_numel(c->in[io->az]) != 1) return FAST_NO;
    if (io->as >= 0 && cv_numel(c->in[io->as]) != 1) return FAST_NO;
    float *scale = NULL;
    if (st->qlinear) {
        scale = (float *)cv_malloc(sizeof(float) * (size_t)g->N);
        if (!scale) return FAST_NOMEM;
        const float as = qc_scale(c->in[io->as], 0), ys = qc_scale(c->in[io->ys], 0);
        for (int64_t n = 0; n < g->N; n++) scale[n] = as * qc_scale(c->in[io->bs], n) / ys;
    }
    fast_qgemm_desc fd = {
        .m = g->batch * g->M, .n = g->N, .k = g->K,
        .a_type = a->dtype == CV_U8 ? FAST_Q_U8 : FAST_Q_S8,
        .y_type = !st->qlinear ? FAST_Q_S32 : c->in[io->yz]->dtype == CV_U8 ? FAST_Q_U8 : FAST_Q_S8,
        .a_zp = qc_zp(qc_in(c, io->az), 0), .y_zp = st->qlinear ? qc_zp(c->in[io->yz], 0) : 0,
        .b = (const int8_t *)b->data, .scale = scale, .relu = st->relu, .threads = st->threads};
    int r = fast_qgemm_create(&fd, &st->fast);
    cv_free(scale);
    if (r != FAST_OK) st->fast = NULL;
    return r;
}

static cleave_status qmm_prepare_io(op_call *c, const qmm_io *io) {
    qmm_state *st = (qmm_state *)cv_calloc(1, sizeof *st);
    if (!st) return op_fail(c, CLEAVE_E_NOMEM, "out of memory");
    st->io = *io;
    cleave_status s = qmm_shape(c, io, &st->g);
    if (s != CLEAVE_OK) {
        cv_free(st);
        return s;
    }
    c->state = st;
    const qmm_geom *g = &st->g;
    st->qlinear = io->ys >= 0;
    st->relu = c->node->act.kind == IR_ACT_RELU;
    st->threads = c->threads > 1 ? c->threads : 1;
    int r = qmm_try_fast(c, st);
    if (r == FAST_NOMEM) return qc_nomem(c, qmm_release, "creating the fast kernel");
    if (r == FAST_OK) {
        c->scratch_bytes = fast_qgemm_scratch_bytes(st->fast);
        c->held_bytes = fast_held_bytes(st->fast);
        c->owns_in |= 1u << io->b;
        return CLEAVE_OK;
    }
    const cv_tensor *b = c->in[io->b];
    const int64_t kn = g->K * g->N;
    if (b->data && qc_known(c, io->bz)) {
        st->bq = (int16_t *)cv_aligned_alloc(sizeof(int16_t) * (size_t)(kn * g->b_batch + 1));
        if (!st->bq) return qc_nomem(c, qmm_release, "packing b");
        for (int64_t ob = 0; ob < g->b_batch; ob++)
            qmm_pack_b(g, b, qc_in(c, io->bz), ob, st->bq + ob * kn);
        c->held_bytes = sizeof(int16_t) * (size_t)(kn * g->b_batch);
        c->owns_in |= 1u << io->b;
    }
    size_t ab = qc_align(sizeof(int16_t) * (size_t)(g->M * g->K));
    size_t bb = st->bq ? 0 : qc_align(sizeof(int16_t) * (size_t)kn);
    size_t acc = st->qlinear ? qc_align(sizeof(int32_t) * (size_t)(g->M * g->N)) : 0;
    st->off_b = ab, st->off_acc = ab + bb, st->off_scale = ab + bb + acc;
    c->scratch_bytes = st->off_scale + (st->qlinear ? sizeof(float) * (size_t)g->N : 0);
    return CLEAVE_OK;
}
static cleave_status qlinearmatmul_prepare(op_call *c) {
    return qmm_prepare_io(c, &QLINEARMATMUL_IO);
}
static cleave_status matmulinteger_prepare(op_call *c) {
    return qmm_prepare_io(c, &MATMULINTEGER_IO);
}

static cleave_status qmm_run(op_call *c) {
    const qmm_state *st = (const qmm_state *)c->state;
    if (!st) return op_fail(c, CLEAVE_E_INTERNAL, "run without prepare");
    const qmm_io *io = &st->io;
    const qmm_geom *g = &st->g;
    const cv_tensor *a = c->in[io->a], *b = c->in[io->b];
    const cv_tensor *az = qc_in(c, io->az), *bz = qc_in(c, io->bz);
    void *y = c->out[0]->data;
    if (st->fast) {
        if (fast_qgemm_run(st->fast, a->data, y, c->scratch) != 0)
            return op_fail(c, CLEAVE_E_INTERNAL, "fast kernel (%s) failed", fast_impl_name(st->fast));
        return op_clamp_out_codes(c); /* the kernel applies ReLU, not a Clip of codes */
    }
    int threads = c->threads < st->threads ? c->threads : st->threads;
    if (threads < 1) threads = 1;
    char *sc = (char *)c->scratch;
    int16_t *aq = (int16_t *)sc;
    const cv_dtype yt = c->out[0]->dtype;
    const size_t ael = cv_dtype_size(a->dtype), yel = cv_dtype_size(yt);
    const int64_t M = g->M, N = g->N, K = g->K;
    for (int64_t bi = 0; bi < g->batch; bi++) {
        const int64_t oa = qmm_src_batch(g, bi, 0), ob = qmm_src_batch(g, bi, 1);
        for (int64_t m = 0; m < M; m++)
            qc_shift((const char *)a->data + (size_t)((oa * M + m) * K) * ael, a->dtype,
                     qc_zp(az, qmm_pidx(az, oa, M, m)), aq + m * K, K);
        const int16_t *bq = st->bq ? st->bq + ob * K * N : (const int16_t *)(sc + st->off_b);
        if (!st->bq) qmm_pack_b(g, b, bz, ob, (int16_t *)(sc + st->off_b));
        int32_t *acc = st->qlinear ? (int32_t *)(sc + st->off_acc) : (int32_t *)y + bi * M * N;
        qc_gemm_s16_ref(M, N, K, aq, bq, N, acc, N, threads, NULL, NULL);
        if (!st->qlinear) continue;
        const cv_tensor *as = c->in[io->as], *bs = c->in[io->bs];
        const float ys = qc_scale(c->in[io->ys], 0);
        const int32_t yz = qc_zp(c->in[io->yz], 0);
        int32_t ylo, yhi;
        CV_TRY(op_int_bounds(c, yt, yz, &ylo, &yhi));
        float *svec = (float *)(sc + st->off_scale);
        for (int64_t m = 0; m < M; m++) {
            const float sa = qc_scale(as, qmm_pidx(as, oa, M, m));
            for (int64_t n = 0; n < N; n++) svec[n] = sa * qc_scale(bs, qmm_pidx(bs, ob, N, n)) / ys;
            op_requant_s32(acc + m * N, N, 0, 0.0f, svec, yz, ylo, yhi, yt,
                           (char *)y + (size_t)((bi * M + m) * N) * yel);
        }
    }
    return CLEAVE_OK;
}

const op_def op_def_QLinearMatMul = {
    .name = "QLinearMatMul", .min_in = 8, .max_in = 8, .min_out = 1, .max_out = 1,
    .infer = qlinearmatmul_infer, .prepare = qlinearmatmul_prepare, .run = qmm_run,
    .release = qmm_release,
};
const op_def op_def_MatMulInteger = {
    .name = "MatMulInteger", .min_in = 2, .max_in = 4, .min_out = 1, .max_out = 1,
    .infer = matmulinteger_infer, .prepare = matmulinteger_prepare, .run = qmm_run,
    .release = qmm_release,
};
