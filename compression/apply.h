#pragma once
// Applies a compression policy to a built model: selected convolutions save a pooled copy of their input,
// and (in full mode) in-place ReLUs save a 1-bit mask, through the models' forward overrides.
#include <cstdint>
#include <string>
#include <vector>

#include "compression/policy.h"
#include "compression/pooled_conv2d.h"
#include "models/classifier.h"

namespace trainmem::compression {

struct ConvPlan {
  std::string module;  // torchvision path
  int64_t k = 0;       // 0 or 1: exact
};

struct CompressionPlan {
  std::vector<ConvPlan> convs;           // every Conv2d of the model, in registration order
  std::vector<std::string> mask_relus;   // ReLUs that save a mask instead of their output
  CompressMode mode = CompressMode::kFull;
  PoolMode pool = PoolMode::kFloor;
  bool compresses_anything() const;
};

// Resolves the policy against the model's layers. Throws std::invalid_argument when a rule matches no
// Conv2d layer, naming the rule.
CompressionPlan plan_compression(const models::Classifier& model, const CompressionPolicy& policy);
// Installs the plan's overrides (a plan that compresses nothing installs none).
void apply_compression(models::Classifier& model, const CompressionPlan& plan);
// Restores the model's own forwards for every layer the plan touches.
void remove_compression(models::Classifier& model, const CompressionPlan& plan);

}  // namespace trainmem::compression
