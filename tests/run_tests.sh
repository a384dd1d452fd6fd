#!/usr/bin/env bash
# Runs the whole ctest suite in build dir $1 and summarises: how many ran,
# passed, failed and were skipped, and why each skipped group was skipped.
# Usage: tests/run_tests.sh BUILD_DIR [--asan]
set -uo pipefail
B=${1:-build}
shift || true
ASAN=0
[ "${1:-}" = "--asan" ] && ASAN=1
export CLEAVE_MODELS_DIR=${CLEAVE_MODELS_DIR:-$(cd "$B" && pwd)/models}
if [ $ASAN -eq 1 ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  export CLEAVE_SANITIZED=1 # timing bars are the Release suite's (see cost_emulate.sh)
  # The big torchvision models take minutes each under ASan; the trained CNN
  # still runs through every layer type they use.
  CTEST_ARGS="${CTEST_ARGS:-} -E model\.(resnet|mobilenet|googlenet|squeezenet|shufflenet|efficientnet|densenet)"
fi
LOG=$B/ctest-output.log
(cd "$B" && ctest -j"${JOBS:-2}" --output-on-failure --timeout 900 ${CTEST_ARGS:-}) | tee "$LOG"
rc=${PIPESTATUS[0]}

LAST=$B/Testing/Temporary/LastTest.log
echo
echo "== cleave test summary ($B) =="
if [ -f "$LAST" ]; then
  awk '
    /^[0-9]+\/[0-9]+ Testing: / { name=$3 }
    /^SKIP: / {
      r=$0; sub(/^SKIP: /,"",r)
      if (match(r, /unsupported op .[A-Za-z0-9_.]+/)) g=substr(r,RSTART,RLENGTH)
      else if (r ~ /only tensor types/) g="sequence/map/optional types"
      else if (match(r, /dtype [0-9]* ?\(?[a-z0-9]+\)? (is )?not supported|unsupported dtype [a-z0-9]+/)) g=substr(r,RSTART,RLENGTH)
      else { g=r; sub(/^[^:]*: (node [^:]*: )?/,"",g); if (length(g)>90) g=substr(g,1,90) }
      gsub(/\047/,"",g)
      cnt[g]++; ex[g]=name
    }
    END { for (g in cnt) printf "  skipped %4d  %-70s (e.g. %s)\n", cnt[g], g, ex[g] }
  ' "$LAST" | sort -k2,2nr | head -60
fi
total=$(grep -Eo "tests failed out of [0-9]+" "$LOG" | grep -Eo "[0-9]+$" | tail -1)
failed=$(grep -Eo "[0-9]+ tests failed" "$LOG" | grep -Eo "^[0-9]+" | tail -1)
skipped=$(grep -c "\*\*\*Skipped\| Skipped " "$LOG" || true)
total=${total:-0}; failed=${failed:-0}
conf_total=$(grep -cE "Test +#[0-9]+: node\." "$LOG" || true)
conf_skip=$(grep -E "Test +#[0-9]+: node\..*Skipped" "$LOG" | wc -l)
conf_fail=$(grep -E "Test +#[0-9]+: node\..*(Failed|Timeout|Exception)" "$LOG" | wc -l)
model_total=$(grep -cE "Test +#[0-9]+: model\." "$LOG" || true)
model_skip=$(grep -E "Test +#[0-9]+: model\..*Skipped" "$LOG" | wc -l)
model_fail=$(grep -E "Test +#[0-9]+: model\..*(Failed|Timeout|Exception)" "$LOG" | wc -l)
echo "  ONNX backend node tests: $conf_total registered, $((conf_total-conf_skip)) ran, $((conf_total-conf_skip-conf_fail)) passed, $conf_fail failed, $conf_skip skipped"
echo "  whole models vs ONNX Runtime: $model_total registered, $((model_total-model_skip-model_fail)) passed, $model_fail failed, $model_skip skipped"
grep -E "^[a-z0-9_.-]+ [a-z0-9_]+ \[(fast|ref|raw)\]: (PASS|FAIL)" "$B/Testing/Temporary/LastTest.log" 2>/dev/null | sed 's/^/    /' | sort | head -40
passed=$((total - failed - skipped))
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit $rc
