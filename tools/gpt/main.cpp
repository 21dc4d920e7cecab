//===- main.cpp -----------------------------------------------------------===//
//
// `gpt`: the runtime command line. Subcommands register themselves (see
// Commands.h); errors go to stderr with a non-zero exit status.
#include "Commands.h"

#include <exception>
#include <iostream>

namespace {
using Registrar = void (*)(CLI::App &);
const Registrar kCommands[] = {
    gpt::cli::addTokenizerCommand, gpt::cli::addDataCommand,
    gpt::cli::addTrainCommand,     gpt::cli::addEvalCommand,
    gpt::cli::addGenerateCommand,  gpt::cli::addBenchCommand,
    gpt::cli::addEvalChatCommand,  gpt::cli::addServeCommand,
    gpt::cli::addChatCommand,      gpt::cli::addImportCommand,
    gpt::cli::addExportCommand,    gpt::cli::addDevicesCommand,
};
} // namespace

int main(int argc, char **argv) {
  CLI::App app{"gpt: tokenizer, data preparation and (later) training and "
               "serving for GPT models"};
  app.require_subcommand(1);
  for (Registrar add : kCommands)
    add(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    return app.exit(e);
  } catch (const std::exception &e) {
    std::cerr << "gpt: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
