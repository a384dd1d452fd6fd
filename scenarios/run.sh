#!/usr/bin/env bash
# Rerun a planning scenario of ../shared/DESIGN.md section 8 (see
# scenarios/README.md): statistics and distortion tables, measured latency
# profiles (the edge under `cleave emulate` when permitted, else the edge
# description's roofline; the cloud = this machine), then `cleave plan` at
# each link rate with the accuracy of the recommended solution and of every
# baseline measured. Prints one summary line per rate.
# Usage: scenarios/run.sh BUILD MODEL EDGE_DEVICE MEM DATA [RATES] [RTT] [extra plan args...]
#   e.g. scenarios/run.sh build models/fmnist-resnet.onnx devices/rpi4.json 256KiB fashion-mnist
set -euo pipefail
B=$1 MODEL=$2 EDGE=$3 MEM=$4 DATA=$5 RATES=${6:-0.25,1,3,10,20} RTT=${7:-20ms}
shift $(( $# < 7 ? $# : 7 ))
C=$B/cleave
name=$(basename "$MODEL" .onnx)
W=${SCENARIO_DIR:-$B/scenarios/$name-$(basename "$EDGE" .json)}
mkdir -p "$W"
n_meas=${N_MEAS:-2000} table_n=${TABLE_N:-256} calib_n=${CALIB_N:-512}

echo "== $name on $(basename "$EDGE" .json), memory $MEM, data $DATA (work dir $W)"
[ -f "$W/stats.json" ] || "$C" calibrate "$MODEL" --data "$DATA" --n "$calib_n" --table-n "$table_n" -o "$W/stats.json" | tail -1
prof=()
if "$C" emulate --device "$EDGE" --check --skip-ok >/dev/null 2>&1; then
  for dt in fp32 int8; do
    [ -f "$W/edge-$dt.json" ] || "$C" emulate --device "$EDGE" --no-reference -- \
        "$C" profile "$MODEL" --dtype "$dt" --top 0 -o "$W/edge-$dt.json" >/dev/null
  done
  prof+=(--edge-profile "$W/edge-fp32.json" --edge-profile-int8 "$W/edge-int8.json")
  echo "edge: measured under cleave emulate ($(basename "$EDGE" .json))"
else
  echo "edge: cgroup emulation not permitted here; using the roofline of $EDGE"
fi
[ -f "$W/cloud.json" ] || "$C" profile "$MODEL" --top 0 -o "$W/cloud.json" >/dev/null
prof+=(--cloud-profile "$W/cloud.json")
for r in ${RATES//,/ }; do
  out=$("$C" plan "$MODEL" --edge "$EDGE" --cloud devices/this-machine.json --link "${r}mbit,$RTT" --mem "$MEM" \
        --stats "$W/stats.json" "${prof[@]}" --data "$DATA" --measure 1 --n "$n_meas" -o "$W/plan-${r}mbit.json" "$@")
  printf "%6s Mbit/s  %s\n" "$r" "$(echo "$out" | grep '^summary' | sed 's/^summary *//')"
done
