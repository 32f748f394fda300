#include "tracer/op_observer.h"

#include <ATen/record_function.h>

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
std::vector<at::CallbackHandle> g_handles;

uint64_t forward_key(uint64_t thread, int64_t seq) { return thread << 40 ^ static_cast<uint64_t>(seq); }

struct NameHash {
  using is_transparent = void;
  size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
};

// Interning per op would take the table's lock; each thread caches ids for the current recording, looked up
// by string_view, so a name already seen costs no allocation.
uint32_t intern_cached(std::string_view name) {
  thread_local uint64_t generation = 0;
  thread_local std::unordered_map<std::string, uint32_t, NameHash, std::equal_to<>> ids;
  Recorder& recorder = Recorder::instance();
  if (generation != recorder.active_generation()) {
    ids.clear();
    generation = recorder.active_generation();
  }
  auto it = ids.find(name);
  if (it == ids.end()) it = ids.emplace(std::string(name), recorder.intern(name)).first;
  return it->second;
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
  next.op = intern_cached(fn.name());
  if (fn.scope() == at::RecordScope::BACKWARD_FUNCTION) {
    std::lock_guard<std::mutex> lock(g_forward_mutex);
    auto it = g_module_of_forward_op.find(forward_key(fn.forwardThreadId(), fn.seqNr()));
    if (it != g_module_of_forward_op.end()) {
      next.module = it->second;
      g_module_of_forward_op.erase(it);  // each node runs once: the map holds only the pending graph
    }
  } else if (fn.seqNr() >= 0 && next.module != 0 && recorder.phase() == Phase::kForward) {
    std::lock_guard<std::mutex> lock(g_forward_mutex);
    g_module_of_forward_op[forward_key(fn.threadId(), fn.seqNr())] = next.module;
  }
  enter(next);
  return nullptr;
}

std::unique_ptr<at::ObserverContext> on_module_start(const at::RecordFunction& fn) {
  Recorder& recorder = Recorder::instance();
  ThreadContext next = Recorder::thread_context();
  next.module = intern_cached(fn.name());
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

void on_end(const at::RecordFunction& fn, at::ObserverContext*) {
  auto& stack = saved_contexts();
  if (stack.empty()) return;  // opened before the observer was installed
  ThreadContext& current = Recorder::thread_context();
  const uint32_t finished_module = current.module;
  current = stack.back();
  stack.pop_back();
  // Between two autograd nodes the engine reduces a node's gradients to its inputs' shapes and sums
  // gradients of tensors used twice: work on behalf of the node just finished, so its module lingers
  // until the next node starts (the next phase change clears it).
  if (fn.scope() == at::RecordScope::BACKWARD_FUNCTION) current.module = finished_module;
  Recorder::instance().publish_context(current);
}

}  // namespace

void install_op_observer() {
  if (!g_handles.empty()) return;
  at::enableRecordFunction(true);
  g_handles.push_back(at::addGlobalCallback(
      at::RecordFunctionCallback(on_op_start, on_end)
          .scopes({at::RecordScope::FUNCTION, at::RecordScope::BACKWARD_FUNCTION})));
  g_handles.push_back(at::addGlobalCallback(
      at::RecordFunctionCallback(on_module_start, on_end).needsInputs(true).scopes({at::RecordScope::USER_SCOPE})));
}

void uninstall_op_observer() {
  for (auto handle : g_handles) at::removeCallback(handle);
  g_handles.clear();
}

void forget_forward_ops() {
  std::lock_guard<std::mutex> lock(g_forward_mutex);
  g_module_of_forward_op.clear();
}

}  // namespace trainmem
