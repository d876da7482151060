#!/usr/bin/env bash
# One participant's processes, launched directly: no controller, no group
# manager, every endpoint explicit. This is what partyhub-controller does for
# you; use it to see (or script) the pieces.
#
#   deploy/participant.sh --name alice --listen 192.0.2.10:7000 \
#       --member bob=192.0.2.11:7000 --member carol=192.0.2.12:7000 \
#       [--port 7001] [--video test] [--audio test] [--sink auto|fake] [--run-dir DIR]
#
# Runs: partyhub-source -> partyhub-streamer on --listen (the overlay of
# alice's channel; others join it there), and for each --member NAME=HOST:PORT
# a partyhub-streamer on the next free port (from --port) joining that member's
# overlay, plus a partyhub-player. Ctrl-C stops everything.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${PARTYHUB_BIN:-$ROOT/build/bin}"
NAME="" LISTEN="" PORT="" VIDEO=test AUDIO=test SINK=auto RUN=""
MEMBERS=()
usage() { sed -n '2,14p' "$0"; }
while (($#)); do
  case "$1" in
    --name) NAME="$2"; shift 2 ;;
    --listen) LISTEN="$2"; shift 2 ;;
    --member) MEMBERS+=("$2"); shift 2 ;;
    --port) PORT="$2"; shift 2 ;;
    --video) VIDEO="$2"; shift 2 ;;
    --audio) AUDIO="$2"; shift 2 ;;
    --sink) SINK="$2"; shift 2 ;;
    --run-dir) RUN="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "participant: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
if [[ -z "$NAME" || -z "$LISTEN" ]]; then echo "participant: --name and --listen are required" >&2; exit 2; fi
HOST="${LISTEN%:*}"
PORT="${PORT:-$((${LISTEN##*:} + 1))}"
RUN="${RUN:-$(mktemp -d "/tmp/partyhub-$NAME-XXXXXX")}"
mkdir -p "$RUN"
PIDS=()
cleanup() {
  trap - INT TERM EXIT
  kill "${PIDS[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  echo "participant $NAME: stopped; logs in $RUN"
}
trap cleanup INT TERM EXIT

"$BIN/partyhub-streamer" --name "$NAME" --listen "$LISTEN" --overlay push --source "ipc://$RUN/source.ipc" \
  --players "ipc://$RUN/self-players.ipc" --overlay-size 8 2>"$RUN/streamer-self.log" &
PIDS+=($!)
"$BIN/partyhub-source" --name "$NAME" --streamer "ipc://$RUN/source.ipc" --video "$VIDEO" --audio "$AUDIO" \
  2>"$RUN/source.log" &
PIDS+=($!)
for m in "${MEMBERS[@]}"; do
  who="${m%%=*}" boot="${m#*=}"
  if [[ "$who" == "$m" || -z "$boot" ]]; then echo "participant: --member wants NAME=HOST:PORT, got '$m'" >&2; exit 2; fi
  "$BIN/partyhub-streamer" --name "$who" --listen "$HOST:$PORT" --overlay push --bootstrap "$boot" \
    --players "ipc://$RUN/$who-players.ipc" --overlay-size 8 2>"$RUN/streamer-$who.log" &
  PIDS+=($!)
  "$BIN/partyhub-player" --name "$who" --streamer "ipc://$RUN/$who-players.ipc" --sink "$SINK" \
    2>"$RUN/player-$who.log" &
  PIDS+=($!)
  PORT=$((PORT + 1))
done
echo "participant $NAME: sending on $LISTEN, watching ${#MEMBERS[@]} member(s); logs in $RUN (Ctrl-C to stop)"
wait -n "${PIDS[@]}" || true
