#!/usr/bin/python3
"""Train the 112x112 Fashion-MNIST models used by the split-inference scenarios and export them.

  tools/train_fmnist_models.py --model fmnist-resnet|fmnist-exits --out models/

Input "input" float32 [N,1,112,112] (dynamic batch). Preprocessing (tools/fmnist_common.py; the C
side src/data/ reproduces it exactly): x = pixel_u8/255; upscale 28x28 -> 112x112 bilinear with
half-pixel centres (torch F.interpolate(mode='bilinear', align_corners=False), no antialias; same
as ONNX Resize linear/half_pixel, source coordinate clamped to [0,27]); then (x - 0.2860)/0.3530.
The upscaling is NOT in the model: the edge camera delivers 112x112 (12544 bytes at 8 bits).

fmnist-resnet  (output "logits" [N,10]) -- residual net, cheap strided stem, weights at the end:
  stem   conv3x3 s2 1->16 +BN+ReLU (16x56x56), conv3x3 s2 16->32 +BN+ReLU (32x28x28)
  layer1 BasicBlock 32->32  s2, 1x1 projection   -> 32x14x14
  layer2 BasicBlock 32->64  s2, 1x1 projection   -> 64x7x7
  layer3 BasicBlock 64->128 s2, 1x1 projection   -> 128x4x4
  layer4 BasicBlock 128->192 s1, 1x1 projection  -> 192x4x4
  head   global average pool, FC 192->10
  (BasicBlock = conv3x3+BN+ReLU, conv3x3+BN, + shortcut (Add), ReLU.)  ~0.89M parameters, ~90% of
  them in layer3/layer4, so the whole model does not fit a 256 KB budget even at 4-bit weights,
  while 32x14x14 / 64x7x7 at 4 bits are 3136 / 1568 bytes.

fmnist-exits  (outputs "exit1", "exit2", "exit3", logits [N,10] each) -- BranchyNet early exits:
  stage1 conv3x3 s2 1->16, conv3x3 s2 16->32, conv3x3 s2 32->32 (+BN+ReLU each) -> 32x14x14
    exit1: avgpool 2 -> 32x7x7, flatten, FC 1568->10
  stage2 conv3x3 32->64 +BN+ReLU, maxpool 2                              -> 64x7x7
    exit2: conv3x3 s2 64->32 +BN+ReLU -> 32x4x4, flatten, FC 512->10
  stage3 conv3x3 64->128 +BN+ReLU, conv3x3 128->128 +BN+ReLU, maxpool 2  -> 128x3x3
    exit3: flatten, FC 1152->10
  Joint training (BranchyNet, Teerapittayanon et al. 2016, sec. 3): loss = sum_k w_k CE(exit_k),
  w = (0.5, 0.5, 1.0).

Training: seed 0, torch.set_num_threads(2), torch.use_deterministic_algorithms(True), Adam with a
short linear warm-up then cosine decay to 0, batch 128, random horizontal flips (seeded), so a rerun
reproduces the ONNX bytes. Export: ONNX opset 13, dynamic batch, eval() model exported with
training=PRESERVE so the BatchNormalization nodes are kept (the engine folds them itself).

Writes into --out: <m>.onnx, <m>.json (recipe, preprocessing, per-exit fp32 test accuracy on all
10,000 test images, params, MACs, ONNX op counts, sha256 of the ONNX file, per-epoch history; no
timings), <m>.input.npy (test image 0 preprocessed, [1,1,112,112] float32), <m>.input-batch4.npy
(test images 0..3).

--verify compares the exported ONNX with ONNX Runtime (node tools/ort_run.js, needs `make deps`)
on the batch-4 input and on the first --verify-n test images, against torch's outputs.

Must be run with Debian's Python (torch 1.13): /usr/bin/python3.
"""
import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist_common as fc  # noqa: E402


# ---------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------

def conv_bn(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class BasicBlock(nn.Module):
    """ResNet basic block (He et al. 2016): two 3x3 convs + shortcut (1x1 projection when needed)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        s = x if self.short is None else self.short(x)
        return F.relu(y + s)


class FmnistResNet(nn.Module):
    outputs = ["logits"]

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(conv_bn(1, 16, 2), conv_bn(16, 32, 2))
        self.layer1 = BasicBlock(32, 32, 2)
        self.layer2 = BasicBlock(32, 64, 2)
        self.layer3 = BasicBlock(64, 128, 2)
        self.layer4 = BasicBlock(128, 192, 1)
        self.fc = nn.Linear(192, 10)

    def forward(self, x):
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


class FmnistExits(nn.Module):
    outputs = ["exit1", "exit2", "exit3"]
    loss_weights = [0.5, 0.5, 1.0]

    def __init__(self):
        super().__init__()
        self.stage1 = nn.Sequential(conv_bn(1, 16, 2), conv_bn(16, 32, 2), conv_bn(32, 32, 2))
        # count_include_pad=False: same result without padding, and torch then exports a bare
        # AveragePool instead of a zero Pad + AveragePool
        self.exit1 = nn.Sequential(nn.AvgPool2d(2, count_include_pad=False), nn.Flatten(),
                                   nn.Linear(32 * 7 * 7, 10))
        self.stage2 = nn.Sequential(conv_bn(32, 64), nn.MaxPool2d(2))
        self.exit2 = nn.Sequential(conv_bn(64, 32, 2), nn.Flatten(), nn.Linear(32 * 4 * 4, 10))
        self.stage3 = nn.Sequential(conv_bn(64, 128), conv_bn(128, 128), nn.MaxPool2d(2))
        self.exit3 = nn.Sequential(nn.Flatten(), nn.Linear(128 * 3 * 3, 10))

    def forward(self, x):
        x = self.stage1(x)
        e1 = self.exit1(x)
        x = self.stage2(x)
        e2 = self.exit2(x)
        x = self.stage3(x)
        return e1, e2, self.exit3(x)


MODELS = {
    "fmnist-resnet": (FmnistResNet, "residual CNN at 112x112: strided stem (2 convs s2), 4 basic "
                      "blocks 32@14, 64@7, 128@4, 192@4 with 1x1 projections, GAP, FC 192->10"),
    "fmnist-exits": (FmnistExits, "BranchyNet early-exit CNN at 112x112: 3 stages, exits after "
                     "32x14x14 (pool+FC), 64x7x7 (conv s2+FC) and 128x3x3 (FC)"),
}


def outputs_of(model, x):
    y = model(x)
    return list(y) if isinstance(y, tuple) else [y]


# ---------------------------------------------------------------------------
# counting
# ---------------------------------------------------------------------------

def count_macs(model):
    """Multiply-accumulates of Conv2d and Linear layers for one 1x112x112 image, per top-level child."""
    per = {}
    hooks = []
    for name, mod in model.named_modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            top = name.split(".")[0]

            def hook(m, inp, out, top=top):
                if isinstance(m, nn.Conv2d):
                    k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
                    macs = out.numel() * k
                else:
                    macs = out.numel() * m.in_features
                per[top] = per.get(top, 0) + int(macs)
            hooks.append(mod.register_forward_hook(hook))
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, fc.SIZE, fc.SIZE))
    for h in hooks:
        h.remove()
    return per


def params_of(module):
    return int(sum(p.numel() for p in module.parameters()))


# ---------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------

def evaluate(model, x01, y, batch=500):
    """Accuracy of every output on (x01 [N,1,28,28] in [0,1], y)."""
    model.eval()
    correct = None
    with torch.no_grad():
        for i in range(0, x01.shape[0], batch):
            outs = outputs_of(model, fc.preprocess(x01[i:i + batch]))
            c = [int((o.argmax(1) == y[i:i + batch]).sum()) for o in outs]
            correct = c if correct is None else [a + b for a, b in zip(correct, c)]
    return [v / x01.shape[0] for v in correct]


def train(model, weights, xtr, ytr, xte, yte, args, gen):
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.wd)
    n = xtr.shape[0]
    steps_per_epoch = (n + args.batch - 1) // args.batch
    total = args.epochs * steps_per_epoch
    warm = min(200, total // 10)

    def lr_at(s):  # linear warm-up, then cosine decay to 0
        if s < warm:
            return (s + 1) / warm
        return 0.5 * (1.0 + math.cos(math.pi * (s - warm) / max(1, total - warm)))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    history = []
    for epoch in range(args.epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(n, generator=gen)
        flips = torch.rand(n, generator=gen) < 0.5 if args.flip else None
        loss_sum = [0.0] * len(weights)
        for s in range(steps_per_epoch):
            idx = perm[s * args.batch:(s + 1) * args.batch]
            xb = xtr[idx]
            if flips is not None:
                f = flips[s * args.batch:(s + 1) * args.batch]
                xb = torch.where(f[:, None, None, None], xb.flip(3), xb)
            outs = outputs_of(model, fc.preprocess(xb))
            losses = [F.cross_entropy(o, ytr[idx]) for o in outs]
            loss = sum(w * l for w, l in zip(weights, losses))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            for k, l in enumerate(losses):
                loss_sum[k] += float(l) * idx.shape[0]
            if args.max_steps and s + 1 >= args.max_steps:
                dt = time.time() - t0
                print(f"timing: {s + 1} steps of {args.batch} in {dt:.1f} s -> "
                      f"{dt * steps_per_epoch / (s + 1):.0f} s per epoch", flush=True)
                return None
        accs = evaluate(model, xte, yte)
        ep = {"epoch": epoch + 1,
              "train_loss": [round(v / n, 5) for v in loss_sum],
              "test_accuracy": accs}
        history.append(ep)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {ep['train_loss']}, test acc {accs}, "
              f"{time.time() - t0:.1f} s", flush=True)
    return history


# ---------------------------------------------------------------------------
# export and verification
# ---------------------------------------------------------------------------

def export(model, names, path, opset):
    import onnx
    tmp = path + ".tmp"
    dyn = {"input": {0: "batch"}}
    for nm in names:
        dyn[nm] = {0: "batch"}
    # PRESERVE + eval(): an inference graph that keeps its BatchNormalization nodes (torch's
    # EVAL mode would fold them into the convolutions; the engine must do that itself).
    warnings.filterwarnings("ignore", message="It is recommended that constant folding be turned off")
    model.eval()
    with torch.no_grad():
        torch.onnx.export(model, torch.zeros(1, 1, fc.SIZE, fc.SIZE), tmp,
                          input_names=["input"], output_names=names, dynamic_axes=dyn,
                          opset_version=opset, do_constant_folding=True,
                          training=torch.onnx.TrainingMode.PRESERVE)
    m = onnx.load(tmp)
    onnx.checker.check_model(m)
    ops = {}
    for node in m.graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    if not ops.get("BatchNormalization"):
        raise RuntimeError(f"{path}: export lost the BatchNormalization nodes")
    got = [o.name for o in m.graph.output]
    if got != names:
        raise RuntimeError(f"{path}: outputs {got}, expected {names}")
    os.replace(tmp, path)
    return dict(sorted(ops.items()))


def ort_outputs(onnx_path, npy_path, names):
    """Run ONNX Runtime through tools/ort_run.js; returns the outputs in order, or None."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ort_run.js")
    if not shutil.which("node"):
        print("verify: node not found, skipped", flush=True)
        return None
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run(["node", script, "run", onnx_path, "--input", npy_path, "--outdir", d],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(f"verify: ort_run.js failed ({r.returncode}): {r.stderr.strip()}", flush=True)
            return None
        return [np.load(os.path.join(d, f"{nm}.npy")) for nm in names]


def verify(model, onnx_path, names, xte, yte, n_check):
    """torch vs ONNX Runtime: max |diff| on the batch-4 input and accuracy on n_check images."""
    model.eval()
    base = onnx_path[:-5]
    ok = True
    with tempfile.TemporaryDirectory() as d:
        checks = [(base + ".input-batch4.npy", None)]
        if n_check > 0:
            p = os.path.join(d, "check.npy")
            np.save(p, fc.preprocess(xte[:n_check]).numpy())
            checks.append((p, yte[:n_check].numpy()))
        for npy, labels in checks:
            x = torch.from_numpy(np.load(npy))
            with torch.no_grad():
                ref = [o.numpy() for o in outputs_of(model, x)]
            got = ort_outputs(onnx_path, npy, names)
            if got is None:
                return False
            for nm, a, b in zip(names, ref, got):
                err = float(np.abs(a - b).max())
                line = f"verify {os.path.basename(npy)}: {nm} max|torch-ort| {err:.3g} (max|y| {np.abs(a).max():.3g})"
                if labels is not None:
                    line += (f", ORT accuracy {(b.argmax(1) == labels).mean():.4f}"
                             f" torch {(a.argmax(1) == labels).mean():.4f}")
                print(line, flush=True)
                ok = ok and err <= 1e-4 * max(1.0, float(np.abs(a).max()))
    return ok


# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, choices=sorted(MODELS))
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--data", default=fc.DATA_DIR, help="folder with the Fashion-MNIST *-ubyte.gz files")
    ap.add_argument("--epochs", type=int, default=None, help="default: 5 (resnet), 6 (exits)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--wd", type=float, default=0.0, help="Adam weight decay")
    ap.add_argument("--no-flip", dest="flip", action="store_false", help="no random horizontal flips")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--max-steps", type=int, default=0,
                    help="timing only: stop after this many steps, print the time per epoch, write nothing")
    ap.add_argument("--verify", action="store_true", help="compare with ONNX Runtime after export")
    ap.add_argument("--verify-n", type=int, default=1000, help="test images for the ORT accuracy check")
    args = ap.parse_args()
    if args.epochs is None:
        args.epochs = {"fmnist-resnet": 5, "fmnist-exits": 6}[args.model]

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.use_deterministic_algorithms(True)

    t_start = time.time()
    xtr_u8, ytr_u8 = fc.load_split(args.data, "train")
    xte_u8, yte_u8 = fc.load_split(args.data, "t10k")
    xtr, ytr = fc.to_unit(xtr_u8), torch.from_numpy(ytr_u8.astype(np.int64))
    xte, yte = fc.to_unit(xte_u8), torch.from_numpy(yte_u8.astype(np.int64))
    print(f"data: train {tuple(xtr.shape)}, test {tuple(xte.shape)}, model input 1x{fc.SIZE}x{fc.SIZE}",
          flush=True)

    cls, description = MODELS[args.model]
    model = cls()
    names = cls.outputs
    weights = getattr(cls, "loss_weights", [1.0])
    macs = count_macs(model)
    print(f"{args.model}: {params_of(model)} parameters, {sum(macs.values())} MACs; per part {macs}",
          flush=True)
    gen = torch.Generator().manual_seed(args.seed)
    history = train(model, weights, xtr, ytr, xte, yte, args, gen)
    if history is None:
        return 0
    model.eval()
    accs = evaluate(model, xte, yte)
    train_seconds = time.time() - t_start

    os.makedirs(args.out, exist_ok=True)
    base = os.path.join(args.out, args.model)
    onnx_path = base + ".onnx"
    ops = export(model, names, onnx_path, args.opset)
    with torch.no_grad():
        x4 = fc.preprocess(xte[:4]).numpy().astype(np.float32)
    np.save(base + ".input.npy", x4[:1].copy())
    np.save(base + ".input-batch4.npy", x4)

    parts = {name: params_of(mod) for name, mod in model.named_children()}
    meta = {
        "model": os.path.basename(onnx_path),
        "description": description,
        "script": "tools/train_fmnist_models.py",
        "command": f"tools/train_fmnist_models.py --model {args.model} --out models/",
        "seed": args.seed,
        "epochs": args.epochs,
        "batch_size": args.batch,
        "optimizer": f"Adam lr {args.lr}, weight decay {args.wd}, linear warm-up then cosine decay to 0",
        "augmentation": "random horizontal flip (p=0.5, seeded)" if args.flip else "none",
        "loss": (f"sum_k w_k * CE(exit_k), w = {weights} (BranchyNet joint training)"
                 if len(names) > 1 else "cross-entropy"),
        "threads": args.threads,
        "deterministic": True,
        "torch": torch.__version__,
        "opset": args.opset,
        "input": {"name": "input", "shape": ["batch", 1, fc.SIZE, fc.SIZE], "dtype": "float32"},
        "outputs": [{"name": nm, "shape": ["batch", 10], "dtype": "float32"} for nm in names],
        "preprocessing": fc.PREPROCESSING,
        "normalisation": {"scale": 1.0 / 255.0, "mean": fc.MEAN, "std": fc.STD,
                          "formula": fc.PREPROCESSING["formula"]},
        "classes": fc.CLASSES,
        "test_images": int(xte.shape[0]),
        "test_accuracy_fp32": {nm: a for nm, a in zip(names, accs)},
        "history": history,
        "params": params_of(model),
        "params_per_part": parts,
        "macs": int(sum(macs.values())),
        "macs_per_part": macs,
        "onnx_ops": ops,
        "onnx_sha256": fc.sha256_file(onnx_path),
        "inputs_npy": {"input.npy": "test image 0, preprocessed, [1,1,112,112]",
                       "input-batch4.npy": "test images 0..3, preprocessed, [4,1,112,112]"},
    }
    with open(base + ".json.tmp", "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    os.replace(base + ".json.tmp", base + ".json")
    print(f"wrote {onnx_path} (sha256 {meta['onnx_sha256']}), {base}.json, {base}.input.npy, "
          f"{base}.input-batch4.npy; fp32 test accuracy {meta['test_accuracy_fp32']}; "
          f"{train_seconds:.0f} s total", flush=True)
    if args.verify and not verify(model, onnx_path, names, xte, yte, args.verify_n):
        print("verify: FAILED", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
