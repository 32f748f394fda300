#include "models/module_scope.h"

#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "models/classifier.h"

namespace trainmem::models {
namespace {

std::shared_mutex g_mutex;
// Node-based: hooks handed out stay where they are while other modules come and go.
std::unordered_map<const torch::nn::Module*, ModuleHooks> g_hooks;

// Walks children by hand: named_modules() needs shared_from_this(), unavailable during destruction.
template <class Visit>
void visit_descendants(const torch::nn::Module& module, const std::string& prefix, Visit&& visit) {
  for (const auto& child : module.named_children()) {
    const std::string path = prefix.empty() ? child.key() : prefix + "." + child.key();
    visit(*child.value(), path);
    visit_descendants(*child.value(), path, visit);
  }
}

}  // namespace

void assign_module_paths(const torch::nn::Module& root) {
  std::unique_lock lock(g_mutex);
  visit_descendants(root, "", [](const torch::nn::Module& m, const std::string& path) { g_hooks[&m] = {path, {}}; });
}

void forget_module_paths(const torch::nn::Module& root) {
  std::unique_lock lock(g_mutex);
  visit_descendants(root, "", [](const torch::nn::Module& m, const std::string&) { g_hooks.erase(&m); });
}

const ModuleHooks* module_hooks(const torch::nn::Module& module) {
  std::shared_lock lock(g_mutex);
  auto it = g_hooks.find(&module);
  return it != g_hooks.end() ? &it->second : nullptr;
}

const std::string& module_path(const torch::nn::Module& module) {
  const ModuleHooks* hooks = module_hooks(module);
  return hooks != nullptr ? hooks->path : module.name();
}

void set_forward_override(const torch::nn::Module& module, ForwardOverride forward) {
  std::unique_lock lock(g_mutex);
  auto it = g_hooks.find(&module);
  TORCH_CHECK(it != g_hooks.end(), "trainmem: module ", module.name(), " has no assigned path");
  it->second.forward = std::move(forward);
}

Classifier::~Classifier() { forget_module_paths(*this); }

}  // namespace trainmem::models
