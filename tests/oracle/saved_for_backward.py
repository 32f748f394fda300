"""Bytes torchvision keeps for backward at the end of a training forward, the oracle of `trainmem characterize`.

Usage: saved_for_backward.py MODEL:BATCH:RESOLUTION [...]; prints one JSON object per model:
{"model", "batch", "resolution", "saved_bytes"}. The forward is trainmem's (synthetic_training.cpp): train mode,
cross-entropy of the main logits. saved_bytes sums the distinct storages that autograd saved
(torch.autograd.graph.saved_tensors_hooks) and still holds when the forward ends, without the input images, the
targets, the parameters and the buffers (batch norm saves its running statistics, which exist before
the forward).
"""
import json
import sys
import weakref

import torch
import torchvision


def saved_bytes(name: str, batch: int, resolution: int) -> int:
    torch.manual_seed(0)
    model = torchvision.models.get_model(name, weights=None).train()
    images = torch.randn(batch, 3, resolution, resolution)
    targets = torch.randint(0, 1000, (batch,))
    excluded = {t.untyped_storage().data_ptr() for t in [images, targets, *model.parameters(), *model.buffers()]}
    saved = []  # weak references: a saved tensor dies with the part of the graph that held it

    def pack(tensor):
        # Detached: the tensor itself would point back at its node, a cycle that keeps dropped branches alive.
        alias = tensor.detach()
        saved.append(weakref.ref(alias))
        return alias

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda alias: alias):
        output = model(images)
        # GoogLeNet and Inception v3 also return auxiliary logits in train mode; the loss takes the main ones.
        logits = output.logits if hasattr(output, "logits") else output
        loss = torch.nn.functional.cross_entropy(logits, targets)
        del output, logits
    storages = {}
    for reference in saved:
        tensor = reference()
        if tensor is not None and tensor.untyped_storage().data_ptr() not in excluded:
            storages[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
    del loss
    return sum(storages.values())


if __name__ == "__main__":
    for item in sys.argv[1:]:
        name, batch, resolution = item.split(":")
        result = saved_bytes(name, int(batch), int(resolution))
        print(json.dumps({"model": name, "batch": int(batch), "resolution": int(resolution), "saved_bytes": result}),
              flush=True)
