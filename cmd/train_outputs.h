#pragma once
// The files of a `trainmem train` directory besides the checkpoint and the first-step run directories:
// curves.csv, curves.svg and summary.json, each a pure function of the training's curves.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "training/epoch_training.h"

namespace trainmem::cli {

// What a configuration's first step used, from its run directory (empty when that directory is gone).
struct FirstStepMemory {
  std::string run_dir;  // relative to the training directory
  std::optional<int64_t> peak_bytes;
  std::optional<int64_t> activation_bytes;
};

// The first step that ran out of memory (a --budget overrun) and so ended the training.
struct TrainingOutOfMemory {
  std::string compress;   // its configuration
  std::string diagnosis;  // where and why, as the error line says it
};

// One row per epoch per configuration: configuration,epoch,train_loss,test_loss,test_top1,test_top5,seconds,
// data_checksum.
std::string curves_csv(const LockstepTraining& training);
// Loss (train solid, test dashed) and test top-1 accuracy against the epoch, one colour per configuration.
std::string curves_svg(const LockstepTraining& training);
nlohmann::ordered_json training_summary(const LockstepTraining& training, const std::vector<FirstStepMemory>& memory,
                                        const std::optional<TrainingOutOfMemory>& out_of_memory);

}  // namespace trainmem::cli
