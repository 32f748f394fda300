// The fast block size the CPU interceptor reads from glibc's chunk headers must be what malloc_usable_size
// says, for every kind of block glibc makes: small, page-sized, mmapped, and from a thread's own arena.
#include <gtest/gtest.h>

#include <malloc.h>

#include <cstdlib>
#include <thread>
#include <vector>

#include "tracer/malloc_block.h"

namespace trainmem {
namespace {

std::vector<size_t> block_sizes() {
  std::vector<size_t> sizes;
  for (size_t n = 1; n <= 4200; n += 7) sizes.push_back(n);
  for (size_t n : {65536, 131072, 135000, 300000, 1 << 20, 5 << 20, (5 << 20) + 13}) sizes.push_back(n);
  return sizes;
}

// Every size, aligned as LibTorch asks (64) and as plain malloc gives: the header read directly.
void expect_fast_size_is_mallocs() {
  for (size_t n : block_sizes()) {
    void* aligned = nullptr;
    ASSERT_EQ(posix_memalign(&aligned, 64, n), 0);
    void* plain = std::malloc(n);
    EXPECT_EQ(glibc_usable_size(aligned), malloc_usable_size(aligned)) << n << " bytes, aligned";
    EXPECT_EQ(glibc_usable_size(plain), malloc_usable_size(plain)) << n << " bytes";
    std::free(aligned);
    std::free(plain);
  }
}

TEST(MallocBlock, GlibcsHeadersAreReadOnGlibc) {
  detect_glibc_chunk_headers();
  // The test binary runs on Debian's glibc with nothing preloaded: the fast path must be the one taken.
  EXPECT_TRUE(detail::g_glibc_chunk_headers);
}

TEST(MallocBlock, GlibcHeadersGiveMallocUsableSizeForEveryBlock) {
  detect_glibc_chunk_headers();
  if (!detail::g_glibc_chunk_headers) GTEST_SKIP() << "malloc is not glibc's";
  expect_fast_size_is_mallocs();
  std::thread other_arena(expect_fast_size_is_mallocs);  // blocks of a non-main arena carry another flag
  other_arena.join();
}

}  // namespace
}  // namespace trainmem
