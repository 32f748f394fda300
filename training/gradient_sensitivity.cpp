#include "training/gradient_sensitivity.h"

#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/conv.h>

#include <stdexcept>

#include "compression/apply.h"
#include "models/registry.h"

namespace trainmem {
namespace {

// Weight gradients of every Conv2d after one forward and backward on `batch`.
std::vector<torch::Tensor> conv_weight_gradients(models::Classifier& model, const LabelledBatch& batch,
                                                 const std::vector<torch::nn::Conv2dImpl*>& convs) {
  model.zero_grad();
  torch::nn::functional::cross_entropy(model.forward(batch.images), batch.targets).backward();
  std::vector<torch::Tensor> gradients;
  for (auto* conv : convs) gradients.push_back(conv->weight.grad().clone());
  return gradients;
}

}  // namespace

std::vector<LayerSensitivity> gradient_sensitivity(const TrainingOptions& options, int batches) {
  validate(options);
  if (batches <= 0) throw std::invalid_argument("--batches must be positive, got " + std::to_string(batches));
  torch::manual_seed(options.seed);
  auto model = models::build_model(*models::find_model(options.model), options.num_classes);
  model->train();
  const compression::CompressionPlan plan = compression::plan_compression(*model, options.compression);
  const auto modules = model->named_modules("", /*include_self=*/false);
  std::vector<torch::nn::Conv2dImpl*> convs;
  std::vector<LayerSensitivity> result;
  for (const auto& conv : plan.convs) {
    convs.push_back(modules[conv.module]->as<torch::nn::Conv2d>());
    result.push_back({conv.module, conv.k > 1 ? conv.k : 0, 0.0});
  }
  for (int b = 0; b < batches; ++b) {
    const LabelledBatch batch = synthetic_batch(options);
    // BatchNorm's running statistics move with every forward; batch statistics (used in training mode) do not.
    const auto exact = conv_weight_gradients(*model, batch, convs);
    compression::apply_compression(*model, plan);
    const auto compressed = conv_weight_gradients(*model, batch, convs);
    compression::remove_compression(*model, plan);
    for (size_t i = 0; i < convs.size(); ++i) {
      const double cosine = torch::cosine_similarity(exact[i].flatten(), compressed[i].flatten(), 0).item<double>();
      result[i].cosine += cosine / batches;
    }
  }
  return result;
}

}  // namespace trainmem
