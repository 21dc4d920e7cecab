//===- ChatTemplate.h -------------------------------------------*- C++ -*-===//
//
// The ChatML chat template, the one place that turns chat messages into
// tokens (for training data now, for the server later).
//
// Each message is rendered as
//   <|im_start|>{role}\n{content}<|im_end|>\n
// where <|im_start|> and <|im_end|> are special tokens and role and content
// are encoded as ordinary text (so content can never forge a special token).
// The generation prompt that asks the model for the assistant's turn is
//   <|im_start|>assistant\n
// and the model ends its turn with <|im_end|> (the stop token).
//
// Loss weights: the content tokens of assistant messages and their closing
// <|im_end|> weigh 1 (unless the message has train = false); everything else
// (system and user turns, role headers, separators) weighs 0.
#pragma once

#include "runtime/tokenizer/Tokenizer.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gpt::tokenizer {

enum class Role { System, User, Assistant };

std::optional<Role> parseRole(std::string_view name);
const char *roleName(Role role);

struct ChatMessage {
  Role role;
  std::string content;
  bool train = true; // only meaningful for assistant messages
};

struct RenderedChat {
  std::vector<TokenId> ids;
  std::vector<std::uint8_t> weights; // same length as ids, 0 or 1
};

class ChatTemplate {
public:
  /// The tokenizer must have <|im_start|> and <|im_end|>; it must outlive
  /// the template.
  explicit ChatTemplate(const Tokenizer &tokenizer);

  RenderedChat render(const std::vector<ChatMessage> &messages,
                      bool addGenerationPrompt) const;

  /// The rendering as text (special tokens spelled out), for display.
  static std::string renderText(const std::vector<ChatMessage> &messages,
                                bool addGenerationPrompt);

  TokenId stopToken() const { return imEnd_; }

private:
  void append(RenderedChat &out, const std::vector<TokenId> &ids,
              std::uint8_t weight) const;

  const Tokenizer &tokenizer_;
  TokenId imStart_;
  TokenId imEnd_;
};

} // namespace gpt::tokenizer
