/* quant pack: dense 1..8-bit packing of quantized values, LSB first.
 * Value i occupies stream bits [i*bits, (i+1)*bits); stream bit k is bit
 * k%8 of byte k/8, so 3-, 5-, 6- and 7-bit values straddle bytes. The
 * generic path moves bits through a 16-bit window; 1/2/4/8 bits (which
 * never straddle) have whole-byte fast paths with the same output. */
#include <string.h>

#include "quant/quant.h"

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

void q_unpack_s(const uint8_t *in, size_t n, int bits, int8_t *q) {
    if (bits < 1 || bits > 8) return;
    q_unpack_u(in, n, bits, (uint8_t *)q);
    if (bits == 8) return;
    int sign = 1 << (bits - 1);
    for (size_t i = 0; i < n; i++) {
        int v = ((uint8_t *)q)[i];
        q[i] = (int8_t)((v ^ sign) - sign); /* sign-extend `bits` bits */
    }
}
