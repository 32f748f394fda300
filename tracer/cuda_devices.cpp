#include "tracer/cuda_devices.h"

#include <cuda_runtime_api.h>
#include <dlfcn.h>

namespace trainmem {

CudaStatus probe_cuda() {
  CudaStatus status;
  status.torch_cuda = true;
  cudaRuntimeGetVersion(&status.runtime_version);
  // The runtime's own error for a missing driver reads "insufficient driver": say plainly what is missing.
  if (void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL); driver == nullptr) {
    status.reason = "no CUDA driver (libcuda.so.1 cannot be loaded)";
    return status;
  } else {
    dlclose(driver);
  }
  cudaDriverGetVersion(&status.driver_version);
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error == cudaErrorNoDevice || (error == cudaSuccess && count == 0)) {
    status.reason = "no CUDA device (the driver found none)";
    return status;
  }
  if (error != cudaSuccess) {
    status.reason = std::string("CUDA cannot start: ") + cudaGetErrorString(error) + " (driver " +
                    std::to_string(status.driver_version) + ", runtime " + std::to_string(status.runtime_version) + ")";
    return status;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp properties{};
    if (cudaGetDeviceProperties(&properties, i) != cudaSuccess) continue;
    status.devices.push_back({i, properties.name, static_cast<int64_t>(properties.totalGlobalMem), properties.major,
                              properties.minor, properties.multiProcessorCount});
  }
  status.available = !status.devices.empty();
  if (!status.available) status.reason = "no CUDA device could be queried";
  return status;
}

}  // namespace trainmem
