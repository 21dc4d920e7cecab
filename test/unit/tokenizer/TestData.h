//===- TestData.h -----------------------------------------------*- C++ -*-===//
//
// Shared helpers for tokenizer tests: the GPT-2 tokenizer from
// ../shared/data and the reference ids.
#pragma once

#include "runtime/tokenizer/Tokenizer.h"

#include <string>
#include <vector>

namespace gpt::tokenizer::testing {

inline const char *sharedDataDir() { return GPT_SHARED_DATA_DIR; }

/// The GPT-2 tokenizer, loaded once.
const Tokenizer &gpt2();

struct ReferenceCase {
  int line;
  std::string text;
  std::vector<TokenId> ids;
};
/// All cases of gpt2_reference.jsonl.
const std::vector<ReferenceCase> &gpt2Reference();

} // namespace gpt::tokenizer::testing
