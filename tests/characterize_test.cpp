// `trainmem characterize` end to end: the rows and files it writes, the affine law it extrapolates with, checked
// against a real measurement at the target batch, and its activation bytes against what torchvision saves for
// backward (tests/oracle/saved_for_backward.py).
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "tests/cli_runner.h"

namespace trainmem {
namespace {

namespace fs = std::filesystem;
using testing::slurp;

class Characterize : public testing::CliTest {
 protected:
  testing::Outcome characterize(const std::string& args) { return run("characterize " + args); }

  // Activation bytes of resnet18 at 32 px and `batch`, measured or extrapolated (`extra` options).
  int64_t activation_bytes(int64_t batch, const std::string& extra = "") {
    const testing::Outcome outcome =
        characterize("--models resnet18 --resolution 32 --batch " + std::to_string(batch) + " --json " + extra);
    EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
    return nlohmann::json::parse(outcome.out).at(0).at("activation_bytes").get<int64_t>();
  }
};

TEST_F(Characterize, MeasuresEachModelAndWritesRowsSortedByActivationShare) {
  const fs::path csv = dir_ / "rows.csv";
  const testing::Outcome outcome =
      characterize("--models resnet18,mobilenet_v2 --batch 4 --resolution 32 --json --out " + csv.string());
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  const auto rows = nlohmann::json::parse(outcome.out);
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& row : rows) {
    EXPECT_EQ(row["batch"], 4);
    const auto parameters = row["parameter_bytes"].get<int64_t>(), activations = row["activation_bytes"].get<int64_t>();
    EXPECT_GT(activations, 0);
    EXPECT_DOUBLE_EQ(row["activation_share"].get<double>(),
                     static_cast<double>(activations) / static_cast<double>(activations + parameters));
    const std::map<std::string, int64_t> torchvision_parameters{{"resnet18", 11'689'512}, {"mobilenet_v2", 3'504'872}};
    EXPECT_EQ(parameters, 4 * torchvision_parameters.at(row["model"].get<std::string>()));
  }
  EXPECT_GE(rows[0]["activation_share"].get<double>(), rows[1]["activation_share"].get<double>());

  const std::string file = slurp(csv);
  EXPECT_EQ(file.rfind("model,batch,resolution,parameter_bytes,activation_bytes,activation_share,method\n", 0), 0u);
  EXPECT_NE(file.find(rows[0]["model"].get<std::string>() + ",4,32," +
                      std::to_string(rows[0]["parameter_bytes"].get<int64_t>()) + "," +
                      std::to_string(rows[0]["activation_bytes"].get<int64_t>())),
            std::string::npos)
      << file;
}

TEST_F(Characterize, AffineLawFromTwoSmallBatchesPredictsTheMeasurement) {
  const int64_t measured = activation_bytes(8);
  const int64_t extrapolated = activation_bytes(8, "--extrapolate-from 2");
  // Exact: every activation's size is affine in the batch (batch norm's saved statistics are the intercept).
  EXPECT_EQ(extrapolated, measured);
  const testing::Outcome table = characterize("--models resnet18 --resolution 32 --batch 8 --extrapolate-from 2");
  EXPECT_NE(table.out.find("extrapolated with S(B) = a + b·B from batches 2 and 4"), std::string::npos) << table.out;
}

// The sweep goes on past a model that does not fit, and the command ends saying which did not.
TEST_F(Characterize, ReportsAModelThatDoesNotFitAndMeasuresTheRest) {
  const testing::Outcome outcome =
      characterize("--models vgg11,resnet18 --batch 2 --resolution 32 --budget 200MiB --json");
  EXPECT_EQ(outcome.exit_code, 3) << outcome.err;
  EXPECT_EQ(outcome.err, "trainmem: ran out of memory measuring vgg11 (in init: the parameters alone do not fit)\n");
  const auto rows = nlohmann::json::parse(outcome.out);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["model"], "resnet18");
  EXPECT_GT(rows[0]["activation_bytes"].get<int64_t>(), 0);
  EXPECT_EQ(rows[1]["model"], "vgg11");
  EXPECT_FALSE(rows[1].contains("parameter_bytes"));
  EXPECT_FALSE(rows[1].contains("activation_bytes"));
  EXPECT_EQ(rows[1]["out_of_memory"], "in init: the parameters alone do not fit");
}

// A model that fails for another reason (batch norm refuses a batch of 1 where the map is 1 x 1) gets its
// row too, and the sweep goes on.
TEST_F(Characterize, ReportsAModelThatFailsAndMeasuresTheRest) {
  const testing::Outcome outcome = characterize("--models resnet18,squeezenet1_1 --batch 1 --resolution 32 --json");
  EXPECT_EQ(outcome.exit_code, 1) << outcome.err;
  EXPECT_EQ(outcome.err,
            "trainmem: failed measuring resnet18 (Expected more than 1 value per channel when training, got input "
            "size [1, 512, 1, 1])\n");
  const auto rows = nlohmann::json::parse(outcome.out);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["model"], "squeezenet1_1");
  EXPECT_GT(rows[0]["activation_bytes"].get<int64_t>(), 0);
  EXPECT_EQ(rows[1]["model"], "resnet18");
  EXPECT_FALSE(rows[1].contains("activation_bytes"));
  EXPECT_EQ(rows[1]["error"].get<std::string>().rfind("Expected more than 1 value per channel", 0), 0u) << rows[1];
}

// Activations as `profile` defines them are what autograd keeps for backward: the same storages torchvision
// saves, except the 4-byte loss, which our forward phase holds and no backward node saves. Models: plain
// convolutions, squeeze-excitation with stochastic depth, auxiliary heads computed and dropped, window attention.
TEST_F(Characterize, ActivationBytesAreTorchvisionsSavedForBackwardBytes) {
  const testing::Outcome outcome =
      characterize("--models resnet18,efficientnet_b0,googlenet,swin_t --batch 2 --resolution 32 --json");
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  std::string oracle_command =
      std::string(TRAINMEM_PYTHON) + " " + TRAINMEM_SOURCE_DIR + "/tests/oracle/saved_for_backward.py";
  std::map<std::string, int64_t> ours;
  for (const auto& row : nlohmann::json::parse(outcome.out)) {
    ours[row["model"]] = row["activation_bytes"];
    oracle_command.append(" ").append(row["model"]).append(":2:").append(std::to_string(row["resolution"].get<int>()));
  }
  oracle_command += " >" + (dir_ / "oracle.jsonl").string() + " 2>/dev/null";
  ASSERT_EQ(std::system(oracle_command.c_str()), 0) << oracle_command;
  std::ifstream oracle(dir_ / "oracle.jsonl");
  size_t compared = 0;
  for (std::string line; std::getline(oracle, line); ++compared) {
    const auto saved = nlohmann::json::parse(line);
    EXPECT_EQ(ours.at(saved["model"]), saved["saved_bytes"].get<int64_t>() + 4) << saved["model"];
  }
  EXPECT_EQ(compared, ours.size());
}

TEST_F(Characterize, RejectsBadInputWithOneLine) {
  for (const std::string args : {"--models nosuchnet", "--models resnet18 --out rows.txt",
                                 "--models resnet18 --extrapolate-from -1", "--models resnet18 --resolution 0"}) {
    const testing::Outcome outcome = characterize(args);
    EXPECT_EQ(outcome.exit_code, 2) << args << "\n" << outcome.err;
    EXPECT_EQ(std::count(outcome.err.begin(), outcome.err.end(), '\n'), 1) << outcome.err;
  }
}

}  // namespace
}  // namespace trainmem
