//===- FileIO.h -------------------------------------------------*- C++ -*-===//
//
// File helpers every part of the runtime shares (tokenizer, data, training,
// the engine, interop): whole-file reads, crash-safe atomic writes and the
// FNV-1a fingerprint. The one place these live.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace gpt::io {

/// Reads a whole file. Throws std::runtime_error naming the path.
std::string readFile(const std::filesystem::path &path);

/// Writes `bytes` to `path` atomically and durably: a temporary file in the
/// same directory is written, fsynced and renamed over `path`, then the
/// directory is fsynced. Readers see either the old file or the complete new
/// one, never a partial write, even after a crash. Throws std::runtime_error
/// naming the path (the temporary file is removed).
void writeFileAtomic(const std::filesystem::path &path, std::string_view bytes);

/// A unique temporary name beside `path` (same directory, so rename works),
/// for writers that stream into a file before renaming it into place.
std::filesystem::path tempPathFor(const std::filesystem::path &path);

/// fsyncs a directory (after renames into it). Errors are ignored.
void syncDirectory(const std::filesystem::path &dir);

/// FNV-1a 64-bit hash, as 16 lowercase hex digits.
std::string fnv1a64Hex(std::string_view bytes);

} // namespace gpt::io
