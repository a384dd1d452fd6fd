/* conv: Conv and ConvTranspose (N-d, float32), reference kernels.
 * Conv = im2col + SGEMM per group (no im2col for 1x1 stride-1 unpadded), a
 * direct kernel for depthwise / single-input-channel groups in 1-D/2-D;
 * ConvTranspose = SGEMM (W^T * X) + col2im scatter-add. Weights are packed
 * for the SGEMM once in prepare. Layout NC<spatial>, row-major. */
#include <string.h>

#include "ops/blocked.h"
#include "ops/fast.h"
#include "ops/op.h"
#include "ops/sgemm.h"

#define CONV_MAX_SP (CV_MAX_DIMS - 2)

/* Spatial geometry shared by both ops: an input index and an output index
 * are linked by  conv: i = o*s - pb + k*d,  transpose: o = i*s - pb + k*d. */
typedef struct conv_geom {
    int nsp;
    int64_t in[CONV_MAX_SP], out[CONV_MAX_SP], k[CONV_MAX_SP];
    int64_t s[CONV_MAX_SP], d[CONV_MAX_SP], pb[CONV_MAX_SP], pe[CONV_MAX_SP];
    int64_t in_size, out_size, k_size;
} conv_geom;

enum { CONV_GEMM, CONV_1X1, CONV_DIRECT, CONVT_GEMM, CONVT_1X1 };

/* Per-node state built by prepare. */
typedef struct conv_state {
    conv_geom g;
    int kind, threads;
    int64_t N, C, M, group, Cg, Mg;
    int64_t gm, gk;       /* per-group GEMM rows and depth */
    float *packed;        /* packed weights per group, NULL when W not constant */
    size_t packed_stride; /* floats per group */
    size_t col_floats;    /* im2col / col2im buffer at the start of scratch */
    void *fast;           /* fast backend state (ops/fast.h) or NULL */
    int src_blk, dst_blk; /* reference path on channel-blocked tensors: convert via scratch */
    size_t blk_off;       /* scratch offset of the plain copies */
} conv_state;

static int64_t conv_cdiv(int64_t a, int64_t b) {
    return (a + b - 1) / b;
}

/* Reads strides, dilations, pads, auto_pad and checks kernel_shape against
 * the kernel dims already in g->k; fills g->s, g->d, g->pb, g->pe (explicit
 * pads) and *autopad (0 NOTSET, 1 SAME_UPPER, 2 SAME_LOWER, 3 VALID). */
static cleave_status conv_read_attrs(op_call *c, conv_geom *g, int *autopad) {
    const ir_node *n = c->node;
    const int64_t *v;
    int nsp = g->nsp, cnt;
    for (int i = 0; i < nsp; i++)
        g->s[i] = g->d[i] = 1, g->pb[i] = g->pe[i] = 0;
    if ((cnt = ir_attr_ints(n, "kernel_shape", &v)) != 0) {
        if (cnt != nsp)
            return op_fail(c, CLEAVE_E_INVALID, "kernel_shape has %d values, expected %d", cnt,
                           nsp);
        for (int i = 0; i < nsp; i++)
            if (v[i] != g->k[i])
                return op_fail(c, CLEAVE_E_INVALID,
                               "kernel_shape[%d] = %lld does not match the weight dim %lld", i,
                               (long long)v[i], (long long)g->k[i]);
    }
    return op_window_attrs(c, nsp, g->s, g->d, g->pb, g->pe, autopad);
}

/* Checks X (rank >= 3, known dims, float32) and W (same rank) and fills the
 * spatial input and kernel dims of g. */
static cleave_status conv_check_xw(op_call *c, conv_geom *g) {
    CV_TRY(op_need_input(c, 0));
    CV_TRY(op_need_input(c, 1));
    const cv_tensor *x = c->in[0], *w = c->in[1];
    for (int k = 0; k < c->n_in && k < 3; k++)
        if (c->in[k] && c->in[k]->dtype != CV_F32)
            return op_fail(c, CLEAVE_E_UNSUPPORTED,
                           "input %d has dtype %s; only float32 is supported", k,
                           cv_dtype_name(c->in[k]->dtype));
    if (x->ndim < 3 || x->ndim > CV_MAX_DIMS)
        return op_fail(c, CLEAVE_E_INVALID,
                       "input X must have rank 3..%d (N, C, spatial...), got %d", CV_MAX_DIMS,
                       x->ndim);
    if (w->ndim != x->ndim)
        return op_fail(c, CLEAVE_E_INVALID, "weight W has rank %d, X has rank %d", w->ndim,
                       x->ndim);
    for (int i = 0; i < x->ndim; i++)
        if (x->dims[i] < 0 || w->dims[i] < 1 || (i >= 1 && x->dims[i] < 1))
            return op_fail(c, CLEAVE_E_INVALID, "X or W has an unknown or empty dim %d", i);
    g->nsp = x->ndim - 2;
    g->in_size = g->k_size = 1;
    for (int i = 0; i < g->nsp; i++) {
        g->in[i] = x->dims[2 + i], g->k[i] = w->dims[2 + i];
        g->in_size *= g->in[i], g->k_size *= g->k[i];
    }
    return CLEAVE_OK;
}

static cleave_status conv_check_bias(op_call *c, int64_t M) {
    if (c->n_in < 3 || !c->in[2]) return CLEAVE_OK;
    const cv_tensor *b = c->in[2];
    if (b->ndim != 1 || b->dims[0] != M)
        return op_fail(c, CLEAVE_E_INVALID, "bias B must have shape [%lld]", (long long)M);
    return CLEAVE_OK;
}

static cleave_status conv_group(op_call *c, int64_t *group) {
    *group = ir_attr_int(c->node, "group", 1);
    if (*group < 1)
        return op_fail(c, CLEAVE_E_INVALID, "group = %lld must be >= 1", (long long)*group);
    return CLEAVE_OK;
}

/* Conv output geometry; C is the input channels, M the output channels. */
static cleave_status conv_shape(op_call *c, conv_geom *g, int64_t *C, int64_t *M, int64_t *group) {
    CV_TRY(conv_check_xw(c, g));
    CV_TRY(conv_group(c, group));
    const cv_tensor *x = c->in[0], *w = c->in[1];
    *C = x->dims[1], *M = w->dims[0];
    if (*C % *group || *M % *group || w->dims[1] * *group != *C)
        return op_fail(c, CLEAVE_E_INVALID,
                       "channels: X has %lld, W is %lldx%lld, group %lld are inconsistent",
                       (long long)*C, (long long)*M, (long long)w->dims[1], (long long)*group);
    CV_TRY(conv_check_bias(c, *M));
    int autopad;
    CV_TRY(conv_read_attrs(c, g, &autopad));
    g->out_size = 1;
    for (int i = 0; i < g->nsp; i++) {
        int64_t ext = (g->k[i] - 1) * g->d[i] + 1;
        if (autopad == 1 || autopad == 2) {
            int64_t out = conv_cdiv(g->in[i], g->s[i]);
            int64_t total = (out - 1) * g->s[i] + ext - g->in[i];
            if (total < 0) total = 0;
            g->pb[i] = autopad == 1 ? total / 2 : total - total / 2;
            g->pe[i] = total - g->pb[i];
        } else if (autopad == 3) {
            g->pb[i] = g->pe[i] = 0;
        }
        int64_t span = g->in[i] + g->pb[i] + g->pe[i] - ext;
        if (span < 0)
            return op_fail(
                c, CLEAVE_E_INVALID,
                "spatial dim %d: the dilated kernel (%lld) is larger than the padded input (%lld)",
                i, (long long)ext, (long long)(g->in[i] + g->pb[i] + g->pe[i]));
        g->out[i] = span / g->s[i] + 1;
        g->out_size *= g->out[i];
    }
    if ((double)(*C / *group) * g->k_size * g->out_size > (double)CV_MAX_ELEMS)
        return op_fail(c, CLEAVE_E_LIMIT, "the im2col buffer would exceed the element cap");
    return CLEAVE_OK;
}

/* ConvTranspose output geometry; W is [C, M/group, k...]. */
static cleave_status convt_shape(op_call *c, conv_geom *g, int64_t *C, int64_t *M, int64_t *group) {
    CV_TRY(conv_check_xw(c, g));
    CV_TRY(conv_group(c, group));
    const cv_tensor *x = c->in[0], *w = c->in[1];
    *C = x->dims[1], *M = w->dims[1] * *group;
    if (*C % *group || w->dims[0] != *C)
        return op_fail(c, CLEAVE_E_INVALID,
                       "channels: X has %lld, W has %lld, group %lld are inconsistent",
                       (long long)*C, (long long)w->dims[0], (long long)*group);
    CV_TRY(conv_check_bias(c, *M));
    int autopad, nsp = g->nsp;
    CV_TRY(conv_read_attrs(c, g, &autopad));
    const int64_t *op = NULL, *os = NULL;
    int nop = ir_attr_ints(c->node, "output_padding", &op);
    int nos = ir_attr_ints(c->node, "output_shape", &os);
    if (nop && nop != nsp)
        return op_fail(c, CLEAVE_E_INVALID, "output_padding has %d values, expected %d", nop, nsp);
    if (nos == nsp + 2) os += 2, nos = nsp; /* full N, C, spatial form */
    if (nos && nos != nsp)
        return op_fail(c, CLEAVE_E_INVALID, "output_shape has %d values, expected %d", nos, nsp);
    g->out_size = 1;
    for (int i = 0; i < nsp; i++) {
        int64_t adj = nop ? op[i] : 0;
        if (adj < 0 || adj >= (g->s[i] > g->d[i] ? g->s[i] : g->d[i]))
            return op_fail(c, CLEAVE_E_INVALID,
                           "output_padding[%d] = %lld must be in [0, max(stride, dilation))", i,
                           (long long)adj);
        int64_t full = g->s[i] * (g->in[i] - 1) + adj + (g->k[i] - 1) * g->d[i] + 1;
        if (nos || autopad == 1 || autopad == 2) {
            int64_t out = nos ? os[i] : g->in[i] * g->s[i];
            if (out < 1)
                return op_fail(c, CLEAVE_E_INVALID, "output_shape[%d] = %lld must be >= 1", i,
                               (long long)out);
            /* Spec: SAME_UPPER puts the odd pad at the end. A negative total
             * (output_shape larger than the full result) leaves the extra
             * outputs at the end equal to the bias, as ONNX Runtime does. */
            int64_t total = full - out;
            if (total < 0) total = 0;
            g->pb[i] = autopad == 1 ? total / 2 : total - total / 2;
            g->pe[i] = total - g->pb[i];
            g->out[i] = out;
        } else {
            if (autopad == 3) g->pb[i] = g->pe[i] = 0;
            g->out[i] = full - g->pb[i] - g->pe[i];
            if (g->out[i] < 1)
                return op_fail(c, CLEAVE_E_INVALID, "pads leave spatial dim %d empty", i);
        }
        g->out_size *= g->out[i];
    }
    if ((double)w->dims[1] * g->k_size * g->in_size > (double)CV_MAX_ELEMS)
        return op_fail(c, CLEAVE_E_LIMIT, "the col2im buffer would exceed the element cap");
    return CLEAVE_OK;
}

static cleave_status conv_set_out(op_call *c, const conv_geom *g, int64_t M) {
    int64_t dims[CV_MAX_DIMS];
    dims[0] = c->in[0]->dims[0], dims[1] = M;
    for (int i = 0; i < g->nsp; i++)
        dims[2 + i] = g->out[i];
    op_set_out(c, 0, CV_F32, g->nsp + 2, dims);
    return CLEAVE_OK;
}

static cleave_status conv_infer(op_call *c) {
    conv_geom g;
    int64_t C, M, group;
    CV_TRY(conv_shape(c, &g, &C, &M, &group));
    return conv_set_out(c, &g, M);
}

static cleave_status convt_infer(op_call *c) {
    conv_geom g;
    int64_t C, M, group;
    CV_TRY(convt_shape(c, &g, &C, &M, &group));
    return conv_set_out(c, &g, M);
}

/* Positions p in [0, count) with 0 <= p*s + off < limit form [*lo, *hi). */
static void conv_valid_range(int64_t off, int64_t s, int64_t limit, int64_t count, int64_t *lo,
                             int64_t *hi) {
    int64_t l = off >= 0 ? 0 : conv_cdiv(-off, s);
    int64_t h = limit - off <= 0 ? 0 : conv_cdiv(limit - off, s);
    if (l > count) l = count;
    if (h > count) h = count;
    if (h < l) h = l;
    *lo = l, *hi = h;
}

/* Split a flat kernel index into per-dim offsets. */
static void conv_kernel_pos(const conv_geom *g, int64_t kr, int64_t *kk) {
    for (int d = g->nsp - 1; d >= 0; d--)
        kk[d] = kr % g->k[d], kr /= g->k[d];
}

/* col[(c*k_size + kidx) * out_size + o] = x[c][o*s - pb + k*d] (0 outside);
 * x is Cg x in_size. Inner loop runs over the last output dim, its valid
 * range computed once per row so the copy is branch-free. */
static void conv_im2col_nd_f32(const conv_geom *g, const float *x, int64_t Cg, float *col,
                               int threads) {
    const int L = g->nsp - 1;
    const int64_t rows = Cg * g->k_size, OW = g->out[L], W = g->in[L], sw = g->s[L];
    const int64_t outer = g->out_size / OW;
#pragma omp parallel for num_threads(threads) if (threads > 1 && rows * g->out_size > (1 << 16))
    for (int64_t r = 0; r < rows; r++) {
        int64_t kk[CONV_MAX_SP], o[CONV_MAX_SP] = {0}, lo, hi;
        conv_kernel_pos(g, r % g->k_size, kk);
        const float *xc = x + r / g->k_size * g->in_size;
        float *dst = col + r * g->out_size;
        const int64_t off = kk[L] * g->d[L] - g->pb[L];
        conv_valid_range(off, sw, W, OW, &lo, &hi);
        for (int64_t q = 0; q < outer; q++, dst += OW) {
            int64_t base = 0;
            int ok = 1;
            for (int d = 0; d < L && ok; d++) {
                int64_t i = o[d] * g->s[d] - g->pb[d] + kk[d] * g->d[d];
                ok = i >= 0 && i < g->in[d];
                base = base * g->in[d] + i;
            }
            for (int d = L - 1; d >= 0; d--) {
                if (++o[d] < g->out[d]) break;
                o[d] = 0;
            }
            if (!ok) {
                memset(dst, 0, sizeof(float) * (size_t)OW);
                continue;
            }
            const float *restrict xr = xc + base * W + off;
            for (int64_t w = 0; w < lo; w++)
                dst[w] = 0.0f;
            if (sw == 1)
                memcpy(dst + lo, xr + lo, sizeof(float) * (size_t)(hi - lo));
            else
                for (int64_t w = lo; w < hi; w++)
                    dst[w] = xr[w * sw];
            for (int64_t w = hi; w < OW; w++)
                dst[w] = 0.0f;
        }
    }
}

/* y[m][i*s - pb + k*d] += col[(m*k_size + kidx) * in_size + i]; y is Mg x
 * out_size. Parallel over m: each thread owns its output channels. */
static void convt_col2im_nd_f32(const conv_geom *g, const float *col, int64_t Mg, float *y,
                                int threads) {
    const int L = g->nsp - 1;
    const int64_t IW = g->in[L], OW = g->out[L], sw = g->s[L];
    const int64_t outer = g->in_size / IW;
#pragma omp parallel for num_threads(threads) if (threads > 1 &&                                   \
                                                  Mg * g->k_size * g->in_size > (1 << 16))
    for (int64_t m = 0; m < Mg; m++) {
        float *ym = y + m * g->out_size;
        for (int64_t kr = 0; kr < g->k_size; kr++) {
            int64_t kk[CONV_MAX_SP], ii[CONV_MAX_SP] = {0}, lo, hi;
            conv_kernel_pos(g, kr, kk);
            const float *src = col + (m * g->k_size + kr) * g->in_size;
            const int64_t off = kk[L] * g->d[L] - g->pb[L];
            conv_valid_range(off, sw, OW, IW, &lo, &hi);
            for (int64_t q = 0; q < outer; q++, src += IW) {
                int64_t base = 0;
                int ok = 1;
                for (int d = 0; d < L && ok; d++) {
                    int64_t o = ii[d] * g->s[d] - g->pb[d] + kk[d] * g->d[d];
                    ok = o >= 0 && o < g->out[d];
                    base = base * g->out[d] + o;
                }
                for (int d = L - 1; d >= 0; d--) {
                    if (++ii[d] < g->in[d]) break;
                    ii[d] = 0;
                }
                if (!ok) continue;
                float *restrict yr = ym + base * OW + off;
                for (int64_t w = lo; w < hi; w++)
                    yr[w * sw] += src[w];
            }
        }
    }
}

/* Direct conv for groups with one input channel (depthwise, or C == 1), 1-D
 * or 2-D: each output plane accumulates kernel-tap-shifted input rows. */
static void conv_direct_2d_f32(const conv_state *st, const float *x, const float *w,
                               const float *bias, float *y, const ir_act *act, int threads) {
    const conv_geom *g = &st->g;
    const int two = g->nsp == 2;
    const int64_t H = two ? g->in[0] : 1, W = g->in[g->nsp - 1];
    const int64_t OH = two ? g->out[0] : 1, OW = g->out[g->nsp - 1];
    const int64_t KH = two ? g->k[0] : 1, KW = g->k[g->nsp - 1];
    const int64_t sh = two ? g->s[0] : 1, sw = g->s[g->nsp - 1];
    const int64_t dh = two ? g->d[0] : 1, dw = g->d[g->nsp - 1];
    const int64_t ph = two ? g->pb[0] : 0, pw = g->pb[g->nsp - 1];
    const int64_t planes = st->N * st->M;
#pragma omp parallel for num_threads(threads) if (threads > 1 &&                                   \
                                                  planes * g->out_size * g->k_size > (1 << 15))
    for (int64_t p = 0; p < planes; p++) {
        const int64_t n = p / st->M, m = p % st->M;
        const float *xp = x + (n * st->C + m / st->Mg) * g->in_size;
        const float *wk = w + m * g->k_size;
        float *yp = y + p * g->out_size;
        const float b = bias ? bias[m] : 0.0f;
        for (int64_t oh = 0; oh < OH; oh++) {
            float *restrict yr = yp + oh * OW;
            for (int64_t ow = 0; ow < OW; ow++)
                yr[ow] = b;
            for (int64_t kh = 0; kh < KH; kh++) {
                const int64_t ih = oh * sh - ph + kh * dh;
                if (ih < 0 || ih >= H) continue;
                for (int64_t kw = 0; kw < KW; kw++) {
                    const float wv = wk[kh * KW + kw];
                    const int64_t off = kw * dw - pw;
                    int64_t lo, hi;
                    conv_valid_range(off, sw, W, OW, &lo, &hi);
                    const float *restrict xr = xp + ih * W + off;
                    if (sw == 1)
                        for (int64_t ow = lo; ow < hi; ow++)
                            yr[ow] += wv * xr[ow];
                    else
                        for (int64_t ow = lo; ow < hi; ow++)
                            yr[ow] += wv * xr[ow * sw];
                }
            }
        }
        if (act) op_apply_act_f32(act, yp, g->out_size);
    }
}

static void conv_release(void *state) {
    conv_state *st = (conv_state *)state;
    if (!st) return;
    if (st->fast) fast_conv_destroy(st->fast);
    cv_aligned_free(st->packed);
    cv_free(st);
}

/* Shared prepare: geometry, kernel choice, packed weights, scratch size. */
static cleave_status conv_prepare_common(op_call *c, int transpose) {
    conv_state *st = (conv_state *)cv_calloc(1, sizeof *st);
    if (!st) return op_fail(c, CLEAVE_E_NOMEM, "out of memory");
    cleave_status s = transpose ? convt_shape(c, &st->g, &st->C, &st->M, &st->group)
                                : conv_shape(c, &st->g, &st->C, &st->M, &st->group);
    if (s != CLEAVE_OK) {
        cv_free(st);
        return s;
    }
    conv_geom *g = &st->g;
    st->N = c->in[0]->dims[0];
    st->Cg = st->C / st->group, st->Mg = st->M / st->group;
    st->threads = c->threads > 1 ? c->threads : 1;
    int unit = 1; /* every kernel tap 1, stride 1, no padding, same size */
    for (int i = 0; i < g->nsp; i++)
        unit &=
            g->k[i] == 1 && g->s[i] == 1 && g->pb[i] == 0 && g->pe[i] == 0 && g->in[i] == g->out[i];
    if (!transpose) {
        st->gm = st->Mg, st->gk = st->Cg * g->k_size;
        st->kind = st->Cg == 1 && g->nsp <= 2 ? CONV_DIRECT : unit ? CONV_1X1 : CONV_GEMM;
        if (st->kind == CONV_GEMM) st->col_floats = (size_t)(st->gk * g->out_size);
    } else {
        st->gm = st->Mg * g->k_size, st->gk = st->Cg;
        st->kind = unit ? CONVT_1X1 : CONVT_GEMM;
        if (st->kind == CONVT_GEMM) st->col_floats = (size_t)(st->gm * g->in_size);
    }
    st->col_floats = (st->col_floats + 15) / 16 * 16;
    const int64_t gn = transpose ? g->in_size : g->out_size;
    const float *w = (const float *)c->in[1]->data;
    const cv_tensor *bt = c->n_in > 2 ? c->in[2] : NULL;
    if (c->fast && !transpose && g->nsp == 2 && w && (!bt || bt->data)) {
        fast_conv_desc fd = {
            .n = st->N, .c = st->C, .h = g->in[0], .w = g->in[1], .k = st->M,
            .kh = g->k[0], .kw = g->k[1], .oh = g->out[0], .ow = g->out[1],
            .stride = {g->s[0], g->s[1]}, .dilation = {g->d[0], g->d[1]},
            .pad_t = g->pb[0], .pad_l = g->pb[1], .pad_b = g->pe[0], .pad_r = g->pe[1],
            .group = st->group, .weight = w, .bias = bt ? (const float *)bt->data : NULL,
            .act = c->sum ? c->sum_act : c->node->act, .threads = st->threads,
            .src_block = c->in[0]->block, .dst_block = c->out[0]->block, .with_sum = c->sum != NULL};
        int r = fast_conv_create(&fd, &st->fast);
        if (r == FAST_NOMEM) {
            conv_release(st);
            return op_fail(c, CLEAVE_E_NOMEM, "out of memory creating the fast kernel");
        }
        if (r == FAST_OK) {
            c->scratch_bytes = fast_conv_scratch_bytes(st->fast);
            c->held_bytes = fast_held_bytes(st->fast);
            c->owns_in |= 1u << 1 | (bt ? 1u << 2 : 0);
            c->state = st;
            return CLEAVE_OK;
        }
        st->fast = NULL;
    }
    /* Blocked tensors without a fast kernel (the library declined this
     * shape): the reference kernel runs on plain copies in scratch. */
    st->src_blk = c->in[0]->block;
    st->dst_blk = c->out[0]->block;
    if (st->kind != CONV_DIRECT && w) {
        st->packed_stride = sgemm_packed_a_floats(st->gm, st->gk);
        st->packed =
            (float *)cv_aligned_alloc(st->packed_stride * (size_t)st->group * sizeof(float));
        if (!st->packed) {
            conv_release(st);
            return op_fail(c, CLEAVE_E_NOMEM, "out of memory packing the weights");
        }
        for (int64_t gi = 0; gi < st->group; gi++)
            sgemm_pack_a(transpose, st->gm, st->gk, w + gi * st->gm * st->gk,
                         transpose ? st->gm : st->gk, st->packed + (size_t)gi * st->packed_stride);
        c->held_bytes = st->packed_stride * (size_t)st->group * sizeof(float);
        c->owns_in |= 1u << 1; /* the GEMM reads only the packed copy */
    }
    c->scratch_bytes = 0;
    if (st->kind != CONV_DIRECT)
        c->scratch_bytes =
            st->col_floats * sizeof(float) +
            sgemm_scratch_bytes(st->gm, gn, st->gk, st->packed != NULL, 0, st->threads);
    if (st->src_blk || st->dst_blk) {
        st->blk_off = (c->scratch_bytes + 63) & ~(size_t)63;
        c->scratch_bytes = st->blk_off + ((cv_nbytes(c->in[0]) + 63) & ~(size_t)63) + cv_nbytes(c->out[0]);
    }
    c->state = st;
    return CLEAVE_OK;
}

static cleave_status conv_prepare(op_call *c) {
    return conv_prepare_common(c, 0);
}
static cleave_status convt_prepare(op_call *c) {
    return conv_prepare_common(c, 1);
}

/* The im2col/GEMM and ConvTranspose paths of conv_run, on plain tensors. */
static void conv_gemm_run(op_call *c, const conv_state *st, const float *x, const float *w,
                          const float *bias, float *y, const ir_act *act, int threads) {
    const conv_geom *g = &st->g;
    float *col = (float *)c->scratch;
    void *gemm_scratch = col + st->col_floats;
    for (int64_t n = 0; n < st->N; n++) {
        for (int64_t gi = 0; gi < st->group; gi++) {
            const float *xg = x + (n * st->C + gi * st->Cg) * g->in_size;
            float *yg = y + (n * st->M + gi * st->Mg) * g->out_size;
            sgemm_params p = {0};
            p.M = st->gm, p.K = st->gk, p.alpha = 1.0f;
            p.A = w + gi * st->gm * st->gk;
            p.packed_a = st->packed ? st->packed + (size_t)gi * st->packed_stride : NULL;
            if (st->kind == CONV_GEMM || st->kind == CONV_1X1) {
                p.N = g->out_size, p.lda = st->gk;
                if (st->kind == CONV_GEMM) conv_im2col_nd_f32(g, xg, st->Cg, col, threads);
                p.B = st->kind == CONV_GEMM ? col : xg, p.ldb = g->out_size;
                p.C = yg, p.ldc = g->out_size;
                p.row_bias = bias ? bias + gi * st->Mg : NULL, p.act = act;
                sgemm_f32(&p, gemm_scratch, threads);
                continue;
            }
            /* ConvTranspose: col = W_g^T (Mg*k x Cg) * X_g (Cg x in_size) */
            p.N = g->in_size, p.lda = st->gm, p.trans_a = 1;
            p.B = xg, p.ldb = g->in_size;
            if (st->kind == CONVT_1X1) {
                p.C = yg, p.ldc = g->out_size;
                p.row_bias = bias ? bias + gi * st->Mg : NULL, p.act = act;
                sgemm_f32(&p, gemm_scratch, threads);
                continue;
            }
            p.C = col, p.ldc = g->in_size;
            sgemm_f32(&p, gemm_scratch, threads);
            for (int64_t m = 0; m < st->Mg; m++) {
                float b = bias ? bias[gi * st->Mg + m] : 0.0f;
                float *ym = yg + m * g->out_size;
                for (int64_t i = 0; i < g->out_size; i++)
                    ym[i] = b;
            }
            convt_col2im_nd_f32(g, col, st->Mg, yg, threads);
            if (act) op_apply_act_f32(act, yg, st->Mg * g->out_size);
        }
    }
}

static cleave_status conv_run(op_call *c) {
    const conv_state *st = (const conv_state *)c->state;
    if (!st) return op_fail(c, CLEAVE_E_INTERNAL, "run without prepare");
    const float *x = (const float *)c->in[0]->data, *w = (const float *)c->in[1]->data;
    const float *bias = c->n_in > 2 && c->in[2] ? (const float *)c->in[2]->data : NULL;
    float *y = (float *)c->out[0]->data;
    const ir_act *act = c->node->act.kind != IR_ACT_NONE ? &c->node->act : NULL;
    if (st->fast) {
        int r = c->sum ? fast_conv_run_sum(st->fast, x, y, (const float *)c->sum->data, c->scratch)
                       : fast_conv_run(st->fast, x, y, c->scratch);
        if (r != 0) return op_fail(c, CLEAVE_E_INTERNAL, "fast kernel (%s) failed", fast_impl_name(st->fast));
        return CLEAVE_OK;
    }
    if (c->sum) act = NULL; /* after the sum, below */
    int threads = c->threads < st->threads ? c->threads : st->threads;
    if (threads < 1) threads = 1;
    float *y_blk = NULL;
    if (st->src_blk || st->dst_blk) {
        const cv_tensor *xt = c->in[0];
        float *xp = (float *)((char *)c->scratch + st->blk_off);
        float *yp = (float *)((char *)xp + ((cv_nbytes(xt) + 63) & ~(size_t)63));
        if (st->src_blk) {
            blk_to_plain_f32(x, xp, xt->dims[0], xt->dims[1], xt->dims[2] * xt->dims[3], st->src_blk,
                             threads);
            x = xp;
        }
        if (st->dst_blk) y_blk = y, y = yp;
    }
    if (st->kind == CONV_DIRECT) {
        conv_direct_2d_f32(st, x, w, bias, y, act, threads);
    } else {
        conv_gemm_run(c, st, x, w, bias, y, act, threads);
    }
    if (y_blk) {
        const cv_tensor *yt = c->out[0];
        blk_to_blocked_f32(y, y_blk, yt->dims[0], yt->dims[1], yt->dims[2] * yt->dims[3], st->dst_blk,
                           threads);
        y = y_blk;
    }
    if (c->sum) { /* the executor only fuses a sum with no activation or a Relu */
        const float *s = (const float *)c->sum->data;
        const int64_t n = (int64_t)(cv_storage_bytes(c->out[0]) / sizeof(float));
        const int relu = c->sum_act.kind == IR_ACT_RELU;
        for (int64_t i = 0; i < n; i++) {
            float v = y[i] + s[i];
            y[i] = relu && v < 0.0f ? 0.0f : v; /* NaN stays NaN */
        }
    }
    return CLEAVE_OK;
}

const op_def op_def_Conv = {"Conv",       2, 3, 1, 1, conv_infer, conv_prepare, conv_run,
                            conv_release, 0};
const op_def op_def_ConvTranspose = {
    "ConvTranspose", 2, 3, 1, 1, convt_infer, convt_prepare, conv_run, conv_release, 0};
