//===- ChatJsonl.cpp ------------------------------------------------------===//
#include "runtime/data/ChatJsonl.h"

#include "runtime/data/DataError.h"
#include "runtime/io/FileIO.h"

#include <nlohmann/json.hpp>

namespace gpt::data {
namespace {

using tokenizer::ChatMessage;
using tokenizer::Role;

std::string typeName(const nlohmann::json &j) { return j.type_name(); }

} // namespace

Conversation parseChatLine(const std::string &file, std::size_t line,
                           std::string_view text) {
  const std::string where = file + ":" + std::to_string(line) + ": ";
  auto bad = [&](const std::string &why) { return DataError(where + why); };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error &e) {
    throw bad(std::string("malformed JSON: ") + e.what());
  }
  if (!j.is_object())
    throw bad("expected a JSON object, got " + typeName(j));
  auto it = j.find("messages");
  if (it == j.end())
    throw bad("missing \"messages\"");
  if (!it->is_array())
    throw bad("\"messages\" must be an array, got " + typeName(*it));
  if (it->empty())
    throw bad("\"messages\" is empty");
  Conversation conv{line, {}};
  for (std::size_t i = 0; i < it->size(); ++i) {
    const nlohmann::json &m = (*it)[i];
    const std::string at = "messages[" + std::to_string(i) + "]";
    if (!m.is_object())
      throw bad(at + " is not an object");
    auto role = m.find("role");
    if (role == m.end())
      throw bad(at + " has no \"role\"");
    if (!role->is_string())
      throw bad(at + ".role is not a string");
    auto parsed = tokenizer::parseRole(role->get<std::string>());
    if (!parsed)
      throw bad(at + ": unknown role \"" + role->get<std::string>() +
                "\" (expected system, user or assistant)");
    auto content = m.find("content");
    if (content == m.end())
      throw bad(at + " has no \"content\"");
    if (!content->is_string())
      throw bad(at + ".content is not a string (got " + typeName(*content) +
                ")");
    ChatMessage msg{*parsed, content->get<std::string>(), true};
    if (auto w = m.find("weight"); w != m.end()) {
      if (*parsed != Role::Assistant)
        throw bad(at + ".weight is only allowed on assistant messages");
      if (!w->is_number_integer() || (*w != 0 && *w != 1))
        throw bad(at + ".weight must be 0 or 1");
      msg.train = *w == 1;
    }
    conv.messages.push_back(std::move(msg));
  }
  return conv;
}

ChatFile readChatJsonl(const std::filesystem::path &path, bool skipBad) {
  std::string data;
  try {
    data = io::readFile(path);
  } catch (const std::runtime_error &e) {
    throw DataError(e.what());
  }
  ChatFile out;
  std::size_t pos = 0, line = 0;
  while (pos < data.size()) {
    std::size_t eol = data.find('\n', pos);
    if (eol == std::string::npos)
      eol = data.size();
    std::string_view text(data.data() + pos, eol - pos);
    pos = eol + 1;
    ++line;
    if (text.find_first_not_of(" \t\r") == std::string_view::npos)
      continue;
    try {
      out.conversations.push_back(parseChatLine(path.string(), line, text));
    } catch (const DataError &e) {
      if (!skipBad)
        throw;
      out.skipped.push_back(e.what());
    }
  }
  return out;
}

} // namespace gpt::data
