#include "cmd/train_outputs.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "data/batches.h"
#include "reports/csv.h"
#include "training/training_step.h"

namespace trainmem::cli {
namespace {

// The shortest text that reads back as the same double: curves of a resumed and an uninterrupted run compare
// exactly.
std::string exact(double value) {
  std::array<char, 32> text;
  const auto end = std::to_chars(text.data(), text.data() + text.size(), value).ptr;
  return std::string(text.data(), end);
}

std::string hex(uint64_t value) {
  std::ostringstream out;
  out << std::hex << std::setw(16) << std::setfill('0') << value;
  return out.str();
}

// The configuration that compression is measured against: the first that compresses nothing, if any.
const TrainingConfiguration* baseline(const LockstepTraining& training) {
  for (const auto& configuration : training.configurations()) {
    if (!configuration.policy.compresses_anything()) return &configuration;
  }
  return nullptr;
}

// An axis from `low` to `high` in round steps: 1, 2 or 5 times a power of ten, about five of them.
struct Axis {
  double low = 0, high = 1, step = 1;
};
Axis round_axis(double low, double high) {
  if (high <= low) high = low + 1;
  const double rough = (high - low) / 5;
  const double power = std::pow(10.0, std::floor(std::log10(rough)));
  double step = power;
  for (double factor : {2.0, 5.0, 10.0}) {
    if (step < rough) step = factor * power;
  }
  return {std::floor(low / step) * step, std::ceil(high / step) * step, step};
}

std::string number(double value, int decimals) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(decimals) << value;
  return out.str();
}

constexpr std::array<const char*, 8> kColours{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                               "#9467bd", "#8c564b", "#e377c2", "#17becf"};

// One chart: a frame, round ticks, and a polyline per series (x: epochs, y: values).
class Chart {
 public:
  Chart(std::ostringstream& svg, double left, double top, double width, double height, int64_t epochs, Axis y)
      : svg_(svg), left_(left), top_(top), width_(width), height_(height), epochs_(std::max<int64_t>(epochs, 2)), y_(y) {}

  void frame(const std::string& title) {
    // As many decimals as the step needs: 0.05 gets two, 5 none.
    const int y_decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(y_.step) - 1e-9)));
    svg_ << "<text x=\"" << left_ + width_ / 2 << "\" y=\"" << top_ - 12 << "\" text-anchor=\"middle\" font-size=\"14\">"
         << title << "</text>\n";
    svg_ << "<rect x=\"" << left_ << "\" y=\"" << top_ << "\" width=\"" << width_ << "\" height=\"" << height_
         << "\" fill=\"none\" stroke=\"#444\"/>\n";
    for (double v = y_.low; v <= y_.high + y_.step / 2; v += y_.step) {
      const double y = y_at(v);
      svg_ << "<line x1=\"" << left_ << "\" x2=\"" << left_ + width_ << "\" y1=\"" << y << "\" y2=\"" << y
           << "\" stroke=\"#ddd\"/><text x=\"" << left_ - 6 << "\" y=\"" << y + 4
           << "\" text-anchor=\"end\" font-size=\"11\">" << number(v, y_decimals) << "</text>\n";
    }
    const int64_t every = std::max<int64_t>(1, (epochs_ + 9) / 10);
    for (int64_t epoch = 1; epoch <= epochs_; epoch += every) {
      svg_ << "<text x=\"" << x_at(epoch) << "\" y=\"" << top_ + height_ + 16
           << "\" text-anchor=\"middle\" font-size=\"11\">" << epoch << "</text>\n";
    }
    svg_ << "<text x=\"" << left_ + width_ / 2 << "\" y=\"" << top_ + height_ + 34
         << "\" text-anchor=\"middle\" font-size=\"12\">epoch</text>\n";
  }

  void series(const std::vector<std::pair<int64_t, double>>& points, const char* colour, bool dashed) {
    svg_ << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"2\""
         << (dashed ? " stroke-dasharray=\"6 4\"" : "") << " points=\"";
    for (const auto& [epoch, value] : points) svg_ << number(x_at(epoch), 1) << "," << number(y_at(value), 1) << " ";
    svg_ << "\"/>\n";
    for (const auto& [epoch, value] : points) {
      svg_ << "<circle cx=\"" << number(x_at(epoch), 1) << "\" cy=\"" << number(y_at(value), 1) << "\" r=\"3\" fill=\""
           << colour << "\"/>\n";
    }
  }

 private:
  double x_at(int64_t epoch) const { return left_ + width_ * static_cast<double>(epoch - 1) / static_cast<double>(epochs_ - 1); }
  double y_at(double value) const { return top_ + height_ * (1 - (value - y_.low) / (y_.high - y_.low)); }

  std::ostringstream& svg_;
  double left_, top_, width_, height_;
  int64_t epochs_;
  Axis y_;
};

}  // namespace

std::string curves_csv(const LockstepTraining& training) {
  std::string csv = "configuration,epoch,train_loss,test_loss,test_top1,test_top5,seconds,data_checksum\n";
  for (const auto& configuration : training.configurations()) {
    for (const auto& m : configuration.curve) {
      append_csv_field(csv, configuration.policy.spec);
      for (const std::string& field : {std::to_string(m.epoch), exact(m.train_loss), exact(m.test_loss),
                                       exact(m.test_top1), exact(m.test_top5), number(m.seconds, 3),
                                       hex(m.data_checksum)}) {
        csv += ',';
        csv += field;
      }
      csv += '\n';
    }
  }
  return csv;
}

std::string curves_svg(const LockstepTraining& training) {
  const auto& configurations = training.configurations();
  double max_loss = 0, min_top1 = 100, max_top1 = 0;
  for (const auto& configuration : configurations) {
    for (const auto& m : configuration.curve) {
      max_loss = std::max({max_loss, m.train_loss, m.test_loss});
      min_top1 = std::min(min_top1, 100 * m.test_top1);
      max_top1 = std::max(max_top1, 100 * m.test_top1);
    }
  }
  const Axis loss_axis = round_axis(0, max_loss);
  Axis top1_axis = round_axis(min_top1, max_top1);
  top1_axis.low = std::max(0.0, top1_axis.low);
  top1_axis.high = std::min(100.0, top1_axis.high);

  const EpochTrainingOptions& options = training.options();
  const double width = 900, height = 420, chart_width = 340, chart_height = 260, top = 70;
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" viewBox=\"0 0 " << width << " " << height << "\" font-family=\"sans-serif\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << width / 2 << "\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">" << options.training.model
      << " on " << training.dataset().name << ", batch " << options.training.batch << ", "
      << options.training.resolution << " px, " << options.training.optimizer << " lr "
      << exact(options.learning_rate > 0 ? options.learning_rate : default_learning_rate(options.training.optimizer))
      << ", " << training.train_batches() << " batches per epoch</text>\n";
  Chart loss(svg, 70, top, chart_width, chart_height, options.epochs, loss_axis);
  loss.frame("loss (train solid, test dashed)");
  Chart accuracy(svg, 520, top, chart_width, chart_height, options.epochs, top1_axis);
  accuracy.frame("test top-1 accuracy (%)");
  for (size_t c = 0; c < configurations.size(); ++c) {
    const char* colour = kColours[c % kColours.size()];
    std::vector<std::pair<int64_t, double>> train, test, top1;
    for (const auto& m : configurations[c].curve) {
      train.emplace_back(m.epoch, m.train_loss);
      test.emplace_back(m.epoch, m.test_loss);
      top1.emplace_back(m.epoch, 100 * m.test_top1);
    }
    loss.series(train, colour, false);
    loss.series(test, colour, true);
    accuracy.series(top1, colour, false);
    const double legend_x = 70 + 160 * static_cast<double>(c);
    svg << "<rect x=\"" << legend_x << "\" y=\"" << height - 36 << "\" width=\"14\" height=\"14\" fill=\"" << colour
        << "\"/><text x=\"" << legend_x + 20 << "\" y=\"" << height - 24 << "\" font-size=\"12\">compress "
        << configurations[c].policy.spec << "</text>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

nlohmann::ordered_json training_summary(const LockstepTraining& training, const std::vector<FirstStepMemory>& memory,
                                        const std::optional<TrainingOutOfMemory>& out_of_memory) {
  const EpochTrainingOptions& options = training.options();
  const data::ImageDataset& dataset = training.dataset();
  const int64_t test_batches = data::batch_count(dataset.test.size(), options.training.batch, options.limit_batches, false);
  const TrainingConfiguration* base = baseline(training);
  nlohmann::ordered_json configurations = nlohmann::ordered_json::array();
  for (size_t c = 0; c < training.configurations().size(); ++c) {
    const TrainingConfiguration& configuration = training.configurations()[c];
    nlohmann::ordered_json row = {{"compress", configuration.policy.spec},
                                  {"mode", std::string(compression::to_string(configuration.policy.mode))},
                                  {"first_step_run", memory[c].run_dir},
                                  {"first_step_peak_bytes", nullptr},
                                  {"first_step_activation_bytes", nullptr},
                                  {"final", nullptr},
                                  {"top1_gap_to_baseline", nullptr}};
    if (memory[c].peak_bytes) row["first_step_peak_bytes"] = *memory[c].peak_bytes;
    if (memory[c].activation_bytes) row["first_step_activation_bytes"] = *memory[c].activation_bytes;
    if (!configuration.curve.empty()) {
      const EpochMetrics& last = configuration.curve.back();
      row["final"] = {{"epoch", last.epoch},         {"train_loss", last.train_loss}, {"test_loss", last.test_loss},
                      {"test_top1", last.test_top1}, {"test_top5", last.test_top5}};
      if (base != nullptr && !base->curve.empty()) row["top1_gap_to_baseline"] = base->curve.back().test_top1 - last.test_top1;
    }
    configurations.push_back(std::move(row));
  }
  return {{"format", "trainmem-train"},
          {"version", 1},
          {"dataset", dataset.name},
          {"model", options.training.model},
          {"batch", options.training.batch},
          {"resolution", options.training.resolution},
          {"optimizer", options.training.optimizer},
          {"learning_rate", options.learning_rate > 0 ? options.learning_rate : default_learning_rate(options.training.optimizer)},
          {"seed", options.training.seed},
          {"limit_batches", options.limit_batches},
          {"train_batches_per_epoch", training.train_batches()},
          {"test_examples", std::min(dataset.test.size(), test_batches * options.training.batch)},
          {"epochs", options.epochs},
          {"completed_epochs", training.completed_epochs()},
          {"out_of_memory", out_of_memory ? nlohmann::ordered_json{{"compress", out_of_memory->compress},
                                                                   {"diagnosis", out_of_memory->diagnosis}}
                                          : nlohmann::ordered_json(nullptr)},
          {"configurations", configurations}};
}

}  // namespace trainmem::cli
