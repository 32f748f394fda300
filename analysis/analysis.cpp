#include "analysis/analysis.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>

#include "analysis/address_map.h"
#include "analysis/block_category.h"

namespace trainmem {
namespace {

constexpr std::array<std::string_view, kCategoryCount> kCategoryNames{
    "parameters", "gradients", "optimizer_state", "input", "activations", "temporaries", "other"};

std::string hex(uint64_t value) {
  char digits[16];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value, 16);
  return "0x" + std::string(digits, end);
}

[[noreturn]] void fail(const Event& e, const std::string& problem) {
  throw TraceError("event seq " + std::to_string(e.seq) + ": " + problem);
}

// A block alive on the analysed device. The first pass uses only `bytes`.
struct Block {
  int64_t bytes = 0;
  uint32_t module = 0;
  uint32_t op = 0;
  // The phase instance it was born in (see StepPass): it outlived its birth phase once another has begun.
  uint32_t birth_instance = 0;
  Phase birth_phase = Phase::kOther;
  Tag tag = Tag::kNone;
  bool alive_at_peak = false;
};

// Blocks alive by address. Both passes go through it, so they agree on what the stream means and the
// first pass has already rejected any stream that contradicts itself.
class LiveBlocks {
 public:
  void alloc(const Event& e, const Block& block) {
    if (e.bytes <= 0) fail(e, "alloc of " + std::to_string(e.bytes) + " bytes");
    if (!blocks_.try_emplace(e.address, block)) fail(e, "alloc at " + hex(e.address) + ", which is already live");
    bytes_ += e.bytes;
  }

  Block free(const Event& e) {
    const Block* found = blocks_.find(e.address);
    if (found == nullptr) fail(e, "free of " + hex(e.address) + ", which is not live");
    if (-e.bytes != found->bytes) {
      fail(e, "free of " + std::to_string(-e.bytes) + " bytes at " + hex(e.address) + ", which holds " +
                  std::to_string(found->bytes));
    }
    const Block block = *found;
    blocks_.erase(e.address);
    bytes_ -= block.bytes;
    return block;
  }

  Block* find(uint64_t address) { return blocks_.find(address); }
  void prefetch(uint64_t address) const { blocks_.prefetch(address); }

  int64_t bytes() const { return bytes_; }
  // Calls visit(block&) for every live block.
  template <class Visit>
  void for_each(Visit&& visit) {
    blocks_.for_each([&](uint64_t, Block& block) { visit(block); });
  }

 private:
  AddressMap<Block> blocks_;
  int64_t bytes_ = 0;
};

// Replays `source`, checking that sequence numbers run gap-free from 0, and hands on the phase events and
// the tensor-level events of `device` (device-level memory is analysed by device_memory.h). Events are
// handed on a few behind the replay, and `live` starts loading each one's block as it arrives: on long
// traces with many live blocks, the cache misses of the lookups otherwise took most of the time.
template <class Visit>
void replay_device_events(EventSource& source, int8_t device, const LiveBlocks& live, Visit&& visit) {
  constexpr uint64_t kLookahead = 16;
  std::array<Event, kLookahead> pending;
  uint64_t received = 0;
  uint64_t handed_on = 0;
  uint64_t expected_seq = 0;
  const auto hand_on = [&](const Event& e) {
    if (e.seq != expected_seq) fail(e, "expected seq " + std::to_string(expected_seq) + " (gap or out of order)");
    ++expected_seq;
    if (e.kind == EventKind::kPhase || (e.device == device && !is_device_level(e.kind))) visit(e);
  };
  source.replay([&](const Event& e) {
    if (received - handed_on == kLookahead) hand_on(pending[handed_on++ % kLookahead]);
    if (e.kind != EventKind::kPhase) live.prefetch(e.address);
    pending[received++ % kLookahead] = e;
  });
  while (handed_on < received) hand_on(pending[handed_on++ % kLookahead]);
}

bool is_step_phase(Phase phase) {
  return phase == Phase::kInput || phase == Phase::kForward || phase == Phase::kBackward ||
         phase == Phase::kOptimizer;
}

// First pass: event counts, the last step, and the peak (which the second pass needs to know in advance).
Analysis scan(EventSource& source, int8_t device) {
  Analysis result;
  LiveBlocks live;
  uint32_t peak_module = 0;
  uint32_t peak_op = 0;
  replay_device_events(source, device, live, [&](const Event& e) {
    switch (e.kind) {
      case EventKind::kAlloc:
        ++result.alloc_events;
        live.alloc(e, Block{.bytes = e.bytes});
        if (live.bytes() > result.peak.bytes) {
          // Names are resolved once at the end: copying them at every new maximum would be wasted work.
          result.peak.bytes = live.bytes();
          result.peak.seq = e.seq;
          result.peak.phase = e.phase;
          result.peak.step = e.step;
          peak_module = e.module;
          peak_op = e.op;
        }
        break;
      case EventKind::kFree:
        ++result.free_events;
        live.free(e);
        break;
      case EventKind::kPhase:
        ++result.marker_events;
        if (is_step_phase(e.phase)) result.last_step = std::max(result.last_step, e.step);
        break;
      case EventKind::kTag:
        ++result.marker_events;
        break;
      default:
        fail(e, "unknown event kind " + std::to_string(static_cast<int>(e.kind)));
    }
  });
  result.peak.module = source.name(peak_module);
  result.peak.op = source.name(peak_op);
  return result;
}

// Named module totals, largest first (ties in name order).
std::vector<ModuleBytes> sorted_by_bytes(std::map<std::string, ModuleBytes> by_name) {
  std::vector<ModuleBytes> sorted;
  for (auto& [name, module] : by_name) {
    module.module = name;
    sorted.push_back(std::move(module));
  }
  std::stable_sort(sorted.begin(), sorted.end(), [](const ModuleBytes& a, const ModuleBytes& b) { return a.bytes > b.bytes; });
  return sorted;
}

Category classify(const Block& block, bool outlived_birth_phase) {
  return classify_block(block.tag, block.birth_phase, outlived_birth_phase);
}

// Second pass: follows phase instances (the span from one phase event to the next) to measure the five
// points of the last step and to classify the blocks alive at the peak by what becomes of them later.
// Instances are numbered; a block outlived the instance it was born in once the number has moved on, so
// ending an instance costs nothing however many blocks it leaves alive.
class StepPass {
 public:
  StepPass(EventSource& source, Analysis& result) : source_(source), result_(result) {}

  void on_event(const Event& e) {
    switch (e.kind) {
      case EventKind::kAlloc:
        live_.alloc(e, Block{.bytes = e.bytes, .module = e.module, .op = e.op, .birth_instance = instance_,
                             .birth_phase = phase_, .tag = Tag::kNone, .alive_at_peak = false});
        if (counting_activations_) count_activation(e.module, e.op, e.bytes, 1);
        break;
      case EventKind::kFree: {
        const Block block = live_.free(e);
        if (counting_activations_ && block.birth_instance == instance_) {
          count_activation(block.module, block.op, -block.bytes, -1);
        }
        finalize(block);
        break;
      }
      case EventKind::kPhase:
        end_instance(&e);
        begin_instance(e);
        break;
      case EventKind::kTag:
        // Tags may come late (gradients are tagged after backward); a block already gone is past caring.
        if (Block* block = live_.find(e.address)) block->tag = e.tag;
        break;
      case EventKind::kSegmentAlloc:
      case EventKind::kSegmentFree:
      case EventKind::kDriverAlloc:
      case EventKind::kDriverFree:
        break;  // never handed on by replay_device_events
    }
    if (in_last_step(Phase::kForward)) raise(result_.points.forward_peak);
    if (in_last_step(Phase::kOptimizer)) raise(result_.points.optimizer_peak);
    if (e.seq == result_.peak.seq && result_.peak.bytes > 0) {
      live_.for_each([](Block& block) { block.alive_at_peak = true; });
    }
  }

  const LiveBlocks& live() const { return live_; }

  void finish() {
    end_instance(nullptr);
    std::map<std::string, ModuleBytes> by_module;
    live_.for_each([&](const Block& block) {
      result_.categories_at_end[static_cast<size_t>(classify(block, true))] += block.bytes;
      ModuleBytes& module = by_module[source_.name(block.module)];
      module.bytes += block.bytes;
      ++module.blocks;
      finalize(block);
    });
    result_.live_at_end_by_module = sorted_by_bytes(std::move(by_module));
  }

 private:
  bool in_last_step(Phase phase) const { return phase_ == phase && step_ == result_.last_step; }
  void raise(int64_t& maximum) const { maximum = std::max(maximum, live_.bytes()); }

  void begin_instance(const Event& phase_event) {
    phase_ = phase_event.phase;
    step_ = phase_event.step;
    if (in_last_step(Phase::kInput)) last_step_start_ns_ = phase_event.time_ns;
    counting_activations_ = in_last_step(Phase::kForward);
    born_alive_.clear();
  }

  // Blocks born in the current instance and still alive, by (module, op) id: at the end of the last step's
  // forward phase, its activations.
  void count_activation(uint32_t module, uint32_t op, int64_t bytes, int64_t blocks) {
    ActivationCount& count = born_alive_[uint64_t{module} << 32 | op];
    count.bytes += bytes;
    count.blocks += blocks;
  }

  // `next_phase` is the phase event that ends the instance, null at the end of the stream.
  void end_instance(const Event* next_phase) {
    int64_t activation_bytes = 0;
    std::map<std::string, ModuleBytes> activations;
    std::map<std::pair<std::string, std::string>, ModuleOpBytes> activations_by_op;
    for (const auto& [ids, count] : born_alive_) {
      if (count.blocks == 0) continue;
      const std::string& module_name = source_.name(static_cast<uint32_t>(ids >> 32));
      activation_bytes += count.bytes;
      ModuleBytes& module = activations[module_name];
      module.bytes += count.bytes;
      module.blocks += count.blocks;
      ModuleOpBytes& by_op = activations_by_op[{module_name, source_.name(static_cast<uint32_t>(ids))}];
      by_op.bytes += count.bytes;
      by_op.blocks += count.blocks;
    }
    ++instance_;  // every block born in the ending instance and still alive has now outlived it

    if (phase_ == Phase::kInit && !init_ended_) {
      init_ended_ = true;
      result_.points.init = live_.bytes();
      live_.for_each([&](const Block& block) {
        if (block.tag == Tag::kParameter) result_.measured_parameter_bytes += block.bytes;
        if (block.tag == Tag::kBuffer) result_.measured_buffer_bytes += block.bytes;
      });
    }
    if (in_last_step(Phase::kInput)) result_.points.input = live_.bytes();
    if (in_last_step(Phase::kBackward)) result_.points.backward_end = live_.bytes();
    if (in_last_step(Phase::kForward)) {
      result_.activation_bytes = activation_bytes;
      result_.activations_by_module = sorted_by_bytes(std::move(activations));
      result_.activations_by_module_op.clear();
      for (auto& [key, bytes] : activations_by_op) {
        bytes.module = key.first;
        bytes.op = key.second;
        result_.activations_by_module_op.push_back(std::move(bytes));
      }
    }
    if (in_last_step(Phase::kOptimizer) && next_phase != nullptr && last_step_start_ns_) {
      result_.last_step_seconds = static_cast<double>(next_phase->time_ns - *last_step_start_ns_) / 1e9;
    }
  }

  // Called once per block, when it dies or the stream ends: only then is its fate known.
  void finalize(const Block& block) {
    if (block.alive_at_peak) {
      result_.categories_at_peak[static_cast<size_t>(classify(block, block.birth_instance != instance_))] +=
          block.bytes;
    }
  }

  struct ActivationCount {
    int64_t bytes = 0;
    int64_t blocks = 0;
  };

  EventSource& source_;
  Analysis& result_;
  LiveBlocks live_;
  uint32_t instance_ = 0;  // number of the current phase instance
  bool counting_activations_ = false;  // the current instance is the last step's forward phase
  std::unordered_map<uint64_t, ActivationCount> born_alive_;
  Phase phase_ = Phase::kOther;  // of the current instance; before the first phase event, "other"
  uint32_t step_ = 0;
  bool init_ended_ = false;
  std::optional<int64_t> last_step_start_ns_;
};

}  // namespace

std::string_view to_string(Category category) { return kCategoryNames.at(static_cast<size_t>(category)); }

Analysis analyze(EventSource& source, const AnalysisOptions& options) {
  Analysis result = scan(source, options.device);
  StepPass pass(source, result);
  replay_device_events(source, options.device, pass.live(), [&](const Event& e) { pass.on_event(e); });
  pass.finish();
  if (options.device != kCpuDevice) result.device_memory = analyze_device_memory(source, options.device, result.peak.seq);
  return result;
}

}  // namespace trainmem
