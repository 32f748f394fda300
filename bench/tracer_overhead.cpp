// Tracer overhead, measured side by side in one run:
//  1. nanoseconds added per alloc+free pair: LibTorch's CPU allocator alone vs. through the tracer;
//  2. traced / untraced step time of a small resnet18 training step.
// Usage: trainmem_bench_tracer [--pairs N] [--rounds R] [--batch B] [--resolution PX] [--steps S]
//
// The step times come from fresh processes, alternating untraced and traced: within one process, later
// training runs are slower than earlier ones (allocator heap state), by more than the effect measured.
#include <c10/core/CPUAllocator.h>

#include <algorithm>
#include <chrono>
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

// Sizes cycled through: one size alone measures glibc's handling of that size class more than the tracer.
constexpr size_t kSizes[] = {64, 256, 1024, 4096, 16384, 65536, 100, 3000};
constexpr size_t kSizeCount = sizeof(kSizes) / sizeof(kSizes[0]);

// Mean ns of one allocate + free through `allocator`, sizes cycling through kSizes.
double ns_per_pair(c10::Allocator* allocator, int pairs) {
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < pairs; ++i) {
    c10::DataPtr block = allocator->allocate(kSizes[i % kSizeCount]);
    asm volatile("" : : "r"(block.get()) : "memory");  // keep the pair from being optimized away
  }
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / pairs;
}

std::string step_command(const char* self, const trainmem::TrainingOptions& options, bool traced) {
  return std::string(self) + " --child " + (traced ? "1" : "0") + " --batch " + std::to_string(options.batch) +
         " --resolution " + std::to_string(options.resolution) + " --steps " + std::to_string(options.steps);
}

// Steady step seconds of a training run in a fresh process.
double step_seconds_in_child(const char* self, const trainmem::TrainingOptions& options, bool traced) {
  FILE* child = popen(step_command(self, options, traced).c_str(), "r");
  double seconds = 0;
  if (child == nullptr || std::fscanf(child, "%lf", &seconds) != 1) {
    std::fprintf(stderr, "trainmem_bench_tracer: a child run failed\n");
    std::exit(1);
  }
  pclose(child);
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  int pairs = 1'000'000, rounds = 5, child = -1;
  trainmem::TrainingOptions training;
  training.batch = 8;
  training.resolution = 64;
  training.steps = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    const long value = std::atol(argv[i + 1]);
    if (!std::strcmp(argv[i], "--pairs")) pairs = static_cast<int>(value);
    else if (!std::strcmp(argv[i], "--child")) child = static_cast<int>(value);
    else if (!std::strcmp(argv[i], "--rounds")) rounds = static_cast<int>(value);
    else if (!std::strcmp(argv[i], "--batch")) training.batch = value;
    else if (!std::strcmp(argv[i], "--resolution")) training.resolution = value;
    else if (!std::strcmp(argv[i], "--steps")) training.steps = value;
    else {
      std::fprintf(stderr, "trainmem_bench_tracer: unknown option %s\n", argv[i]);
      return 2;
    }
  }

  if (child >= 0) {
    std::unique_ptr<TraceSession> session;
    if (child == 1) session = std::make_unique<TraceSession>();
    std::printf("%.6f\n", trainmem::steady_step_seconds(trainmem::train_synthetic(training)));
    return 0;
  }

  // Each round measures every configuration, so drift of the machine hits all alike.
  std::vector<double> raw_ns, intercepted_ns, traced_ns, untraced_step, traced_step;
  c10::Allocator* raw = c10::GetCPUAllocator();
  for (int round = 0; round < rounds; ++round) {
    raw_ns.push_back(ns_per_pair(raw, pairs));
    {
      TraceSession session;
      traced_ns.push_back(ns_per_pair(c10::GetCPUAllocator(), pairs));
      trainmem::Recorder::instance().stop();  // still intercepted, no longer recorded
      intercepted_ns.push_back(ns_per_pair(c10::GetCPUAllocator(), pairs));
    }
    untraced_step.push_back(step_seconds_in_child(argv[0], training, false));
    traced_step.push_back(step_seconds_in_child(argv[0], training, true));
  }
  const double raw_pair = median(raw_ns), traced_pair = median(traced_ns);
  std::printf("alloc+free pair, sizes 64 B..64 KiB, median of %d rounds x %d pairs:\n", rounds, pairs);
  std::printf("  raw LibTorch CPU allocator  %7.1f ns\n", raw_pair);
  std::printf("  intercepted, not recording  %7.1f ns\n", median(intercepted_ns));
  std::printf("  through the tracer          %7.1f ns\n", traced_pair);
  std::printf("  added by tracing            %7.1f ns per pair\n", traced_pair - raw_pair);
  const double untraced = median(untraced_step), traced = median(traced_step);
  std::printf("%s training step, batch %lld, %lldpx, median of %d fresh processes each:\n", training.model.c_str(),
              static_cast<long long>(training.batch), static_cast<long long>(training.resolution), rounds);
  std::printf("  untraced %.4f s, traced %.4f s, ratio %.3f\n", untraced, traced, traced / untraced);
  return 0;
}
