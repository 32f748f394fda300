// trainmem-torch: every trainmem command, LibTorch linked in. Users run `trainmem`, which executes this binary
// for the commands that train (see main.cpp).
#include "cmd/command_line.h"
#include "cmd/commands.h"

int main(int argc, char** argv) {
  using namespace trainmem;
  CLI::App app{"trainmem: a memory profiler and allocation tracer for deep-learning training", "trainmem"};
  cli::Action action;
  cli::add_profile_command(app, action);
  cli::add_analyze_command(app, action);
  cli::add_models_command(app, action);
  cli::add_compare_command(app, action);
  cli::add_sensitivity_command(app, action);
  cli::add_fit_command(app, action);
  cli::add_devices_command(app, action);
  cli::add_characterize_command(app, action);
  cli::add_diff_command(app, action);
  cli::add_export_command(app, action);
  cli::add_train_command(app, action);
  return cli::run_command_line(app, action, argc, argv);
}
