/* ops/blocked: kernels on channel-blocked f32 activations (nChw<B>c: N x
 * ceil(C/B) x H x W x B, padded channels zero), the layout oneDNN's fast
 * convolutions run in. The executor keeps activations in it between layers
 * that handle it and converts at the edges with the reorders here. */
#ifndef CLEAVE_OPS_BLOCKED_H
#define CLEAVE_OPS_BLOCKED_H

#include <stdint.h>

#include "ir/graph.h"

/* The same for 1-byte elements (uint8 / int8); with B == C the blocked
 * side is NHWC, the executor's layout for uint8 activations. */
void blk_to_blocked_b8(const uint8_t *src, uint8_t *dst, int64_t n, int64_t c, int64_t hw, int b,
                       int threads);
void blk_to_plain_b8(const uint8_t *src, uint8_t *dst, int64_t n, int64_t c, int64_t hw, int b,
                     int threads);

/* NCHW <-> nChw<B>c. to_blocked writes zeros into the padded channels. */
void blk_to_blocked_f32(const float *src, float *dst, int64_t n, int64_t c, int64_t hw, int b,
                        int threads);
void blk_to_plain_f32(const float *src, float *dst, int64_t n, int64_t c, int64_t hw, int b,
                      int threads);

/* 2-D max/average pooling on nChw<B>c, vectorised over the B channels.
 * pads: top, left, bottom, right; avg divides by the taps inside the
 * input, or by all taps when include_pad. */
typedef struct blk_pool2d {
    int64_t n, cb, h, w, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl;
    int b, is_max, include_pad, pb, pr;
} blk_pool2d;
void blk_pool2d_f32(const blk_pool2d *p, const float *x, float *y, int threads);
/* 2-D max pooling of uint8 NHWC (p->b == C, p->cb == 1), vectorised over
 * the channels; a window entirely in the padding gives 0, as the plain
 * kernel does. */
void blk_maxpool2d_u8(const blk_pool2d *p, const uint8_t *x, uint8_t *y, int threads);
/* Global average / max pooling: y is N x ceil(C/B) x 1 x 1 x B. */
void blk_global_pool_f32(const float *x, float *y, int64_t n, int64_t cb, int64_t hw, int b,
                         int is_max, int threads);
/* Concatenate along channels, every input's C a multiple of B. */
void blk_concat_f32(const float *const *x, const int64_t *c, int nx, float *y, int64_t n,
                    int64_t hw, int b, int threads);

#endif
