#include "training/synthetic_training.h"

#include <ATen/Parallel.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

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

void tag_storage(const torch::Tensor& tensor, Tag tag) {
  if (!tensor.defined()) return;
  const int8_t device = tensor.is_cuda() ? static_cast<int8_t>(tensor.get_device()) : kCpuDevice;
  Recorder::instance().tag(tensor.storage().data_ptr().get(), tag, device);
}

bool is_valid_device(const std::string& device) {
  if (device == "cpu" || device == "cuda") return true;
  if (!device.starts_with("cuda:") || device.size() == 5 || device.size() > 8) return false;
  return std::all_of(device.begin() + 5, device.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::string& name, std::vector<torch::Tensor> params) {
  if (name == "adam") return std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(1e-3));
  return std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(0.01).momentum(0.9));
}

}  // namespace

void validate(const TrainingOptions& options) {
  const auto* spec = models::find_model(options.model);
  if (spec == nullptr) {
    throw std::invalid_argument("unknown model '" + options.model + "'; valid models: " + models::model_names());
  }
  if (options.batch <= 0) throw std::invalid_argument("--batch must be positive, got " + std::to_string(options.batch));
  if (options.resolution < spec->min_resolution) {
    throw std::invalid_argument("--resolution " + std::to_string(options.resolution) + " is too small for " +
                                options.model + " (needs at least " + std::to_string(spec->min_resolution) + ")");
  }
  if (options.steps <= 0) throw std::invalid_argument("--steps must be positive, got " + std::to_string(options.steps));
  if (options.optimizer != "sgd" && options.optimizer != "adam") {
    throw std::invalid_argument("unknown optimizer '" + options.optimizer + "'; valid optimizers: sgd, adam");
  }
  if (options.threads < 0) throw std::invalid_argument("--threads must not be negative");
  if (!is_valid_device(options.device)) {
    throw std::invalid_argument("unknown device '" + options.device + "'; valid devices: cpu, cuda, cuda:N");
  }
}

double steady_step_seconds(const TrainingResult& result) {
  if (result.step_seconds.empty()) return 0;
  std::vector<double> steady(result.step_seconds.begin() + (result.step_seconds.size() > 1 ? 1 : 0),
                             result.step_seconds.end());
  std::sort(steady.begin(), steady.end());
  return steady[steady.size() / 2];
}

SyntheticBatch synthetic_batch(const TrainingOptions& options) {
  return {torch::randn({options.batch, 3, options.resolution, options.resolution}),
          torch::randint(options.num_classes, {options.batch}, torch::kLong)};
}

TrainingResult train_synthetic(const TrainingOptions& options) {
  TrainingResult result;
  train_synthetic(options, result);
  return result;
}

void train_synthetic(const TrainingOptions& options, TrainingResult& result) {
  validate(options);
  if (options.threads > 0) at::set_num_threads(options.threads);
  Recorder& recorder = Recorder::instance();
  result = {};
  RunInfo& info = result.info;
  info.model = options.model;
  info.batch = options.batch;
  info.resolution = options.resolution;
  info.steps = options.steps;
  info.optimizer = options.optimizer;
  info.seed = options.seed;
  info.threads = at::get_num_threads();
  info.device = options.device;
  const torch::Device device(options.device);
  torch::manual_seed(options.seed);

  std::shared_ptr<models::Classifier> model;
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  {
    PhaseScope phase(Phase::kInit);
    model = models::build_model(*models::find_model(options.model), options.num_classes);
    model->train();
    model->to(device);
    for (const auto& p : model->parameters()) {
      tag_storage(p, Tag::kParameter);
      info.parameter_count += p.numel();
      info.parameter_bytes += p.nbytes();
    }
    for (const auto& b : model->buffers()) tag_storage(b, Tag::kBuffer);
    optimizer = make_optimizer(options.optimizer, model->parameters());
  }
  info.modules = module_table(*model);
  const compression::CompressionPlan plan = compression::plan_compression(*model, options.compression);
  compression::apply_compression(*model, plan);
  info.compress = options.compression.spec;
  info.compress_mode = std::string(compression::to_string(options.compression.mode));
  for (const auto& conv : plan.convs) {
    for (auto& module : info.modules) {
      if (module.name == conv.module) module.compress_k = conv.k > 1 ? conv.k : 0;
    }
  }

  for (int64_t step = 1; step <= options.steps; ++step) {
    const auto start = std::chrono::steady_clock::now();
    recorder.set_step(static_cast<uint32_t>(step));
    torch::Tensor images, targets, loss;
    {
      PhaseScope phase(Phase::kInput);
      SyntheticBatch batch = synthetic_batch(options);
      images = batch.images.to(device);
      targets = batch.targets.to(device);
      tag_storage(images, Tag::kInput);
      tag_storage(targets, Tag::kInput);
    }
    {
      PhaseScope phase(Phase::kForward);
      loss = torch::nn::functional::cross_entropy(model->forward(images), targets);
    }
    {
      PhaseScope phase(Phase::kBackward);
      loss.backward();
      for (const auto& p : model->parameters()) tag_storage(p.grad(), Tag::kGradient);
    }
    {
      PhaseScope phase(Phase::kOptimizer);
      optimizer->step();
      optimizer->zero_grad();  // frees the gradients (set_to_none), as PyTorch does by default
      result.losses.push_back(loss.item<double>());
      images.reset();
      targets.reset();
      loss.reset();
    }
    result.step_seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
}

}  // namespace trainmem
