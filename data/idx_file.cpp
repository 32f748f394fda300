#include "data/idx_file.h"

#include <zlib.h>

#include <memory>
#include <string>

#include "reports/errors.h"

namespace trainmem::data {
namespace {

constexpr uint8_t kUnsignedByteType = 0x08;
// Larger than any dataset of this family (Fashion-MNIST's training images: 47 MB): a bigger product of
// dimensions means a corrupt header, not a real array.
constexpr int64_t kMaxElements = int64_t{1} << 32;

struct GzCloser {
  void operator()(gzFile file) const { gzclose(file); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

// Fills `buffer` from `file` (which gzread decompresses, or copies when the file is not gzip); false when the
// file ends first. Throws on a read or decompression error.
bool read_exactly(gzFile file, const std::filesystem::path& path, uint8_t* buffer, size_t size) {
  while (size > 0) {
    const unsigned chunk = static_cast<unsigned>(std::min<size_t>(size, 1u << 30));
    const int got = gzread(file, buffer, chunk);
    if (got < 0) {
      int code = 0;
      throw InputError("cannot read " + path.string() + ": " + gzerror(file, &code));
    }
    if (got == 0) return false;
    buffer += got;
    size -= static_cast<size_t>(got);
  }
  return true;
}

}  // namespace

IdxArray read_idx_ubytes(const std::filesystem::path& path, size_t rank) {
  const GzFile file(gzopen(path.c_str(), "rb"));
  if (!file) throw InputError("cannot open " + path.string());
  const auto corrupt = [&](const std::string& what) { return InputError(path.string() + " is not an IDX file: " + what); };

  uint8_t magic[4];
  if (!read_exactly(file.get(), path, magic, sizeof magic)) throw corrupt("shorter than its header");
  if (magic[0] != 0 || magic[1] != 0 || magic[2] != kUnsignedByteType || magic[3] != rank) {
    throw corrupt("expected the magic number of a rank-" + std::to_string(rank) + " unsigned-byte array");
  }
  IdxArray array;
  int64_t count = 1;
  for (size_t i = 0; i < rank; ++i) {
    uint8_t bytes[4];
    if (!read_exactly(file.get(), path, bytes, sizeof bytes)) throw corrupt("shorter than its header");
    const int64_t dim = int64_t{bytes[0]} << 24 | int64_t{bytes[1]} << 16 | int64_t{bytes[2]} << 8 | bytes[3];
    count *= dim;
    if (dim == 0 || count > kMaxElements) throw corrupt("implausible dimension " + std::to_string(dim));
    array.dims.push_back(dim);
  }
  array.elements.resize(static_cast<size_t>(count));
  if (!read_exactly(file.get(), path, array.elements.data(), array.elements.size())) {
    throw corrupt("truncated: fewer elements than its dimensions promise");
  }
  uint8_t extra = 0;
  if (read_exactly(file.get(), path, &extra, 1)) throw corrupt("bytes after the last element");
  return array;
}

}  // namespace trainmem::data
