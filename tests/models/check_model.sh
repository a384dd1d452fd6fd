#!/usr/bin/env bash
# Whole-model test: cleave's outputs vs ONNX Runtime's on the same input.
# Usage: check_model.sh CLEAVE NPYCOMPARE MODEL.onnx INPUT.npy fast|ref|raw RTOL
# (raw = the graph as stored, no passes: with fast/ref it shows the passes
# keep the outputs equal)
# Skips (77) when the model or the reference runtime is missing.
set -uo pipefail
CLEAVE=$1 CMP=$2 MODEL=$3 INPUT=$4 MODE=$5 RTOL=$6
HOME_DIR=$(cd "$(dirname "$0")/../.." && pwd)
[ -f "$MODEL" ] || { echo "SKIP: $MODEL not exported (run make models)"; exit 77; }
[ -f "$INPUT" ] || { echo "SKIP: $INPUT missing"; exit 77; }
[ -d "$HOME_DIR/.deps/npm/node_modules/onnxruntime-node" ] || { echo "SKIP: onnxruntime-node not installed (make deps)"; exit 77; }
name=$(basename "$MODEL" .onnx)
work=$(mktemp -d "${TMPDIR:-/tmp}/cleave-model-$name-XXXX")
trap 'rm -rf "$work"' EXIT
# Reference outputs are cached in the build dir (they depend only on model + input).
ref="$(cd "$(dirname "$CLEAVE")" && pwd)/ortref/$name-$(basename "$INPUT" .npy)"
# The fast / ref / raw cases of one model run in parallel under ctest -j:
# one of them fills the cache while the others wait on the lock.
mkdir -p "$(dirname "$ref")"
exec 9>"$ref.lock"
flock 9
if [ ! -f "$ref/.done" ] || [ "$ref/.done" -ot "$MODEL" ]; then
  rm -rf "$ref"; mkdir -p "$ref"
  node "$HOME_DIR/tools/ort_run.js" run "$MODEL" --input "$INPUT" --outdir "$ref" || { echo "FAIL: ONNX Runtime could not run $MODEL"; exit 1; }
  touch "$ref/.done"
fi
flock -u 9
flag=""; [ "$MODE" = ref ] && flag="--ref"; [ "$MODE" = raw ] && flag="--raw"
"$CLEAVE" run "$MODEL" --input "$INPUT" --output "$work" $flag --time || exit 1
rc=0; n=0
for want in "$ref"/*.npy; do
  got="$work/$(basename "$want")"
  n=$((n+1))
  if [ ! -f "$got" ]; then echo "FAIL: cleave wrote no $(basename "$want")"; rc=1; continue; fi
  echo -n "$name $(basename "$want" .npy) [$MODE]: "
  "$CMP" "$got" "$want" --rtol "$RTOL" || rc=1
done
[ $n -gt 0 ] || { echo "FAIL: no reference outputs"; exit 1; }
exit $rc
