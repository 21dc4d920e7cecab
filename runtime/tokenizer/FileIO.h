// Small file helpers shared by the tokenizer and data libraries.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace gpt::io {

/// Reads a whole file; throws std::runtime_error naming the path.
std::string readFile(const std::filesystem::path &path);

/// Writes `content` to `path` atomically: a temporary file in the same
/// directory is written, flushed and renamed over `path`.
void writeFileAtomic(const std::filesystem::path &path,
                     std::string_view content);

/// A unique temporary name beside `path` (same directory, so rename works).
std::filesystem::path tempPathFor(const std::filesystem::path &path);

} // namespace gpt::io
