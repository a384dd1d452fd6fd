#!/usr/bin/python3
"""Export eltwise-sweep.onnx: element-wise ops over a range of tensor sizes,
a training model for the latency regression (docs/regression.md).

In the torchvision models almost every element-wise node is fused into a
convolution (ReLU as its activation, residual Adds as its sum), so their
profiles hold few element-wise samples; efficientnet_b0's SiLU and
squeeze-excitation Muls and Sigmoids then have nothing to be fitted on when it
is the model left out; and the small models (fmnist, 28x28) need samples
where the per-node overhead dominates. This model has, for eight sizes
(16x112x112 down to 2048x1x1, each stage a quarter of the elements and
twice the channels):
Sigmoid, Mul (SiLU), HardSwish, Add, Tanh, a broadcast Mul by a per-channel
Sigmoid (as in squeeze-excitation), and the average pools and concats that
move to the next size. No weights; deterministic.

Writes into --out DIR: eltwise-sweep.onnx (opset 13, input "input"
[1,16,112,112]) and eltwise-sweep.input.npy (seeded N(0,1)). Must be run with
Debian's Python (torch): /usr/bin/python3.
"""
import argparse
import os
import sys

NAME = "eltwise-sweep"
SEED = 20261206


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output directory")
    a = ap.parse_args()
    onnx_path = os.path.join(a.out, NAME + ".onnx")
    npy_path = os.path.join(a.out, NAME + ".input.npy")
    if os.path.exists(onnx_path) and os.path.exists(npy_path) and \
            os.path.getmtime(onnx_path) >= os.path.getmtime(__file__):
        print(f"{NAME}: up to date")
        return 0
    import numpy as np
    import torch

    class Sweep(torch.nn.Module):
        def forward(self, x):
            outs = []
            t = x
            for _ in range(8):
                s = torch.sigmoid(t)
                u = t * s                                  # SiLU
                h = torch.nn.functional.hardswish(u)
                v = h + t
                w = torch.tanh(v)
                g = torch.sigmoid(torch.mean(w, dim=(2, 3), keepdim=True))
                e = w * g                                  # squeeze-excitation scale
                outs.append(torch.mean(e, dim=(2, 3)))
                p = torch.nn.functional.avg_pool2d(e, 2, ceil_mode=True)
                t = torch.cat([p, -p], dim=1)
            return torch.cat(outs, dim=1)

    os.makedirs(a.out, exist_ok=True)
    torch.manual_seed(SEED)
    x = torch.randn(1, 16, 112, 112)
    tmp = onnx_path + ".tmp"
    torch.onnx.export(Sweep().eval(), x, tmp, opset_version=13, input_names=["input"],
                      output_names=["output"], do_constant_folding=True)
    os.replace(tmp, onnx_path)
    np.save(npy_path, x.numpy().astype(np.float32))
    print(f"{NAME}: wrote {onnx_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
