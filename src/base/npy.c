/* npy: parse the header dict ({'descr': '<f4', 'fortran_order': False,
 * 'shape': (1, 3)}) by hand, strictly, and copy the payload. */
#include "base/npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *descr;
    cv_dtype dt;
} k_descr[] = {{"<f4", CV_F32}, {"<f8", CV_F64}, {"<f2", CV_F16}, {"<i8", CV_I64},
               {"<i4", CV_I32}, {"<i2", CV_I16}, {"|i1", CV_I8},  {"|u1", CV_U8},
               {"<u2", CV_U16}, {"<u4", CV_U32}, {"<u8", CV_U64}, {"|b1", CV_BOOL},
               {"<b1", CV_BOOL}, {"|u1", CV_U8}};

static const char *find_key(const char *h, const char *key) {
    const char *p = strstr(h, key);
    if (!p) return NULL;
    p += strlen(key);
    while (*p == ' ' || *p == ':') p++;
    return p;
}

cleave_status cv_npy_load_bytes(cleave_ctx *ctx, const uint8_t *buf, size_t len, const char *what,
                                cv_tensor *out) {
    memset(out, 0, sizeof *out);
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return cv_fail(ctx, CLEAVE_E_PARSE, "%s: not a .npy file (bad magic)", what);
    int major = buf[6];
    size_t hlen, off;
    if (major == 1) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        off = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12) return cv_fail(ctx, CLEAVE_E_PARSE, "%s: truncated .npy header", what);
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        off = 12;
    } else {
        return cv_fail(ctx, CLEAVE_E_UNSUPPORTED, "%s: .npy format version %d is not supported", what,
                       major);
    }
    if (hlen > 65536 || off + hlen > len)
        return cv_fail(ctx, CLEAVE_E_PARSE, "%s: truncated or oversized .npy header", what);
    char h[65537];
    memcpy(h, buf + off, hlen);
    h[hlen] = 0;
    const char *d = find_key(h, "'descr'");
    if (!d || (*d != '\'' && *d != '"'))
        return cv_fail(ctx, CLEAVE_E_PARSE, "%s: .npy header has no descr", what);
    char descr[16] = {0};
    size_t i = 0;
    for (d++; *d && *d != '\'' && *d != '"' && i < sizeof descr - 1; d++) descr[i++] = *d;
    cv_dtype dt = CV_UNDEF;
    for (size_t k = 0; k < sizeof k_descr / sizeof k_descr[0]; k++)
        if (!strcmp(descr, k_descr[k].descr)) dt = k_descr[k].dt;
    if (dt == CV_UNDEF)
        return cv_fail(ctx, CLEAVE_E_UNSUPPORTED,
                       "%s: .npy dtype '%s' is not supported (little-endian numeric only)", what, descr);
    const char *fo = find_key(h, "'fortran_order'");
    if (fo && !strncmp(fo, "True", 4))
        return cv_fail(ctx, CLEAVE_E_UNSUPPORTED, "%s: Fortran-order .npy arrays are not supported", what);
    const char *s = find_key(h, "'shape'");
    if (!s || *s != '(') return cv_fail(ctx, CLEAVE_E_PARSE, "%s: .npy header has no shape", what);
    s++;
    int nd = 0;
    int64_t numel = 1;
    while (*s && *s != ')') {
        while (*s == ' ' || *s == ',') s++;
        if (*s == ')') break;
        char *e;
        long long v = strtoll(s, &e, 10);
        if (e == s || v < 0 || nd >= CV_MAX_DIMS || (v && numel > CV_MAX_ELEMS / v))
            return cv_fail(ctx, CLEAVE_E_PARSE, "%s: invalid .npy shape", what);
        out->dims[nd++] = v;
        numel *= v;
        s = e;
    }
    out->ndim = nd;
    out->dtype = dt;
    size_t bytes = (size_t)numel * cv_dtype_size(dt);
    if (off + hlen + bytes > len)
        return cv_fail(ctx, CLEAVE_E_PARSE, "%s: .npy payload is %zu bytes, shape needs %zu", what,
                       len - off - hlen, bytes);
    out->data = cv_aligned_alloc(bytes);
    if (!out->data) return cv_fail(ctx, CLEAVE_E_NOMEM, "%s: out of memory", what);
    memcpy(out->data, buf + off + hlen, bytes);
    return CLEAVE_OK;
}

cleave_status cv_npy_load(cleave_ctx *ctx, const char *path, cv_tensor *out) {
    uint8_t *buf;
    size_t len;
    CV_TRY(cv_read_file(ctx, path, (size_t)1 << 34, &buf, &len));
    cleave_status st = cv_npy_load_bytes(ctx, buf, len, path, out);
    cv_free(buf);
    return st;
}

cleave_status cv_npy_save(cleave_ctx *ctx, const char *path, const cv_tensor *t) {
    const char *descr = NULL;
    for (size_t k = 0; k < sizeof k_descr / sizeof k_descr[0] && !descr; k++)
        if (k_descr[k].dt == t->dtype) descr = k_descr[k].descr;
    if (!descr)
        return cv_fail(ctx, CLEAVE_E_UNSUPPORTED, "%s: dtype %s cannot be written as .npy", path,
                       cv_dtype_name(t->dtype));
    char shape[256] = "";
    size_t o = 0;
    for (int i = 0; i < t->ndim; i++)
        o += (size_t)snprintf(shape + o, sizeof shape - o, "%lld,%s", (long long)t->dims[i],
                              i + 1 < t->ndim ? " " : "");
    if (t->ndim > 1) shape[o - 1] = 0; /* (2, 3) not (2, 3,) */
    char h[512];
    int n = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr,
                     shape);
    int total = 10 + n + 1, pad = (64 - total % 64) % 64;
    memset(h + n, ' ', (size_t)pad);
    h[n + pad] = '\n';
    int hl = n + pad + 1;
    FILE *f = fopen(path, "wb");
    if (!f) return cv_fail(ctx, CLEAVE_E_IO, "%s: cannot create", path);
    uint8_t pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)(hl & 0xff), (uint8_t)(hl >> 8)};
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(h, 1, (size_t)hl, f) == (size_t)hl &&
             fwrite(t->data, 1, cv_nbytes(t), f) == cv_nbytes(t);
    if (fclose(f) != 0) ok = 0;
    return ok ? CLEAVE_OK : cv_fail(ctx, CLEAVE_E_IO, "%s: write failed", path);
}
