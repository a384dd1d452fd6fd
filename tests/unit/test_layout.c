/* Unit tests for the shape.c, layout.c and resize.c op families: hand-built
 * op_calls (fake ir_node, cv_tensors) through infer/prepare/run. Data
 * movement is checked exactly against hand-computed values or naive index
 * loops (every element size 1/2/4/8); Resize against a port of the ONNX
 * reference's nested 1-D interpolation in double (tolerance 1e-5 abs +
 * 1e-5 rel), plus invalid and unsupported attribute cases. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ops/op.h"

static cleave_ctx *g_ctx;

typedef struct tnode {
    ir_node n;
    ir_attr a[12];
} tnode;

static void tn_init(tnode *t, const char *op, int opset) {
    memset(t, 0, sizeof *t);
    t->n.name = "t";
    t->n.op_type = op;
    t->n.domain = "";
    t->n.opset = opset;
    t->n.attrs = t->a;
}
static ir_attr *tn_add(tnode *t, const char *name, ir_attr_kind k) {
    ir_attr *a = &t->a[t->n.n_attrs++];
    a->name = name, a->kind = k;
    return a;
}
static void tn_int(tnode *t, const char *name, int64_t v) {
    tn_add(t, name, IR_ATTR_INT)->i = v;
}
static void tn_float(tnode *t, const char *name, float v) {
    tn_add(t, name, IR_ATTR_FLOAT)->f = v;
}
static void tn_ints(tnode *t, const char *name, const int64_t *v, int n) {
    ir_attr *a = tn_add(t, name, IR_ATTR_INTS);
    a->ints = v, a->n = n;
}
static void tn_str(tnode *t, const char *name, const char *s) {
    ir_attr *a = tn_add(t, name, IR_ATTR_STRING);
    a->s = s, a->s_len = strlen(s);
}
static void tn_tensor(tnode *t, const char *name, cv_tensor *v) {
    ir_attr *a = tn_add(t, name, IR_ATTR_TENSOR);
    a->tensors = v, a->n = 1;
}

static cv_tensor tt(cv_dtype dt, int ndim, const int64_t *dims, void *data) {
    cv_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dt, t.ndim = ndim, t.data = data;
    for (int i = 0; i < ndim; i++)
        t.dims[i] = dims[i];
    return t;
}

static cleave_status call_op(int op, tnode *t, int n_in, const cv_tensor **in, int n_out,
                             cv_tensor *out, int threads) {
    const op_def *d = op_get(op);
    cv_tensor *outp[8];
    for (int k = 0; k < n_out; k++) {
        memset(&out[k], 0, sizeof out[k]);
        outp[k] = &out[k];
    }
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
    for (int k = 0; k < n; k++) {
        free(out[k].data);
        out[k].data = NULL;
    }
}

static int shape_is(const cv_tensor *t, int ndim, const int64_t *dims) {
    if (t->ndim != ndim) return 0;
    for (int i = 0; i < ndim; i++)
        if (t->dims[i] != dims[i]) return 0;
    return 1;
}

static int ints_are(const cv_tensor *t, const int64_t *v, int64_t n) {
    if (cv_numel(t) != n) return 0;
    for (int64_t i = 0; i < n; i++)
        if (cv_get_i64(t, i) != v[i]) return 0;
    return 1;
}

static float frand(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* ================= shape.c */

static void test_reshape_family(void) {
    float x[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)i;
    int64_t xd[] = {2, 3, 4}, sd[] = {3}, s1[] = {0, -1, 2}, s2[] = {-1, -1, 2};
    cv_tensor X = tt(CV_F32, 3, xd, x), S = tt(CV_I64, 1, sd, s1), Y;
    const cv_tensor *in[] = {&X, &S};
    tnode t;
    tn_init(&t, "Reshape", 14);
    CHECK(call_op(OP_Reshape, &t, 2, in, 1, &Y, 1) == CLEAVE_OK);
    CHECK(shape_is(&Y, 3, (int64_t[]){2, 6, 2}) && memcmp(Y.data, x, sizeof x) == 0);
    free_outs(&Y, 1);
    S.data = s2;
    CHECK(call_op(OP_Reshape, &t, 2, in, 1, &Y, 1) == CLEAVE_E_INVALID);
    /* allowzero: a 0 stays 0 (input with a zero dim) */
    int64_t zd[] = {0, 3}, za[] = {3, 0};
    cv_tensor Z = tt(CV_F32, 2, zd, x), SZ = tt(CV_I64, 1, (int64_t[]){2}, za);
    const cv_tensor *inz[] = {&Z, &SZ};
    tn_int(&t, "allowzero", 1);
    CHECK(call_op(OP_Reshape, &t, 2, inz, 1, &Y, 1) == CLEAVE_OK);
    CHECK(shape_is(&Y, 2, (int64_t[]){3, 0}));
    free_outs(&Y, 1);
    /* shape not known at compile time */
    S.data = NULL;
    tn_init(&t, "Reshape", 14);
    CHECK(call_op(OP_Reshape, &t, 2, in, 1, &Y, 1) == CLEAVE_E_UNSUPPORTED);
    S.data = s1;

    tn_init(&t, "Flatten", 13);
    tn_int(&t, "axis", -1);
    CHECK(call_op(OP_Flatten, &t, 1, in, 1, &Y, 1) == CLEAVE_OK);
    CHECK(shape_is(&Y, 2, (int64_t[]){6, 4}));
    free_outs(&Y, 1);
    tn_init(&t, "Flatten", 13);
    tn_int(&t, "axis", 0);
    CHECK(call_op(OP_Flatten, &t, 1, in, 1, &Y, 1) == CLEAVE_OK);
    CHECK(shape_is(&Y, 2, (int64_t[]){1, 24}));
    free_outs(&Y, 1);

    /* Squeeze: all size-1 dims when no axes; named axes from input (13) */
    int64_t qd[] = {1, 3, 1, 2}, qa[] = {-2};
    cv_tensor Q = tt(CV_U8, 4, qd, x), QA = tt(CV_I64, 1, (int64_t[]){1}, qa);
    const cv_tensor *inq[] = {&Q, &QA};
    tn_init(&t, "Squeeze", 13);
    CHECK(call_op(OP_Squeeze, &t, 1, inq, 1, &Y, 1) == CLEAVE_OK);
    CHECK(shape_is(&Y, 2, (int64_t[]){3, 2}) && memcmp(Y.data, x, 6) == 0);
    free_outs(&Y, 1);
    CHECK(call_op(OP_Squeeze, &t, 2, inq, 1, &Y, 1) == CLEAVE_OK);
    CHECK(shape_is(&Y, 3, (int64_t[]){1, 3, 2}));
    free_outs(&Y, 1);
    qa[0] = 1; /* size 3: cannot squeeze */
    CHECK(call_op(OP_Squeeze, &t, 2, inq, 1, &Y, 1) == CLEAVE_E_INVALID);

    /* Unsqueeze: attribute (opset 11), input with unsorted negative axes (13) */
    int64_t ua[] = {3, 0};
    tn_init(&t, "Unsqueeze", 11);
    tn_ints(&t, "axes", ua, 2);
    CHECK(call_op(OP_Unsqueeze, &t, 1, in, 1, &Y, 1) == CLEAVE_OK);
    CHECK(shape_is(&Y, 5, (int64_t[]){1, 2, 3, 1, 4}));
    free_outs(&Y, 1);
    int64_t ub[] = {-1, 1};
    cv_tensor UA = tt(CV_I64, 1, (int64_t[]){2}, ub);
    const cv_tensor *inu[] = {&X, &UA};
    tn_init(&t, "Unsqueeze", 13);
    CHECK(call_op(OP_Unsqueeze, &t, 2, inu, 1, &Y, 1) == CLEAVE_OK);
    CHECK(shape_is(&Y, 5, (int64_t[]){2, 1, 3, 4, 1}));
    free_outs(&Y, 1);
    ub[0] = 1; /* repeated */
    CHECK(call_op(OP_Unsqueeze, &t, 2, inu, 1, &Y, 1) == CLEAVE_E_INVALID);
    CHECK(op_get(OP_Reshape)->flags & OP_F_VIEW);
}

static void test_shape_size(void) {
    int64_t xd[] = {3, 4, 5, 6};
    cv_tensor X = tt(CV_F32, 4, xd, NULL), Y; /* shape-only: no data */
    const cv_tensor *in[] = {&X};
    tnode t;
    tn_init(&t, "Shape", 15);
    CHECK(call_op(OP_Shape, &t, 1, in, 1, &Y, 1) == CLEAVE_OK);
    CHECK(Y.dtype == CV_I64 && ints_are(&Y, xd, 4));
    free_outs(&Y, 1);
    tn_int(&t, "start", -3);
    tn_int(&t, "end", -1);
    CHECK(call_op(OP_Shape, &t, 1, in, 1, &Y, 1) == CLEAVE_OK);
    CHECK(ints_are(&Y, (int64_t[]){4, 5}, 2));
    free_outs(&Y, 1);
    tn_init(&t, "Shape", 15);
    tn_int(&t, "start", 10);
    CHECK(call_op(OP_Shape, &t, 1, in, 1, &Y, 1) == CLEAVE_OK);
    CHECK(cv_numel(&Y) == 0);
    free_outs(&Y, 1);
    tn_init(&t, "Size", 13);
    CHECK(call_op(OP_Size, &t, 1, in, 1, &Y, 1) == CLEAVE_OK);
    CHECK(Y.ndim == 0 && ints_are(&Y, (int64_t[]){360}, 1));
    free_outs(&Y, 1);
    CHECK(op_get(OP_Shape)->flags & OP_F_SHAPE_ONLY);
}

static void test_constants(void) {
    cv_tensor Y;
    tnode t;
    int64_t iv[] = {5, -7, 9};
    tn_init(&t, "Constant", 13);
    tn_ints(&t, "value_ints", iv, 3);
    CHECK(call_op(OP_Constant, &t, 0, NULL, 1, &Y, 1) == CLEAVE_OK);
    CHECK(Y.dtype == CV_I64 && Y.ndim == 1 && ints_are(&Y, iv, 3));
    free_outs(&Y, 1);
    tn_init(&t, "Constant", 13);
    tn_float(&t, "value_float", 2.5f);
    CHECK(call_op(OP_Constant, &t, 0, NULL, 1, &Y, 1) == CLEAVE_OK);
    CHECK(Y.dtype == CV_F32 && Y.ndim == 0 && *(float *)Y.data == 2.5f);
    free_outs(&Y, 1);
    int16_t hv[] = {1, -2, 3, -4};
    cv_tensor V = tt(CV_I16, 2, (int64_t[]){2, 2}, hv);
    tn_init(&t, "Constant", 13);
    tn_tensor(&t, "value", &V);
    CHECK(call_op(OP_Constant, &t, 0, NULL, 1, &Y, 1) == CLEAVE_OK);
    CHECK(Y.dtype == CV_I16 && shape_is(&Y, 2, V.dims) && memcmp(Y.data, hv, sizeof hv) == 0);
    free_outs(&Y, 1);
    tn_init(&t, "Constant", 13);
    tn_add(&t, "sparse_value", IR_ATTR_SPARSE_TENSOR);
    CHECK(call_op(OP_Constant, &t, 0, NULL, 1, &Y, 1) == CLEAVE_E_UNSUPPORTED);

    /* ConstantOfShape: int32 value, and default float 0 */
    int64_t shp[] = {2, 3};
    int32_t one = 7;
    cv_tensor S = tt(CV_I64, 1, (int64_t[]){2}, shp), OV = tt(CV_I32, 1, (int64_t[]){1}, &one);
    const cv_tensor *in[] = {&S};
    tn_init(&t, "ConstantOfShape", 9);
    tn_tensor(&t, "value", &OV);
    CHECK(call_op(OP_ConstantOfShape, &t, 1, in, 1, &Y, 1) == CLEAVE_OK);
    CHECK(Y.dtype == CV_I32 && shape_is(&Y, 2, shp));
    CHECK(ints_are(&Y, (int64_t[]){7, 7, 7, 7, 7, 7}, 6));
    free_outs(&Y, 1);
    tn_init(&t, "ConstantOfShape", 9);
    CHECK(call_op(OP_ConstantOfShape, &t, 1, in, 1, &Y, 1) == CLEAVE_OK);
    CHECK(Y.dtype == CV_F32 && ((float *)Y.data)[5] == 0.0f);
    free_outs(&Y, 1);
    shp[1] = -1;
    CHECK(call_op(OP_ConstantOfShape, &t, 1, in, 1, &Y, 1) == CLEAVE_E_INVALID);

    /* Range: int64 negative delta, float, empty */
    int64_t a = 10, b = 1, d = -4;
    cv_tensor A = tt(CV_I64, 0, NULL, &a), B = tt(CV_I64, 0, NULL, &b), D = tt(CV_I64, 0, NULL, &d);
    const cv_tensor *rin[] = {&A, &B, &D};
    tn_init(&t, "Range", 11);
    CHECK(call_op(OP_Range, &t, 3, rin, 1, &Y, 1) == CLEAVE_OK);
    CHECK(ints_are(&Y, (int64_t[]){10, 6, 2}, 3));
    free_outs(&Y, 1);
    d = 1;
    CHECK(call_op(OP_Range, &t, 3, rin, 1, &Y, 1) == CLEAVE_OK);
    CHECK(Y.ndim == 1 && Y.dims[0] == 0);
    free_outs(&Y, 1);
    d = 0;
    CHECK(call_op(OP_Range, &t, 3, rin, 1, &Y, 1) == CLEAVE_E_INVALID);
    float fa = 0.5f, fb = 2.0f, fd = 0.4f;
    cv_tensor FA = tt(CV_F32, 0, NULL, &fa), FB = tt(CV_F32, 0, NULL, &fb),
              FD = tt(CV_F32, 0, NULL, &fd);
    const cv_tensor *fin[] = {&FA, &FB, &FD};
    CHECK(call_op(OP_Range, &t, 3, fin, 1, &Y, 1) == CLEAVE_OK);
    CHECK(Y.dims[0] == 4);
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(((float *)Y.data)[i], 0.5 + 0.4 * i, 1e-6, 0);
    free_outs(&Y, 1);
}

/* ================= layout.c */

/* Naive transpose of an r-D tensor of element size es. */
static void naive_transpose(const unsigned char *x, unsigned char *y, int r, const int64_t *dims,
                            const int64_t *perm, size_t es) {
    int64_t n = cv_shape_numel(r, dims), st[CV_MAX_DIMS], od[CV_MAX_DIMS];
    int64_t s = 1;
    for (int k = r - 1; k >= 0; k--)
        st[k] = s, s *= dims[k];
    for (int k = 0; k < r; k++)
        od[k] = dims[perm[k]];
    for (int64_t i = 0; i < n; i++) {
        int64_t q = i, off = 0;
        for (int k = r - 1; k >= 0; k--) {
            off += (q % od[k]) * st[perm[k]];
            q /= od[k];
        }
        memcpy(y + (size_t)i * es, x + (size_t)off * es, es);
    }
}

static void transpose_case(int r, const int64_t *dims, const int64_t *perm, cv_dtype dt,
                           int threads) {
    size_t es = cv_dtype_size(dt);
    int64_t n = cv_shape_numel(r, dims);
    unsigned char *x = malloc((size_t)n * es + 1), *want = malloc((size_t)n * es + 1);
    for (int64_t i = 0; i < (int64_t)((size_t)n * es); i++)
        x[i] = (unsigned char)(i * 7 + i / 251);
    int64_t p[CV_MAX_DIMS];
    for (int k = 0; k < r; k++)
        p[k] = perm ? perm[k] : r - 1 - k;
    naive_transpose(x, want, r, dims, p, es);
    cv_tensor X = tt(dt, r, dims, x), Y;
    const cv_tensor *in[] = {&X};
    tnode t;
    tn_init(&t, "Transpose", 13);
    if (perm) tn_ints(&t, "perm", perm, r);
    CHECK(call_op(OP_Transpose, &t, 1, in, 1, &Y, threads) == CLEAVE_OK);
    for (int k = 0; k < r; k++)
        CHECK(Y.dims[k] == dims[p[k]]);
    CHECK(memcmp(Y.data, want, (size_t)n * es) == 0);
    free_outs(&Y, 1);
    free(x);
    free(want);
}

static void test_transpose(void) {
    cv_dtype dts[] = {CV_U8, CV_F16, CV_F32, CV_I64};
    for (int i = 0; i < 4; i++) {
        transpose_case(2, (int64_t[]){33, 65}, NULL, dts[i], 1); /* 2-D fast */
        transpose_case(4, (int64_t[]){2, 3, 5, 7}, (int64_t[]){0, 2, 3, 1}, dts[i], 1); /* ->NHWC */
        transpose_case(4, (int64_t[]){2, 5, 7, 3}, (int64_t[]){0, 3, 1, 2}, dts[i], 2); /* ->NCHW */
        transpose_case(3, (int64_t[]){4, 1, 6}, (int64_t[]){1, 2, 0}, dts[i], 1);
        transpose_case(5, (int64_t[]){2, 3, 1, 4, 5}, (int64_t[]){4, 1, 0, 3, 2}, dts[i], 1);
        transpose_case(3, (int64_t[]){2, 3, 4}, (int64_t[]){0, 1, 2}, dts[i], 1);
    }
    transpose_case(4, (int64_t[]){1, 64, 40, 40}, (int64_t[]){0, 2, 3, 1}, CV_F32, 2);
    transpose_case(3, (int64_t[]){70, 30, 50}, (int64_t[]){2, 0, 1}, CV_F32, 2);
    int64_t d[] = {2, 3};
    cv_tensor X = tt(CV_F32, 2, d, (float[6]){0}), Y;
    const cv_tensor *in[] = {&X};
    tnode t;
    tn_init(&t, "Transpose", 13);
    tn_ints(&t, "perm", (int64_t[]){1, 1}, 2);
    CHECK(call_op(OP_Transpose, &t, 1, in, 1, &Y, 1) == CLEAVE_E_INVALID);
    cv_tensor S = tt(CV_STRING, 2, d, (float[6]){0});
    const cv_tensor *ins[] = {&S};
    tn_init(&t, "Transpose", 13);
    CHECK(call_op(OP_Transpose, &t, 1, ins, 1, &Y, 1) == CLEAVE_E_UNSUPPORTED);
}

/* 1-D Slice of x = 0..9 (int64) with the opset-13 inputs. */
static void slice_1d(int64_t s, int64_t e, int64_t step, const int64_t *want, int64_t n) {
    int64_t x[10];
    for (int i = 0; i < 10; i++)
        x[i] = i;
    int64_t one[] = {1}, ax = 0;
    cv_tensor X = tt(CV_I64, 1, (int64_t[]){10}, x), S = tt(CV_I64, 1, one, &s),
              E = tt(CV_I64, 1, one, &e), A = tt(CV_I64, 1, one, &ax),
              P = tt(CV_I64, 1, one, &step), Y;
    const cv_tensor *in[] = {&X, &S, &E, &A, &P};
    tnode t;
    tn_init(&t, "Slice", 13);
    CHECK(call_op(OP_Slice, &t, 5, in, 1, &Y, 1) == CLEAVE_OK);
    CHECK(ints_are(&Y, want, n));
    free_outs(&Y, 1);
}

static void test_slice(void) {
    slice_1d(-1, INT64_MIN, -1, (int64_t[]){9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, 10);
    slice_1d(8, 1, -3, (int64_t[]){8, 5, 2}, 3);
    slice_1d(2, INT64_MAX, 3, (int64_t[]){2, 5, 8}, 3);
    slice_1d(-100, 100, 1, (int64_t[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 10);
    slice_1d(5, 2, 1, NULL, 0);
    slice_1d(20, -20, -2, (int64_t[]){9, 7, 5, 3, 1}, 5);
    /* 2-D, negative axis, default steps, float32; opset 1 attributes */
    float x[12];
    for (int i = 0; i < 12; i++)
        x[i] = (float)i;
    int64_t st[] = {1}, en[] = {3}, ax[] = {-1}, one[] = {1};
    cv_tensor X = tt(CV_F32, 2, (int64_t[]){3, 4}, x), S = tt(CV_I32, 1, one, (int32_t[]){1}),
              E = tt(CV_I32, 1, one, (int32_t[]){3}), A = tt(CV_I64, 1, one, ax), Y;
    const cv_tensor *in[] = {&X, &S, &E, &A};
    tnode t;
    tn_init(&t, "Slice", 13);
    CHECK(call_op(OP_Slice, &t, 4, in, 1, &Y, 1) == CLEAVE_OK);
    float w1[] = {1, 2, 5, 6, 9, 10};
    CHECK(shape_is(&Y, 2, (int64_t[]){3, 2}) && memcmp(Y.data, w1, sizeof w1) == 0);
    free_outs(&Y, 1);
    tn_init(&t, "Slice", 1);
    tn_ints(&t, "starts", (int64_t[]){1, 0}, 2);
    tn_ints(&t, "ends", (int64_t[]){INT64_MAX, -1}, 2);
    CHECK(call_op(OP_Slice, &t, 1, in, 1, &Y, 1) == CLEAVE_OK);
    float w2[] = {4, 5, 6, 8, 9, 10};
    CHECK(shape_is(&Y, 2, (int64_t[]){2, 3}) && memcmp(Y.data, w2, sizeof w2) == 0);
    free_outs(&Y, 1);
    (void)st, (void)en;
    /* step 0 is invalid */
    int64_t z = 0;
    cv_tensor P = tt(CV_I64, 1, one, &z);
    const cv_tensor *inp[] = {&X, &S, &E, &A, &P};
    tn_init(&t, "Slice", 13);
    CHECK(call_op(OP_Slice, &t, 5, inp, 1, &Y, 1) == CLEAVE_E_INVALID);
}

/* 1-D Pad of int32 {1,2,3,4}; opset 19 inputs (constant value 9). */
static cleave_status pad_1d(const char *mode, int64_t b, int64_t e, const int32_t *want, int n,
                            int opset) {
    int32_t x[] = {1, 2, 3, 4}, v = 9;
    int64_t pads[] = {b, e};
    cv_tensor X = tt(CV_I32, 1, (int64_t[]){4}, x), P = tt(CV_I64, 1, (int64_t[]){2}, pads),
              V = tt(CV_I32, 0, NULL, &v), Y;
    const cv_tensor *in[] = {&X, &P, &V};
    tnode t;
    tn_init(&t, "Pad", opset);
    tn_str(&t, "mode", mode);
    cleave_status st = call_op(OP_Pad, &t, 3, in, 1, &Y, 1);
    if (st == CLEAVE_OK) {
        CHECK(Y.dims[0] == n && (n == 0 || memcmp(Y.data, want, sizeof(int32_t) * (size_t)n) == 0));
        free_outs(&Y, 1);
    }
    return st;
}

static void test_pad(void) {
    CHECK(pad_1d("constant", 2, 1, (int32_t[]){9, 9, 1, 2, 3, 4, 9}, 7, 19) == CLEAVE_OK);
    CHECK(pad_1d("reflect", 2, 2, (int32_t[]){3, 2, 1, 2, 3, 4, 3, 2}, 8, 19) == CLEAVE_OK);
    CHECK(pad_1d("edge", 2, 1, (int32_t[]){1, 1, 1, 2, 3, 4, 4}, 7, 19) == CLEAVE_OK);
    CHECK(pad_1d("wrap", 2, 3, (int32_t[]){3, 4, 1, 2, 3, 4, 1, 2, 3}, 9, 19) == CLEAVE_OK);
    CHECK(pad_1d("constant", -1, 2, (int32_t[]){2, 3, 4, 9, 9}, 5, 19) == CLEAVE_OK);
    CHECK(pad_1d("reflect", -1, 2, (int32_t[]){2, 3, 4, 3, 2}, 5, 19) == CLEAVE_OK);
    CHECK(pad_1d("wrap", 1, -2, (int32_t[]){2, 1, 2}, 3, 19) == CLEAVE_OK);
    CHECK(pad_1d("constant", -3, -1, NULL, 0, 19) == CLEAVE_OK);
    CHECK(pad_1d("wrap", 1, 1, NULL, 0, 13) == CLEAVE_E_UNSUPPORTED);
    CHECK(pad_1d("constant", -3, -2, NULL, 0, 13) == CLEAVE_E_INVALID);
    /* 2-D float16 with axes (opset 18): pad the last axis by (1, 2) with 0 */
    uint16_t h[6];
    for (int i = 0; i < 6; i++)
        h[i] = cv_f32_to_f16((float)(i + 1));
    int64_t pads[] = {1, 2}, axes[] = {-1};
    cv_tensor X = tt(CV_F16, 2, (int64_t[]){2, 3}, h), P = tt(CV_I64, 1, (int64_t[]){2}, pads),
              A = tt(CV_I64, 1, (int64_t[]){1}, axes), Y;
    const cv_tensor *in[] = {&X, &P, NULL, &A};
    tnode t;
    tn_init(&t, "Pad", 18);
    CHECK(call_op(OP_Pad, &t, 4, in, 1, &Y, 1) == CLEAVE_OK);
    CHECK(shape_is(&Y, 2, (int64_t[]){2, 6}));
    float w[] = {0, 1, 2, 3, 0, 0, 0, 4, 5, 6, 0, 0};
    for (int i = 0; i < 12; i++)
        CHECK(cv_f16_to_f32(((uint16_t *)Y.data)[i]) == w[i]);
    free_outs(&Y, 1);
    /* opset 2: pads/value attributes on float32, reflect on 2 axes */
    float x[] = {1, 2, 3, 4, 5, 6};
    cv_tensor XF = tt(CV_F32, 2, (int64_t[]){2, 3}, x);
    const cv_tensor *inf[] = {&XF};
    tn_init(&t, "Pad", 2);
    tn_ints(&t, "pads", (int64_t[]){1, 0, 0, 1}, 4);
    tn_float(&t, "value", -1.5f);
    CHECK(call_op(OP_Pad, &t, 1, inf, 1, &Y, 1) == CLEAVE_OK);
    float w2[] = {-1.5f, -1.5f, -1.5f, -1.5f, 1, 2, 3, -1.5f, 4, 5, 6, -1.5f};
    CHECK(shape_is(&Y, 2, (int64_t[]){3, 4}) && memcmp(Y.data, w2, sizeof w2) == 0);
    free_outs(&Y, 1);
    tn_init(&t, "Pad", 2);
    tn_str(&t, "mode", "reflect");
    tn_ints(&t, "pads", (int64_t[]){1, 2, 1, 2}, 4);
    CHECK(call_op(OP_Pad, &t, 1, inf, 1, &Y, 1) == CLEAVE_OK);
    float w3[] = {6, 5, 4, 5, 6, 5, 4, 3, 2, 1, 2, 3, 2, 1,
                  6, 5, 4, 5, 6, 5, 4, 3, 2, 1, 2, 3, 2, 1};
    CHECK(shape_is(&Y, 2, (int64_t[]){4, 7}) && memcmp(Y.data, w3, sizeof w3) == 0);
    free_outs(&Y, 1);
}

static void test_expand_tile(void) {
    uint8_t x[] = {1, 2, 3};
    int64_t shp[] = {2, 1, 4};
    cv_tensor X = tt(CV_U8, 2, (int64_t[]){3, 1}, x), S = tt(CV_I64, 1, (int64_t[]){3}, shp), Y;
    const cv_tensor *in[] = {&X, &S};
    tnode t;
    tn_init(&t, "Expand", 13);
    CHECK(call_op(OP_Expand, &t, 2, in, 1, &Y, 1) == CLEAVE_OK);
    CHECK(shape_is(&Y, 3, (int64_t[]){2, 3, 4}));
    for (int i = 0; i < 24; i++)
        CHECK(((uint8_t *)Y.data)[i] == x[(i / 4) % 3]);
    free_outs(&Y, 1);
    shp[2] = 5, shp[1] = 2; /* 3 vs 2: no broadcast */
    CHECK(call_op(OP_Expand, &t, 2, in, 1, &Y, 1) == CLEAVE_E_INVALID);

    int64_t xi[] = {1, 2, 3, 4, 5, 6}, rep[] = {2, 3};
    cv_tensor XI = tt(CV_I64, 2, (int64_t[]){2, 3}, xi), R = tt(CV_I64, 1, (int64_t[]){2}, rep);
    const cv_tensor *ti[] = {&XI, &R};
    tn_init(&t, "Tile", 13);
    CHECK(call_op(OP_Tile, &t, 2, ti, 1, &Y, 1) == CLEAVE_OK);
    CHECK(shape_is(&Y, 2, (int64_t[]){4, 9}));
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 9; j++)
            CHECK(((int64_t *)Y.data)[i * 9 + j] == xi[(i % 2) * 3 + j % 3]);
    free_outs(&Y, 1);
    rep[1] = 0;
    CHECK(call_op(OP_Tile, &t, 2, ti, 1, &Y, 1) == CLEAVE_OK);
    CHECK(shape_is(&Y, 2, (int64_t[]){4, 0}));
    free_outs(&Y, 1);
    rep[1] = -1;
    CHECK(call_op(OP_Tile, &t, 2, ti, 1, &Y, 1) == CLEAVE_E_INVALID);
}

static void test_concat_split_gather(void) {
    uint16_t a[] = {1, 2, 3, 4}, b[] = {5, 6, 7, 8, 9, 10};
    cv_tensor A = tt(CV_F16, 2, (int64_t[]){2, 2}, a), B = tt(CV_F16, 2, (int64_t[]){2, 3}, b),
              E = tt(CV_F16, 2, (int64_t[]){2, 0}, NULL), Y;
    const cv_tensor *in[] = {&A, &E, &B};
    tnode t;
    tn_init(&t, "Concat", 13);
    tn_int(&t, "axis", -1);
    CHECK(call_op(OP_Concat, &t, 3, in, 1, &Y, 1) == CLEAVE_OK);
    uint16_t w[] = {1, 2, 5, 6, 7, 3, 4, 8, 9, 10};
    CHECK(shape_is(&Y, 2, (int64_t[]){2, 5}) && memcmp(Y.data, w, sizeof w) == 0);
    free_outs(&Y, 1);
    tn_init(&t, "Concat", 13);
    tn_int(&t, "axis", 0);
    CHECK(call_op(OP_Concat, &t, 3, in, 1, &Y, 1) == CLEAVE_E_INVALID);

    /* Split: input sizes (13), num_outputs with uneven last chunk (18),
     * attribute (11), uneven equal split before 18 is invalid */
    int32_t x[14];
    for (int i = 0; i < 14; i++)
        x[i] = i;
    int64_t sp[] = {1, 2, 4};
    cv_tensor X = tt(CV_I32, 2, (int64_t[]){2, 7}, x), S = tt(CV_I64, 1, (int64_t[]){3}, sp), O[3];
    const cv_tensor *si[] = {&X, &S};
    tn_init(&t, "Split", 13);
    tn_int(&t, "axis", 1);
    CHECK(call_op(OP_Split, &t, 2, si, 3, O, 1) == CLEAVE_OK);
    CHECK(ints_are(&O[0], (int64_t[]){0, 7}, 2));
    CHECK(ints_are(&O[1], (int64_t[]){1, 2, 8, 9}, 4));
    CHECK(ints_are(&O[2], (int64_t[]){3, 4, 5, 6, 10, 11, 12, 13}, 8));
    free_outs(O, 3);
    tn_init(&t, "Split", 18);
    tn_int(&t, "axis", -1);
    tn_int(&t, "num_outputs", 3);
    CHECK(call_op(OP_Split, &t, 1, si, 3, O, 1) == CLEAVE_OK);
    CHECK(O[0].dims[1] == 3 && O[1].dims[1] == 3 && O[2].dims[1] == 1);
    CHECK(ints_are(&O[2], (int64_t[]){6, 13}, 2));
    free_outs(O, 3);
    tn_init(&t, "Split", 11);
    tn_int(&t, "axis", 1);
    tn_ints(&t, "split", (int64_t[]){5, 2}, 2);
    CHECK(call_op(OP_Split, &t, 1, si, 2, O, 1) == CLEAVE_OK);
    CHECK(ints_are(&O[1], (int64_t[]){5, 6, 12, 13}, 4));
    free_outs(O, 2);
    tn_init(&t, "Split", 13);
    tn_int(&t, "axis", 1);
    CHECK(call_op(OP_Split, &t, 1, si, 3, O, 1) == CLEAVE_E_INVALID);

    /* Gather axis 1, int32 indices with a negative one; scalar index */
    int32_t idx[] = {2, -7, 0, 6};
    cv_tensor I = tt(CV_I32, 2, (int64_t[]){2, 2}, idx);
    const cv_tensor *gi[] = {&X, &I};
    tn_init(&t, "Gather", 13);
    tn_int(&t, "axis", 1);
    CHECK(call_op(OP_Gather, &t, 2, gi, 1, &Y, 1) == CLEAVE_OK);
    CHECK(shape_is(&Y, 3, (int64_t[]){2, 2, 2}));
    CHECK(ints_are(&Y, (int64_t[]){2, 0, 0, 6, 9, 7, 7, 13}, 8));
    free_outs(&Y, 1);
    int64_t one = 1;
    cv_tensor I0 = tt(CV_I64, 0, NULL, &one);
    const cv_tensor *g0[] = {&X, &I0};
    tn_init(&t, "Gather", 13);
    CHECK(call_op(OP_Gather, &t, 2, g0, 1, &Y, 1) == CLEAVE_OK);
    CHECK(shape_is(&Y, 1, (int64_t[]){7}) && ints_are(&Y, (int64_t[]){7, 8, 9, 10, 11, 12, 13}, 7));
    free_outs(&Y, 1);
    idx[1] = 7;
    tn_init(&t, "Gather", 13);
    tn_int(&t, "axis", 1);
    CHECK(call_op(OP_Gather, &t, 2, gi, 1, &Y, 1) == CLEAVE_E_INVALID);
}

/* ================= resize.c: reference port (nested 1-D interpolation) */

enum { M_NEAREST, M_LINEAR, M_CUBIC };
static const char *const k_modes[] = {"nearest", "linear", "cubic"};
static const char *const k_cts[] = {
    "half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
    "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize"};
static const char *const k_nms[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};

typedef struct rref {
    int mode, ct, nm, excl, aa;
    double a, extrap;
} rref;

static int rref_coeffs(const rref *p, double ratio, double scale, double *c) {
    if (p->mode == M_NEAREST) {
        int is_int = ratio == 1;
        c[0] = is_int ? 0 : p->nm == 0 ? ratio <= 0.5 : p->nm == 1 ? ratio < 0.5 : p->nm == 2;
        c[1] = 1 - c[0];
        return 2;
    }
    double s = p->aa ? fmin(scale, 1.0) : 1.0, sum = 0;
    int start = p->mode == M_LINEAR ? (int)floor(-1 / s) + 1 : (int)floor(-2 / s) + 1;
    int n = 2 - 2 * start;
    for (int i = 0; i < n; i++) {
        double d = fabs(s * (start + i - ratio)), A = p->a;
        if (p->mode == M_LINEAR)
            c[i] = fmax(0, 1 - d);
        else
            c[i] = d <= 1  ? (A + 2) * d * d * d - (A + 3) * d * d + 1
                   : d < 2 ? A * d * d * d - 5 * A * d * d + 8 * A * d - 4 * A
                           : 0;
        sum += c[i];
    }
    if (p->aa)
        for (int i = 0; i < n; i++)
            c[i] /= sum;
    return n;
}

static double rref_1d(const double *data, int64_t in, double scale, int64_t out_int, double out_len,
                      double x, const rref *p, double r0, double r1) {
    double xo;
    switch (p->ct) {
    case 0: xo = (x + 0.5) / scale - 0.5; break;
    case 1: xo = in / 2.0 * (1 - out_int / out_len) + (x + 0.5) / scale - 0.5; break;
    case 2: xo = out_int > 1 ? (x + 0.5) / scale - 0.5 : 0; break;
    case 3: xo = out_len == 1 ? 0 : x * (in - 1) / (out_len - 1); break;
    case 4: xo = x / scale; break;
    case 5: xo = (x + 0.5) / scale; break;
    default:
        xo = out_len == 1 ? (r1 - r0) * (in - 1) / 2 : x * (r1 - r0) * (in - 1) / (out_len - 1);
        xo += r0 * (in - 1);
        if (xo < 0 || xo > in - 1) return p->extrap;
    }
    /* snap rounding noise (x_original within 1e-9 of an integer): the sort
     * below would otherwise shift the window by one pixel */
    if (fabs(xo - round(xo)) < 1e-9) xo = round(xo);
    double fl = floor(xo), ratio = xo == fl ? 1 : xo - fl, c[64];
    int n = rref_coeffs(p, ratio, scale, c);
    /* the n nearest indexes to xo in the edge-padded range, smaller first on ties */
    int pad = (n + 1) / 2;
    int64_t idx[64];
    int m = 0;
    for (int64_t k = -pad; k < in + pad; k++)
        idx[m++] = k;
    for (int i = 0; i < m; i++) /* selection sort by (|xo-k|, k) */
        for (int j = i + 1; j < m; j++) {
            double di = fabs(xo - (double)idx[i]), dj = fabs(xo - (double)idx[j]);
            if (dj < di || (dj == di && idx[j] < idx[i])) {
                int64_t t = idx[i];
                idx[i] = idx[j], idx[j] = t;
            }
        }
    for (int i = 0; i < n; i++) /* ascending */
        for (int j = i + 1; j < n; j++)
            if (idx[j] < idx[i]) {
                int64_t t = idx[i];
                idx[i] = idx[j], idx[j] = t;
            }
    double sum = 0, acc = 0;
    if (p->excl) {
        for (int i = 0; i < n; i++)
            if (idx[i] < 0 || idx[i] >= in) c[i] = 0;
        for (int i = 0; i < n; i++)
            sum += c[i];
        for (int i = 0; i < n; i++)
            c[i] /= sum;
    }
    for (int i = 0; i < n; i++) {
        int64_t k = idx[i] < 0 ? 0 : idx[i] >= in ? in - 1 : idx[i];
        acc += c[i] * data[k];
    }
    return acc;
}

static double rref_nd(const double *data, int r, const int64_t *dims, const double *scale,
                      const int64_t *out, const double *len, const int64_t *x, const rref *p,
                      const double *roi, int full_r) {
    if (r == 1)
        return rref_1d(data, dims[0], scale[0], out[0], len[0], (double)x[0], p, roi[0],
                       roi[full_r]);
    int64_t inner = cv_shape_numel(r - 1, dims + 1);
    double *v = malloc(sizeof(double) * (size_t)dims[0]);
    for (int64_t i = 0; i < dims[0]; i++)
        v[i] = rref_nd(data + i * inner, r - 1, dims + 1, scale + 1, out + 1, len + 1, x + 1, p,
                       roi + 1, full_r);
    double res =
        rref_1d(v, dims[0], scale[0], out[0], len[0], (double)x[0], p, roi[0], roi[full_r]);
    free(v);
    return res;
}

typedef struct rcase {
    int r;
    int64_t dims[4];
    int opset, mode, ct, nm, excl, aa;
    float a;
    int use_sizes, policy; /* policy: 0 stretch, 1 not_larger, 2 not_smaller */
    int naxes;
    int64_t axes[4];
    float scales[4];
    int64_t sizes[4];
} rcase;

static void resize_case(const rcase *rc, int threads) {
    int r = rc->r;
    int64_t n = cv_shape_numel(r, rc->dims);
    float *x = malloc(sizeof(float) * (size_t)n);
    double *xd = malloc(sizeof(double) * (size_t)n);
    unsigned s = 17;
    for (int64_t i = 0; i < n; i++)
        xd[i] = x[i] = frand(&s) * 4;
    /* full-rank scales / sizes / roi as the reference expands them */
    int na = rc->naxes ? rc->naxes : r, ax[4];
    double scale[4], len[4], roi[8];
    int64_t out[4];
    for (int k = 0; k < r; k++)
        scale[k] = 1, out[k] = rc->dims[k], roi[k] = 0, roi[k + r] = 1;
    float roif[8];
    for (int i = 0; i < na; i++) {
        ax[i] = rc->naxes ? (int)(rc->axes[i] < 0 ? rc->axes[i] + r : rc->axes[i]) : i;
        roif[i] = 0.1f * (float)(i + 1) - 0.05f, roif[i + na] = 1.2f - 0.15f * (float)i;
        roi[ax[i]] = roif[i], roi[ax[i] + r] = roif[i + na];
    }
    double common = rc->policy == 1 ? 1e30 : 0;
    for (int i = 0; i < na; i++) {
        int k = ax[i];
        if (rc->use_sizes) {
            out[k] = rc->sizes[i];
            scale[k] = (double)out[k] / (double)rc->dims[k];
            common = rc->policy == 1 ? fmin(common, scale[k]) : fmax(common, scale[k]);
        } else {
            scale[k] = rc->scales[i];
            out[k] = (int64_t)floor(scale[k] * (double)rc->dims[k]);
        }
    }
    for (int k = 0; k < r; k++)
        len[k] = rc->use_sizes ? (double)out[k] : scale[k] * rc->dims[k];
    if (rc->use_sizes && rc->policy)
        for (int i = 0; i < na; i++) {
            int k = ax[i];
            scale[k] = common;
            len[k] = common * rc->dims[k];
            out[k] = (int64_t)(common * (double)rc->dims[k] + 0.5);
        }
    cv_tensor X = tt(CV_F32, r, rc->dims, x), ROI = tt(CV_F32, 1, (int64_t[]){2 * na}, roif),
              SC = tt(CV_F32, 1, (int64_t[]){na}, (void *)rc->scales),
              SZ = tt(CV_I64, 1, (int64_t[]){na}, (void *)rc->sizes), Y;
    const cv_tensor *in[] = {&X, rc->ct == 6 ? &ROI : NULL, rc->use_sizes ? NULL : &SC,
                             rc->use_sizes ? &SZ : NULL};
    tnode t;
    tn_init(&t, "Resize", rc->opset);
    tn_str(&t, "mode", k_modes[rc->mode]);
    tn_str(&t, "coordinate_transformation_mode", k_cts[rc->ct]);
    tn_str(&t, "nearest_mode", k_nms[rc->nm]);
    tn_float(&t, "cubic_coeff_a", rc->a);
    tn_int(&t, "exclude_outside", rc->excl);
    tn_float(&t, "extrapolation_value", 10.0f);
    if (rc->aa) tn_int(&t, "antialias", 1);
    if (rc->naxes) tn_ints(&t, "axes", rc->axes, rc->naxes);
    if (rc->policy)
        tn_str(&t, "keep_aspect_ratio_policy", rc->policy == 1 ? "not_larger" : "not_smaller");
    cleave_status st = call_op(OP_Resize, &t, 4, in, 1, &Y, threads);
    CHECK(st == CLEAVE_OK);
    if (st != CLEAVE_OK) {
        fprintf(stderr, "  %s\n", cleave_ctx_error(g_ctx));
    } else {
        CHECK(shape_is(&Y, r, out));
        rref p = {rc->mode, rc->ct, rc->nm, rc->excl, rc->aa, rc->a, 10.0};
        int64_t total = cv_shape_numel(r, out), bad = 0;
        for (int64_t i = 0; i < total && shape_is(&Y, r, out); i++) {
            int64_t o[4], q = i;
            for (int k = r - 1; k >= 0; k--)
                o[k] = q % out[k], q /= out[k];
            double want = rref_nd(xd, r, rc->dims, scale, out, len, o, &p, roi, r);
            double got = ((float *)Y.data)[i];
            if (fabs(got - want) > 1e-5 + 1e-5 * fabs(want) && bad++ < 3)
                fprintf(stderr,
                        "  resize mode %s ct %s sizes %d sc %g %g: y[%lld] = %.7g, want %.7g\n",
                        k_modes[rc->mode], k_cts[rc->ct], rc->use_sizes, rc->scales[2],
                        rc->scales[3], (long long)i, got, want);
        }
        CHECK(bad == 0);
    }
    free_outs(&Y, 1);
    free(x);
    free(xd);
}

static void test_resize_sweep(void) {
    const float up[] = {1, 1, 2, 1.5f}, down[] = {1, 1, 0.6f, 0.5f}, mix[] = {1, 1, 1.7f, 0.8f};
    const float *sc[] = {up, down, mix};
    for (int m = 0; m < 3; m++)
        for (int ct = 0; ct < 7; ct++)
            for (int si = 0; si < 4; si++) {
                if (ct == 5 && m != M_NEAREST) continue; /* tf_half_pixel_for_nn: nearest */
                rcase rc = {4, {1, 2, 5, 6}, 13,  m,           ct, 0, m == M_CUBIC, 0, -0.5f, 0, 0,
                            0, {0},          {0}, {1, 2, 3, 9}};
                if (si < 3)
                    memcpy(rc.scales, sc[si], sizeof rc.scales);
                else
                    rc.use_sizes = 1;
                if (m == M_CUBIC && si == 1) rc.excl = 0, rc.a = -0.75f;
                resize_case(&rc, 1);
            }
    for (int nm = 0; nm < 4; nm++)
        for (int ct = 0; ct < 5; ct++) {
            rcase rc = {4, {1, 1, 4, 4}, 13,  M_NEAREST,   ct, nm, 0, 0, -0.75f, 1, 0,
                        0, {0},          {0}, {1, 1, 7, 3}};
            resize_case(&rc, 1);
        }
    /* N-d linear on all three axes, cubic on a 3-D tensor */
    rcase l3 = {3, {3, 4, 5}, 13,  M_LINEAR,           0,  0, 0, 0, -0.75f, 0,
                0, 0,         {0}, {2.5f, 0.5f, 1.4f}, {0}};
    resize_case(&l3, 1);
    l3.mode = M_CUBIC;
    l3.ct = 3;
    resize_case(&l3, 1);
    /* opset 18: antialias downsampling, axes + keep_aspect_ratio_policy */
    for (int m = 1; m < 3; m++)
        for (int ct = 0; ct < 3; ct++) {
            rcase aa = {4,   {1, 2, 9, 8},       18, m, ct, 0, 0, 1, -0.5f, 0, 0, 0,
                        {0}, {1, 1, 0.4f, 0.3f}, {0}};
            resize_case(&aa, 1);
            aa.use_sizes = 1, aa.naxes = 2, aa.axes[0] = 2, aa.axes[1] = 3;
            aa.sizes[0] = 4, aa.sizes[1] = 5, aa.policy = 1 + (ct & 1);
            resize_case(&aa, 1);
        }
    rcase ax = {4, {1, 3, 4, 6}, 18,           M_LINEAR, 6, 0, 0, 0, -0.75f, 0, 0,
                2, {-1, 1},      {1.5f, 2.0f}, {0}};
    resize_case(&ax, 1);
    /* threads: a larger bilinear upsample with 2 threads */
    rcase big = {4,   {1, 3, 40, 50}, 13, M_LINEAR, 0, 0, 0, 0, -0.75f, 0, 0, 0,
                 {0}, {1, 1, 2, 2},   {0}};
    resize_case(&big, 2);
}

static void test_resize_fixed(void) {
    /* ONNX doc example: linear half_pixel 2x2 -> 4x4 */
    float x[] = {1, 2, 3, 4}, sc[] = {1, 1, 2, 2};
    cv_tensor X = tt(CV_F32, 4, (int64_t[]){1, 1, 2, 2}, x), S = tt(CV_F32, 1, (int64_t[]){4}, sc),
              Y;
    const cv_tensor *in[] = {&X, NULL, &S, NULL};
    tnode t;
    tn_init(&t, "Resize", 13);
    tn_str(&t, "mode", "linear");
    CHECK(call_op(OP_Resize, &t, 4, in, 1, &Y, 1) == CLEAVE_OK);
    float w[] = {1,    1.25f, 1.75f, 2,    1.5f, 1.75f, 2.25f, 2.5f,
                 2.5f, 2.75f, 3.25f, 3.5f, 3,    3.25f, 3.75f, 4};
    for (int i = 0; i < 16; i++)
        CHECK_NEAR(((float *)Y.data)[i], w[i], 1e-6, 0);
    free_outs(&Y, 1);
    /* opset 10: asymmetric; nearest floors when upsampling, ceils when downsampling */
    int32_t xi[] = {1, 2, 3, 4};
    float s10[] = {1, 0.6f};
    cv_tensor XI = tt(CV_I32, 2, (int64_t[]){1, 4}, xi), S10 = tt(CV_F32, 1, (int64_t[]){2}, s10);
    const cv_tensor *i10[] = {&XI, &S10};
    tn_init(&t, "Resize", 10);
    CHECK(call_op(OP_Resize, &t, 2, i10, 1, &Y, 1) == CLEAVE_OK);
    CHECK(ints_are(&Y, (int64_t[]){1, 3}, 2));
    free_outs(&Y, 1);
    s10[1] = 1.5f;
    CHECK(call_op(OP_Resize, &t, 2, i10, 1, &Y, 1) == CLEAVE_OK);
    CHECK(ints_are(&Y, (int64_t[]){1, 1, 2, 3, 3, 4}, 6));
    free_outs(&Y, 1);
    /* unsupported / invalid */
    tn_init(&t, "Resize", 10);
    tn_str(&t, "mode", "linear");
    CHECK(call_op(OP_Resize, &t, 2, i10, 1, &Y, 1) == CLEAVE_E_UNSUPPORTED); /* int32 linear */
    tn_init(&t, "Resize", 13);
    tn_str(&t, "mode", "area");
    CHECK(call_op(OP_Resize, &t, 4, in, 1, &Y, 1) == CLEAVE_E_UNSUPPORTED);
    tn_init(&t, "Resize", 13);
    tn_str(&t, "coordinate_transformation_mode", "corners");
    CHECK(call_op(OP_Resize, &t, 4, in, 1, &Y, 1) == CLEAVE_E_UNSUPPORTED);
    const cv_tensor *none[] = {&X, NULL, NULL, NULL};
    tn_init(&t, "Resize", 13);
    CHECK(call_op(OP_Resize, &t, 4, none, 1, &Y, 1) == CLEAVE_E_INVALID);
    S.data = NULL; /* scales unknown at compile time */
    CHECK(call_op(OP_Resize, &t, 4, in, 1, &Y, 1) == CLEAVE_E_UNSUPPORTED);
}

int main(void) {
    cleave_ctx_create(&g_ctx);
    test_reshape_family();
    test_shape_size();
    test_constants();
    test_transpose();
    test_slice();
    test_pad();
    test_expand_tile();
    test_concat_split_gather();
    test_resize_sweep();
    test_resize_fixed();
    cleave_ctx_destroy(g_ctx);
    return check_summary("test_layout");
}
