// Tracer overhead, measured side by side in one run:
//  1. nanoseconds added per alloc+free pair: LibTorch's CPU allocator alone vs. through the tracer;
//  2. traced / untraced step time of a small resnet18 training step.
// Usage: trainmem_bench_tracer [--pairs N] [--rounds R] [--processes K] [--batch B] [--resolution PX] [--steps S]
//                              [--threads T]
//
// Everything runs in fresh child processes: within one process, later training runs are slower than
// earlier ones (allocator heap state), and one process's heap layout can favour a configuration by ~10 ns
// per pair, more than some of the effects measured.
// - Pairs: each of K processes runs R rounds of raw, traced and intercepted-not-recording blocks of N
//   pairs, timed by the thread's CPU clock (the machine may be shared: time spent preempted is not the
//   tracer's). Per process the medians over rounds; reported, the median over processes and the spread.
// - Steps: R rounds of one untraced and one traced process, in alternating order (ABBA), so that drift of
//   the machine hits both alike. Reported, the median of the rounds' traced/untraced ratios and their spread,
//   for the steady step's wall time (the target) and for the CPU time of the process's whole training run
//   (init and every step: less exposed to other load on a shared machine, but it counts threads spinning).
#include <c10/core/CPUAllocator.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "tracer/session.h"
#include "training/synthetic_training.h"

namespace {

using trainmem::TraceSession;

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

// One process's medians: raw, traced, intercepted-not-recording ns per pair.
void measure_pairs(int pairs, int rounds) {
  std::vector<double> raw_ns, traced_ns, intercepted_ns;
  c10::Allocator* raw = c10::GetCPUAllocator();
  for (int round = 0; round < rounds; ++round) {
    raw_ns.push_back(ns_per_pair(raw, pairs));
    TraceSession session;
    traced_ns.push_back(ns_per_pair(c10::GetCPUAllocator(), pairs));
    trainmem::Recorder::instance().stop();  // still intercepted, no longer recorded
    intercepted_ns.push_back(ns_per_pair(c10::GetCPUAllocator(), pairs));
  }
  std::printf("%.3f %.3f %.3f\n", median(raw_ns), median(traced_ns), median(intercepted_ns));
}

// Runs `arguments` in a fresh process of this binary and reads `count` numbers from its output.
std::vector<double> run_child(const char* self, const std::string& arguments, int count) {
  FILE* child = popen((std::string(self) + " " + arguments).c_str(), "r");
  std::vector<double> values(static_cast<size_t>(count));
  for (double& value : values) {
    if (child == nullptr || std::fscanf(child, "%lf", &value) != 1) {
      std::fprintf(stderr, "trainmem_bench_tracer: a child run failed: %s\n", arguments.c_str());
      std::exit(1);
    }
  }
  pclose(child);
  return values;
}

std::string step_arguments(const trainmem::TrainingOptions& options, bool traced) {
  return std::string("--child-step ") + (traced ? "1" : "0") + " --batch " + std::to_string(options.batch) +
         " --resolution " + std::to_string(options.resolution) + " --steps " + std::to_string(options.steps) +
         " --threads " + std::to_string(options.threads);
}

double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
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
  int pairs = 1'000'000, rounds = 5, processes = 5, child_step = -1;
  bool child_pairs = false;
  trainmem::TrainingOptions training;
  training.batch = 8;
  training.resolution = 64;
  training.steps = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    const long value = std::atol(argv[i + 1]);
    if (!std::strcmp(argv[i], "--pairs")) pairs = static_cast<int>(value);
    else if (!std::strcmp(argv[i], "--child-step")) child_step = static_cast<int>(value);
    else if (!std::strcmp(argv[i], "--child-pairs")) child_pairs = value != 0;
    else if (!std::strcmp(argv[i], "--rounds")) rounds = static_cast<int>(value);
    else if (!std::strcmp(argv[i], "--processes")) processes = static_cast<int>(value);
    else if (!std::strcmp(argv[i], "--batch")) training.batch = value;
    else if (!std::strcmp(argv[i], "--resolution")) training.resolution = value;
    else if (!std::strcmp(argv[i], "--steps")) training.steps = value;
    else if (!std::strcmp(argv[i], "--threads")) training.threads = static_cast<int>(value);
    else {
      std::fprintf(stderr, "trainmem_bench_tracer: unknown option %s\n", argv[i]);
      return 2;
    }
  }

  if (child_pairs) {
    measure_pairs(pairs, rounds);
    return 0;
  }
  if (child_step >= 0) {
    std::unique_ptr<TraceSession> session;
    if (child_step == 1) session = std::make_unique<TraceSession>();
    const double cpu_start = process_cpu_seconds();
    const double step_seconds = trainmem::steady_step_seconds(trainmem::train_synthetic(training));
    std::printf("%.6f %.6f\n", step_seconds, process_cpu_seconds() - cpu_start);
    return 0;
  }

  std::vector<double> raw_ns, traced_ns, intercepted_ns, added_ns;
  const std::string pair_arguments =
      "--child-pairs 1 --pairs " + std::to_string(pairs) + " --rounds " + std::to_string(rounds);
  for (int p = 0; p < processes; ++p) {
    const std::vector<double> ns = run_child(argv[0], pair_arguments, 3);
    raw_ns.push_back(ns[0]);
    traced_ns.push_back(ns[1]);
    intercepted_ns.push_back(ns[2]);
    added_ns.push_back(ns[1] - ns[0]);
  }
  std::printf("alloc+free pair, sizes 64 B..64 KiB, thread CPU time, median of %d processes x %d rounds x %d pairs:\n",
              processes, rounds, pairs);
  std::printf("  raw LibTorch CPU allocator  %7.1f ns\n", median(raw_ns));
  std::printf("  intercepted, not recording  %7.1f ns\n", median(intercepted_ns));
  std::printf("  through the tracer          %7.1f ns\n", median(traced_ns));
  const Spread added = spread(added_ns);
  std::printf("  added by tracing            %7.1f ns per pair (per process: %.1f .. %.1f)\n", added.median, added.min,
              added.max);

  // [0]: steady step wall seconds, [1]: CPU seconds of the training run; per configuration and their ratio.
  std::vector<double> untraced[2], traced[2], ratios[2];
  for (int round = 0; round < rounds; ++round) {
    const bool traced_first = round % 2 == 1;  // U T, T U, U T, ...
    const std::vector<double> first = run_child(argv[0], step_arguments(training, traced_first), 2);
    const std::vector<double> second = run_child(argv[0], step_arguments(training, !traced_first), 2);
    for (int m = 0; m < 2; ++m) {
      untraced[m].push_back(traced_first ? second[m] : first[m]);
      traced[m].push_back(traced_first ? first[m] : second[m]);
      ratios[m].push_back(traced[m].back() / untraced[m].back());
    }
  }
  std::printf("%s training step, batch %lld, %lldpx, %s threads, %d rounds of an untraced and a traced fresh process:\n",
              training.model.c_str(), static_cast<long long>(training.batch),
              static_cast<long long>(training.resolution),
              training.threads > 0 ? std::to_string(training.threads).c_str() : "default", rounds);
  const char* names[2] = {"steady step wall time ", "training run CPU time "};
  for (int m = 0; m < 2; ++m) {
    const Spread u = spread(untraced[m]), t = spread(traced[m]), r = spread(ratios[m]);
    std::printf("  %s untraced %.4f s (%.4f .. %.4f), traced %.4f s (%.4f .. %.4f)\n", names[m], u.median, u.min,
                u.max, t.median, t.min, t.max);
    std::printf("  %s traced/untraced: median of rounds %.3f (%.3f .. %.3f), ratio of medians %.3f\n", names[m],
                r.median, r.min, r.max, t.median / u.median);
  }
  return 0;
}
