#pragma once
// The one training step every loop shares (synthetic profiling, epoch training on real data): building the
// model and its optimizer (the init phase, with parameters and buffers tagged) and one optimizer step (input,
// forward, backward, optimizer phases, with input and gradients tagged). Announcing costs nothing when no
// recording is active.
#include <c10/core/Device.h>
#include <torch/optim/optimizer.h>

#include <functional>
#include <memory>
#include <string>

#include "analysis/run_info.h"
#include "models/classifier.h"
#include "training/synthetic_training.h"

namespace trainmem {

struct TrainableModel {
  std::shared_ptr<models::Classifier> model;
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  c10::Device device = c10::kCPU;  // where the model lives; each batch is moved there
};

// What an optimizer ("sgd", with momentum 0.9, or "adam") uses when no learning rate is given: 0.01, 0.001.
double default_learning_rate(const std::string& optimizer);

// Seeds LibTorch with options.seed, builds options.model for options.num_classes in training mode on
// options.device, makes the optimizer (learning_rate 0: its default) and applies options.compression.
// Fills `info` as it goes with the run's settings, then the model's parameters and module table: when building
// throws (an out-of-memory, say), `info` keeps what was known.
TrainableModel build_trainable_model(const TrainingOptions& options, double learning_rate, RunInfo& info);

// One optimizer step on what `make_batch` returns (called in the input phase, so the batch counts as input);
// returns the loss. Gradients are freed afterwards (set to none), as PyTorch does by default.
double train_step(TrainableModel& trainable, const std::function<LabelledBatch()>& make_batch);

}  // namespace trainmem
