/* qadd: QLinearAdd (com.microsoft, the op ONNX Runtime fuses a quantized
 * residual add into): C = saturate(round_half_even((sa*(A-za) + sb*(B-zb)) / sc) + zc)
 * on uint8 or int8, per-tensor parameters, numpy broadcasting, an optional
 * fused ReLU (applied to the real sum before rounding) or Clip of the codes
 * (op_int_bounds). One pass over the integers instead of dequantize, add,
 * quantize. Equal-shape uint8 adds also read and write packed codes
 * (cv_tensor.pbits), a chunk at a time. */
#include <math.h>
#include <string.h>

#include "base/pack.h"
#include "ops/op.h"

/* Packed activations (cv_tensor.pbits) are added this many codes at a time. */
#define QADD_PK_CHUNK 2048

typedef struct qadd_state {
    float ka, kb, off; /* C = ka*A + kb*B + off (before rounding) */
    float lo, hi;      /* saturation (and ReLU / code clip) bounds in C's integer domain */
    int same_shape;
    int ndim;
    int64_t dims[CV_MAX_DIMS], sa[CV_MAX_DIMS], sb[CV_MAX_DIMS]; /* output dims, input strides (0 = broadcast) */
} qadd_state;

static int scalar_f32(const cv_tensor *t, float *v) {
    if (!t || !t->data || t->dtype != CV_F32 || cv_numel(t) != 1) return 0;
    *v = *(const float *)t->data;
    return *v > 0 && isfinite(*v);
}

static int scalar_zp(const cv_tensor *t, cv_dtype want, int32_t *z) {
    if (!t) {
        *z = 0;
        return want == CV_U8;
    }
    if (!t->data || t->dtype != want || cv_numel(t) != 1) return 0;
    *z = want == CV_U8 ? *(const uint8_t *)t->data : *(const int8_t *)t->data;
    return 1;
}

static cleave_status qadd_infer(op_call *c) {
    CV_TRY(op_need_input(c, 0));
    CV_TRY(op_need_input(c, 3));
    const cv_tensor *a = c->in[0], *b = c->in[3];
    if ((a->dtype != CV_U8 && a->dtype != CV_I8) || b->dtype != a->dtype)
        return op_fail(c, CLEAVE_E_UNSUPPORTED, "A and B must both be uint8 or both int8 (got %s, %s)",
                       cv_dtype_name(a->dtype), cv_dtype_name(b->dtype));
    const cv_tensor *ts[2] = {a, b};
    int nd;
    int64_t dims[CV_MAX_DIMS];
    CV_TRY(op_broadcast_shape(c, 2, ts, &nd, dims));
    op_set_out(c, 0, a->dtype, nd, dims);
    return CLEAVE_OK;
}

static cleave_status qadd_prepare(op_call *c) {
    const cv_tensor *a = c->in[0], *b = c->in[3], *y = c->out[0];
    float sa, sb, sc;
    int32_t za, zb, zc;
    cv_dtype t = a->dtype;
    if (!scalar_f32(c->in[1], &sa) || !scalar_f32(c->in[4], &sb) || !scalar_f32(c->in[6], &sc))
        return op_fail(c, CLEAVE_E_UNSUPPORTED, "scales must be constant positive float32 scalars");
    if (!scalar_zp(c->in[2], t, &za) || !scalar_zp(c->in[5], t, &zb) ||
        !scalar_zp(c->n_in > 7 ? c->in[7] : NULL, t, &zc))
        return op_fail(c, CLEAVE_E_UNSUPPORTED, "zero points must be constant %s scalars",
                       cv_dtype_name(t));
    int32_t qlo, qhi; /* none, Relu, or a Clip of the output codes */
    CV_TRY(op_int_bounds(c, t, zc, &qlo, &qhi));
    qadd_state *st = cv_calloc(1, sizeof *st);
    if (!st) return op_fail(c, CLEAVE_E_NOMEM, "out of memory");
    st->ka = sa / sc;
    st->kb = sb / sc;
    st->off = (float)zc - st->ka * (float)za - st->kb * (float)zb;
    st->lo = (float)qlo;
    st->hi = (float)qhi;
    st->same_shape = cv_shape_eq(a, y) && cv_shape_eq(b, y);
    st->ndim = y->ndim;
    int64_t ra = 1, rb = 1;
    for (int d = y->ndim - 1; d >= 0; d--) {
        int da = d - (y->ndim - a->ndim), db = d - (y->ndim - b->ndim);
        st->dims[d] = y->dims[d];
        st->sa[d] = da >= 0 && a->dims[da] != 1 ? ra : 0;
        st->sb[d] = db >= 0 && b->dims[db] != 1 ? rb : 0;
        if (da >= 0) ra *= a->dims[da];
        if (db >= 0) rb *= b->dims[db];
    }
    c->state = st;
    if (a->pbits || b->pbits || y->pbits) { /* packed codes: chunks unpacked in scratch */
        if (t != CV_U8 || !st->same_shape)
            return op_fail(c, CLEAVE_E_INTERNAL, "packed activations on a QLinearAdd that is not uint8 equal-shape");
        c->scratch_bytes = 3 * QADD_PK_CHUNK;
    }
    return CLEAVE_OK;
}

static inline float qadd_one(const qadd_state *st, float a, float b) {
    float v = st->ka * a + st->kb * b + st->off;
    v = v < st->lo ? st->lo : v > st->hi ? st->hi : v;
    return (v + 12582912.0f) - 12582912.0f; /* round half to even (|v| < 2^22) */
}

#define QADD_KERNEL(NAME, T)                                                                  \
    static void NAME(const qadd_state *st, const T *a, const T *b, T *y, int64_t n) {         \
        if (st->same_shape) {                                                                 \
            for (int64_t i = 0; i < n; i++) y[i] = (T)qadd_one(st, (float)a[i], (float)b[i]); \
            return;                                                                           \
        }                                                                                     \
        int64_t idx[CV_MAX_DIMS] = {0}, oa = 0, ob = 0;                                       \
        for (int64_t i = 0; i < n; i++) {                                                     \
            y[i] = (T)qadd_one(st, (float)a[oa], (float)b[ob]);                               \
            for (int d = st->ndim - 1; d >= 0; d--) {                                         \
                oa += st->sa[d];                                                              \
                ob += st->sb[d];                                                              \
                if (++idx[d] < st->dims[d]) break;                                            \
                oa -= st->sa[d] * st->dims[d];                                                \
                ob -= st->sb[d] * st->dims[d];                                                \
                idx[d] = 0;                                                                   \
            }                                                                                 \
        }                                                                                     \
    }
QADD_KERNEL(qadd_u8_ref, uint8_t)
QADD_KERNEL(qadd_s8_ref, int8_t)

/* Wider vectors where the CPU has them, chosen at load time (ifunc). The
 * build is ISO C (no FP contraction), so every clone rounds alike. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define QADD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define QADD_CLONES
#endif

/* The equal-shape uint8 case (residual adds), in locals so it vectorises. */
QADD_CLONES
static void qadd_u8_same(const qadd_state *st, const uint8_t *restrict a, const uint8_t *restrict b,
                         uint8_t *restrict y, int64_t n) {
    const float ka = st->ka, kb = st->kb, off = st->off, lo = st->lo, hi = st->hi;
    for (int64_t i = 0; i < n; i++) {
        float v = ka * (float)a[i] + kb * (float)b[i] + off;
        v = v < lo ? lo : v > hi ? hi : v;
        y[i] = (uint8_t)((v + 12582912.0f) - 12582912.0f);
    }
}

static cleave_status qadd_run(op_call *c) {
    const qadd_state *st = c->state;
    cv_tensor *y = c->out[0];
    int64_t n = cv_numel(y);
    const int ab = c->in[0]->pbits, bb = c->in[3]->pbits, yb = y->pbits;
    if (ab || bb || yb) { /* packed codes, QADD_PK_CHUNK at a time (whole bytes: 8 | chunk) */
        uint8_t *sa = c->scratch, *sb = sa + QADD_PK_CHUNK, *sy = sb + QADD_PK_CHUNK;
        const uint8_t *a = c->in[0]->data, *b = c->in[3]->data;
        uint8_t *o = y->data;
        for (int64_t i0 = 0; i0 < n; i0 += QADD_PK_CHUNK) {
            const int64_t len = n - i0 < QADD_PK_CHUNK ? n - i0 : QADD_PK_CHUNK;
            if (ab) q_unpack_u_at(a, (size_t)i0, (size_t)len, ab, sa);
            if (bb) q_unpack_u_at(b, (size_t)i0, (size_t)len, bb, sb);
            qadd_u8_same(st, ab ? sa : a + i0, bb ? sb : b + i0, yb ? sy : o + i0, len);
            if (yb) q_pack_u_at(sy, (size_t)i0, (size_t)len, yb, o);
        }
        return CLEAVE_OK;
    }
    if (y->dtype == CV_U8 && st->same_shape) {
        const uint8_t *a = c->in[0]->data, *b = c->in[3]->data;
        uint8_t *o = y->data;
        const int64_t chunk = 16384, nc = (n + chunk - 1) / chunk;
        const int nt = c->threads > 1 ? c->threads : 1;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && nc > 1)
        for (int64_t j = 0; j < nc; j++) {
            int64_t i0 = j * chunk, len = n - i0 < chunk ? n - i0 : chunk;
            qadd_u8_same(st, a + i0, b + i0, o + i0, len);
        }
    } else if (y->dtype == CV_U8) {
        qadd_u8_ref(st, c->in[0]->data, c->in[3]->data, y->data, n);
    } else {
        qadd_s8_ref(st, c->in[0]->data, c->in[3]->data, y->data, n);
    }
    return CLEAVE_OK;
}

static void qadd_release(void *state) { cv_free(state); }

const op_def op_def_QLinearAdd = {"QLinearAdd", 7, 8, 1, 1, qadd_infer, qadd_prepare, qadd_run,
                                  qadd_release, 0};
