/* raw: headerless little-endian float32 files whose shape the caller
 * knows (e.g. a tensor dumped by another tool). The file size must match
 * the shape exactly; it is checked before allocating. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "data/data.h"

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

cleave_status data_raw_f32_load(cleave_ctx *ctx, const char *path, int ndim, const int64_t *dims,
                                cv_tensor *out) {
    memset(out, 0, sizeof *out);
    if (ndim < 0 || ndim > CV_MAX_DIMS || (ndim > 0 && !dims))
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: raw float32 shape with %d dims (0..%d)", path,
                       ndim, CV_MAX_DIMS);
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (dims[d] < 0 || (dims[d] && numel > CV_MAX_ELEMS / dims[d]))
            return cv_fail(ctx, CLEAVE_E_LIMIT, "%s: raw float32 shape dim %d = %lld is invalid or too big",
                           path, d, (long long)dims[d]);
        numel *= dims[d];
    }
    size_t want = (size_t)numel * sizeof(float);
    FILE *f = fopen(path, "rb");
    if (!f) return cv_fail(ctx, CLEAVE_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return cv_fail(ctx, CLEAVE_E_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size != (uint64_t)want) {
        fclose(f);
        char shape[128];
        cv_shape_str(ndim, dims, shape, sizeof shape);
        return cv_fail(ctx, CLEAVE_E_INVALID,
                       "%s: raw float32 %s needs %zu bytes, the file has %lld", path, shape, want,
                       (long long)st.st_size);
    }
    float *data = cv_aligned_alloc(want);
    if (!data) {
        fclose(f);
        return cv_fail(ctx, CLEAVE_E_NOMEM, "%s: cannot allocate %zu bytes", path, want);
    }
    size_t got = want ? fread(data, 1, want, f) : 0;
    fclose(f);
    if (got != want) {
        cv_aligned_free(data);
        return cv_fail(ctx, CLEAVE_E_IO, "%s: read %zu of %zu bytes", path, got, want);
    }
    if (!host_is_little_endian()) {
        uint8_t *b = (uint8_t *)data;
        for (size_t i = 0; i < want; i += 4) {
            uint8_t t0 = b[i], t1 = b[i + 1];
            b[i] = b[i + 3], b[i + 1] = b[i + 2], b[i + 2] = t1, b[i + 3] = t0;
        }
    }
    out->dtype = CV_F32;
    out->ndim = ndim;
    for (int d = 0; d < ndim; d++) out->dims[d] = dims[d];
    out->data = data;
    return CLEAVE_OK;
}
