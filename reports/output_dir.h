#pragma once
// Output that appears whole or not at all: a run directory is filled beside its target and renamed into
// place at the end, so an interrupted run never leaves partial output and never destroys an earlier one.
#include <filesystem>
#include <string_view>

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

// Writes `content` to a temporary file in the same directory, syncs it and renames it over `path`, so
// readers see the old file or the new one, never a mix. Throws OutputError.
void write_file_atomically(const std::filesystem::path& path, std::string_view content);

}  // namespace trainmem
