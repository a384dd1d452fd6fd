#!/usr/bin/env bash
# make demo: scenario 1 of DESIGN.md section 8, run for real.
#   fmnist-resnet (112x112 Fashion-MNIST), a Raspberry-Pi-4-class edge with a
#   256 KiB model-memory budget the whole model does not fit, a 3 Mbit/s
#   uplink with 20 ms RTT, the cloud = this machine.
# 1. activation statistics and distortion tables (calibration images);
# 2. latency profiles on this machine, one thread, each run after the idle
#    gap between frames (as a one-request-at-a-time client and server see
#    them), plus the v2 request codec after each run; the edge = these
#    times stretched by the Pi/this-core slowdown (the same time dilation
#    the edge client applies: docs/run.md);
# 3. two network namespaces joined by a veth pair shaped with tbf (root;
#    elsewhere loopback without shaping, said so), `cleave serve` in the
#    cloud namespace on CPU 1; the link's per-request overhead measured;
# 4. cleave plan: Pareto front + baselines, accuracy measured;
# 5. `cleave run --plan` in the edge namespace on CPU 0: the test images
#    through the recommended split, cloud-only, edge-only and the best
#    layer-wise split, predicted next to measured; then with zstd off (the
#    planner's cost model sends raw bytes);
# 6. the link changes under an adaptive client: 3 -> 200 -> 1 Mbit/s.
# Environment: DEMO_N (images per solution, default 200), DEMO_MBIT (3),
# DEMO_RTT_MS (20), DEMO_INTERVAL_MS (frame interval, 100).
set -euo pipefail
B=${1:-build}
C=$(readlink -f "$B/cleave")
M=models/fmnist-resnet.onnx EDGE=devices/rpi4.json HOST=devices/this-machine.json MEM=256KiB
N=${DEMO_N:-200} RATE=${DEMO_MBIT:-3} RTT=${DEMO_RTT_MS:-20} IV=${DEMO_INTERVAL_MS:-100}
W=$B/demo
mkdir -p "$W"
if [ ! -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then
  echo "demo: needs the Fashion-MNIST data (Debian package dataset-fashion-mnist; make deps installs it)" >&2
  exit 1
fi
SRV_PID=
NETNS=0
cleanup() {
  [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null || true
  [ "$NETNS" = 1 ] && bash scripts/netns-link.sh down || true
}
trap cleanup EXIT

echo "== 1. statistics and distortion tables of $M (512 calibration images, tables on 256)"
[ -f "$W/stats.json" ] || "$C" calibrate "$M" --data fashion-mnist --n 512 --table-n 256 -o "$W/stats.json" | tail -1
echo
echo "== 2. latency profiles on this machine (1 thread on CPU 0, $IV ms idle before each run, as frames arrive)"
taskset -c 0 "$C" profile "$M" --threads 1 --gap-ms "$IV" --repeat 100 --top 0 -o "$W/host-fp32.json" | grep -E '^whole|^request'
taskset -c 0 "$C" profile "$M" --threads 1 --gap-ms "$IV" --repeat 100 --top 0 --dtype int8 -o "$W/host-int8.json" | grep -E '^whole|^request'
echo
# the link as the shaper makes it: tbf burst as scripts/netns-link.sh sets it
BURST=$(awk -v r="$RATE" 'BEGIN { b = r * 1e6 / 8 / 1000; if (b < 3028) b = 3028; printf "%d", b }')
echo "== 3. link and server"
SRV=127.0.0.1 PFX=()
if [ "$(id -u)" = 0 ] && bash scripts/netns-link.sh down >/dev/null 2>&1 && bash scripts/netns-link.sh up "$RATE" >/dev/null 2>&1; then
  NETNS=1 SRV=10.77.0.1 PFX=(ip netns exec cleave-edge)
  echo "namespaces cleave-edge (10.77.0.2) -> cleave-cloud (10.77.0.1), veth shaped by tbf to $RATE Mbit/s (burst $BURST B); RTT $RTT ms added by the client"
  ip netns exec cleave-cloud taskset -c 1 "$C" serve fmnist-resnet="$M" --bind 10.77.0.1 --port 8000 --workers 1 --cc cubic \
     --port-file "$W/port" > "$W/serve.log" 2>&1 &
else
  echo "WARNING: not root (or no network namespaces): client and server on loopback WITHOUT rate shaping;"
  echo "         the transfer times below are not those of a $RATE Mbit/s link."
  taskset -c 1 "$C" serve fmnist-resnet="$M" --bind 127.0.0.1 --port 0 --workers 1 --port-file "$W/port" > "$W/serve.log" 2>&1 &
fi
SRV_PID=$!
rm -f "$W/port"
for _ in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.1; done
[ -s "$W/port" ] || { echo "demo: the server did not start:"; cat "$W/serve.log"; exit 1; }
URL="http://$SRV:$(cat "$W/port")"
head -1 "$W/serve.log"
# the link's per-request overhead (HTTP stacks, veth, server dispatch), as
# one measures a link's RTT before using it: small POSTs to the server's
# link-test sink after the same idle gap as the frames
OVH=$("${PFX[@]}" taskset -c 0 "$C" link measure --url "$URL/cleave" --link "${RATE}mbit,${RTT}ms" --burst "$BURST" \
      --bytes 100,1000 --repeat 15 --idle "$IV" --cc cubic | awk '/^overhead/ { print $2 }' || true)
[ -n "$OVH" ] || OVH=0.2
echo "link overhead measured: $OVH ms per request beyond RTT and serialisation"
LINK="${RATE}mbit,${RTT}ms,${OVH}ms,burst=$BURST"
echo
echo "== 4. cleave plan: edge $EDGE ($MEM), cloud $HOST, link $LINK"
"$C" plan "$M" --edge "$EDGE" --cloud "$HOST" --link "$LINK" --mem "$MEM" --max-drop 1.0 \
    --stats "$W/stats.json" --edge-profile "$W/host-fp32.json" --edge-profile-int8 "$W/host-int8.json" \
    --edge-from-host --host "$HOST" --cloud-profile "$W/host-fp32.json" \
    --data fashion-mnist --measure 1 --n "$N" -o "$W/plan.json" | grep -vE '^[0-9]+ +auto-split' | grep -v '^$'
echo
run() {
  "${PFX[@]}" "$C" run --plan "$W/plan.json" --server "$URL" --data fashion-mnist --n "$N" --interval-ms "$IV" \
     --edge-device "$EDGE" --host-device "$HOST" --cpu 0 --cc cubic "$@"
}
COMPARE=recommended,cloud-only,edge-fp32,edge-u8,neurosurgeon
echo "== 5a. $N test images through each solution, one every $IV ms (zstd when it pays)"
run --compare "$COMPARE" --log "$W/run.jsonl" --summary-json "$W/run.json" | tail -n +2
echo
echo "== 5b. the same without compression (what the planner's cost model assumes)"
run --compare "$COMPARE" --compress never --log "$W/run-raw.jsonl" --summary-json "$W/run-raw.json" | tail -n +2
echo
echo "   plan's measured top-1 of the recommended solution on the same $N images (cleave plan --measure):"
grep -A3 '"measured"' "$W/plan.json" | grep -m1 '"top1"' | sed 's/^ */     /'
if [ "$NETNS" = 1 ]; then
  echo
  echo "== 6. adaptive client while the link changes: $RATE Mbit/s, then 200 Mbit/s after 8 s, 1 Mbit/s after 16 s"
  ( sleep 8; bash scripts/netns-link.sh rate 200 >/dev/null; sleep 8; bash scripts/netns-link.sh rate 1 >/dev/null ) &
  CH=$!
  DEMO_N_ADAPT=$(( 24000 / IV ))
  "${PFX[@]}" "$C" run --plan "$W/plan.json" --server "$URL" --data fashion-mnist --n "$DEMO_N_ADAPT" \
     --interval-ms "$IV" --edge-device "$EDGE" --host-device "$HOST" --cpu 0 --cc cubic --probe-ms 500 \
     --log "$W/adaptive.jsonl" | tail -n +2
  wait "$CH" || true
  echo "   the solution the client ran, from input (time):"
  awk -v iv="$IV" '{ m = $0; sub(/.*"method":"/, "", m); sub(/".*/, "", m); s = $0; sub(/.*"solution":/, "", s); sub(/,.*/, "", s)
       b = $0; sub(/.*"bw_mbit":/, "", b); sub(/,.*/, "", b)
       if (s != last) { printf "     input %3d (%5.1f s): solution %s (%s), bandwidth estimate %.1f Mbit/s\n", NR - 1, (NR - 1) * iv / 1000, s, m, b; last = s } }' "$W/adaptive.jsonl"
  echo "   (solutions: see the plan table above; the one sending the input is the cloud-only cut)"
fi
echo
echo "demo: files in $W (plan.json, run*.jsonl, run*.json, serve.log)"
