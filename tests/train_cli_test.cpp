// `trainmem train` end to end: curves, summary and first-step run directories; a resumed run reproducing an
// uninterrupted one; Ctrl-C keeping the complete epochs; one clear line for every kind of bad input.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace trainmem {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// resnet18 at 32 px, batch 8, two batches per epoch, one thread: a few seconds a run.
const std::string kTiny = "train --model resnet18 --batch 8 --resolution 32 --limit-batches 2 --threads 1 ";

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string slurp(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream buffer;
  buffer << file.rdbuf();
  return buffer.str();
}

// curves.csv without its seconds column (wall time differs from run to run; everything else must not).
std::string curves_without_time(const fs::path& path) {
  std::stringstream in(slurp(path)), out;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::stringstream split(line);
    for (std::string field; std::getline(split, field, ',');) fields.push_back(field);
    fields.erase(fields.begin() + 6);
    for (const auto& field : fields) out << field << ",";
    out << "\n";
  }
  return out.str();
}

int count_lines(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

class TrainCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("trainmem-train-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string command(const std::string& args) const {
    return std::string(TRAINMEM_BINARY) + " " + args + " >" + (dir_ / "stdout").string() + " 2>" +
           (dir_ / "stderr").string();
  }
  Outcome outcome(int status) const {
    return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), slurp(dir_ / "stdout"),
            slurp(dir_ / "stderr")};
  }
  Outcome run(const std::string& args) { return outcome(std::system(command(args).c_str())); }

  void expect_clear_failure(const std::string& args, const std::string& mentions, int code = 2) {
    const Outcome result = run(args);
    EXPECT_EQ(result.exit_code, code) << args << "\n" << result.err;
    EXPECT_EQ(count_lines(result.err), 1) << result.err;
    EXPECT_NE(result.err.find(mentions), std::string::npos) << result.err;
  }

  fs::path dir_;
};

TEST_F(TrainCli, LockstepWritesCurvesSummaryAndAnalyzableFirstSteps) {
  const fs::path out = dir_ / "train";
  const Outcome train = run(kTiny + "--epochs 2 --lockstep none,2 --out " + out.string());
  ASSERT_EQ(train.exit_code, 0) << train.err;
  EXPECT_NE(train.out.find("epoch 2/2  compress 2"), std::string::npos) << train.out;

  const std::string curves = slurp(out / "curves.csv");
  EXPECT_EQ(curves.rfind("configuration,epoch,train_loss,test_loss,test_top1,test_top5,seconds,data_checksum\n", 0), 0u);
  EXPECT_EQ(count_lines(curves), 1 + 2 * 2) << curves;
  EXPECT_NE(slurp(out / "curves.svg").find("<polyline"), std::string::npos);

  std::ifstream summary_file(out / "summary.json");
  const auto summary = nlohmann::json::parse(summary_file);
  EXPECT_EQ(summary["dataset"], "fashion-mnist");
  EXPECT_EQ(summary["completed_epochs"], 2);
  EXPECT_EQ(summary["train_batches_per_epoch"], 2);
  EXPECT_EQ(summary["test_examples"], 16);
  ASSERT_EQ(summary["configurations"].size(), 2u);
  const auto& none = summary["configurations"][0];
  const auto& pooled = summary["configurations"][1];
  EXPECT_EQ(none["top1_gap_to_baseline"], 0.0);
  EXPECT_LT(pooled["first_step_activation_bytes"].get<int64_t>(), none["first_step_activation_bytes"].get<int64_t>());

  // Each first step is a run directory like profile's: analyze recomputes its summary.
  const fs::path first_step = out / pooled["first_step_run"].get<std::string>();
  std::ifstream run_summary_file(first_step / "summary.json");
  const auto run_summary = nlohmann::json::parse(run_summary_file);
  EXPECT_EQ(run_summary["peak_bytes"], pooled["first_step_peak_bytes"]);
  const Outcome analyze = run("analyze " + first_step.string() + " --out " + (dir_ / "again").string());
  ASSERT_EQ(analyze.exit_code, 0) << analyze.err;
  EXPECT_EQ(slurp(dir_ / "again" / "summary.json"), slurp(first_step / "summary.json"));
}

TEST_F(TrainCli, ResumeReproducesTheUninterruptedCurve) {
  const fs::path whole = dir_ / "whole", split = dir_ / "split";
  ASSERT_EQ(run(kTiny + "--epochs 2 --lockstep none,4 --out " + whole.string()).exit_code, 0);
  ASSERT_EQ(run(kTiny + "--epochs 1 --lockstep none,4 --out " + split.string()).exit_code, 0);
  const Outcome resumed = run(kTiny + "--epochs 2 --lockstep none,4 --resume --out " + split.string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.out.find("after epoch 1"), std::string::npos) << resumed.out;
  EXPECT_EQ(curves_without_time(split / "curves.csv"), curves_without_time(whole / "curves.csv"));
  std::ifstream summary_file(split / "summary.json");
  EXPECT_GT(nlohmann::json::parse(summary_file)["configurations"][1]["first_step_peak_bytes"].get<int64_t>(), 0);
}

TEST_F(TrainCli, CtrlCStopsAfterTheBatchKeepingTheCompleteEpochs) {
  const fs::path out = dir_ / "train";
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::execl("/bin/sh", "sh", "-c", ("exec " + command(kTiny + "--epochs 1000 --out " + out.string())).c_str(), nullptr);
    ::_exit(127);
  }
  for (int i = 0; i < 600 && !fs::exists(out / "curves.csv"); ++i) std::this_thread::sleep_for(100ms);
  ::kill(child, SIGINT);
  int status = 0;
  ::waitpid(child, &status, 0);
  const Outcome stopped = outcome(status);
  EXPECT_EQ(stopped.exit_code, 130) << stopped.err;
  EXPECT_EQ(count_lines(stopped.err), 1) << stopped.err;
  EXPECT_NE(stopped.err.find("--resume"), std::string::npos) << stopped.err;
  const auto summary = nlohmann::json::parse(slurp(out / "summary.json"));
  const int64_t epochs = summary["completed_epochs"];
  EXPECT_GE(epochs, 1);
  EXPECT_LT(epochs, 1000);
  EXPECT_EQ(count_lines(slurp(out / "curves.csv")), 1 + epochs);
  EXPECT_TRUE(fs::exists(out / "checkpoint.pt"));
}

TEST_F(TrainCli, RejectsMissingData) {
  expect_clear_failure(kTiny + "--epochs 1 --data-dir " + (dir_ / "none").string(), "dataset-fashion-mnist");
}

TEST_F(TrainCli, RejectsACorruptIdxFile) {
  const fs::path data = dir_ / "data";
  fs::create_directories(data);
  for (const char* name : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                           "t10k-labels-idx1-ubyte"}) {
    std::ofstream(data / name) << "not an IDX file at all";
  }
  expect_clear_failure(kTiny + "--epochs 1 --data-dir " + data.string(), "train-images-idx3-ubyte is not an IDX file");
}

TEST_F(TrainCli, RejectsAnUnknownDataset) {
  expect_clear_failure(kTiny + "--epochs 1 --dataset cifar-10", "valid datasets: fashion-mnist");
}

TEST_F(TrainCli, RejectsZeroEpochs) { expect_clear_failure(kTiny + "--epochs 0", "--epochs must be positive"); }

TEST_F(TrainCli, RejectsResumeWithoutACheckpointOrWithOtherSettings) {
  const fs::path out = dir_ / "train";
  expect_clear_failure(kTiny + "--epochs 1 --resume --out " + out.string(), "no checkpoint to resume");
  ASSERT_EQ(run(kTiny + "--epochs 1 --out " + out.string()).exit_code, 0);
  expect_clear_failure(kTiny + "--epochs 2 --out " + out.string(), "continue it with --resume");
  expect_clear_failure("train --batch 4 --resolution 32 --limit-batches 2 --threads 1 --epochs 2 --resume --out " + out.string(),
                       "--batch 8, not 4");
}

TEST_F(TrainCli, BudgetStopsTheProfiledFirstStepAsOutOfMemory) {
  const fs::path out = dir_ / "train";
  expect_clear_failure(kTiny + "--epochs 1 --budget 20MiB --out " + out.string(), "out of memory", 3);
  std::ifstream run_summary(out / "first-step-none" / "summary.json");
  EXPECT_FALSE(nlohmann::json::parse(run_summary)["out_of_memory"].is_null());
}

}  // namespace
}  // namespace trainmem
