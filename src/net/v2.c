/* net/v2: KServe v2 / Open Inference Protocol bodies (docs/wire.md): the
 * datatype names, the growable buffer bodies are built in, and decoding a
 * parsed tensor into a cv_tensor (packed low-bit codes dequantized).
 * Parsing: v2_parse.c; encoding and error bodies: v2_encode.c;
 * compression: codec.c. */
#include "net/v2.h"

#include <string.h>

#include "net/v2_internal.h"
#include "quant/quant.h"

/* ---- datatypes ---- */

static const struct {
    const char *name;
    cv_dtype t;
} v2_types[] = {
    {"BOOL", CV_BOOL}, {"UINT8", CV_U8}, {"UINT16", CV_U16}, {"UINT32", CV_U32},
    {"UINT64", CV_U64}, {"INT8", CV_I8}, {"INT16", CV_I16},  {"INT32", CV_I32},
    {"INT64", CV_I64}, {"FP16", CV_F16}, {"FP32", CV_F32},   {"FP64", CV_F64},
    {"BYTES", CV_STRING}, /* known so that it can be refused by name */
};

cv_dtype net_v2_dtype_parse(const char *name) {
    if (!name) return CV_UNDEF;
    for (size_t i = 0; i < sizeof v2_types / sizeof v2_types[0]; i++)
        if (strcmp(name, v2_types[i].name) == 0) return v2_types[i].t;
    return CV_UNDEF;
}

const char *net_v2_dtype_name(cv_dtype t) {
    for (size_t i = 0; i < sizeof v2_types / sizeof v2_types[0]; i++)
        if (v2_types[i].t == t) return v2_types[i].name;
    return NULL;
}

/* Integer dtypes: width in bits and signedness; 0 for the others. */
int net_v2__int_bits(cv_dtype t, int *is_signed) {
    *is_signed = t == CV_I8 || t == CV_I16 || t == CV_I32 || t == CV_I64;
    switch (t) {
    case CV_U8: case CV_I8: return 8;
    case CV_U16: case CV_I16: return 16;
    case CV_U32: case CV_I32: return 32;
    case CV_U64: case CV_I64: return 64;
    default: return 0;
    }
}

/* ---- growable buffer ---- */

cleave_status net_buf_reserve(cleave_ctx *ctx, net_buf *b, size_t n) {
    if (b->cap - b->len >= n) return CLEAVE_OK;
    if (n > SIZE_MAX / 2 - b->len)
        return cv_fail(ctx, CLEAVE_E_LIMIT, "buffer of %zu + %zu bytes is too large", b->len, n);
    size_t need = b->len + n, cap = b->cap < 256 ? 256 : b->cap;
    while (cap < need) cap *= 2;
    uint8_t *p = cv_realloc(b->data, cap);
    if (!p) return cv_fail(ctx, CLEAVE_E_NOMEM, "out of memory for a %zu-byte buffer", cap);
    b->data = p;
    b->cap = cap;
    return CLEAVE_OK;
}

cleave_status net_buf_append(cleave_ctx *ctx, net_buf *b, const void *p, size_t n) {
    if (n == 0) return CLEAVE_OK;
    /* p may point into b itself: find it again after a realloc */
    uintptr_t at = (uintptr_t)p, lo = (uintptr_t)b->data;
    int inside = b->data && at >= lo && at < lo + b->len;
    CV_TRY(net_buf_reserve(ctx, b, n));
    if (inside) p = b->data + (at - lo);
    memmove(b->data + b->len, p, n);
    b->len += n;
    return CLEAVE_OK;
}

void net_buf_free(net_buf *b) {
    cv_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---- decoding ---- */

cleave_status net_v2_tensor_decode(cleave_ctx *ctx, const net_v2_tensor *t, cv_tensor *out) {
    memset(out, 0, sizeof *out);
    if (t->ndim < 0 || t->ndim > CV_MAX_DIMS)
        return cv_fail(ctx, CLEAVE_E_INVALID, "tensor '%s': bad rank %d", t->name, t->ndim);
    int64_t numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        if (t->dims[d] < 0 || (t->dims[d] > 0 && numel > CV_MAX_ELEMS / t->dims[d]))
            return cv_fail(ctx, CLEAVE_E_INVALID, "tensor '%s': bad shape", t->name);
        numel *= t->dims[d];
    }
    size_t es = cv_dtype_size(t->dtype);
    size_t need = t->quant_bits ? q_packed_bytes((size_t)numel, t->quant_bits) : (size_t)numel * es;
    if (!net_v2_dtype_name(t->dtype) || t->dtype == CV_STRING || need != t->nbytes || (need && !t->data) ||
        (t->quant_bits && (t->dtype != CV_U8 || t->quant_bits > 8 || !(t->quant_scale > 0))))
        return cv_fail(ctx, CLEAVE_E_INVALID, "tensor '%s': inconsistent tensor (dtype, quantization or %zu bytes)",
                       t->name, t->nbytes);
    out->ndim = t->ndim;
    memcpy(out->dims, t->dims, sizeof out->dims);
    out->dtype = t->quant_bits ? CV_F32 : t->dtype;
    size_t nb = (size_t)numel * cv_dtype_size(out->dtype);
    out->data = cv_aligned_alloc(nb);
    if (!out->data) return cv_fail(ctx, CLEAVE_E_NOMEM, "tensor '%s': out of memory for %zu bytes", t->name, nb);
    if (!t->quant_bits) {
        if (nb) memcpy(out->data, t->data, nb);
        if (t->dtype == CV_BOOL) /* a nonzero byte is true */
            for (size_t i = 0; i < nb; i++) ((uint8_t *)out->data)[i] = ((uint8_t *)out->data)[i] != 0;
        return CLEAVE_OK;
    }
    /* value per code, computed as scale * (code - zero_point) in float */
    float lut[256];
    int bits = t->quant_bits, ncodes = 1 << bits;
    for (int c = 0; c < ncodes; c++) lut[c] = t->quant_scale * (float)((int64_t)c - t->quant_zero_point);
    float *x = out->data;
    const uint8_t *in = t->data;
    if (bits == 8) { /* one code per byte: straight through the table */
        for (size_t i = 0; i < (size_t)numel; i++) x[i] = lut[in[i]];
        return CLEAVE_OK;
    }
    if (8 % bits == 0) {
        /* 1, 2 or 4 bits: k = 8/bits whole codes per byte, so a table of the
         * k values of each byte value turns a byte into k floats in one copy
         * (100352 codes, best of 200: 4-bit 0.047 -> 0.019 ms, 1-bit 0.023 -> 0.008) */
        enum { K_MAX = 8 };
        float byte_lut[256][K_MAX];
        int k = 8 / bits;
        for (int b = 0; b < 256; b++)
            for (int j = 0; j < k; j++) byte_lut[b][j] = lut[(b >> (j * bits)) & (ncodes - 1)];
        size_t full = (size_t)numel / (size_t)k, rest = (size_t)numel % (size_t)k;
        /* constant-size copies per width, so they compile to plain moves */
#define V2_UNPACK_BYTES(K)                                                            \
    for (size_t i = 0; i < full; i++) memcpy(x + i * (K), byte_lut[in[i]], sizeof(float) * (K))
        if (k == 2) V2_UNPACK_BYTES(2);
        else if (k == 4) V2_UNPACK_BYTES(4);
        else V2_UNPACK_BYTES(8);
#undef V2_UNPACK_BYTES
        if (rest) memcpy(x + full * (size_t)k, byte_lut[in[full]], sizeof(float) * rest);
        return CLEAVE_OK;
    }
    /* 3, 5, 6, 7 bits (codes straddle bytes): 8 codes fill exactly `bits`
     * bytes, so each group of 8 is one little-endian word and 8 shifts (the
     * word read as 8 bytes while they lie within the data; 100352 6-bit
     * codes 0.103 -> 0.028 ms); the last partial group through q_unpack_u */
    size_t groups = (size_t)numel / 8, g = 0, mask = (size_t)ncodes - 1;
    for (; g < groups; g++) {
        uint64_t w = 0;
        const uint8_t *p = in + g * (size_t)bits;
        if (g * (size_t)bits + 8 <= t->nbytes) memcpy(&w, p, 8);
        else memcpy(&w, p, (size_t)bits);
        float *y = x + g * 8;
        for (int j = 0; j < 8; j++) y[j] = lut[(w >> (j * bits)) & mask];
    }
    size_t left = (size_t)numel - groups * 8;
    if (left) {
        uint8_t codes[8];
        q_unpack_u(in + groups * (size_t)bits, left, bits, codes);
        for (size_t k = 0; k < left; k++) x[groups * 8 + k] = lut[codes[k]];
    }
    return CLEAVE_OK;
}
