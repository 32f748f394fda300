// trainmem: where training memory goes. The commands that read saved runs (analyze, export, diff) run here,
// in a process without LibTorch, whose loading alone costs ~500 MiB of memory and a second of start-up; every
// other command (and --help) is handed to trainmem-torch beside this binary, with the same arguments.
#include <limits.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string_view>

#include "cmd/cli_errors.h"
#include "cmd/command_line.h"
#include "cmd/commands.h"

namespace {

constexpr std::array<std::string_view, 3> kSavedRunCommands{"analyze", "export", "diff"};

// The command's name: the first argument that is not an option (--quiet may come before it).
bool names_a_saved_run_command(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with('-')) continue;
    for (std::string_view command : kSavedRunCommands) {
      if (arg == command) return true;
    }
    return false;
  }
  return false;
}

int run_torch_binary(char** argv) {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  const std::filesystem::path torch_binary = self.parent_path() / "trainmem-torch";
  if (!error) ::execv(torch_binary.c_str(), argv);
  std::cerr << "trainmem: cannot run " << torch_binary.string() << ": "
            << (error ? error.message() : std::strerror(errno)) << "\n";
  return trainmem::cli::kFailure;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace trainmem;
  if (!names_a_saved_run_command(argc, argv)) return run_torch_binary(argv);
  CLI::App app{"trainmem: a memory profiler and allocation tracer for deep-learning training", "trainmem"};
  cli::Action action;
  cli::add_analyze_command(app, action);
  cli::add_export_command(app, action);
  cli::add_diff_command(app, action);
  return cli::run_command_line(app, action, argc, argv);
}
