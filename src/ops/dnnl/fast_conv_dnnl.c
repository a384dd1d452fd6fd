/* ops/dnnl: fast_conv_* on oneDNN 2.x. At create: a forward-inference
 * convolution primitive with weights in the library's preferred layout
 * (reordered once here), bias and the fused activation as post-ops, src/dst
 * either plain NCHW or blocked with reorders around the conv (see
 * conv_pick_layout for the measured rule). Run binds the caller's buffers
 * and scratch and executes 1-3 primitives. */
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "ops/dnnl/fast_dnnl.h"
#include "ops/fast.h"

typedef struct conv_state {
    fast_dnnl_head head;
    int threads;
    dnnl_stream_t stream;
    fast_dnnl_prim conv, in, out;     /* in/out: reorders, .prim NULL if plain */
    dnnl_memory_t src_user, dst_user; /* NCHW, bound per run */
    dnnl_memory_t src_blk, dst_blk;   /* blocked copies in scratch, or NULL */
    dnnl_memory_t wei, bias;          /* owned, reordered at create */
    void *wei_buf, *bias_buf;
    size_t off_src, off_dst, scratch_bytes;
} conv_state;

/* Plain NCHW or blocked with reorders around the conv. Measured on an AMD
 * EPYC (oneDNN 2.6.3 avx512_core_bf16 dispatch; blocked = brgconv /
 * brdgmm_dw, plain = gemm:jit), ms per call with ReLU fused, including both
 * reorders, 1 thread / 2 threads:
 *   resnet18 7x7/2 3->64 @224     plain 3.68 / 1.91   blocked 1.34 / 0.68
 *   resnet18 3x3 64->64 @56       plain 2.09 / 1.23   blocked 1.17 / 0.59
 *   resnet18 3x3 512->512 @7      plain 1.36 / 0.80   blocked 0.88 / 0.47
 *   resnet18 1x1/2 64->128 @56    plain 0.19 / 0.18   blocked 0.15 / 0.10
 *   mobilenet dw 3x3 32 @112      plain 1.46 / 0.72   blocked 0.31 / 0.18
 *   1x1 16->96 @112 (expand)      plain 0.88 / 0.46   blocked 0.56 / 0.31
 *   1x1 64->256 @56 (expand)      plain 1.05 / 0.84   blocked 0.75 / 0.43
 *   1x1 144->24 @56 (reduce)      plain 0.14 / 0.08   blocked 0.30 / 0.21
 *   1x1 256->64 @56 (reduce)      plain 0.60 / 0.40   blocked 0.74 / 0.43
 *   1x1 1024->256 @14 (reduce)    plain 0.52 / 0.28   blocked 0.56 / 0.34
 *   1x1 960->160 @7 (reduce)      plain 0.10 / 0.06   blocked 0.08 / 0.07
 *   1x1 2048->512 @7 (reduce)     plain 0.67 / 0.35   blocked 0.50 / 0.30
 * Blocked wins everywhere (1.2x, up to 11x for depthwise; the reorders are
 * 1-15% of its time) except on channel-reducing stride-1 1x1 convs over a
 * large enough image: plain, they are one GEMM (W[K,C] x X[C,HW]) with no
 * im2col, while the blocked path pays a reorder of the wide input. Either
 * way the other layout is tried when the first gets no kernel. */
static fast_layout conv_pick_layout(const fast_conv_desc *d) {
    int pointwise = d->kh == 1 && d->kw == 1 && d->stride[0] == 1 && d->stride[1] == 1 &&
                    d->pad_t == 0 && d->pad_l == 0 && d->pad_b == 0 && d->pad_r == 0 &&
                    d->group == 1;
    if (pointwise && d->k <= d->c && d->oh * d->ow >= 100) return FAST_LAYOUT_PLAIN;
    return FAST_LAYOUT_BLOCKED;
}

/* Weights as oneDNN sees them: goihw with groups, oihw without; ONNX's
 * K x C/g x kh x kw is the same bytes either way. Tag any or the user's. */
static dnnl_status_t conv_weights_md(const fast_conv_desc *d, int any, dnnl_memory_desc_t *md) {
    if (d->group > 1) {
        dnnl_dims_t wd = {d->group, d->k / d->group, d->c / d->group, d->kh, d->kw};
        return dnnl_memory_desc_init_by_tag(md, 5, wd, dnnl_f32,
                                            any ? dnnl_format_tag_any : dnnl_goihw);
    }
    dnnl_dims_t wd = {d->k, d->c, d->kh, d->kw};
    return dnnl_memory_desc_init_by_tag(md, 4, wd, dnnl_f32, any ? dnnl_format_tag_any : dnnl_oihw);
}

static int conv_desc_ok(const fast_conv_desc *d) {
    const int64_t cap = (int64_t)1 << 31; /* oneDNN dims are int64, keep far below */
    int64_t v[] = {d->n,         d->c,           d->h,           d->w,    d->k,
                   d->kh,        d->kw,          d->oh,          d->ow,   d->stride[0],
                   d->stride[1], d->dilation[0], d->dilation[1], d->group};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (v[i] < 1 || v[i] > cap) return 0;
    if (d->pad_t < 0 || d->pad_l < 0 || d->pad_b < 0 || d->pad_r < 0) return 0;
    return d->weight && d->c % d->group == 0 && d->k % d->group == 0;
}

/* Primitive descriptor for one layout choice; NULL-safe on failure. */
static dnnl_status_t conv_pd(const fast_conv_desc *d, fast_layout layout,
                             const_dnnl_primitive_attr_t attr, dnnl_primitive_desc_t *pd) {
    dnnl_format_tag_t act_tag = layout == FAST_LAYOUT_PLAIN ? dnnl_nchw : dnnl_format_tag_any;
    dnnl_memory_desc_t src, wei, bias, dst;
    dnnl_dims_t sd = {d->n, d->c, d->h, d->w}, dd = {d->n, d->k, d->oh, d->ow};
    dnnl_dims_t bd = {d->k};
    dnnl_dims_t strides = {d->stride[0], d->stride[1]};
    dnnl_dims_t dil = {d->dilation[0] - 1, d->dilation[1] - 1}; /* oneDNN: 0 = dense */
    dnnl_dims_t pl = {d->pad_t, d->pad_l}, pr = {d->pad_b, d->pad_r};
    dnnl_status_t s = dnnl_memory_desc_init_by_tag(&src, 4, sd, dnnl_f32, act_tag);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&dst, 4, dd, dnnl_f32, act_tag);
    if (s == dnnl_success) s = conv_weights_md(d, 1, &wei);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&bias, 1, bd, dnnl_f32, dnnl_a);
    dnnl_convolution_desc_t cd;
    if (s == dnnl_success)
        s = dnnl_dilated_convolution_forward_desc_init(
            &cd, dnnl_forward_inference, dnnl_convolution_direct, &src, &wei,
            d->bias ? &bias : NULL, &dst, strides, dil, pl, pr);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(pd, &cd, attr, fast_dnnl_engine(), NULL);
    if (s == dnnl_success && fast_dnnl_impl_is_ref(*pd)) {
        dnnl_primitive_desc_destroy(*pd);
        s = dnnl_unimplemented; /* oneDNN's ref kernels are naive loops: use cleave's */
    }
    if (s != dnnl_success) *pd = NULL;
    return s;
}

/* Weights (ONNX K x C/g x kh x kw = oneDNN goihw / oihw) into pd's layout;
 * bias copied as is. */
static dnnl_status_t conv_bind_consts(conv_state *st, const fast_conv_desc *d,
                                      const_dnnl_primitive_desc_t pd) {
    const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    dnnl_memory_desc_t user;
    dnnl_status_t s = conv_weights_md(d, 0, &user);
    if (s == dnnl_success)
        s = fast_dnnl_const_reorder(&user, d->weight, wmd, &st->wei_buf, &st->wei);
    if (s != dnnl_success || !d->bias) return s;
    const dnnl_memory_desc_t *bmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1);
    return fast_dnnl_const_reorder(bmd, d->bias, bmd, &st->bias_buf, &st->bias);
}

/* Plain user memories, and blocked copies + reorders where pd wants them. */
static dnnl_status_t conv_bind_io(conv_state *st, const fast_conv_desc *d,
                                  const_dnnl_primitive_desc_t pd) {
    dnnl_memory_desc_t su, du;
    dnnl_dims_t sd = {d->n, d->c, d->h, d->w}, dd = {d->n, d->k, d->oh, d->ow};
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *dmd = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    dnnl_status_t s = dnnl_memory_desc_init_by_tag(&su, 4, sd, dnnl_f32, dnnl_nchw);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&du, 4, dd, dnnl_f32, dnnl_nchw);
    if (s == dnnl_success) s = fast_dnnl_memory_unbound(&su, &st->src_user);
    if (s == dnnl_success) s = fast_dnnl_memory_unbound(&du, &st->dst_user);
    if (s == dnnl_success && !dnnl_memory_desc_equal(smd, &su)) {
        s = fast_dnnl_memory_unbound(smd, &st->src_blk);
        if (s == dnnl_success) s = fast_dnnl_reorder_create(&st->in, &su, smd);
    }
    if (s == dnnl_success && !dnnl_memory_desc_equal(dmd, &du)) {
        s = fast_dnnl_memory_unbound(dmd, &st->dst_blk);
        if (s == dnnl_success) s = fast_dnnl_reorder_create(&st->out, dmd, &du);
    }
    if (s != dnnl_success) return s;
    /* scratch: [library scratchpad (primitives run in turn)] [src_blk] [dst_blk] */
    size_t pad = st->conv.pad_bytes;
    if (st->in.pad_bytes > pad) pad = st->in.pad_bytes;
    if (st->out.pad_bytes > pad) pad = st->out.pad_bytes;
    st->off_src = fast_dnnl_align64(pad);
    st->off_dst =
        st->off_src + (st->src_blk ? fast_dnnl_align64(dnnl_memory_desc_get_size(smd)) : 0);
    st->scratch_bytes =
        st->off_dst + (st->dst_blk ? fast_dnnl_align64(dnnl_memory_desc_get_size(dmd)) : 0);
    snprintf(st->head.impl, sizeof st->head.impl, "%s %s", fast_dnnl_impl_str(pd),
             st->src_blk || st->dst_blk ? "blocked" : "nchw");
    return s;
}

int fast_conv_create(const fast_conv_desc *d, void **state) {
    *state = NULL;
    if (!conv_desc_ok(d) || !fast_dnnl_engine()) return FAST_NO;
    conv_state *st = cv_calloc(1, sizeof *st);
    if (!st) return FAST_NOMEM;
    st->threads = fast_dnnl_threads(d->threads);
    int saved = fast_dnnl_omp_enter(st->threads);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s = fast_dnnl_attr_create(&d->act, &attr);
    if (s == dnnl_success) {
        fast_layout first = d->layout != FAST_LAYOUT_AUTO ? d->layout : conv_pick_layout(d);
        s = conv_pd(d, first, attr, &pd);
        if (s != dnnl_success && s != dnnl_out_of_memory && d->layout == FAST_LAYOUT_AUTO)
            s = conv_pd(d, first == FAST_LAYOUT_PLAIN ? FAST_LAYOUT_BLOCKED : FAST_LAYOUT_PLAIN,
                        attr, &pd);
        dnnl_primitive_attr_destroy(attr);
    }
    if (s == dnnl_success) s = fast_dnnl_prim_create(&st->conv, pd);
    if (s == dnnl_success) s = conv_bind_consts(st, d, pd);
    if (s == dnnl_success) s = conv_bind_io(st, d, pd);
    if (s == dnnl_success)
        s = dnnl_stream_create(&st->stream, fast_dnnl_engine(), dnnl_stream_default_flags);
    if (pd) dnnl_primitive_desc_destroy(pd);
    fast_dnnl_omp_leave(saved);
    if (s != dnnl_success) {
        fast_conv_destroy(st);
        return fast_dnnl_fail(s);
    }
    *state = st;
    return FAST_OK;
}

size_t fast_conv_scratch_bytes(const void *state) {
    return ((const conv_state *)state)->scratch_bytes;
}

int fast_conv_run(void *state, const float *src, float *dst, void *scratch) {
    conv_state *st = state;
    char *sc = scratch;
    int saved = fast_dnnl_omp_enter(st->threads);
    dnnl_memory_t csrc = st->src_user, cdst = st->dst_user;
    dnnl_exec_arg_t a[6];
    /* The conv only reads src; oneDNN's memory API is not const-aware. */
    dnnl_status_t s = dnnl_memory_set_data_handle(st->src_user, (void *)src);
    if (s == dnnl_success) s = dnnl_memory_set_data_handle(st->dst_user, dst);
    if (s == dnnl_success && st->src_blk) {
        csrc = st->src_blk;
        s = dnnl_memory_set_data_handle(st->src_blk, sc + st->off_src);
        a[0] = (dnnl_exec_arg_t){DNNL_ARG_FROM, st->src_user};
        a[1] = (dnnl_exec_arg_t){DNNL_ARG_TO, st->src_blk};
        if (s == dnnl_success) s = fast_dnnl_prim_exec(&st->in, st->stream, a, 2, sc);
    }
    if (s == dnnl_success && st->dst_blk) {
        cdst = st->dst_blk;
        s = dnnl_memory_set_data_handle(st->dst_blk, sc + st->off_dst);
    }
    int n = 0;
    a[n++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, csrc};
    a[n++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, st->wei};
    if (st->bias) a[n++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, st->bias};
    a[n++] = (dnnl_exec_arg_t){DNNL_ARG_DST, cdst};
    if (s == dnnl_success) s = fast_dnnl_prim_exec(&st->conv, st->stream, a, n, sc);
    if (s == dnnl_success && st->dst_blk) {
        a[0] = (dnnl_exec_arg_t){DNNL_ARG_FROM, st->dst_blk};
        a[1] = (dnnl_exec_arg_t){DNNL_ARG_TO, st->dst_user};
        s = fast_dnnl_prim_exec(&st->out, st->stream, a, 2, sc);
    }
    if (s == dnnl_success) s = dnnl_stream_wait(st->stream);
    fast_dnnl_omp_leave(saved);
    return s == dnnl_success ? 0 : -1;
}

void fast_conv_destroy(void *state) {
    conv_state *st = state;
    if (!st) return;
    fast_dnnl_prim_destroy(&st->conv);
    fast_dnnl_prim_destroy(&st->in);
    fast_dnnl_prim_destroy(&st->out);
    dnnl_memory_t mems[] = {st->src_user, st->dst_user, st->src_blk,
                            st->dst_blk,  st->wei,      st->bias};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (mems[i]) dnnl_memory_destroy(mems[i]);
    if (st->stream) dnnl_stream_destroy(st->stream);
    cv_aligned_free(st->wei_buf);
    cv_aligned_free(st->bias_buf);
    cv_free(st);
}
