#include "training/epoch_training.h"

#include <ATen/Parallel.h>
#include <ATen/ops/topk.h>
#include <torch/nn/functional/loss.h>
#include <torch/types.h>

#include <chrono>
#include <span>
#include <stdexcept>

#include "data/batches.h"
#include "tracer/recorder.h"

namespace trainmem {
namespace {

constexpr uint64_t kFnvOffsetBasis = 0xcbf29ce484222325ull;
constexpr uint64_t kFnvPrime = 0x100000001b3ull;

uint64_t fnv1a(uint64_t hash, const at::Tensor& tensor) {
  const at::Tensor bytes = tensor.contiguous();
  const auto* data = static_cast<const uint8_t*>(bytes.const_data_ptr());
  for (size_t i = 0; i < bytes.nbytes(); ++i) hash = (hash ^ data[i]) * kFnvPrime;
  return hash;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

void validate(const EpochTrainingOptions& options) {
  validate(options.training);
  if (options.epochs <= 0) throw std::invalid_argument("--epochs must be positive, got " + std::to_string(options.epochs));
  if (options.learning_rate < 0) throw std::invalid_argument("--lr must be positive");
  if (options.limit_batches < 0) {
    throw std::invalid_argument("--limit-batches must not be negative, got " + std::to_string(options.limit_batches));
  }
  if (options.configurations.empty()) throw std::invalid_argument("no configuration to train");
}

LockstepTraining::LockstepTraining(EpochTrainingOptions options, const data::ImageDataset& dataset)
    : options_(std::move(options)), dataset_(dataset) {
  options_.training.steps = 1;  // what the first-step profile records
  options_.training.num_classes = dataset.num_classes;
  validate(options_);
  if (options_.training.batch > dataset.train.size()) {
    throw std::invalid_argument("--batch " + std::to_string(options_.training.batch) + " exceeds the " +
                                std::to_string(dataset.train.size()) + " training examples of " + dataset.name);
  }
  if (options_.training.threads > 0) at::set_num_threads(options_.training.threads);
  for (const auto& policy : options_.configurations) {
    TrainingConfiguration configuration;
    configuration.policy = policy;
    configurations_.push_back(std::move(configuration));
  }
}

int64_t LockstepTraining::train_batches() const {
  return data::batch_count(dataset_.train.size(), options_.training.batch, options_.limit_batches, /*whole_only=*/true);
}

void LockstepTraining::build(TrainingConfiguration& configuration) {
  TrainingOptions options = options_.training;
  options.compression = configuration.policy;
  configuration.info = {};
  ChargeScope charge(configuration.account);
  // Every configuration is seeded alike, so all start from the same weights.
  configuration.trainable = build_trainable_model(options, options_.learning_rate, configuration.info);
}

void LockstepTraining::build_all() {
  for (auto& configuration : configurations_) {
    if (!configuration.trainable.model) build(configuration);
  }
}

bool LockstepTraining::train(const EpochHooks& hooks) {
  const auto stopped = [&] { return hooks.stop != nullptr && hooks.stop->load(); };
  const int64_t batch = options_.training.batch;
  const int64_t batches = train_batches();
  for (int64_t epoch = completed_epochs() + 1; epoch <= options_.epochs; ++epoch) {
    const std::vector<int64_t> order = data::epoch_order(dataset_.train.size(), options_.training.seed, epoch);
    std::vector<EpochMetrics> metrics(configurations_.size(), EpochMetrics{.epoch = epoch, .data_checksum = kFnvOffsetBasis});
    for (int64_t b = 0; b < batches; ++b) {
      const data::LabelledImages raw =
          data::gather(dataset_.train, std::span(order).subspan(static_cast<size_t>(b * batch), static_cast<size_t>(batch)));
      double first_loss = 0;
      for (size_t c = 0; c < configurations_.size(); ++c) {
        TrainingConfiguration& configuration = configurations_[c];
        EpochMetrics& m = metrics[c];
        const auto step = [&] {
          ChargeScope charge(configuration.account);
          const auto start = std::chrono::steady_clock::now();
          Recorder::instance().set_step(static_cast<uint32_t>((epoch - 1) * batches + b + 1));
          const double loss = train_step(configuration.trainable, [&] {
            LabelledBatch input{data::model_input(raw.images, dataset_, options_.training.resolution), raw.labels.clone()};
            m.data_checksum = fnv1a(fnv1a(m.data_checksum, input.images), input.targets);
            return input;
          });
          m.train_loss += loss / static_cast<double>(batches);
          if (c == 0) first_loss = loss;
          m.seconds += seconds_since(start);  // the step alone: not the first step's tracing and files
        };
        if (configuration.trainable.model) {
          step();
        } else {
          const std::function<void()> first_step = [&] {
            build(configuration);
            step();
          };
          if (hooks.around_first_step) {
            hooks.around_first_step(c, first_step);
          } else {
            first_step();
          }
        }
      }
      if (hooks.on_batch) hooks.on_batch({epoch, b + 1, batches, /*testing=*/false, first_loss});
      if (stopped()) return false;
    }
    if (!test(metrics, hooks, epoch)) return false;
    for (size_t c = 0; c < configurations_.size(); ++c) configurations_[c].curve.push_back(metrics[c]);
    if (hooks.on_epoch_end) hooks.on_epoch_end();
  }
  return true;
}

bool LockstepTraining::test(std::vector<EpochMetrics>& metrics, const EpochHooks& hooks, int64_t epoch) {
  const data::LabelledImages& split = dataset_.test;
  const int64_t batch = options_.training.batch;
  const int64_t batches = data::batch_count(split.size(), batch, options_.limit_batches, /*whole_only=*/false);
  const int64_t top = std::min<int64_t>(5, dataset_.num_classes);
  torch::NoGradGuard no_grad;
  for (auto& configuration : configurations_) configuration.trainable.model->eval();
  struct Counts {
    double loss = 0;
    int64_t top1 = 0, top5 = 0;
  };
  std::vector<Counts> counts(configurations_.size());
  int64_t examples = 0;
  bool finished = true;
  for (int64_t b = 0; b < batches && finished; ++b) {
    const data::LabelledImages raw = data::slice(split, b * batch, std::min(batch, split.size() - b * batch));
    double first_loss = 0;
    for (size_t c = 0; c < configurations_.size(); ++c) {
      ChargeScope charge(configurations_[c].account);
      const auto start = std::chrono::steady_clock::now();
      const at::Tensor logits =
          configurations_[c].trainable.model->forward(data::model_input(raw.images, dataset_, options_.training.resolution));
      const double loss = torch::nn::functional::cross_entropy(
                              logits, raw.labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                              .item<double>();
      const at::Tensor hits = std::get<1>(at::topk(logits, top)).eq(raw.labels.unsqueeze(1));
      counts[c].loss += loss;
      counts[c].top1 += hits.select(1, 0).sum().item<int64_t>();
      counts[c].top5 += hits.any(1).sum().item<int64_t>();
      metrics[c].seconds += seconds_since(start);
      if (c == 0) first_loss = loss / static_cast<double>(raw.size());
    }
    examples += raw.size();
    if (hooks.on_batch) hooks.on_batch({epoch, b + 1, batches, /*testing=*/true, first_loss});
    finished = !(hooks.stop != nullptr && hooks.stop->load());
  }
  for (auto& configuration : configurations_) configuration.trainable.model->train();
  if (!finished) return false;
  for (size_t c = 0; c < configurations_.size(); ++c) {
    metrics[c].test_loss = counts[c].loss / static_cast<double>(examples);
    metrics[c].test_top1 = static_cast<double>(counts[c].top1) / static_cast<double>(examples);
    metrics[c].test_top5 = static_cast<double>(counts[c].top5) / static_cast<double>(examples);
  }
  return true;
}

}  // namespace trainmem
