#!/usr/bin/env bash
# Output fidelity of post-training quantization on models without labels
# (torchvision models with random weights, or any model): calibrate on
# seeded random inputs, then for uniform 8-bit and 4-bit-weight/8-bit
# configurations report the SQNR of the quantized outputs against fp32 and
# how often the top-1 class agrees, on other random inputs.
# Usage: bench/quant_fidelity.sh BUILD_DIR [models...]
set -uo pipefail
B=${1:-build}; shift || true
MODELS=${*:-resnet18 resnet50 mobilenet_v2 googlenet squeezenet1_1 shufflenet_v2_x1_0 efficientnet_b0 densenet121}
CLEAVE=$B/cleave
M=${CLEAVE_MODELS_DIR:-$B/models}
N=${N:-32}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
printf "%-20s %-6s %10s %12s\n" model config "SQNR dB" "top-1 agree"
for m in $MODELS; do
  f=$M/$m.onnx
  [ -f "$f" ] || { echo "$m: not exported (make models)"; continue; }
  "$CLEAVE" calibrate "$f" --data random --n "$N" --batch 8 --no-tables -o "$T/$m.json" >/dev/null 2>"$T/err" \
    || { echo "$m: calibrate failed: $(cat "$T/err")"; continue; }
  for u in 8,8 4,8; do
    js=$("$CLEAVE" eval "$f" --data random --n "$N" --batch 8 --uniform $u --stats "$T/$m.json" --json 2>"$T/err") \
      || { echo "$m $u: eval failed: $(cat "$T/err")"; continue; }
    s=$(echo "$js" | grep -o '"sqnr_db": [-0-9.e]*' | head -1 | sed 's/.*: //')
    a=$(echo "$js" | grep -o '"agreement": [-0-9.e]*' | head -1 | sed 's/.*: //')
    printf "%-20s w%sa%s %10.1f %11.1f%%\n" "$m" "${u%,*}" "${u#*,}" "$s" "$(awk -v a="$a" 'BEGIN{print 100*a}')"
  done
done
echo "(random inputs, seeded; calibration and evaluation use different inputs)"
