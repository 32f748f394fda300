#include "reports/layers_csv.h"

#include <iterator>
#include <unordered_map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "analysis/compression_estimate.h"
#include "reports/csv.h"
#include "reports/units.h"

namespace trainmem {
namespace {

// The op that makes a compressed conv's saved copy.
constexpr std::string_view kPoolingOp = "aten::avg_pool2d";

void append_row(std::string& out, std::string_view module, std::string_view type, int64_t weight_bytes,
                const std::vector<int64_t>& input_shape, int64_t input_bytes, const ModuleBytes* activations) {
  append_csv_field(out, module);
  out += ',';
  append_csv_field(out, type);
  fmt::format_to(std::back_inserter(out), ",{},{},{},{},{}", weight_bytes, fmt::join(input_shape, "x"), input_bytes,
                 activations ? activations->bytes : 0, activations ? activations->blocks : 0);
}

void append_conv_columns(std::string& out, const ModuleInfo& module, const Analysis& analysis) {
  int64_t pooled = 0;
  for (const ModuleOpBytes& made : analysis.activations_by_module_op) {
    if (made.module == module.name && made.op == kPoolingOp) pooled += made.bytes;
  }
  fmt::format_to(std::back_inserter(out), ",{},{},{},{}", pooled_input_bytes(module.input_shape, module.input_bytes, 2),
                 pooled_input_bytes(module.input_shape, module.input_bytes, 4), module.compress_k, pooled);
}

}  // namespace

std::string layers_csv(const RunInfo& run, const Analysis& analysis) {
  std::unordered_map<std::string_view, const ModuleBytes*> activations;
  for (const ModuleBytes& module : analysis.activations_by_module) activations.emplace(module.module, &module);

  std::string out(kLayersCsvHeader);
  out += '\n';
  for (const ModuleInfo& module : run.modules) {
    auto it = activations.find(module.name);
    const ModuleBytes* own = it == activations.end() ? nullptr : it->second;
    append_row(out, module.name, module.type, module.weight_bytes, module.input_shape, module.input_bytes, own);
    if (module.type == "Conv2d") {
      append_conv_columns(out, module, analysis);
    } else {
      out += ",,,,";
    }
    out += '\n';
    if (own) activations.erase(it);
  }
  // Modules the analysis saw but the module table lacks, in the analysis's order (largest first).
  for (const ModuleBytes& module : analysis.activations_by_module) {
    if (!activations.contains(module.module)) continue;
    append_row(out, module_label(module.module), "", 0, {}, 0, &module);
    out += ",,,,\n";
  }
  return out;
}

}  // namespace trainmem
