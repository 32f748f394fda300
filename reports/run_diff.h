#pragma once
// Two saved runs side by side (`trainmem diff`): their settings, the numbers of summary.json and the
// activations of layers.csv, with absolute and relative differences. Reads only those two files of each
// run, so it is instant however long the runs were.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/terminal_style.h"

namespace trainmem {

inline constexpr int kRunDiffVersion = 1;

enum class DiffUnit : uint8_t { kBytes, kCount, kSeconds };

// A setting of both runs (model, batch, ...), as summary.json spells it.
struct SettingPair {
  std::string name;
  nlohmann::json a;
  nlohmann::json b;
};

// One number of summary.json in both runs. `path` is where it sits in summary.json and in the diff's JSON.
struct QuantityDiff {
  std::vector<std::string> path;  // e.g. {"points", "forward_peak"}
  std::string label;              // e.g. "forward peak"
  DiffUnit unit = DiffUnit::kBytes;
  double a = 0;
  double b = 0;
};

// One module of layers.csv; a side is empty when that run has no such module.
struct LayerDiff {
  struct Side {
    int64_t activation_bytes = 0;
    int64_t activation_blocks = 0;
    std::optional<int64_t> compress_k;  // Conv2d only
  };
  std::string module;
  std::string type;
  std::optional<Side> a;
  std::optional<Side> b;
};

struct RunDiff {
  std::filesystem::path a_dir;
  std::filesystem::path b_dir;
  std::vector<SettingPair> settings;
  std::vector<QuantityDiff> quantities;  // points, peak, categories at the peak, activations, event counts
  std::vector<LayerDiff> layers;         // A's modules in A's order, then those only B has, in B's order
};

// Reads summary.json and layers.csv of both run directories. Throws InputError (one line naming the
// directory or file) when a directory is missing, is not a run directory, or holds a corrupt file.
RunDiff diff_runs(const std::filesystem::path& a_dir, const std::filesystem::path& b_dir);

// (b - a) / a; empty when a is 0.
std::optional<double> relative_change(double a, double b);

// {"format": "trainmem-diff", "version", "a", "b", "settings", "summary", "layers"} (docs/formats.md).
nlohmann::ordered_json run_diff_json(const RunDiff& diff);
// Aligned tables: settings, the summary's numbers, then the modules with activations in either run.
std::string run_diff_text(const RunDiff& diff, const TerminalStyle& style = {});

}  // namespace trainmem
