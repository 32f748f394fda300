// Tracer overhead, measured side by side in one run:
//  1. nanoseconds added per alloc+free pair: LibTorch's CPU allocator alone vs. through the tracer;
//  2. traced / untraced step time of a small resnet18 training step.
// Usage: trainmem_bench_tracer [--pairs N] [--rounds R] [--processes K] [--batch B] [--resolution PX] [--steps S]
//                              [--threads T] [--steady-heap 0|1]
//        valgrind --tool=callgrind trainmem_bench_tracer --count-pairs N --rounds R   (instructions, see count_pairs)
//
// Everything runs in fresh child processes, and each comparison alternates its two sides inside a process:
// glibc's heap state (which bins are filled, when it consolidates and trims) moves a configuration by more
// than some of the effects measured, and it differs from process to process and drifts within one.
// - Pairs: each of K processes runs R rounds of a block of N pairs through the raw allocator and a block
//   through the tracer, in alternating order (raw first in even rounds), then R rounds of raw and
//   intercepted-not-recording blocks. Blocks are timed by the thread's CPU clock (the machine may be shared:
//   time spent preempted is not the tracer's). Per process the median of the rounds' differences; reported,
//   the median over processes and their spread.
// - Steps: each of K processes trains S steps after two warm-up steps, the tracer installed for one step of
//   each consecutive pair and removed for the other, in alternating order (U T, T U, ...): the two steps of a
//   pair share the heap, the caches and the machine's load of that moment, which separate processes do not
//   (one step per fresh process spread ±15–30% here). Each process gets an argv[0] of another length (see
//   run_child). Reported, each process's median of its pairs' traced/untraced wall-time ratios, the median
//   over all pairs, the ratio of the summed times, and the page faults per step.
//   --steady-heap 1 makes glibc keep freed memory (no trimming, no mmap for blocks under 32 MiB): untraced
//   steps here take thousands of page faults each, which makes step times noisy; without them the ratio shows
//   the tracer's own cost more precisely. trainmem itself leaves glibc at its defaults: the default run
//   measures what users get.
#include <c10/core/CPUAllocator.h>
#include <malloc.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "tracer/host_memory.h"
#include "tracer/session.h"
#include "training/synthetic_training.h"

namespace {

using trainmem::TraceSession;

// What `trainmem profile` traces with on the CPU: allocations are checked against the memory available.
trainmem::TraceOptions profile_options() {
  trainmem::TraceOptions options;
  options.cpu_limit_bytes = trainmem::available_host_memory_bytes();
  return options;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

double thread_cpu_ns() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e9 + static_cast<double>(t.tv_nsec);
}

// Sizes cycled through: one size alone measures glibc's handling of that size class more than the tracer.
constexpr size_t kSizes[] = {64, 256, 1024, 4096, 16384, 65536, 100, 3000};
constexpr size_t kSizeCount = sizeof(kSizes) / sizeof(kSizes[0]);

// Mean CPU ns of one allocate + free through `allocator`, sizes cycling through kSizes.
double ns_per_pair(c10::Allocator* allocator, int pairs) {
  const double start = thread_cpu_ns();
  for (int i = 0; i < pairs; ++i) {
    c10::DataPtr block = allocator->allocate(kSizes[i % kSizeCount]);
    asm volatile("" : : "r"(block.get()) : "memory");  // keep the pair from being optimized away
  }
  return (thread_cpu_ns() - start) / pairs;
}

// R rounds of one block through `raw` and one through `other`, in alternating order; per round, ns per pair of
// each and the difference.
struct Alternation {
  std::vector<double> raw_ns, other_ns, added_ns;
};
Alternation alternate(c10::Allocator* raw, c10::Allocator* other, int pairs, int rounds) {
  Alternation a;
  for (int round = 0; round < rounds; ++round) {
    double raw_ns = 0, other_ns = 0;
    if (round % 2 == 0) {
      raw_ns = ns_per_pair(raw, pairs);
      other_ns = ns_per_pair(other, pairs);
    } else {
      other_ns = ns_per_pair(other, pairs);
      raw_ns = ns_per_pair(raw, pairs);
    }
    a.raw_ns.push_back(raw_ns);
    a.other_ns.push_back(other_ns);
    a.added_ns.push_back(other_ns - raw_ns);
  }
  return a;
}

// Instruction counts, for callgrind (times there mean nothing): `rounds` blocks of `pairs` pairs through the
// raw allocator and through the tracer, alternating; callgrind_annotate --inclusive=yes gives each function's
// total, and their difference over rounds x pairs the instructions the tracer adds per pair. (noipa: two
// functions, not one folded copy.)
__attribute__((noipa)) void raw_pairs(c10::Allocator* raw, int pairs) { ns_per_pair(raw, pairs); }
__attribute__((noipa)) void traced_pairs(c10::Allocator* tracing, int pairs) { ns_per_pair(tracing, pairs); }
void count_pairs(int pairs, int rounds) {
  c10::Allocator* raw = c10::GetCPUAllocator();
  TraceSession session(profile_options());
  c10::Allocator* tracing = c10::GetCPUAllocator();
  for (int round = 0; round < rounds; ++round) {
    raw_pairs(raw, pairs);
    traced_pairs(tracing, pairs);
  }
  std::printf("ran %d rounds of %d pairs raw (raw_pairs) and traced (traced_pairs)\n", rounds, pairs);
}

// One process's medians: raw, traced, intercepted-not-recording ns per pair, and ns added by each.
void measure_pairs(int pairs, int rounds) {
  c10::Allocator* raw = c10::GetCPUAllocator();
  TraceSession session(profile_options());
  c10::Allocator* tracing = c10::GetCPUAllocator();
  const Alternation traced = alternate(raw, tracing, pairs, rounds);
  trainmem::Recorder::instance().stop();  // still intercepted, no longer recorded
  const Alternation intercepted = alternate(raw, tracing, pairs, rounds);
  std::printf("%.3f %.3f %.3f %.3f %.3f\n", median(traced.raw_ns), median(traced.other_ns),
              median(intercepted.other_ns), median(traced.added_ns), median(intercepted.added_ns));
}

// Runs this binary (`self`) with `arguments` in a fresh process whose argv[0] is `self` followed by `padding`
// spaces, and reads `count` numbers from its output. The length of argv[0] moves the initial stack, and with
// it how the traced code's stack frames fall against the data they touch: on this VM the step ratio was
// 0.99 with argv[0] "/work/main/build/bench/trainmem_bench_tracer", 1.05 with "bench/trainmem_bench_tracer"
// and 1.07 with "x" (same binary, 3 processes each). Step processes therefore run at spread paddings.
std::vector<double> run_child(const char* self, const std::string& arguments, int count, size_t padding = 0) {
  std::vector<std::string> words{std::string(self) + std::string(padding, ' ')};
  for (size_t start = 0; start < arguments.size();) {
    const size_t end = std::min(arguments.find(' ', start), arguments.size());
    words.push_back(arguments.substr(start, end - start));
    start = end + 1;
  }
  std::vector<char*> child_argv;
  for (std::string& word : words) child_argv.push_back(word.data());
  child_argv.push_back(nullptr);
  int out[2];
  pid_t pid = -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (pipe(out) == 0) {
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    if (posix_spawn(&pid, self, &actions, nullptr, child_argv.data(), environ) != 0) pid = -1;
    close(out[1]);
  }
  posix_spawn_file_actions_destroy(&actions);
  FILE* child = pid > 0 ? fdopen(out[0], "r") : nullptr;
  std::vector<double> values(static_cast<size_t>(count));
  for (double& value : values) {
    if (child == nullptr || std::fscanf(child, "%lf", &value) != 1) {
      std::fprintf(stderr, "trainmem_bench_tracer: a child run failed: %s\n", arguments.c_str());
      std::exit(1);
    }
  }
  std::fclose(child);
  waitpid(pid, nullptr, 0);
  return values;
}

std::string step_arguments(const trainmem::TrainingOptions& options) {
  return "--child-steps 1 --batch " + std::to_string(options.batch) + " --resolution " +
         std::to_string(options.resolution) + " --steps " + std::to_string(options.steps) + " --threads " +
         std::to_string(options.threads);
}

long minor_page_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// Two warm-up steps (one of each: first-touch allocations, oneDNN kernel selection, the tracer's first
// chunks), then `options.steps` measured ones. Traced steps run inside a TraceSession made and finished
// between steps, outside the steps' timing. Prints, per measured pair, the untraced and traced steps'
// seconds and page faults.
void measure_steps(trainmem::TrainingOptions options, bool steady_heap) {
  if (steady_heap) {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  }
  constexpr int64_t kWarmUpSteps = 2;
  const int64_t measured = options.steps;
  options.steps += kWarmUpSteps;
  // Pair q = steps 2q+1, 2q+2: even pairs trace their second step, odd pairs their first (U T T U U T ...).
  auto traced = [](int64_t step) { return ((step - 1) / 2) % 2 == 1 ? step % 2 == 1 : step % 2 == 0; };
  std::unique_ptr<TraceSession> session;
  std::vector<long> faults_at_start, faults_at_end;  // per step, outside the session's making and finishing
  options.on_step_start = [&](int64_t step) {
    if (step > 1) faults_at_end.push_back(minor_page_faults());
    if (traced(step) && !session) session = std::make_unique<TraceSession>(profile_options());
    if (!traced(step) && session) session.reset();
    faults_at_start.push_back(minor_page_faults());
  };
  const trainmem::TrainingResult result = trainmem::train_synthetic(options);
  faults_at_end.push_back(minor_page_faults());
  session.reset();
  auto seconds = [&](int64_t s) { return result.step_seconds[static_cast<size_t>(s - 1)]; };
  auto faults = [&](int64_t s) {
    return faults_at_end[static_cast<size_t>(s - 1)] - faults_at_start[static_cast<size_t>(s - 1)];
  };
  for (int64_t step = kWarmUpSteps + 1; step < kWarmUpSteps + measured; step += 2) {
    const int64_t untraced_step = traced(step) ? step + 1 : step, traced_step = traced(step) ? step : step + 1;
    std::printf("%.6f %.6f %ld %ld\n", seconds(untraced_step), seconds(traced_step), faults(untraced_step),
                faults(traced_step));
  }
}

struct Spread {
  double median, min, max;
};
Spread spread(const std::vector<double>& values) {
  return {median(values), *std::min_element(values.begin(), values.end()),
          *std::max_element(values.begin(), values.end())};
}

}  // namespace

int main(int argc, char** argv) {
  int pairs = 10'000, rounds = 60, processes = 8;
  bool child_pairs = false, child_steps = false, steady_heap = false;
  int count_only = 0;
  trainmem::TrainingOptions training;
  training.batch = 8;
  training.resolution = 64;
  training.steps = 40;
  for (int i = 1; i + 1 < argc; i += 2) {
    const long value = std::atol(argv[i + 1]);
    if (!std::strcmp(argv[i], "--pairs")) pairs = static_cast<int>(value);
    else if (!std::strcmp(argv[i], "--child-steps")) child_steps = value != 0;
    else if (!std::strcmp(argv[i], "--child-pairs")) child_pairs = value != 0;
    else if (!std::strcmp(argv[i], "--rounds")) rounds = static_cast<int>(value);
    else if (!std::strcmp(argv[i], "--processes")) processes = static_cast<int>(value);
    else if (!std::strcmp(argv[i], "--batch")) training.batch = value;
    else if (!std::strcmp(argv[i], "--resolution")) training.resolution = value;
    else if (!std::strcmp(argv[i], "--steps")) training.steps = value;
    else if (!std::strcmp(argv[i], "--threads")) training.threads = static_cast<int>(value);
    else if (!std::strcmp(argv[i], "--steady-heap")) steady_heap = value != 0;
    else if (!std::strcmp(argv[i], "--count-pairs")) count_only = static_cast<int>(value);
    else {
      std::fprintf(stderr, "trainmem_bench_tracer: unknown option %s\n", argv[i]);
      return 2;
    }
  }

  if (count_only > 0) {
    count_pairs(count_only, rounds);
    return 0;
  }
  if (child_pairs) {
    measure_pairs(pairs, rounds);
    return 0;
  }
  if (child_steps) {
    measure_steps(training, steady_heap);
    return 0;
  }
  if (training.steps < 2 || training.steps % 2 != 0) {
    std::fprintf(stderr, "trainmem_bench_tracer: --steps must be even and at least 2\n");
    return 2;
  }

  std::vector<double> raw_ns, traced_ns, intercepted_ns, added_ns, intercept_added_ns;
  const std::string pair_arguments =
      "--child-pairs 1 --pairs " + std::to_string(pairs) + " --rounds " + std::to_string(rounds);
  for (int p = 0; p < processes; ++p) {
    const std::vector<double> ns = run_child(argv[0], pair_arguments, 5);
    raw_ns.push_back(ns[0]);
    traced_ns.push_back(ns[1]);
    intercepted_ns.push_back(ns[2]);
    added_ns.push_back(ns[3]);
    intercept_added_ns.push_back(ns[4]);
  }
  std::printf("alloc+free pair, sizes 64 B..64 KiB, thread CPU time, %d processes x %d rounds x %d pairs, "
              "alternating:\n",
              processes, rounds, pairs);
  std::printf("  raw LibTorch CPU allocator  %7.1f ns\n", median(raw_ns));
  std::printf("  intercepted, not recording  %7.1f ns (%+.1f ns)\n", median(intercepted_ns),
              median(intercept_added_ns));
  std::printf("  through the tracer          %7.1f ns\n", median(traced_ns));
  const Spread added = spread(added_ns);
  std::printf("  added by tracing            %7.1f ns per pair (per process: %.1f .. %.1f)\n", added.median, added.min,
              added.max);

  std::printf("%s training step, batch %lld, %lldpx, %s threads, %d processes x %lld steps%s, tracer on for one "
              "step of each pair:\n",
              training.model.c_str(), static_cast<long long>(training.batch),
              static_cast<long long>(training.resolution),
              training.threads > 0 ? std::to_string(training.threads).c_str() : "default", processes,
              static_cast<long long>(training.steps), steady_heap ? ", steady heap" : "");
  std::vector<double> all_ratios, process_ratios, untraced_seconds, traced_seconds, untraced_faults, traced_faults;
  std::string arguments = step_arguments(training) + (steady_heap ? " --steady-heap 1" : "");
  for (int p = 0; p < processes; ++p) {
    const size_t padding = static_cast<size_t>(p) * 37 % 64;
    const std::vector<double> values = run_child(argv[0], arguments, static_cast<int>(training.steps) * 2, padding);
    std::vector<double> ratios;
    for (size_t i = 0; i + 3 < values.size(); i += 4) {
      untraced_seconds.push_back(values[i]);
      traced_seconds.push_back(values[i + 1]);
      untraced_faults.push_back(values[i + 2]);
      traced_faults.push_back(values[i + 3]);
      ratios.push_back(values[i + 1] / values[i]);
    }
    process_ratios.push_back(median(ratios));
    std::printf("  process %d, argv[0] + %2zu bytes: traced/untraced median %.3f\n", p + 1, padding, median(ratios));
    all_ratios.insert(all_ratios.end(), ratios.begin(), ratios.end());
  }
  const Spread u = spread(untraced_seconds), t = spread(traced_seconds), per_process = spread(process_ratios);
  double untraced_sum = 0, traced_sum = 0;
  for (size_t i = 0; i < untraced_seconds.size(); ++i) untraced_sum += untraced_seconds[i], traced_sum += traced_seconds[i];
  std::printf("  step wall time   untraced %.4f s (%.4f .. %.4f), traced %.4f s (%.4f .. %.4f)\n", u.median, u.min,
              u.max, t.median, t.min, t.max);
  std::printf("  page faults      untraced %.0f per step, traced %.0f (medians)\n", median(untraced_faults),
              median(traced_faults));
  std::printf("  traced/untraced  median of %zu pairs %.3f (per process: %.3f .. %.3f), ratio of sums %.3f\n",
              all_ratios.size(), median(all_ratios), per_process.min, per_process.max, traced_sum / untraced_sum);
  return 0;
}
