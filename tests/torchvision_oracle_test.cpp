// Our C++ models equal torchvision's: same parameter names, shapes and counts, and the same eval-mode
// output on the same weights and input (torchvision from the pinned wheel is the oracle). CI checks the models of
// tests/oracle/ci_models.txt, exported by one Python process (the ctest fixture torchvision_oracle_export);
// scripts/check-all-models.sh runs the disabled suite that checks every model.
#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>
#include <torch/nn/module.h>
#include <torch/types.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include "models/registry.h"

namespace trainmem {
namespace {

namespace fs = std::filesystem;

struct OracleCase {
  std::string model;
  int resolution = 32;
};
void PrintTo(const OracleCase& c, std::ostream* out) { *out << c.model << " at " << c.resolution << " px"; }

struct OracleDump {
  int64_t parameter_count = 0;
  std::map<std::string, torch::Tensor> tensors;
};

OracleDump read_dump(const fs::path& dir) {
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
  return dump;
}

// torchvision's weights, input and output for `c`: from the ctest fixture's export when it holds them
// (TRAINMEM_ORACLE_DIR), else exported now.
OracleDump torchvision_dump(const OracleCase& c) {
  const std::string entry = c.model + "-" + std::to_string(c.resolution);
  if (const char* exported = std::getenv("TRAINMEM_ORACLE_DIR"); exported && fs::exists(fs::path(exported) / entry)) {
    return read_dump(fs::path(exported) / entry);
  }
  const fs::path dir = fs::temp_directory_path() / ("trainmem-oracle-" + std::to_string(::getpid()));
  const std::string command = std::string(TRAINMEM_PYTHON) + " " + TRAINMEM_SOURCE_DIR +
                              "/tests/oracle/export_torchvision.py " + dir.string() + " " + c.model + ":" +
                              std::to_string(c.resolution);
  if (std::system(command.c_str()) != 0) throw std::runtime_error("oracle export failed: " + command);
  OracleDump dump = read_dump(dir / entry);
  fs::remove_all(dir);
  return dump;
}

void expect_equal_to_torchvision(const OracleCase& c) {
  OracleDump oracle = torchvision_dump(c);
  auto model = models::build_model(*models::find_model(c.model));
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
  EXPECT_LE(relative_error, 1e-4) << c.model;
}

std::vector<OracleCase> ci_cases() {
  const std::string path = std::string(TRAINMEM_SOURCE_DIR) + "/tests/oracle/ci_models.txt";
  std::ifstream list(path);
  if (!list) throw std::runtime_error("cannot read " + path);
  std::vector<OracleCase> cases;
  for (std::string line; std::getline(list, line);) {
    if (line.empty() || line[0] == '#') continue;
    OracleCase c;
    std::istringstream(line) >> c.model >> c.resolution;
    cases.push_back(c);
  }
  return cases;
}

std::string case_name(const ::testing::TestParamInfo<OracleCase>& info) { return info.param.model; }

class TorchvisionOracle : public ::testing::TestWithParam<OracleCase> {};
TEST_P(TorchvisionOracle, EqualsTorchvision) { expect_equal_to_torchvision(GetParam()); }
INSTANTIATE_TEST_SUITE_P(Families, TorchvisionOracle, ::testing::ValuesIn(ci_cases()), case_name);

// In train mode GoogLeNet and Inception v3 also return their auxiliary heads' logits, as torchvision does.
TEST(TrainMode, AuxiliaryHeadsReturnTheirLogits) {
  for (const auto& [name, resolution, heads] : {std::tuple{"googlenet", 64, 3}, {"inception_v3", 299, 2}}) {
    auto model = models::build_model(*models::find_model(name), 10);
    model->train();
    const auto outputs = model->forward_with_auxiliary(torch::randn({2, 3, resolution, resolution}));
    ASSERT_EQ(static_cast<int>(outputs.size()), heads) << name;
    for (const auto& logits : outputs) EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{2, 10})) << name;
    model->eval();
    torch::NoGradGuard no_grad;
    EXPECT_EQ(model->forward_with_auxiliary(torch::randn({2, 3, resolution, resolution})).size(), 1u) << name;
  }
}

// Dropout and stochastic depth act in train mode only: two train-mode forwards differ, two eval-mode ones agree.
TEST(TrainMode, DropoutAndStochasticDepthAreRandomInTrainingOnly) {
  for (const std::string name : {"efficientnet_b0", "convnext_tiny", "swin_t"}) {
    torch::manual_seed(0);
    auto model = models::build_model(*models::find_model(name), 10);
    const torch::Tensor input = torch::randn({8, 3, 32, 32});
    torch::NoGradGuard no_grad;
    model->train();
    EXPECT_FALSE(torch::equal(model->forward(input), model->forward(input))) << name;
    model->eval();
    EXPECT_TRUE(torch::equal(model->forward(input), model->forward(input))) << name;
  }
}

// Every registered model at the smallest resolution it takes (at least 32 px); slow, hence disabled in CI.
std::vector<OracleCase> every_case() {
  std::vector<OracleCase> cases;
  for (const auto& spec : models::registry()) {
    cases.push_back({spec.name, static_cast<int>(std::max<int64_t>(32, spec.min_resolution))});
  }
  return cases;
}
INSTANTIATE_TEST_SUITE_P(DISABLED_EveryModel, TorchvisionOracle, ::testing::ValuesIn(every_case()), case_name);

}  // namespace
}  // namespace trainmem
