//===- Commands.h -----------------------------------------------*- C++ -*-===//
//
// The `gpt` CLI's subcommands. Each lives in its own file and registers
// itself on the top-level app; main.cpp lists them. To add one (train,
// serve, ...), write FooCommand.cpp with addFooCommand and add it to
// kCommands in main.cpp and to CMakeLists.txt.
#pragma once

#include <CLI/CLI.hpp>

namespace gpt::cli {

/// `gpt tokenizer train|encode|decode`
void addTokenizerCommand(CLI::App &app);
/// `gpt data prepare`
void addDataCommand(CLI::App &app);
/// `gpt data synth` (registered by addDataCommand on the `data` command)
void addDataSynthCommand(CLI::App &data);
/// `gpt eval-chat`
void addEvalChatCommand(CLI::App &app);
/// `gpt train`
void addTrainCommand(CLI::App &app);
/// `gpt eval`
void addEvalCommand(CLI::App &app);
/// `gpt generate`
void addGenerateCommand(CLI::App &app);
/// `gpt serve` (OpenAI-compatible HTTP server)
void addServeCommand(CLI::App &app);
/// `gpt chat` (interactive terminal chat)
void addChatCommand(CLI::App &app);

/// `gpt import hf|gguf` (tools/gpt/ImportCommand.cpp)
void addImportCommand(CLI::App &app);
/// `gpt export gguf` (tools/gpt/ExportCommand.cpp)
void addExportCommand(CLI::App &app);

/// `gpt bench train|generate`
void addBenchCommand(CLI::App &app);
/// `gpt devices` (the Vulkan devices)
void addDevicesCommand(CLI::App &app);

} // namespace gpt::cli
