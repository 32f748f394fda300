#pragma once
// A lockstep training saved after a whole epoch, with enough to continue it exactly: every configuration's
// weights, buffers and optimizer state, the curves so far, LibTorch's random generator, and the settings it ran
// with (the batch order of an epoch follows from the seed alone, see data/batches.h).
#include <filesystem>

#include "training/epoch_training.h"

namespace trainmem {

// Written atomically (a temporary file renamed over `path`). Throws OutputError.
void save_checkpoint(const std::filesystem::path& path, const LockstepTraining& training);

// Restores a checkpoint into `training`, made with the same options and dataset and built (build_all). Throws
// InputError when the file is missing or unreadable, or was saved with other settings (naming the first).
void load_checkpoint(const std::filesystem::path& path, LockstepTraining& training);

}  // namespace trainmem
