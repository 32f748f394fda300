#include "cmd/run_outputs.h"

#include "reports/chrome_trace.h"
#include "reports/html_report.h"
#include "reports/layers_csv.h"
#include "reports/output_dir.h"
#include "reports/run_files.h"
#include "reports/summary_json.h"
#include "reports/timeline_csv.h"

namespace trainmem::cli {

void add_view_options(CLI::App& command, ViewOptions& options) {
  command.add_option("--timeline-points", options.timeline_points,
                     "Most samples in timeline.csv, trace.json and report.html's chart (each keeps the peak of its "
                     "stretch of time)")
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000}))
      ->capture_default_str();
}

void add_events_csv_option(CLI::App& command, ViewOptions& options) {
  command.add_flag("!--no-events-csv", options.events_csv,
                   "Skip events.csv (events.bin holds the same events; `trainmem export` writes the CSV later)");
}

void write_analysis_files(const std::filesystem::path& dir, const RunInfo& info, const Analysis& analysis,
                          EventSource& events, const ViewOptions& views) {
  write_file_atomically(dir / "summary.json", summary_json(info, analysis).dump(2) + "\n");
  write_file_atomically(dir / "layers.csv", layers_csv(info, analysis));
  const int8_t device = trace_device(info);
  const Timeline timeline = build_timeline(
      events, {.max_points = views.timeline_points, .device = device, .last_step = analysis.last_step});
  write_file_atomically(dir / "timeline.csv", timeline_csv(timeline));
  write_file_atomically(dir / "trace.json", chrome_trace_json(info, timeline, events, device));
  write_file_atomically(dir / "report.html", html_report(info, analysis, timeline));
}

void write_run_directory(const std::filesystem::path& dir, const RunInfo& info, const Recording& recording,
                         const Analysis& analysis, const ViewOptions& views) {
  write_run_json(dir / "run.json", info);
  write_events_bin(dir / "events.bin", recording.events, recording.names);
  MemoryEventSource events(recording.events, recording.names);
  if (views.events_csv) write_events_csv_file(dir / "events.csv", events);
  write_analysis_files(dir, info, analysis, events, views);
}

std::string run_directory_listing(const std::string& dir, const ViewOptions& views) {
  return "wrote " + dir + "/{run.json,events.bin," + (views.events_csv ? "events.csv," : "") +
         "summary.json,layers.csv,timeline.csv,trace.json,report.html}";
}

}  // namespace trainmem::cli
