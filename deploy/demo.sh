#!/usr/bin/env bash
# README's first command: set everything up and run a live demo on loopback.
#
#   test source "Alice" -> streamer S (the channel's source streamer)
#                            |--UDP--> streamer P1 -> player "bob"
#                            '--UDP--> streamer P2 -> player "carol"
#
# Each player prints a statistics line every second (frames, late, lost,
# glass-to-glass latency). With a display, each player opens a window.
# Stops on Ctrl-C, or after --duration SECONDS.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION=0
SINK=auto
while (($#)); do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --sink) SINK="$2"; shift 2 ;;
    -h|--help) echo "usage: $0 [--duration SECONDS] [--sink auto|fake]"; exit 0 ;;
    *) echo "demo: unknown option $1" >&2; exit 2 ;;
  esac
done

"$ROOT/deploy/build.sh" >/dev/null
BIN="$ROOT/build/bin"
RUN="$(mktemp -d /tmp/partyhub-demo-XXXXXX)"
PIDS=()
cleanup() {
  trap - INT TERM EXIT
  kill "${PIDS[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  echo "demo: stopped; logs in $RUN"
}
trap cleanup INT TERM EXIT

D=()
if [[ "$DURATION" != 0 ]]; then D=(--duration "$DURATION"); fi
PD=()
if [[ "$DURATION" != 0 ]]; then PD=(--duration "$(awk "BEGIN{print $DURATION+2}")"); fi

"$BIN/partyhub-streamer" --name S --listen 127.0.0.1:7000 --peer 127.0.0.1:7001 --peer 127.0.0.1:7002 \
  --source "ipc://$RUN/source.ipc" --players "ipc://$RUN/s-players.ipc" "${PD[@]}" --log-level warn 2>"$RUN/S.log" &
PIDS+=($!)
for i in 1 2; do
  "$BIN/partyhub-streamer" --name "P$i" --listen "127.0.0.1:700$i" --peer 127.0.0.1:7000 \
    --players "ipc://$RUN/p$i-players.ipc" "${PD[@]}" --log-level warn 2>"$RUN/P$i.log" &
  PIDS+=($!)
done
names=(bob carol)
for i in 1 2; do
  "$BIN/partyhub-player" --name "${names[$((i-1))]}" --streamer "ipc://$RUN/p$i-players.ipc" --sink "$SINK" \
    "${PD[@]}" --log-level warn 2>"$RUN/player$i.log" &
  PIDS+=($!)
done
sleep 0.3
echo "demo: Alice's test source -> S -> {P1 -> bob, P2 -> carol} over UDP on 127.0.0.1 (Ctrl-C to stop)"
"$BIN/partyhub-source" --name Alice --streamer "ipc://$RUN/source.ipc" "${D[@]}" --log-level warn 2>"$RUN/source.log" &
PIDS+=($!)
wait "${PIDS[-1]}" || true
sleep 1
