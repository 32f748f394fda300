#pragma once
// How text meant for a person looks on a terminal: colour only where a person reads it, aligned tables, and
// a progress line redrawn in place. Pure text in, text out: the commands decide where it goes.
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace trainmem {

// Colour is an emphasis, never the only carrier of meaning: the text reads the same without it.
enum class Tone : uint8_t { kPlain, kHeading, kGood, kBad, kDim };

struct TerminalStyle {
  bool color = false;

  // Colour when `fd` is a terminal, NO_COLOR is unset or empty (https://no-color.org) and TERM is not "dumb".
  static TerminalStyle for_descriptor(int fd);
  // `text` wrapped in the escape codes of `tone`; as it is without colour.
  std::string paint(std::string_view text, Tone tone) const;
};

// Columns padded to their widest cell; the first column is left-aligned, the others right-aligned unless
// set. Widths count characters, not bytes, and ignore colour.
class Table {
 public:
  enum class Align : uint8_t { kLeft, kRight };
  struct Cell {
    std::string text;
    Tone tone = Tone::kPlain;
  };

  explicit Table(size_t columns);
  Table& align(size_t column, Align align);
  void add_row(std::vector<Cell> cells);  // missing cells are empty
  // One line per row, each indented by `indent` spaces, columns two spaces apart, no trailing spaces.
  std::string render(const TerminalStyle& style, size_t indent = 2) const;

 private:
  std::vector<Align> aligns_;
  std::vector<std::vector<Cell>> rows_;
};

// Characters `text` takes on a terminal: UTF-8 code points.
size_t display_width(std::string_view text);

// One line of progress ("analyzing: pass 1, 45%") on `stream`, redrawn in place with a carriage return and
// erased when done. Disabled, it prints nothing: enable it only when `stream` is a terminal a person watches.
class ProgressLine {
 public:
  ProgressLine(std::FILE* stream, bool enabled) : stream_(stream), enabled_(enabled) {}
  ~ProgressLine() { clear(); }
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  bool enabled() const { return enabled_; }
  // Redraws the line when `text` differs from what it shows.
  void show(std::string_view text);
  // Erases the line, so that what is printed next starts on a clean one.
  void clear();

 private:
  std::FILE* stream_;
  bool enabled_;
  std::string shown_;
};

}  // namespace trainmem
