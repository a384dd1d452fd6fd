#!/usr/bin/python3
"""Write the first N Fashion-MNIST test images, normalised exactly as the
CNN was trained ((x/255 - 0.2860) / 0.3530), as a float32 .npy of shape
N x 1 x 28 x 28. Used as the committed input of the whole-model test.

usage: tools/fmnist_sample.py --out models/fmnist-cnn.input.npy [--n 1]
"""
import argparse
import gzip

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("--out", required=True)
ap.add_argument("--n", type=int, default=1)
ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
a = ap.parse_args()
with gzip.open(a.data, "rb") as f:
    raw = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 1, 28, 28)
x = ((raw[: a.n].astype(np.float32) / 255.0) - 0.2860) / 0.3530
np.save(a.out, x.astype(np.float32))
print(f"wrote {a.out}: {x.shape}")
