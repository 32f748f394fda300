#pragma once
// The paper's layer sensitivity (section 5.2): how far each compressed layer's weight gradient turns from
// the exact one. Both gradients come from the same weights and the same batch (not from two training runs
// that drift apart), and the cosine similarity is averaged over several batches.
#include <string>
#include <vector>

#include "training/synthetic_training.h"

namespace trainmem {

struct LayerSensitivity {
  std::string module;  // every Conv2d of the model
  int64_t k = 0;       // its kernel under the policy (0: exact, whose cosine is 1 by construction)
  double cosine = 0;   // mean over batches of cos(compressed grad, exact grad)
};

// Uses options.model/batch/resolution/seed/compression; `batches` synthetic batches.
std::vector<LayerSensitivity> gradient_sensitivity(const TrainingOptions& options, int batches);

}  // namespace trainmem
