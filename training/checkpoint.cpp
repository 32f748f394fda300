#include "training/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <mutex>
#include <sstream>

#include "reports/errors.h"
#include "reports/output_dir.h"
#include "tracer/cpu_allocator.h"

namespace trainmem {
namespace {

constexpr int kVersion = 1;

// The settings a resumed run must share with the run it continues, by the flag that sets them. The epoch count
// is not one of them: a resume may extend the training.
nlohmann::ordered_json settings(const LockstepTraining& training) {
  const EpochTrainingOptions& options = training.options();
  nlohmann::ordered_json configurations = nlohmann::ordered_json::array();
  for (const auto& configuration : training.configurations()) {
    configurations.push_back(configuration.policy.spec + " (" +
                             std::string(compression::to_string(configuration.policy.mode)) + ")");
  }
  return {{"--dataset", training.dataset().name},
          {"--model", options.training.model},
          {"--batch", options.training.batch},
          {"--resolution", options.training.resolution},
          {"--optimizer", options.training.optimizer},
          {"--lr", options.learning_rate},
          {"--seed", options.training.seed},
          {"--limit-batches", options.limit_batches},
          {"--compress/--lockstep", configurations}};
}

nlohmann::ordered_json curve_json(const std::vector<EpochMetrics>& curve) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const auto& m : curve) {
    rows.push_back({m.epoch, m.train_loss, m.test_loss, m.test_top1, m.test_top5, m.seconds, m.data_checksum});
  }
  return rows;
}

std::vector<EpochMetrics> read_curve(const nlohmann::ordered_json& rows) {
  std::vector<EpochMetrics> curve;
  for (const auto& row : rows) {
    curve.push_back({row.at(0).get<int64_t>(), row.at(1).get<double>(), row.at(2).get<double>(),
                     row.at(3).get<double>(), row.at(4).get<double>(), row.at(5).get<double>(),
                     row.at(6).get<uint64_t>()});
  }
  return curve;
}

std::string key(size_t configuration, const char* part) {
  return "configuration" + std::to_string(configuration) + "." + part;
}

// Runs `read`, turning LibTorch's and the JSON parser's errors into one InputError that names the file.
template <class Read>
void read_checkpoint(const std::filesystem::path& path, Read read) {
  try {
    read();
  } catch (const c10::Error& e) {
    const std::string message = e.what_without_backtrace();
    throw InputError("checkpoint " + path.string() + " is unreadable: " + message.substr(0, message.find('\n')));
  } catch (const nlohmann::json::exception& e) {
    throw InputError("checkpoint " + path.string() + " is unreadable: " + e.what());
  }
}

// Tensors read from a checkpoint share the archive's storage, allocated before any configuration's memory
// account was charged. Copies made under the charge make what a resumed configuration holds its own.
void take_own_copies(TrainableModel& trainable) {
  torch::NoGradGuard no_grad;
  for (at::Tensor& tensor : trainable.model->parameters()) tensor.set_(tensor.clone());
  for (at::Tensor& tensor : trainable.model->buffers()) tensor.set_(tensor.clone());
  const auto copy = [](const at::Tensor& tensor) { return tensor.defined() ? tensor.clone() : tensor; };
  for (auto& [key, state] : trainable.optimizer->state()) {
    if (auto* sgd = dynamic_cast<torch::optim::SGDParamState*>(state.get())) {
      sgd->momentum_buffer(copy(sgd->momentum_buffer()));
    } else if (auto* adam = dynamic_cast<torch::optim::AdamParamState*>(state.get())) {
      adam->exp_avg(copy(adam->exp_avg()));
      adam->exp_avg_sq(copy(adam->exp_avg_sq()));
      adam->max_exp_avg_sq(copy(adam->max_exp_avg_sq()));
    }
  }
}

}  // namespace

void save_checkpoint(const std::filesystem::path& path, const LockstepTraining& training) {
  torch::serialize::OutputArchive archive;
  nlohmann::ordered_json curves = nlohmann::ordered_json::array();
  const auto& configurations = training.configurations();
  for (size_t c = 0; c < configurations.size(); ++c) {
    torch::serialize::OutputArchive model, optimizer;
    configurations[c].trainable.model->save(model);
    configurations[c].trainable.optimizer->save(optimizer);
    archive.write(key(c, "model"), model);
    archive.write(key(c, "optimizer"), optimizer);
    curves.push_back(curve_json(configurations[c].curve));
  }
  const nlohmann::ordered_json state = {{"format", "trainmem-checkpoint"},
                                        {"version", kVersion},
                                        {"settings", settings(training)},
                                        {"curves", curves}};
  archive.write("state", c10::IValue(state.dump()));
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  {
    std::lock_guard<std::mutex> lock(generator.mutex());
    archive.write("generator", generator.get_state(), /*is_buffer=*/true);
  }
  std::ostringstream bytes;
  archive.save_to(bytes);
  write_file_atomically(path, bytes.view());
}

void load_checkpoint(const std::filesystem::path& path, LockstepTraining& training) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    throw InputError("no checkpoint to resume: " + path.string() + " does not exist");
  }
  torch::serialize::InputArchive archive;
  nlohmann::ordered_json state;
  read_checkpoint(path, [&] {
    archive.load_from(path.string());
    c10::IValue text;
    archive.read("state", text);
    state = nlohmann::ordered_json::parse(text.toStringRef());
  });
  if (!state.is_object() || state.value("format", "") != "trainmem-checkpoint" || state.value("version", 0) != kVersion) {
    throw InputError(path.string() + " is not a trainmem checkpoint of version " + std::to_string(kVersion));
  }
  const nlohmann::ordered_json expected = settings(training);
  for (const auto& [flag, value] : expected.items()) {
    const nlohmann::ordered_json& saved = state["settings"][flag];
    if (saved != value) {
      throw InputError("checkpoint " + path.string() + " was saved with " + flag + " " + saved.dump() + ", not " +
                       value.dump() + ": resume with the settings it was saved with");
    }
  }
  read_checkpoint(path, [&] {
    auto& configurations = training.configurations();
    for (size_t c = 0; c < configurations.size(); ++c) {
      torch::serialize::InputArchive model, optimizer;
      archive.read(key(c, "model"), model);
      archive.read(key(c, "optimizer"), optimizer);
      configurations[c].trainable.model->load(model);
      configurations[c].trainable.optimizer->load(optimizer);
      configurations[c].curve = read_curve(state["curves"].at(c));
    }
    at::Tensor generator_state;
    archive.read("generator", generator_state, /*is_buffer=*/true);
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(generator_state);
  });
  // Outside read_checkpoint: a budget's out-of-memory here is not an unreadable checkpoint.
  for (auto& configuration : training.configurations()) {
    ChargeScope charge(configuration.account);
    take_own_copies(configuration.trainable);
  }
}

}  // namespace trainmem
