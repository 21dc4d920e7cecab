//===- RunDir.cpp ---------------------------------------------------------===//
#include "RunDir.h"

#include "BackendFlags.h"
#include "runtime/artifact/Artifact.h"
#include "runtime/train/Checkpoint.h"

#include <stdexcept>

namespace gpt::cli {
namespace fs = std::filesystem;

ModelConfig trainPreset(const std::string &name) {
  ModelConfig c;
  if (name == "tiny") {
    c.context_length = 64;
    c.n_layer = 2;
    c.n_head = 2;
    c.d_model = 64;
  } else if (name == "small") {
    // Chosen for time to quality on 2 CPU cores: at a fixed 10-minute
    // budget a 4 x 256 model sees ~3x the tokens of a 6 x 384 one and ends
    // lower (tiny Shakespeare, BPE 2048; see docs/training.md).
    c.context_length = 256;
    c.n_layer = 4;
    c.n_head = 4;
    c.d_model = 256;
  } else if (name == "gpt2-124m") {
    c = presetModelConfig("gpt2-124m");
  } else {
    throw std::runtime_error("unknown preset '" + name +
                             "' (known: tiny, small, gpt2-124m)");
  }
  c.d_ff = 4 * c.d_model;
  return c;
}

void checkArtifactConfig(const Artifact &artifact, const ModelConfig &config,
                         const std::string &artifactPath) {
  const ModelConfig &a = artifact.config;
  if (modelConfigToJson(a) != modelConfigToJson(config))
    throw std::runtime_error(artifactPath +
                             ": the artifact was compiled for another model "
                             "config:\n" +
                             modelConfigToJson(a) + "\nexpected:\n" +
                             modelConfigToJson(config));
  for (const char *fn : {"forward", "eval_loss"})
    if (!artifact.findFunction(fn))
      throw std::runtime_error(artifactPath + ": no '" + fn + "' function");
}

LoadedRun loadRun(const fs::path &runDir, const BackendOptions &backend) {
  if (!fs::is_directory(runDir))
    throw std::runtime_error(runDir.string() + ": not a run directory");
  LoadedRun r;
  r.config = loadModelConfig((runDir / "config.json").string());
  fs::path art = runDir / "artifact.gptart";
  if (!fs::exists(art))
    throw std::runtime_error(art.string() + ": missing (not a run directory "
                                            "written by gpt train?)");
  art = artifactForBackend(art, r.config, backend);
  r.runner = std::make_unique<train::ExecutorRunner>(art, backend);
  checkArtifactConfig(r.runner->artifact(), r.config, art.string());
  r.tokenizer = std::make_unique<tokenizer::Tokenizer>(
      tokenizer::Tokenizer::load(runDir / "tokenizer"));
  r.model = std::make_unique<train::Trainer>(*r.runner, r.config,
                                             train::Hyperparams{},
                                             /*forTraining=*/false);
  train::loadWeights(runDir, *r.model);
  return r;
}

} // namespace gpt::cli
