#!/usr/bin/env bash
# The edge client (cleave run --plan) against a server that dies and comes
# back, on loopback: every input gets an answer (from the device while the
# server is down, counted), the client returns to the split once the
# server is back, and the split's answers equal the device's (the local
# tail computes what the cloud computes). Usage: run_fallback.sh CLEAVE SRC
set -euo pipefail
C=$1 S=$2
M=$S/models/fmnist-resnet.onnx
[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || { echo "skip: no Fashion-MNIST data"; exit 77; }
"$C" serve --help >/dev/null 2>&1 || { echo "skip: built without the net module"; exit 77; }
T=$(mktemp -d)
SRV=
cleanup() { [ -n "$SRV" ] && { kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null; }; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$C" calibrate "$M" --data fashion-mnist --n 32 --table-n 16 -o "$T/stats.json" > /dev/null
"$C" plan "$M" --edge "$S/devices/rpi4.json" --cloud "$S/devices/this-machine.json" --link 3mbit,5ms \
    --mem 256KiB --max-drop 5 --stats "$T/stats.json" -o "$T/plan.json" > /dev/null
"$C" serve fmnist-resnet="$M" --bind 127.0.0.1 --port 0 --port-file "$T/port" > "$T/serve1.log" 2>&1 &
SRV=$!
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
P=$(cat "$T/port")
[ -n "$P" ] || fail "server did not start: $(cat "$T/serve1.log")"

# 150 inputs, one every 20 ms (about 3 s); the server is killed after 30
# answers and restarted on the same port after 30 more
N=150
"$C" run --plan "$T/plan.json" --server "http://127.0.0.1:$P" --data fashion-mnist --n $N --interval-ms 20 \
    --solution recommended --timeout-ms 300 --probe-ms 0 --warmup 1 --fallback tail \
    --log "$T/run.jsonl" --summary-json "$T/run.json" > "$T/run.out" 2> "$T/run.err" &
CL=$!
lines() { [ -f "$T/run.jsonl" ] && wc -l < "$T/run.jsonl" || echo 0; }
for _ in $(seq 600); do [ "$(lines)" -ge 30 ] && break; sleep 0.05; done
kill -9 "$SRV"
wait "$SRV" 2>/dev/null || true
SRV=
for _ in $(seq 600); do [ "$(lines)" -ge 60 ] && break; sleep 0.05; done
"$C" serve fmnist-resnet="$M" --bind 127.0.0.1 --port "$P" > "$T/serve2.log" 2>&1 &
SRV=$!
wait $CL || fail "client exited with an error: $(tail -3 "$T/run.err")"

lines=$(wc -l < "$T/run.jsonl")
[ "$lines" = $N ] || fail "$lines answers for $N inputs"
echo "ok: $N inputs, $N answers"
dev=$(grep -c '"answered":"device' "$T/run.jsonl" || true)
cloud=$(grep -c '"answered":"cloud"' "$T/run.jsonl" || true)
[ "$dev" -ge 5 ] || fail "only $dev answers from the device while the server was down"
echo "ok: $dev answered on the device while the server was down, $cloud by the cloud"
# after the restart the last inputs go to the cloud again
tail -20 "$T/run.jsonl" | grep -q '"answered":"device' && fail "still answering on the device after the restart"
echo "ok: back to the split after the restart"
grep -q "answered_on_device\": $dev" "$T/run.json" || fail "summary does not count $dev device answers"
grep -q "on the device after a cloud failure" "$T/run.out" || fail "no summary line"
grep -q '"top1":-1' "$T/run.jsonl" && fail "an answer without a class"
echo "ok: summary counts the device answers; every answer has a class"
# the device's answers are the split's: the same inputs again with the
# server up all the time give the same class for every input
"$C" run --plan "$T/plan.json" --server "http://127.0.0.1:$P" --data fashion-mnist --n $N \
    --solution recommended --probe-ms 0 --warmup 0 --log "$T/ref.jsonl" > /dev/null 2>&1 || fail "reference run failed"
cls() { sed 's/.*"input":\([0-9]*\),.*"top1":\(-\{0,1\}[0-9]*\),.*/\1 \2/' "$1"; }
diff <(cls "$T/run.jsonl") <(cls "$T/ref.jsonl") > /dev/null || fail "device answers differ from the split's"
echo "ok: all $N classes equal those of an undisturbed split run"
# edge memory: the plan's figure (packed weights + activation peak +
# widening buffer + the kernels' tile) against what the engine compiles
# for each head with the reference kernels (those of the aarch64 build) and
# the plan's 4 edge threads (rpi4; the kernels' tiles are per thread):
# every int8 auto-split solution within 5% of its plan figure
"$C" run --plan "$T/plan.json" --server "http://127.0.0.1:$P" --data fashion-mnist --n 2 --compare all \
    --ref --threads 4 --probe-ms 0 --warmup 0 --log /dev/null > "$T/mem.out" 2>&1 || fail "memory run failed"
grep '^edge memory, solution [0-9]* (auto-split)' "$T/mem.out" | awk '
  { plan = $7; eng = $10; if (plan <= 0) next; n++; r = eng / plan;
    if (r > worst) worst = r; if (r < best || n == 1) best = r; if (r > 1.05) bad++ }
  END { printf "edge memory: %d auto-split heads, engine / plan %.3f .. %.3f (bar <= 1.05)\n", n, best, worst;
        exit !(n > 0 && !bad) }' || fail "engine memory above the plan's figure: $(grep '^edge memory' "$T/mem.out")"
echo "ok: edge memory as planned"
