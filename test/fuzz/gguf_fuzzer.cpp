//===- gguf_fuzzer.cpp ----------------------------------------------------===//
//
// libFuzzer target: the GGUF reader and the gpt2 model import on top of it.
// Any input must end in a model or a typed error (GgufError, InteropError);
// anything else (a crash, a sanitizer report, another exception, an
// allocation over -malloc_limit_mb) is a finding. See run_fuzz.sh.
#include "runtime/interop/Gguf.h"
#include "runtime/interop/Gpt2Interop.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data,
                                      std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char *>(data), size);
  try {
    gpt::interop::GgufFile f = gpt::interop::decodeGguf(bytes, "fuzz.gguf");
    try {
      gpt::interop::gpt2FromGguf(f, "fuzz.gguf");
    } catch (const gpt::interop::InteropError &) {
    }
  } catch (const gpt::interop::GgufError &) {
  }
  return 0;
}
