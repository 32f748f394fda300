#include "tracer/op_observer.h"

#include <ATen/record_function.h>

#include <array>
#include <cstring>
#include <memory_resource>
#include <mutex>
#include <string>
#include <string_view>
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

uint64_t forward_key(uint64_t thread, int64_t seq) { return thread << 40 ^ static_cast<uint64_t>(seq); }

struct NameHash {
  using is_transparent = void;
  size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
};

// "torch::autograd::AccumulateGrad" -> "AccumulateGrad"; a custom function's node is named after its class,
// "torch::autograd::CppNode<trainmem::compression::(anonymous namespace)::PooledConv2dFunction>" ->
// "PooledConv2dFunction"; generated nodes ("ConvolutionBackward0") and other templates stay as they are.
std::string short_node_name(std::string name) {
  constexpr std::string_view kCustom = "torch::autograd::CppNode<";
  if (name.starts_with(kCustom) && name.ends_with('>')) {
    name = name.substr(kCustom.size(), name.size() - kCustom.size() - 1);
  }
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
    // Fibonacci hashing: names inside equally sized schema objects share their low address bits.
    const uint64_t hash = reinterpret_cast<uintptr_t>(name) * 0x9e3779b97f4a7c15ULL;
    Slot& slot = by_address_[hash >> (64 - kSlotBits)];
    if (slot.address == name && std::strncmp(name, slot.name.data(), slot.name.size()) == 0 &&
        name[slot.name.size()] == '\0') {
      return slot.id;
    }
    auto it = by_name_.find(std::string_view(name));
    if (it == by_name_.end()) it = by_name_.emplace(name, Recorder::instance().intern(name)).first;
    slot = {name, it->first, it->second};
    return it->second;
  }
  // Id of an autograd node's short name, by the node's full name.
  uint32_t node_id(const char* name) {
    refresh();
    auto it = by_node_name_.find(std::string_view(name));
    if (it == by_node_name_.end()) {
      it = by_node_name_.emplace(name, Recorder::instance().intern(short_node_name(name))).first;
    }
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
    by_node_name_.clear();
  }
  uint64_t generation_ = 0;
  std::unordered_map<std::string, uint32_t, NameHash, std::equal_to<>> by_name_;
  static constexpr int kSlotBits = 10;
  std::array<Slot, size_t{1} << kSlotBits> by_address_{};
  std::unordered_map<std::string, uint32_t, NameHash, std::equal_to<>> by_node_name_;
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
    g_module_of_forward_op[forward_key(fn.threadId(), fn.seqNr())] = next.module;
  }
  enter(next);
  return nullptr;
}

// An autograd node: its sequence number leads to the module whose forward op made it. A node with no forward
// op of its own (AccumulateGrad) works for the module of the node before it.
std::unique_ptr<at::ObserverContext> on_node_start(const at::RecordFunction& fn) {
  Recorder::instance().sample_clock();
  ThreadContext next = Recorder::thread_context();
  next.op = name_ids().node_id(fn.name());
  {
    std::lock_guard<std::mutex> lock(g_forward_mutex);
    auto it = g_module_of_forward_op.find(forward_key(fn.forwardThreadId(), fn.seqNr()));
    if (it != g_module_of_forward_op.end()) {
      next.module = it->second;
      g_module_of_forward_op.erase(it);  // each node runs once: the map holds only the pending graph
    }
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

// After a node the engine adds up its gradients for the next nodes: work on its behalf, so its context
// lingers until the next node starts (the next phase change clears it).
void on_node_end(const at::RecordFunction&, at::ObserverContext*) {
  auto& stack = saved_contexts();
  if (stack.empty()) return;
  stack.pop_back();
}

std::vector<at::CallbackHandle> g_handles;  // nodes' and modules' callbacks, for the whole session
at::CallbackHandle g_op_handle = 0;         // operators' callback, outside backward

void observe_ops(bool observe) {
  if (observe && g_op_handle == 0) {
    g_op_handle =
        at::addGlobalCallback(at::RecordFunctionCallback(on_op_start, on_end).scopes({at::RecordScope::FUNCTION}));
  } else if (!observe && g_op_handle != 0) {
    at::removeCallback(g_op_handle);
    g_op_handle = 0;
  }
}

// Operators are not observed in backward: with an operator callback, every operator there builds a
// RecordFunction and the engine names every node it evaluates in a string (~1,400 operators and ~130 nodes
// per resnet18 step, most of the tracer's cost); the node callback alone names what backward allocates.
void on_phase(Phase phase) { observe_ops(phase != Phase::kBackward); }

}  // namespace

void install_op_observer() {
  if (!g_handles.empty()) return;
  at::enableRecordFunction(true);
  observe_ops(true);
  g_handles.push_back(at::addGlobalCallback(
      at::RecordFunctionCallback(on_node_start, on_node_end).scopes({at::RecordScope::BACKWARD_FUNCTION})));
  g_handles.push_back(at::addGlobalCallback(
      at::RecordFunctionCallback(on_module_start, on_end).needsInputs(true).scopes({at::RecordScope::USER_SCOPE})));
  Recorder::instance().add_phase_listener(&on_phase);
}

void uninstall_op_observer() {
  Recorder::instance().remove_phase_listener(&on_phase);
  observe_ops(false);
  for (auto handle : g_handles) at::removeCallback(handle);
  g_handles.clear();
}

void forget_forward_ops() {
  std::lock_guard<std::mutex> lock(g_forward_mutex);
  g_module_of_forward_op.clear();
}

}  // namespace trainmem
