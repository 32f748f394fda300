#include "reports/run_files.h"

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>
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

void write_events_csv(std::ostream& out, const std::vector<Event>& events, const std::vector<std::string>& names) {
  // Quoted once per name rather than once per event.
  std::vector<std::string> name_fields(names.size());
  for (size_t id = 0; id < names.size(); ++id) append_csv_field(name_fields[id], names[id]);

  constexpr size_t kFlushBytes = size_t{1} << 20;
  std::string buffer;
  buffer.reserve(kFlushBytes + 1024);
  buffer.append(kEventsCsvHeader) += '\n';
  for (const Event& e : events) {
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
    buffer.append(name_fields.at(e.module)) += ',';
    buffer.append(name_fields.at(e.op)) += ',';
    buffer.append(to_string(e.tag)) += '\n';
    if (buffer.size() >= kFlushBytes) {
      out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      buffer.clear();
    }
  }
  out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
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

}  // namespace trainmem
