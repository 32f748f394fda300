#pragma once
// The interface every model in the registry implements: images in, class logits out.
#include <torch/nn/module.h>
#include <torch/types.h>

#include <vector>

namespace trainmem::models {

class Classifier : public torch::nn::Module {
 public:
  ~Classifier() override;
  // images: N x 3 x H x W float; returns N x num_classes logits.
  virtual torch::Tensor forward(torch::Tensor images) = 0;
  // The logits first, then, in train mode, those of the auxiliary heads torchvision returns beside them
  // (GoogLeNet's aux2 and aux1, Inception v3's AuxLogits), for a loss that trains them too. forward() computes
  // the heads as well but returns the main logits alone.
  virtual std::vector<torch::Tensor> forward_with_auxiliary(torch::Tensor images) { return {forward(images)}; }
};

}  // namespace trainmem::models
