/* onnx: ONNX ModelProto <-> ir_graph through protobuf-c (C generated at
 * build time from Debian's onnx.proto), and TensorProto files (.pb) <->
 * cv_tensor. Everything read is bounded before it is allocated. */
#ifndef CLEAVE_ONNX_H
#define CLEAVE_ONNX_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "base/tensor.h"
#include "ir/graph.h"

/* Caps on model files. */
#define ONNX_MAX_FILE_BYTES ((size_t)4 << 30)
#define ONNX_MAX_NODES 1000000
#define ONNX_MAX_ATTR_ELEMS (1 << 26)

/* Load a model. External data files are resolved relative to the model's
 * folder. The graph is linked and topologically sorted; ops are not bound. */
cleave_status onnx_load_file(cleave_ctx *ctx, const char *path, ir_graph **out);
cleave_status onnx_load_bytes(cleave_ctx *ctx, const uint8_t *data, size_t len,
                              const char *path, ir_graph **out);

/* Save a graph (weights as raw_data, fused activations written back as
 * their own nodes). */
cleave_status onnx_save_file(cleave_ctx *ctx, const ir_graph *g, const char *path);

/* Read/write one TensorProto file. *out gets malloc'd data (cv_free it);
 * *name (may be NULL) gets a malloc'd copy of the tensor's name. */
cleave_status onnx_tensor_load_file(cleave_ctx *ctx, const char *path, cv_tensor *out,
                                    char **name);
cleave_status onnx_tensor_save_file(cleave_ctx *ctx, const cv_tensor *t, const char *name,
                                    const char *path);

#endif
