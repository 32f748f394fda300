// `trainmem analyze RUN_DIR`: the same analysis and files as a live profile, from a saved run.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "analysis/analysis.h"
#include "cmd/cli_errors.h"
#include "cmd/commands.h"
#include "cmd/run_outputs.h"
#include "cmd/quiet_option.h"
#include "reports/cuda_report.h"
#include "reports/errors.h"
#include "reports/output_dir.h"
#include "reports/replay_progress.h"
#include "reports/run_files.h"
#include "reports/terminal_report.h"
#include "reports/terminal_style.h"

namespace trainmem::cli {
namespace {

struct AnalyzeArgs {
  std::string run_dir;
  std::string out;
  ViewOptions views;
};

int run_analyze(const AnalyzeArgs& args) {
  namespace fs = std::filesystem;
  const fs::path run_dir(args.run_dir);
  if (!fs::is_directory(run_dir)) throw InputError("no run directory at " + run_dir.string());
  if (!fs::is_regular_file(run_dir / "run.json")) throw InputError("missing " + (run_dir / "run.json").string());
  const RunInfo info = read_run_json(run_dir / "run.json");
  RunEvents events = open_run_events(run_dir);
  // Every pass over the events shows on the progress line: the analysis's and those of the views.
  ProgressLine progress(stderr, show_progress());
  ReplayProgress source(*events.source, events.event_count, "analyzing", progress);
  const Analysis analysis = analyze(source, {.device = trace_device(info)});

  if (args.out.empty() || fs::weakly_canonical(args.out) == fs::weakly_canonical(run_dir)) {
    write_analysis_files(run_dir, info, analysis, source, args.views);
  } else {
    StagedDirectory staged(args.out);
    for (const char* file : {"run.json", "events.bin", "events.csv"}) {
      if (fs::is_regular_file(run_dir / file)) fs::copy_file(run_dir / file, staged.path() / file);
    }
    write_analysis_files(staged.path(), info, analysis, source, args.views);
    staged.commit();
  }
  progress.clear();
  const TerminalStyle style = TerminalStyle::for_descriptor(STDOUT_FILENO);
  if (info.out_of_memory) {
    print_out_of_memory_report(std::cout, info, analysis, style);
  } else {
    print_report(std::cout, info, analysis, style);
    print_cuda_report(std::cout, info, analysis, style);
  }
  return kOk;
}

}  // namespace

void add_analyze_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<AnalyzeArgs>();
  CLI::App* cmd = app.add_subcommand("analyze", "Recompute the report and files of a saved run from its events");
  cmd->add_option("run_dir", args->run_dir, "Run directory written by `trainmem profile`")->required();
  cmd->add_option("--out", args->out, "Write the files here instead of into RUN_DIR");
  add_view_options(*cmd, args->views);
  cmd->callback([args, &action] { action = [args] { return run_analyze(*args); }; });
}

}  // namespace trainmem::cli
