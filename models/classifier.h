#pragma once
// The interface every model in the registry implements: images in, class logits out.
#include <torch/nn/module.h>
#include <torch/types.h>

namespace trainmem::models {

class Classifier : public torch::nn::Module {
 public:
  ~Classifier() override;
  // images: N x 3 x H x W float; returns N x num_classes logits.
  virtual torch::Tensor forward(torch::Tensor images) = 0;
};

}  // namespace trainmem::models
