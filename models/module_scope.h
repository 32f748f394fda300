#pragma once
// Names each module call after the module's torchvision path ("layer2.0.conv1") with a profiler user
// scope, which LibTorch's RecordFunction observers see (trainmem's tracer, the PyTorch profiler), and lets
// code outside the model replace a module's forward (compression does). Models stay unaware of both.
#include <ATen/record_function.h>
#include <torch/nn/module.h>

#include <functional>
#include <string>

namespace trainmem::models {

// A replacement for a module's forward: same input, same output, possibly another way of saving for backward.
using ForwardOverride = std::function<torch::Tensor(const torch::Tensor&)>;

struct ModuleHooks {
  std::string path;
  ForwardOverride forward;  // empty: the module's own forward
};

// Remembers the dotted path of every module below `root` (called once a model is built).
void assign_module_paths(const torch::nn::Module& root);
// Forgets paths and overrides of every module below `root`.
void forget_module_paths(const torch::nn::Module& root);
// Hooks of `module`; nullptr if it has none.
const ModuleHooks* module_hooks(const torch::nn::Module& module);
// The path assigned to `module`, or its type name if it has none.
const std::string& module_path(const torch::nn::Module& module);
// Replaces (or, with an empty function, restores) the forward that call() runs for `module`.
void set_forward_override(const torch::nn::Module& module, ForwardOverride forward);

// Runs `body` inside a user scope named `path`; `input` is recorded as the scope's input.
template <class Body>
torch::Tensor in_scope(const std::string& path, const torch::Tensor& input, Body&& body) {
  const c10::IValue recorded_input(input);
  RECORD_USER_SCOPE_WITH_INPUTS(path, c10::ArrayRef<const c10::IValue>(&recorded_input, 1));
  return body();
}

template <class Body>
torch::Tensor in_module_scope(const torch::nn::Module& module, const torch::Tensor& input, Body&& body) {
  return in_scope(module_path(module), input, std::forward<Body>(body));
}

// Calls a child module's forward (or its override) inside its scope.
template <class Holder>
torch::Tensor call(Holder& child, const torch::Tensor& input) {
  const ModuleHooks* hooks = module_hooks(*child);
  if (hooks == nullptr) return in_scope(child->name(), input, [&] { return child->forward(input); });
  return in_scope(hooks->path, input, [&] { return hooks->forward ? hooks->forward(input) : child->forward(input); });
}

}  // namespace trainmem::models
