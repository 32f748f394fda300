// Swin Transformer T/S/B and Swin Transformer V2 T/S/B as torchvision builds them
// (torchvision/models/swin_transformer.py): shifted-window attention with relative position bias (V2: cosine
// attention with a continuous position bias MLP), patch merging between stages.
#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <cmath>

#include "models/families.h"
#include "models/layers.h"

namespace trainmem::models {
namespace {

using torch::indexing::None;
using torch::indexing::Slice;

torch::nn::LayerNorm layer_norm(int64_t dim) { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})); }

// Pads odd sides and gathers each 2x2 patch's pixels into channels: ... H x W x C -> ... H/2 x W/2 x 4C.
torch::Tensor patch_merging_pad(const torch::Tensor& input) {
  const int64_t height = input.size(-3), width = input.size(-2);
  const torch::Tensor x = torch::pad(input, {0, 0, 0, width % 2, 0, height % 2});
  const auto e = torch::indexing::Ellipsis;
  return torch::cat({x.index({e, Slice(0, None, 2), Slice(0, None, 2), Slice()}),
                     x.index({e, Slice(1, None, 2), Slice(0, None, 2), Slice()}),
                     x.index({e, Slice(0, None, 2), Slice(1, None, 2), Slice()}),
                     x.index({e, Slice(1, None, 2), Slice(1, None, 2), Slice()})},
                    -1);
}

class PatchMerging final : public torch::nn::Module {
 public:
  PatchMerging(int64_t dim, bool v2)
      : torch::nn::Module(v2 ? "PatchMergingV2" : "PatchMerging"),
        v2_(v2),
        reduction_(
            register_module("reduction", torch::nn::Linear(torch::nn::LinearOptions(4 * dim, 2 * dim).bias(false)))),
        norm_(register_module("norm", layer_norm(v2 ? 2 * dim : 4 * dim))) {}

  torch::Tensor forward(torch::Tensor x) {
    x = patch_merging_pad(x);
    if (v2_) return call(norm_, call(reduction_, x));
    return call(reduction_, call(norm_, x));
  }

 private:
  bool v2_;
  torch::nn::Linear reduction_;
  torch::nn::LayerNorm norm_;
};

struct WindowAttentionConfig {
  int64_t dim, heads;
  std::array<int64_t, 2> window, shift;
  bool v2;
};

class ShiftedWindowAttention final : public torch::nn::Module {
 public:
  explicit ShiftedWindowAttention(const WindowAttentionConfig& c)
      : torch::nn::Module(c.v2 ? "ShiftedWindowAttentionV2" : "ShiftedWindowAttention"), c_(c) {
    qkv_ = register_module("qkv", torch::nn::Linear(c.dim, 3 * c.dim));
    proj_ = register_module("proj", torch::nn::Linear(c.dim, c.dim));
    const int64_t table_size = (2 * c.window[0] - 1) * (2 * c.window[1] - 1);
    if (c.v2) {
      relative_coords_table_ = register_buffer("relative_coords_table", relative_coords_table());
    } else {
      relative_position_bias_table_ =
          register_parameter("relative_position_bias_table", torch::zeros({table_size, c.heads}));
      trunc_normal_(relative_position_bias_table_, 0.02);
    }
    relative_position_index_ =
        register_buffer("relative_position_index", relative_position_index(c.window[0], c.window[1]).flatten());
    if (c.v2) {
      logit_scale_ = register_parameter("logit_scale", torch::log(10 * torch::ones({c.heads, 1, 1})));
      cpb_mlp_ = register_module("cpb_mlp", std::make_shared<Sequence>());
      cpb_mlp_->add(torch::nn::Linear(2, 512));
      cpb_mlp_->add(torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)));
      cpb_mlp_->add(torch::nn::Linear(torch::nn::LinearOptions(512, c.heads).bias(false)));
      torch::NoGradGuard no_grad;
      qkv_->bias.slice(0, c.dim, 2 * c.dim).zero_();
    }
  }

  torch::Tensor forward(torch::Tensor input) { return shifted_window_attention(input, relative_position_bias()); }

 private:
  // V2's continuous coordinates: log-spaced offsets in [-8, 8] / 3, 1 x (2h-1) x (2w-1) x 2.
  torch::Tensor relative_coords_table() const {
    const torch::Tensor h = torch::arange(-(c_.window[0] - 1), c_.window[0], torch::kFloat32);
    const torch::Tensor w = torch::arange(-(c_.window[1] - 1), c_.window[1], torch::kFloat32);
    torch::Tensor table = torch::stack(torch::meshgrid({h, w}, "ij")).permute({1, 2, 0}).contiguous().unsqueeze(0);
    table.select(3, 0).div_(c_.window[0] - 1);
    table.select(3, 1).div_(c_.window[1] - 1);
    table.mul_(8);
    return torch::sign(table) * torch::log2(torch::abs(table) + 1.0) / 3.0;
  }

  torch::Tensor relative_position_bias() {
    const int64_t n = c_.window[0] * c_.window[1];
    const torch::Tensor table =
        c_.v2 ? call(cpb_mlp_, relative_coords_table_).view({-1, c_.heads}) : relative_position_bias_table_;
    torch::Tensor bias = table.index({relative_position_index_}).view({n, n, -1});
    bias = bias.permute({2, 0, 1}).contiguous().unsqueeze(0);
    return c_.v2 ? 16 * torch::sigmoid(bias) : bias;
  }

  // torchvision.models.swin_transformer.shifted_window_attention, step by step.
  torch::Tensor shifted_window_attention(const torch::Tensor& input, const torch::Tensor& relative_position_bias) {
    const int64_t B = input.size(0), H = input.size(1), W = input.size(2), C = input.size(3);
    const auto& ws = c_.window;
    const int64_t pad_r = (ws[1] - W % ws[1]) % ws[1], pad_b = (ws[0] - H % ws[0]) % ws[0];
    torch::Tensor x = torch::pad(input, {0, 0, 0, pad_r, 0, pad_b});
    const int64_t pad_H = x.size(1), pad_W = x.size(2);
    std::array<int64_t, 2> shift = c_.shift;
    if (ws[0] >= pad_H) shift[0] = 0;
    if (ws[1] >= pad_W) shift[1] = 0;
    const bool shifted = shift[0] + shift[1] > 0;
    if (shifted) x = torch::roll(x, {-shift[0], -shift[1]}, {1, 2});
    const int64_t num_windows = (pad_H / ws[0]) * (pad_W / ws[1]);
    x = x.view({B, pad_H / ws[0], ws[0], pad_W / ws[1], ws[1], C});
    x = x.permute({0, 1, 3, 2, 4, 5}).reshape({B * num_windows, ws[0] * ws[1], C});
    torch::Tensor qkv_bias = qkv_->bias;
    if (c_.v2) {
      qkv_bias = qkv_bias.clone();
      const int64_t length = qkv_bias.numel() / 3;
      qkv_bias.slice(0, length, 2 * length).zero_();
    }
    torch::Tensor qkv = torch::linear(x, qkv_->weight, qkv_bias);
    qkv = qkv.reshape({x.size(0), x.size(1), 3, c_.heads, C / c_.heads}).permute({2, 0, 3, 1, 4});
    torch::Tensor q = qkv[0], k = qkv[1], v = qkv[2];
    torch::Tensor attn;
    if (c_.v2) {
      const auto normalize = [](const torch::Tensor& t) {
        return t / t.norm(2, {-1}, true).clamp_min(1e-12).expand_as(t);
      };
      attn = torch::matmul(normalize(q), normalize(k).transpose(-2, -1));
      const torch::Tensor logit_scale = torch::clamp(logit_scale_, c10::nullopt, std::log(100.0)).exp();
      attn = attn * logit_scale;
    } else {
      q = q * std::pow(static_cast<double>(C / c_.heads), -0.5);
      attn = q.matmul(k.transpose(-2, -1));
    }
    attn = attn + relative_position_bias;
    if (shifted) {
      torch::Tensor attn_mask = x.new_zeros({pad_H, pad_W});
      // Python's slices (0, -ws), (-ws, -shift), (-shift, None) of the padded map, numbered row-major.
      using Range = std::pair<int64_t, std::optional<int64_t>>;
      const std::array<Range, 3> h_slices{{{0, -ws[0]}, {-ws[0], -shift[0]}, {-shift[0], std::nullopt}}};
      const std::array<Range, 3> w_slices{{{0, -ws[1]}, {-ws[1], -shift[1]}, {-shift[1], std::nullopt}}};
      int64_t count = 0;
      for (const Range& h : h_slices) {
        for (const Range& w : w_slices) {
          attn_mask.index_put_({Slice(h.first, h.second), Slice(w.first, w.second)}, count++);
        }
      }
      attn_mask = attn_mask.view({pad_H / ws[0], ws[0], pad_W / ws[1], ws[1]});
      attn_mask = attn_mask.permute({0, 2, 1, 3}).reshape({num_windows, ws[0] * ws[1]});
      attn_mask = attn_mask.unsqueeze(1) - attn_mask.unsqueeze(2);
      attn_mask = attn_mask.masked_fill(attn_mask != 0, -100.0).masked_fill(attn_mask == 0, 0.0);
      attn = attn.view({x.size(0) / num_windows, num_windows, c_.heads, x.size(1), x.size(1)});
      attn = attn + attn_mask.unsqueeze(1).unsqueeze(0);
      attn = attn.view({-1, c_.heads, x.size(1), x.size(1)});
    }
    attn = torch::softmax(attn, -1);
    attn = torch::dropout(attn, 0.0, is_training());
    x = attn.matmul(v).transpose(1, 2).reshape({x.size(0), x.size(1), C});
    x = torch::linear(x, proj_->weight, proj_->bias);
    x = torch::dropout(x, 0.0, is_training());
    x = x.view({B, pad_H / ws[0], pad_W / ws[1], ws[0], ws[1], C});
    x = x.permute({0, 1, 3, 2, 4, 5}).reshape({B, pad_H, pad_W, C});
    if (shifted) x = torch::roll(x, {shift[0], shift[1]}, {1, 2});
    return x.index({Slice(), Slice(None, H), Slice(None, W), Slice()}).contiguous();
  }

  WindowAttentionConfig c_;
  torch::nn::Linear qkv_{nullptr}, proj_{nullptr};
  torch::Tensor relative_position_bias_table_, relative_coords_table_, relative_position_index_, logit_scale_;
  std::shared_ptr<Sequence> cpb_mlp_;
};

class SwinTransformerBlock final : public torch::nn::Module {
 public:
  SwinTransformerBlock(const WindowAttentionConfig& c, double stochastic_depth_prob)
      : torch::nn::Module(c.v2 ? "SwinTransformerBlockV2" : "SwinTransformerBlock"),
        v2_(c.v2),
        norm1_(register_module("norm1", layer_norm(c.dim))),
        attn_(register_module("attn", std::make_shared<ShiftedWindowAttention>(c))),
        stochastic_depth_(
            register_module("stochastic_depth", std::make_shared<StochasticDepth>(stochastic_depth_prob))),
        norm2_(register_module("norm2", layer_norm(c.dim))),
        mlp_(register_module("mlp", mlp(c.dim, {4 * c.dim, c.dim}, Act::kGELU, 0.0))) {}

  torch::Tensor forward(torch::Tensor x) {
    if (v2_) {
      x = x + call(stochastic_depth_, call(norm1_, call(attn_, x)));
      return x + call(stochastic_depth_, call(norm2_, call(mlp_, x)));
    }
    x = x + call(stochastic_depth_, call(attn_, call(norm1_, x)));
    return x + call(stochastic_depth_, call(mlp_, call(norm2_, x)));
  }

 private:
  bool v2_;
  torch::nn::LayerNorm norm1_;
  std::shared_ptr<ShiftedWindowAttention> attn_;
  std::shared_ptr<StochasticDepth> stochastic_depth_;
  torch::nn::LayerNorm norm2_;
  std::shared_ptr<Sequence> mlp_;
};

struct SwinConfig {
  int64_t embed_dim;
  std::array<int64_t, 4> depths, heads;
  int64_t window;
  double stochastic_depth_prob;
  bool v2;
};

class SwinTransformer final : public Classifier {
 public:
  SwinTransformer(const SwinConfig& c, int64_t num_classes) {
    constexpr int64_t kPatch = 4;
    features_ = register_module("features", std::make_shared<Sequence>());
    auto stem = std::make_shared<Sequence>();
    stem->add(conv2d(3, c.embed_dim, kPatch, kPatch));
    stem->add(std::make_shared<Permute>(std::vector<int64_t>{0, 2, 3, 1}));
    stem->add(layer_norm(c.embed_dim));
    features_->add(stem);
    int64_t total_blocks = 0;
    for (int64_t d : c.depths) total_blocks += d;
    int64_t block_id = 0;
    for (size_t i = 0; i < c.depths.size(); ++i) {
      const int64_t dim = c.embed_dim << i;
      auto stage = std::make_shared<Sequence>();
      for (int64_t layer = 0; layer < c.depths[i]; ++layer) {
        const int64_t shift = layer % 2 == 0 ? 0 : c.window / 2;
        const double p =
            c.stochastic_depth_prob * static_cast<double>(block_id) / static_cast<double>(total_blocks - 1);
        stage->add(std::make_shared<SwinTransformerBlock>(
            WindowAttentionConfig{dim, c.heads[i], {c.window, c.window}, {shift, shift}, c.v2}, p));
        ++block_id;
      }
      features_->add(stage);
      if (i + 1 < c.depths.size()) features_->add(std::make_shared<PatchMerging>(dim, c.v2));
    }
    const int64_t num_features = c.embed_dim << (c.depths.size() - 1);
    norm_ = register_module("norm", layer_norm(num_features));
    permute_ = register_module("permute", std::make_shared<Permute>(std::vector<int64_t>{0, 3, 1, 2}));
    avgpool_ = register_module("avgpool", torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions(1)));
    flatten_ = register_module("flatten", torch::nn::Flatten(torch::nn::FlattenOptions().start_dim(1)));
    head_ = register_module("head", torch::nn::Linear(num_features, num_classes));
    // torchvision: every linear layer truncated-normal(0, 0.02) with zero bias (overriding the MLPs' own init).
    torch::NoGradGuard no_grad;
    for_each_module<torch::nn::LinearImpl>(*this, [](torch::nn::LinearImpl& linear) {
      trunc_normal_(linear.weight, 0.02);
      if (linear.bias.defined()) torch::nn::init::zeros_(linear.bias);
    });
  }

  torch::Tensor forward(torch::Tensor x) override {
    x = call(permute_, call(norm_, call(features_, x)));
    return call(head_, call(flatten_, call(avgpool_, x)));
  }

 private:
  std::shared_ptr<Sequence> features_;
  torch::nn::LayerNorm norm_{nullptr};
  std::shared_ptr<Permute> permute_;
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
  torch::nn::Flatten flatten_{nullptr};
  torch::nn::Linear head_{nullptr};
};

ModelSpec swin(std::string name, SwinConfig config) {
  // Windows are padded to size: any input from the patch size up works.
  return {std::move(name), "swin", 4,
          [config](int64_t classes) { return std::make_shared<SwinTransformer>(config, classes); }};
}

}  // namespace

std::vector<ModelSpec> swin_transformer_models() {
  const std::array<int64_t, 4> tiny{2, 2, 6, 2}, deep{2, 2, 18, 2}, heads{3, 6, 12, 24}, base_heads{4, 8, 16, 32};
  return {
      swin("swin_t", {96, tiny, heads, 7, 0.2, false}),       swin("swin_s", {96, deep, heads, 7, 0.3, false}),
      swin("swin_b", {128, deep, base_heads, 7, 0.5, false}), swin("swin_v2_t", {96, tiny, heads, 8, 0.2, true}),
      swin("swin_v2_s", {96, deep, heads, 8, 0.3, true}),     swin("swin_v2_b", {128, deep, base_heads, 8, 0.5, true})};
}

}  // namespace trainmem::models
