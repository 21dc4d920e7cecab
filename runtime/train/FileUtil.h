// Small file helpers for the trainer: atomic writes (temporary file in the
// same directory, fsync, rename, fsync of the directory) and whole-file reads.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace gpt::train {

/// Writes `bytes` to `path` atomically: readers see either the old file or
/// the complete new one, never a partial write. Throws std::runtime_error
/// naming the path.
void writeFileAtomic(const std::filesystem::path &path, std::string_view bytes);

/// Reads a whole file. Throws std::runtime_error naming the path.
std::string readFile(const std::filesystem::path &path);

/// fsyncs a directory (after renames into it). Errors are ignored.
void syncDirectory(const std::filesystem::path &dir);

/// FNV-1a 64-bit hash, as 16 lowercase hex digits.
std::string fnv1a64Hex(std::string_view bytes);

} // namespace gpt::train
