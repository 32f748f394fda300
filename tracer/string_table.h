#pragma once
// Interns module and operator names: events carry a 32-bit id, the table maps ids back to names.
// Interning takes a lock; callers on hot paths cache ids per thread.
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace trainmem {

class StringTable {
 public:
  StringTable() { names_.emplace_back(); }  // id 0 is the empty name
  uint32_t intern(std::string_view name);
  // Every name, indexed by id.
  std::vector<std::string> names() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, uint32_t> ids_;
};

}  // namespace trainmem
