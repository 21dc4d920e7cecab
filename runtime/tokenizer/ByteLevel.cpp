//===- ByteLevel.cpp ------------------------------------------------------===//
#include "runtime/tokenizer/ByteLevel.h"

#include <stdexcept>

namespace gpt::tokenizer::byte_level {
namespace {

struct Tables {
  std::array<std::uint8_t, 256> order{};
  std::array<std::uint32_t, 256> byteToCp{};
  std::array<std::int16_t, 512> cpToByte{}; // code points used are < 512
};

bool printable(int b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) ||
         (b >= 0xAE && b <= 0xFF);
}

const Tables &tables() {
  static const Tables t = [] {
    Tables t;
    t.cpToByte.fill(-1);
    int next = 0;
    for (int b = 0; b < 256; ++b)
      if (printable(b)) {
        t.order[next++] = static_cast<std::uint8_t>(b);
        t.byteToCp[b] = static_cast<std::uint32_t>(b);
      }
    int extra = 0;
    for (int b = 0; b < 256; ++b)
      if (!printable(b)) {
        t.order[next++] = static_cast<std::uint8_t>(b);
        t.byteToCp[b] = static_cast<std::uint32_t>(256 + extra++);
      }
    for (int b = 0; b < 256; ++b)
      t.cpToByte[t.byteToCp[b]] = static_cast<std::int16_t>(b);
    return t;
  }();
  return t;
}

void appendUtf8(std::string &out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

} // namespace

const std::array<std::uint8_t, 256> &byteOrder() { return tables().order; }

std::string encode(std::string_view bytes) {
  const Tables &t = tables();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes)
    appendUtf8(out, t.byteToCp[static_cast<unsigned char>(c)]);
  return out;
}

std::string decode(std::string_view text) {
  const Tables &t = tables();
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    std::uint32_t cp;
    if (c < 0x80) {
      cp = c;
      i += 1;
    } else if ((c & 0xE0) == 0xC0 && i + 1 < text.size()) {
      cp =
          ((c & 0x1Fu) << 6) | (static_cast<unsigned char>(text[i + 1]) & 0x3F);
      i += 2;
    } else {
      throw std::invalid_argument("not GPT-2 byte-level text");
    }
    if (cp >= t.cpToByte.size() || t.cpToByte[cp] < 0)
      throw std::invalid_argument("not GPT-2 byte-level text");
    out.push_back(static_cast<char>(t.cpToByte[cp]));
  }
  return out;
}

} // namespace gpt::tokenizer::byte_level
