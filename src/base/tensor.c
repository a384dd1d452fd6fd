/* tensor: dtype tables, shape helpers and scalar access by dtype. */
#include "tensor.h"

#include <stdio.h>
#include <string.h>

#include "base/pack.h"

size_t cv_dtype_size(cv_dtype t) {
    switch (t) {
    case CV_F32: case CV_I32: case CV_U32: return 4;
    case CV_U8: case CV_I8: case CV_BOOL: return 1;
    case CV_U16: case CV_I16: case CV_F16: case CV_BF16: return 2;
    case CV_I64: case CV_F64: case CV_U64: return 8;
    default: return 0;
    }
}

const char *cv_dtype_name(cv_dtype t) {
    switch (t) {
    case CV_F32: return "float32";
    case CV_U8: return "uint8";
    case CV_I8: return "int8";
    case CV_U16: return "uint16";
    case CV_I16: return "int16";
    case CV_I32: return "int32";
    case CV_I64: return "int64";
    case CV_STRING: return "string";
    case CV_BOOL: return "bool";
    case CV_F16: return "float16";
    case CV_F64: return "float64";
    case CV_U32: return "uint32";
    case CV_U64: return "uint64";
    case CV_BF16: return "bfloat16";
    default: return "undefined";
    }
}

int cv_dtype_supported(cv_dtype t) { return cv_dtype_size(t) != 0; }

size_t cv_storage_bytes(const cv_tensor *t) {
    if (t->pbits > 0 && t->pbits < 8) return q_packed_bytes((size_t)cv_numel(t), t->pbits);
    if (!t->block || t->ndim != 4) return cv_nbytes(t);
    int64_t cp = (t->dims[1] + t->block - 1) / t->block * t->block;
    return (size_t)(t->dims[0] * cp * t->dims[2] * t->dims[3]) * cv_dtype_size(t->dtype);
}

int64_t cv_shape_numel(int ndim, const int64_t *dims) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= dims[i];
    return n;
}

const char *cv_shape_str(int ndim, const int64_t *dims, char *buf, size_t n) {
    if (ndim == 0) {
        snprintf(buf, n, "scalar");
        return buf;
    }
    size_t off = 0;
    buf[0] = 0;
    for (int i = 0; i < ndim && off < n; i++) {
        int w;
        if (dims[i] < 0)
            w = snprintf(buf + off, n - off, "%s?", i ? "x" : "");
        else
            w = snprintf(buf + off, n - off, "%s%lld", i ? "x" : "", (long long)dims[i]);
        if (w < 0) break;
        off += (size_t)w;
    }
    return buf;
}

int cv_shape_eq(const cv_tensor *a, const cv_tensor *b) {
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

float cv_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) {
                man <<= 1;
                exp--;
            }
            man &= 0x3ff;
            bits = sign | (exp << 23) | (man << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp - 15 + 127) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t cv_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t man = x & 0x7fffff;
    if (((x >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
    if (exp >= 31) return (uint16_t)(sign | 0x7c00);
    if (exp <= 0) {
        if (exp < -10) return (uint16_t)sign;
        man |= 0x800000;
        uint32_t shift = (uint32_t)(14 - exp);
        uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)exp << 10) | (man >> 13);
    uint32_t rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++;
    return (uint16_t)half;
}

float cv_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t cv_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

double cv_get_f64(const cv_tensor *t, int64_t i) {
    const void *p = t->data;
    switch (t->dtype) {
    case CV_F32: return ((const float *)p)[i];
    case CV_F64: return ((const double *)p)[i];
    case CV_F16: return cv_f16_to_f32(((const uint16_t *)p)[i]);
    case CV_BF16: return cv_bf16_to_f32(((const uint16_t *)p)[i]);
    case CV_U8: return ((const uint8_t *)p)[i];
    case CV_I8: return ((const int8_t *)p)[i];
    case CV_BOOL: return ((const uint8_t *)p)[i] != 0;
    case CV_U16: return ((const uint16_t *)p)[i];
    case CV_I16: return ((const int16_t *)p)[i];
    case CV_I32: return ((const int32_t *)p)[i];
    case CV_U32: return ((const uint32_t *)p)[i];
    case CV_I64: return (double)((const int64_t *)p)[i];
    case CV_U64: return (double)((const uint64_t *)p)[i];
    default: return 0;
    }
}

int64_t cv_get_i64(const cv_tensor *t, int64_t i) {
    const void *p = t->data;
    switch (t->dtype) {
    case CV_I64: return ((const int64_t *)p)[i];
    case CV_I32: return ((const int32_t *)p)[i];
    case CV_U64: return (int64_t)((const uint64_t *)p)[i];
    case CV_U32: return ((const uint32_t *)p)[i];
    case CV_I16: return ((const int16_t *)p)[i];
    case CV_U16: return ((const uint16_t *)p)[i];
    case CV_I8: return ((const int8_t *)p)[i];
    case CV_U8: return ((const uint8_t *)p)[i];
    case CV_BOOL: return ((const uint8_t *)p)[i] != 0;
    default: {
        double d = cv_get_f64(t, i);
        if (d != d) return 0;
        return d < -9223372036854775808.0 ? INT64_MIN
               : d >= 9223372036854775808.0 ? INT64_MAX : (int64_t)d;
    }
    }
}

/* Saturating double -> integer (NaN -> 0): C leaves out-of-range casts undefined. */
static double sat(double v, double lo, double hi) {
    if (v != v) return 0;
    return v < lo ? lo : (v > hi ? hi : v);
}

void cv_set_f64(cv_tensor *t, int64_t i, double v) {
    void *p = t->data;
    switch (t->dtype) {
    case CV_U8: v = sat(v, 0, 255); break;
    case CV_I8: v = sat(v, -128, 127); break;
    case CV_U16: v = sat(v, 0, 65535); break;
    case CV_I16: v = sat(v, -32768, 32767); break;
    case CV_I32: v = sat(v, -2147483648.0, 2147483647.0); break;
    case CV_U32: v = sat(v, 0, 4294967295.0); break;
    case CV_I64: v = sat(v, -9223372036854775808.0, 9223372036854774784.0); break;
    case CV_U64: v = sat(v, 0, 18446744073709549568.0); break;
    default: break;
    }
    switch (t->dtype) {
    case CV_F32: ((float *)p)[i] = (float)v; break;
    case CV_F64: ((double *)p)[i] = v; break;
    case CV_F16: ((uint16_t *)p)[i] = cv_f32_to_f16((float)v); break;
    case CV_BF16: ((uint16_t *)p)[i] = cv_f32_to_bf16((float)v); break;
    case CV_U8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case CV_I8: ((int8_t *)p)[i] = (int8_t)v; break;
    case CV_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    case CV_U16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case CV_I16: ((int16_t *)p)[i] = (int16_t)v; break;
    case CV_I32: ((int32_t *)p)[i] = (int32_t)v; break;
    case CV_U32: ((uint32_t *)p)[i] = (uint32_t)v; break;
    case CV_I64: ((int64_t *)p)[i] = (int64_t)v; break;
    case CV_U64: ((uint64_t *)p)[i] = (uint64_t)v; break;
    default: break;
    }
}
