/* ops/dnnl: glue shared by the oneDNN 2.x fast kernels (conv, gemm): the
 * engine (created once), OpenMP thread-count scoping, fused activation ->
 * eltwise post-ops, constant reorders, and a small "bound primitive" that
 * runs with the caller's scratch (dnnl_scratchpad_mode_user). */
#ifndef CLEAVE_OPS_DNNL_FAST_DNNL_H
#define CLEAVE_OPS_DNNL_FAST_DNNL_H

#include <dnnl.h>
#include <stddef.h>

#include "ir/graph.h"

/* First member of every state, so fast_impl_name() works on any of them. */
typedef struct fast_dnnl_head {
    char impl[112];
    size_t held; /* bytes of constants (weights, bias) the state holds */
} fast_dnnl_head;

/* The CPU engine, created on first use (pthread_once); NULL if oneDNN
 * cannot create one. */
dnnl_engine_t fast_dnnl_engine(void);

/* Thread count to use for a requested count (<= 0: OpenMP default). */
int fast_dnnl_threads(int requested);
/* oneDNN sizes its work split from omp_get_max_threads() at primitive
 * creation and at execution, so both are bracketed by enter/leave, which
 * set this thread's OpenMP ICV and restore the previous value. */
int fast_dnnl_omp_enter(int threads);
void fast_dnnl_omp_leave(int saved);

/* Attributes: user scratchpad, plus post-ops for act (may be NULL). Returns
 * dnnl_unimplemented for an activation oneDNN cannot express. */
dnnl_status_t fast_dnnl_attr_create(const ir_act *act, dnnl_primitive_attr_t *attr);
/* Same, with a sum post-op (scale 1) before the activation when with_sum:
 * dst = act(op + dst_before). */
dnnl_status_t fast_dnnl_attr_create_sum(const ir_act *act, int with_sum,
                                        dnnl_primitive_attr_t *attr);

/* 1 when pd chose a reference (slow, naive) implementation. */
int fast_dnnl_impl_is_ref(const_dnnl_primitive_desc_t pd);
const char *fast_dnnl_impl_str(const_dnnl_primitive_desc_t pd);

/* Copy constant data described by src_md at src into a new 64-byte aligned
 * buffer (*out, free with cv_aligned_free) laid out as dst_md, and make
 * *mem a memory object over it; its size is added to h->held. */
dnnl_status_t fast_dnnl_const_reorder(fast_dnnl_head *h, const dnnl_memory_desc_t *src_md,
                                      const void *src,
                                      const dnnl_memory_desc_t *dst_md, void **out,
                                      dnnl_memory_t *mem);

/* A primitive plus its scratchpad memory object (NULL when it needs none). */
typedef struct fast_dnnl_prim {
    dnnl_primitive_t prim;
    dnnl_memory_t pad;
    size_t pad_bytes;
} fast_dnnl_prim;

/* Create prim (and its scratchpad object) from pd; pd is not consumed. */
dnnl_status_t fast_dnnl_prim_create(fast_dnnl_prim *p, const_dnnl_primitive_desc_t pd);
/* Reorder primitive between two descs, user scratchpad. */
dnnl_status_t fast_dnnl_reorder_create(fast_dnnl_prim *p, const dnnl_memory_desc_t *from,
                                       const dnnl_memory_desc_t *to);
void fast_dnnl_prim_destroy(fast_dnnl_prim *p);
/* Execute with args (space for one more: the scratchpad, bound to scratch). */
dnnl_status_t fast_dnnl_prim_exec(fast_dnnl_prim *p, dnnl_stream_t s, dnnl_exec_arg_t *args,
                                  int nargs, void *scratch);

/* Memory object with no buffer yet (bound per run with set_data_handle). */
dnnl_status_t fast_dnnl_memory_unbound(const dnnl_memory_desc_t *md, dnnl_memory_t *mem);

/* Round up to the 64-byte alignment scratch regions keep. */
static inline size_t fast_dnnl_align64(size_t n) {
    return (n + 63) & ~(size_t)63;
}

/* dnnl status -> FAST_NO / FAST_NOMEM */
int fast_dnnl_fail(dnnl_status_t s);

#endif
