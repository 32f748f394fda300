// `trainmem train`: train on a real dataset for whole epochs, one or several compression settings in lockstep,
// with the curves, a checkpoint per epoch, and the memory profile of each configuration's first step.
#include <c10/util/Exception.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>

#include "cmd/cli_errors.h"
#include "cmd/commands.h"
#include "cmd/profiling.h"
#include "cmd/run_outputs.h"
#include "cmd/shared_options.h"
#include "cmd/train_outputs.h"
#include "data/fashion_mnist.h"
#include "reports/errors.h"
#include "reports/failure_report.h"
#include "reports/output_dir.h"
#include "reports/terminal_report.h"
#include "reports/terminal_style.h"
#include "training/checkpoint.h"
#include "tracer/cpu_allocator.h"
#include "training/epoch_training.h"

namespace trainmem::cli {
namespace {

namespace fs = std::filesystem;

// 128 + SIGINT, as a shell reports a process that Ctrl-C ended.
constexpr int kInterrupted = 130;

struct TrainArgs {
  EpochTrainingOptions training;
  std::string dataset{data::kFashionMnist};
  std::string data_dir{data::kFashionMnistDir};
  std::vector<std::string> lockstep;
  int64_t budget_bytes = 0;
  std::string out;
  bool resume = false;
};

// The settings --lockstep lists, each trained once.
std::vector<compression::CompressionPolicy> lockstep_configurations(const std::vector<std::string>& values,
                                                                    compression::CompressMode mode) {
  std::vector<compression::CompressionPolicy> policies = parse_compression_list(values, mode);
  for (size_t i = 0; i < policies.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (policies[j].spec == policies[i].spec) throw UsageError("--lockstep lists " + policies[i].spec + " twice");
    }
  }
  return policies;
}

// The run directory of a configuration's first step, inside the training directory: first-step-<spec>, with
// characters a file name should not hold replaced.
std::string first_step_dir(const compression::CompressionPolicy& policy) {
  std::string name = "first-step-" + policy.spec;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') c = '_';
  }
  return name;
}

// Runs `first_step` under the tracer and writes its run directory; an out-of-memory (a --budget overrun) is
// written too, then reported as the command's failure.
FirstStepMemory profile_first_step(const std::function<void()>& first_step, const TrainingConfiguration& configuration,
                                   int64_t budget_bytes, const fs::path& out) {
  const std::string name = first_step_dir(configuration.policy);
  StagedDirectory staged(out / name);
  const ProfiledRun run = profile_traced("cpu", budget_bytes, configuration.info, first_step);
  write_run_directory(staged.path(), run.info, run.recording, run.analysis, ViewOptions{});
  staged.commit();
  if (run.info.out_of_memory) {
    print_out_of_memory_report(std::cout, run.info, run.analysis);
    std::cout << "wrote " << (out / name).string() << "\n";
    throw_if_out_of_memory(run);
  }
  return {name, run.analysis.peak.bytes, run.analysis.activation_bytes};
}

// A resumed run's first steps were profiled by the run it continues: their run directories say what they used.
FirstStepMemory read_first_step_memory(const fs::path& out, const compression::CompressionPolicy& policy) {
  FirstStepMemory memory{first_step_dir(policy), {}, {}};
  std::ifstream file(out / memory.run_dir / "summary.json");
  const nlohmann::json summary = nlohmann::json::parse(file, nullptr, /*allow_exceptions=*/false);
  if (summary.is_object() && summary.contains("peak_bytes") && summary.contains("activation_bytes")) {
    memory.peak_bytes = summary["peak_bytes"].get<int64_t>();
    memory.activation_bytes = summary["activation_bytes"].get<int64_t>();
  }
  return memory;
}

// The budget's refusal outside the traced first steps, if a configuration's memory account made one.
std::optional<TrainingOutOfMemory> refused_by_budget(LockstepTraining& training) {
  for (const TrainingConfiguration& configuration : training.configurations()) {
    if (configuration.account == nullptr || !configuration.account->refused()) continue;
    const MemoryAccount::Refusal refusal = configuration.account->refusal();
    const OutOfMemoryInfo info{std::string(to_string(refusal.phase)), refusal.step, "", "", refusal.requested_bytes,
                               refusal.live_bytes, configuration.account->limit_bytes()};
    return TrainingOutOfMemory{configuration.policy.spec,
                               describe_out_of_memory(info) + "; not traced, so no module or op"};
  }
  return std::nullopt;
}

std::atomic<bool> g_stop_requested{false};

extern "C" void request_stop(int) {
  g_stop_requested.store(true);
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
}

// Ctrl-C asks training to stop after the current batch while this lives.
class StopOnInterrupt {
 public:
  StopOnInterrupt() : previous_(std::signal(SIGINT, request_stop)) {}
  ~StopOnInterrupt() { std::signal(SIGINT, previous_); }
  StopOnInterrupt(const StopOnInterrupt&) = delete;
  StopOnInterrupt& operator=(const StopOnInterrupt&) = delete;

 private:
  void (*previous_)(int);
};

std::string clock_text(double seconds) {
  const auto total = static_cast<int64_t>(seconds + 0.5);
  std::ostringstream out;
  out << total / 60 << ":" << std::setw(2) << std::setfill('0') << total % 60;
  return out.str();
}

// The progress line on a terminal: the phase, a bar of the batches done, the loss and the time left in this phase.
std::string progress_text(const EpochProgress& progress, int64_t epochs, double phase_seconds) {
  constexpr int64_t kWidth = 30;
  const int64_t filled = kWidth * progress.batch / progress.batches;
  const double left =
      phase_seconds / static_cast<double>(progress.batch) * static_cast<double>(progress.batches - progress.batch);
  std::ostringstream text;
  text << "epoch " << progress.epoch << "/" << epochs << (progress.testing ? " test  [" : " train [")
       << std::string(static_cast<size_t>(filled), '#') << std::string(static_cast<size_t>(kWidth - filled), '.')
       << "] " << progress.batch << "/" << progress.batches << "  loss " << std::fixed << std::setprecision(4)
       << progress.loss << "  ETA " << clock_text(left);
  return text.str();
}

void print_epoch(const LockstepTraining& training) {
  for (const auto& configuration : training.configurations()) {
    const EpochMetrics& m = configuration.curve.back();
    std::cout << "epoch " << m.epoch << "/" << training.options().epochs << "  compress " << std::left << std::setw(6)
              << configuration.policy.spec << std::right << std::fixed << std::setprecision(4) << "  train loss "
              << m.train_loss << "  test loss " << m.test_loss << std::setprecision(2) << "  top-1 " << 100 * m.test_top1
              << "%  top-5 " << 100 * m.test_top5 << "%  " << std::setprecision(1) << m.seconds << " s\n";
  }
  std::cout << std::flush;  // a log file follows the training epoch by epoch
}

void write_training_files(const fs::path& out, const LockstepTraining& training,
                          const std::vector<FirstStepMemory>& memory,
                          const std::optional<TrainingOutOfMemory>& out_of_memory) {
  write_file_atomically(out / "curves.csv", curves_csv(training));
  write_file_atomically(out / "curves.svg", curves_svg(training));
  write_file_atomically(out / "summary.json", training_summary(training, memory, out_of_memory).dump(2) + "\n");
}

data::ImageDataset load_dataset(const TrainArgs& args) {
  if (args.dataset != data::kFashionMnist) {
    throw UsageError("unknown dataset '" + args.dataset + "'; valid datasets: " + std::string(data::kFashionMnist));
  }
  return data::load_fashion_mnist(args.data_dir);
}

int run_train(TrainArgs args) {
  if (!args.lockstep.empty()) {
    args.training.configurations = lockstep_configurations(args.lockstep, args.training.training.compression.mode);
  } else {
    args.training.configurations = {args.training.training.compression};
  }
  validate(args.training);
  const fs::path out = args.out.empty() ? "trainmem-out/train-" + args.training.training.model + "-" + args.dataset
                                        : args.out;
  const fs::path checkpoint = out / "checkpoint.pt";
  std::error_code error;
  if (!args.resume && fs::exists(checkpoint, error)) {
    throw UsageError(out.string() + " holds a checkpoint of an earlier run: continue it with --resume, or choose "
                     "another --out");
  }
  const data::ImageDataset dataset = load_dataset(args);
  LockstepTraining training(args.training, dataset);
  // With --budget, what each configuration allocates counts against a device of that size on every step, traced
  // (the first, with the full diagnosis) or not.
  std::vector<std::unique_ptr<MemoryAccount>> accounts;
  for (auto& configuration : training.configurations()) {
    if (args.budget_bytes <= 0) break;
    accounts.push_back(std::make_unique<MemoryAccount>(args.budget_bytes));
    configuration.account = accounts.back().get();
  }
  std::vector<FirstStepMemory> memory;
  if (args.resume) {
    try {
      training.build_all();
      load_checkpoint(checkpoint, training);
    } catch (const c10::OutOfMemoryError&) {
      const auto refused = refused_by_budget(training);
      if (!refused) throw;
      throw OutOfMemory(refused->diagnosis);  // before any step: the run's files stay as they were
    }
    for (const auto& configuration : training.configurations()) {
      memory.push_back(read_first_step_memory(out, configuration.policy));
    }
    std::cout << "resuming " << out.string() << " after epoch " << training.completed_epochs() << "\n";
  } else {
    fs::create_directories(out, error);
    if (error) throw OutputError("cannot write output directory " + out.string() + ": " + error.message());
    memory.resize(training.configurations().size());
  }

  // The epoch lines on stdout share the terminal with the progress line; with stdout going to a log, nobody watches.
  ProgressLine progress(stderr, show_progress() && ::isatty(STDOUT_FILENO) == 1);
  auto phase_start = std::chrono::steady_clock::now();
  std::optional<TrainingOutOfMemory> out_of_memory;
  EpochHooks hooks;
  hooks.around_first_step = [&](size_t index, const std::function<void()>& first_step) {
    const TrainingConfiguration& configuration = training.configurations()[index];
    memory[index].run_dir = first_step_dir(configuration.policy);
    try {
      memory[index] = profile_first_step(first_step, configuration, args.budget_bytes, out);
    } catch (const OutOfMemory& e) {
      out_of_memory = TrainingOutOfMemory{configuration.policy.spec, e.what()};
      throw;
    }
  };
  hooks.on_batch = [&](const EpochProgress& batch) {
    const auto now = std::chrono::steady_clock::now();
    progress.show(progress_text(batch, args.training.epochs, std::chrono::duration<double>(now - phase_start).count()));
    if (batch.batch == batch.batches) phase_start = now;
  };
  hooks.on_epoch_end = [&] {
    progress.clear();
    save_checkpoint(checkpoint, training);
    write_training_files(out, training, memory, out_of_memory);
    print_epoch(training);
  };
  g_stop_requested.store(false);
  hooks.stop = &g_stop_requested;
  bool finished = false;
  try {
    StopOnInterrupt interrupt;
    finished = training.train(hooks);
  } catch (const OutOfMemory&) {
    // Like a real out-of-memory, the budget ends the run; the summary says where.
    progress.clear();
    write_training_files(out, training, memory, out_of_memory);
    throw;
  } catch (const c10::OutOfMemoryError&) {
    out_of_memory = refused_by_budget(training);
    if (!out_of_memory) throw;
    progress.clear();
    write_training_files(out, training, memory, out_of_memory);
    throw OutOfMemory(out_of_memory->diagnosis);
  }
  progress.clear();
  if (!finished) {
    const int64_t epochs = training.completed_epochs();
    std::cerr << "trainmem: interrupted; "
              << (epochs == 0 ? "no epoch was complete, so there is nothing to resume"
                              : out.string() + " keeps " + std::to_string(epochs) +
                                    " complete epoch(s): --resume continues from there")
              << "\n";
    return kInterrupted;
  }
  write_training_files(out, training, memory, out_of_memory);
  std::cout << "wrote " << out.string() << "/{curves.csv,curves.svg,summary.json,checkpoint.pt";
  for (const auto& m : memory) std::cout << "," << m.run_dir << "/";
  std::cout << "}\n";
  return kOk;
}

}  // namespace

void add_train_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<TrainArgs>();
  args->training.training.batch = 64;
  args->training.training.resolution = 32;
  CLI::App* cmd = app.add_subcommand("train", "Train on a real dataset for whole epochs and record the curves");
  add_model_options(*cmd, args->training.training);
  cmd->get_option("--seed")->description("Seed of the initial weights and of every epoch's batch order");
  cmd->add_option("--dataset", args->dataset, "Dataset (fashion-mnist)")->capture_default_str();
  cmd->add_option("--data-dir", args->data_dir, "Directory holding the dataset's files")->capture_default_str();
  cmd->add_option("--epochs", args->training.epochs, "Epochs to train (with --resume: in all)")->required();
  cmd->add_option("--optimizer", args->training.training.optimizer, "sgd (momentum 0.9) or adam")->capture_default_str();
  cmd->add_option("--lr", args->training.learning_rate, "Learning rate (default: 0.01 for sgd, 0.001 for adam)")
      ->check(CLI::Validator(
          [](std::string& text) {
            char* end = nullptr;
            const double value = std::strtod(text.c_str(), &end);
            // Not a number at all: CLI11's conversion says so.
            return end != text.c_str() && value <= 0 ? "must be positive, got " + text : std::string();
          },
          "POSITIVE"));
  cmd->add_option("--limit-batches", args->training.limit_batches,
                  "At most N batches per epoch, of training and of testing (0: all)")
      ->capture_default_str();
  add_compression_options(*cmd, args->training.training.compression);
  cmd->add_option("--lockstep", args->lockstep,
                  "Train several settings from the same weights on the same batches: none,2,4 or per-layer specs")
      ->excludes("--compress");
  add_budget_option(*cmd, args->budget_bytes);
  cmd->add_option("--out", args->out, "Training directory (default trainmem-out/train-<model>-<dataset>)");
  cmd->add_flag("--resume", args->resume, "Continue the training saved in --out after its last complete epoch");
  cmd->callback([args, &action] { action = [args] { return run_train(*args); }; });
}

}  // namespace trainmem::cli
