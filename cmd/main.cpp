// trainmem: where training memory goes. Parses the command line and maps every failure to one line on
// stderr and an exit code (cli_errors.h).
#include <c10/util/Exception.h>

#include <iostream>

#include "analysis/analysis.h"
#include "cmd/cli_errors.h"
#include "cmd/commands.h"
#include "cmd/shared_options.h"
#include "reports/errors.h"

namespace {

int fail(trainmem::cli::ExitCode code, std::string_view message) {
  // Keep it to one line: LibTorch messages can span several.
  std::string line(message.substr(0, message.find('\n')));
  std::cerr << "trainmem: " << line << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace trainmem;
  CLI::App app{"trainmem: a memory profiler and allocation tracer for deep-learning training"};
  app.require_subcommand(1);
  cli::Action action;
  cli::add_profile_command(app, action);
  cli::add_analyze_command(app, action);
  cli::add_models_command(app, action);
  cli::add_compare_command(app, action);
  cli::add_sensitivity_command(app, action);
  cli::add_fit_command(app, action);
  cli::add_devices_command(app, action);
  cli::add_characterize_command(app, action);
  cli::add_diff_command(app, action);
  cli::add_export_command(app, action);
  cli::add_train_command(app, action);
  cli::add_quiet_option(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail(cli::kBadInput, std::string(e.what()) + " (see trainmem --help)");
  }
  if (cli::quiet()) std::cout.setstate(std::ios::badbit);  // every report goes through std::cout; errors use stderr
  try {
    return action();
  } catch (const cli::OutOfMemory& e) {
    return fail(cli::kOutOfMemory, e.what());
  } catch (const cli::DeviceUnavailable& e) {
    return fail(cli::kNoDevice, e.what());
  } catch (const cli::UsageError& e) {
    return fail(cli::kBadInput, e.what());
  } catch (const std::invalid_argument& e) {
    return fail(cli::kBadInput, e.what());
  } catch (const InputError& e) {
    return fail(cli::kBadInput, e.what());
  } catch (const OutputError& e) {
    return fail(cli::kBadInput, e.what());
  } catch (const TraceError& e) {
    return fail(cli::kBadInput, std::string("inconsistent trace: ") + e.what());
  } catch (const c10::Error& e) {
    return fail(cli::kFailure, e.what_without_backtrace());
  } catch (const std::exception& e) {
    return fail(cli::kFailure, e.what());
  }
}
