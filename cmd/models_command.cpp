// `trainmem models`: the registry, with parameter counts of the models as built.
#include <nlohmann/json.hpp>

#include <iomanip>
#include <iostream>

#include "cmd/cli_errors.h"
#include "cmd/commands.h"
#include "models/registry.h"

namespace trainmem::cli {
namespace {

int64_t count_parameters(const models::ModelSpec& spec) {
  int64_t count = 0;
  for (const auto& p : spec.build(1000)->parameters()) count += p.numel();
  return count;
}

int run_models(bool as_json) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  const auto row = [](const std::string& name, const std::string& family, const std::string& count) {
    std::cout << std::left << std::setw(22) << name << " " << std::setw(12) << family << " " << std::right
              << std::setw(16) << count << "\n";
  };
  if (!as_json) row("name", "family", "parameters");
  for (const auto& spec : models::registry()) {
    const int64_t count = count_parameters(spec);
    if (as_json) {
      list.push_back({{"name", spec.name}, {"family", spec.family}, {"parameter_count", count},
                      {"min_resolution", spec.min_resolution}});
    } else {
      row(spec.name, spec.family, std::to_string(count));
    }
  }
  if (as_json) std::cout << list.dump(2) << "\n";
  return kOk;
}

}  // namespace

void add_models_command(CLI::App& app, Action& action) {
  auto as_json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("models", "List the models trainmem can build");
  cmd->add_flag("--json", *as_json, "Print JSON");
  cmd->callback([as_json, &action] { action = [as_json] { return run_models(*as_json); }; });
}

}  // namespace trainmem::cli
