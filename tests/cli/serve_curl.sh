#!/usr/bin/env bash
# cleave serve against the stock curl command-line client: the KServe v2 /
# Open Inference Protocol as a client that knows nothing of cleave sees it
# (docs/serve.md, docs/wire.md). Health, metadata, a JSON inference, the
# committed input as a binary body (logits equal `cleave run` within 1e-5),
# the same gzip'ed with the outputs as binary data, every malformed request
# a 4xx with {"error": ...} naming the problem while the server keeps
# serving, /metrics counters, and the SIGTERM drain (exit 0).
# Usage: serve_curl.sh CLEAVE SOURCE_DIR. Exit 0 pass, 1 fail, 77 skip.
set -uo pipefail
CLEAVE=$1 SRC=$2
M=$SRC/models/fmnist-cnn.onnx X=$SRC/models/fmnist-cnn.input.npy
for tool in curl gzip od awk; do
  command -v $tool >/dev/null || { echo "SKIP: $tool is not installed (scripts/deps.sh installs it)"; exit 77; }
done
"$CLEAVE" serve --help >/dev/null 2>&1 || { echo "SKIP: cleave built without the serve command (no net module)"; exit 77; }
T=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }

"$CLEAVE" serve fmnist-cnn="$M" --port 0 --port-file "$T/port" --max-body 64KiB --bind 127.0.0.1 \
  >"$T/serve.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  [ -s "$T/port" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ ! -s "$T/port" ]; then
  echo "FAIL server did not start:"; sed 's/^/    /' "$T/serve.log"; exit 1
fi
URL=http://127.0.0.1:$(cat "$T/port")
echo "server on $URL (pid $pid)"

# http METHOD PATH OUT [curl args...]: prints the status code ("000" when
# the transfer failed). -H Expect: so curl sends bodies without waiting
# for 100 Continue.
http() {
  local m=$1 p=$2 out=$3
  shift 3
  curl -s --max-time 10 -H 'Expect:' -X "$m" -o "$out" -w '%{http_code}' "$@" "$URL$p" || true
}
# expect WHAT WANT_CODE GOT_CODE BODY_FILE [EGREP]: the status, and the body
# matching EGREP.
expect() {
  local what=$1 want=$2 got=$3 f=$4 re=${5:-}
  if [ "$got" != "$want" ]; then
    bad "$what: HTTP $got, expected $want: $(head -c 300 "$f" 2>/dev/null)"
  elif [ -n "$re" ] && ! grep -Eq -- "$re" "$f"; then
    bad "$what: HTTP $got but the body does not match /$re/: $(head -c 300 "$f")"
  else
    ok "$what ($got${re:+, body ~ /$re/})"
  fi
}
# expect_error WHAT WANT_CODE GOT_CODE BODY_FILE EGREP: a 4xx whose body is
# {"error": "..."} and names the problem.
expect_error() {
  local f=$4
  if ! grep -Eq '^\{"error": ?"' "$f" 2>/dev/null; then
    bad "$1: HTTP $3, body is not {\"error\": ...}: $(head -c 300 "$f" 2>/dev/null)"
    return
  fi
  expect "$@"
}
# metric NAME_WITH_LABELS: its value in a /metrics scrape ($T/metrics).
metric() { awk -v k="$1" '$1 == k { print $2 }' "$T/metrics"; }
# logits_json FILE: the "data" values of the (single) output, one a line.
logits_json() { sed -n 's/.*"outputs":.*"data":\[\([^]]*\)\].*/\1/p' "$1" | tr ',' '\n'; }
# same_logits WHAT GOT REF: equal within 1e-5 of the largest reference value.
same_logits() {
  if awk -v what="$1" 'NR == FNR { if (NF) got[n++] = $1; next } NF { ref[m++] = $1 }
       END {
         if (n != 10 || m != 10) { printf "%s: %d logits, reference %d (expected 10)\n", what, n, m; exit 1 }
         s = 1e-6; for (i = 0; i < m; i++) { a = ref[i] < 0 ? -ref[i] : ref[i]; if (a > s) s = a }
         e = 0; for (i = 0; i < m; i++) { d = got[i] - ref[i]; d = d < 0 ? -d : d; if (d / s > e) e = d / s }
         printf "%s: max relative difference %.2g\n", what, e
         exit !(e <= 1e-5) }' "$2" "$3"; then ok "$1: logits equal cleave run"
  else bad "$1: logits differ from cleave run"; fi
}
INFER=/v2/models/fmnist-cnn/infer
J=(-H 'Content-Type: application/json')

# ---- health and metadata
expect "GET /v2/health/live" 200 "$(http GET /v2/health/live "$T/r")" "$T/r" '"live": ?true'
expect "GET /v2/health/ready" 200 "$(http GET /v2/health/ready "$T/r")" "$T/r" '"ready": ?true'
expect "GET /v2/models/fmnist-cnn (metadata)" 200 "$(http GET /v2/models/fmnist-cnn "$T/meta")" "$T/meta" \
  '"inputs": ?\[\{"name": ?"input", ?"datatype": ?"FP32", ?"shape": ?\[(-1|1), ?1, ?28, ?28\]\}\]'
expect "metadata names the output logits" 200 200 "$T/meta" '"outputs": ?\[\{"name": ?"logits"'
expect "GET /v2/models/fmnist-cnn/ready" 200 "$(http GET /v2/models/fmnist-cnn/ready "$T/r")" "$T/r" '"ready": ?true'
http GET /metrics "$T/metrics" >/dev/null
ok0=$(metric 'cleave_requests_total{model="fmnist-cnn",code="2xx"}')
bad0=$(metric 'cleave_requests_total{model="fmnist-cnn",code="4xx"}')

# ---- a JSON inference: 784 numbers made here
data=$(awk 'BEGIN { for (i = 0; i < 784; i++) printf "%s%.6f", i ? "," : "", 0.5 * sin(i * 0.37) }')
printf '{"id":"curl-1","inputs":[{"name":"input","shape":[1,1,28,28],"datatype":"FP32","data":[%s]}]}' "$data" \
  >"$T/req.json"
code=$(http POST "$INFER" "$T/r" "${J[@]}" --data-binary @"$T/req.json")
expect "JSON infer" 200 "$code" "$T/r" '"id": ?"curl-1".*"name": ?"logits", ?"shape": ?\[1, ?10\], ?"datatype": ?"FP32"'
n=$(logits_json "$T/r" | grep -c .)
[ "$n" = 10 ] && ok "JSON infer: 10 logits" || bad "JSON infer: $n logits, expected 10"
grep -Eq '"server_compute_ms": ?[0-9]' "$T/r" && ok "JSON infer: parameters carry server_compute_ms" ||
  bad "JSON infer: no server_compute_ms in the parameters"

# ---- the committed input as a binary body; reference: cleave run
"$CLEAVE" run "$M" --input "$X" --output "$T/out.npy" >/dev/null 2>&1 || bad "cleave run failed"
tail -c 40 "$T/out.npy" | od -An -v -tf4 | tr -s ' ' '\n' >"$T/ref.txt"
printf '{"inputs":[{"name":"input","shape":[1,1,28,28],"datatype":"FP32","parameters":{"binary_data_size":3136}}]}' \
  >"$T/hdr.json"
hl=$(stat -c %s "$T/hdr.json")
tail -c 3136 "$X" >"$T/x.raw"
cat "$T/hdr.json" "$T/x.raw" >"$T/body.bin"
B=(-H 'Content-Type: application/octet-stream' -H "Inference-Header-Content-Length: $hl")
code=$(http POST "$INFER" "$T/r" "${B[@]}" --data-binary @"$T/body.bin")
expect "binary infer (JSON header $hl bytes + 3136 raw bytes)" 200 "$code" "$T/r" '"name": ?"logits"'
logits_json "$T/r" >"$T/got.txt"
same_logits "binary infer" "$T/got.txt" "$T/ref.txt"

# ---- the same gzip'ed, outputs asked for as binary data
printf '{"parameters":{"binary_data_output":true},"inputs":[{"name":"input","shape":[1,1,28,28],"datatype":"FP32","parameters":{"binary_data_size":3136}}]}' \
  >"$T/hdr2.json"
hl2=$(stat -c %s "$T/hdr2.json")
cat "$T/hdr2.json" "$T/x.raw" | gzip -c >"$T/body.bin.gz"
code=$(http POST "$INFER" "$T/r.bin" -D "$T/r.headers" -H 'Content-Type: application/octet-stream' \
  -H "Inference-Header-Content-Length: $hl2" -H 'Content-Encoding: gzip' --data-binary @"$T/body.bin.gz")
expect "gzip binary infer ($(stat -c %s "$T/body.bin.gz") bytes gzip'ed)" 200 "$code" "$T/r.bin" '"binary_data_size": ?40'
rhl=$(tr -d '\r' <"$T/r.headers" | awk -F': *' 'tolower($1) == "inference-header-content-length" { print $2 }')
if [ -n "$rhl" ]; then
  ok "gzip binary infer: response Inference-Header-Content-Length $rhl"
  tail -c +$((rhl + 1)) "$T/r.bin" | od -An -v -tf4 | tr -s ' ' '\n' >"$T/got2.txt"
  same_logits "gzip binary infer (binary output)" "$T/got2.txt" "$T/ref.txt"
else
  bad "gzip binary infer: no Inference-Header-Content-Length in the response"
fi
grep -qi '^X-Cleave-Compute-Ms: [0-9]' "$T/r.headers" && ok "X-Cleave-Compute-Ms header" ||
  bad "no X-Cleave-Compute-Ms header"

# ---- bad requests: each a 4xx with {"error": ...} naming the problem
printf '{"inputs": [' >"$T/bad.json"
expect_error "malformed JSON -> 400" 400 "$(http POST "$INFER" "$T/r" "${J[@]}" --data-binary @"$T/bad.json")" \
  "$T/r" 'malformed JSON'
ints=$(awk 'BEGIN { for (i = 0; i < 784; i++) printf "%s%d", i ? "," : "", i % 7 }')
printf '{"inputs":[{"name":"input","shape":[1,1,28,28],"datatype":"INT32","data":[%s]}]}' "$ints" >"$T/bad.json"
expect_error "datatype INT32 -> 400" 400 "$(http POST "$INFER" "$T/r" "${J[@]}" --data-binary @"$T/bad.json")" \
  "$T/r" 'INT32.*FP32'
d729=$(awk 'BEGIN { for (i = 0; i < 729; i++) printf "%s0.5", i ? "," : "" }')
printf '{"inputs":[{"name":"input","shape":[1,1,27,27],"datatype":"FP32","data":[%s]}]}' "$d729" >"$T/bad.json"
expect_error "shape [1,1,27,27] -> 400" 400 "$(http POST "$INFER" "$T/r" "${J[@]}" --data-binary @"$T/bad.json")" \
  "$T/r" 'shape.*27.*28'
printf '{"inputs":[{"name":"nosuch","shape":[1,1,28,28],"datatype":"FP32","data":[%s]}]}' "$data" >"$T/bad.json"
expect_error "unknown tensor name -> 400" 400 "$(http POST "$INFER" "$T/r" "${J[@]}" --data-binary @"$T/bad.json")" \
  "$T/r" "no tensor named 'nosuch'"
expect_error "unknown model -> 404" 404 \
  "$(http POST /v2/models/no-such-model/infer "$T/r" "${J[@]}" --data-binary @"$T/req.json")" \
  "$T/r" "unknown model 'no-such-model'"
head -c $((100 * 1024)) /dev/zero >"$T/big.bin"
expect_error "100 KiB body over --max-body 64KiB -> 413" 413 \
  "$(http POST "$INFER" "$T/r" "${J[@]}" --data-binary @"$T/big.bin")" "$T/r" 'larger than the server.s limit'
head -c $((hl + 3000)) "$T/body.bin" >"$T/trunc.bin"
expect_error "truncated binary section -> 400" 400 \
  "$(http POST "$INFER" "$T/r" "${B[@]}" --data-binary @"$T/trunc.bin")" "$T/r" 'truncated binary section'
expect_error "Content-Encoding br -> 415" 415 \
  "$(http POST "$INFER" "$T/r" "${B[@]}" -H 'Content-Encoding: br' --data-binary @"$T/body.bin")" \
  "$T/r" "Content-Encoding 'br'"
expect_error "GET on /infer -> 405" 405 "$(http GET "$INFER" "$T/r")" "$T/r" 'use POST'

# ---- still serving
expect "ready after the bad requests" 200 "$(http GET /v2/health/ready "$T/r")" "$T/r" '"ready": ?true'
code=$(http POST "$INFER" "$T/r" "${B[@]}" --data-binary @"$T/body.bin")
expect "binary infer after the bad requests" 200 "$code" "$T/r" '"name": ?"logits"'
logits_json "$T/r" >"$T/got3.txt"
same_logits "binary infer after the bad requests" "$T/got3.txt" "$T/ref.txt"

# ---- /metrics: 4 inferences and 6 model-level 4xx (unknown model, 413, 405
# are not counted against this model)
expect "GET /metrics" 200 "$(http GET /metrics "$T/metrics")" "$T/metrics" '^# TYPE cleave_requests_total counter'
ok1=$(metric 'cleave_requests_total{model="fmnist-cnn",code="2xx"}')
bad1=$(metric 'cleave_requests_total{model="fmnist-cnn",code="4xx"}')
if [ -n "$ok1" ] && [ -n "$ok0" ] && [ $((ok1 - ok0)) -eq 4 ] && [ -n "$bad1" ] && [ $((bad1 - bad0)) -eq 6 ]; then
  ok "cleave_requests_total 2xx $ok0 -> $ok1, 4xx $bad0 -> $bad1"
else
  bad "cleave_requests_total 2xx '$ok0' -> '$ok1' (expected +4), 4xx '$bad0' -> '$bad1' (expected +6)"
fi

# ---- SIGTERM: drains and exits 0
kill -TERM "$pid"
for _ in $(seq 50); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
  bad "still running 5 s after SIGTERM"
else
  wait "$pid"
  rc=$?
  pid=
  grep -q draining "$T/serve.log" && ok "SIGTERM: prints draining" || bad "SIGTERM: no 'draining' in the output"
  [ $rc -eq 0 ] && ok "SIGTERM: exit 0" || bad "SIGTERM: exit $rc"
fi
[ $fail -eq 0 ] || { echo "--- server output"; sed 's/^/    /' "$T/serve.log"; }
exit $fail
