#pragma once
// Hand-built event streams for the analysis and report tests: what a recording of a tiny training run
// would look like, with every byte count chosen so that the expected results can be worked out by hand.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "analysis/event_source.h"
#include "tracer/event.h"

namespace trainmem::synthetic {

inline constexpr int64_t kNsPerEvent = 1'000'000;  // every event comes 1 ms after the previous one

class StreamBuilder {
 public:
  // Each adder returns the seq of the event it appended.
  uint64_t phase(Phase phase, uint32_t step) {
    phase_ = phase;
    step_ = step;
    return append(EventKind::kPhase, 0, 0, "", "", kCpuDevice, Tag::kNone);
  }
  uint64_t alloc(uint64_t address, int64_t bytes, std::string_view module = "", std::string_view op = "",
                 int8_t device = kCpuDevice) {
    sizes_[{address, device}] = bytes;
    return append(EventKind::kAlloc, bytes, address, module, op, device, Tag::kNone);
  }
  // Frees with the size the block was allocated with.
  uint64_t free(uint64_t address, int8_t device = kCpuDevice) {
    return free_bytes(address, sizes_.at({address, device}), device);
  }
  // Frees `bytes` at `address`, whatever lives there: for streams that contradict themselves.
  uint64_t free_bytes(uint64_t address, int64_t bytes, int8_t device = kCpuDevice) {
    return append(EventKind::kFree, -bytes, address, "", "", device, Tag::kNone);
  }
  uint64_t tag(uint64_t address, Tag tag, int8_t device = kCpuDevice) {
    return append(EventKind::kTag, 0, address, "", "", device, tag);
  }

  uint64_t next_seq() const { return events_.size(); }
  std::vector<Event>& events() { return events_; }
  const std::vector<std::string>& names() const { return names_; }

 private:
  struct BlockKey {
    uint64_t address;
    int8_t device;
    bool operator==(const BlockKey&) const = default;
  };
  struct BlockKeyHash {
    size_t operator()(const BlockKey& key) const {
      return std::hash<uint64_t>{}(key.address) ^ static_cast<uint8_t>(key.device);
    }
  };

  uint64_t append(EventKind kind, int64_t bytes, uint64_t address, std::string_view module, std::string_view op,
                  int8_t device, Tag tag) {
    Event e{};
    e.seq = events_.size();
    e.time_ns = static_cast<int64_t>(e.seq) * kNsPerEvent;
    e.bytes = bytes;
    e.address = address;
    e.module = intern(module);
    e.op = intern(op);
    e.step = step_;
    e.phase = phase_;
    e.kind = kind;
    e.device = device;
    e.tag = tag;
    events_.push_back(e);
    return e.seq;
  }

  uint32_t intern(std::string_view name) {
    if (name.empty()) return 0;
    for (uint32_t id = 1; id < names_.size(); ++id) {
      if (names_[id] == name) return id;
    }
    names_.emplace_back(name);
    return static_cast<uint32_t>(names_.size() - 1);
  }

  std::vector<Event> events_;
  std::vector<std::string> names_{""};
  std::unordered_map<BlockKey, int64_t, BlockKeyHash> sizes_;
  Phase phase_ = Phase::kOther;
  uint32_t step_ = 0;
};

// Two training steps of a two-layer model; the byte counts in the comments are live bytes after each line.
struct TrainingRun {
  StreamBuilder stream;
  uint64_t peak_seq = 0;
};

inline TrainingRun two_step_training_run() {
  TrainingRun run;
  StreamBuilder& s = run.stream;
  s.phase(Phase::kInit, 0);
  s.alloc(0x100, 400, "conv");  // 400: conv weight
  s.tag(0x100, Tag::kParameter);
  s.alloc(0x200, 200, "fc");  // 600: fc weight
  s.tag(0x200, Tag::kParameter);
  s.alloc(0x300, 40, "bn");  // 640: running statistics
  s.tag(0x300, Tag::kBuffer);
  s.alloc(0x400, 1000);  // 1640: scratch of the initialisation
  s.free(0x400);         // 640

  for (uint32_t step = 1; step <= 2; ++step) {
    const bool last = step == 2;
    s.phase(Phase::kInput, step);
    if (last) {
      s.free(0x500);  // 1848: the previous batch
      s.free(0x510);  // 1840
    }
    uint64_t batch = last ? 0x540 : 0x500;  // step 1: 748 after both; step 2: 1948
    s.alloc(batch, 100);
    s.tag(batch, Tag::kInput);
    s.alloc(batch + 0x10, 8);
    s.tag(batch + 0x10, Tag::kInput);

    s.phase(Phase::kForward, step);
    s.alloc(0x600, 300, "conv", "aten::conv2d");  // step 1: 1048; step 2: 2248
    s.alloc(0x620, 120, "fc", "aten::linear");    // 1168; 2368
    s.alloc(0x630, 30);                           // 1198; 2398: outside any module
    s.alloc(0x610, 50, "relu", "aten::relu");     // 1248; 2448: forward peak
    s.free(0x610);                                // 1198; 2398

    s.phase(Phase::kBackward, step);
    if (!last) {
      s.alloc(0x700, 400, "conv");  // 1598: gradients, allocated once and accumulated into later
      s.alloc(0x710, 200, "fc");    // 1798
    } else {
      s.alloc(0x730, 16, "conv");  // 2414: outlives backward untagged: "other"
    }
    uint64_t temporary = s.alloc(0x720, 250, "conv", "aten::convolution_backward");  // 2048; 2664: the peak
    if (last) run.peak_seq = temporary;
    s.free(0x720);  // 1798; 2414
    s.free(0x600);  // 1498; 2114
    s.free(0x620);  // 1378; 1994
    s.free(0x630);  // 1348; 1964: backward end

    s.phase(Phase::kOptimizer, step);
    s.tag(0x700, Tag::kGradient);  // tagged after backward, as the training loop does
    s.tag(0x710, Tag::kGradient);
    if (!last) {
      s.alloc(0x800, 400, "", "aten::zeros_like");  // 1748: momentum, alive from step 1 on
      s.alloc(0x810, 200, "", "aten::zeros_like");  // 1948
    }
    s.alloc(0x820, 100, "", "aten::add");  // 2048 (ties step 1's backward peak); 2064: optimizer peak
    s.free(0x820);                         // 1948; 1964
  }
  s.phase(Phase::kOther, 2);
  return run;
}

}  // namespace trainmem::synthetic
