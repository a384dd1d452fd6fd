/* quant config: the bit-width configuration file (JSON, versioned; format in
 * docs/quantization.md) and its resolution into per-layer bit widths. Every
 * error names the file and the offending key. */
#include <jansson.h>
#include <string.h>

#include "quant/qgraph.h"

#define CONFIG_FORMAT "cleave-quant-config"
#define CONFIG_VERSION 1

void quant_config_uniform(quant_config *c, int w, int a) {
    memset(c, 0, sizeof *c);
    c->w_bits = w;
    c->a_bits = a;
    c->input_bits = a == QUANT_FLOAT ? QUANT_FLOAT : 8;
    c->w_method = Q_RANGE_MSE;
    c->a_method = Q_RANGE_MSE;
    c->a_param = 99.99;
}

void quant_config_free(quant_config *c) {
    for (int i = 0; i < c->n_over; i++) cv_free(c->over[i].name);
    cv_free(c->over);
    cv_free(c->source);
    memset(c, 0, sizeof *c);
}

static int bits_ok(int b) { return (b >= 2 && b <= 8) || b == QUANT_FLOAT; }

/* bits: an integer 2..8 or 32, or the string "float". */
static cleave_status get_bits(cleave_ctx *ctx, const char *file, const char *where, json_t *j,
                              int *out) {
    if (json_is_string(j) && !strcmp(json_string_value(j), "float")) {
        *out = QUANT_FLOAT;
        return CLEAVE_OK;
    }
    if (!json_is_integer(j) || !bits_ok((int)json_integer_value(j)))
        return cv_fail(ctx, CLEAVE_E_INVALID,
                       "%s: %s: bit width must be an integer 2..8 or 32 / \"float\" (got %s%lld)",
                       file, where, json_is_integer(j) ? "" : "a non-integer ",
                       json_is_integer(j) ? (long long)json_integer_value(j) : 0LL);
    *out = (int)json_integer_value(j);
    return CLEAVE_OK;
}

static cleave_status get_part(cleave_ctx *ctx, const char *file, const char *key, json_t *root,
                              int *bits, q_range_method *m, double *param) {
    json_t *o = json_object_get(root, key);
    if (!o) return CLEAVE_OK;
    if (!json_is_object(o))
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: \"%s\" must be an object", file, key);
    char where[64];
    snprintf(where, sizeof where, "%s.bits", key);
    json_t *b = json_object_get(o, "bits");
    if (b) CV_TRY(get_bits(ctx, file, where, b, bits));
    json_t *jm = json_object_get(o, "method");
    if (jm && (!json_is_string(jm) || q_range_method_parse(json_string_value(jm), m)))
        return cv_fail(ctx, CLEAVE_E_INVALID,
                       "%s: %s.method: expected one of minmax, percentile, mse, aciq-laplace, "
                       "aciq-gauss",
                       file, key);
    json_t *jp = json_object_get(o, "percentile");
    if (jp && param) {
        double p = json_number_value(jp);
        if (!json_is_number(jp) || !(p > 50.0 && p <= 100.0))
            return cv_fail(ctx, CLEAVE_E_INVALID, "%s: %s.percentile must be a number in (50, 100]",
                           file, key);
        *param = p;
    }
    return CLEAVE_OK;
}

static cleave_status parse(cleave_ctx *ctx, const char *file, json_t *root, quant_config *c) {
    if (!json_is_object(root))
        return cv_fail(ctx, CLEAVE_E_PARSE, "%s: expected a JSON object", file);
    json_t *f = json_object_get(root, "format");
    if (f && (!json_is_string(f) || strcmp(json_string_value(f), CONFIG_FORMAT)))
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: \"format\" is not \"%s\"", file, CONFIG_FORMAT);
    json_t *v = json_object_get(root, "version");
    if (v && (!json_is_integer(v) || json_integer_value(v) != CONFIG_VERSION))
        return cv_fail(ctx, CLEAVE_E_UNSUPPORTED, "%s: unsupported version (this cleave reads %d)",
                       file, CONFIG_VERSION);
    CV_TRY(get_part(ctx, file, "weights", root, &c->w_bits, &c->w_method, NULL));
    CV_TRY(get_part(ctx, file, "activations", root, &c->a_bits, &c->a_method, &c->a_param));
    json_t *ib = json_object_get(root, "input_bits");
    if (ib) CV_TRY(get_bits(ctx, file, "input_bits", ib, &c->input_bits));
    json_t *layers = json_object_get(root, "layers");
    if (!layers) return CLEAVE_OK;
    if (!json_is_object(layers))
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: \"layers\" must be an object", file);
    size_t n = json_object_size(layers);
    if (n > 1000000) return cv_fail(ctx, CLEAVE_E_LIMIT, "%s: too many layers", file);
    c->over = cv_calloc(n + 1, sizeof *c->over);
    if (!c->over) return cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory", file);
    const char *name;
    json_t *o;
    json_object_foreach(layers, name, o) {
        quant_override *ov = &c->over[c->n_over];
        if (!json_is_object(o))
            return cv_fail(ctx, CLEAVE_E_INVALID, "%s: layers.%s must be an object like {\"w\": 4, "
                           "\"a\": 8}", file, name);
        ov->name = cv_strdup(name);
        if (!ov->name) return cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory", file);
        c->n_over++;
        const char *key;
        json_t *b;
        json_object_foreach(o, key, b) {
            char where[300];
            snprintf(where, sizeof where, "layers.%.200s.%.20s", name, key);
            if (!strcmp(key, "w")) CV_TRY(get_bits(ctx, file, where, b, &ov->w));
            else if (!strcmp(key, "a")) CV_TRY(get_bits(ctx, file, where, b, &ov->a));
            else
                return cv_fail(ctx, CLEAVE_E_INVALID, "%s: %s: unknown key (expected \"w\" or \"a\")",
                               file, where);
        }
    }
    return CLEAVE_OK;
}

cleave_status quant_config_load(cleave_ctx *ctx, const char *path, quant_config *c) {
    quant_config_uniform(c, 8, 8);
    json_error_t err;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return cv_fail(ctx, CLEAVE_E_PARSE, "%s:%d: %s", path, err.line, err.text);
    cleave_status s = parse(ctx, path, root, c);
    json_decref(root);
    if (!s) {
        c->source = cv_strdup(path);
        if (!c->source) s = cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory", path);
    }
    if (s) quant_config_free(c);
    return s;
}

static json_t *bits_json(int b) { return b == QUANT_FLOAT ? json_string("float") : json_integer(b); }

cleave_status quant_config_save(cleave_ctx *ctx, const char *path, const quant_config *c) {
    json_t *root = json_object();
    json_object_set_new(root, "format", json_string(CONFIG_FORMAT));
    json_object_set_new(root, "version", json_integer(CONFIG_VERSION));
    json_t *w = json_object(), *a = json_object();
    json_object_set_new(w, "bits", bits_json(c->w_bits));
    json_object_set_new(w, "method", json_string(q_range_method_name(c->w_method)));
    json_object_set_new(a, "bits", bits_json(c->a_bits));
    json_object_set_new(a, "method", json_string(q_range_method_name(c->a_method)));
    if (c->a_method == Q_RANGE_PERCENTILE) json_object_set_new(a, "percentile", json_real(c->a_param));
    json_object_set_new(root, "weights", w);
    json_object_set_new(root, "activations", a);
    json_object_set_new(root, "input_bits", bits_json(c->input_bits));
    json_t *layers = json_object();
    for (int i = 0; i < c->n_over; i++) {
        json_t *o = json_object();
        if (c->over[i].w) json_object_set_new(o, "w", bits_json(c->over[i].w));
        if (c->over[i].a) json_object_set_new(o, "a", bits_json(c->over[i].a));
        json_object_set_new(layers, c->over[i].name, o);
    }
    json_object_set_new(root, "layers", layers);
    int rc = json_dump_file(root, path, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(root);
    return rc ? cv_fail(ctx, CLEAVE_E_IO, "%s: cannot write", path) : CLEAVE_OK;
}

cleave_status quant_config_resolve(cleave_ctx *ctx, const quant_config *c, const quant_layer *l,
                                   int n, int *wbits, int *abits) {
    const char *file = c->source ? c->source : "bit configuration";
    if (!bits_ok(c->w_bits) || !bits_ok(c->a_bits) || !bits_ok(c->input_bits))
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: bit widths must be 2..8 or 32", file);
    for (int k = 0; k < n; k++) {
        wbits[k] = l[k].weight >= 0 ? c->w_bits : QUANT_FLOAT;
        abits[k] = l[k].act < 0 ? QUANT_FLOAT : l[k].node < 0 ? c->input_bits : c->a_bits;
    }
    for (int i = 0; i < c->n_over; i++) {
        const quant_override *o = &c->over[i];
        int k = quant_layer_index(l, n, o->name);
        if (k < 0)
            return cv_fail(ctx, CLEAVE_E_INVALID,
                           "%s: layer '%s' is not a quantization point of this model (see `cleave "
                           "inspect --layers`)",
                           file, o->name);
        if (o->w) {
            if (l[k].weight < 0 && o->w != QUANT_FLOAT)
                return cv_fail(ctx, CLEAVE_E_INVALID, "%s: layer '%s' has no weight to quantize",
                               file, o->name);
            wbits[k] = o->w;
        }
        if (o->a) {
            if (l[k].act < 0 && o->a != QUANT_FLOAT)
                return cv_fail(ctx, CLEAVE_E_INVALID,
                               "%s: layer '%s' has no quantizable activation (a graph output or a "
                               "view)",
                               file, o->name);
            abits[k] = o->a;
        }
    }
    return CLEAVE_OK;
}
