// ShuffleNetV2 at widths 0.5, 1.0, 1.5 and 2.0, as torchvision builds it (torchvision/models/shufflenetv2.py).
#include <torch/nn/modules/activation.h>

#include "models/families.h"
#include "models/layers.h"

namespace trainmem::models {
namespace {

torch::nn::ReLU inplace_relu() { return torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)); }

// torchvision's channel_shuffle, op for op: view, transpose, contiguous copy (ATen's channel_shuffle is another op).
torch::Tensor shuffle_channels(const torch::Tensor& x, int64_t groups) {
  const int64_t batch = x.size(0), channels = x.size(1), height = x.size(2), width = x.size(3);
  torch::Tensor y = x.view({batch, groups, channels / groups, height, width});
  y = torch::transpose(y, 1, 2).contiguous();
  return y.view({batch, channels, height, width});
}

class ShuffleInvertedResidual final : public torch::nn::Module {
 public:
  ShuffleInvertedResidual(int64_t in, int64_t out, int64_t stride)
      : torch::nn::Module("InvertedResidual"), stride_(stride) {
    const int64_t branch = out / 2;
    branch1_ = register_module("branch1", std::make_shared<Sequence>());
    if (stride > 1) {
      branch1_->add(conv2d(in, in, 3, stride, 1, in, false));
      branch1_->add(torch::nn::BatchNorm2d(in));
      branch1_->add(conv2d(in, branch, 1, 1, 0, 1, false));
      branch1_->add(torch::nn::BatchNorm2d(branch));
      branch1_->add(inplace_relu());
    }
    branch2_ = register_module("branch2", std::make_shared<Sequence>());
    branch2_->add(conv2d(stride > 1 ? in : branch, branch, 1, 1, 0, 1, false));
    branch2_->add(torch::nn::BatchNorm2d(branch));
    branch2_->add(inplace_relu());
    branch2_->add(conv2d(branch, branch, 3, stride, 1, branch, false));
    branch2_->add(torch::nn::BatchNorm2d(branch));
    branch2_->add(conv2d(branch, branch, 1, 1, 0, 1, false));
    branch2_->add(torch::nn::BatchNorm2d(branch));
    branch2_->add(inplace_relu());
  }

  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor out;
    if (stride_ == 1) {
      const auto halves = x.chunk(2, 1);
      out = torch::cat({halves[0], call(branch2_, halves[1])}, 1);
    } else {
      out = torch::cat({call(branch1_, x), call(branch2_, x)}, 1);
    }
    return shuffle_channels(out, 2);
  }

 private:
  int64_t stride_;
  std::shared_ptr<Sequence> branch1_, branch2_;
};

class ShuffleNetV2 final : public Classifier {
 public:
  ShuffleNetV2(const std::array<int64_t, 3>& repeats, const std::array<int64_t, 5>& channels, int64_t num_classes) {
    conv1_ = register_module("conv1", std::make_shared<Sequence>());
    conv1_->add(conv2d(3, channels[0], 3, 2, 1, 1, false));
    conv1_->add(torch::nn::BatchNorm2d(channels[0]));
    conv1_->add(inplace_relu());
    maxpool_ = register_module("maxpool", max_pool2d(3, 2, 1));
    int64_t in = channels[0];
    for (int i = 0; i < 3; ++i) {
      auto stage = register_module("stage" + std::to_string(i + 2), std::make_shared<Sequence>());
      stage->add(std::make_shared<ShuffleInvertedResidual>(in, channels[i + 1], 2));
      for (int64_t r = 1; r < repeats[i]; ++r) {
        stage->add(std::make_shared<ShuffleInvertedResidual>(channels[i + 1], channels[i + 1], 1));
      }
      stages_[i] = stage;
      in = channels[i + 1];
    }
    conv5_ = register_module("conv5", std::make_shared<Sequence>());
    conv5_->add(conv2d(in, channels[4], 1, 1, 0, 1, false));
    conv5_->add(torch::nn::BatchNorm2d(channels[4]));
    conv5_->add(inplace_relu());
    fc_ = register_module("fc", torch::nn::Linear(channels[4], num_classes));
  }

  torch::Tensor forward(torch::Tensor x) override {
    x = call(maxpool_, call(conv1_, x));
    for (auto& stage : stages_) x = call(stage, x);
    return call(fc_, call(conv5_, x).mean({2, 3}));
  }

 private:
  std::shared_ptr<Sequence> conv1_, conv5_;
  std::array<std::shared_ptr<Sequence>, 3> stages_;
  torch::nn::MaxPool2d maxpool_{nullptr};
  torch::nn::Linear fc_{nullptr};
};

ModelSpec shufflenet(std::string name, std::array<int64_t, 5> channels) {
  return {std::move(name), "shufflenet", 1, [channels](int64_t classes) {
            return std::make_shared<ShuffleNetV2>(std::array<int64_t, 3>{4, 8, 4}, channels, classes);
          }};
}

}  // namespace

std::vector<ModelSpec> shufflenet_models() {
  return {shufflenet("shufflenet_v2_x0_5", {24, 48, 96, 192, 1024}),
          shufflenet("shufflenet_v2_x1_0", {24, 116, 232, 464, 1024}),
          shufflenet("shufflenet_v2_x1_5", {24, 176, 352, 704, 1024}),
          shufflenet("shufflenet_v2_x2_0", {24, 244, 488, 976, 2048})};
}

}  // namespace trainmem::models
