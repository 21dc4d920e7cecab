//===- http_fuzzer.cpp ----------------------------------------------------===//
//
// libFuzzer target: the server's request path on raw bytes (HttpFuzz.h).
#include "HttpFuzz.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data,
                                      std::size_t size) {
  gpt::serve::fuzz::checkRawRequest(
      std::string_view(reinterpret_cast<const char *>(data), size));
  return 0;
}
