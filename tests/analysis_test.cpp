// The streaming analysis against hand-built streams whose every number was worked out by hand
// (see the live-byte comments in synthetic_stream.h).
#include "analysis/analysis.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <numeric>

#include "tests/synthetic_stream.h"

namespace trainmem {
namespace {

using synthetic::StreamBuilder;
using synthetic::two_step_training_run;

Analysis analyze_stream(StreamBuilder& stream, int8_t device = kCpuDevice) {
  MemoryEventSource source(stream.events(), stream.names());
  return analyze(source, {.device = device});
}

int64_t category(const Analysis& analysis, Category category) {
  return analysis.categories_at_peak[static_cast<size_t>(category)];
}

int64_t category_sum(const Analysis& analysis) {
  return std::accumulate(analysis.categories_at_peak.begin(), analysis.categories_at_peak.end(), int64_t{0});
}

TEST(Analysis, MeasuresTheFivePointsOfTheLastStep) {
  auto run = two_step_training_run();
  Analysis analysis = analyze_stream(run.stream);
  EXPECT_EQ(analysis.last_step, 2u);
  EXPECT_EQ(analysis.points.init, 640);
  EXPECT_EQ(analysis.points.input, 1948);
  EXPECT_EQ(analysis.points.forward_peak, 2448);
  EXPECT_EQ(analysis.points.backward_end, 1964);
  EXPECT_EQ(analysis.points.optimizer_peak, 2064);
}

TEST(Analysis, FindsThePeakAndItsContext) {
  auto run = two_step_training_run();
  Analysis analysis = analyze_stream(run.stream);
  EXPECT_EQ(analysis.peak.bytes, 2664);
  EXPECT_EQ(analysis.peak.seq, run.peak_seq);
  EXPECT_EQ(analysis.peak.phase, Phase::kBackward);
  EXPECT_EQ(analysis.peak.step, 2u);
  EXPECT_EQ(analysis.peak.module, "conv");
  EXPECT_EQ(analysis.peak.op, "aten::convolution_backward");
}

TEST(Analysis, SplitsThePeakIntoCategoriesThatSumToIt) {
  auto run = two_step_training_run();
  Analysis analysis = analyze_stream(run.stream);
  EXPECT_EQ(category(analysis, Category::kParameters), 640);  // weights and the tagged buffer
  EXPECT_EQ(category(analysis, Category::kGradients), 600);   // tagged in step 1's optimizer phase
  EXPECT_EQ(category(analysis, Category::kOptimizerState), 600);
  EXPECT_EQ(category(analysis, Category::kInput), 108);
  EXPECT_EQ(category(analysis, Category::kActivations), 450);
  EXPECT_EQ(category(analysis, Category::kTemporaries), 250);
  EXPECT_EQ(category(analysis, Category::kOther), 16);
  EXPECT_EQ(category_sum(analysis), analysis.peak.bytes);
}

TEST(Analysis, AttributesTheLastForwardsActivationsToModules) {
  auto run = two_step_training_run();
  Analysis analysis = analyze_stream(run.stream);
  EXPECT_EQ(analysis.activation_bytes, 450);
  std::vector<ModuleBytes> expected{{"conv", 300, 1}, {"fc", 120, 1}, {"", 30, 1}};
  EXPECT_EQ(analysis.activations_by_module, expected);
}

TEST(Analysis, SplitsWhatIsAliveWhereTheStreamEndsByCategoryAndModule) {
  auto run = two_step_training_run();
  MemoryEventSource source(run.stream.events(), run.stream.names());
  const Analysis analysis = analyze(source);
  int64_t live_at_end = 0;
  for (const Event& e : run.stream.events()) live_at_end += e.bytes;
  int64_t by_category = 0;
  for (int64_t bytes : analysis.categories_at_end) by_category += bytes;
  EXPECT_EQ(by_category, live_at_end);
  int64_t by_module = 0;
  for (const ModuleBytes& module : analysis.live_at_end_by_module) by_module += module.bytes;
  EXPECT_EQ(by_module, live_at_end);
  EXPECT_TRUE(std::is_sorted(analysis.live_at_end_by_module.begin(), analysis.live_at_end_by_module.end(),
                             [](const ModuleBytes& a, const ModuleBytes& b) { return a.bytes > b.bytes; }));
}

TEST(Analysis, MeasuresParametersAndBuffersAtTheEndOfInit) {
  auto run = two_step_training_run();
  Analysis analysis = analyze_stream(run.stream);
  EXPECT_EQ(analysis.measured_parameter_bytes, 600);
  EXPECT_EQ(analysis.measured_buffer_bytes, 40);
}

TEST(Analysis, CountsEventsAndTimesTheLastStep) {
  auto run = two_step_training_run();
  Analysis analysis = analyze_stream(run.stream);
  EXPECT_EQ(analysis.alloc_events, 25u);
  EXPECT_EQ(analysis.free_events, 15u);
  EXPECT_EQ(analysis.marker_events, 21u);  // 10 phase events and 11 tags
  // Step 2's input phase event is followed by 25 events of 1 ms each up to the one that ends its optimizer.
  EXPECT_DOUBLE_EQ(analysis.last_step_seconds, 0.025);
}

TEST(Analysis, ClassifiesByWhatHappensAfterThePeak) {
  // The peak falls inside forward: the block freed before forward ends is a temporary, the one that
  // survives it an activation, though both were alive together at the peak.
  StreamBuilder s;
  s.phase(Phase::kForward, 1);
  s.alloc(0x10, 100, "a");
  s.alloc(0x20, 50, "b");  // the peak: 150
  s.free(0x20);
  s.phase(Phase::kBackward, 1);
  Analysis analysis = analyze_stream(s);
  EXPECT_EQ(analysis.peak.bytes, 150);
  EXPECT_EQ(category(analysis, Category::kActivations), 100);
  EXPECT_EQ(category(analysis, Category::kTemporaries), 50);
  EXPECT_EQ(category_sum(analysis), 150);
}

TEST(Analysis, TheEndOfTheStreamEndsTheLastPhase) {
  StreamBuilder s;
  s.phase(Phase::kOptimizer, 1);
  s.alloc(0x10, 64);  // still alive at the end: it outlived its phase
  Analysis analysis = analyze_stream(s);
  EXPECT_EQ(category(analysis, Category::kOptimizerState), 64);
  EXPECT_EQ(analysis.points.optimizer_peak, 64);
  EXPECT_EQ(analysis.last_step_seconds, 0);  // no phase event ends the optimizer phase
}

TEST(Analysis, IgnoresTagsOfBlocksNoLongerAlive) {
  StreamBuilder s;
  s.phase(Phase::kBackward, 1);
  s.alloc(0x10, 64);
  s.free(0x10);
  s.tag(0x10, Tag::kGradient);
  s.alloc(0x20, 32);
  Analysis analysis = analyze_stream(s);
  EXPECT_EQ(analysis.peak.bytes, 64);
  EXPECT_EQ(category(analysis, Category::kTemporaries), 64);
}

TEST(Analysis, OnlyCountsTheChosenDevice) {
  auto run = two_step_training_run();
  const StreamBuilder& cpu_only = run.stream;
  // Interleave a CUDA stream at the same addresses: it must change nothing on the CPU, and vice versa.
  StreamBuilder with_cuda;
  constexpr int8_t kCuda = 0;
  for (const Event& e : run.stream.events()) {
    switch (e.kind) {
      case EventKind::kPhase:
        with_cuda.phase(e.phase, e.step);
        break;
      case EventKind::kAlloc:
        with_cuda.alloc(e.address, e.bytes, cpu_only.names()[e.module], cpu_only.names()[e.op]);
        with_cuda.alloc(e.address, 10 * e.bytes, "", "", kCuda);
        break;
      case EventKind::kFree:
        with_cuda.free(e.address);
        with_cuda.tag(e.address, Tag::kInput, kCuda);
        with_cuda.free(e.address, kCuda);
        break;
      case EventKind::kTag:
        with_cuda.tag(e.address, e.tag);
        break;
      default:
        FAIL() << "the CPU run has no device-level events";
    }
  }
  Analysis cpu = analyze_stream(with_cuda, kCpuDevice);
  Analysis expected = analyze_stream(run.stream);
  EXPECT_EQ(cpu.points, expected.points);
  EXPECT_EQ(cpu.categories_at_peak, expected.categories_at_peak);
  EXPECT_EQ(cpu.activations_by_module, expected.activations_by_module);
  EXPECT_EQ(cpu.alloc_events, expected.alloc_events);

  Analysis cuda = analyze_stream(with_cuda, kCuda);
  EXPECT_EQ(cuda.peak.bytes, 10 * expected.peak.bytes);
  EXPECT_EQ(cuda.points.forward_peak, 10 * expected.points.forward_peak);
  EXPECT_EQ(category(cuda, Category::kParameters), 0);  // the tags were CPU tags
  EXPECT_EQ(category_sum(cuda), cuda.peak.bytes);
}

TEST(Analysis, EmptyStreamGivesZeros) {
  StreamBuilder s;
  EXPECT_EQ(analyze_stream(s), Analysis{});
}

TEST(Analysis, RejectsADoubleFree) {
  StreamBuilder s;
  s.alloc(0x10, 64);
  s.free(0x10);
  s.free(0x10);
  EXPECT_THROW(analyze_stream(s), TraceError);
}

TEST(Analysis, RejectsAFreeOfAnUnknownAddressNamingItsSeq) {
  StreamBuilder s;
  s.alloc(0x10, 64);
  s.free_bytes(0x99, 64);
  try {
    analyze_stream(s);
    FAIL() << "expected a TraceError";
  } catch (const TraceError& e) {
    EXPECT_NE(std::string(e.what()).find("seq 1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("0x99"), std::string::npos) << e.what();
  }
}

TEST(Analysis, RejectsAnAllocAtALiveAddress) {
  StreamBuilder s;
  s.alloc(0x10, 64);
  s.alloc(0x10, 64);
  EXPECT_THROW(analyze_stream(s), TraceError);
}

TEST(Analysis, RejectsAFreeOfTheWrongSize) {
  StreamBuilder s;
  s.alloc(0x10, 64);
  s.free_bytes(0x10, 32);
  EXPECT_THROW(analyze_stream(s), TraceError);
}

TEST(Analysis, RejectsASequenceGap) {
  StreamBuilder s;
  s.alloc(0x10, 64);
  s.alloc(0x20, 64);
  s.events()[1].seq = 2;
  EXPECT_THROW(analyze_stream(s), TraceError);
}

TEST(Analysis, RejectsEventsOutOfOrder) {
  StreamBuilder s;
  s.alloc(0x10, 64);
  s.alloc(0x20, 64);
  std::swap(s.events()[0], s.events()[1]);
  EXPECT_THROW(analyze_stream(s), TraceError);
}

TEST(Analysis, NamesEveryCategory) {
  EXPECT_EQ(to_string(Category::kParameters), "parameters");
  EXPECT_EQ(to_string(Category::kGradients), "gradients");
  EXPECT_EQ(to_string(Category::kOptimizerState), "optimizer_state");
  EXPECT_EQ(to_string(Category::kInput), "input");
  EXPECT_EQ(to_string(Category::kActivations), "activations");
  EXPECT_EQ(to_string(Category::kTemporaries), "temporaries");
  EXPECT_EQ(to_string(Category::kOther), "other");
}

}  // namespace
}  // namespace trainmem
