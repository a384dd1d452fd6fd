/* vexp: exp for float32 without branches, so loops calling it vectorise
 * (shared by Softmax and Sigmoid). Cody-Waite reduction x = n ln2 + r,
 * |r| <= ln2/2, and the degree-6 polynomial of the Cephes library's expf
 * (S. L. Moshier); about 1.4 ulp. 2^n is built in the exponent field; n
 * comes from the low bits of x*log2(e) + 1.5*2^23, which rounds to an
 * integer, so no float->int conversion can overflow. Requires
 * -87.3 <= x <= 88.3 (2^n stays a normal number): callers clamp. */
#ifndef CLEAVE_OPS_VEXP_H
#define CLEAVE_OPS_VEXP_H

#include <stdint.h>
#include <string.h>

static inline float vexp_f32(float x) {
    const float magic = 0x1.8p23f;
    float t = x * 1.44269504088896341f + magic, n = t - magic;
    float r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    uint32_t tb, eb;
    memcpy(&tb, &t, 4);
    eb = (tb - 0x4B400000u + 127u) << 23;
    float sc;
    memcpy(&sc, &eb, 4);
    return p * sc;
}

#endif
