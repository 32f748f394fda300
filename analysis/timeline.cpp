#include "analysis/timeline.h"

#include <algorithm>
#include <string>
#include <unordered_map>

#include "analysis/block_category.h"

namespace trainmem {
namespace {

constexpr std::array<std::string_view, kStepPointCount> kStepPointNames{"init", "input", "forward_peak",
                                                                        "backward_end", "optimizer_peak"};

struct Block {
  int64_t bytes = 0;
  uint64_t birth_seq = 0;
  uint64_t birth_instance = 0;  // which phase instance, counted from the start of the stream
  Phase birth_phase = Phase::kOther;
  Tag tag = Tag::kNone;
};

using Split = std::array<int64_t, kCategoryCount>;

void add(Split& to, const Split& from) {
  for (int i = 0; i < kCategoryCount; ++i) to[i] += from[i];
}

// Keeps at most `max_points` samples: the time axis from 0 is cut into buckets of 2^`shift_` ns, each
// holding its largest sample. When an event falls past the last bucket, the width doubles and neighbouring
// buckets merge, so the run's length need not be known in advance.
//
// Until take(), a sample's categories hold the change from the sample before it, so that a block costs one
// binary search however many samples it lived through: its bytes enter at the first sample of its life and
// leave at the first sample after its death (`leaving_`, for the next sample kept).
class Downsampler {
 public:
  explicit Downsampler(int64_t max_points) : max_points_(max_points) {}

  void offer(const Event& e, int64_t time_ns, int64_t total) {
    while (bucket(time_ns) >= max_points_) widen();
    if (!samples_.empty() && bucket(samples_.back().time_ns) == bucket(time_ns) && total <= samples_.back().total) return;
    const TimelineSample sample{.seq = e.seq, .time_ns = time_ns, .step = e.step, .phase = e.phase, .total = total};
    if (!samples_.empty() && bucket(samples_.back().time_ns) == bucket(time_ns)) {
      const Split changes = samples_.back().categories;  // the new sample replaces the bucket's last one
      samples_.back() = sample;
      samples_.back().categories = changes;
    } else {
      samples_.push_back(sample);
    }
    add(samples_.back().categories, leaving_);
    leaving_ = {};
  }

  // A block's category is known only once it died (or the stream ended): then, every sample kept since its
  // birth is one it was alive at, and no later sample is.
  void add_block(const Block& block, Category category) {
    auto first = std::lower_bound(samples_.begin(), samples_.end(), block.birth_seq,
                                  [](const TimelineSample& sample, uint64_t seq) { return sample.seq < seq; });
    if (first == samples_.end()) return;
    first->categories[static_cast<size_t>(category)] += block.bytes;
    leaving_[static_cast<size_t>(category)] -= block.bytes;
  }

  std::vector<TimelineSample> take() {
    Split running{};
    for (TimelineSample& sample : samples_) {
      add(running, sample.categories);
      sample.categories = running;
    }
    return std::move(samples_);
  }

 private:
  int64_t bucket(int64_t time_ns) const { return time_ns >> shift_; }  // times are never negative

  void widen() {
    ++shift_;
    // Each new bucket keeps its largest sample (the first, on a tie); the changes recorded at the samples
    // dropped move on to the next sample kept.
    std::vector<bool> kept(samples_.size(), false);
    for (size_t i = 0; i < samples_.size();) {
      size_t best = i, end = i;
      for (; end < samples_.size() && bucket(samples_[end].time_ns) == bucket(samples_[i].time_ns); ++end) {
        if (samples_[end].total > samples_[best].total) best = end;
      }
      kept[best] = true;
      i = end;
    }
    Split carried{};
    size_t count = 0;
    for (size_t i = 0; i < samples_.size(); ++i) {
      add(carried, samples_[i].categories);
      if (!kept[i]) continue;
      samples_[count] = samples_[i];
      samples_[count++].categories = carried;
      carried = {};
    }
    samples_.resize(count);
    add(leaving_, carried);
  }

  int64_t max_points_;
  int shift_ = 0;
  std::vector<TimelineSample> samples_;
  Split leaving_{};
};

class TimelinePass {
 public:
  explicit TimelinePass(const TimelineOptions& options) : options_(options), samples_(options.max_points) {}

  void on_event(const Event& e) {
    time_ns_ = std::max(time_ns_, e.time_ns);
    switch (e.kind) {
      case EventKind::kAlloc:
        if (!blocks_.try_emplace(e.address, Block{.bytes = e.bytes, .birth_seq = e.seq, .birth_instance = instance_,
                                                  .birth_phase = phase_}).second) {
          throw TraceError("event seq " + std::to_string(e.seq) + ": alloc at an address already live");
        }
        live_bytes_ += e.bytes;
        break;
      case EventKind::kFree: {
        auto it = blocks_.find(e.address);
        if (it == blocks_.end()) throw TraceError("event seq " + std::to_string(e.seq) + ": free of a block not live");
        finalize(it->second, it->second.birth_instance != instance_);
        live_bytes_ -= it->second.bytes;
        blocks_.erase(it);
        break;
      }
      case EventKind::kPhase:
        end_instance(e.seq);
        ++instance_;
        phase_ = e.phase;
        step_ = e.step;
        phases_.push_back(PhaseSpan{.phase = e.phase, .step = e.step, .start_ns = time_ns_});
        break;
      case EventKind::kTag:
        if (auto it = blocks_.find(e.address); it != blocks_.end()) it->second.tag = e.tag;
        break;
      default:
        break;  // device-level events are not handed to this pass
    }
    last_seq_ = e.seq;
    samples_.offer(e, time_ns_, live_bytes_);
    if (in_last_step(Phase::kForward)) raise(StepPoint::kForwardPeak, e.seq);
    if (in_last_step(Phase::kOptimizer)) raise(StepPoint::kOptimizerPeak, e.seq);
  }

  Timeline finish() {
    end_instance(last_seq_);
    for (const auto& [address, block] : blocks_) finalize(block, true);  // alive when the last instance ended
    Timeline timeline;
    timeline.samples = samples_.take();
    timeline.phases = std::move(phases_);
    timeline.points = points_;
    timeline.end_ns = time_ns_;
    return timeline;
  }

 private:
  bool in_last_step(Phase phase) const { return phase_ == phase && step_ == options_.last_step; }

  void raise(StepPoint point, uint64_t seq) {
    std::optional<PointMoment>& moment = points_[static_cast<size_t>(point)];
    if (!moment || live_bytes_ > moment->bytes) moment = PointMoment{.seq = seq, .time_ns = time_ns_, .bytes = live_bytes_};
  }

  void mark(StepPoint point, uint64_t seq) {
    points_[static_cast<size_t>(point)] = PointMoment{.seq = seq, .time_ns = time_ns_, .bytes = live_bytes_};
  }

  // Ends the current phase instance at event `seq` (the next phase event, or the stream's last event).
  void end_instance(uint64_t seq) {
    if (!phases_.empty()) phases_.back().end_ns = time_ns_;
    if (phase_ == Phase::kInit && !points_[static_cast<size_t>(StepPoint::kInit)]) mark(StepPoint::kInit, seq);
    if (in_last_step(Phase::kInput)) mark(StepPoint::kInput, seq);
    if (in_last_step(Phase::kBackward)) mark(StepPoint::kBackwardEnd, seq);
  }

  // Called once per block, when it dies or the stream ends: only then is its category known.
  void finalize(const Block& block, bool outlived_birth_phase) {
    samples_.add_block(block, classify_block(block.tag, block.birth_phase, outlived_birth_phase));
  }

  const TimelineOptions& options_;
  Downsampler samples_;
  std::unordered_map<uint64_t, Block> blocks_;
  std::vector<PhaseSpan> phases_;
  std::array<std::optional<PointMoment>, kStepPointCount> points_;
  int64_t live_bytes_ = 0;
  int64_t time_ns_ = 0;
  uint64_t last_seq_ = 0;
  uint64_t instance_ = 0;  // phase events so far
  Phase phase_ = Phase::kOther;
  uint32_t step_ = 0;
};

}  // namespace

std::string_view to_string(StepPoint point) { return kStepPointNames.at(static_cast<size_t>(point)); }

Timeline build_timeline(EventSource& source, const TimelineOptions& options) {
  if (options.max_points < 1) throw std::invalid_argument("a timeline needs at least 1 point");
  TimelinePass pass(options);
  source.replay([&](const Event& e) {
    if (e.kind == EventKind::kPhase || (e.device == options.device && !is_device_level(e.kind))) pass.on_event(e);
  });
  return pass.finish();
}

}  // namespace trainmem
