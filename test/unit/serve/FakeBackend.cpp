//===- FakeBackend.cpp ----------------------------------------------------===//
#include "FakeBackend.h"

namespace gpt::serve::test {

gpt::tokenizer::Tokenizer makeTestTokenizer() {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b)
    tokens.push_back(std::string(1, static_cast<char>(b)));
  tokens.push_back("\xC3\xA9");
  tokens.push_back("he");
  tokens.push_back("hel");
  tokens.push_back("hell");
  tokens.push_back("hello");
  std::vector<std::pair<std::string, std::string>> merges = {
      {"\xC3", "\xA9"}, {"h", "e"}, {"he", "l"}, {"hel", "l"}, {"hell", "o"}};
  return tokenizer::Tokenizer(std::move(tokens), std::move(merges),
                              {"<|endoftext|>", "<|im_start|>", "<|im_end|>"});
}

} // namespace gpt::serve::test
