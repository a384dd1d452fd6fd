/* Unit tests for the norm.c, softmax.c and reduce.c op families: hand-built
 * op_calls (fake ir_node, cv_tensors) through infer/prepare/run, compared
 * with values computed here in double (tolerance 1e-5 abs + 1e-5 rel for
 * float32, exact for integer outputs), plus invalid-attribute cases. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ops/op.h"

static cleave_ctx *g_ctx;

/* A fake node: op_type, opset and up to 6 attributes. */
typedef struct tnode {
    ir_node n;
    ir_attr a[6];
} tnode;

static void tn_init(tnode *t, const char *op, int opset) {
    memset(t, 0, sizeof *t);
    t->n.name = "t";
    t->n.op_type = op;
    t->n.domain = "";
    t->n.opset = opset;
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
static void tn_ints(tnode *t, const char *name, const int64_t *v, int n) {
    ir_attr *a = &t->a[t->n.n_attrs++];
    a->name = name, a->kind = IR_ATTR_INTS, a->ints = v, a->n = n;
}

static cv_tensor tt(cv_dtype dt, int ndim, const int64_t *dims, void *data) {
    cv_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dt, t.ndim = ndim, t.data = data;
    for (int i = 0; i < ndim; i++)
        t.dims[i] = dims[i];
    return t;
}

/* infer + prepare + run of op on inputs (NULL = omitted); outputs are
 * allocated from the inferred shapes. Returns the first failing status. */
static cleave_status call_op(int op, tnode *t, int n_in, const cv_tensor **in, int n_out,
                             cv_tensor *out, int threads) {
    const op_def *d = op_get(op);
    cv_tensor *outp[4];
    for (int k = 0; k < n_out; k++)
        outp[k] = &out[k];
    op_call c = {.node = &t->n, .ctx = g_ctx, .n_in = n_in, .n_out = n_out, .in = in, .out = outp, .threads = threads, .fast = 0};
    cleave_ctx_clear_error(g_ctx);
    cleave_status st = d->infer(&c);
    if (st) return st;
    if (d->prepare && (st = d->prepare(&c))) return st;
    for (int k = 0; k < n_out; k++)
        out[k].data = calloc((size_t)cv_numel(&out[k]) + 1, 8);
    if (c.scratch_bytes) c.scratch = cv_aligned_alloc(c.scratch_bytes);
    st = d->run(&c);
    cv_aligned_free(c.scratch);
    if (d->release) d->release(c.state);
    return st;
}

static void free_outs(cv_tensor *out, int n) {
    for (int k = 0; k < n; k++)
        free(out[k].data);
}

static float frand(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static void test_batchnorm(void) {
    int64_t xd[] = {2, 3, 2, 2}, cd[] = {3};
    float x[24], sc[] = {1, 2, 0.5f}, b[] = {0, 1, -1}, mu[] = {0.5f, -1, 2}, var[] = {1, 4, 0.25f};
    for (int i = 0; i < 24; i++)
        x[i] = (float)i * 0.25f - 3;
    cv_tensor X = tt(CV_F32, 4, xd, x), S = tt(CV_F32, 1, cd, sc), B = tt(CV_F32, 1, cd, b),
              M = tt(CV_F32, 1, cd, mu), V = tt(CV_F32, 1, cd, var), Y;
    const cv_tensor *in[] = {&X, &S, &B, &M, &V};
    tnode t;
    tn_init(&t, "BatchNormalization", 15);
    tn_float(&t, "epsilon", 1e-3f);
    CHECK(call_op(OP_BatchNormalization, &t, 5, in, 1, &Y, 1) == CLEAVE_OK);
    const float *y = Y.data;
    for (int i = 0; i < 24; i++) {
        int ch = (i / 4) % 3;
        double r = (x[i] - mu[ch]) / sqrt(var[ch] + 1e-3) * sc[ch] + b[ch];
        CHECK_NEAR(y[i], r, 1e-5, 1e-5);
    }
    free_outs(&Y, 1);
    tn_int(&t, "training_mode", 1);
    CHECK(call_op(OP_BatchNormalization, &t, 5, in, 1, &Y, 1) == CLEAVE_E_UNSUPPORTED);
    /* wrong parameter length */
    int64_t bad[] = {4};
    cv_tensor S4 = tt(CV_F32, 1, bad, sc);
    const cv_tensor *in2[] = {&X, &S4, &B, &M, &V};
    tn_init(&t, "BatchNormalization", 15);
    CHECK(call_op(OP_BatchNormalization, &t, 5, in2, 1, &Y, 1) == CLEAVE_E_INVALID);
}

static void test_instancenorm(void) {
    int64_t xd[] = {2, 2, 5}, cd[] = {2};
    float x[20], sc[] = {1.5f, -0.5f}, b[] = {0.25f, 2};
    unsigned s = 7;
    for (int i = 0; i < 20; i++)
        x[i] = frand(&s) * 4;
    cv_tensor X = tt(CV_F32, 3, xd, x), S = tt(CV_F32, 1, cd, sc), B = tt(CV_F32, 1, cd, b), Y;
    const cv_tensor *in[] = {&X, &S, &B};
    tnode t;
    tn_init(&t, "InstanceNormalization", 6);
    CHECK(call_op(OP_InstanceNormalization, &t, 3, in, 1, &Y, 1) == CLEAVE_OK);
    const float *y = Y.data;
    for (int nc = 0; nc < 4; nc++) {
        double m = 0, v = 0;
        for (int i = 0; i < 5; i++)
            m += x[nc * 5 + i] / 5.0;
        for (int i = 0; i < 5; i++)
            v += (x[nc * 5 + i] - m) * (x[nc * 5 + i] - m) / 5.0;
        for (int i = 0; i < 5; i++)
            CHECK_NEAR(y[nc * 5 + i], (x[nc * 5 + i] - m) / sqrt(v + 1e-5) * sc[nc % 2] + b[nc % 2],
                       1e-5, 1e-5);
    }
    free_outs(&Y, 1);
}

/* X [3, 4, 5] normalized over axis 1 ([4, 5]); scale broadcast from [5]. */
static void test_layernorm(int dbl_stash, int with_bias) {
    int64_t xd[] = {3, 4, 5}, sd[] = {5}, bd[] = {4, 1};
    float x[60], sc[5], b[4];
    unsigned s = 11;
    for (int i = 0; i < 60; i++)
        x[i] = frand(&s) * 3 + 1;
    for (int i = 0; i < 5; i++)
        sc[i] = 0.5f + 0.25f * (float)i;
    for (int i = 0; i < 4; i++)
        b[i] = (float)i - 1.5f;
    cv_tensor X = tt(CV_F32, 3, xd, x), S = tt(CV_F32, 1, sd, sc), B = tt(CV_F32, 2, bd, b);
    cv_tensor out[3];
    const cv_tensor *in[] = {&X, &S, with_bias ? &B : NULL};
    tnode t;
    tn_init(&t, "LayerNormalization", 17);
    tn_int(&t, "axis", -2);
    tn_float(&t, "epsilon", 1e-4f);
    if (dbl_stash) tn_int(&t, "stash_type", 11);
    CHECK(call_op(OP_LayerNormalization, &t, 3, in, 3, out, 2) == CLEAVE_OK);
    CHECK(out[1].ndim == 3 && out[1].dims[0] == 3 && out[1].dims[1] == 1 && out[1].dims[2] == 1);
    CHECK(out[1].dtype == (dbl_stash ? CV_F64 : CV_F32));
    const float *y = out[0].data;
    for (int m = 0; m < 3; m++) {
        double mu = 0, v = 0;
        for (int i = 0; i < 20; i++)
            mu += x[m * 20 + i] / 20.0;
        for (int i = 0; i < 20; i++)
            v += (x[m * 20 + i] - mu) * (x[m * 20 + i] - mu) / 20.0;
        double inv = 1 / sqrt(v + 1e-4);
        for (int i = 0; i < 20; i++) {
            double r = (x[m * 20 + i] - mu) * inv * sc[i % 5] + (with_bias ? b[i / 5] : 0);
            CHECK_NEAR(y[m * 20 + i], r, 1e-5, 1e-5);
        }
        CHECK_NEAR(cv_get_f64(&out[1], m), mu, 1e-5, 1e-5);
        CHECK_NEAR(cv_get_f64(&out[2], m), inv, 1e-5, 1e-5);
    }
    free_outs(out, 3);
    /* scale of shape [3] does not broadcast to [4, 5] */
    int64_t bad[] = {3};
    cv_tensor S3 = tt(CV_F32, 1, bad, sc);
    const cv_tensor *in2[] = {&X, &S3, NULL};
    CHECK(call_op(OP_LayerNormalization, &t, 3, in2, 3, out, 1) == CLEAVE_E_INVALID);
}

/* Softmax / LogSoftmax on [2, 3, 4] along axis (opset 13) vs reference. */
static void test_softmax_case(int op, int opset, int64_t axis, int threads) {
    int64_t xd[] = {2, 3, 4};
    float x[24];
    unsigned s = 3;
    for (int i = 0; i < 24; i++)
        x[i] = frand(&s) * 5 + (i == 7 ? 1000 : 0);
    cv_tensor X = tt(CV_F32, 3, xd, x), Y;
    const cv_tensor *in[] = {&X};
    tnode t;
    tn_init(&t, op == OP_Softmax ? "Softmax" : "LogSoftmax", opset);
    tn_int(&t, "axis", axis);
    CHECK(call_op(op, &t, 1, in, 1, &Y, threads) == CLEAVE_OK);
    int a = (int)(axis < 0 ? axis + 3 : axis);
    int64_t outer, n, inner;
    if (opset >= 13) {
        outer = cv_shape_numel(a, xd), n = xd[a], inner = cv_shape_numel(2 - a, xd + a + 1);
    } else {
        outer = cv_shape_numel(a, xd), n = cv_shape_numel(3 - a, xd + a), inner = 1;
    }
    const float *y = Y.data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            double m = -INFINITY, sum = 0;
            for (int64_t k = 0; k < n; k++)
                m = fmax(m, x[(o * n + k) * inner + j]);
            for (int64_t k = 0; k < n; k++)
                sum += exp(x[(o * n + k) * inner + j] - m);
            for (int64_t k = 0; k < n; k++) {
                int64_t i = (o * n + k) * inner + j;
                double r = op == OP_Softmax ? exp(x[i] - m) / sum : x[i] - m - log(sum);
                CHECK_NEAR(y[i], r, 1e-5, 1e-5);
            }
        }
    free_outs(&Y, 1);
}

static void test_softmax(void) {
    for (int a = -3; a < 3; a++) {
        test_softmax_case(OP_Softmax, 13, a, 1);
        test_softmax_case(OP_LogSoftmax, 13, a, 2);
    }
    { /* long rows (vectorised exp over its whole range) with -inf masks */
        int64_t d2[] = {3, 301};
        float xv[903];
        unsigned s = 17;
        for (int i = 0; i < 903; i++)
            xv[i] = i % 7 == 3 ? -INFINITY : frand(&s) * 60;
        cv_tensor X = tt(CV_F32, 2, d2, xv), Y;
        const cv_tensor *in[] = {&X};
        for (int lg = 0; lg < 2; lg++) {
            tnode t;
            tn_init(&t, lg ? "LogSoftmax" : "Softmax", 13);
            CHECK(call_op(lg ? OP_LogSoftmax : OP_Softmax, &t, 1, in, 1, &Y, 1) == CLEAVE_OK);
            int bad = 0;
            for (int r = 0; r < 3; r++) {
                double m = -INFINITY, sum = 0;
                for (int i = 0; i < 301; i++)
                    m = fmax(m, xv[r * 301 + i]);
                for (int i = 0; i < 301; i++)
                    sum += exp(xv[r * 301 + i] - m);
                for (int i = 0; i < 301; i++) {
                    double v = ((float *)Y.data)[r * 301 + i], xi = xv[r * 301 + i];
                    if (lg)
                        bad += isinf(xi) ? !(v < -1e30) : fabs(v - (xi - m - log(sum))) > 1e-4;
                    else
                        bad += fabs(v - exp(xi - m) / sum) > 1e-6 + 1e-5 * exp(xi - m) / sum;
                }
            }
            CHECK(bad == 0);
            free_outs(&Y, 1);
        }
    }
    test_softmax_case(OP_Softmax, 11, 1, 1); /* coerced to [2, 12] */
    test_softmax_case(OP_LogSoftmax, 1, 0, 1);
    tnode t;
    tn_init(&t, "Softmax", 13);
    tn_int(&t, "axis", 3);
    int64_t xd[] = {2, 3, 4};
    float x[24] = {0};
    cv_tensor X = tt(CV_F32, 3, xd, x), Y;
    const cv_tensor *in[] = {&X};
    CHECK(call_op(OP_Softmax, &t, 1, in, 1, &Y, 1) == CLEAVE_E_INVALID);
    cv_tensor I = tt(CV_I32, 3, xd, x);
    const cv_tensor *in2[] = {&I};
    tn_init(&t, "Softmax", 13);
    CHECK(call_op(OP_Softmax, &t, 1, in2, 1, &Y, 1) == CLEAVE_E_UNSUPPORTED);
}

/* Reduce x [2, 3, 4, 5] (float or int32) over mask by kind, reference in double. */
static void test_reduce_case(int op, cv_dtype dt, unsigned mask, int keep, int threads) {
    int64_t xd[] = {2, 3, 4, 5}, axes[4];
    int na = 0;
    for (int i = 0; i < 4; i++)
        if (mask >> i & 1) axes[na++] = i - (i & 1) * 4; /* mix negative axes in */
    float xf[120];
    int32_t xi[120];
    unsigned s = 5;
    for (int i = 0; i < 120; i++)
        xf[i] = frand(&s) * 10, xi[i] = (int32_t)(xf[i] * 10);
    cv_tensor X = tt(dt, 4, xd, dt == CV_F32 ? (void *)xf : (void *)xi), Y;
    const char *names[] = {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin"};
    int ops[] = {OP_ReduceSum, OP_ReduceMean, OP_ReduceMax, OP_ReduceMin}, kind = 0;
    while (ops[kind] != op)
        kind++;
    tnode t;
    tn_init(&t, names[kind], 13);
    tn_int(&t, "keepdims", keep);
    int64_t ad[] = {na};
    cv_tensor A = tt(CV_I64, 1, ad, axes);
    const cv_tensor *in[] = {&X, &A};
    int n_in = 1;
    if (op == OP_ReduceSum) {
        n_in = na ? 2 : 1;
    } else {
        tn_ints(&t, "axes", axes, na);
    }
    CHECK(call_op(op, &t, n_in, in, 1, &Y, threads) == CLEAVE_OK);
    if (!mask) mask = 15;
    int on = 0;
    for (int i = 0; i < 4; i++)
        on += !(mask >> i & 1) || keep;
    CHECK(Y.ndim == on && Y.dtype == dt);
    /* reference: walk output positions, reduce matching inputs */
    int64_t ostride[4], o = 1;
    for (int i = 3; i >= 0; i--)
        ostride[i] = (mask >> i & 1) ? 0 : o, o *= (mask >> i & 1) ? 1 : xd[i];
    double *ref = calloc((size_t)o, sizeof(double));
    int64_t *cnt = calloc((size_t)o, sizeof(int64_t));
    for (int i = 0; i < 120; i++) {
        int64_t rem = i, oi = 0;
        for (int d = 3; d >= 0; d--)
            oi += (rem % xd[d]) * ostride[d], rem /= xd[d];
        double v = dt == CV_F32 ? xf[i] : xi[i];
        if (!cnt[oi])
            ref[oi] = v;
        else if (kind <= 1)
            ref[oi] += v;
        else if (kind == 2)
            ref[oi] = fmax(ref[oi], v);
        else
            ref[oi] = fmin(ref[oi], v);
        cnt[oi]++;
    }
    for (int64_t i = 0; i < o; i++) {
        double r = ref[i];
        if (kind == 1) r = dt == CV_F32 ? r / (double)cnt[i] : (double)((int64_t)r / cnt[i]);
        if (dt == CV_F32)
            CHECK_NEAR(((float *)Y.data)[i], r, 1e-4, 1e-5);
        else
            CHECK(((int32_t *)Y.data)[i] == (int32_t)r);
    }
    free(ref);
    free(cnt);
    free_outs(&Y, 1);
}

static void test_reduce(void) {
    int ops[] = {OP_ReduceSum, OP_ReduceMean, OP_ReduceMax, OP_ReduceMin};
    for (int k = 0; k < 4; k++)
        for (unsigned m = 0; m < 16; m++) { /* every axes subset: blocked and general paths */
            test_reduce_case(ops[k], CV_F32, m, (int)(m & 1), 1 + (int)(m & 1));
            test_reduce_case(ops[k], CV_I32, m, 1, 1);
        }
    /* noop_with_empty_axes and bad axes */
    int64_t xd[] = {2, 3}, ad0[] = {0}, ad1[] = {2}, ax[] = {1, -1};
    float x[6] = {1, 2, 3, 4, 5, 6};
    cv_tensor X = tt(CV_F32, 2, xd, x), E = tt(CV_I64, 1, ad0, NULL), Y;
    const cv_tensor *in[] = {&X, &E};
    tnode t;
    tn_init(&t, "ReduceSum", 13);
    tn_int(&t, "noop_with_empty_axes", 1);
    CHECK(call_op(OP_ReduceSum, &t, 2, in, 1, &Y, 1) == CLEAVE_OK);
    CHECK(Y.ndim == 2 && memcmp(Y.data, x, sizeof x) == 0);
    free_outs(&Y, 1);
    cv_tensor D = tt(CV_I64, 1, ad1, ax), U = tt(CV_I64, 1, ad1, NULL);
    const cv_tensor *in2[] = {&X, &D}, *in3[] = {&X, &U};
    tn_init(&t, "ReduceSum", 13);
    CHECK(call_op(OP_ReduceSum, &t, 2, in2, 1, &Y, 1) == CLEAVE_E_INVALID);     /* 1 and -1 */
    CHECK(call_op(OP_ReduceSum, &t, 2, in3, 1, &Y, 1) == CLEAVE_E_UNSUPPORTED); /* unknown */
    tn_init(&t, "ReduceMax", 13);
    CHECK(call_op(OP_ReduceMax, &t, 2, in2, 1, &Y, 1) == CLEAVE_E_INVALID); /* input < 18 */
}

static void test_arg(void) {
    int64_t xd[] = {2, 3, 4};
    float x[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)((i * 7) % 5); /* many ties */
    cv_tensor X = tt(CV_F32, 3, xd, x), Y;
    const cv_tensor *in[] = {&X};
    for (int op = 0; op < 2; op++)
        for (int axis = 0; axis < 3; axis++)
            for (int last = 0; last < 2; last++) {
                tnode t;
                tn_init(&t, op ? "ArgMin" : "ArgMax", 13);
                tn_int(&t, "axis", axis);
                tn_int(&t, "keepdims", 0);
                tn_int(&t, "select_last_index", last);
                CHECK(call_op(op ? OP_ArgMin : OP_ArgMax, &t, 1, in, 1, &Y, 1) == CLEAVE_OK);
                CHECK(Y.dtype == CV_I64 && Y.ndim == 2);
                int64_t outer = cv_shape_numel(axis, xd), n = xd[axis];
                int64_t inner = cv_shape_numel(2 - axis, xd + axis + 1);
                for (int64_t o = 0; o < outer; o++)
                    for (int64_t j = 0; j < inner; j++) {
                        int64_t bi = 0;
                        for (int64_t k = 1; k < n; k++) {
                            float v = x[(o * n + k) * inner + j], b = x[(o * n + bi) * inner + j];
                            int better = op ? (last ? v <= b : v < b) : (last ? v >= b : v > b);
                            if (better) bi = k;
                        }
                        CHECK(((int64_t *)Y.data)[o * inner + j] == bi);
                    }
                free_outs(&Y, 1);
            }
}

/* Copy of float data f converted to dt (float32/float64/float16). */
static void *conv_from_f32(const float *f, int64_t n, cv_dtype dt) {
    cv_tensor t = tt(dt, 0, NULL, malloc((size_t)n * 8));
    for (int64_t i = 0; i < n; i++)
        cv_set_f64(&t, i, f[i]);
    return t.data;
}

/* Big enough to go parallel; run with 1 and 3 threads in f32, f64 and f16
 * and compare with the f32 single-thread result. */
static void test_threads_dtypes(void) {
    int64_t xd[] = {8, 36, 10, 13}, cd[] = {36}, sd[] = {13};
    int64_t n = cv_shape_numel(4, xd);
    float *x = malloc((size_t)n * 4), p[4][36];
    unsigned s = 9;
    for (int64_t i = 0; i < n; i++)
        x[i] = frand(&s) * 4;
    for (int i = 0; i < 36; i++)
        p[0][i] = 1 + frand(&s) * 0.5f, p[1][i] = frand(&s), p[2][i] = frand(&s),
        p[3][i] = 1.5f + frand(&s);
    cv_dtype dts[] = {CV_F32, CV_F64, CV_F16};
    int64_t ad[] = {2}, axes[] = {0, 2}, axes1[] = {2};
    for (int tc = 0; tc < 9; tc++) {
        tnode t;
        cv_tensor ref, out, A2 = tt(CV_I64, 1, ad, axes), A1 = tt(CV_I64, 1, ad, axes1);
        A1.dims[0] = 1;
        int op, n_in = 1, exact_int = 0;
        switch (tc) {
        case 0: op = OP_Softmax, tn_init(&t, "Softmax", 13), tn_int(&t, "axis", 1); break;
        case 1: op = OP_LogSoftmax, tn_init(&t, "LogSoftmax", 13); break;
        case 2: op = OP_LayerNormalization, tn_init(&t, "LayerNormalization", 17), n_in = 2; break;
        case 3: op = OP_BatchNormalization, tn_init(&t, "BatchNormalization", 15), n_in = 5; break;
        case 4:
            op = OP_InstanceNormalization, tn_init(&t, "InstanceNormalization", 6), n_in = 3;
            break;
        case 5: op = OP_ReduceSum, tn_init(&t, "ReduceSum", 13), n_in = 2; break; /* general */
        case 6: op = OP_ReduceMax, tn_init(&t, "ReduceMax", 18), n_in = 2; break; /* blocked */
        case 7:
            op = OP_ReduceMean, tn_init(&t, "ReduceMean", 11), tn_ints(&t, "axes", axes1, 1);
            break;
        default:
            op = OP_ArgMin, tn_init(&t, "ArgMin", 13), tn_int(&t, "axis", 1), exact_int = 1;
            break;
        }
        for (int run = 0; run < 6; run++) { /* run 0: f32 on 1 thread, the reference */
            int d = run / 2, th = 1 + 2 * (run & 1);
            const float *src[5] = {x, p[0], p[1], p[2], p[3]};
            cv_tensor in_t[5];
            const cv_tensor *in[5];
            for (int k = 0; k < 5; k++) {
                int64_t *dims = k == 0 ? xd : op == OP_LayerNormalization ? sd : cd;
                int nd = k == 0 ? 4 : 1;
                int64_t cnt = cv_shape_numel(nd, dims);
                in_t[k] = tt(dts[d], nd, dims, conv_from_f32(src[k], cnt, dts[d]));
                in[k] = &in_t[k];
            }
            if (op == OP_ReduceSum) in[1] = &A2;
            if (op == OP_ReduceMax) in[1] = &A1;
            cv_tensor *o = run ? &out : &ref;
            CHECK(call_op(op, &t, n_in, in, 1, o, th) == CLEAVE_OK);
            for (int k = 0; k < 5; k++)
                free(in_t[k].data);
            if (!run) continue;
            int64_t m = cv_numel(&out);
            CHECK(m == cv_numel(&ref));
            int bad = 0;
            if (d == 0) { /* same dtype: thread split must not change a bit */
                bad = memcmp(ref.data, out.data, cv_nbytes(&out)) != 0;
            } else if (!(exact_int && d == 2)) { /* f16 rounding may change argmin ties */
                double tol = dts[d] == CV_F16 ? 2e-2 : 1e-4;
                for (int64_t i = 0; i < m && !bad; i++) {
                    double a = cv_get_f64(&out, i), b = cv_get_f64(&ref, i);
                    bad = exact_int ? a != b : fabs(a - b) > tol * (1 + fabs(b));
                }
            }
            if (bad) fprintf(stderr, "case %d dtype %d threads %d differs\n", tc, d, th);
            CHECK(!bad);
            free_outs(&out, 1);
        }
        free_outs(&ref, 1);
    }
    free(x);
}

int main(void) {
    cleave_ctx_create(&g_ctx);
    test_batchnorm();
    test_instancenorm();
    for (int i = 0; i < 4; i++)
        test_layernorm(i & 1, i >> 1);
    test_softmax();
    test_reduce();
    test_arg();
    test_threads_dtypes();
    cleave_ctx_destroy(g_ctx);
    return check_summary("test_norm");
}
