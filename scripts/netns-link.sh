#!/usr/bin/env bash
# Shaped link by hand (root): two network namespaces joined by a veth pair,
# the edge side's egress shaped with tbf -- what `cleave link validate` does
# itself. docs/link.md shows how to run `cleave link serve/measure` in them.
#   netns-link.sh up [MBIT]    create cleave-edge (10.77.0.2) and cleave-cloud (10.77.0.1), shape
#   netns-link.sh rate MBIT    change the rate (tbf burst = max(2 frames, 1 ms at the rate))
#   netns-link.sh show         qdisc with statistics (sent bytes, drops)
#   netns-link.sh down         remove both namespaces (and with them the veth pair)
set -euo pipefail
EDGE=cleave-edge CLOUD=cleave-cloud VE=clk-edge VC=clk-cloud

rate() {
  local mbit=$1 burst limit
  burst=$(awk -v r="$mbit" 'BEGIN { b = r * 1e6 / 8 / 1000; if (b < 3028) b = 3028; printf "%d", b }')
  limit=$(awk -v r="$mbit" 'BEGIN { l = r * 1e6 / 8 * 2; if (l < 256000) l = 256000; printf "%d", l }')
  ip netns exec "$EDGE" tc qdisc replace dev "$VE" root tbf rate "${mbit}mbit" burst "$burst" limit "$limit"
  echo "edge -> cloud shaped to $mbit Mbit/s (tbf burst $burst bytes: pass --burst $burst to measure)"
}

case "${1:-}" in
  up)
    [ "$(id -u)" = 0 ] || { echo "netns-link.sh: needs root" >&2; exit 3; }
    ip netns add "$CLOUD"
    ip netns add "$EDGE"
    ip link add "$VE" type veth peer name "$VC"
    ip link set "$VE" netns "$EDGE"
    ip link set "$VC" netns "$CLOUD"
    ip -n "$EDGE" addr add 10.77.0.2/24 dev "$VE"
    ip -n "$CLOUD" addr add 10.77.0.1/24 dev "$VC"
    for ns in "$EDGE" "$CLOUD"; do
      ip -n "$ns" link set lo up
      # cubic, Linux's default congestion control (and a Raspberry Pi's):
      # some kernels default to bbr, whose pacing spreads even a two-frame
      # request over the shaped rate once its bandwidth estimate has seen
      # the shaper (+3..8 ms per 2.4 KB request at 3 Mbit/s after ~5 s).
      # Where the sandbox refuses the sysctl, clients pass --cc cubic.
      ip netns exec "$ns" sysctl -qw net.ipv4.tcp_congestion_control=cubic 2>/dev/null || true
    done
    ip -n "$EDGE" link set "$VE" up
    ip -n "$CLOUD" link set "$VC" up
    rate "${2:-3}"
    ;;
  rate) rate "${2:?usage: netns-link.sh rate MBIT}" ;;
  show) ip netns exec "$EDGE" tc -s qdisc show dev "$VE" ;;
  down)
    ip netns del "$EDGE" 2>/dev/null || true
    ip netns del "$CLOUD" 2>/dev/null || true
    ;;
  *) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
