#pragma once
// Interception of LibTorch's CPU allocator: every CPU tensor allocation and free (ops, autograd,
// optimizers, oneDNN scratch) becomes an event in the Recorder.

namespace trainmem {

// Puts the tracing allocator in front of LibTorch's default CPU allocator (idempotent; throws if another
// allocator is installed). Blocks it serves carry their size in their last 8 usable bytes, so a free needs
// no lookup; the DataPtr keeps context == data, which oneDNN's raw_allocate path requires.
void install_cpu_allocator_tracing();
// Gives LibTorch back its own allocator for new allocations; blocks already served stay valid.
void uninstall_cpu_allocator_tracing();

}  // namespace trainmem
