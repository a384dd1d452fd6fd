/* npy: NumPy .npy files (format 1.0/2.0/3.0, little-endian, C order) to and
 * from cv_tensor. The header is bounded and checked before any allocation. */
#ifndef CLEAVE_NPY_H
#define CLEAVE_NPY_H

#include "base/base.h"
#include "base/tensor.h"

/* out->data is cv_aligned_alloc'd: free with cv_aligned_free. */
cleave_status cv_npy_load(cleave_ctx *ctx, const char *path, cv_tensor *out);
cleave_status cv_npy_load_bytes(cleave_ctx *ctx, const uint8_t *buf, size_t len, const char *what,
                                cv_tensor *out);
cleave_status cv_npy_save(cleave_ctx *ctx, const char *path, const cv_tensor *t);

#endif
