#!/usr/bin/env bash
# The CUDA checks, in one go, for a GPU machine that has a CUDA PyTorch 2.x but no package registry:
#   1. builds trainmem against that PyTorch's LibTorch, with the copies of CLI11, nlohmann-json, fmt (header-only)
#      and googletest that scripts/gpu-bundle.sh put into .gpu-deps/ (carry it along);
#   2. runs the CUDA tests (tests/cuda_*_test.cpp, tests/cupti_test.cpp) and `trainmem devices`;
#   3. profiles resnet18 on the GPU (batch 32, 224 px) and compares kernel sizes none,2,4 there;
#   4. prints our peak beside the caching allocator's, the memory reserved, and what CUPTI saw.
# Usage: scripts/gpu-check.sh [OUT_DIR]   (environment: TRAINMEM_PYTHON, TRAINMEM_CARRIED_DEPS, TRAINMEM_GPU_BUILD)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
python=$(command -v "${TRAINMEM_PYTHON:-python3}")  # absolute: CMake takes it as a file path
deps=${TRAINMEM_CARRIED_DEPS:-$root/.gpu-deps}
build=${TRAINMEM_GPU_BUILD:-$root/build-gpu}
out=${1:-$build/gpu-check}
start=$SECONDS
step() { echo "== [$((SECONDS - start)) s] $*"; }

step "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "nvidia-smi: not available"
"$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "devices", torch.cuda.device_count())'

step "configure"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DTRAINMEM_PYTHON="$python" \
  -DTRAINMEM_CARRIED_DEPS="$deps" -DTRAINMEM_BUILD_BENCH=OFF >"$build.configure.log" 2>&1 \
  || { tail -40 "$build.configure.log"; exit 1; }
grep "trainmem:" "$build.configure.log"

step "build"
# Keep going past errors, so that one run shows them all.
keep_going=()
[ ${#generator[@]} -gt 0 ] && keep_going=(-- -k 0)
if ! cmake --build "$build" -j "$(nproc)" --target trainmem trainmem_cuda_tests "${keep_going[@]}" >"$build.build.log" 2>&1; then
  grep -E "error|FAILED" "$build.build.log" | head -40
  exit 1
fi

step "CUDA tests"
tests_ok=0
"$build/tests/trainmem_cuda_tests" --gtest_brief=1 && tests_ok=1

step "trainmem devices"
"$build/cmd/trainmem" devices

step "profile --device cuda (resnet18, batch 32, 224 px)"
rm -rf "$out"
mkdir -p "$out"
profile_ok=0
"$build/cmd/trainmem" profile --device cuda --model resnet18 --batch 32 --resolution 224 --steps 3 \
  --out "$out/resnet18-cuda" && profile_ok=1

step "compare --device cuda --compress none,2,4"
"$build/cmd/trainmem" compare --device cuda --model resnet18 --batch 32 --resolution 224 --steps 3 \
  --compress none,2,4 --out "$out/compare-resnet18-cuda.json" || echo "compare FAILED"
[ $profile_ok = 1 ] || { echo "profile --device cuda FAILED"; exit 1; }

step "reconciliation"
"$python" - "$out/resnet18-cuda/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
c = s["cuda"]
mib = lambda b: f"{b / 2**20:10.1f} MiB"
rows = [
    ("tensor peak: trace", s["peak_bytes"]),
    ("tensor peak: allocator (requested)", c["allocator"]["requested_peak_bytes"]),
    ("peak allocated: allocator (block sizes)", c["allocator"]["allocated_peak_bytes"]),
    ("peak reserved: trace segments", c["trace"]["reserved_peak_bytes"]),
    ("peak reserved: allocator", c["allocator"]["reserved_peak_bytes"]),
    ("CUPTI: driver allocations, peak", c["trace"]["driver_peak_bytes"]),
    ("device in use at end (cudaMemGetInfo)", c["device_used_bytes_at_end"]),
]
for name, value in rows:
    print(f"  {name:42s} {mib(value)}  ({value} B)")
print(f"  peak equal: {c['reconciled']['peak']}, reserved equal: {c['reconciled']['reserved_peak']}, "
      f"CUPTI traced: {c['cupti']['traced']} {c['cupti']['error']}, records {c['cupti']['memory_records']}")
PY
step "done (tests $([ $tests_ok = 1 ] && echo passed || echo FAILED))"
[ $tests_ok = 1 ]
