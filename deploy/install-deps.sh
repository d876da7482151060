#!/usr/bin/env bash
# Installs the Debian 12 packages PartyHub needs to build, test and run.
# Idempotent: asks apt only for what is missing, so a second run is quick and quiet.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake pkg-config git python3
  # fonts for the name on the test video (textoverlay)
  fonts-dejavu-core
  # media: GStreamer core, dev headers and the plugins we use
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-tools
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-x gstreamer1.0-alsa
  gstreamer1.0-pulseaudio
  # messaging and serialisation
  libzmq3-dev cppzmq-dev libprotobuf-dev protobuf-compiler
  # logging, CLI, JSON, HTTP, storage, crypto, tests
  libspdlog-dev libcli11-dev nlohmann-json3-dev libcpp-httplib-dev libsqlite3-dev libssl-dev doctest-dev
  # benchmark plots; the namespace test bed (bench/run testbed)
  python3-matplotlib iproute2 iptables
  # the web GUI's end-to-end test: Debian's Chromium (never a downloaded browser)
  chromium
)
# Node.js and npm for playwright-core, unless a Node.js is there already
# (a NodeSource nodejs bundles its npm and conflicts with Debian's).
if ! command -v npm >/dev/null; then PACKAGES+=(nodejs npm); fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# playwright-core for the web GUI's test, from the npm registry, as locked.
WEB_TESTS="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/web"
if ! cmp -s "$WEB_TESTS/package-lock.json" "$WEB_TESTS/node_modules/.package-lock.json.installed" 2>/dev/null; then
  echo "install-deps: npm ci in tests/web"
  npm ci --prefix "$WEB_TESTS" --no-audit --no-fund --loglevel=error
  cp "$WEB_TESTS/package-lock.json" "$WEB_TESTS/node_modules/.package-lock.json.installed"
fi
