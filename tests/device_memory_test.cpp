// Device-level memory without a GPU: the caching allocator's trace records and CUPTI's driver records turned
// into events, merged by time, and analysed beside the tensor-level stream.
#include <gtest/gtest.h>

#include "analysis/analysis.h"
#include "analysis/device_memory.h"
#include "tests/synthetic_stream.h"
#include "tracer/caching_allocator_trace.h"
#include "tracer/driver_memory.h"
#include "tracer/recorder.h"

namespace trainmem {
namespace {

using Action = AllocatorTraceRecord::Action;

std::vector<Event> of_kind(const std::vector<Event>& events, EventKind kind) {
  std::vector<Event> out;
  for (const Event& e : events) {
    if (e.kind == kind) out.push_back(e);
  }
  return out;
}

TEST(CachingAllocatorTrace, BecomesTensorAndSegmentEvents) {
  Recorder& recorder = Recorder::instance();
  recorder.start();
  recorder.set_phase(Phase::kForward);
  record_allocator_trace({Action::kSegmentAlloc, 0, 0x1000, 2 << 20});
  record_allocator_trace({Action::kAlloc, 0, 0x1000, 1000});
  record_allocator_trace({Action::kAlloc, 0, 0x1400, 24});
  EXPECT_EQ(recorder.live_bytes(0), 1024) << "segments are not tensor bytes";
  EXPECT_EQ(recorder.live_bytes(kCpuDevice), 0) << "CUDA blocks are not CPU bytes";
  record_allocator_trace({Action::kFreeRequested, 0, 0x1000, 1000});
  EXPECT_EQ(recorder.live_bytes(0), 1024) << "a requested free is not a completed one";
  record_allocator_trace({Action::kFreeCompleted, 0, 0x1000, 1000});
  record_allocator_trace({Action::kOther, 0, 0, 0});
  record_allocator_trace({Action::kSegmentMap, 0, 0x9000, 4096});
  record_allocator_trace({Action::kSegmentUnmap, 0, 0x9000, 4096});
  record_allocator_trace({Action::kSegmentFree, 0, 0x1000, 2 << 20});
  const Recording recording = recorder.stop();

  const auto allocs = of_kind(recording.events, EventKind::kAlloc);
  ASSERT_EQ(allocs.size(), 2u);
  EXPECT_EQ(allocs[0].bytes, 1000);
  EXPECT_EQ(allocs[0].device, 0);
  EXPECT_EQ(allocs[0].phase, Phase::kForward);
  const auto frees = of_kind(recording.events, EventKind::kFree);
  ASSERT_EQ(frees.size(), 1u);
  EXPECT_EQ(frees[0].bytes, -1000);
  EXPECT_EQ(frees[0].address, 0x1000u);
  const auto segments = of_kind(recording.events, EventKind::kSegmentAlloc);
  ASSERT_EQ(segments.size(), 2u);
  EXPECT_EQ(segments[0].bytes, 2 << 20);
  EXPECT_EQ(segments[1].bytes, 4096);
  const auto released = of_kind(recording.events, EventKind::kSegmentFree);
  ASSERT_EQ(released.size(), 2u);
  EXPECT_EQ(released[1].bytes, -(2 << 20));
  // phase marker + 2 allocs + 1 free + 4 segment events: requested frees and snapshots leave nothing.
  EXPECT_EQ(recording.events.size(), 8u);
}

TEST(CachingAllocatorTrace, OutOfMemoryIsRememberedAndEndsTheRecording) {
  Recorder& recorder = Recorder::instance();
  recorder.start();
  recorder.set_phase(Phase::kBackward);
  record_allocator_trace({Action::kAlloc, 0, 0x1000, 512});
  record_allocator_trace({Action::kOutOfMemory, 0, 0, 1 << 30});
  EXPECT_FALSE(recorder.recording());
  record_allocator_trace({Action::kFreeCompleted, 0, 0x1000, 512});
  const Recording recording = recorder.stop();
  EXPECT_EQ(of_kind(recording.events, EventKind::kFree).size(), 0u) << "unwinding after the failure is not recorded";
  const auto failure = recorder.last_failure();
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->requested_bytes, 1 << 30);
  EXPECT_EQ(failure->live_bytes, 512);
  EXPECT_EQ(failure->device, 0);
  EXPECT_EQ(failure->phase, Phase::kBackward);
}

TEST(CachingAllocatorTrace, NothingIsRecordedOutsideARecording) {
  Recorder& recorder = Recorder::instance();
  recorder.start();
  recorder.stop();
  record_allocator_trace({Action::kAlloc, 0, 0x1000, 512});
  recorder.start();
  EXPECT_EQ(recorder.stop().events.size(), 0u);
}

// Three phase changes at 10, 20 and 30 ms; CUPTI's clock runs 5 s ahead of steady_ns().
Recording recording_with_phases() {
  Recording recording;
  recording.start_steady_ns = 1'000'000'000;
  const std::pair<Phase, int64_t> phases[] = {{Phase::kInit, 10}, {Phase::kForward, 20}, {Phase::kBackward, 30}};
  for (const auto& [phase, ms] : phases) {
    Event e{};
    e.seq = recording.events.size();
    e.time_ns = ms * 1'000'000;
    e.kind = EventKind::kPhase;
    e.phase = phase;
    e.step = phase == Phase::kInit ? 0 : 1;
    recording.events.push_back(e);
  }
  return recording;
}

int64_t cupti_time(int64_t session_ms) { return 5'000'000'000 + 1'000'000'000 + session_ms * 1'000'000; }

TEST(DriverMemory, RecordsJoinTheStreamByTimeWithTheirPhase) {
  Recording recording = recording_with_phases();
  const std::vector<DriverMemoryRecord> records = {
      {.allocation = false, .device = 0, .address = 0xA, .bytes = 100, .timestamp_ns = cupti_time(35)},
      {.allocation = true, .device = 0, .address = 0xA, .bytes = 100, .timestamp_ns = cupti_time(25)},
      {.allocation = true, .device_memory = false, .device = 0, .address = 0xB, .bytes = 7, .timestamp_ns = cupti_time(26)},
      {.allocation = true, .device = 0, .address = 0xC, .bytes = 64, .timestamp_ns = cupti_time(5)},
  };
  merge_driver_records(recording, records, 5'000'000'000);
  ASSERT_EQ(recording.events.size(), 6u) << "the pinned-host record stays out";
  for (size_t i = 0; i < recording.events.size(); ++i) EXPECT_EQ(recording.events[i].seq, i);
  const std::vector<EventKind> kinds = {EventKind::kDriverAlloc, EventKind::kPhase, EventKind::kPhase,
                                        EventKind::kDriverAlloc, EventKind::kPhase, EventKind::kDriverFree};
  for (size_t i = 0; i < kinds.size(); ++i) EXPECT_EQ(recording.events[i].kind, kinds[i]) << i;
  EXPECT_EQ(recording.events[0].phase, Phase::kOther) << "before the first phase event";
  EXPECT_EQ(recording.events[3].phase, Phase::kForward);
  EXPECT_EQ(recording.events[3].step, 1u);
  EXPECT_EQ(recording.events[3].time_ns, 25'000'000);
  EXPECT_EQ(recording.events[5].phase, Phase::kBackward);
  EXPECT_EQ(recording.events[5].bytes, -100);
}

TEST(DeviceMemory, PeaksOfSegmentsAndDriverBesideTheTensorPeak) {
  synthetic::StreamBuilder stream;
  auto device_level = [&](EventKind kind, uint64_t address, int64_t bytes) {
    Event e{};
    e.seq = stream.next_seq();
    e.kind = kind;
    e.address = address;
    e.bytes = bytes;
    e.device = 0;
    e.phase = Phase::kForward;
    stream.events().push_back(e);
  };
  stream.phase(Phase::kForward, 1);
  device_level(EventKind::kDriverFree, 0xF, -4096);  // allocated before tracing: counted, not subtracted
  device_level(EventKind::kDriverAlloc, 0x100, 2048);
  device_level(EventKind::kSegmentAlloc, 0x100, 2048);
  stream.alloc(0x100, 1500, "conv", "aten::conv", 0);
  const uint64_t peak_seq = stream.alloc(0x700, 500, "conv", "aten::conv", 0);
  stream.alloc(0x9000, 1 << 20);  // a CPU block: not this device's
  stream.free(0x100, 0);
  device_level(EventKind::kDriverAlloc, 0x900, 8192);
  device_level(EventKind::kSegmentAlloc, 0x900, 8192);
  device_level(EventKind::kSegmentFree, 0x900, -8192);
  device_level(EventKind::kDriverFree, 0x900, -8192);
  stream.free(0x700, 0);

  MemoryEventSource source(stream.events(), stream.names());
  const Analysis analysis = analyze(source, {.device = 0});
  EXPECT_EQ(analysis.peak.bytes, 2000) << "device-level events are not tensor bytes";
  EXPECT_EQ(analysis.peak.seq, peak_seq);
  const DeviceMemory& memory = analysis.device_memory;
  EXPECT_EQ(memory.reserved.peak_bytes, 2048 + 8192);
  EXPECT_EQ(memory.reserved.at_tensor_peak, 2048);
  EXPECT_EQ(memory.reserved.at_end, 2048);
  EXPECT_EQ(memory.reserved.alloc_events, 2u);
  EXPECT_EQ(memory.reserved.free_events, 1u);
  EXPECT_EQ(memory.driver.peak_bytes, 2048 + 8192);
  EXPECT_EQ(memory.driver.at_tensor_peak, 2048);
  EXPECT_EQ(memory.driver.untraced_frees, 1u);
  EXPECT_EQ(memory.driver.at_end, 2048);

  const Analysis cpu = analyze(source);
  EXPECT_EQ(cpu.peak.bytes, 1 << 20);
  EXPECT_EQ(cpu.device_memory, DeviceMemory{}) << "CPU runs have no device level";
}

TEST(DeviceMemory, MoreSegmentBytesFreedThanReservedIsAnError) {
  synthetic::StreamBuilder stream;
  stream.phase(Phase::kForward, 1);
  Event e{};
  e.seq = stream.next_seq();
  e.kind = EventKind::kSegmentFree;
  e.bytes = -512;
  e.device = 0;
  stream.events().push_back(e);
  MemoryEventSource source(stream.events(), stream.names());
  EXPECT_THROW(analyze(source, {.device = 0}), TraceError);
}

}  // namespace
}  // namespace trainmem
