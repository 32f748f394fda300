#pragma once
// A custom autograd function runs no operator of its own in forward, so profilers that tie a backward node to
// the forward call that made it (by the node's sequence number, as trainmem's op observer does to name the
// module) never see its forward. Running `forward` inside a record carrying the sequence number the node is
// about to take makes the backward of a compressed layer count for that layer.
#include <ATen/SequenceNumber.h>
#include <ATen/record_function.h>

#include <utility>

namespace trainmem::compression {

template <class Forward>
auto with_forward_record(const char* name, Forward&& forward) {
  at::RecordFunction record(at::RecordScope::FUNCTION);
  if (record.isActive()) record.before(name, static_cast<int64_t>(at::sequence_number::peek()));
  return std::forward<Forward>(forward)();
}

}  // namespace trainmem::compression
