/* resize.c: Resize (opsets 10-19) as a separable tap filter after the ONNX
 * reference (onnx/reference/ops/op_resize.py): per axis, output index ->
 * x_original (coordinate mode) -> edge-clamped taps and weights (nearest 1,
 * linear 2, cubic 4, more with antialias); an output element is the product
 * of its axes' taps. Tables live in scratch, rebuilt per run (roi may vary). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ops/op.h"

#define RS_MAX_TAPS 4096
#define RS_PAR_MIN 16384 /* output elements before threads pay off */

typedef enum rs_mode { RS_NEAREST, RS_LINEAR, RS_CUBIC } rs_mode;
typedef enum rs_ct {
    CT_HALF_PIXEL,
    CT_HALF_PIXEL_SYM,
    CT_PYTORCH,
    CT_ALIGN,
    CT_ASYM,
    CT_TF_HALF_NN,
    CT_TF_CROP
} rs_ct;
typedef enum rs_nm { NM_RPF, NM_RPC, NM_FLOOR, NM_CEIL, NM_SIMPLE } rs_nm;

typedef struct rs_cfg {
    rs_mode mode;
    rs_ct ct;
    rs_nm nm;
    double a, extrap;
    int exclude, antialias;
    int r; /* rank */
    int64_t in[CV_MAX_DIMS], out[CV_MAX_DIMS];
    double scale[CV_MAX_DIMS], len[CV_MAX_DIMS]; /* len: resized length as a real */
    int roi_at[CV_MAX_DIMS];                     /* index into roi for axis k, -1: [0, 1] */
    int naxes;                                   /* roi has 2*naxes entries */
    int taps[CV_MAX_DIMS];
} rs_cfg;

static int rs_pick(const char *s, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

static int rs_present(const op_call *c, int k) {
    return k < c->n_in && c->in[k] && cv_numel(c->in[k]) > 0;
}

static int rs_taps(const rs_cfg *g, int k) {
    double s = g->antialias && g->scale[k] < 1 ? g->scale[k] : 1.0;
    if (g->mode == RS_NEAREST) return 1;
    if (g->mode == RS_LINEAR) return (int)(2 - 2 * (floor(-1.0 / s) + 1));
    return (int)(2 - 2 * (floor(-2.0 / s) + 1));
}

/* Attributes, scales/sizes/axes -> output shape and per-axis scales. */
static cleave_status rs_config(op_call *c, rs_cfg *g) {
    static const char *const modes[] = {"nearest", "linear", "cubic"};
    static const char *const cts[] = {
        "half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
        "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize"};
    static const char *const nms[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    const ir_node *n = c->node;
    memset(g, 0, sizeof *g);
    CV_TRY(op_need_input(c, 0));
    const cv_tensor *x = c->in[0];
    g->r = x->ndim;
    if (g->r < 1) return op_fail(c, CLEAVE_E_INVALID, "input X must have rank >= 1");
    const char *s = ir_attr_string(n, "mode", "nearest");
    int m = rs_pick(s, modes, 3);
    if (m < 0) return op_fail(c, CLEAVE_E_UNSUPPORTED, "mode '%s' is not supported", s);
    g->mode = (rs_mode)m;
    int opset10 = n->opset < 11;
    if (opset10) {
        g->ct = CT_ASYM;
        g->nm = NM_SIMPLE; /* ceil when downsampling, else floor (as ONNX Runtime) */
    } else {
        s = ir_attr_string(n, "coordinate_transformation_mode", "half_pixel");
        int v = rs_pick(s, cts, 7);
        if (v < 0)
            return op_fail(c, CLEAVE_E_UNSUPPORTED,
                           "coordinate_transformation_mode '%s' is not supported", s);
        g->ct = (rs_ct)v;
        s = ir_attr_string(n, "nearest_mode", "round_prefer_floor");
        v = rs_pick(s, nms, 4);
        if (v < 0) return op_fail(c, CLEAVE_E_UNSUPPORTED, "nearest_mode '%s' is not supported", s);
        g->nm = (rs_nm)v;
    }
    g->a = ir_attr_float(n, "cubic_coeff_a", -0.75f);
    g->exclude = ir_attr_int(n, "exclude_outside", 0) != 0;
    g->extrap = ir_attr_float(n, "extrapolation_value", 0.0f);
    g->antialias = n->opset >= 18 && ir_attr_int(n, "antialias", 0) != 0;
    if (g->mode != RS_NEAREST && x->dtype != CV_F32 && x->dtype != CV_F64 && x->dtype != CV_F16 &&
        x->dtype != CV_BF16)
        return op_fail(c, CLEAVE_E_UNSUPPORTED, "mode '%s' on dtype %s (float dtypes only)",
                       modes[g->mode], cv_dtype_name(x->dtype));
    /* axes (opset 18) */
    int ax[CV_MAX_DIMS], na = g->r;
    for (int k = 0; k < g->r; k++)
        ax[k] = k, g->roi_at[k] = -1;
    const int64_t *av;
    if (n->opset >= 18 && ir_node_attr(n, "axes")) {
        na = ir_attr_ints(n, "axes", &av);
        if (na < 1 || na > g->r)
            return op_fail(c, CLEAVE_E_INVALID, "attribute 'axes' has %d entries for rank %d", na,
                           g->r);
        unsigned char seen[CV_MAX_DIMS] = {0};
        for (int i = 0; i < na; i++) {
            ax[i] = cv_axis(av[i], g->r);
            if (ax[i] < 0 || seen[ax[i]]++)
                return op_fail(c, CLEAVE_E_INVALID, "axes[%d] = %lld is out of range or repeated",
                               i, (long long)av[i]);
        }
    }
    g->naxes = na;
    for (int i = 0; i < na; i++)
        g->roi_at[ax[i]] = i;
    for (int k = 0; k < g->r; k++) {
        g->in[k] = g->out[k] = x->dims[k];
        g->scale[k] = 1.0;
    }
    int si = opset10 ? 1 : 2, zi = opset10 ? -1 : 3;
    int has_scales = rs_present(c, si), has_sizes = zi > 0 && rs_present(c, zi);
    if (has_scales == has_sizes)
        return op_fail(c, CLEAVE_E_INVALID, "exactly one of scales and sizes must be given");
    if (has_sizes) {
        CV_TRY(op_need_const(c, zi, "sizes"));
        const cv_tensor *t = c->in[zi];
        if ((t->dtype != CV_I64 && t->dtype != CV_I32) || cv_numel(t) != na)
            return op_fail(c, CLEAVE_E_INVALID, "sizes must be %d int64 values", na);
        s = ir_attr_string(n, "keep_aspect_ratio_policy", "stretch");
        int pol = n->opset >= 18
                      ? rs_pick(s, (const char *const[]){"stretch", "not_larger", "not_smaller"}, 3)
                      : 0;
        if (pol < 0)
            return op_fail(c, CLEAVE_E_UNSUPPORTED,
                           "keep_aspect_ratio_policy '%s' is not "
                           "supported",
                           s);
        double common = pol == 1 ? INFINITY : 0;
        for (int i = 0; i < na; i++) {
            int k = ax[i];
            int64_t v = cv_get_i64(t, i);
            if (v < 0) return op_fail(c, CLEAVE_E_INVALID, "sizes[%d] = %lld", i, (long long)v);
            g->out[k] = v;
            g->scale[k] = g->in[k] ? (double)v / (double)g->in[k] : 1.0;
            if (pol == 1 && g->scale[k] < common) common = g->scale[k];
            if (pol == 2 && g->scale[k] > common) common = g->scale[k];
        }
        for (int i = 0; i < na; i++) {
            int k = ax[i];
            if (pol) {
                g->scale[k] = common;
                g->out[k] = (int64_t)(common * (double)g->in[k] + 0.5); /* round half up */
            }
            g->len[k] = pol ? common * (double)g->in[k] : (double)g->out[k];
        }
    } else {
        CV_TRY(op_need_const(c, si, "scales"));
        const cv_tensor *t = c->in[si];
        if ((t->dtype != CV_F32 && t->dtype != CV_F64 && t->dtype != CV_F16) || cv_numel(t) != na)
            return op_fail(c, CLEAVE_E_INVALID, "scales must be %d float values", na);
        for (int i = 0; i < na; i++) {
            int k = ax[i];
            double v = cv_get_f64(t, i);
            if (!(v > 0) || v * (double)g->in[k] > (double)CV_MAX_ELEMS)
                return op_fail(c, CLEAVE_E_INVALID, "scales[%d] = %g", i, v);
            g->scale[k] = v;
            g->len[k] = v * (double)g->in[k];
            g->out[k] = (int64_t)floor(g->len[k]);
        }
    }
    for (int k = 0; k < g->r; k++) {
        if (g->roi_at[k] < 0) g->len[k] = (double)g->out[k];
        g->taps[k] = rs_taps(g, k);
        if (g->taps[k] > RS_MAX_TAPS)
            return op_fail(c, CLEAVE_E_UNSUPPORTED, "antialias with scale %g needs %d taps",
                           g->scale[k], g->taps[k]);
    }
    if (g->ct == CT_TF_CROP && !rs_present(c, 1))
        return op_fail(c, CLEAVE_E_INVALID, "tf_crop_and_resize needs roi");
    if (g->ct == CT_TF_CROP && cv_numel(c->in[1]) != 2 * na)
        return op_fail(c, CLEAVE_E_INVALID, "roi must have %d values", 2 * na);
    return CLEAVE_OK;
}

/* x_resized -> x_original along axis k; *outside for tf_crop_and_resize. */
static double rs_coord(const rs_cfg *g, int k, double x, double r0, double r1, int *outside) {
    double s = g->scale[k], L = g->len[k], in = (double)g->in[k], o;
    *outside = 0;
    switch (g->ct) {
    case CT_HALF_PIXEL: return (x + 0.5) / s - 0.5;
    case CT_HALF_PIXEL_SYM: {
        double adj = (double)g->out[k] / L, off = in / 2 * (1 - adj);
        return off + (x + 0.5) / s - 0.5;
    }
    case CT_PYTORCH: return g->out[k] > 1 ? (x + 0.5) / s - 0.5 : 0.0;
    case CT_ALIGN: return L == 1 ? 0.0 : x * (in - 1) / (L - 1);
    case CT_ASYM: return x / s;
    case CT_TF_HALF_NN: return (x + 0.5) / s;
    default:
        o = L == 1 ? (r1 - r0) * (in - 1) / 2 : x * (r1 - r0) * (in - 1) / (L - 1);
        o += r0 * (in - 1);
        *outside = o < 0 || o > in - 1;
        return o;
    }
}

static int64_t rs_nearest(const rs_cfg *g, int k, double x) {
    double f = floor(x), fr = x - f;
    if (fr == 0) return (int64_t)f;
    switch (g->nm) {
    case NM_RPF: return (int64_t)(fr <= 0.5 ? f : f + 1);
    case NM_RPC: return (int64_t)(fr < 0.5 ? f : f + 1);
    case NM_FLOOR: return (int64_t)f;
    case NM_CEIL: return (int64_t)f + 1;
    default: return (int64_t)(g->scale[k] < 1 ? f + 1 : f);
    }
}

static double rs_cubic(double x, double a) {
    x = fabs(x);
    if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0;
}

/* Taps of one output index: idx (times stride) and weights, T entries. */
static void rs_axis_taps(const rs_cfg *g, int k, double x, int64_t stride, int64_t *idx,
                         double *w) {
    int T = g->taps[k];
    int64_t in = g->in[k];
    if (g->mode == RS_NEAREST) {
        int64_t i = rs_nearest(g, k, x);
        idx[0] = (i < 0 ? 0 : (i >= in ? in - 1 : i)) * stride;
        w[0] = 1;
        return;
    }
    double base = ceil(x) - 1, r = x - base; /* r in (0, 1]: prefer the left pixel */
    double s = g->antialias && g->scale[k] < 1 ? g->scale[k] : 1.0, sum = 0;
    int start = 1 - T / 2;
    for (int t = 0; t < T; t++) {
        double d = (start + t - r) * s;
        double v = g->mode == RS_LINEAR ? (fabs(d) < 1 ? 1 - fabs(d) : 0) : rs_cubic(d, g->a);
        int64_t i = (int64_t)base + start + t;
        if (g->exclude && (i < 0 || i >= in)) v = 0;
        idx[t] = (i < 0 ? 0 : (i >= in ? in - 1 : i)) * stride;
        w[t] = v;
        sum += v;
    }
    if (sum != 0 && (s != 1.0 || g->exclude))
        for (int t = 0; t < T; t++)
            w[t] /= sum;
}

/* Scratch: per axis idx[out*T], w[out*T], flag[out]; then per chunk the
 * combined taps of the outer axes. */
static size_t rs_combos(const rs_cfg *g) {
    size_t p = 1;
    for (int k = 0; k + 1 < g->r; k++)
        p *= (size_t)g->taps[k];
    return p;
}

static size_t rs_scratch(const rs_cfg *g, int chunks) {
    size_t b = 0;
    for (int k = 0; k < g->r; k++)
        b += (size_t)g->out[k] * (size_t)g->taps[k] * 16 + (((size_t)g->out[k] + 7) & ~(size_t)7);
    return b + (size_t)chunks * rs_combos(g) * 16 + 64;
}

static int rs_chunks(const op_call *c, const rs_cfg *g) {
    int64_t total = cv_shape_numel(g->r, g->out);
    return c->threads > 1 && total >= RS_PAR_MIN ? c->threads : 1;
}

static cleave_status resize_infer(op_call *c) {
    rs_cfg g;
    CV_TRY(rs_config(c, &g));
    if (rs_combos(&g) > (size_t)1 << 20)
        return op_fail(c, CLEAVE_E_UNSUPPORTED, "too many interpolation taps");
    op_set_out(c, 0, c->in[0]->dtype, g.r, g.out);
    return CLEAVE_OK;
}

static cleave_status resize_prepare(op_call *c) {
    rs_cfg g;
    CV_TRY(rs_config(c, &g));
    c->scratch_bytes = rs_scratch(&g, rs_chunks(c, &g));
    return CLEAVE_OK;
}

/* Float kernels: y[j] = sum_c cw[c] * sum_t w[j][t] * x[off[c] + idx[j][t]]. */
#define RS_FLOAT(NAME, T, LOAD, STORE)                                                             \
    static void NAME(T *restrict y, const T *restrict x, int64_t n, int taps,                      \
                     const int64_t *restrict idx, const double *restrict w,                        \
                     const unsigned char *restrict flag, const int64_t *restrict coff,             \
                     const double *restrict cw, size_t nc, double ext) {                           \
        for (int64_t j = 0; j < n; j++) {                                                          \
            double acc = 0;                                                                        \
            const int64_t *ij = idx + j * taps;                                                    \
            const double *wj = w + j * taps;                                                       \
            if (flag[j])                                                                           \
                acc = ext;                                                                         \
            else                                                                                   \
                for (size_t q = 0; q < nc; q++) {                                                  \
                    const T *xp = x + coff[q];                                                     \
                    double s = 0;                                                                  \
                    for (int t = 0; t < taps; t++)                                                 \
                        s += wj[t] * (double)LOAD(xp[ij[t]]);                                      \
                    acc += cw[q] * s;                                                              \
                }                                                                                  \
            y[j] = STORE(acc);                                                                     \
        }                                                                                          \
    }
#define RS_ID(v) (v)
#define RS_F32(v) ((float)(v))
#define RS_H2F(v) cv_f16_to_f32(v)
#define RS_F2H(v) cv_f32_to_f16((float)(v))
#define RS_B2F(v) cv_bf16_to_f32(v)
#define RS_F2B(v) cv_f32_to_bf16((float)(v))
RS_FLOAT(rs_row_f32, float, RS_ID, RS_F32)
RS_FLOAT(rs_row_f64, double, RS_ID, RS_ID)
RS_FLOAT(rs_row_f16, uint16_t, RS_H2F, RS_F2H)
RS_FLOAT(rs_row_bf16, uint16_t, RS_B2F, RS_F2B)

/* Nearest, any dtype: one tap per axis, one combo. */
#define RS_COPY(T)                                                                                 \
    static void rs_copy_##T(T *restrict y, const T *restrict x, int64_t n,                         \
                            const int64_t *restrict idx, const unsigned char *restrict flag,       \
                            const void *fillp) {                                                   \
        T fill;                                                                                    \
        memcpy(&fill, fillp, sizeof fill);                                                         \
        for (int64_t j = 0; j < n; j++)                                                            \
            y[j] = flag[j] ? fill : x[idx[j]];                                                     \
    }
RS_COPY(uint8_t)
RS_COPY(uint16_t)
RS_COPY(uint32_t)
RS_COPY(uint64_t)

static void rs_fill(void *y, int64_t n, size_t es, const void *fill) {
    for (int64_t j = 0; j < n; j++)
        memcpy((unsigned char *)y + (size_t)j * es, fill, es);
}

static void rs_copy(size_t es, void *y, const void *x, int64_t n, const int64_t *idx,
                    const unsigned char *flag, const void *fill) {
    switch (es) {
    case 1: rs_copy_uint8_t(y, x, n, idx, flag, fill); break;
    case 2: rs_copy_uint16_t(y, x, n, idx, flag, fill); break;
    case 4: rs_copy_uint32_t(y, x, n, idx, flag, fill); break;
    default: rs_copy_uint64_t(y, x, n, idx, flag, fill); break;
    }
}

static void rs_row(cv_dtype dt, void *y, const void *x, int64_t n, int taps, const int64_t *idx,
                   const double *w, const unsigned char *flag, const int64_t *coff,
                   const double *cw, size_t nc, double ext) {
    switch (dt) {
    case CV_F32: rs_row_f32(y, x, n, taps, idx, w, flag, coff, cw, nc, ext); break;
    case CV_F64: rs_row_f64(y, x, n, taps, idx, w, flag, coff, cw, nc, ext); break;
    case CV_F16: rs_row_f16(y, x, n, taps, idx, w, flag, coff, cw, nc, ext); break;
    default: rs_row_bf16(y, x, n, taps, idx, w, flag, coff, cw, nc, ext); break;
    }
}

static cleave_status resize_run(op_call *c) {
    rs_cfg g;
    CV_TRY(rs_config(c, &g));
    const cv_tensor *x = c->in[0];
    cv_tensor *y = c->out[0];
    int64_t total = cv_numel(y);
    if (total == 0) return CLEAVE_OK;
    if (cv_numel(x) == 0) return op_fail(c, CLEAVE_E_INVALID, "cannot resize an empty input");
    int chunks = rs_chunks(c, &g);
    if (!c->scratch || c->scratch_bytes < rs_scratch(&g, chunks))
        return op_fail(c, CLEAVE_E_INTERNAL, "scratch not prepared");
    /* per-axis tables */
    unsigned char *sp = c->scratch;
    int64_t *idx[CV_MAX_DIMS];
    double *w[CV_MAX_DIMS];
    unsigned char *flag[CV_MAX_DIMS];
    int64_t stride = 1;
    int r = g.r;
    for (int k = r - 1; k >= 0; k--) {
        int T = g.taps[k];
        idx[k] = (int64_t *)sp;
        sp += (size_t)g.out[k] * (size_t)T * 8;
        w[k] = (double *)sp;
        sp += (size_t)g.out[k] * (size_t)T * 8;
        flag[k] = sp;
        sp += ((size_t)g.out[k] + 7) & ~(size_t)7;
        double r0 = 0, r1 = 1;
        if (g.ct == CT_TF_CROP && g.roi_at[k] >= 0) {
            r0 = cv_get_f64(c->in[1], g.roi_at[k]);
            r1 = cv_get_f64(c->in[1], g.roi_at[k] + g.naxes);
        }
        for (int64_t o = 0; o < g.out[k]; o++) {
            int outside;
            double xo = rs_coord(&g, k, (double)o, r0, r1, &outside);
            flag[k][o] = (unsigned char)outside;
            rs_axis_taps(&g, k, xo, stride, idx[k] + o * T, w[k] + o * T);
        }
        stride *= g.in[k];
    }
    int64_t *comb_off = (int64_t *)sp;
    size_t nc = rs_combos(&g);
    double *comb_w = (double *)(sp + (size_t)chunks * nc * 8);
    int last = r - 1, Tl = g.taps[last];
    int64_t len = g.out[last], rows = total / len;
    size_t es = cv_dtype_size(y->dtype);
    uint64_t fill = 0;
    cv_tensor ft = {.dtype = y->dtype, .ndim = 0, .data = &fill};
    cv_set_f64(&ft, 0, g.extrap);
#pragma omp parallel for num_threads(chunks) if (chunks > 1) schedule(static)
    for (int ch = 0; ch < chunks; ch++) {
        int64_t *coff = comb_off + (size_t)ch * nc;
        double *cw = comb_w + (size_t)ch * nc;
        int64_t r0 = rows * ch / chunks, r1 = rows * (ch + 1) / chunks;
        for (int64_t row = r0; row < r1; row++) {
            /* decode the outer output index and combine its taps */
            int64_t q = row, o[CV_MAX_DIMS];
            int out_row = 0;
            for (int k = last - 1; k >= 0; k--) {
                o[k] = q % g.out[k];
                q /= g.out[k];
                out_row |= flag[k][o[k]];
            }
            size_t n = 1;
            coff[0] = 0;
            cw[0] = 1;
            for (int k = 0; k < last; k++) {
                int T = g.taps[k];
                const int64_t *ik = idx[k] + o[k] * T;
                const double *wk = w[k] + o[k] * T;
                for (size_t p = n; p-- > 0;) /* expand in place, back to front */
                    for (int t = T - 1; t >= 0; t--) {
                        coff[p * (size_t)T + (size_t)t] = coff[p] + ik[t];
                        cw[p * (size_t)T + (size_t)t] = cw[p] * wk[t];
                    }
                n *= (size_t)T;
            }
            void *yr = (unsigned char *)y->data + (size_t)(row * len) * es;
            if (out_row)
                rs_fill(yr, len, es, &fill);
            else if (g.mode == RS_NEAREST)
                rs_copy(es, yr, (const unsigned char *)x->data + (size_t)coff[0] * es, len,
                        idx[last], flag[last], &fill);
            else
                rs_row(y->dtype, yr, x->data, len, Tl, idx[last], w[last], flag[last], coff, cw, n,
                       g.extrap);
        }
    }
    return CLEAVE_OK;
}

const op_def op_def_Resize = {"Resize",       1,          4,    1, 1, resize_infer,
                              resize_prepare, resize_run, NULL, 0};
