/* ops/dnnl: fast_qconv_* / fast_qgemm_* on oneDNN 2.x: u8/s8 x s8 -> s32
 * convolution and matmul primitives with ONNX Runtime's requantization as
 * attributes: per-output-channel output scales, src / dst zero points, and
 * post-ops [relu] [round] so that dst = round(v) + dst_zp exactly as the
 * reference (oneDNN adds dst_zp before its own rounding otherwise, which
 * can move a tie). oneDNN's int8 convs want nhwc-like layouts (NCHW gets
 * only its naive ref kernel), so NCHW src / dst are reordered through
 * scratch (the executor keeps uint8 activations NHWC between convs);
 * the weights are reordered once at create (with the compensation the
 * kernels need for a src zero point). */
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "base/pack.h"
#include "ops/dnnl/fast_dnnl.h"
#include "ops/fast.h"
#include "ops/op.h"

static dnnl_data_type_t qtype_dt(fast_qtype t) {
    return t == FAST_Q_U8 ? dnnl_u8 : t == FAST_Q_S8 ? dnnl_s8 : dnnl_s32;
}

static int qtype_ok(fast_qtype t, int allow_s32) {
    return t == FAST_Q_U8 || t == FAST_Q_S8 || (allow_s32 && t == FAST_Q_S32);
}

/* x86 without VNNI: oneDNN's u8 x s8 kernels sum pairs of products in
 * int16 with saturation (vpmaddubsw), and s8 sources get weights scaled by
 * 1/2 (scale_adjust). Exact only for u8 src with weights in [-64, 63]
 * (|255 * 64 * 2| < 2^15). Returns 1 when the kernel is exact for these
 * weights. */
static int q_isa_exact(fast_qtype src, const int8_t *w, int64_t n) {
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_avx2_vnni:
    case dnnl_cpu_isa_avx512_core_vnni:
    case dnnl_cpu_isa_avx512_core_bf16:
    case dnnl_cpu_isa_avx512_core_amx: return 1;
    default: break;
    }
    if (src != FAST_Q_U8) return 0;
    for (int64_t i = 0; i < n; i++)
        if (w[i] < -64 || w[i] > 63) return 0;
    return 1;
}

/* Attributes: user scratchpad; for a requantized dst, output scales (one
 * per dst dim 1 entry), relu / round post-ops and the dst zero point; the
 * src zero point. */
static dnnl_status_t q_attr(fast_qtype dst, const float *scale, int64_t count, int32_t src_zp,
                            int32_t dst_zp, int relu, dnnl_primitive_attr_t *attr) {
    dnnl_status_t s = fast_dnnl_attr_create(NULL, attr);
    if (s != dnnl_success) return s;
    if (src_zp) s = dnnl_primitive_attr_set_zero_points(*attr, DNNL_ARG_SRC, 1, 0, &src_zp);
    if (s == dnnl_success && dst != FAST_Q_S32) {
        s = dnnl_primitive_attr_set_output_scales(*attr, count, 1 << 1, scale);
        if (s == dnnl_success && dst_zp)
            s = dnnl_primitive_attr_set_zero_points(*attr, DNNL_ARG_DST, 1, 0, &dst_zp);
        dnnl_post_ops_t po = NULL;
        if (s == dnnl_success && (relu || dst_zp)) {
            s = dnnl_post_ops_create(&po);
            if (s == dnnl_success && relu)
                s = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0, 0);
            /* round half to even before dst_zp is added (without it oneDNN
             * rounds v + dst_zp, whose float sum can turn a near-tie into a
             * tie); with dst_zp 0 the final f32 -> int conversion is it. */
            if (s == dnnl_success && dst_zp)
                s = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_round, 0, 0);
            if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(*attr, po);
        }
        if (po) dnnl_post_ops_destroy(po);
    }
    if (s != dnnl_success) {
        dnnl_primitive_attr_destroy(*attr);
        *attr = NULL;
    }
    return s;
}

/* ---- convolution ---- */

typedef struct qconv_state {
    fast_dnnl_head head;
    int threads;
    dnnl_stream_t stream;
    fast_dnnl_prim conv, in, out;     /* in / out: user layout <-> the conv's */
    dnnl_memory_t src_user, dst_user; /* NCHW or NHWC, bound per run */
    dnnl_memory_t src_c, dst_c;       /* conv-layout copies in scratch, or NULL */
    dnnl_memory_t wei, bias;          /* owned, reordered at create */
    void *wei_buf, *bias_buf;
    size_t off_src, off_dst, scratch_bytes;
    /* weight_bits < 8: wei_buf holds the reordered int8 values packed
     * (wei_n8 of them, then the tail of wei_bytes - wei_n8 bytes, e.g.
     * compensation, as is); run widens them into scratch at off_wei */
    int wbits;
    size_t wei_n8, wei_bytes, off_wei;
    /* chunked (n_sub > 0): output channels [g*kc, (g+1)*kc) by sub[g], each
     * widening only its own weights; their outputs go through scratch at
     * off_tmp (pixels x kc, NHWC) into dst */
    int n_sub, dst_nhwc;
    struct qconv_state **sub;
    int64_t kc, k, n, hw;
    size_t elem, off_tmp;
    /* halves (x86 without VNNI, weights outside [-64, 63]): sub[0] sums
     * x * (w >> 1), sub[1] x * (w & 1) + bias, both exact int32 into
     * scratch at off_tmp and off_tmp2; run requantizes 2 a0 + a1 */
    int halves, relu, dst_zp;
    fast_qtype dst_type;
    float *scale;
    size_t off_tmp2;
} qconv_state;

static int qconv_desc_ok(const fast_qconv_desc *d) {
    const int64_t cap = (int64_t)1 << 31;
    int64_t v[] = {d->n,         d->c,           d->h,           d->w,    d->k,
                   d->kh,        d->kw,          d->oh,          d->ow,   d->stride[0],
                   d->stride[1], d->dilation[0], d->dilation[1], d->group};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (v[i] < 1 || v[i] > cap) return 0;
    if (d->pad_t < 0 || d->pad_l < 0 || d->pad_b < 0 || d->pad_r < 0) return 0;
    if (!qtype_ok(d->src_type, 0) || !qtype_ok(d->dst_type, 1)) return 0;
    if (d->dst_type != FAST_Q_S32 && !d->scale) return 0;
    if (d->dst_type == FAST_Q_S32 && (d->dst_zp || d->relu)) return 0;
    return d->weight && d->c % d->group == 0 && d->k % d->group == 0;
}

/* ONNX K x C/g x kh x kw is oneDNN's goihw (groups) / oihw. */
static dnnl_status_t qconv_weights_md(const fast_qconv_desc *d, int any, dnnl_memory_desc_t *md) {
    if (d->group > 1) {
        dnnl_dims_t wd = {d->group, d->k / d->group, d->c / d->group, d->kh, d->kw};
        return dnnl_memory_desc_init_by_tag(md, 5, wd, dnnl_s8, any ? dnnl_format_tag_any : dnnl_goihw);
    }
    dnnl_dims_t wd = {d->k, d->c, d->kh, d->kw};
    return dnnl_memory_desc_init_by_tag(md, 4, wd, dnnl_s8, any ? dnnl_format_tag_any : dnnl_oihw);
}

static dnnl_status_t qconv_pd(const fast_qconv_desc *d, const_dnnl_primitive_attr_t attr,
                              dnnl_primitive_desc_t *pd) {
    dnnl_memory_desc_t src, wei, bias, dst;
    dnnl_dims_t sd = {d->n, d->c, d->h, d->w}, dd = {d->n, d->k, d->oh, d->ow}, bd = {d->k};
    dnnl_dims_t strides = {d->stride[0], d->stride[1]};
    dnnl_dims_t dil = {d->dilation[0] - 1, d->dilation[1] - 1}; /* oneDNN: 0 = dense */
    dnnl_dims_t pl = {d->pad_t, d->pad_l}, pr = {d->pad_b, d->pad_r};
    const dnnl_format_tag_t any = dnnl_format_tag_any;
    dnnl_status_t s = dnnl_memory_desc_init_by_tag(&src, 4, sd, qtype_dt(d->src_type), any);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&dst, 4, dd, qtype_dt(d->dst_type), any);
    if (s == dnnl_success) s = qconv_weights_md(d, 1, &wei);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&bias, 1, bd, dnnl_s32, dnnl_a);
    dnnl_convolution_desc_t cd;
    if (s == dnnl_success)
        s = dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference,
                                                       dnnl_convolution_direct, &src, &wei,
                                                       d->bias ? &bias : NULL, &dst, strides, dil,
                                                       pl, pr);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(pd, &cd, attr, fast_dnnl_engine(), NULL);
    if (s == dnnl_success && fast_dnnl_impl_is_ref(*pd)) {
        dnnl_primitive_desc_destroy(*pd);
        s = dnnl_unimplemented; /* oneDNN's ref kernels are naive loops: use cleave's */
    }
    if (s != dnnl_success) *pd = NULL;
    return s;
}

/* NCHW / NHWC user memories, conv-layout copies and reorders where they differ,
 * the scratch plan [library scratchpad][src copy][dst copy]. */
static dnnl_status_t qconv_bind_io(qconv_state *st, const fast_qconv_desc *d,
                                   const_dnnl_primitive_desc_t pd) {
    dnnl_memory_desc_t su, du;
    dnnl_dims_t sd = {d->n, d->c, d->h, d->w}, dd = {d->n, d->k, d->oh, d->ow};
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *dmd = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    dnnl_status_t s = dnnl_memory_desc_init_by_tag(&su, 4, sd, qtype_dt(d->src_type),
                                                   d->src_nhwc ? dnnl_nhwc : dnnl_nchw);
    if (s == dnnl_success)
        s = dnnl_memory_desc_init_by_tag(&du, 4, dd, qtype_dt(d->dst_type),
                                         d->dst_nhwc ? dnnl_nhwc : dnnl_nchw);
    if (s == dnnl_success) s = fast_dnnl_memory_unbound(&su, &st->src_user);
    if (s == dnnl_success) s = fast_dnnl_memory_unbound(&du, &st->dst_user);
    if (s == dnnl_success && !dnnl_memory_desc_equal(smd, &su)) {
        s = fast_dnnl_memory_unbound(smd, &st->src_c);
        if (s == dnnl_success) s = fast_dnnl_reorder_create(&st->in, &su, smd);
    }
    if (s == dnnl_success && !dnnl_memory_desc_equal(dmd, &du)) {
        s = fast_dnnl_memory_unbound(dmd, &st->dst_c);
        if (s == dnnl_success) s = fast_dnnl_reorder_create(&st->out, dmd, &du);
    }
    if (s != dnnl_success) return s;
    size_t pad = st->conv.pad_bytes;
    if (st->in.pad_bytes > pad) pad = st->in.pad_bytes;
    if (st->out.pad_bytes > pad) pad = st->out.pad_bytes;
    st->off_src = fast_dnnl_align64(pad);
    st->off_dst = st->off_src + (st->src_c ? fast_dnnl_align64(dnnl_memory_desc_get_size(smd)) : 0);
    st->scratch_bytes =
        st->off_dst + (st->dst_c ? fast_dnnl_align64(dnnl_memory_desc_get_size(dmd)) : 0);
    snprintf(st->head.impl, sizeof st->head.impl, "%s %s->%s%s", fast_dnnl_impl_str(pd),
             d->src_type == FAST_Q_U8 ? "u8" : "s8",
             d->dst_type == FAST_Q_U8 ? "u8" : d->dst_type == FAST_Q_S8 ? "s8" : "s32",
             st->src_c || st->dst_c ? " (reordered)" : "");
    return s;
}

/* Replace the reordered weights by their packed form (see qconv_state).
 * The int8 part is the product of the padded dims (padding is 0); kept
 * unpacked when a value does not fit, which would be a caller's error. */
static dnnl_status_t qconv_pack_weights(qconv_state *st, int bits) {
    const dnnl_memory_desc_t *md;
    if (dnnl_memory_get_memory_desc(st->wei, &md) != dnnl_success || md->offset0 != 0)
        return dnnl_success;
    size_t n8 = 1, total = dnnl_memory_desc_get_size(md);
    for (int i = 0; i < md->ndims; i++) n8 *= (size_t)md->padded_dims[i];
    if (n8 > total || q_bits_s8(st->wei_buf, n8) > bits) return dnnl_success;
    const size_t pk = q_packed_bytes(n8, bits);
    uint8_t *buf = cv_aligned_alloc(pk + (total - n8) + 1);
    if (!buf) return dnnl_out_of_memory;
    q_pack_s(st->wei_buf, n8, bits, buf);
    memcpy(buf + pk, (const char *)st->wei_buf + n8, total - n8);
    cv_aligned_free(st->wei_buf);
    st->wei_buf = buf;
    st->wbits = bits, st->wei_n8 = n8, st->wei_bytes = total;
    st->head.held += pk + (total - n8) - total;
    st->off_wei = fast_dnnl_align64(st->scratch_bytes);
    st->scratch_bytes = st->off_wei + fast_dnnl_align64(total);
    const size_t len = strlen(st->head.impl);
    snprintf(st->head.impl + len, sizeof st->head.impl - len, " w%d", bits);
    return dnnl_success;
}

/* Packed weights are widened into scratch before each run. A layer whose
 * int8 weights exceed this is split by output channels into convs whose
 * weights each fit it, so that the widened copy stays small next to the
 * packed ones (the planner counts at most this much for it). */
#define QCONV_WIDEN_CAP ((int64_t)FAST_QCONV_WIDEN_CAP)

static int qconv_create_one(const fast_qconv_desc *d, void **state);

/* The number of chunks for d: 1 when it needs none or cannot be split
 * (grouped convs; chunks of fewer than 8 channels). */
static int64_t qconv_chunks(const fast_qconv_desc *d) {
    const int64_t per_k = d->c * d->kh * d->kw;
    if (d->weight_bits < 2 || d->weight_bits > FAST_QCONV_PACK_MAX_BITS || d->group != 1 ||
        d->k * per_k <= QCONV_WIDEN_CAP)
        return 1;
    for (int64_t g = 2; d->k / g >= 8; g++)
        if (d->k % g == 0 && d->k / g * per_k <= QCONV_WIDEN_CAP) return g;
    return 1;
}

static int qconv_create_chunked(const fast_qconv_desc *d, int64_t g, void **state) {
    qconv_state *st = cv_calloc(1, sizeof *st);
    if (!st) return FAST_NOMEM;
    st->sub = cv_calloc((size_t)g, sizeof *st->sub);
    if (!st->sub) {
        cv_free(st);
        return FAST_NOMEM;
    }
    st->kc = d->k / g, st->k = d->k, st->n = d->n, st->hw = d->oh * d->ow;
    st->elem = d->dst_type == FAST_Q_S32 ? 4 : 1;
    st->dst_nhwc = d->dst_nhwc;
    const int64_t per_k = d->c * d->kh * d->kw;
    size_t scratch = 0;
    int r = FAST_OK;
    for (int64_t i = 0; i < g && r == FAST_OK; i++) {
        fast_qconv_desc s = *d;
        s.k = st->kc;
        s.weight = d->weight + i * st->kc * per_k;
        s.bias = d->bias ? d->bias + i * st->kc : NULL;
        s.scale = d->scale ? d->scale + i * st->kc : NULL;
        s.dst_nhwc = 1;
        r = qconv_create_one(&s, (void **)&st->sub[i]);
        if (r != FAST_OK) break;
        st->n_sub++;
        st->head.held += st->sub[i]->head.held;
        if (st->sub[i]->scratch_bytes > scratch) scratch = st->sub[i]->scratch_bytes;
    }
    if (r != FAST_OK) {
        fast_qconv_destroy(st);
        return r;
    }
    st->off_tmp = fast_dnnl_align64(scratch);
    st->scratch_bytes = st->off_tmp + fast_dnnl_align64((size_t)(d->n * st->hw * st->kc) * st->elem);
    snprintf(st->head.impl, sizeof st->head.impl, "%lldx %.90s", (long long)g, st->sub[0]->head.impl);
    *state = st;
    return FAST_OK;
}

static int qconv_run_chunked(qconv_state *st, const void *src, void *dst, char *sc) {
    uint8_t *tmp = (uint8_t *)(sc + st->off_tmp);
    const size_t row = (size_t)st->kc * st->elem;
    for (int g = 0; g < st->n_sub; g++) {
        if (fast_qconv_run(st->sub[g], src, tmp, sc) != 0) return -1;
        uint8_t *y = (uint8_t *)dst;
        for (int64_t n = 0; n < st->n; n++)
            for (int64_t p = 0; p < st->hw; p++) {
                const uint8_t *from = tmp + (size_t)(n * st->hw + p) * row;
                if (st->dst_nhwc) { /* pixel p's channels [g kc, (g+1) kc) */
                    memcpy(y + ((size_t)(n * st->hw + p) * (size_t)st->k + (size_t)g * (size_t)st->kc) * st->elem,
                           from, row);
                } else { /* channel planes: scatter this pixel's kc values */
                    for (int64_t c = 0; c < st->kc; c++)
                        memcpy(y + ((size_t)((n * st->k + g * st->kc + c) * st->hw + p)) * st->elem,
                               from + (size_t)c * st->elem, st->elem);
                }
            }
    }
    return 0;
}

/* Exact int8 on x86 without VNNI for any int8 weights: w = 2 (w >> 1) +
 * (w & 1), both halves within what the u8 kernels sum exactly; two convs
 * to int32, then the reference requantization (op_requant_s32). */
static int qconv_create_halves(const fast_qconv_desc *d, void **state) {
    const int64_t nw = d->k * (d->c / d->group) * d->kh * d->kw;
    if (d->dst_type == FAST_Q_S32) {
        /* the kernels pass accumulators through float: an int32 output is
         * exact only while every sum stays within 2^24 */
        const int64_t per = nw / d->k;
        for (int64_t m = 0; m < d->k; m++) {
            int64_t s = d->bias ? (d->bias[m] < 0 ? -(int64_t)d->bias[m] : d->bias[m]) : 0;
            for (int64_t j = 0; j < per; j++) {
                const int v = d->weight[m * per + j];
                s += 255 * (v < 0 ? -v : v);
            }
            if (s > (1 << 24)) return FAST_NO;
        }
    }
    qconv_state *st = cv_calloc(1, sizeof *st);
    int8_t *wh = cv_malloc((size_t)nw + 1), *wl = cv_malloc((size_t)nw + 1);
    if (st) st->sub = cv_calloc(2, sizeof *st->sub);
    if (st && d->scale) st->scale = cv_malloc(sizeof(float) * (size_t)d->k);
    if (!st || !wh || !wl || !st->sub || (d->scale && !st->scale)) {
        cv_free(wh), cv_free(wl);
        fast_qconv_destroy(st);
        return FAST_NOMEM;
    }
    for (int64_t i = 0; i < nw; i++) {
        const int v = d->weight[i];
        wl[i] = (int8_t)(v & 1);
        wh[i] = (int8_t)((v - (v & 1)) / 2); /* floor(v / 2), in [-64, 63] */
    }
    if (d->scale) memcpy(st->scale, d->scale, sizeof(float) * (size_t)d->k);
    st->halves = 1, st->relu = d->relu, st->dst_zp = d->dst_zp, st->dst_type = d->dst_type;
    st->k = d->k, st->n = d->n, st->hw = d->oh * d->ow, st->dst_nhwc = d->dst_nhwc;
    st->threads = d->threads;
    int r = FAST_OK;
    size_t scratch = 0;
    for (int h = 0; h < 2 && r == FAST_OK; h++) {
        fast_qconv_desc s = *d;
        s.dst_type = FAST_Q_S32, s.dst_zp = 0, s.relu = 0, s.scale = NULL;
        s.weight = h ? wl : wh;
        s.bias = h ? d->bias : NULL;
        s.weight_bits = h ? 2 : 0; /* the low half held packed at 2 bits */
        r = fast_qconv_create(&s, (void **)&st->sub[h]);
        if (r != FAST_OK) break;
        st->n_sub++;
        st->head.held += st->sub[h]->head.held;
        if (st->sub[h]->scratch_bytes > scratch) scratch = st->sub[h]->scratch_bytes;
    }
    cv_free(wh), cv_free(wl);
    if (r != FAST_OK) {
        fast_qconv_destroy(st);
        return r;
    }
    const size_t acc = fast_dnnl_align64(sizeof(int32_t) * (size_t)(d->n * d->k * st->hw));
    st->off_tmp = fast_dnnl_align64(scratch);
    st->off_tmp2 = st->off_tmp + acc;
    st->scratch_bytes = st->off_tmp2 + acc;
    snprintf(st->head.impl, sizeof st->head.impl, "2 halves %.90s", st->sub[0]->head.impl);
    *state = st;
    return FAST_OK;
}

static int qconv_run_halves(qconv_state *st, const void *src, void *dst, char *sc) {
    int32_t *a0 = (int32_t *)(sc + st->off_tmp), *a1 = (int32_t *)(sc + st->off_tmp2);
    if (fast_qconv_run(st->sub[0], src, a0, sc) != 0 || fast_qconv_run(st->sub[1], src, a1, sc) != 0)
        return -1;
    const int64_t total = st->n * st->k * st->hw;
    if (st->dst_type == FAST_Q_S32) {
        for (int64_t i = 0; i < total; i++)
            ((int32_t *)dst)[i] = (int32_t)(2u * (uint32_t)a0[i] + (uint32_t)a1[i]);
        return 0;
    }
    const int64_t K = st->k, hw = st->hw;
    const int nhwc = st->dst_nhwc;
    const cv_dtype yt = st->dst_type == FAST_Q_S8 ? CV_I8 : CV_U8;
    const int32_t ylo = st->relu && st->dst_zp > (yt == CV_I8 ? -128 : 0) ? st->dst_zp : yt == CV_I8 ? -128 : 0;
    const int32_t yhi = yt == CV_I8 ? 127 : 255;
    /* rows of one scale (NCHW: a channel's plane) or of all K (NHWC: a pixel) */
    const int64_t rows = nhwc ? st->n * hw : st->n * K, len = nhwc ? K : hw;
#pragma omp parallel for num_threads(st->threads) schedule(static) if (st->threads > 1 && total > (1 << 14))
    for (int64_t r = 0; r < rows; r++) {
        int32_t *a = a0 + r * len;
        for (int64_t j = 0; j < len; j++)
            a[j] = (int32_t)(2u * (uint32_t)a[j] + (uint32_t)a1[r * len + j]);
        op_requant_s32(a, len, 0, nhwc ? 0.0f : st->scale[r % K], nhwc ? st->scale : NULL,
                       st->dst_zp, ylo, yhi, yt, (char *)dst + r * len);
    }
    return 0;
}

int fast_qconv_create(const fast_qconv_desc *d, void **state) {
    *state = NULL;
    if (!qconv_desc_ok(d) || !fast_dnnl_engine()) return FAST_NO;
    if (!q_isa_exact(d->src_type, d->weight, d->k * (d->c / d->group) * d->kh * d->kw))
        return d->src_type == FAST_Q_U8 ? qconv_create_halves(d, state) : FAST_NO;
    const int64_t g = qconv_chunks(d);
    if (g > 1) return qconv_create_chunked(d, g, state);
    return qconv_create_one(d, state);
}

static int qconv_create_one(const fast_qconv_desc *d, void **state) {
    *state = NULL;
    if (!qconv_desc_ok(d) || !fast_dnnl_engine()) return FAST_NO;
    if (!q_isa_exact(d->src_type, d->weight, d->k * (d->c / d->group) * d->kh * d->kw))
        return FAST_NO;
    qconv_state *st = cv_calloc(1, sizeof *st);
    if (!st) return FAST_NOMEM;
    st->threads = fast_dnnl_threads(d->threads);
    int saved = fast_dnnl_omp_enter(st->threads);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s = q_attr(d->dst_type, d->scale, d->k, d->src_zp, d->dst_zp, d->relu, &attr);
    if (s == dnnl_success) {
        s = qconv_pd(d, attr, &pd);
        dnnl_primitive_attr_destroy(attr);
    }
    if (s == dnnl_success) s = fast_dnnl_prim_create(&st->conv, pd);
    if (s == dnnl_success) {
        dnnl_memory_desc_t user;
        s = qconv_weights_md(d, 0, &user);
        if (s == dnnl_success)
            s = fast_dnnl_const_reorder(&st->head, &user, d->weight,
                                        dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0),
                                        &st->wei_buf, &st->wei);
    }
    if (s == dnnl_success && d->bias) {
        const dnnl_memory_desc_t *bmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1);
        s = fast_dnnl_const_reorder(&st->head, bmd, d->bias, bmd, &st->bias_buf, &st->bias);
    }
    if (s == dnnl_success) s = qconv_bind_io(st, d, pd);
    if (s == dnnl_success && d->weight_bits >= 2 && d->weight_bits <= FAST_QCONV_PACK_MAX_BITS)
        s = qconv_pack_weights(st, d->weight_bits);
    if (s == dnnl_success)
        s = dnnl_stream_create(&st->stream, fast_dnnl_engine(), dnnl_stream_default_flags);
    if (pd) dnnl_primitive_desc_destroy(pd);
    fast_dnnl_omp_leave(saved);
    if (s != dnnl_success) {
        fast_qconv_destroy(st);
        return fast_dnnl_fail(s);
    }
    *state = st;
    return FAST_OK;
}

size_t fast_qconv_scratch_bytes(const void *state) {
    return ((const qconv_state *)state)->scratch_bytes;
}

int fast_qconv_run(void *state, const void *src, void *dst, void *scratch) {
    qconv_state *st = state;
    char *sc = scratch;
    if (st->halves) return qconv_run_halves(st, src, dst, sc);
    if (st->n_sub) return qconv_run_chunked(st, src, dst, sc);
    int saved = fast_dnnl_omp_enter(st->threads);
    dnnl_memory_t csrc = st->src_user, cdst = st->dst_user;
    dnnl_exec_arg_t a[6];
    /* The conv only reads src; oneDNN's memory API is not const-aware. */
    dnnl_status_t s = dnnl_memory_set_data_handle(st->src_user, (void *)src);
    if (s == dnnl_success) s = dnnl_memory_set_data_handle(st->dst_user, dst);
    if (s == dnnl_success && st->src_c) {
        csrc = st->src_c;
        s = dnnl_memory_set_data_handle(st->src_c, sc + st->off_src);
        a[0] = (dnnl_exec_arg_t){DNNL_ARG_FROM, st->src_user};
        a[1] = (dnnl_exec_arg_t){DNNL_ARG_TO, st->src_c};
        if (s == dnnl_success) s = fast_dnnl_prim_exec(&st->in, st->stream, a, 2, sc);
    }
    if (s == dnnl_success && st->dst_c) {
        cdst = st->dst_c;
        s = dnnl_memory_set_data_handle(st->dst_c, sc + st->off_dst);
    }
    if (s == dnnl_success && st->wbits) { /* widen the packed weights */
        int8_t *w = (int8_t *)(sc + st->off_wei);
        const size_t pk = q_packed_bytes(st->wei_n8, st->wbits);
        q_unpack_s(st->wei_buf, st->wei_n8, st->wbits, w);
        memcpy(w + st->wei_n8, (const char *)st->wei_buf + pk, st->wei_bytes - st->wei_n8);
        s = dnnl_memory_set_data_handle(st->wei, w);
    }
    int n = 0;
    a[n++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, csrc};
    a[n++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, st->wei};
    if (st->bias) a[n++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, st->bias};
    a[n++] = (dnnl_exec_arg_t){DNNL_ARG_DST, cdst};
    if (s == dnnl_success) s = fast_dnnl_prim_exec(&st->conv, st->stream, a, n, sc);
    if (s == dnnl_success && st->dst_c) {
        a[0] = (dnnl_exec_arg_t){DNNL_ARG_FROM, st->dst_c};
        a[1] = (dnnl_exec_arg_t){DNNL_ARG_TO, st->dst_user};
        s = fast_dnnl_prim_exec(&st->out, st->stream, a, 2, sc);
    }
    if (s == dnnl_success) s = dnnl_stream_wait(st->stream);
    fast_dnnl_omp_leave(saved);
    return s == dnnl_success ? 0 : -1;
}

void fast_qconv_destroy(void *state) {
    qconv_state *st = state;
    if (!st) return;
    for (int g = 0; g < st->n_sub; g++) fast_qconv_destroy(st->sub[g]);
    cv_free(st->sub);
    cv_free(st->scale);
    fast_dnnl_prim_destroy(&st->conv);
    fast_dnnl_prim_destroy(&st->in);
    fast_dnnl_prim_destroy(&st->out);
    dnnl_memory_t mems[] = {st->src_user, st->dst_user, st->src_c, st->dst_c, st->wei, st->bias};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (mems[i]) dnnl_memory_destroy(mems[i]);
    if (st->stream) dnnl_stream_destroy(st->stream);
    cv_aligned_free(st->wei_buf);
    cv_aligned_free(st->bias_buf);
    cv_free(st);
}

/* ---- matmul ---- */

typedef struct qgemm_state {
    fast_dnnl_head head;
    int threads;
    dnnl_stream_t stream;
    fast_dnnl_prim mm;
    dnnl_memory_t a, y, w; /* a, y bound per run; w owned */
    void *w_buf;
} qgemm_state;

static int qgemm_desc_ok(const fast_qgemm_desc *d) {
    const int64_t cap = (int64_t)1 << 31;
    if (!qtype_ok(d->a_type, 0) || !qtype_ok(d->y_type, 1)) return 0;
    if (d->y_type != FAST_Q_S32 && !d->scale) return 0;
    if (d->y_type == FAST_Q_S32 && (d->y_zp || d->relu)) return 0;
    return d->b && d->m >= 1 && d->n >= 1 && d->k >= 1 && d->m <= cap && d->n <= cap && d->k <= cap;
}

static dnnl_status_t qgemm_build(qgemm_state *st, const fast_qgemm_desc *d) {
    dnnl_memory_desc_t a, w_any, w_user, y;
    dnnl_dims_t ad = {d->m, d->k}, wd = {d->k, d->n}, yd = {d->m, d->n};
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_matmul_desc_t md;
    dnnl_status_t s = dnnl_memory_desc_init_by_tag(&a, 2, ad, qtype_dt(d->a_type), dnnl_ab);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&y, 2, yd, qtype_dt(d->y_type), dnnl_ab);
    if (s == dnnl_success)
        s = dnnl_memory_desc_init_by_tag(&w_any, 2, wd, dnnl_s8, dnnl_format_tag_any);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&w_user, 2, wd, dnnl_s8, dnnl_ab);
    if (s == dnnl_success) s = dnnl_matmul_desc_init(&md, &a, &w_any, NULL, &y);
    if (s == dnnl_success) s = q_attr(d->y_type, d->scale, d->n, d->a_zp, d->y_zp, d->relu, &attr);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(&pd, &md, attr, fast_dnnl_engine(), NULL);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (s == dnnl_success && fast_dnnl_impl_is_ref(pd)) s = dnnl_unimplemented;
    if (s == dnnl_success) s = fast_dnnl_prim_create(&st->mm, pd);
    if (s == dnnl_success)
        s = fast_dnnl_const_reorder(&st->head, &w_user, d->b,
                                    dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0),
                                    &st->w_buf, &st->w);
    if (s == dnnl_success) s = fast_dnnl_memory_unbound(&a, &st->a);
    if (s == dnnl_success) s = fast_dnnl_memory_unbound(&y, &st->y);
    if (s == dnnl_success)
        snprintf(st->head.impl, sizeof st->head.impl, "%s %s->%s", fast_dnnl_impl_str(pd),
                 d->a_type == FAST_Q_U8 ? "u8" : "s8",
                 d->y_type == FAST_Q_U8 ? "u8" : d->y_type == FAST_Q_S8 ? "s8" : "s32");
    if (pd) dnnl_primitive_desc_destroy(pd);
    return s;
}

int fast_qgemm_create(const fast_qgemm_desc *d, void **state) {
    *state = NULL;
    if (!qgemm_desc_ok(d) || !fast_dnnl_engine()) return FAST_NO;
    if (!q_isa_exact(d->a_type, d->b, d->k * d->n)) return FAST_NO;
    qgemm_state *st = cv_calloc(1, sizeof *st);
    if (!st) return FAST_NOMEM;
    st->threads = fast_dnnl_threads(d->threads);
    int saved = fast_dnnl_omp_enter(st->threads);
    dnnl_status_t s = qgemm_build(st, d);
    if (s == dnnl_success)
        s = dnnl_stream_create(&st->stream, fast_dnnl_engine(), dnnl_stream_default_flags);
    fast_dnnl_omp_leave(saved);
    if (s != dnnl_success) {
        fast_qgemm_destroy(st);
        return fast_dnnl_fail(s);
    }
    *state = st;
    return FAST_OK;
}

size_t fast_qgemm_scratch_bytes(const void *state) {
    return ((const qgemm_state *)state)->mm.pad_bytes;
}

int fast_qgemm_run(void *state, const void *a, void *y, void *scratch) {
    qgemm_state *st = state;
    int saved = fast_dnnl_omp_enter(st->threads);
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, st->a}, {DNNL_ARG_WEIGHTS, st->w}, {DNNL_ARG_DST, st->y}};
    /* The product only reads a; oneDNN's memory API is not const-aware. */
    dnnl_status_t s = dnnl_memory_set_data_handle(st->a, (void *)a);
    if (s == dnnl_success) s = dnnl_memory_set_data_handle(st->y, y);
    if (s == dnnl_success) s = fast_dnnl_prim_exec(&st->mm, st->stream, args, 3, scratch);
    if (s == dnnl_success) s = dnnl_stream_wait(st->stream);
    fast_dnnl_omp_leave(saved);
    return s == dnnl_success ? 0 : -1;
}

void fast_qgemm_destroy(void *state) {
    qgemm_state *st = state;
    if (!st) return;
    fast_dnnl_prim_destroy(&st->mm);
    dnnl_memory_t mems[] = {st->a, st->y, st->w};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (mems[i]) dnnl_memory_destroy(mems[i]);
    if (st->stream) dnnl_stream_destroy(st->stream);
    cv_aligned_free(st->w_buf);
    cv_free(st);
}
