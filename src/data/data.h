/* data: what feeds the models from files. IDX image/label files (.gz or
 * plain), the Fashion-MNIST dataset with the exact preprocessing the models
 * were trained with (bilinear half-pixel resize, then normalisation), a
 * deterministic calibration subset, and raw little-endian float32 tensors
 * (.npy lives in base/npy.h). Every size read from a file is capped before
 * anything is allocated; failures return a status with "file: what: why". */
#ifndef CLEAVE_DATA_H
#define CLEAVE_DATA_H

#include <stdint.h>

#include "base/base.h"
#include "base/tensor.h"

/* ---- caps on outside input ---- */
#define DATA_IDX_MAX_DIMS 4                  /* IDX files with more dims are refused */
#define DATA_IDX_MAX_BYTES ((size_t)1 << 30) /* payload cap (Fashion-MNIST train: 47 MB) */
#define DATA_MAX_SIDE 4096                   /* image height/width, input or resized */
#define DATA_CALIB_MAX_TOTAL (1 << 28)       /* data_calib_indices population cap */

#define DATA_FMNIST_DIR "/usr/share/datasets/fashion-mnist"
#define DATA_FMNIST_CLASSES 10
#define DATA_FMNIST_MEAN 0.2860f
#define DATA_FMNIST_STD 0.3530f

/* ---- IDX files (LeCun's format: 00 00 type ndim, big-endian u32 dims, data) ---- */

/* One IDX file of unsigned bytes (type 0x08). data is row-major, dims[0] is N. */
typedef struct data_idx {
    int ndim;
    int64_t dims[DATA_IDX_MAX_DIMS];
    uint8_t *data; /* size bytes, cv_malloc'd; free with data_idx_release */
    size_t size;
} data_idx;

/* Read PATH (gzip or plain; zlib reads both) and require `ndim` dims (3 for
 * images [N,H,W], 1 for labels [N]). Checks the magic, the element type, each
 * dim (> 0 except N, < 2^31), the payload against DATA_IDX_MAX_BYTES before
 * allocating, and that the file holds exactly the payload: truncated and
 * over-long files are errors. On failure *out is empty. */
cleave_status data_idx_load(cleave_ctx *ctx, const char *path, int ndim, data_idx *out);
void data_idx_release(data_idx *idx);

/* ---- Fashion-MNIST style dataset: u8 images [N,H,W] + labels [N] in [0,10) ---- */

typedef struct data_dataset data_dataset;

/* $CLEAVE_FMNIST_DIR when set and non-empty, else DATA_FMNIST_DIR. */
const char *data_fmnist_dir(void);

/* Open split "train" (files train-*) or "test" (alias "t10k"; files t10k-*)
 * from DIR (NULL: data_fmnist_dir()). For each of
 * <prefix>-images-idx3-ubyte and <prefix>-labels-idx1-ubyte the .gz file is
 * used when present, else the plain file. Checks that the counts match, that
 * H, W <= DATA_MAX_SIDE, that N < 2^31 and that every label is
 * < DATA_FMNIST_CLASSES. */
cleave_status data_dataset_create(cleave_ctx *ctx, const char *dir, const char *split,
                                  data_dataset **out);
void data_dataset_destroy(data_dataset *ds);

int data_dataset_count(const data_dataset *ds);
int data_dataset_height(const data_dataset *ds);
int data_dataset_width(const data_dataset *ds);
/* Label of image i, or -1 when i is out of range. */
int data_dataset_label(const data_dataset *ds, int i);
/* Image i as u8 [H,W] row-major (owned by ds), or NULL when out of range. */
const uint8_t *data_dataset_image(const data_dataset *ds, int i);

/* The model input for images indices[0..n): out is float32 [n,1,out_h,out_w]
 * (caller-allocated, n*out_h*out_w floats), each pixel
 *   x = pixel_u8 / 255  ->  bilinear half-pixel resize to out_h x out_w
 *   (data_resize_bilinear_f32; a copy when the size is unchanged)
 *   ->  (x - mean) / std
 * exactly like tools/fmnist_common.py (torch F.interpolate bilinear,
 * align_corners=False) within float rounding. Fashion-MNIST models use
 * DATA_FMNIST_MEAN / DATA_FMNIST_STD. Index out of range, bad size or
 * std == 0 -> CLEAVE_E_INVALID, out untouched up to that image. */
cleave_status data_dataset_batch(cleave_ctx *ctx, const data_dataset *ds, const int *indices, int n,
                                 int out_h, int out_w, float mean, float std, float *out);

/* The 8-bit image a cloud-only baseline sends: u8 [n,1,out_h,out_w],
 * q = round_half_even(resize(pixel_u8 / 255) * 255). Computed as the resize
 * of the u8 values themselves (same weights), which is exact in float for
 * the power-of-two ratios used here (28 -> 56, 112, 224), so ties are real
 * ties. Identity when the size is unchanged. */
cleave_status data_dataset_batch_u8(cleave_ctx *ctx, const data_dataset *ds, const int *indices,
                                    int n, int out_h, int out_w, uint8_t *out);

/* ---- resize ---- */

/* Bilinear resize of one float plane src [ih,iw] -> dst [oh,ow] (row-major,
 * no aliasing), half-pixel centres, as ONNX Resize mode=linear
 * coordinate_transformation_mode=half_pixel and torch bilinear
 * align_corners=False without antialias: s = (o + 0.5) * (in/out) - 0.5,
 * clamped to [0, in-1]; i0 = floor(s), i1 = min(i0+1, in-1), l = s - i0;
 * dst = (1-ly)*((1-lx)*a00 + lx*a01) + ly*((1-lx)*a10 + lx*a11), in float
 * and in torch's order. Sizes must be in [1, DATA_MAX_SIDE] (unchecked). */
void data_resize_bilinear_f32(const float *src, int ih, int iw, float *dst, int oh, int ow);

/* ---- calibration subset ---- */

/* n distinct indices in [0, n_total), sorted ascending, into out[0..n):
 * Floyd's sampling without replacement (Bentley & Floyd, CACM 1987) driven
 * by splitmix64 (Steele, Lea & Flood, OOPSLA 2014) seeded with `seed`, with
 * unbiased bounded draws by rejection. Class-agnostic; integer-only, so the
 * output is the same on every platform. Use it on the training split.
 * 0 <= n <= n_total <= DATA_CALIB_MAX_TOTAL. */
cleave_status data_calib_indices(cleave_ctx *ctx, int n_total, int n, uint64_t seed, int *out);

/* ---- raw float32 files ---- */

/* Read PATH as little-endian float32 with shape dims[0..ndim) (C order, no
 * header). The file size must equal numel*4 exactly, else CLEAVE_E_INVALID
 * naming the file, the expected and the found bytes. out->data is
 * cv_aligned_alloc'd (free with cv_aligned_free), byte-swapped on big-endian
 * hosts. ndim in [0, CV_MAX_DIMS], dims >= 0, numel <= CV_MAX_ELEMS. */
cleave_status data_raw_f32_load(cleave_ctx *ctx, const char *path, int ndim, const int64_t *dims,
                                cv_tensor *out);

#endif
