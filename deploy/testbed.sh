#!/usr/bin/env bash
# A namespace test bed: N hosts as network namespaces on one bridge, each with
# its own uplink rate (tbf), random loss on arrival (iptables statistic) and addresses
# 10.77.0.1..N/24; the bridge itself is 10.77.0.254 (run a group manager there).
# This kernel has no netem: one-way delay is the streamers' own emulation
# option (`partyhub-controller daemon --emulate-delay-ms`). Needs root.
#
#   deploy/testbed.sh up N [--rate-kbit 4000] [--loss 0.01] [--queue-ms 200]
#   deploy/testbed.sh exec I COMMAND...    run a command on host I
#   deploy/testbed.sh tx-bytes I           bytes host I has sent on its uplink
#   deploy/testbed.sh down                 stop what runs on the hosts, remove them and the bridge
#
# Hosts are named ph1..phN (`ip netns exec ph3 ...` works too).
set -euo pipefail
PREFIX=ph
BRIDGE=ph-br0
NET=10.77.0

die() { echo "testbed: $*" >&2; exit 2; }
need_root() { [[ $(id -u) == 0 ]] || die "needs root (network namespaces, tc, iptables)"; }
need_tools() {
  command -v tc >/dev/null && command -v iptables >/dev/null ||
    "$(dirname "${BASH_SOURCE[0]}")/install-deps.sh" >&2
}

hosts() { ip netns list | awk '{print $1}' | grep -E "^${PREFIX}[0-9]+$" || true; }

down() {
  # Processes left in a host would keep its namespace (and addresses) alive.
  for h in $(hosts); do
    local pids; pids=$(ip netns pids "$h")
    if [[ -n "$pids" ]]; then
      kill $pids 2>/dev/null || true
      sleep 1
      kill -9 $(ip netns pids "$h") 2>/dev/null || true
    fi
    ip link del "$h" 2>/dev/null || true  # now: a namespace's own teardown is deferred
    ip netns del "$h"
  done
  ip link del "$BRIDGE" 2>/dev/null || true
}

up() {
  local n="${1:-}"; shift || true
  local rate=4000 loss=0.01 queue=200
  while (($#)); do
    case "$1" in
      --rate-kbit) rate="$2"; shift 2 ;;
      --loss) loss="$2"; shift 2 ;;
      --queue-ms) queue="$2"; shift 2 ;;
      *) die "unknown option $1" ;;
    esac
  done
  [[ "$n" =~ ^[0-9]+$ ]] && ((n >= 1 && n <= 200)) || die "up N: 1 to 200 hosts"
  [[ "$rate" =~ ^[0-9]+$ ]] && ((rate >= 64)) || die "--rate-kbit: an integer >= 64"
  [[ "$loss" =~ ^0(\.[0-9]+)?$|^1$ ]] || die "--loss: a share between 0 and 1"
  [[ "$queue" =~ ^[0-9]+$ ]] || die "--queue-ms: an integer"
  down
  ip link add "$BRIDGE" type bridge
  ip addr add "$NET.254/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  for ((i = 1; i <= n; i++)); do
    local h="$PREFIX$i"
    ip netns add "$h"
    ip link add "$h" type veth peer name eth0 netns "$h"
    ip link set "$h" master "$BRIDGE"
    ip link set "$h" up
    ip netns exec "$h" ip link set lo up
    ip netns exec "$h" ip addr add "$NET.$i/24" dev eth0
    ip netns exec "$h" ip link set eth0 up
    # The uplink: a token bucket at the rate, its queue bounded in delay as a
    # home router's is (a burst of ~10 ms at the rate, at least a few packets).
    local burst=$((rate * 10 / 8 > 3200 ? rate * 10 / 8 : 3200))
    ip netns exec "$h" tc qdisc add dev eth0 root tbf rate "${rate}kbit" burst "$burst" latency "${queue}ms"
    if [[ "$loss" != 0 ]]; then
      # On arrival: a DROP on OUTPUT would fail the sender's sendto() with
      # EPERM, which no real lossy path does.
      ip netns exec "$h" iptables -A INPUT -i eth0 -p udp -m statistic --mode random --probability "$loss" -j DROP
    fi
  done
  echo "testbed: $n hosts ${PREFIX}1..${PREFIX}$n at $NET.1..$n, bridge $BRIDGE at $NET.254;" \
    "uplink ${rate} kbit/s (queue ${queue} ms), UDP loss $loss"
}

tx_bytes() {
  # The host's eth0 transmit counter: what left it, after tbf and the loss rule.
  ip netns exec "$PREFIX$1" cat /sys/class/net/eth0/statistics/tx_bytes
}

cmd="${1:-}"; shift || true
case "$cmd" in
  up) need_root; need_tools; up "$@" ;;
  down) need_root; down ;;
  exec) need_root; h="${1:-}"; shift || true; [[ -n "$h" ]] || die "exec I COMMAND..."; exec ip netns exec "$PREFIX$h" "$@" ;;
  tx-bytes) tx_bytes "${1:?tx-bytes I}" ;;
  -h|--help|"") sed -n '2,13p' "$0" ;;
  *) die "unknown command $cmd (up | exec | tx-bytes | down)" ;;
esac
