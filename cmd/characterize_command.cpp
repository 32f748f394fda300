// `trainmem characterize`: parameter bytes against activation bytes for many models at one batch, the paper's
// Figure 1. Activations are what `profile` calls activations (born in the forward phase, alive at its end, input
// excluded), measured by the same traced training step; or extrapolated with the affine law from two small batches.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "cmd/affine_law.h"
#include "cmd/cli_errors.h"
#include "cmd/commands.h"
#include "cmd/profiling.h"
#include "cmd/shared_options.h"
#include "models/registry.h"
#include "reports/output_dir.h"
#include "reports/units.h"

namespace trainmem::cli {
namespace {

struct CharacterizeArgs {
  std::string models;
  TrainingOptions training;      // batch, resolution, seed, threads; one step
  int64_t extrapolate_from = 0;  // 0: measure at --batch; else at this batch and twice it
  int64_t budget_bytes = 0;      // 0: the memory available
  bool json = false;
  std::string out;  // .csv or .json
};

struct Row {
  std::string model;
  int64_t resolution = 0;
  std::optional<int64_t> parameter_bytes;  // none when the parameters alone did not fit
  int64_t activation_bytes = 0;
  double activation_share = 0;
  std::string out_of_memory;  // the diagnosis, when the measurement ran out of memory
  std::string error;          // LibTorch's message, when the measurement failed otherwise
  bool measured() const { return out_of_memory.empty() && error.empty(); }
  std::string failure() const { return error.empty() ? "out of memory " + out_of_memory : "failed: " + error; }
};

// The input side a model is measured at: --resolution, raised to the smallest the model trains on or lowered to the
// largest it takes (Inception v3 trains from 299 px; the vision transformers and MaxViT take 224 px only).
int64_t resolution_for(const std::string& model, int64_t requested) {
  const models::ModelSpec* spec = models::find_model(model);
  if (spec == nullptr) return requested;  // validate() names the valid models
  const int64_t resolution = std::max(requested, spec->min_resolution);
  return spec->max_resolution > 0 ? std::min(resolution, spec->max_resolution) : resolution;
}

// The models named by --models, each checked against the settings before anything is measured.
std::vector<std::string> model_list(const CharacterizeArgs& args) {
  std::vector<std::string> names;
  if (args.models == "all") {
    for (const auto& spec : models::registry()) names.push_back(spec.name);
  } else {
    std::stringstream list(args.models);
    for (std::string name; std::getline(list, name, ',');) names.push_back(name);
  }
  if (names.empty()) throw UsageError("--models needs a comma-separated list of models, or all");
  for (const std::string& name : names) {
    TrainingOptions options = args.training;
    options.model = name;
    options.resolution = resolution_for(name, options.resolution);
    validate(options);
  }
  return names;
}

ProfiledRun measure(const CharacterizeArgs& args, const std::string& model, int64_t batch) {
  TrainingOptions options = args.training;
  options.model = model;
  options.batch = batch;
  options.resolution = resolution_for(model, options.resolution);
  return profile_training(options, args.budget_bytes);
}

// Where a measurement ran out of memory, for the row; empty when it did not.
std::string out_of_memory_note(const ProfiledRun& run, int64_t batch) {
  if (!run.info.out_of_memory) return "";
  if (run.info.out_of_memory->phase == "init") return "in init: the parameters alone do not fit";
  return "in " + run.info.out_of_memory->phase + " at batch " + std::to_string(batch);
}

Row characterize(const CharacterizeArgs& args, const std::string& model) {
  Row row;
  row.model = model;
  row.resolution = resolution_for(model, args.training.resolution);
  const int64_t first = args.extrapolate_from > 0 ? args.extrapolate_from : args.training.batch;
  const ProfiledRun run = measure(args, model, first);
  row.out_of_memory = out_of_memory_note(run, first);
  if (run.info.out_of_memory && run.info.out_of_memory->phase == "init") return row;
  row.parameter_bytes = run.info.parameter_bytes;
  row.activation_bytes = run.analysis.activation_bytes;
  if (!row.out_of_memory.empty()) return row;
  if (args.extrapolate_from > 0) {
    const ProfiledRun twice = measure(args, model, 2 * first);
    row.out_of_memory = out_of_memory_note(twice, 2 * first);
    if (!row.out_of_memory.empty()) return row;
    const AffineLaw law =
        AffineLaw::through(first, run.analysis.activation_bytes, 2 * first, twice.analysis.activation_bytes);
    row.activation_bytes = static_cast<int64_t>(std::llround(law.at(args.training.batch)));
  }
  row.activation_share =
      static_cast<double>(row.activation_bytes) / static_cast<double>(row.activation_bytes + *row.parameter_bytes);
  return row;
}

std::string method(const CharacterizeArgs& args) {
  if (args.extrapolate_from == 0) return "measured at batch " + std::to_string(args.training.batch);
  return "extrapolated with S(B) = a + b·B from batches " + std::to_string(args.extrapolate_from) + " and " +
         std::to_string(2 * args.extrapolate_from);
}

nlohmann::ordered_json to_json(const CharacterizeArgs& args, const std::vector<Row>& rows) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const Row& row : rows) {
    nlohmann::ordered_json item = {{"model", row.model},
                                   {"batch", args.training.batch},
                                   {"resolution", row.resolution}};
    if (row.parameter_bytes) item["parameter_bytes"] = *row.parameter_bytes;
    if (row.measured()) {
      item["activation_bytes"] = row.activation_bytes;
      item["activation_share"] = row.activation_share;
    } else if (row.error.empty()) {
      item["out_of_memory"] = row.out_of_memory;
    } else {
      item["error"] = row.error;
    }
    item["method"] = method(args);
    list.push_back(std::move(item));
  }
  return list;
}

std::string to_csv(const CharacterizeArgs& args, const std::vector<Row>& rows) {
  std::ostringstream csv;
  csv << "model,batch,resolution,parameter_bytes,activation_bytes,activation_share,method\n";
  for (const Row& row : rows) {
    csv << row.model << "," << args.training.batch << "," << row.resolution << ","
        << (row.parameter_bytes ? std::to_string(*row.parameter_bytes) : "") << ",";
    if (row.measured()) {
      csv << row.activation_bytes << "," << std::setprecision(6) << row.activation_share;
    } else {
      csv << ",";
    }
    csv << "," << std::quoted(row.measured() ? method(args) : row.failure(), '"', '"') << "\n";
  }
  return csv.str();
}

void print_table(const CharacterizeArgs& args, const std::vector<Row>& rows) {
  std::cout << "batch " << args.training.batch << ", " << args.training.resolution << " px; activations "
            << method(args) << "\n";
  std::cout << std::left << std::setw(22) << "model" << std::right << std::setw(6) << "px" << std::setw(14)
            << "parameters" << std::setw(14) << "activations" << std::setw(18) << "activation share"
            << "\n";
  for (const Row& row : rows) {
    std::cout << std::left << std::setw(22) << row.model << std::right << std::setw(6) << row.resolution
              << std::setw(14) << (row.parameter_bytes ? format_bytes(*row.parameter_bytes) : "-");
    if (row.measured()) {
      std::ostringstream share;
      share << std::fixed << std::setprecision(1) << 100 * row.activation_share << "%";
      std::cout << std::setw(14) << format_bytes(row.activation_bytes) << std::setw(18) << share.str() << "\n";
    } else {
      std::cout << "  " << row.failure() << "\n";
    }
  }
  for (const Row& row : rows) {
    if (row.resolution == args.training.resolution) continue;
    std::cout << "px: models that do not train on " << args.training.resolution
              << " px images are measured at the nearest size they do\n";
    break;
  }
}

int run_characterize(CharacterizeArgs args) {
  if (args.training.batch <= 0) throw UsageError("--batch must be positive");
  if (args.training.resolution <= 0) throw UsageError("--resolution must be positive");
  if (args.extrapolate_from < 0) throw UsageError("--extrapolate-from must be positive");
  resolve_device(args.training);
  const bool csv = args.out.ends_with(".csv");
  if (!args.out.empty() && !csv && !args.out.ends_with(".json")) {
    throw UsageError("--out must name a .csv or .json file, got '" + args.out + "'");
  }
  std::vector<Row> rows;
  for (const std::string& model : model_list(args)) {
    try {
      rows.push_back(characterize(args, model));
    } catch (const std::exception& e) {  // e.g. batch norm refusing a batch of 1: the sweep goes on
      Row row;
      row.model = model;
      row.resolution = resolution_for(model, args.training.resolution);
      const std::string message = e.what();
      row.error = message.substr(0, message.find('\n'));
      rows.push_back(row);
    }
  }
  // As the paper's Figure 1: from the model whose memory is most dominated by activations to the least.
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return a.measured() && (!b.measured() || a.activation_share > b.activation_share);
  });
  if (!args.out.empty()) {
    write_file_atomically(args.out, csv ? to_csv(args, rows) : to_json(args, rows).dump(2) + "\n");
  }
  if (args.json) {
    std::cout << to_json(args, rows).dump(2) << "\n";
  } else {
    print_table(args, rows);
  }
  std::string failed, out_of_memory;
  bool batch_too_large = false;  // a smaller batch may fit, unlike parameters that do not
  for (const Row& row : rows) {
    if (!row.error.empty()) failed += (failed.empty() ? "" : ", ") + row.model + " (" + row.error + ")";
    if (row.out_of_memory.empty()) continue;
    out_of_memory += (out_of_memory.empty() ? "" : ", ") + row.model + " (" + row.out_of_memory + ")";
    batch_too_large |= row.parameter_bytes.has_value();
  }
  if (!failed.empty()) {
    throw std::runtime_error("failed measuring " + failed +
                             (out_of_memory.empty() ? "" : "; ran out of memory measuring " + out_of_memory));
  }
  if (!out_of_memory.empty()) {
    const std::string hint = args.extrapolate_from > 1 ? "a smaller --extrapolate-from" : "--extrapolate-from 1";
    throw OutOfMemory("ran out of memory measuring " + out_of_memory + (batch_too_large ? "; try " + hint : ""));
  }
  return kOk;
}

}  // namespace

void add_characterize_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<CharacterizeArgs>();
  args->training.steps = 1;
  CLI::App* cmd = app.add_subcommand("characterize", "Parameter bytes against activation bytes, model by model");
  cmd->add_option("--models", args->models, "Comma-separated model names, or all")->required();
  cmd->add_option("--batch", args->training.batch, "Batch size")->capture_default_str();
  cmd->add_option("--resolution", args->training.resolution, "Input image side in pixels")->capture_default_str();
  cmd->add_option("--seed", args->training.seed, "Seed of weights and synthetic data")->capture_default_str();
  cmd->add_option("--threads", args->training.threads, "CPU threads (0: LibTorch's default)")->capture_default_str();
  add_device_option(*cmd, args->training);
  add_budget_option(*cmd, args->budget_bytes);
  cmd->add_option("--extrapolate-from", args->extrapolate_from,
                  "Measure at this batch and twice it, and extrapolate activations to --batch with S(B) = a + b·B");
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->add_option("--out", args->out, "Also write the rows to this .csv or .json file");
  cmd->callback([args, &action] { action = [args] { return run_characterize(*args); }; });
}

}  // namespace trainmem::cli
