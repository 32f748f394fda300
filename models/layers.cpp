#include "models/layers.h"

#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/dropout.h>

#include <algorithm>
#include <cmath>

namespace trainmem::models {
namespace {

std::string type_name(Act kind) {
  switch (kind) {
    case Act::kReLU:
      return "ReLU";
    case Act::kReLU6:
      return "ReLU6";
    case Act::kHardswish:
      return "Hardswish";
    case Act::kHardsigmoid:
      return "Hardsigmoid";
    case Act::kSiLU:
      return "SiLU";
    case Act::kGELU:
      return "GELU";
    case Act::kSigmoid:
      return "Sigmoid";
    case Act::kTanh:
      return "Tanh";
    case Act::kNone:
      break;
  }
  return "Identity";
}

}  // namespace

torch::Tensor Sequence::forward(torch::Tensor x) {
  for (auto& step : steps_) x = step(x);
  return x;
}

PooledClassifier::PooledClassifier(int64_t pooled_side)
    : features(register_module("features", std::make_shared<Sequence>())),
      avgpool_(register_module("avgpool",
                               torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions(pooled_side)))) {
  classifier = register_module("classifier", std::make_shared<Sequence>());
}

torch::Tensor PooledClassifier::forward(torch::Tensor x) {
  x = call(avgpool_, call(features, x));
  return call(classifier, torch::flatten(x, 1));
}

torch::nn::Conv2d conv2d(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding, int64_t groups,
                         bool bias) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).groups(groups).bias(bias));
}

torch::nn::MaxPool2d max_pool2d(int64_t kernel, int64_t stride, int64_t padding, bool ceil_mode) {
  return torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(kernel).stride(stride).padding(padding).ceil_mode(ceil_mode));
}

Activation::Activation(Act kind, bool inplace) : torch::nn::Module(type_name(kind)), kind_(kind), inplace_(inplace) {}

torch::Tensor Activation::forward(torch::Tensor x) {
  switch (kind_) {
    case Act::kReLU:
      return inplace_ ? torch::relu_(x) : torch::relu(x);
    case Act::kReLU6:
      return inplace_ ? torch::relu6_(x) : torch::relu6(x);
    case Act::kHardswish:
      return inplace_ ? torch::hardswish_(x) : torch::hardswish(x);
    case Act::kHardsigmoid:
      return inplace_ ? torch::hardsigmoid_(x) : torch::hardsigmoid(x);
    case Act::kSiLU:
      return inplace_ ? torch::silu_(x) : torch::silu(x);
    case Act::kGELU:
      return torch::gelu(x);
    case Act::kSigmoid:
      return torch::sigmoid(x);
    case Act::kTanh:
      return torch::tanh(x);
    case Act::kNone:
      break;
  }
  return x;
}

void add_activation(Sequence& sequence, Act kind, bool inplace) {
  if (kind == Act::kNone) return;
  if (kind == Act::kReLU) {
    sequence.add(torch::nn::ReLU(torch::nn::ReLUOptions().inplace(inplace)));
  } else {
    sequence.add(std::make_shared<Activation>(kind, inplace));
  }
}

LayerNorm2d::LayerNorm2d(int64_t channels, double eps)
    : torch::nn::Module("LayerNorm2d"), channels_(channels), eps_(eps) {
  weight = register_parameter("weight", torch::ones({channels}));
  bias = register_parameter("bias", torch::zeros({channels}));
}

torch::Tensor LayerNorm2d::forward(torch::Tensor x) {
  x = x.permute({0, 2, 3, 1});
  x = torch::layer_norm(x, {channels_}, weight, bias, eps_);
  return x.permute({0, 3, 1, 2});
}

torch::Tensor StochasticDepth::forward(torch::Tensor x) {
  if (!is_training() || p_ == 0.0) return x;
  const double survival_rate = 1.0 - p_;
  std::vector<int64_t> size(x.dim(), 1);
  size[0] = x.size(0);
  torch::Tensor noise = torch::empty(size, x.options()).bernoulli_(survival_rate);
  if (survival_rate > 0.0) noise.div_(survival_rate);
  return x * noise;
}

torch::nn::BatchNorm2d batch_norm(int64_t channels, const Norm& norm) {
  return torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(channels).eps(norm.eps).momentum(norm.momentum));
}

std::shared_ptr<Sequence> conv_norm_activation(const ConvNormActivationOptions& o, const std::string& type) {
  auto block = std::make_shared<Sequence>(type);
  const int64_t padding = o.padding().value_or((o.kernel() - 1) / 2 * o.dilation());
  const bool bias = o.bias().value_or(o.norm().kind == Norm::kNone);
  block->add(torch::nn::Conv2d(torch::nn::Conv2dOptions(o.in(), o.out(), o.kernel())
                                   .stride(o.stride())
                                   .padding(padding)
                                   .dilation(o.dilation())
                                   .groups(o.groups())
                                   .bias(bias)));
  if (o.norm().kind == Norm::kBatch) block->add(batch_norm(o.out(), o.norm()));
  if (o.norm().kind == Norm::kLayer2d) block->add(std::make_shared<LayerNorm2d>(o.out(), o.norm().eps));
  add_activation(*block, o.activation(), o.inplace());
  return block;
}

BasicConv2d::BasicConv2d(int64_t in, int64_t out, torch::ExpandingArray<2> kernel, torch::ExpandingArray<2> stride,
                         torch::ExpandingArray<2> padding)
    : torch::nn::Module("BasicConv2d"),
      conv(register_module(
          "conv",
          torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(false)))),
      bn(register_module("bn", torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(out).eps(0.001)))) {}

torch::Tensor BasicConv2d::forward(torch::Tensor x) {
  x = call(bn, call(conv, x));
  return torch::relu_(x);
}

SqueezeExcitation::SqueezeExcitation(int64_t channels, int64_t squeeze_channels, Act activation, bool inplace,
                                     Act scale_activation)
    : torch::nn::Module("SqueezeExcitation"),
      avgpool_(register_module("avgpool", torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions(1)))),
      fc1_(register_module("fc1", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, squeeze_channels, 1)))),
      fc2_(register_module("fc2", torch::nn::Conv2d(torch::nn::Conv2dOptions(squeeze_channels, channels, 1)))),
      activation_(register_module("activation", std::make_shared<Activation>(activation, inplace))),
      scale_activation_(register_module("scale_activation", std::make_shared<Activation>(scale_activation, false))) {}

torch::Tensor SqueezeExcitation::forward(torch::Tensor x) {
  torch::Tensor scale = call(avgpool_, x);
  scale = call(fc1_, scale);
  scale = call(activation_, scale);
  scale = call(fc2_, scale);
  scale = call(scale_activation_, scale);
  return scale * x;
}

std::shared_ptr<Sequence> mlp(int64_t in, const std::vector<int64_t>& hidden, Act activation, double dropout,
                              const std::string& type) {
  auto layers = std::make_shared<Sequence>(type);
  int64_t in_dim = in;
  for (size_t i = 0; i + 1 < hidden.size(); ++i) {
    layers->add(torch::nn::Linear(in_dim, hidden[i]));
    add_activation(*layers, activation, false);
    layers->add(torch::nn::Dropout(dropout));
    in_dim = hidden[i];
  }
  layers->add(torch::nn::Linear(in_dim, hidden.back()));
  layers->add(torch::nn::Dropout(dropout));
  return layers;
}

MultiheadAttention::MultiheadAttention(int64_t embed_dim, int64_t num_heads, double dropout)
    : torch::nn::Module("MultiheadAttention"), embed_dim_(embed_dim), num_heads_(num_heads), dropout_(dropout) {
  in_proj_weight = register_parameter("in_proj_weight", torch::empty({3 * embed_dim, embed_dim}));
  in_proj_bias = register_parameter("in_proj_bias", torch::zeros({3 * embed_dim}));
  out_proj = register_module("out_proj", torch::nn::Linear(embed_dim, embed_dim));
  torch::NoGradGuard no_grad;
  torch::nn::init::xavier_uniform_(in_proj_weight);
  torch::nn::init::zeros_(out_proj->bias);
}

torch::Tensor MultiheadAttention::forward(torch::Tensor x) {
  // torch.nn.functional.multi_head_attention_forward's path for need_weights=False, step by step.
  const torch::Tensor query = x.transpose(1, 0);  // L x N x E
  const int64_t tgt_len = query.size(0), bsz = query.size(1), head_dim = embed_dim_ / num_heads_;
  torch::Tensor proj = torch::linear(query, in_proj_weight, in_proj_bias);
  proj = proj.unflatten(-1, {3, embed_dim_}).unsqueeze(0).transpose(0, -2).squeeze(-2).contiguous();
  torch::Tensor q = proj[0].view({tgt_len, bsz * num_heads_, head_dim}).transpose(0, 1);
  torch::Tensor k = proj[1].view({proj[1].size(0), bsz * num_heads_, head_dim}).transpose(0, 1);
  torch::Tensor v = proj[2].view({proj[2].size(0), bsz * num_heads_, head_dim}).transpose(0, 1);
  const int64_t src_len = k.size(1);
  q = q.view({bsz, num_heads_, tgt_len, head_dim});
  k = k.view({bsz, num_heads_, src_len, head_dim});
  v = v.view({bsz, num_heads_, src_len, head_dim});
  torch::Tensor out = at::scaled_dot_product_attention(q, k, v, {}, is_training() ? dropout_ : 0.0, false);
  out = out.permute({2, 0, 1, 3}).reshape({bsz * tgt_len, embed_dim_});
  out = torch::linear(out, out_proj->weight, out_proj->bias);
  out = out.view({tgt_len, bsz, out.size(1)});
  return out.transpose(1, 0);
}

torch::Tensor relative_position_index(int64_t height, int64_t width) {
  const torch::Tensor coords = torch::stack(torch::meshgrid({torch::arange(height), torch::arange(width)}, "ij"));
  const torch::Tensor flat = torch::flatten(coords, 1);
  torch::Tensor relative = (flat.unsqueeze(2) - flat.unsqueeze(1)).permute({1, 2, 0}).contiguous();
  relative.select(2, 0).add_(height - 1).mul_(2 * width - 1);
  relative.select(2, 1).add_(width - 1);
  return relative.sum(-1);
}

void trunc_normal_(torch::Tensor tensor, double std, double a, double b) {
  torch::NoGradGuard no_grad;
  const auto norm_cdf = [](double x) { return (1.0 + std::erf(x / std::sqrt(2.0))) / 2.0; };
  const double low = norm_cdf(a / std), high = norm_cdf(b / std);
  tensor.uniform_(2 * low - 1, 2 * high - 1);
  tensor.erfinv_();
  tensor.mul_(std * std::sqrt(2.0));
  tensor.clamp_(a, b);
}

void init_cnn(torch::nn::Module& root, double linear_std) {
  torch::NoGradGuard no_grad;
  for_each_module<torch::nn::Conv2dImpl>(root, [](torch::nn::Conv2dImpl& conv) {
    torch::nn::init::kaiming_normal_(conv.weight, 0.0, torch::kFanOut, torch::kReLU);
    if (conv.bias.defined()) torch::nn::init::zeros_(conv.bias);
  });
  for_each_module<torch::nn::BatchNorm2dImpl>(root, [](torch::nn::BatchNorm2dImpl& bn) {
    torch::nn::init::ones_(bn.weight);
    torch::nn::init::zeros_(bn.bias);
  });
  if (linear_std == 0) return;
  for_each_module<torch::nn::LinearImpl>(root, [linear_std](torch::nn::LinearImpl& linear) {
    torch::nn::init::normal_(linear.weight, 0, linear_std);
    torch::nn::init::zeros_(linear.bias);
  });
}

int64_t make_divisible(double v, int64_t divisor, int64_t min_value) {
  if (min_value == 0) min_value = divisor;
  int64_t rounded = std::max(min_value, static_cast<int64_t>(v + static_cast<double>(divisor) / 2) / divisor * divisor);
  if (static_cast<double>(rounded) < 0.9 * v) rounded += divisor;
  return rounded;
}

torch::Tensor global_average(const torch::Tensor& x) {
  return torch::flatten(torch::adaptive_avg_pool2d(x, {1, 1}), 1);
}

}  // namespace trainmem::models
