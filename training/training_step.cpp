#include "training/training_step.h"

#include <ATen/Parallel.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include "compression/apply.h"
#include "models/registry.h"
#include "tracer/recorder.h"

namespace trainmem {
namespace {

// "torch::nn::Conv2dImpl" -> "Conv2d"; "trainmem::models::(anonymous namespace)::BasicBlock" -> "BasicBlock".
std::string short_type_name(const std::string& type) {
  std::string name = type.substr(type.rfind("::") == std::string::npos ? 0 : type.rfind("::") + 2);
  if (name.size() > 4 && name.ends_with("Impl")) name.resize(name.size() - 4);
  return name;
}

std::vector<ModuleInfo> module_table(const models::Classifier& model) {
  std::vector<ModuleInfo> table;
  for (const auto& item : model.named_modules("", /*include_self=*/false)) {
    ModuleInfo info;
    info.name = item.key();
    info.type = short_type_name(item.value()->name());
    for (const auto& parameter : item.value()->parameters(/*recurse=*/false)) info.weight_bytes += parameter.nbytes();
    table.push_back(std::move(info));
  }
  return table;
}

void tag_storage(const at::Tensor& tensor, Tag tag) {
  if (!tensor.defined()) return;
  const int8_t device = tensor.is_cuda() ? static_cast<int8_t>(tensor.get_device()) : kCpuDevice;
  Recorder::instance().tag(tensor.storage().data_ptr().get(), tag, device);
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::string& name, double learning_rate,
                                                        std::vector<at::Tensor> params) {
  if (learning_rate <= 0) learning_rate = default_learning_rate(name);
  if (name == "adam") return std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(learning_rate));
  return std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(learning_rate).momentum(0.9));
}

}  // namespace

double default_learning_rate(const std::string& optimizer) { return optimizer == "adam" ? 1e-3 : 0.01; }

TrainableModel build_trainable_model(const TrainingOptions& options, double learning_rate, RunInfo& info) {
  info.model = options.model;
  info.batch = options.batch;
  info.resolution = options.resolution;
  info.steps = options.steps;
  info.optimizer = options.optimizer;
  info.seed = options.seed;
  info.threads = at::get_num_threads();
  info.device = options.device;
  TrainableModel trainable;
  trainable.device = c10::Device(options.device);
  torch::manual_seed(options.seed);
  {
    PhaseScope phase(Phase::kInit);
    trainable.model = models::build_model(*models::find_model(options.model), options.num_classes);
    trainable.model->train();
    trainable.model->to(trainable.device);
    for (const auto& p : trainable.model->parameters()) {
      tag_storage(p, Tag::kParameter);
      info.parameter_count += p.numel();
      info.parameter_bytes += p.nbytes();
    }
    for (const auto& b : trainable.model->buffers()) tag_storage(b, Tag::kBuffer);
    trainable.optimizer = make_optimizer(options.optimizer, learning_rate, trainable.model->parameters());
  }
  info.modules = module_table(*trainable.model);
  const compression::CompressionPlan plan = compression::plan_compression(*trainable.model, options.compression);
  compression::apply_compression(*trainable.model, plan);
  info.compress = options.compression.spec;
  info.compress_mode = std::string(compression::to_string(options.compression.mode));
  for (const auto& conv : plan.convs) {
    for (auto& module : info.modules) {
      if (module.name == conv.module) module.compress_k = conv.k > 1 ? conv.k : 0;
    }
  }
  return trainable;
}

double train_step(TrainableModel& trainable, const std::function<LabelledBatch()>& make_batch) {
  at::Tensor images, targets, loss;
  {
    PhaseScope phase(Phase::kInput);
    LabelledBatch batch = make_batch();
    images = batch.images.to(trainable.device);
    targets = batch.targets.to(trainable.device);
    tag_storage(images, Tag::kInput);
    tag_storage(targets, Tag::kInput);
  }
  {
    PhaseScope phase(Phase::kForward);
    loss = torch::nn::functional::cross_entropy(trainable.model->forward(images), targets);
  }
  {
    PhaseScope phase(Phase::kBackward);
    loss.backward();
    for (const auto& p : trainable.model->parameters()) tag_storage(p.grad(), Tag::kGradient);
  }
  PhaseScope phase(Phase::kOptimizer);
  trainable.optimizer->step();
  trainable.optimizer->zero_grad();  // frees the gradients (set_to_none), as PyTorch does by default
  const double value = loss.item<double>();
  // Freed in the optimizer phase, where the step that made them ends.
  images.reset();
  targets.reset();
  loss.reset();
  return value;
}

}  // namespace trainmem
