// `trainmem export RUN_DIR`: a run's events.bin as events.csv, for tools that read text.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cmd/cli_errors.h"
#include "cmd/commands.h"
#include "cmd/quiet_option.h"
#include "reports/errors.h"
#include "reports/replay_progress.h"
#include "reports/run_files.h"

namespace trainmem::cli {
namespace {

struct ExportArgs {
  std::string run_dir;
  std::string out;
};

int run_export(const ExportArgs& args) {
  namespace fs = std::filesystem;
  const fs::path run_dir(args.run_dir);
  if (!fs::is_directory(run_dir)) throw InputError("no run directory at " + run_dir.string());
  const fs::path events_bin = run_dir / "events.bin";
  if (!fs::is_regular_file(events_bin)) throw InputError("missing " + events_bin.string());
  const fs::path out = args.out.empty() ? run_dir / "events.csv" : fs::path(args.out);
  BinaryEventSource events(events_bin);
  {
    ProgressLine progress(stderr, show_progress());
    ReplayProgress source(events, events.event_count(), "exporting", progress);
    write_events_csv_file(out, source);
  }
  std::cout << "wrote " << out.string() << " (" << events.event_count() << " events)\n";
  return kOk;
}

}  // namespace

void add_export_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand("export", "Write a run's events.bin as events.csv");
  cmd->add_option("run_dir", args->run_dir, "Run directory written by `trainmem profile`")->required();
  cmd->add_option("--out", args->out, "CSV file to write (default RUN_DIR/events.csv)");
  cmd->callback([args, &action] { action = [args] { return run_export(*args); }; });
}

}  // namespace trainmem::cli
