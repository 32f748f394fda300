#pragma once
// The registry entries of each torchvision family beyond ResNet; each family lives in its own file, named as
// torchvision names it (torchvision/models/<family>.py), with the models in torchvision's order.
#include <vector>

#include "models/registry.h"

namespace trainmem::models {

std::vector<ModelSpec> alexnet_models();             // alexnet.cpp
std::vector<ModelSpec> vgg_models();                 // vgg.cpp: vgg11 ... vgg19_bn
std::vector<ModelSpec> squeezenet_models();          // squeezenet.cpp
std::vector<ModelSpec> mobilenet_models();           // mobilenet.cpp: mobilenet_v2, mobilenet_v3_large/small
std::vector<ModelSpec> mnasnet_models();             // mnasnet.cpp
std::vector<ModelSpec> shufflenet_models();          // shufflenetv2.cpp
std::vector<ModelSpec> efficientnet_models();        // efficientnet.cpp: b0 ... b7, v2_s/m/l
std::vector<ModelSpec> regnet_models();              // regnet.cpp
std::vector<ModelSpec> densenet_models();            // densenet.cpp
std::vector<ModelSpec> googlenet_models();           // googlenet.cpp
std::vector<ModelSpec> inception_models();           // inception.cpp
std::vector<ModelSpec> convnext_models();            // convnext.cpp
std::vector<ModelSpec> vision_transformer_models();  // vision_transformer.cpp
std::vector<ModelSpec> swin_transformer_models();    // swin_transformer.cpp: swin_t/s/b, swin_v2_t/s/b
std::vector<ModelSpec> maxvit_models();              // maxvit.cpp

}  // namespace trainmem::models
