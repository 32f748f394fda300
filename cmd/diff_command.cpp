// `trainmem diff RUN_A RUN_B`: two saved runs side by side, with absolute and relative differences.
#include <unistd.h>

#include <iostream>

#include "cmd/cli_errors.h"
#include "cmd/commands.h"
#include "reports/run_diff.h"

namespace trainmem::cli {
namespace {

struct DiffArgs {
  std::string a;
  std::string b;
  bool json = false;
};

int run_diff(const DiffArgs& args) {
  const RunDiff diff = diff_runs(args.a, args.b);
  if (args.json) {
    std::cout << run_diff_json(diff).dump(2) << "\n";
  } else {
    std::cout << run_diff_text(diff, TerminalStyle::for_descriptor(STDOUT_FILENO));
  }
  return kOk;
}

}  // namespace

void add_diff_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<DiffArgs>();
  CLI::App* cmd = app.add_subcommand("diff", "Compare two saved runs: summaries and layer activations side by side");
  cmd->add_option("run_a", args->a, "Run directory A (the reference)")->required();
  cmd->add_option("run_b", args->b, "Run directory B")->required();
  cmd->add_flag("--json", args->json, "Print JSON instead of the tables");
  cmd->callback([args, &action] { action = [args] { return run_diff(*args); }; });
}

}  // namespace trainmem::cli
