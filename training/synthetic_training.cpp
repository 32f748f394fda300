#include "training/synthetic_training.h"

#include <ATen/Parallel.h>
#include <torch/types.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "models/registry.h"
#include "tracer/recorder.h"
#include "training/training_step.h"

namespace trainmem {
namespace {

bool is_valid_device(const std::string& device) {
  if (device == "cpu" || device == "cuda") return true;
  if (!device.starts_with("cuda:") || device.size() == 5 || device.size() > 8) return false;
  return std::all_of(device.begin() + 5, device.end(), [](char c) { return c >= '0' && c <= '9'; });
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

LabelledBatch synthetic_batch(const TrainingOptions& options) {
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
  result = {};
  TrainableModel trainable = build_trainable_model(options, /*learning_rate=*/0, result.info);
  for (int64_t step = 1; step <= options.steps; ++step) {
    if (options.on_step_start) options.on_step_start(step);
    const auto start = std::chrono::steady_clock::now();
    Recorder::instance().set_step(static_cast<uint32_t>(step));
    result.losses.push_back(train_step(trainable, [&] { return synthetic_batch(options); }));
    result.step_seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
}

}  // namespace trainmem
