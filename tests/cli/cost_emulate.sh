#!/usr/bin/env bash
# cleave emulate end to end: --help; a bad device file is named; --slowdown 4
# --check achieves 4x within +-20% on the reference workload; CMD's exit
# status (and a signal death) propagates; the cgroup is removed afterwards,
# also when CMD fails; a model benchmark under --slowdown 4 takes >= 2.5x
# the wall time of the same run pinned to the same CPU unthrottled (loose:
# the machine is shared and process start-up is included). ~15 s.
# Usage: cost_emulate.sh CLEAVE SOURCE_DIR. Exit 0 pass, 1 fail, 77 skip
# (not root / no cgroup with the cpu controller: the message says which).
set -uo pipefail
CLEAVE=$1 SRC=$2
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }

"$CLEAVE" emulate --help > "$T/help" && grep -q -- "--slowdown" "$T/help" && ok "--help exits 0" || bad "--help"

# Not permitted here: skip (with the reason), do not fail.
"$CLEAVE" emulate --slowdown 2 --check --no-reference --skip-ok 2> "$T/probe"
rc=$?
if [ $rc -eq 77 ]; then echo "SKIP: $(tail -1 "$T/probe")"; exit 77; fi
[ $rc -eq 0 ] || { cat "$T/probe"; bad "probe run: exit $rc"; exit 1; }

cgdir() { grep -o 'cgroup v[12] [^:]*' "$1" | head -1 | cut -d' ' -f3; }
gone() { # name stderr-file: the cgroup named in the plan line no longer exists
  local d; d=$(cgdir "$2")
  if [ -n "$d" ] && [ ! -e "$d" ]; then ok "$1: cgroup $d removed"; else bad "$1: cgroup '$d' still there"; fi
}
gone "probe" "$T/probe"

# Bad device file: non-zero exit, the file is named.
out=$("$CLEAVE" emulate --device "$T/nosuch-device.json" --check 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "nosuch-device.json" && ok "missing device file named (exit $rc)" \
  || bad "missing device file: rc=$rc: $out"
echo '{"format": "cleave-device", "version": 1, "name": "x"}' > "$T/broken.json"
out=$("$CLEAVE" emulate --device "$T/broken.json" --host "$T/broken.json" --check 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "broken.json" && ok "invalid device file named (exit $rc)" \
  || bad "invalid device file: rc=$rc: $out"
out=$("$CLEAVE" emulate --slowdown 0.5 --check 2>&1); rc=$?
[ $rc -ne 0 ] && ok "--slowdown 0.5 rejected (exit $rc)" || bad "--slowdown 0.5 accepted"

# Achieved slowdown on the reference workload, tolerance +-20% (the throttled
# runs last >= 30 periods of 50 ms; other load on the CPU adds noise). The
# quota is retuned when the first measurement is >10% off, except under the
# sanitizers, whose 17 s reference loop takes 85 s a pair at 4x: one pair,
# no retry (the whole test took 520 s of its 600 with 3 pairs).
tune=()
[ "${CLEAVE_SANITIZED:-0}" = 1 ] && tune=(--no-tune --reps 1)
"$CLEAVE" emulate --slowdown 4 --check --json "${tune[@]}" 2> "$T/check"; rc=$?
js=$(grep '^{' "$T/check")
ach=$(echo "$js" | grep -o '"achieved_slowdown":[0-9.e+-]*' | cut -d: -f2)
if [ $rc -eq 0 ] && [ -n "$ach" ] && awk -v a="$ach" 'BEGIN { exit !(a >= 3.2 && a <= 4.8) }'; then
  ok "--slowdown 4 --check: achieved ${ach}x (bar 3.2..4.8)"
elif [ $rc -eq 0 ] && [ -n "$ach" ] && [ "${CLEAVE_SANITIZED:-0}" = 1 ]; then
  # Under ASan/UBSan the reference loop is unoptimised (17 s instead of
  # 0.1 s) and throttles worse than the quota (5.8-6.5x for 4x on an AVX2
  # EPYC VM); the Release suite holds the bar, this run checks the memory
  ok "--slowdown 4 --check: achieved ${ach}x (sanitizer build: bar 3.2..4.8 not applied)"
else
  bad "--slowdown 4 --check: rc=$rc achieved '${ach}' (bar 3.2..4.8): $(cat "$T/check")"
fi
d=$(echo "$js" | grep -o '"cgroup_dir":"[^"]*"' | cut -d'"' -f4)
[ -n "$d" ] && [ ! -e "$d" ] && ok "--check: cgroup $d removed" || bad "--check: cgroup '$d' left behind"

# CMD runs inside (cgroup + one CPU) and its exit status propagates.
"$CLEAVE" emulate --slowdown 2 --no-reference -- sh -c 'grep -E "^[0-9]+:(.*[:,])?cpu[:,]|^0::" /proc/self/cgroup > "$1"; exit 7' sh "$T/inside" 2> "$T/run7"
rc=$?
[ $rc -eq 7 ] && ok "CMD exit status 7 propagates" || bad "CMD exit status: got $rc"
grep -q "cleave-emu-" "$T/inside" && ok "CMD ran inside the cgroup ($(head -1 "$T/inside"))" || bad "CMD not in the cgroup: $(cat "$T/inside")"
gone "CMD exit 7" "$T/run7"
"$CLEAVE" emulate --slowdown 2 --no-reference -- sh -c 'kill -TERM $$' 2> "$T/runsig"; rc=$?
[ $rc -eq 143 ] && ok "CMD killed by SIGTERM -> exit 143" || bad "CMD killed by SIGTERM: got $rc"
gone "CMD killed" "$T/runsig"
"$CLEAVE" emulate --slowdown 2 --no-reference -- "$T/no-such-program" 2> "$T/run127"; rc=$?
[ $rc -eq 127 ] && grep -q "no-such-program" "$T/run127" && ok "unrunnable CMD -> exit 127, named" || bad "unrunnable CMD: got $rc"

# A model benchmark under --slowdown 4 vs unthrottled on the same CPU. The
# model runs 27 us per inference, far shorter than a 50 ms period, so only
# the total over many periods is slowed (docs/emulation.md): time the whole
# run of 20000 inferences.
MODEL=$SRC/models/fmnist-cnn.onnx
if [ -f "$MODEL" ]; then
  cpu=$(grep -o 'CPU [0-9]*' "$T/probe" | head -1 | cut -d' ' -f2)
  now() { date +%s.%N; }
  b=(bench "$MODEL" --no-ort --warmup 0 --repeat 20000)
  t0=$(now); taskset -c "$cpu" "$CLEAVE" "${b[@]}" > /dev/null || bad "bench failed"; t1=$(now)
  "$CLEAVE" emulate --slowdown 4 --no-reference -- "$CLEAVE" "${b[@]}" > /dev/null 2> "$T/bench"; rc=$?; t2=$(now)
  [ $rc -eq 0 ] || bad "bench under emulate: exit $rc: $(cat "$T/bench")"
  awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { f = b - a; s = c - b;
    printf "%s bench wall time unthrottled %.2f s, --slowdown 4 %.2f s: %.2fx (bar >= 2.5)\n",
    (s >= 2.5 * f ? "ok  " : "FAIL"), f, s, s / f; exit !(s >= 2.5 * f) }' || fail=1
  gone "bench" "$T/bench"
else
  echo "note: $MODEL missing; model check skipped"
fi
exit $fail
