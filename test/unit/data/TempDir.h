//===- TempDir.h ------------------------------------------------*- C++ -*-===//
//
// A scratch directory removed at the end of a test.
#pragma once

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <string>

namespace gpt::data::testing {

class TempDir {
public:
  TempDir() {
    const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("gpt_data_" + std::string(info->test_suite_name()) + "_" +
             info->name() + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path &path() const { return path_; }
  std::filesystem::path write(const std::string &name,
                              const std::string &content) const {
    auto p = path_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

private:
  std::filesystem::path path_;
};

inline std::filesystem::path shared(const std::string &name) {
  return std::filesystem::path(GPT_SHARED_DATA_DIR) / name;
}

} // namespace gpt::data::testing
