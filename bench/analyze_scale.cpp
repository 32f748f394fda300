// `trainmem analyze` at scale: generates a realistic trace of 10 million events into a temporary run
// directory (run.json + events.bin), runs the real `trainmem analyze` on it in a child process, and prints
// the child's wall time and peak RSS beside the size of the trace file. Two more children separate the
// costs: `trainmem --help` (starting the binary: loading LibTorch) and this benchmark's own torch-free
// process running only the analysis passes, as `analyze` calls them.
//
// Usage: trainmem_bench_analyze [--events N] [--live N] [--trainmem PATH] [--keep DIR]
//        trainmem_bench_analyze --analyze-only RUN_DIR   (the torch-free analysis child alone)
//
// The trace imitates training steps of a ResNet-like model: parameters and buffers tagged at init, then per
// step an input batch, a forward phase that keeps --live activations (plus a temporary per activation),
// a backward phase that frees them in reverse while making gradient temporaries, and an optimizer phase;
// gradients and momentum buffers are created in the first step and kept. Events of forward and backward
// carry the module running, which changes layer by layer as in a recording. Freed addresses are reused
// last-in first-out, as a caching allocator does.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "analysis/analysis.h"
#include "analysis/run_info.h"
#include "reports/layers_csv.h"
#include "reports/run_files.h"
#include "reports/summary_json.h"

namespace {

namespace fs = std::filesystem;
using namespace trainmem;

struct Options {
  uint64_t events = 10'000'000;
  uint64_t live = 100'000;  // activations kept by one forward phase
  std::string trainmem = TRAINMEM_BINARY;
  std::string keep;  // keep the run directory here instead of a temporary one
};

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--events") {
      options.events = std::stoull(argv[i + 1]);
    } else if (flag == "--live") {
      options.live = std::stoull(argv[i + 1]);
    } else if (flag == "--trainmem") {
      options.trainmem = argv[i + 1];
    } else if (flag == "--keep") {
      options.keep = argv[i + 1];
    } else {
      std::fprintf(stderr, "trainmem_bench_analyze: unknown flag %s\n", flag.c_str());
      std::exit(2);
    }
  }
  return options;
}

// Module names of a ResNet-18, the op names a training step runs.
std::vector<std::string> module_names() {
  std::vector<std::string> names{"conv1", "bn1", "relu", "maxpool"};
  for (int layer = 1; layer <= 4; ++layer) {
    for (int block = 0; block < 2; ++block) {
      const std::string prefix = "layer" + std::to_string(layer) + "." + std::to_string(block) + ".";
      for (const char* child : {"conv1", "bn1", "relu", "conv2", "bn2"}) names.push_back(prefix + child);
      if (layer > 1 && block == 0) {
        names.push_back(prefix + "downsample.0");
        names.push_back(prefix + "downsample.1");
      }
    }
  }
  names.push_back("avgpool");
  names.push_back("fc");
  return names;
}

enum Op : uint32_t { kEmpty, kConvolution, kBatchNorm, kRelu, kAdd, kConvolutionBackward, kBatchNormBackward,
                     kThresholdBackward, kMul, kAddInPlace, kCopy, kOpCount };
constexpr const char* kOpNames[kOpCount] = {"aten::empty", "aten::convolution", "aten::native_batch_norm",
                                            "aten::relu_", "aten::add", "aten::convolution_backward",
                                            "aten::native_batch_norm_backward", "aten::threshold_backward",
                                            "aten::mul", "aten::add_", "aten::copy_"};

// Streams a synthetic training trace into events.bin.
class TraceGenerator {
 public:
  TraceGenerator(const fs::path& file, const std::vector<std::string>& names, uint32_t modules)
      : writer_(file, names), modules_(modules) {}

  void phase(Phase phase, uint32_t step) {
    phase_ = phase;
    step_ = step;
    emit(EventKind::kPhase, 0, 0, 0, 0, Tag::kNone);
  }
  uint64_t alloc(int64_t bytes, uint32_t module, uint32_t op) {
    size_t slot;
    if (!free_slots_.empty()) {
      slot = free_slots_.back();
      free_slots_.pop_back();
    } else {
      slot = sizes_.size();
      sizes_.push_back(0);
    }
    sizes_[slot] = bytes;
    emit(EventKind::kAlloc, bytes, address(slot), module, op, Tag::kNone);
    return address(slot);
  }
  void free(uint64_t address, uint32_t module, uint32_t op) {
    const size_t slot = (address - kBaseAddress) / kSlotBytes;
    emit(EventKind::kFree, -sizes_[slot], address, module, op, Tag::kNone);
    free_slots_.push_back(slot);
  }
  void tag(uint64_t address, Tag tag) { emit(EventKind::kTag, 0, address, 0, 0, tag); }

  int64_t random_size() {
    // Log-uniform from 64 B to 4 MiB, in 64-byte units.
    return std::max<int64_t>(64, static_cast<int64_t>(std::exp2(sizes_dist_(random_))) & ~int64_t{63});
  }
  uint32_t module_id(uint64_t i, uint64_t of) const { return 1 + static_cast<uint32_t>(i * modules_ / of); }
  uint32_t op_id(Op op) const { return modules_ + 1 + op; }
  uint64_t count() const { return seq_; }

  void finish() {
    flush();
    writer_.finish();
  }

 private:
  void emit(EventKind kind, int64_t bytes, uint64_t address, uint32_t module, uint32_t op, Tag tag) {
    Event& e = buffer_.emplace_back();
    e.seq = seq_;
    e.time_ns = static_cast<int64_t>(seq_) * 150;  // about 150 ns per event, as recorded
    e.bytes = bytes;
    e.address = address;
    e.module = module;
    e.op = op;
    e.step = step_;
    e.phase = phase_;
    e.kind = kind;
    e.device = kCpuDevice;
    e.tag = tag;
    ++seq_;
    if (buffer_.size() == kBufferEvents) flush();
  }
  void flush() {
    writer_.write(buffer_);
    buffer_.clear();
  }

  // Addresses as a heap hands them out: high, 64-byte aligned, not powers of two apart.
  static constexpr uint64_t kBaseAddress = 0x7f3a12340000;
  static constexpr uint64_t kSlotBytes = 4160;
  static uint64_t address(size_t slot) { return kBaseAddress + slot * kSlotBytes; }

  static constexpr size_t kBufferEvents = size_t{1} << 16;
  EventsBinWriter writer_;
  uint32_t modules_;
  std::vector<Event> buffer_;
  uint64_t seq_ = 0;
  Phase phase_ = Phase::kOther;
  uint32_t step_ = 0;
  std::vector<int64_t> sizes_;      // bytes of the block in each address slot
  std::vector<size_t> free_slots_;  // reused last-in first-out
  std::mt19937_64 random_{42};
  std::uniform_real_distribution<double> sizes_dist_{6.0, 22.0};
};

// Events of one later step: 4 phases, the batch (2 frees, 2 allocs, 2 tags), 3 per activation in forward and
// 5 in backward, 2 per parameter in the optimizer.
uint64_t events_per_step(uint64_t live, uint64_t parameters) { return 10 + 8 * live + 2 * parameters; }

std::string module_type(const std::string& name) {
  if (name.find("conv") != std::string::npos || name.ends_with("downsample.0")) return "Conv2d";
  if (name.find("bn") != std::string::npos || name.ends_with("downsample.1")) return "BatchNorm2d";
  if (name.ends_with("relu")) return "ReLU";
  if (name == "fc") return "Linear";
  return "Pool";
}

uint64_t generate(const fs::path& dir, const Options& options) {
  const std::vector<std::string> modules = module_names();
  std::vector<std::string> names{""};
  names.insert(names.end(), modules.begin(), modules.end());
  for (const char* op : kOpNames) names.emplace_back(op);
  const auto module_count = static_cast<uint32_t>(modules.size());

  RunInfo info;
  info.model = "synthetic-resnet18";
  info.batch = 32;
  info.resolution = 224;
  info.optimizer = "sgd";
  for (const std::string& name : modules) {
    ModuleInfo& module = info.modules.emplace_back();
    module.name = name;
    module.type = module_type(name);
    module.input_shape = {32, 64, 56, 56};
    module.input_bytes = int64_t{32} * 64 * 56 * 56 * 4;
  }
  constexpr uint64_t kParameters = 62;  // weights and biases of a ResNet-18
  const uint64_t per_step = events_per_step(options.live, kParameters);
  const uint64_t steps = std::max<uint64_t>(1, (options.events + per_step - 1) / per_step);
  info.steps = static_cast<int64_t>(steps);
  write_run_json(dir / "run.json", info);

  TraceGenerator trace(dir / "events.bin", names, module_count);
  trace.phase(Phase::kInit, 0);
  std::vector<uint64_t> parameters;
  for (uint64_t i = 0; i < kParameters; ++i) {
    parameters.push_back(trace.alloc(trace.random_size(), trace.module_id(i, kParameters), trace.op_id(kEmpty)));
    trace.tag(parameters.back(), i % 6 == 5 ? Tag::kBuffer : Tag::kParameter);
  }
  std::vector<uint64_t> persistent;  // gradients and momentum, made in the first step
  std::vector<uint64_t> batch;
  std::vector<uint64_t> activations;
  activations.reserve(options.live);
  for (uint32_t step = 1; step <= steps; ++step) {
    trace.phase(Phase::kInput, step);
    for (uint64_t address : batch) trace.free(address, 0, trace.op_id(kCopy));
    batch = {trace.alloc(32 * 3 * 224 * 224 * 4, 0, trace.op_id(kCopy)), trace.alloc(32 * 8, 0, trace.op_id(kCopy))};
    for (uint64_t address : batch) trace.tag(address, Tag::kInput);

    trace.phase(Phase::kForward, step);
    for (uint64_t i = 0; i < options.live; ++i) {
      const uint32_t module = trace.module_id(i, options.live);
      const uint64_t scratch = trace.alloc(trace.random_size(), module, trace.op_id(kConvolution));
      activations.push_back(trace.alloc(trace.random_size(), module, trace.op_id(i % 3 ? kBatchNorm : kRelu)));
      trace.free(scratch, module, trace.op_id(kConvolution));
    }

    trace.phase(Phase::kBackward, step);
    for (uint64_t i = options.live; i-- > 0;) {
      const uint32_t module = trace.module_id(i, options.live);
      const uint64_t gradient = trace.alloc(trace.random_size(), module, trace.op_id(kConvolutionBackward));
      trace.free(activations[i], module, trace.op_id(kConvolutionBackward));
      const uint64_t scratch = trace.alloc(trace.random_size(), module, trace.op_id(kThresholdBackward));
      trace.free(scratch, module, trace.op_id(kThresholdBackward));
      trace.free(gradient, module, trace.op_id(kThresholdBackward));
    }
    activations.clear();
    if (step == 1) {
      for (uint64_t i = 0; i < kParameters; ++i) {
        persistent.push_back(trace.alloc(trace.random_size(), trace.module_id(i, kParameters), trace.op_id(kEmpty)));
        trace.tag(persistent.back(), Tag::kGradient);
      }
    }

    trace.phase(Phase::kOptimizer, step);
    for (uint64_t i = 0; i < kParameters; ++i) {
      if (step == 1) persistent.push_back(trace.alloc(trace.random_size(), 0, trace.op_id(kMul)));
      const uint64_t scratch = trace.alloc(trace.random_size(), 0, trace.op_id(kAddInPlace));
      trace.free(scratch, 0, trace.op_id(kAddInPlace));
    }
  }
  trace.phase(Phase::kOther, static_cast<uint32_t>(steps));
  trace.finish();
  return trace.count();
}

struct ChildRun {
  int exit_code = -1;
  double seconds = 0;
  double cpu_seconds = 0;  // user + system: steadier than wall time on a shared machine
  double max_rss_mib = 0;
};

// Runs `argv` with stdout to /dev/null, timing it and reading its peak RSS from wait4.
ChildRun run_child(const std::vector<std::string>& args) {
  std::fflush(stdout);  // or the child would print what is still buffered too
  const auto start = std::chrono::steady_clock::now();
  const pid_t child = ::fork();
  if (child == 0) {
    std::freopen("/dev/null", "w", stdout);
    std::vector<char*> argv;
    for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::perror("trainmem_bench_analyze: exec");
    ::_exit(127);
  }
  int status = 0;
  rusage usage{};
  ::wait4(child, &status, 0, &usage);
  ChildRun run;
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.cpu_seconds = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                    static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  run.max_rss_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;  // kilobytes on Linux
  return run;
}

// What `trainmem analyze` computes before the views: run.json, the two passes over events.bin, summary.json
// and layers.csv (built, not written).
int analyze_only(const fs::path& dir) {
  const RunInfo info = read_run_json(dir / "run.json");
  RunEvents events = open_run_events(dir);
  const Analysis analysis = analyze(*events.source, {.device = trace_device(info)});
  const size_t bytes = summary_json(info, analysis).dump(2).size() + layers_csv(info, analysis).size();
  return bytes > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--analyze-only") return analyze_only(argv[2]);
  const Options options = parse_options(argc, argv);
  const fs::path dir = options.keep.empty()
                           ? fs::temp_directory_path() / ("trainmem-bench-analyze-" + std::to_string(::getpid()))
                           : fs::path(options.keep);
  fs::remove_all(dir);
  fs::create_directories(dir);

  const auto start = std::chrono::steady_clock::now();
  const uint64_t events = generate(dir, options);
  const double generate_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double file_mib = static_cast<double>(fs::file_size(dir / "events.bin")) / (1024.0 * 1024.0);
  std::printf("trace: %llu events, %llu activations alive at each forward end, events.bin %.1f MiB "
              "(generated in %.1f s)\n",
              static_cast<unsigned long long>(events), static_cast<unsigned long long>(options.live), file_mib,
              generate_seconds);

  const ChildRun startup = run_child({options.trainmem, "--help"});
  std::printf("trainmem --help:    %6.2f s wall, %6.2f s CPU, peak RSS %7.1f MiB (loading LibTorch)\n",
              startup.seconds, startup.cpu_seconds, startup.max_rss_mib);
  const ChildRun passes = run_child({fs::read_symlink("/proc/self/exe").string(), "--analyze-only", dir.string()});
  std::printf("analysis passes:    %6.2f s wall, %6.2f s CPU, peak RSS %7.1f MiB (torch-free process: run.json, "
              "2 passes, summary and layers)\n",
              passes.seconds, passes.cpu_seconds, passes.max_rss_mib);
  const ChildRun analyze = run_child({options.trainmem, "analyze", dir.string()});
  if (passes.exit_code != 0 || analyze.exit_code != 0) {
    std::fprintf(stderr, "trainmem_bench_analyze: an analysis failed (exit codes %d, %d)\n", passes.exit_code,
                 analyze.exit_code);
    return 1;
  }
  std::printf("trainmem analyze:   %6.2f s wall, %6.2f s CPU, peak RSS %7.1f MiB = %.2f x events.bin\n",
              analyze.seconds, analyze.cpu_seconds, analyze.max_rss_mib, analyze.max_rss_mib / file_mib);
  if (options.keep.empty()) fs::remove_all(dir);
  return 0;
}
