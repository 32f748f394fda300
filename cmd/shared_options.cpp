#include "cmd/shared_options.h"

#include <stdexcept>

#include "reports/units.h"

namespace trainmem::cli {

void add_model_options(CLI::App& command, TrainingOptions& options) {
  command.add_option("--model", options.model, "Model name (see `trainmem models`)")->capture_default_str();
  command.add_option("--batch", options.batch, "Batch size")->capture_default_str();
  command.add_option("--resolution", options.resolution, "Input image side in pixels")->capture_default_str();
  command.add_option("--seed", options.seed, "Seed of weights and synthetic data")->capture_default_str();
  command.add_option("--threads", options.threads, "CPU threads (0: LibTorch's default)")->capture_default_str();
}

void add_device_option(CLI::App& command, TrainingOptions& options) {
  command.add_option("--device", options.device, "cpu, cuda, cuda:N, or auto (CUDA if usable, else CPU)")
      ->capture_default_str();
}

void add_loop_options(CLI::App& command, TrainingOptions& options) {
  command.add_option("--steps", options.steps, "Training steps; reports cover the last")->capture_default_str();
  command.add_option("--optimizer", options.optimizer, "sgd (momentum 0.9) or adam")->capture_default_str();
}

namespace {

// An option whose value `apply` parses; a parse error (std::invalid_argument) is a command-line error.
template <class Apply>
void add_parsed_option(CLI::App& command, const std::string& name, Apply apply, const std::string& help) {
  command.add_option_function<std::string>(
      name,
      [name, apply](const std::string& text) {
        try {
          apply(text);
        } catch (const std::invalid_argument& e) {
          throw CLI::ValidationError(name, e.what());
        }
      },
      help);
}

}  // namespace

void add_budget_option(CLI::App& command, int64_t& budget_bytes) {
  add_parsed_option(
      command, "--budget", [&budget_bytes](const std::string& text) { budget_bytes = parse_bytes(text); },
      "Simulate a device with this much memory (e.g. 16GiB, 12000MiB): training stops, diagnosed, where live "
      "bytes would pass it");
}

void add_compress_mode_option(CLI::App& command, compression::CompressMode& mode) {
  add_parsed_option(
      command, "--compress-mode", [&mode](const std::string& text) { mode = compression::parse_compress_mode(text); },
      "full (ReLUs feeding compressed convs save a 1-bit mask, so the full tensor dies; default) or conv-only "
      "(the paper's operator alone)");
}

void add_compression_options(CLI::App& command, compression::CompressionPolicy& policy) {
  add_parsed_option(
      command, "--compress",
      [&policy](const std::string& spec) {
        const compression::CompressMode mode = policy.mode;  // --compress-mode may come first
        policy = compression::parse_compression(spec);
        policy.mode = mode;
      },
      "Pooled-activation compression: none, a kernel size for every conv but the stem (2, 4), per-layer "
      "rules \"layer1.*=4,layer4.*=2,conv1=0\", or a JSON file {\"pattern\": k}");
  add_compress_mode_option(command, policy.mode);
}

std::vector<compression::CompressionPolicy> parse_compression_list(const std::vector<std::string>& values,
                                                                   compression::CompressMode mode) {
  std::vector<compression::CompressionPolicy> policies;
  const auto add = [&](std::string_view spec) {
    policies.push_back(compression::parse_compression(spec));
    policies.back().mode = mode;
  };
  for (const std::string& value : values) {
    if (value.find('=') != std::string::npos) {
      add(value);
      continue;
    }
    for (size_t start = 0; start <= value.size();) {
      const size_t comma = std::min(value.find(',', start), value.size());
      add(std::string_view(value).substr(start, comma - start));
      start = comma + 1;
    }
  }
  return policies;
}

}  // namespace trainmem::cli
