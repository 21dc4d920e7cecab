//===- VulkanContext.cpp - Instance, device, memory and pipelines ---------===//
#include "runtime/vulkan/VulkanContext.h"
#include "runtime/vulkan/Shaders.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace gpt {
namespace vk {

const char *resultName(VkResult r) {
  switch (r) {
  case VK_SUCCESS:
    return "VK_SUCCESS";
  case VK_ERROR_OUT_OF_HOST_MEMORY:
    return "VK_ERROR_OUT_OF_HOST_MEMORY";
  case VK_ERROR_OUT_OF_DEVICE_MEMORY:
    return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
  case VK_ERROR_INITIALIZATION_FAILED:
    return "VK_ERROR_INITIALIZATION_FAILED";
  case VK_ERROR_DEVICE_LOST:
    return "VK_ERROR_DEVICE_LOST";
  case VK_ERROR_LAYER_NOT_PRESENT:
    return "VK_ERROR_LAYER_NOT_PRESENT";
  case VK_ERROR_EXTENSION_NOT_PRESENT:
    return "VK_ERROR_EXTENSION_NOT_PRESENT";
  case VK_ERROR_FEATURE_NOT_PRESENT:
    return "VK_ERROR_FEATURE_NOT_PRESENT";
  case VK_ERROR_INCOMPATIBLE_DRIVER:
    return "VK_ERROR_INCOMPATIBLE_DRIVER";
  case VK_ERROR_TOO_MANY_OBJECTS:
    return "VK_ERROR_TOO_MANY_OBJECTS";
  case VK_TIMEOUT:
    return "VK_TIMEOUT";
  default:
    return "VkResult error";
  }
}

void check(VkResult r, const char *what) {
  if (r != VK_SUCCESS)
    throw ExecutorError(std::string("vulkan: ") + what + " failed: " +
                        resultName(r) + " (" + std::to_string(int(r)) + ")");
}

namespace {

const char *kValidationLayer = "VK_LAYER_KHRONOS_validation";

bool envFlag(const char *name) {
  const char *v = std::getenv(name);
  return v && *v && std::strcmp(v, "0") != 0;
}

VKAPI_ATTR VkBool32 VKAPI_CALL
onMessage(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
          VkDebugUtilsMessageTypeFlagsEXT,
          const VkDebugUtilsMessengerCallbackDataEXT *data, void *user) {
  auto *m = static_cast<Context::Messages *>(user);
  if (severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) {
    m->count.fetch_add(1);
    std::lock_guard<std::mutex> lock(m->mutex);
    m->last = data && data->pMessage ? data->pMessage : "(no text)";
    std::fprintf(stderr, "vulkan validation: %s\n", m->last.c_str());
  }
  return VK_FALSE;
}

struct Instance {
  VkInstance instance = VK_NULL_HANDLE;
  ~Instance() {
    if (instance)
      vkDestroyInstance(instance, nullptr);
  }
};

VkInstance createInstance(bool validation, void *messengerInfo) {
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "gpt";
  app.pEngineName = "gpt";
  app.apiVersion = VK_API_VERSION_1_2;
  std::vector<const char *> layers, extensions;
  if (validation) {
    uint32_t n = 0;
    vkEnumerateInstanceLayerProperties(&n, nullptr);
    std::vector<VkLayerProperties> props(n);
    vkEnumerateInstanceLayerProperties(&n, props.data());
    bool found = false;
    for (const auto &p : props)
      found = found || std::strcmp(p.layerName, kValidationLayer) == 0;
    if (!found)
      throw ExecutorError(
          std::string("vulkan: validation was requested but ") +
          kValidationLayer +
          " is not installed (Debian: apt install vulkan-validationlayers)");
    layers.push_back(kValidationLayer);
    extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
  }
  // MoltenVK (Apple) is a portability driver: loaders since 1.3.216 list it
  // only when the instance asks for portability enumeration.
  bool portability = false;
  {
    uint32_t n = 0;
    vkEnumerateInstanceExtensionProperties(nullptr, &n, nullptr);
    std::vector<VkExtensionProperties> exts(n);
    vkEnumerateInstanceExtensionProperties(nullptr, &n, exts.data());
    for (const auto &e : exts)
      if (std::strcmp(e.extensionName, "VK_KHR_portability_enumeration") == 0)
        portability = true;
  }
  if (portability)
    extensions.push_back("VK_KHR_portability_enumeration");
  VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ci.pNext = messengerInfo; // also reports instance creation problems
  if (portability)
    ci.flags |= 0x00000001; // VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR
  ci.pApplicationInfo = &app;
  ci.enabledLayerCount = static_cast<uint32_t>(layers.size());
  ci.ppEnabledLayerNames = layers.data();
  ci.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
  ci.ppEnabledExtensionNames = extensions.data();
  VkInstance instance = VK_NULL_HANDLE;
  VkResult r = vkCreateInstance(&ci, nullptr, &instance);
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER || r == VK_ERROR_INITIALIZATION_FAILED)
    throw ExecutorError("no Vulkan device: the Vulkan loader found no driver "
                        "(" +
                        std::string(resultName(r)) +
                        "); install one, e.g. mesa-vulkan-drivers for the "
                        "lavapipe CPU driver, or use --backend cpu");
  check(r, "vkCreateInstance");
  return instance;
}

const char *typeName(VkPhysicalDeviceType t) {
  switch (t) {
  case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
    return "discrete-gpu";
  case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
    return "integrated-gpu";
  case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
    return "virtual-gpu";
  case VK_PHYSICAL_DEVICE_TYPE_CPU:
    return "cpu";
  default:
    return "other";
  }
}

std::string versionStr(uint32_t v) {
  return std::to_string(VK_API_VERSION_MAJOR(v)) + "." +
         std::to_string(VK_API_VERSION_MINOR(v)) + "." +
         std::to_string(VK_API_VERSION_PATCH(v));
}

std::vector<VkPhysicalDevice> physicalDevices(VkInstance instance) {
  uint32_t n = 0;
  check(vkEnumeratePhysicalDevices(instance, &n, nullptr),
        "vkEnumeratePhysicalDevices");
  std::vector<VkPhysicalDevice> devices(n);
  check(vkEnumeratePhysicalDevices(instance, &n, devices.data()),
        "vkEnumeratePhysicalDevices");
  devices.resize(n);
  return devices;
}

/// Facts and capabilities of one device.
bool hasDeviceExtension(VkPhysicalDevice pd, const char *name) {
  uint32_t n = 0;
  vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, nullptr);
  std::vector<VkExtensionProperties> exts(n);
  vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, exts.data());
  for (const auto &e : exts)
    if (std::strcmp(e.extensionName, name) == 0)
      return true;
  return false;
}

const char *componentName(VkComponentTypeNV t) {
  switch (t) {
  case VK_COMPONENT_TYPE_FLOAT16_NV:
    return "f16";
  case VK_COMPONENT_TYPE_FLOAT32_NV:
    return "f32";
  case VK_COMPONENT_TYPE_FLOAT64_NV:
    return "f64";
  case VK_COMPONENT_TYPE_SINT8_NV:
    return "s8";
  case VK_COMPONENT_TYPE_UINT8_NV:
    return "u8";
  case VK_COMPONENT_TYPE_SINT32_NV:
    return "s32";
  case VK_COMPONENT_TYPE_UINT32_NV:
    return "u32";
  default:
    return "?";
  }
}

/// The cooperative-matrix shapes of VK_NV_cooperative_matrix ("MxNxK
/// A*B+C" each) and whether the one matmul_coopmat*.comp needs is there:
/// 16 x 16 x 16, fp16 x fp16 + fp32 -> fp32, subgroup scope, with
/// 32-thread subgroups (the shader lays 8 subgroups over 256 threads).
/// Debian 12's Vulkan headers predate VK_KHR_cooperative_matrix, so its
/// presence is only reported.
void describeCoopmat(VkInstance instance, VkPhysicalDevice pd,
                     uint32_t subgroupSize, VulkanDeviceInfo &info,
                     bool *usable) {
  *usable = false;
  if (hasDeviceExtension(pd, "VK_KHR_cooperative_matrix"))
    info.coopmat = "KHR extension present; ";
  if (!instance || !hasDeviceExtension(pd, "VK_NV_cooperative_matrix"))
    return;
  auto get =
      reinterpret_cast<PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV>(
          vkGetInstanceProcAddr(
              instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesNV"));
  if (!get)
    return;
  uint32_t n = 0;
  if (get(pd, &n, nullptr) != VK_SUCCESS)
    return;
  std::vector<VkCooperativeMatrixPropertiesNV> shapes(
      n, {VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV});
  if (get(pd, &n, shapes.data()) != VK_SUCCESS)
    return;
  info.coopmat += "NV:";
  for (uint32_t i = 0; i < n; ++i) {
    const VkCooperativeMatrixPropertiesNV &c = shapes[i];
    info.coopmat += " " + std::to_string(c.MSize) + "x" +
                    std::to_string(c.NSize) + "x" + std::to_string(c.KSize) +
                    " " + componentName(c.AType) + "*" +
                    componentName(c.BType) + "+" + componentName(c.CType);
    if (c.MSize == 16 && c.NSize == 16 && c.KSize == 16 &&
        c.AType == VK_COMPONENT_TYPE_FLOAT16_NV &&
        c.BType == VK_COMPONENT_TYPE_FLOAT16_NV &&
        c.CType == VK_COMPONENT_TYPE_FLOAT32_NV &&
        c.DType == VK_COMPONENT_TYPE_FLOAT32_NV &&
        c.scope == VK_SCOPE_SUBGROUP_NV && subgroupSize == 32)
      *usable = true;
  }
}

VulkanDeviceInfo describe(VkInstance instance, VkPhysicalDevice pd, int index,
                          DeviceCaps *caps) {
  VulkanDeviceInfo info;
  info.index = index;
  VkPhysicalDeviceProperties basic;
  vkGetPhysicalDeviceProperties(pd, &basic);
  const bool v12 = basic.apiVersion >= VK_API_VERSION_1_2;
  VkPhysicalDeviceDriverProperties driver{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  VkPhysicalDeviceSubgroupProperties subgroup{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  subgroup.pNext = v12 ? &driver : nullptr; // 1.2 structs on 1.2 only
  VkPhysicalDeviceProperties2 props{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  props.pNext = &subgroup;
  vkGetPhysicalDeviceProperties2(pd, &props);
  const VkPhysicalDeviceProperties &p = props.properties;
  info.name = p.deviceName;
  info.type = typeName(p.deviceType);
  info.apiVersion = versionStr(p.apiVersion);
  info.driver = v12 ? std::string(driver.driverName) + " " + driver.driverInfo
                    : "driver " + std::to_string(p.driverVersion);
  info.subgroupSize = subgroup.subgroupSize;

  VkPhysicalDeviceVulkan12Features f12{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  VkPhysicalDeviceFeatures2 f{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  f.pNext = v12 ? &f12 : nullptr;
  vkGetPhysicalDeviceFeatures2(pd, &f);
  info.float16 = f12.shaderFloat16;

  VkPhysicalDeviceMemoryProperties mem;
  vkGetPhysicalDeviceMemoryProperties(pd, &mem);
  for (uint32_t h = 0; h < mem.memoryHeapCount; ++h)
    if (mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
      info.deviceLocalBytes += mem.memoryHeaps[h].size;

  bool coopmat = false;
  describeCoopmat(instance, pd, subgroup.subgroupSize, info, &coopmat);
  // The coopmat shaders' GL_KHR_memory_scope_semantics needs
  // vulkanMemoryModel, and once it is on, the other shaders' device-scope
  // atomics (embedding_grad) need vulkanMemoryModelDeviceScope.
  info.coopmatUsable = coopmat && f12.shaderFloat16 && f12.vulkanMemoryModel &&
                       f12.vulkanMemoryModelDeviceScope;

  if (p.apiVersion < VK_API_VERSION_1_2) {
    info.usable = false;
    info.unusableReason = "Vulkan " + info.apiVersion + " < 1.2";
  } else if (!f12.bufferDeviceAddress) {
    info.usable = false;
    info.unusableReason = "no bufferDeviceAddress";
  } else if (!f.features.shaderInt64) {
    info.usable = false;
    info.unusableReason = "no shaderInt64";
  }
  if (caps) {
    caps->subgroupSize = subgroup.subgroupSize;
    caps->subgroupArithmetic =
        (subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
        (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
    caps->float16 = f12.shaderFloat16;
    caps->maxSharedBytes = p.limits.maxComputeSharedMemorySize;
    caps->maxWorkgroupInvocations = p.limits.maxComputeWorkGroupInvocations;
    caps->maxGroupCountX = p.limits.maxComputeWorkGroupCount[0];
    caps->coopmat = info.coopmatUsable;
  }
  return info;
}

int typeRank(const std::string &type) {
  if (type == "discrete-gpu")
    return 0;
  if (type == "integrated-gpu")
    return 1;
  if (type == "virtual-gpu")
    return 2;
  if (type == "cpu")
    return 3;
  return 4;
}

std::string defaultCachePath() {
  std::filesystem::path base;
  if (const char *x = std::getenv("XDG_CACHE_HOME"); x && *x)
    base = x;
  else if (const char *h = std::getenv("HOME"); h && *h)
    base = std::filesystem::path(h) / ".cache";
  else
    return "";
  return (base / "gpt" / "vulkan-pipelines.bin").string();
}

} // namespace

Context::Context(const VulkanOptions &options) : options_(options) {
  VkDebugUtilsMessengerCreateInfoEXT mi{
      VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
  mi.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
  // Validation only: the loader's GENERAL warnings (e.g. drivers skipped by
  // VK_LOADER_DRIVERS_SELECT) are not misuse.
  mi.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT;
  mi.pfnUserCallback = onMessage;
  mi.pUserData = &messages_;
  instance_ =
      createInstance(options.validation, options.validation ? &mi : nullptr);
  try {
    if (options.validation)
      createMessenger(mi);
    std::vector<VkPhysicalDevice> devices = physicalDevices(instance_);
    int chosen = pickDevice(devices);
    physical_ = devices[chosen];
    info_ = describe(instance_, physical_, chosen, &caps_);
    applyTestSwitches();
    readDeviceLimits();
    createDeviceAndQueue();
    createCommandObjects();
    openPipelineCache();
  } catch (...) {
    release();
    throw;
  }
}

void Context::createMessenger(const VkDebugUtilsMessengerCreateInfoEXT &mi) {
  auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
      vkGetInstanceProcAddr(instance_, "vkCreateDebugUtilsMessengerEXT"));
  if (!create)
    throw ExecutorError("vulkan: vkCreateDebugUtilsMessengerEXT missing");
  check(create(instance_, &mi, nullptr, &messenger_),
        "vkCreateDebugUtilsMessengerEXT");
}

/// --device, or the most capable usable device (discrete first).
int Context::pickDevice(const std::vector<VkPhysicalDevice> &devices) {
  const VulkanOptions &options = options_;
  if (devices.empty())
    throw ExecutorError("no Vulkan device: the loader reports none (install "
                        "a driver, e.g. mesa-vulkan-drivers, or use "
                        "--backend cpu)");
  int chosen = -1;
  if (options.device >= 0) {
    if (options.device >= int(devices.size()))
      throw ExecutorError("no Vulkan device " + std::to_string(options.device) +
                          " (there are " + std::to_string(devices.size()) +
                          "; `gpt devices` lists them)");
    VulkanDeviceInfo d =
        describe(instance_, devices[options.device], options.device, nullptr);
    if (!d.usable)
      throw ExecutorError("Vulkan device " + std::to_string(options.device) +
                          " (" + d.name +
                          ") cannot run gpt: " + d.unusableReason);
    chosen = options.device;
  } else {
    int best = 99;
    for (size_t i = 0; i < devices.size(); ++i) {
      VulkanDeviceInfo d = describe(instance_, devices[i], int(i), nullptr);
      if (d.usable && typeRank(d.type) < best) {
        best = typeRank(d.type);
        chosen = int(i);
      }
    }
    if (chosen < 0)
      throw ExecutorError("no usable Vulkan device (gpt needs Vulkan 1.2 "
                          "with bufferDeviceAddress and shaderInt64; `gpt "
                          "devices` lists what is there)");
  }
  return chosen;
}

/// Test switches, read once: a recorded command buffer is replayed.
void Context::applyTestSwitches() {
  // Test switches, read once: a recorded command buffer is replayed.
  if (const char *e = std::getenv("GPT_VK_SUBGROUPS");
      e && !std::strcmp(e, "0"))
    caps_.subgroupArithmetic = false;
  if (const char *e = std::getenv("GPT_VK_MATMUL"); e)
    caps_.forcedMatmul = e;
  if (const char *e = std::getenv("GPT_VK_COOPMAT"); e && *e) {
    std::string v = e;
    if (v != "0" && v != "inference" && v != "all")
      throw ExecutorError("GPT_VK_COOPMAT must be 0, inference or all, not '" +
                          v + "'");
    caps_.coopmatPolicy = v;
  }
  if (caps_.coopmatPolicy == "0")
    caps_.coopmat = false;
}

/// Memory types, push-constant and buffer limits, shared memory, and
/// whether device memory can be mapped directly.
void Context::readDeviceLimits() {
  vkGetPhysicalDeviceMemoryProperties(physical_, &memory_);
  VkPhysicalDeviceProperties props;
  vkGetPhysicalDeviceProperties(physical_, &props);
  timestampPeriod_ = props.limits.timestampPeriod;
  pushBytes_ = std::min<uint32_t>(props.limits.maxPushConstantsSize, 256);
  {
    VkPhysicalDeviceMaintenance3Properties m3{
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
    VkPhysicalDeviceMaintenance4Properties m4{
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_4_PROPERTIES};
    bool v13 = props.apiVersion >= VK_API_VERSION_1_3;
    m3.pNext = v13 ? &m4 : nullptr;
    VkPhysicalDeviceProperties2 p2{
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
    p2.pNext = &m3;
    vkGetPhysicalDeviceProperties2(physical_, &p2);
    maxBufferBytes_ = m3.maxMemoryAllocationSize;
    if (v13 && m4.maxBufferSize)
      maxBufferBytes_ = std::min(maxBufferBytes_, m4.maxBufferSize);
    if (const char *e = std::getenv("GPT_VK_MAX_BUFFER_BYTES"); e && *e)
      maxBufferBytes_ = std::min<VkDeviceSize>(
          maxBufferBytes_, std::max<long long>(256, std::atoll(e)));
  }
  // Kernels need this much shared memory per workgroup (attention_fwd and
  // attention_bwd tiles: 29,312 bytes; see shaders/attention_*.glsl).
  constexpr uint32_t kSharedBytesNeeded = 29312;
  if (caps_.maxSharedBytes < kSharedBytesNeeded)
    throw ExecutorError("Vulkan device '" + info_.name + "' has " +
                        std::to_string(caps_.maxSharedBytes) +
                        " bytes of shared memory per workgroup; the "
                        "attention kernels need " +
                        std::to_string(kSharedBytesNeeded));
  {
    // Map device-local memory directly only where it is the device's
    // main memory: CPUs and integrated GPUs, or a host-visible heap about
    // as large as the largest device-local heap (resizable BAR).
    VkDeviceSize largest = 0, visible = 0;
    for (uint32_t h = 0; h < memory_.memoryHeapCount; ++h)
      if (memory_.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
        largest = std::max(largest, memory_.memoryHeaps[h].size);
    const VkMemoryPropertyFlags both = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT |
                                       VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                       VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    for (uint32_t t = 0; t < memory_.memoryTypeCount; ++t)
      if ((memory_.memoryTypes[t].propertyFlags & both) == both)
        visible = std::max(
            visible,
            memory_.memoryHeaps[memory_.memoryTypes[t].heapIndex].size);
    directDeviceMemory_ = info_.type == "cpu" ||
                          info_.type == "integrated-gpu" ||
                          (largest > 0 && visible >= largest / 10 * 9);
  }
}

/// One compute queue, and the device with only the features shaders use.
void Context::createDeviceAndQueue() {
  uint32_t nq = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(physical_, &nq, nullptr);
  std::vector<VkQueueFamilyProperties> families(nq);
  vkGetPhysicalDeviceQueueFamilyProperties(physical_, &nq, families.data());
  bool found = false;
  for (uint32_t i = 0; i < nq && !found; ++i)
    if (families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
      queueFamily_ = i;
      timestampValidBits_ = families[i].timestampValidBits;
      found = true;
    }
  if (!found)
    throw ExecutorError("Vulkan device '" + info_.name +
                        "' has no compute queue");
  float priority = 1.0f;
  VkDeviceQueueCreateInfo qi{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  qi.queueFamilyIndex = queueFamily_;
  qi.queueCount = 1;
  qi.pQueuePriorities = &priority;

  VkPhysicalDeviceVulkan12Features have12{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  VkPhysicalDeviceVulkan11Features have11{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
  have12.pNext = &have11;
  VkPhysicalDeviceFeatures2 have{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  have.pNext = &have12;
  vkGetPhysicalDeviceFeatures2(physical_, &have);

  // Enable only what shaders may use, each where the device has it.
  VkPhysicalDeviceVulkan11Features want11{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
  want11.storageBuffer16BitAccess = have11.storageBuffer16BitAccess;
  VkPhysicalDeviceVulkan12Features want12{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  want12.pNext = &want11;
  want12.bufferDeviceAddress = VK_TRUE;
  want12.shaderFloat16 = have12.shaderFloat16;
  want12.storageBuffer8BitAccess = have12.storageBuffer8BitAccess;
  want12.shaderInt8 = have12.shaderInt8;
  want12.vulkanMemoryModel = caps_.coopmat ? VK_TRUE : VK_FALSE;
  want12.vulkanMemoryModelDeviceScope = want12.vulkanMemoryModel;
  VkPhysicalDeviceCooperativeMatrixFeaturesNV wantCoopmat{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
  wantCoopmat.cooperativeMatrix = VK_TRUE;
  if (caps_.coopmat)
    want11.pNext = &wantCoopmat;
  VkPhysicalDeviceFeatures2 want{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  want.pNext = &want12;
  want.features.shaderInt64 = VK_TRUE;

  std::vector<const char *> deviceExtensions;
  {
    uint32_t n = 0;
    vkEnumerateDeviceExtensionProperties(physical_, nullptr, &n, nullptr);
    std::vector<VkExtensionProperties> exts(n);
    vkEnumerateDeviceExtensionProperties(physical_, nullptr, &n, exts.data());
    for (const auto &e : exts)
      if (std::strcmp(e.extensionName, "VK_KHR_portability_subset") == 0)
        deviceExtensions.push_back("VK_KHR_portability_subset"); // required
    if (caps_.coopmat)
      deviceExtensions.push_back("VK_NV_cooperative_matrix");
  }
  VkDeviceCreateInfo di{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  di.pNext = &want;
  di.queueCreateInfoCount = 1;
  di.pQueueCreateInfos = &qi;
  di.enabledExtensionCount = uint32_t(deviceExtensions.size());
  di.ppEnabledExtensionNames = deviceExtensions.data();
  check(vkCreateDevice(physical_, &di, nullptr, &device_), "vkCreateDevice");
  vkGetDeviceQueue(device_, queueFamily_, 0, &queue_);
}

void Context::createCommandObjects() {
  VkCommandPoolCreateInfo pi{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pi.queueFamilyIndex = queueFamily_;
  check(vkCreateCommandPool(device_, &pi, nullptr, &commandPool_),
        "vkCreateCommandPool");
  VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  check(vkCreateFence(device_, &fi, nullptr, &fence_), "vkCreateFence");

  VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, pushBytes_};
  VkPipelineLayoutCreateInfo li{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  li.pushConstantRangeCount = 1;
  li.pPushConstantRanges = &range;
  check(vkCreatePipelineLayout(device_, &li, nullptr, &layout_),
        "vkCreatePipelineLayout");
}

void Context::openPipelineCache() {
  const VulkanOptions &options = options_;
  // The on-disk pipeline cache: the driver checks the header (vendor,
  // device, driver UUID) and ignores data from another device.
  cachePath_ = options.pipelineCache.empty()  ? defaultCachePath()
               : options.pipelineCache == "-" ? ""
                                              : options.pipelineCache;
  std::string initial;
  if (!cachePath_.empty()) {
    std::ifstream in(cachePath_, std::ios::binary);
    if (in) {
      std::ostringstream ss;
      ss << in.rdbuf();
      initial = ss.str();
    }
  }
  VkPipelineCacheCreateInfo ci{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
  ci.initialDataSize = initial.size();
  ci.pInitialData = initial.data();
  if (vkCreatePipelineCache(device_, &ci, nullptr, &cache_) != VK_SUCCESS) {
    ci.initialDataSize = 0; // a corrupt cache file costs only a rebuild
    ci.pInitialData = nullptr;
    check(vkCreatePipelineCache(device_, &ci, nullptr, &cache_),
          "vkCreatePipelineCache");
  }
}

void Context::savePipelineCache() {
  std::lock_guard<std::mutex> lock(pipelineMutex_);
  if (!cache_ || cachePath_.empty())
    return;
  size_t n = 0;
  if (vkGetPipelineCacheData(device_, cache_, &n, nullptr) != VK_SUCCESS || !n)
    return;
  std::string data(n, '\0');
  if (vkGetPipelineCacheData(device_, cache_, &n, data.data()) != VK_SUCCESS)
    return;
  data.resize(n);
  // Best effort (a cache is an optimisation): temp file, then rename.
  std::error_code ec;
  std::filesystem::path path(cachePath_);
  std::filesystem::create_directories(path.parent_path(), ec);
  std::string tmp = cachePath_ + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out)
      return;
    out.write(data.data(), std::streamsize(data.size()));
    if (!out)
      return;
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec)
    std::filesystem::remove(tmp, ec);
}

Context::~Context() { release(); }

void Context::release() {
  if (device_) {
    vkDeviceWaitIdle(device_);
    savePipelineCache();
    for (auto &kv : pipelines_)
      vkDestroyPipeline(device_, kv.second, nullptr);
    pipelines_.clear();
    if (cache_)
      vkDestroyPipelineCache(device_, cache_, nullptr);
    if (layout_)
      vkDestroyPipelineLayout(device_, layout_, nullptr);
    if (fence_)
      vkDestroyFence(device_, fence_, nullptr);
    if (commandPool_)
      vkDestroyCommandPool(device_, commandPool_, nullptr);
    vkDestroyDevice(device_, nullptr);
    device_ = VK_NULL_HANDLE;
  }
  if (messenger_) {
    auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
    if (destroy)
      destroy(instance_, messenger_, nullptr);
    messenger_ = VK_NULL_HANDLE;
  }
  if (instance_) {
    vkDestroyInstance(instance_, nullptr);
    instance_ = VK_NULL_HANDLE;
  }
}

std::string Context::lastValidationMessage() const {
  std::lock_guard<std::mutex> lock(messages_.mutex);
  return messages_.last;
}

Buffer Context::createBuffer(VkDeviceSize bytes, MemoryUse use,
                             const std::string &what) {
  Buffer b;
  if (bytes > maxBufferBytes_)
    throw ExecutorError("vulkan: the " + what + " needs " +
                        std::to_string(bytes) +
                        " bytes, more than the device's largest buffer (" +
                        std::to_string(maxBufferBytes_) + " bytes)");
  b.size = std::max<VkDeviceSize>(bytes, 16);
  VkBufferCreateInfo bi{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bi.size = b.size;
  bi.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT |
             VK_BUFFER_USAGE_SHADER_DEVICE_ADDRESS_BIT |
             VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
             VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  check(vkCreateBuffer(device_, &bi, nullptr, &b.buffer), "vkCreateBuffer");
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(device_, b.buffer, &req);

  const VkMemoryPropertyFlags hostBits = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                         VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  auto pick = [&](VkMemoryPropertyFlags need) -> int {
    for (uint32_t i = 0; i < memory_.memoryTypeCount; ++i)
      if ((req.memoryTypeBits & (1u << i)) &&
          (memory_.memoryTypes[i].propertyFlags & need) == need)
        return int(i);
    return -1;
  };
  int type = -1;
  switch (use) {
  case MemoryUse::Device:
    if (!options_.forceStaging && directDeviceMemory_)
      type = pick(VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | hostBits);
    if (type < 0)
      type = pick(VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    if (type < 0)
      type = pick(0);
    break;
  case MemoryUse::Upload:
    type = pick(hostBits);
    break;
  case MemoryUse::Readback:
    type = pick(hostBits | VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    if (type < 0)
      type = pick(hostBits);
    break;
  }
  if (type < 0) {
    vkDestroyBuffer(device_, b.buffer, nullptr);
    throw ExecutorError("vulkan: no memory type for the " + what);
  }
  VkMemoryAllocateFlagsInfo flags{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO};
  flags.flags = VK_MEMORY_ALLOCATE_DEVICE_ADDRESS_BIT;
  VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  ai.pNext = &flags;
  ai.allocationSize = req.size;
  ai.memoryTypeIndex = uint32_t(type);
  VkResult r = vkAllocateMemory(device_, &ai, nullptr, &b.memory);
  if (r != VK_SUCCESS && use == MemoryUse::Device &&
      (memory_.memoryTypes[type].propertyFlags & hostBits)) {
    // The host-visible heap is full: plain device memory (with staging).
    int plain = -1;
    for (uint32_t i = 0; i < memory_.memoryTypeCount && plain < 0; ++i)
      if ((req.memoryTypeBits & (1u << i)) &&
          (memory_.memoryTypes[i].propertyFlags &
           VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT) &&
          !(memory_.memoryTypes[i].propertyFlags &
            VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT))
        plain = int(i);
    if (plain >= 0) {
      type = plain;
      ai.memoryTypeIndex = uint32_t(type);
      r = vkAllocateMemory(device_, &ai, nullptr, &b.memory);
    }
  }
  if (r != VK_SUCCESS) {
    vkDestroyBuffer(device_, b.buffer, nullptr);
    throw ExecutorError("vulkan: cannot allocate " + std::to_string(bytes) +
                        " bytes of device memory for the " + what + " (" +
                        resultName(r) + ")");
  }
  b.allocated = req.size;
  uint64_t now = allocatedBytes_ += b.allocated;
  uint64_t peak = peakAllocatedBytes_.load();
  while (now > peak && !peakAllocatedBytes_.compare_exchange_weak(peak, now)) {
  }
  check(vkBindBufferMemory(device_, b.buffer, b.memory, 0),
        "vkBindBufferMemory");
  VkBufferDeviceAddressInfo addr{VK_STRUCTURE_TYPE_BUFFER_DEVICE_ADDRESS_INFO};
  addr.buffer = b.buffer;
  b.address = vkGetBufferDeviceAddress(device_, &addr);
  bool hostVisible =
      (memory_.memoryTypes[type].propertyFlags & hostBits) == hostBits;
  if (hostVisible && (use != MemoryUse::Device || !options_.forceStaging)) {
    void *p = nullptr;
    check(vkMapMemory(device_, b.memory, 0, VK_WHOLE_SIZE, 0, &p),
          "vkMapMemory");
    b.mapped = static_cast<char *>(p);
    b.hostCached = (memory_.memoryTypes[type].propertyFlags &
                    VK_MEMORY_PROPERTY_HOST_CACHED_BIT) != 0;
  }
  return b;
}

void Context::destroyBuffer(Buffer &b) {
  if (b.mapped)
    vkUnmapMemory(device_, b.memory);
  if (b.buffer)
    vkDestroyBuffer(device_, b.buffer, nullptr);
  if (b.memory)
    vkFreeMemory(device_, b.memory, nullptr);
  allocatedBytes_ -= b.allocated;
  b = Buffer{};
}

VkPipeline Context::createPipeline(const uint32_t *words, size_t count,
                                   const std::string &name) {
  VkShaderModuleCreateInfo mi{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  mi.codeSize = count * 4;
  mi.pCode = words;
  VkShaderModule module = VK_NULL_HANDLE;
  check(vkCreateShaderModule(device_, &mi, nullptr, &module),
        ("vkCreateShaderModule(" + name + ")").c_str());
  VkComputePipelineCreateInfo ci{
      VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  ci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
  ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  ci.stage.module = module;
  ci.stage.pName = "main";
  ci.layout = layout_;
  VkPipeline pipeline = VK_NULL_HANDLE;
  VkResult r =
      vkCreateComputePipelines(device_, cache_, 1, &ci, nullptr, &pipeline);
  vkDestroyShaderModule(device_, module, nullptr);
  check(r, ("vkCreateComputePipelines(" + name + ")").c_str());
  return pipeline;
}

VkPipeline Context::pipeline(const std::string &shader) {
  std::lock_guard<std::mutex> lock(pipelineMutex_);
  auto it = pipelines_.find(shader);
  if (it != pipelines_.end())
    return it->second;
  const EmbeddedShader *s = findShader(shader.c_str());
  if (!s)
    throw ExecutorError("vulkan: no shader '" + shader +
                        "' was built into this runtime");
  VkPipeline p = createPipeline(s->words, s->wordCount, shader);
  pipelines_[shader] = p;
  return p;
}

VkPipeline Context::pipeline(const std::string &key,
                             const std::vector<uint32_t> &spirv) {
  std::lock_guard<std::mutex> lock(pipelineMutex_);
  // Keyed by the whole program: the context is shared by every artifact
  // the process loads, so a hash collision must not pick another shader.
  std::string content =
      "artifact:" + std::string(reinterpret_cast<const char *>(spirv.data()),
                                spirv.size() * sizeof(uint32_t));
  auto it = pipelines_.find(content);
  if (it != pipelines_.end())
    return it->second;
  VkPipeline p = createPipeline(spirv.data(), spirv.size(), key);
  pipelines_[content] = p;
  return p;
}

Context &Context::acquire(const VulkanOptions &options) {
  // Everything the constructor reads: the options and the test switches.
  std::string key =
      std::to_string(options.device) + "|" + (options.validation ? "v" : "-") +
      (options.forceStaging ? "s" : "-") + "|" + options.pipelineCache;
  for (const char *name : {"GPT_VK_SUBGROUPS", "GPT_VK_MATMUL",
                           "GPT_VK_COOPMAT", "GPT_VK_MAX_BUFFER_BYTES"}) {
    const char *v = std::getenv(name);
    key += std::string("|") + (v ? v : "<unset>");
  }
  static std::mutex mutex;
  // Never destroyed: see the declaration (the OS reclaims it at exit, after
  // the driver's own exit handlers, which a static destructor could follow).
  static auto *contexts = new std::map<std::string, Context *>();
  std::lock_guard<std::mutex> lock(mutex);
  auto it = contexts->find(key);
  if (it == contexts->end())
    it = contexts->emplace(key, new Context(options)).first;
  return *it->second;
}

void Context::submitAndWait(VkCommandBuffer cmd) {
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cmd;
  check(vkResetFences(device_, 1, &fence_), "vkResetFences");
  check(vkQueueSubmit(queue_, 1, &si, fence_), "vkQueueSubmit");
  check(vkWaitForFences(device_, 1, &fence_, VK_TRUE, UINT64_MAX),
        "vkWaitForFences");
}

} // namespace vk

VulkanOptions VulkanOptions::fromEnvironment() {
  VulkanOptions o;
  o.validation = vk::envFlag("GPT_VK_VALIDATION");
  o.forceStaging = vk::envFlag("GPT_VK_FORCE_STAGING");
  if (const char *d = std::getenv("GPT_VK_DEVICE"); d && *d)
    o.device = std::atoi(d);
  return o;
}

std::vector<VulkanDeviceInfo> listVulkanDevices() {
  vk::Instance inst;
  inst.instance = vk::createInstance(false, nullptr);
  std::vector<VkPhysicalDevice> devices = vk::physicalDevices(inst.instance);
  if (devices.empty())
    throw ExecutorError("no Vulkan device: the loader reports none (install "
                        "a driver, e.g. mesa-vulkan-drivers)");
  std::vector<VulkanDeviceInfo> out;
  for (size_t i = 0; i < devices.size(); ++i)
    out.push_back(vk::describe(inst.instance, devices[i], int(i), nullptr));
  return out;
}

} // namespace gpt
