#include "compression/apply.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/conv.h>

#include <algorithm>
#include <array>
#include <stdexcept>

#include "compression/mask_relu.h"
#include "models/module_scope.h"

namespace trainmem::compression {

bool CompressionPlan::compresses_anything() const {
  for (const auto& conv : convs) {
    if (conv.k > 1) return true;
  }
  return false;
}

CompressionPlan plan_compression(const models::Classifier& model, const CompressionPolicy& policy) {
  CompressionPlan plan;
  plan.mode = policy.mode;
  for (const auto& item : model.named_modules("", /*include_self=*/false)) {
    if (item.value()->as<torch::nn::Conv2d>() != nullptr) {
      // The stem (first conv) sees the raw image and stays exact under a uniform kernel, as in the paper.
      plan.convs.push_back({item.key(), plan.convs.empty() ? 0 : policy.uniform_k});
    }
  }
  for (const auto& rule : policy.rules) {
    bool matched = false;
    for (auto& conv : plan.convs) {
      if (glob_match(rule.pattern, conv.module)) {
        conv.k = rule.k;
        matched = true;
      }
    }
    if (!matched) {
      throw std::invalid_argument("compression rule '" + rule.pattern + "' matches no Conv2d layer of the model");
    }
  }
  if (plan.compresses_anything() && plan.mode == CompressMode::kFull) {
    for (const auto& item : model.named_modules("", /*include_self=*/false)) {
      const auto* relu = item.value()->as<torch::nn::ReLU>();
      if (relu != nullptr && relu->options.inplace()) plan.mask_relus.push_back(item.key());
    }
  }
  return plan;
}

void apply_compression(models::Classifier& model, const CompressionPlan& plan) {
  if (!plan.compresses_anything()) return;
  const auto modules = model.named_modules("", /*include_self=*/false);
  for (const auto& conv_plan : plan.convs) {
    if (conv_plan.k <= 1) continue;
    auto* conv = modules[conv_plan.module]->as<torch::nn::Conv2d>();
    const auto& options = conv->options;
    if (!std::holds_alternative<torch::ExpandingArray<2>>(options.padding()) ||
        !std::holds_alternative<torch::enumtype::kZeros>(options.padding_mode())) {
      throw std::invalid_argument("cannot compress " + conv_plan.module + ": only explicit zero padding is supported");
    }
    const std::array<int64_t, 2> padding = *std::get<torch::ExpandingArray<2>>(options.padding());
    models::set_forward_override(*conv, [conv, padding, k = conv_plan.k, pool = plan.pool](const torch::Tensor& x) {
      // A map smaller than the kernel (late layers at small resolutions) is pooled to a single pixel.
      const int64_t fitting_k = std::min({k, x.size(2), x.size(3)});
      return pooled_conv2d(x, conv->weight, conv->bias, conv->options.stride(), padding, conv->options.dilation(),
                           conv->options.groups(), fitting_k, pool);
    });
  }
  for (const auto& name : plan.mask_relus) {
    models::set_forward_override(*modules[name], [](const torch::Tensor& x) {
      torch::Tensor output = x;  // in place, as the ReLU it replaces
      return mask_relu_(output);
    });
  }
}

void remove_compression(models::Classifier& model, const CompressionPlan& plan) {
  const auto modules = model.named_modules("", /*include_self=*/false);
  for (const auto& conv : plan.convs) models::set_forward_override(*modules[conv.module], {});
  for (const auto& name : plan.mask_relus) models::set_forward_override(*modules[name], {});
}

}  // namespace trainmem::compression
