#include "reports/terminal_style.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

namespace trainmem {
namespace {

std::string_view escape_code(Tone tone) {
  switch (tone) {
    case Tone::kHeading:
      return "\x1b[1m";  // bold
    case Tone::kGood:
      return "\x1b[32m";  // green
    case Tone::kBad:
      return "\x1b[31m";  // red
    case Tone::kDim:
      return "\x1b[2m";
    case Tone::kPlain:
      break;
  }
  return {};
}

constexpr std::string_view kReset = "\x1b[0m";

}  // namespace

TerminalStyle TerminalStyle::for_descriptor(int fd) {
  const char* no_color = std::getenv("NO_COLOR");
  const char* term = std::getenv("TERM");
  const bool color_refused = (no_color != nullptr && no_color[0] != '\0') ||
                             (term != nullptr && std::string_view(term) == "dumb");
  return {.color = !color_refused && ::isatty(fd) == 1};
}

std::string TerminalStyle::paint(std::string_view text, Tone tone) const {
  const std::string_view code = escape_code(tone);
  if (!color || code.empty() || text.empty()) return std::string(text);
  std::string out(code);
  out.append(text).append(kReset);
  return out;
}

size_t display_width(std::string_view text) {
  // UTF-8 continuation bytes are 10xxxxxx; every other byte starts a character.
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

Table::Table(size_t columns) : aligns_(columns, Align::kRight) {
  if (columns > 0) aligns_[0] = Align::kLeft;
}

Table& Table::align(size_t column, Align align) {
  aligns_.at(column) = align;
  return *this;
}

void Table::add_row(std::vector<Cell> cells) {
  cells.resize(aligns_.size());
  rows_.push_back(std::move(cells));
}

std::string Table::render(const TerminalStyle& style, size_t indent) const {
  std::vector<size_t> widths(aligns_.size(), 0);
  for (const auto& row : rows_) {
    for (size_t column = 0; column < row.size(); ++column) {
      widths[column] = std::max(widths[column], display_width(row[column].text));
    }
  }
  std::string out;
  for (const auto& row : rows_) {
    std::string line(indent, ' ');
    for (size_t column = 0; column < row.size(); ++column) {
      const Cell& cell = row[column];
      const std::string padding(widths[column] - display_width(cell.text), ' ');
      if (column > 0) line += "  ";
      if (aligns_[column] == Align::kRight) line += padding;
      line += style.paint(cell.text, cell.tone);
      if (aligns_[column] == Align::kLeft) line += padding;
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out += line;
    out += '\n';
  }
  return out;
}

void ProgressLine::show(std::string_view text) {
  if (!enabled_ || text == shown_) return;
  // Spaces over whatever the previous text left beyond the new one's end: no terminal escape codes needed.
  std::string line(1, '\r');
  line += text;
  const size_t width = display_width(text), previous = display_width(shown_);
  if (previous > width) line.append(previous - width, ' ');
  std::fputs(line.c_str(), stream_);
  std::fflush(stream_);
  shown_ = text;
}

void ProgressLine::clear() {
  if (!enabled_ || shown_.empty()) return;
  std::string blank(display_width(shown_) + 2, ' ');
  blank.front() = blank.back() = '\r';
  std::fputs(blank.c_str(), stream_);
  std::fflush(stream_);
  shown_.clear();
}

}  // namespace trainmem
