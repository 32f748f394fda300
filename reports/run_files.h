#pragma once
// The files of a saved run: run.json (settings and module table) and events.csv (the raw events), and an
// event source that replays events.csv, so that a saved run can be analysed exactly like a live one.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/event_source.h"
#include "analysis/run_info.h"
#include "tracer/event.h"

namespace trainmem {

// Throws OutputError.
// null, or the out-of-memory's phase, step, module, op and byte counts (run.json and summary.json).
nlohmann::ordered_json out_of_memory_json(const std::optional<OutOfMemoryInfo>& failure);
// The run's settings (model ... parameter_bytes), as run.json and summary.json both carry them.
void add_run_settings(nlohmann::ordered_json& json, const RunInfo& run);
void write_run_json(const std::filesystem::path& file, const RunInfo& run);
// Throws InputError when the file is missing, not JSON, or not a run description.
RunInfo read_run_json(const std::filesystem::path& file);

inline constexpr std::string_view kEventsCsvHeader = "seq,time_ns,kind,device,bytes,address,phase,step,module,op,tag";
// `names` resolves the module/op ids of `events`. Write errors are left in `out`'s state for the caller,
// who knows which file it is.
void write_events_csv(std::ostream& out, const std::vector<Event>& events, const std::vector<std::string>& names);

// Streams events.csv on every replay, so memory stays small however long the run was. Module/op names get
// ids in order of first appearance, the same on every replay. Throws InputError ("<file> line N: ...") on
// anything that is not a well-formed events.csv.
class CsvEventSource final : public EventSource {
 public:
  explicit CsvEventSource(std::filesystem::path file);  // checks that the file opens and has the header
  void replay(const std::function<void(const Event&)>& visit) override;
  const std::string& name(uint32_t id) const override { return names_.at(id); }

 private:
  // Lets the name table be searched with a string_view, so that reading a line allocates nothing.
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
  };
  uint32_t intern(std::string_view name);

  std::filesystem::path file_;
  std::vector<std::string> names_{""};  // id 0 is the empty name
  std::unordered_map<std::string, uint32_t, NameHash, std::equal_to<>> ids_;
};

}  // namespace trainmem
