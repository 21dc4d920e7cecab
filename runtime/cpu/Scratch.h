//===- Scratch.h - Reusable aligned scratch memory (internal) -------------===//
//
// Large temporary buffers (partial sums, packed GEMM panels) are reused from
// call to call instead of being allocated each time: a fresh allocation of
// a few hundred KiB is an mmap, and touching it page-faults on every call.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>

namespace gpt::cpu {

/// A growable, 64-byte aligned float buffer. Not thread-safe; keep one per
/// thread (`thread_local`) and per use.
class Scratch {
public:
  Scratch() = default;
  Scratch(const Scratch &) = delete;
  Scratch &operator=(const Scratch &) = delete;
  ~Scratch() { std::free(data_); }

  /// At least n floats; contents unspecified. Invalidates earlier pointers.
  float *get(size_t n) {
    if (n > size_) {
      std::free(data_);
      data_ = nullptr;
      size_ = 0;
      size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
      data_ = static_cast<float *>(std::aligned_alloc(64, bytes));
      if (!data_)
        throw std::bad_alloc();
      size_ = n;
    }
    return data_;
  }

private:
  float *data_ = nullptr;
  size_t size_ = 0;
};

} // namespace gpt::cpu
