#pragma once
// The files of a saved run: run.json (settings and module table), events.bin (the raw events, compact) and
// its CSV export events.csv, and event sources that replay either, so that a saved run can be analysed
// exactly like a live one.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <span>
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
// Replays `source` as CSV. Write errors are left in `out`'s state for the caller, who knows which file it is.
void write_events_csv(std::ostream& out, EventSource& source);
// The same into `file`, atomically (a temporary beside it, renamed at the end). Throws OutputError.
void write_events_csv_file(const std::filesystem::path& file, EventSource& source);

// events.bin (docs/formats.md): a header, the name table, then the events as raw 48-byte little-endian
// records. The names come first, so they must all be known before the first event is written.
inline constexpr std::string_view kEventsBinMagic = "TMEVENTS";
inline constexpr uint32_t kEventsBinVersion = 1;

// Writes events.bin as events come, into a temporary beside `file` that finish() renames into place (an
// unfinished writer removes it). Throws OutputError.
class EventsBinWriter {
 public:
  EventsBinWriter(std::filesystem::path file, const std::vector<std::string>& names);
  ~EventsBinWriter();
  EventsBinWriter(const EventsBinWriter&) = delete;
  EventsBinWriter& operator=(const EventsBinWriter&) = delete;

  void write(std::span<const Event> events);
  // Puts the event count into the header, syncs and renames the file into place.
  void finish();

 private:
  [[noreturn]] void fail(int error);

  std::filesystem::path file_;
  std::filesystem::path temporary_;
  std::FILE* stream_ = nullptr;
  uint64_t count_ = 0;
};

void write_events_bin(const std::filesystem::path& file, const std::vector<Event>& events,
                      const std::vector<std::string>& names);

// Streams events.bin on every replay through a fixed buffer: memory stays small however long the run was.
// The constructor reads the header and name table and checks the file's size against them; a replay checks
// every event's enums, device and name ids. Throws InputError ("<file>: ..." or "<file> event N: ...").
class BinaryEventSource final : public EventSource {
 public:
  explicit BinaryEventSource(std::filesystem::path file);
  void replay(const std::function<void(const Event&)>& visit) override;
  const std::string& name(uint32_t id) const override { return names_.at(id); }
  uint64_t event_count() const { return event_count_; }

 private:
  std::filesystem::path file_;
  std::vector<std::string> names_;
  uint64_t events_offset_ = 0;  // where the first event starts
  uint64_t event_count_ = 0;
};

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

// The events of a run directory: events.bin, or events.csv for runs saved before events.bin existed.
struct RunEvents {
  std::filesystem::path file;
  std::unique_ptr<EventSource> source;
  uint64_t event_count = 0;  // 0 when the file does not say (events.csv)
};
// Throws InputError when there is neither file, or the one there is unreadable.
RunEvents open_run_events(const std::filesystem::path& run_dir);

}  // namespace trainmem
