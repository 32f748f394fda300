#pragma once
// Writing CSV fields: the one quoting rule every CSV file of a run follows.
#include <string>
#include <string_view>

namespace trainmem {

// Appends `field` to `out`: as it is when plain, else quoted with inner quotes doubled. Line breaks become
// spaces, so that every record stays on one line and readers can split the file by lines.
inline void append_csv_field(std::string& out, std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += field;
    return;
  }
  out += '"';
  for (char c : field) {
    if (c == '"') out += '"';
    out += (c == '\n' || c == '\r') ? ' ' : c;
  }
  out += '"';
}

}  // namespace trainmem
