//===- VulkanExecutor.cpp - Binding, buffers, recording and replay --------===//
#include "runtime/vulkan/VulkanExecutor.h"
#include "runtime/collective/Collective.h"
#include "runtime/executor/Binding.h"
#include "runtime/vulkan/VulkanContext.h"

#include <algorithm>
#include <cstring>
#include <deque>

namespace gpt {
using vk::Buffer;
using vk::check;
using vk::DeviceTensor;
using vk::MemoryUse;

namespace {

constexpr VkDeviceSize kConstantChunk = 64 << 10;

VkDeviceSize align16(VkDeviceSize n) { return (n + 15) & ~VkDeviceSize(15); }

} // namespace

const vk::KernelTable &vk::kernelTable() {
  static const KernelTable table = [] {
    KernelTable t;
    registerDataKernels(t);
    registerMatmulKernels(t);
    registerAttentionKernels(t);
    registerNormLossKernels(t);
    registerOptimizerKernels(t);
    registerElementwiseKernel(t);
    return t;
  }();
  return table;
}

/// Where a value's bytes live on the device.
struct Location {
  Buffer *buffer = nullptr;
  VkDeviceSize offset = 0;
};

struct FunctionState {
  const Function *fn = nullptr;
  std::vector<int64_t> root;
  int64_t B = -1, T = -1, N = -1; ///< binding of the recorded commands
  std::vector<std::vector<int64_t>> shapes;
  std::vector<DeviceTensor> tensors;
  std::vector<Location> where;

  bool bound = false;
  /// Arena values: the pool chunk and the offset in it (roots only).
  std::vector<std::pair<size_t, VkDeviceSize>> arenaSlot;
  std::vector<Buffer> inputs;        ///< one device buffer per function input
  std::vector<Buffer *> inputBuffer; ///< inputs[i] or the resident copy
  std::vector<bool> resident;        ///< per input
  std::vector<bool> skipOutput;      ///< in-place into a resident input
  struct Operands {
    std::vector<const DeviceTensor *> in, out;
  };
  std::vector<Operands> operands;     ///< per kernel, into `tensors`
  std::vector<vk::RecordFn> recordFn; ///< per kernel (resolved at load)
  /// Products may round inputs to fp16 (KernelContext::fp16Products).
  bool fp16Products = false;
  std::vector<void *> residentOf; ///< per input: its Resident, or null
  uint64_t bufferGeneration = 0;  ///< of the addresses bound
  Buffer staging, readback;       ///< host-visible; only when inputs aren't
  std::vector<VkDeviceSize> stagingOffset;  ///< per input (~0: mapped)
  std::vector<VkDeviceSize> readbackOffset; ///< per output (~0: mapped)
  std::map<std::pair<size_t, int>, Buffer> scratch;
  std::vector<Buffer> constantChunks;

  VkCommandBuffer cmd = VK_NULL_HANDLE;
  bool recorded = false, recordedProfiling = false;
  VkQueryPool queries = VK_NULL_HANDLE;
  uint32_t queryCapacity = 0;
  std::vector<size_t> dispatchKernel; ///< kernel index of each dispatch
  /// The all_reduce kernels, reduced through the host after the commands
  /// ran (a later kernel must not touch their bytes: reducesMidway).
  std::vector<size_t> allReduces;
  bool reducesMidway = false;
  std::vector<std::vector<float>> reduceStaging; ///< per reduced value, kept
};

struct VulkanExecutor::Impl : vk::Recorder {
  Artifact artifact;
  /// Shared by every executor with the same options (Context::acquire).
  vk::Context *ctx = nullptr;
  vk::KernelTable table;
  std::vector<std::unique_ptr<FunctionState>> states;
  /// Device-resident inputs by name (Executor::setResident). std::map
  /// keeps the Buffer addresses stable for the states that point at them.
  struct Resident {
    Buffer buffer;
    bool valid = false; ///< holds data (uploaded or computed)
  };
  std::map<std::string, Resident> residents;
  /// The arenas of every function live in one pool of chunk buffers, each
  /// at most the device's largest allocation, sized to the largest need of
  /// any function: functions never run at once, so they share the memory.
  std::deque<Buffer> arenaPool; // deque: growing keeps Buffer addresses
  /// Bumped when a resident or pool buffer moves: states re-bind.
  uint64_t bufferGeneration = 1;
  int reportedMessages = 0; ///< validation messages already turned into errors
  int messagesBefore = 0;   ///< the shared context's count when we opened

  // --- Recorder state of the call being recorded or replayed. -------------
  FunctionState *st = nullptr;
  size_t kernelIndex = 0;
  bool replay = false, mismatch = false, profiling = false;
  size_t dispatchCount = 0;
  size_t chunk = 0;
  VkDeviceSize chunkOffset = 0;
  alignas(8) unsigned char pushBuffer[256] = {};
  std::vector<unsigned char> constantScratch;

  ~Impl() override {
    if (!ctx)
      return;
    vkDeviceWaitIdle(ctx->device());
    for (auto &s : states)
      releaseState(*s);
    for (auto &kv : residents)
      ctx->destroyBuffer(kv.second.buffer);
    for (Buffer &b : arenaPool)
      ctx->destroyBuffer(b);
    ctx->savePipelineCache();
  }

  void releaseState(FunctionState &s) {
    for (Buffer &b : s.inputs)
      ctx->destroyBuffer(b);
    ctx->destroyBuffer(s.staging);
    ctx->destroyBuffer(s.readback);
    for (auto &kv : s.scratch)
      ctx->destroyBuffer(kv.second);
    for (Buffer &b : s.constantChunks)
      ctx->destroyBuffer(b);
    if (s.cmd)
      vkFreeCommandBuffers(ctx->device(), ctx->commandPool(), 1, &s.cmd);
    if (s.queries)
      vkDestroyQueryPool(ctx->device(), s.queries, nullptr);
  }

  // --- vk::Recorder ---------------------------------------------------------
  const vk::DeviceCaps &caps() const override { return ctx->caps(); }

  void record(VkPipeline pipeline, const void *push, uint32_t pushBytes,
              uint32_t gx, uint32_t gy, uint32_t gz) {
    if (pushBytes > ctx->pushConstantBytes())
      throw ExecutorError("vulkan: push constants of " +
                          std::to_string(pushBytes) + " bytes exceed the " +
                          std::to_string(ctx->pushConstantBytes()) +
                          " the device allows");
    ++dispatchCount;
    if (replay)
      return;
    st->dispatchKernel.push_back(kernelIndex);
    // Push the whole layout range (zero-padded) so every byte a shader may
    // read has been set.
    std::memset(pushBuffer, 0, sizeof pushBuffer);
    std::memcpy(pushBuffer, push, pushBytes);
    vkCmdBindPipeline(st->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
    vkCmdPushConstants(st->cmd, ctx->pipelineLayout(),
                       VK_SHADER_STAGE_COMPUTE_BIT, 0, ctx->pushConstantBytes(),
                       pushBuffer);
    vkCmdDispatch(st->cmd, gx, gy, gz);
    computeBarrier();
    if (profiling && st->dispatchKernel.size() < st->queryCapacity)
      vkCmdWriteTimestamp(st->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                          st->queries, uint32_t(st->dispatchKernel.size()));
  }

  void dispatch(const char *shader, const void *push, uint32_t pushBytes,
                uint32_t gx, uint32_t gy, uint32_t gz) override {
    record(replay ? VK_NULL_HANDLE : ctx->pipeline(shader), push, pushBytes, gx,
           gy, gz);
  }

  void dispatchSpirv(const std::vector<uint32_t> &spirv, const void *push,
                     uint32_t pushBytes, uint32_t gx, uint32_t gy,
                     uint32_t gz) override {
    record(replay ? VK_NULL_HANDLE : ctx->pipeline(spirvKey(spirv), spirv),
           push, pushBytes, gx, gy, gz);
  }

  /// One pipeline per distinct SPIR-V (identical programs share it): FNV-1a
  /// over the words plus their count; computed when recording only.
  static std::string spirvKey(const std::vector<uint32_t> &words) {
    uint64_t h = 1469598103934665603ull;
    for (uint32_t w : words) {
      h ^= w;
      h *= 1099511628211ull;
    }
    return "elementwise." + std::to_string(h) + "." +
           std::to_string(words.size());
  }

  uint64_t scratch(int slot, size_t bytes) override {
    auto key = std::make_pair(kernelIndex, slot);
    Buffer &b = st->scratch[key];
    if (b.size < bytes) {
      if (replay) { // cannot happen for an unchanged binding; re-record
        mismatch = true;
      }
      ctx->destroyBuffer(b);
      b = ctx->createBuffer(bytes, MemoryUse::Device, "kernel scratch");
    }
    return b.address;
  }

  uint64_t constants(const void *data, size_t bytes) override {
    VkDeviceSize need = align16(bytes);
    // Chunks of 64 KiB, or the device's largest buffer if that is smaller.
    const VkDeviceSize chunkBytes =
        std::min<VkDeviceSize>(kConstantChunk, ctx->maxBufferBytes());
    if (need > chunkBytes)
      throw ExecutorError("vulkan: constant block of " + std::to_string(bytes) +
                          " bytes is too large");
    if (chunk < st->constantChunks.size() && chunkOffset + need > chunkBytes) {
      ++chunk;
      chunkOffset = 0;
    }
    if (chunk == st->constantChunks.size()) {
      if (replay)
        mismatch = true;
      st->constantChunks.push_back(
          ctx->createBuffer(chunkBytes, MemoryUse::Device, "kernel constants"));
    }
    Buffer &b = st->constantChunks[chunk];
    // Device-local, filled by an update recorded in the command buffer (the
    // data travels with it, so a replay restores it): shaders never read
    // argument blocks over PCIe. Blocks depend only on shapes and addresses.
    if (!replay) {
      size_t n = (bytes + 3) & ~size_t(3);
      constantScratch.assign(n, 0);
      std::memcpy(constantScratch.data(), data, bytes);
      vkCmdUpdateBuffer(st->cmd, b.buffer, chunkOffset, n,
                        constantScratch.data());
      computeBarrier();
    }
    uint64_t address = b.address + chunkOffset;
    chunkOffset += need;
    return address;
  }

  /// One-shot transfer between the host and a device buffer, outside the
  /// recorded commands (resident tensors: first upload, readBack).
  void transfer(Buffer &device, void *host, size_t bytes, bool toDevice,
                VkDeviceSize offset = 0) {
    if (!bytes)
      return;
    if (device.mapped && (toDevice || device.hostCached)) {
      if (toDevice)
        std::memcpy(device.mapped + offset, host, bytes);
      else
        std::memcpy(host, device.mapped + offset, bytes);
      return;
    }
    Buffer staging = ctx->createBuffer(
        bytes, toDevice ? MemoryUse::Upload : MemoryUse::Readback, "transfer");
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    try {
      if (toDevice)
        std::memcpy(staging.mapped, host, bytes);
      VkCommandBufferAllocateInfo ai{
          VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
      ai.commandPool = ctx->commandPool();
      ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
      ai.commandBufferCount = 1;
      check(vkAllocateCommandBuffers(ctx->device(), &ai, &cmd),
            "vkAllocateCommandBuffers");
      VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
      bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
      check(vkBeginCommandBuffer(cmd, &bi), "vkBeginCommandBuffer");
      VkBufferCopy c{toDevice ? 0 : offset, toDevice ? offset : 0, bytes};
      if (toDevice)
        vkCmdCopyBuffer(cmd, staging.buffer, device.buffer, 1, &c);
      else
        vkCmdCopyBuffer(cmd, device.buffer, staging.buffer, 1, &c);
      VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
      mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
      mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_SHADER_READ_BIT |
                         VK_ACCESS_SHADER_WRITE_BIT;
      vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
                           VK_PIPELINE_STAGE_HOST_BIT |
                               VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                           0, 1, &mb, 0, nullptr, 0, nullptr);
      check(vkEndCommandBuffer(cmd), "vkEndCommandBuffer");
      ctx->submitAndWait(cmd);
      if (!toDevice)
        std::memcpy(host, staging.mapped, bytes);
    } catch (...) {
      if (cmd)
        vkFreeCommandBuffers(ctx->device(), ctx->commandPool(), 1, &cmd);
      ctx->destroyBuffer(staging);
      throw;
    }
    vkFreeCommandBuffers(ctx->device(), ctx->commandPool(), 1, &cmd);
    ctx->destroyBuffer(staging);
  }
  void copyToDevice(Buffer &device, const void *host, size_t bytes) {
    transfer(device, const_cast<void *>(host), bytes, true);
  }

  /// Runs the function's all_reduce kernels over `group` through host
  /// staging, after its commands ran: download each bucket, reduce, upload,
  /// and refresh the outputs the commands already copied for the host.
  void reduceOnHost(FunctionState &s, collective::Collective &group) {
    const Function &f = *s.fn;
    size_t next = 0;
    std::map<int64_t, const std::vector<float> *> reducedRoots;
    for (size_t k : s.allReduces) {
      const Kernel &kernel = f.kernels[k];
      std::vector<collective::Span> spans;
      for (int64_t id : kernel.outputs) {
        if (s.reduceStaging.size() <= next)
          s.reduceStaging.emplace_back();
        std::vector<float> &host = s.reduceStaging[next++];
        host.resize(size_t(s.tensors[id].numel));
        transfer(*s.where[id].buffer, host.data(), host.size() * 4, false,
                 s.where[id].offset);
        spans.push_back({host.data(), host.size()});
        reducedRoots[s.root[id]] = &host;
      }
      group.startAllReduce(spans, collective::reductionByName(
                                      kernel.attrs.value("reduction", "")));
      group.waitAll();
      for (size_t i = 0; i < kernel.outputs.size(); ++i) {
        int64_t id = kernel.outputs[i];
        transfer(*s.where[id].buffer, spans[i].data, spans[i].count * 4, true,
                 s.where[id].offset);
      }
    }
    for (size_t o = 0; o < f.outputs.size(); ++o) {
      auto it = reducedRoots.find(s.root[f.outputs[o].value]);
      if (it != reducedRoots.end() && !s.skipOutput[o] &&
          s.readbackOffset[o] != ~VkDeviceSize(0))
        std::memcpy(s.readback.mapped + s.readbackOffset[o], it->second->data(),
                    it->second->size() * 4);
    }
  }

  /// Under the validation layers any message is an error: a call that
  /// misuses the API must not pass silently (see docs/vulkan.md).
  void failOnValidationMessages() {
    int n = ctx->validationMessages();
    if (n > reportedMessages) {
      reportedMessages = n;
      throw ExecutorError("vulkan validation layer: " +
                          ctx->lastValidationMessage());
    }
  }

  void computeBarrier() {
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask =
        VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                       VK_ACCESS_TRANSFER_READ_BIT;
    vkCmdPipelineBarrier(
        st->cmd,
        VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
        VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
        0, 1, &mb, 0, nullptr, 0, nullptr);
  }

  // --- The call. -------------------------------------------------------------
  void bindBuffers(FunctionState &s, const CallBinding &call);
  void layoutArenas(FunctionState &s, int64_t bt);
  void recordOrReplay(FunctionState &s);
  std::map<std::string, HostTensor>
  run(FunctionState &s, const CallBinding &call,
      std::map<std::string, Executor::KernelTime> *profile,
      collective::Collective *group);
};

/// (Re)allocates the buffers for a new binding and lays out staging.
void VulkanExecutor::Impl::bindBuffers(FunctionState &s,
                                       const CallBinding &call) {
  const Function &f = *s.fn;
  const std::string where = "function '" + f.name + "'";
  s.bound = false; // until every step below succeeded
  s.shapes = bindValueShapes(f, call.B, call.T, call.N);
  s.recorded = false;
  int64_t bt = call.B * call.T;
  if (f.tokenBytes && bt > (int64_t(1) << 46) / f.tokenBytes)
    throw ExecutorError(where + ": token arena of " +
                        std::to_string(f.tokenBytes) + " * " +
                        std::to_string(bt) + " bytes is too large");
  layoutArenas(s, bt);
  s.inputs.resize(f.inputs.size());
  s.inputBuffer.assign(f.inputs.size(), nullptr);
  s.resident.assign(f.inputs.size(), false);
  s.residentOf.assign(f.inputs.size(), nullptr);
  s.stagingOffset.assign(f.inputs.size(), ~VkDeviceSize(0));
  VkDeviceSize stagingBytes = 0;
  for (size_t i = 0; i < f.inputs.size(); ++i) {
    VkDeviceSize bytes =
        VkDeviceSize(numElements(s.shapes[f.inputs[i].value])) * 4;
    auto r = residents.find(f.inputs[i].name);
    if (r != residents.end()) {
      // Uploaded on demand outside the recorded commands (uploadResident).
      Buffer &b = r->second.buffer;
      if (!b.buffer || b.size < bytes) {
        vkDeviceWaitIdle(ctx->device());
        ctx->destroyBuffer(b);
        b = ctx->createBuffer(bytes, MemoryUse::Device,
                              "resident '" + f.inputs[i].name + "'");
        r->second.valid = false;
        ++bufferGeneration; // other states re-bind their addresses
      }
      s.inputBuffer[i] = &b;
      s.resident[i] = true;
      s.residentOf[i] = &r->second;
      ctx->destroyBuffer(s.inputs[i]); // a per-state copy is not needed
      continue;
    }
    s.inputBuffer[i] = &s.inputs[i];
    Buffer &b = s.inputs[i];
    if (!b.buffer || b.size < bytes) {
      ctx->destroyBuffer(b);
      b = ctx->createBuffer(bytes, MemoryUse::Device,
                            where + " input '" + f.inputs[i].name + "'");
    }
    if (!b.mapped) {
      s.stagingOffset[i] = stagingBytes;
      stagingBytes += align16(bytes);
    }
  }
  if (stagingBytes > s.staging.size || (stagingBytes && !s.staging.buffer)) {
    ctx->destroyBuffer(s.staging);
    s.staging = ctx->createBuffer(stagingBytes, MemoryUse::Upload,
                                  where + " staging buffer");
  }

  // Addresses of every value.
  s.tensors.assign(f.values.size(), DeviceTensor{});
  s.where.assign(f.values.size(), Location{});
  for (size_t v = 0; v < f.values.size(); ++v) {
    DeviceTensor &t = s.tensors[v];
    t.dtype = f.values[v].dtype;
    t.shape = s.shapes[v];
    t.numel = numElements(t.shape);
    const Storage &st = f.values[s.root[v]].storage;
    Location loc;
    switch (st.kind) {
    case StorageKind::Input:
      loc = {s.inputBuffer[st.index], 0};
      break;
    case StorageKind::StaticArena:
    case StorageKind::TokenArena:
      loc = {&arenaPool[s.arenaSlot[s.root[v]].first],
             s.arenaSlot[s.root[v]].second};
      break;
    case StorageKind::Alias:
      break; // roots are not aliases
    }
    s.where[v] = loc;
    t.address = loc.buffer->address + loc.offset;
  }

  // Readback: outputs whose memory the host cannot map go through one
  // host-visible buffer.
  s.readbackOffset.assign(f.outputs.size(), ~VkDeviceSize(0));
  s.skipOutput.assign(f.outputs.size(), false);
  VkDeviceSize readbackBytes = 0;
  for (size_t o = 0; o < f.outputs.size(); ++o) {
    const Location &loc = s.where[f.outputs[o].value];
    int64_t alias = f.outputs[o].aliasInput;
    if (alias >= 0 && s.resident[alias]) {
      s.skipOutput[o] = true; // stays on the device
      continue;
    }
    if (loc.buffer->mapped && loc.buffer->hostCached)
      continue; // the host reads it directly
    s.readbackOffset[o] = readbackBytes;
    readbackBytes +=
        align16(VkDeviceSize(s.tensors[f.outputs[o].value].numel) * 4);
  }
  if (readbackBytes > s.readback.size ||
      (readbackBytes && !s.readback.buffer)) {
    ctx->destroyBuffer(s.readback);
    s.readback = ctx->createBuffer(readbackBytes, MemoryUse::Readback,
                                   where + " readback buffer");
  }
  s.B = call.B;
  s.T = call.T;
  s.N = call.N;
  s.operands.assign(f.kernels.size(), {});
  for (size_t k = 0; k < f.kernels.size(); ++k) {
    for (int64_t id : f.kernels[k].inputs)
      s.operands[k].in.push_back(id < 0 ? nullptr : &s.tensors[id]);
    for (int64_t id : f.kernels[k].outputs)
      s.operands[k].out.push_back(id < 0 ? nullptr : &s.tensors[id]);
  }
  s.bufferGeneration = bufferGeneration;
  s.bound = true;
}

/// Splits the function's static and token arenas into chunks of at most
/// the device's largest buffer and grows the shared pool to fit them. Each
/// root value lies wholly in one chunk (aliases follow their roots). Roots
/// that overlap in the plan only reuse bytes at different times (an
/// in-place elementwise output, adamw and kv_cache_write are correct
/// out of place too; docs/artifact.md), so overlapping roots may land in
/// different chunks: a split then costs the overlap twice, never
/// correctness.
void VulkanExecutor::Impl::layoutArenas(FunctionState &s, int64_t bt) {
  const Function &f = *s.fn;
  const VkDeviceSize maxBytes = ctx->maxBufferBytes();
  s.arenaSlot.assign(f.values.size(), {0, 0});
  std::vector<VkDeviceSize> need;
  for (StorageKind kind : {StorageKind::StaticArena, StorageKind::TokenArena}) {
    struct Interval {
      VkDeviceSize begin, end;
      size_t value;
    };
    std::vector<Interval> values;
    for (size_t v = 0; v < f.values.size(); ++v) {
      const Storage &st = f.values[v].storage;
      if (st.kind != kind)
        continue;
      VkDeviceSize begin =
          VkDeviceSize(st.offset) * (kind == StorageKind::TokenArena ? bt : 1);
      VkDeviceSize bytes = VkDeviceSize(numElements(s.shapes[v])) * 4;
      if (bytes > maxBytes)
        throw ExecutorError("function '" + f.name + "': values[" +
                            std::to_string(v) + "] needs " +
                            std::to_string(bytes) +
                            " bytes, more than the device's largest buffer (" +
                            std::to_string(maxBytes) + " bytes)");
      values.push_back({begin, begin + bytes, v});
    }
    std::sort(
        values.begin(), values.end(),
        [](const Interval &a, const Interval &b) { return a.begin < b.begin; });
    bool open = false;
    VkDeviceSize chunkBegin = 0, chunkEnd = 0;
    for (const Interval &iv : values) {
      if (!open || iv.end - chunkBegin > maxBytes) {
        need.push_back(0);
        chunkBegin = chunkEnd = iv.begin;
        open = true;
      }
      chunkEnd = std::max(chunkEnd, iv.end);
      need.back() = chunkEnd - chunkBegin;
      s.arenaSlot[iv.value] = {need.size() - 1, iv.begin - chunkBegin};
    }
  }
  if (arenaPool.size() < need.size())
    arenaPool.resize(need.size());
  for (size_t c = 0; c < need.size(); ++c)
    if (!arenaPool[c].buffer || arenaPool[c].size < need[c]) {
      ctx->destroyBuffer(arenaPool[c]); // no submission is in flight
      arenaPool[c] = ctx->createBuffer(std::max<VkDeviceSize>(need[c], 16),
                                       MemoryUse::Device, "arena");
      ++bufferGeneration; // states recorded with the old buffer re-bind
    }
}

/// Runs every kernel's record function: recording the command buffer the
/// first time (or when anything changed), else only their host-side checks
/// and constant blocks, replaying the recorded commands.
void VulkanExecutor::Impl::recordOrReplay(FunctionState &s) {
  const Function &f = *s.fn;
  for (int attempt = 0; attempt < 2; ++attempt) {
    replay = s.recorded && s.recordedProfiling == profiling && attempt == 0;
    mismatch = false;
    st = &s;
    dispatchCount = 0;
    chunk = 0;
    chunkOffset = 0;
    if (!replay) {
      if (!s.cmd) {
        VkCommandBufferAllocateInfo ai{
            VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
        ai.commandPool = ctx->commandPool();
        ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
        ai.commandBufferCount = 1;
        check(vkAllocateCommandBuffers(ctx->device(), &ai, &s.cmd),
              "vkAllocateCommandBuffers");
      }
      check(vkResetCommandBuffer(s.cmd, 0), "vkResetCommandBuffer");
      VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
      check(vkBeginCommandBuffer(s.cmd, &bi), "vkBeginCommandBuffer");
      s.dispatchKernel.clear();
      if (profiling) {
        uint32_t need = 1;
        for (const Kernel &k : f.kernels)
          need += k.kernel == kernelName(KernelId::Elementwise)
                      ? 1
                      : 4; // grown below if short
        need = std::max(need, uint32_t(4096));
        if (s.queryCapacity < need) {
          if (s.queries)
            vkDestroyQueryPool(ctx->device(), s.queries, nullptr);
          VkQueryPoolCreateInfo qi{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
          qi.queryType = VK_QUERY_TYPE_TIMESTAMP;
          qi.queryCount = need;
          check(vkCreateQueryPool(ctx->device(), &qi, nullptr, &s.queries),
                "vkCreateQueryPool");
          s.queryCapacity = need;
        }
        vkCmdResetQueryPool(s.cmd, s.queries, 0, s.queryCapacity);
        vkCmdWriteTimestamp(s.cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, s.queries,
                            0);
      }
      // Uploads through staging, then make them visible to the shaders.
      bool anyCopy = false;
      for (size_t i = 0; i < f.inputs.size(); ++i) {
        if (s.stagingOffset[i] == ~VkDeviceSize(0))
          continue;
        VkDeviceSize bytes =
            VkDeviceSize(numElements(s.shapes[f.inputs[i].value])) * 4;
        if (!bytes)
          continue;
        VkBufferCopy c{s.stagingOffset[i], 0, bytes};
        vkCmdCopyBuffer(s.cmd, s.staging.buffer, s.inputBuffer[i]->buffer, 1,
                        &c);
        anyCopy = true;
      }
      if (anyCopy)
        computeBarrier();
    }
    for (size_t k = 0; k < f.kernels.size(); ++k) {
      const Kernel &kernel = f.kernels[k];
      kernelIndex = k;
      vk::KernelContext kc{kernel, s.operands[k].in, s.operands[k].out, *this,
                           s.fp16Products};
      try {
        s.recordFn[k](kc);
      } catch (const std::exception &e) {
        if (!replay)
          vkEndCommandBuffer(s.cmd);
        s.recorded = false;
        throw ExecutorError("function '" + f.name + "': kernels[" +
                            std::to_string(k) + "] (" + kernel.kernel +
                            (kernel.loc.empty() ? "" : " at " + kernel.loc) +
                            "): " + e.what());
      }
    }
    if (replay && (mismatch || dispatchCount != s.dispatchKernel.size()))
      continue; // something changed size: record afresh
    if (!replay) {
      if (profiling && s.dispatchKernel.size() + 1 > s.queryCapacity) {
        vkEndCommandBuffer(s.cmd);
        s.queryCapacity = 0; // grow and record again
        vkDestroyQueryPool(ctx->device(), s.queries, nullptr);
        s.queries = VK_NULL_HANDLE;
        continue;
      }
      // An in-place output into a resident input that the plan computed
      // elsewhere: copy it into the resident buffer (it is not read back).
      bool residentCopy = false;
      for (size_t o = 0; o < f.outputs.size(); ++o) {
        int64_t v = f.outputs[o].value, in = f.outputs[o].aliasInput;
        if (!s.skipOutput[o] || s.where[v].buffer == s.inputBuffer[in])
          continue;
        VkDeviceSize bytes = VkDeviceSize(s.tensors[v].numel) * 4;
        if (!bytes)
          continue;
        VkBufferCopy c{s.where[v].offset, 0, bytes};
        vkCmdCopyBuffer(s.cmd, s.where[v].buffer->buffer,
                        s.inputBuffer[in]->buffer, 1, &c);
        residentCopy = true;
      }
      if (residentCopy)
        computeBarrier();
      // Copies for readback.
      for (size_t o = 0; o < f.outputs.size(); ++o) {
        if (s.readbackOffset[o] == ~VkDeviceSize(0))
          continue;
        int64_t v = f.outputs[o].value;
        VkDeviceSize bytes = VkDeviceSize(s.tensors[v].numel) * 4;
        if (!bytes)
          continue;
        VkBufferCopy c{s.where[v].offset, s.readbackOffset[o], bytes};
        vkCmdCopyBuffer(s.cmd, s.where[v].buffer->buffer, s.readback.buffer, 1,
                        &c);
      }
      VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
      mb.srcAccessMask =
          VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
      mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
      vkCmdPipelineBarrier(
          s.cmd,
          VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
          VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
      check(vkEndCommandBuffer(s.cmd), "vkEndCommandBuffer");
      s.recorded = true;
      s.recordedProfiling = profiling;
    }
    return;
  }
  throw ExecutorError("vulkan: recording '" + f.name + "' did not settle");
}

std::map<std::string, HostTensor>
VulkanExecutor::Impl::run(FunctionState &s, const CallBinding &call,
                          std::map<std::string, Executor::KernelTime> *profile,
                          collective::Collective *group) {
  const Function &f = *s.fn;
  if (s.B != call.B || s.T != call.T || s.N != call.N || !s.bound ||
      s.bufferGeneration != bufferGeneration)
    bindBuffers(s, call);
  profiling = profile != nullptr && ctx->timestamps();

  // The caller's buffers change from call to call.
  for (size_t v = 0; v < f.values.size(); ++v) {
    const Storage &storage = f.values[s.root[v]].storage;
    // A resident input's host buffer may be stale: no host checks on it.
    s.tensors[v].host =
        storage.kind == StorageKind::Input && !s.resident[storage.index]
            ? call.views[storage.index]->data
            : nullptr;
  }
  // Host-side checks run inside the record functions, before any upload.
  recordOrReplay(s);
  failOnValidationMessages();

  for (size_t i = 0; i < f.inputs.size(); ++i) {
    size_t bytes = size_t(numElements(s.shapes[f.inputs[i].value])) * 4;
    if (!bytes)
      continue;
    const void *src = call.views[i]->data;
    if (s.resident[i]) {
      Resident &r = *static_cast<Resident *>(s.residentOf[i]);
      if (!r.valid)
        copyToDevice(r.buffer, src, bytes);
      r.valid = true;
      continue;
    }
    if (s.stagingOffset[i] == ~VkDeviceSize(0))
      std::memcpy(s.inputs[i].mapped, src, bytes);
    else
      std::memcpy(s.staging.mapped + s.stagingOffset[i], src, bytes);
  }
  ctx->submitAndWait(s.cmd);
  failOnValidationMessages();
  if (group && !s.allReduces.empty())
    reduceOnHost(s, *group);

  if (profiling && !s.dispatchKernel.empty()) {
    std::vector<uint64_t> ts(s.dispatchKernel.size() + 1);
    check(vkGetQueryPoolResults(
              ctx->device(), s.queries, 0, uint32_t(ts.size()), ts.size() * 8,
              ts.data(), 8, VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
          "vkGetQueryPoolResults");
    std::vector<bool> seen(f.kernels.size(), false);
    for (size_t d = 0; d < s.dispatchKernel.size(); ++d) {
      size_t k = s.dispatchKernel[d];
      Executor::KernelTime &kt = (*profile)[f.kernels[k].kernel];
      kt.seconds += double((ts[d + 1] - ts[d]) & ctx->timestampMask()) *
                    ctx->timestampPeriodNs() * 1e-9;
      if (!seen[k]) {
        seen[k] = true;
        ++kt.calls;
      }
    }
  }

  std::map<std::string, HostTensor> result;
  for (size_t o = 0; o < f.outputs.size(); ++o) {
    const FunctionOutput &out = f.outputs[o];
    const DeviceTensor &t = s.tensors[out.value];
    if (s.skipOutput[o])
      continue;
    size_t bytes = size_t(t.numel) * 4;
    const char *src =
        s.readbackOffset[o] == ~VkDeviceSize(0)
            ? s.where[out.value].buffer->mapped + s.where[out.value].offset
            : s.readback.mapped + s.readbackOffset[o];
    if (out.aliasInput >= 0) {
      if (bytes)
        std::memcpy(call.views[out.aliasInput]->data, src, bytes);
      continue;
    }
    HostTensor h;
    h.dtype = t.dtype;
    h.shape = t.shape;
    if (t.dtype == DType::F32) {
      h.f32.resize(t.numel);
      if (bytes)
        std::memcpy(h.f32.data(), src, bytes);
    } else {
      h.i32.resize(t.numel);
      if (bytes)
        std::memcpy(h.i32.data(), src, bytes);
    }
    result.emplace(out.name, std::move(h));
  }
  return result;
}

VulkanExecutor::VulkanExecutor(const Artifact &artifact,
                               const VulkanOptions &options)
    : impl_(std::make_unique<Impl>()) {
  validateArtifact(artifact, "artifact");
  if (artifact.target != "vulkan")
    throw ExecutorError("artifact target is '" + artifact.target +
                        "', the Vulkan executor runs target 'vulkan' (compile "
                        "with gptc --target=vulkan)");
  impl_->artifact = artifact;
  impl_->table = vk::kernelTable();
  for (const Function &f : impl_->artifact.functions)
    for (const Kernel &k : f.kernels)
      if (!impl_->table.find(k.kernel))
        throw ExecutorError("function '" + f.name +
                            "': the Vulkan backend "
                            "has no kernel '" +
                            k.kernel + "'");
  impl_->ctx = &vk::Context::acquire(options);
  // Messages seen by the shared context before this executor are not ours.
  impl_->reportedMessages = impl_->ctx->validationMessages();
  impl_->messagesBefore = impl_->reportedMessages;
  for (const Function &f : impl_->artifact.functions) {
    auto s = std::make_unique<FunctionState>();
    s->fn = &f;
    s->root = aliasRoots(f);
    bool training = false;
    for (size_t k = 0; k < f.kernels.size(); ++k)
      if (f.kernels[k].kernel == kernelName(KernelId::AllReduce))
        s->allReduces.push_back(k);
    for (bool wait : reductionBarriers(f))
      s->reducesMidway = s->reducesMidway || wait;
    for (const Kernel &k : f.kernels) {
      s->recordFn.push_back(impl_->table.find(k.kernel)); // checked above
      training = training || k.kernel == kernelName(KernelId::Adamw) ||
                 k.kernel.find("_grad") != std::string::npos;
    }
    const vk::DeviceCaps &caps = impl_->ctx->caps();
    s->fp16Products =
        caps.coopmat && (caps.coopmatPolicy == "all" ||
                         (caps.coopmatPolicy == "inference" && !training));
    impl_->states.push_back(std::move(s));
  }
}

VulkanExecutor::~VulkanExecutor() = default;

const Artifact &VulkanExecutor::artifact() const { return impl_->artifact; }

const VulkanDeviceInfo &VulkanExecutor::device() const {
  return impl_->ctx->info();
}

uint64_t VulkanExecutor::peakDeviceMemoryBytes() const {
  return impl_->ctx->peakAllocatedBytes();
}

uint64_t VulkanExecutor::kernelScratchBytes() const {
  uint64_t bytes = 0;
  for (const auto &st : impl_->states)
    for (const auto &kv : st->scratch)
      bytes += kv.second.size;
  return bytes;
}

std::string VulkanExecutor::deviceDescription() const {
  const VulkanDeviceInfo &d = impl_->ctx->info();
  return "Vulkan " + d.apiVersion + " " + d.name + " (" + d.type + ", " +
         d.driver + ")";
}

int VulkanExecutor::validationMessages() const {
  return impl_->ctx->validationMessages() - impl_->messagesBefore;
}

std::string VulkanExecutor::lastValidationMessage() const {
  return impl_->ctx->lastValidationMessage();
}

std::map<std::string, HostTensor>
VulkanExecutor::run(const std::string &function,
                    const std::map<std::string, TensorView> &inputs) {
  FunctionState *s = nullptr;
  for (const auto &st : impl_->states)
    if (st->fn->name == function) {
      s = st.get();
      break;
    }
  if (!s)
    findFunctionOrThrow(impl_->artifact, function); // throws
  CallBinding call = bindCall(*s->fn, inputs);
  collective::Collective *group = activeCollective();
  if (group && group->worldSize() == 1)
    group = nullptr;
  if (group && s->reducesMidway)
    throw ExecutorError("vulkan: function '" + function +
                        "' reads bytes an all_reduce reduced before it ends; "
                        "the Vulkan executor reduces after the function");
  return impl_->run(*s, call, profiling_ ? &profile_ : nullptr, group);
}

void VulkanExecutor::setResident(const std::vector<std::string> &names) {
  for (const std::string &n : names)
    impl_->residents[n];     // created empty; allocated at the first binding
  ++impl_->bufferGeneration; // every state re-binds (inputs move)
}

void VulkanExecutor::markHostChanged(const std::string &name) {
  auto it = impl_->residents.find(name);
  if (it != impl_->residents.end())
    it->second.valid = false;
}

void VulkanExecutor::readBack(const std::string &name, const TensorView &dst) {
  auto it = impl_->residents.find(name);
  if (it == impl_->residents.end())
    throw ExecutorError("readBack: '" + name + "' is not resident");
  if (!it->second.valid)
    return; // never uploaded nor computed: the host copy is current
  size_t bytes = size_t(numElements(dst.shape)) * 4;
  if (bytes > it->second.buffer.size)
    throw ExecutorError("readBack: '" + name + "' holds " +
                        std::to_string(it->second.buffer.size) +
                        " bytes on the device, asked for " +
                        std::to_string(bytes));
  impl_->transfer(it->second.buffer, dst.data, bytes, false);
}

} // namespace gpt
