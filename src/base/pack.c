/* base pack: dense 1..8-bit packing of quantized values, LSB first.
 * Value i occupies stream bits [i*bits, (i+1)*bits); stream bit k is bit
 * k%8 of byte k/8, so 3-, 5-, 6- and 7-bit values straddle bytes. The
 * generic path moves bits through a 16-bit window; 1/2/4/8 bits (which
 * never straddle) have whole-byte fast paths with the same output. */
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "base/pack.h"

size_t q_packed_bytes(size_t n, int bits) {
    if (bits < 1 || bits > 8) return 0;
    /* n*bits/8 rounded up, without overflowing n*bits */
    return n / 8 * (size_t)bits + (n % 8 * (size_t)bits + 7) / 8;
}

/* values per byte when bits divides 8 (1, 2, 4, 8), else 0 */
static int per_byte(int bits) {
    return (bits == 1 || bits == 2 || bits == 4 || bits == 8) ? 8 / bits : 0;
}

void q_pack_u(const uint8_t *q, size_t n, int bits, uint8_t *out) {
    if (bits < 1 || bits > 8) return;
    size_t nb = q_packed_bytes(n, bits);
    unsigned mask = (1u << bits) - 1u;
    int k = per_byte(bits);
    if (bits == 8) {
        memcpy(out, q, n);
        return;
    }
    if (k) {
        size_t i = 0, o = 0;
        for (; i + (size_t)k <= n; o++) {
            unsigned b = 0;
            for (int j = 0; j < k; j++, i++)
                b |= (q[i] & mask) << (j * bits);
            out[o] = (uint8_t)b;
        }
        if (i < n) {
            unsigned b = 0;
            for (int j = 0; i < n; j++, i++)
                b |= (q[i] & mask) << (j * bits);
            out[o] = (uint8_t)b;
        }
        return;
    }
    memset(out, 0, nb);
    size_t bitpos = 0;
    for (size_t i = 0; i < n; i++, bitpos += (size_t)bits) {
        size_t byte = bitpos >> 3;
        unsigned sh = (unsigned)(bitpos & 7);
        unsigned v = (q[i] & mask) << sh; /* at most 7 + 7 = 14 bits */
        out[byte] |= (uint8_t)v;
        if (sh + (unsigned)bits > 8) out[byte + 1] |= (uint8_t)(v >> 8);
    }
}

void q_unpack_u(const uint8_t *in, size_t n, int bits, uint8_t *q) {
    if (bits < 1 || bits > 8) return;
    unsigned mask = (1u << bits) - 1u;
    int k = per_byte(bits);
    if (bits == 8) {
        memcpy(q, in, n);
        return;
    }
    if (k) {
        for (size_t i = 0; i < n; i++)
            q[i] = (uint8_t)((in[i / (size_t)k] >> ((i % (size_t)k) * (size_t)bits)) & mask);
        return;
    }
    size_t bitpos = 0;
    for (size_t i = 0; i < n; i++, bitpos += (size_t)bits) {
        size_t byte = bitpos >> 3;
        unsigned sh = (unsigned)(bitpos & 7);
        unsigned v = in[byte];
        if (sh + (unsigned)bits > 8)
            v |= (unsigned)in[byte + 1] << 8; /* only read when straddling */
        q[i] = (uint8_t)((v >> sh) & mask);
    }
}

void q_pack_s(const int8_t *q, size_t n, int bits, uint8_t *out) {
    /* two's complement: the low bits of the u8 view are the low bits of q */
    q_pack_u((const uint8_t *)q, n, bits, out);
}

/* Byte -> its sign-extended 4-bit (2-bit) values, LSB first: unpacking by
 * table is 2-3x faster than shifting each value out. */
static const int8_t S4_LUT[256][2] = {
    {0, 0}, {1, 0}, {2, 0}, {3, 0}, {4, 0}, {5, 0}, {6, 0}, {7, 0},
    {-8, 0}, {-7, 0}, {-6, 0}, {-5, 0}, {-4, 0}, {-3, 0}, {-2, 0}, {-1, 0},
    {0, 1}, {1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}, {6, 1}, {7, 1},
    {-8, 1}, {-7, 1}, {-6, 1}, {-5, 1}, {-4, 1}, {-3, 1}, {-2, 1}, {-1, 1},
    {0, 2}, {1, 2}, {2, 2}, {3, 2}, {4, 2}, {5, 2}, {6, 2}, {7, 2},
    {-8, 2}, {-7, 2}, {-6, 2}, {-5, 2}, {-4, 2}, {-3, 2}, {-2, 2}, {-1, 2},
    {0, 3}, {1, 3}, {2, 3}, {3, 3}, {4, 3}, {5, 3}, {6, 3}, {7, 3},
    {-8, 3}, {-7, 3}, {-6, 3}, {-5, 3}, {-4, 3}, {-3, 3}, {-2, 3}, {-1, 3},
    {0, 4}, {1, 4}, {2, 4}, {3, 4}, {4, 4}, {5, 4}, {6, 4}, {7, 4},
    {-8, 4}, {-7, 4}, {-6, 4}, {-5, 4}, {-4, 4}, {-3, 4}, {-2, 4}, {-1, 4},
    {0, 5}, {1, 5}, {2, 5}, {3, 5}, {4, 5}, {5, 5}, {6, 5}, {7, 5},
    {-8, 5}, {-7, 5}, {-6, 5}, {-5, 5}, {-4, 5}, {-3, 5}, {-2, 5}, {-1, 5},
    {0, 6}, {1, 6}, {2, 6}, {3, 6}, {4, 6}, {5, 6}, {6, 6}, {7, 6},
    {-8, 6}, {-7, 6}, {-6, 6}, {-5, 6}, {-4, 6}, {-3, 6}, {-2, 6}, {-1, 6},
    {0, 7}, {1, 7}, {2, 7}, {3, 7}, {4, 7}, {5, 7}, {6, 7}, {7, 7},
    {-8, 7}, {-7, 7}, {-6, 7}, {-5, 7}, {-4, 7}, {-3, 7}, {-2, 7}, {-1, 7},
    {0, -8}, {1, -8}, {2, -8}, {3, -8}, {4, -8}, {5, -8}, {6, -8}, {7, -8},
    {-8, -8}, {-7, -8}, {-6, -8}, {-5, -8}, {-4, -8}, {-3, -8}, {-2, -8}, {-1, -8},
    {0, -7}, {1, -7}, {2, -7}, {3, -7}, {4, -7}, {5, -7}, {6, -7}, {7, -7},
    {-8, -7}, {-7, -7}, {-6, -7}, {-5, -7}, {-4, -7}, {-3, -7}, {-2, -7}, {-1, -7},
    {0, -6}, {1, -6}, {2, -6}, {3, -6}, {4, -6}, {5, -6}, {6, -6}, {7, -6},
    {-8, -6}, {-7, -6}, {-6, -6}, {-5, -6}, {-4, -6}, {-3, -6}, {-2, -6}, {-1, -6},
    {0, -5}, {1, -5}, {2, -5}, {3, -5}, {4, -5}, {5, -5}, {6, -5}, {7, -5},
    {-8, -5}, {-7, -5}, {-6, -5}, {-5, -5}, {-4, -5}, {-3, -5}, {-2, -5}, {-1, -5},
    {0, -4}, {1, -4}, {2, -4}, {3, -4}, {4, -4}, {5, -4}, {6, -4}, {7, -4},
    {-8, -4}, {-7, -4}, {-6, -4}, {-5, -4}, {-4, -4}, {-3, -4}, {-2, -4}, {-1, -4},
    {0, -3}, {1, -3}, {2, -3}, {3, -3}, {4, -3}, {5, -3}, {6, -3}, {7, -3},
    {-8, -3}, {-7, -3}, {-6, -3}, {-5, -3}, {-4, -3}, {-3, -3}, {-2, -3}, {-1, -3},
    {0, -2}, {1, -2}, {2, -2}, {3, -2}, {4, -2}, {5, -2}, {6, -2}, {7, -2},
    {-8, -2}, {-7, -2}, {-6, -2}, {-5, -2}, {-4, -2}, {-3, -2}, {-2, -2}, {-1, -2},
    {0, -1}, {1, -1}, {2, -1}, {3, -1}, {4, -1}, {5, -1}, {6, -1}, {7, -1},
    {-8, -1}, {-7, -1}, {-6, -1}, {-5, -1}, {-4, -1}, {-3, -1}, {-2, -1}, {-1, -1},
};
static const int8_t S2_LUT[256][4] = {
    {0, 0, 0, 0}, {1, 0, 0, 0}, {-2, 0, 0, 0}, {-1, 0, 0, 0},
    {0, 1, 0, 0}, {1, 1, 0, 0}, {-2, 1, 0, 0}, {-1, 1, 0, 0},
    {0, -2, 0, 0}, {1, -2, 0, 0}, {-2, -2, 0, 0}, {-1, -2, 0, 0},
    {0, -1, 0, 0}, {1, -1, 0, 0}, {-2, -1, 0, 0}, {-1, -1, 0, 0},
    {0, 0, 1, 0}, {1, 0, 1, 0}, {-2, 0, 1, 0}, {-1, 0, 1, 0},
    {0, 1, 1, 0}, {1, 1, 1, 0}, {-2, 1, 1, 0}, {-1, 1, 1, 0},
    {0, -2, 1, 0}, {1, -2, 1, 0}, {-2, -2, 1, 0}, {-1, -2, 1, 0},
    {0, -1, 1, 0}, {1, -1, 1, 0}, {-2, -1, 1, 0}, {-1, -1, 1, 0},
    {0, 0, -2, 0}, {1, 0, -2, 0}, {-2, 0, -2, 0}, {-1, 0, -2, 0},
    {0, 1, -2, 0}, {1, 1, -2, 0}, {-2, 1, -2, 0}, {-1, 1, -2, 0},
    {0, -2, -2, 0}, {1, -2, -2, 0}, {-2, -2, -2, 0}, {-1, -2, -2, 0},
    {0, -1, -2, 0}, {1, -1, -2, 0}, {-2, -1, -2, 0}, {-1, -1, -2, 0},
    {0, 0, -1, 0}, {1, 0, -1, 0}, {-2, 0, -1, 0}, {-1, 0, -1, 0},
    {0, 1, -1, 0}, {1, 1, -1, 0}, {-2, 1, -1, 0}, {-1, 1, -1, 0},
    {0, -2, -1, 0}, {1, -2, -1, 0}, {-2, -2, -1, 0}, {-1, -2, -1, 0},
    {0, -1, -1, 0}, {1, -1, -1, 0}, {-2, -1, -1, 0}, {-1, -1, -1, 0},
    {0, 0, 0, 1}, {1, 0, 0, 1}, {-2, 0, 0, 1}, {-1, 0, 0, 1},
    {0, 1, 0, 1}, {1, 1, 0, 1}, {-2, 1, 0, 1}, {-1, 1, 0, 1},
    {0, -2, 0, 1}, {1, -2, 0, 1}, {-2, -2, 0, 1}, {-1, -2, 0, 1},
    {0, -1, 0, 1}, {1, -1, 0, 1}, {-2, -1, 0, 1}, {-1, -1, 0, 1},
    {0, 0, 1, 1}, {1, 0, 1, 1}, {-2, 0, 1, 1}, {-1, 0, 1, 1},
    {0, 1, 1, 1}, {1, 1, 1, 1}, {-2, 1, 1, 1}, {-1, 1, 1, 1},
    {0, -2, 1, 1}, {1, -2, 1, 1}, {-2, -2, 1, 1}, {-1, -2, 1, 1},
    {0, -1, 1, 1}, {1, -1, 1, 1}, {-2, -1, 1, 1}, {-1, -1, 1, 1},
    {0, 0, -2, 1}, {1, 0, -2, 1}, {-2, 0, -2, 1}, {-1, 0, -2, 1},
    {0, 1, -2, 1}, {1, 1, -2, 1}, {-2, 1, -2, 1}, {-1, 1, -2, 1},
    {0, -2, -2, 1}, {1, -2, -2, 1}, {-2, -2, -2, 1}, {-1, -2, -2, 1},
    {0, -1, -2, 1}, {1, -1, -2, 1}, {-2, -1, -2, 1}, {-1, -1, -2, 1},
    {0, 0, -1, 1}, {1, 0, -1, 1}, {-2, 0, -1, 1}, {-1, 0, -1, 1},
    {0, 1, -1, 1}, {1, 1, -1, 1}, {-2, 1, -1, 1}, {-1, 1, -1, 1},
    {0, -2, -1, 1}, {1, -2, -1, 1}, {-2, -2, -1, 1}, {-1, -2, -1, 1},
    {0, -1, -1, 1}, {1, -1, -1, 1}, {-2, -1, -1, 1}, {-1, -1, -1, 1},
    {0, 0, 0, -2}, {1, 0, 0, -2}, {-2, 0, 0, -2}, {-1, 0, 0, -2},
    {0, 1, 0, -2}, {1, 1, 0, -2}, {-2, 1, 0, -2}, {-1, 1, 0, -2},
    {0, -2, 0, -2}, {1, -2, 0, -2}, {-2, -2, 0, -2}, {-1, -2, 0, -2},
    {0, -1, 0, -2}, {1, -1, 0, -2}, {-2, -1, 0, -2}, {-1, -1, 0, -2},
    {0, 0, 1, -2}, {1, 0, 1, -2}, {-2, 0, 1, -2}, {-1, 0, 1, -2},
    {0, 1, 1, -2}, {1, 1, 1, -2}, {-2, 1, 1, -2}, {-1, 1, 1, -2},
    {0, -2, 1, -2}, {1, -2, 1, -2}, {-2, -2, 1, -2}, {-1, -2, 1, -2},
    {0, -1, 1, -2}, {1, -1, 1, -2}, {-2, -1, 1, -2}, {-1, -1, 1, -2},
    {0, 0, -2, -2}, {1, 0, -2, -2}, {-2, 0, -2, -2}, {-1, 0, -2, -2},
    {0, 1, -2, -2}, {1, 1, -2, -2}, {-2, 1, -2, -2}, {-1, 1, -2, -2},
    {0, -2, -2, -2}, {1, -2, -2, -2}, {-2, -2, -2, -2}, {-1, -2, -2, -2},
    {0, -1, -2, -2}, {1, -1, -2, -2}, {-2, -1, -2, -2}, {-1, -1, -2, -2},
    {0, 0, -1, -2}, {1, 0, -1, -2}, {-2, 0, -1, -2}, {-1, 0, -1, -2},
    {0, 1, -1, -2}, {1, 1, -1, -2}, {-2, 1, -1, -2}, {-1, 1, -1, -2},
    {0, -2, -1, -2}, {1, -2, -1, -2}, {-2, -2, -1, -2}, {-1, -2, -1, -2},
    {0, -1, -1, -2}, {1, -1, -1, -2}, {-2, -1, -1, -2}, {-1, -1, -1, -2},
    {0, 0, 0, -1}, {1, 0, 0, -1}, {-2, 0, 0, -1}, {-1, 0, 0, -1},
    {0, 1, 0, -1}, {1, 1, 0, -1}, {-2, 1, 0, -1}, {-1, 1, 0, -1},
    {0, -2, 0, -1}, {1, -2, 0, -1}, {-2, -2, 0, -1}, {-1, -2, 0, -1},
    {0, -1, 0, -1}, {1, -1, 0, -1}, {-2, -1, 0, -1}, {-1, -1, 0, -1},
    {0, 0, 1, -1}, {1, 0, 1, -1}, {-2, 0, 1, -1}, {-1, 0, 1, -1},
    {0, 1, 1, -1}, {1, 1, 1, -1}, {-2, 1, 1, -1}, {-1, 1, 1, -1},
    {0, -2, 1, -1}, {1, -2, 1, -1}, {-2, -2, 1, -1}, {-1, -2, 1, -1},
    {0, -1, 1, -1}, {1, -1, 1, -1}, {-2, -1, 1, -1}, {-1, -1, 1, -1},
    {0, 0, -2, -1}, {1, 0, -2, -1}, {-2, 0, -2, -1}, {-1, 0, -2, -1},
    {0, 1, -2, -1}, {1, 1, -2, -1}, {-2, 1, -2, -1}, {-1, 1, -2, -1},
    {0, -2, -2, -1}, {1, -2, -2, -1}, {-2, -2, -2, -1}, {-1, -2, -2, -1},
    {0, -1, -2, -1}, {1, -1, -2, -1}, {-2, -1, -2, -1}, {-1, -1, -2, -1},
    {0, 0, -1, -1}, {1, 0, -1, -1}, {-2, 0, -1, -1}, {-1, 0, -1, -1},
    {0, 1, -1, -1}, {1, 1, -1, -1}, {-2, 1, -1, -1}, {-1, 1, -1, -1},
    {0, -2, -1, -1}, {1, -2, -1, -1}, {-2, -2, -1, -1}, {-1, -2, -1, -1},
    {0, -1, -1, -1}, {1, -1, -1, -1}, {-2, -1, -1, -1}, {-1, -1, -1, -1},
};

void q_unpack_s(const uint8_t *in, size_t n, int bits, int8_t *q) {
    if (bits < 1 || bits > 8) return;
    if (bits == 8) {
        memcpy(q, in, n);
        return;
    }
    /* 4, 2 and 6 bits run per inference when weights are held packed */
    if (bits == 4) {
        const size_t whole = n / 2;
        size_t j = 0;
#if defined(__SSE2__) /* x86-64 baseline: 16 bytes -> 32 values */
        const __m128i m4 = _mm_set1_epi8(0x0f), s4 = _mm_set1_epi8(8);
        for (; j + 16 <= whole; j += 16) {
            const __m128i x = _mm_loadu_si128((const __m128i *)(in + j));
            __m128i lo = _mm_and_si128(x, m4), hi = _mm_and_si128(_mm_srli_epi16(x, 4), m4);
            lo = _mm_sub_epi8(_mm_xor_si128(lo, s4), s4); /* sign-extend the nibble */
            hi = _mm_sub_epi8(_mm_xor_si128(hi, s4), s4);
            _mm_storeu_si128((__m128i *)(q + 2 * j), _mm_unpacklo_epi8(lo, hi));
            _mm_storeu_si128((__m128i *)(q + 2 * j + 16), _mm_unpackhi_epi8(lo, hi));
        }
#endif
        for (; j < whole; j++) memcpy(q + 2 * j, S4_LUT[in[j]], 2);
        if (n & 1) q[n - 1] = S4_LUT[in[whole]][0];
        return;
    }
    if (bits == 2) {
        const size_t whole = n / 4;
        size_t j = 0;
#if defined(__SSE2__) /* 16 bytes -> 64 values */
        const __m128i m2 = _mm_set1_epi8(3), s2 = _mm_set1_epi8(2);
        for (; j + 16 <= whole; j += 16) {
            const __m128i x = _mm_loadu_si128((const __m128i *)(in + j));
            __m128i v[4];
            for (int k = 0; k < 4; k++) {
                v[k] = _mm_and_si128(k ? _mm_srli_epi16(x, 2 * k) : x, m2);
                v[k] = _mm_sub_epi8(_mm_xor_si128(v[k], s2), s2);
            }
            const __m128i a = _mm_unpacklo_epi8(v[0], v[1]), b = _mm_unpackhi_epi8(v[0], v[1]);
            const __m128i c = _mm_unpacklo_epi8(v[2], v[3]), d = _mm_unpackhi_epi8(v[2], v[3]);
            _mm_storeu_si128((__m128i *)(q + 4 * j), _mm_unpacklo_epi16(a, c));
            _mm_storeu_si128((__m128i *)(q + 4 * j + 16), _mm_unpackhi_epi16(a, c));
            _mm_storeu_si128((__m128i *)(q + 4 * j + 32), _mm_unpacklo_epi16(b, d));
            _mm_storeu_si128((__m128i *)(q + 4 * j + 48), _mm_unpackhi_epi16(b, d));
        }
#endif
        for (; j < whole; j++) memcpy(q + 4 * j, S2_LUT[in[j]], 4);
        for (size_t i = whole * 4; i < n; i++) q[i] = S2_LUT[in[whole]][i - whole * 4];
        return;
    }
    if (bits == 6) { /* 4 values in 3 bytes */
        const size_t whole = n / 4;
        for (size_t j = 0; j < whole; j++) {
            const uint8_t *b = in + 3 * j;
            const uint32_t v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16;
            for (int k = 0; k < 4; k++)
                q[4 * j + (size_t)k] = (int8_t)((int32_t)(v << (26 - 6 * k)) >> 26);
        }
        if (whole * 4 == n) return;
        in += 3 * whole, q += 4 * whole, n -= 4 * whole; /* the rest: generic */
    }
    q_unpack_u(in, n, bits, (uint8_t *)q);
    int sign = 1 << (bits - 1);
    for (size_t i = 0; i < n; i++) {
        int v = ((uint8_t *)q)[i];
        q[i] = (int8_t)((v ^ sign) - sign); /* sign-extend `bits` bits */
    }
}

void q_unpack_s16(const uint8_t *in, size_t n, int bits, int16_t *q) {
    if (bits < 1 || bits > 8) return;
    int8_t buf[256];
    for (size_t i = 0; i < n; i += sizeof buf) {
        /* chunks of 256 values start on a byte boundary for every width */
        const size_t m = n - i < sizeof buf ? n - i : sizeof buf;
        q_unpack_s(in + i / 8 * (size_t)bits, m, bits, buf);
        for (size_t j = 0; j < m; j++) q[i + j] = buf[j];
    }
}

static int bits_for(int lo, int hi) {
    int b = 2;
    while (b < 8 && (lo < -(1 << (b - 1)) || hi > (1 << (b - 1)) - 1)) b++;
    return b;
}

int q_bits_s8(const int8_t *q, size_t n) {
    int lo = 0, hi = 0;
    for (size_t i = 0; i < n; i++) {
        if (q[i] < lo) lo = q[i];
        if (q[i] > hi) hi = q[i];
    }
    return bits_for(lo, hi);
}

int q_bits_s16(const int16_t *q, size_t n) {
    int lo = 0, hi = 0;
    for (size_t i = 0; i < n; i++) {
        if (q[i] < lo) lo = q[i];
        if (q[i] > hi) hi = q[i];
    }
    return lo < -128 || hi > 127 ? 9 : bits_for(lo, hi);
}

/* The range [first, first + n) of a stream, value by value through the
 * 16-bit window (the bytes around the range keep their other bits). */
void q_unpack_u_at(const uint8_t *in, size_t first, size_t n, int bits, uint8_t *q) {
    if (bits < 1 || bits > 8) return;
    if (first == 0 || (first * (size_t)bits) % 8 == 0) {
        q_unpack_u(in + first * (size_t)bits / 8, n, bits, q);
        return;
    }
    const unsigned mask = (1u << bits) - 1u;
    size_t bitpos = first * (size_t)bits;
    for (size_t i = 0; i < n; i++, bitpos += (size_t)bits) {
        const size_t byte = bitpos >> 3;
        const unsigned sh = (unsigned)(bitpos & 7);
        unsigned v = in[byte];
        if (sh + (unsigned)bits > 8) v |= (unsigned)in[byte + 1] << 8;
        q[i] = (uint8_t)((v >> sh) & mask);
    }
}

void q_pack_u_at(const uint8_t *q, size_t first, size_t n, int bits, uint8_t *out) {
    if (bits < 1 || bits > 8 || !n) return;
    const unsigned mask = (1u << bits) - 1u;
    size_t bitpos = first * (size_t)bits;
    size_t i = 0;
    /* value by value up to a byte boundary, whole bytes through q_pack_u,
     * then value by value again for the tail */
    for (; i < n && (bitpos & 7); i++, bitpos += (size_t)bits) {
        const size_t byte = bitpos >> 3;
        const unsigned sh = (unsigned)(bitpos & 7);
        const unsigned v = (q[i] & mask) << sh, m = mask << sh;
        out[byte] = (uint8_t)((out[byte] & ~m) | v);
        if (sh + (unsigned)bits > 8) out[byte + 1] = (uint8_t)((out[byte + 1] & ~(m >> 8)) | (v >> 8));
    }
    /* whole groups of 8 values fill whole bytes */
    const size_t whole = (n - i) / 8 * 8;
    if (whole) {
        q_pack_u(q + i, whole, bits, out + (bitpos >> 3));
        i += whole;
        bitpos += whole * (size_t)bits;
    }
    for (; i < n; i++, bitpos += (size_t)bits) {
        const size_t byte = bitpos >> 3;
        const unsigned sh = (unsigned)(bitpos & 7);
        const unsigned v = (q[i] & mask) << sh, m = mask << sh;
        out[byte] = (uint8_t)((out[byte] & ~m) | v);
        if (sh + (unsigned)bits > 8) out[byte + 1] = (uint8_t)((out[byte + 1] & ~(m >> 8)) | (v >> 8));
    }
}
