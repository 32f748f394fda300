// `trainmem fit`: the largest batch that fits a memory budget, from the affine memory law
// peak(B) = a + b·B measured at two small batches, confirmed by a real run at the predicted batch.
#include <nlohmann/json.hpp>

#include <cmath>
#include <iomanip>
#include <iostream>
#include <map>
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
  int64_t small_batch = 2;
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
    const double slope = law.slope, intercept = law.intercept;
    for (const Budget& budget : budgets) {
      const int64_t batch = law.largest_batch_within(budget.bytes);
      nlohmann::ordered_json row = {{"compress", spec},
                                    {"budget", budget.name},
                                    {"budget_bytes", budget.bytes},
                                    {"intercept_bytes", static_cast<int64_t>(intercept)},
                                    {"bytes_per_sample", static_cast<int64_t>(slope)},
                                    {"batch", batch},
                                    {"predicted_peak_bytes", static_cast<int64_t>(intercept + slope * batch)},
                                    {"headroom_bytes", static_cast<int64_t>(budget.bytes - intercept - slope * batch)},
                                    {"peak_phase", std::string(to_string(large.analysis.peak.phase))}};
      if (spec == "none") uncompressed_batch[budget.name] = batch;
      if (spec != "none" && uncompressed_batch.contains(budget.name)) {
        row["batch_gain"] = batch - uncompressed_batch[budget.name];
      }
      if (args.confirm && batch > 0) {
        // The real run at the predicted batch, under the budget: it must finish.
        const ProfiledRun real = profile_at(options, batch, budget.bytes);
        row["confirmed"] = !real.info.out_of_memory.has_value();
        row["measured_peak_bytes"] = real.analysis.peak.bytes;
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
            << "peak in" << std::setw(11) << "confirmed" << std::setw(8) << "gain" << "\n";
  for (const auto& row : rows) {
    const std::string confirmed =
        row.contains("confirmed") ? (row["confirmed"].get<bool>() ? "yes" : "NO") : "not run";
    std::cout << std::left << std::setw(10) << row["compress"].get<std::string>() << std::setw(12)
              << row["budget"].get<std::string>() << std::right << std::setw(8) << row["batch"].get<int64_t>()
              << std::setw(16) << format_bytes(row["predicted_peak_bytes"]) << std::setw(14)
              << format_bytes(row["headroom_bytes"]) << std::setw(11) << row["peak_phase"].get<std::string>()
              << std::setw(11) << confirmed << std::setw(8)
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
