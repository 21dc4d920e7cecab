//===- KernelContext.h - What a Vulkan kernel's recorder sees -------------===//
//
// Every artifact kernel has a record function that turns its operands into
// one or more compute dispatches. Operands are reached by buffer device
// address (no descriptor sets): a dispatch's push constants hold the 64-bit
// addresses of its tensors plus sizes, so tensors larger than
// maxStorageBufferRange need no splitting. Shaders live in shaders/*.comp
// (compiled by glslc at build time, registered by file name) and include
// shaders/common.glsl. See docs/vulkan.md.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/artifact/Artifact.h"
#include "runtime/executor/Executor.h"
#include "schema/KernelRegistry.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gpt::vk {

/// A resolved operand on the device.
struct DeviceTensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  int64_t numel = 0;
  uint64_t address = 0; ///< device address of element 0 (4-byte aligned)
  /// The caller's host buffer when this value is (a view of) a function
  /// input, else nullptr. Record functions use it for range checks that the
  /// CPU executor does at run time (token ids, targets, block tables): the
  /// GPU cannot throw, so these are checked on the host before submitting.
  const void *host = nullptr;

  int64_t last() const { return shape.empty() ? 1 : shape.back(); }
  int64_t rows() const {
    int64_t r = 1;
    for (size_t d = 0; d + 1 < shape.size(); ++d)
      r *= shape[d];
    return r;
  }
};

/// Device facts a record function may pick variants by.
struct DeviceCaps {
  uint32_t subgroupSize = 1;
  bool subgroupArithmetic = false;
  bool float16 = false;
  uint32_t maxSharedBytes = 16384;
  uint32_t maxWorkgroupInvocations = 128;
  uint32_t maxGroupCountX = 65535;
  /// GPT_VK_MATMUL (read once when the device opens): "", "small", "big" or
  /// "rows" forces a matmul path (tests).
  std::string forcedMatmul;
  /// The tensor-core matmul (matmul_coopmat*.comp, fp16 inputs, fp32
  /// accumulation) can run: VK_NV_cooperative_matrix with 16 x 16 x 16
  /// fp16 x fp16 + fp32 and 32-thread subgroups, not turned off.
  bool coopmat = false;
  /// GPT_VK_COOPMAT (read once): "inference" (the default: functions
  /// without gradient kernels, where fp16 inputs lose only precision),
  /// "all" (training products too: fp16 gradients without loss scaling
  /// underflow, so this is for benchmarks) or "0" (never).
  std::string coopmatPolicy = "inference";
};

/// Whether a subgroup-arithmetic shader variant may run in workgroups of
/// `workgroup` threads: the device has subgroup arithmetic (and
/// GPT_VK_SUBGROUPS is not 0) and a power-of-two subgroup size >= 4 that
/// divides the workgroup, so every subgroup is full.
inline bool useSubgroups(const DeviceCaps &caps, uint32_t workgroup) {
  uint32_t s = caps.subgroupSize;
  return caps.subgroupArithmetic && s >= 4 && (s & (s - 1)) == 0 &&
         s <= workgroup && workgroup % s == 0;
}

/// Implemented by the executor. Dispatches are recorded in order with a
/// full compute->compute memory barrier after each, so a kernel may read
/// what the previous dispatch wrote.
class Recorder {
public:
  virtual ~Recorder() = default;
  /// Records a dispatch of the build-time shader `shader` (file name without
  /// .comp). pushBytes <= 128 (the guaranteed minimum).
  virtual void dispatch(const char *shader, const void *push,
                        uint32_t pushBytes, uint32_t gx, uint32_t gy = 1,
                        uint32_t gz = 1) = 0;
  /// Same for SPIR-V that came with the artifact (generated elementwise
  /// kernels): one pipeline per distinct SPIR-V, created once.
  virtual void dispatchSpirv(const std::vector<uint32_t> &spirv,
                             const void *push, uint32_t pushBytes, uint32_t gx,
                             uint32_t gy = 1, uint32_t gz = 1) = 0;
  /// Device scratch of at least `bytes` (16-byte aligned), private to this
  /// kernel and `slot`, alive until the submission ends. Contents undefined.
  virtual uint64_t scratch(int slot, size_t bytes) = 0;
  /// Copies `bytes` of host data into a device-visible constant block and
  /// returns its address (for argument tables too big for push constants).
  virtual uint64_t constants(const void *data, size_t bytes) = 0;
  virtual const DeviceCaps &caps() const = 0;
};

struct KernelContext {
  const Kernel &kernel;
  std::vector<const DeviceTensor *> in;  ///< nullptr for an absent operand
  std::vector<const DeviceTensor *> out; ///< nullptr for an absent result
  Recorder &rec;
  /// Products of this function may round their inputs to fp16 (tensor
  /// cores): the device has them and GPT_VK_COOPMAT allows it here.
  bool fp16Products = false;
};

/// Records one artifact kernel. Throws std::exception (ExecutorError for
/// bad data, e.g. a token id out of range); the executor adds the location.
using RecordFn = void (*)(KernelContext &);
/// The record function of each registry kernel (schema/Kernels.def);
/// nullptr where the Vulkan backend has none.
struct KernelTable {
  std::array<RecordFn, static_cast<size_t>(KernelId::Count)> fns{};
  RecordFn &operator[](KernelId id) { return fns[static_cast<size_t>(id)]; }
  /// The record function of the kernel called `name`, or nullptr.
  RecordFn find(const std::string &name) const {
    std::optional<KernelId> id = kernelByName(name);
    return id ? fns[static_cast<size_t>(*id)] : nullptr;
  }
};

/// The largest element count or index the shaders handle: grid-stride
/// loops add the grid size to an index < n, so n stays below 2^31.
constexpr int64_t kMaxShaderIndex = 0x7fffffff;

/// v as the shaders' 32-bit index type; ExecutorError when it is negative
/// or above kMaxShaderIndex. `what` names the quantity in the message.
inline uint32_t u32(int64_t v, const char *what = "size") {
  if (v < 0 || v > kMaxShaderIndex)
    throw ExecutorError(std::string("vulkan: ") + what + " " +
                        std::to_string(v) +
                        " exceeds the 32-bit indexing of the shaders (at "
                        "most 2^31 - 1)");
  return static_cast<uint32_t>(v);
}

/// The device address of an optional operand (0 when absent).
inline uint64_t addressOf(const DeviceTensor *t) { return t ? t->address : 0; }

/// Group count for `n` threads in groups of `local`, capped at the device's
/// limit; shaders loop grid-stride (GRID_STRIDE in common.glsl) so a capped
/// grid still covers n.
inline uint32_t groupsFor(int64_t n, uint32_t local, const DeviceCaps &caps) {
  int64_t g = (n + local - 1) / local;
  return static_cast<uint32_t>(
      std::max<int64_t>(1, std::min<int64_t>(g, caps.maxGroupCountX)));
}

// Each group of kernels fills the table in its own file (kernels/*.cpp).
void registerDataKernels(KernelTable &table);   ///< copies, layout, embeddings
void registerMatmulKernels(KernelTable &table); ///< linear, matmul, grads
void registerAttentionKernels(KernelTable &table); ///< attention family
void registerNormLossKernels(KernelTable &table);  ///< layernorm, softmax, CE
void registerOptimizerKernels(KernelTable &table); ///< norm, schedule, AdamW
void registerElementwiseKernel(KernelTable &table);
/// The table, built once: every kernel but `alias` has a record function
/// (test/unit/vulkan/ExecutorTest.cpp checks it).
const KernelTable &kernelTable();

} // namespace gpt::vk
