#!/usr/bin/env bash
# Copies what scripts/gpu-check.sh needs and a GPU machine without a package registry lacks into .gpu-deps/ (or
# $1): the headers of Debian's CLI11, nlohmann-json and fmt (used header-only there) and googletest's sources.
# Run it here, where scripts/setup.sh installed those packages; the device tool then carries .gpu-deps along.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
deps=${1:-$root/.gpu-deps}
rm -rf "$deps.partial"
mkdir -p "$deps.partial"/{cli11,json,fmt}
cp -r /usr/include/CLI "$deps.partial/cli11/"
cp -r /usr/include/nlohmann "$deps.partial/json/"
cp -r /usr/include/fmt "$deps.partial/fmt/"
cp -r /usr/src/googletest "$deps.partial/googletest"
rm -rf "$deps"
mv "$deps.partial" "$deps"
du -sh "$deps"
