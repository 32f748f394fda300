#pragma once
// The rules of docs/categories.md: the category of a block, from what became of it. Every pass that names
// blocks (the peak split, the timeline) applies these same rules.
#include "analysis/analysis.h"
#include "tracer/event.h"

namespace trainmem {

inline Category classify_block(Tag tag, Phase birth_phase, bool outlived_birth_phase) {
  switch (tag) {
    case Tag::kParameter:
    case Tag::kBuffer:
      return Category::kParameters;
    case Tag::kGradient:
      return Category::kGradients;
    case Tag::kInput:
      return Category::kInput;
    case Tag::kNone:
      break;
  }
  if (!outlived_birth_phase) return Category::kTemporaries;
  if (birth_phase == Phase::kOptimizer) return Category::kOptimizerState;
  if (birth_phase == Phase::kForward) return Category::kActivations;
  return Category::kOther;
}

}  // namespace trainmem
