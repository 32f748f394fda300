#pragma once
// Training on a real dataset for whole epochs, measured after each on the test split. Several configurations
// (compression settings) train in lockstep, as the paper compares them: the same initial weights, and each
// batch given to every configuration before the next is drawn.
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "analysis/run_info.h"
#include "compression/policy.h"
#include "data/fashion_mnist.h"
#include "tracer/cpu_allocator.h"
#include "training/synthetic_training.h"
#include "training/training_step.h"

namespace trainmem {

struct EpochTrainingOptions {
  TrainingOptions training;  // model, batch, resolution, optimizer, seed, threads (steps and compression unused)
  std::vector<compression::CompressionPolicy> configurations{compression::CompressionPolicy{}};
  int64_t epochs = 1;
  double learning_rate = 0;   // 0: the optimizer's default
  int64_t limit_batches = 0;  // at most this many batches per epoch, of training and of testing (0: all)
};

// Throws std::invalid_argument (one-line message) for options no training can run with.
void validate(const EpochTrainingOptions& options);

struct EpochMetrics {
  int64_t epoch = 0;
  double train_loss = 0;  // mean over the epoch's training batches
  double test_loss = 0;   // mean over the test examples
  double test_top1 = 0;   // fraction of test examples whose class has the largest logit
  double test_top5 = 0;   // ... is among the five largest
  double seconds = 0;     // wall time of this configuration's training steps and testing
  uint64_t data_checksum = 0;  // FNV-1a of every input tensor the configuration trained on this epoch
};

struct TrainingConfiguration {
  compression::CompressionPolicy policy;
  TrainableModel trainable;  // empty until built
  RunInfo info;              // the settings and model of the run (steps: 1, the first step)
  std::vector<EpochMetrics> curve;
  MemoryAccount* account = nullptr;  // when set, charged with what building, training and testing it allocate
};

struct EpochProgress {
  int64_t epoch = 0;
  int64_t batch = 0;  // batches done, 1-based
  int64_t batches = 0;
  bool testing = false;
  double loss = 0;  // the first configuration's, of this batch
};

struct EpochHooks {
  // Runs `first_step`, which builds configuration `index` and trains it on the first batch (the command runs it
  // under the tracer). Empty: runs it as it is.
  std::function<void(size_t index, const std::function<void()>& first_step)> around_first_step;
  std::function<void(const EpochProgress&)> on_batch;
  // After each epoch's metrics are in the curves: the moment to save a checkpoint.
  std::function<void()> on_epoch_end;
  // Checked after every batch: once true, training stops, dropping the unfinished epoch.
  const std::atomic<bool>* stop = nullptr;
};

class LockstepTraining {
 public:
  // Validates `options`; keeps a reference to `dataset`.
  LockstepTraining(EpochTrainingOptions options, const data::ImageDataset& dataset);

  // Builds every configuration not built yet, untrained (a checkpoint is then loaded into them).
  void build_all();
  // Trains from the epoch after the last completed one up to options().epochs. False when `stop` ended it.
  bool train(const EpochHooks& hooks);

  const EpochTrainingOptions& options() const { return options_; }
  const data::ImageDataset& dataset() const { return dataset_; }
  std::vector<TrainingConfiguration>& configurations() { return configurations_; }
  const std::vector<TrainingConfiguration>& configurations() const { return configurations_; }
  // Epochs every configuration's curve holds.
  int64_t completed_epochs() const { return static_cast<int64_t>(configurations_.front().curve.size()); }
  // Training batches per epoch.
  int64_t train_batches() const;

 private:
  void build(TrainingConfiguration& configuration);
  // Every configuration's test loss and accuracies, in evaluation mode, into `metrics`; false when `stop` ended it.
  bool test(std::vector<EpochMetrics>& metrics, const EpochHooks& hooks, int64_t epoch);

  EpochTrainingOptions options_;
  const data::ImageDataset& dataset_;
  std::vector<TrainingConfiguration> configurations_;
};

}  // namespace trainmem
