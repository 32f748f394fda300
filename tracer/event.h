#pragma once
// The one record the recorder writes: fixed-size, plain data, no pointers. Everything the analysis
// knows comes from a stream of these (see docs/formats.md).
#include <cstdint>
#include <string_view>

namespace trainmem {

enum class EventKind : uint8_t {
  kAlloc = 0,       // bytes > 0: a block came to life at `address`
  kFree = 1,        // bytes < 0: the block at `address` died
  kPhase = 2,       // the training loop entered `phase` (bytes = 0)
  kTag = 3,         // the live block at `address` has the identity `tag` (bytes = 0)
  // Device-level memory, beneath the tensors: what a device allocator holds (reserved), not what tensors use.
  kSegmentAlloc = 4,  // the CUDA caching allocator reserved a segment from the driver (bytes > 0)
  kSegmentFree = 5,   // it gave a segment back (bytes < 0)
  kDriverAlloc = 6,   // CUPTI saw device memory allocated by anyone: PyTorch's segments, libraries, ... (bytes > 0)
  kDriverFree = 7,    // CUPTI saw it released (bytes < 0)
};
inline constexpr int kEventKindCount = 8;

// Tensor-level events (and the markers among them) make the live bytes; device-level ones are a separate view.
inline bool is_device_level(EventKind kind) { return kind >= EventKind::kSegmentAlloc; }

enum class Phase : uint8_t { kOther = 0, kInit, kInput, kForward, kBackward, kOptimizer };
inline constexpr int kPhaseCount = 6;

// Identities the training loop knows and the allocator cannot see (tag events).
enum class Tag : uint8_t { kNone = 0, kParameter, kBuffer, kGradient, kInput };
inline constexpr int kTagCount = 5;

// Device of an event: -1 is the CPU, 0..127 the CUDA device with that index.
inline constexpr int8_t kCpuDevice = -1;

struct Event {
  uint64_t seq;      // global order of all events, gap-free from 0
  int64_t time_ns;   // since the session started
  int64_t bytes;     // signed: negative frees
  uint64_t address;
  uint32_t module;   // string-table id of the innermost module running (0: none)
  uint32_t op;       // string-table id of the operator running (0: none)
  uint32_t step;     // training step (0 before the first step)
  Phase phase;
  EventKind kind;
  int8_t device;
  Tag tag;
};
static_assert(sizeof(Event) == 48, "events are fixed-size records");

std::string_view to_string(EventKind kind);
std::string_view to_string(Phase phase);
std::string_view to_string(Tag tag);
// Inverse of to_string; false when `text` names none.
bool parse(std::string_view text, EventKind& out);
bool parse(std::string_view text, Phase& out);
bool parse(std::string_view text, Tag& out);

}  // namespace trainmem
