#!/usr/bin/env bash
# README's second command: set everything up and run the whole test suite.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/deploy/build.sh"
cd "$ROOT/build"
# Two jobs: the integration tests run real media pipelines and need the cores.
ctest --output-on-failure -j 2 "$@"
