#include "reports/chrome_trace.h"

#include <iterator>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "analysis/module_slices.h"
#include "reports/run_files.h"

namespace trainmem {
namespace {

// Names come from the trace (module paths) and are not guaranteed to be valid UTF-8.
std::string json_string(std::string_view text) {
  return nlohmann::json(std::string(text)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The format's timestamps are microseconds; three decimals keep the nanoseconds exact.
std::string micros(int64_t ns) { return fmt::format("{}.{:03}", ns / 1000, ns % 1000); }

class TraceWriter {
 public:
  explicit TraceWriter(std::string& out) : out_(out) {}

  // Appends one event; `fields` is the rest of its JSON object, starting with a comma.
  template <class... Args>
  void event(fmt::format_string<Args...> fields, Args&&... args) {
    out_ += first_ ? "\n" : ",\n";
    first_ = false;
    out_ += "{\"pid\":1";
    fmt::format_to(std::back_inserter(out_), fields, std::forward<Args>(args)...);
    out_ += '}';
  }

 private:
  std::string& out_;
  bool first_ = true;
};

void write_track_names(TraceWriter& trace, const RunInfo& run) {
  trace.event(R"(,"tid":0,"ph":"M","name":"process_name","args":{{"name":{}}})",
              json_string(fmt::format("trainmem {} batch {}", run.model, run.batch)));
  for (auto [tid, name] : {std::pair{kTracePhasesTid, "phases"}, {kTraceModulesTid, "modules"}, {kTracePointsTid, "five points"}}) {
    trace.event(R"(,"tid":{},"ph":"M","name":"thread_name","args":{{"name":"{}"}})", tid, name);
  }
}

void write_counters(TraceWriter& trace, const Timeline& timeline) {
  for (const TimelineSample& sample : timeline.samples) {
    std::string args;
    for (int i = 0; i < kCategoryCount; ++i) {
      fmt::format_to(std::back_inserter(args), "{}\"{}\":{}", i ? "," : "", to_string(static_cast<Category>(i)),
                     sample.categories[i]);
    }
    trace.event(R"(,"tid":0,"ph":"C","cat":"memory","name":"live bytes","ts":{},"args":{{{}}})", micros(sample.time_ns), args);
    trace.event(R"(,"tid":0,"ph":"C","cat":"memory","name":"live total","ts":{},"args":{{"bytes":{}}})",
                micros(sample.time_ns), sample.total);
  }
}

void write_phases(TraceWriter& trace, const Timeline& timeline) {
  for (const PhaseSpan& span : timeline.phases) {
    trace.event(R"(,"tid":{},"ph":"X","cat":"phase","name":"{}","ts":{},"dur":{},"args":{{"step":{}}})", kTracePhasesTid,
                to_string(span.phase), micros(span.start_ns), micros(span.end_ns - span.start_ns), span.step);
  }
}

void write_points(TraceWriter& trace, const Timeline& timeline) {
  for (int i = 0; i < kStepPointCount; ++i) {
    const std::optional<PointMoment>& moment = timeline.points[i];
    if (!moment) continue;
    trace.event(R"(,"tid":{},"ph":"i","s":"t","cat":"point","name":"{}","ts":{},"args":{{"bytes":{},"seq":{}}})",
                kTracePointsTid, to_string(static_cast<StepPoint>(i)), micros(moment->time_ns), moment->bytes, moment->seq);
  }
}

}  // namespace

std::string chrome_trace_json(const RunInfo& run, const Timeline& timeline, EventSource& events, int8_t device) {
  nlohmann::ordered_json settings = nlohmann::ordered_json::object();
  add_run_settings(settings, run);
  std::string out = R"({"displayTimeUnit":"ms","otherData":)" + settings.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + R"(,"traceEvents":[)";
  TraceWriter trace(out);
  write_track_names(trace, run);
  write_phases(trace, timeline);
  write_counters(trace, timeline);
  write_points(trace, timeline);
  replay_module_slices(events, device, [&](const ModuleSliceEdge& edge) {
    if (edge.begin) {
      trace.event(R"(,"tid":{},"ph":"B","cat":"module","name":{},"ts":{},"args":{{"phase":"{}","step":{}}})", kTraceModulesTid,
                  json_string(edge.module), micros(edge.time_ns), to_string(edge.phase), edge.step);
    } else {
      trace.event(R"(,"tid":{},"ph":"E","cat":"module","name":{},"ts":{})", kTraceModulesTid, json_string(edge.module),
                  micros(edge.time_ns));
    }
  });
  out += "\n]}\n";
  return out;
}

}  // namespace trainmem
