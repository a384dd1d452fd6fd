/* onnx tensors: TensorProto -> dense little-endian bytes (raw_data, every
 * typed field, external data files) and back (always raw_data), plus the
 * standalone .pb tensor files the backend tests and `cleave run` use. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"
#include "onnx/onnx_internal.h"

static cleave_status read_external(cleave_ctx *ctx, const Onnx__TensorProto *tp,
                                   const char *model_path, void *dst, size_t bytes,
                                   const char *what) {
    const char *loc = NULL;
    long long off = 0, length = -1;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *e = tp->external_data[i];
        if (!e->key || !e->value) continue;
        if (strcmp(e->key, "location") == 0) loc = e->value;
        else if (strcmp(e->key, "offset") == 0) off = atoll(e->value);
        else if (strcmp(e->key, "length") == 0) length = atoll(e->value);
    }
    if (!loc || !loc[0])
        return cv_fail(ctx, CLEAVE_E_PARSE, "%s: %s: external data without a location",
                       model_path, what);
    if (loc[0] == '/' || strstr(loc, ".."))
        return cv_fail(ctx, CLEAVE_E_INVALID,
                       "%s: %s: external data location '%s' must be a relative path inside "
                       "the model's folder",
                       model_path, what, loc);
    if (off < 0 || (length >= 0 && (size_t)length != bytes))
        return cv_fail(ctx, CLEAVE_E_INVALID,
                       "%s: %s: external data length %lld does not match the %zu bytes its "
                       "shape needs",
                       model_path, what, length, bytes);
    char path[4096];
    const char *slash = model_path ? strrchr(model_path, '/') : NULL;
    if (slash)
        snprintf(path, sizeof path, "%.*s/%s", (int)(slash - model_path), model_path, loc);
    else
        snprintf(path, sizeof path, "%s", loc);
    FILE *f = fopen(path, "rb");
    if (!f)
        return cv_fail(ctx, CLEAVE_E_IO, "%s: %s: cannot open external data file %s",
                       model_path, what, path);
    int ok = fseek(f, (long)off, SEEK_SET) == 0 && fread(dst, 1, bytes, f) == bytes;
    fclose(f);
    if (!ok)
        return cv_fail(ctx, CLEAVE_E_IO,
                       "%s: %s: external data file %s is too short (need %zu bytes at "
                       "offset %lld)",
                       model_path, what, path, bytes, off);
    return CLEAVE_OK;
}

cleave_status onnx_tensor_decode(cleave_ctx *ctx, const Onnx__TensorProto *tp,
                                 const char *model_path, const char *what, cv_arena *arena,
                                 cv_tensor *out) {
    memset(out, 0, sizeof *out);
    const char *src = model_path ? model_path : "model";
    cv_dtype dt = (cv_dtype)tp->data_type;
    if (tp->segment)
        return cv_fail(ctx, CLEAVE_E_UNSUPPORTED, "%s: %s: segmented tensors are not supported",
                       src, what);
    if (dt == CV_STRING || !cv_dtype_supported(dt))
        return cv_fail(ctx, CLEAVE_E_UNSUPPORTED, "%s: %s: tensor dtype %d (%s) is not supported",
                       src, what, (int)tp->data_type, cv_dtype_name(dt));
    if (tp->n_dims > CV_MAX_DIMS)
        return cv_fail(ctx, CLEAVE_E_LIMIT, "%s: %s: rank %zu exceeds the limit of %d", src,
                       what, tp->n_dims, CV_MAX_DIMS);
    out->dtype = dt;
    out->ndim = (int)tp->n_dims;
    int64_t numel = 1;
    for (size_t i = 0; i < tp->n_dims; i++) {
        int64_t d = tp->dims[i];
        if (d < 0 || d > CV_MAX_ELEMS || (d && numel > CV_MAX_ELEMS / d))
            return cv_fail(ctx, CLEAVE_E_INVALID, "%s: %s: invalid dimension %lld", src, what,
                           (long long)d);
        out->dims[i] = d;
        numel *= d;
    }
    size_t esz = cv_dtype_size(dt), bytes = (size_t)numel * esz;
    void *dst = arena ? cv_arena_alloc(arena, bytes) : cv_aligned_alloc(bytes);
    if (!dst) return cv_fail(ctx, CLEAVE_E_NOMEM, "%s: %s: cannot allocate %zu bytes", src, what, bytes);
    out->data = dst;
    cleave_status st = CLEAVE_OK;
    size_t have = 0;
    const char *field = "raw_data";
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        st = read_external(ctx, tp, model_path, dst, bytes, what);
        have = bytes;
    } else if (tp->has_raw_data) {
        have = tp->raw_data.len;
        if (have == bytes && bytes) memcpy(dst, tp->raw_data.data, bytes);
    } else if (tp->n_float_data) {
        field = "float_data";
        have = tp->n_float_data * esz;
        if (dt != CV_F32) have = (size_t)-1;
        else if (have == bytes) memcpy(dst, tp->float_data, bytes);
    } else if (tp->n_double_data) {
        field = "double_data";
        have = tp->n_double_data * esz;
        if (dt != CV_F64) have = (size_t)-1;
        else if (have == bytes) memcpy(dst, tp->double_data, bytes);
    } else if (tp->n_int64_data) {
        field = "int64_data";
        have = tp->n_int64_data * esz;
        if (dt != CV_I64) have = (size_t)-1;
        else if (have == bytes) memcpy(dst, tp->int64_data, bytes);
    } else if (tp->n_uint64_data) {
        field = "uint64_data";
        have = tp->n_uint64_data * esz;
        if (dt != CV_U64 && dt != CV_U32) have = (size_t)-1;
        else if (have == bytes)
            for (size_t i = 0; i < tp->n_uint64_data; i++) {
                if (dt == CV_U64) ((uint64_t *)dst)[i] = tp->uint64_data[i];
                else ((uint32_t *)dst)[i] = (uint32_t)tp->uint64_data[i];
            }
    } else if (tp->n_int32_data) {
        field = "int32_data";
        have = tp->n_int32_data * esz;
        if (dt == CV_F32 || dt == CV_F64 || dt == CV_I64 || dt == CV_U64 || dt == CV_U32)
            have = (size_t)-1;
        else if (have == bytes)
            for (size_t i = 0; i < tp->n_int32_data; i++) {
                int32_t v = tp->int32_data[i];
                switch (dt) {
                case CV_I32: ((int32_t *)dst)[i] = v; break;
                case CV_I16: ((int16_t *)dst)[i] = (int16_t)v; break;
                case CV_U16: case CV_F16: case CV_BF16: ((uint16_t *)dst)[i] = (uint16_t)v; break;
                case CV_I8: ((int8_t *)dst)[i] = (int8_t)v; break;
                case CV_U8: case CV_BOOL: ((uint8_t *)dst)[i] = (uint8_t)v; break;
                default: break;
                }
            }
    }
    if (st == CLEAVE_OK && have != bytes) {
        if (have == (size_t)-1)
            st = cv_fail(ctx, CLEAVE_E_INVALID, "%s: %s: field %s cannot hold dtype %s", src,
                         what, field, cv_dtype_name(dt));
        else
            st = cv_fail(ctx, CLEAVE_E_INVALID,
                         "%s: %s: %s has %zu bytes but shape %lld elements of %s need %zu", src,
                         what, field, have, (long long)numel, cv_dtype_name(dt), bytes);
    }
    if (st != CLEAVE_OK && !arena) {
        cv_aligned_free(dst);
        out->data = NULL;
    }
    return st;
}

cleave_status onnx_tensor_encode(cleave_ctx *ctx, const cv_tensor *t, const char *name,
                                 Onnx__TensorProto *tp) {
    onnx__tensor_proto__init(tp);
    tp->n_dims = (size_t)t->ndim;
    tp->dims = (int64_t *)t->dims;
    tp->has_data_type = 1;
    tp->data_type = (int32_t)t->dtype;
    tp->name = (char *)(name ? name : "");
    tp->has_raw_data = 1;
    tp->raw_data.len = cv_nbytes(t);
    tp->raw_data.data = t->data;
    (void)ctx;
    return CLEAVE_OK;
}

cleave_status onnx_tensor_load_file(cleave_ctx *ctx, const char *path, cv_tensor *out,
                                    char **name) {
    uint8_t *buf;
    size_t len;
    CV_TRY(cv_read_file(ctx, path, ONNX_MAX_FILE_BYTES, &buf, &len));
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, buf);
    cv_free(buf);
    if (!tp)
        return cv_fail(ctx, CLEAVE_E_PARSE, "%s: not a valid ONNX TensorProto (protobuf decode failed)",
                       path);
    cleave_status st = onnx_tensor_decode(ctx, tp, path, "tensor", NULL, out);
    if (st == CLEAVE_OK && name) {
        *name = cv_strdup(tp->name ? tp->name : "");
        if (!*name) st = cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory", path);
    }
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return st;
}

cleave_status onnx_tensor_save_file(cleave_ctx *ctx, const cv_tensor *t, const char *name,
                                    const char *path) {
    Onnx__TensorProto tp;
    CV_TRY(onnx_tensor_encode(ctx, t, name, &tp));
    size_t n = onnx__tensor_proto__get_packed_size(&tp);
    uint8_t *buf = cv_malloc(n);
    if (!buf) return cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory", path);
    onnx__tensor_proto__pack(&tp, buf);
    cleave_status st = cv_write_file(ctx, path, buf, n);
    cv_free(buf);
    return st;
}
