#include "compression/policy.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace trainmem::compression {
namespace {

constexpr int64_t kLargestKernel = 64;

int64_t parse_kernel(std::string_view text, std::string_view context) {
  int64_t k = -1;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), k);
  if (error != std::errc() || end != text.data() + text.size() || k < 0 || k > kLargestKernel) {
    throw std::invalid_argument("bad compression kernel '" + std::string(text) + "' in " + std::string(context) +
                                " (want an integer 0.." + std::to_string(kLargestKernel) + "; 0 keeps a layer exact)");
  }
  return k;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

std::vector<LayerRule> rules_from_json_file(const std::filesystem::path& path) {
  std::ifstream file(path);
  nlohmann::ordered_json json;
  try {
    json = nlohmann::ordered_json::parse(file);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument("compression policy " + path.string() + ": " + e.what());
  }
  if (!json.is_object()) throw std::invalid_argument("compression policy " + path.string() + ": want {\"pattern\": k}");
  std::vector<LayerRule> rules;
  for (const auto& [pattern, k] : json.items()) {
    if (!k.is_number_integer()) {
      throw std::invalid_argument("compression policy " + path.string() + ": \"" + pattern + "\" needs an integer");
    }
    rules.push_back({pattern, parse_kernel(std::to_string(k.get<int64_t>()), path.string())});
  }
  return rules;
}

}  // namespace

bool CompressionPolicy::compresses_anything() const {
  if (uniform_k > 1) return true;
  for (const auto& rule : rules) {
    if (rule.k > 1) return true;
  }
  return false;
}

CompressionPolicy parse_compression(std::string_view spec) {
  CompressionPolicy policy;
  policy.spec = std::string(spec);
  spec = trim(spec);
  if (spec.empty()) throw std::invalid_argument("empty --compress (want none, a kernel size, or a layer spec)");
  if (spec == "none") return policy;
  if (spec.ends_with(".json")) {
    if (!std::filesystem::is_regular_file(spec)) {
      throw std::invalid_argument("compression policy file " + std::string(spec) + " does not exist");
    }
    policy.rules = rules_from_json_file(spec);
    return policy;
  }
  if (spec.find('=') == std::string_view::npos) {
    policy.uniform_k = parse_kernel(spec, "--compress");
    return policy;
  }
  while (!spec.empty()) {
    const size_t comma = spec.find(',');
    const std::string_view item = trim(spec.substr(0, comma));
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    const size_t equals = item.find('=');
    if (equals == std::string_view::npos || trim(item.substr(0, equals)).empty()) {
      throw std::invalid_argument("bad compression rule '" + std::string(item) + "' (want pattern=k)");
    }
    policy.rules.push_back({std::string(trim(item.substr(0, equals))), parse_kernel(trim(item.substr(equals + 1)), item)});
  }
  return policy;
}

CompressMode parse_compress_mode(std::string_view text) {
  if (text == "full") return CompressMode::kFull;
  if (text == "conv-only") return CompressMode::kConvOnly;
  throw std::invalid_argument("unknown --compress-mode '" + std::string(text) + "'; valid modes: full, conv-only");
}

std::string_view to_string(CompressMode mode) { return mode == CompressMode::kFull ? "full" : "conv-only"; }

bool glob_match(std::string_view pattern, std::string_view path) {
  // Iterative wildcard matching with one backtrack point: linear in practice.
  size_t p = 0, s = 0, star = std::string_view::npos, resume = 0;
  while (s < path.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == path[s])) {
      ++p;
      ++s;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = s;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      s = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace trainmem::compression
