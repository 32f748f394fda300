// `trainmem compare`: the same training under several compression settings, side by side.
#include <nlohmann/json.hpp>

#include <iomanip>
#include <iostream>

#include "analysis/compression_estimate.h"
#include "cmd/cli_errors.h"
#include "cmd/commands.h"
#include "cmd/shared_options.h"
#include "cmd/profiling.h"
#include "reports/output_dir.h"
#include "reports/units.h"

namespace trainmem::cli {
namespace {

struct CompareArgs {
  TrainingOptions training;
  std::vector<std::string> configurations{"none", "2", "4"};
  int64_t budget_bytes = 0;
  std::string out;
  bool json = false;
};

// The settings to compare, the uncompressed baseline first.
std::vector<compression::CompressionPolicy> parse_configurations(const CompareArgs& args) {
  std::vector<compression::CompressionPolicy> policies =
      parse_compression_list(args.configurations, args.training.compression.mode);
  if (policies.empty() || policies.front().compresses_anything()) {
    policies.insert(policies.begin(), compression::CompressionPolicy{});  // the baseline every reduction refers to
  }
  return policies;
}

int run_compare(const CompareArgs& args) {
  validate(args.training);
  const auto policies = parse_configurations(args);
  const std::string out = args.out.empty() ? "trainmem-out/compare-" + args.training.model + "-b" +
                                                 std::to_string(args.training.batch) + ".json"
                                           : args.out;
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  int64_t baseline_activations = 0;
  for (const auto& policy : policies) {
    TrainingOptions options = args.training;
    options.compression = policy;
    ProfiledRun run = profile_training(options, args.budget_bytes);
    throw_if_out_of_memory(run);
    if (rows.empty()) baseline_activations = run.analysis.activation_bytes;
    run.info.baseline_activation_bytes = baseline_activations;
    const double reduction =
        1.0 - static_cast<double>(run.analysis.activation_bytes) / static_cast<double>(baseline_activations);
    rows.push_back({{"compress", policy.spec},
                    {"mode", std::string(compression::to_string(policy.mode))},
                    {"loss", run.training.losses.front()},
                    {"peak_bytes", run.analysis.peak.bytes},
                    {"activation_bytes", run.analysis.activation_bytes},
                    {"reduction", reduction},
                    {"analytic_reduction", analytic_reduction(run.info).value_or(0.0)},
                    {"step_seconds", steady_step_seconds(run.training)}});
  }
  write_file_atomically(out, rows.dump(2) + "\n");
  if (args.json) {
    std::cout << rows.dump(2) << "\n";
    return kOk;
  }
  std::cout << args.training.model << ", batch " << args.training.batch << ", " << args.training.resolution
            << " px, " << args.training.steps << " steps\n";
  std::cout << std::left << std::setw(28) << "compress" << std::right << std::setw(12) << "loss" << std::setw(14)
            << "peak" << std::setw(14) << "activations" << std::setw(11) << "reduction" << std::setw(11) << "analytic"
            << std::setw(10) << "step s" << "\n";
  for (const auto& row : rows) {
    std::cout << std::left << std::setw(28) << row["compress"].get<std::string>() << std::right << std::fixed
              << std::setprecision(6) << std::setw(12) << row["loss"].get<double>() << std::setw(14)
              << format_bytes(row["peak_bytes"]) << std::setw(14) << format_bytes(row["activation_bytes"])
              << std::setprecision(1) << std::setw(10) << 100 * row["reduction"].get<double>() << "%" << std::setw(10)
              << 100 * row["analytic_reduction"].get<double>() << "%" << std::setprecision(3) << std::setw(10)
              << row["step_seconds"].get<double>() << "\n";
  }
  std::cout << "wrote " << out << "\n";
  return kOk;
}

}  // namespace

void add_compare_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<CompareArgs>();
  CLI::App* cmd = app.add_subcommand("compare", "Profile several compression settings side by side");
  add_model_options(*cmd, args->training);
  add_device_option(*cmd, args->training);
  add_loop_options(*cmd, args->training);
  cmd->add_option("--compress", args->configurations,
                  "Settings: none,2,4 (comma list) or a per-layer spec; repeat for several specs")
      ->capture_default_str();
  add_compress_mode_option(*cmd, args->training.compression.mode);
  add_budget_option(*cmd, args->budget_bytes);
  cmd->add_option("--out", args->out, "JSON file (default trainmem-out/compare-<model>-b<batch>.json)");
  cmd->add_flag("--json", args->json, "Print the JSON instead of the table");
  cmd->callback([args, &action] { action = [args] {
      resolve_device(args->training);
      return run_compare(*args);
    }; });
}

}  // namespace trainmem::cli
