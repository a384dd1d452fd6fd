/* ops/dnnl: fast_pool_* on oneDNN 2.x: 2-D max / average pooling on
 * channel-blocked (nChw<B>c) activations through the pooling_v2 primitive
 * (jit kernels, memory-bound). Only real kernels are accepted; the caller
 * falls back to cleave's own blocked kernel otherwise. */
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "ops/dnnl/fast_dnnl.h"
#include "ops/fast.h"

typedef struct pool_state {
    fast_dnnl_head head;
    int threads;
    dnnl_stream_t stream;
    fast_dnnl_prim pool;
    dnnl_memory_t src, dst;
} pool_state;

void fast_pool_destroy(void *state) {
    pool_state *st = state;
    if (!st) return;
    fast_dnnl_prim_destroy(&st->pool);
    if (st->src) dnnl_memory_destroy(st->src);
    if (st->dst) dnnl_memory_destroy(st->dst);
    if (st->stream) dnnl_stream_destroy(st->stream);
    cv_free(st);
}

int fast_pool_create(const fast_pool_desc *d, void **state) {
    *state = NULL;
    if ((d->block != 8 && d->block != 16) || !fast_dnnl_engine()) return FAST_NO;
    /* oneDNN wants out = (in + pads - extent) / stride + 1 exactly; ONNX's
     * ceil_mode adds implicit bottom/right padding. Max pooling ignores
     * padding either way; average pooling that counts padding would count
     * the implicit part too, so that case stays with cleave's kernel. */
    int64_t ext_h = (d->kh - 1) * d->dilation[0] + 1, ext_w = (d->kw - 1) * d->dilation[1] + 1;
    int64_t pb = (d->oh - 1) * d->stride[0] + ext_h - d->h - d->pad_t;
    int64_t pr = (d->ow - 1) * d->stride[1] + ext_w - d->w - d->pad_l;
    if (pb < 0 || pr < 0) return FAST_NO;
    if (!d->is_max && d->include_pad && (pb != d->pad_b || pr != d->pad_r)) return FAST_NO;
    pool_state *st = cv_calloc(1, sizeof *st);
    if (!st) return FAST_NOMEM;
    st->threads = fast_dnnl_threads(d->threads);
    int saved = fast_dnnl_omp_enter(st->threads);
    dnnl_format_tag_t tag = d->block == 16 ? dnnl_nChw16c : dnnl_nChw8c;
    dnnl_dims_t sd = {d->n, d->c, d->h, d->w}, dd = {d->n, d->c, d->oh, d->ow};
    dnnl_dims_t strides = {d->stride[0], d->stride[1]}, kernel = {d->kh, d->kw};
    dnnl_dims_t dil = {d->dilation[0] - 1, d->dilation[1] - 1}; /* oneDNN: 0 = dense */
    dnnl_dims_t pl = {d->pad_t, d->pad_l}, prr = {pb, pr};
    dnnl_memory_desc_t smd, dmd;
    dnnl_pooling_v2_desc_t pdsc;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_alg_kind_t alg = d->is_max ? dnnl_pooling_max
                          : d->include_pad ? dnnl_pooling_avg_include_padding
                                           : dnnl_pooling_avg_exclude_padding;
    dnnl_status_t s = dnnl_memory_desc_init_by_tag(&smd, 4, sd, dnnl_f32, tag);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&dmd, 4, dd, dnnl_f32, tag);
    if (s == dnnl_success)
        s = dnnl_pooling_v2_forward_desc_init(&pdsc, dnnl_forward_inference, alg, &smd, &dmd,
                                              strides, kernel, dil, pl, prr);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(&pd, &pdsc, NULL, fast_dnnl_engine(), NULL);
    if (s == dnnl_success && fast_dnnl_impl_is_ref(pd)) s = dnnl_unimplemented;
    if (s == dnnl_success) {
        snprintf(st->head.impl, sizeof st->head.impl, "%s b%d", fast_dnnl_impl_str(pd), d->block);
        s = fast_dnnl_prim_create(&st->pool, pd);
    }
    if (s == dnnl_success) s = fast_dnnl_memory_unbound(&smd, &st->src);
    if (s == dnnl_success) s = fast_dnnl_memory_unbound(&dmd, &st->dst);
    if (s == dnnl_success) s = dnnl_stream_create(&st->stream, fast_dnnl_engine(), dnnl_stream_default_flags);
    if (pd) dnnl_primitive_desc_destroy(pd);
    fast_dnnl_omp_leave(saved);
    if (s != dnnl_success) {
        fast_pool_destroy(st);
        return fast_dnnl_fail(s);
    }
    *state = st;
    return FAST_OK;
}

size_t fast_pool_scratch_bytes(const void *state) {
    return ((const pool_state *)state)->pool.pad_bytes;
}

int fast_pool_run(void *state, const float *src, float *dst, void *scratch) {
    pool_state *st = state;
    int saved = fast_dnnl_omp_enter(st->threads);
    /* The pooling only reads src; oneDNN's memory API is not const-aware. */
    dnnl_status_t s = dnnl_memory_set_data_handle(st->src, (void *)src);
    if (s == dnnl_success) s = dnnl_memory_set_data_handle(st->dst, dst);
    dnnl_exec_arg_t a[3] = {{DNNL_ARG_SRC, st->src}, {DNNL_ARG_DST, st->dst}};
    if (s == dnnl_success) s = fast_dnnl_prim_exec(&st->pool, st->stream, a, 2, scratch);
    if (s == dnnl_success) s = dnnl_stream_wait(st->stream);
    fast_dnnl_omp_leave(saved);
    return s == dnnl_success ? 0 : -1;
}
