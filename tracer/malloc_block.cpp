#include "tracer/malloc_block.h"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

namespace trainmem {
namespace {

bool malloc_is_glibcs() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&malloc_usable_size), &info) == 0 || info.dli_fname == nullptr) return false;
  if (std::strstr(info.dli_fname, "/libc.so") == nullptr) return false;
  Dl_info allocating{};
  return dladdr(reinterpret_cast<void*>(&posix_memalign), &allocating) != 0 && allocating.dli_fname != nullptr &&
         std::strcmp(allocating.dli_fname, info.dli_fname) == 0;
}

// The header reading agrees with malloc_usable_size on blocks LibTorch's allocator could ask for: small, odd,
// page-sized, and large enough to be mmapped.
bool headers_read_as_glibc_answers() {
  bool agree = true;
  for (size_t bytes : {1, 24, 100, 3000, 4096, 65536, 200 << 10, 5 << 20}) {
    void* block = nullptr;
    if (posix_memalign(&block, 64, bytes) != 0) return false;
    agree = agree && glibc_usable_size(block) == malloc_usable_size(block);
    std::free(block);
  }
  return agree;
}

}  // namespace

void detect_glibc_chunk_headers() {
  static std::once_flag once;
  std::call_once(once, [] { detail::g_glibc_chunk_headers = malloc_is_glibcs() && headers_read_as_glibc_answers(); });
}

}  // namespace trainmem
