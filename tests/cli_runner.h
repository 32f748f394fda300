#pragma once
// Runs the trainmem binary (TRAINMEM_BINARY) as a user would, capturing exit code, stdout and stderr.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "reports/output_dir.h"

namespace trainmem::testing {

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream buffer;
  buffer << file.rdbuf();
  return buffer.str();
}

// A fresh temporary directory per test, removed afterwards; run() executes trainmem with `args` in the shell.
class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("trainmem-cli-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::error_code ignored;
    remove_tree(dir_, ignored);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ignored;
    remove_tree(dir_, ignored);
  }

  Outcome run(const std::string& args) { return outcome(std::system(command(args).c_str())); }

  // The shell command run() executes, for tests that start it themselves (to signal it, say).
  std::string command(const std::string& args) const {
    return std::string(TRAINMEM_BINARY) + " " + args + " >" + (dir_ / "stdout").string() + " 2>" +
           (dir_ / "stderr").string();
  }
  // What a command() that ended with wait status `status` left.
  Outcome outcome(int status) const {
    return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), slurp(dir_ / "stdout"),
            slurp(dir_ / "stderr")};
  }

  std::filesystem::path dir_;
};

}  // namespace trainmem::testing
