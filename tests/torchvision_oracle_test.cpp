// Our C++ models equal torchvision's: same parameter names, shapes and counts, and the same eval-mode
// output on the same weights and input (torchvision from the pinned wheel is the oracle).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "models/registry.h"

namespace trainmem {
namespace {

namespace fs = std::filesystem;

struct OracleDump {
  int64_t parameter_count = 0;
  std::map<std::string, torch::Tensor> tensors;
};

OracleDump export_from_torchvision(const std::string& model, int resolution) {
  const fs::path dir = fs::temp_directory_path() / ("trainmem-oracle-" + model);
  fs::create_directories(dir);
  const std::string command = std::string(TRAINMEM_PYTHON) + " " + TRAINMEM_SOURCE_DIR +
                              "/tests/oracle/export_torchvision.py " + model + " " + std::to_string(resolution) +
                              " " + dir.string();
  if (std::system(command.c_str()) != 0) throw std::runtime_error("oracle export failed: " + command);
  std::ifstream index_file(dir / "index.json");
  const auto index = nlohmann::json::parse(index_file);
  std::ifstream blob(dir / "tensors.bin", std::ios::binary);
  OracleDump dump;
  dump.parameter_count = index.at("parameter_count");
  for (const auto& entry : index.at("tensors")) {
    const auto dtype = entry.at("dtype") == "torch.int64" ? torch::kLong : torch::kFloat;
    torch::Tensor t = torch::empty(entry.at("shape").get<std::vector<int64_t>>(), dtype);
    blob.seekg(entry.at("offset").get<int64_t>());
    blob.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes()));
    dump.tensors[entry.at("name")] = t;
  }
  fs::remove_all(dir);
  return dump;
}

void expect_equal_to_torchvision(const std::string& name) {
  OracleDump oracle = export_from_torchvision(name, 32);
  auto model = models::build_model(*models::find_model(name));
  int64_t count = 0;
  for (const auto& p : model->parameters()) count += p.numel();
  EXPECT_EQ(count, oracle.parameter_count);

  size_t state_entries = 0;
  torch::NoGradGuard no_grad;
  for (const auto& entries : {model->named_parameters(), model->named_buffers()}) {
    for (const auto& entry : entries) {
      const std::string& key = entry.key();
      ASSERT_TRUE(oracle.tensors.count(key)) << "torchvision's state_dict has no " << key;
      ASSERT_EQ(entry.value().sizes(), oracle.tensors[key].sizes()) << key;
      entry.value().copy_(oracle.tensors[key]);
      ++state_entries;
    }
  }
  EXPECT_EQ(state_entries + 2, oracle.tensors.size()) << "state_dict sizes differ (beyond input and output)";

  model->eval();
  const torch::Tensor expected = oracle.tensors["output"];
  const torch::Tensor actual = model->forward(oracle.tensors["input"]);
  const double relative_error = ((actual - expected).norm() / expected.norm()).item<double>();
  EXPECT_LE(relative_error, 1e-4) << name;
}

TEST(TorchvisionOracle, ResNet18) { expect_equal_to_torchvision("resnet18"); }
TEST(TorchvisionOracle, ResNet50) { expect_equal_to_torchvision("resnet50"); }
TEST(TorchvisionOracle, ResNeXt50) { expect_equal_to_torchvision("resnext50_32x4d"); }

}  // namespace
}  // namespace trainmem
