#!/usr/bin/env bash
# The engine demo (make demo before the split existed): inspect, run and
# benchmark the bundled Fashion-MNIST CNN, then calibrate and evaluate the
# residual network quantized to 8 and 4 bits. Later issues grow this into
# plan + split + serve (now scripts/demo.sh).
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
if [ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then
  R=models/fmnist-resnet.onnx
  [ -f "$R" ] || R=$M
  echo
  echo "== quantization of $R: calibrate on 512 training images, then evaluate on the 10,000 test images"
  "$C" inspect "$R" --layers
  "$C" calibrate "$R" --data fashion-mnist --n 512 --no-tables -o "$out/stats.json"
  for u in 8,8 4,8; do
    echo "-- uniform ${u%,*}-bit weights, ${u#*,}-bit activations (integer kernels; ONNX Runtime on the exported QDQ model)"
    "$C" eval "$R" --data fashion-mnist --uniform $u --stats "$out/stats.json" --ort
  done
fi
