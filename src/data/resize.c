/* resize: bilinear resize of one float plane with half-pixel centres, the
 * preprocessing resize of the 112x112 Fashion-MNIST models. Follows
 * torch's CPU upsample_bilinear2d (align_corners=False): float coordinate
 * arithmetic, clamping of negative source coordinates to 0, the upper
 * neighbour clamped to the last row/column, and the weighted sums taken in
 * the same order, so the result matches torch to float rounding (and ONNX
 * Resize linear/half_pixel, which clamps the same way). */
#include <string.h>

#include "data/data.h"

/* Source index and weight of output coordinate o for in -> out samples. */
static void coord(int o, int in, int out, int *i0, int *i1, float *l1) {
    float scale = (float)in / (float)out;
    float s = scale * ((float)o + 0.5f) - 0.5f;
    if (s < 0.0f) s = 0.0f;
    int i = (int)s; /* s >= 0: truncation is floor */
    if (i > in - 1) i = in - 1;
    float l = s - (float)i;
    if (l > 1.0f) l = 1.0f; /* only past the last sample, where both neighbours are equal */
    *i0 = i;
    *i1 = i < in - 1 ? i + 1 : i;
    *l1 = l;
}

void data_resize_bilinear_f32(const float *src, int ih, int iw, float *dst, int oh, int ow) {
    if (ih == oh && iw == ow) {
        memcpy(dst, src, (size_t)ih * (size_t)iw * sizeof *src);
        return;
    }
    for (int y = 0; y < oh; y++) {
        int y0, y1;
        float ly1;
        coord(y, ih, oh, &y0, &y1, &ly1);
        float ly0 = 1.0f - ly1;
        const float *r0 = src + (size_t)y0 * (size_t)iw;
        const float *r1 = src + (size_t)y1 * (size_t)iw;
        float *d = dst + (size_t)y * (size_t)ow;
        for (int x = 0; x < ow; x++) {
            int x0, x1;
            float lx1;
            coord(x, iw, ow, &x0, &x1, &lx1);
            float lx0 = 1.0f - lx1;
            /* torch's order: outer weights on rows, inner on columns */
            float t0 = r0[x0] * lx0 + r0[x1] * lx1;
            float t1 = r1[x0] * lx0 + r1[x1] * lx1;
            d[x] = t0 * ly0 + t1 * ly1;
        }
    }
}
