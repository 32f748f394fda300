#include "reports/output_dir.h"

#include <fcntl.h>
#include <ftw.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include <fmt/format.h>

#include "reports/errors.h"

namespace trainmem {
namespace {

// `path` with `suffix` appended to its last component, so that it stays in the same directory (a rename
// is atomic only within one file system).
std::filesystem::path sibling(const std::filesystem::path& path, std::string_view suffix) {
  return path.parent_path() / fmt::format("{}{}-{}", path.filename().string(), suffix, getpid());
}

[[noreturn]] void directory_error(const std::filesystem::path& dir, const std::error_code& error) {
  throw OutputError(fmt::format("cannot write output directory {}: {}", dir.string(), error.message()));
}

[[noreturn]] void file_error(const std::filesystem::path& file, int error) {
  throw OutputError(fmt::format("cannot write file {}: {}", file.string(), std::generic_category().message(error)));
}

// Gives up on `temporary` (closing `fd` unless it is -1) and reports `error` as a failure to write `file`.
[[noreturn]] void discard_temporary(int fd, const std::filesystem::path& temporary, const std::filesystem::path& file,
                                    int error) {
  if (fd >= 0) ::close(fd);
  ::unlink(temporary.c_str());
  file_error(file, error);
}

}  // namespace

void remove_tree(const std::filesystem::path& path, std::error_code& error) {
  error.clear();
  const auto remove_entry = [](const char* entry, const struct stat*, int, struct FTW*) { return ::remove(entry); };
  if (::nftw(path.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT) {
    error = std::error_code(errno, std::generic_category());
  }
}

StagedDirectory::StagedDirectory(std::filesystem::path target) : target_(std::move(target)) {
  target_ = target_.lexically_normal();
  if (!target_.has_filename()) target_ = target_.parent_path();  // "out/" names the directory "out"
  staging_ = sibling(target_, ".partial");
  std::error_code error;
  // commit() replaces an earlier run, never a file that merely has the name asked for.
  if (std::filesystem::exists(target_, error) && !std::filesystem::is_directory(target_, error)) {
    directory_error(target_, std::make_error_code(std::errc::not_a_directory));
  }
  if (target_.has_parent_path()) std::filesystem::create_directories(target_.parent_path(), error);
  // A leftover of a crashed process that had the same pid holds nothing worth keeping.
  if (!error) remove_tree(staging_, error);
  if (!error) std::filesystem::create_directory(staging_, error);
  if (error) directory_error(target_, error);
}

StagedDirectory::~StagedDirectory() {
  if (committed_) return;
  std::error_code ignored;  // nothing useful to do if cleanup fails while unwinding
  remove_tree(staging_, ignored);
}

void StagedDirectory::commit() {
  std::error_code error;
  const std::filesystem::path previous = sibling(target_, ".partial-previous");
  const bool replacing = std::filesystem::exists(target_, error);
  if (error) directory_error(target_, error);
  if (replacing) {
    remove_tree(previous, error);
    if (!error) std::filesystem::rename(target_, previous, error);
    if (error) directory_error(target_, error);
  }
  std::filesystem::rename(staging_, target_, error);
  if (error) {
    std::error_code ignored;  // put the earlier run back; the original error is the one to report
    if (replacing) std::filesystem::rename(previous, target_, ignored);
    directory_error(target_, error);
  }
  committed_ = true;
  // The new run is in place; should removing the old one fail, a stray copy is all that is left behind.
  if (replacing) remove_tree(previous, error);
}

void write_file_atomically(const std::filesystem::path& path, std::string_view content) {
  const std::filesystem::path temporary = sibling(path, ".tmp");
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) file_error(path, errno);
  for (size_t written = 0; written < content.size();) {
    ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) discard_temporary(fd, temporary, path, errno);
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) discard_temporary(fd, temporary, path, errno);
  if (::close(fd) != 0) discard_temporary(-1, temporary, path, errno);
  if (::rename(temporary.c_str(), path.c_str()) != 0) discard_temporary(-1, temporary, path, errno);
}

}  // namespace trainmem
