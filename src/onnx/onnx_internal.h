/* onnx internals shared by the loader and the saver (not a public header:
 * it exposes the generated protobuf-c types). */
#ifndef CLEAVE_ONNX_INTERNAL_H
#define CLEAVE_ONNX_INTERNAL_H

#include "onnx.pb-c.h"
#include "onnx/onnx.h"

/* Decode into arena memory (arena != NULL) or a cv_aligned_alloc buffer. */
cleave_status onnx_tensor_decode(cleave_ctx *ctx, const Onnx__TensorProto *tp,
                                 const char *model_path, const char *what, cv_arena *arena,
                                 cv_tensor *out);
/* Fill tp (borrowing t's dims and data: keep t alive while tp is used). */
cleave_status onnx_tensor_encode(cleave_ctx *ctx, const cv_tensor *t, const char *name,
                                 Onnx__TensorProto *tp);

#endif
