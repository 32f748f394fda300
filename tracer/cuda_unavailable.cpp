// CUDA entry points for a LibTorch built without CUDA: probing says why, the rest is never reached.
#include <stdexcept>

#include "tracer/cuda_allocator.h"
#include "tracer/cuda_devices.h"

namespace trainmem {

CudaStatus probe_cuda() {
  CudaStatus status;
  status.reason = "this LibTorch was built without CUDA (CPU-only)";
  return status;
}

void install_cuda_allocator_tracing() { throw std::logic_error("CUDA tracing in a CPU-only build"); }
void set_cuda_memory_limit(int, int64_t) { throw std::logic_error("CUDA tracing in a CPU-only build"); }
void reset_cuda_allocator(int) { throw std::logic_error("CUDA tracing in a CPU-only build"); }
CudaAllocatorStats cuda_allocator_stats(int) { throw std::logic_error("CUDA tracing in a CPU-only build"); }

}  // namespace trainmem
