/* net/v2_parse: KServe v2 request and response parsing (pure JSON or the
 * binary-data extension, with cleave's packed low-bit tensors). Everything
 * from the network is checked before anything is allocated for it; JSON
 * "data" is converted once into the raw little-endian bytes a binary section
 * would carry, so callers see one representation. */
#include "net/v2.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "net/v2_internal.h"
#include "quant/quant.h"

/* ---- JSON values -> raw elements ---- */

enum { PUT_OK, PUT_TYPE, PUT_FRAC, PUT_RANGE };

/* Store JSON value v as one element of dtype t at dst. */
static int put_value(const json_t *v, cv_dtype t, uint8_t *dst) {
    if (t == CV_BOOL) {
        if (!json_is_boolean(v)) return PUT_TYPE;
        *dst = json_is_true(v) ? 1 : 0;
        return PUT_OK;
    }
    if (!json_is_number(v)) return PUT_TYPE;
    int sgn, bits = net_v2__int_bits(t, &sgn);
    if (bits) {
        uint64_t u;
        if (json_is_integer(v)) {
            int64_t x = json_integer_value(v);
            int64_t lo = sgn ? (bits == 64 ? INT64_MIN : -(INT64_C(1) << (bits - 1))) : 0;
            int64_t hi = bits == 64 ? INT64_MAX
                                    : (INT64_C(1) << (sgn ? bits - 1 : bits)) - 1;
            if (x < lo || x > hi) return PUT_RANGE;
            u = (uint64_t)x;
        } else {
            /* an integral real ("3.0"); bounds are powers of two, exact in double */
            double d = json_real_value(v);
            if (d != trunc(d)) return PUT_FRAC;
            double lo = sgn ? -ldexp(1, bits - 1) : 0, hi = ldexp(1, sgn ? bits - 1 : bits);
            if (d < lo || d >= hi) return PUT_RANGE;
            u = sgn ? (uint64_t)(int64_t)d : (uint64_t)d;
        }
        memcpy(dst, &u, (size_t)bits / 8); /* the low bytes on a little-endian host */
        return PUT_OK;
    }
    double d = json_number_value(v);
    if (t == CV_F64) {
        memcpy(dst, &d, 8);
        return PUT_OK;
    }
    /* Values that round to FLT_MAX are in range: below FLT_MAX + half an ulp. */
    double lim = ldexp(1, 128) - ldexp(1, 103);
    if (!(fabs(d) < lim)) return PUT_RANGE;
    float f = fabs(d) > FLT_MAX ? (d > 0 ? FLT_MAX : -FLT_MAX) : (float)d;
    if (t == CV_F32) {
        memcpy(dst, &f, 4);
        return PUT_OK;
    }
    uint16_t h = cv_f32_to_f16(f);
    if ((h & 0x7c00) == 0x7c00) return PUT_RANGE;
    memcpy(dst, &h, 2);
    return PUT_OK;
}

/* A short rendering of a JSON value for error messages. */
static const char *value_str(const json_t *v, char *buf, size_t n) {
    if (json_is_integer(v)) snprintf(buf, n, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v)) snprintf(buf, n, "%.17g", json_real_value(v));
    else if (json_is_boolean(v)) snprintf(buf, n, "%s", json_is_true(v) ? "true" : "false");
    else if (json_is_string(v)) snprintf(buf, n, "\"%.32s\"", json_string_value(v));
    else if (json_is_null(v)) snprintf(buf, n, "null");
    else snprintf(buf, n, "an object");
    return buf;
}

/* ---- parsing ---- */

typedef struct v2_parse {
    cleave_ctx *ctx;
    const char *where; /* "request" / "response" */
    const char *kind;  /* "input" / "output" */
} v2_parse;

/* Walks nested "data" arrays: counts leaves, then converts them. */
typedef struct data_walk {
    const v2_parse *p;
    const net_v2_tensor *t;
    size_t esize;
    int max_depth;
    int64_t count;
    uint8_t *dst;
} data_walk;

static cleave_status walk_count(data_walk *w, const json_t *a, int depth) {
    if (depth > w->max_depth)
        return cv_fail(w->p->ctx, CLEAVE_E_INVALID, "%s: %s '%s': \"data\" is nested deeper than its shape's %d dimension(s)",
                       w->p->where, w->p->kind, w->t->name, w->t->ndim);
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (json_is_array(v)) CV_TRY(walk_count(w, v, depth + 1));
        else w->count++;
    }
    return CLEAVE_OK;
}

static cleave_status walk_fill(data_walk *w, const json_t *a) {
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (json_is_array(v)) {
            CV_TRY(walk_fill(w, v));
            continue;
        }
        int r = put_value(v, w->t->dtype, w->dst + (size_t)w->count * w->esize);
        if (r != PUT_OK) {
            char vb[64];
            const char *dn = net_v2_dtype_name(w->t->dtype);
            const char *why = r == PUT_TYPE  ? "is not a valid"
                              : r == PUT_FRAC ? "is not an integer, as needed for"
                                              : "is out of range for";
            return cv_fail(w->p->ctx, CLEAVE_E_INVALID, "%s: %s '%s': value %s at index %lld %s %s",
                           w->p->where, w->p->kind, w->t->name, value_str(v, vb, sizeof vb),
                           (long long)w->count, why, dn);
        }
        w->count++;
    }
    return CLEAVE_OK;
}

/* JSON "data" -> t->owned raw bytes. */
static cleave_status parse_data(const v2_parse *p, const json_t *data, net_v2_tensor *t, int64_t numel) {
    if (!json_is_array(data))
        return cv_fail(p->ctx, CLEAVE_E_PARSE, "%s: %s '%s': \"data\" is not an array", p->where, p->kind, t->name);
    data_walk w = {.p = p, .t = t, .esize = cv_dtype_size(t->dtype), .max_depth = t->ndim > 0 ? t->ndim : 1};
    CV_TRY(walk_count(&w, data, 1));
    if (w.count != numel) {
        char sb[160];
        return cv_fail(p->ctx, CLEAVE_E_INVALID, "%s: %s '%s': shape %s has %lld elements but \"data\" has %lld values",
                       p->where, p->kind, t->name, cv_shape_str(t->ndim, t->dims, sb, sizeof sb),
                       (long long)numel, (long long)w.count);
    }
    /* count <= the number of JSON values, so this is bounded by the body */
    t->nbytes = (size_t)numel * w.esize;
    t->owned = cv_malloc(t->nbytes);
    if (!t->owned)
        return cv_fail(p->ctx, CLEAVE_E_NOMEM, "%s: %s '%s': out of memory for %zu bytes", p->where, p->kind,
                       t->name, t->nbytes);
    w.dst = t->owned;
    w.count = 0;
    t->data = t->owned;
    return walk_fill(&w, data);
}

/* A JSON member that is absent or null counts as absent. */
static json_t *member(const json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_null(v) ? NULL : v;
}

/* Name, datatype, shape, parameters and data of one tensor object. On
 * return *bin is its binary_data_size, or SIZE_MAX when data came as JSON. */
static cleave_status parse_tensor(const v2_parse *p, int idx, const json_t *o, net_v2_tensor *t, size_t *bin) {
    cleave_ctx *ctx = p->ctx;
    *bin = SIZE_MAX;
    if (!json_is_object(o))
        return cv_fail(ctx, CLEAVE_E_PARSE, "%s: %s %d is not an object", p->where, p->kind, idx);
    const json_t *jn = member(o, "name");
    if (!json_is_string(jn))
        return cv_fail(ctx, CLEAVE_E_PARSE, "%s: %s %d has no \"name\" string", p->where, p->kind, idx);
    size_t nl = json_string_length(jn);
    if (nl == 0) return cv_fail(ctx, CLEAVE_E_INVALID, "%s: %s %d has an empty name", p->where, p->kind, idx);
    if (nl >= NET_V2_NAME_MAX)
        return cv_fail(ctx, CLEAVE_E_LIMIT, "%s: %s %d: name of %zu bytes is too long (at most %d)", p->where,
                       p->kind, idx, nl, NET_V2_NAME_MAX - 1);
    memcpy(t->name, json_string_value(jn), nl + 1);

    const json_t *jd = member(o, "datatype");
    if (!json_is_string(jd))
        return cv_fail(ctx, CLEAVE_E_PARSE, "%s: %s '%s' has no \"datatype\" string", p->where, p->kind, t->name);
    t->dtype = net_v2_dtype_parse(json_string_value(jd));
    if (t->dtype == CV_UNDEF)
        return cv_fail(ctx, CLEAVE_E_UNSUPPORTED, "%s: %s '%s': unknown datatype '%.32s'", p->where, p->kind,
                       t->name, json_string_value(jd));
    if (t->dtype == CV_STRING)
        return cv_fail(ctx, CLEAVE_E_UNSUPPORTED, "%s: %s '%s': BYTES tensors are not supported", p->where,
                       p->kind, t->name);

    const json_t *js = member(o, "shape");
    if (!json_is_array(js))
        return cv_fail(ctx, CLEAVE_E_PARSE, "%s: %s '%s' has no \"shape\" array", p->where, p->kind, t->name);
    if (json_array_size(js) > CV_MAX_DIMS)
        return cv_fail(ctx, CLEAVE_E_LIMIT, "%s: %s '%s': shape has %zu dimensions (at most %d)", p->where,
                       p->kind, t->name, json_array_size(js), CV_MAX_DIMS);
    t->ndim = (int)json_array_size(js);
    int64_t numel = 1;
    int too_big = 0;
    for (int d = 0; d < t->ndim; d++) {
        const json_t *v = json_array_get(js, (size_t)d);
        if (!json_is_integer(v))
            return cv_fail(ctx, CLEAVE_E_PARSE, "%s: %s '%s': shape dimension %d is not an integer", p->where,
                           p->kind, t->name, d);
        t->dims[d] = json_integer_value(v);
        if (t->dims[d] < 0)
            return cv_fail(ctx, CLEAVE_E_INVALID, "%s: %s '%s': negative dimension %lld in shape", p->where,
                           p->kind, t->name, (long long)t->dims[d]);
        /* numel <= CV_MAX_ELEMS = 2^34 before each step, so a check by
         * division keeps the product from overflowing */
        if (t->dims[d] > 0 && numel > CV_MAX_ELEMS / t->dims[d]) too_big = 1;
        else numel *= t->dims[d];
    }
    if (too_big) {
        /* a zero dimension anywhere makes the tensor empty, not too big */
        int zero = 0;
        for (int d = 0; d < t->ndim; d++) zero |= t->dims[d] == 0;
        if (!zero) {
            char sb[200];
            return cv_fail(ctx, CLEAVE_E_LIMIT, "%s: %s '%s': shape %s has more than %lld elements", p->where,
                           p->kind, t->name, cv_shape_str(t->ndim, t->dims, sb, sizeof sb),
                           (long long)CV_MAX_ELEMS);
        }
        numel = 0;
    }

    const json_t *jp = member(o, "parameters");
    if (jp && !json_is_object(jp))
        return cv_fail(ctx, CLEAVE_E_PARSE, "%s: %s '%s': \"parameters\" is not an object", p->where, p->kind,
                       t->name);
    const json_t *jsize = jp ? member(jp, "binary_data_size") : NULL;
    const json_t *jbits = jp ? member(jp, "quant_bits") : NULL;
    const json_t *jscale = jp ? member(jp, "quant_scale") : NULL;
    const json_t *jzp = jp ? member(jp, "quant_zero_point") : NULL;
    if (jbits) {
        if (!json_is_integer(jbits) || json_integer_value(jbits) < 1 || json_integer_value(jbits) > 8)
            return cv_fail(ctx, CLEAVE_E_INVALID, "%s: %s '%s': quant_bits must be an integer in 1..8", p->where,
                           p->kind, t->name);
        t->quant_bits = (int)json_integer_value(jbits);
        if (t->dtype != CV_U8)
            return cv_fail(ctx, CLEAVE_E_INVALID, "%s: %s '%s': quant_bits needs datatype UINT8, not %s",
                           p->where, p->kind, t->name, net_v2_dtype_name(t->dtype));
        double s = json_is_number(jscale) ? json_number_value(jscale) : -1;
        if (!(s > 0 && s <= FLT_MAX && (float)s > 0))
            return cv_fail(ctx, CLEAVE_E_INVALID, "%s: %s '%s': quant_bits needs a quant_scale > 0 (a finite float)",
                           p->where, p->kind, t->name);
        t->quant_scale = (float)s;
        if (jzp) {
            if (!json_is_integer(jzp) || json_integer_value(jzp) < INT32_MIN || json_integer_value(jzp) > INT32_MAX)
                return cv_fail(ctx, CLEAVE_E_INVALID, "%s: %s '%s': quant_zero_point must be a 32-bit integer",
                               p->where, p->kind, t->name);
            t->quant_zero_point = (int32_t)json_integer_value(jzp);
        }
    } else if (jscale || jzp) {
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: %s '%s': quant_scale/quant_zero_point without quant_bits",
                       p->where, p->kind, t->name);
    }

    /* bytes on the wire */
    size_t need;
    if (t->quant_bits) need = q_packed_bytes((size_t)numel, t->quant_bits);
    else if (!cv_mul_size((size_t)numel, cv_dtype_size(t->dtype), &need))
        return cv_fail(ctx, CLEAVE_E_LIMIT, "%s: %s '%s': tensor too large", p->where, p->kind, t->name);

    const json_t *jdata = member(o, "data");
    if (jdata && jsize)
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: %s '%s' has both \"data\" and a binary_data_size", p->where,
                       p->kind, t->name);
    if (jsize) {
        if (!json_is_integer(jsize) || json_integer_value(jsize) < 0)
            return cv_fail(ctx, CLEAVE_E_INVALID, "%s: %s '%s': binary_data_size must be a non-negative integer",
                           p->where, p->kind, t->name);
        uint64_t bs = (uint64_t)json_integer_value(jsize);
        if (bs != need) {
            char sb[160], qb[32] = "";
            if (t->quant_bits) snprintf(qb, sizeof qb, " at %d bits", t->quant_bits);
            return cv_fail(ctx, CLEAVE_E_INVALID, "%s: %s '%s': binary_data_size %llu but shape %s %s%s needs %zu bytes",
                           p->where, p->kind, t->name, (unsigned long long)bs,
                           cv_shape_str(t->ndim, t->dims, sb, sizeof sb), net_v2_dtype_name(t->dtype), qb, need);
        }
        t->nbytes = need;
        *bin = need;
        return CLEAVE_OK;
    }
    if (!jdata)
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: %s '%s' has neither \"data\" nor a binary_data_size parameter",
                       p->where, p->kind, t->name);
    if (t->quant_bits)
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: %s '%s': packed low-bit tensors (quant_bits) need binary data, not \"data\"",
                       p->where, p->kind, t->name);
    return parse_data(p, jdata, t, numel);
}

/* Inference-Header-Content-Length -> *hlen (<= len). */
static cleave_status parse_header_len(const v2_parse *p, const char *s, size_t len, size_t *hlen) {
    const char *c = s;
    while (*c == ' ' || *c == '\t') c++;
    size_t v = 0;
    int digits = 0, big = 0;
    for (; *c >= '0' && *c <= '9'; c++, digits++) {
        if (v > (SIZE_MAX - 9) / 10) big = 1;
        else v = v * 10 + (size_t)(*c - '0');
    }
    while (*c == ' ' || *c == '\t') c++;
    if (!digits || *c)
        return cv_fail(p->ctx, CLEAVE_E_PARSE, "%s: Inference-Header-Content-Length '%.32s' is not a byte count",
                       p->where, s);
    if (big || v > len)
        return cv_fail(p->ctx, CLEAVE_E_PARSE, "%s: Inference-Header-Content-Length %.32s is larger than the body (%zu bytes)",
                       p->where, s, len);
    *hlen = v;
    return CLEAVE_OK;
}

/* The JSON part of a body as an object. */
static cleave_status parse_json(const v2_parse *p, const uint8_t *body, size_t len, const char *header_len,
                                size_t *hlen, json_t **root) {
    *hlen = len;
    if (header_len) CV_TRY(parse_header_len(p, header_len, len, hlen));
    json_error_t e;
    json_t *j = json_loadb(body ? (const char *)body : "", *hlen, JSON_REJECT_DUPLICATES, &e);
    if (!j)
        return cv_fail(p->ctx, CLEAVE_E_PARSE, "%s: malformed JSON at line %d column %d: %s", p->where, e.line,
                       e.column, e.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return cv_fail(p->ctx, CLEAVE_E_PARSE, "%s: the JSON is not an object", p->where);
    }
    *root = j;
    return CLEAVE_OK;
}

/* The tensors of the "inputs"/"outputs" array, their binary sections laid
 * out after the JSON header in order. */
static cleave_status parse_tensors(const v2_parse *p, const json_t *arr, net_v2_tensor *ts, int *n,
                                   const uint8_t *body, size_t len, size_t hlen, int has_header) {
    size_t na = json_array_size(arr);
    if (na > NET_V2_MAX_TENSORS)
        return cv_fail(p->ctx, CLEAVE_E_LIMIT, "%s: too many %ss: %zu (at most %d)", p->where, p->kind, na,
                       NET_V2_MAX_TENSORS);
    size_t bin[NET_V2_MAX_TENSORS], need = 0;
    for (size_t k = 0; k < na; k++) {
        net_v2_tensor *t = &ts[k];
        *n = (int)k + 1; /* so that a failure frees what this tensor owns */
        CV_TRY(parse_tensor(p, (int)k, json_array_get(arr, k), t, &bin[k]));
        for (size_t j = 0; j < k; j++)
            if (strcmp(ts[j].name, t->name) == 0)
                return cv_fail(p->ctx, CLEAVE_E_INVALID, "%s: two %ss named '%s'", p->where, p->kind, t->name);
        if (bin[k] == SIZE_MAX) continue;
        if (!has_header)
            return cv_fail(p->ctx, CLEAVE_E_PARSE, "%s: %s '%s' has a binary_data_size but there is no Inference-Header-Content-Length",
                           p->where, p->kind, t->name);
        need += bin[k]; /* <= 64 * 2^37: no overflow */
    }
    size_t have = len - hlen;
    if (need > have)
        return cv_fail(p->ctx, CLEAVE_E_PARSE, "%s: truncated binary section: body has %zu bytes after the %zu-byte header, tensors need %zu",
                       p->where, have, hlen, need);
    if (need < have)
        return cv_fail(p->ctx, CLEAVE_E_PARSE, "%s: trailing garbage after the binary sections: body has %zu bytes after the %zu-byte header, tensors need %zu",
                       p->where, have, hlen, need);
    size_t off = hlen;
    for (size_t k = 0; k < na; k++) {
        if (bin[k] == SIZE_MAX) continue;
        ts[k].data = body + off;
        off += bin[k];
    }
    return CLEAVE_OK;
}

static void free_tensors(net_v2_tensor *ts, int n) {
    for (int k = 0; k < n; k++) cv_free(ts[k].owned);
}

static cleave_status parse_id(const v2_parse *p, const json_t *root, char *id) {
    const json_t *ji = member(root, "id");
    if (!ji) return CLEAVE_OK;
    if (!json_is_string(ji)) return cv_fail(p->ctx, CLEAVE_E_PARSE, "%s: \"id\" is not a string", p->where);
    if (json_string_length(ji) >= (size_t)V2_ID_MAX)
        return cv_fail(p->ctx, CLEAVE_E_LIMIT, "%s: \"id\" of %zu bytes is too long (at most %d)", p->where,
                       json_string_length(ji), V2_ID_MAX - 1);
    memcpy(id, json_string_value(ji), json_string_length(ji) + 1);
    return CLEAVE_OK;
}

static cleave_status request_body(const v2_parse *p, const json_t *root, const uint8_t *body, size_t len,
                                  size_t hlen, int has_header, net_v2_request *req) {
    cleave_ctx *ctx = p->ctx;
    CV_TRY(parse_id(p, root, req->id));
    const json_t *jp = member(root, "parameters");
    if (jp && !json_is_object(jp))
        return cv_fail(ctx, CLEAVE_E_PARSE, "request: \"parameters\" is not an object");
    const json_t *jbo = jp ? member(jp, "binary_data_output") : NULL;
    if (jbo && !json_is_boolean(jbo))
        return cv_fail(ctx, CLEAVE_E_INVALID, "request: parameter binary_data_output is not a boolean");
    req->binary_output_default = json_is_true(jbo);

    const json_t *ji = member(root, "inputs");
    if (!ji) return cv_fail(ctx, CLEAVE_E_PARSE, "request: missing \"inputs\" (an array of input tensors)");
    if (!json_is_array(ji)) return cv_fail(ctx, CLEAVE_E_PARSE, "request: \"inputs\" is not an array");
    if (json_array_size(ji) == 0) return cv_fail(ctx, CLEAVE_E_INVALID, "request: \"inputs\" is empty");
    CV_TRY(parse_tensors(p, ji, req->inputs, &req->n_inputs, body, len, hlen, has_header));

    const json_t *jo = member(root, "outputs");
    if (!jo) return CLEAVE_OK;
    if (!json_is_array(jo)) return cv_fail(ctx, CLEAVE_E_PARSE, "request: \"outputs\" is not an array");
    if (json_array_size(jo) > NET_V2_MAX_TENSORS)
        return cv_fail(ctx, CLEAVE_E_LIMIT, "request: too many outputs: %zu (at most %d)", json_array_size(jo),
                       NET_V2_MAX_TENSORS);
    size_t k;
    json_t *o;
    json_array_foreach(jo, k, o) {
        net_v2_output_req *r = &req->outputs[k];
        const json_t *jn = json_is_object(o) ? member(o, "name") : NULL;
        if (!json_is_string(jn) || json_string_length(jn) == 0)
            return cv_fail(ctx, CLEAVE_E_PARSE, "request: output %zu has no \"name\" string", k);
        if (json_string_length(jn) >= NET_V2_NAME_MAX)
            return cv_fail(ctx, CLEAVE_E_LIMIT, "request: output %zu: name of %zu bytes is too long (at most %d)", k,
                           json_string_length(jn), NET_V2_NAME_MAX - 1);
        memcpy(r->name, json_string_value(jn), json_string_length(jn) + 1);
        for (size_t j = 0; j < k; j++)
            if (strcmp(req->outputs[j].name, r->name) == 0)
                return cv_fail(ctx, CLEAVE_E_INVALID, "request: output '%s' is requested twice", r->name);
        const json_t *op = member(o, "parameters");
        if (op && !json_is_object(op))
            return cv_fail(ctx, CLEAVE_E_PARSE, "request: output '%s': \"parameters\" is not an object", r->name);
        const json_t *jb = op ? member(op, "binary_data") : NULL;
        if (jb && !json_is_boolean(jb))
            return cv_fail(ctx, CLEAVE_E_INVALID, "request: output '%s': binary_data is not a boolean", r->name);
        r->binary = jb ? json_is_true(jb) : req->binary_output_default;
        req->n_outputs = (int)k + 1;
    }
    return CLEAVE_OK;
}

cleave_status net_v2_request_parse(cleave_ctx *ctx, const uint8_t *body, size_t len, const char *header_len,
                                   net_v2_request *req) {
    memset(req, 0, sizeof *req);
    v2_parse p = {ctx, "request", "input"};
    size_t hlen;
    json_t *root;
    CV_TRY(parse_json(&p, body, len, header_len, &hlen, &root));
    cleave_status st = request_body(&p, root, body, len, hlen, header_len != NULL, req);
    json_decref(root);
    if (st != CLEAVE_OK) net_v2_request_free(req);
    return st;
}

void net_v2_request_free(net_v2_request *req) {
    if (!req) return;
    free_tensors(req->inputs, req->n_inputs);
    memset(req, 0, sizeof *req);
}

static cleave_status response_body(const v2_parse *p, json_t *root, const uint8_t *body, size_t len, size_t hlen,
                                   int has_header, net_v2_response *r) {
    cleave_ctx *ctx = p->ctx;
    const json_t *je = member(root, "error");
    if (je)
        return cv_fail(ctx, CLEAVE_E_IO, "response: server error: %s",
                       json_is_string(je) ? json_string_value(je) : "(no message)");
    const json_t *jm = member(root, "model_name");
    if (!json_is_string(jm)) return cv_fail(ctx, CLEAVE_E_PARSE, "response: no \"model_name\" string");
    if (json_string_length(jm) >= NET_V2_NAME_MAX)
        return cv_fail(ctx, CLEAVE_E_LIMIT, "response: model_name is too long");
    memcpy(r->model_name, json_string_value(jm), json_string_length(jm) + 1);
    CV_TRY(parse_id(p, root, r->id));
    json_t *jp = member(root, "parameters");
    if (jp && !json_is_object(jp))
        return cv_fail(ctx, CLEAVE_E_PARSE, "response: \"parameters\" is not an object");
    if (jp) r->parameters = json_incref(jp);
    const json_t *jo = member(root, "outputs");
    if (!jo) return cv_fail(ctx, CLEAVE_E_PARSE, "response: missing \"outputs\"");
    if (!json_is_array(jo)) return cv_fail(ctx, CLEAVE_E_PARSE, "response: \"outputs\" is not an array");
    return parse_tensors(p, jo, r->outputs, &r->n_outputs, body, len, hlen, has_header);
}

cleave_status net_v2_response_parse(cleave_ctx *ctx, const uint8_t *body, size_t len, const char *header_len,
                                    net_v2_response *r) {
    memset(r, 0, sizeof *r);
    v2_parse p = {ctx, "response", "output"};
    size_t hlen;
    json_t *root;
    CV_TRY(parse_json(&p, body, len, header_len, &hlen, &root));
    cleave_status st = response_body(&p, root, body, len, hlen, header_len != NULL, r);
    json_decref(root);
    if (st != CLEAVE_OK) net_v2_response_free(r);
    return st;
}

void net_v2_response_free(net_v2_response *r) {
    if (!r) return;
    free_tensors(r->outputs, r->n_outputs);
    json_decref(r->parameters);
    memset(r, 0, sizeof *r);
}
