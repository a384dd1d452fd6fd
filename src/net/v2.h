/* net/v2: the KServe v2 / Open Inference Protocol wire format, as cleave's
 * server and edge client speak it (docs/serve.md):
 *   - a JSON body, or the binary-data extension: the JSON header of
 *     Inference-Header-Content-Length bytes followed by the tensors' raw
 *     bytes in the order of the header's tensors that carry a
 *     "binary_data_size" parameter;
 *   - tensor datatypes BOOL, UINT8..UINT64, INT8..INT64, FP16, FP32, FP64
 *     (BYTES is refused: no string tensors here);
 *   - a low-bit tensor: datatype UINT8, "shape" the logical shape, tensor
 *     parameters "quant_bits" (1..8), "quant_scale" (> 0) and
 *     "quant_zero_point", its data the codes packed LSB-first at quant_bits
 *     (q_pack_u; binary only, q_packed_bytes(numel, bits) bytes). Codes are
 *     dequantized as scale * (code - zero_point);
 *   - bodies compressed as Content-Encoding gzip or zstd.
 * Everything read from the network is checked (sizes, counts, shapes,
 * datatypes); every failure is a CLEAVE_E_* status whose message says what
 * was wrong (it goes back to the client as {"error": "..."}):
 *   CLEAVE_E_PARSE        malformed JSON, missing or mistyped fields, a bad
 *                         Inference-Header-Content-Length, a truncated or
 *                         overlong binary part, corrupt compressed data;
 *   CLEAVE_E_INVALID      well-formed but inconsistent: negative dims, data
 *                         count vs shape, a value out of its datatype's
 *                         range, binary_data_size vs shape, bad quant_*;
 *   CLEAVE_E_UNSUPPORTED  unknown datatype, BYTES;
 *   CLEAVE_E_LIMIT        too many tensors, dims, elements, too long names,
 *                         a decompressed body over its cap.
 * The format as cleave speaks it: docs/wire.md. */
#ifndef CLEAVE_NET_V2_H
#define CLEAVE_NET_V2_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/base.h"
#include "base/tensor.h"

#define NET_V2_MAX_TENSORS 64
#define NET_V2_NAME_MAX 256

/* "FP32" <-> CV_F32 etc. (case-sensitive, as the protocol's strings are).
 * Unknown names give CV_UNDEF; "BYTES" gives CV_STRING (so that it can be
 * refused by name); dtypes without a v2 name (BF16, ...) give NULL. */
cv_dtype net_v2_dtype_parse(const char *name);
const char *net_v2_dtype_name(cv_dtype t);

/* One tensor of a request or a response, as parsed. */
typedef struct net_v2_tensor {
    char name[NET_V2_NAME_MAX];
    cv_dtype dtype; /* the wire datatype */
    int ndim;
    int64_t dims[CV_MAX_DIMS];
    int quant_bits; /* 0: plain tensor; 1..8: packed low-bit codes */
    float quant_scale;
    int32_t quant_zero_point;
    /* The raw little-endian bytes (packed codes when quant_bits > 0): points
     * into the body given to the parser (binary) or into `owned` (JSON
     * "data", converted to raw bytes). */
    const uint8_t *data;
    size_t nbytes;
    void *owned;
} net_v2_tensor;

/* A requested output: name, and whether it is wanted as binary data. */
typedef struct net_v2_output_req {
    char name[NET_V2_NAME_MAX];
    int binary;
} net_v2_output_req;

typedef struct net_v2_request {
    char id[128];
    int n_inputs;
    net_v2_tensor inputs[NET_V2_MAX_TENSORS];
    int n_outputs; /* 0: the server chooses (every output it can compute) */
    net_v2_output_req outputs[NET_V2_MAX_TENSORS];
    int binary_output_default; /* request parameter "binary_data_output" */
} net_v2_request;

/* Parse a request body (already decompressed). header_len: the value of
 * the Inference-Header-Content-Length header, or NULL for a pure JSON body
 * (then no tensor may carry binary_data_size).
 * Checks: valid JSON object; "inputs" a non-empty array; each input has a
 * name, a known datatype, a shape of non-negative dims (at most
 * CV_MAX_DIMS, product <= CV_MAX_ELEMS) and either "data" (JSON, flat or
 * nested, exactly numel numbers of the datatype's range) or a
 * "binary_data_size" that matches numel * size (or the packed size) and
 * lies within the body; binary sections must add up to the body's length
 * exactly (a truncated or overlong body is an error). JSON numbers for
 * integer datatypes must be integral (3 or 3.0); FP32/FP16 values must round
 * to a finite value; BOOL is true/false. Unique tensor names; "id" shorter
 * than 128 bytes. Output requests resolve "binary_data" against the
 * request's "binary_data_output". The request keeps pointers into body: it
 * must outlive req. On failure req is left empty (freeing it is harmless). */
cleave_status net_v2_request_parse(cleave_ctx *ctx, const uint8_t *body, size_t len,
                                   const char *header_len, net_v2_request *req);
void net_v2_request_free(net_v2_request *req);

/* The tensor as a dense cv_tensor of its dtype, or, for packed codes, the
 * dequantized float32 tensor (each value computed in float as
 * quant_scale * (float)(code - quant_zero_point)). BOOL bytes come out 0/1.
 * out->data is cv_aligned_alloc'd (free with cv_aligned_free). */
cleave_status net_v2_tensor_decode(cleave_ctx *ctx, const net_v2_tensor *t, cv_tensor *out);

/* A growable byte buffer (cv_malloc'd data). */
typedef struct net_buf {
    uint8_t *data;
    size_t len, cap;
} net_buf;
/* Append n bytes (p may point into b itself). */
cleave_status net_buf_append(cleave_ctx *ctx, net_buf *b, const void *p, size_t n);
/* Room for n more bytes after b->len (capacity grows by doubling). */
cleave_status net_buf_reserve(cleave_ctx *ctx, net_buf *b, size_t n);
void net_buf_free(net_buf *b);

/* What the client sends for one tensor: a dense tensor t (sent as its own
 * datatype), or, with quant_bits 1..8, t holds uint8 codes that are packed
 * at quant_bits on the wire with the given scale and zero point. */
typedef struct net_v2_input {
    const char *name;
    const cv_tensor *t;
    int quant_bits;
    float quant_scale;
    int32_t quant_zero_point;
} net_v2_input;

/* Encode a request. binary: 1 = binary-data extension (the body is the
 * JSON header then the tensors; *header_len is the JSON length to send as
 * Inference-Header-Content-Length), 0 = pure JSON ("data" arrays; packed
 * tensors need binary). outputs may be NULL (n_outputs 0); binary outputs
 * are requested with binary_data_output when binary. params: optional
 * request "parameters" object (borrowed, copied). body is replaced (its
 * capacity reused); header_len may be NULL and is 0 for pure JSON. Floats go
 * into JSON with 9 significant digits (17 when an FP64 tensor is in the
 * JSON), enough to come back bit-exact; NaN/Inf and UINT64 values above
 * 2^63-1 cannot be sent as JSON (CLEAVE_E_INVALID: use binary). */
cleave_status net_v2_request_encode(cleave_ctx *ctx, const char *id, const net_v2_input *in, int n_in,
                                    const char *const *outputs, int n_outputs, int binary,
                                    json_t *params, net_buf *body, size_t *header_len);

/* Encode a response for model name/version: outputs out[k] named names[k];
 * binary[k] chooses binary data for each (binary NULL: all JSON); version,
 * id and params may be NULL; params (borrowed) becomes the response
 * "parameters". *header_len = JSON length when any output is binary (send
 * Inference-Header-Content-Length), else 0. body is replaced. */
cleave_status net_v2_response_encode(cleave_ctx *ctx, const char *model, const char *version,
                                     const char *id, const cv_tensor *out, const char *const *names,
                                     const int *binary, int n, json_t *params, net_buf *body,
                                     size_t *header_len);

typedef struct net_v2_response {
    char model_name[NET_V2_NAME_MAX];
    char id[128];
    json_t *parameters; /* the response "parameters" object or NULL (owned) */
    int n_outputs;
    net_v2_tensor outputs[NET_V2_MAX_TENSORS];
} net_v2_response;
/* Parse a response body (checks as for requests). A body of the form
 * {"error": "..."} is CLEAVE_E_IO with the server's message. */
cleave_status net_v2_response_parse(cleave_ctx *ctx, const uint8_t *body, size_t len,
                                    const char *header_len, net_v2_response *r);
void net_v2_response_free(net_v2_response *r);

/* {"error": msg} as a body (cv_malloc'd, NUL-terminated; NULL when out of
 * memory). */
char *net_v2_error_json(const char *msg, size_t *len);

/* ---- body compression (Content-Encoding) ---- */
typedef enum net_encoding {
    NET_ENC_IDENTITY = 0,
    NET_ENC_GZIP,
    NET_ENC_ZSTD,
    NET_ENC_DEFLATE /* zlib stream (RFC 1950), as Triton's clients send it */
} net_encoding;
/* "gzip" (or "x-gzip") / "zstd" / "deflate" / "identity", "" or NULL ->
 * encoding (case-insensitive); -1 when unknown (including lists such as
 * "gzip, zstd": stacked codings are not supported). */
int net_encoding_parse(const char *s);
const char *net_encoding_name(net_encoding e);
/* Compress in into out (replaced). level: 0 = the codec's default; gzip and
 * deflate 1..9, zstd ZSTD_minCLevel()..ZSTD_maxCLevel(). */
cleave_status net_compress(cleave_ctx *ctx, net_encoding e, const uint8_t *in, size_t len, int level,
                           net_buf *out);
/* Decompress in into out (replaced); more than max_out bytes of output is
 * CLEAVE_E_LIMIT (a compression bomb), corrupt or truncated data
 * CLEAVE_E_PARSE. Streaming: out never grows past max_out; zstd's window is
 * limited to max(1 MB, max_out rounded up to a power of two, at most 128 MB)
 * and a frame that declares more than max_out is refused before decoding.
 * Concatenated gzip members and zstd frames are decoded in sequence. */
cleave_status net_decompress(cleave_ctx *ctx, net_encoding e, const uint8_t *in, size_t len,
                             size_t max_out, net_buf *out);

#endif
