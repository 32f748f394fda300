// Interception of LibTorch's CPU allocator and attribution to phases and modules, on real LibTorch.
#include <gtest/gtest.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include <malloc.h>

#include <map>
#include <thread>

#include "models/classifier.h"
#include "models/module_scope.h"
#include "tracer/cpu_allocator.h"
#include "tracer/session.h"

namespace trainmem {
namespace {

int64_t count_kind(const Recording& recording, EventKind kind) {
  return std::count_if(recording.events.begin(), recording.events.end(),
                       [kind](const Event& e) { return e.kind == kind; });
}

TEST(CpuTracing, RecordsEveryAllocationAndFreeFromManyThreads) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20'000;
  TraceSession session;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([] {
      for (int i = 0; i < kPerThread; ++i) {
        torch::Tensor tensor = torch::empty({i % 97 + 1});
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const Recording recording = session.finish();
  EXPECT_EQ(count_kind(recording, EventKind::kAlloc), kThreads * kPerThread);
  EXPECT_EQ(count_kind(recording, EventKind::kFree), kThreads * kPerThread);
  int64_t live = 0;
  for (const Event& e : recording.events) live += e.bytes;
  EXPECT_EQ(live, 0);
}

TEST(CpuTracing, BlocksFromBeforeTheSessionAreFreedWithoutEvents) {
  torch::Tensor before = torch::ones({1000});
  TraceSession session;
  before.reset();
  torch::Tensor during = torch::ones({10});
  const Recording recording = session.finish();
  ASSERT_EQ(recording.events.size(), 1u);
  EXPECT_EQ(recording.events[0].bytes, 40);
}

TEST(CpuTracing, BlocksFromAnEarlierSessionAreFreedWithoutEvents) {
  TraceSession first;
  torch::Tensor kept = torch::ones({1000});
  first.finish();
  TraceSession second;
  kept.reset();
  const Recording recording = second.finish();
  EXPECT_TRUE(recording.events.empty());
}

// Sizes go in the block's spare tail bytes (or n + 8 is requested when a block has too few): every size is
// recorded exactly, and its free finds it again, whatever room the heap's rounding leaves.
TEST(CpuTracing, RecordsTheExactSizeOfEveryBlockSize) {
  TraceSession session;
  for (int64_t n = 1; n <= 300; ++n) torch::Tensor block = torch::empty({n}, torch::kUInt8);
  const Recording recording = session.finish();
  ASSERT_EQ(recording.events.size(), 600u);
  for (int64_t n = 1; n <= 300; ++n) {
    const Event& alloc = recording.events[static_cast<size_t>(2 * (n - 1))];
    const Event& free = recording.events[static_cast<size_t>(2 * (n - 1) + 1)];
    EXPECT_EQ(alloc.bytes, n);
    EXPECT_EQ(free.bytes, -n);
    EXPECT_EQ(free.address, alloc.address);
  }
}

// The heap sees the request an untraced run makes: for a size whose block has room for the tag, n itself. Any
// larger request (a size prefix asks n + 64) gives a block of at least that many usable bytes; glibc's aligned
// blocks for n exceed n by less (the request rounded to 16, plus a remainder too small to split off).
TEST(CpuTracing, RequestsTheTensorsOwnSizeWhenItsBlockHasRoom) {
  TraceSession session;
  for (int i = 0; i < 100; ++i) {
    const torch::Tensor traced = torch::empty({1024});
    EXPECT_GE(malloc_usable_size(traced.data_ptr()), 4096u + 8u);
    EXPECT_LT(malloc_usable_size(traced.data_ptr()), 4096u + 64u);
  }
}

TEST(MemoryAccount, RefusesWhatWouldPassItsLimitAndCountsFreesWhereverTheyHappen) {
  MemoryAccount account(10'000);
  torch::Tensor kept;
  {
    ChargeScope charge(&account);
    kept = torch::empty({1000});
    EXPECT_EQ(account.live_bytes(), 4000);
    { const torch::Tensor temporary = torch::empty({1000}); EXPECT_EQ(account.live_bytes(), 8000); }
    EXPECT_EQ(account.live_bytes(), 4000);
    EXPECT_FALSE(account.refused());
    EXPECT_THROW(torch::empty({2000}), c10::OutOfMemoryError);
    EXPECT_TRUE(account.refused());
    EXPECT_EQ(account.refusal().requested_bytes, 8000);
    EXPECT_EQ(account.refusal().live_bytes, 4000);
    EXPECT_EQ(account.live_bytes(), 4000) << "a refused allocation is not charged";
  }
  const torch::Tensor uncharged = torch::empty({1000});
  EXPECT_EQ(account.live_bytes(), 4000);
  kept.reset();  // freed after the scope: still the account's block
  EXPECT_EQ(account.live_bytes(), 0);
}

// conv -> act (ReLU) -> flatten -> fc on a 2 x 1 x 4 x 4 batch: every byte below is computed by hand.
class TinyNet final : public models::Classifier {
 public:
  TinyNet() {
    conv_ = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 2, 3).padding(1).bias(false)));
    act_ = register_module("act", torch::nn::ReLU());
    fc_ = register_module("fc", torch::nn::Linear(2 * 4 * 4, 3));
    models::assign_module_paths(*this);
  }
  torch::Tensor forward(torch::Tensor x) override {
    return models::call(fc_, torch::flatten(models::call(act_, models::call(conv_, x)), 1));
  }

 private:
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::ReLU act_{nullptr};
  torch::nn::Linear fc_{nullptr};
};

TEST(CpuTracing, AttributesForwardAndBackwardAllocationsToModulesAndPhases) {
  auto net = std::make_shared<TinyNet>();
  torch::Tensor input = torch::randn({2, 1, 4, 4});
  TraceSession session;
  torch::Tensor output;
  {
    PhaseScope phase(Phase::kForward);
    output = net->forward(input);
  }
  std::map<std::string, int64_t> alive_after_forward;  // by module
  std::map<std::pair<std::string, int64_t>, int> backward_allocs;  // (module, bytes) -> count
  {
    PhaseScope phase(Phase::kBackward);
    output.sum().backward();
  }
  const Recording recording = session.finish();
  std::map<uint64_t, const Event*> live;
  bool forward_over = false;
  for (const Event& e : recording.events) {
    if (e.kind == EventKind::kPhase && e.phase != Phase::kForward && !forward_over) {
      forward_over = true;
      for (auto& [address, alloc] : live) alive_after_forward[recording.names.at(alloc->module)] += alloc->bytes;
    }
    if (e.kind == EventKind::kAlloc) {
      live[e.address] = &e;
      if (e.phase == Phase::kBackward) ++backward_allocs[{recording.names.at(e.module), e.bytes}];
    }
    if (e.kind == EventKind::kFree) live.erase(e.address);
  }
  EXPECT_EQ(alive_after_forward["act"], 2 * 2 * 4 * 4 * 4);  // ReLU output: saved by ReLU, and by fc as input
  EXPECT_EQ(alive_after_forward["fc"], 2 * 3 * 4);            // logits, still held
  EXPECT_EQ(alive_after_forward["conv"], 0);                  // conv output dies: nobody saves it
  EXPECT_GE((backward_allocs[{"conv", 2 * 1 * 3 * 3 * 4}]), 1);  // conv weight gradient
  EXPECT_GE((backward_allocs[{"fc", 3 * 32 * 4}]), 1);           // fc weight gradient
  EXPECT_GE((backward_allocs[{"fc", 3 * 4}]), 1);                // fc bias gradient (reduced by the engine)
  EXPECT_EQ((backward_allocs[{"", 3 * 4}]), 0);
  EXPECT_EQ(recording.module_input_shapes.at("conv"), (std::vector<int64_t>{2, 1, 4, 4}));
  EXPECT_EQ(recording.module_input_shapes.at("fc"), (std::vector<int64_t>{2, 32}));
}

}  // namespace
}  // namespace trainmem
