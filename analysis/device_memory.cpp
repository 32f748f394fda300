#include "analysis/device_memory.h"

#include <string>
#include <unordered_map>

#include "analysis/analysis.h"

namespace trainmem {
namespace {

class LevelTracker {
 public:
  explicit LevelTracker(DeviceLevelBytes& out) : out_(out) {}

  void alloc(const Event& e) {
    ++out_.alloc_events;
    live_ += e.bytes;
    if (live_ > out_.peak_bytes) {
      out_.peak_bytes = live_;
      out_.peak_phase = e.phase;
    }
  }
  void free(const Event& e) {
    ++out_.free_events;
    live_ += e.bytes;
  }
  int64_t live() const { return live_; }
  void mark_tensor_peak() { out_.at_tensor_peak = live_; }
  void finish() { out_.at_end = live_; }

 private:
  DeviceLevelBytes& out_;
  int64_t live_ = 0;
};

// Segments are counted as sums, not blocks: with expandable segments one unmap may cover several maps. The
// allocator is emptied before a recording, so the sum can never go below zero.
class SegmentTracker : public LevelTracker {
 public:
  using LevelTracker::LevelTracker;
  void free(const Event& e) {
    LevelTracker::free(e);
    if (live() < 0) throw TraceError("event " + std::to_string(e.seq) + ": more segment bytes freed than reserved");
  }
};

// The driver's records pair up by address. Memory allocated before tracing began (the CUDA context's, a
// library's) may be released during it: such releases are counted, not subtracted.
class DriverTracker : public LevelTracker {
 public:
  DriverTracker(DeviceLevelBytes& out) : LevelTracker(out), out_(out) {}
  void alloc(const Event& e) {
    blocks_[e.address] += e.bytes;
    LevelTracker::alloc(e);
  }
  void free(const Event& e) {
    auto it = blocks_.find(e.address);
    if (it == blocks_.end()) {
      ++out_.untraced_frees;
      return;
    }
    Event matched = e;
    matched.bytes = -it->second;  // the allocation's size: a release record may not repeat it
    blocks_.erase(it);
    LevelTracker::free(matched);
  }

 private:
  DeviceLevelBytes& out_;
  std::unordered_map<uint64_t, int64_t> blocks_;
};

}  // namespace

DeviceMemory analyze_device_memory(EventSource& source, int8_t device, uint64_t tensor_peak_seq) {
  DeviceMemory result;
  SegmentTracker reserved(result.reserved);
  DriverTracker driver(result.driver);
  source.replay([&](const Event& e) {
    if (e.device == device) {
      switch (e.kind) {
        case EventKind::kSegmentAlloc: reserved.alloc(e); break;
        case EventKind::kSegmentFree: reserved.free(e); break;
        case EventKind::kDriverAlloc: driver.alloc(e); break;
        case EventKind::kDriverFree: driver.free(e); break;
        default: break;
      }
    }
    if (e.seq == tensor_peak_seq) {
      reserved.mark_tensor_peak();
      driver.mark_tensor_peak();
    }
  });
  reserved.finish();
  driver.finish();
  return result;
}

}  // namespace trainmem
