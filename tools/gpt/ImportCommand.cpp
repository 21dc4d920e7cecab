//===- ImportCommand.cpp --------------------------------------------------===//
//
// gpt import hf DIR -o RUN_DIR     (a GPT-2 Hugging Face checkpoint)
// gpt import gguf FILE -o RUN_DIR  (a GGUF "gpt2" model, F32 / F16 / BF16)
// gpt import random --preset P|--config F --vocab-json J --merges M -o RUN_DIR
//                                  (GPT-2 init: benchmarks, side-by-side runs)
//
// Writes config.json, tokenizer/ and model.safetensors, then compiles the
// artifact with gptc (when one is found) so that eval, generate, chat and
// serve run on the result directly. See docs/interop.md.
#include "Commands.h"

#include "RunDir.h"
#include "runtime/interop/Gpt2Interop.h"
#include "runtime/io/ArtifactCache.h"

#include <filesystem>
#include <iostream>
#include <memory>

namespace gpt::cli {
namespace fs = std::filesystem;

namespace {

struct ImportOpts {
  std::string input, out;
  bool force = false, noArtifact = false;
};

void finishImport(const interop::ModelBundle &m, const ImportOpts &o,
                  const std::string &producer) {
  for (const auto &n : m.notes)
    std::cerr << "note: " << n << "\n";
  interop::writeRunModel(o.out, m, producer, o.force);
  std::cerr << "wrote " << o.out << ": " << m.config.n_layer << " layers, "
            << m.config.n_head << " heads, d_model " << m.config.d_model
            << ", context " << m.config.context_length << ", vocabulary "
            << m.config.vocab_size
            << (m.config.tie_embeddings ? ", tied" : ", untied")
            << " embeddings\n";
  if (o.noArtifact)
    return;
  try {
    fs::path art = io::compileArtifact(
        m.config, io::selfExecutable("gpt"),
        [](const std::string &line) { std::cerr << line << "\n"; });
    fs::copy_file(art, fs::path(o.out) / "artifact.gptart",
                  fs::copy_options::overwrite_existing);
  } catch (const std::exception &e) {
    std::cerr << "warning: no artifact compiled (" << e.what()
              << "); eval / generate need " << o.out
              << "/artifact.gptart (gptc --config " << o.out
              << "/config.json --emit=artifact -o " << o.out
              << "/artifact.gptart)\n";
  }
}

void commonOptions(CLI::App *cmd, ImportOpts &o) {
  cmd->add_option("-o,--out", o.out, "Run directory to write")->required();
  cmd->add_flag("--force", o.force,
                "Replace the weights of an existing run directory");
  cmd->add_flag("--no-artifact", o.noArtifact,
                "Do not compile the model with gptc");
}

} // namespace

void addImportCommand(CLI::App &app) {
  auto *cmd = app.add_subcommand(
      "import", "Convert a Hugging Face GPT-2 checkpoint or a GGUF file into "
                "a run directory");
  cmd->require_subcommand(1);

  auto hfo = std::make_shared<ImportOpts>();
  auto *hf = cmd->add_subcommand(
      "hf", "GPT-2-family Hugging Face checkpoint: config.json, "
            "model.safetensors (or a sharded index), vocab.json, merges.txt");
  hf->add_option("dir", hfo->input, "Checkpoint directory")->required();
  commonOptions(hf, *hfo);
  hf->callback([hfo] {
    finishImport(interop::importHfGpt2(hfo->input), *hfo,
                 "gpt import hf " + hfo->input);
  });

  auto ggo = std::make_shared<ImportOpts>();
  auto *gg = cmd->add_subcommand(
      "gguf", "GGUF file with architecture gpt2 (F32, F16 or BF16 tensors)");
  gg->add_option("file", ggo->input, "GGUF file")->required();
  commonOptions(gg, *ggo);
  gg->callback([ggo] {
    finishImport(
        interop::gpt2FromGguf(interop::readGguf(ggo->input), ggo->input), *ggo,
        "gpt import gguf " + ggo->input);
  });

  struct RandomOpts {
    std::string preset, config, vocabJson, merges;
    int64_t vocab = 50257, context = 0;
    uint64_t seed = 1;
  };
  auto ro = std::make_shared<RandomOpts>();
  auto rio = std::make_shared<ImportOpts>();
  auto *rnd = cmd->add_subcommand(
      "random", "A GPT-2-initialised model of a given shape with GPT-2's BPE "
                "files (benchmarks and side-by-side runs with other engines)");
  rnd->add_option("--preset", ro->preset,
                  "Model shape: tiny, small, gpt2-124m");
  rnd->add_option("--config", ro->config, "Model config JSON instead");
  rnd->add_option("--vocab", ro->vocab, "Vocabulary size with --preset")
      ->capture_default_str();
  rnd->add_option("--context", ro->context,
                  "Context length with --preset (default: the preset's)");
  rnd->add_option("--vocab-json", ro->vocabJson,
                  "GPT-2 vocab.json / encoder.json")
      ->required();
  rnd->add_option("--merges", ro->merges, "GPT-2 merges.txt / vocab.bpe")
      ->required();
  rnd->add_option("--seed", ro->seed, "Seed of the init")
      ->capture_default_str();
  commonOptions(rnd, *rio);
  rnd->callback([ro, rio] {
    if (ro->preset.empty() == ro->config.empty())
      throw std::runtime_error("gpt import random: give --preset or --config");
    ModelConfig c;
    if (!ro->config.empty()) {
      c = loadModelConfig(ro->config);
    } else {
      c = trainPreset(ro->preset);
      c.vocab_size = ro->vocab;
      if (ro->context > 0)
        c.context_length = ro->context;
    }
    finishImport(interop::randomGpt2(c, ro->vocabJson, ro->merges, ro->seed),
                 *rio,
                 "gpt import random (seed " + std::to_string(ro->seed) + ")");
  });
}

} // namespace gpt::cli
