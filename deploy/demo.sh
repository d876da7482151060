#!/usr/bin/env bash
# README's first command: set everything up and run a local 3-participant
# conference (test sources, each showing its participant's name), with a live
# status table. Options are those of deploy/local-conference.sh, e.g.
# --duration 20 to stop after 20 s, --sink fake to run headless.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec "$ROOT/deploy/local-conference.sh" --participants 3 "$@"
