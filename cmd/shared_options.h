#pragma once
// Options shared by the commands that train: the model and data, the loop, and compression.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "cmd/quiet_option.h"
#include "compression/policy.h"
#include "training/synthetic_training.h"

namespace trainmem::cli {

// --model, --batch, --resolution, --seed, --threads.
void add_model_options(CLI::App& command, TrainingOptions& options);
// --device cpu|cuda|cuda:N|auto (auto: CUDA when a device can be used, else the CPU).
void add_device_option(CLI::App& command, TrainingOptions& options);
// --steps, --optimizer.
void add_loop_options(CLI::App& command, TrainingOptions& options);

// --budget SIZE: simulate a device with that much memory.
void add_budget_option(CLI::App& command, int64_t& budget_bytes);
// --compress-mode alone (commands that take their settings in another form).
void add_compress_mode_option(CLI::App& command, compression::CompressMode& mode);
// --compress and --compress-mode into one policy.
void add_compression_options(CLI::App& command, compression::CompressionPolicy& policy);

// Settings given as "none,2,4" (a comma list) or as per-layer specs ("layer1.*=4,conv1=0", one setting each),
// all in `mode`. Throws std::invalid_argument for a setting that does not parse.
std::vector<compression::CompressionPolicy> parse_compression_list(const std::vector<std::string>& values,
                                                                   compression::CompressMode mode);

}  // namespace trainmem::cli
