#pragma once
// Each subcommand registers its flags on the CLI and sets the action to run once parsing succeeded.
#include <CLI/CLI.hpp>

#include <functional>

namespace trainmem::cli {

using Action = std::function<int()>;

void add_profile_command(CLI::App& app, Action& action);
void add_analyze_command(CLI::App& app, Action& action);
void add_models_command(CLI::App& app, Action& action);
void add_compare_command(CLI::App& app, Action& action);
void add_sensitivity_command(CLI::App& app, Action& action);
void add_fit_command(CLI::App& app, Action& action);
void add_devices_command(CLI::App& app, Action& action);
void add_characterize_command(CLI::App& app, Action& action);
void add_diff_command(CLI::App& app, Action& action);
void add_export_command(CLI::App& app, Action& action);
void add_train_command(CLI::App& app, Action& action);

}  // namespace trainmem::cli
