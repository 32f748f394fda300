#include "reports/run_diff.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "analysis/analysis.h"
#include "reports/errors.h"
#include "reports/layers_csv.h"
#include "reports/summary_json.h"
#include "reports/units.h"

namespace trainmem {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kDiffFormat = "trainmem-diff";

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open", file.string()));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// ---- summary.json ----

// The summary.json of one run, with one-line errors that name the file and the key.
class Summary {
 public:
  explicit Summary(fs::path file) : file_(std::move(file)) {
    try {
      json_ = nlohmann::json::parse(read_file(file_));
    } catch (const nlohmann::json::exception& e) {
      std::string_view what = e.what();  // "[json.exception.parse_error.101] parse error at ..."
      fail(what.substr(what.find(']') + 2));
    }
    if (!json_.is_object() || json_.value("format", "") != "trainmem-summary") fail("not a trainmem summary");
    if (json_.value("version", 0) != kSummaryVersion) fail("unsupported version");
  }

  const nlohmann::json& at(const std::vector<std::string>& path) const {
    const nlohmann::json* node = &json_;
    for (const std::string& key : path) {
      if (!node->is_object() || !node->contains(key)) fail(fmt::format("missing \"{}\"", fmt::join(path, ".")));
      node = &(*node)[key];
    }
    return *node;
  }

  double number(const std::vector<std::string>& path) const {
    const nlohmann::json& value = at(path);
    if (!value.is_number()) fail(fmt::format("\"{}\" is not a number", fmt::join(path, ".")));
    return value.get<double>();
  }

  // The keys of an object (sorted: nlohmann::json does not keep the file's order).
  std::vector<std::string> keys(const std::vector<std::string>& path) const {
    const nlohmann::json& object = at(path);
    if (!object.is_object()) fail(fmt::format("\"{}\" is not an object", fmt::join(path, ".")));
    std::vector<std::string> keys;
    for (const auto& [key, value] : object.items()) keys.push_back(key);
    return keys;
  }

  [[noreturn]] void fail(std::string_view problem) const {
    throw InputError(fmt::format("{}: {}", file_.string(), problem));
  }

 private:
  fs::path file_;
  nlohmann::json json_;
};

struct Setting {
  std::string name;
  std::vector<std::string> path;
};

const std::vector<Setting>& settings() {
  static const std::vector<Setting> kSettings{
      {"model", {"model"}},         {"batch", {"batch"}},     {"resolution", {"resolution"}},
      {"steps", {"steps"}},         {"optimizer", {"optimizer"}}, {"seed", {"seed"}},
      {"threads", {"threads"}},     {"device", {"device"}},   {"compress", {"compress", "spec"}},
      {"compress_mode", {"compress", "mode"}}, {"budget_bytes", {"budget_bytes"}}};
  return kSettings;
}

struct QuantitySpec {
  std::vector<std::string> path;
  std::string label;
  DiffUnit unit;
};

// The numbers compared, in the order the text shows them. Categories come from the files themselves.
std::vector<QuantitySpec> quantity_specs(const Summary& a, const Summary& b) {
  std::vector<QuantitySpec> specs{{{"points", "init"}, "init", DiffUnit::kBytes},
                                  {{"points", "input"}, "input", DiffUnit::kBytes},
                                  {{"points", "forward_peak"}, "forward peak", DiffUnit::kBytes},
                                  {{"points", "backward_end"}, "backward end", DiffUnit::kBytes},
                                  {{"points", "optimizer_peak"}, "optimizer peak", DiffUnit::kBytes},
                                  {{"peak_bytes"}, "peak", DiffUnit::kBytes},
                                  {{"activation_bytes"}, "activations", DiffUnit::kBytes},
                                  {{"measured_parameter_bytes"}, "measured parameters", DiffUnit::kBytes}};
  // summary.json lists categories in a fixed order that nlohmann::json does not keep; the analysis's order
  // is the documented one, and any category only one side knows comes after it.
  std::vector<std::string> categories;
  for (int i = 0; i < kCategoryCount; ++i) categories.emplace_back(to_string(static_cast<Category>(i)));
  for (const Summary* summary : {&a, &b}) {
    for (const std::string& key : summary->keys({"categories_at_peak"})) {
      if (std::find(categories.begin(), categories.end(), key) == categories.end()) categories.push_back(key);
    }
  }
  for (const std::string& category : categories) {
    specs.push_back({{"categories_at_peak", category}, category, DiffUnit::kBytes});
  }
  specs.push_back({{"events"}, "events", DiffUnit::kCount});
  specs.push_back({{"markers"}, "markers", DiffUnit::kCount});
  specs.push_back({{"last_step_seconds"}, "last step", DiffUnit::kSeconds});
  return specs;
}

// A category one run lacks (an older trainmem) counts as 0 bytes there.
double number_or_zero(const Summary& summary, const QuantitySpec& spec) {
  if (spec.path.front() == "categories_at_peak" &&
      !summary.at({"categories_at_peak"}).contains(spec.path.back())) {
    return 0;
  }
  return summary.number(spec.path);
}

// ---- layers.csv ----

class LayersFile {
 public:
  explicit LayersFile(fs::path file) : file_(std::move(file)) {}

  [[noreturn]] void fail(size_t line, std::string_view problem) const {
    throw InputError(fmt::format("{} line {}: {}", file_.string(), line, problem));
  }

  // The rows of layers.csv by module, in file order.
  std::vector<std::pair<std::string, LayerDiff::Side>> read(std::unordered_map<std::string, std::string>& types) const {
    std::istringstream text(read_file(file_));
    std::string line;
    size_t number = 1;
    if (!std::getline(text, line) || strip_cr(line) != kLayersCsvHeader) {
      fail(number, fmt::format("expected the header \"{}\"", kLayersCsvHeader));
    }
    std::vector<std::pair<std::string, LayerDiff::Side>> rows;
    while (std::getline(text, line)) {
      ++number;
      const std::vector<std::string> fields = split(strip_cr(line), number);
      constexpr size_t kFields = 11;
      if (fields.size() != kFields) fail(number, fmt::format("expected {} fields, found {}", kFields, fields.size()));
      LayerDiff::Side side;
      side.activation_bytes = integer(fields[5], "activation_bytes", number);
      side.activation_blocks = integer(fields[6], "activation_blocks", number);
      if (!fields[9].empty()) side.compress_k = integer(fields[9], "compress_k", number);
      types.emplace(fields[0], fields[1]);
      rows.emplace_back(fields[0], side);
    }
    return rows;
  }

 private:
  static std::string_view strip_cr(std::string_view line) {
    return line.ends_with('\r') ? line.substr(0, line.size() - 1) : line;
  }

  int64_t integer(std::string_view text, std::string_view column, size_t line) const {
    int64_t value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
      fail(line, fmt::format("{} is not an integer", column));
    }
    return value;
  }

  // Fields as reports/csv.h writes them: plain, or quoted with inner quotes doubled.
  std::vector<std::string> split(std::string_view line, size_t number) const {
    std::vector<std::string> fields(1);
    for (size_t pos = 0; pos < line.size(); ++pos) {
      if (line[pos] == ',') {
        fields.emplace_back();
      } else if (line[pos] == '"' && fields.back().empty()) {
        for (++pos;; ++pos) {
          if (pos >= line.size()) fail(number, "unterminated quoted field");
          if (line[pos] == '"' && (pos + 1 >= line.size() || line[pos + 1] != '"')) break;
          if (line[pos] == '"') ++pos;  // a doubled quote
          fields.back() += line[pos];
        }
        if (pos + 1 < line.size() && line[pos + 1] != ',') fail(number, "text after a closing quote");
      } else {
        fields.back() += line[pos];
      }
    }
    return fields;
  }

  fs::path file_;
};

// ---- a run directory ----

struct SavedRun {
  Summary summary;
  std::vector<std::pair<std::string, LayerDiff::Side>> layers;
  std::unordered_map<std::string, std::string> types;
};

SavedRun read_saved_run(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw InputError("no run directory at " + dir.string());
  for (const char* file : {"summary.json", "layers.csv"}) {
    if (fs::is_regular_file(dir / file)) continue;
    const std::string hint = fs::is_regular_file(dir / "run.json")
                                 ? fmt::format(" (`trainmem analyze {}` rebuilds it)", dir.string())
                                 : std::string();
    throw InputError(fmt::format("{} is not a run directory: no {}{}", dir.string(), file, hint));
  }
  SavedRun run{Summary(dir / "summary.json"), {}, {}};
  run.layers = LayersFile(dir / "layers.csv").read(run.types);
  return run;
}

// ---- text ----

std::string format_value(DiffUnit unit, double value) {
  switch (unit) {
    case DiffUnit::kBytes:
      return format_bytes(static_cast<int64_t>(value));
    case DiffUnit::kCount:
      return fmt::format("{}", static_cast<int64_t>(value));
    case DiffUnit::kSeconds:
      return fmt::format("{:.3f} s", value);
  }
  return {};
}

std::string format_change(DiffUnit unit, double delta) {
  const std::string magnitude = format_value(unit, std::abs(delta));
  if (delta > 0) return "+" + magnitude;
  if (delta < 0) return "-" + magnitude;
  return magnitude;
}

std::string format_relative(double a, double b) {
  const std::optional<double> relative = relative_change(a, b);
  if (!relative) return "-";
  if (*relative == 0) return "0.0%";
  return fmt::format("{:+.1f}%", 100 * *relative);
}

// More memory is what a reader of a diff looks for: growth is marked bad, shrinkage good.
Tone change_tone(DiffUnit unit, double delta) {
  if (unit != DiffUnit::kBytes || delta == 0) return Tone::kPlain;
  return delta > 0 ? Tone::kBad : Tone::kGood;
}

std::string setting_text(const nlohmann::json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

std::vector<Table::Cell> number_cells(DiffUnit unit, double a, double b) {
  const double delta = b - a;
  return {{format_value(unit, a)},
          {format_value(unit, b)},
          {format_change(unit, delta), change_tone(unit, delta)},
          {format_relative(a, b), change_tone(unit, delta)}};
}

std::string settings_text(const RunDiff& diff, const TerminalStyle& style) {
  Table table(4);
  table.align(1, Table::Align::kLeft).align(2, Table::Align::kLeft).align(3, Table::Align::kLeft);
  table.add_row({{"Settings", Tone::kHeading}, {"A", Tone::kHeading}, {"B", Tone::kHeading}});
  for (const SettingPair& setting : diff.settings) {
    const bool same = setting.a == setting.b;
    table.add_row({{"  " + setting.name},
                   {setting_text(setting.a)},
                   {setting_text(setting.b)},
                   {same ? "" : "differs", same ? Tone::kPlain : Tone::kHeading}});
  }
  return table.render(style, 0);
}

std::string quantities_text(const RunDiff& diff, const TerminalStyle& style) {
  Table table(5);
  const auto heading = [&](std::string title) {
    table.add_row({{std::move(title), Tone::kHeading}, {"A", Tone::kHeading}, {"B", Tone::kHeading},
                   {"B - A", Tone::kHeading}, {"change", Tone::kHeading}});
  };
  std::string group;
  for (const QuantityDiff& quantity : diff.quantities) {
    const std::string& first = quantity.path.front();
    const std::string this_group = first == "points" ? "Live memory, last step"
                                   : first == "categories_at_peak" ? "Peak by category"
                                   : quantity.unit == DiffUnit::kBytes ? "Totals"
                                                                        : "Events and time";
    if (this_group != group) {
      if (!group.empty()) table.add_row({});
      heading(this_group);
      group = this_group;
    }
    std::vector<Table::Cell> cells{{"  " + quantity.label}};
    for (Table::Cell& cell : number_cells(quantity.unit, quantity.a, quantity.b)) cells.push_back(std::move(cell));
    table.add_row(std::move(cells));
  }
  return table.render(style, 0);
}

std::string layers_text(const RunDiff& diff, const TerminalStyle& style) {
  const auto k = [](const std::optional<LayerDiff::Side>& side) {
    return side ? side->compress_k : std::nullopt;
  };
  // The kernel column only where compression differs: otherwise it repeats the settings.
  const bool show_k = std::any_of(diff.layers.begin(), diff.layers.end(),
                                  [&](const LayerDiff& layer) { return k(layer.a) != k(layer.b); });
  const size_t first_number = show_k ? 3 : 2;
  Table table(first_number + 4);
  table.align(1, Table::Align::kLeft);
  std::vector<Table::Cell> header{{"module", Tone::kHeading}, {"type", Tone::kHeading}};
  if (show_k) header.push_back({"k A→B", Tone::kHeading});
  for (const char* title : {"A", "B", "B - A", "change"}) header.push_back({title, Tone::kHeading});
  table.add_row(std::move(header));
  size_t shown = 0;
  for (const LayerDiff& layer : diff.layers) {
    const double a = layer.a ? static_cast<double>(layer.a->activation_bytes) : 0;
    const double b = layer.b ? static_cast<double>(layer.b->activation_bytes) : 0;
    if (a == 0 && b == 0) continue;
    std::vector<Table::Cell> cells{{layer.module}, {layer.type, Tone::kDim}};
    if (show_k) {
      const auto k_text = [&](const std::optional<LayerDiff::Side>& side) {
        return k(side) ? std::to_string(*k(side)) : std::string("-");
      };
      cells.push_back({k_text(layer.a) + "→" + k_text(layer.b)});
    }
    for (Table::Cell& cell : number_cells(DiffUnit::kBytes, a, b)) cells.push_back(std::move(cell));
    if (!layer.a) cells[first_number].text = "-";
    if (!layer.b) cells[first_number + 1].text = "-";
    table.add_row(std::move(cells));
    ++shown;
  }
  std::string out = style.paint(fmt::format("Activations by module, last step's forward ({} with activations in "
                                            "either run)",
                                            shown),
                                Tone::kHeading) +
                    "\n";
  return out + table.render(style);
}

nlohmann::ordered_json number_json(DiffUnit unit, double value) {
  if (unit == DiffUnit::kSeconds) return value;
  return static_cast<int64_t>(value);
}

nlohmann::ordered_json change_json(DiffUnit unit, double a, double b) {
  const std::optional<double> relative = relative_change(a, b);
  return {{"a", number_json(unit, a)},
          {"b", number_json(unit, b)},
          {"delta", number_json(unit, b - a)},
          {"relative", relative ? nlohmann::ordered_json(*relative) : nlohmann::ordered_json(nullptr)}};
}

}  // namespace

std::optional<double> relative_change(double a, double b) {
  if (a == 0) return std::nullopt;
  return (b - a) / a;
}

RunDiff diff_runs(const fs::path& a_dir, const fs::path& b_dir) {
  const SavedRun a = read_saved_run(a_dir);
  const SavedRun b = read_saved_run(b_dir);
  RunDiff diff;
  diff.a_dir = a_dir;
  diff.b_dir = b_dir;
  for (const Setting& setting : settings()) {
    diff.settings.push_back({setting.name, a.summary.at(setting.path), b.summary.at(setting.path)});
  }
  for (const QuantitySpec& spec : quantity_specs(a.summary, b.summary)) {
    diff.quantities.push_back(
        {spec.path, spec.label, spec.unit, number_or_zero(a.summary, spec), number_or_zero(b.summary, spec)});
  }

  std::unordered_map<std::string, size_t> row_of;
  for (const auto& [module, side] : a.layers) {
    if (!row_of.emplace(module, diff.layers.size()).second) continue;  // a module listed twice: the first row
    LayerDiff& layer = diff.layers.emplace_back();
    layer.module = module;
    layer.type = a.types.at(module);
    layer.a = side;
  }
  for (const auto& [module, side] : b.layers) {
    auto [it, inserted] = row_of.emplace(module, diff.layers.size());
    if (inserted) diff.layers.emplace_back().module = module;
    LayerDiff& layer = diff.layers[it->second];
    if (!layer.b) layer.b = side;
    if (layer.type.empty()) layer.type = b.types.at(module);
  }
  return diff;
}

nlohmann::ordered_json run_diff_json(const RunDiff& diff) {
  nlohmann::ordered_json settings_json = nlohmann::ordered_json::object();
  for (const SettingPair& setting : diff.settings) settings_json[setting.name] = {{"a", setting.a}, {"b", setting.b}};

  nlohmann::ordered_json summary = nlohmann::ordered_json::object();
  for (const QuantityDiff& quantity : diff.quantities) {
    nlohmann::ordered_json* node = &summary;
    for (const std::string& key : quantity.path) node = &(*node)[key];
    *node = change_json(quantity.unit, quantity.a, quantity.b);
  }

  nlohmann::ordered_json layers = nlohmann::ordered_json::array();
  for (const LayerDiff& layer : diff.layers) {
    const auto side_value = [](const std::optional<LayerDiff::Side>& side, auto field) -> nlohmann::ordered_json {
      if (!side) return nullptr;
      return field(*side);
    };
    const auto bytes = [](const LayerDiff::Side& side) -> nlohmann::ordered_json { return side.activation_bytes; };
    const auto blocks = [](const LayerDiff::Side& side) -> nlohmann::ordered_json { return side.activation_blocks; };
    const auto kernel = [](const LayerDiff::Side& side) -> nlohmann::ordered_json {
      return side.compress_k ? nlohmann::ordered_json(*side.compress_k) : nlohmann::ordered_json(nullptr);
    };
    nlohmann::ordered_json activation = change_json(DiffUnit::kBytes, layer.a ? layer.a->activation_bytes : 0,
                                                    layer.b ? layer.b->activation_bytes : 0);
    activation["a"] = side_value(layer.a, bytes);
    activation["b"] = side_value(layer.b, bytes);
    layers.push_back({{"module", layer.module},
                      {"type", layer.type},
                      {"activation_bytes", std::move(activation)},
                      {"activation_blocks", {{"a", side_value(layer.a, blocks)}, {"b", side_value(layer.b, blocks)}}},
                      {"compress_k", {{"a", side_value(layer.a, kernel)}, {"b", side_value(layer.b, kernel)}}}});
  }
  return {{"format", kDiffFormat},
          {"version", kRunDiffVersion},
          {"a", diff.a_dir.string()},
          {"b", diff.b_dir.string()},
          {"settings", std::move(settings_json)},
          {"summary", std::move(summary)},
          {"layers", std::move(layers)}};
}

std::string run_diff_text(const RunDiff& diff, const TerminalStyle& style) {
  std::string out = fmt::format("A  {}\nB  {}\n\n", diff.a_dir.string(), diff.b_dir.string());
  out += settings_text(diff, style) + "\n";
  out += quantities_text(diff, style) + "\n";
  out += layers_text(diff, style);
  return out;
}

}  // namespace trainmem
