// libFuzzer target: the safetensors reader (runtime/train/Safetensors).
// Any input must parse or fail with SafetensorsError. See run_fuzz.sh.
#include "train/Safetensors.h"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data,
                                      std::size_t size) {
  std::string bytes(reinterpret_cast<const char *>(data), size);
  try {
    gpt::train::decodeSafetensors(bytes, "fuzz.safetensors");
  } catch (const gpt::train::SafetensorsError &) {
  }
  return 0;
}
