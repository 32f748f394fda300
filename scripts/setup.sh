#!/usr/bin/env bash
# Installs everything trainmem needs on Debian 12 and builds it (idempotent: a second run only rebuilds).
#   Debian packages: compilers, CMake, CLI11, fmt, nlohmann-json, GoogleTest, Google Benchmark, ccache, data,
#   zlib and Chromium (the browser test of report.html).
#   The pinned torch + torchvision wheels in a virtual environment under $TRAINMEM_CACHE.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/versions.env"
cache=${TRAINMEM_CACHE:-$HOME/.cache/trainmem}
venv="$cache/torch-$TORCH_VERSION-tv$TORCHVISION_VERSION"
build=${TRAINMEM_BUILD:-$root/build}

debs=(build-essential cmake python3 python3-venv python3-pip ccache libcli11-dev libfmt-dev
      nlohmann-json3-dev libgtest-dev libbenchmark-dev dataset-fashion-mnist zlib1g-dev chromium)
missing=()
for p in "${debs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

if [ ! -f "$venv/.complete" ]; then
  echo "setup: installing torch==$TORCH_VERSION torchvision==$TORCHVISION_VERSION into $venv"
  rm -rf "$venv"
  mkdir -p "$cache"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
  touch "$venv/.complete"
fi

launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # Paths relative to the checkout, so that another clone (CI's) reuses this machine's cache.
  export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
fi
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTRAINMEM_PYTHON="$venv/bin/python" "${launcher[@]}" >"$build.configure.log" 2>&1 \
  || { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j "$(nproc)"
