// `trainmem devices`: what this machine and this build can profile — the CPU, LibTorch and its build flags,
// CUPTI, and the CUDA devices, or why there are none.
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <nlohmann/json.hpp>
#include <torch/version.h>

#include <iostream>
#include <thread>

#include "cmd/cli_errors.h"
#include "cmd/commands.h"
#include "tracer/cuda_devices.h"
#include "tracer/cupti_memory_tracer.h"

namespace trainmem::cli {
namespace {

nlohmann::ordered_json devices_json(const CudaStatus& cuda) {
  nlohmann::ordered_json devices = nlohmann::ordered_json::array();
  for (const CudaDeviceInfo& d : cuda.devices) {
    devices.push_back({{"index", d.index},
                       {"name", d.name},
                       {"total_bytes", d.total_bytes},
                       {"compute_capability", std::to_string(d.compute_major) + "." + std::to_string(d.compute_minor)},
                       {"multiprocessors", d.multiprocessors}});
  }
  return {{"cpu", {{"threads", at::get_num_threads()}, {"hardware_threads", std::thread::hardware_concurrency()}}},
          {"libtorch",
           {{"version", TORCH_VERSION},
            {"cuda", cuda.torch_cuda},
            {"openmp", at::hasOpenMP()},
            {"mkl", at::hasMKL()},
            {"mkldnn", at::hasMKLDNN()},
            {"cxx11_abi", _GLIBCXX_USE_CXX11_ABI == 1},
            {"build_config", at::show_config()}}},
          {"cupti", {{"compiled", cupti_compiled()}, {"version", cupti_version()}}},
          {"cuda",
           {{"available", cuda.available},
            {"reason", cuda.reason},
            {"runtime_version", cuda.runtime_version},
            {"driver_version", cuda.driver_version},
            {"devices", std::move(devices)}}}};
}

std::string yes_no(bool value) { return value ? "yes" : "no"; }

std::string cuda_version(int version) {
  return std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
}

void print_devices(const CudaStatus& cuda) {
  std::cout << "CPU: " << at::get_num_threads() << " LibTorch threads, " << std::thread::hardware_concurrency()
            << " hardware threads\n";
  std::cout << "LibTorch " << TORCH_VERSION << ": CUDA " << yes_no(cuda.torch_cuda) << ", OpenMP "
            << yes_no(at::hasOpenMP()) << ", MKL " << yes_no(at::hasMKL()) << ", oneDNN " << yes_no(at::hasMKLDNN())
            << ", C++11 ABI " << yes_no(_GLIBCXX_USE_CXX11_ABI == 1) << "\n";
  if (cupti_compiled()) {
    std::cout << "CUPTI: compiled, version " << cupti_version() << "\n";
  } else {
    std::cout << "CUPTI: not compiled (CUDA toolkit not found at build time)\n";
  }
  if (cuda.runtime_version > 0) {
    std::cout << "CUDA runtime " << cuda_version(cuda.runtime_version);
    if (cuda.driver_version > 0) std::cout << ", driver " << cuda_version(cuda.driver_version);
    std::cout << "\n";
  }
  if (!cuda.available) {
    std::cout << "CUDA devices: none: " << cuda.reason << "\n";
    return;
  }
  for (const CudaDeviceInfo& d : cuda.devices) {
    std::cout << "cuda:" << d.index << ": " << d.name << ", " << d.total_bytes / (1 << 20) << " MiB, compute "
              << d.compute_major << "." << d.compute_minor << ", " << d.multiprocessors << " multiprocessors\n";
  }
}

int run_devices(bool as_json) {
  const CudaStatus cuda = probe_cuda();
  if (as_json) {
    std::cout << devices_json(cuda).dump(2) << "\n";
  } else {
    print_devices(cuda);
  }
  return kOk;
}

}  // namespace

void add_devices_command(CLI::App& app, Action& action) {
  auto as_json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("devices", "What this machine and build can profile: CPU, LibTorch, CUPTI, CUDA");
  cmd->add_flag("--json", *as_json, "Print JSON");
  cmd->callback([as_json, &action] { action = [as_json] { return run_devices(*as_json); }; });
}

}  // namespace trainmem::cli
