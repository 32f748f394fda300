// The trainmem binary end to end: a real profile of resnet18 at a tiny size, analyze == live, and one
// clear line with a non-zero exit code for every kind of bad input.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "tests/cli_runner.h"

namespace trainmem {
namespace {

namespace fs = std::filesystem;

using testing::Outcome;
using testing::slurp;

class Cli : public testing::CliTest {
 protected:
  // A bad input: exit code 1..127, exactly one line on stderr that names the problem.
  void expect_clear_failure(const std::string& args, const std::string& mentions, int code = 2) {
    const Outcome outcome = run(args);
    EXPECT_EQ(outcome.exit_code, code) << args << "\n" << outcome.err;
    EXPECT_EQ(std::count(outcome.err.begin(), outcome.err.end(), '\n'), 1) << outcome.err;
    EXPECT_NE(outcome.err.find(mentions), std::string::npos) << outcome.err;
  }
};

nlohmann::json read_json(const fs::path& path) {
  std::ifstream file(path);
  return nlohmann::json::parse(file);
}

TEST_F(Cli, ProfilesResNet18AndAnalyzeReproducesTheSummary) {
  const fs::path out = dir_ / "run";
  Outcome profile = run("profile --model resnet18 --batch 2 --resolution 32 --steps 2 --out " + out.string());
  ASSERT_EQ(profile.exit_code, 0) << profile.err;
  EXPECT_NE(profile.out.find("forward peak"), std::string::npos) << profile.out;

  const auto summary = read_json(out / "summary.json");
  EXPECT_EQ(summary["model"], "resnet18");
  EXPECT_EQ(summary["parameter_count"], 11'689'512);
  EXPECT_EQ(summary["parameter_bytes"], 4 * 11'689'512);
  EXPECT_EQ(summary["measured_parameter_bytes"], 4 * 11'689'512);
  int64_t category_sum = 0;
  for (const auto& [name, bytes] : summary["categories_at_peak"].items()) category_sum += bytes.get<int64_t>();
  EXPECT_EQ(category_sum, summary["peak_bytes"].get<int64_t>());
  EXPECT_GT(summary["activation_bytes"].get<int64_t>(), 0);
  EXPECT_GE(summary["categories_at_peak"]["optimizer_state"].get<int64_t>(), 0);
  const auto& points = summary["points"];
  EXPECT_LE(points["init"].get<int64_t>(), points["input"].get<int64_t>());
  EXPECT_LT(points["input"].get<int64_t>(), points["forward_peak"].get<int64_t>());
  EXPECT_LE(points["forward_peak"].get<int64_t>(), summary["peak_bytes"].get<int64_t>());

  // profile writes events.csv beside events.bin, and `export` writes the same file from events.bin.
  const fs::path exported = dir_ / "exported.csv";
  ASSERT_EQ(run("export " + out.string() + " --out " + exported.string()).exit_code, 0);
  EXPECT_EQ(slurp(exported), slurp(out / "events.csv"));

  // The running sum of events.csv's bytes column reaches exactly peak_bytes.
  std::ifstream events(out / "events.csv");
  std::string line;
  std::getline(events, line);
  EXPECT_EQ(line.rfind("seq,time_ns,kind,device,bytes,address,phase,step,module,op", 0), 0u) << line;
  int64_t live = 0, peak = 0, rows = 0;
  while (std::getline(events, line)) {
    std::stringstream fields(line);
    std::string field;
    for (int i = 0; i < 5; ++i) std::getline(fields, field, ',');
    live += std::stoll(field);
    peak = std::max(peak, live);
    ++rows;
  }
  EXPECT_EQ(peak, summary["peak_bytes"].get<int64_t>());
  EXPECT_GE(rows, summary["events"].get<int64_t>());

  const std::string layers = slurp(out / "layers.csv");
  EXPECT_EQ(layers.rfind("module,type,weight_bytes,input_shape,input_bytes,activation_bytes", 0), 0u);
  EXPECT_NE(layers.find("layer1.0.conv1,Conv2d,147456,2x64x8x8,32768,"), std::string::npos) << layers;

  const fs::path again = dir_ / "again";
  Outcome analyze = run("analyze " + out.string() + " --out " + again.string());
  ASSERT_EQ(analyze.exit_code, 0) << analyze.err;
  EXPECT_EQ(slurp(again / "summary.json"), slurp(out / "summary.json"));
  EXPECT_EQ(slurp(again / "layers.csv"), slurp(out / "layers.csv"));
}

TEST_F(Cli, ListsModelsWithParameterCounts) {
  Outcome models = run("models --json");
  ASSERT_EQ(models.exit_code, 0) << models.err;
  const auto list = nlohmann::json::parse(models.out);
  ASSERT_FALSE(list.empty());
  EXPECT_EQ(list[0]["name"], "resnet18");
  EXPECT_EQ(list[0]["parameter_count"], 11'689'512);
}

TEST_F(Cli, RejectsAnUnknownModelNamingTheValidOnes) {
  expect_clear_failure("profile --model resnet19 --out " + (dir_ / "x").string(), "resnet18, resnet34");
  EXPECT_FALSE(fs::exists(dir_ / "x"));
}
TEST_F(Cli, RejectsANonPositiveBatch) { expect_clear_failure("profile --batch 0", "--batch must be positive"); }
TEST_F(Cli, RejectsATooSmallResolution) { expect_clear_failure("profile --resolution 8", "too small for resnet18"); }
TEST_F(Cli, RejectsAnUnknownFlag) { expect_clear_failure("profile --frobnicate", "frobnicate"); }
TEST_F(Cli, RejectsAnUnwritableOutputDirectory) {
  expect_clear_failure("profile --batch 2 --resolution 32 --steps 1 --out /proc/trainmem-out", "/proc/trainmem-out");
}

TEST_F(Cli, ReportsOutOfMemoryWithPhaseAndRecordsTheRunUpToIt) {
  const fs::path out = dir_ / "huge";
  // 200k images of 224 x 224 need ~112 GiB for the batch alone.
  expect_clear_failure("profile --batch 200000 --steps 1 --out " + out.string(), "out of memory in input (step 1)", 3);
  const auto failure = read_json(out / "summary.json")["out_of_memory"];
  EXPECT_EQ(failure["phase"], "input");
  EXPECT_EQ(failure["requested_bytes"].get<int64_t>(), int64_t{200000} * 3 * 224 * 224 * 4);
  EXPECT_EQ(failure["live_by_category"]["parameters"].get<int64_t>(), 4 * 11'689'512 + 9'600 * 4 + 20 * 8);
  for (const auto& entry : fs::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().filename().string().find("partial"), std::string::npos) << entry.path();
  }
}

// The allocation that first takes live bytes past `budget` in a recorded run: its phase, module and sizes.
struct Crossing {
  std::string phase, module;
  int64_t requested = 0, live = 0;
};
Crossing first_crossing(const fs::path& events_csv, int64_t budget) {
  std::ifstream events(events_csv);
  std::string line;
  std::getline(events, line);  // seq,time_ns,kind,device,bytes,address,phase,step,module,op,tag
  int64_t live = 0;
  while (std::getline(events, line)) {
    std::vector<std::string> fields;
    std::stringstream row(line);
    for (std::string field; std::getline(row, field, ',');) fields.push_back(field);
    const int64_t bytes = std::stoll(fields[4]);
    if (fields[2] == "alloc" && live + bytes > budget) return {fields[6], fields[8], bytes, live};
    live += bytes;
  }
  return {};
}

TEST_F(Cli, BudgetOverrunIsCaughtAtTheAllocationThatCrossesItAndNamesItsModule) {
  const std::string settings = "profile --batch 2 --resolution 32 --steps 1 --out ";
  ASSERT_EQ(run(settings + (dir_ / "free").string()).exit_code, 0);
  const auto points = read_json(dir_ / "free" / "summary.json")["points"];
  // Halfway up the forward pass: the run without a budget shows which allocation crosses it.
  const int64_t budget = (points["input"].get<int64_t>() + points["forward_peak"].get<int64_t>()) / 2;
  const Crossing expected = first_crossing(dir_ / "free" / "events.csv", budget);
  ASSERT_EQ(expected.phase, "forward");

  const fs::path out = dir_ / "budget";
  expect_clear_failure(settings + out.string() + " --budget " + std::to_string(budget) + "B",
                       "module " + expected.module, 3);
  const auto failure = read_json(out / "summary.json")["out_of_memory"];
  EXPECT_EQ(failure["phase"], expected.phase);
  EXPECT_EQ(failure["module"], expected.module);
  EXPECT_EQ(failure["requested_bytes"].get<int64_t>(), expected.requested);
  EXPECT_EQ(failure["live_bytes"].get<int64_t>(), expected.live);
  EXPECT_EQ(failure["limit_bytes"].get<int64_t>(), budget);
  EXPECT_EQ(read_json(out / "summary.json")["budget_bytes"].get<int64_t>(), budget);
  Outcome again = run("analyze " + out.string() + " --out " + (dir_ / "again").string());
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(slurp(dir_ / "again" / "summary.json"), slurp(out / "summary.json"));
}

TEST_F(Cli, FitPredictsABatchThatARealRunConfirms) {
  Outcome fit = run("fit --json --resolution 32 --steps 2 --budget 200MiB --compress none,2");
  ASSERT_EQ(fit.exit_code, 0) << fit.err;
  const auto rows = nlohmann::json::parse(fit.out);
  ASSERT_EQ(rows.size(), 2u) << fit.out;
  for (const auto& row : rows) {
    EXPECT_GT(row["batch"].get<int64_t>(), 4) << row;
    EXPECT_TRUE(row["confirmed"].get<bool>()) << row;
    EXPECT_LE(row["measured_peak_bytes"].get<int64_t>(), int64_t{200} << 20) << row;
    // The law from two small batches may overshoot (docs/cli.md); the search that follows never goes above it,
    // and ends at a batch that fills the budget.
    EXPECT_LE(row["batch"].get<int64_t>(), row["predicted_batch"].get<int64_t>()) << row;
    EXPECT_GE(row["measured_peak_bytes"].get<double>(), 0.98 * (200 << 20)) << row;
  }
  EXPECT_GT(rows[1]["batch_gain"].get<int64_t>(), 0) << "compression fits more samples";
}

// A compressed conv is a custom autograd function: its backward still counts for its module, as a stock one does.
TEST_F(Cli, BackwardOfCompressedLayersIsAttributedToTheirModules) {
  const fs::path out = dir_ / "run";
  ASSERT_EQ(run("profile --batch 2 --resolution 32 --steps 1 --compress 2 --out " + out.string()).exit_code, 0);
  std::ifstream events(out / "events.csv");
  std::string line;
  std::getline(events, line);
  int convolution_backwards = 0, pooled_backwards = 0;
  while (std::getline(events, line)) {
    std::vector<std::string> fields;
    std::stringstream row(line);
    for (std::string field; std::getline(row, field, ',');) fields.push_back(field);
    fields.resize(11);  // seq,time_ns,kind,device,bytes,address,phase,step,module,op,tag
    if (fields[2] != "alloc" || fields[6] != "backward") continue;
    // In backward the op is the autograd node: stock convs' and compressed convs' (the custom function's).
    const bool pooled = fields[9] == "PooledConv2dFunction";
    if (!pooled && fields[9] != "ConvolutionBackward0") continue;
    ++convolution_backwards;
    pooled_backwards += pooled ? 1 : 0;
    EXPECT_FALSE(fields[8].empty()) << line;
  }
  EXPECT_GT(convolution_backwards, 20);  // resnet18 has 20 convs
  EXPECT_GT(pooled_backwards, 0);
}

TEST_F(Cli, RejectsAnUnknownGpu) { expect_clear_failure("fit --gpus rtx9999", "rtx4090"); }

TEST_F(Cli, RejectsABadBudget) { expect_clear_failure("profile --budget 12XB", "12XB"); }

TEST_F(Cli, CompareShowsCompressionSavingRealMemoryWithAnUnchangedLoss) {
  Outcome full = run("compare --json --batch 2 --resolution 32 --steps 1 --compress none,2,4 --out " +
                     (dir_ / "full.json").string());
  ASSERT_EQ(full.exit_code, 0) << full.err;
  const auto rows = nlohmann::json::parse(full.out);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(read_json(dir_ / "full.json"), rows);
  for (const auto& row : rows) EXPECT_EQ(row["loss"], rows[0]["loss"]) << "the forward pass must not change";
  EXPECT_GT(rows[1]["reduction"].get<double>(), 0.1);
  EXPECT_GT(rows[2]["reduction"].get<double>(), rows[1]["reduction"].get<double>());
  EXPECT_GT(rows[1]["analytic_reduction"].get<double>(), 0.0);

  // The paper's operator alone: the ReLU keeps the full tensor, so the pooled copy is extra memory.
  Outcome conv_only = run("compare --json --batch 2 --resolution 32 --steps 1 --compress 2 --compress-mode conv-only "
                          "--out " + (dir_ / "conv-only.json").string());
  ASSERT_EQ(conv_only.exit_code, 0) << conv_only.err;
  const auto conv_rows = nlohmann::json::parse(conv_only.out);
  ASSERT_EQ(conv_rows.size(), 2u);  // the baseline is added
  EXPECT_LT(conv_rows[1]["reduction"].get<double>(), 0.0);
}

TEST_F(Cli, ProfileWithCompressionReportsAnalyticAndMeasuredSavings) {
  const fs::path out = dir_ / "run";
  Outcome profile = run("profile --batch 2 --resolution 32 --steps 1 --compress 2 --out " + out.string());
  ASSERT_EQ(profile.exit_code, 0) << profile.err;
  const auto compress = read_json(out / "summary.json")["compress"];
  EXPECT_EQ(compress["spec"], "2");
  EXPECT_GT(compress["measured_reduction"].get<double>(), 0.1);
  EXPECT_GT(compress["analytic_reduction"].get<double>(), 0.0);
  // layer1.0.conv1 sees 2x64x8x8: pooled at k=2 it keeps 2x64x4x4 floats, and so the trace measures.
  EXPECT_NE(slurp(out / "layers.csv").find("layer1.0.conv1,Conv2d,147456,2x64x8x8,32768,"), std::string::npos);
  EXPECT_NE(slurp(out / "layers.csv").find(",8192,2048,2,8192\n"), std::string::npos) << slurp(out / "layers.csv");
  Outcome again = run("analyze " + out.string() + " --out " + (dir_ / "again").string());
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(slurp(dir_ / "again" / "summary.json"), slurp(out / "summary.json"));
}

TEST_F(Cli, CompressionWorksOnGroupedBottleneckModelsToo) {
  const fs::path out = dir_ / "resnext";
  Outcome profile =
      run("profile --model resnext50_32x4d --batch 2 --resolution 32 --steps 1 --compress 2 --out " + out.string());
  ASSERT_EQ(profile.exit_code, 0) << profile.err;
  EXPECT_GT(read_json(out / "summary.json")["compress"]["measured_reduction"].get<double>(), 0.1);
}

TEST_F(Cli, SensitivityIsOneForExactLayersAndBelowForCompressedOnes) {
  const fs::path csv = dir_ / "sensitivity.csv";
  // At 64 px the last stage's maps are 2x2, so every conv but the stem really pools.
  Outcome outcome = run("sensitivity --batch 2 --resolution 64 --batches 2 --compress 2 --out " + csv.string());
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  std::ifstream rows(csv);
  std::string line;
  std::getline(rows, line);
  EXPECT_EQ(line, "module,k,cosine");
  int compressed = 0;
  while (std::getline(rows, line)) {
    const std::string module = line.substr(0, line.find(','));
    const int k = std::stoi(line.substr(line.find(',') + 1));
    const double cosine = std::stod(line.substr(line.rfind(',') + 1));
    if (k == 0) {
      EXPECT_NEAR(cosine, 1.0, 1e-6) << module;
    } else {
      EXPECT_LT(cosine, 0.999) << module;
      ++compressed;
    }
  }
  EXPECT_EQ(compressed, 19);
}

TEST_F(Cli, RejectsAnUnknownCompressionLayer) {
  expect_clear_failure("profile --batch 2 --resolution 32 --steps 1 --compress layer9.*=2 --out " + (dir_ / "x").string(),
                       "layer9.*");
  EXPECT_FALSE(fs::exists(dir_ / "x"));
}
TEST_F(Cli, RejectsABadCompressionKernel) { expect_clear_failure("profile --compress 2.5", "2.5"); }

class CorruptRun : public Cli {
 protected:
  // A real run directory, then one file replaced.
  fs::path make_run() {
    const fs::path out = dir_ / "run";
    if (run("profile --batch 2 --resolution 32 --steps 1 --out " + out.string()).exit_code != 0) {
      ADD_FAILURE() << "profile failed";
    }
    return out;
  }
};

TEST_F(CorruptRun, MissingTrace) {
  expect_clear_failure("analyze " + (dir_ / "nothing").string(), "no run directory");
}
TEST_F(CorruptRun, TruncatedOrRandomEvents) {
  const fs::path out = make_run();
  fs::resize_file(out / "events.bin", fs::file_size(out / "events.bin") / 2);
  expect_clear_failure("analyze " + out.string(), "events.bin: truncated");
  std::ofstream(out / "events.bin", std::ios::binary) << std::string("\x93\x01\xff garbage\n\x02\x03", 15);
  expect_clear_failure("analyze " + out.string(), "events.bin");
}
TEST_F(CorruptRun, TruncatedRunJson) {
  const fs::path out = make_run();
  const std::string json = slurp(out / "run.json");
  std::ofstream(out / "run.json", std::ios::binary) << json.substr(0, json.size() / 2);
  expect_clear_failure("analyze " + out.string(), "run.json");
}
TEST_F(CorruptRun, NonNumericCsvField) {
  const fs::path out = make_run();
  fs::remove(out / "events.bin");  // a run saved before events.bin existed: analyze reads events.csv
  std::string csv = slurp(out / "events.csv");
  const size_t second_line = csv.find('\n') + 1;
  csv[second_line] = 'x';  // the first event's seq
  std::ofstream(out / "events.csv", std::ios::binary) << csv;
  expect_clear_failure("analyze " + out.string(), "line 2");
}

}  // namespace
}  // namespace trainmem
