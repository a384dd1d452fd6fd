/* dataset: a Fashion-MNIST style split (u8 images [N,H,W] + labels [N]) in
 * memory, and the batches the models take: float input preprocessed
 * exactly as in training (u8/255, bilinear half-pixel resize, normalise)
 * and the u8 resized image a cloud-only baseline transmits. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/data.h"

struct data_dataset {
    int count, height, width;
    uint8_t *images; /* count*height*width, row-major */
    uint8_t *labels; /* count */
};

const char *data_fmnist_dir(void) {
    const char *e = getenv("CLEAVE_FMNIST_DIR");
    return e && *e ? e : DATA_FMNIST_DIR;
}

/* DIR/NAME.gz when it exists, else DIR/NAME. */
static cleave_status pick_file(cleave_ctx *ctx, const char *dir, const char *name, char *buf,
                               size_t n) {
    struct stat st;
    int len = snprintf(buf, n, "%s/%s.gz", dir, name);
    if (len < 0 || (size_t)len >= n)
        return cv_fail(ctx, CLEAVE_E_LIMIT, "%s: dataset folder path too long", dir);
    if (stat(buf, &st) == 0) return CLEAVE_OK;
    snprintf(buf, n, "%s/%s", dir, name);
    if (stat(buf, &st) != 0)
        return cv_fail(ctx, CLEAVE_E_IO, "%s/%s.gz: cannot open: %s (nor %s)", dir, name,
                       strerror(errno), buf);
    return CLEAVE_OK;
}

cleave_status data_dataset_create(cleave_ctx *ctx, const char *dir, const char *split,
                                  data_dataset **out) {
    *out = NULL;
    if (!dir) dir = data_fmnist_dir();
    const char *prefix;
    if (split && !strcmp(split, "train")) prefix = "train";
    else if (split && (!strcmp(split, "test") || !strcmp(split, "t10k"))) prefix = "t10k";
    else
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: unknown split '%s' (train, test)", dir,
                       split ? split : "(null)");
    char ipath[4096], lpath[4096], name[64];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    CV_TRY(pick_file(ctx, dir, name, ipath, sizeof ipath));
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    CV_TRY(pick_file(ctx, dir, name, lpath, sizeof lpath));

    data_idx img, lab;
    CV_TRY(data_idx_load(ctx, ipath, 3, &img));
    cleave_status s = data_idx_load(ctx, lpath, 1, &lab);
    if (s != CLEAVE_OK) {
        data_idx_release(&img);
        return s;
    }
    if (img.dims[1] > DATA_MAX_SIDE || img.dims[2] > DATA_MAX_SIDE)
        s = cv_fail(ctx, CLEAVE_E_LIMIT, "%s: images are %lldx%lld, the limit is %d per side", ipath,
                    (long long)img.dims[1], (long long)img.dims[2], DATA_MAX_SIDE);
    else if (img.dims[0] != lab.dims[0])
        s = cv_fail(ctx, CLEAVE_E_INVALID, "%s: %lld labels for %lld images in %s", lpath,
                    (long long)lab.dims[0], (long long)img.dims[0], ipath);
    for (size_t i = 0; s == CLEAVE_OK && i < lab.size; i++)
        if (lab.data[i] >= DATA_FMNIST_CLASSES)
            s = cv_fail(ctx, CLEAVE_E_INVALID, "%s: label %zu is %d, expected 0..%d", lpath, i,
                        lab.data[i], DATA_FMNIST_CLASSES - 1);
    data_dataset *ds = NULL;
    if (s == CLEAVE_OK) {
        ds = cv_calloc(1, sizeof *ds);
        if (!ds) s = cv_fail(ctx, CLEAVE_E_NOMEM, "%s: cannot allocate the dataset", dir);
    }
    if (s != CLEAVE_OK) {
        data_idx_release(&img);
        data_idx_release(&lab);
        return s;
    }
    ds->count = (int)img.dims[0];
    ds->height = (int)img.dims[1];
    ds->width = (int)img.dims[2];
    ds->images = img.data; /* ownership moves to ds */
    ds->labels = lab.data;
    *out = ds;
    return CLEAVE_OK;
}

void data_dataset_destroy(data_dataset *ds) {
    if (!ds) return;
    cv_free(ds->images);
    cv_free(ds->labels);
    cv_free(ds);
}

int data_dataset_count(const data_dataset *ds) { return ds->count; }
int data_dataset_height(const data_dataset *ds) { return ds->height; }
int data_dataset_width(const data_dataset *ds) { return ds->width; }

int data_dataset_label(const data_dataset *ds, int i) {
    return i >= 0 && i < ds->count ? ds->labels[i] : -1;
}

const uint8_t *data_dataset_image(const data_dataset *ds, int i) {
    if (i < 0 || i >= ds->count) return NULL;
    return ds->images + (size_t)i * (size_t)ds->height * (size_t)ds->width;
}

/* Shared argument checks; allocates the two float planes (source, resized). */
static cleave_status batch_begin(cleave_ctx *ctx, const data_dataset *ds, const int *indices, int n,
                                 int out_h, int out_w, const char *fn, float **plane) {
    *plane = NULL;
    if (n < 0 || (n > 0 && !indices))
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: bad batch of %d indices", fn, n);
    if (out_h < 1 || out_w < 1 || out_h > DATA_MAX_SIDE || out_w > DATA_MAX_SIDE)
        return cv_fail(ctx, CLEAVE_E_INVALID, "%s: output size %dx%d outside 1..%d", fn, out_h,
                       out_w, DATA_MAX_SIDE);
    for (int k = 0; k < n; k++)
        if (indices[k] < 0 || indices[k] >= ds->count)
            return cv_fail(ctx, CLEAVE_E_INVALID, "%s: index %d (batch entry %d) outside 0..%d", fn,
                           indices[k], k, ds->count - 1);
    size_t in_px = (size_t)ds->height * (size_t)ds->width, out_px = (size_t)out_h * (size_t)out_w;
    *plane = cv_malloc((in_px + out_px) * sizeof(float));
    if (!*plane)
        return cv_fail(ctx, CLEAVE_E_NOMEM, "%s: cannot allocate %zu floats", fn, in_px + out_px);
    return CLEAVE_OK;
}

cleave_status data_dataset_batch(cleave_ctx *ctx, const data_dataset *ds, const int *indices, int n,
                                 int out_h, int out_w, float mean, float std, float *out) {
    if (!(std != 0.0f) || !isfinite(std) || !isfinite(mean))
        return cv_fail(ctx, CLEAVE_E_INVALID, "data_dataset_batch: bad normalisation mean %g std %g",
                       (double)mean, (double)std);
    float *src;
    CV_TRY(batch_begin(ctx, ds, indices, n, out_h, out_w, "data_dataset_batch", &src));
    size_t in_px = (size_t)ds->height * (size_t)ds->width, out_px = (size_t)out_h * (size_t)out_w;
    float *res = src + in_px;
    for (int k = 0; k < n; k++) {
        const uint8_t *img = data_dataset_image(ds, indices[k]);
        for (size_t p = 0; p < in_px; p++) src[p] = (float)img[p] / 255.0f;
        data_resize_bilinear_f32(src, ds->height, ds->width, res, out_h, out_w);
        float *o = out + (size_t)k * out_px;
        for (size_t p = 0; p < out_px; p++) o[p] = (res[p] - mean) / std;
    }
    cv_free(src);
    return CLEAVE_OK;
}

/* Round half to even, v in [0, 255]; explicit so no rounding mode matters. */
static uint8_t round_half_even_u8(float v) {
    float f = floorf(v);
    float d = v - f;
    int q = (int)f;
    if (d > 0.5f || (d == 0.5f && (q & 1))) q++;
    return (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
}

cleave_status data_dataset_batch_u8(cleave_ctx *ctx, const data_dataset *ds, const int *indices,
                                    int n, int out_h, int out_w, uint8_t *out) {
    float *src;
    CV_TRY(batch_begin(ctx, ds, indices, n, out_h, out_w, "data_dataset_batch_u8", &src));
    size_t in_px = (size_t)ds->height * (size_t)ds->width, out_px = (size_t)out_h * (size_t)out_w;
    float *res = src + in_px;
    for (int k = 0; k < n; k++) {
        const uint8_t *img = data_dataset_image(ds, indices[k]);
        /* resize the 0..255 values: bilinear weights are convex, so this is
         * resize(u8/255)*255 without the two extra roundings */
        for (size_t p = 0; p < in_px; p++) src[p] = (float)img[p];
        data_resize_bilinear_f32(src, ds->height, ds->width, res, out_h, out_w);
        uint8_t *o = out + (size_t)k * out_px;
        for (size_t p = 0; p < out_px; p++) o[p] = round_half_even_u8(res[p]);
    }
    cv_free(src);
    return CLEAVE_OK;
}
