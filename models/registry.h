#pragma once
// Models by torchvision name.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/classifier.h"

namespace trainmem::models {

struct ModelSpec {
  std::string name;            // torchvision builder name, e.g. "resnet18"
  std::string family;          // e.g. "resnet"
  int64_t min_resolution = 1;  // smallest input side the architecture trains on
  std::function<std::shared_ptr<Classifier>(int64_t num_classes)> build;
  int64_t max_resolution = 0;  // largest, where there is one (0: none); ViT and MaxViT take one size only
};

const std::vector<ModelSpec>& registry();
// nullptr when no model has that name.
const ModelSpec* find_model(const std::string& name);
// Comma-separated list of every registered name (for error messages).
std::string model_names();
// Builds the model with module paths assigned, ready for profiling.
std::shared_ptr<Classifier> build_model(const ModelSpec& spec, int64_t num_classes = 1000);

}  // namespace trainmem::models
