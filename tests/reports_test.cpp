// The files of a run: a saved run must analyse exactly like the live one, corrupt input must fail with a
// one-line message, and output directories must appear whole or not at all.
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "analysis/analysis.h"
#include "reports/errors.h"
#include "reports/layers_csv.h"
#include "reports/output_dir.h"
#include "reports/replay_progress.h"
#include "reports/run_files.h"
#include "reports/summary_json.h"
#include "reports/terminal_report.h"
#include "reports/units.h"
#include "tests/synthetic_stream.h"

namespace trainmem {
namespace {

namespace fs = std::filesystem;
using synthetic::StreamBuilder;
using synthetic::two_step_training_run;

RunInfo tiny_run_info() {
  RunInfo run;
  run.model = "tiny";
  run.batch = 2;
  run.resolution = 8;
  run.steps = 2;
  run.optimizer = "sgd";
  run.seed = 42;
  run.threads = 1;
  run.parameter_count = 150;
  run.parameter_bytes = 600;
  run.modules = {{"conv", "Conv2d", 400, {2, 3, 8, 8}, 1536},
                 {"bn", "BatchNorm2d", 0, {2, 4, 8, 8}, 2048},
                 {"relu", "ReLU", 0, {2, 4, 8, 8}, 2048},
                 {"fc", "Linear", 200, {2, 256}, 2048}};
  return run;
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_text(const fs::path& file, std::string_view text) {
  std::ofstream(file, std::ios::binary) << text;
}

// Each test gets a fresh directory of its own.
class RunFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("trainmem-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write_events(StreamBuilder& stream) {
    fs::path file = dir_ / "events.csv";
    std::ofstream out(file, std::ios::binary);
    MemoryEventSource source(stream.events(), stream.names());
    write_events_csv(out, source);
    return file;
  }

  // Expects reading `file` with `read` to fail with a one-line InputError naming the file and `detail`.
  template <class Read>
  void expect_input_error(const fs::path& file, Read&& read, std::string_view detail) {
    try {
      read(file);
      ADD_FAILURE() << "no InputError for " << file;
    } catch (const InputError& e) {
      std::string message = e.what();
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
      EXPECT_NE(message.find(file.string()), std::string::npos) << message;
      EXPECT_NE(message.find(detail), std::string::npos) << message;
    }
  }

  fs::path dir_;
};

Analysis analyze_csv(const fs::path& file) {
  CsvEventSource source(file);
  return analyze(source);
}

void replay_csv(const fs::path& file) {
  CsvEventSource source(file);
  source.replay([](const Event&) {});
}

TEST_F(RunFilesTest, EventsCsvRoundTripGivesTheSameAnalysisAndSummary) {
  auto run = two_step_training_run();
  MemoryEventSource live(run.stream.events(), run.stream.names());
  Analysis expected = analyze(live);
  Analysis saved = analyze_csv(write_events(run.stream));
  EXPECT_EQ(saved, expected);
  EXPECT_EQ(summary_json(tiny_run_info(), saved).dump(2), summary_json(tiny_run_info(), expected).dump(2));
}

TEST_F(RunFilesTest, EventsCsvKeepsEveryField) {
  StreamBuilder s;
  s.phase(Phase::kForward, 7);
  s.alloc(0xdeadbeef, 4096, "layer1.0,\"odd\" name", "aten::conv2d", 3);
  s.tag(0xdeadbeef, Tag::kGradient, 3);
  s.events().back().time_ns = -5;  // a thread that stamped before the session's clock started
  CsvEventSource source(write_events(s));
  std::vector<Event> read;
  source.replay([&](const Event& e) { read.push_back(e); });
  ASSERT_EQ(read.size(), s.events().size());
  for (size_t i = 0; i < read.size(); ++i) {
    const Event& a = read[i];
    const Event& b = s.events()[i];
    EXPECT_EQ(a.seq, b.seq);
    EXPECT_EQ(a.time_ns, b.time_ns);
    EXPECT_EQ(a.bytes, b.bytes);
    EXPECT_EQ(a.address, b.address);
    EXPECT_EQ(source.name(a.module), s.names()[b.module]);
    EXPECT_EQ(source.name(a.op), s.names()[b.op]);
    EXPECT_EQ(a.step, b.step);
    EXPECT_EQ(a.phase, b.phase);
    EXPECT_EQ(a.kind, b.kind);
    EXPECT_EQ(a.device, b.device);
    EXPECT_EQ(a.tag, b.tag);
  }
}

TEST_F(RunFilesTest, EventsCsvHasTheDocumentedLayout) {
  StreamBuilder s;
  s.phase(Phase::kInit, 0);
  s.alloc(0x1f, 64, "conv", "aten::empty", 1);
  std::ostringstream out;
  MemoryEventSource source(s.events(), s.names());
  write_events_csv(out, source);
  EXPECT_EQ(out.str(),
            "seq,time_ns,kind,device,bytes,address,phase,step,module,op,tag\n"
            "0,0,phase,cpu,0,0x0,init,0,,,\n"
            "1,1000000,alloc,cuda:1,64,0x1f,init,0,conv,aten::empty,\n");
}

Analysis analyze_bin(const fs::path& file) {
  BinaryEventSource source(file);
  return analyze(source);
}

void replay_bin(const fs::path& file) {
  BinaryEventSource source(file);
  source.replay([](const Event&) {});
}

TEST_F(RunFilesTest, EventsBinRoundTripKeepsEveryByteAndTheAnalysis) {
  auto run = two_step_training_run();
  run.stream.events()[3].time_ns = -5;  // a thread that stamped before the session's clock started
  write_events_bin(dir_ / "events.bin", run.stream.events(), run.stream.names());
  BinaryEventSource source(dir_ / "events.bin");
  EXPECT_EQ(source.event_count(), run.stream.events().size());
  std::vector<Event> read;
  for (int pass = 0; pass < 2; ++pass) {  // every replay is a fresh pass over the same events
    read.clear();
    source.replay([&](const Event& e) { read.push_back(e); });
    ASSERT_EQ(read.size(), run.stream.events().size());
    EXPECT_EQ(std::memcmp(read.data(), run.stream.events().data(), read.size() * sizeof(Event)), 0);
  }
  for (uint32_t id = 0; id < run.stream.names().size(); ++id) EXPECT_EQ(source.name(id), run.stream.names()[id]);
  MemoryEventSource live(run.stream.events(), run.stream.names());
  EXPECT_EQ(analyze_bin(dir_ / "events.bin"), analyze(live));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1) << "no temporary left";
}

TEST_F(RunFilesTest, EventsBinHasTheDocumentedLayout) {
  StreamBuilder s;
  s.phase(Phase::kInit, 0);
  s.alloc(0x1f, 64, "conv", "aten::empty", 1);
  write_events_bin(dir_ / "events.bin", s.events(), s.names());
  const std::string bytes = read_text(dir_ / "events.bin");
  const auto u32 = [&](size_t at) { uint32_t v; std::memcpy(&v, bytes.data() + at, 4); return v; };
  const auto u64 = [&](size_t at) { uint64_t v; std::memcpy(&v, bytes.data() + at, 8); return v; };
  EXPECT_EQ(bytes.substr(0, 8), "TMEVENTS");
  EXPECT_EQ(u32(8), 1u);    // version
  EXPECT_EQ(u32(12), 48u);  // event size
  EXPECT_EQ(u64(16), 2u);   // events
  EXPECT_EQ(u32(24), 3u);   // names: "", "conv", "aten::empty"
  const std::string table = std::string("\0\0\0\0", 4) + std::string("\4\0\0\0conv", 8) +
                            std::string("\x0b\0\0\0aten::empty", 15);
  EXPECT_EQ(u32(28), table.size());
  EXPECT_EQ(bytes.substr(32, table.size()), table);
  const size_t second = 32 + table.size() + 48;  // the alloc, field by field at the documented offsets
  ASSERT_EQ(bytes.size(), second + 48);
  EXPECT_EQ(u64(second + 0), 1u);                      // seq
  EXPECT_EQ(u64(second + 8), 1'000'000u);              // time_ns
  EXPECT_EQ(u64(second + 16), 64u);                    // bytes
  EXPECT_EQ(u64(second + 24), 0x1fu);                  // address
  EXPECT_EQ(u32(second + 32), 1u);                     // module "conv"
  EXPECT_EQ(u32(second + 36), 2u);                     // op "aten::empty"
  EXPECT_EQ(u32(second + 40), 0u);                     // step
  EXPECT_EQ(bytes[second + 44], 1);                    // phase init
  EXPECT_EQ(bytes[second + 45], 0);                    // kind alloc
  EXPECT_EQ(bytes[second + 46], 1);                    // device cuda:1
  EXPECT_EQ(bytes[second + 47], 0);                    // tag none
}

TEST_F(RunFilesTest, CorruptEventsBinIsAnInputError) {
  auto run = two_step_training_run();
  write_events_bin(dir_ / "good.bin", run.stream.events(), run.stream.names());
  const std::string good = read_text(dir_ / "good.bin");
  const size_t events_at = good.size() - run.stream.events().size() * sizeof(Event);
  auto check = [&](std::string_view name, const std::string& bytes, std::string_view detail) {
    write_text(dir_ / name, bytes);
    expect_input_error(dir_ / name, replay_bin, detail);
  };
  // One byte of the n-th event changed.
  auto event_byte = [&](size_t event, size_t offset, char value) {
    std::string bytes = good;
    bytes[events_at + event * sizeof(Event) + offset] = value;
    return bytes;
  };

  std::string random_bytes(1 << 16, '\0');
  std::mt19937 random(13);
  for (char& c : random_bytes) c = static_cast<char>(random());
  check("random.bin", random_bytes, "bad magic");
  check("empty.bin", "", "truncated");
  check("short.bin", good.substr(0, 20), "truncated");
  check("cut.bin", good.substr(0, good.size() - 1), "truncated");
  check("long.bin", good + "x", "1 bytes after the");
  check("version.bin", std::string(good).replace(8, 1, "\x07"), "unsupported version 7");
  check("size.bin", std::string(good).replace(12, 1, "\x40"), "event size 64, expected 48");
  check("count.bin", std::string(good).replace(23, 1, "\x7f"), "truncated");
  check("names.bin", std::string(good).replace(24, 1, "\x7f"), "name table ends inside name");
  check("kind.bin", event_byte(5, 45, '\xc8'), "event 5: unknown kind 200");
  check("phase.bin", event_byte(6, 44, 9), "event 6: unknown phase 9");
  check("tag.bin", event_byte(7, 47, 9), "event 7: unknown tag 9");
  check("device.bin", event_byte(8, 46, -7), "event 8: unknown device -7");
  check("module.bin", event_byte(9, 32, 99), "event 9: module id out of the name table: 99");
  check("op.bin", event_byte(9, 36, 99), "event 9: op id out of the name table: 99");
  expect_input_error(dir_ / "missing.bin", replay_bin, "cannot open");

  // Cut anywhere in the header and names, or at and beside event boundaries, the file is refused before a
  // single event is replayed.
  std::vector<size_t> cuts;
  for (size_t size = 0; size <= events_at; ++size) cuts.push_back(size);
  for (size_t size = events_at + sizeof(Event); size < good.size(); size += sizeof(Event)) {
    cuts.insert(cuts.end(), {size - 1, size, size + 1});
  }
  for (size_t size : cuts) {
    write_text(dir_ / "cut.bin", good.substr(0, size));
    EXPECT_THROW(BinaryEventSource{dir_ / "cut.bin"}, InputError) << size;
  }
  // Any byte scrambled: an InputError, a TraceError from the analysis, or a valid analysis; never a crash.
  for (int round = 0; round < 100; ++round) {
    std::string bytes = good;
    bytes[random() % bytes.size()] = static_cast<char>(random());
    write_text(dir_ / "scrambled.bin", bytes);
    try {
      analyze_bin(dir_ / "scrambled.bin");
    } catch (const InputError&) {
    } catch (const TraceError&) {
    }
  }
}

TEST_F(RunFilesTest, EventsBinAcceptsEveryNamedEventKind) {
  // Kinds are checked against tracer/event.h's names, so new kinds need no change to the reader.
  for (int value = 0; value < 256; ++value) {
    const auto kind = static_cast<EventKind>(value);
    std::string_view name;
    try {
      name = to_string(kind);
    } catch (const std::out_of_range&) {
      continue;
    }
    StreamBuilder s;
    s.phase(Phase::kInit, 0);
    s.events().back().kind = kind;
    write_events_bin(dir_ / "kind.bin", s.events(), s.names());
    EXPECT_NO_THROW(replay_bin(dir_ / "kind.bin")) << name;
  }
}

TEST_F(RunFilesTest, UnfinishedEventsBinWriterLeavesNothing) {
  {
    EventsBinWriter writer(dir_ / "events.bin", {""});
    Event e{};
    writer.write({&e, 1});
  }  // e.g. an exception unwound past it
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 0);
  EXPECT_THROW(EventsBinWriter("/proc/trainmem/events.bin", {""}), OutputError);
}

TEST_F(RunFilesTest, ExportOfEventsBinIsTheEventsCsvOfTheLiveRun) {
  auto run = two_step_training_run();
  write_events_bin(dir_ / "events.bin", run.stream.events(), run.stream.names());
  BinaryEventSource saved(dir_ / "events.bin");
  write_events_csv_file(dir_ / "events.csv", saved);
  std::ostringstream live_csv;
  MemoryEventSource live(run.stream.events(), run.stream.names());
  write_events_csv(live_csv, live);
  EXPECT_EQ(read_text(dir_ / "events.csv"), live_csv.str());
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 2) << "no temporary left";
  EXPECT_THROW(write_events_csv_file("/proc/trainmem/events.csv", saved), OutputError);
}

TEST_F(RunFilesTest, RunEventsPreferEventsBinAndFallBackToEventsCsv) {
  auto run = two_step_training_run();
  EXPECT_THROW(open_run_events(dir_), InputError);
  write_events(run.stream);  // events.csv
  RunEvents csv = open_run_events(dir_);
  EXPECT_EQ(csv.file, dir_ / "events.csv");
  EXPECT_EQ(csv.event_count, 0u);
  write_events_bin(dir_ / "events.bin", run.stream.events(), run.stream.names());
  RunEvents bin = open_run_events(dir_);
  EXPECT_EQ(bin.file, dir_ / "events.bin");
  EXPECT_EQ(bin.event_count, run.stream.events().size());
  EXPECT_EQ(analyze(*bin.source), analyze(*csv.source));
}

TEST_F(RunFilesTest, ReplayProgressShowsEachPassAndPassesEventsOn) {
  auto run = two_step_training_run();
  MemoryEventSource live(run.stream.events(), run.stream.names());
  std::FILE* terminal = std::tmpfile();
  ASSERT_NE(terminal, nullptr);
  Analysis analysis;
  {
    ProgressLine line(terminal, true);
    ReplayProgress source(live, run.stream.events().size(), "analyzing", line);
    analysis = analyze(source);
  }
  EXPECT_EQ(analysis, analyze(live));
  std::rewind(terminal);
  std::string shown(4096, '\0');
  shown.resize(std::fread(shown.data(), 1, shown.size(), terminal));
  std::fclose(terminal);
  EXPECT_NE(shown.find("\ranalyzing: pass 1, 0%"), std::string::npos) << shown;
  EXPECT_NE(shown.find("\ranalyzing: pass 2, 0%"), std::string::npos) << shown;
  EXPECT_TRUE(shown.ends_with("\r")) << "the line is erased at the end";

  std::FILE* pipe = std::tmpfile();
  {
    ProgressLine line(pipe, false);
    ReplayProgress source(live, 0, "analyzing", line);
    EXPECT_EQ(analyze(source), analysis);
  }
  EXPECT_EQ(std::ftell(pipe), 0) << "a disabled progress line prints nothing";
  std::fclose(pipe);
}

TEST_F(RunFilesTest, RunJsonRoundTrip) {
  RunInfo run = tiny_run_info();
  run.seed = UINT64_MAX;  // the whole range of a seed survives
  write_run_json(dir_ / "run.json", run);
  EXPECT_EQ(read_run_json(dir_ / "run.json"), run);
}

TEST_F(RunFilesTest, CorruptRunJsonIsAnInputError) {
  write_run_json(dir_ / "good.json", tiny_run_info());
  std::string good = read_text(dir_ / "good.json");

  std::string random_bytes(4096, '\0');
  std::mt19937 random(7);
  for (char& c : random_bytes) c = static_cast<char>(random());
  write_text(dir_ / "random.json", random_bytes);
  expect_input_error(dir_ / "random.json", read_run_json, "parse error");

  write_text(dir_ / "truncated.json", good.substr(0, good.size() / 2));
  expect_input_error(dir_ / "truncated.json", read_run_json, "parse error at line");

  std::string wrong_type = good;
  wrong_type.replace(wrong_type.find("\"batch\": 2"), 10, "\"batch\": \"2\"");
  write_text(dir_ / "wrong_type.json", wrong_type);
  expect_input_error(dir_ / "wrong_type.json", read_run_json, "\"batch\"");

  write_text(dir_ / "other.json", "{\"format\": \"something else\"}");
  expect_input_error(dir_ / "other.json", read_run_json, "not a trainmem run");

  expect_input_error(dir_ / "missing.json", read_run_json, "cannot open");
}

TEST_F(RunFilesTest, CorruptEventsCsvIsAnInputErrorNamingTheLine) {
  constexpr std::string_view kHeader = "seq,time_ns,kind,device,bytes,address,phase,step,module,op,tag\n";
  const std::string good_line = "0,0,alloc,cpu,64,0x10,forward,1,conv,aten::conv2d,\n";
  auto check = [&](std::string_view name, const std::string& text, std::string_view detail) {
    write_text(dir_ / name, text);
    expect_input_error(dir_ / name, replay_csv, detail);
  };

  std::string random_bytes(1 << 16, '\0');
  std::mt19937 random(11);
  for (char& c : random_bytes) c = static_cast<char>(random());
  check("random.csv", random_bytes, "line 1: expected the header");
  check("empty.csv", "", "line 1: empty file");
  check("header.csv", "seq,time,kind\n" + good_line, "line 1: expected the header");
  std::string text(kHeader);
  check("number.csv", text + good_line + "1,0,alloc,cpu,6x4,0x20,forward,1,conv,,\n", "line 3: bytes");
  check("phase.csv", text + "0,0,phase,cpu,0,0x0,lunch,1,,,\n", "line 2: unknown phase \"lunch\"");
  check("kind.csv", text + "0,0,realloc,cpu,0,0x0,init,1,,,\n", "line 2: unknown kind");
  check("tag.csv", text + "0,0,tag,cpu,0,0x10,init,1,,,weights\n", "line 2: unknown tag");
  check("device.csv", text + "0,0,alloc,tpu:0,64,0x10,init,1,,,\n", "line 2: unknown device");
  check("address.csv", text + "0,0,alloc,cpu,64,16,init,1,,,\n", "line 2: address");
  check("fields.csv", text + "0,0,alloc,cpu,64\n", "line 2: expected 11 fields, found 5");
  check("quote.csv", text + "0,0,alloc,cpu,64,0x10,init,1,\"conv,,\n", "line 2: unterminated");
  check("negative.csv", text + "-1,0,alloc,cpu,64,0x10,init,1,,,\n", "line 2: seq");
  check("long.csv", text + good_line + std::string(2 << 20, '7'), "line 3: line longer than 1 MiB");
}

TEST_F(RunFilesTest, EventsCsvWithWindowsLineBreaksReadsTheSame) {
  auto run = two_step_training_run();
  std::string text = read_text(write_events(run.stream));
  std::string crlf;
  for (char c : text) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  write_text(dir_ / "crlf.csv", crlf);
  EXPECT_EQ(analyze_csv(dir_ / "crlf.csv"), analyze_csv(dir_ / "events.csv"));
}

TEST_F(RunFilesTest, EventsCsvThatIsMissingIsAnInputError) {
  expect_input_error(dir_ / "missing.csv", replay_csv, "cannot open");
}

TEST_F(RunFilesTest, StagedDirectoryCommitReplacesAnEarlierRun) {
  fs::path target = dir_ / "runs" / "latest";  // missing parents are created
  {
    StagedDirectory first(target);
    write_text(first.path() / "old.txt", "old");
    first.commit();
  }
  StagedDirectory second(target);
  EXPECT_EQ(second.path().parent_path(), target.parent_path());  // same file system, so renames are atomic
  write_text(second.path() / "new.txt", "new");
  EXPECT_TRUE(fs::exists(target / "old.txt"));  // untouched until commit
  second.commit();
  EXPECT_EQ(read_text(target / "new.txt"), "new");
  EXPECT_FALSE(fs::exists(target / "old.txt"));
  EXPECT_EQ(std::distance(fs::directory_iterator(target.parent_path()), fs::directory_iterator()), 1);
}

TEST_F(RunFilesTest, UncommittedStagedDirectoryLeavesNoTraceAndKeepsTheEarlierRun) {
  fs::path target = dir_ / "run";
  fs::create_directory(target);
  write_text(target / "summary.json", "{}");
  {
    StagedDirectory staged(target);
    write_text(staged.path() / "summary.json", "partial");
  }  // e.g. an exception unwound past it
  EXPECT_EQ(read_text(target / "summary.json"), "{}");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(RunFilesTest, UnwritableOutputDirectoryIsAnOutputError) {
  try {
    StagedDirectory staged("/proc/trainmem/run");
    FAIL() << "expected an OutputError";
  } catch (const OutputError& e) {
    std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_NE(message.find("cannot write output directory /proc/trainmem/run: "), std::string::npos) << message;
  }
  EXPECT_THROW(write_file_atomically("/proc/trainmem.txt", "x"), OutputError);
}

TEST_F(RunFilesTest, AFileInTheWayIsAnOutputErrorAndIsKept) {
  write_text(dir_ / "notes.txt", "precious");
  EXPECT_THROW(StagedDirectory(dir_ / "notes.txt"), OutputError);
  EXPECT_EQ(read_text(dir_ / "notes.txt"), "precious");
}

TEST_F(RunFilesTest, WriteFileAtomicallyReplacesTheFileAndLeavesNothingElse) {
  write_file_atomically(dir_ / "a.txt", "first");
  write_file_atomically(dir_ / "a.txt", "second");
  EXPECT_EQ(read_text(dir_ / "a.txt"), "second");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST(SummaryJson, HasTheDocumentedKeysAndNumbers) {
  auto run = two_step_training_run();
  MemoryEventSource source(run.stream.events(), run.stream.names());
  nlohmann::ordered_json summary = summary_json(tiny_run_info(), analyze(source));
  EXPECT_EQ(summary["format"], "trainmem-summary");
  EXPECT_EQ(summary["version"], 1);
  EXPECT_EQ(summary["parameter_bytes"], 600);
  EXPECT_EQ(summary["measured_parameter_bytes"], 600);
  EXPECT_EQ(summary["points"]["forward_peak"], 2448);
  EXPECT_EQ(summary["peak_bytes"], 2664);
  EXPECT_EQ(summary["peak"]["phase"], "backward");
  EXPECT_EQ(summary["categories_at_peak"]["optimizer_state"], 600);
  EXPECT_EQ(summary["top_activation_modules"][0],
            nlohmann::ordered_json({{"module", "conv"}, {"bytes", 300}, {"blocks", 1}}));
  EXPECT_EQ(summary["events"], 40);
  EXPECT_EQ(summary["markers"], 21);
  std::vector<std::string> keys;
  for (const auto& [key, value] : summary.items()) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "format", "version", "model", "batch", "resolution", "steps", "optimizer", "seed", "threads",
                      "device", "parameter_count", "parameter_bytes", "measured_parameter_bytes",
                      "measured_buffer_bytes", "points", "peak_bytes", "peak", "categories_at_peak",
                      "activation_bytes", "compress", "budget_bytes", "out_of_memory", "cuda", "top_activation_modules", "events", "markers", "last_step_seconds"}));
}

TEST(LayersCsv, JoinsTheModuleTableWithActivations) {
  auto run = two_step_training_run();
  MemoryEventSource source(run.stream.events(), run.stream.names());
  EXPECT_EQ(layers_csv(tiny_run_info(), analyze(source)),
            "module,type,weight_bytes,input_shape,input_bytes,activation_bytes,activation_blocks,"
            "k2_bytes,k4_bytes,compress_k,pooled_bytes\n"
            "conv,Conv2d,400,2x3x8x8,1536,300,1,384,96,0,0\n"  // 2x3x4x4 and 2x3x2x2 floats
            "bn,BatchNorm2d,0,2x4x8x8,2048,0,0,,,,\n"
            "relu,ReLU,0,2x4x8x8,2048,0,0,,,,\n"
            "fc,Linear,200,2x256,2048,120,1,,,,\n"
            "(none),,0,,0,30,1,,,,\n");
}

TEST(TerminalReport, ShowsPointsCategoriesCheckAndTopModules) {
  auto run = two_step_training_run();
  MemoryEventSource source(run.stream.events(), run.stream.names());
  Analysis analysis = analyze(source);
  std::ostringstream out;
  print_report(out, tiny_run_info(), analysis);
  std::string report = out.str();
  EXPECT_NE(report.find("tiny: batch 2, resolution 8, optimizer sgd"), std::string::npos) << report;
  EXPECT_NE(report.find("forward peak"), std::string::npos) << report;
  EXPECT_NE(report.find("optimizer_state"), std::string::npos) << report;
  EXPECT_NE(report.find("= 4 x parameter_count (150) ✓"), std::string::npos) << report;
  EXPECT_NE(report.find("(none)"), std::string::npos) << report;

  RunInfo bigger = tiny_run_info();
  bigger.parameter_count = 151;
  bigger.parameter_bytes = 604;
  std::ostringstream mismatch;
  print_report(mismatch, bigger, analysis);
  EXPECT_NE(mismatch.str().find("✗ (mismatch)"), std::string::npos) << mismatch.str();
  EXPECT_EQ(report.find("Compression"), std::string::npos) << "no baseline, no comparison";

  // With compression, the saving against the baseline run: activations and peak, measured.
  RunInfo compressed = tiny_run_info();
  compressed.compress = "2";
  compressed.baseline_activation_bytes = 2 * analysis.activation_bytes;
  compressed.baseline_peak_bytes = analysis.peak.bytes + analysis.activation_bytes;
  std::ostringstream with_baseline;
  print_report(with_baseline, compressed, analysis);
  const std::string text = with_baseline.str();
  EXPECT_NE(text.find("Compression --compress 2 (full)"), std::string::npos) << text;
  EXPECT_NE(text.find("activations, measured"), std::string::npos) << text;
  EXPECT_NE(text.find("50.0%"), std::string::npos) << text;
}

TEST(Units, ParsesMemorySizes) {
  EXPECT_EQ(parse_bytes("16GiB"), int64_t{16} << 30);
  EXPECT_EQ(parse_bytes("12000MiB"), int64_t{12000} << 20);
  EXPECT_EQ(parse_bytes("1.5GB"), 1'500'000'000);
  EXPECT_EQ(parse_bytes("4096"), 4096);
  EXPECT_EQ(parse_bytes("512B"), 512);
  for (const char* bad : {"", "GiB", "12XB", "-1GiB", "0", "1e999GiB", "nan"}) {
    EXPECT_THROW(parse_bytes(bad), std::invalid_argument) << bad;
  }
}

TEST(Units, FormatsBytesInHumanUnits) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
  EXPECT_EQ(format_bytes(1024), "1.00 KiB");
  EXPECT_EQ(format_bytes(1024 * 1024), "1.00 MiB");
  EXPECT_EQ(format_bytes(3 * 1024 * 1024 / 2), "1.50 MiB");
  EXPECT_EQ(format_bytes(835'677'832), "796.96 MiB");
  EXPECT_EQ(format_bytes(int64_t{5} << 30), "5.00 GiB");
  EXPECT_EQ(format_bytes(int64_t{3} << 40), "3.00 TiB");
  EXPECT_EQ(format_bytes(int64_t{3} << 50), "3072.00 TiB");  // no unit above TiB
  EXPECT_EQ(format_bytes(-1536), "-1.50 KiB");
  EXPECT_EQ(format_bytes(-5), "-5 B");
}

}  // namespace
}  // namespace trainmem
