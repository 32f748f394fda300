"""Writes torchvision models' state_dicts, a random input and the eval-mode output, for the C++ equality tests.

Usage: export_torchvision.py OUT_DIR MODEL:RESOLUTION [MODEL:RESOLUTION ...], in one process because importing
torchvision costs seconds. Format (read by tests/torchvision_oracle_test.cpp): OUT_DIR/MODEL-RESOLUTION/index.json
lists {name, shape, dtype, offset} entries whose little-endian data lie in tensors.bin beside it; "input" and
"output" are the probe and torchvision's answer.
"""
import json
import os
import sys

import torch
import torchvision


def export(name: str, resolution: int, out_dir: str) -> None:
    torch.manual_seed(0)
    model = torchvision.models.get_model(name, weights=None).eval()
    with torch.no_grad():
        # Non-trivial BatchNorm statistics, so that eval mode exercises them.
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
        # Parameters initialized to one value (zero heads and biases, unit norm weights, ConvNeXt's 1e-6 layer scale)
        # would hide the computations they multiply: spread them around that value.
        for parameter in model.parameters():
            if parameter.numel() > 1 and bool((parameter == parameter.flatten()[0]).all()):
                parameter.add_(torch.randn_like(parameter) * 0.1)
    probe = torch.randn(2, 3, resolution, resolution)
    with torch.no_grad():
        output = model(probe)
    tensors = dict(model.state_dict())
    tensors["input"] = probe
    tensors["output"] = output
    os.makedirs(out_dir, exist_ok=True)
    index, offset = [], 0
    with open(f"{out_dir}/tensors.bin", "wb") as blob:
        for key, tensor in tensors.items():
            data = tensor.detach().contiguous().numpy().tobytes()
            index.append({"name": key, "shape": list(tensor.shape), "dtype": str(tensor.dtype), "offset": offset})
            blob.write(data)
            offset += len(data)
    with open(f"{out_dir}/index.json", "w") as f:
        json.dump({"model": name, "parameter_count": sum(p.numel() for p in model.parameters()), "tensors": index}, f)


if __name__ == "__main__":
    for item in sys.argv[2:]:
        name, resolution = item.split(":")
        export(name, int(resolution), f"{sys.argv[1]}/{name}-{resolution}")
