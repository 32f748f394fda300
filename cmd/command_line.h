#pragma once
// Parsing a command line and running its command, with every failure mapped to one line on stderr and an
// exit code (cli_errors.h). Both executables (trainmem, trainmem-torch) go through it.
#include <CLI/CLI.hpp>

#include "cmd/commands.h"

namespace trainmem::cli {

// `app` holds the registered commands, which set `action` when parsed.
int run_command_line(CLI::App& app, Action& action, int argc, char** argv);

}  // namespace trainmem::cli
