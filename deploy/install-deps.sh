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
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
