/* net/v2_encode: KServe v2 request and response encoding (pure JSON or the
 * binary-data extension, packing low-bit codes) and the {"error": ...}
 * body. Reals are written with enough digits to come back bit-exact. */
#include "net/v2.h"

#include <math.h>
#include <string.h>

#include "net/v2_internal.h"
#include "quant/quant.h"

#define V2_DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)

/* ---- raw elements -> JSON values ---- */

/* Element i of a dense tensor as a new JSON value; NULL when JSON cannot
 * carry it (NaN/Inf, UINT64 above 2^63-1) or out of memory. */
static json_t *elem_json(const uint8_t *p, cv_dtype t, int *unrepresentable) {
    switch (t) {
    case CV_BOOL: return json_boolean(*p != 0);
    case CV_U8: return json_integer(*p);
    case CV_I8: return json_integer(*(const int8_t *)p);
    case CV_F16: case CV_F32: case CV_F64: {
        double d;
        if (t == CV_F64) memcpy(&d, p, 8);
        else if (t == CV_F32) { float f; memcpy(&f, p, 4); d = f; }
        else { uint16_t h; memcpy(&h, p, 2); d = cv_f16_to_f32(h); }
        if (!isfinite(d)) { *unrepresentable = 1; return NULL; }
        return json_real(d);
    }
    default: break;
    }
    int sgn, bits = net_v2__int_bits(t, &sgn);
    uint64_t u = 0;
    memcpy(&u, p, (size_t)bits / 8);
    if (sgn) { /* sign-extend the low `bits` */
        int sh = 64 - bits;
        return json_integer((json_int_t)((int64_t)(u << sh) >> sh));
    }
    if (u > INT64_MAX) { *unrepresentable = 1; return NULL; }
    return json_integer((json_int_t)u);
}

/* ---- encoding ---- */

/* One tensor to encode. */
typedef struct enc_tensor {
    const char *name;
    const cv_tensor *t;
    int bits;
    float scale;
    int32_t zp;
    int binary;
    int64_t numel;
    size_t wire; /* bytes of its binary section */
} enc_tensor;

static cleave_status enc_check(cleave_ctx *ctx, const char *where, const char *kind, enc_tensor *e) {
    const cv_tensor *t = e->t;
    if (!e->name || !*e->name || strlen(e->name) >= NET_V2_NAME_MAX)
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: %s name missing or longer than %d bytes", where, kind,
                       NET_V2_NAME_MAX - 1);
    if (!t) return cv_fail(ctx, CLEAVE_E_INVALID, "%s: %s '%s' has no tensor", where, kind, e->name);
    const char *dn = net_v2_dtype_name(t->dtype);
    if (!dn || t->dtype == CV_STRING)
        return cv_fail(ctx, CLEAVE_E_UNSUPPORTED, "%s: %s '%s': dtype %s has no v2 datatype", where, kind, e->name,
                       cv_dtype_name(t->dtype));
    if (t->block)
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: %s '%s' is channel-blocked, not dense", where, kind, e->name);
    if (t->ndim < 0 || t->ndim > CV_MAX_DIMS)
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: %s '%s': rank %d", where, kind, e->name, t->ndim);
    e->numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        if (t->dims[d] < 0 || (t->dims[d] > 0 && e->numel > CV_MAX_ELEMS / t->dims[d]))
            return cv_fail(ctx, CLEAVE_E_LIMIT, "%s: %s '%s': bad or too large shape", where, kind, e->name);
        e->numel *= t->dims[d];
    }
    if (e->numel > 0 && !t->data)
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: %s '%s' has no data", where, kind, e->name);
    e->wire = (size_t)e->numel * cv_dtype_size(t->dtype);
    if (!e->bits) return CLEAVE_OK;
    if (e->bits < 1 || e->bits > 8 || t->dtype != CV_U8)
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: %s '%s': packing needs uint8 codes and 1..8 bits (got %s, %d)",
                       where, kind, e->name, cv_dtype_name(t->dtype), e->bits);
    if (!(e->scale > 0) || !isfinite(e->scale))
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: %s '%s': quant_scale %g must be finite and > 0", where, kind,
                       e->name, e->scale);
    if (!e->binary)
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: %s '%s': packed low-bit tensors need binary data", where, kind,
                       e->name);
    const uint8_t *q = t->data;
    for (int64_t i = 0; i < e->numel; i++)
        if (q[i] >> e->bits)
            return cv_fail(ctx, CLEAVE_E_INVALID, "%s: %s '%s': code %u at index %lld does not fit in %d bits", where,
                           kind, e->name, q[i], (long long)i, e->bits);
    e->wire = q_packed_bytes((size_t)e->numel, e->bits);
    return CLEAVE_OK;
}

/* The tensor's JSON object: name, shape, datatype, parameters, data. */
static cleave_status enc_json(cleave_ctx *ctx, const char *where, const char *kind, const enc_tensor *e, json_t **out) {
    const cv_tensor *t = e->t;
    json_t *o = json_object(), *shape = json_array();
    int bad = !o || json_object_set_new(o, "name", json_string(e->name));
    for (int d = 0; d < t->ndim; d++) bad |= json_array_append_new(shape, json_integer(t->dims[d]));
    bad |= json_object_set_new(o, "shape", shape);
    bad |= json_object_set_new(o, "datatype", json_string(net_v2_dtype_name(t->dtype)));
    if (e->binary) {
        json_t *par = json_object();
        bad |= json_object_set_new(par, "binary_data_size", json_integer((json_int_t)e->wire));
        if (e->bits) {
            bad |= json_object_set_new(par, "quant_bits", json_integer(e->bits));
            bad |= json_object_set_new(par, "quant_scale", json_real(e->scale));
            bad |= json_object_set_new(par, "quant_zero_point", json_integer(e->zp));
        }
        bad |= json_object_set_new(o, "parameters", par);
    } else {
        json_t *data = json_array();
        size_t es = cv_dtype_size(t->dtype);
        int unrep = 0;
        for (int64_t i = 0; i < e->numel && !bad; i++) {
            json_t *v = elem_json((const uint8_t *)t->data + (size_t)i * es, t->dtype, &unrep);
            if (unrep) {
                json_decref(data);
                json_decref(o);
                return cv_fail(ctx, CLEAVE_E_INVALID, "%s: %s '%s': element %lld (NaN, Inf or above 2^63-1) cannot be sent as JSON; use binary data",
                               where, kind, e->name, (long long)i);
            }
            bad |= json_array_append_new(data, v);
        }
        bad |= json_object_set_new(o, "data", data);
    }
    if (bad) {
        json_decref(o);
        return cv_fail(ctx, CLEAVE_E_NOMEM, "%s: cannot build the JSON of %s '%s' (name not UTF-8, or out of memory)",
                       where, kind, e->name);
    }
    *out = o;
    return CLEAVE_OK;
}

typedef struct dump_sink {
    cleave_ctx *ctx;
    net_buf *b;
    cleave_status st;
} dump_sink;

static int dump_cb(const char *buf, size_t size, void *data) {
    dump_sink *s = data;
    s->st = net_buf_append(s->ctx, s->b, buf, size);
    return s->st == CLEAVE_OK ? 0 : -1;
}

/* root as compact JSON appended to b; reals with enough digits to come
 * back bit-exact (9 for float, 17 when an FP64 tensor is sent as JSON). */
static cleave_status dump_json(cleave_ctx *ctx, const json_t *root, int fp64, net_buf *b) {
    dump_sink s = {ctx, b, CLEAVE_OK};
    size_t flags = V2_DUMP_FLAGS | JSON_REAL_PRECISION(fp64 ? 17 : 9);
    if (json_dump_callback(root, dump_cb, &s, flags) != 0)
        return s.st != CLEAVE_OK ? s.st : cv_fail(ctx, CLEAVE_E_INTERNAL, "JSON encoding failed");
    return CLEAVE_OK;
}

/* JSON header then the binary sections, into body (replaced). */
static cleave_status enc_body(cleave_ctx *ctx, json_t *root, const enc_tensor *es, int n, net_buf *body,
                              size_t *header_len) {
    int fp64 = 0, any_bin = 0;
    for (int k = 0; k < n; k++) {
        fp64 |= !es[k].binary && es[k].t->dtype == CV_F64;
        any_bin |= es[k].binary;
    }
    body->len = 0;
    CV_TRY(dump_json(ctx, root, fp64, body));
    if (header_len) *header_len = any_bin ? body->len : 0;
    for (int k = 0; k < n; k++) {
        const enc_tensor *e = &es[k];
        if (!e->binary || e->wire == 0) continue;
        if (!e->bits) {
            CV_TRY(net_buf_append(ctx, body, e->t->data, e->wire));
            continue;
        }
        CV_TRY(net_buf_reserve(ctx, body, e->wire));
        q_pack_u(e->t->data, (size_t)e->numel, e->bits, body->data + body->len);
        body->len += e->wire;
    }
    return CLEAVE_OK;
}

/* Adds "id" to root when given (shorter than V2_ID_MAX). */
static cleave_status enc_id(cleave_ctx *ctx, const char *where, json_t *root, const char *id) {
    if (!id) return CLEAVE_OK;
    if (strlen(id) >= (size_t)V2_ID_MAX)
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: id longer than %d bytes", where, V2_ID_MAX - 1);
    if (json_object_set_new(root, "id", json_string(id)))
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: id is not valid UTF-8", where);
    return CLEAVE_OK;
}

/* Adds each tensor's JSON to a new array root[key]. */
static cleave_status enc_tensors(cleave_ctx *ctx, const char *where, const char *kind, json_t *root,
                                 const char *key, const enc_tensor *es, int n) {
    json_t *arr = json_array();
    if (json_object_set_new(root, key, arr))
        return cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory", where);
    for (int k = 0; k < n; k++) {
        json_t *o = NULL;
        CV_TRY(enc_json(ctx, where, kind, &es[k], &o));
        if (json_array_append_new(arr, o)) return cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory", where);
    }
    return CLEAVE_OK;
}

static cleave_status request_json(cleave_ctx *ctx, json_t *root, const char *id, const enc_tensor *es, int n_in,
                                  const char *const *outputs, int n_outputs, int binary, json_t *params) {
    CV_TRY(enc_id(ctx, "request encode", root, id));
    if (params || binary) {
        json_t *par = params ? json_copy(params) : json_object();
        int bad = json_object_set_new(root, "parameters", par);
        if (binary) bad |= json_object_set_new(par, "binary_data_output", json_true());
        if (bad) return cv_fail(ctx, CLEAVE_E_NOMEM, "request encode: out of memory");
    }
    CV_TRY(enc_tensors(ctx, "request encode", "input", root, "inputs", es, n_in));
    if (n_outputs == 0) return CLEAVE_OK;
    json_t *arr = json_array();
    int bad = json_object_set_new(root, "outputs", arr);
    for (int k = 0; k < n_outputs && !bad; k++) {
        json_t *o = json_object();
        bad |= json_object_set_new(o, "name", json_string(outputs[k]));
        bad |= json_array_append_new(arr, o);
    }
    if (bad) return cv_fail(ctx, CLEAVE_E_NOMEM, "request encode: out of memory");
    return CLEAVE_OK;
}

cleave_status net_v2_request_encode(cleave_ctx *ctx, const char *id, const net_v2_input *in, int n_in,
                                    const char *const *outputs, int n_outputs, int binary, json_t *params,
                                    net_buf *body, size_t *header_len) {
    if (header_len) *header_len = 0;
    if (n_in < 1 || n_in > NET_V2_MAX_TENSORS || !in)
        return cv_fail(ctx, CLEAVE_E_INVALID, "request encode: %d inputs (1..%d)", n_in, NET_V2_MAX_TENSORS);
    if (n_outputs < 0 || n_outputs > NET_V2_MAX_TENSORS || (n_outputs && !outputs))
        return cv_fail(ctx, CLEAVE_E_INVALID, "request encode: %d outputs (0..%d)", n_outputs, NET_V2_MAX_TENSORS);
    if (params && !json_is_object(params))
        return cv_fail(ctx, CLEAVE_E_INVALID, "request encode: parameters is not a JSON object");
    for (int k = 0; k < n_outputs; k++)
        if (!outputs[k] || !*outputs[k] || strlen(outputs[k]) >= NET_V2_NAME_MAX)
            return cv_fail(ctx, CLEAVE_E_INVALID, "request encode: output %d name missing or too long", k);
    enc_tensor es[NET_V2_MAX_TENSORS];
    for (int k = 0; k < n_in; k++) {
        es[k] = (enc_tensor){.name = in[k].name, .t = in[k].t, .bits = in[k].quant_bits,
                             .scale = in[k].quant_scale, .zp = in[k].quant_zero_point, .binary = binary != 0};
        CV_TRY(enc_check(ctx, "request encode", "input", &es[k]));
    }
    json_t *root = json_object();
    if (!root) return cv_fail(ctx, CLEAVE_E_NOMEM, "request encode: out of memory");
    cleave_status st = request_json(ctx, root, id, es, n_in, outputs, n_outputs, binary, params);
    if (st == CLEAVE_OK) st = enc_body(ctx, root, es, n_in, body, header_len);
    json_decref(root);
    return st;
}

cleave_status net_v2_response_encode(cleave_ctx *ctx, const char *model, const char *version, const char *id,
                                     const cv_tensor *out, const char *const *names, const int *binary, int n,
                                     json_t *params, net_buf *body, size_t *header_len) {
    const char *w = "response encode";
    if (header_len) *header_len = 0;
    if (!model || !*model || strlen(model) >= NET_V2_NAME_MAX)
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: model name missing or too long", w);
    if (n < 0 || n > NET_V2_MAX_TENSORS || (n && (!out || !names)))
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: %d outputs (0..%d)", w, n, NET_V2_MAX_TENSORS);
    if (params && !json_is_object(params))
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: parameters is not a JSON object", w);
    enc_tensor es[NET_V2_MAX_TENSORS];
    for (int k = 0; k < n; k++) {
        es[k] = (enc_tensor){.name = names[k], .t = &out[k], .binary = binary && binary[k]};
        CV_TRY(enc_check(ctx, w, "output", &es[k]));
    }
    json_t *root = json_object();
    int bad = !root || json_object_set_new(root, "model_name", json_string(model));
    if (version) bad |= json_object_set_new(root, "model_version", json_string(version));
    cleave_status st = bad ? cv_fail(ctx, CLEAVE_E_INVALID, "%s: model name/version not valid UTF-8 (or out of memory)", w)
                           : enc_id(ctx, w, root, id);
    if (st == CLEAVE_OK && params && json_object_set(root, "parameters", params))
        st = cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory", w);
    if (st == CLEAVE_OK) st = enc_tensors(ctx, w, "output", root, "outputs", es, n);
    if (st == CLEAVE_OK) st = enc_body(ctx, root, es, n, body, header_len);
    json_decref(root);
    return st;
}

char *net_v2_error_json(const char *msg, size_t *len) {
    json_t *s = json_string(msg ? msg : "");
    if (!s && msg) { /* not UTF-8: send the ASCII part */
        char *a = cv_strdup(msg);
        if (!a) return NULL;
        for (char *c = a; *c; c++)
            if ((unsigned char)*c >= 0x80) *c = '?';
        s = json_string(a);
        cv_free(a);
    }
    json_t *o = json_object();
    if (!s || !o || json_object_set_new(o, "error", s)) {
        json_decref(o);
        return NULL;
    }
    size_t n = json_dumpb(o, NULL, 0, V2_DUMP_FLAGS);
    char *buf = n ? cv_malloc(n + 1) : NULL;
    if (buf && json_dumpb(o, buf, n, V2_DUMP_FLAGS) == n) {
        buf[n] = 0;
        if (len) *len = n;
    } else {
        cv_free(buf);
        buf = NULL;
    }
    json_decref(o);
    return buf;
}
