/* tensor: dtype codes (same numbers as ONNX TensorProto.DataType), shapes
 * and the plain dense row-major tensor view every kernel works on. A tensor
 * never owns its data; the graph arena or the executor's arena does. */
#ifndef CLEAVE_TENSOR_H
#define CLEAVE_TENSOR_H

#include <stddef.h>
#include <stdint.h>

typedef enum cv_dtype {
    CV_UNDEF = 0,
    CV_F32 = 1,
    CV_U8 = 2,
    CV_I8 = 3,
    CV_U16 = 4,
    CV_I16 = 5,
    CV_I32 = 6,
    CV_I64 = 7,
    CV_STRING = 8,
    CV_BOOL = 9,
    CV_F16 = 10,
    CV_F64 = 11,
    CV_U32 = 12,
    CV_U64 = 13,
    CV_BF16 = 16
} cv_dtype;

#define CV_MAX_DIMS 8
/* Caps on anything read from outside (files, network). */
#define CV_MAX_ELEMS ((int64_t)1 << 34)

typedef struct cv_tensor {
    cv_dtype dtype;
    int ndim;
    int64_t dims[CV_MAX_DIMS]; /* logical shape (NCHW for 4-D) */
    void *data;                /* NULL when only the shape is known */
    /* 0: dense row-major. B > 0 (4-D f32 or uint8 only): channel-blocked
     * nChw<B>c, i.e. N x ceil(C/B) x H x W x B with the padded channels
     * zero. B == C is NHWC (the executor's layout for uint8 activations).
     * Only ops that declare they handle it ever see a blocked tensor. */
    int block;
    /* 0: one element per dtype size. 1..7 (uint8 only): codes in
     * [0, 2^pbits) held packed (base/pack.h stream, pbits bits each), as
     * the executor keeps activations below 8 bits (rt_options
     * .pack_activations); only the ops runtime/pack.c lists see one. */
    int pbits;
} cv_tensor;

/* Bytes per element; 0 for string/undefined. */
size_t cv_dtype_size(cv_dtype t);
const char *cv_dtype_name(cv_dtype t);
/* 1 if the executor can compute with this dtype. */
int cv_dtype_supported(cv_dtype t);

int64_t cv_shape_numel(int ndim, const int64_t *dims);
static inline int64_t cv_numel(const cv_tensor *t) { return cv_shape_numel(t->ndim, t->dims); }
static inline size_t cv_nbytes(const cv_tensor *t) {
    return (size_t)cv_numel(t) * cv_dtype_size(t->dtype);
}
/* Bytes of the buffer a tensor occupies (padded channels included). */
size_t cv_storage_bytes(const cv_tensor *t);
/* "1x3x224x224" (or "scalar") into buf. */
const char *cv_shape_str(int ndim, const int64_t *dims, char *buf, size_t n);
int cv_shape_eq(const cv_tensor *a, const cv_tensor *b);

/* Read element i of any numeric tensor as double / int64 (for small
 * shape-like tensors, not for hot loops). */
double cv_get_f64(const cv_tensor *t, int64_t i);
int64_t cv_get_i64(const cv_tensor *t, int64_t i);
void cv_set_f64(cv_tensor *t, int64_t i, double v);

/* IEEE half / bfloat16 conversion. */
float cv_f16_to_f32(uint16_t h);
uint16_t cv_f32_to_f16(float f);
float cv_bf16_to_f32(uint16_t h);
uint16_t cv_f32_to_bf16(float f);

/* Normalise a possibly negative axis against rank; -1 if out of range. */
static inline int cv_axis(int64_t axis, int rank) {
    if (axis < -rank || axis >= rank) return -1;
    return (int)(axis < 0 ? axis + rank : axis);
}

#endif
