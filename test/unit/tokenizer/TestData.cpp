//===- TestData.cpp -------------------------------------------------------===//
#include "TestData.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace gpt::tokenizer::testing {

const Tokenizer &gpt2() {
  static const Tokenizer t = Tokenizer::load(sharedDataDir());
  return t;
}

const std::vector<ReferenceCase> &gpt2Reference() {
  static const std::vector<ReferenceCase> cases = [] {
    std::vector<ReferenceCase> out;
    std::ifstream in(std::string(sharedDataDir()) + "/gpt2_reference.jsonl");
    if (!in)
      throw std::runtime_error("cannot open gpt2_reference.jsonl");
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      ++n;
      auto j = nlohmann::json::parse(line);
      out.push_back({n, j.at("text").get<std::string>(),
                     j.at("ids").get<std::vector<TokenId>>()});
    }
    return out;
  }();
  return cases;
}

} // namespace gpt::tokenizer::testing
