#!/usr/bin/env bash
# Every route the controller daemon installs is in its OpenAPI file, with the
# same methods: docs/controller-api.yaml must not fall behind the code.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SPEC="$ROOT/docs/controller-api.yaml"
missing=0
while read -r method route; do
  # R"(/v1/conferences/([^/]+)/members/([^/]+)/media)" -> /v1/conferences/{}/members/{}/media
  path=$(sed -E 's/\(\[\^\/\]\+\)/{}/g' <<<"$route")
  # The spec's path with its parameter names blanked out, then the method under it.
  block=$(awk -v want="$path" '
    /^  \/[^ ]*:$/ { p = substr($1, 1, length($1) - 1); gsub(/\{[a-z_]+\}/, "{}", p); inside = (p == want); next }
    /^  [^ ]/ { inside = 0 }
    inside { print }' "$SPEC")
  if [[ -z "$block" ]] || ! grep -qE "^    ${method,,}:" <<<"$block"; then
    echo "not in $SPEC: ${method^^} $path"
    missing=1
  fi
done < <(grep -hoE 'server\.(Get|Post|Delete|Put)\(R?"\(?[^")]*(\([^)]*\)[^")]*)*' "$ROOT"/controller/daemon/daemon.cpp |
         sed -E 's/server\.(Get|Post|Delete|Put)\(R?"\(?/\1 /')
if ((missing)); then exit 1; fi
echo "every daemon route is documented"
