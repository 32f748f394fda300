#include "tracer/session.h"

#include "tracer/cpu_allocator.h"
#include "tracer/op_observer.h"

namespace trainmem {

TraceSession::TraceSession(int64_t cpu_limit_bytes) {
  install_cpu_allocator_tracing();
  install_op_observer();
  forget_forward_ops();
  Recorder::instance().start(cpu_limit_bytes);
}

TraceSession::~TraceSession() {
  if (!finished_) finish();
}

Recording TraceSession::finish() {
  finished_ = true;
  Recording recording = Recorder::instance().stop();
  uninstall_op_observer();
  uninstall_cpu_allocator_tracing();
  return recording;
}

}  // namespace trainmem
