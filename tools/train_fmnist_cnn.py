#!/usr/bin/python3
"""Train the plain Fashion-MNIST CNN ("fmnist-cnn") and export it to ONNX.

Architecture (input [N,1,28,28], normalised as ((x/255) - 0.2860) / 0.3530):
  conv 1->16 3x3 pad 1 + BN + ReLU, maxpool 2   -> 16x14x14
  conv 16->32 3x3 pad 1 + BN + ReLU, maxpool 2  -> 32x7x7
  conv 32->64 3x3 pad 1 + BN + ReLU, maxpool 2  -> 64x3x3
  flatten (576) -> fully connected 10           -> logits

Seed 0, CPU, one thread, deterministic algorithms; Adam (lr 2e-3, linear decay to 5%),
batch 64, 3 epochs (about 90 s on one core, ~91% test accuracy). Bit-for-bit reproducible.

Writes OUT (ONNX, opset 13, input "input" [N,1,28,28], output "logits" [N,10], BatchNormalization
nodes kept) and OUT with .json instead of .onnx (seed, epochs, fp32 test accuracy on all 10,000
test images, normalisation, sha256 of the ONNX file, ...). The .json holds no timings, so a rerun
reproduces both files byte for byte.

Must be run with Debian's Python (torch 1.13): /usr/bin/python3.
"""
import argparse
import json
import os
import random
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from fmnist_common import CLASSES, DATA_DIR, MEAN, STD, load_split, sha256_file


def normalise(x_u8):
    x = x_u8.astype(np.float32) / 255.0
    x = (x - np.float32(MEAN)) / np.float32(STD)
    return torch.from_numpy(x[:, None, :, :].copy())


class FmnistCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(64)
        self.fc = nn.Linear(64 * 3 * 3, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = F.max_pool2d(F.relu(self.bn3(self.conv3(x))), 2)
        return self.fc(torch.flatten(x, 1))


def evaluate(model, x, y, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            pred = model(x[i:i + batch]).argmax(1)
            correct += int((pred == y[i:i + batch]).sum())
    return correct / x.shape[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output .onnx path (the .json goes next to it)")
    ap.add_argument("--data", default=DATA_DIR, help="folder with the Fashion-MNIST *-ubyte.gz files")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--opset", type=int, default=13)
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.use_deterministic_algorithms(True)

    t_start = time.time()
    xtr_u8, ytr_u8 = load_split(args.data, "train")
    xte_u8, yte_u8 = load_split(args.data, "t10k")
    xtr, ytr = normalise(xtr_u8), torch.from_numpy(ytr_u8.astype(np.int64))
    xte, yte = normalise(xte_u8), torch.from_numpy(yte_u8.astype(np.int64))
    print(f"data: train {tuple(xtr.shape)}, test {tuple(xte.shape)}", flush=True)

    model = FmnistCNN()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps_per_epoch = (xtr.shape[0] + args.batch - 1) // args.batch
    # linear decay to 5% of lr over the whole run
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 1.0 - 0.95 * s / (args.epochs * steps_per_epoch))
    gen = torch.Generator().manual_seed(args.seed)
    history = []
    for epoch in range(args.epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(xtr.shape[0], generator=gen)
        total_loss = 0.0
        for s in range(steps_per_epoch):
            idx = perm[s * args.batch:(s + 1) * args.batch]
            logits = model(xtr[idx])
            loss = F.cross_entropy(logits, ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += float(loss) * idx.shape[0]
        acc = evaluate(model, xte, yte)
        ep = {"epoch": epoch + 1, "train_loss": round(total_loss / xtr.shape[0], 5),
              "test_accuracy": acc}
        history.append(ep)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {ep['train_loss']:.4f}, "
              f"test acc {acc:.4f}, {time.time() - t0:.1f} s", flush=True)

    model.eval()
    test_acc = evaluate(model, xte, yte)
    train_seconds = time.time() - t_start

    out = args.out
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp"
    # PRESERVE + eval(): inference export that keeps BatchNormalization nodes (torch's
    # EVAL mode would fold them into the convolutions; the engine must do that itself).
    warnings.filterwarnings("ignore", message="It is recommended that constant folding be turned off")
    with torch.no_grad():
        torch.onnx.export(
            model, xte[:1], tmp,
            input_names=["input"], output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=args.opset, do_constant_folding=True,
            training=torch.onnx.TrainingMode.PRESERVE,
        )
    import onnx
    m = onnx.load(tmp)
    onnx.checker.check_model(m)
    ops = {}
    for n in m.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    os.replace(tmp, out)

    base = out[:-5] if out.endswith(".onnx") else out
    meta = {
        "model": os.path.basename(out),
        "description": "plain CNN on Fashion-MNIST: 3x (conv3x3 + BN + ReLU + maxpool2), flatten, FC 576->10",
        "script": "tools/train_fmnist_cnn.py",
        "seed": args.seed,
        "epochs": args.epochs,
        "batch_size": args.batch,
        "optimizer": f"Adam lr {args.lr}, linear decay to 5%",
        "threads": 1,
        "torch": torch.__version__,
        "opset": args.opset,
        "input": {"name": "input", "shape": ["batch", 1, 28, 28], "dtype": "float32"},
        "output": {"name": "logits", "shape": ["batch", 10], "dtype": "float32"},
        "normalisation": {"scale": 1.0 / 255.0, "mean": MEAN, "std": STD,
                          "formula": "x = (pixel_u8 / 255 - mean) / std"},
        "classes": CLASSES,
        "test_images": int(xte.shape[0]),
        "test_accuracy_fp32": test_acc,
        "history": history,
        "params": int(sum(p.numel() for p in model.parameters())),
        "onnx_ops": dict(sorted(ops.items())),
        "onnx_sha256": sha256_file(out),
    }
    with open(base + ".json.tmp", "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    os.replace(base + ".json.tmp", base + ".json")
    print(f"wrote {out} (sha256 {meta['onnx_sha256']}) and {base}.json; "
          f"fp32 test accuracy {test_acc:.4f}; {train_seconds:.0f} s total", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
