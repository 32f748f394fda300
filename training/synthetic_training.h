#pragma once
// The profiling commands' training loop: a model from the registry trained a few steps on seeded synthetic data,
// each step the one training_step.h shares with epoch training.
#include <cstdint>

#include <functional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "analysis/run_info.h"
#include "compression/policy.h"

namespace trainmem {

struct TrainingOptions {
  std::string model = "resnet18";
  int64_t batch = 32;
  int64_t resolution = 224;
  int64_t steps = 2;
  std::string optimizer = "sgd";  // "sgd" (momentum 0.9) or "adam"
  uint64_t seed = 0;
  int threads = 0;  // 0: LibTorch's default
  int64_t num_classes = 1000;
  std::string device = "cpu";  // "cpu", "cuda" or "cuda:N"
  compression::CompressionPolicy compression;  // none by default
  std::function<void(int64_t step)> on_step_start;  // told before each step (from 1), for a progress line
};

struct TrainingResult {
  RunInfo info;                     // settings and module table (input shapes filled by the caller's tracer)
  std::vector<double> step_seconds;  // wall time of each step
  std::vector<double> losses;        // loss of each step
};

// Median step time leaving out the first step (warm-up: first-touch allocations, oneDNN kernel selection);
// the only step's time when there is one.
double steady_step_seconds(const TrainingResult& result);

// Throws std::invalid_argument (one-line message) for options no model can train with.
void validate(const TrainingOptions& options);

// Model input with its class targets, on the CPU.
struct LabelledBatch {
  at::Tensor images;
  at::Tensor targets;
};

// One batch of seeded synthetic data: N x 3 x R x R standard-normal images and uniform class targets,
// drawn from LibTorch's default generator (seed it with torch::manual_seed) on the CPU, so that every device
// trains on the same numbers.
LabelledBatch synthetic_batch(const TrainingOptions& options);
TrainingResult train_synthetic(const TrainingOptions& options);
// The same, filling `result` as it goes: when training throws (an out-of-memory, say), `result` keeps the run's
// settings, and its model table once the model was built.
void train_synthetic(const TrainingOptions& options, TrainingResult& result);

}  // namespace trainmem
