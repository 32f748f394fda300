// `trainmem fit`: the largest batch that fits a memory budget, from the affine memory law
// peak(B) = a + b·B measured at two small batches, confirmed by a real run at the predicted batch.
#include <nlohmann/json.hpp>

#include <cmath>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include "cmd/affine_law.h"
#include "cmd/cli_errors.h"
#include "cmd/commands.h"
#include "cmd/profiling.h"
#include "cmd/shared_options.h"
#include "reports/units.h"

namespace trainmem::cli {
namespace {

// Device memory of common GPUs (vendor specifications), for --gpus.
struct GpuSize {
  const char* name;
  int64_t bytes;
};
constexpr int64_t kGiB = int64_t{1} << 30;
constexpr GpuSize kGpus[] = {{"t4", 16 * kGiB},       {"v100-16", 16 * kGiB}, {"v100-32", 32 * kGiB},
                             {"rtx3090", 24 * kGiB},  {"rtx4080", 16 * kGiB}, {"rtx4090", 24 * kGiB},
                             {"l4", 24 * kGiB},       {"a100-40", 40 * kGiB}, {"a100-80", 80 * kGiB},
                             {"h100-80", 80 * kGiB},  {"h200", 141 * kGiB}};

struct FitArgs {
  TrainingOptions training;
  std::vector<std::string> budgets;  // sizes
  std::string gpus;                  // comma list of names
  std::vector<std::string> configurations{"none"};
  int64_t small_batch = 4;
  bool confirm = true;
  bool json = false;
};

struct Budget {
  std::string name;
  int64_t bytes;
};

std::vector<Budget> budgets_of(const FitArgs& args) {
  std::vector<Budget> budgets;
  for (const auto& text : args.budgets) budgets.push_back({text, parse_bytes(text)});
  std::stringstream names(args.gpus);
  for (std::string name; std::getline(names, name, ',');) {
    const GpuSize* gpu = nullptr;
    for (const auto& known : kGpus) {
      if (name == known.name) gpu = &known;
    }
    if (gpu == nullptr) {
      std::string valid;
      for (const auto& known : kGpus) valid += (valid.empty() ? "" : ", ") + std::string(known.name);
      throw UsageError("unknown GPU '" + name + "'; known: " + valid);
    }
    budgets.push_back({gpu->name, gpu->bytes});
  }
  if (budgets.empty()) throw UsageError("fit needs --budget SIZE or --gpus LIST");
  return budgets;
}

ProfiledRun profile_at(TrainingOptions options, int64_t batch, int64_t budget_bytes = 0) {
  options.batch = batch;
  return profile_training(options, budget_bytes);
}

// A batch for one budget, the law that chose it, and what a real run there said.
struct Fit {
  AffineLaw law;
  int64_t batch = 0;
  std::optional<bool> confirmed;  // empty when no real run was made
  int64_t measured_peak_bytes = 0;
  int refits = 0;
};

struct MeasuredPeak {
  int64_t batch;
  int64_t bytes;
};

// Most batches tried after the predicted one overran.
constexpr int kMaxRefits = 4;

// Trains at the fitted batch under the budget. The peak is not quite affine in the batch: it is the largest of
// the live bytes over the step, each moment affine in B, so the moment that sets it moves as B grows (late in
// backward at small batches, where gradients dominate, early at large ones, where activations do) and the
// slope measured at two small batches is too low. When the predicted batch overruns, `fit` brackets the answer
// between a batch that fits (`fits`) and one that does not (`overruns`, measured without the budget) and tries
// the batch where the line through the two reaches the budget, until they are adjacent.
Fit confirm(const TrainingOptions& options, int64_t budget_bytes, MeasuredPeak fits, Fit fit) {
  if (fit.batch <= 0) return fit;
  ProfiledRun real = profile_at(options, fit.batch, budget_bytes);
  fit.confirmed = !real.info.out_of_memory.has_value();
  fit.measured_peak_bytes = real.analysis.peak.bytes;
  if (*fit.confirmed || fit.batch <= fits.batch) return fit;
  const ProfiledRun unbounded = profile_at(options, fit.batch);
  if (unbounded.info.out_of_memory) return fit;  // beyond this machine: the overrun stands as the answer
  MeasuredPeak overruns{fit.batch, unbounded.analysis.peak.bytes};
  // The largest batch known to fit: at first the larger of the two measured ones.
  Fit best{.law = fit.law, .batch = fits.batch, .confirmed = fits.bytes <= budget_bytes,
           .measured_peak_bytes = fits.bytes, .refits = 0};
  while (overruns.batch - fits.batch > 1 && fit.refits < kMaxRefits) {
    const AffineLaw law = AffineLaw::through(fits.batch, fits.bytes, overruns.batch, overruns.bytes);
    const int64_t batch = std::clamp(law.largest_batch_within(budget_bytes), fits.batch + 1, overruns.batch - 1);
    ++fit.refits;
    real = profile_at(options, batch, budget_bytes);
    if (!real.info.out_of_memory) {
      fits = {batch, real.analysis.peak.bytes};
      best = {.law = law, .batch = batch, .confirmed = true, .measured_peak_bytes = fits.bytes, .refits = 0};
      continue;
    }
    const ProfiledRun over = profile_at(options, batch);
    if (over.info.out_of_memory) break;
    overruns = {batch, over.analysis.peak.bytes};
  }
  best.refits = fit.refits;
  return best;
}

int run_fit(const FitArgs& args) {
  validate(args.training);
  if (args.small_batch < 1) throw UsageError("--small-batch must be positive");
  const std::vector<Budget> budgets = budgets_of(args);
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  std::map<std::string, int64_t> uncompressed_batch;  // by budget name, when "none" was fitted first
  for (const std::string& spec : args.configurations) {
    TrainingOptions options = args.training;
    const compression::CompressMode mode = options.compression.mode;
    options.compression = compression::parse_compression(spec);
    options.compression.mode = mode;
    // Two batches give the law; the second is twice the first so the slope is measured, not extrapolated.
    const ProfiledRun small = profile_at(options, args.small_batch);
    const ProfiledRun large = profile_at(options, 2 * args.small_batch);
    throw_if_out_of_memory(small);
    throw_if_out_of_memory(large);
    const AffineLaw law = AffineLaw::through(args.small_batch, small.analysis.peak.bytes, 2 * args.small_batch,
                                             large.analysis.peak.bytes);
    for (const Budget& budget : budgets) {
      const int64_t predicted_batch = law.largest_batch_within(budget.bytes);
      Fit fit;
      fit.law = law;
      fit.batch = predicted_batch;
      if (args.confirm) fit = confirm(options, budget.bytes, {2 * args.small_batch, large.analysis.peak.bytes}, fit);
      nlohmann::ordered_json row = {{"compress", spec},
                                    {"budget", budget.name},
                                    {"budget_bytes", budget.bytes},
                                    {"intercept_bytes", static_cast<int64_t>(fit.law.intercept)},
                                    {"bytes_per_sample", static_cast<int64_t>(fit.law.slope)},
                                    {"batch", fit.batch},
                                    {"predicted_batch", predicted_batch},
                                    {"predicted_peak_bytes", static_cast<int64_t>(fit.law.at(fit.batch))},
                                    {"headroom_bytes", static_cast<int64_t>(budget.bytes - fit.law.at(fit.batch))},
                                    {"peak_phase", std::string(to_string(large.analysis.peak.phase))}};
      if (spec == "none") uncompressed_batch[budget.name] = fit.batch;
      if (spec != "none" && uncompressed_batch.contains(budget.name)) {
        row["batch_gain"] = fit.batch - uncompressed_batch[budget.name];
      }
      if (fit.confirmed.has_value()) {
        row["confirmed"] = *fit.confirmed;
        row["measured_peak_bytes"] = fit.measured_peak_bytes;
        row["refits"] = fit.refits;
      }
      rows.push_back(std::move(row));
    }
  }
  if (args.json) {
    std::cout << rows.dump(2) << "\n";
    return kOk;
  }
  std::cout << args.training.model << ", " << args.training.resolution << " px, " << args.training.optimizer
            << "; peak(B) = a + b·B from batches " << args.small_batch << " and " << 2 * args.small_batch << "\n";
  std::cout << std::left << std::setw(10) << "compress" << std::setw(12) << "budget" << std::right << std::setw(8)
            << "batch" << std::setw(16) << "predicted peak" << std::setw(14) << "headroom" << std::setw(11)
            << "peak in" << std::setw(16) << "confirmed" << std::setw(8) << "gain" << "\n";
  for (const auto& row : rows) {
    std::string confirmed = "not run";
    if (row.contains("confirmed")) {
      confirmed = row["confirmed"].get<bool>() ? "yes" : "NO";
      if (const int refits = row["refits"].get<int>(); refits > 0) confirmed += ", " + std::to_string(refits) + " refit";
    }
    std::cout << std::left << std::setw(10) << row["compress"].get<std::string>() << std::setw(12)
              << row["budget"].get<std::string>() << std::right << std::setw(8) << row["batch"].get<int64_t>()
              << std::setw(16) << format_bytes(row["predicted_peak_bytes"]) << std::setw(14)
              << format_bytes(row["headroom_bytes"]) << std::setw(11) << row["peak_phase"].get<std::string>()
              << std::setw(16) << confirmed << std::setw(8)
              << (row.contains("batch_gain") ? std::to_string(row["batch_gain"].get<int64_t>()) : std::string("-"))
              << "\n";
  }
  return kOk;
}

}  // namespace

void add_fit_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<FitArgs>();
  CLI::App* cmd = app.add_subcommand("fit", "The largest batch that fits each memory budget");
  add_model_options(*cmd, args->training);
  add_loop_options(*cmd, args->training);
  cmd->add_option("--budget", args->budgets, "Memory sizes (e.g. 16GiB); repeatable");
  cmd->add_option("--gpus", args->gpus, "GPU names, comma-separated (t4, rtx4080, rtx4090, a100-40, h100-80, ...)");
  cmd->add_option("--compress", args->configurations, "Settings to compare, e.g. none,2,4")->delimiter(',');
  add_compress_mode_option(*cmd, args->training.compression.mode);
  cmd->add_option("--small-batch", args->small_batch, "First of the two measured batches (the second is twice it)")
      ->capture_default_str();
  cmd->add_flag("!--no-confirm", args->confirm, "Skip the real run at each predicted batch");
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->callback([args, &action] { action = [args] { return run_fit(*args); }; });
}

}  // namespace trainmem::cli
