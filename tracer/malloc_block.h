#pragma once
// How far a block from malloc extends (what malloc_usable_size says), at the cost of one load when the
// process's malloc is glibc's: glibc keeps a block's size in the chunk header in front of it, which is where
// malloc_usable_size itself reads it. The CPU interceptor asks this twice per alloc+free pair; two library
// calls were ~25 instructions of the tracer's cost. Any other malloc (jemalloc or tcmalloc preloaded, glibc's
// malloc-debug library) is asked through malloc_usable_size.
#include <malloc.h>

#include <cstddef>
#include <cstdint>

namespace trainmem {
namespace detail {

// Set once by detect_glibc_chunk_headers(), before any block is asked about.
inline bool g_glibc_chunk_headers = false;

}  // namespace detail

// Checks whether malloc is glibc's and its headers read as malloc_usable_size answers, for blocks of several
// sizes (mmapped ones included); the fast path is used only then. Idempotent; call before usable_size().
void detect_glibc_chunk_headers();

// glibc's chunk: [prev_size][size | flags][block ...]. The usable part is the chunk size (flags masked) less
// the header word, and less the trailing word for an mmapped chunk (flag 2), which has no next chunk whose
// first word it may use.
inline size_t glibc_usable_size(void* block) {
  const uint64_t size = static_cast<const uint64_t*>(block)[-1];
  return (size & ~uint64_t{7}) - 8 - ((size & 2) << 2);
}

inline size_t usable_size(void* block) {
  return detail::g_glibc_chunk_headers ? glibc_usable_size(block) : malloc_usable_size(block);
}

}  // namespace trainmem
