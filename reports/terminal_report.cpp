#include "reports/terminal_report.h"

#include <algorithm>
#include <iterator>
#include <string>

#include <fmt/format.h>

#include "reports/failure_report.h"
#include "reports/summary_json.h"
#include "reports/units.h"

namespace trainmem {
namespace {

constexpr int kLabelWidth = 16;
constexpr int kBytesWidth = 13;  // "99999.99 MiB" and a space

double percent(int64_t part, int64_t whole) {
  return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

std::string_view module_type(const RunInfo& run, std::string_view name) {
  auto it = std::find_if(run.modules.begin(), run.modules.end(),
                         [&](const ModuleInfo& module) { return module.name == name; });
  return it == run.modules.end() ? std::string_view() : std::string_view(it->type);
}

void print_points(std::string& out, const Analysis& analysis) {
  const StepPoints& points = analysis.points;
  fmt::format_to(std::back_inserter(out), "Live memory at the five points (last step: {})\n", analysis.last_step);
  const std::pair<std::string_view, int64_t> rows[] = {{"init", points.init},
                                                       {"input", points.input},
                                                       {"forward peak", points.forward_peak},
                                                       {"backward end", points.backward_end},
                                                       {"optimizer peak", points.optimizer_peak}};
  for (const auto& [label, bytes] : rows) {
    fmt::format_to(std::back_inserter(out), "  {:<{}}{:>{}}\n", label, kLabelWidth, format_bytes(bytes), kBytesWidth);
  }
}

void print_peak(std::string& out, const Analysis& analysis) {
  const PeakInfo& peak = analysis.peak;
  fmt::format_to(std::back_inserter(out), "Peak {} at event {} ({}, step {}, module {}, op {})\n",
                 format_bytes(peak.bytes), peak.seq, to_string(peak.phase), peak.step,
                 peak.module.empty() ? "-" : peak.module, peak.op.empty() ? "-" : peak.op);
  for (int i = 0; i < kCategoryCount; ++i) {
    int64_t bytes = analysis.categories_at_peak[i];
    fmt::format_to(std::back_inserter(out), "  {:<{}}{:>{}}  {:5.1f}%\n", to_string(static_cast<Category>(i)),
                   kLabelWidth, format_bytes(bytes), kBytesWidth, percent(bytes, peak.bytes));
  }
}

// The parameters the allocator saw at the end of init must be exactly what the model declares.
void print_parameter_check(std::string& out, const RunInfo& run, const Analysis& analysis) {
  const int64_t element_bytes = run.parameter_count > 0 ? run.parameter_bytes / run.parameter_count : 0;
  const int64_t measured = analysis.measured_parameter_bytes;
  if (measured == run.parameter_bytes) {
    fmt::format_to(std::back_inserter(out), "parameters: measured {} = {} x parameter_count ({}) ✓\n",
                   format_bytes(measured), element_bytes, run.parameter_count);
  } else {
    fmt::format_to(std::back_inserter(out),
                   "parameters: measured {} ({} bytes) != {} x parameter_count ({}) = {} bytes ✗ (mismatch)\n",
                   format_bytes(measured), measured, element_bytes, run.parameter_count, run.parameter_bytes);
  }
}

// The first rows of `modules` (largest first), with their type and share of `total`.
void print_module_rows(std::string& out, const RunInfo& run, const std::vector<ModuleBytes>& modules, int64_t total) {
  const size_t count = std::min(modules.size(), kTopActivationModules);
  size_t name_width = kLabelWidth;
  size_t type_width = 0;
  for (size_t i = 0; i < count; ++i) {
    name_width = std::max(name_width, modules[i].module.size() + 2);
    type_width = std::max(type_width, module_type(run, modules[i].module).size() + 2);
  }
  for (size_t i = 0; i < count; ++i) {
    const ModuleBytes& module = modules[i];
    fmt::format_to(std::back_inserter(out), "  {:<{}}{:<{}}{:>{}}  {:5.1f}%  {} blocks\n", module_label(module.module),
                   name_width, module_type(run, module.module), type_width, format_bytes(module.bytes), kBytesWidth,
                   percent(module.bytes, total), module.blocks);
  }
}

void print_top_modules(std::string& out, const RunInfo& run, const Analysis& analysis) {
  fmt::format_to(std::back_inserter(out), "Top {} modules by activations ({} in all, forward of step {})\n",
                 std::min(analysis.activations_by_module.size(), kTopActivationModules),
                 format_bytes(analysis.activation_bytes), analysis.last_step);
  print_module_rows(out, run, analysis.activations_by_module, analysis.activation_bytes);
}

std::string header(const RunInfo& run) {
  return fmt::format("{}: batch {}, resolution {}, optimizer {}, device {}, {} steps\n\n", run.model, run.batch,
                     run.resolution, run.optimizer, run.device, run.steps);
}

}  // namespace

void print_report(std::ostream& out, const RunInfo& run, const Analysis& analysis) {
  std::string text = header(run);
  print_points(text, analysis);
  text += '\n';
  print_peak(text, analysis);
  text += '\n';
  print_parameter_check(text, run, analysis);
  text += '\n';
  print_top_modules(text, run, analysis);
  out << text;
}

void print_out_of_memory_report(std::ostream& out, const RunInfo& run, const Analysis& analysis) {
  std::string text = header(run) + describe_out_of_memory(*run.out_of_memory) + "\n\n";
  int64_t live = 0;
  for (int64_t bytes : analysis.categories_at_end) live += bytes;
  text += "Live memory at that moment, by category\n";
  for (int i = 0; i < kCategoryCount; ++i) {
    const int64_t bytes = analysis.categories_at_end[i];
    fmt::format_to(std::back_inserter(text), "  {:<{}}{:>{}}  {:5.1f}%\n", to_string(static_cast<Category>(i)),
                   kLabelWidth, format_bytes(bytes), kBytesWidth, percent(bytes, live));
  }
  text += "\nTop modules by live memory at that moment\n";
  print_module_rows(text, run, analysis.live_at_end_by_module, live);
  out << text;
}

}  // namespace trainmem
