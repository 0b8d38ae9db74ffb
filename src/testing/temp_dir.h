// A fresh folder for one test.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace convguard::testing {

/// `<temp>/<prefix>_<pid>_<test name>`, emptied and created: one per test and process, so
/// tests of one binary run in parallel (ctest -j) without meeting. The caller removes it.
inline std::filesystem::path fresh_test_dir(const std::string& prefix) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() /
                       (prefix + "_" + std::to_string(::getpid()) + "_" +
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

}  // namespace convguard::testing
