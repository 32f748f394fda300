#pragma once
// The building blocks torchvision's classification models share (torchvision/ops/misc.py, ops/stochastic_depth.py,
// torch.nn.MultiheadAttention), with torchvision's type names and the same ops, so that parameters, outputs and
// what autograd saves for backward match. Containers call every child through call() (module_scope.h): the
// child's torchvision path names the memory it allocates, and compression can replace its forward.
#include <torch/arg.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "models/classifier.h"
#include "models/module_scope.h"

namespace trainmem::models {

// torch.nn.Sequential (or a subclass of it, named by `type`): children "0", "1", ... or named, run in order.
class Sequence : public torch::nn::Module {
 public:
  explicit Sequence(std::string type = "Sequential") : torch::nn::Module(std::move(type)) {}
  // Appends `module` under the next position's index.
  template <class Holder>
  Holder add(Holder module) {
    return add(std::to_string(steps_.size()), std::move(module));
  }
  template <class Holder>
  Holder add(const std::string& name, Holder module) {
    register_module(name, module);
    steps_.push_back([module](const torch::Tensor& x) mutable { return call(module, x); });
    return module;
  }
  torch::Tensor forward(torch::Tensor x);

 private:
  std::vector<std::function<torch::Tensor(const torch::Tensor&)>> steps_;
};

// The layout of AlexNet, VGG, MobileNetV3 and EfficientNet: `features`, adaptive average pooling to a
// pooled_side x pooled_side map (`avgpool`), flattened into `classifier`. Subclasses fill the two sequences.
class PooledClassifier : public Classifier {
 public:
  torch::Tensor forward(torch::Tensor x) override;

 protected:
  explicit PooledClassifier(int64_t pooled_side);

  std::shared_ptr<Sequence> features, classifier;

 private:
  torch::nn::AdaptiveAvgPool2d avgpool_;
};

// torch.nn.Conv2d(in, out, kernel, stride, padding, groups=groups, bias=bias) and torch.nn.MaxPool2d, with
// PyTorch's defaults.
torch::nn::Conv2d conv2d(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1, int64_t padding = 0,
                         int64_t groups = 1, bool bias = true);
torch::nn::MaxPool2d max_pool2d(int64_t kernel, int64_t stride, int64_t padding = 0, bool ceil_mode = false);

// torchvision's activation modules. ReLU is LibTorch's own module (compression recognizes it); the others are
// elementwise modules named as in torch.nn, in place where torchvision asks for it.
enum class Act { kNone, kReLU, kReLU6, kHardswish, kHardsigmoid, kSiLU, kGELU, kSigmoid, kTanh };

class Activation : public torch::nn::Module {
 public:
  Activation(Act kind, bool inplace);
  torch::Tensor forward(torch::Tensor x);

 private:
  Act kind_;
  bool inplace_;
};

// Appends the activation module `kind` (nothing for kNone).
void add_activation(Sequence& sequence, Act kind, bool inplace);

// LayerNorm over the channels of an N x C x H x W map (torchvision.models.convnext.LayerNorm2d).
class LayerNorm2d : public torch::nn::Module {
 public:
  LayerNorm2d(int64_t channels, double eps);
  torch::Tensor forward(torch::Tensor x);

  torch::Tensor weight, bias;

 private:
  int64_t channels_;
  double eps_;
};

// torchvision.ops.Permute.
class Permute : public torch::nn::Module {
 public:
  explicit Permute(std::vector<int64_t> dims) : torch::nn::Module("Permute"), dims_(std::move(dims)) {}
  torch::Tensor forward(torch::Tensor x) { return x.permute(dims_); }

 private:
  std::vector<int64_t> dims_;
};

// torchvision.ops.StochasticDepth in "row" mode: in training, drops whole samples of a residual branch with
// probability p and scales the survivors.
class StochasticDepth : public torch::nn::Module {
 public:
  explicit StochasticDepth(double p) : torch::nn::Module("StochasticDepth"), p_(p) {}
  torch::Tensor forward(torch::Tensor x);

 private:
  double p_;
};

// The normalization a ConvNormActivation appends.
struct Norm {
  enum Kind { kBatch, kLayer2d, kNone } kind = kBatch;
  double eps = 1e-5;
  double momentum = 0.1;  // batch norm only
};
torch::nn::BatchNorm2d batch_norm(int64_t channels, const Norm& norm);

// torchvision.ops.Conv2dNormActivation: conv, norm, activation as children "0", "1", "2". Options in LibTorch's
// style: ConvNormActivationOptions(in, out).kernel(1).activation(Act::kReLU6).
struct ConvNormActivationOptions {
  ConvNormActivationOptions(int64_t in, int64_t out) : in_(in), out_(out) {}
  TORCH_ARG(int64_t, in);
  TORCH_ARG(int64_t, out);
  TORCH_ARG(int64_t, kernel) = 3;
  TORCH_ARG(int64_t, stride) = 1;
  TORCH_ARG(int64_t, groups) = 1;
  TORCH_ARG(int64_t, dilation) = 1;
  TORCH_ARG(std::optional<int64_t>, padding);  // default: (kernel - 1) / 2 * dilation
  TORCH_ARG(Norm, norm);
  TORCH_ARG(Act, activation) = Act::kReLU;
  TORCH_ARG(bool, inplace) = true;
  TORCH_ARG(std::optional<bool>, bias);  // default: only without a norm
};
// `type`: the subclass's name where torchvision derives one (regnet's SimpleStemIN).
std::shared_ptr<Sequence> conv_norm_activation(const ConvNormActivationOptions& options,
                                               const std::string& type = "Conv2dNormActivation");

// BasicConv2d of torchvision's googlenet.py and inception.py: a bias-free convolution, batch norm (eps 0.001) and
// an in-place ReLU applied as a function.
class BasicConv2d : public torch::nn::Module {
 public:
  BasicConv2d(int64_t in, int64_t out, torch::ExpandingArray<2> kernel, torch::ExpandingArray<2> stride = 1,
              torch::ExpandingArray<2> padding = 0);
  torch::Tensor forward(torch::Tensor x);

  torch::nn::Conv2d conv;
  torch::nn::BatchNorm2d bn;
};

// torchvision.ops.SqueezeExcitation: scales channels by a gate computed from their spatial mean.
class SqueezeExcitation : public torch::nn::Module {
 public:
  SqueezeExcitation(int64_t channels, int64_t squeeze_channels, Act activation = Act::kReLU, bool inplace = false,
                    Act scale_activation = Act::kSigmoid);
  torch::Tensor forward(torch::Tensor x);

 private:
  torch::nn::AdaptiveAvgPool2d avgpool_;
  torch::nn::Conv2d fc1_, fc2_;
  std::shared_ptr<Activation> activation_, scale_activation_;
};

// torchvision.ops.MLP: Linear, activation, Dropout per hidden layer; a last Linear and Dropout.
std::shared_ptr<Sequence> mlp(int64_t in, const std::vector<int64_t>& hidden, Act activation, double dropout,
                              const std::string& type = "MLP");

// torch.nn.MultiheadAttention used as self-attention on batch-first input, without attention weights, as
// torchvision's ViT calls it in training: the packed in-projection, scaled_dot_product_attention, out_proj.
class MultiheadAttention : public torch::nn::Module {
 public:
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, double dropout);
  torch::Tensor forward(torch::Tensor x);

  torch::Tensor in_proj_weight, in_proj_bias;
  torch::nn::Linear out_proj{nullptr};

 private:
  int64_t embed_dim_, num_heads_;
  double dropout_;
};

// For each pair of positions in a height x width window, the index of their offset in a (2h-1) x (2w-1) table of
// relative position biases: an (h·w) x (h·w) int64 tensor (Swin Transformer, MaxViT).
torch::Tensor relative_position_index(int64_t height, int64_t width);

// torch.nn.init.trunc_normal_ (LibTorch's init lacks it), the same algorithm.
void trunc_normal_(torch::Tensor tensor, double std, double a = -2, double b = 2);

// Calls `init` on every module of type Impl below `root` (torchvision's `for m in self.modules()` loops).
template <class Impl, class Init>
void for_each_module(torch::nn::Module& root, Init&& init) {
  for (auto& module : root.modules(/*include_self=*/false)) {
    if (auto* typed = module->as<Impl>()) init(*typed);
  }
}

// The initialization most torchvision CNNs share: convolutions Kaiming-normal (fan_out) with zero bias, batch norm
// weight 1 and bias 0, linear layers normal(0, 0.01) with zero bias (`linear_std` 0: left at LibTorch's default).
void init_cnn(torch::nn::Module& root, double linear_std = 0.01);

// torchvision.models._utils._make_divisible: `v` rounded to a multiple of `divisor`, at least `min_value`
// (default: divisor), never more than 10% below v.
int64_t make_divisible(double v, int64_t divisor, int64_t min_value = 0);

// torch.flatten(x, 1) after global average pooling.
torch::Tensor global_average(const torch::Tensor& x);

}  // namespace trainmem::models
