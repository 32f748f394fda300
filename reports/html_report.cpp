#include "reports/html_report.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "analysis/compression_estimate.h"
#include "reports/layers_csv.h"
#include "reports/run_files.h"
#include "reports/units.h"

namespace trainmem {
namespace {

using L = ChartLayout;
constexpr double kMiB = 1024.0 * 1024.0;

// Light tints behind the areas, by Phase; "other" (between the loop's phases) gets no band.
constexpr std::array<std::string_view, kPhaseCount> kPhaseTints{"", "#ececec", "#fbefc5", "#dde9f7", "#f8dcd6", "#dcefd8"};
constexpr std::array<std::string_view, kStepPointCount> kPointLabels{"model initialised", "input loaded", "forward peak",
                                                                     "backward complete", "optimizer peak"};

std::string escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string colour(uint32_t rgb) { return fmt::format("#{:06x}", rgb); }
std::string category_name(int i) { return std::string(to_string(static_cast<Category>(i))); }
std::string seconds(int64_t ns) { return fmt::format("{:.3f} s", static_cast<double>(ns) / 1e9); }
std::string percent(double fraction) { return fmt::format("{:.1f}%", 100.0 * fraction); }

// Where an event happened, as a phrase: "in layer4.0.conv2 (aten::convolution_backward)".
std::string where(std::string_view module, std::string_view op) {
  std::string text = module.empty() ? "outside any module" : "in " + std::string(module);
  if (!op.empty()) text += " (" + std::string(op) + ")";
  return escape(text);
}

// A round tick spacing (1, 2 or 5 times a power of ten) giving about `target` ticks over `range`.
double tick_step(double range, int target) {
  const double raw = range / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double normalised = raw / magnitude;
  return (normalised < 1.5 ? 1 : normalised < 3 ? 2 : normalised < 7 ? 5 : 10) * magnitude;
}

// Enough decimals to tell ticks `step` apart.
int tick_decimals(double step) { return std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9))); }

class Chart {
 public:
  Chart(const Timeline& timeline, int64_t peak_bytes, int64_t budget_bytes)
      : timeline_(timeline), peak_bytes_(peak_bytes), budget_bytes_(budget_bytes) {
    int64_t top = std::max(peak_bytes, budget_bytes);
    for (const TimelineSample& sample : timeline.samples) top = std::max(top, sample.total);
    y_step_mib_ = tick_step(std::max(top / kMiB, 1e-6), 6);
    y_max_mib_ = std::ceil(top / kMiB * 1.04 / y_step_mib_) * y_step_mib_;
    end_s_ = std::max(static_cast<double>(timeline.end_ns) / 1e9, 1e-6);
    x_step_s_ = tick_step(end_s_, 10);
  }

  std::string svg() const {
    std::string out = fmt::format(
        R"(<svg id="memory-chart" width="{0}" height="{1}" viewBox="0 0 {0} {1}" )"
        R"(role="img" aria-label="live memory over the run, stacked by category">)",
        L::kWidth, L::kHeight);
    out += legend();
    out += phase_bands();
    out += grid();
    out += areas();
    if (peak_bytes_ > 0) out += level_line("peak", peak_bytes_, peak_bytes_ >= budget_bytes_ ? -5 : 14);
    if (budget_bytes_ > 0) out += level_line("budget", budget_bytes_, peak_bytes_ >= budget_bytes_ ? 14 : -5);
    out += axes();
    out += points();
    if (timeline_.samples.empty()) {
      out += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle" class="empty">no events recorded</text>)",
                         (L::kPlotLeft + L::kPlotRight) / 2, (L::kPlotTop + L::kPlotBottom) / 2);
    }
    out += "</svg>\n";
    return out;
  }

 private:
  double x(int64_t ns) const { return L::kPlotLeft + (L::kPlotRight - L::kPlotLeft) * (static_cast<double>(ns) / 1e9) / end_s_; }
  double y(double bytes) const { return L::kPlotBottom - (L::kPlotBottom - L::kPlotTop) * (bytes / kMiB) / y_max_mib_; }

  std::string legend() const {
    std::string out = R"(<g class="legend">)";
    double at = L::kPlotLeft;
    for (int i = 0; i < kCategoryCount; ++i) {
      const std::string name = category_name(i);
      fmt::format_to(std::back_inserter(out), R"(<rect x="{}" y="12" width="12" height="12" fill="{}"/>)"
                                              R"(<text x="{}" y="22">{}</text>)",
                     at, colour(kCategoryColours[i]), at + 17, name);
      at += 30 + 7.2 * static_cast<double>(name.size());
    }
    fmt::format_to(std::back_inserter(out), R"(<circle cx="{}" cy="18" r="7" class="point"/><text x="{}" y="22">)"
                                            R"(the five points of the last step</text></g>)",
                   at + 6, at + 18);
    return out;
  }

  std::string phase_bands() const {
    std::string out = R"(<g class="phases">)";
    for (const PhaseSpan& span : timeline_.phases) {
      const std::string_view tint = kPhaseTints[static_cast<size_t>(span.phase)];
      if (tint.empty()) continue;
      const double left = x(span.start_ns);
      const double width = x(span.end_ns) - left;
      const std::string name = span.phase == Phase::kInit ? "init" : fmt::format("{} {}", to_string(span.phase), span.step);
      fmt::format_to(std::back_inserter(out),
                     R"(<rect x="{:.1f}" y="{}" width="{:.1f}" height="{}" fill="{}"><title>{}: {} to {}</title></rect>)",
                     left, L::kPlotTop, std::max(width, 0.5), L::kPlotBottom - L::kPlotTop, tint, name,
                     seconds(span.start_ns), seconds(span.end_ns));
      // Labelled above the plot where the band is wide enough for its name.
      if (width >= 6.5 * static_cast<double>(name.size()) + 6) {
        fmt::format_to(std::back_inserter(out), R"(<text x="{:.1f}" y="{}" text-anchor="middle" class="phase-label">{}</text>)",
                       left + width / 2, L::kPlotTop - 6, name);
      }
    }
    return out + "</g>";
  }

  std::string grid() const {
    std::string out = R"(<g class="grid">)";
    for (double mib = y_step_mib_; mib <= y_max_mib_ + 1e-9; mib += y_step_mib_) {
      fmt::format_to(std::back_inserter(out), R"(<line x1="{}" x2="{}" y1="{:.1f}" y2="{:.1f}"/>)", L::kPlotLeft, L::kPlotRight,
                     y(mib * kMiB), y(mib * kMiB));
    }
    return out + "</g>";
  }

  // Stacked areas drawn back to front: each category's shape reaches down to the axis, and the ones
  // below it in the stack are painted over it. Steps, not slopes: memory holds until the next sample.
  std::string areas() const {
    if (timeline_.samples.empty()) return "";
    std::string out = R"(<g class="areas">)";
    for (int top = kCategoryCount - 1; top >= 0; --top) {
      fmt::format_to(std::back_inserter(out), R"(<path fill="{}" d="M{:.1f},{})", colour(kCategoryColours[top]),
                     x(timeline_.samples.front().time_ns), L::kPlotBottom);
      for (const TimelineSample& sample : timeline_.samples) {
        int64_t stacked = 0;
        for (int i = 0; i <= top; ++i) stacked += sample.categories[i];
        fmt::format_to(std::back_inserter(out), "H{:.1f}V{:.1f}", x(sample.time_ns), y(static_cast<double>(stacked)));
      }
      fmt::format_to(std::back_inserter(out), R"(H{:.1f}V{}Z"><title>{}</title></path>)", x(timeline_.end_ns),
                     L::kPlotBottom, category_name(top));
    }
    return out + "</g>";
  }

  // A dashed line across the plot at `bytes`, labelled at the right end, `label_dy` below it (above if negative).
  std::string level_line(std::string_view name, int64_t bytes, int label_dy) const {
    const double at = y(static_cast<double>(bytes));
    return fmt::format(R"(<g class="{0}"><line x1="{1}" x2="{2}" y1="{3:.1f}" y2="{3:.1f}"/>)"
                       R"(<text x="{4}" y="{5:.1f}" text-anchor="end">{0} {6}</text></g>)",
                       name, L::kPlotLeft, L::kPlotRight, at, L::kPlotRight - 4, at + label_dy, escape(format_bytes(bytes)));
  }

  std::string axes() const {
    std::string out = R"(<g class="axes">)";
    const int decimals = tick_decimals(y_step_mib_);
    for (double mib = 0; mib <= y_max_mib_ + 1e-9; mib += y_step_mib_) {
      const double at = y(mib * kMiB);
      fmt::format_to(std::back_inserter(out), R"(<line x1="{}" x2="{}" y1="{:.1f}" y2="{:.1f}"/>)"
                                              R"(<text x="{}" y="{:.1f}" text-anchor="end">{:.{}f} MiB</text>)",
                     L::kPlotLeft - 5, L::kPlotLeft, at, at, L::kPlotLeft - 8, at + 4, mib, decimals);
    }
    const int x_decimals = tick_decimals(x_step_s_);
    for (double s = 0; s <= end_s_ + 1e-9; s += x_step_s_) {
      const double at = x(static_cast<int64_t>(std::llround(s * 1e9)));
      fmt::format_to(std::back_inserter(out), R"(<line x1="{:.1f}" x2="{:.1f}" y1="{}" y2="{}"/>)"
                                              R"(<text x="{:.1f}" y="{}" text-anchor="middle">{:.{}f}</text>)",
                     at, at, L::kPlotBottom, L::kPlotBottom + 5, at, L::kPlotBottom + 19, s, x_decimals);
    }
    fmt::format_to(std::back_inserter(out),
                   R"(<path class="frame" d="M{0},{1}V{2}H{3}"/>)"
                   R"(<text x="{4}" y="{5}" text-anchor="middle" class="title">time since the recording started (s)</text>)"
                   R"svg(<text transform="translate(16 {6}) rotate(-90)" text-anchor="middle" class="title">live memory</text></g>)svg",
                   L::kPlotLeft, L::kPlotTop, L::kPlotBottom, L::kPlotRight, (L::kPlotLeft + L::kPlotRight) / 2,
                   L::kPlotBottom + 40, (L::kPlotTop + L::kPlotBottom) / 2);
    return out;
  }

  // A dot on the curve and a numbered badge on it; a badge that would cover an earlier one moves up (or down,
  // near the top), tied to its dot by a line. Badges go on top of every dot and line.
  std::string points() const {
    std::string dots = R"(<g class="points">)";
    std::string badges;
    std::vector<std::pair<double, double>> placed;
    for (int i = 0; i < kStepPointCount; ++i) {
      const std::optional<PointMoment>& moment = timeline_.points[i];
      if (!moment) continue;
      const double cx = x(moment->time_ns);
      const double cy = y(static_cast<double>(moment->bytes));
      double by = cy;
      const double shift = cy - 40 > L::kPlotTop ? -20 : 20;
      auto covers = [&](const std::pair<double, double>& badge) { return std::hypot(badge.first - cx, badge.second - by) < 18; };
      while (std::any_of(placed.begin(), placed.end(), covers)) by += shift;
      placed.emplace_back(cx, by);
      fmt::format_to(std::back_inserter(dots), R"(<line x1="{0:.1f}" y1="{1:.1f}" x2="{0:.1f}" y2="{2:.1f}"/><circle cx="{0:.1f}" cy="{1:.1f}" r="3"/>)",
                     cx, cy, by);
      fmt::format_to(std::back_inserter(badges),
                     R"(<g><title>{} {}: {} at {}</title><circle cx="{:.1f}" cy="{:.1f}" r="8" class="point"/>)"
                     R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle" class="point-number">{}</text></g>)",
                     i + 1, kPointLabels[i], escape(format_bytes(moment->bytes)), seconds(moment->time_ns), cx, by, cx,
                     by + 3.5, i + 1);
    }
    return dots + badges + "</g>";
  }

  const Timeline& timeline_;
  int64_t peak_bytes_;
  int64_t budget_bytes_;  // --budget, 0 for none
  double y_step_mib_ = 1;
  double y_max_mib_ = 1;
  double end_s_ = 1;
  double x_step_s_ = 1;
};

// A byte count as a table cell: human units shown, exact bytes to sort by and on hover.
std::string bytes_cell(int64_t bytes) {
  return fmt::format(R"(<td class="num" data-value="{0}" title="{0} bytes">{1}</td>)", bytes, escape(format_bytes(bytes)));
}

std::string points_table(const Analysis& analysis, const Timeline& timeline) {
  const StepPoints& p = analysis.points;
  const std::array<int64_t, kStepPointCount> values{p.init, p.input, p.forward_peak, p.backward_end, p.optimizer_peak};
  std::string out = fmt::format(R"(<div><h3>The five points</h3><p class="note">of the last step ({}), as the paper defines them</p>)"
                                R"(<table id="points-table"><thead><tr><th></th><th>point</th><th class="num">live</th>)"
                                R"(<th class="num">time</th></tr></thead><tbody>)",
                                analysis.last_step);
  for (int i = 0; i < kStepPointCount; ++i) {
    const std::optional<PointMoment>& moment = timeline.points[i];
    fmt::format_to(std::back_inserter(out), R"(<tr><td><span class="badge">{}</span></td><td>{}</td>{}<td class="num">{}</td></tr>)",
                   i + 1, kPointLabels[i], bytes_cell(values[i]), moment ? seconds(moment->time_ns) : "not reached");
  }
  return out + "</tbody></table></div>\n";
}

std::string category_table(const Analysis& analysis) {
  const PeakInfo& peak = analysis.peak;
  const double total = static_cast<double>(std::max<int64_t>(peak.bytes, 1));
  std::string out = fmt::format(R"(<div><h3>At the peak: {}</h3><p class="note">{} of step {}, {}</p>)",
                                escape(format_bytes(peak.bytes)), to_string(peak.phase), peak.step, where(peak.module, peak.op));
  // One bar split like the table, so that the proportions read at a glance.
  out += R"(<div id="peak-split" class="bar">)";
  for (int i = 0; i < kCategoryCount; ++i) {
    const double share = static_cast<double>(analysis.categories_at_peak[i]) / total;
    fmt::format_to(std::back_inserter(out), R"(<span style="width:{:.3f}%;background:{}" title="{}"></span>)", 100 * share,
                   colour(kCategoryColours[i]), category_name(i));
  }
  out += R"(</div><table id="category-table"><thead><tr><th>category</th><th class="num">bytes</th><th class="num">share</th>)"
         R"(</tr></thead><tbody>)";
  for (int i = 0; i < kCategoryCount; ++i) {
    const int64_t bytes = analysis.categories_at_peak[i];
    fmt::format_to(std::back_inserter(out), R"(<tr><td><span class="swatch" style="background:{}"></span>{}</td>{}<td class="num">{}</td></tr>)",
                   colour(kCategoryColours[i]), category_name(i), bytes_cell(bytes), percent(static_cast<double>(bytes) / total));
  }
  fmt::format_to(std::back_inserter(out), R"(</tbody><tfoot><tr><td>total</td>{}<td class="num">100.0%</td></tr></tfoot></table></div>)",
                 bytes_cell(peak.bytes));
  return out + "\n";
}

std::string compression_section(const RunInfo& run, const Analysis& analysis) {
  if (run.baseline_activation_bytes <= 0) return "";
  auto reduction = [](int64_t now, int64_t before) { return 1.0 - static_cast<double>(now) / static_cast<double>(before); };
  const std::optional<double> analytic = analytic_reduction(run);
  std::string out = fmt::format(
      R"(<section id="compression"><h2>Compression: --compress {} ({})</h2><table><thead><tr><th></th>)"
      R"(<th>without</th><th>with</th><th>saved</th></tr></thead><tbody>)",
      escape(run.compress), escape(run.compress_mode));
  fmt::format_to(std::back_inserter(out), R"(<tr><td>activations, measured</td>{}{}<td class="num">{}</td></tr>)",
                 bytes_cell(run.baseline_activation_bytes), bytes_cell(analysis.activation_bytes),
                 percent(reduction(analysis.activation_bytes, run.baseline_activation_bytes)));
  fmt::format_to(std::back_inserter(out), R"(<tr><td>activations, analytic (the paper's estimate)</td><td></td><td></td><td class="num">{}</td></tr>)",
                 analytic ? percent(*analytic) : "n/a");
  fmt::format_to(std::back_inserter(out), R"(<tr><td>peak, measured</td>{}{}<td class="num">{}</td></tr>)",
                 bytes_cell(run.baseline_peak_bytes), bytes_cell(analysis.peak.bytes),
                 percent(reduction(analysis.peak.bytes, run.baseline_peak_bytes)));
  return out + "</tbody></table></section>\n";
}

// Fields of one layers.csv line (quoted fields unquoted).
std::vector<std::string> csv_fields(std::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"') {
      if (i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else {
        quoted = false;
      }
    } else if (!quoted && c == '"') {
      quoted = true;
    } else if (!quoted && c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

// Headings for layers.csv's columns (formats.md says what each holds); any other column shows its own name.
std::string column_label(std::string_view column) {
  static const std::map<std::string_view, std::string_view> kLabels{
      {"weight_bytes", "weights"},       {"input_shape", "input shape"},     {"input_bytes", "input"},
      {"activation_bytes", "activations"}, {"activation_blocks", "blocks"},  {"k2_bytes", "pooled k=2"},
      {"k4_bytes", "pooled k=4"},        {"compress_k", "k applied"},        {"pooled_bytes", "pooled, measured"}};
  auto it = kLabels.find(column);
  return std::string(it == kLabels.end() ? column : it->second);
}

bool is_integer(std::string_view text) {
  return !text.empty() && std::all_of(text.begin() + (text[0] == '-'), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// layers.csv as a table: byte columns in human units; the compression columns only when compressing.
std::string layer_table(const RunInfo& run, const Analysis& analysis) {
  const std::string csv = layers_csv(run, analysis);
  std::vector<std::string_view> lines;
  for (size_t start = 0, end; start < csv.size(); start = end + 1) {
    end = csv.find('\n', start);
    lines.push_back(std::string_view(csv).substr(start, end - start));
  }
  const std::vector<std::string> header = csv_fields(lines.front());
  std::vector<size_t> shown;
  for (size_t i = 0; i < header.size(); ++i) {
    if (run.baseline_activation_bytes > 0 || (header[i] != "compress_k" && header[i] != "pooled_bytes")) shown.push_back(i);
  }
  std::string out = R"(<table id="layer-table" class="sortable"><thead><tr>)";
  for (size_t i : shown) {
    const bool text = header[i] == "module" || header[i] == "type" || header[i] == "input_shape";
    fmt::format_to(std::back_inserter(out), R"(<th{} title="layers.csv: {}">{}</th>)", text ? "" : R"( class="num")",
                   escape(header[i]), escape(column_label(header[i])));
  }
  out += "</tr></thead><tbody>";
  for (size_t row = 1; row < lines.size(); ++row) {
    const std::vector<std::string> fields = csv_fields(lines[row]);
    out += "<tr>";
    for (size_t i : shown) {
      const std::string& field = fields.at(i);
      if (header[i].ends_with("_bytes") && is_integer(field)) {
        out += bytes_cell(std::stoll(field));
      } else if (is_integer(field)) {
        fmt::format_to(std::back_inserter(out), R"(<td class="num" data-value="{0}">{0}</td>)", field);
      } else {
        fmt::format_to(std::back_inserter(out), "<td>{}</td>", escape(field));
      }
    }
    out += "</tr>";
  }
  return out + "</tbody></table>\n";
}

std::string settings_table(const RunInfo& run) {
  nlohmann::ordered_json settings = nlohmann::ordered_json::object();
  add_run_settings(settings, run);
  settings["compress"] = run.compress;
  settings["compress_mode"] = run.compress_mode;
  settings["budget_bytes"] = run.budget_bytes;
  settings["modules"] = run.modules.size();
  std::string out = R"(<table id="settings"><tbody>)";
  for (const auto& [key, value] : settings.items()) {
    std::string text = value.is_string() ? value.get<std::string>()
                                         : value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (key.ends_with("_bytes") && value.get<int64_t>() > 0) text += " (" + format_bytes(value.get<int64_t>()) + ")";
    fmt::format_to(std::back_inserter(out), "<tr><th>{}</th><td>{}</td></tr>", escape(key), escape(text));
  }
  return out + "</tbody></table>\n";
}

std::string out_of_memory_banner(const RunInfo& run) {
  if (!run.out_of_memory) return "";
  const OutOfMemoryInfo& oom = *run.out_of_memory;
  return fmt::format(R"(<p id="out-of-memory" class="alert">Ran out of memory in {} of step {}, {}, asking for {} with {} alive; )"
                     R"(the chart ends there.</p>)",
                     escape(oom.phase), oom.step, where(oom.module, oom.op), escape(format_bytes(oom.requested_bytes)),
                     escape(format_bytes(oom.live_bytes)));
}

constexpr std::string_view kStyle = R"(
body { margin: 0; font: 14px/1.4 system-ui, "DejaVu Sans", sans-serif; color: #222; background: #fff; }
header { height: 96px; box-sizing: border-box; padding: 14px 20px 0; overflow: hidden; }
h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: #555; }
#memory-chart { display: block; margin-left: 20px; }
main { padding: 8px 20px 40px; max-width: 1140px; }
h2 { font-size: 17px; margin: 28px 0 8px; }
h3 { font-size: 15px; margin: 18px 0 2px; }
.note { margin: 0 0 8px; color: #666; }
.bar { display: flex; height: 14px; margin: 0 0 4px; }
.row { display: flex; gap: 40px; flex-wrap: wrap; align-items: flex-start; }
table { border-collapse: collapse; margin: 6px 0; }
.wide { overflow-x: auto; }
th, td { padding: 3px 9px; border-bottom: 1px solid #e4e4e4; text-align: left; white-space: nowrap; }
thead th { background: #f4f4f4; border-bottom: 1px solid #ccc; }
tfoot td { font-weight: 600; border-top: 1px solid #ccc; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th[aria-sort=ascending]::after { content: " \25B2"; }
table.sortable th[aria-sort=descending]::after { content: " \25BC"; }
table.sortable tbody tr:hover { background: #f6f9ff; }
#settings th { background: none; font-weight: normal; color: #555; }
.swatch { display: inline-block; width: 11px; height: 11px; margin-right: 7px; vertical-align: -1px; }
.badge { display: inline-block; width: 18px; height: 18px; border-radius: 9px; background: #222; color: #fff;
         text-align: center; font-size: 11px; line-height: 18px; font-weight: 700; }
.alert { background: #fde8e8; border: 1px solid #e0a0a0; padding: 8px 12px; }
svg text { font: 12px system-ui, "DejaVu Sans", sans-serif; fill: #333; }
svg .title { font-size: 13px; fill: #555; }
svg .phase-label { fill: #777; font-size: 11px; }
svg .grid line { stroke: #000; stroke-opacity: 0.08; }
svg .axes line, svg .frame { stroke: #444; fill: none; }
svg .peak line { stroke: #222; stroke-dasharray: 5 4; }
svg .budget line { stroke: #c0392b; stroke-dasharray: 8 4; }
svg .budget text { fill: #c0392b; }
svg .point { fill: #222; stroke: #fff; stroke-width: 1.5; }
svg .points line { stroke: #222; }
svg .points circle { fill: #222; }
svg .point-number { fill: #fff; font-size: 10px; font-weight: 700; }
svg .empty { font-size: 16px; fill: #999; }
)";

// Click a header to sort by it (numbers largest first, then alternating); "ready" marks that the script ran.
constexpr std::string_view kScript = R"(
document.querySelectorAll('table.sortable').forEach(function (table) {
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var body = table.tBodies[0];
  function key(row, column) {
    var cell = row.cells[column];
    return cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent;
  }
  headers.forEach(function (th, column) {
    th.addEventListener('click', function () {
      var rows = Array.prototype.slice.call(body.rows);
      var numeric = rows.every(function (row) { var v = key(row, column); return v === '' || !isNaN(Number(v)); });
      var current = th.getAttribute('aria-sort');
      var ascending = current ? current === 'descending' : !numeric;
      headers.forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
      rows.sort(function (a, b) {
        var x = key(a, column), y = key(b, column);
        if (x === '' || y === '') return (x === '') - (y === '');
        var order = numeric ? Number(x) - Number(y) : x.localeCompare(y);
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
  table.dataset.sortable = 'ready';
});
)";

}  // namespace

std::string html_report(const RunInfo& run, const Analysis& analysis, const Timeline& timeline) {
  const std::string title = fmt::format("{} · batch {} · {} px · {} · {} steps", run.model, run.batch, run.resolution,
                                        run.optimizer, run.steps);
  std::string out = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>trainmem: {0}</title>"
      "<style>{1}</style></head>\n<body>\n<header><h1>{0}</h1><p>peak {2} in {3} of step {4}, {5} · device {6} · "
      "drawn from {7} samples of the event stream, each the largest of its stretch of time</p></header>\n",
      escape(title), kStyle, escape(format_bytes(analysis.peak.bytes)), to_string(analysis.peak.phase), analysis.peak.step,
      where(analysis.peak.module, {}), escape(run.device), timeline.samples.size());
  out += Chart(timeline, analysis.peak.bytes, run.budget_bytes).svg();
  out += "<main>\n";
  out += out_of_memory_banner(run);
  out += R"(<div class="row">)" + category_table(analysis) + points_table(analysis, timeline) + "</div>\n";
  out += compression_section(run, analysis);
  out += "<h2>Layers (layers.csv; click a column to sort)</h2>\n<div class=\"wide\">" + layer_table(run, analysis) + "</div>\n";
  out += "<h2>Settings (run.json)</h2>\n" + settings_table(run);
  out += "</main>\n<script>" + std::string(kScript) + "</script>\n</body></html>\n";
  return out;
}

}  // namespace trainmem
