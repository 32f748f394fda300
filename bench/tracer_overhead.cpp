// Tracer overhead, measured side by side in one run:
//  1. nanoseconds added per alloc+free pair: LibTorch's CPU allocator alone vs. through the tracer;
//  2. traced / untraced step time of a small resnet18 training step.
// Usage: trainmem_bench_tracer [--pairs N] [--rounds R] [--batch B] [--resolution PX] [--steps S]
#include <c10/core/CPUAllocator.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

// Mean ns of one allocate + free of `bytes` through `allocator`.
double ns_per_pair(c10::Allocator* allocator, int pairs, size_t bytes) {
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < pairs; ++i) {
    c10::DataPtr block = allocator->allocate(bytes);
    asm volatile("" : : "r"(block.get()) : "memory");  // keep the pair from being optimized away
  }
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / pairs;
}

double step_seconds(const trainmem::TrainingOptions& options) {
  return trainmem::steady_step_seconds(trainmem::train_synthetic(options));
}

}  // namespace

int main(int argc, char** argv) {
  int pairs = 1'000'000, rounds = 5;
  trainmem::TrainingOptions training;
  training.batch = 8;
  training.resolution = 64;
  training.steps = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    const long value = std::atol(argv[i + 1]);
    if (!std::strcmp(argv[i], "--pairs")) pairs = static_cast<int>(value);
    else if (!std::strcmp(argv[i], "--rounds")) rounds = static_cast<int>(value);
    else if (!std::strcmp(argv[i], "--batch")) training.batch = value;
    else if (!std::strcmp(argv[i], "--resolution")) training.resolution = value;
    else if (!std::strcmp(argv[i], "--steps")) training.steps = value;
    else {
      std::fprintf(stderr, "trainmem_bench_tracer: unknown option %s\n", argv[i]);
      return 2;
    }
  }

  // Rounds alternate raw and traced, so drift of the machine hits both alike.
  std::vector<double> raw_ns, intercepted_ns, traced_ns, untraced_step, traced_step;
  c10::Allocator* raw = c10::GetCPUAllocator();
  for (int round = 0; round < rounds; ++round) {
    raw_ns.push_back(ns_per_pair(raw, pairs, 4096));
    {
      TraceSession session;
      traced_ns.push_back(ns_per_pair(c10::GetCPUAllocator(), pairs, 4096));
      trainmem::Recorder::instance().stop();  // still intercepted, no longer recorded
      intercepted_ns.push_back(ns_per_pair(c10::GetCPUAllocator(), pairs, 4096));
    }
    untraced_step.push_back(step_seconds(training));
    {
      TraceSession session;
      traced_step.push_back(step_seconds(training));
    }
  }
  const double raw_pair = median(raw_ns), traced_pair = median(traced_ns);
  std::printf("alloc+free pair, 4 KiB, median of %d rounds x %d pairs:\n", rounds, pairs);
  std::printf("  raw LibTorch CPU allocator  %7.1f ns\n", raw_pair);
  std::printf("  intercepted, not recording  %7.1f ns\n", median(intercepted_ns));
  std::printf("  through the tracer          %7.1f ns\n", traced_pair);
  std::printf("  added by tracing            %7.1f ns per pair\n", traced_pair - raw_pair);
  const double untraced = median(untraced_step), traced = median(traced_step);
  std::printf("%s training step, batch %lld, %lldpx, median of %d rounds:\n", training.model.c_str(),
              static_cast<long long>(training.batch), static_cast<long long>(training.resolution), rounds);
  std::printf("  untraced %.4f s, traced %.4f s, ratio %.3f\n", untraced, traced, traced / untraced);
  return 0;
}
