/* base pack: dense 1..8-bit packing of quantized values (the wire format
 * of low-bit tensors, and how the engine holds weights below 8 bits). */
#ifndef CLEAVE_BASE_PACK_H
#define CLEAVE_BASE_PACK_H

#include <stddef.h>
#include <stdint.h>

/* Bytes for n values of `bits` (1..8) bits: ceil(n*bits/8). */
size_t q_packed_bytes(size_t n, int bits);
/* LSB-first bit stream: value i occupies bits [i*bits, (i+1)*bits) of the
 * stream, bit k of the stream is bit (k%8) of byte k/8; values straddle
 * byte boundaries; trailing bits of the last byte are 0.
 * q_pack_u: q[i] low `bits` bits are stored (higher bits ignored).
 * q_pack_s: two's-complement low bits of q[i].
 * q_unpack_u: values in [0, 2^bits-1]; q_unpack_s: sign-extended to
 * [-2^(bits-1), 2^(bits-1)-1]. out/in hold q_packed_bytes(n, bits) bytes.
 * bits outside 1..8: nothing is written (callers validate bits first). */
void q_pack_u(const uint8_t *q, size_t n, int bits, uint8_t *out);
void q_unpack_u(const uint8_t *in, size_t n, int bits, uint8_t *q);
void q_pack_s(const int8_t *q, size_t n, int bits, uint8_t *out);
void q_unpack_s(const uint8_t *in, size_t n, int bits, int8_t *q);
/* The values [first, first + n) of such a stream: q_unpack_u_at reads
 * them, q_pack_u_at writes them and leaves every other value's bits as
 * they are (how the engine reads and writes parts of a packed activation;
 * not thread-safe on a shared boundary byte). */
void q_unpack_u_at(const uint8_t *in, size_t first, size_t n, int bits, uint8_t *q);
void q_pack_u_at(const uint8_t *q, size_t first, size_t n, int bits, uint8_t *out);
/* q_unpack_s widened to int16 (the reference integer kernels' operands). */
void q_unpack_s16(const uint8_t *in, size_t n, int bits, int16_t *q);

/* The fewest bits (2..8) whose two's-complement range holds every value:
 * 4 for weights in [-8, 7]. */
int q_bits_s8(const int8_t *q, size_t n);
/* The same for int16 values; 9 when one is outside [-128, 127]. */
int q_bits_s16(const int16_t *q, size_t n);

#endif
