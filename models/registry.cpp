#include "models/registry.h"

#include "models/families.h"
#include "models/module_scope.h"
#include "models/resnet.h"

namespace trainmem::models {
namespace {

// ResNets shrink their input 32-fold before pooling: anything smaller has no spatial extent left to design for.
constexpr int64_t kResNetMinResolution = 32;

ModelSpec resnet(std::string name, ResNetConfig config) {
  return {std::move(name), "resnet", kResNetMinResolution,
          [config](int64_t classes) { return make_resnet(config, classes); }};
}

std::vector<ModelSpec> make_registry() {
  const std::array<int, 4> r18{2, 2, 2, 2}, r34{3, 4, 6, 3}, r101{3, 4, 23, 3}, r152{3, 8, 36, 3};
  std::vector<ModelSpec> specs{
      resnet("resnet18", {false, r18}),
      resnet("resnet34", {false, r34}),
      resnet("resnet50", {true, r34}),
      resnet("resnet101", {true, r101}),
      resnet("resnet152", {true, r152}),
      resnet("resnext50_32x4d", {true, r34, 32, 4}),
      resnet("resnext101_32x8d", {true, r101, 32, 8}),
      resnet("resnext101_64x4d", {true, r101, 64, 4}),
      resnet("wide_resnet50_2", {true, r34, 1, 128}),
      resnet("wide_resnet101_2", {true, r101, 1, 128}),
  };
  for (auto family : {alexnet_models, vgg_models, squeezenet_models, mobilenet_models, mnasnet_models,
                      shufflenet_models, efficientnet_models, regnet_models, densenet_models, googlenet_models,
                      inception_models, convnext_models, vision_transformer_models, swin_transformer_models,
                      maxvit_models}) {
    for (auto& spec : family()) specs.push_back(std::move(spec));
  }
  return specs;
}

}  // namespace

const std::vector<ModelSpec>& registry() {
  static const std::vector<ModelSpec> specs = make_registry();
  return specs;
}

const ModelSpec* find_model(const std::string& name) {
  for (const auto& spec : registry()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

std::string model_names() {
  std::string names;
  for (const auto& spec : registry()) names += (names.empty() ? "" : ", ") + spec.name;
  return names;
}

std::shared_ptr<Classifier> build_model(const ModelSpec& spec, int64_t num_classes) {
  auto model = spec.build(num_classes);
  assign_module_paths(*model);
  return model;
}

}  // namespace trainmem::models
