#!/usr/bin/env bash
# Checks every model of the registry against torchvision, too slow for CI (minutes, several GiB): the registry
# lists exactly torchvision's classification builders, `trainmem models --json` gives each one torchvision's
# parameter count (weights=None), and each model's eval-mode output on torchvision's weights matches
# (the disabled oracle suite in tests/torchvision_oracle_test.cpp). Builds first, as scripts/test.sh does;
# TRAINMEM_BUILD picks the build directory. Arguments go to the oracle suite, e.g. --gtest_filter='*vgg*'.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${TRAINMEM_BUILD:-$root/build}
"$root/scripts/setup.sh"
python=$(sed -n 's/^TRAINMEM_PYTHON:[A-Z]*=//p' "$build/CMakeCache.txt")

echo "check-all-models: parameter counts against torchvision"
"$build/cmd/trainmem" models --json | "$python" -c '
import json, sys
import torchvision
ours = {m["name"]: m["parameter_count"] for m in json.load(sys.stdin)}
theirs = set(torchvision.models.list_models(module=torchvision.models))
bad = 0
for name in sorted(theirs - ours.keys()):
    print(f"  missing from the registry: {name}"); bad += 1
for name in sorted(ours.keys() - theirs):
    print(f"  not a torchvision classification model: {name}"); bad += 1
for name in sorted(ours.keys() & theirs):
    model = torchvision.models.get_model(name, weights=None)
    expected = sum(p.numel() for p in model.parameters())
    del model
    status = "ok" if ours[name] == expected else "MISMATCH"
    bad += status != "ok"
    print(f"  {name:22} {ours[name]:>12} {expected:>12} {status}", flush=True)
sys.exit(1 if bad else 0)
'

echo "check-all-models: outputs against torchvision"
"$build/tests/trainmem_oracle_tests" --gtest_also_run_disabled_tests \
  --gtest_filter='DISABLED_EveryModel/*' "$@"
