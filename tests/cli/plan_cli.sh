#!/usr/bin/env bash
# cleave plan end to end on the trained Fashion-MNIST ResNet (the first
# scenario: Raspberry-Pi-class edge, 256 KiB, 3 Mbit/s): a recommended
# solution that meets the memory budget and the accuracy bound, beats
# cloud-only, and whose measured drop stays within the bound; plan.json
# fields; bad input (missing options, statistics of another model, a bad
# link, impossible constraints naming the tightest one).
# Usage: plan_cli.sh CLEAVE SOURCE_DIR. Exit 0 pass, 1 fail, 77 skip.
set -uo pipefail
CLEAVE=$1 SRC=$2
if [ ! -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then
  echo "SKIP: Fashion-MNIST is not installed (dataset-fashion-mnist)"; exit 77
fi
M=$SRC/models/fmnist-resnet.onnx
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }

"$CLEAVE" plan --help | grep -q "usage: cleave plan" && ok "--help" || bad "--help"
"$CLEAVE" calibrate "$M" --data fashion-mnist --n 256 --table-n 64 -o "$T/stats.json" >/dev/null \
  || { bad "calibrate"; exit 1; }
args=(--edge "$SRC/devices/rpi4.json" --cloud "$SRC/devices/server.json" --link 3mbit,20ms --mem 256KiB)

out=$("$CLEAVE" plan "$M" "${args[@]}" --max-drop 1.0 --stats "$T/stats.json" --data fashion-mnist \
      --measure 1 --n 1000 -o "$T/plan.json") || { bad "plan failed: $out"; exit 1; }
echo "$out" | head -12
rec=$(echo "$out" | grep "<- recommended") || bad "no recommended solution"
cloud=$(echo "$out" | grep " cloud-only ")
# columns: # method edge sent... ; total ms is the 4th number from the mem column; parse from the JSON instead
grep -q '"format": "cleave-plan"' "$T/plan.json" && ok "plan.json format" || bad "plan.json format"
grep -q '"model_sha256": "[0-9a-f]\{64\}"' "$T/plan.json" && ok "plan.json model hash" || bad "plan.json hash"
# the recommended solution is the first; its figures against the budget, the bound and cloud-only
awk -v out="$T/plan.json" 'BEGIN { RS = "\"id\": "; n = 0 }
  NR > 1 { n++; id = $0 + 0
    match($0, /"method": "[^"]*"/); m = substr($0, RSTART + 11, RLENGTH - 12)
    match($0, /"total_ms": [0-9.e+-]*/); t = substr($0, RSTART + 12, RLENGTH - 12) + 0
    match($0, /"edge_memory_bytes": [0-9.e+-]*/); mem = substr($0, RSTART + 21, RLENGTH - 21) + 0
    match($0, /"predicted"[^}]*"accuracy_drop_pt": [0-9.e+-]*/); pd = substr($0, RSTART, RLENGTH); sub(/.*: /, "", pd)
    md = "";
    if (match($0, /"measured"[^}]*"accuracy_drop_pt": [-0-9.e+]*/)) { md = substr($0, RSTART, RLENGTH); sub(/.*: /, "", md) }
    if (n == 1) { rt = t; rmem = mem; rpd = pd; rmd = md }
    if (m == "cloud-only") ct = t }
  END {
    f = 0
    printf "recommended: %.2f ms, %.0f KiB, predicted drop %.2f, measured drop %s; cloud-only %.2f ms\n", rt, rmem / 1024, rpd, rmd, ct
    if (rmem > 256 * 1024) { print "FAIL memory over budget"; f = 1 }
    if (rpd > 1.0) { print "FAIL predicted drop over the bound"; f = 1 }
    if (rmd == "" || rmd > 1.0) { print "FAIL measured drop missing or over the bound"; f = 1 }
    if (!(rt < ct)) { print "FAIL not faster than cloud-only"; f = 1 }
    exit f }' "$T/plan.json" && ok "recommended solution within budget and bound, faster than cloud-only" \
  || bad "recommended solution"

# bad input
"$CLEAVE" plan "$M" --edge "$SRC/devices/rpi4.json" >/dev/null 2>&1 && bad "missing options accepted" || ok "missing options rejected"
"$CLEAVE" calibrate "$SRC/models/fmnist-cnn.onnx" --data random --n 8 --no-tables -o "$T/other.json" >/dev/null
msg=$("$CLEAVE" plan "$M" "${args[@]}" --stats "$T/other.json" 2>&1) && bad "stats of another model accepted" \
  || { echo "$msg" | grep -q "different model" && ok "stats of another model: $msg" || bad "unclear: $msg"; }
msg=$("$CLEAVE" plan "$M" "${args[@]/3mbit,20ms/3mbt,20ms}" --stats "$T/stats.json" 2>&1) && bad "bad link accepted" \
  || { echo "$msg" | grep -q "3mbt" && ok "bad link: $msg" || bad "unclear: $msg"; }
msg=$("$CLEAVE" plan "$M" "${args[@]/256KiB/1KiB}" --stats "$T/stats.json" --max-drop 0 2>&1); rc=$?
[ $rc -eq 5 ] && echo "$msg" | grep -q "tightest constraint" && ok "impossible bound: exit 5, $(echo "$msg" | grep -o 'no feasible.*' | head -1)" \
  || bad "impossible bound: rc $rc"
# early exits: the configuration map
E=$SRC/models/fmnist-exits.onnx
out=$("$CLEAVE" plan "$E" --edge "$SRC/devices/mcu.json" --cloud "$SRC/devices/server.json" --link 0.25mbit,20ms \
      --mem 512KiB --data random --calib-n 32 --table-n 16 --exits --deadline 35 --exit-accuracy 90.8,92.46,93.44 \
      --bandwidths 0.05,0.5,1.5 -o "$T/exits.json" 2>&1) || bad "plan --exits failed: $out"
echo "$out" | grep -A4 "configuration map"
[ "$(echo "$out" | grep -A5 'configuration map' | grep -c ' yes ')" -eq 3 ] && ok "every state meets 35 ms" \
  || bad "configuration map"
grep -q '"config_map"' "$T/exits.json" && ok "plan.json config_map" || bad "no config_map in plan.json"
# --measure with --exits: every configuration's top-1 measured on its own
# exit with the quantized edge part, within the accuracy bound of that
# exit's fp32 top-1 on the same images
if [ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then
  out=$("$CLEAVE" plan "$E" --edge "$SRC/devices/mcu.json" --cloud "$SRC/devices/server.json" --link 0.25mbit,20ms \
        --mem 512KiB --max-drop 1.0 --data fashion-mnist --calib-n 64 --table-n 32 --exits --deadline 35 \
        --bandwidths 0.05,0.5,1.5 --measure 1 --n 300 -o "$T/exits-m.json" 2>&1) || bad "plan --exits --measure failed: $out"
  fp=$(echo "$out" | grep -o 'fp32 top-1 per exit on 300 test images:.*' | cut -d: -f2)
  echo "$out" | grep -A4 "configuration map"
  echo "$out" | grep -A4 'configuration map' | awk -v fp="$fp" 'BEGIN { n = split(fp, f, " ") }
    $1 ~ /^[0-9.]+$/ { rows++; e = $2; m = $7; if (!(e >= 1 && e <= n) || !(m >= f[e] - 1.0)) badrow++ }
    END { exit !(rows == 3 && n == 3 && !badrow) }' \
    && ok "measured top-1 of every configuration within 1 pt of its exit's fp32 ($fp)" \
    || bad "measured configuration map: $fp"
  [ "$(grep -c '"measured_accuracy_pt"' "$T/exits-m.json")" -eq 3 ] && ok "plan.json: measured_accuracy_pt per state" \
    || bad "plan.json: measured_accuracy_pt missing"
fi
"$CLEAVE" plan "$E" --edge "$SRC/devices/mcu.json" --cloud "$SRC/devices/server.json" --link 1mbit --mem 512KiB \
  --exits >/dev/null 2>&1 && bad "--exits without --deadline accepted" || ok "--exits needs --deadline"
exit $fail
