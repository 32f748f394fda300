#include "tracer/string_table.h"

namespace trainmem {

uint32_t StringTable::intern(std::string_view name) {
  if (name.empty()) return 0;
  std::lock_guard<std::mutex> lock(mutex_);
  auto [it, inserted] = ids_.try_emplace(std::string(name), static_cast<uint32_t>(names_.size()));
  if (inserted) names_.emplace_back(name);
  return it->second;
}

std::vector<std::string> StringTable::names() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return names_;
}

}  // namespace trainmem
