/* ops/dnnl: shared oneDNN glue (see fast_dnnl.h): one engine per process,
 * OpenMP thread scoping, activation -> post-ops, constant reorders, and
 * primitives that take the caller's scratch instead of the library's
 * global scratchpad (which may not migrate between threads). */
#include "ops/dnnl/fast_dnnl.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "base/base.h"
#include "ops/fast.h"

static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static dnnl_engine_t engine;

static void engine_init(void) {
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) engine = NULL;
}

dnnl_engine_t fast_dnnl_engine(void) {
    pthread_once(&engine_once, engine_init);
    return engine;
}

int fast_dnnl_threads(int requested) {
#ifdef _OPENMP
    if (requested <= 0) requested = omp_get_max_threads();
#endif
    return requested > 0 ? requested : 1;
}

int fast_dnnl_omp_enter(int threads) {
#ifdef _OPENMP
    int saved = omp_get_max_threads();
    if (saved != threads) omp_set_num_threads(threads);
    return saved;
#else
    return threads;
#endif
}

void fast_dnnl_omp_leave(int saved) {
#ifdef _OPENMP
    if (omp_get_max_threads() != saved) omp_set_num_threads(saved);
#else
    (void)saved;
#endif
}

static dnnl_status_t add_eltwise(dnnl_post_ops_t po, dnnl_alg_kind_t alg, float a, float b) {
    return dnnl_post_ops_append_eltwise(po, 1.0f, alg, a, b);
}

/* ONNX activation semantics (op_apply_act_f32) as oneDNN 2.6 eltwise ops. */
static dnnl_status_t act_post_ops(const ir_act *act, dnnl_post_ops_t po) {
    float a = act->alpha, b = act->beta;
    switch (act->kind) {
    case IR_ACT_NONE: return dnnl_success;
    case IR_ACT_RELU: return add_eltwise(po, dnnl_eltwise_relu, 0, 0);
    case IR_ACT_LEAKY: return add_eltwise(po, dnnl_eltwise_relu, a, 0);
    case IR_ACT_CLIP:
        if (!(a <= b)) return dnnl_unimplemented; /* NaN bounds or min > max */
        if (isinf(a) && a < 0 && isinf(b)) return dnnl_success;
        if (a == 0 && isinf(b)) return add_eltwise(po, dnnl_eltwise_relu, 0, 0);
        return add_eltwise(po, dnnl_eltwise_clip, a, b);
    case IR_ACT_SIGMOID: return add_eltwise(po, dnnl_eltwise_logistic, 0, 0);
    case IR_ACT_TANH: return add_eltwise(po, dnnl_eltwise_tanh, 0, 0);
    case IR_ACT_HARDSWISH: /* 2.6: x * relu6(x + 3) / 6, ONNX's fixed 1/6, 0.5 */
        return add_eltwise(po, dnnl_eltwise_hardswish, 0, 0);
    case IR_ACT_HARDSIGMOID: { /* 2.6 has no hardsigmoid: clip(a*x + b, 0, 1) */
        dnnl_status_t s = add_eltwise(po, dnnl_eltwise_linear, a, b);
        return s == dnnl_success ? add_eltwise(po, dnnl_eltwise_clip, 0, 1) : s;
    }
    }
    return dnnl_unimplemented;
}

dnnl_status_t fast_dnnl_attr_create(const ir_act *act, dnnl_primitive_attr_t *attr) {
    return fast_dnnl_attr_create_sum(act, 0, attr);
}

dnnl_status_t fast_dnnl_attr_create_sum(const ir_act *act, int with_sum,
                                        dnnl_primitive_attr_t *attr) {
    dnnl_status_t s = dnnl_primitive_attr_create(attr);
    if (s != dnnl_success) return s;
    s = dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user);
    if (s == dnnl_success && (with_sum || (act && act->kind != IR_ACT_NONE))) {
        dnnl_post_ops_t po = NULL;
        s = dnnl_post_ops_create(&po);
        /* Order matters: dst = act(conv + bias + 1.0 * dst_before). */
        if (s == dnnl_success && with_sum) s = dnnl_post_ops_append_sum(po, 1.0f);
        if (s == dnnl_success) {
            if (act) s = act_post_ops(act, po);
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

const char *fast_dnnl_impl_str(const_dnnl_primitive_desc_t pd) {
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success || !impl)
        return "?";
    return impl;
}

int fast_dnnl_impl_is_ref(const_dnnl_primitive_desc_t pd) {
    return strncmp(fast_dnnl_impl_str(pd), "ref", 3) == 0;
}

int fast_dnnl_fail(dnnl_status_t s) {
    return s == dnnl_out_of_memory ? FAST_NOMEM : FAST_NO;
}

dnnl_status_t fast_dnnl_memory_unbound(const dnnl_memory_desc_t *md, dnnl_memory_t *mem) {
    return dnnl_memory_create(mem, md, fast_dnnl_engine(), DNNL_MEMORY_NONE);
}

dnnl_status_t fast_dnnl_prim_create(fast_dnnl_prim *p, const_dnnl_primitive_desc_t pd) {
    memset(p, 0, sizeof *p);
    dnnl_status_t s = dnnl_primitive_create(&p->prim, pd);
    if (s != dnnl_success) return s;
    const dnnl_memory_desc_t *pad = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    p->pad_bytes = pad ? dnnl_memory_desc_get_size(pad) : 0;
    if (p->pad_bytes) s = fast_dnnl_memory_unbound(pad, &p->pad);
    if (s != dnnl_success) fast_dnnl_prim_destroy(p);
    return s;
}

dnnl_status_t fast_dnnl_reorder_create(fast_dnnl_prim *p, const dnnl_memory_desc_t *from,
                                       const dnnl_memory_desc_t *to) {
    dnnl_primitive_attr_t attr;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s = fast_dnnl_attr_create(NULL, &attr);
    if (s != dnnl_success) return s;
    dnnl_engine_t e = fast_dnnl_engine();
    s = dnnl_reorder_primitive_desc_create(&pd, from, e, to, e, attr);
    dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) return s;
    s = fast_dnnl_prim_create(p, pd);
    dnnl_primitive_desc_destroy(pd);
    return s;
}

void fast_dnnl_prim_destroy(fast_dnnl_prim *p) {
    if (p->prim) dnnl_primitive_destroy(p->prim);
    if (p->pad) dnnl_memory_destroy(p->pad);
    memset(p, 0, sizeof *p);
}

dnnl_status_t fast_dnnl_prim_exec(fast_dnnl_prim *p, dnnl_stream_t st, dnnl_exec_arg_t *args,
                                  int nargs, void *scratch) {
    if (p->pad) {
        dnnl_status_t s = dnnl_memory_set_data_handle(p->pad, scratch);
        if (s != dnnl_success) return s;
        args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, p->pad};
    }
    return dnnl_primitive_execute(p->prim, st, nargs, args);
}

dnnl_status_t fast_dnnl_const_reorder(fast_dnnl_head *h, const dnnl_memory_desc_t *src_md,
                                      const void *src,
                                      const dnnl_memory_desc_t *dst_md, void **out,
                                      dnnl_memory_t *mem) {
    dnnl_engine_t e = fast_dnnl_engine();
    size_t bytes = dnnl_memory_desc_get_size(dst_md);
    h->held += bytes;
    *out = cv_aligned_alloc(bytes ? bytes : 64);
    *mem = NULL;
    if (!*out) return dnnl_out_of_memory;
    dnnl_memory_t from = NULL;
    dnnl_stream_t st = NULL;
    fast_dnnl_prim r = {0};
    /* The reorder only reads src; oneDNN's memory API is not const-aware. */
    dnnl_status_t s = dnnl_memory_create(&from, src_md, e, (void *)src);
    if (s == dnnl_success) s = dnnl_memory_create(mem, dst_md, e, *out);
    if (s == dnnl_success) s = fast_dnnl_reorder_create(&r, src_md, dst_md);
    if (s == dnnl_success) s = dnnl_stream_create(&st, e, dnnl_stream_default_flags);
    void *pad = NULL;
    if (s == dnnl_success && r.pad_bytes && !(pad = cv_aligned_alloc(r.pad_bytes)))
        s = dnnl_out_of_memory;
    if (s == dnnl_success) {
        dnnl_exec_arg_t args[3] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, *mem}};
        s = fast_dnnl_prim_exec(&r, st, args, 2, pad);
    }
    if (s == dnnl_success) s = dnnl_stream_wait(st);
    cv_aligned_free(pad);
    if (st) dnnl_stream_destroy(st);
    fast_dnnl_prim_destroy(&r);
    if (from) dnnl_memory_destroy(from);
    if (s != dnnl_success) {
        if (*mem) dnnl_memory_destroy(*mem);
        *mem = NULL;
        cv_aligned_free(*out);
        *out = NULL;
    }
    return s;
}

static char backend_name[64];
static pthread_once_t name_once = PTHREAD_ONCE_INIT;

static const char *isa_name(dnnl_cpu_isa_t isa) {
    switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "generic";
    }
}

static void name_init(void) {
    const dnnl_version_t *v = dnnl_version();
    snprintf(backend_name, sizeof backend_name, "onednn %d.%d.%d (%s)", v->major, v->minor,
             v->patch, isa_name(dnnl_get_effective_cpu_isa()));
}

const char *fast_backend_name(void) {
    if (!fast_dnnl_engine()) return "none";
    pthread_once(&name_once, name_init);
    return backend_name;
}

const char *fast_impl_name(const void *state) {
    return state ? ((const fast_dnnl_head *)state)->impl : "none";
}

size_t fast_held_bytes(const void *state) {
    return state ? ((const fast_dnnl_head *)state)->held : 0;
}

/* Channel block for activations kept blocked between layers: oneDNN's f32
 * direct / brgemm convs use nChw16c on avx512 and nChw8c on avx2. Older
 * ISAs (sse41, avx) get 0: their kernels are not worth the bookkeeping. */
static int block_size;
static pthread_once_t block_once = PTHREAD_ONCE_INIT;

static void block_init(void) {
    block_size = 0;
    if (!fast_dnnl_engine()) return;
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_avx2:
    case dnnl_cpu_isa_avx2_vnni: block_size = 8; break;
    case dnnl_cpu_isa_avx512_mic:
    case dnnl_cpu_isa_avx512_mic_4ops:
    case dnnl_cpu_isa_avx512_core:
    case dnnl_cpu_isa_avx512_core_vnni:
    case dnnl_cpu_isa_avx512_core_bf16:
    case dnnl_cpu_isa_avx512_core_amx: block_size = 16; break;
    default: block_size = 0; break;
    }
}

int fast_block_size(void) {
    pthread_once(&block_once, block_init);
    return block_size;
}
