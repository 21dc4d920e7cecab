//===- UnicodeTables.h ------------------------------------------*- C++ -*-===//
//
// Unicode property tables used by the GPT-2 pre-tokenizer: General_Category
// L (letters), N (numbers) and the White_Space property, as sorted, disjoint
// inclusive code point ranges. The data lives in the generated
// UnicodeTables.cpp (see gen_unicode_tables.mjs).
#pragma once

#include <cstddef>
#include <cstdint>

namespace gpt::tokenizer::unicode_tables {

struct CodeRange {
  std::uint32_t first;
  std::uint32_t last;
};

extern const CodeRange kLetterRanges[];
extern const std::size_t kLetterRangesCount;
extern const CodeRange kNumberRanges[];
extern const std::size_t kNumberRangesCount;
extern const CodeRange kSpaceRanges[];
extern const std::size_t kSpaceRangesCount;

} // namespace gpt::tokenizer::unicode_tables
