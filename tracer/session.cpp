#include "tracer/session.h"

#include "tracer/cpu_allocator.h"
#include "tracer/cuda_allocator.h"
#include "tracer/cupti_memory_tracer.h"
#include "tracer/op_observer.h"

namespace trainmem {
namespace {

void flush_cupti(Phase) { CuptiMemoryTracer::flush(); }

}  // namespace

TraceSession::TraceSession(const TraceOptions& options) : options_(options) {
  install_cpu_allocator_tracing();
  install_op_observer();
  forget_forward_ops();
  if (options_.cuda_device >= 0) {
    install_cuda_allocator_tracing();
    reset_cuda_allocator(options_.cuda_device);
    cupti_.error = CuptiMemoryTracer::start();
    cupti_.traced = cupti_.error.empty();
    if (cupti_.traced) Recorder::instance().add_phase_listener(&flush_cupti);
  }
  Recorder::instance().start(options_.cpu_limit_bytes);
}

TraceSession::~TraceSession() {
  if (!finished_) finish();
}

Recording TraceSession::finish() {
  finished_ = true;
  Recording recording = Recorder::instance().stop();
  uninstall_op_observer();
  uninstall_cpu_allocator_tracing();
  if (cupti_.traced) {
    Recorder::instance().remove_phase_listener(&flush_cupti);
    CuptiCapture capture = CuptiMemoryTracer::stop();
    for (const DriverMemoryRecord& record : capture.memory) {
      ++(record.device_memory ? cupti_.memory_records : cupti_.other_memory_records);
    }
    cupti_.pool_records = capture.pools.size();
    cupti_.dropped_records = capture.dropped_records;
    merge_driver_records(recording, capture.memory, CuptiMemoryTracer::clock_offset_ns());
  }
  return recording;
}

}  // namespace trainmem
