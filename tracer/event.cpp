#include "tracer/event.h"

#include <array>

namespace trainmem {
namespace {

constexpr std::array<std::string_view, kEventKindCount> kKindNames{"alloc",         "free",         "phase",
                                                                     "tag",           "segment_alloc", "segment_free",
                                                                     "driver_alloc",  "driver_free"};
constexpr std::array<std::string_view, kPhaseCount> kPhaseNames{"other",    "init",     "input",
                                                                "forward",  "backward", "optimizer"};
constexpr std::array<std::string_view, kTagCount> kTagNames{"", "parameter", "buffer", "gradient", "input"};

template <class Enum, size_t N>
bool parse_name(const std::array<std::string_view, N>& names, std::string_view text, Enum& out) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == text) {
      out = static_cast<Enum>(i);
      return true;
    }
  }
  return false;
}

}  // namespace

std::string_view to_string(EventKind kind) { return kKindNames.at(static_cast<size_t>(kind)); }
std::string_view to_string(Phase phase) { return kPhaseNames.at(static_cast<size_t>(phase)); }
std::string_view to_string(Tag tag) { return kTagNames.at(static_cast<size_t>(tag)); }
bool parse(std::string_view text, EventKind& out) { return parse_name(kKindNames, text, out); }
bool parse(std::string_view text, Phase& out) { return parse_name(kPhaseNames, text, out); }
bool parse(std::string_view text, Tag& out) { return parse_name(kTagNames, text, out); }

}  // namespace trainmem
