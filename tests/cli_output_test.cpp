// The binary's output end to end, on two real profiles (resnet18 at batch 2 and 4): `diff` side by side,
// `export` of events.bin, --quiet, and colour and progress only on a terminal, never under NO_COLOR.
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "reports/output_dir.h"
#include "tests/cli_runner.h"

namespace trainmem {
namespace {

namespace fs = std::filesystem;
using testing::Outcome;
using testing::slurp;

nlohmann::json read_json(const fs::path& path) { return nlohmann::json::parse(slurp(path)); }

int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

class CliOutput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("trainmem-cli-output-" + std::to_string(::getpid()));
    std::error_code ignored;
    remove_tree(dir_, ignored);  // not fs::remove_all: see reports/output_dir.h
    fs::create_directories(dir_);
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    remove_tree(dir_, ignored);
  }

  // Runs at batch 2 (A) and 4 (B), profiled when a test first needs them and shared after: profiling is the
  // slow part, and ctest runs each test in a process of its own.
  static fs::path a() { return profiled(2); }
  static fs::path b() { return profiled(4); }
  static fs::path profiled(int batch) {
    fs::path out = dir_ / "b";
    out += std::to_string(batch);
    if (!fs::exists(out)) {
      const Outcome profile = run("profile --model resnet18 --batch " + std::to_string(batch) +
                                  " --resolution 32 --steps 1 --out " + out.string());
      EXPECT_EQ(profile.exit_code, 0) << profile.err;
    }
    return out;
  }

  // Runs `env ENV trainmem ARGS` with stdout and stderr captured by files (not a terminal).
  static Outcome run(const std::string& args, const std::string& env = "") {
    const std::string command = "env " + env + " " + TRAINMEM_BINARY + " " + args + " >" +
                                (dir_ / "stdout").string() + " 2>" + (dir_ / "stderr").string();
    const int status = std::system(command.c_str());
    return {exit_code(status), slurp(dir_ / "stdout"), slurp(dir_ / "stderr")};
  }

  // Runs `env ENV trainmem ARGS` on a pseudo-terminal; stdout and stderr both go to it. Returns what it showed.
  static Outcome run_on_terminal(const std::string& env, const std::string& args) {
    const std::string command = "env " + env + " " + TRAINMEM_BINARY + " " + args;
    int master = -1;
    const pid_t child = ::forkpty(&master, nullptr, nullptr, nullptr);
    if (child == 0) {
      ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    Outcome outcome;
    if (child < 0) return outcome;
    char buffer[4096];
    for (;;) {
      const ssize_t n = ::read(master, buffer, sizeof buffer);
      if (n > 0) {
        outcome.out.append(buffer, static_cast<size_t>(n));
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        break;  // EIO once the child has closed the terminal
      }
    }
    ::close(master);
    int status = 0;
    ::waitpid(child, &status, 0);
    outcome.exit_code = exit_code(status);
    return outcome;
  }

  void expect_clear_failure(const std::string& args, const std::string& mentions) {
    const Outcome outcome = run(args);
    EXPECT_EQ(outcome.exit_code, 2) << args << "\n" << outcome.err;
    EXPECT_EQ(std::count(outcome.err.begin(), outcome.err.end(), '\n'), 1) << outcome.err;
    EXPECT_NE(outcome.err.find(mentions), std::string::npos) << outcome.err;
  }

  static fs::path dir_;
};

fs::path CliOutput::dir_;

TEST_F(CliOutput, DiffOfTwoBatchSizesHasBothSidesAndTheirDifferences) {
  const Outcome json_outcome = run("diff --json " + a().string() + " " + b().string());
  ASSERT_EQ(json_outcome.exit_code, 0) << json_outcome.err;
  const auto diff = nlohmann::json::parse(json_outcome.out);
  const auto summary_a = read_json(a() / "summary.json");
  const auto summary_b = read_json(b() / "summary.json");
  EXPECT_EQ(diff["settings"]["batch"], nlohmann::json({{"a", 2}, {"b", 4}}));
  for (const char* point : {"init", "input", "forward_peak", "backward_end", "optimizer_peak"}) {
    const auto& row = diff["summary"]["points"][point];
    EXPECT_EQ(row["a"], summary_a["points"][point]) << point;
    EXPECT_EQ(row["b"], summary_b["points"][point]) << point;
    EXPECT_EQ(row["delta"].get<int64_t>(), row["b"].get<int64_t>() - row["a"].get<int64_t>()) << point;
  }
  const auto& activations = diff["summary"]["activation_bytes"];
  EXPECT_EQ(activations["a"], summary_a["activation_bytes"]);
  EXPECT_EQ(activations["b"], summary_b["activation_bytes"]);
  // Twice the batch: activations about double.
  EXPECT_GT(activations["relative"].get<double>(), 0.8);
  EXPECT_LT(activations["relative"].get<double>(), 1.2);
  EXPECT_EQ(diff["summary"]["peak_bytes"]["b"], summary_b["peak_bytes"]);

  // layers.csv's rows, joined by module: layer1.0.conv1 sees 2x64x8x8 floats in A and twice that in B.
  bool found = false;
  for (const auto& layer : diff["layers"]) {
    if (layer["module"] != "layer1.0.conv1") continue;
    found = true;
    EXPECT_EQ(layer["type"], "Conv2d");
    EXPECT_EQ(layer["activation_bytes"]["a"], 32768);
    EXPECT_EQ(layer["activation_bytes"]["b"], 65536);
    EXPECT_EQ(layer["activation_bytes"]["relative"], 1.0);
  }
  EXPECT_TRUE(found) << json_outcome.out;

  const Outcome text = run("diff " + a().string() + " " + b().string());
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("differs"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("forward peak"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("layer1.0.conv1"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("+100.0%"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find('\x1b'), std::string::npos) << "no escape codes into a pipe";
  EXPECT_EQ(text.err, "");
}

TEST_F(CliOutput, DiffRejectsWhatIsNotARunDirectory) {
  const std::string missing = (dir_ / "missing").string();
  expect_clear_failure("diff " + missing + " " + missing, "no run directory at " + missing);
  fs::create_directories(dir_ / "empty");
  expect_clear_failure("diff " + (dir_ / "empty").string() + " " + missing, "not a run directory: no summary.json");
  expect_clear_failure("diff " + missing, "run_b");
}

TEST_F(CliOutput, ExportedEventsCsvAnalyzesLikeEventsBin) {
  const fs::path old_style = dir_ / "csv-only";
  const Outcome exported = run("export " + a().string() + " --out " + (dir_ / "events.csv").string());
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_NE(exported.out.find("events"), std::string::npos);
  fs::create_directories(old_style);
  fs::copy_file(a() / "run.json", old_style / "run.json");
  fs::rename(dir_ / "events.csv", old_style / "events.csv");
  const Outcome analyzed = run("analyze " + old_style.string());
  ASSERT_EQ(analyzed.exit_code, 0) << analyzed.err;
  EXPECT_EQ(slurp(old_style / "summary.json"), slurp(a() / "summary.json"));
  EXPECT_EQ(slurp(old_style / "layers.csv"), slurp(a() / "layers.csv"));
  expect_clear_failure("export " + old_style.string(), "missing " + (old_style / "events.bin").string());
}

TEST_F(CliOutput, QuietPrintsNothingButErrors) {
  for (const std::string& args : {"--quiet analyze " + a().string() + " --out " + (dir_ / "quiet").string(),
                                  "analyze " + a().string() + " -q --out " + (dir_ / "quiet").string(),
                                  "diff " + a().string() + " " + a().string() + " --quiet"}) {
    const Outcome outcome = run(args);
    EXPECT_EQ(outcome.exit_code, 0) << args << "\n" << outcome.err;
    EXPECT_EQ(outcome.out, "") << args;
    EXPECT_EQ(outcome.err, "") << args;
  }
  EXPECT_TRUE(fs::exists(dir_ / "quiet" / "summary.json")) << "quiet, but the files are written";
  expect_clear_failure("--quiet diff " + a().string() + " " + (dir_ / "missing").string(), "no run directory");
  expect_clear_failure("analyze --quiet " + (dir_ / "missing").string(), "no run directory");

  const Outcome on_terminal = run_on_terminal("TERM=xterm", "analyze " + a().string() + " --quiet");
  EXPECT_EQ(on_terminal.exit_code, 0);
  EXPECT_EQ(on_terminal.out, "") << "no progress line either";
}

TEST_F(CliOutput, ColourAndProgressOnlyOnATerminalAndNeverColourUnderNoColor) {
  const std::string analyze = "analyze " + a().string() + " --out " + (dir_ / "tty").string();
  const Outcome coloured = run_on_terminal("-u NO_COLOR TERM=xterm", analyze);
  ASSERT_EQ(coloured.exit_code, 0) << coloured.out;
  EXPECT_NE(coloured.out.find("\x1b["), std::string::npos) << coloured.out;
  EXPECT_NE(coloured.out.find("analyzing: pass 1"), std::string::npos) << coloured.out;
  EXPECT_NE(coloured.out.find("forward peak"), std::string::npos) << coloured.out;

  const Outcome plain = run_on_terminal("NO_COLOR=1 TERM=xterm", analyze);
  ASSERT_EQ(plain.exit_code, 0) << plain.out;
  EXPECT_EQ(plain.out.find('\x1b'), std::string::npos) << plain.out;
  EXPECT_NE(plain.out.find("analyzing: pass 1"), std::string::npos) << "progress is not colour" << plain.out;

  const Outcome diff = run_on_terminal("NO_COLOR=1 TERM=xterm", "diff " + a().string() + " " + a().string());
  EXPECT_NE(diff.out.find("forward peak"), std::string::npos) << diff.out;
  EXPECT_EQ(diff.out.find('\x1b'), std::string::npos) << diff.out;

  const Outcome piped = run(analyze, "-u NO_COLOR TERM=xterm");
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.out.find('\x1b'), std::string::npos) << "colour only on a terminal";
  EXPECT_EQ(piped.err.find("analyzing"), std::string::npos) << "progress only on a terminal";
}

TEST_F(CliOutput, ProfileShowsItsStepsOnATerminal) {
  const std::string profile = "profile --batch 2 --resolution 32 --steps 2 --compress 2 --out ";
  const Outcome shown = run_on_terminal("NO_COLOR=1 TERM=xterm", profile + (dir_ / "tty").string());
  ASSERT_EQ(shown.exit_code, 0) << shown.out;
  EXPECT_NE(shown.out.find("profiling resnet18: step 2 of 2"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("profiling resnet18 without compression: step 1 of 2"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("Compression --compress 2"), std::string::npos) << shown.out;

  const Outcome piped = run(profile + (dir_ / "piped").string());
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.err, "") << "progress only on a terminal";
}

}  // namespace
}  // namespace trainmem
