// MNASNet (the B1 variant) at widths 0.5, 0.75, 1.0 and 1.3, as torchvision builds it (torchvision/models/mnasnet.py).
#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/dropout.h>

#include "models/families.h"
#include "models/layers.h"

namespace trainmem::models {
namespace {

// The TensorFlow reference's batch norm momentum 0.9997, in PyTorch's convention.
const Norm kNorm{Norm::kBatch, 1e-5, 1 - 0.9997};

torch::nn::ReLU inplace_relu() { return torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)); }

class MnasInvertedResidual final : public torch::nn::Module {
 public:
  MnasInvertedResidual(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t expansion)
      : torch::nn::Module("_InvertedResidual"), apply_residual_(in == out && stride == 1) {
    const int64_t mid = in * expansion;
    layers_ = register_module("layers", std::make_shared<Sequence>());
    layers_->add(conv2d(in, mid, 1, 1, 0, 1, false));
    layers_->add(batch_norm(mid, kNorm));
    layers_->add(inplace_relu());
    layers_->add(conv2d(mid, mid, kernel, stride, kernel / 2, mid, false));
    layers_->add(batch_norm(mid, kNorm));
    layers_->add(inplace_relu());
    layers_->add(conv2d(mid, out, 1, 1, 0, 1, false));
    layers_->add(batch_norm(out, kNorm));
  }

  torch::Tensor forward(torch::Tensor x) {
    if (apply_residual_) return call(layers_, x) + x;
    return call(layers_, x);
  }

 private:
  bool apply_residual_;
  std::shared_ptr<Sequence> layers_;
};

std::shared_ptr<Sequence> stack(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t expansion,
                                int64_t repeats) {
  auto blocks = std::make_shared<Sequence>();
  blocks->add(std::make_shared<MnasInvertedResidual>(in, out, kernel, stride, expansion));
  for (int64_t i = 1; i < repeats; ++i)
    blocks->add(std::make_shared<MnasInvertedResidual>(out, out, kernel, 1, expansion));
  return blocks;
}

// Rounds up to a multiple of `divisor` unless that is no more than 10% above val's lower multiple.
int64_t round_to_multiple_of(double val, int64_t divisor) {
  const int64_t rounded =
      std::max(divisor, static_cast<int64_t>(val + static_cast<double>(divisor) / 2) / divisor * divisor);
  return static_cast<double>(rounded) >= 0.9 * val ? rounded : rounded + divisor;
}

class MNASNet final : public Classifier {
 public:
  MNASNet(double alpha, int64_t num_classes, double dropout = 0.2) {
    std::array<int64_t, 8> d{32, 16, 24, 40, 80, 96, 192, 320};
    for (auto& depth : d) depth = round_to_multiple_of(static_cast<double>(depth) * alpha, 8);
    layers_ = register_module("layers", std::make_shared<Sequence>());
    layers_->add(conv2d(3, d[0], 3, 2, 1, 1, false));
    layers_->add(batch_norm(d[0], kNorm));
    layers_->add(inplace_relu());
    layers_->add(conv2d(d[0], d[0], 3, 1, 1, d[0], false));
    layers_->add(batch_norm(d[0], kNorm));
    layers_->add(inplace_relu());
    layers_->add(conv2d(d[0], d[1], 1, 1, 0, 1, false));
    layers_->add(batch_norm(d[1], kNorm));
    layers_->add(stack(d[1], d[2], 3, 2, 3, 3));
    layers_->add(stack(d[2], d[3], 5, 2, 3, 3));
    layers_->add(stack(d[3], d[4], 5, 2, 6, 3));
    layers_->add(stack(d[4], d[5], 3, 1, 6, 2));
    layers_->add(stack(d[5], d[6], 5, 2, 6, 4));
    layers_->add(stack(d[6], d[7], 3, 1, 6, 1));
    layers_->add(conv2d(d[7], 1280, 1, 1, 0, 1, false));
    layers_->add(batch_norm(1280, kNorm));
    layers_->add(inplace_relu());
    classifier_ = register_module("classifier", std::make_shared<Sequence>());
    classifier_->add(torch::nn::Dropout(torch::nn::DropoutOptions(dropout).inplace(true)));
    classifier_->add(torch::nn::Linear(1280, num_classes));
    init_cnn(*this, /*linear_std=*/0);
    torch::NoGradGuard no_grad;
    for_each_module<torch::nn::LinearImpl>(*this, [](torch::nn::LinearImpl& linear) {
      torch::nn::init::kaiming_uniform_(linear.weight, 0, torch::kFanOut, torch::kSigmoid);
      torch::nn::init::zeros_(linear.bias);
    });
  }

  torch::Tensor forward(torch::Tensor x) override { return call(classifier_, call(layers_, x).mean({2, 3})); }

 private:
  std::shared_ptr<Sequence> layers_, classifier_;
};

ModelSpec mnasnet(std::string name, double alpha) {
  return {std::move(name), "mnasnet", 1,
          [alpha](int64_t classes) { return std::make_shared<MNASNet>(alpha, classes); }};
}

}  // namespace

std::vector<ModelSpec> mnasnet_models() {
  return {mnasnet("mnasnet0_5", 0.5), mnasnet("mnasnet0_75", 0.75), mnasnet("mnasnet1_0", 1.0),
          mnasnet("mnasnet1_3", 1.3)};
}

}  // namespace trainmem::models
