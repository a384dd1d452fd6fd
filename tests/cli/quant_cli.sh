#!/usr/bin/env bash
# The quantization commands end to end on a trained Fashion-MNIST model:
# calibrate (with distortion tables), eval in fp32 / uniform 8-bit / 4-bit
# weights with the accuracy bars of issue 4 (u8 within 0.5 pt, w4a8 within
# 2 pt of fp32, every output), the exported QDQ model under ONNX Runtime
# (same top-1 within 0.1 pt), and bad input (bits, layer names, data shape,
# statistics of another model) rejected with a message naming the file.
# Usage: quant_cli.sh CLEAVE SOURCE_DIR MODEL.onnx [N_TEST]
# Exit 0 pass, 1 fail, 77 skip (no Fashion-MNIST).
set -uo pipefail
CLEAVE=$1 SRC=$2 MODEL=$3 N=${4:-10000}
if [ ! -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then
  echo "SKIP: Fashion-MNIST is not installed (dataset-fashion-mnist)"; exit 77
fi
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }
num() { grep -o "\"$1\": [-0-9.e]*" | sed 's/.*: //'; }  # all values of a JSON key

"$CLEAVE" calibrate "$MODEL" --data fashion-mnist --n 512 --table-n 128 -o "$T/stats.json" \
  || { bad "calibrate"; exit 1; }
grep -q '"distortion"' "$T/stats.json" && ok "calibrate wrote tables" || bad "no tables in stats.json"

drop_check() { # name W,A max_drop_pt
  local js; js=$("$CLEAVE" eval "$MODEL" --data fashion-mnist --n "$N" --uniform "$2" --stats "$T/stats.json" --json) \
    || { bad "$1: eval failed"; return; }
  paste <(echo "$js" | num top1_fp32) <(echo "$js" | num top1_quantized) | while read -r f q; do
    awk -v f="$f" -v q="$q" -v m="$3" -v n="$1" 'BEGIN {
      d = 100 * (f - q); printf "%s %s: fp32 %.2f%% quantized %.2f%% drop %.2f pt (bar %s)\n",
      (d <= m ? "ok  " : "FAIL"), n, 100 * f, 100 * q, d, m; exit !(d <= m) }' || echo FAILED >> "$T/fails"
  done
}
drop_check "uniform 8-bit" 8,8 0.5
drop_check "4-bit weights, 8-bit activations" 4,8 2.0
[ -f "$T/fails" ] && fail=1

# the exported QDQ model under ONNX Runtime: same top-1 within 0.1 pt
if [ -d "$SRC/.deps/npm/node_modules/onnxruntime-node" ]; then
  js=$(CLEAVE_HOME="$SRC" "$CLEAVE" eval "$MODEL" --data fashion-mnist --n "$N" --uniform 4,8 --stats "$T/stats.json" --ort --json) \
    || bad "eval --ort failed"
  paste <(echo "$js" | num top1_quantized) <(echo "$js" | num top1_onnxruntime) | while read -r q o; do
    awk -v q="$q" -v o="$o" 'BEGIN { d = 100 * (q - o); if (d < 0) d = -d;
      printf "%s w4a8 cleave %.2f%% vs onnxruntime %.2f%% (|diff| %.2f pt, bar 0.1)\n",
      (d <= 0.1 ? "ok  " : "FAIL"), 100 * q, 100 * o, d; exit !(d <= 0.1) }' || echo FAILED >> "$T/fails2"
  done
  [ -f "$T/fails2" ] && fail=1
else
  echo "note: ONNX Runtime not installed (make deps); QDQ export check skipped"
fi
"$CLEAVE" quantize "$MODEL" --uniform 4,8 --stats "$T/stats.json" -o "$T/q.onnx" >/dev/null \
  && "$CLEAVE" inspect "$T/q.onnx" | grep -q QLinearConv && ok "quantize: exported model runs on integer convolutions" \
  || bad "quantize/inspect of the QDQ export"
# accuracy figures are deterministic: the same evaluation twice gives the
# same bytes (fast kernels chosen without timing them in eval)
e1=$("$CLEAVE" eval "$MODEL" --data fashion-mnist --n 100 --uniform 8,8 --stats "$T/stats.json" --json 2>/dev/null)
e2=$("$CLEAVE" eval "$MODEL" --data fashion-mnist --n 100 --uniform 8,8 --stats "$T/stats.json" --json 2>/dev/null)
[ -n "$e1" ] && [ "$e1" = "$e2" ] && ok "eval twice: identical output ($(echo "$e1" | grep -o '"sqnr_db": [0-9.]*' | head -1))" \
  || bad "eval is not deterministic"
# uint8 activations stay NHWC between the integer convolutions (fast
# kernels): the output equals the reference convolution's on the same
# layout bit for bit, at 1 and 2 threads
IN=${MODEL%.onnx}.input.npy
if [ -f "$IN" ] && "$CLEAVE" quantize "$MODEL" --uniform 8,8 --stats "$T/stats.json" -o "$T/q8.onnx" >/dev/null; then
  "$CLEAVE" run "$T/q8.onnx" --input "$IN" --output "$T/y_fast" >/dev/null &&
  "$CLEAVE" run "$T/q8.onnx" --input "$IN" --output "$T/y_fast2" --threads 2 >/dev/null &&
  CLEAVE_QCONV_REF=1 "$CLEAVE" run "$T/q8.onnx" --input "$IN" --output "$T/y_ref" >/dev/null &&
  [ -n "$(ls "$T/y_fast")" ] && diff -r "$T/y_fast" "$T/y_ref" >/dev/null && diff -r "$T/y_fast" "$T/y_fast2" >/dev/null \
    && ok "int8 run: NHWC fast convolutions = reference convolutions, bit for bit" \
    || bad "int8 run: fast and reference convolutions differ on $IN"
fi

expect_error() { # name needle cmd...
  local name=$1 needle=$2; shift 2
  local out; out=$("$@" 2>&1); local rc=$?
  if [ $rc -ne 0 ] && echo "$out" | grep -q -- "$needle"; then ok "$name (exit $rc)"; else bad "$name: rc=$rc: $out"; fi
}
echo '{"weights": {"bits": 9}}' > "$T/bits9.json"
expect_error "bits 9 rejected" "bits9.json: weights.bits" "$CLEAVE" eval "$MODEL" --data fashion-mnist --n 10 --bits "$T/bits9.json" --stats "$T/stats.json"
echo '{"layers": {"no_such_layer": {"w": 4}}}' > "$T/unknown.json"
expect_error "unknown layer rejected" "no_such_layer" "$CLEAVE" eval "$MODEL" --data fashion-mnist --n 10 --bits "$T/unknown.json" --stats "$T/stats.json"
expect_error "--uniform 1,8 rejected" "2..8" "$CLEAVE" eval "$MODEL" --data fashion-mnist --uniform 1,8
expect_error "wrong data shape rejected" "does not match the model input" "$CLEAVE" eval "$MODEL" --data "$SRC/tests/data/external/input.npy"
echo '{"format": "cleave-quant-stats", "version": 1, "tensors": []}' > "$T/other.json"
expect_error "statistics of another model rejected" "no calibration statistics" "$CLEAVE" eval "$MODEL" --data fashion-mnist --n 10 --uniform 8,8 --stats "$T/other.json"
expect_error "missing model named" "nosuch.onnx" "$CLEAVE" calibrate "$T/nosuch.onnx" --data fashion-mnist -o "$T/x.json"
exit $fail
