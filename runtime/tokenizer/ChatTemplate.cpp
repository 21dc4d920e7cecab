//===- ChatTemplate.cpp ---------------------------------------------------===//
#include "runtime/tokenizer/ChatTemplate.h"

namespace gpt::tokenizer {

std::optional<Role> parseRole(std::string_view name) {
  if (name == "system")
    return Role::System;
  if (name == "user")
    return Role::User;
  if (name == "assistant")
    return Role::Assistant;
  return std::nullopt;
}

const char *roleName(Role role) {
  switch (role) {
  case Role::System:
    return "system";
  case Role::User:
    return "user";
  case Role::Assistant:
    return "assistant";
  }
  return "?";
}

ChatTemplate::ChatTemplate(const Tokenizer &tokenizer)
    : tokenizer_(tokenizer), imStart_(tokenizer.requireSpecial(kImStart)),
      imEnd_(tokenizer.requireSpecial(kImEnd)) {}

void ChatTemplate::append(RenderedChat &out, const std::vector<TokenId> &ids,
                          std::uint8_t weight) const {
  out.ids.insert(out.ids.end(), ids.begin(), ids.end());
  out.weights.insert(out.weights.end(), ids.size(), weight);
}

RenderedChat ChatTemplate::render(const std::vector<ChatMessage> &messages,
                                  bool addGenerationPrompt) const {
  RenderedChat out;
  const std::vector<TokenId> newline = tokenizer_.encode("\n");
  for (const ChatMessage &m : messages) {
    std::uint8_t w = (m.role == Role::Assistant && m.train) ? 1 : 0;
    append(out, {imStart_}, 0);
    append(out, tokenizer_.encode(std::string(roleName(m.role)) + "\n"), 0);
    append(out, tokenizer_.encode(m.content), w);
    append(out, {imEnd_}, w);
    append(out, newline, 0);
  }
  if (addGenerationPrompt) {
    append(out, {imStart_}, 0);
    append(out, tokenizer_.encode("assistant\n"), 0);
  }
  return out;
}

std::string ChatTemplate::renderText(const std::vector<ChatMessage> &messages,
                                     bool addGenerationPrompt) {
  std::string out;
  for (const ChatMessage &m : messages) {
    out += kImStart;
    out += roleName(m.role);
    out += '\n';
    out += m.content;
    out += kImEnd;
    out += '\n';
  }
  if (addGenerationPrompt) {
    out += kImStart;
    out += "assistant\n";
  }
  return out;
}

} // namespace gpt::tokenizer
