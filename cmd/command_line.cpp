#include "cmd/command_line.h"

#include <iostream>
#include <string>
#include <string_view>

#include "analysis/analysis.h"
#include "cmd/cli_errors.h"
#include "cmd/quiet_option.h"
#include "reports/errors.h"

namespace trainmem::cli {
namespace {

int fail(ExitCode code, std::string_view message) {
  // Keep it to one line: LibTorch messages carry their backtrace on the lines after the first.
  std::cerr << "trainmem: " << message.substr(0, message.find('\n')) << "\n";
  return code;
}

}  // namespace

int run_command_line(CLI::App& app, Action& action, int argc, char** argv) {
  app.require_subcommand(1);
  add_quiet_option(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail(kBadInput, std::string(e.what()) + " (see trainmem --help)");
  }
  if (quiet()) std::cout.setstate(std::ios::badbit);  // every report goes through std::cout; errors use stderr
  try {
    return action();
  } catch (const OutOfMemory& e) {
    return fail(kOutOfMemory, e.what());
  } catch (const DeviceUnavailable& e) {
    return fail(kNoDevice, e.what());
  } catch (const UsageError& e) {
    return fail(kBadInput, e.what());
  } catch (const std::invalid_argument& e) {
    return fail(kBadInput, e.what());
  } catch (const InputError& e) {
    return fail(kBadInput, e.what());
  } catch (const OutputError& e) {
    return fail(kBadInput, e.what());
  } catch (const TraceError& e) {
    return fail(kBadInput, std::string("inconsistent trace: ") + e.what());
  } catch (const std::exception& e) {  // LibTorch's c10::Error among them
    return fail(kFailure, e.what());
  }
}

}  // namespace trainmem::cli
