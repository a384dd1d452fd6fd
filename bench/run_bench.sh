#!/usr/bin/env bash
# make bench: cleave vs ONNX Runtime on resnet18, mobilenet_v2, googlenet at
# batch 1, 224x224, with 1 and 2 threads, measured in the same run (cleave
# first, then ONNX Runtime, never concurrently). Prints a table of medians
# and ratios, and peak activation memory against the sum of activations.
# Usage: bench/run_bench.sh BUILD_DIR [models...]
set -uo pipefail
B=${1:-build}; shift || true
MODELS=${*:-resnet18 mobilenet_v2 googlenet}
CLEAVE=$B/cleave
M=${CLEAVE_MODELS_DIR:-$B/models}
REPEAT=${REPEAT:-30}
printf "%-14s %7s %12s %12s %8s %14s %14s\n" model threads "cleave ms" "ort ms" ratio "peak act MB" "sum act MB"
for m in $MODELS; do
  f=$M/$m.onnx
  if [ ! -f "$f" ]; then echo "$m: not exported (make models)"; continue; fi
  for t in 1 2; do
    out=$("$CLEAVE" bench "$f" --input "$M/$m.input.npy" --threads $t --warmup 5 --repeat "$REPEAT" 2>&1)
    c=$(echo "$out" | awk '/^cleave /{print $3}')
    o=$(echo "$out" | awk '/^onnxruntime  median/{print $3}')
    r=$(echo "$out" | awk '/^ratio/{print $4}')
    pk=$(echo "$out" | awk '/^memory/{print $4}')
    sm=$(echo "$out" | awk '/^memory/{print $10}')
    printf "%-14s %7s %12s %12s %8s %14s %14s\n" "$m" "$t" "${c:-?}" "${o:-?}" "${r:-?}" "${pk:-?}" "${sm:-?}"
    [ -z "$c" ] && echo "$out" | sed 's/^/    /'
  done
done
echo "(ratio = cleave median / ONNX Runtime median; < 1 means cleave is faster)"

# int8: resnet18 quantized by cleave (uniform 8-bit, calibrated on random
# inputs: the weights are random too) run on integer kernels, against ONNX
# Runtime on the fp32 original, in the same run. Goal: ratio <= 0.45.
f=$M/resnet18.onnx
if [ -f "$f" ]; then
  q=$B/bench-resnet18.int8.onnx
  if [ ! -f "$q" ] || [ "$f" -nt "$q" ]; then
    "$CLEAVE" calibrate "$f" --data random --n 16 --batch 8 --no-tables -o "$B/bench-resnet18.stats.json" >/dev/null &&
    "$CLEAVE" quantize "$f" --uniform 8,8 --stats "$B/bench-resnet18.stats.json" -o "$q" >/dev/null
  fi
  echo
  printf "%-22s %7s %12s %16s %8s\n" model threads "cleave ms" "ort fp32 ms" ratio
  for t in 1 2; do
    out=$("$CLEAVE" bench "$q" --ort-model "$f" --input "$M/resnet18.input.npy" --threads $t --warmup 5 --repeat "$REPEAT" 2>&1)
    c=$(echo "$out" | awk '/^cleave /{print $3}')
    o=$(echo "$out" | awk '/^onnxruntime  median/{print $3}')
    r=$(echo "$out" | awk '/^ratio/{print $4}')
    printf "%-22s %7s %12s %16s %8s\n" "resnet18 int8 (cleave)" "$t" "${c:-?}" "${o:-?}" "${r:-?}"
    [ -z "$c" ] && echo "$out" | sed 's/^/    /'
  done
  echo "(int8 ratio = cleave int8 median / ONNX Runtime fp32 median; goal <= 0.45)"
fi
