// CUDA tensor-level tracing. Real TraceEntry objects go through the tracker's conversion on any machine; the
// rest needs a CUDA device and is skipped, saying why, where there is none (scripts/gpu-check.sh runs it).
#include <gtest/gtest.h>
#include <torch/nn/functional/loss.h>
#include <torch/types.h>

#include "analysis/analysis.h"
#include "tracer/cuda_allocator.h"
#include "tracer/cuda_devices.h"
#include "tracer/cuda_trace_entry.h"
#include "tracer/session.h"

namespace trainmem {
namespace {

using c10::CachingDeviceAllocator::TraceEntry;
using Action = AllocatorTraceRecord::Action;

AllocatorTraceRecord convert(TraceEntry::Action action, size_t addr, size_t size) {
  return to_allocator_trace_record(TraceEntry(action, /*device=*/1, addr, size, /*stream=*/nullptr, {0, 0}, 0));
}

TEST(CudaTraceEntry, EveryActionMapsToItsRecord) {
  const std::pair<TraceEntry::Action, Action> actions[] = {
      {TraceEntry::ALLOC, Action::kAlloc},
      {TraceEntry::FREE_REQUESTED, Action::kFreeRequested},
      {TraceEntry::FREE_COMPLETED, Action::kFreeCompleted},
      {TraceEntry::SEGMENT_ALLOC, Action::kSegmentAlloc},
      {TraceEntry::SEGMENT_FREE, Action::kSegmentFree},
      {TraceEntry::SEGMENT_MAP, Action::kSegmentMap},
      {TraceEntry::SEGMENT_UNMAP, Action::kSegmentUnmap},
      {TraceEntry::SNAPSHOT, Action::kOther},
  };
  for (const auto& [entry_action, expected] : actions) {
    const AllocatorTraceRecord record = convert(entry_action, 0x7f0000001000, 4096);
    EXPECT_EQ(record.action, expected) << static_cast<int>(entry_action);
    EXPECT_EQ(record.device, 1);
    EXPECT_EQ(record.address, 0x7f0000001000u);
    EXPECT_EQ(record.bytes, 4096u);
  }
  const AllocatorTraceRecord oom = convert(TraceEntry::OOM, /*free bytes, not an address=*/123456, 1 << 30);
  EXPECT_EQ(oom.action, Action::kOutOfMemory);
  EXPECT_EQ(oom.address, 0u);
  EXPECT_EQ(oom.bytes, 1u << 30);
}

TEST(CudaTraceEntry, ConvertedEntriesReachTheRecording) {
  Recorder& recorder = Recorder::instance();
  recorder.start();
  record_allocator_trace(convert(TraceEntry::SEGMENT_ALLOC, 0x1000, 2 << 20));
  record_allocator_trace(convert(TraceEntry::ALLOC, 0x1000, 1000));
  record_allocator_trace(convert(TraceEntry::FREE_REQUESTED, 0x1000, 1000));
  record_allocator_trace(convert(TraceEntry::FREE_COMPLETED, 0x1000, 1000));
  const Recording recording = recorder.stop();
  MemoryEventSource source(recording.events, recording.names);
  const Analysis analysis = analyze(source, {.device = 1});
  EXPECT_EQ(analysis.peak.bytes, 1000);
  EXPECT_EQ(analysis.alloc_events, 1u);
  EXPECT_EQ(analysis.free_events, 1u);
  EXPECT_EQ(analysis.device_memory.reserved.peak_bytes, 2 << 20);
}

TEST(CudaDevices, ProbeSaysWhyThereIsNone) {
  const CudaStatus status = probe_cuda();
  EXPECT_TRUE(status.torch_cuda) << "the pinned wheel is a CUDA build";
  EXPECT_GT(status.runtime_version, 0);
  if (status.available) {
    EXPECT_TRUE(status.reason.empty());
    ASSERT_FALSE(status.devices.empty());
    EXPECT_GT(status.devices[0].total_bytes, 0);
  } else {
    EXPECT_FALSE(status.reason.empty());
    EXPECT_EQ(status.reason.find('\n'), std::string::npos);
    EXPECT_TRUE(status.devices.empty());
  }
}

class OnCudaDevice : public ::testing::Test {
 protected:
  void SetUp() override {
    const CudaStatus status = probe_cuda();
    if (!status.available) GTEST_SKIP() << "needs a CUDA device: " << status.reason;
  }
};

// Every tensor the allocator hands out is an event, and the trace's peak is the allocator's own.
TEST_F(OnCudaDevice, TracePeakEqualsTheAllocatorsRequestedPeak) {
  TraceSession session({.cuda_device = 0});
  {
    PhaseScope phase(Phase::kForward);
    torch::Tensor a = torch::ones({1000}, torch::kCUDA);           // 4000 bytes
    torch::Tensor b = torch::ones({3, 1000, 1000}, torch::kCUDA);  // 12 MB: a large-pool block
    torch::Tensor c = a + 1;
    b.reset();
    torch::Tensor d = torch::empty({777}, torch::TensorOptions().dtype(torch::kByte).device(torch::kCUDA));
  }
  const Recording recording = session.finish();
  const CudaAllocatorStats stats = cuda_allocator_stats(0);
  MemoryEventSource source(recording.events, recording.names);
  const Analysis analysis = analyze(source, {.device = 0});
  EXPECT_EQ(analysis.peak.bytes, stats.requested_peak);
  EXPECT_EQ(analysis.peak.bytes, 4000 + 12'000'000 + 4000);
  EXPECT_GE(stats.allocated_peak, stats.requested_peak);
  EXPECT_EQ(analysis.device_memory.reserved.peak_bytes, stats.reserved_peak);
  EXPECT_EQ(analysis.alloc_events, analysis.free_events) << "everything made in the scope died in it";
  for (const Event& e : recording.events) {
    if (e.kind == EventKind::kAlloc && e.device == 0) {
      EXPECT_EQ(e.phase, Phase::kForward);
    }
  }
  if (session.cupti().traced) {
    EXPECT_GT(analysis.device_memory.driver.peak_bytes, 0) << "CUPTI saw the segments' cudaMalloc";
    EXPECT_GE(analysis.device_memory.driver.peak_bytes, analysis.device_memory.reserved.peak_bytes);
  }
}

TEST_F(OnCudaDevice, BackwardAllocationsAreTraced) {
  TraceSession session({.cuda_device = 0});
  torch::Tensor w = torch::randn({64, 64}, torch::TensorOptions().device(torch::kCUDA).requires_grad(true));
  torch::Tensor loss;
  {
    PhaseScope phase(Phase::kForward);
    loss = torch::relu(torch::randn({128, 64}, torch::kCUDA).matmul(w)).sum();
  }
  {
    PhaseScope phase(Phase::kBackward);
    loss.backward();
  }
  const Recording recording = session.finish();
  int64_t backward_allocs = 0;
  for (const Event& e : recording.events) {
    if (e.kind == EventKind::kAlloc && e.device == 0 && e.phase == Phase::kBackward) ++backward_allocs;
  }
  EXPECT_GT(backward_allocs, 0) << "the gradient of w is born in backward (on the autograd device thread)";
  MemoryEventSource source(recording.events, recording.names);
  EXPECT_EQ(analyze(source, {.device = 0}).peak.bytes, cuda_allocator_stats(0).requested_peak);
}

}  // namespace
}  // namespace trainmem
