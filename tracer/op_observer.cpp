#include "tracer/op_observer.h"

#include <ATen/record_function.h>
#include <torch/csrc/autograd/node.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory_resource>
#include <mutex>
#include <string>
#include <string_view>
#include <typeinfo>
#include <unordered_map>
#include <vector>

#include "tracer/recorder.h"

namespace trainmem {
namespace {

// The observer's common paths allocate nothing from the heap: small blocks living from forward to backward
// among the tensors' blocks would change how the traced program's heap fragments and is trimmed (the
// allocator interception leaves the heap's requests unchanged for the same reason).
std::mutex g_forward_mutex;
std::pmr::unsynchronized_pool_resource g_forward_nodes;  // the map's nodes, reused from step to step
std::pmr::unordered_map<uint64_t, uint32_t> g_module_of_forward_op(&g_forward_nodes);  // (thread, seq) -> module
std::vector<at::CallbackHandle> g_handles;

uint64_t forward_key(uint64_t thread, uint64_t seq) { return thread << 40 ^ seq; }

struct NameHash {
  using is_transparent = void;
  size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
};

// "torch::autograd::AccumulateGrad" -> "AccumulateGrad"; a custom function's node is named after its class,
// "trainmem::compression::(anonymous namespace)::PooledConv2dFunction" -> "PooledConv2dFunction"; generated
// nodes ("ConvolutionBackward0") and template names stay as they are.
std::string short_node_name(std::string name) {
  constexpr std::string_view kCustom = "torch::autograd::CppNode<";
  if (name.starts_with(kCustom) && name.ends_with('>')) name = name.substr(kCustom.size(), name.size() - kCustom.size() - 1);
  const size_t last = name.rfind("::");
  if (last == std::string::npos || name.find('<') != std::string::npos) return name;
  return name.substr(last + 2);
}

// Ids of names for the current recording, per thread (interning takes the string table's lock). Operator
// names live in their schemas for the whole process, so a name seen before is found by its address; the
// content is compared too, as other record functions' names are temporaries whose addresses get reused.
class NameIds {
 public:
  uint32_t id(const char* name) {
    refresh();
    Slot& slot = by_address_[(reinterpret_cast<uintptr_t>(name) >> 3) % by_address_.size()];
    if (slot.address == name && std::strncmp(name, slot.name.data(), slot.name.size()) == 0 &&
        name[slot.name.size()] == '\0') {
      return slot.id;
    }
    auto it = by_name_.find(std::string_view(name));
    if (it == by_name_.end()) it = by_name_.emplace(name, Recorder::instance().intern(name)).first;
    slot = {name, it->first, it->second};
    return it->second;
  }
  // Ids of autograd node types, by their type_info (whose names are mangled).
  uint32_t id(const torch::autograd::Node& node) {
    refresh();
    auto [it, inserted] = by_node_type_.try_emplace(&typeid(node), 0);
    if (inserted) it->second = Recorder::instance().intern(short_node_name(node.name()));
    return it->second;
  }

 private:
  struct Slot {
    const char* address = nullptr;
    std::string_view name;  // the key in by_name_
    uint32_t id = 0;
  };
  void refresh() {
    const uint64_t generation = Recorder::instance().active_generation();
    if (generation == generation_) return;
    generation_ = generation;
    by_name_.clear();
    by_address_.fill({});
    by_node_type_.clear();
  }
  uint64_t generation_ = 0;
  std::unordered_map<std::string, uint32_t, NameHash, std::equal_to<>> by_name_;
  std::array<Slot, 1024> by_address_{};
  std::unordered_map<const std::type_info*, uint32_t> by_node_type_;
};

NameIds& name_ids() {
  thread_local NameIds ids;
  return ids;
}

std::vector<ThreadContext>& saved_contexts() {
  thread_local std::vector<ThreadContext> stack;
  return stack;
}

void enter(ThreadContext next) {
  ThreadContext& current = Recorder::thread_context();
  saved_contexts().push_back(current);
  current = next;
  Recorder::instance().publish_context(current);
}

std::unique_ptr<at::ObserverContext> on_op_start(const at::RecordFunction& fn) {
  Recorder& recorder = Recorder::instance();
  recorder.sample_clock();
  ThreadContext next = Recorder::thread_context();
  next.op = name_ids().id(fn.name());
  if (fn.seqNr() >= 0 && next.module != 0 && recorder.phase() == Phase::kForward) {
    std::lock_guard<std::mutex> lock(g_forward_mutex);
    g_module_of_forward_op[forward_key(fn.threadId(), static_cast<uint64_t>(fn.seqNr()))] = next.module;
  }
  enter(next);
  return nullptr;
}

std::unique_ptr<at::ObserverContext> on_module_start(const at::RecordFunction& fn) {
  Recorder& recorder = Recorder::instance();
  ThreadContext next = Recorder::thread_context();
  next.module = name_ids().id(fn.name());
  for (const c10::IValue& input : fn.inputs()) {
    if (input.isTensor()) {
      const c10::IntArrayRef sizes = input.toTensor().sizes();
      recorder.note_module_input(next.module, {sizes.data(), sizes.size()});
      break;
    }
  }
  enter(next);
  return nullptr;
}

void on_end(const at::RecordFunction&, at::ObserverContext*) {
  auto& stack = saved_contexts();
  if (stack.empty()) return;  // opened before the observer was installed
  Recorder::thread_context() = stack.back();
  stack.pop_back();
  Recorder::instance().publish_context(Recorder::thread_context());
}

// Highest sequence number of a node attributed in the running backward, per forward thread: when backward
// ends, the forward ops up to it belong to graphs that have run (their nodes that never allocated were never
// looked up) and are dropped, while a graph made later and not yet run keeps its own.
std::vector<std::pair<uint64_t, uint64_t>> g_backward_reach;  // guarded by g_forward_mutex

void forget_forward_ops_that_ran() {
  std::lock_guard<std::mutex> lock(g_forward_mutex);
  for (auto [thread, seq] : g_backward_reach) {
    std::erase_if(g_module_of_forward_op, [&](const auto& entry) {
      return entry.first >> 40 == thread && (entry.first & ((uint64_t{1} << 40) - 1)) <= seq;
    });
  }
  g_backward_reach.clear();
}

// Module of the forward op whose node `node` is (0 when none: AccumulateGrad, or a node made outside forward).
uint32_t module_of(const torch::autograd::Node& node) {
  const uint64_t seq = node.sequence_nr();
  std::lock_guard<std::mutex> lock(g_forward_mutex);
  auto it = g_module_of_forward_op.find(forward_key(node.thread_id(), seq));
  if (it == g_module_of_forward_op.end()) return 0;
  const uint32_t module = it->second;
  g_module_of_forward_op.erase(it);  // a node runs once
  auto reach = std::find_if(g_backward_reach.begin(), g_backward_reach.end(),
                            [&](const auto& r) { return r.first == node.thread_id(); });
  if (reach == g_backward_reach.end()) g_backward_reach.emplace_back(node.thread_id(), seq);
  else reach->second = std::max(reach->second, seq);
  return module;
}

bool g_disabled_record_function = false;  // on the loop's thread, by on_phase

void on_phase(Phase phase) {
  const bool backward = phase == Phase::kBackward;
  if (backward && at::isRecordFunctionEnabled()) {
    at::enableRecordFunction(false);
    g_disabled_record_function = true;
  } else if (!backward && g_disabled_record_function) {
    at::enableRecordFunction(true);
    g_disabled_record_function = false;
    forget_forward_ops_that_ran();
  }
}

}  // namespace

void attribute_to_running_node() {
  struct RunningNode {
    const torch::autograd::Node* node = nullptr;
    uint64_t seq = 0;
    uint64_t generation = 0;
    ThreadContext context;
  };
  thread_local RunningNode last;
  const c10::intrusive_ptr<torch::autograd::Node> node = torch::autograd::get_current_node();
  if (!node) return;
  ThreadContext& context = Recorder::thread_context();
  const uint64_t generation = Recorder::instance().active_generation();
  if (node.get() != last.node || node->sequence_nr() != last.seq || generation != last.generation) {
    Recorder::instance().sample_clock();  // a node starting is to backward what an operator starting is elsewhere
    const uint32_t module = module_of(*node);
    // A node with no forward op of its own (AccumulateGrad) works for the module whose node ran before it.
    last = {node.get(), node->sequence_nr(), generation, {module != 0 ? module : context.module, name_ids().id(*node)}};
  }
  if (context.module != last.context.module || context.op != last.context.op) {
    context = last.context;
    Recorder::instance().publish_context(context);
  }
}

void install_op_observer() {
  if (!g_handles.empty()) return;
  at::enableRecordFunction(true);
  g_handles.push_back(
      at::addGlobalCallback(at::RecordFunctionCallback(on_op_start, on_end).scopes({at::RecordScope::FUNCTION})));
  g_handles.push_back(at::addGlobalCallback(
      at::RecordFunctionCallback(on_module_start, on_end).needsInputs(true).scopes({at::RecordScope::USER_SCOPE})));
  Recorder::instance().add_phase_listener(&on_phase);
}

void uninstall_op_observer() {
  Recorder::instance().remove_phase_listener(&on_phase);
  if (g_disabled_record_function) {
    at::enableRecordFunction(true);
    g_disabled_record_function = false;
  }
  for (auto handle : g_handles) at::removeCallback(handle);
  g_handles.clear();
}

void forget_forward_ops() {
  std::lock_guard<std::mutex> lock(g_forward_mutex);
  g_module_of_forward_op.clear();
  g_backward_reach.clear();
}

}  // namespace trainmem
