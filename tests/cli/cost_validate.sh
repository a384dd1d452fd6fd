#!/usr/bin/env bash
# cleave profile --validate on two small trained models with a training-only
# model (--train) and the device calibrated in the run (--device now): the
# report has a row per validated model and none for the training model, its
# three predictors and bars; a stored reference profile of another model is
# measured again (not an error); bad input is named. Timing figures are not
# asserted here (2 repeats on a shared machine): the bars are checked by the
# validation runs in the closing notes. Usage: cost_validate.sh CLEAVE SRC
set -uo pipefail
C=$1 S=$2
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }
A=$S/models/fmnist-cnn.onnx B=$S/models/fmnist-exits.onnx R=$S/models/fmnist-resnet.onnx
mkdir -p "$T/p"
out=$("$C" profile --validate --repeat 2 --warmup 1 --device now --profiles "$T/p" "$A" "$B" --train "$R" \
      --json 2> "$T/err") || { bad "validate failed: $(cat "$T/err")"; exit 1; }
n=$(echo "$out" | grep -c '"measured_ms"')
[ "$n" = 2 ] && ok "two validated models in the report" || bad "$n models in the report"
echo "$out" | grep -q 'fmnist-resnet' && bad "the --train model is in the report" || ok "--train model not reported"
for k in profile roofline regression; do
  echo "$out" | grep -q "\"$k\"" && ok "predictor $k reported" || bad "no $k in the report"
done
grep -q "calibrating this machine" "$T/err" && bad "progress on stderr with --json" || ok "--json keeps stderr quiet"
[ -f "$T/p/fmnist-resnet.fp32.t1.json" ] && ok "the --train model's reference profile stored" \
  || bad "no stored profile for the --train model"
# a stored profile of another model: measured again, not an error
cp "$T/p/fmnist-exits.fp32.t1.json" "$T/p/fmnist-cnn.fp32.t1.json"
"$C" profile --validate --repeat 2 --warmup 1 --device now --profiles "$T/p" "$A" "$B" > "$T/out2" 2> "$T/err2" \
  && grep -q "profile of a different model.*measuring it again" "$T/err2" \
  && ok "stale stored profile measured again" || bad "stale profile: $(cat "$T/err2")"
grep -q '"model_sha256"' "$T/p/fmnist-cnn.fp32.t1.json" && ! cmp -s "$T/p/fmnist-cnn.fp32.t1.json" \
  "$T/p/fmnist-exits.fp32.t1.json" && ok "and overwritten" || bad "stale profile not replaced"
# errors
msg=$("$C" profile --validate --train "$R" 2>&1) && bad "only a --train model accepted" \
  || { echo "$msg" | grep -q "no model to validate" && ok "only --train: $msg" || bad "unclear: $msg"; }
msg=$("$C" profile --validate --device "$T/nope.json" "$A" "$B" 2>&1) && bad "missing device accepted" \
  || { echo "$msg" | grep -q "nope.json" && ok "missing device file named" || bad "unclear: $msg"; }
exit $fail
