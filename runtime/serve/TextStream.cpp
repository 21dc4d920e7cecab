//===- TextStream.cpp -----------------------------------------------------===//
#include "runtime/serve/TextStream.h"

#include <algorithm>

namespace gpt::serve {
namespace {

// Length of the UTF-8 sequence a lead byte starts; 0 for an invalid lead.
int sequenceLength(unsigned char c) {
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF)
    return 2;
  if (c >= 0xE0 && c <= 0xEF)
    return 3;
  if (c >= 0xF0 && c <= 0xF4)
    return 4;
  return 0;
}

bool isContinuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Second-byte ranges that exclude overlongs, surrogates and > U+10FFFF.
bool validSecond(unsigned char lead, unsigned char c) {
  switch (lead) {
  case 0xE0:
    return c >= 0xA0 && c <= 0xBF;
  case 0xED:
    return c >= 0x80 && c <= 0x9F;
  case 0xF0:
    return c >= 0x90 && c <= 0xBF;
  case 0xF4:
    return c >= 0x80 && c <= 0x8F;
  default:
    return isContinuation(c);
  }
}

// At s[i]: length of a valid character (> 0), 0 if the bytes are invalid
// (one byte is bad), -1 if a valid sequence is cut off by the end.
int scan(std::string_view s, std::size_t i) {
  auto lead = static_cast<unsigned char>(s[i]);
  int len = sequenceLength(lead);
  if (len == 0)
    return 0;
  for (int k = 1; k < len; ++k) {
    if (i + k >= s.size())
      return -1;
    auto c = static_cast<unsigned char>(s[i + k]);
    if (k == 1 ? !validSecond(lead, c) : !isContinuation(c))
      return 0;
  }
  return len;
}

} // namespace

std::size_t completeUtf8Prefix(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    int len = scan(s, i);
    if (len < 0)
      return i;
    i += len == 0 ? 1 : static_cast<std::size_t>(len);
  }
  return i;
}

std::string sanitizeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    int len = scan(s, i);
    if (len > 0) {
      out.append(s.substr(i, static_cast<std::size_t>(len)));
      i += static_cast<std::size_t>(len);
    } else {
      out += "\xEF\xBF\xBD"; // U+FFFD
      ++i;
    }
  }
  return out;
}

TextStream::TextStream(std::vector<std::string> stops) {
  for (auto &s : stops)
    if (!s.empty())
      stops_.push_back(std::move(s));
}

std::string TextStream::emit(std::size_t n) {
  std::string out = sanitizeUtf8(std::string_view(pending_).substr(0, n));
  pending_.erase(0, n);
  rawEmitted_ += n;
  emitted_ += out;
  return out;
}

std::string TextStream::push(std::string_view bytes) {
  if (stopped_)
    return {};
  pending_.append(bytes);
  rawPushed_ += bytes.size();
  // A stop sequence can only start inside pending_: any tail of the emitted
  // text that was a stop prefix was held back.
  std::size_t first = std::string::npos;
  for (const std::string &stop : stops_)
    first = std::min(first, pending_.find(stop));
  if (first != std::string::npos) {
    std::string out = emit(first);
    pending_.clear();
    stopped_ = true;
    return out;
  }
  // Hold back the longest tail that is a proper prefix of a stop.
  std::size_t hold = 0;
  for (const std::string &stop : stops_) {
    std::size_t maxLen = std::min(stop.size() - 1, pending_.size());
    for (std::size_t len = maxLen; len > hold; --len)
      if (pending_.compare(pending_.size() - len, len, stop, 0, len) == 0) {
        hold = len;
        break;
      }
  }
  std::size_t safe = completeUtf8Prefix(
      std::string_view(pending_).substr(0, pending_.size() - hold));
  return emit(safe);
}

std::string TextStream::finish() {
  if (stopped_)
    return {};
  return emit(pending_.size());
}

} // namespace gpt::serve
