#include "cmd/run_outputs.h"

#include <fstream>

#include "reports/errors.h"
#include "reports/layers_csv.h"
#include "reports/output_dir.h"
#include "reports/run_files.h"
#include "reports/summary_json.h"

namespace trainmem::cli {

void write_analysis_files(const std::filesystem::path& dir, const RunInfo& info, const Analysis& analysis) {
  write_file_atomically(dir / "summary.json", summary_json(info, analysis).dump(2) + "\n");
  write_file_atomically(dir / "layers.csv", layers_csv(info, analysis));
}

void write_run_directory(const std::filesystem::path& dir, const RunInfo& info, const Recording& recording,
                         const Analysis& analysis) {
  write_run_json(dir / "run.json", info);
  {
    std::ofstream events(dir / "events.csv", std::ios::binary);
    write_events_csv(events, recording.events, recording.names);
    if (!events.flush()) throw OutputError("cannot write " + (dir / "events.csv").string());
  }
  write_analysis_files(dir, info, analysis);
}

}  // namespace trainmem::cli
