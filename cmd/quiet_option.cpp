#include "cmd/quiet_option.h"

#include <unistd.h>

namespace trainmem::cli {
namespace {

bool quiet_flag = false;  // one switch for the whole process, whichever command line position set it

}  // namespace

void add_quiet_option(CLI::App& app) {
  const std::string help = "Print nothing but errors";
  app.add_flag("-q,--quiet", quiet_flag, help);
  for (CLI::App* command : app.get_subcommands({})) command->add_flag("-q,--quiet", quiet_flag, help);
}

bool quiet() { return quiet_flag; }

bool show_progress() { return !quiet_flag && ::isatty(STDERR_FILENO) == 1; }

}  // namespace trainmem::cli
