//===- Checkpoint.cpp -----------------------------------------------------===//
#include "runtime/train/Checkpoint.h"

#include "runtime/io/FileIO.h"
#include "runtime/io/Safetensors.h"

#include <csignal>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <vector>

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
  j["files"] = {{"weights", weightsFile},
                {"optimizer", optimizerFile},
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
    if (j.contains("files")) {
      s.weightsFile = j["files"].value("weights", s.weightsFile);
      s.optimizerFile = j["files"].value("optimizer", s.optimizerFile);
    }
  } catch (const nlohmann::json::exception &e) {
    throw std::runtime_error(where + ": " + e.what());
  }
  if (s.step < 0)
    throw std::runtime_error(where + ": negative step");
  for (const std::string *f : {&s.weightsFile, &s.optimizerFile})
    if (f->empty() || f->find("..") != std::string::npos || (*f)[0] == '/')
      throw std::runtime_error(where + ": bad checkpoint file name '" + *f +
                               "'");
  return s;
}

namespace {

/// Test hook: GPT_TEST_CRASH_AFTER_WRITE=N kills the process (SIGKILL, no
/// cleanup, as a power cut or `kill -9` would) after the N-th checkpoint
/// file operation of the process. The crash-consistency test walks N over
/// every step of several checkpoints.
void crashPoint() {
  static const long crashAfter = [] {
    const char *e = std::getenv("GPT_TEST_CRASH_AFTER_WRITE");
    return e && *e ? std::atol(e) : 0L;
  }();
  static long done = 0;
  if (crashAfter > 0 && ++done == crashAfter)
    ::raise(SIGKILL);
}

std::string stepFile(const char *kind, std::int64_t step) {
  return std::string("checkpoints/") + kind + "-" + std::to_string(step) +
         ".safetensors";
}

/// model.safetensors becomes (a hard link to, else a copy of) `target`,
/// atomically.
void publishWeights(const fs::path &runDir, const fs::path &target) {
  fs::path tmp = runDir / ".model.safetensors.tmp.link";
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_hard_link(target, tmp, ec);
  if (ec) {
    io::writeFileAtomic(runDir / "model.safetensors", io::readFile(target));
    return;
  }
  fs::rename(tmp, runDir / "model.safetensors");
  io::syncDirectory(runDir);
}

} // namespace

void saveCheckpoint(const fs::path &runDir, const Trainer &trainer,
                    RunState &state) {
  const std::string step = std::to_string(state.step);
  fs::create_directories(runDir / "checkpoints");
  const std::string weights = stepFile("model", state.step);
  const std::string optimizer = stepFile("optimizer", state.step);
  io::SafetensorsFile model;
  model.metadata = {
      {"format", "pt"}, {"step", step}, {"producer", "gpt train"}};
  model.tensors = trainer.parameters();
  io::writeSafetensors(runDir / weights, model);
  crashPoint();

  io::SafetensorsFile opt;
  opt.metadata = {{"step", step}, {"producer", "gpt train"}};
  opt.tensors = trainer.optimizerState();
  io::writeSafetensors(runDir / optimizer, opt);
  crashPoint();

  // The commit point: from here on the run resumes at this step.
  state.weightsFile = weights;
  state.optimizerFile = optimizer;
  io::writeFileAtomic(runDir / "state.json", state.toJson().dump(2) + "\n");
  crashPoint();

  publishWeights(runDir, runDir / weights);
  crashPoint();
  repairRunDir(runDir); // the previous step's files
  crashPoint();
}

int repairRunDir(const fs::path &runDir) {
  int fixed = 0;
  std::error_code ec;
  std::optional<RunState> state;
  if (fs::exists(runDir / "state.json"))
    state = readRunState(runDir);
  auto isTemp = [](const std::string &name) {
    return name.size() > 1 && name[0] == '.' &&
           name.find(".tmp.") != std::string::npos;
  };
  for (const fs::path &dir : {runDir, runDir / "checkpoints"}) {
    if (!fs::is_directory(dir))
      continue;
    std::vector<fs::path> remove;
    for (const auto &e : fs::directory_iterator(dir)) {
      std::string name = e.path().filename().string();
      std::string rel = dir == runDir ? name : "checkpoints/" + name;
      bool stale = isTemp(name);
      if (dir != runDir)
        stale = stale || !state ||
                (rel != state->weightsFile && rel != state->optimizerFile);
      if (stale)
        remove.push_back(e.path());
    }
    for (const fs::path &p : remove)
      if (fs::remove(p, ec))
        ++fixed;
  }
  // model.safetensors must be the committed weights.
  if (state && state->weightsFile != "model.safetensors" &&
      fs::exists(runDir / state->weightsFile)) {
    fs::path root = runDir / "model.safetensors";
    bool same = fs::exists(root) &&
                fs::equivalent(root, runDir / state->weightsFile, ec);
    if (!same && fs::exists(root)) {
      try { // a copy (no hard links) of the committed step is fine too
        io::SafetensorsFile r = io::readSafetensors(root);
        auto it = r.metadata.find("step");
        same =
            it != r.metadata.end() &&
            it->second == std::to_string(state->step) &&
            fs::file_size(root) == fs::file_size(runDir / state->weightsFile);
      } catch (const std::exception &) {
        same = false; // torn or foreign: re-point it
      }
    }
    if (!same) {
      publishWeights(runDir, runDir / state->weightsFile);
      ++fixed;
    }
  }
  return fixed;
}

RunState readRunState(const fs::path &runDir) {
  fs::path p = runDir / "state.json";
  if (!fs::exists(p))
    throw std::runtime_error(p.string() +
                             ": no checkpoint here (state.json is missing)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(io::readFile(p));
  } catch (const nlohmann::json::exception &e) {
    throw std::runtime_error(p.string() + ": " + e.what());
  }
  return RunState::fromJson(j, p.string());
}

namespace {
void checkStep(const io::SafetensorsFile &f, const fs::path &p,
               std::int64_t step) {
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
  fs::path mp = runDir / state.weightsFile;
  io::SafetensorsFile model = io::readSafetensors(mp);
  checkStep(model, mp, state.step);
  trainer.loadParameters(model.tensors, mp.string());
  if (withOptimizer) {
    fs::path op = runDir / state.optimizerFile;
    io::SafetensorsFile opt = io::readSafetensors(op);
    checkStep(opt, op, state.step);
    trainer.loadOptimizerState(opt.tensors, op.string());
  }
  trainer.setStepsDone(state.step);
}

void loadWeights(const fs::path &runDir, Trainer &trainer) {
  fs::path mp = runDir / "model.safetensors";
  if (fs::exists(runDir / "state.json"))
    mp = runDir / readRunState(runDir).weightsFile;
  io::SafetensorsFile model = io::readSafetensors(mp);
  trainer.loadParameters(model.tensors, mp.string());
}

} // namespace gpt::train
