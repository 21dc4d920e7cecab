//===- ChatJsonl.h ----------------------------------------------*- C++ -*-===//
//
// Reads chat data in OpenAI's fine-tuning format: one JSON object per line,
//   {"messages": [{"role": "system"|"user"|"assistant", "content": "..."}]}
// An assistant message may carry "weight": 0 or 1 (0: do not train on it).
// Other keys are ignored. Blank lines are skipped.
#pragma once

#include "runtime/tokenizer/ChatTemplate.h"

#include <filesystem>
#include <string>
#include <vector>

namespace gpt::data {

struct Conversation {
  std::size_t line; // 1-based line in its file
  std::vector<tokenizer::ChatMessage> messages;
};

struct ChatFile {
  std::vector<Conversation> conversations;
  /// With skipBad: one "FILE:LINE: reason" per skipped line.
  std::vector<std::string> skipped;
};

/// Parses one line; throws DataError("FILE:LINE: reason") when malformed.
Conversation parseChatLine(const std::string &file, std::size_t line,
                           std::string_view text);

/// Parses a whole file. Without skipBad the first bad line throws
/// DataError; with it bad lines are skipped and listed.
ChatFile readChatJsonl(const std::filesystem::path &path, bool skipBad);

} // namespace gpt::data
