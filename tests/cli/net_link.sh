#!/usr/bin/env bash
# `cleave link` from the command line: help, the model's predictions, bad
# link strings rejected with a message naming them, and (as root) a reduced
# measured validation over a tbf-shaped veth between two network namespaces
# (3 and 10 Mbit/s, 10K..1M, RTT 20 ms, 15% bar, under a minute); no
# namespace may be left behind.
# Usage: net_link.sh CLEAVE SOURCE_DIR. Exit 0 pass, 1 fail, 77 skip (no root).
set -uo pipefail
CLEAVE=$1
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }

"$CLEAVE" link --help >/dev/null && ok "link --help" || bad "link --help"
out=$("$CLEAVE" link predict --link 3mbit,20ms --bytes 10K,1M) && ok "predict" || bad "predict"
# 1M at 3 Mbit/s: 0.2 + 20 + (1e6 + 130) * 1514/1448 * 8 / 3000 = 2808.78 ms
echo "$out" | grep -q "2808.78" && ok "predict 1M at 3 Mbit/s = 2808.78 ms" || bad "predict value: $out"
for s in "3mbt,20ms" "3mbit,20" "fast" "3mbit,20ms,1ms,2ms" "-1mbit,20ms"; do
  msg=$("$CLEAVE" link predict --link "$s" 2>&1)
  rc=$?
  if [ $rc -ne 0 ] && echo "$msg" | grep -qF -- "$s"; then ok "bad link '$s' rejected: $msg"
  else bad "bad link '$s' (rc $rc): $msg"; fi
done
"$CLEAVE" link measure --link 3mbit,20ms >/dev/null 2>&1 && bad "measure without --url accepted" || ok "measure needs --url"
"$CLEAVE" link frobnicate >/dev/null 2>&1 && bad "unknown subcommand accepted" || ok "unknown subcommand rejected"

if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || ! command -v tc >/dev/null; then
  "$CLEAVE" link validate --skip-ok >/dev/null 2>&1
  rc=$?
  [ $rc -eq 77 ] && ok "validate without root: exit 77" || bad "validate without root: exit $rc"
  [ $fail -eq 0 ] || exit 1
  echo "SKIP: the measured validation needs root with ip and tc (network namespaces, veth, tbf)"
  exit 77
fi

before=$(ip netns list | grep -c cleave-lk || true)
start=$(date +%s)
"$CLEAVE" link validate --rates 3,10 --bytes 10K,100K,1M --rtt 20ms --tolerance 15 --skip-ok
rc=$?
took=$(( $(date +%s) - start ))
if [ $rc -eq 77 ]; then
  [ $fail -eq 0 ] || exit 1
  echo "SKIP: network namespaces are not available here"; exit 77
fi
[ $rc -eq 0 ] && ok "validate at 3 and 10 Mbit/s within 15% (${took} s)" || bad "validate exit $rc"
[ "$took" -lt 60 ] && ok "validate under 60 s" || bad "validate took ${took} s"
after=$(ip netns list | grep -c cleave-lk || true)
[ "$after" -le "$before" ] && ok "namespaces removed" || bad "namespaces left behind: $(ip netns list)"

# interrupted: SIGTERM mid-run still tears everything down
"$CLEAVE" link validate --rates 1 --bytes 1M --repeat 1 >/dev/null 2>&1 &
pid=$!
sleep 2
kill -TERM $pid
wait $pid
rc=$?
after=$(ip netns list | grep -c cleave-lk || true)
[ $rc -ne 0 ] && [ "$after" -le "$before" ] && ok "SIGTERM: exit $rc, namespaces removed" \
  || bad "SIGTERM: exit $rc, namespaces: $(ip netns list)"
exit $fail
