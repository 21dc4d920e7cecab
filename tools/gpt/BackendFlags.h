//===- BackendFlags.h -------------------------------------------*- C++ -*-===//
//
// `--backend cpu|vulkan` and `--device N`, shared by every command that runs
// a model, and picking the artifact compiled for the chosen backend.
#pragma once

#include "runtime/backend/Backend.h"
#include "schema/ModelConfig.h"

#include <CLI/CLI.hpp>

#include <filesystem>
#include <functional>
#include <string>

namespace gpt::cli {

/// Adds --backend and --device to `cmd`, stored into `o` (threads is the
/// command's own --threads).
void addBackendFlags(CLI::App *cmd, BackendOptions &o);

/// `candidate` if it exists and was compiled for the backend's target, else
/// the artifact compiled by gptc for `config` and that target (cached).
std::filesystem::path
artifactForBackend(const std::filesystem::path &candidate,
                   const ModelConfig &config, const BackendOptions &backend,
                   const std::function<void(const std::string &)> &log = {});

} // namespace gpt::cli
