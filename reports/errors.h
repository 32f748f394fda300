#pragma once
// The two ways a command fails because of files rather than because of the trace itself. Messages are one
// line that names the file (and the line, where there is one), so the CLI can print them as they are.
#include <stdexcept>

namespace trainmem {

// A user-supplied file (run.json, events.csv) is missing, corrupt or of the wrong shape.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An output file or directory cannot be written.
class OutputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace trainmem
