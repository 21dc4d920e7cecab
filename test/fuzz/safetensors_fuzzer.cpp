//===- safetensors_fuzzer.cpp ---------------------------------------------===//
//
// libFuzzer target: the safetensors reader (runtime/io/Safetensors).
// Any input must parse or fail with SafetensorsError. See run_fuzz.sh.
#include "runtime/io/Safetensors.h"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data,
                                      std::size_t size) {
  std::string bytes(reinterpret_cast<const char *>(data), size);
  try {
    gpt::io::decodeSafetensors(bytes, "fuzz.safetensors");
  } catch (const gpt::io::SafetensorsError &) {
  }
  return 0;
}
