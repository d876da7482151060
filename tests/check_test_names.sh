#!/usr/bin/env bash
# CTest registers doctest cases by name through CMake lists: a ';' in a name
# splits it, the filter then matches nothing, and the case "passes" without
# running. Refuse such names.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if grep -rn 'TEST_CASE("[^"]*;[^"]*")' --include='*.cpp' .; then
  echo "test names must not contain ';' (CTest would silently skip them)" >&2
  exit 1
fi
echo "test names ok"
