#pragma once
// Runs the trainmem binary (TRAINMEM_BINARY) as a user would, capturing exit code, stdout and stderr.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "tests/temp_dir_test.h"

namespace trainmem::testing {

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// run() executes trainmem with `args` in the shell, its output captured in the test's temporary directory.
class CliTest : public TempDirTest {
 protected:
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
};

}  // namespace trainmem::testing
