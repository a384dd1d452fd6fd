/* data module: IDX files (plain and .gz; truncated, wrong magic/type/dims,
 * trailing bytes, huge dims -> errors naming the file), the dataset and its
 * batches, the bilinear half-pixel resize against a closed form, the
 * calibration subset (properties + a fixed prefix), raw float32 files, and
 * the real Fashion-MNIST files against the Python preprocessing
 * (models/fmnist-*.input*.npy) when they are present. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "base/npy.h"
#include "check.h"
#include "data/data.h"

static char g_dir[64];

static const char *tmp_path(const char *name) {
    static char buf[8][256];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 256, "%s/%s", g_dir, name);
    return p;
}

/* An IDX u8 header for dims[0..ndim) followed by the payload. Returns its size. */
static size_t idx_bytes(uint8_t *buf, int type, int ndim, const uint32_t *dims, const uint8_t *data,
                        size_t n) {
    size_t o = 0;
    buf[o++] = 0, buf[o++] = 0, buf[o++] = (uint8_t)type, buf[o++] = (uint8_t)ndim;
    for (int d = 0; d < ndim; d++) {
        buf[o++] = (uint8_t)(dims[d] >> 24), buf[o++] = (uint8_t)(dims[d] >> 16);
        buf[o++] = (uint8_t)(dims[d] >> 8), buf[o++] = (uint8_t)dims[d];
    }
    memcpy(buf + o, data, n);
    return o + n;
}

static void write_plain(const char *path, const void *buf, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, n, f) != n) fprintf(stderr, "cannot write %s\n", path);
    if (f) fclose(f);
}

static void write_gz(const char *path, const void *buf, size_t n) {
    gzFile f = gzopen(path, "wb");
    if (!f || gzwrite(f, buf, (unsigned)n) != (int)n) fprintf(stderr, "cannot write %s\n", path);
    if (f) gzclose(f);
}

static int error_names(cleave_ctx *ctx, const char *what) {
    int ok = strstr(cleave_ctx_error(ctx), what) != NULL;
    if (!ok) fprintf(stderr, "  error '%s' does not mention '%s'\n", cleave_ctx_error(ctx), what);
    cleave_ctx_clear_error(ctx);
    return ok;
}

static void test_idx(cleave_ctx *ctx) {
    uint8_t px[24], buf[256];
    for (int i = 0; i < 24; i++) px[i] = (uint8_t)(i * 10);
    uint32_t d3[3] = {3, 2, 4}, d1[1] = {3};
    size_t n = idx_bytes(buf, 8, 3, d3, px, 24);
    write_plain(tmp_path("img"), buf, n);
    write_gz(tmp_path("img.gz"), buf, n);
    data_idx idx;
    for (int gz = 0; gz < 2; gz++) {
        CHECK(data_idx_load(ctx, tmp_path(gz ? "img.gz" : "img"), 3, &idx) == CLEAVE_OK);
        CHECK(idx.ndim == 3 && idx.dims[0] == 3 && idx.dims[1] == 2 && idx.dims[2] == 4);
        CHECK(idx.size == 24 && idx.data && !memcmp(idx.data, px, 24));
        data_idx_release(&idx);
    }
    uint8_t lab[3] = {9, 0, 3};
    n = idx_bytes(buf, 8, 1, d1, lab, 3);
    write_gz(tmp_path("lab.gz"), buf, n);
    CHECK(data_idx_load(ctx, tmp_path("lab.gz"), 1, &idx) == CLEAVE_OK);
    CHECK(idx.ndim == 1 && idx.dims[0] == 3 && idx.data && idx.data[0] == 9 && idx.data[2] == 3);
    data_idx_release(&idx);
    /* asked for images, got labels */
    CHECK(data_idx_load(ctx, tmp_path("lab.gz"), 3, &idx) == CLEAVE_E_INVALID);
    CHECK(error_names(ctx, "lab.gz") && idx.data == NULL);

    /* wrong magic, wrong type */
    n = idx_bytes(buf, 8, 3, d3, px, 24);
    buf[0] = 0x1f, buf[1] = 0x00;
    write_plain(tmp_path("magic"), buf, n);
    CHECK(data_idx_load(ctx, tmp_path("magic"), 3, &idx) == CLEAVE_E_PARSE);
    CHECK(error_names(ctx, "magic"));
    n = idx_bytes(buf, 0x0D, 3, d3, px, 24);
    write_gz(tmp_path("float.gz"), buf, n);
    CHECK(data_idx_load(ctx, tmp_path("float.gz"), 3, &idx) == CLEAVE_E_UNSUPPORTED);
    CHECK(error_names(ctx, "float.gz"));

    /* truncated payload (plain and gz), truncated header, empty file */
    n = idx_bytes(buf, 8, 3, d3, px, 24);
    write_plain(tmp_path("short"), buf, n - 4);
    CHECK(data_idx_load(ctx, tmp_path("short"), 3, &idx) == CLEAVE_E_PARSE);
    CHECK(error_names(ctx, "expected 24 data bytes, found 20"));
    write_gz(tmp_path("short.gz"), buf, n - 1);
    CHECK(data_idx_load(ctx, tmp_path("short.gz"), 3, &idx) == CLEAVE_E_PARSE);
    CHECK(error_names(ctx, "short.gz"));
    write_plain(tmp_path("head"), buf, 9);
    CHECK(data_idx_load(ctx, tmp_path("head"), 3, &idx) == CLEAVE_E_PARSE);
    CHECK(error_names(ctx, "truncated IDX header"));
    write_plain(tmp_path("empty"), buf, 0);
    CHECK(data_idx_load(ctx, tmp_path("empty"), 3, &idx) == CLEAVE_E_PARSE);
    CHECK(error_names(ctx, "empty"));
    /* a gzip stream cut in the middle: zlib reports the early end */
    {
        uint8_t big[4096 + 16], z[8192];
        uint32_t db[3] = {16, 16, 16};
        for (int i = 0; i < 4096; i++) big[16 + i] = (uint8_t)(i * 7 + (i >> 5));
        size_t bn = idx_bytes(big, 8, 3, db, big + 16, 4096);
        write_gz(tmp_path("cut.gz"), big, bn);
        FILE *f = fopen(tmp_path("cut.gz"), "rb");
        size_t zn = f ? fread(z, 1, sizeof z, f) : 0;
        if (f) fclose(f);
        CHECK(zn > 40);
        write_plain(tmp_path("cut.gz"), z, zn / 2);
        CHECK(data_idx_load(ctx, tmp_path("cut.gz"), 3, &idx) != CLEAVE_OK);
        CHECK(error_names(ctx, "cut.gz") && idx.data == NULL);
        /* gzip magic followed by garbage */
        memset(z + 10, 0xff, 64);
        write_plain(tmp_path("bad.gz"), z, 74);
        CHECK(data_idx_load(ctx, tmp_path("bad.gz"), 3, &idx) != CLEAVE_OK);
        CHECK(error_names(ctx, "bad.gz"));
    }
    /* more bytes than the header announces */
    n = idx_bytes(buf, 8, 3, d3, px, 24);
    buf[n] = 1;
    write_gz(tmp_path("long.gz"), buf, n + 1);
    CHECK(data_idx_load(ctx, tmp_path("long.gz"), 3, &idx) == CLEAVE_E_PARSE);
    CHECK(error_names(ctx, "1 bytes after the 24 data bytes"));
    /* huge dims: refused before allocating; zero image dim refused */
    uint32_t huge[3] = {60000, 65536, 65536}, zero[3] = {1, 0, 28};
    n = idx_bytes(buf, 8, 3, huge, px, 24);
    write_plain(tmp_path("huge"), buf, n);
    CHECK(data_idx_load(ctx, tmp_path("huge"), 3, &idx) == CLEAVE_E_LIMIT);
    CHECK(error_names(ctx, "huge"));
    n = idx_bytes(buf, 8, 3, zero, px, 0);
    write_plain(tmp_path("zero"), buf, n);
    CHECK(data_idx_load(ctx, tmp_path("zero"), 3, &idx) == CLEAVE_E_INVALID);
    CHECK(error_names(ctx, "zero"));
    CHECK(data_idx_load(ctx, tmp_path("missing.gz"), 1, &idx) == CLEAVE_E_IO);
    CHECK(error_names(ctx, "missing.gz"));
}

static uint8_t round_half_even(double v) {
    double f = floor(v);
    int q = (int)f;
    if (v - f > 0.5 || (v - f == 0.5 && (q & 1))) q++;
    return (uint8_t)q;
}

/* A 3-image 4x4 "train" split in g_dir: images .gz, labels plain. */
static void test_dataset(cleave_ctx *ctx) {
    uint8_t px[48], buf[256];
    for (int i = 0; i < 48; i++) px[i] = (uint8_t)(i * 5 + 1);
    uint32_t d3[3] = {3, 4, 4}, d1[1] = {3}, d1b[1] = {2};
    write_gz(tmp_path("train-images-idx3-ubyte.gz"), buf, idx_bytes(buf, 8, 3, d3, px, 48));
    uint8_t lab[3] = {9, 0, 7};
    write_plain(tmp_path("train-labels-idx1-ubyte"), buf, idx_bytes(buf, 8, 1, d1, lab, 3));
    data_dataset *ds = NULL;
    CHECK(data_dataset_create(ctx, g_dir, "train", &ds) == CLEAVE_OK);
    if (ds) {
        CHECK(data_dataset_count(ds) == 3 && data_dataset_height(ds) == 4 &&
              data_dataset_width(ds) == 4);
        CHECK(data_dataset_label(ds, 0) == 9 && data_dataset_label(ds, 2) == 7);
        CHECK(data_dataset_label(ds, 3) == -1 && data_dataset_label(ds, -1) == -1);
        CHECK(data_dataset_image(ds, 1) && data_dataset_image(ds, 1)[0] == px[16]);
        CHECK(data_dataset_image(ds, 3) == NULL);
        /* identity size: (u8/255 - mean)/std */
        int ids[2] = {2, 0};
        float out[2 * 16];
        CHECK(data_dataset_batch(ctx, ds, ids, 2, 4, 4, 0.5f, 0.25f, out) == CLEAVE_OK);
        CHECK_NEAR(out[0], ((float)px[32] / 255.0f - 0.5f) / 0.25f, 1e-6, 0);
        CHECK_NEAR(out[16 + 15], ((float)px[15] / 255.0f - 0.5f) / 0.25f, 1e-6, 0);
        uint8_t q[2 * 16], q2[2 * 64];
        CHECK(data_dataset_batch_u8(ctx, ds, ids, 2, 4, 4, q) == CLEAVE_OK);
        CHECK(!memcmp(q, px + 32, 16) && !memcmp(q + 16, px, 16));
        /* 2x upscale: rows/cols alternate weights 1/4, 3/4 -> exact in float */
        CHECK(data_dataset_batch_u8(ctx, ds, ids, 2, 8, 8, q2) == CLEAVE_OK);
        {
            /* output (1,1): s = 0.25 in both axes -> 9/16 a00 + 3/16 (a01 + a10) + 1/16 a11 */
            const uint8_t *a = px + 32;
            double v = (9.0 * a[0] + 3.0 * a[1] + 3.0 * a[4] + a[5]) / 16.0;
            CHECK(q2[9] == round_half_even(v));
            CHECK(q2[0] == a[0]); /* corner clamps to the source corner */
        }
        CHECK(data_dataset_batch(ctx, ds, ids, 2, 4, 4, 0.0f, 0.0f, out) == CLEAVE_E_INVALID);
        cleave_ctx_clear_error(ctx);
        int bad[1] = {3};
        CHECK(data_dataset_batch(ctx, ds, bad, 1, 4, 4, 0.f, 1.f, out) == CLEAVE_E_INVALID);
        CHECK(error_names(ctx, "index 3"));
        CHECK(data_dataset_batch_u8(ctx, ds, ids, 1, 0, 4, q) == CLEAVE_E_INVALID);
        cleave_ctx_clear_error(ctx);
        data_dataset_destroy(ds);
    }
    /* the test split is missing; unknown split; counts disagree; bad label */
    CHECK(data_dataset_create(ctx, g_dir, "test", &ds) == CLEAVE_E_IO && ds == NULL);
    CHECK(error_names(ctx, "t10k-images-idx3-ubyte"));
    /* test split, plain files: exact ties of the u8 resize round to even.
     * 4 -> 8, row 0 (clamped rows): out x = 0.75/0.25 mixes of [0, 2, 0, 10] */
    {
        uint8_t img[16] = {0, 2, 0, 10}, one[1] = {4}, q[64];
        uint32_t di[3] = {1, 4, 4}, dl[1] = {1};
        write_plain(tmp_path("t10k-images-idx3-ubyte"), buf, idx_bytes(buf, 8, 3, di, img, 16));
        write_plain(tmp_path("t10k-labels-idx1-ubyte"), buf, idx_bytes(buf, 8, 1, dl, one, 1));
        CHECK(data_dataset_create(ctx, g_dir, "t10k", &ds) == CLEAVE_OK);
        int id = 0;
        if (ds && data_dataset_batch_u8(ctx, ds, &id, 1, 8, 8, q) == CLEAVE_OK) {
            /* exact values 0, 0.5, 1.5, 1.5, 0.5, 2.5, 7.5, 10 */
            static const uint8_t want[8] = {0, 0, 2, 2, 0, 2, 8, 10};
            CHECK(!memcmp(q, want, 8));
        } else {
            CHECK(0);
        }
        data_dataset_destroy(ds);
        ds = NULL;
    }
    CHECK(data_dataset_create(ctx, g_dir, "valid", &ds) == CLEAVE_E_INVALID);
    CHECK(error_names(ctx, "valid"));
    write_plain(tmp_path("train-labels-idx1-ubyte"), buf, idx_bytes(buf, 8, 1, d1b, lab, 2));
    CHECK(data_dataset_create(ctx, g_dir, "train", &ds) == CLEAVE_E_INVALID && ds == NULL);
    CHECK(error_names(ctx, "2 labels for 3 images"));
    lab[1] = 10;
    write_plain(tmp_path("train-labels-idx1-ubyte"), buf, idx_bytes(buf, 8, 1, d1, lab, 3));
    CHECK(data_dataset_create(ctx, g_dir, "train", &ds) == CLEAVE_E_INVALID && ds == NULL);
    CHECK(error_names(ctx, "label 1 is 10"));
}

/* Half-pixel bilinear reproduces a ramp a*y + b*x + c at the clamped source
 * coordinates exactly (up to float rounding), for any ratio. */
static double src_coord(int o, int in, int out) {
    double s = ((double)o + 0.5) * in / out - 0.5;
    return s < 0 ? 0 : s > in - 1 ? in - 1 : s;
}

static void test_resize(void) {
    static const int sizes[][4] = {{28, 28, 112, 112}, {7, 5, 16, 13}, {9, 8, 4, 3},
                                   {6, 6, 6, 6},       {1, 5, 3, 10},  {28, 28, 224, 56}};
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        int ih = sizes[t][0], iw = sizes[t][1], oh = sizes[t][2], ow = sizes[t][3];
        float *src = malloc(sizeof(float) * (size_t)(ih * iw));
        float *dst = malloc(sizeof(float) * (size_t)(oh * ow));
        if (!src || !dst) return;
        const double a = 0.75, b = -0.5, c = 3.0;
        for (int y = 0; y < ih; y++)
            for (int x = 0; x < iw; x++) src[y * iw + x] = (float)(a * y + b * x + c);
        data_resize_bilinear_f32(src, ih, iw, dst, oh, ow);
        double worst = 0;
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++) {
                double want = a * src_coord(y, ih, oh) + b * src_coord(x, iw, ow) + c;
                double e = fabs(dst[y * ow + x] - want);
                if (e > worst) worst = e;
            }
        CHECK(worst < 2e-5);
        if (worst >= 2e-5) fprintf(stderr, "  resize %dx%d -> %dx%d: error %g\n", ih, iw, oh, ow, worst);
        free(src);
        free(dst);
    }
    /* 28 -> 112: interior points are exact; output 0 and 1 clamp to row 0 */
    float src[28 * 28], dst[112 * 112];
    for (int i = 0; i < 28 * 28; i++) src[i] = (float)(i % 28);
    data_resize_bilinear_f32(src, 28, 28, dst, 112, 112);
    CHECK(dst[0] == 0.0f && dst[1] == 0.0f && dst[2] == 0.125f && dst[5] == 0.875f);
    CHECK(dst[111] == 27.0f && dst[110] == 27.0f && dst[109] == 26.875f);
}

static void test_calib(cleave_ctx *ctx) {
    enum { N = 60000, K = 1000 };
    static int a[K], b[K], c[K];
    CHECK(data_calib_indices(ctx, N, K, 0, a) == CLEAVE_OK);
    CHECK(data_calib_indices(ctx, N, K, 0, b) == CLEAVE_OK);
    CHECK(data_calib_indices(ctx, N, K, 1, c) == CLEAVE_OK);
    CHECK(!memcmp(a, b, sizeof a));
    CHECK(memcmp(a, c, sizeof a) != 0);
    int sorted = 1, range = a[0] >= 0 && a[K - 1] < N;
    for (int i = 1; i < K; i++) sorted &= a[i] > a[i - 1]; /* strictly: sorted and unique */
    CHECK(sorted && range);
    /* spread: not all from one end (mean near N/2) */
    double mean = 0;
    for (int i = 0; i < K; i++) mean += a[i];
    mean /= K;
    CHECK(mean > 0.4 * N && mean < 0.6 * N);
    /* fixed prefix (seed 0, 1000 of 60000), also reproduced by a Python
     * transcription of the documented algorithm: any change to the PRNG or
     * the sampling shows here; the same on every platform */
    static const int want[8] = {302, 463, 465, 617, 842, 883, 890, 902};
    int same = !memcmp(a, want, sizeof want);
    CHECK(same);
    if (!same)
        fprintf(stderr, "  calib prefix: %d %d %d %d %d %d %d %d\n", a[0], a[1], a[2], a[3], a[4],
                a[5], a[6], a[7]);
    int all[10];
    CHECK(data_calib_indices(ctx, 10, 10, 42, all) == CLEAVE_OK);
    int ok = 1;
    for (int i = 0; i < 10; i++) ok &= all[i] == i;
    CHECK(ok);
    CHECK(data_calib_indices(ctx, 10, 0, 42, NULL) == CLEAVE_OK);
    CHECK(data_calib_indices(ctx, 10, 11, 42, all) == CLEAVE_E_INVALID);
    CHECK(error_names(ctx, "11 of 10"));
}

static void test_raw(cleave_ctx *ctx) {
    float v[6] = {1.5f, -2.0f, 0.0f, 3.25f, 1e-3f, -7.0f};
    uint8_t le[24];
    for (int i = 0; i < 6; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        for (int k = 0; k < 4; k++) le[4 * i + k] = (uint8_t)(u >> (8 * k));
    }
    write_plain(tmp_path("t.f32"), le, sizeof le);
    int64_t shape[2] = {2, 3}, wrong[2] = {2, 4};
    cv_tensor t;
    CHECK(data_raw_f32_load(ctx, tmp_path("t.f32"), 2, shape, &t) == CLEAVE_OK);
    CHECK(t.dtype == CV_F32 && t.ndim == 2 && t.dims[0] == 2 && t.dims[1] == 3);
    CHECK(t.data && !memcmp(t.data, v, sizeof v));
    cv_aligned_free(t.data);
    CHECK(data_raw_f32_load(ctx, tmp_path("t.f32"), 2, wrong, &t) == CLEAVE_E_INVALID);
    CHECK(error_names(ctx, "t.f32: raw float32 2x4 needs 32 bytes, the file has 24"));
    CHECK(t.data == NULL);
    CHECK(data_raw_f32_load(ctx, tmp_path("none.f32"), 2, shape, &t) == CLEAVE_E_IO);
    CHECK(error_names(ctx, "none.f32"));
    int64_t neg[1] = {-1};
    CHECK(data_raw_f32_load(ctx, tmp_path("t.f32"), 1, neg, &t) == CLEAVE_E_LIMIT);
    cleave_ctx_clear_error(ctx);
}

/* C preprocessing vs a .npy written by the Python training script. */
static void compare_npy(cleave_ctx *ctx, const data_dataset *ds, const char *path, int side) {
    struct stat st;
    if (stat(path, &st) != 0) {
        printf("note: %s absent, its preprocessing check is skipped\n", path);
        return;
    }
    cv_tensor t;
    CHECK(cv_npy_load(ctx, path, &t) == CLEAVE_OK);
    if (!t.data) return;
    CHECK(t.dtype == CV_F32 && t.ndim == 4 && t.dims[1] == 1 && t.dims[2] == side &&
          t.dims[3] == side && t.dims[0] >= 1 && t.dims[0] <= 8);
    int n = (int)t.dims[0], ids[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    size_t m = (size_t)n * (size_t)side * (size_t)side;
    float *out = malloc(m * sizeof(float));
    if (out && data_dataset_batch(ctx, ds, ids, n, side, side, DATA_FMNIST_MEAN, DATA_FMNIST_STD,
                                  out) == CLEAVE_OK) {
        double worst = 0;
        for (size_t i = 0; i < m; i++) {
            double e = fabs(out[i] - ((float *)t.data)[i]);
            if (e > worst) worst = e;
        }
        printf("%s: max |C - Python| = %.3g over %zu values\n", path, worst, m);
        CHECK(worst <= 1e-5);
    } else {
        CHECK(0);
    }
    free(out);
    cv_aligned_free(t.data);
}

static void test_fmnist(cleave_ctx *ctx) {
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", data_fmnist_dir());
    if (stat(path, &st) != 0) {
        printf("note: %s absent, the real Fashion-MNIST checks are skipped\n", path);
        return;
    }
    data_dataset *te = NULL, *tr = NULL;
    CHECK(data_dataset_create(ctx, NULL, "test", &te) == CLEAVE_OK);
    CHECK(data_dataset_create(ctx, NULL, "train", &tr) == CLEAVE_OK);
    if (tr) {
        CHECK(data_dataset_count(tr) == 60000);
        data_dataset_destroy(tr);
    }
    if (!te) return;
    CHECK(data_dataset_count(te) == 10000);
    CHECK(data_dataset_height(te) == 28 && data_dataset_width(te) == 28);
    CHECK(data_dataset_label(te, 0) == 9); /* ankle boot */
    compare_npy(ctx, te, CLEAVE_SOURCE_DIR "/models/fmnist-cnn.input.npy", 28);
    compare_npy(ctx, te, CLEAVE_SOURCE_DIR "/models/fmnist-resnet.input.npy", 112);
    compare_npy(ctx, te, CLEAVE_SOURCE_DIR "/models/fmnist-resnet.input-batch4.npy", 112);
    compare_npy(ctx, te, CLEAVE_SOURCE_DIR "/models/fmnist-exits.input-batch4.npy", 112);
    /* u8 variant of image 0 at 112: within half a level of resize(x)*255 */
    static float f[112 * 112];
    static uint8_t q[112 * 112];
    int id = 0;
    CHECK(data_dataset_batch(ctx, te, &id, 1, 112, 112, 0.0f, 1.0f / 255.0f, f) == CLEAVE_OK);
    CHECK(data_dataset_batch_u8(ctx, te, &id, 1, 112, 112, q) == CLEAVE_OK);
    double worst = 0;
    for (int i = 0; i < 112 * 112; i++) {
        double e = fabs((double)q[i] - f[i]);
        if (e > worst) worst = e;
    }
    CHECK(worst <= 0.5 + 1e-3);
    data_dataset_destroy(te);
}

static void cleanup(void) {
    static const char *files[] = {"img", "img.gz", "lab.gz", "magic", "float.gz", "short",
                                  "short.gz", "head", "empty", "cut.gz", "bad.gz", "long.gz",
                                  "huge", "zero", "train-images-idx3-ubyte.gz",
                                  "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                                  "t10k-labels-idx1-ubyte", "t.f32"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) unlink(tmp_path(files[i]));
    rmdir(g_dir);
}

int main(void) {
    cleave_ctx *ctx;
    if (cleave_ctx_create(&ctx) != CLEAVE_OK) return 1;
    snprintf(g_dir, sizeof g_dir, "/tmp/cleave_test_data.XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_idx(ctx);
    test_dataset(ctx);
    test_resize();
    test_calib(ctx);
    test_raw(ctx);
    test_fmnist(ctx);
    cleanup();
    cleave_ctx_destroy(ctx);
    return check_summary("test_data");
}
