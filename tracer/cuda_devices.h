#pragma once
// What this process can do with CUDA, and why not when it can't: a LibTorch without CUDA, no driver, a driver
// too old for the runtime, no device. Safe to call on any machine.
#include <cstdint>
#include <string>
#include <vector>

namespace trainmem {

struct CudaDeviceInfo {
  int index = 0;
  std::string name;
  int64_t total_bytes = 0;
  int compute_major = 0;
  int compute_minor = 0;
  int multiprocessors = 0;
};

struct CudaStatus {
  bool torch_cuda = false;   // this LibTorch was built with CUDA
  bool available = false;    // at least one device can be used
  std::string reason;        // why not, in one line ("" when available)
  int runtime_version = 0;   // CUDA runtime, e.g. 13000
  int driver_version = 0;    // 0 without a driver
  std::vector<CudaDeviceInfo> devices;
};

CudaStatus probe_cuda();

}  // namespace trainmem
