#pragma once
// Names each module call after the module's torchvision path ("layer2.0.conv1") with a profiler user
// scope, which LibTorch's RecordFunction observers see (trainmem's tracer, the PyTorch profiler).
// Models stay unaware of who listens.
#include <ATen/record_function.h>
#include <torch/nn/module.h>

#include <string>

namespace trainmem::models {

// Remembers the dotted path of every module below `root` (called once a model is built).
void assign_module_paths(const torch::nn::Module& root);
void forget_module_paths(const torch::nn::Module& root);
// The path assigned to `module`, or its type name if it has none.
const std::string& module_path(const torch::nn::Module& module);

// Runs `body` inside a user scope named by `module`'s path; `input` is recorded as the scope's input.
template <class Body>
torch::Tensor in_module_scope(const torch::nn::Module& module, const torch::Tensor& input, Body&& body) {
  const c10::IValue recorded_input(input);
  RECORD_USER_SCOPE_WITH_INPUTS(module_path(module), c10::ArrayRef<const c10::IValue>(&recorded_input, 1));
  return body();
}

// Calls a child module's forward inside its scope.
template <class Holder>
torch::Tensor call(Holder& child, const torch::Tensor& input) {
  return in_module_scope(*child, input, [&] { return child->forward(input); });
}

}  // namespace trainmem::models
