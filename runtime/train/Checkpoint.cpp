#include "train/Checkpoint.h"

#include "train/FileUtil.h"
#include "train/Safetensors.h"

#include <stdexcept>

namespace gpt::train {
namespace fs = std::filesystem;

nlohmann::ordered_json RunState::toJson() const {
  nlohmann::ordered_json j;
  j["format"] = kStateFormat;
  j["version"] = kStateVersion;
  j["step"] = step;
  j["target_steps"] = targetSteps;
  j["hyperparams"] = hp.toJson();
  j["loader"] = loader.toJson();
  j["rng"] = {{"init_seed", initSeed}, {"loader_seed", loader.seed}};
  j["data"] = {{"dir", dataDir},
               {"tokenizer_fingerprint", tokenizerFingerprint}};
  j["elapsed_s"] = elapsedSeconds;
  j["tokens_seen"] = tokensSeen;
  j["config"] = config;
  j["files"] = {{"weights", "model.safetensors"},
                {"optimizer", "optimizer.safetensors"},
                {"config", "config.json"},
                {"tokenizer", "tokenizer"},
                {"artifact", "artifact.gptart"}};
  return j;
}

RunState RunState::fromJson(const nlohmann::json &j, const std::string &where) {
  RunState s;
  try {
    if (j.at("format").get<std::string>() != kStateFormat)
      throw std::runtime_error(where + ": format is not " + kStateFormat);
    if (j.at("version").get<int>() != kStateVersion)
      throw std::runtime_error(where + ": unsupported version " +
                               j.at("version").dump());
    s.step = j.at("step").get<std::int64_t>();
    s.targetSteps = j.at("target_steps").get<std::int64_t>();
    s.hp = Hyperparams::fromJson(j.at("hyperparams"), where);
    s.loader = data::LoaderState::fromJson(j.at("loader"));
    s.initSeed = j.at("rng").at("init_seed").get<std::uint64_t>();
    s.dataDir = j.at("data").at("dir").get<std::string>();
    s.tokenizerFingerprint =
        j.at("data").at("tokenizer_fingerprint").get<std::string>();
    s.elapsedSeconds = j.at("elapsed_s").get<double>();
    s.tokensSeen = j.at("tokens_seen").get<std::int64_t>();
    s.config = j.at("config");
  } catch (const nlohmann::json::exception &e) {
    throw std::runtime_error(where + ": " + e.what());
  }
  if (s.step < 0)
    throw std::runtime_error(where + ": negative step");
  return s;
}

void saveCheckpoint(const fs::path &runDir, const Trainer &trainer,
                    const RunState &state) {
  const std::string step = std::to_string(state.step);
  SafetensorsFile model;
  model.metadata = {
      {"format", "pt"}, {"step", step}, {"producer", "gpt train"}};
  model.tensors = trainer.parameters();
  writeSafetensors(runDir / "model.safetensors", model);

  SafetensorsFile opt;
  opt.metadata = {{"step", step}, {"producer", "gpt train"}};
  opt.tensors = trainer.optimizerState();
  writeSafetensors(runDir / "optimizer.safetensors", opt);

  writeFileAtomic(runDir / "state.json", state.toJson().dump(2) + "\n");
}

RunState readRunState(const fs::path &runDir) {
  fs::path p = runDir / "state.json";
  if (!fs::exists(p))
    throw std::runtime_error(p.string() +
                             ": no checkpoint here (state.json is missing)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(readFile(p));
  } catch (const nlohmann::json::exception &e) {
    throw std::runtime_error(p.string() + ": " + e.what());
  }
  return RunState::fromJson(j, p.string());
}

namespace {
void checkStep(const SafetensorsFile &f, const fs::path &p, std::int64_t step) {
  auto it = f.metadata.find("step");
  if (it == f.metadata.end())
    return; // a foreign weights file: nothing to compare
  if (it->second != std::to_string(step))
    throw std::runtime_error(
        p.string() + ": holds step " + it->second + " but state.json says " +
        std::to_string(step) +
        " (a checkpoint write was interrupted; the run cannot resume)");
}
} // namespace

void loadCheckpoint(const fs::path &runDir, Trainer &trainer,
                    const RunState &state, bool withOptimizer) {
  fs::path mp = runDir / "model.safetensors";
  SafetensorsFile model = readSafetensors(mp);
  checkStep(model, mp, state.step);
  trainer.loadParameters(model.tensors, mp.string());
  if (withOptimizer) {
    fs::path op = runDir / "optimizer.safetensors";
    SafetensorsFile opt = readSafetensors(op);
    checkStep(opt, op, state.step);
    trainer.loadOptimizerState(opt.tensors, op.string());
  }
  trainer.setStepsDone(state.step);
}

void loadWeights(const fs::path &runDir, Trainer &trainer) {
  fs::path mp = runDir / "model.safetensors";
  SafetensorsFile model = readSafetensors(mp);
  trainer.loadParameters(model.tensors, mp.string());
}

} // namespace gpt::train
