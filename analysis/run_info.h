#pragma once
// What the training loop knows about a run besides its events: settings and the model's module table.
// Saved as run.json beside events.csv.
#include <cstdint>
#include <string>
#include <vector>

namespace trainmem {

struct ModuleInfo {
  std::string name;                  // torchvision path, e.g. "layer2.0.conv1"
  std::string type;                  // e.g. "Conv2d", "BasicBlock"
  int64_t weight_bytes = 0;          // bytes of the module's own parameters (not its children's)
  std::vector<int64_t> input_shape;  // first tensor argument of its forward, empty if never called
  int64_t input_bytes = 0;           // that tensor's bytes
  bool operator==(const ModuleInfo&) const = default;
};

struct RunInfo {
  std::string model;
  int64_t batch = 0;
  int64_t resolution = 0;
  int64_t steps = 0;
  std::string optimizer;
  uint64_t seed = 0;
  int threads = 0;
  std::string device = "cpu";
  int64_t parameter_count = 0;
  int64_t parameter_bytes = 0;  // parameter_count x element size, from the model itself
  std::vector<ModuleInfo> modules;  // in registration order
  bool operator==(const RunInfo&) const = default;
};

}  // namespace trainmem
