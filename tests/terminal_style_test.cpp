// Terminal output: colour only on a terminal and never under NO_COLOR, aligned tables, a progress line that
// only a terminal sees.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "reports/terminal_style.h"

namespace trainmem {
namespace {

// Sets an environment variable for one scope, restoring the earlier value.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// The terminal end of a fresh pseudo-terminal.
class PseudoTerminal {
 public:
  PseudoTerminal() {
    master_ = ::posix_openpt(O_RDWR | O_NOCTTY);
    if (master_ >= 0 && ::grantpt(master_) == 0 && ::unlockpt(master_) == 0) {
      terminal_ = ::open(::ptsname(master_), O_RDWR | O_NOCTTY);
    }
  }
  ~PseudoTerminal() {
    if (terminal_ >= 0) ::close(terminal_);
    if (master_ >= 0) ::close(master_);
  }
  int fd() const { return terminal_; }

 private:
  int master_ = -1;
  int terminal_ = -1;
};

TEST(TerminalStyle, ColourOnlyOnATerminalWithoutNoColor) {
  PseudoTerminal terminal;
  ASSERT_GE(terminal.fd(), 0) << "no pseudo-terminal";
  int pipe_ends[2];
  ASSERT_EQ(::pipe(pipe_ends), 0);

  ScopedEnv term("TERM", "xterm");
  {
    ScopedEnv no_color("NO_COLOR", nullptr);
    EXPECT_TRUE(TerminalStyle::for_descriptor(terminal.fd()).color);
    EXPECT_FALSE(TerminalStyle::for_descriptor(pipe_ends[1]).color) << "a pipe never gets colour";
  }
  {
    ScopedEnv no_color("NO_COLOR", "1");
    EXPECT_FALSE(TerminalStyle::for_descriptor(terminal.fd()).color);
  }
  {
    ScopedEnv no_color("NO_COLOR", "");  // no-color.org: an empty value does not count
    EXPECT_TRUE(TerminalStyle::for_descriptor(terminal.fd()).color);
  }
  {
    ScopedEnv no_color("NO_COLOR", nullptr);
    ScopedEnv dumb("TERM", "dumb");
    EXPECT_FALSE(TerminalStyle::for_descriptor(terminal.fd()).color);
  }
  ::close(pipe_ends[0]);
  ::close(pipe_ends[1]);
}

TEST(TerminalStyle, PaintsOnlyWithColour) {
  EXPECT_EQ(TerminalStyle{}.paint("peak", Tone::kBad), "peak");
  EXPECT_EQ(TerminalStyle{.color = true}.paint("peak", Tone::kBad), "\x1b[31mpeak\x1b[0m");
  EXPECT_EQ(TerminalStyle{.color = true}.paint("peak", Tone::kPlain), "peak");
}

TEST(Table, AlignsColumnsByCharactersNotBytes) {
  Table table(3);
  table.add_row({{"init"}, {"1.00 MiB"}, {"✓"}});
  table.add_row({{"forward peak"}, {"512 B"}, {"x"}});
  table.add_row({{"last"}});  // missing cells are empty, and trailing spaces are dropped
  EXPECT_EQ(table.render(TerminalStyle{}),
            "  init          1.00 MiB  ✓\n"
            "  forward peak     512 B  x\n"
            "  last\n");
}

TEST(Table, ColourDoesNotMoveColumns) {
  Table table(2);
  table.align(1, Table::Align::kLeft);
  table.add_row({{"a", Tone::kHeading}, {"left"}});
  table.add_row({{"bbb"}, {"x", Tone::kGood}});
  EXPECT_EQ(table.render(TerminalStyle{}, 0), "a    left\nbbb  x\n");
  EXPECT_EQ(table.render(TerminalStyle{.color = true}, 0), "\x1b[1ma\x1b[0m    left\nbbb  \x1b[32mx\x1b[0m\n");
}

std::string written(std::FILE* file) {
  std::rewind(file);
  std::string text(1024, '\0');
  text.resize(std::fread(text.data(), 1, text.size(), file));
  return text;
}

TEST(ProgressLine, RedrawsInPlaceAndErasesItself) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  {
    ProgressLine line(file, true);
    line.show("step 1/10");
    line.show("step 1/10");  // unchanged: not redrawn
    line.show("done");       // shorter: spaces cover the rest of the previous text
  }
  EXPECT_EQ(written(file), "\rstep 1/10\rdone     \r    \r");
  std::fclose(file);
}

TEST(ProgressLine, DisabledPrintsNothing) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  {
    ProgressLine line(file, false);
    line.show("analyzing: pass 1, 45%");
  }
  EXPECT_EQ(written(file), "");
  std::fclose(file);
}

TEST(DisplayWidth, CountsCharacters) {
  EXPECT_EQ(display_width("abc"), 3u);
  EXPECT_EQ(display_width("✓ ✗"), 3u);
  EXPECT_EQ(display_width("k A→B"), 5u);
}

}  // namespace
}  // namespace trainmem
