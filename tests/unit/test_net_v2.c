/* Unit tests of net/v2 (KServe v2 wire format) and net/codec (body
 * compression): request/response round trips for every datatype as JSON and
 * as binary data, nested JSON data, packed 1..8-bit tensors, requests written
 * as curl and Triton's Python client send them, every malformed case with
 * its status and message, exact JSON text, gzip/deflate/zstd round trips,
 * corrupt and truncated streams and compression bombs against a cap.
 * Skipped when the build has no net module. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#ifdef CLEAVE_HAVE_NET
#include <zstd.h>

#include "net/v2.h"
#include "quant/quant.h"

static cleave_ctx *ctx;
static net_v2_request R; /* large: kept off the stack */
static net_v2_response P;

/* expr fails with status `code` and a message containing `needle`. */
#define CHECK_ERR(expr, code, needle)                                                              \
    do {                                                                                           \
        cleave_status s_ = (expr);                                                                 \
        const char *m_ = cleave_ctx_error(ctx);                                                    \
        int ok_ = s_ == (code) && m_ && strstr(m_, needle) != NULL;                                \
        CHECK(ok_);                                                                                \
        if (!ok_)                                                                                  \
            fprintf(stderr, "  line %d: status %d (want %d), message '%s' (want '%s')\n", __LINE__, \
                    (int)s_, (int)(code), m_ ? m_ : "", needle);                                   \
        cleave_ctx_clear_error(ctx);                                                               \
    } while (0)

#define CHECK_OK(expr)                                                                             \
    do {                                                                                           \
        cleave_status s_ = (expr);                                                                 \
        CHECK(s_ == CLEAVE_OK);                                                                    \
        if (s_ != CLEAVE_OK) fprintf(stderr, "  line %d: %s\n", __LINE__, cleave_ctx_error(ctx));  \
        cleave_ctx_clear_error(ctx);                                                               \
    } while (0)

/* needle (a C string) occurs in the n bytes at p */
static int has_text(const uint8_t *p, size_t n, const char *needle) {
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(p + i, needle, m) == 0) return 1;
    return 0;
}

static cleave_status parse_json_req(const char *json) {
    return net_v2_request_parse(ctx, (const uint8_t *)json, strlen(json), NULL, &R);
}

/* body = json + payload; hdr = the JSON length as text. */
static void make_binary(net_buf *b, const char *json, const void *payload, size_t n, char *hdr) {
    b->len = 0;
    net_buf_append(ctx, b, json, strlen(json));
    net_buf_append(ctx, b, payload, n);
    sprintf(hdr, "%zu", strlen(json));
}

static cleave_status parse_bin_req(const char *json, const void *payload, size_t n) {
    static net_buf b;
    char hdr[32];
    make_binary(&b, json, payload, n, hdr);
    return net_v2_request_parse(ctx, b.data, b.len, hdr, &R);
}

/* ---- datatypes ---- */

static void test_dtypes(void) {
    static const char *names[] = {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8",
                                  "INT16", "INT32", "INT64", "FP16", "FP32", "FP64"};
    static const cv_dtype types[] = {CV_BOOL, CV_U8, CV_U16, CV_U32, CV_U64, CV_I8,
                                     CV_I16, CV_I32, CV_I64, CV_F16, CV_F32, CV_F64};
    for (int i = 0; i < 12; i++) {
        CHECK(net_v2_dtype_parse(names[i]) == types[i]);
        CHECK(strcmp(net_v2_dtype_name(types[i]), names[i]) == 0);
    }
    CHECK(net_v2_dtype_parse("BYTES") == CV_STRING);
    CHECK(net_v2_dtype_parse("FP8") == CV_UNDEF);
    CHECK(net_v2_dtype_parse("fp32") == CV_UNDEF); /* protocol strings are case-sensitive */
    CHECK(net_v2_dtype_parse(NULL) == CV_UNDEF);
    CHECK(net_v2_dtype_name(CV_BF16) == NULL);
}

/* ---- round trips of every datatype ---- */

static uint8_t v_bool[6] = {1, 0, 1, 1, 0, 0};
static uint8_t v_u8[6] = {0, 1, 127, 128, 254, 255};
static uint16_t v_u16[6] = {0, 1, 255, 256, 65534, 65535};
static uint32_t v_u32[6] = {0, 1, 65536, 2147483648u, 4294967294u, 4294967295u};
static uint64_t v_u64[6] = {0, 1, 4294967296ull, 1ull << 53, (1ull << 53) + 1, INT64_MAX};
static int8_t v_i8[6] = {-128, -1, 0, 1, 126, 127};
static int16_t v_i16[6] = {-32768, -1, 0, 1, 32766, 32767};
static int32_t v_i32[6] = {INT32_MIN, -1, 0, 1, 123456789, INT32_MAX};
static int64_t v_i64[6] = {INT64_MIN, -1, 0, 1, 1000000000000001ll, INT64_MAX};
static uint16_t v_f16[6] = {0x3c00, 0x7bff, 0x0001, 0xc000, 0x3555, 0x8000};
static float v_f32[6] = {0.1f, FLT_MAX, 1e-45f, 1.0f / 3, -0.0f, -123456.789f};
static double v_f64[6] = {0.1, 1.0 / 3, DBL_MAX, 4.9e-324, -0.0, 3.141592653589793};

static const struct {
    cv_dtype t;
    const char *name;
    void *data;
} all_types[12] = {
    {CV_BOOL, "b", v_bool}, {CV_U8, "u8", v_u8},   {CV_U16, "u16", v_u16}, {CV_U32, "u32", v_u32},
    {CV_U64, "u64", v_u64}, {CV_I8, "i8", v_i8},   {CV_I16, "i16", v_i16}, {CV_I32, "i32", v_i32},
    {CV_I64, "i64", v_i64}, {CV_F16, "f16", v_f16}, {CV_F32, "f32", v_f32}, {CV_F64, "f64", v_f64},
};

static cv_tensor tensor_of(cv_dtype t, void *data) {
    cv_tensor x = {.dtype = t, .ndim = 2, .dims = {2, 3}, .data = data};
    return x;
}

/* Decodes R.inputs[k] and compares with the original bytes. */
static void check_decoded(int k, const cv_tensor *want, const char *name) {
    const net_v2_tensor *t = &R.inputs[k];
    CHECK(strcmp(t->name, name) == 0);
    CHECK(t->dtype == want->dtype && t->ndim == 2 && t->dims[0] == 2 && t->dims[1] == 3);
    CHECK(t->quant_bits == 0 && t->nbytes == cv_nbytes(want));
    cv_tensor d;
    CHECK_OK(net_v2_tensor_decode(ctx, t, &d));
    CHECK(d.dtype == want->dtype && cv_shape_eq(&d, want));
    int same = d.data && memcmp(d.data, want->data, cv_nbytes(want)) == 0;
    CHECK(same);
    if (!same) fprintf(stderr, "  %s (%s) differs after the round trip\n", name, cv_dtype_name(want->dtype));
    cv_aligned_free(d.data);
}

static void test_roundtrip_types(void) {
    net_buf body = {0};
    size_t hl;
    /* one tensor per request, as JSON and as binary */
    for (int i = 0; i < 12; i++) {
        cv_tensor x = tensor_of(all_types[i].t, all_types[i].data);
        net_v2_input in = {.name = all_types[i].name, .t = &x};
        for (int binary = 0; binary < 2; binary++) {
            CHECK_OK(net_v2_request_encode(ctx, "rt", &in, 1, NULL, 0, binary, NULL, &body, &hl));
            char hdr[32];
            snprintf(hdr, sizeof hdr, "%zu", hl);
            CHECK(binary ? hl + cv_nbytes(&x) == body.len : hl == 0);
            CHECK_OK(net_v2_request_parse(ctx, body.data, body.len, binary ? hdr : NULL, &R));
            CHECK(R.n_inputs == 1 && strcmp(R.id, "rt") == 0 && R.binary_output_default == binary);
            if (R.n_inputs == 1) check_decoded(0, &x, all_types[i].name);
            /* binary data is not copied: it points into the body */
            if (binary) CHECK(R.inputs[0].data == body.data + hl && R.inputs[0].owned == NULL);
            net_v2_request_free(&R);
            if (!binary && x.dtype == CV_F32) { /* 9 significant digits for float */
                CHECK(has_text(body.data, body.len, "[0.100000001,3.40282347e38,"));
            }
            if (!binary && x.dtype == CV_F64) { /* 17 for double */
                CHECK(has_text(body.data, body.len, "[0.10000000000000001,0.33333333333333331,"));
            }
        }
    }
    /* all twelve in one request */
    cv_tensor xs[12];
    net_v2_input ins[12];
    for (int i = 0; i < 12; i++) {
        xs[i] = tensor_of(all_types[i].t, all_types[i].data);
        ins[i] = (net_v2_input){.name = all_types[i].name, .t = &xs[i]};
    }
    for (int binary = 0; binary < 2; binary++) {
        CHECK_OK(net_v2_request_encode(ctx, NULL, ins, 12, NULL, 0, binary, NULL, &body, &hl));
        char hdr[32];
        snprintf(hdr, sizeof hdr, "%zu", hl);
        CHECK_OK(net_v2_request_parse(ctx, body.data, body.len, binary ? hdr : NULL, &R));
        CHECK(R.n_inputs == 12 && R.id[0] == 0);
        for (int i = 0; i < 12 && R.n_inputs == 12; i++) check_decoded(i, &xs[i], all_types[i].name);
        net_v2_request_free(&R);
    }

    /* UINT64 above 2^63-1 and NaN travel only as binary */
    uint64_t big[6] = {UINT64_MAX, 0, 1, 2, 3, 1ull << 63};
    cv_tensor xb = tensor_of(CV_U64, big);
    net_v2_input ib = {.name = "big", .t = &xb};
    CHECK_ERR(net_v2_request_encode(ctx, NULL, &ib, 1, NULL, 0, 0, NULL, &body, &hl), CLEAVE_E_INVALID,
              "input 'big': element 0");
    CHECK_OK(net_v2_request_encode(ctx, NULL, &ib, 1, NULL, 0, 1, NULL, &body, &hl));
    char hdr[32];
    snprintf(hdr, sizeof hdr, "%zu", hl);
    CHECK_OK(net_v2_request_parse(ctx, body.data, body.len, hdr, &R));
    if (R.n_inputs == 1) check_decoded(0, &xb, "big");
    net_v2_request_free(&R);
    float nan6[6] = {1, 2, NAN, 4, 5, 6};
    cv_tensor xn = tensor_of(CV_F32, nan6);
    net_v2_input inn = {.name = "n", .t = &xn};
    CHECK_ERR(net_v2_request_encode(ctx, NULL, &inn, 1, NULL, 0, 0, NULL, &body, &hl), CLEAVE_E_INVALID,
              "element 2 (NaN, Inf");
    net_buf_free(&body);
}

/* ---- exact JSON text ---- */

static void check_text(const net_buf *b, size_t n, const char *want) {
    int ok = n == strlen(want) && memcmp(b->data, want, n) == 0;
    CHECK(ok);
    if (!ok) fprintf(stderr, "  got  %.*s\n  want %s\n", (int)n, (const char *)b->data, want);
}

static void test_exact_json(void) {
    net_buf body = {0};
    size_t hl;
    float x2[2] = {1.5f, -2.0f};
    cv_tensor x = {.dtype = CV_F32, .ndim = 2, .dims = {1, 2}, .data = x2};
    net_v2_input in = {.name = "x", .t = &x};
    const char *outs[] = {"y"};
    CHECK_OK(net_v2_request_encode(ctx, "a", &in, 1, outs, 1, 1, NULL, &body, &hl));
    check_text(&body, hl,
               "{\"id\":\"a\",\"parameters\":{\"binary_data_output\":true},\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],"
               "\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":8}}],\"outputs\":[{\"name\":\"y\"}]}");
    CHECK(body.len == hl + 8 && memcmp(body.data + hl, x2, 8) == 0);

    json_t *params = json_pack("{s:i}", "sequence_id", 7);
    CHECK_OK(net_v2_request_encode(ctx, NULL, &in, 1, outs, 1, 0, params, &body, &hl));
    CHECK(hl == 0);
    check_text(&body, body.len,
               "{\"parameters\":{\"sequence_id\":7},\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP32\","
               "\"data\":[1.5,-2.0]}],\"outputs\":[{\"name\":\"y\"}]}");
    /* the caller's object is borrowed, not changed */
    CHECK(json_object_size(params) == 1);
    json_decref(params);

    /* response, JSON */
    const char *names[] = {"y"};
    int json_only[] = {0};
    CHECK_OK(net_v2_response_encode(ctx, "m", "1", "r1", &x, names, json_only, 1, NULL, &body, &hl));
    CHECK(hl == 0);
    check_text(&body, body.len,
               "{\"model_name\":\"m\",\"model_version\":\"1\",\"id\":\"r1\",\"outputs\":[{\"name\":\"y\",\"shape\":[1,2],"
               "\"datatype\":\"FP32\",\"data\":[1.5,-2.0]}]}");
    /* response, binary, with parameters */
    int bin[] = {1};
    json_t *rp = json_pack("{s:f}", "cloud_ms", 2.25);
    CHECK_OK(net_v2_response_encode(ctx, "m", NULL, NULL, &x, names, bin, 1, rp, &body, &hl));
    check_text(&body, hl,
               "{\"model_name\":\"m\",\"parameters\":{\"cloud_ms\":2.25},\"outputs\":[{\"name\":\"y\",\"shape\":[1,2],"
               "\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":8}}]}");
    CHECK(body.len == hl + 8);
    json_decref(rp);

    /* error bodies */
    size_t n;
    char *e = net_v2_error_json("input 'x': bad \"shape\"", &n);
    CHECK(e && strcmp(e, "{\"error\":\"input 'x': bad \\\"shape\\\"\"}") == 0 && n == strlen(e));
    cv_free(e);
    e = net_v2_error_json("name '\xff\xfe'", &n); /* not UTF-8 */
    CHECK(e && strcmp(e, "{\"error\":\"name '?" "?'\"}") == 0);
    cv_free(e);
    net_buf_free(&body);
}

/* ---- responses ---- */

static void test_response_roundtrip(void) {
    net_buf body = {0};
    size_t hl;
    float y[6] = {0.5f, -1.25f, 3e-8f, 1e30f, -0.0f, 7};
    int64_t cls[2] = {3, -9};
    uint8_t flags[3] = {1, 0, 1};
    cv_tensor outs[3] = {
        {.dtype = CV_F32, .ndim = 2, .dims = {2, 3}, .data = y},
        {.dtype = CV_I64, .ndim = 1, .dims = {2}, .data = cls},
        {.dtype = CV_BOOL, .ndim = 3, .dims = {1, 1, 3}, .data = flags},
    };
    const char *names[3] = {"logits", "class", "exit_taken"};
    int bin[3] = {1, 0, 1};
    json_t *params = json_pack("{s:f,s:s}", "cloud_ms", 1.5, "cut", "layer3");
    CHECK_OK(net_v2_response_encode(ctx, "resnet18", "2", "req-7", outs, names, bin, 3, params, &body, &hl));
    json_decref(params);
    CHECK(hl > 0 && body.len == hl + 24 + 3);
    char hdr[32];
    snprintf(hdr, sizeof hdr, "%zu", hl);
    CHECK_OK(net_v2_response_parse(ctx, body.data, body.len, hdr, &P));
    CHECK(strcmp(P.model_name, "resnet18") == 0 && strcmp(P.id, "req-7") == 0 && P.n_outputs == 3);
    CHECK(json_real_value(json_object_get(P.parameters, "cloud_ms")) == 1.5);
    CHECK(strcmp(json_string_value(json_object_get(P.parameters, "cut")), "layer3") == 0);
    for (int k = 0; k < 3 && P.n_outputs == 3; k++) {
        cv_tensor d;
        CHECK(strcmp(P.outputs[k].name, names[k]) == 0);
        CHECK_OK(net_v2_tensor_decode(ctx, &P.outputs[k], &d));
        CHECK(d.dtype == outs[k].dtype && cv_shape_eq(&d, &outs[k]));
        CHECK(d.data && memcmp(d.data, outs[k].data, cv_nbytes(&outs[k])) == 0);
        cv_aligned_free(d.data);
    }
    net_v2_response_free(&P);
    net_v2_response_free(&P); /* twice is harmless */

    /* all JSON: no header */
    CHECK_OK(net_v2_response_encode(ctx, "m", NULL, NULL, outs, names, NULL, 3, NULL, &body, &hl));
    CHECK(hl == 0);
    CHECK_OK(net_v2_response_parse(ctx, body.data, body.len, NULL, &P));
    CHECK(P.n_outputs == 3 && P.parameters == NULL && P.outputs[1].data != NULL);
    if (P.n_outputs == 3) CHECK(memcmp(P.outputs[0].data, y, 24) == 0 && memcmp(P.outputs[1].data, cls, 16) == 0);
    net_v2_response_free(&P);

    /* no outputs at all */
    CHECK_OK(net_v2_response_encode(ctx, "m", NULL, NULL, NULL, NULL, NULL, 0, NULL, &body, &hl));
    CHECK_OK(net_v2_response_parse(ctx, body.data, body.len, NULL, &P));
    CHECK(P.n_outputs == 0);
    net_v2_response_free(&P);

    /* the server's error body */
    const char *err = "{\"error\":\"model 'foo' is not loaded\"}";
    CHECK_ERR(net_v2_response_parse(ctx, (const uint8_t *)err, strlen(err), NULL, &P), CLEAVE_E_IO,
              "server error: model 'foo' is not loaded");
    const char *nomodel = "{\"outputs\":[]}";
    CHECK_ERR(net_v2_response_parse(ctx, (const uint8_t *)nomodel, strlen(nomodel), NULL, &P), CLEAVE_E_PARSE,
              "model_name");
    const char *badout = "{\"model_name\":\"m\",\"outputs\":[{\"name\":\"y\",\"shape\":[2],\"datatype\":\"INT8\",\"data\":[1,200]}]}";
    CHECK_ERR(net_v2_response_parse(ctx, (const uint8_t *)badout, strlen(badout), NULL, &P), CLEAVE_E_INVALID,
              "response: output 'y': value 200 at index 1 is out of range for INT8");
    CHECK(P.n_outputs == 0 && P.parameters == NULL);
    net_buf_free(&body);
}

/* ---- nested JSON data ---- */

static void test_nested(void) {
    CHECK_OK(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[2,2,2],\"datatype\":\"INT32\","
                            "\"data\":[[[1,2],[3,4]],[[5,6],[7,8]]]}]}"));
    CHECK(R.n_inputs == 1);
    if (R.n_inputs == 1) {
        const int32_t *v = (const int32_t *)R.inputs[0].data;
        int ok = 1;
        for (int i = 0; i < 8; i++) ok &= v[i] == i + 1;
        CHECK(ok && R.inputs[0].nbytes == 32);
    }
    net_v2_request_free(&R);
    /* rows of a matrix, integral reals for an integer type, booleans */
    CHECK_OK(parse_json_req("{\"inputs\":[{\"name\":\"a\",\"shape\":[2,3],\"datatype\":\"INT8\",\"data\":[[1.0,-2,3],[4,5,-6e0]]},"
                            "{\"name\":\"b\",\"shape\":[3],\"datatype\":\"BOOL\",\"data\":[true,false,true]},"
                            "{\"name\":\"s\",\"shape\":[],\"datatype\":\"FP64\",\"data\":[2.5]},"
                            "{\"name\":\"e\",\"shape\":[0,3],\"datatype\":\"FP32\",\"data\":[]}]}"));
    CHECK(R.n_inputs == 4);
    if (R.n_inputs == 4) {
        static const int8_t a[6] = {1, -2, 3, 4, 5, -6};
        static const uint8_t b[3] = {1, 0, 1};
        double s = 2.5;
        CHECK(memcmp(R.inputs[0].data, a, 6) == 0 && memcmp(R.inputs[1].data, b, 3) == 0);
        CHECK(R.inputs[2].ndim == 0 && memcmp(R.inputs[2].data, &s, 8) == 0);
        CHECK(R.inputs[3].nbytes == 0);
        cv_tensor d;
        CHECK_OK(net_v2_tensor_decode(ctx, &R.inputs[3], &d));
        CHECK(d.dims[0] == 0 && d.dims[1] == 3 && d.data != NULL);
        cv_aligned_free(d.data);
    }
    net_v2_request_free(&R);
    CHECK_ERR(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[4],\"datatype\":\"INT32\",\"data\":[[[1,2]],[[3,4]]]}]}"),
              CLEAVE_E_INVALID, "nested deeper than its shape's 1 dimension");
}

/* ---- packed low-bit tensors ---- */

static void test_packed(void) {
    net_buf body = {0};
    size_t hl;
    enum { N = 37 }; /* odd: the last byte is partial for every width */
    uint8_t codes[N];
    for (int bits = 1; bits <= 8; bits++) {
        for (int i = 0; i < N; i++) codes[i] = (uint8_t)((i * 7 + 3) % (1 << bits));
        cv_tensor x = {.dtype = CV_U8, .ndim = 2, .dims = {1, N}, .data = codes};
        int32_t zp = 1 << (bits - 1);
        float scale = 0.05f * (float)bits;
        net_v2_input in = {.name = "cut", .t = &x, .quant_bits = bits, .quant_scale = scale, .quant_zero_point = zp};
        CHECK_OK(net_v2_request_encode(ctx, NULL, &in, 1, NULL, 0, 1, NULL, &body, &hl));
        size_t packed = q_packed_bytes(N, bits);
        CHECK(body.len == hl + packed && packed == (size_t)(N * bits + 7) / 8);
        char hdr[32];
        snprintf(hdr, sizeof hdr, "%zu", hl);
        CHECK_OK(net_v2_request_parse(ctx, body.data, body.len, hdr, &R));
        const net_v2_tensor *t = &R.inputs[0];
        CHECK(R.n_inputs == 1 && t->dtype == CV_U8 && t->quant_bits == bits && t->quant_scale == scale &&
              t->quant_zero_point == zp && t->nbytes == packed && t->dims[1] == N);
        cv_tensor d;
        CHECK_OK(net_v2_tensor_decode(ctx, t, &d));
        CHECK(d.dtype == CV_F32 && d.ndim == 2 && d.dims[1] == N);
        int exact = d.data != NULL;
        for (int i = 0; i < N && exact; i++)
            exact = ((float *)d.data)[i] == scale * (float)(codes[i] - zp);
        CHECK(exact);
        if (!exact) fprintf(stderr, "  %d-bit codes do not dequantize exactly\n", bits);
        cv_aligned_free(d.data);
        net_v2_request_free(&R);
    }
    /* the bit layout: LSB first; 4-bit codes 1,2,3 -> 0x21 0x03 */
    uint8_t c3[3] = {1, 2, 3};
    cv_tensor x3 = {.dtype = CV_U8, .ndim = 1, .dims = {3}, .data = c3};
    net_v2_input in3 = {.name = "q", .t = &x3, .quant_bits = 4, .quant_scale = 0.5f, .quant_zero_point = 8};
    CHECK_OK(net_v2_request_encode(ctx, NULL, &in3, 1, NULL, 0, 1, NULL, &body, &hl));
    CHECK(body.len == hl + 2 && body.data[hl] == 0x21 && body.data[hl + 1] == 0x03);
    CHECK(has_text(body.data, hl, "\"parameters\":{\"binary_data_size\":2,\"quant_bits\":4,\"quant_scale\":0.5,"
                                  "\"quant_zero_point\":8}"));
    /* a hand-written 3-bit tensor: codes 5,1,7 -> bits 101 100 111 -> 0xcd 0x01 */
    uint8_t raw[2] = {0xcd, 0x01};
    CHECK_OK(parse_bin_req("{\"inputs\":[{\"name\":\"q\",\"shape\":[3],\"datatype\":\"UINT8\",\"parameters\":"
                           "{\"binary_data_size\":2,\"quant_bits\":3,\"quant_scale\":0.25,\"quant_zero_point\":4}}]}",
                           raw, 2));
    if (R.n_inputs == 1) {
        cv_tensor d;
        CHECK_OK(net_v2_tensor_decode(ctx, &R.inputs[0], &d));
        const float *v = d.data;
        CHECK(v && v[0] == 0.25f && v[1] == -0.75f && v[2] == 0.75f);
        cv_aligned_free(d.data);
    }
    net_v2_request_free(&R);

    /* encoding errors */
    CHECK_ERR(net_v2_request_encode(ctx, NULL, &in3, 1, NULL, 0, 0, NULL, &body, &hl), CLEAVE_E_INVALID,
              "packed low-bit tensors need binary data");
    c3[1] = 17;
    CHECK_ERR(net_v2_request_encode(ctx, NULL, &in3, 1, NULL, 0, 1, NULL, &body, &hl), CLEAVE_E_INVALID,
              "code 17 at index 1 does not fit in 4 bits");
    c3[1] = 2;
    in3.quant_scale = 0;
    CHECK_ERR(net_v2_request_encode(ctx, NULL, &in3, 1, NULL, 0, 1, NULL, &body, &hl), CLEAVE_E_INVALID,
              "quant_scale");
    net_buf_free(&body);
}

/* ---- requests as stock clients send them ---- */

static void test_stock_clients(void) {
    /* curl -H 'Content-Type: application/json' -d @req.json .../v2/models/m/infer */
    const char *curl =
        "{\n"
        "  \"id\": \"42\",\n"
        "  \"inputs\": [\n"
        "    {\n"
        "      \"name\": \"INPUT0\",\n"
        "      \"shape\": [1, 4],\n"
        "      \"datatype\": \"FP32\",\n"
        "      \"data\": [1.0, 2.5, -3, 4e-2]\n"
        "    }\n"
        "  ],\n"
        "  \"outputs\": [{\"name\": \"OUTPUT0\"}]\n"
        "}\n";
    CHECK_OK(parse_json_req(curl));
    CHECK(R.n_inputs == 1 && strcmp(R.id, "42") == 0 && R.n_outputs == 1);
    if (R.n_inputs == 1) {
        const float want[4] = {1.0f, 2.5f, -3.0f, 4e-2f};
        CHECK(strcmp(R.inputs[0].name, "INPUT0") == 0 && R.inputs[0].dtype == CV_F32);
        CHECK(R.inputs[0].nbytes == 16 && memcmp(R.inputs[0].data, want, 16) == 0);
        CHECK(strcmp(R.outputs[0].name, "OUTPUT0") == 0 && R.outputs[0].binary == 0);
    }
    net_v2_request_free(&R);

    /* tritonclient.http: InferInput.set_data_from_numpy(binary_data=True),
     * InferRequestedOutput(binary_data=...); json.dumps separators, then
     * the raw arrays; Inference-Header-Content-Length = len(JSON). */
    const char *triton =
        "{\"inputs\": [{\"name\": \"INPUT0\", \"shape\": [1, 16], \"datatype\": \"INT32\", \"parameters\": "
        "{\"binary_data_size\": 64}}, {\"name\": \"INPUT1\", \"shape\": [1, 16], \"datatype\": \"INT32\", "
        "\"parameters\": {\"binary_data_size\": 64}}], \"outputs\": [{\"name\": \"OUTPUT0\", \"parameters\": "
        "{\"binary_data\": true}}, {\"name\": \"OUTPUT1\", \"parameters\": {\"binary_data\": false}}]}";
    int32_t data[32];
    for (int i = 0; i < 16; i++) data[i] = i, data[16 + i] = 1;
    CHECK_OK(parse_bin_req(triton, data, sizeof data));
    CHECK(R.n_inputs == 2 && R.n_outputs == 2 && R.binary_output_default == 0);
    if (R.n_inputs == 2) {
        CHECK(memcmp(R.inputs[0].data, data, 64) == 0 && memcmp(R.inputs[1].data, data + 16, 64) == 0);
        CHECK(R.inputs[1].dims[0] == 1 && R.inputs[1].dims[1] == 16);
        CHECK(R.outputs[0].binary == 1 && R.outputs[1].binary == 0);
    }
    net_v2_request_free(&R);

    /* the client without explicit outputs asks for all of them as binary;
     * binary_data on an output overrides it; other parameters are ignored */
    const char *triton2 =
        "{\"id\": \"7\", \"parameters\": {\"binary_data_output\": true, \"sequence_id\": 0}, \"inputs\": "
        "[{\"name\": \"x\", \"shape\": [2], \"datatype\": \"FP16\", \"parameters\": {\"binary_data_size\": 4}}], "
        "\"outputs\": [{\"name\": \"a\"}, {\"name\": \"b\", \"parameters\": {\"binary_data\": false}}]}";
    uint16_t h[2] = {0x3c00, 0xc000};
    CHECK_OK(parse_bin_req(triton2, h, 4));
    CHECK(R.binary_output_default == 1 && R.n_outputs == 2);
    if (R.n_outputs == 2) CHECK(R.outputs[0].binary == 1 && R.outputs[1].binary == 0);
    if (R.n_inputs == 1) {
        cv_tensor d;
        CHECK_OK(net_v2_tensor_decode(ctx, &R.inputs[0], &d));
        CHECK(d.dtype == CV_F16 && d.data && memcmp(d.data, h, 4) == 0);
        cv_aligned_free(d.data);
    }
    net_v2_request_free(&R);

    /* mixed: one tensor as JSON, one binary; header length with spaces */
    const char *mixed = "{\"inputs\":[{\"name\":\"j\",\"shape\":[2],\"datatype\":\"UINT16\",\"data\":[7,65535]},"
                        "{\"name\":\"b\",\"shape\":[1],\"datatype\":\"FP64\",\"parameters\":{\"binary_data_size\":8}}]}";
    double one = 1.0;
    net_buf b = {0};
    char hdr[40];
    make_binary(&b, mixed, &one, 8, hdr);
    char padded[48];
    snprintf(padded, sizeof padded, " %s ", hdr);
    CHECK_OK(net_v2_request_parse(ctx, b.data, b.len, padded, &R));
    CHECK(R.n_inputs == 2 && R.inputs[1].data == b.data + strlen(mixed));
    net_v2_request_free(&R);
    /* a JSON body sent with the header (nothing after the JSON) */
    make_binary(&b, curl, NULL, 0, hdr);
    CHECK_OK(net_v2_request_parse(ctx, b.data, b.len, hdr, &R));
    net_v2_request_free(&R);
    net_buf_free(&b);
}

/* ---- malformed requests ---- */

static void test_malformed(void) {
    CHECK_ERR(parse_json_req("{\"inputs\": [{\"name\": \"x\","), CLEAVE_E_PARSE, "malformed JSON at line 1 column");
    CHECK(R.n_inputs == 0);
    CHECK_ERR(parse_json_req("[1, 2]"), CLEAVE_E_PARSE, "not an object");
    CHECK_ERR(parse_json_req("{\"inputs\":[],\"inputs\":[]}"), CLEAVE_E_PARSE, "malformed JSON"); /* duplicate key */
    CHECK_ERR(parse_json_req("{\"outputs\":[{\"name\":\"y\"}]}"), CLEAVE_E_PARSE, "missing \"inputs\"");
    CHECK_ERR(parse_json_req("{\"inputs\":{}}"), CLEAVE_E_PARSE, "\"inputs\" is not an array");
    CHECK_ERR(parse_json_req("{\"inputs\":[]}"), CLEAVE_E_INVALID, "\"inputs\" is empty");
    CHECK_ERR(parse_json_req("{\"inputs\":[{\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}"), CLEAVE_E_PARSE,
              "input 0 has no \"name\"");
    CHECK_ERR(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP8\",\"data\":[1]}]}"),
              CLEAVE_E_UNSUPPORTED, "request: input 'x': unknown datatype 'FP8'");
    CHECK_ERR(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"hi\"]}]}"),
              CLEAVE_E_UNSUPPORTED, "input 'x': BYTES tensors are not supported");
    CHECK_ERR(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"data\":[1]}]}"), CLEAVE_E_PARSE,
              "input 'x' has no \"shape\"");
    CHECK_ERR(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[2,3],\"datatype\":\"FP32\",\"data\":[1,2,3,4,5]}]}"),
              CLEAVE_E_INVALID, "input 'x': shape 2x3 has 6 elements but \"data\" has 5 values");
    CHECK_ERR(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[2],\"datatype\":\"FP32\",\"data\":[[1,2],[3]]}]}"),
              CLEAVE_E_INVALID, "nested deeper");
    CHECK_ERR(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[2],\"datatype\":\"FP32\",\"data\":7}]}"),
              CLEAVE_E_PARSE, "\"data\" is not an array");
    CHECK_ERR(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[2],\"datatype\":\"UINT8\",\"data\":[1,300]}]}"),
              CLEAVE_E_INVALID, "input 'x': value 300 at index 1 is out of range for UINT8");
    CHECK_ERR(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"UINT8\",\"data\":[-1]}]}"),
              CLEAVE_E_INVALID, "value -1 at index 0 is out of range for UINT8");
    CHECK_ERR(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"INT8\",\"data\":[-129]}]}"),
              CLEAVE_E_INVALID, "out of range for INT8");
    CHECK_ERR(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"INT32\",\"data\":[2147483648]}]}"),
              CLEAVE_E_INVALID, "out of range for INT32");
    CHECK_ERR(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"UINT32\",\"data\":[4294967296.0]}]}"),
              CLEAVE_E_INVALID, "out of range for UINT32");
    CHECK_ERR(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP16\",\"data\":[70000]}]}"),
              CLEAVE_E_INVALID, "value 70000 at index 0 is out of range for FP16");
    CHECK_ERR(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1e39]}]}"),
              CLEAVE_E_INVALID, "out of range for FP32");
    CHECK_ERR(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[2],\"datatype\":\"INT32\",\"data\":[1,1.5]}]}"),
              CLEAVE_E_INVALID, "value 1.5 at index 1 is not an integer, as needed for INT32");
    CHECK_ERR(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"BOOL\",\"data\":[1]}]}"),
              CLEAVE_E_INVALID, "value 1 at index 0 is not a valid BOOL");
    CHECK_ERR(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[\"1\"]}]}"),
              CLEAVE_E_INVALID, "is not a valid FP32");
    CHECK_ERR(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"UINT64\",\"data\":[18446744073709551615]}]}"),
              CLEAVE_E_PARSE, "malformed JSON"); /* beyond JSON integers here: send as binary */
    CHECK_ERR(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[-1,3],\"datatype\":\"FP32\",\"data\":[]}]}"),
              CLEAVE_E_INVALID, "input 'x': negative dimension -1 in shape");
    CHECK_ERR(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[4294967296,4294967296],\"datatype\":\"FP32\",\"data\":[]}]}"),
              CLEAVE_E_LIMIT, "shape 4294967296x4294967296 has more than 17179869184 elements");
    CHECK_ERR(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[9223372036854775807,9223372036854775807,4],"
                             "\"datatype\":\"FP64\",\"parameters\":{\"binary_data_size\":0}}]}"),
              CLEAVE_E_LIMIT, "has more than");
    /* a zero dimension makes any shape empty */
    CHECK_OK(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[4294967296,4294967296,0],\"datatype\":\"FP32\",\"data\":[]}]}"));
    net_v2_request_free(&R);
    CHECK_ERR(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,1,1,1,1,1,1,1],\"datatype\":\"FP32\",\"data\":[1]}]}"),
              CLEAVE_E_LIMIT, "shape has 9 dimensions (at most 8)");
    CHECK_ERR(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[2.5],\"datatype\":\"FP32\",\"data\":[1]}]}"),
              CLEAVE_E_PARSE, "shape dimension 0 is not an integer");
    CHECK_ERR(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]},"
                             "{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[2]}]}"),
              CLEAVE_E_INVALID, "two inputs named 'x'");
    CHECK_ERR(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\"}]}"), CLEAVE_E_INVALID,
              "neither \"data\" nor a binary_data_size");
    CHECK_ERR(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"UINT8\",\"data\":[1],"
                             "\"parameters\":{\"quant_bits\":4,\"quant_scale\":0.1}}]}"),
              CLEAVE_E_INVALID, "need binary data");
    CHECK_ERR(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"UINT8\",\"data\":[1],"
                             "\"parameters\":{\"quant_scale\":0.1}}]}"),
              CLEAVE_E_INVALID, "without quant_bits");
    CHECK_ERR(parse_bin_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[2],\"datatype\":\"UINT8\",\"parameters\":"
                            "{\"binary_data_size\":1,\"quant_bits\":9,\"quant_scale\":1}}]}", "\1", 1),
              CLEAVE_E_INVALID, "quant_bits must be an integer in 1..8");
    CHECK_ERR(parse_bin_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[2],\"datatype\":\"FP32\",\"parameters\":"
                            "{\"binary_data_size\":1,\"quant_bits\":4,\"quant_scale\":1}}]}", "\1", 1),
              CLEAVE_E_INVALID, "quant_bits needs datatype UINT8, not FP32");
    CHECK_ERR(parse_bin_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[2],\"datatype\":\"UINT8\",\"parameters\":"
                            "{\"binary_data_size\":1,\"quant_bits\":4}}]}", "\1", 1),
              CLEAVE_E_INVALID, "quant_bits needs a quant_scale > 0");
    CHECK_ERR(parse_bin_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[5],\"datatype\":\"UINT8\",\"parameters\":"
                            "{\"binary_data_size\":3,\"quant_bits\":3,\"quant_scale\":1}}]}", "\1\2\3", 3),
              CLEAVE_E_INVALID, "binary_data_size 3 but shape 5 UINT8 at 3 bits needs 2 bytes");

    /* names and ids */
    char json[1024], name[300];
    memset(name, 'n', 299);
    name[299] = 0;
    snprintf(json, sizeof json, "{\"inputs\":[{\"name\":\"%s\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}", name);
    CHECK_ERR(parse_json_req(json), CLEAVE_E_LIMIT, "input 0: name of 299 bytes is too long (at most 255)");
    snprintf(json, sizeof json, "{\"id\":\"%s\",\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}", name);
    CHECK_ERR(parse_json_req(json), CLEAVE_E_LIMIT, "\"id\" of 299 bytes is too long");
    CHECK_ERR(parse_json_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}],"
                             "\"outputs\":[{\"name\":\"y\"},{\"name\":\"y\"}]}"),
              CLEAVE_E_INVALID, "output 'y' is requested twice");
    CHECK_ERR(parse_json_req("{\"parameters\":{\"binary_data_output\":1},\"inputs\":[{\"name\":\"x\",\"shape\":[1],"
                             "\"datatype\":\"FP32\",\"data\":[1]}]}"),
              CLEAVE_E_INVALID, "binary_data_output is not a boolean");

    /* too many tensors */
    static char many[8192];
    size_t off = (size_t)snprintf(many, sizeof many, "{\"inputs\":[");
    for (int i = 0; i <= NET_V2_MAX_TENSORS; i++)
        off += (size_t)snprintf(many + off, sizeof many - off, "%s{\"name\":\"t%d\",\"shape\":[1],\"datatype\":\"INT8\",\"data\":[%d]}",
                                i ? "," : "", i, i);
    snprintf(many + off, sizeof many - off, "]}");
    CHECK_ERR(parse_json_req(many), CLEAVE_E_LIMIT, "too many inputs: 65 (at most 64)");

    /* binary sections */
    const char *h192 = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3,4,4],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":192}}]}";
    static uint8_t payload[256];
    char want[200];
    CHECK_OK(parse_bin_req(h192, payload, 192));
    net_v2_request_free(&R);
    CHECK_ERR(parse_bin_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3,4,4],\"datatype\":\"FP32\",\"parameters\":"
                            "{\"binary_data_size\":100}}]}", payload, 100),
              CLEAVE_E_INVALID, "input 'x': binary_data_size 100 but shape 1x3x4x4 FP32 needs 192 bytes");
    snprintf(want, sizeof want, "truncated binary section: body has 150 bytes after the %zu-byte header, tensors need 192",
             strlen(h192));
    CHECK_ERR(parse_bin_req(h192, payload, 150), CLEAVE_E_PARSE, want);
    CHECK_ERR(parse_bin_req(h192, payload, 197), CLEAVE_E_PARSE, "trailing garbage after the binary sections");
    net_buf b = {0};
    char hdr[32];
    make_binary(&b, h192, payload, 192, hdr);
    CHECK_ERR(net_v2_request_parse(ctx, b.data, b.len, "500", &R), CLEAVE_E_PARSE,
              "Inference-Header-Content-Length 500 is larger than the body");
    CHECK_ERR(net_v2_request_parse(ctx, b.data, b.len, "99999999999999999999999", &R), CLEAVE_E_PARSE,
              "larger than the body");
    CHECK_ERR(net_v2_request_parse(ctx, b.data, b.len, "12a", &R), CLEAVE_E_PARSE, "is not a byte count");
    CHECK_ERR(net_v2_request_parse(ctx, b.data, b.len, "-5", &R), CLEAVE_E_PARSE, "is not a byte count");
    CHECK_ERR(net_v2_request_parse(ctx, b.data, b.len, "", &R), CLEAVE_E_PARSE, "is not a byte count");
    /* a header length cutting the JSON short */
    CHECK_ERR(net_v2_request_parse(ctx, b.data, b.len, "20", &R), CLEAVE_E_PARSE, "malformed JSON");
    /* binary data without the header */
    CHECK_ERR(net_v2_request_parse(ctx, b.data, strlen(h192), NULL, &R), CLEAVE_E_PARSE,
              "no Inference-Header-Content-Length");
    /* JSON data after a header but extra bytes */
    make_binary(&b, "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"INT8\",\"data\":[1]}]}", "zz", 2, hdr);
    CHECK_ERR(net_v2_request_parse(ctx, b.data, b.len, hdr, &R), CLEAVE_E_PARSE, "trailing garbage");
    /* and without the header, the extra bytes are bad JSON */
    CHECK_ERR(net_v2_request_parse(ctx, b.data, b.len, NULL, &R), CLEAVE_E_PARSE, "malformed JSON");
    CHECK_ERR(parse_bin_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"INT8\",\"data\":[1],"
                            "\"parameters\":{\"binary_data_size\":1}}]}", "z", 1),
              CLEAVE_E_INVALID, "both \"data\" and a binary_data_size");
    CHECK_ERR(parse_bin_req("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"INT8\","
                            "\"parameters\":{\"binary_data_size\":-1}}]}", "", 0),
              CLEAVE_E_INVALID, "binary_data_size must be a non-negative integer");
    CHECK(R.n_inputs == 0);
    CHECK_ERR(net_v2_request_parse(ctx, NULL, 0, NULL, &R), CLEAVE_E_PARSE, "malformed JSON");
    net_buf_free(&b);

    /* a tensor struct that does not hold together */
    net_v2_tensor t = {.name = "t", .dtype = CV_F32, .ndim = 1, .dims = {4}, .data = payload, .nbytes = 12};
    cv_tensor d;
    CHECK_ERR(net_v2_tensor_decode(ctx, &t, &d), CLEAVE_E_INVALID, "inconsistent");
}

/* ---- compression ---- */

static void test_encoding_names(void) {
    CHECK(net_encoding_parse(NULL) == NET_ENC_IDENTITY && net_encoding_parse("") == NET_ENC_IDENTITY);
    CHECK(net_encoding_parse("identity") == NET_ENC_IDENTITY);
    CHECK(net_encoding_parse("gzip") == NET_ENC_GZIP && net_encoding_parse("GZip") == NET_ENC_GZIP);
    CHECK(net_encoding_parse("x-gzip") == NET_ENC_GZIP && net_encoding_parse(" zstd ") == NET_ENC_ZSTD);
    CHECK(net_encoding_parse("deflate") == NET_ENC_DEFLATE);
    CHECK(net_encoding_parse("br") == -1 && net_encoding_parse("gzip, zstd") == -1);
    CHECK(strcmp(net_encoding_name(NET_ENC_ZSTD), "zstd") == 0 && strcmp(net_encoding_name(NET_ENC_GZIP), "gzip") == 0);
    CHECK(strcmp(net_encoding_name(NET_ENC_IDENTITY), "identity") == 0);
}

static const net_encoding codecs[] = {NET_ENC_IDENTITY, NET_ENC_GZIP, NET_ENC_DEFLATE, NET_ENC_ZSTD};

static void test_codec_roundtrip(void) {
    size_t n = 1 << 20;
    uint8_t *src = cv_malloc(n);
    uint32_t s = 12345;
    for (size_t i = 0; i < n; i++) { /* compressible: small values, some noise */
        s = s * 1664525u + 1013904223u;
        src[i] = (uint8_t)((i / 64) % 7 + (s >> 30));
    }
    net_buf z = {0}, out = {0};
    for (int c = 0; c < 4; c++) {
        net_encoding e = codecs[c];
        CHECK_OK(net_compress(ctx, e, src, n, 0, &z));
        if (e != NET_ENC_IDENTITY) CHECK(z.len < n / 2);
        if (e == NET_ENC_GZIP) CHECK(z.len > 2 && z.data[0] == 0x1f && z.data[1] == 0x8b);
        if (e == NET_ENC_DEFLATE) CHECK(z.len > 2 && (z.data[0] & 0x0f) == 8 && (z.data[0] * 256 + z.data[1]) % 31 == 0);
        if (e == NET_ENC_ZSTD) CHECK(z.len > 4 && z.data[0] == 0x28 && z.data[1] == 0xb5 && z.data[2] == 0x2f && z.data[3] == 0xfd);
        CHECK_OK(net_decompress(ctx, e, z.data, z.len, n, &out));
        CHECK(out.len == n && memcmp(out.data, src, n) == 0);
        /* exactly at the cap passes, one byte less is a bomb */
        CHECK_ERR(net_decompress(ctx, e, z.data, z.len, n - 1, &out), CLEAVE_E_LIMIT, "larger than 1048575 bytes");
        CHECK(out.len == 0);
        /* levels */
        CHECK_OK(net_compress(ctx, e, src, 1000, 1, &z));
        CHECK_OK(net_decompress(ctx, e, z.data, z.len, 1000, &out));
        CHECK(out.len == 1000 && memcmp(out.data, src, 1000) == 0);
        /* empty bodies */
        CHECK_OK(net_compress(ctx, e, NULL, 0, 0, &z));
        CHECK_OK(net_decompress(ctx, e, z.data, z.len, 10, &out));
        CHECK(out.len == 0);
    }
    CHECK_ERR(net_compress(ctx, NET_ENC_GZIP, src, 10, 10, &z), CLEAVE_E_INVALID, "level 10");
    CHECK_ERR(net_compress(ctx, NET_ENC_ZSTD, src, 10, 100, &z), CLEAVE_E_INVALID, "level 100");

    /* concatenated gzip members decode as one body */
    net_buf two = {0};
    CHECK_OK(net_compress(ctx, NET_ENC_GZIP, (const uint8_t *)"abc", 3, 0, &z));
    net_buf_append(ctx, &two, z.data, z.len);
    CHECK_OK(net_compress(ctx, NET_ENC_GZIP, (const uint8_t *)"def", 3, 0, &z));
    net_buf_append(ctx, &two, z.data, z.len);
    CHECK_OK(net_decompress(ctx, NET_ENC_GZIP, two.data, two.len, 100, &out));
    CHECK(out.len == 6 && memcmp(out.data, "abcdef", 6) == 0);
    net_buf_free(&two);

    /* a compressed v2 request, end to end */
    float x[4] = {1, 2, 3, 4};
    cv_tensor t = {.dtype = CV_F32, .ndim = 1, .dims = {4}, .data = x};
    net_v2_input in = {.name = "x", .t = &t};
    net_buf body = {0};
    size_t hl;
    CHECK_OK(net_v2_request_encode(ctx, NULL, &in, 1, NULL, 0, 1, NULL, &body, &hl));
    CHECK_OK(net_compress(ctx, NET_ENC_ZSTD, body.data, body.len, 0, &z));
    CHECK_OK(net_decompress(ctx, NET_ENC_ZSTD, z.data, z.len, 1 << 20, &out));
    char hdr[32];
    snprintf(hdr, sizeof hdr, "%zu", hl);
    CHECK_OK(net_v2_request_parse(ctx, out.data, out.len, hdr, &R));
    CHECK(R.n_inputs == 1 && memcmp(R.inputs[0].data, x, 16) == 0);
    net_v2_request_free(&R);
    net_buf_free(&body);
    net_buf_free(&z);
    net_buf_free(&out);
    cv_free(src);
}

static void test_codec_corrupt(void) {
    uint8_t src[4096];
    for (size_t i = 0; i < sizeof src; i++) src[i] = (uint8_t)(i * i % 251);
    net_buf z = {0}, out = {0};
    const char *junk = "this is not compressed at all";
    CHECK_ERR(net_decompress(ctx, NET_ENC_GZIP, (const uint8_t *)junk, strlen(junk), 1 << 20, &out), CLEAVE_E_PARSE,
              "gzip: corrupt data");
    CHECK_ERR(net_decompress(ctx, NET_ENC_DEFLATE, (const uint8_t *)junk, strlen(junk), 1 << 20, &out), CLEAVE_E_PARSE,
              "deflate: corrupt data");
    CHECK_ERR(net_decompress(ctx, NET_ENC_ZSTD, (const uint8_t *)junk, strlen(junk), 1 << 20, &out), CLEAVE_E_PARSE,
              "zstd: corrupt data");
    CHECK_ERR(net_decompress(ctx, NET_ENC_GZIP, NULL, 0, 1 << 20, &out), CLEAVE_E_PARSE, "gzip: truncated");
    CHECK_ERR(net_decompress(ctx, NET_ENC_ZSTD, NULL, 0, 1 << 20, &out), CLEAVE_E_PARSE, "zstd: truncated");
    for (int c = 1; c < 4; c++) {
        net_encoding e = codecs[c];
        CHECK_OK(net_compress(ctx, e, src, sizeof src, 0, &z));
        /* cut short */
        cleave_status st = net_decompress(ctx, e, z.data, z.len / 2, 1 << 20, &out);
        CHECK(st == CLEAVE_E_PARSE && strstr(cleave_ctx_error(ctx), "truncated"));
        cleave_ctx_clear_error(ctx);
        CHECK(out.len == 0);
        /* data after the end of a deflate stream; garbage after a gzip member */
        if (e != NET_ENC_ZSTD) {
            net_buf_append(ctx, &z, "xx", 2);
            CHECK_ERR(net_decompress(ctx, e, z.data, z.len, 1 << 20, &out), CLEAVE_E_PARSE,
                      e == NET_ENC_GZIP ? "gzip: corrupt data" : "data after the end of the stream");
            z.len -= 2;
        }
    }
    /* gzip: a flipped byte inside the stream is caught (by the CRC at the latest) */
    CHECK_OK(net_compress(ctx, NET_ENC_GZIP, src, sizeof src, 0, &z));
    z.data[z.len / 2] ^= 0x55;
    CHECK_ERR(net_decompress(ctx, NET_ENC_GZIP, z.data, z.len, 1 << 20, &out), CLEAVE_E_PARSE, "gzip: corrupt data");
    /* zstd: a damaged frame header */
    CHECK_OK(net_compress(ctx, NET_ENC_ZSTD, src, sizeof src, 0, &z));
    z.data[4] = 0xff; /* reserved frame-header bits set */
    CHECK_ERR(net_decompress(ctx, NET_ENC_ZSTD, z.data, z.len, 1 << 20, &out), CLEAVE_E_PARSE, "zstd: corrupt data");
    net_buf_free(&z);
    net_buf_free(&out);
}

/* zstd frame of n zeros written by the streaming API with no content size
 * in the header, with the given window log. */
static void zstd_zeros_unknown_size(net_buf *z, size_t n, int wlog) {
    static uint8_t zeros[1 << 16];
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
    ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, wlog);
    z->len = 0;
    net_buf_reserve(ctx, z, 1 << 16);
    uint8_t tmp[1 << 16];
    for (size_t done = 0;;) {
        size_t m = n - done < sizeof zeros ? n - done : sizeof zeros;
        /* the last call ends the frame; the first is never the last, so
         * the size stays unknown */
        ZSTD_EndDirective end = done + m == n && done > 0 ? ZSTD_e_end : ZSTD_e_continue;
        ZSTD_inBuffer ib = {zeros, m, 0};
        size_t r;
        do {
            ZSTD_outBuffer ob = {tmp, sizeof tmp, 0};
            r = ZSTD_compressStream2(c, &ob, &ib, end);
            net_buf_append(ctx, z, tmp, ob.pos);
        } while (!ZSTD_isError(r) && (end == ZSTD_e_end ? r != 0 : ib.pos < ib.size));
        done += m;
        if (end == ZSTD_e_end) break;
    }
    ZSTD_freeCCtx(c);
}

static void test_codec_bomb(void) {
    size_t big = (size_t)100 << 20, cap = 1 << 20;
    uint8_t *zeros = cv_calloc(big, 1); /* untouched pages cost no memory */
    net_buf z = {0}, out = {0};
    for (int c = 1; c < 4; c++) {
        net_encoding e = codecs[c];
        CHECK_OK(net_compress(ctx, e, zeros, big, e == NET_ENC_ZSTD ? 0 : 9, &z));
        CHECK(z.len < big / 500);
        CHECK_ERR(net_decompress(ctx, e, z.data, z.len, cap, &out), CLEAVE_E_LIMIT, "larger than 1048576 bytes");
        CHECK(out.len == 0 && out.cap <= cap);
    }
    cv_free(zeros);
    /* zstd without a declared size: stopped by the streaming cap */
    net_buf_free(&out);
    zstd_zeros_unknown_size(&z, big, 20);
    CHECK(z.len > 0 && ZSTD_getFrameContentSize(z.data, z.len) == ZSTD_CONTENTSIZE_UNKNOWN);
    CHECK_ERR(net_decompress(ctx, NET_ENC_ZSTD, z.data, z.len, cap, &out), CLEAVE_E_LIMIT, "larger than 1048576 bytes");
    CHECK(out.len == 0 && out.cap <= cap);
    CHECK_OK(net_decompress(ctx, NET_ENC_ZSTD, z.data, z.len, big, &out));
    CHECK(out.len == big);
    /* a window far beyond the cap is refused before it is allocated */
    zstd_zeros_unknown_size(&z, 1000, 27);
    CHECK_ERR(net_decompress(ctx, NET_ENC_ZSTD, z.data, z.len, cap, &out), CLEAVE_E_LIMIT, "window");
    CHECK_OK(net_decompress(ctx, NET_ENC_ZSTD, z.data, z.len, (size_t)128 << 20, &out));
    CHECK(out.len == 1000);
    /* identity is capped too */
    CHECK_ERR(net_decompress(ctx, NET_ENC_IDENTITY, z.data, z.len, 3, &out), CLEAVE_E_LIMIT, "larger than 3 bytes");
    net_buf_free(&z);
    net_buf_free(&out);
}

/* ---- mutations: nothing a client sends may crash or over-read ---- */

static uint32_t rnd_state = 2463534242u;
static uint32_t rnd(void) { /* xorshift32 */
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 17;
    rnd_state ^= rnd_state << 5;
    return rnd_state;
}

/* Parse (as request and as response) and decode whatever parses. Each
 * body is an exact-size heap copy so that ASan sees any read past it. */
static void parse_any(const uint8_t *body, size_t len, const char *hdr, int *ok) {
    uint8_t *copy = cv_malloc(len);
    if (len) memcpy(copy, body, len);
    if (net_v2_request_parse(ctx, copy, len, hdr, &R) == CLEAVE_OK) {
        (*ok)++;
        for (int k = 0; k < R.n_inputs; k++) {
            cv_tensor d;
            if (net_v2_tensor_decode(ctx, &R.inputs[k], &d) == CLEAVE_OK) cv_aligned_free(d.data);
        }
    }
    net_v2_request_free(&R);
    if (net_v2_response_parse(ctx, copy, len, hdr, &P) == CLEAVE_OK) net_v2_response_free(&P);
    cleave_ctx_clear_error(ctx);
    cv_free(copy);
}

static void test_mutations(void) {
    static const char js[] =
        "{\"id\":\"m\",\"model_name\":\"x\",\"parameters\":{\"binary_data_output\":true},\"inputs\":["
        "{\"name\":\"a\",\"shape\":[2,3],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":24}},"
        "{\"name\":\"b\",\"shape\":[2,2],\"datatype\":\"INT8\",\"data\":[[1,-2],[3,4]]},"
        "{\"name\":\"q\",\"shape\":[5],\"datatype\":\"UINT8\",\"parameters\":{\"binary_data_size\":2,"
        "\"quant_bits\":3,\"quant_scale\":0.5,\"quant_zero_point\":4}},"
        "{\"name\":\"h\",\"shape\":[2],\"datatype\":\"FP16\",\"data\":[1.5,-2]}],"
        "\"outputs\":[{\"name\":\"y\",\"parameters\":{\"binary_data\":false}}]}";
    static const char special[] = "[]{}\",:0123456789-e.tfn \\";
    uint8_t payload[26];
    for (int i = 0; i < 26; i++) payload[i] = (uint8_t)(i * 37);
    net_buf base = {0}, m = {0}, z = {0}, out = {0};
    char hdr[32];
    make_binary(&base, js, payload, 26, hdr);
    int ok = 0;
    parse_any(base.data, base.len, hdr, &ok);
    CHECK(ok == 1);
    ok = 0;
    for (int it = 0; it < 4000; it++) {
        m.len = 0;
        net_buf_append(ctx, &m, base.data, base.len);
        int edits = 1 + (int)(rnd() % 4);
        for (int e = 0; e < edits && m.len; e++) {
            size_t at = rnd() % m.len;
            switch (rnd() % 4) {
            case 0: m.data[at] = (uint8_t)rnd(); break;
            case 1: m.data[at] = (uint8_t)special[rnd() % (sizeof special - 1)]; break;
            case 2: m.len = at; break; /* truncate */
            default: /* duplicate a run of bytes */
                if (m.len - at > 8) net_buf_append(ctx, &m, m.data + at, 1 + rnd() % 8);
            }
        }
        char h2[32];
        size_t hl = strlen(js);
        switch (rnd() % 3) {
        case 0: snprintf(h2, sizeof h2, "%zu", hl); break;
        case 1: snprintf(h2, sizeof h2, "%zu", m.len ? rnd() % (m.len + 2) : 0); break;
        default: snprintf(h2, sizeof h2, "%zu", hl + rnd() % 5 - 2);
        }
        parse_any(m.data, m.len, rnd() % 8 ? h2 : NULL, &ok);
        /* the same body compressed and damaged */
        if (it % 4 == 0) {
            net_encoding enc = codecs[1 + it / 4 % 3];
            if (net_compress(ctx, enc, m.data, m.len, 0, &z) == CLEAVE_OK && z.len) {
                z.data[rnd() % z.len] ^= (uint8_t)(1 + rnd() % 255);
                uint8_t *copy = cv_malloc(z.len);
                memcpy(copy, z.data, z.len);
                if (net_decompress(ctx, enc, copy, z.len, 1 << 12, &out) == CLEAVE_OK) CHECK(out.len <= 1 << 12);
                cleave_ctx_clear_error(ctx);
                cv_free(copy);
            }
        }
    }
    CHECK(ok > 0 && ok < 4000); /* some mutations still parse, most do not */
    printf("mutations: %d of 4000 still parsed\n", ok);
    net_buf_free(&base);
    net_buf_free(&m);
    net_buf_free(&z);
    net_buf_free(&out);
}

int main(void) {
    if (cleave_ctx_create(&ctx)) return 1;
    test_dtypes();
    test_roundtrip_types();
    test_exact_json();
    test_response_roundtrip();
    test_nested();
    test_packed();
    test_stock_clients();
    test_malformed();
    test_encoding_names();
    test_codec_roundtrip();
    test_codec_corrupt();
    test_codec_bomb();
    test_mutations();
    cleave_ctx_destroy(ctx);
    return check_summary("test_net_v2");
}

#else
int main(void) {
    printf("test_net_v2: skipped (built without the net module)\n");
    return 77;
}
#endif
