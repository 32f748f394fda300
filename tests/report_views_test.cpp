// The run's visual views: the timeline pass and module slices on hand-built streams, the structure of
// trace.json, timeline.csv and report.html, and the files `profile` and `analyze` write.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "analysis/analysis.h"
#include "analysis/module_slices.h"
#include "analysis/timeline.h"
#include "reports/chrome_trace.h"
#include "reports/html_report.h"
#include "reports/timeline_csv.h"
#include "tests/synthetic_stream.h"

namespace trainmem {
namespace {

using synthetic::kNsPerEvent;
using synthetic::StreamBuilder;
using synthetic::two_step_training_run;

struct Views {
  Analysis analysis;
  Timeline timeline;
};

Views views_of(StreamBuilder& stream, int64_t max_points = kDefaultTimelinePoints) {
  MemoryEventSource source(stream.events(), stream.names());
  Views views;
  views.analysis = analyze(source);
  views.timeline = build_timeline(source, {.max_points = max_points, .last_step = views.analysis.last_step});
  return views;
}

int64_t sum(const std::array<int64_t, kCategoryCount>& categories) {
  return std::accumulate(categories.begin(), categories.end(), int64_t{0});
}

const TimelineSample* sample_at(const Timeline& timeline, uint64_t seq) {
  for (const TimelineSample& sample : timeline.samples) {
    if (sample.seq == seq) return &sample;
  }
  return nullptr;
}

RunInfo small_run() {
  RunInfo run;
  run.model = "tiny";
  run.batch = 2;
  run.resolution = 8;
  run.steps = 2;
  run.optimizer = "sgd";
  run.modules = {{.name = "conv", .type = "Conv2d", .weight_bytes = 400, .input_shape = {2, 3, 8, 8}, .input_bytes = 1536},
                 {.name = "fc", .type = "Linear", .weight_bytes = 200, .input_shape = {2, 10}, .input_bytes = 80}};
  return run;
}

TEST(Timeline, KeepsEverySampleWhenTheyFitAndSplitsThemLikeThePeak) {
  auto run = two_step_training_run();
  const Views views = views_of(run.stream);
  ASSERT_EQ(views.timeline.samples.size(), run.stream.events().size());  // 1 ms apart: one bucket each
  for (const TimelineSample& sample : views.timeline.samples) EXPECT_EQ(sum(sample.categories), sample.total) << sample.seq;
  const TimelineSample* peak = sample_at(views.timeline, run.peak_seq);
  ASSERT_NE(peak, nullptr);
  EXPECT_EQ(peak->total, views.analysis.peak.bytes);
  EXPECT_EQ(peak->categories, views.analysis.categories_at_peak);
  EXPECT_EQ(peak->phase, Phase::kBackward);
  EXPECT_EQ(peak->step, 2u);
  EXPECT_EQ(views.timeline.end_ns, static_cast<int64_t>(run.stream.events().size() - 1) * kNsPerEvent);
}

TEST(Timeline, PlacesTheFivePointsWhereTheAnalysisMeasuredThem) {
  auto run = two_step_training_run();
  const Views views = views_of(run.stream);
  const StepPoints& p = views.analysis.points;
  const std::array<int64_t, kStepPointCount> expected{p.init, p.input, p.forward_peak, p.backward_end, p.optimizer_peak};
  for (int i = 0; i < kStepPointCount; ++i) {
    ASSERT_TRUE(views.timeline.points[i]) << to_string(static_cast<StepPoint>(i));
    EXPECT_EQ(views.timeline.points[i]->bytes, expected[i]) << to_string(static_cast<StepPoint>(i));
    // A point's moment is an event: the live bytes there are the point's value.
    EXPECT_EQ(sample_at(views.timeline, views.timeline.points[i]->seq)->total, expected[i]);
  }
  EXPECT_EQ(views.timeline.points[static_cast<size_t>(StepPoint::kInit)]->seq, 9u);  // the phase event ending init
}

TEST(Timeline, HasOnePhaseSpanPerPhaseEventEndToEnd) {
  auto run = two_step_training_run();
  const Views views = views_of(run.stream);
  std::vector<std::pair<Phase, int64_t>> phase_events;
  for (const Event& e : run.stream.events()) {
    if (e.kind == EventKind::kPhase) phase_events.emplace_back(e.phase, e.time_ns);
  }
  ASSERT_EQ(views.timeline.phases.size(), phase_events.size());
  for (size_t i = 0; i < phase_events.size(); ++i) {
    EXPECT_EQ(views.timeline.phases[i].phase, phase_events[i].first);
    EXPECT_EQ(views.timeline.phases[i].start_ns, phase_events[i].second);
    const int64_t end = i + 1 < phase_events.size() ? phase_events[i + 1].second : views.timeline.end_ns;
    EXPECT_EQ(views.timeline.phases[i].end_ns, end);
  }
}

// A long flat stream with one alloc that is freed by the very next event: a peak one event wide.
struct SpikeStream {
  StreamBuilder stream;
  uint64_t spike_seq = 0;
};

SpikeStream spike_stream() {
  SpikeStream s;
  s.stream.phase(Phase::kForward, 1);
  for (uint64_t i = 0; i < 5000; ++i) {
    s.stream.alloc(0x1000 + i, 100 + static_cast<int64_t>(i % 7) * 10);
    if (i == 3217) {
      s.spike_seq = s.stream.alloc(0x9000000, 1'000'000);
      s.stream.free(0x9000000);
    }
    s.stream.free(0x1000 + i);
  }
  return s;
}

TEST(Timeline, DownsamplingKeepsAOneEventSpikeExactly) {
  SpikeStream s = spike_stream();
  const Views views = views_of(s.stream, 100);
  EXPECT_LE(views.timeline.samples.size(), 100u);
  EXPECT_GE(views.timeline.samples.size(), 50u);  // buckets halve at most once too often
  const TimelineSample* spike = sample_at(views.timeline, s.spike_seq);
  ASSERT_NE(spike, nullptr);
  EXPECT_EQ(spike->total, views.analysis.peak.bytes);
  EXPECT_EQ(spike->categories, views.analysis.categories_at_peak);
  EXPECT_EQ(spike->categories[static_cast<size_t>(Category::kTemporaries)], spike->total);
}

TEST(Timeline, EachSampleIsTheFirstLargestStateOfItsBucket) {
  SpikeStream s = spike_stream();
  constexpr int64_t kPoints = 64;
  const Views views = views_of(s.stream, kPoints);
  // The same answer worked out directly: the narrowest power-of-two bucket width that fits, then the
  // first state with the most bytes in each bucket.
  const std::vector<Event>& events = s.stream.events();
  int64_t width = 1;
  while (events.back().time_ns / width >= kPoints) width *= 2;
  std::map<int64_t, std::pair<int64_t, uint64_t>> best;  // bucket -> (total, seq)
  int64_t live = 0;
  for (const Event& e : events) {
    live += e.bytes;
    auto [it, inserted] = best.try_emplace(e.time_ns / width, live, e.seq);
    if (!inserted && live > it->second.first) it->second = {live, e.seq};
  }
  ASSERT_EQ(views.timeline.samples.size(), best.size());
  size_t i = 0;
  for (const auto& [bucket, state] : best) {
    const TimelineSample& sample = views.timeline.samples[i++];
    EXPECT_EQ(sample.seq, state.second) << "bucket " << bucket;
    EXPECT_EQ(sample.total, state.first) << "bucket " << bucket;
    EXPECT_EQ(sum(sample.categories), sample.total) << "bucket " << bucket;
  }
}

TEST(Timeline, ASinglePointIsThePeak) {
  auto run = two_step_training_run();
  const Views views = views_of(run.stream, 1);
  ASSERT_EQ(views.timeline.samples.size(), 1u);
  EXPECT_EQ(views.timeline.samples[0].seq, run.peak_seq);
}

TEST(Timeline, MakesTimesNonDecreasing) {
  StreamBuilder stream;
  stream.phase(Phase::kForward, 1);
  stream.alloc(0x10, 100);
  stream.alloc(0x20, 100);
  stream.events()[2].time_ns = 0;  // recorded earlier than the event before it
  const Views views = views_of(stream);
  ASSERT_EQ(views.timeline.samples.size(), 2u);  // the third event shares the second's time and bucket
  EXPECT_EQ(views.timeline.samples[1].seq, 2u);
  EXPECT_EQ(views.timeline.samples[1].time_ns, kNsPerEvent);
}

TEST(Timeline, RejectsAFreeOfABlockNotAlive) {
  StreamBuilder stream;
  stream.free_bytes(0x10, 100);
  MemoryEventSource source(stream.events(), stream.names());
  EXPECT_THROW(build_timeline(source, {}), TraceError);
}

std::vector<std::string> slice_edges(StreamBuilder& stream) {
  MemoryEventSource source(stream.events(), stream.names());
  std::vector<std::string> edges;
  replay_module_slices(source, kCpuDevice, [&](const ModuleSliceEdge& edge) {
    edges.push_back((edge.begin ? "B " : "E ") + std::string(edge.module) + " @" + std::to_string(edge.time_ns / kNsPerEvent));
  });
  return edges;
}

TEST(ModuleSlices, NestByDottedPathAndEndAtTheNextEventOutside) {
  StreamBuilder s;
  s.phase(Phase::kForward, 1);               // 0
  s.alloc(0x10, 8, "layer1.0.conv1");        // 1
  s.alloc(0x20, 8, "layer1.0.conv1");        // 2
  s.alloc(0x30, 8, "layer1.0.bn1");          // 3
  s.alloc(0x40, 8, "layer1.0");              // 4: the block's own op (the residual add)
  s.alloc(0x50, 8, "layer1.1.conv1");        // 5
  s.alloc(0x60, 8);                          // 6: outside any module
  s.alloc(0x70, 8, "fc");                    // 7
  s.phase(Phase::kBackward, 1);              // 8
  s.alloc(0x80, 8, "fc");                    // 9
  EXPECT_EQ(slice_edges(s), (std::vector<std::string>{
                                "B layer1 @1", "B layer1.0 @1", "B layer1.0.conv1 @1", "E layer1.0.conv1 @3",
                                "B layer1.0.bn1 @3", "E layer1.0.bn1 @4", "E layer1.0 @5", "B layer1.1 @5",
                                "B layer1.1.conv1 @5", "E layer1.1.conv1 @6", "E layer1.1 @6", "E layer1 @6", "B fc @7",
                                "E fc @8", "B fc @9", "E fc @9"}));
}

TEST(ModuleSlices, TellAModuleFromOneWhoseNameItPrefixes) {
  StreamBuilder s;
  s.alloc(0x10, 8, "layer1");
  s.alloc(0x20, 8, "layer10");
  EXPECT_EQ(slice_edges(s), (std::vector<std::string>{"B layer1 @0", "E layer1 @1", "B layer10 @1", "E layer10 @1"}));
}

TEST(ModuleSlices, IgnoreOtherDevicesAndTags) {
  StreamBuilder s;
  s.alloc(0x10, 8, "conv");
  s.alloc(0x20, 8, "fc", "", 0);  // cuda:0
  s.tag(0x10, Tag::kParameter);
  s.alloc(0x30, 8, "conv");
  EXPECT_EQ(slice_edges(s), (std::vector<std::string>{"B conv @0", "E conv @3"}));
}

// Checks what a trace viewer relies on; returns the parsed trace.
nlohmann::json check_trace_structure(const std::string& text) {
  const nlohmann::json trace = nlohmann::json::parse(text);
  EXPECT_TRUE(trace.at("traceEvents").is_array());
  std::map<std::string, double> last_ts;         // per track: tid for slices and instants, name for counters
  std::map<int, std::vector<std::string>> open;  // B/E stacks per tid
  for (const nlohmann::json& e : trace.at("traceEvents")) {
    const std::string ph = e.at("ph");
    EXPECT_EQ(e.at("pid"), 1);
    EXPECT_TRUE(e.at("name").is_string()) << e;
    if (ph == "M") {
      EXPECT_TRUE(e.at("args").at("name").is_string()) << e;
      continue;
    }
    const double ts = e.at("ts");
    const std::string track = ph == "C" ? "counter " + e.at("name").get<std::string>() : "tid " + e.at("tid").dump();
    if (last_ts.contains(track)) EXPECT_LE(last_ts[track], ts) << e;
    last_ts[track] = ts;
    if (ph == "C") {
      EXPECT_TRUE(e.at("args").is_object()) << e;
      for (const auto& [key, value] : e.at("args").items()) EXPECT_TRUE(value.is_number_integer()) << e;
    } else if (ph == "X") {
      EXPECT_GE(e.at("dur").get<double>(), 0) << e;
    } else if (ph == "B") {
      open[e.at("tid")].push_back(e.at("name"));
    } else if (ph == "E") {
      std::vector<std::string>& stack = open[e.at("tid")];
      EXPECT_FALSE(stack.empty()) << "an end without a begin: " << e;
      if (stack.empty()) continue;
      EXPECT_EQ(stack.back(), e.at("name").get<std::string>()) << "slices must nest: " << e;
      stack.pop_back();
    } else if (ph == "i") {
      EXPECT_EQ(e.at("s"), "t") << e;
    } else {
      ADD_FAILURE() << "unexpected event type: " << e;
    }
  }
  for (const auto& [tid, stack] : open) EXPECT_TRUE(stack.empty()) << "slices left open on tid " << tid;
  return trace;
}

TEST(ChromeTrace, IsWellFormedAndItsCountersSumToThePeak) {
  auto run = two_step_training_run();
  const Views views = views_of(run.stream);
  MemoryEventSource source(run.stream.events(), run.stream.names());
  const nlohmann::json trace = check_trace_structure(chrome_trace_json(small_run(), views.timeline, source, kCpuDevice));

  const TimelineSample& peak = *sample_at(views.timeline, run.peak_seq);
  const double peak_ts = static_cast<double>(peak.time_ns) / 1000.0;
  int counters_at_peak = 0;
  std::vector<std::string> points;
  std::map<std::string, int> module_slices;
  for (const nlohmann::json& e : trace.at("traceEvents")) {
    if (e.at("ph") == "C" && e.at("ts") == peak_ts) {
      ++counters_at_peak;
      int64_t total = 0;
      for (const auto& [key, value] : e.at("args").items()) total += value.get<int64_t>();
      EXPECT_EQ(total, views.analysis.peak.bytes) << e;
      if (e.at("name") == "live bytes") EXPECT_EQ(e.at("args").size(), static_cast<size_t>(kCategoryCount));
    }
    if (e.at("ph") == "i") points.push_back(e.at("name"));
    if (e.at("ph") == "B") ++module_slices[e.at("name")];
  }
  EXPECT_EQ(counters_at_peak, 2);  // the categories and the total
  EXPECT_EQ(points, (std::vector<std::string>{"init", "input", "forward_peak", "backward_end", "optimizer_peak"}));
  // In init, each forward, step 2's backward, and twice in step 1's backward (fc's gradient comes between).
  EXPECT_EQ(module_slices["conv"], 6);
}

TEST(TimelineCsv, HasAHeaderAndOneRowPerSample) {
  auto run = two_step_training_run();
  const Views views = views_of(run.stream, 10);
  std::istringstream csv(timeline_csv(views.timeline));
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line, "time_s,step,phase,parameters,gradients,optimizer_state,input,activations,temporaries,other,total");
  std::vector<std::string> rows;
  while (std::getline(csv, line)) rows.push_back(line);
  ASSERT_EQ(rows.size(), views.timeline.samples.size());
  // The peak, in backward of step 2: the split worked out in synthetic_stream.h.
  const int64_t peak_ns = static_cast<int64_t>(run.peak_seq) * kNsPerEvent;
  EXPECT_NE(std::find(rows.begin(), rows.end(), fmt::format("0.{:09},2,backward,640,600,600,108,450,250,16,2664", peak_ns)),
            rows.end())
      << timeline_csv(views.timeline);
}

TEST(HtmlReport, IsSelfContainedAndHasItsParts) {
  auto run = two_step_training_run();
  const Views views = views_of(run.stream);
  const std::string html = html_report(small_run(), views.analysis, views.timeline);
  for (std::string_view id : kReportElementIds) {
    EXPECT_NE(html.find("id=\"" + std::string(id) + "\""), std::string::npos) << id;
  }
  for (std::string_view external : {"http:", "https:", "src=", "href=", "url(", "@import"}) {
    EXPECT_EQ(html.find(external), std::string::npos) << external;
  }
  // Every category has an area, every module a row, and every point a marker.
  size_t areas = 0;
  for (size_t at = html.find("<path fill="); at != std::string::npos; at = html.find("<path fill=", at + 1)) ++areas;
  EXPECT_EQ(areas, static_cast<size_t>(kCategoryCount));
  EXPECT_NE(html.find("<td>conv</td><td>Conv2d</td>"), std::string::npos);
  EXPECT_NE(html.find("<td>fc</td><td>Linear</td>"), std::string::npos);
  size_t markers = 0;
  for (size_t at = html.find("class=\"point\""); at != std::string::npos; at = html.find("class=\"point\"", at + 1)) ++markers;
  EXPECT_EQ(markers, static_cast<size_t>(kStepPointCount) + 1);  // and one in the legend
  EXPECT_EQ(html.find("id=\"compression\""), std::string::npos);
}

TEST(HtmlReport, ShowsTheSavingsOfACompressedRun) {
  auto run = two_step_training_run();
  const Views views = views_of(run.stream);
  RunInfo info = small_run();
  info.compress = "2";
  info.modules[0].compress_k = 2;
  info.baseline_activation_bytes = 900;  // this run keeps 450: half
  info.baseline_peak_bytes = 2960;       // and peaks at 2664: 10% less
  const std::string html = html_report(info, views.analysis, views.timeline);
  ASSERT_NE(html.find("id=\"compression\""), std::string::npos);
  EXPECT_NE(html.find(">50.0%<"), std::string::npos);
  EXPECT_NE(html.find(">10.0%<"), std::string::npos);
  EXPECT_NE(html.find(">k applied<"), std::string::npos);  // the compression columns of layers.csv
}

TEST(HtmlReport, EscapesNamesFromTheTrace) {
  StreamBuilder stream;
  stream.phase(Phase::kForward, 1);
  stream.alloc(0x10, 100, "<script>alert(1)</script>");
  const Views views = views_of(stream);
  RunInfo info = small_run();
  info.model = "a&b";
  const std::string html = html_report(info, views.analysis, views.timeline);
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_NE(html.find("a&amp;b"), std::string::npos);
}

namespace fs = std::filesystem;

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

int run_trainmem(const std::string& args, const fs::path& log) {
  return std::system((std::string(TRAINMEM_BINARY) + " " + args + " >" + log.string() + " 2>&1").c_str());
}

// A real run: profile writes the views, and analyze of the saved run rewrites them byte for byte.
TEST(RunViews, ProfileWritesThemAndAnalyzeReproducesThem) {
  const fs::path dir = fs::temp_directory_path() / ("trainmem-views-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  ASSERT_EQ(run_trainmem("profile --model resnet18 --batch 2 --resolution 32 --steps 2 --timeline-points 300 --out " +
                             (dir / "live").string(),
                         dir.string() + ".log"),
            0)
      << read_file(dir.string() + ".log");
  ASSERT_EQ(run_trainmem("analyze " + (dir / "live").string() + " --timeline-points 300 --out " + (dir / "saved").string(),
                         dir.string() + ".log"),
            0)
      << read_file(dir.string() + ".log");
  for (const char* file : {"timeline.csv", "trace.json", "report.html"}) {
    const std::string live = read_file(dir / "live" / file);
    EXPECT_FALSE(live.empty()) << file;
    EXPECT_EQ(live, read_file(dir / "saved" / file)) << file;
  }
  const std::string csv = read_file(dir / "live" / "timeline.csv");
  const auto rows = std::count(csv.begin(), csv.end(), '\n') - 1;
  EXPECT_GT(rows, 100);
  EXPECT_LE(rows, 300);
  const nlohmann::json summary = nlohmann::json::parse(read_file(dir / "live" / "summary.json"));
  EXPECT_NE(csv.find("," + summary.at("peak_bytes").dump() + "\n"), std::string::npos) << "the peak row is missing";
  check_trace_structure(read_file(dir / "live" / "trace.json"));

  EXPECT_EQ(run_trainmem("analyze " + (dir / "live").string() + " --timeline-points 0", dir.string() + ".log") >> 8, 2);
  const std::string error = read_file(dir.string() + ".log");
  EXPECT_NE(error.find("--timeline-points"), std::string::npos) << error;
  EXPECT_EQ(std::count(error.begin(), error.end(), '\n'), 1) << error;
  fs::remove_all(dir);
  fs::remove(dir.string() + ".log");
}

}  // namespace
}  // namespace trainmem
