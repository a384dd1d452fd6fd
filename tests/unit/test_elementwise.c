/* Unit tests for the binary.c and unary.c op families: hand-built op_calls
 * (fake ir_node, cv_tensors) through infer/prepare/run. Broadcasting is
 * checked against an index-by-index reference over shape sweeps (1 and 2
 * threads); float32 results within 1e-6 abs + 1e-6 rel of double math
 * (1e-3 rel for float16, 1e-2 for bfloat16), integers and casts exact. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ops/op.h"

static cleave_ctx *g_ctx;

typedef struct tnode {
    ir_node n;
    ir_attr a[4];
} tnode;

static void tn_init(tnode *t, int op, int opset) {
    memset(t, 0, sizeof *t);
    t->n.name = "t";
    t->n.op_type = op_name(op);
    t->n.domain = "";
    t->n.op = op;
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

static cv_tensor tt(cv_dtype dt, int ndim, const int64_t *dims, const void *data) {
    cv_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dt, t.ndim = ndim, t.data = (void *)data;
    for (int i = 0; i < ndim; i++)
        t.dims[i] = dims[i];
    return t;
}

/* infer + prepare + run; outputs are malloc'd from the inferred shapes
 * (free with free_outs). Returns the first failing status. */
static cleave_status call_op(tnode *t, int n_in, const cv_tensor **in, int n_out, cv_tensor *out,
                             int threads) {
    const op_def *d = op_get(t->n.op);
    cv_tensor *outp[4];
    for (int k = 0; k < n_out; k++) {
        memset(&out[k], 0, sizeof out[k]);
        outp[k] = &out[k];
    }
    t->n.n_in = n_in, t->n.n_out = n_out;
    op_call c = {.node = &t->n, .ctx = g_ctx, .n_in = n_in, .n_out = n_out, .in = in, .out = outp, .threads = threads, .fast = 0};
    cleave_ctx_clear_error(g_ctx);
    if (!d) return CLEAVE_E_UNSUPPORTED;
    cleave_status st = d->infer(&c);
    if (st) return st;
    if (d->prepare && (st = d->prepare(&c))) return st;
    for (int k = 0; k < n_out; k++)
        out[k].data = calloc((size_t)cv_numel(&out[k]) + 1, 8);
    if (c.scratch_bytes) c.scratch = cv_aligned_alloc(c.scratch_bytes);
    st = d->run(&c);
    cv_aligned_free(c.scratch);
    if (d->release && c.state) d->release(c.state);
    return st;
}
static void free_outs(cv_tensor *out, int n) {
    for (int k = 0; k < n; k++)
        free(out[k].data), out[k].data = NULL;
}

static float frand(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return (float)((*s >> 8) & 0xffff) / 16384.0f - 2.0f;
}

/* Flat index into a tensor of shape (nd, d) broadcast to out index oi of
 * shape (r, od). */
static int64_t bidx(int r, const int64_t *od, int64_t oi, int nd, const int64_t *d) {
    int64_t idx = 0, mul = 1;
    for (int k = r - 1; k >= 0; k--) {
        int64_t c = oi % od[k];
        oi /= od[k];
        int kk = k - (r - nd);
        if (kk < 0) continue;
        idx += (d[kk] == 1 ? 0 : c) * mul;
        mul *= d[kk];
    }
    return idx;
}

/* Add/Sub/Mul/Div/Max/Less/PRelu on float32 over broadcast shape pairs. */
static void test_broadcast_sweep(void) {
    static const struct {
        int na;
        int64_t a[4];
        int nb;
        int64_t b[4];
    } cases[] = {{3, {2, 3, 4}, 3, {2, 3, 4}},
                 {3, {2, 3, 4}, 0, {0}},
                 {0, {0}, 3, {2, 3, 4}},
                 {4, {2, 3, 4, 5}, 3, {3, 1, 1}},
                 {3, {2, 3, 4}, 2, {3, 1}},
                 {3, {1, 3, 1}, 3, {2, 1, 4}},
                 {2, {5, 1}, 1, {7}},
                 {4, {2, 1, 3, 1}, 3, {4, 1, 5}},
                 {1, {1}, 2, {3, 1}},
                 {4, {2, 8, 64, 64}, 3, {8, 1, 1}},
                 {2, {300, 256}, 2, {300, 256}},
                 {2, {1, 70000}, 0, {0}},
                 {3, {40, 40, 41}, 3, {40, 1, 41}}};
    static const int ops[] = {OP_Add, OP_Sub, OP_Mul, OP_Div, OP_Max, OP_Less, OP_PRelu};
    unsigned seed = 1;
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        cv_tensor a = tt(CV_F32, cases[ci].na, cases[ci].a, NULL);
        cv_tensor b = tt(CV_F32, cases[ci].nb, cases[ci].b, NULL);
        int64_t na = cv_numel(&a), nb = cv_numel(&b);
        float *pa = malloc(sizeof(float) * (size_t)na), *pb = malloc(sizeof(float) * (size_t)nb);
        for (int64_t i = 0; i < na; i++)
            pa[i] = frand(&seed);
        for (int64_t i = 0; i < nb; i++)
            pb[i] = frand(&seed) + 3.0f; /* no division by ~0 */
        a.data = pa, b.data = pb;
        const cv_tensor *in[2] = {&a, &b};
        for (size_t oi = 0; oi < sizeof ops / sizeof ops[0]; oi++) {
            for (int threads = 1; threads <= 2; threads++) {
                tnode t;
                tn_init(&t, ops[oi], 16);
                cv_tensor out[1];
                cleave_status st = call_op(&t, 2, in, 1, out, threads);
                if (ops[oi] == OP_PRelu && cv_numel(&b) > cv_numel(&a)) {
                    CHECK(st == CLEAVE_E_INVALID); /* slope must broadcast to X */
                    continue;
                }
                CHECK(st == CLEAVE_OK);
                if (st) {
                    fprintf(stderr, "  case %zu op %s: %s\n", ci, op_name(ops[oi]),
                            cleave_ctx_error(g_ctx));
                    continue;
                }
                int64_t n = cv_numel(&out[0]), bad = 0;
                for (int64_t i = 0; i < n; i++) {
                    double x = pa[bidx(out[0].ndim, out[0].dims, i, a.ndim, a.dims)];
                    double y = pb[bidx(out[0].ndim, out[0].dims, i, b.ndim, b.dims)];
                    double want = 0, got;
                    switch (ops[oi]) {
                    case OP_Add: want = x + y; break;
                    case OP_Sub: want = x - y; break;
                    case OP_Mul: want = x * y; break;
                    case OP_Div: want = x / y; break;
                    case OP_Max: want = x > y ? x : y; break;
                    case OP_Less: want = x < y; break;
                    default: want = x < 0 ? x * y : x; break;
                    }
                    if (ops[oi] == OP_Less)
                        got = ((uint8_t *)out[0].data)[i];
                    else
                        got = ((float *)out[0].data)[i];
                    if (fabs(got - want) > 1e-6 + 1e-6 * fabs(want)) bad++;
                }
                CHECK(bad == 0);
                CHECK(out[0].dtype == (ops[oi] == OP_Less ? CV_BOOL : CV_F32));
                if (bad)
                    fprintf(stderr, "  case %zu op %s threads %d: %lld bad\n", ci, op_name(ops[oi]),
                            threads, (long long)bad);
                free_outs(out, 1);
            }
        }
        free(pa);
        free(pb);
    }
}

/* One binary op on small same-dtype inputs; returns the output. */
static cleave_status bin1(int op, cv_dtype dt, cv_dtype dt2, int64_t n, const void *a,
                          const void *b, cv_tensor *out) {
    tnode t;
    tn_init(&t, op, 16);
    cv_tensor x = tt(dt, 1, &n, a), y = tt(dt2, 1, &n, b);
    const cv_tensor *in[2] = {&x, &y};
    return call_op(&t, 2, in, 1, out, 1);
}

static void test_integer_semantics(void) {
    cv_tensor o[1];
    int32_t a[] = {7, -7, 7, -7, 5, INT32_MIN}, b[] = {2, 2, -2, -2, 0, -1};
    int32_t q[] = {3, -3, -3, 3, 0, INT32_MIN}; /* truncation, x/0 -> 0, wrap */
    CHECK(bin1(OP_Div, CV_I32, CV_I32, 6, a, b, o) == CLEAVE_OK);
    CHECK(memcmp(o[0].data, q, sizeof q) == 0);
    free_outs(o, 1);
    int8_t a8[] = {127, -128, 100}, b8[] = {1, -1, 100}, s8[] = {-128, 127, -56};
    CHECK(bin1(OP_Add, CV_I8, CV_I8, 3, a8, b8, o) == CLEAVE_OK);
    CHECK(memcmp(o[0].data, s8, sizeof s8) == 0);
    free_outs(o, 1);
    uint16_t a16[] = {65535, 3}, b16[] = {65535, 4}, m16[] = {1, 12};
    CHECK(bin1(OP_Mul, CV_U16, CV_U16, 2, a16, b16, o) == CLEAVE_OK);
    CHECK(memcmp(o[0].data, m16, sizeof m16) == 0);
    free_outs(o, 1);
    int64_t x64[] = {INT64_MAX, -5}, y64[] = {1, 3};
    CHECK(bin1(OP_Add, CV_I64, CV_I64, 2, x64, y64, o) == CLEAVE_OK);
    CHECK(((int64_t *)o[0].data)[0] == INT64_MIN && ((int64_t *)o[0].data)[1] == -2);
    free_outs(o, 1);
    CHECK(bin1(OP_Sub, CV_I64, CV_I64, 2, y64, x64, o) == CLEAVE_OK);
    CHECK(((int64_t *)o[0].data)[0] == INT64_MIN + 2 && ((int64_t *)o[0].data)[1] == 8);
    free_outs(o, 1);
    uint64_t u1[] = {UINT64_MAX, 0}, u2[] = {1, 1};
    CHECK(bin1(OP_Greater, CV_U64, CV_U64, 2, u1, u2, o) == CLEAVE_OK);
    CHECK(((uint8_t *)o[0].data)[0] == 1 && ((uint8_t *)o[0].data)[1] == 0);
    free_outs(o, 1);
    /* Pow: int^int exact, negative exponents truncate, int^float truncates */
    int32_t pb[] = {2, 3, -2, 2, -1}, pe[] = {10, 0, 3, -1, -3}, pr[] = {1024, 1, -8, 0, -1};
    CHECK(bin1(OP_Pow, CV_I32, CV_I32, 5, pb, pe, o) == CLEAVE_OK);
    CHECK(memcmp(o[0].data, pr, sizeof pr) == 0);
    free_outs(o, 1);
    int64_t ib[] = {2, 3, 1000000};
    float fe[] = {0.5f, 2.0f, 3.0f};
    CHECK(bin1(OP_Pow, CV_I64, CV_F32, 3, ib, fe, o) == CLEAVE_OK);
    CHECK(o[0].dtype == CV_I64 && ((int64_t *)o[0].data)[0] == 1 &&
          ((int64_t *)o[0].data)[1] == 9 && ((int64_t *)o[0].data)[2] == 1000000000000000000);
    free_outs(o, 1);
    int32_t big[] = {1000000}, two[] = {2};
    float fbig[] = {1000000}, f2[] = {2};
    CHECK(bin1(OP_Pow, CV_I32, CV_F32, 1, big, f2, o) == CLEAVE_OK);
    CHECK(((int32_t *)o[0].data)[0] == INT32_MAX); /* saturates */
    free_outs(o, 1);
    CHECK(bin1(OP_Pow, CV_F32, CV_I32, 1, fbig, two, o) == CLEAVE_OK);
    CHECK_NEAR(((float *)o[0].data)[0], 1e12, 0, 1e-6);
    free_outs(o, 1);
    /* float Pow: scalar exponent 2 takes the x*x path */
    int64_t d3 = 3;
    float px[] = {-3, 0.5f, 2}, e2 = 2;
    cv_tensor x = tt(CV_F32, 1, &d3, px), e = tt(CV_F32, 0, NULL, &e2);
    const cv_tensor *in[2] = {&x, &e};
    tnode t;
    tn_init(&t, OP_Pow, 15);
    CHECK(call_op(&t, 2, in, 1, o, 1) == CLEAVE_OK);
    CHECK(((float *)o[0].data)[0] == 9 && ((float *)o[0].data)[1] == 0.25f);
    free_outs(o, 1);
    /* Min/Max propagate NaN; bool logic */
    float m1[] = {NAN, 1, 2}, m2[] = {0, NAN, 3};
    CHECK(bin1(OP_Min, CV_F32, CV_F32, 3, m1, m2, o) == CLEAVE_OK);
    CHECK(isnan(((float *)o[0].data)[0]) && isnan(((float *)o[0].data)[1]) &&
          ((float *)o[0].data)[2] == 2);
    free_outs(o, 1);
    uint8_t l1[] = {0, 0, 1, 1}, l2[] = {0, 1, 0, 1}, x_and[] = {0, 0, 0, 1},
            x_xor[] = {0, 1, 1, 0};
    CHECK(bin1(OP_And, CV_BOOL, CV_BOOL, 4, l1, l2, o) == CLEAVE_OK);
    CHECK(memcmp(o[0].data, x_and, 4) == 0);
    free_outs(o, 1);
    CHECK(bin1(OP_Xor, CV_BOOL, CV_BOOL, 4, l1, l2, o) == CLEAVE_OK);
    CHECK(memcmp(o[0].data, x_xor, 4) == 0);
    free_outs(o, 1);
    CHECK(bin1(OP_Equal, CV_BOOL, CV_BOOL, 4, l1, l2, o) == CLEAVE_OK);
    CHECK(((uint8_t *)o[0].data)[0] == 1 && ((uint8_t *)o[0].data)[1] == 0);
    free_outs(o, 1);
    /* float16 compute in float32 */
    uint16_t h1[] = {cv_f32_to_f16(1.5f), cv_f32_to_f16(-2)},
             h2[] = {cv_f32_to_f16(0.25f), cv_f32_to_f16(3)};
    CHECK(bin1(OP_Mul, CV_F16, CV_F16, 2, h1, h2, o) == CLEAVE_OK);
    CHECK(cv_f16_to_f32(((uint16_t *)o[0].data)[0]) == 0.375f &&
          cv_f16_to_f32(((uint16_t *)o[0].data)[1]) == -6);
    free_outs(o, 1);
}

static void test_variadic_where_legacy(void) {
    cv_tensor o[1];
    tnode t;
    /* Sum of [3], [2,3], [1] */
    int64_t d3 = 3, d23[] = {2, 3}, d1 = 1;
    float s1[] = {1, 2, 3}, s2[] = {10, 20, 30, 40, 50, 60}, s3[] = {100};
    cv_tensor a = tt(CV_F32, 1, &d3, s1), b = tt(CV_F32, 2, d23, s2), c = tt(CV_F32, 1, &d1, s3);
    const cv_tensor *in3[3] = {&a, &b, &c};
    tn_init(&t, OP_Sum, 13);
    CHECK(call_op(&t, 3, in3, 1, o, 1) == CLEAVE_OK);
    CHECK(o[0].ndim == 2 && ((float *)o[0].data)[0] == 111 && ((float *)o[0].data)[5] == 163);
    free_outs(o, 1);
    tn_init(&t, OP_Mean, 13);
    CHECK(call_op(&t, 3, in3, 1, o, 1) == CLEAVE_OK);
    CHECK_NEAR(((float *)o[0].data)[4], (2 + 50 + 100) / 3.0, 1e-5, 1e-6);
    free_outs(o, 1);
    tn_init(&t, OP_Max, 13);
    CHECK(call_op(&t, 1, in3, 1, o, 1) == CLEAVE_OK); /* one input: copy */
    CHECK(((float *)o[0].data)[2] == 3);
    free_outs(o, 1);
    int32_t i1[] = {5, -1, 7};
    cv_tensor ai = tt(CV_I32, 1, &d3, i1);
    const cv_tensor *ini[2] = {&ai, &ai};
    tn_init(&t, OP_Mean, 13);
    CHECK(call_op(&t, 2, ini, 1, o, 1) == CLEAVE_E_UNSUPPORTED);
    /* Where: cond [2,1], x scalar, y [1,3], int64 */
    uint8_t cond[] = {1, 0};
    int64_t xv = -1, yv[] = {4, 5, 6}, d21[] = {2, 1}, d13[] = {1, 3};
    cv_tensor tc = tt(CV_BOOL, 2, d21, cond), tx = tt(CV_I64, 0, NULL, &xv),
              ty = tt(CV_I64, 2, d13, yv);
    const cv_tensor *inw[3] = {&tc, &tx, &ty};
    tn_init(&t, OP_Where, 16);
    CHECK(call_op(&t, 3, inw, 1, o, 1) == CLEAVE_OK);
    int64_t wz[] = {-1, -1, -1, 4, 5, 6};
    CHECK(o[0].ndim == 2 && o[0].dims[0] == 2 && o[0].dims[1] == 3 &&
          memcmp(o[0].data, wz, sizeof wz) == 0);
    free_outs(o, 1);
    inw[0] = &tx;
    CHECK(call_op(&t, 3, inw, 1, o, 1) == CLEAVE_E_INVALID); /* condition must be bool */
    /* opset 6 Add with broadcast=1, axis=1: B [3] runs along A's dim 1 */
    int64_t d234[] = {2, 3, 4};
    float pa[24] = {0}, pb[] = {1, 2, 3};
    cv_tensor la = tt(CV_F32, 3, d234, pa), lb = tt(CV_F32, 1, &d3, pb);
    const cv_tensor *inl[2] = {&la, &lb};
    tn_init(&t, OP_Add, 6);
    tn_int(&t, "broadcast", 1);
    tn_int(&t, "axis", 1);
    CHECK(call_op(&t, 2, inl, 1, o, 1) == CLEAVE_OK);
    CHECK(((float *)o[0].data)[0] == 1 && ((float *)o[0].data)[4] == 2 &&
          ((float *)o[0].data)[23] == 3);
    free_outs(o, 1);
    /* errors: mixed dtypes, bool-only ops, bad broadcast; empty tensors run */
    cv_tensor mi = tt(CV_I32, 1, &d3, i1);
    const cv_tensor *inm[2] = {&a, &mi};
    tn_init(&t, OP_Add, 14);
    CHECK(call_op(&t, 2, inm, 1, o, 1) == CLEAVE_E_INVALID);
    inm[1] = &a;
    tn_init(&t, OP_And, 7);
    CHECK(call_op(&t, 2, inm, 1, o, 1) == CLEAVE_E_UNSUPPORTED);
    CHECK(strstr(cleave_ctx_error(g_ctx), "float32") != NULL);
    int64_t d4 = 4, d03[] = {0, 3};
    cv_tensor b4 = tt(CV_F32, 1, &d4, pa), e03 = tt(CV_F32, 2, d03, pa);
    inm[1] = &b4;
    tn_init(&t, OP_Add, 14);
    CHECK(call_op(&t, 2, inm, 1, o, 1) == CLEAVE_E_INVALID);
    inm[0] = &e03, inm[1] = &a;
    CHECK(call_op(&t, 2, inm, 1, o, 2) == CLEAVE_OK && cv_numel(&o[0]) == 0);
    free_outs(o, 1);
}

/* ---- unary ---- */

static double ref_unary(int op, double x) {
    switch (op) {
    case OP_Sqrt: return sqrt(x);
    case OP_Exp: return exp(x);
    case OP_Log: return log(x);
    case OP_Neg: return -x;
    case OP_Abs: return fabs(x);
    case OP_Reciprocal: return 1 / x;
    case OP_Erf: return erf(x);
    case OP_Floor: return floor(x);
    case OP_Ceil: return ceil(x);
    case OP_Relu: return x < 0 ? 0 : x;
    case OP_LeakyRelu: return x < 0 ? 0.01 * x : x;
    case OP_Sigmoid: return 1 / (1 + exp(-x));
    case OP_Tanh: return tanh(x);
    case OP_HardSigmoid: return fmax(0, fmin(1, 0.2 * x + 0.5));
    case OP_HardSwish: return x * fmax(0, fmin(1, x / 6 + 0.5));
    default: return x;
    }
}

static void test_unary_math(void) {
    static const int ops[] = {OP_Sqrt,       OP_Exp,     OP_Log,   OP_Neg,         OP_Abs,
                              OP_Reciprocal, OP_Erf,     OP_Floor, OP_Ceil,        OP_Relu,
                              OP_LeakyRelu,  OP_Sigmoid, OP_Tanh,  OP_HardSigmoid, OP_HardSwish};
    static const cv_dtype dts[] = {CV_F32, CV_F64, CV_F16, CV_BF16};
    enum { N = 70001 }; /* > the threading threshold, odd tail */
    float *xf = malloc(sizeof(float) * N);
    double *xd = malloc(sizeof(double) * N);
    uint16_t *xh = malloc(sizeof(uint16_t) * N);
    unsigned seed = 7;
    int64_t n = N;
    for (size_t di = 0; di < sizeof dts / sizeof dts[0]; di++) {
        for (size_t oi = 0; oi < sizeof ops / sizeof ops[0]; oi++) {
            int op = ops[oi];
            int positive = op == OP_Sqrt || op == OP_Log;
            for (int i = 0; i < N; i++) {
                float v = frand(&seed) * 3;
                if (positive) v = fabsf(v) + 0.01f;
                if (v == 0) v = 0.5f;
                if (dts[di] == CV_F16) xh[i] = cv_f32_to_f16(v), v = cv_f16_to_f32(xh[i]);
                if (dts[di] == CV_BF16) xh[i] = cv_f32_to_bf16(v), v = cv_bf16_to_f32(xh[i]);
                xf[i] = v, xd[i] = v;
            }
            const void *data = dts[di] == CV_F32   ? (void *)xf
                               : dts[di] == CV_F64 ? (void *)xd
                                                   : (void *)xh;
            cv_tensor x = tt(dts[di], 1, &n, data), o[1];
            const cv_tensor *in[1] = {&x};
            tnode t;
            tn_init(&t, op, 14);
            cleave_status st = call_op(&t, 1, in, 1, o, 1 + (int)(oi & 1));
            CHECK(st == CLEAVE_OK);
            if (st) continue;
            double tol = dts[di] == CV_F16 ? 1e-3 : dts[di] == CV_BF16 ? 8e-3 : 1e-6;
            int64_t bad = 0;
            for (int i = 0; i < N; i++) {
                double got = dts[di] == CV_F32   ? ((float *)o[0].data)[i]
                             : dts[di] == CV_F64 ? ((double *)o[0].data)[i]
                             : dts[di] == CV_F16 ? cv_f16_to_f32(((uint16_t *)o[0].data)[i])
                                                 : cv_bf16_to_f32(((uint16_t *)o[0].data)[i]);
                double want = ref_unary(op, xd[i]);
                if (!(got == want || fabs(got - want) <= tol + tol * fabs(want))) bad++;
            }
            CHECK(bad == 0);
            if (bad)
                fprintf(stderr, "  %s %s: %lld bad\n", op_name(op), cv_dtype_name(dts[di]),
                        (long long)bad);
            free_outs(o, 1);
        }
    }
    free(xf), free(xd), free(xh);
}

/* The vectorized float32 sigmoid over its whole range, saturation, inf and
 * NaN: within 4e-7 relative (+1e-30 absolute near 0) of the double result. */
static void test_sigmoid_range(void) {
    enum { N = 24003 };
    float *x = malloc(sizeof(float) * N);
    for (int i = 0; i < N - 3; i++) x[i] = -120.0f + 0.01f * (float)i;
    x[N - 3] = INFINITY, x[N - 2] = -INFINITY, x[N - 1] = NAN;
    int64_t n = N;
    cv_tensor t = tt(CV_F32, 1, &n, x), o[1];
    const cv_tensor *in[1] = {&t};
    tnode nd;
    tn_init(&nd, OP_Sigmoid, 13);
    CHECK(call_op(&nd, 1, in, 1, o, 1) == CLEAVE_OK);
    const float *y = o[0].data;
    int bad = 0;
    double worst = 0;
    for (int i = 0; i < N - 1; i++) {
        double want = 1 / (1 + exp(-(double)x[i])), err = fabs(y[i] - want);
        if (!(err <= 1e-30 + 4e-7 * want)) bad++;
        if (want > 1e-30 && err / want > worst) worst = err / want;
    }
    CHECK(bad == 0);
    CHECK(y[N - 3] == 1.0f && y[N - 2] == 0.0f && isnan(y[N - 1]));
    if (bad) fprintf(stderr, "  sigmoid: %d values off (worst relative %.3g)\n", bad, worst);
    free_outs(o, 1);
    free(x);
}

static void test_unary_int_clip(void) {
    cv_tensor o[2];
    tnode t;
    int64_t d4 = 4, d5 = 5;
    int32_t i32[] = {INT32_MIN, -3, 0, 5};
    cv_tensor x = tt(CV_I32, 1, &d4, i32);
    const cv_tensor *in[3] = {&x, NULL, NULL};
    tn_init(&t, OP_Neg, 13);
    CHECK(call_op(&t, 1, in, 1, o, 1) == CLEAVE_OK);
    CHECK(((int32_t *)o[0].data)[0] == INT32_MIN && ((int32_t *)o[0].data)[1] == 3);
    free_outs(o, 1);
    tn_init(&t, OP_Abs, 13);
    CHECK(call_op(&t, 1, in, 1, o, 1) == CLEAVE_OK);
    CHECK(((int32_t *)o[0].data)[1] == 3 && ((int32_t *)o[0].data)[3] == 5);
    free_outs(o, 1);
    tn_init(&t, OP_Relu, 14);
    CHECK(call_op(&t, 1, in, 1, o, 1) == CLEAVE_OK);
    CHECK(((int32_t *)o[0].data)[0] == 0 && ((int32_t *)o[0].data)[3] == 5);
    free_outs(o, 1);
    tn_init(&t, OP_Sqrt, 13);
    CHECK(call_op(&t, 1, in, 1, o, 1) == CLEAVE_E_UNSUPPORTED);
    /* Clip int8 with only max, uint8 with only min, float with both */
    int8_t i8[] = {-128, -1, 0, 1, 127}, mx = 0, want8[] = {-128, -1, 0, 0, 0};
    cv_tensor x8 = tt(CV_I8, 1, &d5, i8), m8 = tt(CV_I8, 0, NULL, &mx);
    const cv_tensor *inc[3] = {&x8, NULL, &m8};
    tn_init(&t, OP_Clip, 13);
    CHECK(call_op(&t, 3, inc, 1, o, 1) == CLEAVE_OK);
    CHECK(memcmp(o[0].data, want8, 5) == 0);
    free_outs(o, 1);
    uint8_t u8[] = {0, 9, 10, 11, 255}, mn = 10, wantu[] = {10, 10, 10, 11, 255};
    cv_tensor xu = tt(CV_U8, 1, &d5, u8), mu = tt(CV_U8, 0, NULL, &mn);
    const cv_tensor *inu[2] = {&xu, &mu};
    CHECK(call_op(&t, 2, inu, 1, o, 1) == CLEAVE_OK);
    CHECK(memcmp(o[0].data, wantu, 5) == 0);
    free_outs(o, 1);
    float xf[] = {-5, -0.5f, 0.5f, 5, NAN}, lo = -1, hi = 1;
    cv_tensor tf = tt(CV_F32, 1, &d5, xf), tl = tt(CV_F32, 0, NULL, &lo),
              th = tt(CV_F32, 0, NULL, &hi);
    const cv_tensor *inf3[3] = {&tf, &tl, &th};
    CHECK(call_op(&t, 3, inf3, 1, o, 1) == CLEAVE_OK);
    CHECK(((float *)o[0].data)[0] == -1 && ((float *)o[0].data)[1] == -0.5f &&
          ((float *)o[0].data)[3] == 1 && isnan(((float *)o[0].data)[4]));
    free_outs(o, 1);
    inf3[2] = &x8; /* bound of another dtype */
    CHECK(call_op(&t, 3, inf3, 1, o, 1) == CLEAVE_E_INVALID);
    tn_init(&t, OP_Clip, 6); /* attributes before opset 11 */
    tn_float(&t, "min", 0);
    tn_float(&t, "max", 0.25f);
    CHECK(call_op(&t, 1, inf3, 1, o, 1) == CLEAVE_OK);
    CHECK(((float *)o[0].data)[0] == 0 && ((float *)o[0].data)[2] == 0.25f);
    free_outs(o, 1);
    tn_init(&t, OP_LeakyRelu, 16);
    tn_float(&t, "alpha", 0.5f);
    CHECK(call_op(&t, 1, inf3, 1, o, 1) == CLEAVE_OK);
    CHECK(((float *)o[0].data)[0] == -2.5f && ((float *)o[0].data)[3] == 5);
    free_outs(o, 1);
    uint8_t bl[] = {0, 1, 0, 1};
    cv_tensor tb = tt(CV_BOOL, 1, &d4, bl);
    in[0] = &tb;
    tn_init(&t, OP_Not, 1);
    CHECK(call_op(&t, 1, in, 1, o, 1) == CLEAVE_OK);
    CHECK(((uint8_t *)o[0].data)[0] == 1 && ((uint8_t *)o[0].data)[1] == 0);
    free_outs(o, 1);
    /* Identity of int64; Dropout at inference with a mask */
    int64_t i64[] = {1, -2, 3, INT64_MAX};
    cv_tensor t64 = tt(CV_I64, 1, &d4, i64);
    in[0] = &t64;
    tn_init(&t, OP_Identity, 16);
    CHECK(call_op(&t, 1, in, 1, o, 1) == CLEAVE_OK);
    CHECK(o[0].dtype == CV_I64 && memcmp(o[0].data, i64, sizeof i64) == 0);
    free_outs(o, 1);
    float ratio = 0.5f, zero = 0;
    uint8_t yes = 1;
    cv_tensor tr = tt(CV_F32, 0, NULL, &ratio), tz = tt(CV_F32, 0, NULL, &zero),
              ty = tt(CV_BOOL, 0, NULL, &yes);
    const cv_tensor *ind[3] = {&tf, &tr, NULL};
    tn_init(&t, OP_Dropout, 13);
    CHECK(call_op(&t, 2, ind, 2, o, 1) == CLEAVE_OK);
    CHECK(o[1].dtype == CV_BOOL && ((uint8_t *)o[1].data)[4] == 1 && ((float *)o[0].data)[3] == 5);
    free_outs(o, 2);
    ind[2] = &ty;
    CHECK(call_op(&t, 3, ind, 1, o, 1) == CLEAVE_E_UNSUPPORTED);
    ind[1] = &tz; /* training with ratio 0 is the identity */
    CHECK(call_op(&t, 3, ind, 1, o, 1) == CLEAVE_OK);
    CHECK(((float *)o[0].data)[0] == -5);
    free_outs(o, 1);
}

static cleave_status cast1(cv_dtype from, cv_dtype to, int64_t n, const void *x, cv_tensor *o) {
    tnode t;
    tn_init(&t, OP_Cast, 13);
    tn_int(&t, "to", to);
    cv_tensor tx = tt(from, 1, &n, x);
    const cv_tensor *in[1] = {&tx};
    return call_op(&t, 1, in, 1, o, 1);
}

static void test_cast(void) {
    cv_tensor o[1];
    float f[] = {1.9f, -1.9f, 300, -300, NAN, INFINITY, -0.0f, 0.5f};
    int8_t w8[] = {1, -1, 127, -128, 0, 127, 0, 0};
    CHECK(cast1(CV_F32, CV_I8, 8, f, o) == CLEAVE_OK);
    CHECK(memcmp(o[0].data, w8, 8) == 0);
    free_outs(o, 1);
    uint8_t wu8[] = {1, 0, 255, 0, 0, 255, 0, 0}, wb[] = {1, 1, 1, 1, 1, 1, 0, 1};
    CHECK(cast1(CV_F32, CV_U8, 8, f, o) == CLEAVE_OK);
    CHECK(memcmp(o[0].data, wu8, 8) == 0);
    free_outs(o, 1);
    CHECK(cast1(CV_F32, CV_BOOL, 8, f, o) == CLEAVE_OK);
    CHECK(memcmp(o[0].data, wb, 8) == 0);
    free_outs(o, 1);
    CHECK(cast1(CV_F32, CV_I64, 8, f, o) == CLEAVE_OK);
    CHECK(((int64_t *)o[0].data)[3] == -300 && ((int64_t *)o[0].data)[5] == INT64_MAX);
    free_outs(o, 1);
    /* double -> half rounds once: ties to even, overflow to inf, subnormals */
    double d[] = {1.0 / 3, 65504, 65520, 0x1p-24, 0x1p-25, 0x1.8p-25, -2.5, 1 + 0x1p-11};
    uint16_t wh[] = {0x3555, 0x7bff, 0x7c00, 0x0001, 0x0000, 0x0001, 0xc100, 0x3c00};
    CHECK(cast1(CV_F64, CV_F16, 8, d, o) == CLEAVE_OK);
    CHECK(memcmp(o[0].data, wh, sizeof wh) == 0);
    free_outs(o, 1);
    /* float -> bfloat16 truncates (ONNX backend test data) */
    float fb[] = {0.47892547f, 0.48033667f, NAN, -INFINITY};
    uint16_t wbf[] = {16117, 16117, 0x7fc0, 65408};
    CHECK(cast1(CV_F32, CV_BF16, 4, fb, o) == CLEAVE_OK);
    CHECK(memcmp(o[0].data, wbf, sizeof wbf) == 0);
    free_outs(o, 1);
    CHECK(cast1(CV_F64, CV_BF16, 1, d, o) == CLEAVE_OK);
    CHECK(((uint16_t *)o[0].data)[0] == 0x3eaa);
    free_outs(o, 1);
    /* integers wrap like numpy astype; uint64 keeps its full range */
    int64_t iv[] = {257, -1, INT64_MIN};
    uint8_t wi[] = {1, 255, 0};
    CHECK(cast1(CV_I64, CV_U8, 3, iv, o) == CLEAVE_OK);
    CHECK(memcmp(o[0].data, wi, 3) == 0);
    free_outs(o, 1);
    uint64_t uv[] = {UINT64_MAX, 1};
    CHECK(cast1(CV_U64, CV_F64, 2, uv, o) == CLEAVE_OK);
    CHECK(((double *)o[0].data)[0] == 18446744073709551615.0);
    free_outs(o, 1);
    CHECK(cast1(CV_U64, CV_I32, 2, uv, o) == CLEAVE_OK);
    CHECK(((int32_t *)o[0].data)[0] == -1 && ((int32_t *)o[0].data)[1] == 1);
    free_outs(o, 1);
    uint8_t bv[] = {0, 1};
    CHECK(cast1(CV_BOOL, CV_F16, 2, bv, o) == CLEAVE_OK);
    CHECK(((uint16_t *)o[0].data)[0] == 0 && ((uint16_t *)o[0].data)[1] == 0x3c00);
    free_outs(o, 1);
    int32_t i3[] = {70000, -3};
    CHECK(cast1(CV_I32, CV_F16, 2, i3, o) == CLEAVE_OK);
    CHECK(((uint16_t *)o[0].data)[0] == 0x7c00 && ((uint16_t *)o[0].data)[1] == 0xc200);
    free_outs(o, 1);
    CHECK(cast1(CV_I32, CV_I32, 2, i3, o) == CLEAVE_OK);
    CHECK(memcmp(o[0].data, i3, sizeof i3) == 0);
    free_outs(o, 1);
    /* every pair runs; round trip through float64 is exact for small ints */
    static const cv_dtype all[] = {CV_F32, CV_F64, CV_F16, CV_BF16, CV_I8,  CV_I16, CV_I32,
                                   CV_I64, CV_U8,  CV_U16, CV_U32,  CV_U64, CV_BOOL};
    double src[] = {0, 1, 2, 100, 3};
    for (size_t i = 0; i < 13; i++)
        for (size_t j = 0; j < 13; j++) {
            cv_tensor a[1], b[1], c[1];
            CHECK(cast1(CV_F64, all[i], 5, src, a) == CLEAVE_OK);
            CHECK(cast1(all[i], all[j], 5, a[0].data, b) == CLEAVE_OK);
            CHECK(cast1(all[j], CV_F64, 5, b[0].data, c) == CLEAVE_OK);
            double *r = c[0].data;
            int small = all[i] == CV_BOOL || all[j] == CV_BOOL;
            CHECK(r[3] == (small ? 1 : 100) && r[0] == 0 && r[1] == 1);
            free_outs(a, 1), free_outs(b, 1), free_outs(c, 1);
        }
    /* strings are not supported; Cast-1 takes a string 'to' */
    CHECK(cast1(CV_F32, CV_STRING, 1, f, o) == CLEAVE_E_UNSUPPORTED);
    tnode t;
    tn_init(&t, OP_Cast, 1);
    ir_attr *a = &t.a[t.n.n_attrs++];
    a->name = "to", a->kind = IR_ATTR_STRING, a->s = "INT32", a->s_len = 5;
    int64_t n2 = 2;
    cv_tensor tx = tt(CV_F32, 1, &n2, f);
    const cv_tensor *in[1] = {&tx};
    CHECK(call_op(&t, 1, in, 1, o, 1) == CLEAVE_OK);
    CHECK(o[0].dtype == CV_I32 && ((int32_t *)o[0].data)[1] == -1);
    free_outs(o, 1);
    /* threaded f32 -> f16 agrees with the scalar conversion */
    enum { N = 100003 };
    float *big = malloc(sizeof(float) * N);
    unsigned seed = 3;
    for (int i = 0; i < N; i++)
        big[i] = frand(&seed) * 1000;
    int64_t nb = N;
    cv_tensor tbig = tt(CV_F32, 1, &nb, big);
    in[0] = &tbig;
    tn_init(&t, OP_Cast, 13);
    tn_int(&t, "to", CV_F16);
    CHECK(call_op(&t, 1, in, 1, o, 2) == CLEAVE_OK);
    int bad = 0;
    for (int i = 0; i < N; i++)
        bad += ((uint16_t *)o[0].data)[i] != cv_f32_to_f16(big[i]);
    CHECK(bad == 0);
    free_outs(o, 1);
    free(big);
}

/* CastLike is defined in unary.c before it is listed in op_list.inc. */
extern const op_def op_def_CastLike;
static void test_castlike(void) {
    int64_t n = 3;
    double x[] = {1.5, -2.5, 1e10};
    int8_t like = 0;
    cv_tensor tx = tt(CV_F64, 1, &n, x), tl = tt(CV_I8, 0, NULL, &like), o;
    memset(&o, 0, sizeof o);
    const cv_tensor *in[2] = {&tx, &tl};
    cv_tensor *outp[1] = {&o};
    tnode t;
    tn_init(&t, OP_Cast, 15);
    t.n.op_type = "CastLike";
    op_call c = {.node = &t.n, .ctx = g_ctx, .n_in = 2, .n_out = 1, .in = in, .out = outp, .threads = 1, .fast = 0};
    const op_def *d = &op_def_CastLike;
    CHECK(d->infer(&c) == CLEAVE_OK && o.dtype == CV_I8 && o.ndim == 1);
    CHECK(d->prepare(&c) == CLEAVE_OK);
    int8_t y[3] = {0};
    o.data = y;
    CHECK(d->run(&c) == CLEAVE_OK);
    CHECK(y[0] == 1 && y[1] == -2 && y[2] == 127);
    d->release(c.state);
}

int main(void) {
    cleave_ctx_create(&g_ctx);
    test_broadcast_sweep();
    test_integer_semantics();
    test_variadic_where_legacy();
    test_unary_math();
    test_sigmoid_range();
    test_unary_int_clip();
    test_cast();
    test_castlike();
    cleave_ctx_destroy(g_ctx);
    return check_summary("test_elementwise");
}
