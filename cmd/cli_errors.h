#pragma once
// Exit codes of the trainmem binary (docs/cli.md) and the error type for bad command-line values.
#include <stdexcept>

namespace trainmem::cli {

enum ExitCode : int {
  kOk = 0,
  kFailure = 1,      // an unexpected error inside trainmem or LibTorch
  kBadInput = 2,     // bad flags, values, or input files; unwritable output
  kOutOfMemory = 3,  // the run needed more memory than the (simulated or real) device has
  kNoDevice = 4,     // the device asked for (--device cuda) cannot be used here
};

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The run ran out of memory; the message is the diagnosis.
class OutOfMemory : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The device asked for is missing; the message says why (no driver, no device, a CPU-only LibTorch).
class DeviceUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace trainmem::cli
