/* cost/device: "cleave-device" v1 files (docs/devices.md) to and from a
 * cost_device. Loading bounds the file, parses with jansson, reads each
 * field with its type and range and fills defaults for optional ones; every
 * error names the file and the field ("x.json: peak_gops.fp32: must be >
 * 0"). Unknown fields are ignored so newer files still load. */
#include "cost/device.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEV_MAX_FILE (1u << 20) /* a device file is a few hundred bytes */
#define DEV_MAX_CORES 4096
#define DEV_MAX_GOPS 1e6       /* GOP/s per core: 1 POP/s is not a CPU core */
#define DEV_MAX_BW 1e5         /* GB/s */
#define DEV_MAX_MEM 1125899906842624.0 /* 1 PiB */
#define DEV_MAX_OVERHEAD 1e6   /* us: one second per node */
#define DEV_MAX_FREQ 20.0      /* GHz */

/* Efficiency used when a class is missing from the file. Compute-bound
 * classes: what a tuned library reaches on typical layers; memory-bound
 * ones rarely hit the compute roof, their time comes from the bandwidth
 * term, so a low factor only matters when that term is small. */
static const double default_eff[COST_OP_N] = {
    0.80, /* conv */
    0.30, /* dwconv */
    0.80, /* gemm */
    0.20, /* pool */
    0.20, /* eltwise */
    0.10, /* norm */
    0.20, /* move */
    0.80, /* wconv (a file without it: its conv figure, rd_eff) */
};

double cost_device_default_efficiency(cost_op_class c) {
    return (unsigned)c < COST_OP_N ? default_eff[c] : 0.1;
}

/* ---- validation ---- */

static int bad_num(double v, double lo_excl, double hi) { return !isfinite(v) || v <= lo_excl || v > hi; }

cleave_status cost_device_validate(cleave_ctx *ctx, const char *where, const cost_device *d) {
    const char *w = where ? where : "device";
    if (!d->name[0]) return cv_fail(ctx, CLEAVE_E_INVALID, "%s: name: must not be empty", w);
    if (strcmp(d->kind, "edge") && strcmp(d->kind, "cloud") && strcmp(d->kind, "host"))
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: kind: '%s' is not edge, cloud or host", w, d->kind);
    if (d->cores < 1 || d->cores > DEV_MAX_CORES)
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: cores: %d is outside 1..%d", w, d->cores, DEV_MAX_CORES);
    if (!isfinite(d->freq_ghz) || d->freq_ghz < 0 || d->freq_ghz > DEV_MAX_FREQ)
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: freq_ghz: %g is outside 0..%g (0 = unknown)", w,
                       d->freq_ghz, DEV_MAX_FREQ);
    for (int t = 0; t < COST_DT_N; t++) {
        if (bad_num(d->peak_gops[t], 0, DEV_MAX_GOPS))
            return cv_fail(ctx, CLEAVE_E_INVALID, "%s: peak_gops.%s: %g must be > 0 and <= %g GOP/s per core",
                           w, cost_dtype_name((cost_dtype)t), d->peak_gops[t], DEV_MAX_GOPS);
        for (int c = 0; c < COST_OP_N; c++)
            if (bad_num(d->efficiency[t][c], 0, COST_EFF_MAX(c)))
                return cv_fail(ctx, CLEAVE_E_INVALID, "%s: efficiency.%s.%s: %g is outside (0, %g]", w,
                               cost_dtype_name((cost_dtype)t), cost_op_class_name((cost_op_class)c),
                               d->efficiency[t][c], COST_EFF_MAX(c));
    }
    if (bad_num(d->mem_bw_gbs, 0, DEV_MAX_BW))
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: mem_bw_gbs: %g must be > 0 and <= %g GB/s", w,
                       d->mem_bw_gbs, DEV_MAX_BW);
    if (bad_num(d->mem_bytes, 0, DEV_MAX_MEM) || d->mem_bytes < 1)
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: mem_bytes: %g must be >= 1 byte and <= 1 PiB", w,
                       d->mem_bytes);
    if (!isfinite(d->op_overhead_us) || d->op_overhead_us < 0 || d->op_overhead_us > DEV_MAX_OVERHEAD)
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: op_overhead_us: %g is outside 0..%g", w,
                       d->op_overhead_us, DEV_MAX_OVERHEAD);
    if (!d->has_parallel) return CLEAVE_OK;
    for (int t = 0; t < COST_DT_N; t++)
        for (int c = 0; c < COST_OP_N; c++)
            if (!isfinite(d->par_eff[t][c]) || d->par_eff[t][c] < 0 || d->par_eff[t][c] > 1)
                return cv_fail(ctx, CLEAVE_E_INVALID, "%s: parallel.efficiency.%s.%s: %g is outside 0..1 (the "
                               "speedup each extra core adds)", w, cost_dtype_name((cost_dtype)t),
                               cost_op_class_name((cost_op_class)c), d->par_eff[t][c]);
    if (!isfinite(d->mem_bw_1core_gbs) || d->mem_bw_1core_gbs < 0 || d->mem_bw_1core_gbs > d->mem_bw_gbs)
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: parallel.mem_bw_1core_gbs: %g is outside 0..mem_bw_gbs (%g; "
                       "0 = unknown)", w, d->mem_bw_1core_gbs, d->mem_bw_gbs);
    if (!isfinite(d->par_overhead_us) || d->par_overhead_us < 0 || d->par_overhead_us > DEV_MAX_OVERHEAD)
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: parallel.overhead_us: %g is outside 0..%g", w,
                       d->par_overhead_us, DEV_MAX_OVERHEAD);
    return CLEAVE_OK;
}

/* ---- reading ---- */

/* "256KiB", "4 MiB", "1GiB", "1.5GB", "65536" -> bytes. K/M/G/T and KiB..TiB
 * are powers of 1024, KB..TB powers of 1000. Returns 0 on a bad string. */
int cost_parse_bytes(const char *s, double *out) {
    char *e;
    errno = 0;
    double v = strtod(s, &e);
    if (e == s || errno || !isfinite(v) || v < 0) return 0;
    while (*e == ' ') e++;
    static const struct { const char *suf; double mul; } units[] = {
        {"", 1},          {"B", 1},         {"K", 1024.0},   {"KiB", 1024.0},       {"KB", 1e3},
        {"k", 1024.0},    {"kB", 1e3},      {"M", 1048576.0}, {"MiB", 1048576.0},   {"MB", 1e6},
        {"G", 1073741824.0}, {"GiB", 1073741824.0}, {"GB", 1e9}, {"T", 1099511627776.0},
        {"TiB", 1099511627776.0}, {"TB", 1e12}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcmp(e, units[i].suf)) {
            *out = v * units[i].mul;
            return 1;
        }
    return 0;
}

typedef struct rd {
    cleave_ctx *ctx;
    const char *file;
} rd;

/* Number field: required or (optional, *present = 0). */
static cleave_status rd_num(rd *r, json_t *obj, const char *key, const char *label, int required,
                            double *out, int *present) {
    json_t *v = json_object_get(obj, key);
    if (present) *present = v != NULL;
    if (!v) {
        if (required) return cv_fail(r->ctx, CLEAVE_E_INVALID, "%s: %s: missing (required)", r->file, label);
        return CLEAVE_OK;
    }
    if (!json_is_number(v))
        return cv_fail(r->ctx, CLEAVE_E_INVALID, "%s: %s: expected a number", r->file, label);
    *out = json_number_value(v);
    return CLEAVE_OK;
}

/* String field copied into buf (bounded; too long is an error). */
static cleave_status rd_str(rd *r, json_t *obj, const char *key, int required, char *buf, size_t cap) {
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required) return cv_fail(r->ctx, CLEAVE_E_INVALID, "%s: %s: missing (required)", r->file, key);
        buf[0] = 0;
        return CLEAVE_OK;
    }
    if (!json_is_string(v))
        return cv_fail(r->ctx, CLEAVE_E_INVALID, "%s: %s: expected a string", r->file, key);
    size_t n = json_string_length(v);
    if (n >= cap)
        return cv_fail(r->ctx, CLEAVE_E_LIMIT, "%s: %s: %zu characters, at most %zu allowed", r->file, key,
                       n, cap - 1);
    if (memchr(json_string_value(v), 0, n))
        return cv_fail(r->ctx, CLEAVE_E_INVALID, "%s: %s: contains a NUL character", r->file, key);
    memcpy(buf, json_string_value(v), n + 1);
    return CLEAVE_OK;
}

/* efficiency.<dtype>: object of class -> factor; missing classes default. */
static cleave_status rd_eff(rd *r, json_t *eff, cost_dtype t, cost_device *d) {
    const char *tn = cost_dtype_name(t);
    for (int c = 0; c < COST_OP_N; c++) d->efficiency[t][c] = default_eff[c];
    json_t *o = eff ? json_object_get(eff, tn) : NULL;
    if (!o) return CLEAVE_OK;
    if (!json_is_object(o))
        return cv_fail(r->ctx, CLEAVE_E_INVALID, "%s: efficiency.%s: expected an object", r->file, tn);
    int has_wconv = 0;
    for (int c = 0; c < COST_OP_N; c++) {
        char label[64];
        snprintf(label, sizeof label, "efficiency.%s.%s", tn, cost_op_class_name((cost_op_class)c));
        double v = 0;
        int present = 0;
        CV_TRY(rd_num(r, o, cost_op_class_name((cost_op_class)c), label, 0, &v, &present));
        if (!present) continue;
        if (bad_num(v, 0, COST_EFF_MAX(c)))
            return cv_fail(r->ctx, CLEAVE_E_INVALID, "%s: %s: %g is outside (0, %g]", r->file, label, v,
                           COST_EFF_MAX(c));
        d->efficiency[t][c] = v;
        has_wconv |= c == COST_OP_WCONV;
    }
    /* no figure for Winograd-eligible convs: a device without Winograd
     * runs them as any other conv */
    if (!has_wconv) d->efficiency[t][COST_OP_WCONV] = d->efficiency[t][COST_OP_CONV];
    if (t == COST_DT_FP32) d->winograd = has_wconv;
    return CLEAVE_OK;
}

/* parallel: {mem_bw_1core_gbs, overhead_us, efficiency: {fp32: {class:
 * 0..1}, int8: {...}}}, all optional inside; absent: linear scaling. */
static cleave_status rd_parallel(rd *r, json_t *root, cost_device *d) {
    for (int t = 0; t < COST_DT_N; t++)
        for (int c = 0; c < COST_OP_N; c++) d->par_eff[t][c] = 1.0;
    json_t *p = json_object_get(root, "parallel");
    d->has_parallel = p != NULL;
    if (!p) return CLEAVE_OK;
    if (!json_is_object(p))
        return cv_fail(r->ctx, CLEAVE_E_INVALID, "%s: parallel: expected an object", r->file);
    CV_TRY(rd_num(r, p, "mem_bw_1core_gbs", "parallel.mem_bw_1core_gbs", 0, &d->mem_bw_1core_gbs, NULL));
    CV_TRY(rd_num(r, p, "overhead_us", "parallel.overhead_us", 0, &d->par_overhead_us, NULL));
    json_t *eff = json_object_get(p, "efficiency");
    if (!eff) return CLEAVE_OK;
    if (!json_is_object(eff))
        return cv_fail(r->ctx, CLEAVE_E_INVALID, "%s: parallel.efficiency: expected an object {fp32, int8}",
                       r->file);
    for (int t = 0; t < COST_DT_N; t++) {
        const char *tn = cost_dtype_name((cost_dtype)t);
        json_t *o = json_object_get(eff, tn);
        if (!o) continue;
        if (!json_is_object(o))
            return cv_fail(r->ctx, CLEAVE_E_INVALID, "%s: parallel.efficiency.%s: expected an object", r->file, tn);
        for (int c = 0; c < COST_OP_N; c++) {
            char label[80];
            snprintf(label, sizeof label, "parallel.efficiency.%s.%s", tn, cost_op_class_name((cost_op_class)c));
            CV_TRY(rd_num(r, o, cost_op_class_name((cost_op_class)c), label, 0, &d->par_eff[t][c], NULL));
        }
    }
    return CLEAVE_OK;
}

static cleave_status rd_sources(rd *r, json_t *root, cost_device *d) {
    json_t *s = json_object_get(root, "sources");
    d->sources[0] = 0;
    if (!s) return CLEAVE_OK;
    if (json_is_string(s)) return rd_str(r, root, "sources", 0, d->sources, sizeof d->sources);
    if (!json_is_array(s))
        return cv_fail(r->ctx, CLEAVE_E_INVALID, "%s: sources: expected an array of strings", r->file);
    size_t len = 0, i;
    json_t *e;
    json_array_foreach(s, i, e) {
        if (!json_is_string(e))
            return cv_fail(r->ctx, CLEAVE_E_INVALID, "%s: sources[%zu]: expected a string", r->file, i);
        size_t n = json_string_length(e), sep = len ? 2 : 0;
        if (len + sep + n >= sizeof d->sources)
            return cv_fail(r->ctx, CLEAVE_E_LIMIT, "%s: sources: longer than %zu characters in all",
                           r->file, sizeof d->sources - 1);
        if (sep) memcpy(d->sources + len, "; ", 2);
        memcpy(d->sources + len + sep, json_string_value(e), n);
        len += sep + n;
        d->sources[len] = 0;
    }
    return CLEAVE_OK;
}

static cleave_status rd_device(rd *r, json_t *root, cost_device *d) {
    if (!json_is_object(root))
        return cv_fail(r->ctx, CLEAVE_E_PARSE, "%s: expected a JSON object at the top level", r->file);
    json_t *f = json_object_get(root, "format");
    if (!f) return cv_fail(r->ctx, CLEAVE_E_INVALID, "%s: format: missing (required: \"cleave-device\")", r->file);
    if (!json_is_string(f) || strcmp(json_string_value(f), "cleave-device"))
        return cv_fail(r->ctx, CLEAVE_E_INVALID, "%s: format: expected \"cleave-device\"", r->file);
    json_t *ver = json_object_get(root, "version");
    if (!ver) return cv_fail(r->ctx, CLEAVE_E_INVALID, "%s: version: missing (required)", r->file);
    if (!json_is_integer(ver) || json_integer_value(ver) != COST_DEVICE_VERSION)
        return cv_fail(r->ctx, CLEAVE_E_UNSUPPORTED, "%s: version: only version %d is supported", r->file,
                       COST_DEVICE_VERSION);
    CV_TRY(rd_str(r, root, "name", 1, d->name, sizeof d->name));
    CV_TRY(rd_str(r, root, "kind", 1, d->kind, sizeof d->kind));
    CV_TRY(rd_str(r, root, "description", 0, d->description, sizeof d->description));
    CV_TRY(rd_str(r, root, "calibrated", 0, d->calibrated, sizeof d->calibrated));

    json_t *cores = json_object_get(root, "cores");
    if (!cores) return cv_fail(r->ctx, CLEAVE_E_INVALID, "%s: cores: missing (required)", r->file);
    if (!json_is_integer(cores))
        return cv_fail(r->ctx, CLEAVE_E_INVALID, "%s: cores: expected an integer", r->file);
    json_int_t nc = json_integer_value(cores);
    if (nc < 1 || nc > DEV_MAX_CORES)
        return cv_fail(r->ctx, CLEAVE_E_INVALID, "%s: cores: %lld is outside 1..%d", r->file, (long long)nc,
                       DEV_MAX_CORES);
    d->cores = (int)nc;
    CV_TRY(rd_num(r, root, "freq_ghz", "freq_ghz", 0, &d->freq_ghz, NULL));

    json_t *pk = json_object_get(root, "peak_gops");
    if (!pk) return cv_fail(r->ctx, CLEAVE_E_INVALID, "%s: peak_gops: missing (required)", r->file);
    if (!json_is_object(pk))
        return cv_fail(r->ctx, CLEAVE_E_INVALID, "%s: peak_gops: expected an object {fp32, int8}", r->file);
    CV_TRY(rd_num(r, pk, "fp32", "peak_gops.fp32", 1, &d->peak_gops[COST_DT_FP32], NULL));
    CV_TRY(rd_num(r, pk, "int8", "peak_gops.int8", 1, &d->peak_gops[COST_DT_INT8], NULL));
    /* peak_gops.int4 may be present: sub-8-bit weights compute as int8, so it is not read */

    json_t *eff = json_object_get(root, "efficiency");
    if (eff && !json_is_object(eff))
        return cv_fail(r->ctx, CLEAVE_E_INVALID, "%s: efficiency: expected an object {fp32, int8}", r->file);
    CV_TRY(rd_eff(r, eff, COST_DT_FP32, d));
    CV_TRY(rd_eff(r, eff, COST_DT_INT8, d));

    CV_TRY(rd_num(r, root, "mem_bw_gbs", "mem_bw_gbs", 1, &d->mem_bw_gbs, NULL));
    json_t *mb = json_object_get(root, "mem_bytes");
    if (!mb) return cv_fail(r->ctx, CLEAVE_E_INVALID, "%s: mem_bytes: missing (required)", r->file);
    if (json_is_number(mb)) {
        d->mem_bytes = json_number_value(mb);
    } else if (json_is_string(mb)) {
        if (json_string_length(mb) > 64 || !cost_parse_bytes(json_string_value(mb), &d->mem_bytes))
            return cv_fail(r->ctx, CLEAVE_E_INVALID,
                           "%s: mem_bytes: '%.64s' is not a size (e.g. 262144, \"256KiB\", \"4MiB\", \"1GiB\")",
                           r->file, json_string_value(mb));
    } else {
        return cv_fail(r->ctx, CLEAVE_E_INVALID, "%s: mem_bytes: expected a number or a string like \"4MiB\"",
                       r->file);
    }
    CV_TRY(rd_num(r, root, "op_overhead_us", "op_overhead_us", 1, &d->op_overhead_us, NULL));
    CV_TRY(rd_parallel(r, root, d));
    CV_TRY(rd_sources(r, root, d));
    return cost_device_validate(r->ctx, r->file, d);
}

cleave_status cost_device_load(cleave_ctx *ctx, const char *path, cost_device *d) {
    uint8_t *data = NULL;
    size_t len = 0;
    memset(d, 0, sizeof *d);
    cleave_status st = cv_read_file(ctx, path, DEV_MAX_FILE, &data, &len);
    if (st) return st;
    json_error_t err;
    json_t *root = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &err);
    cv_free(data);
    if (!root)
        return cv_fail(ctx, CLEAVE_E_PARSE, "%s: line %d, column %d: not valid JSON: %s", path, err.line,
                       err.column, err.text);
    rd r = {ctx, path};
    st = rd_device(&r, root, d);
    json_decref(root);
    if (st) memset(d, 0, sizeof *d);
    return st;
}

/* ---- writing ---- */

static int put(json_t *o, const char *key, json_t *v) { return v && !json_object_set_new(o, key, v); }

/* Figures are written with 6 significant digits: plenty for a model whose
 * inputs are themselves noisy, and the file stays readable. */
static double round6(double v) {
    if (v == 0 || !isfinite(v)) return v;
    char b[40];
    snprintf(b, sizeof b, "%.6g", v);
    return strtod(b, NULL);
}

static json_t *device_json(const cost_device *d) {
    json_t *o = json_object(), *pk = json_object(), *eff = json_object();
    int ok = o && pk && eff;
    ok = ok && put(o, "format", json_string("cleave-device"));
    ok = ok && put(o, "version", json_integer(COST_DEVICE_VERSION));
    ok = ok && put(o, "name", json_string(d->name));
    ok = ok && put(o, "kind", json_string(d->kind));
    ok = ok && put(o, "description", json_string(d->description));
    ok = ok && put(o, "cores", json_integer(d->cores));
    ok = ok && put(o, "freq_ghz", json_real(round6(d->freq_ghz)));
    for (int t = 0; t < COST_DT_N && ok; t++) {
        ok = put(pk, cost_dtype_name((cost_dtype)t), json_real(round6(d->peak_gops[t])));
        json_t *e = json_object();
        for (int c = 0; c < COST_OP_N && ok && e; c++)
            if (c != COST_OP_WCONV || (t == COST_DT_FP32 && d->winograd))
                ok = put(e, cost_op_class_name((cost_op_class)c), json_real(round6(d->efficiency[t][c])));
        ok = ok && put(eff, cost_dtype_name((cost_dtype)t), e);
    }
    ok = ok && put(o, "peak_gops", pk);
    pk = NULL;
    ok = ok && put(o, "efficiency", eff);
    eff = NULL;
    ok = ok && put(o, "mem_bw_gbs", json_real(round6(d->mem_bw_gbs)));
    /* an integer when it is one, so a file says 262144 rather than 262144.0 */
    if (ok && d->mem_bytes == floor(d->mem_bytes) && d->mem_bytes < 9e15)
        ok = put(o, "mem_bytes", json_integer((json_int_t)d->mem_bytes));
    else if (ok)
        ok = put(o, "mem_bytes", json_real(round6(d->mem_bytes)));
    ok = ok && put(o, "op_overhead_us", json_real(round6(d->op_overhead_us)));
    if (ok && d->has_parallel) {
        /* put() hands its value over (jansson frees it on failure too) */
        json_t *par = json_object(), *pe = json_object();
        ok = par && pe;
        if (ok && d->mem_bw_1core_gbs > 0) ok = put(par, "mem_bw_1core_gbs", json_real(round6(d->mem_bw_1core_gbs)));
        ok = ok && put(par, "overhead_us", json_real(round6(d->par_overhead_us)));
        for (int t = 0; t < COST_DT_N && ok; t++) {
            json_t *e = json_object();
            ok = e != NULL;
            for (int c = 0; c < COST_OP_N && ok; c++)
                ok = put(e, cost_op_class_name((cost_op_class)c), json_real(round6(d->par_eff[t][c])));
            if (ok) ok = put(pe, cost_dtype_name((cost_dtype)t), e);
            else json_decref(e);
        }
        if (ok) ok = put(par, "efficiency", pe);
        else json_decref(pe);
        if (ok) ok = put(o, "parallel", par);
        else json_decref(par);
    }
    json_t *src = json_array();
    ok = ok && src && !json_array_append_new(src, json_string(d->sources));
    ok = ok && put(o, "sources", src);
    if (ok && d->calibrated[0]) ok = put(o, "calibrated", json_string(d->calibrated));
    if (!ok) {
        json_decref(o);
        json_decref(pk);
        json_decref(eff);
        return NULL;
    }
    return o;
}

cleave_status cost_device_save(cleave_ctx *ctx, const char *path, const cost_device *d) {
    /* the fixed-size strings must be terminated before they go anywhere */
    if (!memchr(d->name, 0, sizeof d->name) || !memchr(d->kind, 0, sizeof d->kind) ||
        !memchr(d->description, 0, sizeof d->description) || !memchr(d->sources, 0, sizeof d->sources) ||
        !memchr(d->calibrated, 0, sizeof d->calibrated))
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: a text field of the device is not terminated", path);
    CV_TRY(cost_device_validate(ctx, path, d));
    json_t *o = device_json(d);
    if (!o) return cv_fail(ctx, CLEAVE_E_NOMEM, "%s: cannot build the device JSON (out of memory, or a text field is not UTF-8)", path);
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(o);
    if (!text) return cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory writing the device JSON", path);
    size_t n = strlen(text);
    char *buf = cv_malloc(n + 2);
    cleave_status st;
    if (!buf) {
        st = cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory", path);
    } else {
        memcpy(buf, text, n);
        buf[n] = '\n';
        st = cv_write_file(ctx, path, buf, n + 1);
    }
    cv_free(buf);
    free(text); /* jansson allocates with malloc by default */
    return st;
}
