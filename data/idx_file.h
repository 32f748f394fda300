#pragma once
// IDX, the file format of the MNIST family: a magic number (two zero bytes, the element type, the rank), the
// dimensions as big-endian 32-bit integers, then the elements in row-major order.
#include <cstdint>
#include <filesystem>
#include <vector>

namespace trainmem::data {

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> elements;
};

// Reads an array of unsigned bytes of the given rank, gzip-compressed or plain. Throws InputError naming the
// file when it cannot be read, is not such an array, is truncated, or has bytes after its last element.
IdxArray read_idx_ubytes(const std::filesystem::path& path, size_t rank);

}  // namespace trainmem::data
