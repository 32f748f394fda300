// `trainmem profile`: train a few steps under the tracer, analyse the events, write the run directory.

#include <unistd.h>

#include <iomanip>
#include <iostream>

#include "analysis/analysis.h"
#include "cmd/cli_errors.h"
#include "cmd/commands.h"
#include "cmd/profiling.h"
#include "cmd/quiet_option.h"
#include "cmd/shared_options.h"
#include "cmd/run_outputs.h"
#include "reports/cuda_report.h"
#include "reports/output_dir.h"
#include "reports/terminal_report.h"
#include "reports/terminal_style.h"
#include "training/synthetic_training.h"

namespace trainmem::cli {
namespace {

struct ProfileArgs {
  TrainingOptions training;
  int64_t budget_bytes = 0;
  std::string out;
  ViewOptions views;
  bool no_trace = false;
};

int run_untraced(const ProfileArgs& args) {
  TrainingResult result = train_synthetic(args.training);
  for (size_t i = 0; i < result.step_seconds.size(); ++i) {
    std::cout << "step " << i + 1 << ": " << std::fixed << std::setprecision(3) << result.step_seconds[i]
              << " s, loss " << std::setprecision(4) << result.losses[i] << "\n";
  }
  std::cout << "untraced run: no events recorded, no files written\n";
  return kOk;
}

int run_profile(const ProfileArgs& args) {
  validate(args.training);
  if (args.no_trace) return run_untraced(args);
  const std::string out = args.out.empty() ? "trainmem-out/" + args.training.model + "-b" +
                                                std::to_string(args.training.batch)
                                          : args.out;
  StagedDirectory staged(out);  // fails now, not after training, when `out` cannot be written
  const TerminalStyle style = TerminalStyle::for_descriptor(STDOUT_FILENO);
  // A big model at full size takes minutes on a CPU: say which step is running.
  ProgressLine progress(stderr, show_progress());
  const auto show_steps = [&](TrainingOptions options, const std::string& what) {
    options.on_step_start = [&progress, what, steps = options.steps](int64_t step) {
      progress.show("profiling " + what + ": step " + std::to_string(step) + " of " + std::to_string(steps));
    };
    return options;
  };
  ProfiledRun run = profile_training(show_steps(args.training, args.training.model), args.budget_bytes);
  if (run.info.out_of_memory) {
    // What filled the memory is worth keeping: the run directory records the run up to that moment.
    progress.show("writing " + out);
    write_run_directory(staged.path(), run.info, run.recording, run.analysis, args.views);
    staged.commit();
    progress.clear();
    print_out_of_memory_report(std::cout, run.info, run.analysis, style);
    std::cout << run_directory_listing(out, args.views) << "\n";
    throw_if_out_of_memory(run);
  }
  if (args.training.compression.compresses_anything()) {
    // The same settings without compression, so the report can say what compression saved.
    TrainingOptions baseline_options = args.training;
    baseline_options.compression = {};
    const ProfiledRun baseline =
        profile_training(show_steps(baseline_options, args.training.model + " without compression"), args.budget_bytes);
    throw_if_out_of_memory(baseline);
    run.info.baseline_activation_bytes = baseline.analysis.activation_bytes;
    run.info.baseline_peak_bytes = baseline.analysis.peak.bytes;
  }
  progress.show("writing " + out);
  write_run_directory(staged.path(), run.info, run.recording, run.analysis, args.views);
  staged.commit();
  progress.clear();
  print_report(std::cout, run.info, run.analysis, style);
  print_cuda_report(std::cout, run.info, run.analysis, style);
  std::cout << run_directory_listing(out, args.views) << "\n";
  return kOk;
}

}  // namespace

void add_profile_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<ProfileArgs>();
  CLI::App* cmd = app.add_subcommand("profile", "Train a few steps on synthetic data and show where memory goes");
  add_model_options(*cmd, args->training);
  add_device_option(*cmd, args->training);
  add_loop_options(*cmd, args->training);
  cmd->add_option("--out", args->out, "Run directory (default trainmem-out/<model>-b<batch>)");
  cmd->add_flag("--no-trace", args->no_trace, "Run the identical training without interception (timing only)");
  add_compression_options(*cmd, args->training.compression);
  add_budget_option(*cmd, args->budget_bytes);
  add_view_options(*cmd, args->views);
  add_events_csv_option(*cmd, args->views);
  cmd->callback([args, &action] { action = [args] {
      resolve_device(args->training);
      return run_profile(*args);
    }; });
}

}  // namespace trainmem::cli
