#!/usr/bin/python3
"""Write a small ONNX model whose weights live in an external data file
(tests/data/external/model.onnx + weights.bin), with an input and the
output numpy computes for it, for the loader's external-data test.

Graph: Y = Relu(MatMul(X, W) + B), X 2x64, W 64x32 (external), B 32 (external).
usage: tools/make_external_data_model.py --out tests/data/external
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ap = argparse.ArgumentParser()
ap.add_argument("--out", required=True)
a = ap.parse_args()
os.makedirs(a.out, exist_ok=True)
rng = np.random.default_rng(0)
x = rng.standard_normal((2, 64)).astype(np.float32)
w = rng.standard_normal((64, 32)).astype(np.float32)
b = rng.standard_normal((32,)).astype(np.float32)
y = np.maximum(x @ w + b, 0).astype(np.float32)
g = helper.make_graph(
    [helper.make_node("MatMul", ["X", "W"], ["XW"]),
     helper.make_node("Add", ["XW", "B"], ["Z"]),
     helper.make_node("Relu", ["Z"], ["Y"])],
    "external_data",
    [helper.make_tensor_value_info("X", TensorProto.FLOAT, [2, 64])],
    [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [2, 32])],
    [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
m.ir_version = 8
onnx.save_model(m, os.path.join(a.out, "model.onnx"), save_as_external_data=True,
                all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
np.save(os.path.join(a.out, "input.npy"), x)
np.save(os.path.join(a.out, "expected.npy"), y)
print("wrote", a.out)
