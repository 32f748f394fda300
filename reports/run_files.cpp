#include "reports/run_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "reports/csv.h"
#include "reports/cuda_run_json.h"
#include "reports/errors.h"
#include "reports/output_dir.h"

namespace trainmem {
namespace {

constexpr std::string_view kRunFormat = "trainmem-run";
constexpr int kRunVersion = 1;

// `text` made safe to quote in a one-line message: non-printable bytes become '?', long text is cut.
std::string printable(std::string_view text, size_t max_length = 60) {
  std::string out;
  for (char c : text.substr(0, max_length)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (text.size() > max_length) out += "...";
  return out;
}

std::string open_error(const std::filesystem::path& file, int error) {
  return fmt::format("{}: cannot open: {}", file.string(), std::generic_category().message(error));
}

// ---- run.json ----

// Looks up run.json fields, turning a missing key or a wrong type into a one-line InputError.
class JsonFields {
 public:
  explicit JsonFields(const std::filesystem::path& file) : file_(file) {}

  template <class T>
  T get(const nlohmann::json& object, const char* key) const {
    auto it = object.find(key);
    if (it == object.end()) fail(fmt::format("missing \"{}\"", key));
    try {
      return it->template get<T>();
    } catch (const nlohmann::json::exception&) {
      fail(fmt::format("\"{}\" has the wrong type", key));
    }
  }

  [[noreturn]] void fail(std::string_view problem) const {
    throw InputError(fmt::format("{}: {}", file_.string(), problem));
  }

 private:
  const std::filesystem::path& file_;
};

nlohmann::ordered_json module_json(const ModuleInfo& module) {
  return {{"name", module.name},
          {"type", module.type},
          {"weight_bytes", module.weight_bytes},
          {"input_shape", module.input_shape},
          {"input_bytes", module.input_bytes},
          {"compress_k", module.compress_k}};
}

// ---- events.csv ----

constexpr size_t kEventsCsvFields = 11;

// Reads a file line by line through one large buffer: no allocation per line. A line stays valid until
// the next call to next().
class LineReader {
 public:
  explicit LineReader(const std::filesystem::path& file)
      : file_name_(file.string()), file_(std::fopen(file.c_str(), "rb")), buffer_(kBufferBytes) {
    if (!file_) throw InputError(open_error(file, errno));
  }

  // False at the end of the file. The line excludes its line break.
  bool next(std::string_view& line) {
    ++line_number_;  // at the end, the number of the line that is missing
    for (;;) {
      const char* start = buffer_.data() + begin_;
      if (auto* newline = static_cast<const char*>(std::memchr(start, '\n', end_ - begin_))) {
        take(line, start, static_cast<size_t>(newline - start), 1);
        return true;
      }
      if (at_eof_) {
        if (begin_ == end_) return false;
        take(line, start, end_ - begin_, 0);  // a last line without a line break
        return true;
      }
      refill();
    }
  }

  uint64_t line_number() const { return line_number_; }

  [[noreturn]] void fail(std::string_view problem) const {
    throw InputError(fmt::format("{} line {}: {}", file_name_, line_number_, problem));
  }

 private:
  static constexpr size_t kBufferBytes = size_t{1} << 20;  // also the longest line accepted

  void take(std::string_view& line, const char* start, size_t length, size_t terminator) {
    begin_ += length + terminator;
    if (length > 0 && start[length - 1] == '\r') --length;  // tolerate CRLF files
    line = {start, length};
  }

  void refill() {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    if (end_ == buffer_.size()) fail("line longer than 1 MiB");
    size_t n = std::fread(buffer_.data() + end_, 1, buffer_.size() - end_, file_.get());
    if (n == 0 && std::ferror(file_.get())) {
      throw InputError(fmt::format("{}: read error: {}", file_name_, std::generic_category().message(errno)));
    }
    at_eof_ = n == 0;
    end_ += n;
  }

  struct FileCloser {
    void operator()(std::FILE* file) const { std::fclose(file); }
  };
  std::string file_name_;
  std::unique_ptr<std::FILE, FileCloser> file_;
  std::vector<char> buffer_;
  size_t begin_ = 0;  // unread bytes are buffer_[begin_, end_)
  size_t end_ = 0;
  bool at_eof_ = false;
  uint64_t line_number_ = 0;
};

// Opens events.csv and reads its header; the reader is left at the first event.
LineReader open_events_csv(const std::filesystem::path& file) {
  LineReader reader(file);
  std::string_view header;
  if (!reader.next(header)) reader.fail("empty file, expected the events.csv header");
  if (header != kEventsCsvHeader) reader.fail(fmt::format("expected the header \"{}\"", kEventsCsvHeader));
  return reader;
}

// Splits a CSV line into `fields`; quoted fields are unquoted into `unquoted` (one string per field, reused
// from line to line). Returns the number of fields, or fails through `reader`.
size_t split_csv_line(std::string_view line, std::array<std::string_view, kEventsCsvFields>& fields,
                      std::array<std::string, kEventsCsvFields>& unquoted, const LineReader& reader) {
  size_t count = 0;
  size_t pos = 0;
  for (;;) {
    if (count == kEventsCsvFields) reader.fail(fmt::format("more than {} fields", kEventsCsvFields));
    if (pos < line.size() && line[pos] == '"') {
      std::string& field = unquoted[count];
      field.clear();
      for (++pos;; pos += 2) {  // each round ends on a quote: the closing one, or the first of a doubled pair
        size_t quote = line.find('"', pos);
        if (quote == std::string_view::npos) reader.fail("unterminated quoted field");
        field.append(line.substr(pos, quote - pos));
        pos = quote;
        if (quote + 1 >= line.size() || line[quote + 1] != '"') break;
        field += '"';
      }
      ++pos;  // past the closing quote
      if (pos < line.size() && line[pos] != ',') reader.fail("text after a closing quote");
      fields[count++] = field;
    } else {
      size_t comma = std::min(line.find(',', pos), line.size());
      fields[count++] = line.substr(pos, comma - pos);
      pos = comma;
    }
    if (pos >= line.size()) return count;
    ++pos;  // past the comma
  }
}

template <class Number>
Number parse_number(std::string_view text, const char* column, const LineReader& reader, int base = 10) {
  Number value{};
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    reader.fail(fmt::format("{} is not a valid number: \"{}\"", column, printable(text)));
  }
  return value;
}

template <class Enum>
Enum parse_name(std::string_view text, const char* column, const LineReader& reader) {
  Enum value{};
  if (!parse(text, value)) reader.fail(fmt::format("unknown {} \"{}\"", column, printable(text)));
  return value;
}

constexpr std::string_view kCudaPrefix = "cuda:";
constexpr int kMaxCudaDevice = 127;

int8_t parse_device(std::string_view text, const LineReader& reader) {
  if (text == "cpu") return kCpuDevice;
  if (text.starts_with(kCudaPrefix)) {
    int index = parse_number<int>(text.substr(kCudaPrefix.size()), "device", reader);
    if (index >= 0 && index <= kMaxCudaDevice) return static_cast<int8_t>(index);
  }
  reader.fail(fmt::format("unknown device \"{}\"", printable(text)));
}

uint64_t parse_address(std::string_view text, const LineReader& reader) {
  if (!text.starts_with("0x")) reader.fail(fmt::format("address is not 0x-prefixed hex: \"{}\"", printable(text)));
  return parse_number<uint64_t>(text.substr(2), "address", reader, 16);
}

// ---- writing files ----

// A temporary name beside `file` (same directory, so the final rename is atomic).
std::filesystem::path temporary_beside(const std::filesystem::path& file) {
  return file.parent_path() / fmt::format("{}.tmp-{}", file.filename().string(), getpid());
}

std::string write_error(const std::filesystem::path& file, int error) {
  return fmt::format("cannot write file {}: {}", file.string(), std::generic_category().message(error));
}

// Makes the content of `temporary`, written through a stream, durable before it is renamed to `file`.
void sync_file(const std::filesystem::path& temporary, const std::filesystem::path& file) {
  const int fd = ::open(temporary.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    const int error = errno;
    if (fd >= 0) ::close(fd);
    throw OutputError(write_error(file, error));
  }
  ::close(fd);
}

// ---- events.bin ----

// The file stores Event as it is in memory: these checks keep the documented layout (docs/formats.md) and
// the struct in step. A change to Event needs a new kEventsBinVersion.
static_assert(std::endian::native == std::endian::little, "events.bin is little-endian");
static_assert(offsetof(Event, seq) == 0 && offsetof(Event, time_ns) == 8 && offsetof(Event, bytes) == 16 &&
              offsetof(Event, address) == 24 && offsetof(Event, module) == 32 && offsetof(Event, op) == 36 &&
              offsetof(Event, step) == 40 && offsetof(Event, phase) == 44 && offsetof(Event, kind) == 45 &&
              offsetof(Event, device) == 46 && offsetof(Event, tag) == 47 && sizeof(Event) == 48);

// magic[8], version u32, event size u32, event count u64, name count u32, name table bytes u32.
constexpr size_t kEventsBinHeaderBytes = 32;
constexpr long kEventCountOffset = 16;

template <class T>
void store(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

template <class T>
T load(const char* bytes) {
  T value;
  std::memcpy(&value, bytes, sizeof value);
  return value;
}

std::string events_bin_header(uint64_t event_count, const std::vector<std::string>& names) {
  std::string table;
  for (const std::string& name : names) {
    store(table, static_cast<uint32_t>(name.size()));
    table += name;
  }
  if (table.size() > std::numeric_limits<uint32_t>::max()) throw std::length_error("events.bin: name table over 4 GiB");
  std::string header(kEventsBinMagic);
  store(header, kEventsBinVersion);
  store(header, static_cast<uint32_t>(sizeof(Event)));
  store(header, event_count);
  store(header, static_cast<uint32_t>(names.size()));
  store(header, static_cast<uint32_t>(table.size()));
  return header + table;
}

// The values of an event enum that have a name, probed once through to_string and parse, so that kinds
// added to tracer/event.h are accepted here without a change.
template <class Enum>
class KnownValues {
 public:
  KnownValues() {
    for (size_t value = 0; value < known_.size(); ++value) {
      try {
        Enum parsed{};
        known_[value] = parse(to_string(static_cast<Enum>(value)), parsed) && parsed == static_cast<Enum>(value);
      } catch (const std::out_of_range&) {
      }
    }
  }
  bool contains(Enum value) const { return known_[static_cast<uint8_t>(value)]; }

 private:
  std::array<bool, 256> known_{};
};

// Reads a binary file; every failure, a short read included, is a one-line InputError naming it.
class BinaryFile {
 public:
  explicit BinaryFile(const std::filesystem::path& file)
      : name_(file.string()), file_(std::fopen(file.c_str(), "rb")) {
    if (!file_) throw InputError(open_error(file, errno));
  }

  uint64_t size() const {
    std::error_code error;
    const uint64_t size = std::filesystem::file_size(name_, error);
    if (error) fail(error.message());
    return size;
  }

  void seek(uint64_t offset) {
    if (::fseeko(file_.get(), static_cast<off_t>(offset), SEEK_SET) != 0) fail(std::generic_category().message(errno));
  }

  void read(void* out, size_t bytes) {
    if (std::fread(out, 1, bytes, file_.get()) == bytes) return;
    if (std::ferror(file_.get())) fail(fmt::format("read error: {}", std::generic_category().message(errno)));
    fail("truncated: the file ended early");
  }

  [[noreturn]] void fail(std::string_view problem) const {
    throw InputError(fmt::format("{}: {}", name_, problem));
  }

 private:
  struct FileCloser {
    void operator()(std::FILE* file) const { std::fclose(file); }
  };
  std::string name_;
  std::unique_ptr<std::FILE, FileCloser> file_;
};

// Appends `value` in plain digits: the writer's inner loop, kept free of format-string parsing.
template <class Number>
std::string& append_number(std::string& out, Number value, int base = 10) {
  char digits[24];
  auto [end, error] = std::to_chars(digits, digits + sizeof digits, value, base);
  return out.append(digits, end);
}

}  // namespace

nlohmann::ordered_json out_of_memory_json(const std::optional<OutOfMemoryInfo>& failure) {
  if (!failure) return nullptr;
  return {{"phase", failure->phase},
          {"step", failure->step},
          {"module", failure->module},
          {"op", failure->op},
          {"requested_bytes", failure->requested_bytes},
          {"live_bytes", failure->live_bytes},
          {"limit_bytes", failure->limit_bytes}};
}

void add_run_settings(nlohmann::ordered_json& json, const RunInfo& run) {
  json.update(nlohmann::ordered_json{{"model", run.model},
                                     {"batch", run.batch},
                                     {"resolution", run.resolution},
                                     {"steps", run.steps},
                                     {"optimizer", run.optimizer},
                                     {"seed", run.seed},
                                     {"threads", run.threads},
                                     {"device", run.device},
                                     {"parameter_count", run.parameter_count},
                                     {"parameter_bytes", run.parameter_bytes}});
}

void write_run_json(const std::filesystem::path& file, const RunInfo& run) {
  nlohmann::ordered_json modules = nlohmann::ordered_json::array();
  for (const ModuleInfo& module : run.modules) modules.push_back(module_json(module));
  nlohmann::ordered_json json = {{"format", kRunFormat}, {"version", kRunVersion}};
  add_run_settings(json, run);
  json.update(nlohmann::ordered_json{{"compress", run.compress},
                                         {"compress_mode", run.compress_mode},
                                         {"baseline_activation_bytes", run.baseline_activation_bytes},
                                         {"baseline_peak_bytes", run.baseline_peak_bytes},
                                         {"budget_bytes", run.budget_bytes},
                                         {"out_of_memory", out_of_memory_json(run.out_of_memory)},
                                         {"cuda", cuda_run_json(run.cuda)},
                                         {"modules", std::move(modules)}});
  write_file_atomically(file, json.dump(2) + "\n");
}

RunInfo read_run_json(const std::filesystem::path& file) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> stream(std::fopen(file.c_str(), "rb"), &std::fclose);
  if (!stream) throw InputError(open_error(file, errno));
  const JsonFields fields(file);
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(stream.get());
  } catch (const nlohmann::json::exception& e) {
    // nlohmann prefixes "[json.exception.parse_error.101] "; the rest says what and where.
    std::string_view what = e.what();
    fields.fail(printable(what.substr(what.find(']') + 2), 200));
  }
  if (fields.get<std::string>(json, "format") != kRunFormat) fields.fail("not a trainmem run description");
  if (fields.get<int>(json, "version") != kRunVersion) fields.fail("unsupported version");

  RunInfo run;
  run.model = fields.get<std::string>(json, "model");
  run.batch = fields.get<int64_t>(json, "batch");
  run.resolution = fields.get<int64_t>(json, "resolution");
  run.steps = fields.get<int64_t>(json, "steps");
  run.optimizer = fields.get<std::string>(json, "optimizer");
  run.seed = fields.get<uint64_t>(json, "seed");
  run.threads = fields.get<int>(json, "threads");
  run.device = fields.get<std::string>(json, "device");
  run.parameter_count = fields.get<int64_t>(json, "parameter_count");
  run.parameter_bytes = fields.get<int64_t>(json, "parameter_bytes");
  run.compress = fields.get<std::string>(json, "compress");
  run.compress_mode = fields.get<std::string>(json, "compress_mode");
  run.baseline_activation_bytes = fields.get<int64_t>(json, "baseline_activation_bytes");
  run.baseline_peak_bytes = fields.get<int64_t>(json, "baseline_peak_bytes");
  run.budget_bytes = fields.get<int64_t>(json, "budget_bytes");
  if (const nlohmann::json failure = fields.get<nlohmann::json>(json, "out_of_memory"); !failure.is_null()) {
    run.out_of_memory = OutOfMemoryInfo{.phase = fields.get<std::string>(failure, "phase"),
                                        .step = fields.get<uint32_t>(failure, "step"),
                                        .module = fields.get<std::string>(failure, "module"),
                                        .op = fields.get<std::string>(failure, "op"),
                                        .requested_bytes = fields.get<int64_t>(failure, "requested_bytes"),
                                        .live_bytes = fields.get<int64_t>(failure, "live_bytes"),
                                        .limit_bytes = fields.get<int64_t>(failure, "limit_bytes")};
  }
  run.cuda = read_cuda_run_json(json, file.string());
  for (const nlohmann::json& module : fields.get<std::vector<nlohmann::json>>(json, "modules")) {
    run.modules.push_back({.name = fields.get<std::string>(module, "name"),
                           .type = fields.get<std::string>(module, "type"),
                           .weight_bytes = fields.get<int64_t>(module, "weight_bytes"),
                           .input_shape = fields.get<std::vector<int64_t>>(module, "input_shape"),
                           .input_bytes = fields.get<int64_t>(module, "input_bytes"),
                           .compress_k = fields.get<int64_t>(module, "compress_k")});
  }
  return run;
}

void write_events_csv(std::ostream& out, EventSource& source) {
  // Quoted once per name rather than once per event, as ids first appear.
  std::vector<std::string> name_fields;
  std::vector<bool> quoted;
  const auto name_field = [&](uint32_t id) -> const std::string& {
    if (id >= quoted.size()) {
      name_fields.resize(id + 1);
      quoted.resize(id + 1);
    }
    if (!quoted[id]) append_csv_field(name_fields[id], source.name(id));
    quoted[id] = true;
    return name_fields[id];
  };

  constexpr size_t kFlushBytes = size_t{1} << 20;
  std::string buffer;
  buffer.reserve(kFlushBytes + 1024);
  buffer.append(kEventsCsvHeader) += '\n';
  source.replay([&](const Event& e) {
    append_number(buffer, e.seq) += ',';
    append_number(buffer, e.time_ns) += ',';
    buffer.append(to_string(e.kind)) += ',';
    if (e.device == kCpuDevice) {
      buffer += "cpu,";
    } else {
      append_number(buffer.append(kCudaPrefix), e.device) += ',';
    }
    append_number(buffer, e.bytes) += ",0x";
    append_number(buffer, e.address, 16) += ',';
    buffer.append(to_string(e.phase)) += ',';
    append_number(buffer, e.step) += ',';
    buffer.append(name_field(e.module)) += ',';
    buffer.append(name_field(e.op)) += ',';
    buffer.append(to_string(e.tag)) += '\n';
    if (buffer.size() >= kFlushBytes) {
      out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      buffer.clear();
    }
  });
  out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
}

void write_events_csv_file(const std::filesystem::path& file, EventSource& source) {
  const std::filesystem::path temporary = temporary_beside(file);
  try {
    {
      std::ofstream out(temporary, std::ios::binary);
      if (!out) throw OutputError(write_error(file, errno));
      write_events_csv(out, source);
      if (!out.flush()) throw OutputError(write_error(file, errno));
    }
    sync_file(temporary, file);
    if (::rename(temporary.c_str(), file.c_str()) != 0) throw OutputError(write_error(file, errno));
  } catch (...) {
    ::unlink(temporary.c_str());
    throw;
  }
}

// ---- events.bin ----

EventsBinWriter::EventsBinWriter(std::filesystem::path file, const std::vector<std::string>& names)
    : file_(std::move(file)), temporary_(temporary_beside(file_)) {
  if (names.empty() || !names.front().empty()) throw std::logic_error("events.bin: name 0 must be the empty name");
  const std::string header = events_bin_header(0, names);
  stream_ = std::fopen(temporary_.c_str(), "wb");
  if (!stream_) throw OutputError(write_error(file_, errno));
  std::setvbuf(stream_, nullptr, _IOFBF, size_t{1} << 20);
  if (std::fwrite(header.data(), 1, header.size(), stream_) != header.size()) fail(errno);
}

EventsBinWriter::~EventsBinWriter() {
  if (!stream_) return;  // finished, or failed and cleaned up
  std::fclose(stream_);
  ::unlink(temporary_.c_str());
}

void EventsBinWriter::write(std::span<const Event> events) {
  if (std::fwrite(events.data(), sizeof(Event), events.size(), stream_) != events.size()) fail(errno);
  count_ += events.size();
}

void EventsBinWriter::finish() {
  const uint64_t count = count_;
  if (std::fseek(stream_, kEventCountOffset, SEEK_SET) != 0 || std::fwrite(&count, sizeof count, 1, stream_) != 1 ||
      std::fflush(stream_) != 0 || ::fsync(::fileno(stream_)) != 0) {
    fail(errno);
  }
  const int closed = std::fclose(stream_);
  stream_ = nullptr;
  if (closed != 0 || ::rename(temporary_.c_str(), file_.c_str()) != 0) {
    const int error = errno;
    ::unlink(temporary_.c_str());
    throw OutputError(write_error(file_, error));
  }
}

void EventsBinWriter::fail(int error) {
  std::fclose(stream_);
  stream_ = nullptr;
  ::unlink(temporary_.c_str());
  throw OutputError(write_error(file_, error));
}

void write_events_bin(const std::filesystem::path& file, const std::vector<Event>& events,
                      const std::vector<std::string>& names) {
  EventsBinWriter writer(file, names);
  writer.write(events);
  writer.finish();
}

BinaryEventSource::BinaryEventSource(std::filesystem::path file) : file_(std::move(file)) {
  BinaryFile in(file_);
  const uint64_t size = in.size();
  std::array<char, kEventsBinHeaderBytes> header;
  if (size < header.size()) in.fail(fmt::format("truncated: {} bytes, shorter than the header", size));
  in.read(header.data(), header.size());
  if (std::string_view(header.data(), kEventsBinMagic.size()) != kEventsBinMagic) {
    in.fail("not a trainmem events.bin file (bad magic)");
  }
  const auto version = load<uint32_t>(header.data() + 8);
  const auto event_size = load<uint32_t>(header.data() + 12);
  event_count_ = load<uint64_t>(header.data() + kEventCountOffset);
  const auto name_count = load<uint32_t>(header.data() + 24);
  const auto name_table_bytes = load<uint32_t>(header.data() + 28);
  if (version != kEventsBinVersion) in.fail(fmt::format("unsupported version {}", version));
  if (event_size != sizeof(Event)) in.fail(fmt::format("event size {}, expected {}", event_size, sizeof(Event)));

  events_offset_ = header.size() + uint64_t{name_table_bytes};
  const uint64_t event_bytes_held = size >= events_offset_ ? size - events_offset_ : 0;
  if (size < events_offset_ || event_count_ > event_bytes_held / sizeof(Event)) {
    in.fail(fmt::format("truncated: the header promises {} events and {} bytes of names, the file has {} bytes",
                        event_count_, name_table_bytes, size));
  }
  if (event_bytes_held != event_count_ * sizeof(Event)) {
    in.fail(fmt::format("{} bytes after the {} events the header promises", event_bytes_held - event_count_ * sizeof(Event),
                        event_count_));
  }

  std::string table(name_table_bytes, '\0');
  in.read(table.data(), table.size());
  std::string_view rest = table;
  for (uint32_t id = 0; id < name_count; ++id) {
    if (rest.size() < sizeof(uint32_t)) in.fail(fmt::format("name table ends inside name {}", id));
    const auto length = load<uint32_t>(rest.data());
    rest.remove_prefix(sizeof(uint32_t));
    if (length > rest.size()) in.fail(fmt::format("name table ends inside name {}", id));
    names_.emplace_back(rest.substr(0, length));
    rest.remove_prefix(length);
  }
  if (!rest.empty()) in.fail(fmt::format("{} bytes after the {} names of the name table", rest.size(), name_count));
  if (names_.empty() || !names_.front().empty()) in.fail("name 0 must be the empty name");
}

void BinaryEventSource::replay(const std::function<void(const Event&)>& visit) {
  static const KnownValues<EventKind> kinds;
  static const KnownValues<Phase> phases;
  static const KnownValues<Tag> tags;
  BinaryFile in(file_);
  in.seek(events_offset_);
  constexpr size_t kBufferEvents = size_t{1} << 15;  // 1.5 MiB
  std::vector<Event> buffer(kBufferEvents);
  const auto names = static_cast<uint64_t>(names_.size());
  for (uint64_t index = 0; index < event_count_;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kBufferEvents, event_count_ - index));
    in.read(buffer.data(), n * sizeof(Event));
    for (size_t i = 0; i < n; ++i, ++index) {
      const Event& e = buffer[i];
      const auto bad = [&](std::string_view what, int64_t value) {
        in.fail(fmt::format("event {}: {} {}", index, what, value));
      };
      if (!kinds.contains(e.kind)) bad("unknown kind", static_cast<int>(e.kind));
      if (!phases.contains(e.phase)) bad("unknown phase", static_cast<int>(e.phase));
      if (!tags.contains(e.tag)) bad("unknown tag", static_cast<int>(e.tag));
      if (e.device < kCpuDevice) bad("unknown device", e.device);
      if (e.module >= names) bad("module id out of the name table:", e.module);
      if (e.op >= names) bad("op id out of the name table:", e.op);
      visit(e);
    }
  }
}

CsvEventSource::CsvEventSource(std::filesystem::path file) : file_(std::move(file)) { open_events_csv(file_); }

void CsvEventSource::replay(const std::function<void(const Event&)>& visit) {
  LineReader reader = open_events_csv(file_);
  std::array<std::string_view, kEventsCsvFields> fields;
  std::array<std::string, kEventsCsvFields> unquoted;
  std::string_view line;
  while (reader.next(line)) {
    size_t count = split_csv_line(line, fields, unquoted, reader);
    if (count != kEventsCsvFields) reader.fail(fmt::format("expected {} fields, found {}", kEventsCsvFields, count));
    Event e{};
    e.seq = parse_number<uint64_t>(fields[0], "seq", reader);
    e.time_ns = parse_number<int64_t>(fields[1], "time_ns", reader);
    e.kind = parse_name<EventKind>(fields[2], "kind", reader);
    e.device = parse_device(fields[3], reader);
    e.bytes = parse_number<int64_t>(fields[4], "bytes", reader);
    e.address = parse_address(fields[5], reader);
    e.phase = parse_name<Phase>(fields[6], "phase", reader);
    e.step = parse_number<uint32_t>(fields[7], "step", reader);
    e.module = intern(fields[8]);
    e.op = intern(fields[9]);
    e.tag = parse_name<Tag>(fields[10], "tag", reader);
    visit(e);
  }
}

uint32_t CsvEventSource::intern(std::string_view name) {
  if (name.empty()) return 0;
  if (auto it = ids_.find(name); it != ids_.end()) return it->second;
  auto id = static_cast<uint32_t>(names_.size());
  names_.emplace_back(name);
  ids_.emplace(names_.back(), id);
  return id;
}

RunEvents open_run_events(const std::filesystem::path& run_dir) {
  RunEvents events;
  if (const auto file = run_dir / "events.bin"; std::filesystem::is_regular_file(file)) {
    auto source = std::make_unique<BinaryEventSource>(file);
    events.event_count = source->event_count();
    events.source = std::move(source);
    events.file = file;
  } else if (const auto csv = run_dir / "events.csv"; std::filesystem::is_regular_file(csv)) {
    events.source = std::make_unique<CsvEventSource>(csv);
    events.file = csv;
  } else {
    throw InputError(fmt::format("missing {} (and no events.csv)", file.string()));
  }
  return events;
}

}  // namespace trainmem
