/* ops/winograd: 3x3 stride-1 convolution by Winograd's minimal filtering
 * F(2x2, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural
 * Networks", CVPR 2016): each 2x2 output tile costs 16 multiplies per
 * (input, output) channel pair instead of 36, the products done as 16
 * GEMMs over a block of tiles. Plain C with GCC vector extensions; an
 * AVX2+FMA copy is picked at run time on x86-64. Used by the oneDNN
 * backend (ops/dnnl/fast_conv_dnnl.c) when it times at least 10% faster
 * there. */
#ifndef CLEAVE_OPS_WINOGRAD_H
#define CLEAVE_OPS_WINOGRAD_H

#include <stddef.h>

#include "ops/fast.h" /* fast_conv_desc, FAST_OK / FAST_NO / FAST_NOMEM */

typedef struct wino_f2x3 wino_f2x3;

/* 1 when d is a 3x3, stride 1, dilation 1, group 1 conv with oh / ow
 * matching its pads, activation formats NCHW or nChw{8,16}c, and sizes
 * this kernel takes (the transformed weights, 16 * C * K floats, under
 * 256 MB). */
int wino_f2x3_supported(const fast_conv_desc *d);

/* Overrides for tests and tuning; NULL or zeros: the measured defaults. */
typedef struct wino_f2x3_opts {
    int tile_block; /* > 0: tiles per block (rounded up to even) */
    int generic;    /* 1: the portable kernels even where AVX2+FMA exists */
} wino_f2x3_opts;

/* FAST_OK with *out set; FAST_NO when not supported; FAST_NOMEM on OOM.
 * Transforms the weights once (U = G g G^T, held in the state) and copies
 * the bias. d->threads <= 0 means omp_get_max_threads(). */
int wino_f2x3_create(const fast_conv_desc *d, const wino_f2x3_opts *opt, wino_f2x3 **out);
/* "avx2_fma" or "generic": the kernels the state runs. */
const char *wino_f2x3_isa(const wino_f2x3 *w);
/* Scratch bytes run needs: transformed inputs and products of one block of
 * tiles per thread working on its own blocks (or one block shared). */
size_t wino_f2x3_scratch_bytes(const wino_f2x3 *w);
/* Bytes of constants the state holds (transformed weights, bias). */
size_t wino_f2x3_held_bytes(const wino_f2x3 *w);
/* dst = act(conv(src) + bias [+ sum]). src (n, c, h, w) and dst / sum
 * (n, k, oh, ow) f32 in the desc's formats (fast_conv_desc: padded src
 * lanes finite, padded dst lanes written as 0); sum non-NULL exactly when
 * created with with_sum, and may equal dst. scratch: scratch_bytes,
 * 64-byte aligned. Runs on the desc's thread count (OpenMP). */
void wino_f2x3_run(const wino_f2x3 *w, const float *src, float *dst, const float *sum,
                   void *scratch);
void wino_f2x3_destroy(wino_f2x3 *w);

#endif
