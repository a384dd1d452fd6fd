/* idx: IDX files of unsigned bytes (the MNIST family's format), gzipped or
 * plain: zlib's gzread passes plain files through, so one bounded reader
 * serves both. The header is read and checked, the payload size capped,
 * and only then is the payload allocated and read in chunks. */
#include <errno.h>
#include <string.h>
#include <zlib.h>

#include "data/data.h"

#define IDX_TYPE_U8 0x08
#define IDX_CHUNK ((unsigned)1 << 20)

/* Read up to len bytes; returns the count read, or -1 on a zlib error. */
static long long gz_read_all(gzFile f, uint8_t *dst, size_t len) {
    size_t got = 0;
    while (got < len) {
        size_t want = len - got < IDX_CHUNK ? len - got : IDX_CHUNK;
        int r = gzread(f, dst + got, (unsigned)want);
        if (r < 0) return -1;
        if (r == 0) break;
        got += (size_t)r;
    }
    return (long long)got;
}

/* zlib's message for the last error, or "" when there is none. */
static const char *gz_why(gzFile f) {
    int errnum = Z_OK;
    const char *msg = gzerror(f, &errnum);
    if (errnum == Z_OK || !msg) return "";
    return msg;
}

static cleave_status idx_read(cleave_ctx *ctx, gzFile f, const char *path, int ndim, data_idx *out) {
    uint8_t head[4 + 4 * DATA_IDX_MAX_DIMS];
    long long r = gz_read_all(f, head, 4);
    if (r < 0) return cv_fail(ctx, CLEAVE_E_IO, "%s: cannot decompress: %s", path, gz_why(f));
    if (r < 4)
        return cv_fail(ctx, CLEAVE_E_PARSE, "%s: not an IDX file: %lld bytes, the header needs 4",
                       path, r);
    if (head[0] != 0 || head[1] != 0)
        return cv_fail(ctx, CLEAVE_E_PARSE,
                       "%s: not an IDX file: magic starts 0x%02x%02x, expected 0x0000", path,
                       head[0], head[1]);
    if (head[2] != IDX_TYPE_U8)
        return cv_fail(ctx, CLEAVE_E_UNSUPPORTED,
                       "%s: IDX element type 0x%02x is not supported (unsigned byte 0x08 only)", path,
                       head[2]);
    if (head[3] != ndim)
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: IDX file has %d dims, expected %d", path, head[3],
                       ndim);
    r = gz_read_all(f, head + 4, 4 * (size_t)ndim);
    if (r < 0) return cv_fail(ctx, CLEAVE_E_IO, "%s: cannot decompress: %s", path, gz_why(f));
    if (r < 4 * ndim)
        return cv_fail(ctx, CLEAVE_E_PARSE, "%s: truncated IDX header (%lld of %d dim bytes)", path,
                       r, 4 * ndim);
    size_t size = 1;
    for (int d = 0; d < ndim; d++) {
        const uint8_t *p = head + 4 + 4 * d;
        uint32_t v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        if (v > INT32_MAX || (v == 0 && d > 0))
            return cv_fail(ctx, CLEAVE_E_INVALID, "%s: IDX dim %d is %u (must be in [%d, 2^31))",
                           path, d, v, d > 0);
        out->dims[d] = v;
        if (!cv_mul_size(size, v, &size) || size > DATA_IDX_MAX_BYTES)
            return cv_fail(ctx, CLEAVE_E_LIMIT, "%s: IDX payload exceeds the %zu-byte limit", path,
                           DATA_IDX_MAX_BYTES);
    }
    out->data = cv_malloc(size);
    if (!out->data) return cv_fail(ctx, CLEAVE_E_NOMEM, "%s: cannot allocate %zu bytes", path, size);
    out->ndim = ndim;
    out->size = size;
    r = gz_read_all(f, out->data, size);
    if (r < 0) return cv_fail(ctx, CLEAVE_E_IO, "%s: cannot decompress: %s", path, gz_why(f));
    if ((size_t)r < size) {
        const char *why = gz_why(f);
        return cv_fail(ctx, CLEAVE_E_PARSE, "%s: truncated: expected %zu data bytes, found %lld%s%s",
                       path, size, r, *why ? "; zlib: " : "", why);
    }
    uint8_t extra[64];
    r = gz_read_all(f, extra, sizeof extra);
    if (r < 0) return cv_fail(ctx, CLEAVE_E_IO, "%s: cannot decompress: %s", path, gz_why(f));
    if (r > 0)
        return cv_fail(ctx, CLEAVE_E_PARSE,
                       "%s: %s%lld bytes after the %zu data bytes the header announces", path,
                       r == (long long)sizeof extra ? "at least " : "", r, size);
    return CLEAVE_OK;
}

cleave_status data_idx_load(cleave_ctx *ctx, const char *path, int ndim, data_idx *out) {
    memset(out, 0, sizeof *out);
    if (ndim < 1 || ndim > DATA_IDX_MAX_DIMS)
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: asked for %d IDX dims (1..%d)", path, ndim,
                       DATA_IDX_MAX_DIMS);
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return cv_fail(ctx, CLEAVE_E_IO, "%s: cannot open: %s", path,
                       errno ? strerror(errno) : "zlib could not allocate its state");
    cleave_status s = idx_read(ctx, f, path, ndim, out);
    gzclose(f);
    if (s != CLEAVE_OK) data_idx_release(out);
    return s;
}

void data_idx_release(data_idx *idx) {
    if (!idx) return;
    cv_free(idx->data);
    memset(idx, 0, sizeof *idx);
}
