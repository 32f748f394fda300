// remove_tree: what StagedDirectory uses instead of std::filesystem::remove_all (see reports/output_dir.h).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "reports/output_dir.h"

namespace trainmem {
namespace {

namespace fs = std::filesystem;

TEST(RemoveTree, RemovesNestedDirectoriesAndFilesButNotWhatLinksPointTo) {
  const fs::path root = fs::temp_directory_path() / ("trainmem-remove-tree-" + std::to_string(::getpid()));
  const fs::path outside = root.string() + "-outside";
  fs::create_directories(root / "a" / "b");
  fs::create_directories(outside);
  std::ofstream(root / "a" / "b" / "file") << "x";
  std::ofstream(root / "top") << "y";
  std::ofstream(outside / "kept") << "z";
  fs::create_directory_symlink(outside, root / "a" / "link");

  std::error_code error;
  remove_tree(root, error);
  EXPECT_FALSE(error) << error.message();
  EXPECT_FALSE(fs::exists(root));
  EXPECT_TRUE(fs::exists(outside / "kept")) << "a symbolic link is removed, not followed";

  remove_tree(root, error);
  EXPECT_FALSE(error) << "a missing tree is no error: " << error.message();
  fs::remove(outside / "kept");
  fs::remove(outside);
}

}  // namespace
}  // namespace trainmem
