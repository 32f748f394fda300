#pragma once
// A fixture with a fresh temporary directory per test (dir_), removed afterwards.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "reports/output_dir.h"

namespace trainmem::testing {

inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream buffer;
  buffer << file.rdbuf();
  return buffer.str();
}

class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("trainmem-" + std::to_string(::getpid()) + "-" + test->test_suite_name() + "-" + test->name());
    std::error_code ignored;
    remove_tree(dir_, ignored);  // not std::filesystem::remove_all: see reports/output_dir.h
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ignored;
    remove_tree(dir_, ignored);
  }

  std::filesystem::path dir_;
};

}  // namespace trainmem::testing
