/* ops/dnnl: fast_gemm_* on oneDNN 2.x as an inner product: A is the
 * source (M x K), op(B)^T the weights (N x K; B stored K x N is the "io"
 * layout, B stored N x K is "oi"), reordered once into the layout the
 * primitive asks for; bias and the fused activation ride along. */
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "ops/dnnl/fast_dnnl.h"
#include "ops/fast.h"

typedef struct gemm_state {
    fast_dnnl_head head;
    int threads;
    dnnl_stream_t stream;
    fast_dnnl_prim ip;
    dnnl_memory_t a, y, w, bias; /* a, y bound per run; w, bias owned */
    void *w_buf, *bias_buf;
} gemm_state;

static int gemm_desc_ok(const fast_gemm_desc *d) {
    const int64_t cap = (int64_t)1 << 31;
    return d->b && d->m >= 1 && d->n >= 1 && d->k >= 1 && d->m <= cap && d->n <= cap && d->k <= cap;
}

static dnnl_status_t gemm_build(gemm_state *st, const fast_gemm_desc *d) {
    dnnl_memory_desc_t a, w_any, w_user, bias, y;
    dnnl_dims_t ad = {d->m, d->k}, wd = {d->n, d->k}, bd = {d->n}, yd = {d->m, d->n};
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_inner_product_desc_t ipd;
    dnnl_status_t s = dnnl_memory_desc_init_by_tag(&a, 2, ad, dnnl_f32, dnnl_nc);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&y, 2, yd, dnnl_f32, dnnl_nc);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&bias, 1, bd, dnnl_f32, dnnl_a);
    if (s == dnnl_success)
        s = dnnl_memory_desc_init_by_tag(&w_any, 2, wd, dnnl_f32, dnnl_format_tag_any);
    if (s == dnnl_success)
        s = dnnl_memory_desc_init_by_tag(&w_user, 2, wd, dnnl_f32, d->trans_b ? dnnl_oi : dnnl_io);
    if (s == dnnl_success)
        s = dnnl_inner_product_forward_desc_init(&ipd, dnnl_forward_inference, &a, &w_any,
                                                 d->bias ? &bias : NULL, &y);
    if (s == dnnl_success) s = fast_dnnl_attr_create(&d->act, &attr);
    if (s == dnnl_success)
        s = dnnl_primitive_desc_create(&pd, &ipd, attr, fast_dnnl_engine(), NULL);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (s == dnnl_success && fast_dnnl_impl_is_ref(pd)) s = dnnl_unimplemented;
    if (s == dnnl_success) s = fast_dnnl_prim_create(&st->ip, pd);
    if (s == dnnl_success)
        s = fast_dnnl_const_reorder(&st->head, &w_user, d->b,
                                    dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0),
                                    &st->w_buf, &st->w);
    if (s == dnnl_success && d->bias)
        s = fast_dnnl_const_reorder(&st->head, &bias, d->bias, &bias, &st->bias_buf, &st->bias);
    if (s == dnnl_success) s = fast_dnnl_memory_unbound(&a, &st->a);
    if (s == dnnl_success) s = fast_dnnl_memory_unbound(&y, &st->y);
    if (s == dnnl_success)
        snprintf(st->head.impl, sizeof st->head.impl, "%s", fast_dnnl_impl_str(pd));
    if (pd) dnnl_primitive_desc_destroy(pd);
    return s;
}

int fast_gemm_create(const fast_gemm_desc *d, void **state) {
    *state = NULL;
    if (!gemm_desc_ok(d) || !fast_dnnl_engine()) return FAST_NO;
    gemm_state *st = cv_calloc(1, sizeof *st);
    if (!st) return FAST_NOMEM;
    st->threads = fast_dnnl_threads(d->threads);
    int saved = fast_dnnl_omp_enter(st->threads);
    dnnl_status_t s = gemm_build(st, d);
    if (s == dnnl_success)
        s = dnnl_stream_create(&st->stream, fast_dnnl_engine(), dnnl_stream_default_flags);
    fast_dnnl_omp_leave(saved);
    if (s != dnnl_success) {
        fast_gemm_destroy(st);
        return fast_dnnl_fail(s);
    }
    *state = st;
    return FAST_OK;
}

size_t fast_gemm_scratch_bytes(const void *state) {
    return ((const gemm_state *)state)->ip.pad_bytes;
}

int fast_gemm_run(void *state, const float *a, float *y, void *scratch) {
    gemm_state *st = state;
    int saved = fast_dnnl_omp_enter(st->threads);
    dnnl_exec_arg_t args[5];
    int n = 0;
    args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, st->a};
    args[n++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, st->w};
    if (st->bias) args[n++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, st->bias};
    args[n++] = (dnnl_exec_arg_t){DNNL_ARG_DST, st->y};
    /* The product only reads a; oneDNN's memory API is not const-aware. */
    dnnl_status_t s = dnnl_memory_set_data_handle(st->a, (void *)a);
    if (s == dnnl_success) s = dnnl_memory_set_data_handle(st->y, y);
    if (s == dnnl_success) s = fast_dnnl_prim_exec(&st->ip, st->stream, args, n, scratch);
    if (s == dnnl_success) s = dnnl_stream_wait(st->stream);
    fast_dnnl_omp_leave(saved);
    return s == dnnl_success ? 0 : -1;
}

void fast_gemm_destroy(void *state) {
    gemm_state *st = state;
    if (!st) return;
    fast_dnnl_prim_destroy(&st->ip);
    dnnl_memory_t mems[] = {st->a, st->y, st->w, st->bias};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (mems[i]) dnnl_memory_destroy(mems[i]);
    if (st->stream) dnnl_stream_destroy(st->stream);
    cv_aligned_free(st->w_buf);
    cv_aligned_free(st->bias_buf);
    cv_free(st);
}
