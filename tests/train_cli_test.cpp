// `trainmem train` end to end: curves, summary and first-step run directories; a resumed run reproducing an
// uninterrupted one; Ctrl-C keeping the complete epochs; the progress line only on a terminal; --budget as an
// out-of-memory; one clear line for every kind of bad input.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "data/fashion_mnist.h"
#include "tests/cli_runner.h"

namespace trainmem {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::Outcome;
using testing::slurp;

// resnet18 at 32 px, batch 8, two batches per epoch (of training and of testing), one thread: seconds a run.
const std::string kTiny = "train --model resnet18 --batch 8 --resolution 32 --limit-batches 2 --threads 1 ";

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

nlohmann::json read_json(const fs::path& path) {
  std::ifstream file(path);
  return nlohmann::json::parse(file);
}

class TrainCli : public testing::CliTest {
 protected:
  // A bad input: exactly one line on stderr that names the problem, and the exit code `code`.
  void expect_clear_failure(const std::string& args, const std::string& mentions, int code = 2) {
    const Outcome result = run(args);
    EXPECT_EQ(result.exit_code, code) << args << "\n" << result.err;
    EXPECT_EQ(count_lines(result.err), 1) << result.err;
    EXPECT_NE(result.err.find(mentions), std::string::npos) << result.err;
  }

  // Runs `shell_command` on a pseudo-terminal (util-linux's script), returning what the terminal showed.
  Outcome run_on_terminal(const std::string& shell_command) {
    const std::string command = "script -qefc '" + shell_command + "' /dev/null >" + (dir_ / "stdout").string() +
                                " 2>" + (dir_ / "stderr").string() + " </dev/null";
    return outcome(std::system(command.c_str()));
  }
};

TEST_F(TrainCli, LockstepWritesCurvesSummaryAndAnalyzableFirstSteps) {
  const fs::path out = dir_ / "train";
  const Outcome train = run(kTiny + "--epochs 2 --lockstep none,2 --out " + out.string());
  ASSERT_EQ(train.exit_code, 0) << train.err;
  EXPECT_NE(train.out.find("epoch 2/2  compress 2"), std::string::npos) << train.out;
  EXPECT_EQ(train.err, "");

  const std::string curves = slurp(out / "curves.csv");
  EXPECT_EQ(curves.rfind("configuration,epoch,train_loss,test_loss,test_top1,test_top5,seconds,data_checksum\n", 0), 0u);
  EXPECT_EQ(count_lines(curves), 1 + 2 * 2) << curves;
  EXPECT_NE(curves.find("\nnone,2,"), std::string::npos) << curves;
  EXPECT_NE(curves.find("\n2,2,"), std::string::npos) << curves;
  EXPECT_NE(slurp(out / "curves.svg").find("<polyline"), std::string::npos);

  const auto summary = read_json(out / "summary.json");
  EXPECT_EQ(summary["format"], "trainmem-train");
  EXPECT_EQ(summary["dataset"], "fashion-mnist");
  EXPECT_EQ(summary["epochs"], 2);
  EXPECT_EQ(summary["completed_epochs"], 2);
  EXPECT_EQ(summary["train_batches_per_epoch"], 2);
  EXPECT_EQ(summary["test_examples"], 16);
  EXPECT_TRUE(summary["out_of_memory"].is_null());
  ASSERT_EQ(summary["configurations"].size(), 2u);
  const auto& none = summary["configurations"][0];
  const auto& pooled = summary["configurations"][1];
  EXPECT_EQ(none["compress"], "none");
  EXPECT_EQ(none["top1_gap_to_baseline"], 0.0);
  EXPECT_EQ(none["final"]["epoch"], 2);
  EXPECT_LT(pooled["first_step_activation_bytes"].get<int64_t>(), none["first_step_activation_bytes"].get<int64_t>());

  // Each first step is a run directory like profile's, of one step: analyze recomputes its summary.
  const fs::path first_step = out / pooled["first_step_run"].get<std::string>();
  const auto run_summary = read_json(first_step / "summary.json");
  EXPECT_EQ(run_summary["peak_bytes"], pooled["first_step_peak_bytes"]);
  EXPECT_EQ(run_summary["steps"], 1);
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
  EXPECT_EQ(count_lines(slurp(split / "curves.csv")), 1 + 2 * 2);
  EXPECT_EQ(curves_without_time(split / "curves.csv"), curves_without_time(whole / "curves.csv"));
  EXPECT_GT(read_json(split / "summary.json")["configurations"][1]["first_step_peak_bytes"].get<int64_t>(), 0);
}

// The same run reads the same numbers from the plain (gunzipped) files in another directory as from the package's
// gzip files: --data-dir is honoured, both encodings read alike, and training is deterministic.
TEST_F(TrainCli, PlainFilesElsewhereTrainExactlyAsThePackagesFiles) {
  const fs::path data = dir_ / "data";
  fs::create_directories(data);
  for (const char* name : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                           "t10k-labels-idx1-ubyte"}) {
    const std::string gunzip = "gunzip -c " + (fs::path(data::kFashionMnistDir) / name).string() + ".gz >" +
                               (data / name).string();
    ASSERT_EQ(std::system(gunzip.c_str()), 0) << gunzip;
  }
  ASSERT_EQ(run(kTiny + "--epochs 1 --out " + (dir_ / "package").string()).exit_code, 0);
  const Outcome plain = run(kTiny + "--epochs 1 --data-dir " + data.string() + " --out " + (dir_ / "plain").string());
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(curves_without_time(dir_ / "plain" / "curves.csv"), curves_without_time(dir_ / "package" / "curves.csv"));
}

TEST_F(TrainCli, CtrlCStopsAfterTheBatchKeepingTheCompleteEpochs) {
  const fs::path out = dir_ / "train";
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::execl("/bin/sh", "sh", "-c", ("exec " + command(kTiny + "--epochs 1000 --out " + out.string())).c_str(), nullptr);
    ::_exit(127);
  }
  // Once the first epoch is written, the run is in the middle of the second.
  for (int i = 0; i < 600 && !fs::exists(out / "curves.csv"); ++i) std::this_thread::sleep_for(100ms);
  const auto signalled = std::chrono::steady_clock::now();
  ::kill(child, SIGINT);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, 10s) << "stops after the current batch, not the epoch";
  const Outcome stopped = outcome(status);
  EXPECT_EQ(stopped.exit_code, 130) << stopped.err;
  EXPECT_EQ(count_lines(stopped.err), 1) << stopped.err;
  EXPECT_NE(stopped.err.find("--resume"), std::string::npos) << stopped.err;
  const auto summary = read_json(out / "summary.json");
  const int64_t epochs = summary["completed_epochs"];
  EXPECT_GE(epochs, 1);
  EXPECT_LT(epochs, 1000);
  EXPECT_EQ(count_lines(slurp(out / "curves.csv")), 1 + epochs);
  EXPECT_TRUE(fs::exists(out / "checkpoint.pt"));
  // What was kept is whole: the run continues from it.
  const Outcome resumed = run(kTiny + "--epochs " + std::to_string(epochs + 1) + " --resume --out " + out.string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(read_json(out / "summary.json")["completed_epochs"], epochs + 1);
}

TEST_F(TrainCli, ShowsTheProgressLineOnlyOnATerminalAndNotWhenQuiet) {
  const std::string one_batch = "train --model resnet18 --batch 8 --resolution 32 --limit-batches 1 --threads 1 --epochs 1 ";
  const std::string train = std::string(TRAINMEM_BINARY) + " " + one_batch + "--out ";
  const Outcome terminal = run_on_terminal(train + (dir_ / "terminal").string());
  ASSERT_EQ(terminal.exit_code, 0) << terminal.out;
  EXPECT_NE(terminal.out.find("epoch 1/1 train ["), std::string::npos) << terminal.out;
  EXPECT_NE(terminal.out.find("ETA 0:"), std::string::npos) << terminal.out;

  const Outcome quiet = run_on_terminal(train + (dir_ / "quiet").string() + " --quiet");
  ASSERT_EQ(quiet.exit_code, 0) << quiet.out;
  EXPECT_EQ(quiet.out, "");

  // stdout to a file, stderr still on the terminal: nobody watches the run.
  const Outcome logged = run_on_terminal(train + (dir_ / "logged").string() + " >" + (dir_ / "log").string());
  ASSERT_EQ(logged.exit_code, 0) << logged.out;
  EXPECT_EQ(logged.out, "");
  EXPECT_NE(slurp(dir_ / "log").find("epoch 1/1  compress none"), std::string::npos);

  const Outcome piped = run(one_batch + "--out " + (dir_ / "piped").string());
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.err.find("ETA"), std::string::npos) << piped.err;
}

TEST_F(TrainCli, BudgetStopsTheProfiledFirstStepAsOutOfMemory) {
  const fs::path out = dir_ / "train";
  expect_clear_failure(kTiny + "--epochs 1 --lockstep none,4 --budget 20MiB --out " + out.string(), "out of memory", 3);
  EXPECT_FALSE(read_json(out / "first-step-none" / "summary.json")["out_of_memory"].is_null());
  const auto summary = read_json(out / "summary.json");
  EXPECT_EQ(summary["out_of_memory"]["compress"], "none");
  EXPECT_NE(summary["out_of_memory"]["diagnosis"].get<std::string>().find("out of memory in"), std::string::npos);
  EXPECT_EQ(summary["completed_epochs"], 0);
  EXPECT_FALSE(fs::exists(out / "checkpoint.pt"));

  // A budget the first steps fit in changes nothing.
  const Outcome fits = run(kTiny + "--epochs 1 --budget 4GiB --out " + (dir_ / "fits").string());
  ASSERT_EQ(fits.exit_code, 0) << fits.err;
  EXPECT_TRUE(read_json(dir_ / "fits" / "summary.json")["out_of_memory"].is_null());
}

// The second step also holds the momentum the first step's update created: a budget just above the first
// step's peak lets it pass and stops the second, which is not traced, as a device of that size would.
TEST_F(TrainCli, BudgetHoldsOnStepsAfterTheTracedFirstOne) {
  const Outcome unbounded = run(kTiny + "--epochs 1 --out " + (dir_ / "unbounded").string());
  ASSERT_EQ(unbounded.exit_code, 0) << unbounded.err;
  const int64_t first_peak = read_json(dir_ / "unbounded" / "first-step-none" / "summary.json")["peak_bytes"];
  const fs::path out = dir_ / "train";
  const std::string budget = std::to_string(first_peak + (64 << 10));
  expect_clear_failure(kTiny + "--epochs 1 --budget " + budget + " --out " + out.string(), "(step 2)", 3);
  EXPECT_TRUE(read_json(out / "first-step-none" / "summary.json")["out_of_memory"].is_null());
  const auto summary = read_json(out / "summary.json");
  EXPECT_NE(summary["out_of_memory"]["diagnosis"].get<std::string>().find("not traced"), std::string::npos);
  EXPECT_EQ(summary["completed_epochs"], 0);
}

// A resumed run's first steps are not profiled again; what it holds is charged all the same.
TEST_F(TrainCli, BudgetHoldsOnAResumedRun) {
  const fs::path out = dir_ / "train";
  ASSERT_EQ(run(kTiny + "--epochs 1 --out " + out.string()).exit_code, 0);
  const std::string summary = slurp(out / "summary.json");
  expect_clear_failure(kTiny + "--epochs 2 --resume --budget 20MiB --out " + out.string(), "out of memory", 3);
  EXPECT_EQ(slurp(out / "summary.json"), summary) << "the run it continues is kept as it was";
  const Outcome resumed = run(kTiny + "--epochs 2 --resume --budget 1GiB --out " + out.string());
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
}

TEST_F(TrainCli, RejectsMissingDataNamingThePackage) {
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

TEST_F(TrainCli, RejectsBadSettings) {
  expect_clear_failure(kTiny + "--epochs 1 --dataset cifar-10", "valid datasets: fashion-mnist");
  expect_clear_failure(kTiny + "--epochs 0", "--epochs must be positive");
  expect_clear_failure(kTiny + "--epochs 1 --lr -1", "must be positive");
  expect_clear_failure(kTiny + "--epochs 1 --optimizer rmsprop", "valid optimizers: sgd, adam");
  expect_clear_failure(kTiny + "--epochs 1 --lockstep none,2,none", "--lockstep lists none twice");
  expect_clear_failure(kTiny + "--epochs 1 --lockstep none,3x", "3x");
  expect_clear_failure(kTiny + "--epochs 1 --lockstep none,2 --compress 4", "excludes");
  expect_clear_failure("train --model resnet18 --epochs 1 --batch 70000", "exceeds the 60000 training examples");
}

TEST_F(TrainCli, RejectsResumeWithoutACheckpointOrWithOtherSettings) {
  const fs::path out = dir_ / "train";
  expect_clear_failure(kTiny + "--epochs 1 --resume --out " + out.string(), "no checkpoint to resume");
  ASSERT_EQ(run(kTiny + "--epochs 1 --out " + out.string()).exit_code, 0);
  expect_clear_failure(kTiny + "--epochs 2 --out " + out.string(), "continue it with --resume");
  expect_clear_failure("train --batch 4 --resolution 32 --limit-batches 2 --threads 1 --epochs 2 --resume --out " +
                           out.string(),
                       "--batch 8, not 4");
  std::ofstream(out / "checkpoint.pt", std::ios::trunc) << "damaged";
  expect_clear_failure(kTiny + "--epochs 2 --resume --out " + out.string(), "is unreadable");
}

}  // namespace
}  // namespace trainmem
