//===- ExportCommand.cpp --------------------------------------------------===//
//
// gpt export gguf RUN_DIR -o model.gguf [--dtype f32|f16] [--name NAME]
//
// Writes a GGUF v3 file with llama.cpp's gpt2 architecture: its metadata
// keys, tensor names and layouts, and the run's tokenizer. See
// docs/interop.md.
#include "Commands.h"

#include "runtime/interop/Gpt2Interop.h"

#include <filesystem>
#include <iostream>
#include <memory>

namespace gpt::cli {
namespace fs = std::filesystem;

void addExportCommand(CLI::App &app) {
  auto *cmd = app.add_subcommand(
      "export", "Write a run directory's model in another format");
  cmd->require_subcommand(1);
  struct Opts {
    std::string run, out, dtype = "f32", name;
  };
  auto o = std::make_shared<Opts>();
  auto *gg = cmd->add_subcommand(
      "gguf", "GGUF v3 (architecture gpt2) for llama.cpp, ollama, LM Studio");
  gg->add_option("run_dir", o->run, "Run directory")->required();
  gg->add_option("-o,--out", o->out, "GGUF file to write")->required();
  gg->add_option("--dtype", o->dtype,
                 "f32, or f16 (2-D weights in F16, norms and biases F32)")
      ->check(CLI::IsMember({"f32", "f16"}))
      ->capture_default_str();
  gg->add_option("--name", o->name,
                 "general.name (default: the run directory's name)");
  gg->callback([o] {
    interop::ModelBundle m = interop::readRunModel(o->run);
    std::string name = o->name;
    if (name.empty()) {
      fs::path p = fs::absolute(o->run).lexically_normal();
      name = (p.has_filename() ? p : p.parent_path()).filename().string();
    }
    if (name.empty())
      name = "gpt2";
    interop::GgufFile f = interop::gpt2ToGguf(
        m,
        o->dtype == "f16" ? interop::GgufDType::F16 : interop::GgufDType::F32,
        name);
    m.params.clear(); // the GGUF holds its own copy: halve the peak memory
    interop::writeGguf(o->out, f);
    std::cerr << "wrote " << o->out << ": " << f.tensors.size() << " tensors, "
              << m.config.vocab_size << " tokens, " << o->dtype << "\n";
  });
}

} // namespace gpt::cli
