/* net/v2: KServe v2 / Open Inference Protocol bodies (docs/wire.md): the
 * datatype names, request and response parsing (pure JSON or the binary-data
 * extension) and encoding, with cleave's packed low-bit tensors. Everything
 * from the network is checked before anything is allocated for it; JSON
 * "data" is converted once into the raw little-endian bytes a binary section
 * would carry, so callers see one representation. Compression: codec.c. */
#include "net/v2.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "quant/quant.h"

/* The wire is little-endian; tensors are sent and read as host bytes. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "net/v2 assumes a little-endian host"
#endif

#define V2_DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)
#define V2_ID_MAX ((int)sizeof(((net_v2_request *)0)->id))

/* ---- datatypes ---- */

static const struct {
    const char *name;
    cv_dtype t;
} v2_types[] = {
    {"BOOL", CV_BOOL}, {"UINT8", CV_U8}, {"UINT16", CV_U16}, {"UINT32", CV_U32},
    {"UINT64", CV_U64}, {"INT8", CV_I8}, {"INT16", CV_I16},  {"INT32", CV_I32},
    {"INT64", CV_I64}, {"FP16", CV_F16}, {"FP32", CV_F32},   {"FP64", CV_F64},
    {"BYTES", CV_STRING}, /* known so that it can be refused by name */
};

cv_dtype net_v2_dtype_parse(const char *name) {
    if (!name) return CV_UNDEF;
    for (size_t i = 0; i < sizeof v2_types / sizeof v2_types[0]; i++)
        if (strcmp(name, v2_types[i].name) == 0) return v2_types[i].t;
    return CV_UNDEF;
}

const char *net_v2_dtype_name(cv_dtype t) {
    for (size_t i = 0; i < sizeof v2_types / sizeof v2_types[0]; i++)
        if (v2_types[i].t == t) return v2_types[i].name;
    return NULL;
}

/* Integer dtypes: width in bits and signedness; 0 for the others. */
static int int_bits(cv_dtype t, int *is_signed) {
    *is_signed = t == CV_I8 || t == CV_I16 || t == CV_I32 || t == CV_I64;
    switch (t) {
    case CV_U8: case CV_I8: return 8;
    case CV_U16: case CV_I16: return 16;
    case CV_U32: case CV_I32: return 32;
    case CV_U64: case CV_I64: return 64;
    default: return 0;
    }
}

/* ---- growable buffer ---- */

cleave_status net_buf_reserve(cleave_ctx *ctx, net_buf *b, size_t n) {
    if (b->cap - b->len >= n) return CLEAVE_OK;
    if (n > SIZE_MAX / 2 - b->len)
        return cv_fail(ctx, CLEAVE_E_LIMIT, "buffer of %zu + %zu bytes is too large", b->len, n);
    size_t need = b->len + n, cap = b->cap < 256 ? 256 : b->cap;
    while (cap < need) cap *= 2;
    uint8_t *p = cv_realloc(b->data, cap);
    if (!p) return cv_fail(ctx, CLEAVE_E_NOMEM, "out of memory for a %zu-byte buffer", cap);
    b->data = p;
    b->cap = cap;
    return CLEAVE_OK;
}

cleave_status net_buf_append(cleave_ctx *ctx, net_buf *b, const void *p, size_t n) {
    if (n == 0) return CLEAVE_OK;
    /* p may point into b itself: find it again after a realloc */
    uintptr_t at = (uintptr_t)p, lo = (uintptr_t)b->data;
    int inside = b->data && at >= lo && at < lo + b->len;
    CV_TRY(net_buf_reserve(ctx, b, n));
    if (inside) p = b->data + (at - lo);
    memmove(b->data + b->len, p, n);
    b->len += n;
    return CLEAVE_OK;
}

void net_buf_free(net_buf *b) {
    cv_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---- JSON values <-> raw elements ---- */

enum { PUT_OK, PUT_TYPE, PUT_FRAC, PUT_RANGE };

/* Store JSON value v as one element of dtype t at dst. */
static int put_value(const json_t *v, cv_dtype t, uint8_t *dst) {
    if (t == CV_BOOL) {
        if (!json_is_boolean(v)) return PUT_TYPE;
        *dst = json_is_true(v) ? 1 : 0;
        return PUT_OK;
    }
    if (!json_is_number(v)) return PUT_TYPE;
    int sgn, bits = int_bits(t, &sgn);
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
    int sgn, bits = int_bits(t, &sgn);
    uint64_t u = 0;
    memcpy(&u, p, (size_t)bits / 8);
    if (sgn) { /* sign-extend the low `bits` */
        int sh = 64 - bits;
        return json_integer((json_int_t)((int64_t)(u << sh) >> sh));
    }
    if (u > INT64_MAX) { *unrepresentable = 1; return NULL; }
    return json_integer((json_int_t)u);
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

/* ---- decoding ---- */

cleave_status net_v2_tensor_decode(cleave_ctx *ctx, const net_v2_tensor *t, cv_tensor *out) {
    memset(out, 0, sizeof *out);
    if (t->ndim < 0 || t->ndim > CV_MAX_DIMS)
        return cv_fail(ctx, CLEAVE_E_INVALID, "tensor '%s': bad rank %d", t->name, t->ndim);
    int64_t numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        if (t->dims[d] < 0 || (t->dims[d] > 0 && numel > CV_MAX_ELEMS / t->dims[d]))
            return cv_fail(ctx, CLEAVE_E_INVALID, "tensor '%s': bad shape", t->name);
        numel *= t->dims[d];
    }
    size_t es = cv_dtype_size(t->dtype);
    size_t need = t->quant_bits ? q_packed_bytes((size_t)numel, t->quant_bits) : (size_t)numel * es;
    if (!net_v2_dtype_name(t->dtype) || t->dtype == CV_STRING || need != t->nbytes || (need && !t->data) ||
        (t->quant_bits && (t->dtype != CV_U8 || t->quant_bits > 8 || !(t->quant_scale > 0))))
        return cv_fail(ctx, CLEAVE_E_INVALID, "tensor '%s': inconsistent tensor (dtype, quantization or %zu bytes)",
                       t->name, t->nbytes);
    out->ndim = t->ndim;
    memcpy(out->dims, t->dims, sizeof out->dims);
    out->dtype = t->quant_bits ? CV_F32 : t->dtype;
    size_t nb = (size_t)numel * cv_dtype_size(out->dtype);
    out->data = cv_aligned_alloc(nb);
    if (!out->data) return cv_fail(ctx, CLEAVE_E_NOMEM, "tensor '%s': out of memory for %zu bytes", t->name, nb);
    if (!t->quant_bits) {
        if (nb) memcpy(out->data, t->data, nb);
        if (t->dtype == CV_BOOL) /* a nonzero byte is true */
            for (size_t i = 0; i < nb; i++) ((uint8_t *)out->data)[i] = ((uint8_t *)out->data)[i] != 0;
        return CLEAVE_OK;
    }
    /* value per code, computed as scale * (code - zero_point) in float */
    float lut[256];
    int bits = t->quant_bits, ncodes = 1 << bits;
    for (int c = 0; c < ncodes; c++) lut[c] = t->quant_scale * (float)((int64_t)c - t->quant_zero_point);
    float *x = out->data;
    const uint8_t *in = t->data;
    if (bits == 8) { /* one code per byte: straight through the table */
        for (size_t i = 0; i < (size_t)numel; i++) x[i] = lut[in[i]];
        return CLEAVE_OK;
    }
    if (8 % bits == 0) {
        /* 1, 2 or 4 bits: k = 8/bits whole codes per byte, so a table of the
         * k values of each byte value turns a byte into k floats in one copy
         * (100352 codes, best of 200: 4-bit 0.047 -> 0.019 ms, 1-bit 0.023 -> 0.008) */
        enum { K_MAX = 8 };
        float byte_lut[256][K_MAX];
        int k = 8 / bits;
        for (int b = 0; b < 256; b++)
            for (int j = 0; j < k; j++) byte_lut[b][j] = lut[(b >> (j * bits)) & (ncodes - 1)];
        size_t full = (size_t)numel / (size_t)k, rest = (size_t)numel % (size_t)k;
        /* constant-size copies per width, so they compile to plain moves */
#define V2_UNPACK_BYTES(K)                                                            \
    for (size_t i = 0; i < full; i++) memcpy(x + i * (K), byte_lut[in[i]], sizeof(float) * (K))
        if (k == 2) V2_UNPACK_BYTES(2);
        else if (k == 4) V2_UNPACK_BYTES(4);
        else V2_UNPACK_BYTES(8);
#undef V2_UNPACK_BYTES
        if (rest) memcpy(x + full * (size_t)k, byte_lut[in[full]], sizeof(float) * rest);
        return CLEAVE_OK;
    }
    /* 3, 5, 6, 7 bits (codes straddle bytes): 8 codes fill exactly `bits`
     * bytes, so each group of 8 is one little-endian word and 8 shifts (the
     * word read as 8 bytes while they lie within the data; 100352 6-bit
     * codes 0.103 -> 0.028 ms); the last partial group through q_unpack_u */
    size_t groups = (size_t)numel / 8, g = 0, mask = (size_t)ncodes - 1;
    for (; g < groups; g++) {
        uint64_t w = 0;
        const uint8_t *p = in + g * (size_t)bits;
        if (g * (size_t)bits + 8 <= t->nbytes) memcpy(&w, p, 8);
        else memcpy(&w, p, (size_t)bits);
        float *y = x + g * 8;
        for (int j = 0; j < 8; j++) y[j] = lut[(w >> (j * bits)) & mask];
    }
    size_t left = (size_t)numel - groups * 8;
    if (left) {
        uint8_t codes[8];
        q_unpack_u(in + groups * (size_t)bits, left, bits, codes);
        for (size_t k = 0; k < left; k++) x[groups * 8 + k] = lut[codes[k]];
    }
    return CLEAVE_OK;
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
