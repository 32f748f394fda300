// MaxViT-T as torchvision builds it without weights (torchvision/models/maxvit.py): for 224 px images, the size
// its window and grid partitions are laid out for.
#include <torch/nn/init.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <stdexcept>

#include "models/families.h"
#include "models/layers.h"

namespace trainmem::models {
namespace {

constexpr int64_t kImageSize = 224;

int64_t conv_output_size(int64_t size) { return (size - 3 + 2) / 2 + 1; }  // kernel 3, stride 2, padding 1

const Norm kNorm{Norm::kBatch, 1e-3, 0.01};

class MaxVitMBConv final : public torch::nn::Module {
 public:
  MaxVitMBConv(int64_t in, int64_t out, int64_t stride, double stochastic_depth_prob) : torch::nn::Module("MBConv") {
    if (stride != 1 || in != out) {
      auto proj = std::make_shared<Sequence>();
      if (stride == 2) proj->add(torch::nn::AvgPool2d(torch::nn::AvgPool2dOptions(3).stride(stride).padding(1)));
      proj->add(conv2d(in, out, 1));
      proj_ = register_module("proj", proj);
    } else {
      proj_ = register_module("proj", torch::nn::Identity());
    }
    const int64_t mid = out * 4, squeeze = out / 4;
    if (stochastic_depth_prob > 0) {
      stochastic_depth_ = register_module("stochastic_depth", std::make_shared<StochasticDepth>(stochastic_depth_prob));
    } else {
      stochastic_depth_ = register_module("stochastic_depth", torch::nn::Identity());
    }
    layers_ = register_module("layers", std::make_shared<Sequence>());
    layers_->add("pre_norm", batch_norm(in, kNorm));
    layers_->add(
        "conv_a",
        conv_norm_activation(
            ConvNormActivationOptions(in, mid).kernel(1).padding(0).norm(kNorm).activation(Act::kGELU).inplace(false)));
    layers_->add("conv_b", conv_norm_activation(ConvNormActivationOptions(mid, mid)
                                                    .stride(stride)
                                                    .groups(mid)
                                                    .padding(1)
                                                    .norm(kNorm)
                                                    .activation(Act::kGELU)
                                                    .inplace(false)));
    layers_->add("squeeze_excitation", std::make_shared<SqueezeExcitation>(mid, squeeze, Act::kSiLU, false));
    layers_->add("conv_c", conv2d(mid, out, 1));
  }

  torch::Tensor forward(torch::Tensor x) {
    const torch::Tensor res = run(proj_, x);
    x = run(stochastic_depth_, call(layers_, x));
    return res + x;
  }

 private:
  // Children that are an Identity or a real module, as torchvision decides at construction.
  static torch::Tensor run(const std::shared_ptr<torch::nn::Module>& child, const torch::Tensor& x) {
    return in_module_scope(*child, x, [&] {
      if (auto* sequence = child->as<Sequence>()) return sequence->forward(x);
      if (auto* depth = child->as<StochasticDepth>()) return depth->forward(x);
      return x;
    });
  }

  std::shared_ptr<torch::nn::Module> proj_, stochastic_depth_;
  std::shared_ptr<Sequence> layers_;
};

class RelativePositionalMultiHeadAttention final : public torch::nn::Module {
 public:
  RelativePositionalMultiHeadAttention(int64_t feat_dim, int64_t head_dim, int64_t max_seq_len)
      : torch::nn::Module("RelativePositionalMultiHeadAttention"),
        n_heads_(feat_dim / head_dim),
        head_dim_(head_dim),
        max_seq_len_(max_seq_len),
        scale_factor_(std::pow(static_cast<double>(feat_dim), -0.5)) {
    const auto size = static_cast<int64_t>(std::sqrt(static_cast<double>(max_seq_len)));
    to_qkv_ = register_module("to_qkv", torch::nn::Linear(feat_dim, 3 * n_heads_ * head_dim));
    merge_ = register_module("merge", torch::nn::Linear(n_heads_ * head_dim, feat_dim));
    relative_position_bias_table_ =
        register_parameter("relative_position_bias_table", torch::empty({(2 * size - 1) * (2 * size - 1), n_heads_}));
    relative_position_index_ = register_buffer("relative_position_index", relative_position_index(size, size));
    trunc_normal_(relative_position_bias_table_, 0.02);
  }

  torch::Tensor forward(torch::Tensor x) {
    const int64_t B = x.size(0), G = x.size(1), P = x.size(2), D = x.size(3);
    const auto qkv = call(to_qkv_, x).chunk(3, -1);
    const auto heads = [&](const torch::Tensor& t) {
      return t.reshape({B, G, P, n_heads_, head_dim_}).permute({0, 1, 3, 2, 4});
    };
    const torch::Tensor q = heads(qkv[0]), v = heads(qkv[2]);
    const torch::Tensor k = heads(qkv[1]) * scale_factor_;
    torch::Tensor dot_prod = torch::einsum("bghid,bghjd->bghij", {q, k});
    torch::Tensor pos_bias = relative_position_bias_table_.index({relative_position_index_.view(-1)});
    pos_bias = pos_bias.view({max_seq_len_, max_seq_len_, -1}).permute({2, 0, 1}).contiguous().unsqueeze(0);
    dot_prod = torch::softmax(dot_prod + pos_bias, -1);
    torch::Tensor out = torch::einsum("bghij,bghjd->bghid", {dot_prod, v});
    out = out.permute({0, 1, 3, 2, 4}).reshape({B, G, P, D});
    return call(merge_, out);
  }

 private:
  int64_t n_heads_, head_dim_, max_seq_len_;
  double scale_factor_;
  torch::nn::Linear to_qkv_{nullptr}, merge_{nullptr};
  torch::Tensor relative_position_bias_table_, relative_position_index_;
};

// B x C x H x W <-> B x (H/p · W/p) x p² x C.
class WindowPartition final : public torch::nn::Module {
 public:
  WindowPartition() : torch::nn::Module("WindowPartition") {}
  torch::Tensor forward(const torch::Tensor& input, int64_t p) {
    const int64_t B = input.size(0), C = input.size(1), H = input.size(2), W = input.size(3);
    torch::Tensor x = input.reshape({B, C, H / p, p, W / p, p}).permute({0, 2, 4, 3, 5, 1});
    return x.reshape({B, (H / p) * (W / p), p * p, C});
  }
};

class WindowDepartition final : public torch::nn::Module {
 public:
  WindowDepartition() : torch::nn::Module("WindowDepartition") {}
  torch::Tensor forward(const torch::Tensor& input, int64_t p, int64_t h_partitions, int64_t w_partitions) {
    const int64_t B = input.size(0), C = input.size(3);
    torch::Tensor x = input.reshape({B, h_partitions, w_partitions, p, p, C}).permute({0, 5, 1, 3, 2, 4});
    return x.reshape({B, C, h_partitions * p, w_partitions * p});
  }
};

class SwapAxes final : public torch::nn::Module {
 public:
  SwapAxes() : torch::nn::Module("SwapAxes") {}
  torch::Tensor forward(torch::Tensor x) { return torch::swapaxes(x, -2, -3); }
};

class PartitionAttentionLayer final : public torch::nn::Module {
 public:
  PartitionAttentionLayer(int64_t channels, int64_t head_dim, int64_t partition_size, bool grid, int64_t grid_size,
                          double stochastic_depth_prob)
      : torch::nn::Module("PartitionAttentionLayer"), grid_(grid), grid_size_(grid_size) {
    const int64_t n_partitions = grid_size / partition_size;
    p_ = grid ? n_partitions : partition_size;
    partition_op_ = register_module("partition_op", std::make_shared<WindowPartition>());
    departition_op_ = register_module("departition_op", std::make_shared<WindowDepartition>());
    if (grid) {
      partition_swap_ = register_module("partition_swap", std::make_shared<SwapAxes>());
      departition_swap_ = register_module("departition_swap", std::make_shared<SwapAxes>());
    } else {
      register_module("partition_swap", torch::nn::Identity());
      register_module("departition_swap", torch::nn::Identity());
    }
    attn_layer_ = register_module("attn_layer", std::make_shared<Sequence>());
    attn_layer_->add(torch::nn::LayerNorm(torch::nn::LayerNormOptions({channels})));
    attn_layer_->add(
        std::make_shared<RelativePositionalMultiHeadAttention>(channels, head_dim, partition_size * partition_size));
    attn_layer_->add(torch::nn::Dropout(0.0));
    mlp_layer_ = register_module("mlp_layer", std::make_shared<Sequence>());
    mlp_layer_->add(torch::nn::LayerNorm(torch::nn::LayerNormOptions({channels})));
    mlp_layer_->add(torch::nn::Linear(channels, channels * 4));
    mlp_layer_->add(std::make_shared<Activation>(Act::kGELU, false));
    mlp_layer_->add(torch::nn::Linear(channels * 4, channels));
    mlp_layer_->add(torch::nn::Dropout(0.0));
    stochastic_dropout_ =
        register_module("stochastic_dropout", std::make_shared<StochasticDepth>(stochastic_depth_prob));
  }

  torch::Tensor forward(torch::Tensor x) {
    const int64_t g = grid_size_ / p_;
    x = in_module_scope(*partition_op_, x, [&] { return partition_op_->forward(x, p_); });
    if (grid_) x = call(partition_swap_, x);
    x = x + call(stochastic_dropout_, call(attn_layer_, x));
    x = x + call(stochastic_dropout_, call(mlp_layer_, x));
    if (grid_) x = call(departition_swap_, x);
    return in_module_scope(*departition_op_, x, [&] { return departition_op_->forward(x, p_, g, g); });
  }

 private:
  bool grid_;
  int64_t grid_size_, p_;
  std::shared_ptr<WindowPartition> partition_op_;
  std::shared_ptr<WindowDepartition> departition_op_;
  std::shared_ptr<SwapAxes> partition_swap_, departition_swap_;
  std::shared_ptr<Sequence> attn_layer_, mlp_layer_;
  std::shared_ptr<StochasticDepth> stochastic_dropout_;
};

class MaxVitLayer final : public torch::nn::Module {
 public:
  MaxVitLayer(int64_t in, int64_t out, int64_t stride, int64_t grid_size, double stochastic_depth_prob)
      : torch::nn::Module("MaxVitLayer") {
    constexpr int64_t kHeadDim = 32, kPartition = 7;
    layers_ = register_module("layers", std::make_shared<Sequence>());
    layers_->add("MBconv", std::make_shared<MaxVitMBConv>(in, out, stride, stochastic_depth_prob));
    layers_->add("window_attention", std::make_shared<PartitionAttentionLayer>(out, kHeadDim, kPartition, false,
                                                                               grid_size, stochastic_depth_prob));
    layers_->add("grid_attention", std::make_shared<PartitionAttentionLayer>(out, kHeadDim, kPartition, true, grid_size,
                                                                             stochastic_depth_prob));
  }
  torch::Tensor forward(torch::Tensor x) { return call(layers_, x); }

 private:
  std::shared_ptr<Sequence> layers_;
};

class MaxVitBlock final : public torch::nn::Module {
 public:
  MaxVitBlock(int64_t in, int64_t out, int64_t input_grid_size, const std::vector<double>& stochastic_depth_probs)
      : torch::nn::Module("MaxVitBlock"), grid_size(conv_output_size(input_grid_size)) {
    auto list = register_module("layers", torch::nn::ModuleList());
    for (size_t i = 0; i < stochastic_depth_probs.size(); ++i) {
      layers_.push_back(
          std::make_shared<MaxVitLayer>(i == 0 ? in : out, out, i == 0 ? 2 : 1, grid_size, stochastic_depth_probs[i]));
      list->push_back(layers_.back());
    }
  }
  torch::Tensor forward(torch::Tensor x) {
    for (auto& layer : layers_) x = call(layer, x);
    return x;
  }

  const int64_t grid_size;

 private:
  std::vector<std::shared_ptr<MaxVitLayer>> layers_;
};

class MaxVit final : public Classifier {
 public:
  explicit MaxVit(int64_t num_classes) {
    const int64_t stem_channels = 64;
    const std::array<int64_t, 4> channels{64, 128, 256, 512}, layers{2, 2, 5, 2};
    const double stochastic_depth_prob = 0.2;
    stem_ = register_module("stem", std::make_shared<Sequence>());
    stem_->add(conv_norm_activation(ConvNormActivationOptions(3, stem_channels)
                                        .stride(2)
                                        .norm(kNorm)
                                        .activation(Act::kGELU)
                                        .inplace(false)
                                        .bias(false)));
    stem_->add(conv_norm_activation(
        ConvNormActivationOptions(stem_channels, stem_channels).norm({Norm::kNone}).activation(Act::kNone).bias(true)));
    // np.linspace(0, p, total layers), handed out layer by layer.
    const int64_t total = layers[0] + layers[1] + layers[2] + layers[3];
    int64_t layer_id = 0, grid = conv_output_size(kImageSize), in = stem_channels;
    auto list = register_module("blocks", torch::nn::ModuleList());
    for (size_t i = 0; i < channels.size(); ++i) {
      std::vector<double> probs;
      for (int64_t l = 0; l < layers[i]; ++l, ++layer_id) {
        probs.push_back(stochastic_depth_prob * static_cast<double>(layer_id) / static_cast<double>(total - 1));
      }
      blocks_.push_back(std::make_shared<MaxVitBlock>(in, channels[i], grid, probs));
      list->push_back(blocks_.back());
      grid = blocks_.back()->grid_size;
      in = channels[i];
    }
    classifier_ = register_module("classifier", std::make_shared<Sequence>());
    classifier_->add(torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions(1)));
    classifier_->add(torch::nn::Flatten());
    classifier_->add(torch::nn::LayerNorm(torch::nn::LayerNormOptions({in})));
    classifier_->add(torch::nn::Linear(in, in));
    classifier_->add(std::make_shared<Activation>(Act::kTanh, false));
    classifier_->add(torch::nn::Linear(torch::nn::LinearOptions(in, num_classes).bias(false)));
    // torchvision: convolutions and linear layers normal(0, 0.02) with zero bias, batch norm 1 and 0.
    torch::NoGradGuard no_grad;
    for_each_module<torch::nn::Conv2dImpl>(*this, [](torch::nn::Conv2dImpl& conv) {
      torch::nn::init::normal_(conv.weight, 0, 0.02);
      if (conv.bias.defined()) torch::nn::init::zeros_(conv.bias);
    });
    for_each_module<torch::nn::BatchNorm2dImpl>(*this, [](torch::nn::BatchNorm2dImpl& bn) {
      torch::nn::init::ones_(bn.weight);
      torch::nn::init::zeros_(bn.bias);
    });
    for_each_module<torch::nn::LinearImpl>(*this, [](torch::nn::LinearImpl& linear) {
      torch::nn::init::normal_(linear.weight, 0, 0.02);
      if (linear.bias.defined()) torch::nn::init::zeros_(linear.bias);
    });
  }

  torch::Tensor forward(torch::Tensor x) override {
    if (x.size(2) != kImageSize || x.size(3) != kImageSize) {
      throw std::invalid_argument("maxvit_t takes " + std::to_string(kImageSize) + " px images only, got " +
                                  std::to_string(x.size(2)) + "x" + std::to_string(x.size(3)));
    }
    x = call(stem_, x);
    for (auto& block : blocks_) x = call(block, x);
    return call(classifier_, x);
  }

 private:
  std::shared_ptr<Sequence> stem_, classifier_;
  std::vector<std::shared_ptr<MaxVitBlock>> blocks_;
};

}  // namespace

std::vector<ModelSpec> maxvit_models() {
  return {{"maxvit_t", "maxvit", kImageSize, [](int64_t classes) { return std::make_shared<MaxVit>(classes); },
           kImageSize}};
}

}  // namespace trainmem::models
