/* Unit tests for conv.c and pool.c: Conv / ConvTranspose through hand-built
 * op_calls (every kernel path: im2col+SGEMM, 1x1, direct depthwise, col2im;
 * weights constant at prepare and not; 1, 2 threads; groups, strides,
 * dilations, pads, auto_pad, fused ReLU) against naive loops in double,
 * tolerance 1e-4 abs + 1e-4 rel; pool corner cases; invalid attributes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ops/op.h"

static cleave_ctx *g_ctx;

typedef struct tnode {
    ir_node n;
    ir_attr a[10];
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
static void tn_ints(tnode *t, const char *name, const int64_t *v, int n) {
    ir_attr *a = &t->a[t->n.n_attrs++];
    a->name = name, a->kind = IR_ATTR_INTS, a->ints = v, a->n = n;
}
static void tn_str(tnode *t, const char *name, const char *s) {
    ir_attr *a = &t->a[t->n.n_attrs++];
    a->name = name, a->kind = IR_ATTR_STRING, a->s = s, a->s_len = strlen(s);
}

static cv_tensor tt(cv_dtype dt, int ndim, const int64_t *dims, void *data) {
    cv_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dt, t.ndim = ndim, t.data = data;
    for (int i = 0; i < ndim; i++)
        t.dims[i] = dims[i];
    return t;
}

/* infer + prepare + run; inputs outside const_mask are shape-only until run.
 * Outputs are allocated from the inferred shapes. */
static cleave_status call_op(int op, tnode *t, int n_in, cv_tensor *in, int n_out, cv_tensor *out,
                             int threads, unsigned const_mask) {
    const op_def *d = op_get(op);
    const cv_tensor *inp[4];
    cv_tensor *outp[4], shape_in[4];
    for (int k = 0; k < n_in; k++) {
        shape_in[k] = in[k];
        if (!(const_mask >> k & 1)) shape_in[k].data = NULL;
        inp[k] = in[k].dtype ? &shape_in[k] : NULL;
    }
    for (int k = 0; k < n_out; k++)
        outp[k] = &out[k];
    op_call c = {.node = &t->n, .ctx = g_ctx, .n_in = n_in, .n_out = n_out, .in = inp, .out = outp, .threads = threads, .fast = 0};
    cleave_ctx_clear_error(g_ctx);
    cleave_status st = d->infer(&c);
    if (st) return st;
    if (d->prepare && (st = d->prepare(&c))) return st;
    for (int k = 0; k < n_in; k++)
        shape_in[k].data = in[k].data;
    for (int k = 0; k < n_out; k++)
        out[k].data = calloc((size_t)cv_numel(&out[k]) + 1, 8);
    if (c.scratch_bytes) c.scratch = cv_aligned_alloc(c.scratch_bytes);
    st = d->run(&c);
    cv_aligned_free(c.scratch);
    if (d->release) d->release(c.state);
    return st;
}

static unsigned g_seed = 7;
static float *rnd(int64_t n) {
    float *p = (float *)malloc((size_t)(n ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) {
        g_seed = g_seed * 1103515245u + 12345u;
        p[i] = (float)((g_seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
    return p;
}

/* A conv case: up to 3 spatial dims; geometry in ONNX attribute form. */
typedef struct ccase {
    int nsp;
    int64_t N, C, M, group, in[3], k[3], s[3], d[3], pads[6], out_pad[3];
    int bias, relu, transpose;
} ccase;

/* Naive reference over 3 spatial dims (missing dims have size 1). Conv:
 * y[o] += w * x[o*s - pb + k*d]; ConvTranspose: y[i*s - pb + k*d] += w * x[i]. */
static void ref_conv(const ccase *cs, const float *x, const float *w, const float *b,
                     const int64_t *outd, double *y) {
    int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, d[3] = {1, 1, 1};
    int64_t pb[3] = {0, 0, 0}, out[3] = {1, 1, 1};
    for (int i = 0; i < cs->nsp; i++) {
        int j = 3 - cs->nsp + i;
        in[j] = cs->in[i], k[j] = cs->k[i], s[j] = cs->s[i], d[j] = cs->d[i];
        pb[j] = cs->pads[i], out[j] = outd[2 + i];
    }
    const int64_t Cg = cs->C / cs->group, Mg = cs->M / cs->group;
    const int64_t isz = in[0] * in[1] * in[2], osz = out[0] * out[1] * out[2];
    const int64_t ksz = k[0] * k[1] * k[2];
    for (int64_t n = 0; n < cs->N; n++)
        for (int64_t m = 0; m < cs->M; m++)
            for (int64_t q = 0; q < osz; q++)
                y[(n * cs->M + m) * osz + q] = b ? b[m] : 0.0;
    for (int64_t n = 0; n < cs->N; n++)
        for (int64_t m = 0; m < cs->M; m++)
            for (int64_t cg = 0; cg < Cg; cg++) {
                int64_t g = m / Mg, c = g * Cg + cg;
                const float *wk =
                    cs->transpose ? w + (c * Mg + m % Mg) * ksz : w + (m * Cg + cg) * ksz;
                int64_t A[3], P[3];
                const int64_t *lim = cs->transpose ? in : out, *oth = cs->transpose ? out : in;
                for (A[0] = 0; A[0] < lim[0]; A[0]++)
                    for (A[1] = 0; A[1] < lim[1]; A[1]++)
                        for (A[2] = 0; A[2] < lim[2]; A[2]++)
                            for (int64_t kz = 0; kz < k[0]; kz++)
                                for (int64_t ky = 0; ky < k[1]; ky++)
                                    for (int64_t kx = 0; kx < k[2]; kx++) {
                                        int64_t kv[3] = {kz, ky, kx}, ok = 1;
                                        for (int j = 0; j < 3; j++) {
                                            P[j] = A[j] * s[j] - pb[j] + kv[j] * d[j];
                                            ok &= P[j] >= 0 && P[j] < oth[j];
                                        }
                                        if (!ok) continue;
                                        int64_t ai = (A[0] * lim[1] + A[1]) * lim[2] + A[2];
                                        int64_t pi = (P[0] * oth[1] + P[1]) * oth[2] + P[2];
                                        double wv = wk[(kz * k[1] + ky) * k[2] + kx];
                                        if (cs->transpose)
                                            y[(n * cs->M + m) * osz + pi] +=
                                                wv * x[(n * cs->C + c) * isz + ai];
                                        else
                                            y[(n * cs->M + m) * osz + ai] +=
                                                wv * x[(n * cs->C + c) * isz + pi];
                                    }
            }
    if (cs->relu)
        for (int64_t i = 0; i < cs->N * cs->M * osz; i++)
            y[i] = y[i] > 0 ? y[i] : 0;
}

/* Runs one case (const and runtime weights, 1 and 2 threads); returns the
 * number of wrong elements, -1 on a failed call. */
static int run_conv(const ccase *cs) {
    int64_t xd[5] = {cs->N, cs->C}, wd[5], bd[1] = {cs->M};
    if (cs->transpose)
        wd[0] = cs->C, wd[1] = cs->M / cs->group;
    else
        wd[0] = cs->M, wd[1] = cs->C / cs->group;
    for (int i = 0; i < cs->nsp; i++)
        xd[2 + i] = cs->in[i], wd[2 + i] = cs->k[i];
    int nd = cs->nsp + 2;
    float *x = rnd(cv_shape_numel(nd, xd)), *w = rnd(cv_shape_numel(nd, wd)), *b = rnd(cs->M);
    int bad = 0;
    for (int mode = 0; mode < 4; mode++) {
        tnode t;
        tn_init(&t, cs->transpose ? "ConvTranspose" : "Conv",
                cs->transpose ? OP_ConvTranspose : OP_Conv);
        tn_ints(&t, "strides", cs->s, cs->nsp);
        tn_ints(&t, "dilations", cs->d, cs->nsp);
        tn_ints(&t, "pads", cs->pads, 2 * cs->nsp);
        tn_int(&t, "group", cs->group);
        if (cs->transpose) tn_ints(&t, "output_padding", cs->out_pad, cs->nsp);
        if (cs->relu) t.n.act.kind = IR_ACT_RELU;
        cv_tensor in[3] = {tt(CV_F32, nd, xd, x), tt(CV_F32, nd, wd, w), tt(CV_F32, 1, bd, b)};
        if (!cs->bias) in[2].dtype = CV_UNDEF;
        cv_tensor out = {0};
        unsigned mask = mode & 1 ? 6u : 0u; /* W and B known at prepare */
        if (call_op(t.n.op, &t, 3, in, 1, &out, 1 + (mode >> 1), mask) != CLEAVE_OK) {
            fprintf(stderr, "call failed: %s\n", cleave_ctx_error(g_ctx));
            bad = -1;
            break;
        }
        for (int i = 0; i < cs->nsp; i++) {
            int64_t ext = (cs->k[i] - 1) * cs->d[i] + 1, pads = cs->pads[i] + cs->pads[cs->nsp + i];
            int64_t want = cs->transpose ? cs->s[i] * (cs->in[i] - 1) + cs->out_pad[i] + ext - pads
                                         : (cs->in[i] + pads - ext) / cs->s[i] + 1;
            if (out.dims[2 + i] != want) bad++;
        }
        int64_t n = cv_numel(&out);
        double *ref = (double *)malloc((size_t)n * sizeof(double));
        ref_conv(cs, x, w, cs->bias ? b : NULL, out.dims, ref);
        const float *y = (const float *)out.data;
        for (int64_t i = 0; i < n; i++)
            if (fabs(y[i] - ref[i]) > 1e-4 + 1e-4 * fabs(ref[i])) {
                if (bad < 3)
                    fprintf(stderr, "  [%lld] %g vs %g (mode %d)\n", (long long)i, y[i], ref[i],
                            mode);
                bad++;
            }
        free(ref);
        free(out.data);
    }
    free(x), free(w), free(b);
    return bad;
}

static void test_conv_paths(void) {
    /* im2col + SGEMM: groups, strides, dilations, asymmetric pads, ReLU */
    ccase a = {2, 2, 6, 8, 2, {9, 11}, {3, 3}, {2, 1}, {1, 2}, {1, 0, 2, 1}, {0}, 1, 1, 0};
    CHECK(run_conv(&a) == 0);
    /* depth > KC (several SGEMM depth blocks), M > MC */
    ccase b = {2, 1, 64, 150, 1, {10, 12}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, {0}, 1, 0, 0};
    CHECK(run_conv(&b) == 0);
    /* 1x1 stride 1 (no im2col) */
    ccase c = {2, 2, 16, 24, 1, {7, 5}, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}, {0}, 1, 1, 0};
    CHECK(run_conv(&c) == 0);
    /* 1x1 stride 2 goes through im2col */
    ccase c2 = {2, 1, 5, 7, 1, {8, 9}, {1, 1}, {2, 2}, {1, 1}, {0, 0, 0, 0}, {0}, 0, 0, 0};
    CHECK(run_conv(&c2) == 0);
    /* depthwise with channel multiplier 2 (direct kernel) */
    ccase d = {2, 2, 8, 16, 8, {9, 10}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, {0}, 1, 1, 0};
    CHECK(run_conv(&d) == 0);
    ccase d2 = {2, 1, 4, 4, 4, {12, 13}, {5, 3}, {1, 3}, {2, 1}, {4, 1, 2, 0}, {0}, 0, 0, 0};
    CHECK(run_conv(&d2) == 0);
    /* 1-D: GEMM and direct */
    ccase e = {1, 2, 3, 4, 1, {20}, {5}, {2}, {2}, {2, 1}, {0}, 1, 0, 0};
    CHECK(run_conv(&e) == 0);
    ccase e2 = {1, 1, 3, 6, 3, {17}, {4}, {1}, {1}, {0, 3}, {0}, 1, 1, 0};
    CHECK(run_conv(&e2) == 0);
    /* 3-D */
    ccase f = {3,   2, 2, 3, 1, {5, 6, 7}, {3, 2, 3}, {1, 2, 2}, {1, 1, 2}, {1, 0, 2, 0, 1, 1},
               {0}, 1, 0, 0};
    CHECK(run_conv(&f) == 0);
    ccase f2 = {3, 1, 4, 4, 2, {4, 5, 6}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}, {0}, {0}, 0, 1, 0};
    CHECK(run_conv(&f2) == 0);
}

static void test_convtranspose_paths(void) {
    ccase a = {2, 2, 4, 6, 2, {5, 6}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, 1, 1};
    CHECK(run_conv(&a) == 0);
    ccase b = {2, 1, 3, 2, 1, {4, 5}, {3, 2}, {3, 2}, {2, 1}, {0, 1, 2, 0}, {0, 1}, 0, 0, 1};
    CHECK(run_conv(&b) == 0);
    /* 1x1 stride 1: the SGEMM writes the output directly */
    ccase c = {2, 2, 6, 4, 1, {5, 7}, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}, {0, 0}, 1, 1, 1};
    CHECK(run_conv(&c) == 0);
    ccase d = {1, 1, 2, 3, 1, {9}, {4}, {2}, {1}, {1, 2}, {1}, 1, 0, 1};
    CHECK(run_conv(&d) == 0);
    ccase e = {3,         1,         2,         2,         1,
               {3, 4, 3}, {2, 3, 2}, {2, 1, 2}, {1, 1, 1}, {0, 1, 0, 0, 1, 1},
               {1, 0, 0}, 1,         0,         1};
    CHECK(run_conv(&e) == 0);
}

/* auto_pad shapes, output_shape, and the errors infer must report. */
static void test_conv_attrs(void) {
    int64_t xd[4] = {1, 2, 7, 8}, wd[4] = {3, 2, 3, 3}, s2[2] = {2, 2};
    float *x = rnd(112), *w = rnd(54);
    const char *modes[3] = {"SAME_UPPER", "SAME_LOWER", "VALID"};
    const int64_t expect[3][2] = {{4, 4}, {4, 4}, {3, 3}};
    for (int m = 0; m < 3; m++) {
        tnode t;
        tn_init(&t, "Conv", OP_Conv);
        tn_str(&t, "auto_pad", modes[m]);
        tn_ints(&t, "strides", s2, 2);
        cv_tensor in[2] = {tt(CV_F32, 4, xd, x), tt(CV_F32, 4, wd, w)}, out = {0};
        CHECK(call_op(OP_Conv, &t, 2, in, 1, &out, 1, 2) == CLEAVE_OK);
        CHECK(out.dims[2] == expect[m][0] && out.dims[3] == expect[m][1]);
        free(out.data);
    }
    /* SAME_UPPER puts the odd pad at the end: output (0,0) sees x[0..1][0..1] */
    {
        int64_t x1[4] = {1, 1, 4, 4}, w1[4] = {1, 1, 3, 3};
        float xv[16], wv[9];
        for (int i = 0; i < 16; i++)
            xv[i] = (float)i;
        for (int i = 0; i < 9; i++)
            wv[i] = 1.0f;
        tnode t;
        tn_init(&t, "Conv", OP_Conv);
        tn_str(&t, "auto_pad", "SAME_UPPER");
        tn_ints(&t, "strides", s2, 2);
        cv_tensor in[2] = {tt(CV_F32, 4, x1, xv), tt(CV_F32, 4, w1, wv)}, out = {0};
        CHECK(call_op(OP_Conv, &t, 2, in, 1, &out, 1, 2) == CLEAVE_OK);
        CHECK_NEAR(((float *)out.data)[0], 0 + 1 + 2 + 4 + 5 + 6 + 8 + 9 + 10, 1e-5, 0);
        free(out.data);
    }
    /* ConvTranspose output_shape */
    {
        int64_t x1[4] = {1, 1, 3, 3}, w1[4] = {1, 2, 3, 3}, os[2] = {10, 8}, st[2] = {3, 2};
        tnode t;
        tn_init(&t, "ConvTranspose", OP_ConvTranspose);
        tn_ints(&t, "output_shape", os, 2);
        tn_ints(&t, "strides", st, 2);
        cv_tensor in[2] = {tt(CV_F32, 4, x1, x), tt(CV_F32, 4, w1, w)}, out = {0};
        CHECK(call_op(OP_ConvTranspose, &t, 2, in, 1, &out, 1, 2) == CLEAVE_OK);
        CHECK(out.dims[1] == 2 && out.dims[2] == 10 && out.dims[3] == 8);
        free(out.data);
    }
    /* errors */
    {
        tnode t;
        tn_init(&t, "Conv", OP_Conv);
        tn_int(&t, "group", 3);
        cv_tensor in[2] = {tt(CV_F32, 4, xd, x), tt(CV_F32, 4, wd, w)}, out = {0};
        CHECK(call_op(OP_Conv, &t, 2, in, 1, &out, 1, 2) == CLEAVE_E_INVALID);
        int64_t ks[2] = {2, 2};
        tn_init(&t, "Conv", OP_Conv);
        tn_ints(&t, "kernel_shape", ks, 2);
        CHECK(call_op(OP_Conv, &t, 2, in, 1, &out, 1, 2) == CLEAVE_E_INVALID);
        tn_init(&t, "Conv", OP_Conv);
        tn_str(&t, "auto_pad", "SAME");
        CHECK(call_op(OP_Conv, &t, 2, in, 1, &out, 1, 2) == CLEAVE_E_INVALID);
        int64_t big[4] = {1, 2, 2, 2};
        in[0] = tt(CV_F32, 4, big, x);
        tn_init(&t, "Conv", OP_Conv);
        CHECK(call_op(OP_Conv, &t, 2, in, 1, &out, 1, 2) == CLEAVE_E_INVALID);
        in[0] = tt(CV_I32, 4, xd, x);
        CHECK(call_op(OP_Conv, &t, 2, in, 1, &out, 1, 2) == CLEAVE_E_UNSUPPORTED);
    }
    free(x), free(w);
}

static void test_pool(void) {
    /* ceil_mode: a last window starting in the end padding is dropped */
    int64_t xd[4] = {1, 1, 1, 6}, k[2] = {1, 2}, s[2] = {1, 2}, p[4] = {0, 0, 0, 1};
    float xv[6] = {1, 5, 2, 3, 9, 4};
    tnode t;
    tn_init(&t, "MaxPool", OP_MaxPool);
    tn_ints(&t, "kernel_shape", k, 2), tn_ints(&t, "strides", s, 2), tn_ints(&t, "pads", p, 4);
    tn_int(&t, "ceil_mode", 1);
    cv_tensor in[1] = {tt(CV_F32, 4, xd, xv)}, out[2] = {{0}, {0}};
    CHECK(call_op(OP_MaxPool, &t, 1, in, 2, out, 1, 1) == CLEAVE_OK);
    CHECK(out[0].dims[3] == 3);
    CHECK(((float *)out[0].data)[1] == 3.0f && ((int64_t *)out[1].data)[2] == 4);
    free(out[0].data), free(out[1].data);
    /* average with and without the pad in the divisor; 2 threads */
    int64_t xd2[4] = {3, 5, 6, 7}, k2[2] = {3, 3}, p2[4] = {1, 1, 1, 1};
    float *x = rnd(3 * 5 * 42);
    for (int inc = 0; inc < 2; inc++) {
        tn_init(&t, "AveragePool", OP_AveragePool);
        tn_ints(&t, "kernel_shape", k2, 2), tn_ints(&t, "pads", p2, 4);
        tn_int(&t, "count_include_pad", inc);
        in[0] = tt(CV_F32, 4, xd2, x);
        CHECK(call_op(OP_AveragePool, &t, 1, in, 1, out, 2, 1) == CLEAVE_OK);
        const float *y = (const float *)out[0].data;
        /* plane 7, corner (0,0): taps (0..1, 0..1) */
        const float *xp = x + 7 * 42;
        double sum = xp[0] + xp[1] + xp[7] + xp[8];
        CHECK_NEAR(y[7 * 42], sum / (inc ? 9 : 4), 1e-5, 1e-5);
        /* interior (3, 3) */
        double s9 = 0;
        for (int a = 2; a <= 4; a++)
            for (int b = 2; b <= 4; b++)
                s9 += xp[a * 7 + b];
        CHECK_NEAR(y[7 * 42 + 3 * 7 + 3], s9 / 9, 1e-5, 1e-5);
        free(out[0].data);
    }
    free(x);
    /* kernel_shape missing -> invalid */
    tn_init(&t, "MaxPool", OP_MaxPool);
    CHECK(call_op(OP_MaxPool, &t, 1, in, 1, out, 1, 1) == CLEAVE_E_INVALID);
}

int main(void) {
    cleave_ctx_create(&g_ctx);
    test_conv_paths();
    test_convtranspose_paths();
    test_conv_attrs();
    test_pool();
    cleave_ctx_destroy(g_ctx);
    return check_summary("test_conv");
}
