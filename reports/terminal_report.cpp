#include "reports/terminal_report.h"

#include <algorithm>
#include <iterator>
#include <string>

#include <fmt/format.h>

#include "analysis/compression_estimate.h"
#include "reports/failure_report.h"
#include "reports/summary_json.h"
#include "reports/units.h"

namespace trainmem {
namespace {

std::string percent(int64_t part, int64_t whole) {
  return fmt::format("{:.1f}%", whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

std::string_view module_type(const RunInfo& run, std::string_view name) {
  auto it = std::find_if(run.modules.begin(), run.modules.end(),
                         [&](const ModuleInfo& module) { return module.name == name; });
  return it == run.modules.end() ? std::string_view() : std::string_view(it->type);
}

std::string heading(const TerminalStyle& style, std::string_view text) {
  return style.paint(text, Tone::kHeading) + "\n";
}

void print_points(std::string& out, const Analysis& analysis, const TerminalStyle& style) {
  const StepPoints& points = analysis.points;
  out += heading(style, fmt::format("Live memory at the five points (last step: {})", analysis.last_step));
  Table table(2);
  for (const auto& [label, bytes] : {std::pair<std::string_view, int64_t>{"init", points.init},
                                     {"input", points.input},
                                     {"forward peak", points.forward_peak},
                                     {"backward end", points.backward_end},
                                     {"optimizer peak", points.optimizer_peak}}) {
    table.add_row({{std::string(label)}, {format_bytes(bytes)}});
  }
  out += table.render(style);
}

// Each category's bytes and share of `total`.
std::string category_table(const std::array<int64_t, kCategoryCount>& categories, int64_t total,
                           const TerminalStyle& style) {
  Table table(3);
  for (int i = 0; i < kCategoryCount; ++i) {
    table.add_row({{std::string(to_string(static_cast<Category>(i)))},
                   {format_bytes(categories[i])},
                   {percent(categories[i], total)}});
  }
  return table.render(style);
}

void print_peak(std::string& out, const Analysis& analysis, const TerminalStyle& style) {
  const PeakInfo& peak = analysis.peak;
  out += heading(style, fmt::format("Peak {} at event {} ({}, step {}, module {}, op {})", format_bytes(peak.bytes),
                                    peak.seq, to_string(peak.phase), peak.step, peak.module.empty() ? "-" : peak.module,
                                    peak.op.empty() ? "-" : peak.op));
  out += category_table(analysis.categories_at_peak, peak.bytes, style);
}

// The parameters the allocator saw at the end of init must be exactly what the model declares.
void print_parameter_check(std::string& out, const RunInfo& run, const Analysis& analysis, const TerminalStyle& style) {
  const int64_t element_bytes = run.parameter_count > 0 ? run.parameter_bytes / run.parameter_count : 0;
  const int64_t measured = analysis.measured_parameter_bytes;
  if (measured == run.parameter_bytes) {
    fmt::format_to(std::back_inserter(out), "parameters: measured {} = {} x parameter_count ({}) {}\n",
                   format_bytes(measured), element_bytes, run.parameter_count, style.paint("✓", Tone::kGood));
  } else {
    fmt::format_to(std::back_inserter(out), "parameters: measured {} ({} bytes) != {} x parameter_count ({}) = {} bytes {}\n",
                   format_bytes(measured), measured, element_bytes, run.parameter_count, run.parameter_bytes,
                   style.paint("✗ (mismatch)", Tone::kBad));
  }
}

// The first rows of `modules` (largest first), with their type and share of `total`.
std::string module_table(const RunInfo& run, const std::vector<ModuleBytes>& modules, int64_t total,
                         const TerminalStyle& style) {
  Table table(5);
  table.align(1, Table::Align::kLeft);
  for (size_t i = 0; i < std::min(modules.size(), kTopActivationModules); ++i) {
    const ModuleBytes& module = modules[i];
    table.add_row({{std::string(module_label(module.module))},
                   {std::string(module_type(run, module.module)), Tone::kDim},
                   {format_bytes(module.bytes)},
                   {percent(module.bytes, total)},
                   {fmt::format("{} blocks", module.blocks)}});
  }
  return table.render(style);
}

void print_top_modules(std::string& out, const RunInfo& run, const Analysis& analysis, const TerminalStyle& style) {
  out += heading(style, fmt::format("Top {} modules by activations ({} in all, forward of step {})",
                                    std::min(analysis.activations_by_module.size(), kTopActivationModules),
                                    format_bytes(analysis.activation_bytes), analysis.last_step));
  out += module_table(run, analysis.activations_by_module, analysis.activation_bytes, style);
}

// With compression, what it saved against the same run without it, beside the paper's analytic estimate.
void print_compression(std::string& out, const RunInfo& run, const Analysis& analysis, const TerminalStyle& style) {
  if (run.baseline_activation_bytes <= 0) return;
  out += heading(style, fmt::format("Compression --compress {} ({}), against the same run without it",
                                    run.compress, run.compress_mode));
  const auto saved = [](int64_t with, int64_t without) { return percent(without - with, without); };
  Table table(4);
  table.add_row({{""}, {"without", Tone::kDim}, {"with", Tone::kDim}, {"saved", Tone::kDim}});
  table.add_row({{"activations, measured"},
                 {format_bytes(run.baseline_activation_bytes)},
                 {format_bytes(analysis.activation_bytes)},
                 {saved(analysis.activation_bytes, run.baseline_activation_bytes), Tone::kGood}});
  const std::optional<double> analytic = analytic_reduction(run);
  table.add_row({{"activations, analytic (the paper's estimate)"},
                 {""},
                 {""},
                 {analytic ? fmt::format("{:.1f}%", 100.0 * *analytic) : "n/a"}});
  table.add_row({{"peak, measured"},
                 {format_bytes(run.baseline_peak_bytes)},
                 {format_bytes(analysis.peak.bytes)},
                 {saved(analysis.peak.bytes, run.baseline_peak_bytes), Tone::kGood}});
  out += table.render(style) + '\n';
}

std::string header(const RunInfo& run, const TerminalStyle& style) {
  return heading(style, fmt::format("{}: batch {}, resolution {}, optimizer {}, device {}, {} steps", run.model,
                                    run.batch, run.resolution, run.optimizer, run.device, run.steps)) +
         "\n";
}

}  // namespace

void print_report(std::ostream& out, const RunInfo& run, const Analysis& analysis, const TerminalStyle& style) {
  std::string text = header(run, style);
  print_points(text, analysis, style);
  text += '\n';
  print_peak(text, analysis, style);
  text += '\n';
  print_parameter_check(text, run, analysis, style);
  text += '\n';
  print_compression(text, run, analysis, style);
  print_top_modules(text, run, analysis, style);
  out << text;
}

void print_out_of_memory_report(std::ostream& out, const RunInfo& run, const Analysis& analysis,
                                const TerminalStyle& style) {
  std::string text = header(run, style) + style.paint(describe_out_of_memory(*run.out_of_memory), Tone::kBad) + "\n\n";
  int64_t live = 0;
  for (int64_t bytes : analysis.categories_at_end) live += bytes;
  text += heading(style, "Live memory at that moment, by category");
  text += category_table(analysis.categories_at_end, live, style);
  text += '\n' + heading(style, "Top modules by live memory at that moment");
  text += module_table(run, analysis.live_at_end_by_module, live, style);
  out << text;
}

}  // namespace trainmem
