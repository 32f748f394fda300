#pragma once
// Output that appears whole or not at all: a run directory is filled beside its target and renamed into
// place at the end, so an interrupted run never leaves partial output and never destroys an earlier one.
#include <filesystem>
#include <string_view>
#include <system_error>

namespace trainmem {

class StagedDirectory {
 public:
  // Creates `<target>.partial-<pid>` beside `target` (and any missing parents). Throws OutputError.
  explicit StagedDirectory(std::filesystem::path target);
  ~StagedDirectory();
  StagedDirectory(const StagedDirectory&) = delete;
  StagedDirectory& operator=(const StagedDirectory&) = delete;

  // Where to write the files until commit().
  const std::filesystem::path& path() const { return staging_; }
  // Replaces `target` (if any) by the staged directory. Throws OutputError.
  void commit();

 private:
  std::filesystem::path target_;
  std::filesystem::path staging_;
  bool committed_ = false;
};

// Removes `path` and everything below it, like std::filesystem::remove_all, which it replaces because some
// torch wheels (2.11) export a copy of remove_all that crashes on a non-empty directory when the system's
// libstdc++ is older than theirs. A missing `path` is no error.
void remove_tree(const std::filesystem::path& path, std::error_code& error);

// Writes `content` to a temporary file in the same directory, syncs it and renames it over `path`, so
// readers see the old file or the new one, never a mix. Throws OutputError.
void write_file_atomically(const std::filesystem::path& path, std::string_view content);

}  // namespace trainmem
