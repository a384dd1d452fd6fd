#!/usr/bin/env bash
# make demo (for now: the engine): inspect, run and benchmark the bundled
# Fashion-MNIST CNN. Later issues grow this into plan + split + serve.
set -euo pipefail
B=${1:-build}
C=$B/cleave
M=models/fmnist-cnn.onnx
echo "== cleave inspect $M"
"$C" inspect "$M"
echo
echo "== cleave run $M on the first Fashion-MNIST test image"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$C" run "$M" --input models/fmnist-cnn.input.npy --output "$out" --time
"$C" run "$M" --input models/fmnist-cnn.input.npy --output "$out/ref.npy" --ref > /dev/null
node tools/ort_run.js run "$M" --input models/fmnist-cnn.input.npy --outdir "$out/ort" > /dev/null 2>&1 && \
  "$B/tests/npycompare" "$out/logits.npy" "$out/ort/logits.npy" --rtol 1e-5 | sed 's/^/cleave vs ONNX Runtime: /' || true
echo
echo "== cleave bench $M (1 thread, same run as ONNX Runtime)"
"$C" bench "$M" --input models/fmnist-cnn.input.npy --threads 1 --warmup 20 --repeat 200
