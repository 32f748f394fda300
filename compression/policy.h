#pragma once
// Which layers to compress, and how: parsed from --compress none|K|SPEC|FILE.json.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace trainmem::compression {

// How a compressed model saves the activations around its compressed convolutions.
enum class CompressMode {
  kFull,      // ReLUs also save only a 1-bit mask, so the full-size tensor feeding a conv dies (default)
  kConvOnly,  // only the convolution changes: the paper's published operator
};

struct LayerRule {
  std::string pattern;  // a module path, '*' and '?' as globs, e.g. "layer1.*"
  int64_t k = 0;        // pooling kernel; 0 or 1 keep the layer exact
};

struct CompressionPolicy {
  std::string spec = "none";  // as the user gave it
  // Uniform kernel for every Conv2d except the stem (the model's first conv), as in the paper; 0: none.
  int64_t uniform_k = 0;
  std::vector<LayerRule> rules;  // applied after uniform_k, in order: a later rule wins
  CompressMode mode = CompressMode::kFull;

  bool compresses_anything() const;
};

// Parses "none", "K" (e.g. "2"), "pattern=K,pattern=K,..." or the path of a JSON file holding
// {"pattern": K, ...}. Throws std::invalid_argument with a one-line message on bad input.
CompressionPolicy parse_compression(std::string_view spec);
CompressMode parse_compress_mode(std::string_view text);
std::string_view to_string(CompressMode mode);
// fnmatch-style match of a module path against a pattern ('*' any run of characters, '?' one).
bool glob_match(std::string_view pattern, std::string_view path);

}  // namespace trainmem::compression
