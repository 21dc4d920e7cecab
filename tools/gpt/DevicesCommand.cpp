//===- DevicesCommand.cpp -------------------------------------------------===//
//
// `gpt devices`: the Vulkan devices --backend vulkan --device N can use.
#include "Commands.h"

#ifdef GPT_HAVE_VULKAN
#include "runtime/vulkan/VulkanExecutor.h"
#endif

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <memory>
#include <stdexcept>

namespace gpt::cli {

void addDevicesCommand(CLI::App &app) {
  auto *cmd = app.add_subcommand(
      "devices", "List the Vulkan devices (--backend vulkan --device N)");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Print a JSON array");
  cmd->callback([json] {
#ifndef GPT_HAVE_VULKAN
    throw std::runtime_error("this gpt was built without the Vulkan backend");
#else
    std::vector<VulkanDeviceInfo> devices = listVulkanDevices();
    if (*json) {
      nlohmann::json out = nlohmann::json::array();
      for (const VulkanDeviceInfo &d : devices)
        out.push_back({{"index", d.index},
                       {"name", d.name},
                       {"type", d.type},
                       {"driver", d.driver},
                       {"api_version", d.apiVersion},
                       {"device_local_bytes", d.deviceLocalBytes},
                       {"subgroup_size", d.subgroupSize},
                       {"float16", d.float16},
                       {"cooperative_matrix", d.coopmat},
                       {"tensor_core_matmul", d.coopmatUsable},
                       {"usable", d.usable},
                       {"unusable_reason", d.unusableReason}});
      std::cout << out.dump(2) << "\n";
      return;
    }
    std::printf("%-3s %-40s %-15s %-10s %9s %8s  %s\n", "#", "name", "type",
                "vulkan", "memory", "subgroup", "driver");
    for (const VulkanDeviceInfo &d : devices)
      std::printf(
          "%-3d %-40s %-15s %-10s %6.1f GiB %8u  %s%s\n", d.index,
          d.name.c_str(), d.type.c_str(), d.apiVersion.c_str(),
          double(d.deviceLocalBytes) / (1 << 30), d.subgroupSize,
          d.driver.c_str(),
          d.usable ? "" : ("  [unusable: " + d.unusableReason + "]").c_str());
    for (const VulkanDeviceInfo &d : devices)
      if (!d.coopmat.empty())
        std::printf("%-3d cooperative matrices: %s%s\n", d.index,
                    d.coopmat.c_str(),
                    d.coopmatUsable ? " (tensor-core matmul on)" : "");
#endif
  });
}

} // namespace gpt::cli
