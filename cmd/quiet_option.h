#pragma once
// --quiet, and whether a person is watching: shared by every command, LibTorch-free.
#include <CLI/CLI.hpp>

namespace trainmem::cli {

// --quiet (-q) on `app` and on every subcommand registered so far, so that it may come before or after the
// command's name: nothing but errors is printed. Call it after registering the commands.
void add_quiet_option(CLI::App& app);
// Whether --quiet was given (once the command line is parsed).
bool quiet();
// Whether a progress line is wanted: stderr is a terminal and --quiet is off.
bool show_progress();

}  // namespace trainmem::cli
