#include "models/module_scope.h"

#include <mutex>
#include <shared_mutex>
#include <unordered_map>

namespace trainmem::models {
namespace {

std::shared_mutex g_mutex;
std::unordered_map<const torch::nn::Module*, std::string> g_paths;

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
  visit_descendants(root, "", [](const torch::nn::Module& m, const std::string& path) { g_paths[&m] = path; });
}

void forget_module_paths(const torch::nn::Module& root) {
  std::unique_lock lock(g_mutex);
  visit_descendants(root, "", [](const torch::nn::Module& m, const std::string&) { g_paths.erase(&m); });
}

const std::string& module_path(const torch::nn::Module& module) {
  std::shared_lock lock(g_mutex);
  auto it = g_paths.find(&module);
  return it != g_paths.end() ? it->second : module.name();
}

}  // namespace trainmem::models

#include "models/classifier.h"

namespace trainmem::models {

Classifier::~Classifier() { forget_module_paths(*this); }

}  // namespace trainmem::models
