/* ops/fast: the private "fast kernel" interface generic op code calls with
 * no #ifdef. One backend is linked: ops/dnnl/ (oneDNN 2.x) when CMake finds
 * oneDNN, else ops/nofast/ which answers "not available" so the caller runs
 * its reference kernel. XNNPACK-style life cycle: create (primitive chosen,
 * weights reordered once), query scratch, run many times, destroy. */
#ifndef CLEAVE_OPS_FAST_H
#define CLEAVE_OPS_FAST_H

#include <stddef.h>
#include <stdint.h>

#include "ir/graph.h" /* ir_act: fused activation kind/alpha/beta */

/* Return values of fast_*_create. */
enum {
    FAST_NOMEM = -1, /* out of memory: the caller reports CLEAVE_E_NOMEM */
    FAST_NO = 0,     /* no backend, or this shape is not worth it: use _ref */
    FAST_OK = 1      /* *state set */
};

/* Data layout a conv backend runs its NCHW sides (src_block / dst_block 0)
 * in. AUTO (0, what callers pass) is the backend's measured choice; tests
 * and benches may force one. The caller's NCHW buffers stay NCHW either
 * way: BLOCKED reorders inside. */
typedef enum fast_layout {
    FAST_LAYOUT_AUTO = 0,
    FAST_LAYOUT_PLAIN,  /* the kernel reads and writes NCHW directly */
    FAST_LAYOUT_BLOCKED /* the library's preferred (e.g. nChw16c) layout */
} fast_layout;

/* 2-D convolution, f32, weights and bias constant.
 * y = act(conv(x, weight) + bias [+ sum]).
 *
 * Activation formats, per side (src_block for src, dst_block for dst and
 * the sum tensor):
 *   0      dense NCHW (n, c, h, w); `layout` decides how the kernel runs.
 *   B > 0  (8 or 16; normally fast_block_size()) nChw{B}c: dense
 *          (n, ceil(c/B), h, w, B), channel ch at block ch/B, lane ch%B; the
 *          lanes past the real channel count ("padded channels") exist.
 *          Padded src channels must hold finite values (zeros in practice)
 *          and do not affect the result. Padded dst channels are written as
 *          exact zeros by every run, whatever the activation.
 * A blocked side is used by the kernel as is when the library has a real
 * kernel for it; otherwise the backend reorders through scratch. Either
 * way the caller's buffer format is the one described here. */
typedef struct fast_conv_desc {
    int64_t n, c, h, w;             /* input NCHW */
    int64_t k, kh, kw;              /* output channels, kernel */
    int64_t oh, ow;                 /* output spatial (must match the pads) */
    int64_t stride[2], dilation[2]; /* {h, w}; ONNX dilation (1 = dense) */
    int64_t pad_t, pad_l, pad_b, pad_r;
    int64_t group;       /* c % group == 0 and k % group == 0 */
    const float *weight; /* ONNX layout K x C/group x kh x kw; read during create only */
    const float *bias;   /* K or NULL; copied at create */
    ir_act act;          /* fused activation on the output */
    int threads;         /* OpenMP threads for run; <= 0: omp_get_max_threads() */
    fast_layout layout;  /* FAST_LAYOUT_AUTO unless testing; plain sides only */
    int src_block;       /* 0: src NCHW; 8 / 16: src nChw{B}c (see above) */
    int dst_block;       /* 0: dst NCHW; 8 / 16: dst nChw{B}c (see above) */
    int with_sum;        /* 1: y = act(conv + bias + sum), run with fast_conv_run_sum */
} fast_conv_desc;

/* Channel block the backend wants activations in between layers: 16 where
 * the library runs avx512 kernels, 8 for avx2, 0 without a backend or when
 * blocking is not worth it. Constant for the process. */
int fast_block_size(void);

/* 1: kernels are chosen without timing them (fast_conv_create otherwise
 * times two candidate kernels of a big blocked conv and keeps the faster,
 * and two kernels round differently), so the same model gives the same
 * bits in every run: for accuracy evaluation, not for latency. Also set
 * by CLEAVE_DETERMINISTIC=1 in the environment. Call before compiling. */
void fast_set_deterministic(int on);
/* Winograd for eligible convs (ops/winograd.c): 0 never, 1 wherever
 * eligible, 2 when it times faster (the default), -1 back to the
 * CLEAVE_WINOGRAD variable. Read when a conv is created. */
void fast_set_winograd(int mode);
/* 1 when convs created now may run by Winograd (the mode is not 0 and a
 * fast backend is built in). */
int fast_winograd_enabled(void);

/* FAST_OK with *state set; FAST_NO when no backend, an unsupported shape,
 * or only a slow (reference) library kernel exists; FAST_NOMEM on OOM.
 * The state owns copies of weight and bias in the library's layout. */
int fast_conv_create(const fast_conv_desc *d, void **state);
/* Scratch run needs (library scratchpad plus blocked copies of src/dst
 * when the chosen kernel wants them); 0 allowed. */
size_t fast_conv_scratch_bytes(const void *state);
/* src: f32 (n, c, h, w) in the src_block format; dst: f32 (n, k, oh, ow)
 * in the dst_block format, not overlapping src; scratch:
 * fast_conv_scratch_bytes() bytes, 64-byte aligned (NULL when 0). Runs on
 * desc.threads OpenMP threads. One call at a time per state; different
 * states may run concurrently. 0 on success, -1 on a library failure (not
 * expected after a successful create) or when the state was created with
 * with_sum (use fast_conv_run_sum). */
int fast_conv_run(void *state, const float *src, float *dst, void *scratch);
/* For states created with with_sum: dst = act(conv(src) + bias + sum), the
 * sum added before the activation (ONNX Conv -> Add -> act). sum has dst's
 * shape and format (dst_block; padded lanes: finite, ignored, dst's are
 * still written as 0); it may be dst itself (in place), otherwise it must
 * not overlap dst or src, and it is not modified. src must not overlap dst.
 * -1 when the state was created without with_sum. */
int fast_conv_run_sum(void *state, const float *src, float *dst, const float *sum,
                      void *scratch);
void fast_conv_destroy(void *state);

/* Y[M,N] = act(A[M,K] * op(B) + bias): op(B) = B stored K x N (trans_b 0)
 * or B^T with B stored N x K (trans_b 1). B and bias constant, copied. */
typedef struct fast_gemm_desc {
    int64_t m, n, k;
    int trans_b;
    const float *b;    /* read during create only */
    const float *bias; /* N or NULL */
    ir_act act;
    int threads; /* as in fast_conv_desc */
} fast_gemm_desc;

/* Same contracts as the conv functions; a, y dense row-major. */
int fast_gemm_create(const fast_gemm_desc *d, void **state);
size_t fast_gemm_scratch_bytes(const void *state);
int fast_gemm_run(void *state, const float *a, float *y, void *scratch);
void fast_gemm_destroy(void *state);

/* 2-D max / average pooling on channel-blocked (nChw<block>c, block 8 or
 * 16) f32 activations, src and dst in the same format. ONNX geometry:
 * explicit pads; oh/ow as ONNX computed them (ceil_mode included). */
typedef struct fast_pool_desc {
    int64_t n, c, h, w, oh, ow, kh, kw;
    int64_t stride[2], dilation[2]; /* ONNX dilation (1 = dense) */
    int64_t pad_t, pad_l, pad_b, pad_r;
    int is_max, include_pad, block, threads;
} fast_pool_desc;
int fast_pool_create(const fast_pool_desc *d, void **state);
size_t fast_pool_scratch_bytes(const void *state);
int fast_pool_run(void *state, const float *src, float *dst, void *scratch);
void fast_pool_destroy(void *state);

/* ---- int8 products (ops/qconv.c: QLinearConv, ConvInteger, QLinearMatMul,
 * MatMulInteger) ----
 * Integer types of the quantized sides. */
typedef enum fast_qtype {
    FAST_Q_U8 = 1, /* uint8 */
    FAST_Q_S8,     /* int8 */
    FAST_Q_S32     /* int32: the raw accumulator (ConvInteger, MatMulInteger) */
} fast_qtype;

/* 2-D convolution, NCHW plain on both sides (no blocked activations):
 *   acc[k] = sum (src - src_zp) * weight[k] + bias[k]           (int32)
 *   dst    = acc                                                 (S32; scale unused)
 *   dst    = saturate(rne(max?(float(acc) * scale[k], 0)) + dst_zp)  (U8 / S8)
 * rne = round half to even; max? only with relu (ReLU of the real value,
 * i.e. dst >= dst_zp). This is ONNX Runtime's requantization, which the
 * reference kernel in qconv.c computes too. Weights are int8 symmetric
 * (zero point 0); a caller with another weight zero point or uint8 weights
 * runs its reference kernel.
 * Exactness against the reference (counted by tests/unit/test_qops.c):
 * bit-exact, 0 mismatches over its sweep (S32 sums up to 6e7 included).
 * What it takes, and where it could still differ:
 *  - oneDNN natively rounds v + dst_zp, which moves exact ties when dst_zp
 *    is odd (+-1 LSB on ~0.7% of the sweep's outputs); a round post-op
 *    rounds v first, so dst_zp is added to an integer.
 *  - x86 without VNNI: oneDNN's u8 x s8 kernels add pairs of products in
 *    int16 with saturation (vpmaddubsw) and halve the weights of s8
 *    sources (scale_adjust), errors up to the whole range. Create answers
 *    FAST_NO there unless src is U8 and every weight is in [-64, 63].
 *  - the bias is added in float (float(acc) + float(bias), not
 *    float(acc + bias)): past 2^24 the two can differ by an ulp, which
 *    changes the result only at a near-tie (never observed). */
typedef struct fast_qconv_desc {
    int64_t n, c, h, w;             /* input NCHW */
    int64_t k, kh, kw;              /* output channels, kernel */
    int64_t oh, ow;                 /* output spatial (must match the pads) */
    int64_t stride[2], dilation[2]; /* {h, w}; ONNX dilation (1 = dense) */
    int64_t pad_t, pad_l, pad_b, pad_r;
    int64_t group;          /* c % group == 0 and k % group == 0 */
    fast_qtype src_type;    /* U8 or S8 */
    fast_qtype dst_type;    /* U8, S8 (requantized) or S32 (raw accumulator) */
    int32_t src_zp, dst_zp; /* in the range of their types; dst_zp 0 for S32 */
    const int8_t *weight;   /* ONNX K x C/group x kh x kw; read during create only */
    const int32_t *bias;    /* K or NULL; copied at create */
    const float *scale;     /* K combined scales x_scale * w_scale[k] / y_scale; NULL for S32 */
    int relu;               /* U8 / S8 only: see above */
    int threads;            /* OpenMP threads for run; <= 0: omp_get_max_threads() */
    int src_nhwc, dst_nhwc; /* 1: that tensor is NHWC (channels last), else NCHW */
    int weight_bits;        /* 2..6: every weight fits; held packed, widened per run */
} fast_qconv_desc;

/* The most bytes of int8 weights a packed conv widens at once: larger
 * layers run as several convs over output-channel chunks. */
#define FAST_QCONV_WIDEN_CAP (64 * 1024)
/* The reference integer conv's GEMM tile (im2col columns + accumulators)
 * per thread (ops/qconv.c): its working memory, which the planner counts. */
#define QCONV_REF_TILE_BYTES 32768
/* Integer conv weights that fit this many bits are held packed (ops/qconv.c). */
#define FAST_QCONV_PACK_MAX_BITS 6

/* Same contracts as fast_conv_*: FAST_OK / FAST_NO / FAST_NOMEM; the state
 * owns the reordered weights; src (n, c, h, w) and dst (n, k, oh, ow) are
 * dense NCHW (or NHWC, see src_nhwc / dst_nhwc) of their types, not
 * overlapping; scratch is
 * fast_qconv_scratch_bytes() bytes, 64-byte aligned (NULL when 0). */
int fast_qconv_create(const fast_qconv_desc *d, void **state);
size_t fast_qconv_scratch_bytes(const void *state);
int fast_qconv_run(void *state, const void *src, void *dst, void *scratch);
void fast_qconv_destroy(void *state);

/* y[M,N] = requantize(a[M,K] * b[K,N]) with the fast_qconv_desc formula
 * (k -> column n; no bias); a, y dense row-major; b int8 row-major, zero
 * point 0, constant. */
typedef struct fast_qgemm_desc {
    int64_t m, n, k;
    fast_qtype a_type;    /* U8 or S8 */
    fast_qtype y_type;    /* U8, S8 or S32 */
    int32_t a_zp, y_zp;   /* y_zp 0 for S32 */
    const int8_t *b;      /* K x N; read during create only */
    const float *scale;   /* N combined scales a_scale * b_scale[n] / y_scale; NULL for S32 */
    int relu;
    int threads;
} fast_qgemm_desc;
int fast_qgemm_create(const fast_qgemm_desc *d, void **state);
size_t fast_qgemm_scratch_bytes(const void *state);
int fast_qgemm_run(void *state, const void *a, void *y, void *scratch);
void fast_qgemm_destroy(void *state);

/* Library kernel a state runs, e.g. "brgconv:avx512_core blocked", for
 * per-node reports; works on conv, gemm, qconv and qgemm states. */
const char *fast_impl_name(const void *state);
/* Bytes of constants (reordered or packed weights, bias) a state holds. */
size_t fast_held_bytes(const void *state);
/* "onednn 2.6.3 (avx512_core_bf16)"; "none" without a backend. */
const char *fast_backend_name(void);

#endif
