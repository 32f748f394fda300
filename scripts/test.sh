#!/usr/bin/env bash
# Sets up and builds (see setup.sh), then runs the whole test suite.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
cd "${TRAINMEM_BUILD:-$root/build}"
ctest --output-on-failure -j "$(nproc)" "$@"
