#!/usr/bin/env bash
# A whole local conference on this machine: a group manager, one controller
# daemon per participant, and every participant joined to group "meet" with
# a test source showing its name. Prints a live status table per participant
# (frames, glass-to-glass latency, loss per remote member). Ctrl-C or
# --duration stops everything (the daemons take their processes with them).
#
#   deploy/local-conference.sh [--participants 3] [--duration SECONDS] [--sink auto|fake]
#                              [--width 640 --height 360 --fps 30] [--layout per-source|shared]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N=3 DURATION=0 SINK=auto WIDTH=640 HEIGHT=360 FPS=30 LAYOUT=per-source
while (($#)); do
  case "$1" in
    --participants) N="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --sink) SINK="$2"; shift 2 ;;
    --width) WIDTH="$2"; shift 2 ;;
    --height) HEIGHT="$2"; shift 2 ;;
    --fps) FPS="$2"; shift 2 ;;
    --layout) LAYOUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "local-conference: unknown option $1" >&2; exit 2 ;;
  esac
done
if ! [[ "$N" =~ ^[0-9]+$ ]] || ((N < 2 || N > 8)); then echo "local-conference: 2 to 8 participants" >&2; exit 2; fi
if [[ "$SINK" == auto && -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; then SINK=fake; fi

"$ROOT/deploy/build.sh" >/dev/null
BIN="$ROOT/build/bin"
RUN="$(mktemp -d /tmp/partyhub-conference-XXXXXX)"
NAMES=(alice bob carol dave erin frank grace heidi)
MANAGER=http://127.0.0.1:8700
PIDS=()
cleanup() {
  trap - INT TERM EXIT
  kill "${PIDS[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  echo "local-conference: stopped; logs in $RUN"
}
trap cleanup INT TERM EXIT

"$BIN/partyhub-groupmgr" --listen 127.0.0.1:8700 --db "$RUN/groups.db" 2>"$RUN/groupmgr.log" &
PIDS+=($!)
for ((i = 0; i < N; i++)); do
  "$BIN/partyhub-controller" daemon --listen "127.0.0.1:$((8801 + i))" --run-dir "$RUN/${NAMES[$i]}" \
    --port-base $((21000 + 100 * i)) --sink "$SINK" --log-level warn 2>"$RUN/controller-${NAMES[$i]}.log" &
  PIDS+=($!)
done
sleep 0.5
for ((i = 0; i < N; i++)); do
  "$BIN/partyhub-controller" --daemon "http://127.0.0.1:$((8801 + i))" join meet --name "${NAMES[$i]}" \
    --manager "$MANAGER" --width "$WIDTH" --height "$HEIGHT" --fps "$FPS" --layout "$LAYOUT" >/dev/null
done
echo "local-conference: ${N} participants in group 'meet'; group manager $MANAGER;" \
  "controllers http://127.0.0.1:8801..$((8800 + N)) (e.g. curl http://127.0.0.1:8801/v1/conferences/meet)"

start=$SECONDS
while [[ "$DURATION" == 0 ]] || ((SECONDS - start < DURATION)); do
  sleep 2
  [[ -t 1 ]] && clear
  for ((i = 0; i < N; i++)); do
    "$BIN/partyhub-controller" --daemon "http://127.0.0.1:$((8801 + i))" status meet || true
  done
  echo "(controllers: http://127.0.0.1:8801..$((8800 + N)); Ctrl-C to stop)"
done
