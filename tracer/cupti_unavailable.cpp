// CuptiMemoryTracer for builds without the CUDA toolkit's CUPTI: every request says so.
#include "tracer/cupti_memory_tracer.h"

namespace trainmem {

bool cupti_compiled() { return false; }
uint32_t cupti_version() { return 0; }
void parse_activity_buffer(uint8_t*, size_t, CuptiCapture&) {}
std::string CuptiMemoryTracer::start() { return "this build of trainmem has no CUPTI (CUDA toolkit not found)"; }
void CuptiMemoryTracer::flush() {}
CuptiCapture CuptiMemoryTracer::stop() { return {}; }
int64_t CuptiMemoryTracer::clock_offset_ns() { return 0; }

}  // namespace trainmem
