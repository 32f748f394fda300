// `trainmem sensitivity`: per-layer cosine similarity of compressed vs exact weight gradients.
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cmd/cli_errors.h"
#include "cmd/commands.h"
#include "cmd/shared_options.h"
#include "reports/output_dir.h"
#include "training/gradient_sensitivity.h"

namespace trainmem::cli {
namespace {

struct SensitivityArgs {
  TrainingOptions training;
  int batches = 4;
  std::string out;
};

int run_sensitivity(const SensitivityArgs& args) {
  if (!args.training.compression.compresses_anything()) {
    throw UsageError("sensitivity needs --compress with some kernel > 1");
  }
  const std::string out = args.out.empty() ? "trainmem-out/sensitivity-" + args.training.model + ".csv" : args.out;
  const auto layers = gradient_sensitivity(args.training, args.batches);
  std::ostringstream csv;
  csv << "module,k,cosine\n" << std::setprecision(9);
  for (const auto& layer : layers) csv << layer.module << "," << layer.k << "," << layer.cosine << "\n";
  write_file_atomically(out, csv.str());

  std::cout << args.training.model << ", batch " << args.training.batch << ", " << args.training.resolution
            << " px, --compress " << args.training.compression.spec << ", mean over " << args.batches
            << " batches\n";
  std::cout << std::left << std::setw(26) << "layer" << std::right << std::setw(4) << "k" << std::setw(12)
            << "cosine" << "\n";
  for (const auto& layer : layers) {
    std::cout << std::left << std::setw(26) << layer.module << std::right << std::setw(4) << layer.k << std::fixed
              << std::setprecision(6) << std::setw(12) << layer.cosine << "\n";
  }
  std::cout << "wrote " << out << "\n";
  return kOk;
}

}  // namespace

void add_sensitivity_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<SensitivityArgs>();
  args->training.batch = 8;
  args->training.resolution = 64;
  CLI::App* cmd =
      app.add_subcommand("sensitivity", "Cosine similarity of compressed vs exact weight gradients, per layer");
  add_model_options(*cmd, args->training);
  cmd->add_option("--batches", args->batches, "Batches to average over")->capture_default_str();
  cmd->add_option("--out", args->out, "CSV file (default trainmem-out/sensitivity-<model>.csv)");
  add_compression_options(*cmd, args->training.compression);
  cmd->callback([args, &action] { action = [args] { return run_sensitivity(*args); }; });
}

}  // namespace trainmem::cli
