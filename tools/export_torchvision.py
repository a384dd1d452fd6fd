#!/usr/bin/python3
"""Export torchvision models with random (seeded) weights to ONNX.

For every model NAME this writes, into --out DIR:
  NAME.onnx          the model, opset 13, input "input" [N,3,224,224], output "output" [N,1000]
                     (batch axis dynamic), BatchNormalization nodes kept (not folded by torch)
  NAME.input.npy     a seeded random input, float32 [1,3,224,224], standard normal
  NAME.torch.npy     PyTorch's own output for that input (float32 [1,1000]), a second reference
  NAME.meta.json     recipe + checksums; used to skip the model when it is already up to date

No weights are downloaded: every model is built with weights=None and seeded with
torch.manual_seed(0). BatchNorm layers get non-trivial parameters (gamma ~ U[0.5,1.5],
beta ~ N(0,0.1)) and running statistics measured on seeded random inputs (so mean != 0,
var != 1 and activations stay well scaled through deep networks), so that BN folding in
the engine is really exercised and the outputs are numerically meaningful.

Must be run with Debian's Python (torch 1.13 / torchvision 0.14): /usr/bin/python3.
"""
import argparse
import hashlib
import importlib.metadata
import json
import os
import sys
import time
import warnings

# numpy, torch and torchvision are imported lazily, so that the "everything is up to date"
# path stays well under a second.

ALL_MODELS = [
    "resnet18",
    "resnet50",
    "mobilenet_v2",
    "googlenet",
    "squeezenet1_1",
    "shufflenet_v2_x1_0",
    "efficientnet_b0",
    "densenet121",
]

# Bump when the recipe changes in a way the script hash would not show
# (the script's own sha256 is part of the recipe anyway).
RECIPE_VERSION = 1
INPUT_SEED = 20240101
CALIB_SEED = 1
CALIB_BATCHES = 2
CALIB_BATCH_SIZE = 4
FILE_SUFFIXES = (".onnx", ".input.npy", ".torch.npy")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build_model(name):
    import torchvision

    ctor = getattr(torchvision.models, name)
    kwargs = {"weights": None}
    if name == "googlenet":
        kwargs.update(aux_logits=False, init_weights=True)
    return ctor(**kwargs)


def randomise_batchnorm(model, name):
    """Non-trivial BN affine params, then running stats measured on seeded random data."""
    import torch

    g = torch.Generator().manual_seed(CALIB_SEED)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for bn in bns:
            if bn.affine:
                bn.weight.copy_(torch.rand(bn.weight.shape, generator=g) + 0.5)
                bn.bias.copy_(torch.randn(bn.bias.shape, generator=g) * 0.1)
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average over the calibration batches
    # Everything in eval mode (dropout, stochastic depth off) except BN, which collects stats.
    model.eval()
    for bn in bns:
        bn.train()
    with torch.no_grad():
        for _ in range(CALIB_BATCHES):
            x = torch.randn(CALIB_BATCH_SIZE, 3, 224, 224, generator=g)
            model(x)
    model.eval()
    with torch.no_grad():
        for bn in bns:
            bn.momentum = 0.1
            # No near-zero variances (a channel that is constant on the calibration data).
            bn.running_var.clamp_(min=1e-3)
    return len(bns)


def recipe(name, opset):
    script = os.path.abspath(__file__)
    return {
        "recipe_version": RECIPE_VERSION,
        "model": name,
        "opset": opset,
        "torch": importlib.metadata.version("torch"),
        "torchvision": importlib.metadata.version("torchvision"),
        "script_sha256": sha256_file(script),
        "input_seed": INPUT_SEED,
        "weight_seed": 0,
        "calib_seed": CALIB_SEED,
    }


def up_to_date(out, name, rec):
    meta_path = os.path.join(out, name + ".meta.json")
    try:
        with open(meta_path) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return False
    if meta.get("recipe") != rec:
        return False
    files = meta.get("files", {})
    for suffix in FILE_SUFFIXES:
        p = os.path.join(out, name + suffix)
        rec_f = files.get(suffix)
        if not rec_f:
            return False
        try:
            st = os.stat(p)
        except OSError:
            return False
        if st.st_size != rec_f.get("size"):
            return False
        # fast path: same size and mtime as when written; otherwise compare contents
        if st.st_mtime_ns != rec_f.get("mtime_ns") and sha256_file(p) != rec_f.get("sha256"):
            return False
    return True


def file_record(path):
    st = os.stat(path)
    return {"sha256": sha256_file(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def save_npy_atomic(path, arr):
    import numpy as np

    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        np.save(f, arr)
    os.replace(tmp, path)


def export_one(out, name, opset, rec):
    import numpy as np
    import onnx
    import torch

    # The model is in eval() mode, so torch's "constant folding in training mode" warning
    # (triggered by TrainingMode.PRESERVE) does not apply.
    warnings.filterwarnings("ignore", message="It is recommended that constant folding be turned off")

    t0 = time.time()
    torch.manual_seed(0)
    model = build_model(name)
    nbn = randomise_batchnorm(model, name)
    model.eval()

    x_np = np.random.RandomState(INPUT_SEED).standard_normal((1, 3, 224, 224)).astype(np.float32)
    x = torch.from_numpy(x_np)
    with torch.no_grad():
        y = model(x).numpy().astype(np.float32)
    if not np.all(np.isfinite(y)):
        raise RuntimeError(f"{name}: torch output is not finite")

    onnx_path = os.path.join(out, name + ".onnx")
    tmp = onnx_path + ".tmp"
    with torch.no_grad():
        torch.onnx.export(
            model, x, tmp,
            input_names=["input"], output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
            opset_version=opset,
            do_constant_folding=True,
            # PRESERVE with an eval() model = inference export, but without torch's
            # eval peephole that would fold BatchNormalization into Conv.
            training=torch.onnx.TrainingMode.PRESERVE,
        )
    m = onnx.load(tmp)
    onnx.checker.check_model(m)
    ops = {}
    for n in m.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    os.replace(tmp, onnx_path)

    save_npy_atomic(os.path.join(out, name + ".input.npy"), x_np)
    save_npy_atomic(os.path.join(out, name + ".torch.npy"), y)

    meta = {
        "recipe": rec,
        "files": {suffix: file_record(os.path.join(out, name + suffix)) for suffix in FILE_SUFFIXES},
        "params": int(sum(p.numel() for p in model.parameters())),
        "batchnorm_modules": nbn,
        "onnx_ops": dict(sorted(ops.items())),
        "torch_output_absmax": float(np.abs(y).max()),
        "export_seconds": round(time.time() - t0, 2),
    }
    meta_path = os.path.join(out, name + ".meta.json")
    with open(meta_path + ".tmp", "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(meta_path + ".tmp", meta_path)
    return meta


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output folder (created if missing)")
    ap.add_argument("--models", default=",".join(ALL_MODELS),
                    help="comma-separated subset of: " + ",".join(ALL_MODELS))
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--force", action="store_true", help="re-export even when up to date")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1, deterministic)")
    args = ap.parse_args()

    names = [s.strip() for s in args.models.split(",") if s.strip()]
    bad = [n for n in names if n not in ALL_MODELS]
    if bad:
        ap.error("unknown model(s): " + ", ".join(bad) + "; known: " + ", ".join(ALL_MODELS))
    os.makedirs(args.out, exist_ok=True)

    failed = 0
    for i, name in enumerate(names, 1):
        rec = recipe(name, args.opset)
        tag = f"[{i}/{len(names)}] {name}"
        if not args.force and up_to_date(args.out, name, rec):
            print(f"{tag}: up to date", flush=True)
            continue
        print(f"{tag}: exporting ...", flush=True)
        import torch
        torch.set_num_threads(args.threads)
        try:
            meta = export_one(args.out, name, args.opset, rec)
        except Exception as e:  # keep going, report at the end
            failed += 1
            print(f"{tag}: FAILED: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
            continue
        print(f"{tag}: done in {meta['export_seconds']} s, {meta['params']} params, "
              f"{sum(meta['onnx_ops'].values())} nodes "
              f"({meta['onnx_ops'].get('BatchNormalization', 0)} BatchNormalization)", flush=True)
    if failed:
        print(f"{failed} model(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
