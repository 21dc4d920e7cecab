//===- PreTokenizer.cpp ---------------------------------------------------===//
#include "runtime/tokenizer/PreTokenizer.h"

#include "runtime/tokenizer/Unicode.h"

namespace gpt::tokenizer {
namespace {

// Length of a contraction ('s 't 're 've 'm 'll 'd) at pos, or 0.
std::size_t contractionLength(std::string_view text, std::size_t pos) {
  std::size_t avail = text.size() - pos;
  if (avail < 2)
    return 0;
  char c1 = text[pos + 1];
  if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd')
    return 2;
  if (avail < 3)
    return 0;
  char c2 = text[pos + 2];
  if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') ||
      (c1 == 'l' && c2 == 'l'))
    return 3;
  return 0;
}

// End of the run of code points of class `cls` starting at pos.
std::size_t runEnd(std::string_view text, std::size_t pos, CharClass cls) {
  std::size_t n = text.size();
  while (pos < n) {
    Decoded d = decodeAt(text, pos);
    if (d.cls != cls)
      break;
    pos += d.length;
  }
  return pos;
}

} // namespace

std::size_t nextPieceEnd(std::string_view text, std::size_t pos) {
  const std::size_t n = text.size();
  if (text[pos] == '\'') {
    if (std::size_t len = contractionLength(text, pos))
      return pos + len;
  }
  Decoded first = decodeAt(text, pos);
  // " ?X+" alternatives: an optional U+0020 followed by a run of one class.
  if (text[pos] == ' ' && pos + 1 < n) {
    Decoded next = decodeAt(text, pos + 1);
    if (next.cls != CharClass::Space)
      return runEnd(text, pos + 1 + next.length, next.cls);
  }
  if (first.cls != CharClass::Space)
    return runEnd(text, pos + first.length, first.cls);
  // \s+(?!\S) then \s+: take the whitespace run; if a non-space follows and
  // the run holds more than one code point, leave its last one behind.
  std::size_t end = pos + first.length;
  std::size_t lastStart = pos;
  while (end < n) {
    Decoded d = decodeAt(text, end);
    if (d.cls != CharClass::Space)
      break;
    lastStart = end;
    end += d.length;
  }
  if (end == n || lastStart == pos)
    return end;
  return lastStart;
}

std::vector<std::string_view> splitPieces(std::string_view text) {
  std::vector<std::string_view> pieces;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = nextPieceEnd(text, pos);
    pieces.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  return pieces;
}

std::vector<std::size_t> safeCutPoints(std::string_view text,
                                       std::size_t parts) {
  std::vector<std::size_t> cuts;
  if (parts < 2)
    return cuts;
  std::size_t last = 0;
  for (std::size_t k = 1; k < parts; ++k) {
    std::size_t target = text.size() / parts * k;
    if (target <= last)
      target = last + 1;
    for (std::size_t p = target; p < text.size(); ++p) {
      if (text[p - 1] == '\n' && decodeAt(text, p).cls != CharClass::Space) {
        cuts.push_back(p);
        last = p;
        break;
      }
    }
    if (cuts.empty() || cuts.back() != last)
      break;
  }
  return cuts;
}

} // namespace gpt::tokenizer
