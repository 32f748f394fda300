// `trainmem diff` on hand-made run directories: the numbers side by side with their differences, aligned
// text, and one-line errors for whatever is not a pair of run directories.
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "analysis/analysis.h"
#include "reports/errors.h"
#include "reports/layers_csv.h"
#include "reports/run_diff.h"
#include "reports/summary_json.h"
#include "reports/terminal_style.h"
#include "tests/synthetic_stream.h"
#include "tests/temp_dir_test.h"

namespace trainmem {
namespace {

namespace fs = std::filesystem;

RunInfo tiny_run_info(int64_t batch) {
  RunInfo run;
  run.model = "tiny";
  run.batch = batch;
  run.resolution = 8;
  run.steps = 2;
  run.optimizer = "sgd";
  run.parameter_count = 150;
  run.parameter_bytes = 600;
  run.modules = {{"conv", "Conv2d", 400, {batch, 3, 8, 8}, batch * 768},
                 {"relu", "ReLU", 0, {batch, 4, 8, 8}, batch * 1024},
                 {"fc", "Linear", 200, {batch, 256}, batch * 1024}};
  return run;
}

void write_text(const fs::path& file, std::string_view text) { std::ofstream(file, std::ios::binary) << text; }


class RunDiffTest : public testing::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    auto run = synthetic::two_step_training_run();
    MemoryEventSource source(run.stream.events(), run.stream.names());
    a_analysis_ = analyze(source);
    write_run(dir_ / "a", tiny_run_info(2), a_analysis_);

    // B: twice the batch; its activations doubled, and one module A does not have.
    b_analysis_ = a_analysis_;
    b_analysis_.points.forward_peak += 1024;
    for (ModuleBytes& module : b_analysis_.activations_by_module) module.bytes *= 2;
    b_analysis_.activations_by_module.push_back({"head", 64, 1});
    b_analysis_.activation_bytes = 2 * a_analysis_.activation_bytes + 64;
    write_run(dir_ / "b", tiny_run_info(4), b_analysis_);
  }
  static void write_run(const fs::path& dir, const RunInfo& info, const Analysis& analysis) {
    fs::create_directories(dir);
    write_text(dir / "summary.json", summary_json(info, analysis).dump(2));
    write_text(dir / "layers.csv", layers_csv(info, analysis));
  }

  void expect_input_error(const fs::path& a, const fs::path& b, std::string_view detail) {
    try {
      diff_runs(a, b);
      ADD_FAILURE() << "no InputError for " << a << " " << b;
    } catch (const InputError& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
      EXPECT_NE(message.find(detail), std::string::npos) << message;
    }
  }

  Analysis a_analysis_;
  Analysis b_analysis_;
};

TEST_F(RunDiffTest, JsonHasBothSidesAndTheirDifferences) {
  const nlohmann::ordered_json diff = run_diff_json(diff_runs(dir_ / "a", dir_ / "b"));
  EXPECT_EQ(diff["format"], "trainmem-diff");
  EXPECT_EQ(diff["version"], 1);
  EXPECT_EQ(diff["settings"]["batch"], nlohmann::ordered_json({{"a", 2}, {"b", 4}}));
  EXPECT_EQ(diff["settings"]["model"], nlohmann::ordered_json({{"a", "tiny"}, {"b", "tiny"}}));

  const int64_t forward_peak = a_analysis_.points.forward_peak;
  EXPECT_EQ(diff["summary"]["points"]["forward_peak"],
            nlohmann::ordered_json({{"a", forward_peak},
                                    {"b", forward_peak + 1024},
                                    {"delta", 1024},
                                    {"relative", 1024.0 / static_cast<double>(forward_peak)}}));
  EXPECT_EQ(diff["summary"]["peak_bytes"]["delta"], 0);
  EXPECT_EQ(diff["summary"]["peak_bytes"]["relative"], 0.0);
  EXPECT_EQ(diff["summary"]["categories_at_peak"]["gradients"]["a"], a_analysis_.categories_at_peak[1]);
  EXPECT_EQ(diff["summary"]["categories_at_peak"].size(), static_cast<size_t>(kCategoryCount));
  EXPECT_TRUE(diff["summary"]["last_step_seconds"]["a"].is_number_float());

  // Module table order (A's), then the module only B has; activations doubled.
  const auto& layers = diff["layers"];
  ASSERT_EQ(layers.size(), 5u);  // conv, relu, fc, (none), head
  EXPECT_EQ(layers[0]["module"], "conv");
  EXPECT_EQ(layers[0]["type"], "Conv2d");
  EXPECT_EQ(layers[0]["activation_bytes"],
            nlohmann::ordered_json({{"a", 300}, {"b", 600}, {"delta", 300}, {"relative", 1.0}}));
  EXPECT_EQ(layers[0]["compress_k"], nlohmann::ordered_json({{"a", 0}, {"b", 0}}));
  EXPECT_EQ(layers[1]["compress_k"], nlohmann::ordered_json({{"a", nullptr}, {"b", nullptr}})) << "not a conv";
  EXPECT_EQ(layers[4]["module"], "head");
  EXPECT_EQ(layers[4]["activation_bytes"],
            nlohmann::ordered_json({{"a", nullptr}, {"b", 64}, {"delta", 64}, {"relative", nullptr}}));
}

TEST_F(RunDiffTest, TextIsAlignedAndPlainWithoutColour) {
  const std::string text = run_diff_text(diff_runs(dir_ / "a", dir_ / "b"));
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
  EXPECT_NE(text.find("  batch"), std::string::npos) << text;
  EXPECT_NE(text.find("differs"), std::string::npos) << text;
  EXPECT_NE(text.find("+1.00 KiB"), std::string::npos) << text;  // forward peak
  EXPECT_NE(text.find("+100.0%"), std::string::npos) << text;    // conv's activations
  EXPECT_EQ(text.find("relu"), std::string::npos) << "modules without activations in either run are left out";

  // Every line of the numbers table ends in the same column: the last column is right-aligned.
  std::istringstream lines(text.substr(text.find("Live memory")));
  std::string line;
  size_t width = 0;
  while (std::getline(lines, line) && !line.empty()) {
    if (width == 0) width = display_width(line);
    EXPECT_EQ(display_width(line), width) << line;
  }
  EXPECT_GT(width, 0u);

  const std::string coloured = run_diff_text(diff_runs(dir_ / "a", dir_ / "b"), TerminalStyle{.color = true});
  EXPECT_NE(coloured.find("\x1b[31m+1.00 KiB\x1b[0m"), std::string::npos) << "growth is marked";
}

TEST_F(RunDiffTest, ShowsTheKernelsWhereCompressionDiffers) {
  RunInfo compressed = tiny_run_info(2);
  compressed.modules[0].compress_k = 2;
  write_run(dir_ / "k2", compressed, a_analysis_);
  const std::string text = run_diff_text(diff_runs(dir_ / "a", dir_ / "k2"));
  EXPECT_NE(text.find("k A→B"), std::string::npos) << text;
  EXPECT_NE(text.find("0→2"), std::string::npos) << text;
  EXPECT_EQ(run_diff_text(diff_runs(dir_ / "a", dir_ / "b")).find("k A→B"), std::string::npos);
}

TEST_F(RunDiffTest, BadInputIsAOneLineInputError) {
  expect_input_error(dir_ / "missing", dir_ / "b", "no run directory at " + (dir_ / "missing").string());
  fs::create_directories(dir_ / "empty");
  expect_input_error(dir_ / "a", dir_ / "empty", "is not a run directory: no summary.json");
  write_text(dir_ / "empty" / "run.json", "{}");
  expect_input_error(dir_ / "a", dir_ / "empty", "`trainmem analyze");

  const std::string summary = testing::slurp(dir_ / "b" / "summary.json");
  write_text(dir_ / "b" / "summary.json", summary.substr(0, summary.size() / 2));
  expect_input_error(dir_ / "a", dir_ / "b", "summary.json: parse error");
  write_text(dir_ / "b" / "summary.json", "{\"format\": \"trainmem-run\"}");
  expect_input_error(dir_ / "a", dir_ / "b", "not a trainmem summary");
  nlohmann::json without_point = nlohmann::json::parse(summary);
  without_point["points"].erase("init");
  write_text(dir_ / "b" / "summary.json", without_point.dump());
  expect_input_error(dir_ / "a", dir_ / "b", "missing \"points.init\"");
  write_text(dir_ / "b" / "summary.json", summary);

  const std::string layers = testing::slurp(dir_ / "b" / "layers.csv");
  write_text(dir_ / "b" / "layers.csv", "module,type\n");
  expect_input_error(dir_ / "a", dir_ / "b", "layers.csv line 1: expected the header");
  write_text(dir_ / "b" / "layers.csv", std::string(kLayersCsvHeader) + "\nconv,Conv2d,1\n");
  expect_input_error(dir_ / "a", dir_ / "b", "layers.csv line 2: expected 11 fields, found 3");
  write_text(dir_ / "b" / "layers.csv", std::string(kLayersCsvHeader) + "\nconv,Conv2d,0,,0,lots,1,,,,\n");
  expect_input_error(dir_ / "a", dir_ / "b", "line 2: activation_bytes is not an integer");
  write_text(dir_ / "b" / "layers.csv", std::string(kLayersCsvHeader) + "\n\"conv,Conv2d,0,,0,1,1,,,,\n");
  expect_input_error(dir_ / "a", dir_ / "b", "line 2: unterminated quoted field");
}

TEST_F(RunDiffTest, ReadsQuotedModuleNames) {
  write_text(dir_ / "b" / "layers.csv", std::string(kLayersCsvHeader) + "\n\"odd,\"\"name\"\"\",Conv2d,0,,0,7,1,1,1,0,0\n");
  const RunDiff diff = diff_runs(dir_ / "a", dir_ / "b");
  EXPECT_EQ(diff.layers.back().module, "odd,\"name\"");
  EXPECT_EQ(diff.layers.back().b->activation_bytes, 7);
}

TEST(RelativeChange, IsEmptyWithoutAReference) {
  EXPECT_FALSE(relative_change(0, 5).has_value());
  EXPECT_DOUBLE_EQ(*relative_change(4, 5), 0.25);
  EXPECT_DOUBLE_EQ(*relative_change(4, 2), -0.5);
}

}  // namespace
}  // namespace trainmem
