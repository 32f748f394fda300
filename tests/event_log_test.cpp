// The recorder's event log: lossless and gap-free under concurrent appends.
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "tracer/event_log.h"
#include "tracer/recorder.h"

namespace trainmem {
namespace {

TEST(EventLog, KeepsEveryEventFromManyThreadsInOneGapFreeSequence) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50'000;  // crosses many chunk boundaries per thread
  EventLog log;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&log, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Event e{};
        e.kind = EventKind::kAlloc;
        e.bytes = 1;
        e.address = static_cast<uint64_t>(t) << 32 | static_cast<uint64_t>(i);
        log.append(e);
      }
    });
  }
  for (auto& thread : threads) thread.join();

  const std::vector<Event> events = log.collect();
  ASSERT_EQ(events.size(), static_cast<size_t>(kThreads * kPerThread));
  std::set<uint64_t> addresses;
  std::vector<int> next_index_of_thread(kThreads, 0);
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].seq, i);
    addresses.insert(events[i].address);
    // Each thread's own events keep their program order.
    const int thread = static_cast<int>(events[i].address >> 32);
    EXPECT_EQ(static_cast<int>(events[i].address & 0xffffffff), next_index_of_thread[thread]++);
  }
  EXPECT_EQ(addresses.size(), events.size());
}

// Blocks pass between threads as they do between the loop and intra-op workers: a block allocated on one
// thread is freed on another, and its address is then allocated again anywhere. The log's thread numbers its
// events without a shared counter; the merged order must still put every free after its alloc and every
// reuse after the free.
TEST(EventLog, KeepsEachBlocksAllocFreeOrderWhenBlocksPassBetweenThreads) {
  constexpr int kOtherThreads = 3;
  constexpr int kIterations = 40'000;
  EventLog log;  // made here: this thread is the log's owner
  std::mutex mutex;
  std::vector<uint64_t> free_addresses, live_addresses;
  for (uint64_t a = 1; a <= 64; ++a) free_addresses.push_back(a << 4);
  auto take = [&](std::vector<uint64_t>& from, uint64_t& address) {
    std::lock_guard<std::mutex> lock(mutex);
    if (from.empty()) return false;
    address = from.back();
    from.pop_back();
    return true;
  };
  auto put = [&](std::vector<uint64_t>& to, uint64_t address) {
    std::lock_guard<std::mutex> lock(mutex);
    to.push_back(address);
  };
  auto work = [&](int thread) {
    for (int i = 0; i < kIterations; ++i) {
      Event e{};
      e.module = static_cast<uint32_t>(thread);
      e.op = static_cast<uint32_t>(i);
      // As the allocator does: an alloc is recorded after the block is obtained, a free before it is released.
      if ((i + thread) % 2 == 0 && take(free_addresses, e.address)) {
        e.kind = EventKind::kAlloc;
        e.bytes = 16;
        log.append(e);
        put(live_addresses, e.address);
      } else if (take(live_addresses, e.address)) {
        e.kind = EventKind::kFree;
        e.bytes = -16;
        log.append(e);
        put(free_addresses, e.address);
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 1; t <= kOtherThreads; ++t) threads.emplace_back(work, t);
  work(0);
  for (auto& thread : threads) thread.join();

  const std::vector<Event> events = log.collect();
  std::map<uint64_t, EventKind> last_kind;
  std::vector<int64_t> last_op_of_thread(kOtherThreads + 1, -1);
  int64_t live = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    ASSERT_EQ(e.seq, i);
    auto last = last_kind.find(e.address);
    if (e.kind == EventKind::kAlloc) {
      EXPECT_TRUE(last == last_kind.end() || last->second == EventKind::kFree) << "reuse before free at " << i;
    } else {
      ASSERT_TRUE(last != last_kind.end() && last->second == EventKind::kAlloc) << "free before alloc at " << i;
    }
    last_kind[e.address] = e.kind;
    EXPECT_GT(static_cast<int64_t>(e.op), last_op_of_thread[e.module]) << "a thread's events out of order at " << i;
    last_op_of_thread[e.module] = e.op;
    live += e.bytes;
    ASSERT_GE(live, 0);
  }
  EXPECT_GT(events.size(), static_cast<size_t>(kIterations));
}

TEST(EventLog, TimesAreNanosecondsFromTheLogsStart) {
  EventLog log;
  log.append(Event{});
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  log.sample_clock();  // as the op observer does at each operator
  log.append(Event{});
  const auto events = log.collect();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_GE(events[0].time_ns, 0);
  const double gap_ms = static_cast<double>(events[1].time_ns - events[0].time_ns) / 1e6;
  EXPECT_GT(gap_ms, 15.0);
  EXPECT_LT(gap_ms, 200.0);
}

TEST(Recorder, StampsPhaseStepModuleAndTagsIntoEvents) {
  Recorder& recorder = Recorder::instance();
  recorder.start();
  recorder.set_step(3);
  int block = 0;
  {
    PhaseScope phase(Phase::kForward);
    Recorder::thread_context().module = recorder.intern("layer1.0.conv1");
    recorder.on_alloc(&block, 128, kCpuDevice);
    recorder.tag(&block, Tag::kInput);
    recorder.on_free(&block, 128, kCpuDevice);
    Recorder::thread_context() = {};
  }
  const Recording recording = recorder.stop();
  ASSERT_EQ(recording.events.size(), 5u);  // phase, alloc, tag, free, phase
  const Event& alloc = recording.events[1];
  EXPECT_EQ(alloc.kind, EventKind::kAlloc);
  EXPECT_EQ(alloc.bytes, 128);
  EXPECT_EQ(alloc.phase, Phase::kForward);
  EXPECT_EQ(alloc.step, 3u);
  EXPECT_EQ(recording.names.at(alloc.module), "layer1.0.conv1");
  EXPECT_EQ(recording.events[2].tag, Tag::kInput);
  EXPECT_EQ(recording.events[3].bytes, -128);
  EXPECT_EQ(recording.events[4].phase, Phase::kOther);
}

TEST(Recorder, GivesEachEventThePhaseAndStepCurrentWhenItWasAppended) {
  // The hot path stores neither: collect() takes them from the phase events and step marks before each event.
  Recorder& recorder = Recorder::instance();
  recorder.start();
  int block = 0;
  recorder.on_alloc(&block, 1, kCpuDevice);  // before any phase event or step
  recorder.set_step(1);
  recorder.on_alloc(&block, 2, kCpuDevice);
  {
    PhaseScope phase(Phase::kForward);
    recorder.on_alloc(&block, 3, kCpuDevice);
    recorder.set_step(2);  // a step change with no phase change between
    recorder.on_alloc(&block, 4, kCpuDevice);
  }
  recorder.on_alloc(&block, 5, kCpuDevice);
  const Recording recording = recorder.stop();
  std::vector<std::pair<Phase, uint32_t>> seen;
  for (const Event& e : recording.events) {
    if (e.kind == EventKind::kAlloc) seen.emplace_back(e.phase, e.step);
  }
  const std::vector<std::pair<Phase, uint32_t>> expected = {
      {Phase::kOther, 0}, {Phase::kOther, 1}, {Phase::kForward, 1}, {Phase::kForward, 2}, {Phase::kOther, 2}};
  EXPECT_EQ(seen, expected);
}

TEST(Recorder, RefusesAllocationsPastItsLimitAndRemembersWhere) {
  Recorder& recorder = Recorder::instance();
  recorder.start(/*cpu_limit_bytes=*/1000);
  PhaseScope phase(Phase::kBackward);
  int block = 0;
  EXPECT_TRUE(recorder.admit(600, kCpuDevice));
  recorder.on_alloc(&block, 600, kCpuDevice);
  EXPECT_FALSE(recorder.admit(401, kCpuDevice));
  recorder.stop();
  auto failure = recorder.last_failure();
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->requested_bytes, 401);
  EXPECT_EQ(failure->live_bytes, 600);
  EXPECT_EQ(failure->limit_bytes, 1000);
  EXPECT_EQ(failure->phase, Phase::kBackward);
}

}  // namespace
}  // namespace trainmem
