#pragma once
// Interception of LibTorch's CPU allocator: every CPU tensor allocation and free (ops, autograd,
// optimizers, oneDNN scratch) becomes an event in the Recorder.

namespace trainmem {

// Puts the tracing allocator in front of LibTorch's CPU allocator (idempotent). Blocks it serves carry
// their size in a 64-byte prefix, so a free needs no lookup; the DataPtr keeps context == data, which
// oneDNN's raw_allocate path requires.
void install_cpu_allocator_tracing();
// Gives LibTorch back its own allocator for new allocations; blocks already served stay valid.
void uninstall_cpu_allocator_tracing();

}  // namespace trainmem
