// Inception v3 as torchvision builds it without weights (torchvision/models/inception.py): with the auxiliary
// head, computed in train mode, and no input transform.
#include <torch/nn/modules/dropout.h>

#include "models/families.h"
#include "models/layers.h"

namespace trainmem::models {
namespace {

using Conv = BasicConv2d;
using Pair = torch::ExpandingArray<2>;

// The inception blocks hold named BasicConv2d children and concatenate their branches; this base registers them.
class InceptionBlock : public torch::nn::Module {
 public:
  explicit InceptionBlock(std::string type) : torch::nn::Module(std::move(type)) {}
  virtual torch::Tensor forward(torch::Tensor x) = 0;

 protected:
  std::shared_ptr<Conv> conv(const std::string& name, int64_t in, int64_t out, Pair kernel, Pair stride = 1,
                             Pair padding = 0) {
    return register_module(name, std::make_shared<Conv>(in, out, kernel, stride, padding));
  }
  static torch::Tensor avg_pool(const torch::Tensor& x) { return torch::avg_pool2d(x, {3}, {1}, {1}); }
  static torch::Tensor max_pool(const torch::Tensor& x) { return torch::max_pool2d(x, {3}, {2}); }
};

class InceptionA final : public InceptionBlock {
 public:
  InceptionA(int64_t in, int64_t pool_features) : InceptionBlock("InceptionA") {
    branch1x1_ = conv("branch1x1", in, 64, 1);
    branch5x5_1_ = conv("branch5x5_1", in, 48, 1);
    branch5x5_2_ = conv("branch5x5_2", 48, 64, 5, 1, 2);
    branch3x3dbl_1_ = conv("branch3x3dbl_1", in, 64, 1);
    branch3x3dbl_2_ = conv("branch3x3dbl_2", 64, 96, 3, 1, 1);
    branch3x3dbl_3_ = conv("branch3x3dbl_3", 96, 96, 3, 1, 1);
    branch_pool_ = conv("branch_pool", in, pool_features, 1);
  }
  torch::Tensor forward(torch::Tensor x) override {
    const auto b1 = call(branch1x1_, x);
    const auto b5 = call(branch5x5_2_, call(branch5x5_1_, x));
    const auto b3 = call(branch3x3dbl_3_, call(branch3x3dbl_2_, call(branch3x3dbl_1_, x)));
    const auto pool = call(branch_pool_, avg_pool(x));
    return torch::cat({b1, b5, b3, pool}, 1);
  }

 private:
  std::shared_ptr<Conv> branch1x1_, branch5x5_1_, branch5x5_2_, branch3x3dbl_1_, branch3x3dbl_2_, branch3x3dbl_3_,
      branch_pool_;
};

class InceptionB final : public InceptionBlock {
 public:
  explicit InceptionB(int64_t in) : InceptionBlock("InceptionB") {
    branch3x3_ = conv("branch3x3", in, 384, 3, 2);
    branch3x3dbl_1_ = conv("branch3x3dbl_1", in, 64, 1);
    branch3x3dbl_2_ = conv("branch3x3dbl_2", 64, 96, 3, 1, 1);
    branch3x3dbl_3_ = conv("branch3x3dbl_3", 96, 96, 3, 2);
  }
  torch::Tensor forward(torch::Tensor x) override {
    const auto b3 = call(branch3x3_, x);
    const auto b3dbl = call(branch3x3dbl_3_, call(branch3x3dbl_2_, call(branch3x3dbl_1_, x)));
    return torch::cat({b3, b3dbl, max_pool(x)}, 1);
  }

 private:
  std::shared_ptr<Conv> branch3x3_, branch3x3dbl_1_, branch3x3dbl_2_, branch3x3dbl_3_;
};

class InceptionC final : public InceptionBlock {
 public:
  InceptionC(int64_t in, int64_t c7) : InceptionBlock("InceptionC") {
    branch1x1_ = conv("branch1x1", in, 192, 1);
    branch7x7_1_ = conv("branch7x7_1", in, c7, 1);
    branch7x7_2_ = conv("branch7x7_2", c7, c7, {1, 7}, 1, {0, 3});
    branch7x7_3_ = conv("branch7x7_3", c7, 192, {7, 1}, 1, {3, 0});
    branch7x7dbl_1_ = conv("branch7x7dbl_1", in, c7, 1);
    branch7x7dbl_2_ = conv("branch7x7dbl_2", c7, c7, {7, 1}, 1, {3, 0});
    branch7x7dbl_3_ = conv("branch7x7dbl_3", c7, c7, {1, 7}, 1, {0, 3});
    branch7x7dbl_4_ = conv("branch7x7dbl_4", c7, c7, {7, 1}, 1, {3, 0});
    branch7x7dbl_5_ = conv("branch7x7dbl_5", c7, 192, {1, 7}, 1, {0, 3});
    branch_pool_ = conv("branch_pool", in, 192, 1);
  }
  torch::Tensor forward(torch::Tensor x) override {
    const auto b1 = call(branch1x1_, x);
    const auto b7 = call(branch7x7_3_, call(branch7x7_2_, call(branch7x7_1_, x)));
    auto b7dbl = call(branch7x7dbl_2_, call(branch7x7dbl_1_, x));
    b7dbl = call(branch7x7dbl_5_, call(branch7x7dbl_4_, call(branch7x7dbl_3_, b7dbl)));
    const auto pool = call(branch_pool_, avg_pool(x));
    return torch::cat({b1, b7, b7dbl, pool}, 1);
  }

 private:
  std::shared_ptr<Conv> branch1x1_, branch7x7_1_, branch7x7_2_, branch7x7_3_, branch7x7dbl_1_, branch7x7dbl_2_,
      branch7x7dbl_3_, branch7x7dbl_4_, branch7x7dbl_5_, branch_pool_;
};

class InceptionD final : public InceptionBlock {
 public:
  explicit InceptionD(int64_t in) : InceptionBlock("InceptionD") {
    branch3x3_1_ = conv("branch3x3_1", in, 192, 1);
    branch3x3_2_ = conv("branch3x3_2", 192, 320, 3, 2);
    branch7x7x3_1_ = conv("branch7x7x3_1", in, 192, 1);
    branch7x7x3_2_ = conv("branch7x7x3_2", 192, 192, {1, 7}, 1, {0, 3});
    branch7x7x3_3_ = conv("branch7x7x3_3", 192, 192, {7, 1}, 1, {3, 0});
    branch7x7x3_4_ = conv("branch7x7x3_4", 192, 192, 3, 2);
  }
  torch::Tensor forward(torch::Tensor x) override {
    const auto b3 = call(branch3x3_2_, call(branch3x3_1_, x));
    auto b7 = call(branch7x7x3_2_, call(branch7x7x3_1_, x));
    b7 = call(branch7x7x3_4_, call(branch7x7x3_3_, b7));
    return torch::cat({b3, b7, max_pool(x)}, 1);
  }

 private:
  std::shared_ptr<Conv> branch3x3_1_, branch3x3_2_, branch7x7x3_1_, branch7x7x3_2_, branch7x7x3_3_, branch7x7x3_4_;
};

class InceptionE final : public InceptionBlock {
 public:
  explicit InceptionE(int64_t in) : InceptionBlock("InceptionE") {
    branch1x1_ = conv("branch1x1", in, 320, 1);
    branch3x3_1_ = conv("branch3x3_1", in, 384, 1);
    branch3x3_2a_ = conv("branch3x3_2a", 384, 384, {1, 3}, 1, {0, 1});
    branch3x3_2b_ = conv("branch3x3_2b", 384, 384, {3, 1}, 1, {1, 0});
    branch3x3dbl_1_ = conv("branch3x3dbl_1", in, 448, 1);
    branch3x3dbl_2_ = conv("branch3x3dbl_2", 448, 384, 3, 1, 1);
    branch3x3dbl_3a_ = conv("branch3x3dbl_3a", 384, 384, {1, 3}, 1, {0, 1});
    branch3x3dbl_3b_ = conv("branch3x3dbl_3b", 384, 384, {3, 1}, 1, {1, 0});
    branch_pool_ = conv("branch_pool", in, 192, 1);
  }
  torch::Tensor forward(torch::Tensor x) override {
    const auto b1 = call(branch1x1_, x);
    const auto b3_1 = call(branch3x3_1_, x);
    const auto b3 = torch::cat({call(branch3x3_2a_, b3_1), call(branch3x3_2b_, b3_1)}, 1);
    const auto b3dbl_2 = call(branch3x3dbl_2_, call(branch3x3dbl_1_, x));
    const auto b3dbl = torch::cat({call(branch3x3dbl_3a_, b3dbl_2), call(branch3x3dbl_3b_, b3dbl_2)}, 1);
    const auto pool = call(branch_pool_, avg_pool(x));
    return torch::cat({b1, b3, b3dbl, pool}, 1);
  }

 private:
  std::shared_ptr<Conv> branch1x1_, branch3x3_1_, branch3x3_2a_, branch3x3_2b_, branch3x3dbl_1_, branch3x3dbl_2_,
      branch3x3dbl_3a_, branch3x3dbl_3b_, branch_pool_;
};

class InceptionAux final : public InceptionBlock {
 public:
  InceptionAux(int64_t in, int64_t num_classes) : InceptionBlock("InceptionAux") {
    conv0_ = conv("conv0", in, 128, 1);
    conv1_ = conv("conv1", 128, 768, 5);
    fc_ = register_module("fc", torch::nn::Linear(768, num_classes));
  }
  torch::Tensor forward(torch::Tensor x) override {
    x = call(conv1_, call(conv0_, torch::avg_pool2d(x, {5}, {3})));
    return call(fc_, torch::flatten(torch::adaptive_avg_pool2d(x, {1, 1}), 1));
  }
  // Initialized narrower than the rest of the network, as in torchvision.
  const Conv& conv1() const { return *conv1_; }
  const torch::nn::Linear& fc() const { return fc_; }

 private:
  std::shared_ptr<Conv> conv0_, conv1_;
  torch::nn::Linear fc_{nullptr};
};

class Inception3 final : public Classifier {
 public:
  explicit Inception3(int64_t num_classes, double dropout = 0.5) {
    const auto conv = [this](const std::string& name, int64_t in, int64_t out, int64_t kernel, int64_t stride = 1,
                             int64_t padding = 0) {
      return register_module(name, std::make_shared<Conv>(in, out, kernel, stride, padding));
    };
    Conv2d_1a_3x3_ = conv("Conv2d_1a_3x3", 3, 32, 3, 2);
    Conv2d_2a_3x3_ = conv("Conv2d_2a_3x3", 32, 32, 3);
    Conv2d_2b_3x3_ = conv("Conv2d_2b_3x3", 32, 64, 3, 1, 1);
    maxpool1_ = register_module("maxpool1", max_pool2d(3, 2));
    Conv2d_3b_1x1_ = conv("Conv2d_3b_1x1", 64, 80, 1);
    Conv2d_4a_3x3_ = conv("Conv2d_4a_3x3", 80, 192, 3);
    maxpool2_ = register_module("maxpool2", max_pool2d(3, 2));
    mixed_.push_back(register_module("Mixed_5b", std::make_shared<InceptionA>(192, 32)));
    mixed_.push_back(register_module("Mixed_5c", std::make_shared<InceptionA>(256, 64)));
    mixed_.push_back(register_module("Mixed_5d", std::make_shared<InceptionA>(288, 64)));
    mixed_.push_back(register_module("Mixed_6a", std::make_shared<InceptionB>(288)));
    mixed_.push_back(register_module("Mixed_6b", std::make_shared<InceptionC>(768, 128)));
    mixed_.push_back(register_module("Mixed_6c", std::make_shared<InceptionC>(768, 160)));
    mixed_.push_back(register_module("Mixed_6d", std::make_shared<InceptionC>(768, 160)));
    mixed_.push_back(register_module("Mixed_6e", std::make_shared<InceptionC>(768, 192)));
    aux_logits_ = register_module("AuxLogits", std::make_shared<InceptionAux>(768, num_classes));
    mixed_.push_back(register_module("Mixed_7a", std::make_shared<InceptionD>(768)));
    mixed_.push_back(register_module("Mixed_7b", std::make_shared<InceptionE>(1280)));
    mixed_.push_back(register_module("Mixed_7c", std::make_shared<InceptionE>(2048)));
    avgpool_ = register_module("avgpool", torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions(1)));
    dropout_ = register_module("dropout", torch::nn::Dropout(dropout));
    fc_ = register_module("fc", torch::nn::Linear(2048, num_classes));
    initialize();
  }

  torch::Tensor forward(torch::Tensor x) override { return forward_with_auxiliary(x).front(); }

  std::vector<torch::Tensor> forward_with_auxiliary(torch::Tensor x) override {
    x = call(maxpool1_, call(Conv2d_2b_3x3_, call(Conv2d_2a_3x3_, call(Conv2d_1a_3x3_, x))));
    x = call(maxpool2_, call(Conv2d_4a_3x3_, call(Conv2d_3b_1x1_, x)));
    constexpr size_t kBeforeAux = 8;  // Mixed_5b ... Mixed_6e
    for (size_t i = 0; i < kBeforeAux; ++i) x = call(mixed_[i], x);
    torch::Tensor aux;
    if (is_training()) aux = call(aux_logits_, x);
    for (size_t i = kBeforeAux; i < mixed_.size(); ++i) x = call(mixed_[i], x);
    x = call(dropout_, call(avgpool_, x));
    x = call(fc_, torch::flatten(x, 1));
    if (!is_training()) return {x};
    return {x, aux};
  }

 private:
  // torchvision: convolutions and linear layers truncated-normal in [-2, 2] with std 0.1, except the auxiliary
  // head's conv1 (0.01) and fc (0.001); batch norm 1 and 0.
  void initialize() {
    torch::NoGradGuard no_grad;
    for_each_module<torch::nn::Conv2dImpl>(*this, [this](torch::nn::Conv2dImpl& conv) {
      trunc_normal_(conv.weight, &conv == aux_logits_->conv1().conv.get() ? 0.01 : 0.1);
    });
    for_each_module<torch::nn::LinearImpl>(*this, [this](torch::nn::LinearImpl& fc) {
      trunc_normal_(fc.weight, &fc == aux_logits_->fc().get() ? 0.001 : 0.1);
    });
    for_each_module<torch::nn::BatchNorm2dImpl>(*this, [](torch::nn::BatchNorm2dImpl& bn) {
      bn.weight.fill_(1);
      bn.bias.zero_();
    });
  }

  std::shared_ptr<Conv> Conv2d_1a_3x3_, Conv2d_2a_3x3_, Conv2d_2b_3x3_, Conv2d_3b_1x1_, Conv2d_4a_3x3_;
  torch::nn::MaxPool2d maxpool1_{nullptr}, maxpool2_{nullptr};
  std::vector<std::shared_ptr<InceptionBlock>> mixed_;
  std::shared_ptr<InceptionAux> aux_logits_;
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear fc_{nullptr};
};

}  // namespace

std::vector<ModelSpec> inception_models() {
  // The auxiliary head, run in training, needs a 17 px map after Mixed_6e: 299 px images, the network's design size.
  return {{"inception_v3", "inception", 299, [](int64_t classes) { return std::make_shared<Inception3>(classes); }}};
}

}  // namespace trainmem::models
