// `trainmem analyze RUN_DIR`: the same analysis and files as a live profile, from a saved run.
#include <filesystem>
#include <iostream>

#include "analysis/analysis.h"
#include "cmd/cli_errors.h"
#include "cmd/commands.h"
#include "cmd/run_outputs.h"
#include "reports/cuda_report.h"
#include "reports/errors.h"
#include "reports/output_dir.h"
#include "reports/run_files.h"
#include "reports/terminal_report.h"

namespace trainmem::cli {
namespace {

struct AnalyzeArgs {
  std::string run_dir;
  std::string out;
};

int run_analyze(const AnalyzeArgs& args) {
  namespace fs = std::filesystem;
  const fs::path run_dir(args.run_dir);
  if (!fs::is_directory(run_dir)) throw InputError("no run directory at " + run_dir.string());
  for (const char* file : {"run.json", "events.csv"}) {
    if (!fs::is_regular_file(run_dir / file)) throw InputError("missing " + (run_dir / file).string());
  }
  const RunInfo info = read_run_json(run_dir / "run.json");
  CsvEventSource source(run_dir / "events.csv");
  const Analysis analysis = analyze(source, {.device = trace_device(info)});

  if (args.out.empty() || fs::weakly_canonical(args.out) == fs::weakly_canonical(run_dir)) {
    write_analysis_files(run_dir, info, analysis);
  } else {
    StagedDirectory staged(args.out);
    fs::copy_file(run_dir / "run.json", staged.path() / "run.json");
    fs::copy_file(run_dir / "events.csv", staged.path() / "events.csv");
    write_analysis_files(staged.path(), info, analysis);
    staged.commit();
  }
  if (info.out_of_memory) {
    print_out_of_memory_report(std::cout, info, analysis);
  } else {
    print_report(std::cout, info, analysis);
    print_cuda_report(std::cout, info, analysis);
  }
  return kOk;
}

}  // namespace

void add_analyze_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<AnalyzeArgs>();
  CLI::App* cmd = app.add_subcommand("analyze", "Recompute the report and files of a saved run from its events");
  cmd->add_option("run_dir", args->run_dir, "Run directory written by `trainmem profile`")->required();
  cmd->add_option("--out", args->out, "Write the files here instead of into RUN_DIR");
  cmd->callback([args, &action] { action = [args] { return run_analyze(*args); }; });
}

}  // namespace trainmem::cli
