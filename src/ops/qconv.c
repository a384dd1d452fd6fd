/* qconv: the integer convolutions QLinearConv and ConvInteger (N-d, groups,
 * the f32 Conv's geometry; QLinearMatMul and MatMulInteger are qmatmul.c).
 * Reference: operands minus their zero points as int16 (im2col), the int32
 * GEMM of ops/qcommon.h whose sums wrap mod 2^32 (ONNX allows overflow only
 * there), then for QLinearConv ONNX Runtime's requantization
 *   y = clamp(rne(float(acc + bias) * (x_scale * w_scale / y_scale)) + y_zp, lo, hi)
 * (op_requant_s32; lo..hi the type's range, or a fused ReLU's / code
 * Clip's bounds, op_int_bounds). 2-D convs with int8 weights of zero point 0 run on
 * fast_qconv (ops/fast.h) when a backend has it.
 * A 2-D QLinearConv also reads and writes uint8 / int8 NHWC (block == C),
 * the layout the executor keeps between such convs when the backend is
 * there: the fast kernel takes it directly, the reference converts through
 * scratch. The reference 2-D kernel also reads and writes packed codes
 * (cv_tensor.pbits, runtime/pack.c): a tile's input rows unpacked, its
 * output codes packed. */
#include <stdlib.h>
#include <string.h>

#include "base/pack.h"
#include "ops/blocked.h"
#include "ops/fast.h"
#include "ops/op.h"
#include "ops/qcommon.h"

#define QC_MAX_SP (CV_MAX_DIMS - 2)
#define QC_TILE_BYTES QCONV_REF_TILE_BYTES /* per thread: im2col + accumulator tile */

/* Input positions; -1 = the op has no such input. */
typedef struct qconv_io {
    int x, xs, xz, w, ws, wz, ys, yz, b;
} qconv_io;
static const qconv_io QLINEARCONV_IO = {0, 1, 2, 3, 4, 5, 6, 7, 8};
static const qconv_io CONVINTEGER_IO = {0, -1, 2, 1, -1, 3, -1, -1, -1};

typedef struct qconv_geom {
    int nsp;
    int64_t in[QC_MAX_SP], out[QC_MAX_SP], k[QC_MAX_SP];
    int64_t s[QC_MAX_SP], d[QC_MAX_SP], pb[QC_MAX_SP], pe[QC_MAX_SP];
    int64_t in_size, out_size, k_size;
} qconv_geom;

typedef struct qconv_state {
    qconv_io io;
    qconv_geom g;
    int64_t N, C, M, group, Cg, Mg, Kg; /* Kg = Cg * k_size, the GEMM depth */
    int qlinear, relu, threads;
    int16_t *wq;                         /* (w - w_zp) M x Kg when known at prepare, */
    uint8_t *wpk;                        /* or held packed (then wq is NULL) */
    qc_packed pk;
    size_t off_w, off_acc, off_scale;    /* scratch: [col][w: unknown, or packed rows][acc][scales] */
    size_t off_x, off_y;                 /* then NCHW copies of an NHWC x / y (0: none) */
    /* Packed activations (cv_tensor.pbits, 2-D only): x's input rows of a
     * tile unpacked at off_xr (Cg x xrows x W), a tile's output codes at
     * off_yt (Mg x tn) before they are packed into y. */
    int xbits, ybits;
    int64_t xrows;
    size_t off_xr, off_yt;
    int64_t tile_lines;                  /* output lines per GEMM tile */
    void *fast;                          /* fast_qconv state or NULL */
} qconv_state;

static void qconv_release(void *state) {
    qconv_state *st = (qconv_state *)state;
    if (!st) return;
    if (st->fast) fast_qconv_destroy(st->fast);
    cv_aligned_free(st->wq);
    cv_aligned_free(st->wpk);
    cv_free(st);
}

/* Constant weights are held packed at the fewest bits that hold them: on
 * the fast path when that is at most 6 bits (8-bit weights quantized with
 * a reduced range, 7 bits for kernels without VNNI, stay as the library
 * reordered them: widening them every run would cost time and save 1/8),
 * on the reference path at any width up to 8 (int8 rather than int16).
 * CLEAVE_WPACK=0 turns it off, for A/B runs. */
#define QC_WPACK_MAX FAST_QCONV_PACK_MAX_BITS
static int qc_wpack(void) {
    const char *e = getenv("CLEAVE_WPACK");
    return !(e && *e == '0');
}

/* Geometry exactly as the f32 Conv (conv.c): kernel_shape must match W,
 * op_window_attrs for strides / dilations / pads / auto_pad, SAME_UPPER
 * puts the odd pad at the end. */
static cleave_status qconv_geometry(op_call *c, const cv_tensor *x, const cv_tensor *w,
                                    qconv_geom *g) {
    const int64_t *v;
    int nsp = g->nsp = x->ndim - 2, cnt, autopad;
    g->in_size = g->k_size = g->out_size = 1;
    for (int i = 0; i < nsp; i++) {
        g->in[i] = x->dims[2 + i], g->k[i] = w->dims[2 + i];
        g->in_size *= g->in[i], g->k_size *= g->k[i];
        g->s[i] = g->d[i] = 1, g->pb[i] = g->pe[i] = 0;
    }
    if ((cnt = ir_attr_ints(c->node, "kernel_shape", &v)) != 0) {
        if (cnt != nsp)
            return op_fail(c, CLEAVE_E_INVALID, "kernel_shape has %d values, expected %d", cnt, nsp);
        for (int i = 0; i < nsp; i++)
            if (v[i] != g->k[i])
                return op_fail(c, CLEAVE_E_INVALID,
                               "kernel_shape[%d] = %lld does not match the weight dim %lld", i,
                               (long long)v[i], (long long)g->k[i]);
    }
    CV_TRY(op_window_attrs(c, nsp, g->s, g->d, g->pb, g->pe, &autopad));
    for (int i = 0; i < nsp; i++) {
        int64_t ext = (g->k[i] - 1) * g->d[i] + 1;
        if (autopad == 1 || autopad == 2) {
            int64_t out = (g->in[i] + g->s[i] - 1) / g->s[i];
            int64_t total = (out - 1) * g->s[i] + ext - g->in[i];
            if (total < 0) total = 0;
            g->pb[i] = autopad == 1 ? total / 2 : total - total / 2;
            g->pe[i] = total - g->pb[i];
        } else if (autopad == 3) {
            g->pb[i] = g->pe[i] = 0;
        }
        int64_t span = g->in[i] + g->pb[i] + g->pe[i] - ext;
        if (span < 0)
            return op_fail(c, CLEAVE_E_INVALID,
                           "spatial dim %d: the dilated kernel (%lld) is larger than the padded "
                           "input (%lld)",
                           i, (long long)ext, (long long)(g->in[i] + g->pb[i] + g->pe[i]));
        g->out[i] = span / g->s[i] + 1;
        g->out_size *= g->out[i];
    }
    return CLEAVE_OK;
}

static cleave_status qconv_shape(op_call *c, const qconv_io *io, qconv_geom *g, int64_t *C,
                                 int64_t *M, int64_t *group) {
    CV_TRY(qc_need_q8(c, io->x, "x"));
    CV_TRY(qc_need_q8(c, io->w, "w"));
    const cv_tensor *x = c->in[io->x], *w = c->in[io->w];
    if (x->ndim < 3 || x->ndim > CV_MAX_DIMS || w->ndim != x->ndim)
        return op_fail(c, CLEAVE_E_INVALID, "x must have rank 3..%d and w the same, got %d and %d",
                       CV_MAX_DIMS, x->ndim, w->ndim);
    for (int i = 0; i < x->ndim; i++)
        if (x->dims[i] < 0 || w->dims[i] < 1 || (i >= 1 && x->dims[i] < 1))
            return op_fail(c, CLEAVE_E_INVALID, "x or w has an unknown or empty dim %d", i);
    *group = ir_attr_int(c->node, "group", 1);
    *C = x->dims[1], *M = w->dims[0];
    if (*group < 1 || *C % *group || *M % *group || w->dims[1] * *group != *C)
        return op_fail(c, CLEAVE_E_INVALID,
                       "channels: x has %lld, w is %lldx%lld, group %lld are inconsistent",
                       (long long)*C, (long long)*M, (long long)w->dims[1], (long long)*group);
    CV_TRY(qconv_geometry(c, x, w, g));
    if ((double)(*C / *group) * g->k_size * g->out_size > (double)CV_MAX_ELEMS)
        return op_fail(c, CLEAVE_E_LIMIT, "the im2col buffer would exceed the element cap");
    /* zero points are optional in ConvInteger (no scales), required in QLinearConv */
    const int zopt = io->xs < 0;
    CV_TRY(qc_param(c, io->xs, CV_F32, 1, 1, 0, "x_scale"));
    CV_TRY(qc_param(c, io->xz, x->dtype, 1, 1, zopt, "x_zero_point"));
    CV_TRY(qc_param(c, io->ws, CV_F32, *M, 1, 0, "w_scale"));
    CV_TRY(qc_param(c, io->wz, w->dtype, *M, 1, zopt, "w_zero_point"));
    CV_TRY(qc_param(c, io->ys, CV_F32, 1, 1, 0, "y_scale"));
    CV_TRY(qc_param(c, io->yz, 0, 1, 1, 0, "y_zero_point"));
    if (io->b >= 0 && io->b < c->n_in && c->in[io->b]) {
        const cv_tensor *b = c->in[io->b];
        if (b->dtype != CV_I32 || b->ndim != 1 || b->dims[0] != *M)
            return op_fail(c, CLEAVE_E_INVALID, "bias B must be int32 of shape [%lld]", (long long)*M);
    }
    return qc_check_act(c, io->ys >= 0 ? c->in[io->yz] : NULL);
}

static cleave_status qconv_infer_io(op_call *c, const qconv_io *io) {
    qconv_geom g;
    int64_t C, M, group, dims[CV_MAX_DIMS];
    CV_TRY(qconv_shape(c, io, &g, &C, &M, &group));
    dims[0] = c->in[io->x]->dims[0], dims[1] = M;
    for (int i = 0; i < g.nsp; i++) dims[2 + i] = g.out[i];
    op_set_out(c, 0, io->yz >= 0 ? c->in[io->yz]->dtype : CV_I32, g.nsp + 2, dims);
    return CLEAVE_OK;
}
static cleave_status qlinearconv_infer(op_call *c) {
    return qconv_infer_io(c, &QLINEARCONV_IO);
}
static cleave_status convinteger_infer(op_call *c) {
    return qconv_infer_io(c, &CONVINTEGER_IO);
}

/* Positions p in [0, count) with 0 <= p*s + off < limit form [*lo, *hi). */
static void qconv_valid_range(int64_t off, int64_t s, int64_t limit, int64_t count, int64_t *lo,
                              int64_t *hi) {
    int64_t l = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t h = limit - off <= 0 ? 0 : (limit - off + s - 1) / s;
    *lo = l > count ? count : l;
    *hi = h > count ? count : h < *lo ? *lo : h;
}

/* col[(c*k_size + kidx) * tn + o - q0*OW] = x[c][o*s - pb + k*d] - zp for
 * the outputs o of lines [q0, q1) (a line: the last output dim; tn their
 * count), 0 in the padding (ONNX Runtime pads with the zero point, i.e.
 * real 0); x is Cg x in_size uint8 / int8. Like conv.c's im2col: the
 * valid range of the last output dim is computed once per row. */
static void qconv_im2col_s16(const qconv_geom *g, const void *x, cv_dtype xt, int32_t zp,
                             int64_t Cg, int16_t *col, int64_t q0, int64_t q1, int threads) {
    const int L = g->nsp - 1;
    const int64_t rows = Cg * g->k_size, OW = g->out[L], W = g->in[L], sw = g->s[L];
    const int64_t tn = (q1 - q0) * OW; /* the tile: output lines [q0, q1) */
#pragma omp parallel for num_threads(threads) if (threads > 1 && rows * tn > (1 << 16))
    for (int64_t r = 0; r < rows; r++) {
        int64_t kk[QC_MAX_SP], o[QC_MAX_SP] = {0}, kr = r % g->k_size, lo, hi, t = q0;
        for (int d = L; d >= 0; d--) kk[d] = kr % g->k[d], kr /= g->k[d];
        for (int d = L - 1; d >= 0; d--) o[d] = t % g->out[d], t /= g->out[d];
        const int64_t xc = r / g->k_size * g->in_size, off = kk[L] * g->d[L] - g->pb[L];
        int16_t *dst = col + r * tn;
        qconv_valid_range(off, sw, W, OW, &lo, &hi);
        for (int64_t q = q0; q < q1; q++, dst += OW) {
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
                memset(dst, 0, sizeof(int16_t) * (size_t)OW);
                continue;
            }
            const int64_t x0 = xc + base * W + off;
            for (int64_t w = 0; w < lo; w++) dst[w] = 0;
            if (xt == CV_U8) {
                const uint8_t *xr = (const uint8_t *)x + x0;
                for (int64_t w = lo; w < hi; w++) dst[w] = (int16_t)(xr[w * sw] - zp);
            } else {
                const int8_t *xr = (const int8_t *)x + x0;
                for (int64_t w = lo; w < hi; w++) dst[w] = (int16_t)(xr[w * sw] - zp);
            }
            for (int64_t w = hi; w < OW; w++) dst[w] = 0;
        }
    }
}

/* (w - w_zp[m]) as int16, M x Kg. */
static void qconv_pack_w(const qconv_state *st, const cv_tensor *w, const cv_tensor *wz,
                         int16_t *dst) {
    for (int64_t m = 0; m < st->M; m++)
        qc_shift((const char *)w->data + m * st->Kg, w->dtype, qc_zp(wz, m), dst + m * st->Kg,
                 st->Kg);
}

/* Offer the node to fast_qconv: 2-D, int8 weights with zero point 0, every
 * scale / zero point / bias known now. FAST_NO leaves st->fast NULL. */
static int qconv_try_fast(op_call *c, qconv_state *st) {
    const qconv_io *io = &st->io;
    const cv_tensor *x = c->in[io->x], *w = c->in[io->w], *b = qc_in(c, io->b);
    if (!c->fast || st->g.nsp != 2 || !w->data || w->dtype != CV_I8 || !qc_zero_or_absent(c, io->wz))
        return FAST_NO;
    if (x->pbits || c->out[0]->pbits) return FAST_NO; /* packed activations: the reference reads them */
    const char *skip = getenv("CLEAVE_QCONV_REF"); /* tests: the reference on NHWC tensors */
    if (skip && *skip == '1') return FAST_NO;
    const int ks[] = {io->xz, io->xs, io->ws, io->ys, io->yz, io->b};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++)
        if (!qc_known(c, ks[i])) return FAST_NO;
    float *scale = NULL;
    if (st->qlinear) {
        scale = (float *)cv_malloc(sizeof(float) * (size_t)st->M);
        if (!scale) return FAST_NOMEM;
        const float xs = qc_scale(c->in[io->xs], 0), ys = qc_scale(c->in[io->ys], 0);
        for (int64_t m = 0; m < st->M; m++) scale[m] = xs * qc_scale(c->in[io->ws], m) / ys;
    }
    const qconv_geom *g = &st->g;
    fast_qconv_desc fd = {
        .n = st->N, .c = st->C, .h = g->in[0], .w = g->in[1], .k = st->M, .kh = g->k[0],
        .kw = g->k[1], .oh = g->out[0], .ow = g->out[1], .stride = {g->s[0], g->s[1]},
        .dilation = {g->d[0], g->d[1]}, .pad_t = g->pb[0], .pad_l = g->pb[1], .pad_b = g->pe[0],
        .pad_r = g->pe[1], .group = st->group,
        .src_type = x->dtype == CV_U8 ? FAST_Q_U8 : FAST_Q_S8,
        .dst_type = !st->qlinear ? FAST_Q_S32 : c->in[io->yz]->dtype == CV_U8 ? FAST_Q_U8 : FAST_Q_S8,
        .src_zp = qc_zp(qc_in(c, io->xz), 0), .dst_zp = st->qlinear ? qc_zp(c->in[io->yz], 0) : 0,
        .weight = (const int8_t *)w->data, .bias = b ? (const int32_t *)b->data : NULL,
        .scale = scale, .relu = st->relu, .threads = st->threads,
        .src_nhwc = x->block != 0, .dst_nhwc = c->out[0]->block != 0};
    if (qc_wpack()) fd.weight_bits = q_bits_s8((const int8_t *)w->data, (size_t)cv_numel(w));
    if (fd.weight_bits > QC_WPACK_MAX) fd.weight_bits = 0; /* 8-bit (reduced range: 7) as is */
    int r = fast_qconv_create(&fd, &st->fast);
    cv_free(scale);
    if (r != FAST_OK) st->fast = NULL;
    return r;
}

/* Hold (w - w_zp) packed when it fits 8 bits: each of the M rows at the
 * fewest bits that hold the layer, widened per GEMM task at run. */
static cleave_status qconv_hold_packed(op_call *c, qconv_state *st) {
    const size_t n = (size_t)(st->M * st->Kg);
    const int bits = q_bits_s16(st->wq, n);
    if (!qc_wpack() || bits > 8) return CLEAVE_OK;
    st->pk.bits = bits;
    st->pk.row = q_packed_bytes((size_t)st->Kg, bits);
    st->wpk = (uint8_t *)cv_aligned_alloc(st->pk.row * (size_t)st->M + 1);
    int8_t *row = (int8_t *)cv_malloc((size_t)st->Kg + 1);
    if (!st->wpk || !row) {
        cv_free(row);
        return qc_nomem(c, qconv_release, "packing the weights");
    }
    for (int64_t m = 0; m < st->M; m++) {
        for (int64_t k = 0; k < st->Kg; k++) row[k] = (int8_t)st->wq[m * st->Kg + k];
        q_pack_s(row, (size_t)st->Kg, bits, st->wpk + (size_t)m * st->pk.row);
    }
    cv_free(row);
    cv_aligned_free(st->wq);
    st->wq = NULL;
    st->pk.pk = st->wpk;
    c->held_bytes = st->pk.row * (size_t)st->M;
    return CLEAVE_OK;
}

static cleave_status qconv_prepare_io(op_call *c, const qconv_io *io) {
    qconv_state *st = (qconv_state *)cv_calloc(1, sizeof *st);
    if (!st) return op_fail(c, CLEAVE_E_NOMEM, "out of memory");
    st->io = *io;
    cleave_status s = qconv_shape(c, io, &st->g, &st->C, &st->M, &st->group);
    if (s != CLEAVE_OK) {
        cv_free(st);
        return s;
    }
    c->state = st;
    st->N = c->in[io->x]->dims[0];
    st->Cg = st->C / st->group, st->Mg = st->M / st->group, st->Kg = st->Cg * st->g.k_size;
    st->qlinear = io->ys >= 0;
    st->relu = c->node->act.kind == IR_ACT_RELU;
    st->threads = c->threads > 1 ? c->threads : 1;
    int r = qconv_try_fast(c, st);
    if (r == FAST_NOMEM) return qc_nomem(c, qconv_release, "creating the fast kernel");
    if (r == FAST_OK) {
        c->scratch_bytes = fast_qconv_scratch_bytes(st->fast);
        c->held_bytes = fast_held_bytes(st->fast);
        c->owns_in |= 1u << io->w;
        if (io->b >= 0) c->owns_in |= 1u << io->b;
        return CLEAVE_OK;
    }
    const cv_tensor *w = c->in[io->w];
    if (w->data && qc_known(c, io->wz)) {
        st->wq = (int16_t *)cv_aligned_alloc(sizeof(int16_t) * (size_t)(st->M * st->Kg));
        if (!st->wq) return qc_nomem(c, qconv_release, "packing the weights");
        qconv_pack_w(st, w, qc_in(c, io->wz), st->wq);
        c->held_bytes = sizeof(int16_t) * (size_t)(st->M * st->Kg);
        CV_TRY(qconv_hold_packed(c, st));
        c->owns_in |= 1u << io->w;
    }
    /* the GEMM runs over tiles of output lines, im2col columns and
     * accumulators of about QC_TILE_BYTES per thread: the scratch stays
     * small next to the activations (the edge's memory budget) */
    const int64_t ow = st->g.out[st->g.nsp - 1], lines = st->g.out_size / ow;
    const int xb = c->in[io->x]->pbits, yb = st->qlinear ? c->out[0]->pbits : 0;
    /* with packed activations the tile also holds its output codes (Mg
     * bytes a column) and the input rows it reads (Cg * stride_h * W bytes
     * an output line, plus the kernel's extra rows once): the same budget */
    const int64_t per_col = st->Kg * 2 + (st->qlinear ? st->Mg * 4 : 0) + (yb ? st->Mg : 0) +
                            (xb && st->g.nsp == 2 ? st->Cg * st->g.s[0] * st->g.s[1] : 0);
    int64_t budget = QC_TILE_BYTES * st->threads;
    if (xb && st->g.nsp == 2) budget -= st->Cg * ((st->g.k[0] - 1) * st->g.d[0] + 1) * st->g.in[1];
    const int64_t want = (budget > 0 ? budget : 0) / (per_col > 0 ? per_col : 1);
    st->tile_lines = want / ow; /* whole lines within the budget (at least one, below) */
    if (st->tile_lines > lines) st->tile_lines = lines;
    if (st->tile_lines < 1) st->tile_lines = 1;
    const int64_t tn = st->tile_lines * ow;
    size_t col = qc_align(sizeof(int16_t) * (size_t)(st->Kg * tn));
    size_t wb = st->wq ? 0
              : st->wpk ? qc_align(sizeof(int16_t) * (size_t)(st->Kg * st->threads))
                        : qc_align(sizeof(int16_t) * (size_t)(st->M * st->Kg));
    size_t acc = st->qlinear ? qc_align(sizeof(int32_t) * (size_t)(st->Mg * tn)) : 0;
    st->off_w = col, st->off_acc = col + wb, st->off_scale = col + wb + acc;
    c->scratch_bytes = qc_align(st->off_scale + (st->qlinear ? sizeof(float) * (size_t)st->M : 0));
    if (c->in[io->x]->block) {
        st->off_x = c->scratch_bytes;
        c->scratch_bytes += qc_align(cv_nbytes(c->in[io->x]));
    }
    if (c->out[0]->block) {
        st->off_y = c->scratch_bytes;
        c->scratch_bytes += qc_align(cv_nbytes(c->out[0]));
    }
    st->xbits = xb, st->ybits = yb;
    if ((st->xbits || st->ybits) && (st->g.nsp != 2 || c->in[io->x]->block || c->out[0]->block))
        return op_fail(c, CLEAVE_E_INTERNAL, "packed activations on a conv that is not 2-D plain");
    if (st->xbits) {
        const qconv_geom *g = &st->g;
        st->xrows = (st->tile_lines - 1) * g->s[0] + (g->k[0] - 1) * g->d[0] + 1;
        if (st->xrows > g->in[0]) st->xrows = g->in[0];
        st->off_xr = c->scratch_bytes;
        c->scratch_bytes += qc_align((size_t)(st->Cg * st->xrows * g->in[1]));
    }
    if (st->ybits) {
        st->off_yt = c->scratch_bytes;
        c->scratch_bytes += qc_align((size_t)(st->Mg * tn));
    }
    return CLEAVE_OK;
}

/* The input rows output lines [q0, q1) read, unpacked from a packed x into
 * xr (channels gi * Cg ... of image n); *gt is g for that window of rows
 * (its row 0 is x's row r0). */
static void qconv_unpack_rows(const qconv_state *st, const uint8_t *x, int64_t n, int64_t gi, int64_t q0,
                              int64_t q1, uint8_t *xr, qconv_geom *gt) {
    const qconv_geom *g = &st->g;
    const int64_t H = g->in[0], W = g->in[1];
    int64_t r0 = q0 * g->s[0] - g->pb[0], r1 = (q1 - 1) * g->s[0] - g->pb[0] + (g->k[0] - 1) * g->d[0] + 1;
    if (r0 < 0) r0 = 0;
    if (r1 > H) r1 = H;
    const int64_t rows = r1 > r0 ? r1 - r0 : 0;
    for (int64_t ch = 0; ch < st->Cg && rows; ch++)
        q_unpack_u_at(x, (size_t)(((n * st->C + gi * st->Cg + ch) * H + r0) * W), (size_t)(rows * W),
                      st->xbits, xr + ch * rows * W);
    *gt = *g;
    gt->in[0] = rows;
    gt->pb[0] = g->pb[0] + r0;
    gt->in_size = rows * W;
}
static cleave_status qlinearconv_prepare(op_call *c) {
    return qconv_prepare_io(c, &QLINEARCONV_IO);
}
static cleave_status convinteger_prepare(op_call *c) {
    return qconv_prepare_io(c, &CONVINTEGER_IO);
}

static cleave_status qconv_run(op_call *c) {
    const qconv_state *st = (const qconv_state *)c->state;
    if (!st) return op_fail(c, CLEAVE_E_INTERNAL, "run without prepare");
    const qconv_io *io = &st->io;
    const cv_tensor *x = c->in[io->x];
    void *y = c->out[0]->data;
    if (st->fast) {
        if (fast_qconv_run(st->fast, x->data, y, c->scratch) != 0)
            return op_fail(c, CLEAVE_E_INTERNAL, "fast kernel (%s) failed", fast_impl_name(st->fast));
        return op_clamp_out_codes(c); /* the kernel applies ReLU, not a Clip of codes */
    }
    int threads = c->threads < st->threads ? c->threads : st->threads;
    if (threads < 1) threads = 1;
    const qconv_geom *g = &st->g;
    char *sc = (char *)c->scratch;
    const void *xdata = x->data;
    if (x->block) { /* NHWC in: an NCHW copy */
        blk_to_plain_b8(x->data, (uint8_t *)(sc + st->off_x), st->N, st->C, g->in_size, x->block, threads);
        xdata = sc + st->off_x;
    }
    if (c->out[0]->block) y = sc + st->off_y;
    int16_t *col = (int16_t *)sc, *wq = st->wq;
    if (!wq && !st->wpk) {
        wq = (int16_t *)(sc + st->off_w);
        qconv_pack_w(st, c->in[io->w], qc_in(c, io->wz), wq);
    }
    const int32_t xz = qc_zp(qc_in(c, io->xz), 0);
    const cv_tensor *bt = qc_in(c, io->b);
    const int32_t *bias = bt ? (const int32_t *)bt->data : NULL;
    float *scale = (float *)(sc + st->off_scale);
    int32_t yz = 0, ylo = 0, yhi = 0;
    cv_dtype yt = c->out[0]->dtype;
    if (st->qlinear) {
        const float xs = qc_scale(c->in[io->xs], 0), ys = qc_scale(c->in[io->ys], 0);
        for (int64_t m = 0; m < st->M; m++) scale[m] = xs * qc_scale(c->in[io->ws], m) / ys;
        yz = qc_zp(c->in[io->yz], 0);
        CV_TRY(op_int_bounds(c, yt, yz, &ylo, &yhi));
    }
    const size_t xel = cv_dtype_size(x->dtype), yel = cv_dtype_size(yt);
    for (int64_t n = 0; n < st->N; n++)
        for (int64_t gi = 0; gi < st->group; gi++) {
            const char *xg = st->xbits ? NULL /* packed: rows unpacked per tile */
                                       : (const char *)xdata + (size_t)((n * st->C + gi * st->Cg) * g->in_size) * xel;
            const int64_t m0 = gi * st->Mg, yoff = (n * st->M + m0) * g->out_size;
            const int64_t ow = g->out[g->nsp - 1], lines = g->out_size / ow;
            for (int64_t q0 = 0; q0 < lines; q0 += st->tile_lines) {
                const int64_t q1 = q0 + st->tile_lines < lines ? q0 + st->tile_lines : lines;
                const int64_t tn = (q1 - q0) * ow, o0 = q0 * ow;
                if (st->xbits) {
                    qconv_geom gt;
                    uint8_t *xr = (uint8_t *)(sc + st->off_xr);
                    qconv_unpack_rows(st, (const uint8_t *)x->data, n, gi, q0, q1, xr, &gt);
                    qconv_im2col_s16(&gt, xr, CV_U8, xz, st->Cg, col, q0, q1, threads);
                } else {
                    qconv_im2col_s16(g, xg, x->dtype, xz, st->Cg, col, q0, q1, threads);
                }
                /* ConvInteger: the int32 sums go straight into y's rows */
                int32_t *acc = st->qlinear ? (int32_t *)(sc + st->off_acc) : (int32_t *)y + yoff + o0;
                const int64_t ldc = st->qlinear ? tn : g->out_size;
                qc_packed pg = st->pk;
                if (st->wpk) pg.pk += (size_t)m0 * pg.row;
                qc_gemm_s16_ref(st->Mg, tn, st->Kg, wq ? wq + m0 * st->Kg : NULL, col, tn, acc,
                                ldc, threads, st->wpk ? &pg : NULL, (int16_t *)(sc + st->off_w));
                if (!st->qlinear) continue;
#pragma omp parallel for num_threads(threads) if (threads > 1 && st->Mg * tn > (1 << 15))
                for (int64_t m = 0; m < st->Mg; m++)
                    op_requant_s32(acc + m * tn, tn, bias ? bias[m0 + m] : 0, scale[m0 + m], NULL, yz,
                                   ylo, yhi, yt,
                                   st->ybits ? (void *)(sc + st->off_yt + m * tn)
                                             : (char *)y + (size_t)(yoff + m * g->out_size + o0) * yel);
                /* packed y: one thread (neighbouring rows may share a byte) */
                for (int64_t m = 0; m < st->Mg && st->ybits; m++)
                    q_pack_u_at((const uint8_t *)(sc + st->off_yt + m * tn), (size_t)(yoff + m * g->out_size + o0),
                                (size_t)tn, st->ybits, (uint8_t *)y);
            }
        }
    if (c->out[0]->block) /* NHWC out */
        blk_to_blocked_b8(y, c->out[0]->data, st->N, st->M, g->out_size, c->out[0]->block, threads);
    return CLEAVE_OK;
}

const op_def op_def_QLinearConv = {
    .name = "QLinearConv", .min_in = 8, .max_in = 9, .min_out = 1, .max_out = 1,
    .infer = qlinearconv_infer, .prepare = qlinearconv_prepare, .run = qconv_run,
    .release = qconv_release,
};
const op_def op_def_ConvInteger = {
    .name = "ConvInteger", .min_in = 2, .max_in = 4, .min_out = 1, .max_out = 1,
    .infer = convinteger_infer, .prepare = convinteger_prepare, .run = qconv_run,
    .release = qconv_release,
};
