"""Shared Fashion-MNIST helpers for the 112x112 models (tools/train_fmnist_models.py).

Preprocessing contract (the C side, src/data/, reproduces it exactly):
  1. x = pixel_u8 / 255                                   (float32, [N,1,28,28])
  2. upscale 28x28 -> 112x112 by bilinear interpolation with half-pixel centres:
     torch F.interpolate(mode='bilinear', align_corners=False, antialias=False),
     identical to ONNX Resize mode=linear, coordinate_transformation_mode=half_pixel.
     Source coordinate of output pixel o: s = (o + 0.5) * 28/112 - 0.5, clamped to
     [0, 27]; the two neighbours floor(s) and min(floor(s)+1, 27) are weighted by
     1-frac and frac (rows and columns separately).
  3. x = (x - 0.2860) / 0.3530
The upscaling is not part of the models: their input "input" is float32 [N,1,112,112].

Needs Debian's Python with torch: /usr/bin/python3.
"""
import gzip
import hashlib
import os

import numpy as np
import torch
import torch.nn.functional as F

DATA_DIR = "/usr/share/datasets/fashion-mnist"
MEAN = 0.2860
STD = 0.3530
SIZE = 112
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

PREPROCESSING = {
    "source": "Fashion-MNIST u8 images [N,28,28]",
    "scale": 1.0 / 255.0,
    "resize": {"from": [28, 28], "to": [SIZE, SIZE], "mode": "bilinear",
               "coordinate_transformation": "half_pixel", "antialias": False,
               "torch": "F.interpolate(x, size=(112, 112), mode='bilinear', align_corners=False)",
               "onnx": "Resize mode=linear coordinate_transformation_mode=half_pixel"},
    "mean": MEAN,
    "std": STD,
    "formula": "x = (resize_bilinear_half_pixel(pixel_u8 / 255, 112x112) - mean) / std",
    "in_model": False,
}


def read_idx(path):
    """Read a (gzipped) IDX file of unsigned bytes into a numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an IDX file")
    dtype_code, ndim = data[2], data[3]
    if dtype_code != 0x08:
        raise ValueError(f"{path}: expected unsigned byte data (0x08), got 0x{dtype_code:02x}")
    if len(data) < 4 + 4 * ndim:
        raise ValueError(f"{path}: truncated header")
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    off = 4 + 4 * ndim
    n = int(np.prod(dims))
    if len(data) - off != n:
        raise ValueError(f"{path}: expected {n} data bytes, found {len(data) - off}")
    return np.frombuffer(data, dtype=np.uint8, offset=off).reshape(dims)


def load_split(data_dir, split):
    """split: "train" or "t10k". Returns (images u8 [N,28,28], labels u8 [N])."""
    x = read_idx(os.path.join(data_dir, f"{split}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(data_dir, f"{split}-labels-idx1-ubyte.gz"))
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{split}: {x.shape[0]} images but {y.shape[0]} labels")
    return x, y


def to_unit(x_u8):
    """u8 [N,28,28] -> float32 tensor [N,1,28,28] in [0,1] (not yet resized/normalised)."""
    return torch.from_numpy(x_u8.astype(np.float32)[:, None, :, :] / np.float32(255.0))


def preprocess(x01):
    """float [N,1,28,28] in [0,1] -> the model input [N,1,112,112] (resize, then normalise)."""
    x = F.interpolate(x01, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
    return (x - MEAN) / STD


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
