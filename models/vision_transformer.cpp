// Vision Transformers B/16, B/32, L/16, L/32 and H/14 as torchvision builds them without weights
// (torchvision/models/vision_transformer.py): 224 px images, the only size their position embedding fits.
#include <torch/nn/init.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/normalization.h>

#include <cmath>
#include <stdexcept>

#include "models/families.h"
#include "models/layers.h"

namespace trainmem::models {
namespace {

constexpr int64_t kImageSize = 224;

torch::nn::LayerNorm layer_norm(int64_t dim) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-6));
}

class EncoderBlock final : public torch::nn::Module {
 public:
  EncoderBlock(int64_t heads, int64_t hidden, int64_t mlp_dim, double dropout, double attention_dropout)
      : torch::nn::Module("EncoderBlock"),
        ln_1_(register_module("ln_1", layer_norm(hidden))),
        self_attention_(
            register_module("self_attention", std::make_shared<MultiheadAttention>(hidden, heads, attention_dropout))),
        dropout_(register_module("dropout", torch::nn::Dropout(dropout))),
        ln_2_(register_module("ln_2", layer_norm(hidden))),
        mlp_(register_module("mlp", mlp(hidden, {mlp_dim, hidden}, Act::kGELU, dropout, "MLPBlock"))) {
    torch::NoGradGuard no_grad;
    for_each_module<torch::nn::LinearImpl>(*mlp_, [](torch::nn::LinearImpl& linear) {
      torch::nn::init::xavier_uniform_(linear.weight);
      torch::nn::init::normal_(linear.bias, 0, 1e-6);
    });
  }

  torch::Tensor forward(torch::Tensor input) {
    torch::Tensor x = call(self_attention_, call(ln_1_, input));
    x = call(dropout_, x);
    x = x + input;
    const torch::Tensor y = call(mlp_, call(ln_2_, x));
    return x + y;
  }

 private:
  torch::nn::LayerNorm ln_1_;
  std::shared_ptr<MultiheadAttention> self_attention_;
  torch::nn::Dropout dropout_;
  torch::nn::LayerNorm ln_2_;
  std::shared_ptr<Sequence> mlp_;
};

class Encoder final : public torch::nn::Module {
 public:
  Encoder(int64_t seq_length, int64_t layers, int64_t heads, int64_t hidden, int64_t mlp_dim, double dropout,
          double attention_dropout)
      : torch::nn::Module("Encoder") {
    pos_embedding_ = register_parameter("pos_embedding", torch::empty({1, seq_length, hidden}).normal_(0, 0.02));
    dropout_ = register_module("dropout", torch::nn::Dropout(dropout));
    layers_ = register_module("layers", std::make_shared<Sequence>());
    for (int64_t i = 0; i < layers; ++i) {
      layers_->add("encoder_layer_" + std::to_string(i),
                   std::make_shared<EncoderBlock>(heads, hidden, mlp_dim, dropout, attention_dropout));
    }
    ln_ = register_module("ln", layer_norm(hidden));
  }

  torch::Tensor forward(torch::Tensor input) {
    input = input + pos_embedding_;
    return call(ln_, call(layers_, call(dropout_, input)));
  }

 private:
  torch::Tensor pos_embedding_;
  torch::nn::Dropout dropout_{nullptr};
  std::shared_ptr<Sequence> layers_;
  torch::nn::LayerNorm ln_{nullptr};
};

struct ViTConfig {
  int64_t patch_size, layers, heads, hidden, mlp_dim;
};

class VisionTransformer final : public Classifier {
 public:
  VisionTransformer(const ViTConfig& c, int64_t num_classes, double dropout = 0.0, double attention_dropout = 0.0)
      : config_(c) {
    conv_proj_ = register_module("conv_proj", conv2d(3, c.hidden, c.patch_size, c.patch_size));
    const int64_t seq_length = (kImageSize / c.patch_size) * (kImageSize / c.patch_size) + 1;
    class_token_ = register_parameter("class_token", torch::zeros({1, 1, c.hidden}));
    encoder_ = register_module("encoder", std::make_shared<Encoder>(seq_length, c.layers, c.heads, c.hidden, c.mlp_dim,
                                                                    dropout, attention_dropout));
    heads_ = register_module("heads", std::make_shared<Sequence>());
    auto head = heads_->add("head", torch::nn::Linear(c.hidden, num_classes));
    torch::NoGradGuard no_grad;
    const double fan_in = static_cast<double>(3 * c.patch_size * c.patch_size);
    trunc_normal_(conv_proj_->weight, std::sqrt(1 / fan_in));
    torch::nn::init::zeros_(conv_proj_->bias);
    torch::nn::init::zeros_(head->weight);
    torch::nn::init::zeros_(head->bias);
  }

  torch::Tensor forward(torch::Tensor x) override {
    const int64_t n = x.size(0), h = x.size(2), w = x.size(3), p = config_.patch_size;
    if (h != kImageSize || w != kImageSize) {
      throw std::invalid_argument("vision transformers take " + std::to_string(kImageSize) + " px images only, got " +
                                  std::to_string(h) + "x" + std::to_string(w));
    }
    x = call(conv_proj_, x);
    x = x.reshape({n, config_.hidden, (h / p) * (w / p)}).permute({0, 2, 1});
    x = torch::cat({class_token_.expand({n, -1, -1}), x}, 1);
    x = call(encoder_, x);
    return call(heads_, x.select(1, 0));
  }

 private:
  ViTConfig config_;
  torch::nn::Conv2d conv_proj_{nullptr};
  torch::Tensor class_token_;
  std::shared_ptr<Encoder> encoder_;
  std::shared_ptr<Sequence> heads_;
};

ModelSpec vit(std::string name, ViTConfig config) {
  return {std::move(name), "vit", kImageSize,
          [config](int64_t classes) { return std::make_shared<VisionTransformer>(config, classes); }, kImageSize};
}

}  // namespace

std::vector<ModelSpec> vision_transformer_models() {
  // patch size, layers, heads, hidden dim, MLP dim
  return {vit("vit_b_16", {16, 12, 12, 768, 3072}), vit("vit_b_32", {32, 12, 12, 768, 3072}),
          vit("vit_l_16", {16, 24, 16, 1024, 4096}), vit("vit_l_32", {32, 24, 16, 1024, 4096}),
          vit("vit_h_14", {14, 32, 16, 1280, 5120})};
}

}  // namespace trainmem::models
