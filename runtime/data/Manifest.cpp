//===- Manifest.cpp -------------------------------------------------------===//
#include "runtime/data/Manifest.h"

#include "runtime/data/DataError.h"
#include "runtime/io/FileIO.h"

namespace gpt::data {
namespace {

nlohmann::ordered_json splitJson(const SplitStats &s) {
  nlohmann::ordered_json j;
  j["documents"] = s.documents;
  j["tokens"] = s.tokens;
  j["trained_tokens"] = s.trainedTokens;
  j["text_bytes"] = s.textBytes;
  j["trained_text_bytes"] = s.trainedTextBytes;
  j["shards"] = nlohmann::ordered_json::array();
  for (const auto &sh : s.shards)
    j["shards"].push_back({{"file", sh.file}, {"tokens", sh.tokens}});
  return j;
}

SplitStats splitFrom(const nlohmann::json &j) {
  SplitStats s;
  s.documents = j.at("documents").get<std::uint64_t>();
  s.tokens = j.at("tokens").get<std::uint64_t>();
  s.trainedTokens = j.at("trained_tokens").get<std::uint64_t>();
  s.textBytes = j.at("text_bytes").get<std::uint64_t>();
  s.trainedTextBytes = j.at("trained_text_bytes").get<std::uint64_t>();
  for (const auto &sh : j.at("shards"))
    s.shards.push_back({sh.at("file").get<std::string>(),
                        sh.at("tokens").get<std::uint64_t>()});
  return s;
}

} // namespace

const SplitStats &Manifest::split(const std::string &name) const {
  if (name == "train")
    return train;
  if (name == "val")
    return val;
  throw DataError("unknown split '" + name + "' (expected train or val)");
}

nlohmann::ordered_json Manifest::toJson() const {
  nlohmann::ordered_json j;
  j["format"] = kManifestFormat;
  j["version"] = kManifestVersion;
  j["kind"] = kind;
  j["tokenizer"] = {{"path", tokenizerPath},
                    {"fingerprint", tokenizerFingerprint},
                    {"vocab_size", vocabSize},
                    {"eot_id", eotId}};
  j["token_dtype"] = tokenDtype;
  j["val_fraction"] = valFraction;
  j["seed"] = seed;
  j["inputs"] = nlohmann::ordered_json::array();
  for (const auto &in : inputs) {
    nlohmann::ordered_json e = {{"path", in.path},
                                {"bytes", in.bytes},
                                {"documents", in.documents},
                                {"skipped_lines", in.skippedLines}};
    if (!in.split.empty())
      e["split"] = in.split;
    j["inputs"].push_back(std::move(e));
  }
  j["skipped_lines"] = skippedLines;
  j["splits"] = {{"train", splitJson(train)}, {"val", splitJson(val)}};
  return j;
}

Manifest Manifest::fromJson(const nlohmann::json &j, const std::string &where) {
  try {
    if (j.at("format") != kManifestFormat)
      throw DataError(where + ": format is not " + kManifestFormat);
    if (j.at("version") != kManifestVersion)
      throw DataError(where + ": unsupported manifest version " +
                      j.at("version").dump());
    Manifest m;
    m.kind = j.at("kind").get<std::string>();
    const auto &t = j.at("tokenizer");
    m.tokenizerPath = t.at("path").get<std::string>();
    m.tokenizerFingerprint = t.at("fingerprint").get<std::string>();
    m.vocabSize = t.at("vocab_size").get<std::uint32_t>();
    m.eotId = t.at("eot_id").get<std::uint32_t>();
    m.tokenDtype = j.at("token_dtype").get<std::string>();
    m.valFraction = j.at("val_fraction").get<double>();
    m.seed = j.at("seed").get<std::uint64_t>();
    for (const auto &in : j.at("inputs")) {
      InputStats s{in.at("path").get<std::string>(),
                   in.at("bytes").get<std::uint64_t>(),
                   in.at("documents").get<std::uint64_t>(),
                   in.at("skipped_lines").get<std::uint64_t>(),
                   in.value("split", std::string())};
      if (!s.split.empty() && s.split != "train" && s.split != "val")
        throw DataError(where + ": inputs: split must be train or val, not '" +
                        s.split + "'");
      m.inputs.push_back(std::move(s));
    }
    m.skippedLines = j.at("skipped_lines").get<std::uint64_t>();
    m.train = splitFrom(j.at("splits").at("train"));
    m.val = splitFrom(j.at("splits").at("val"));
    return m;
  } catch (const nlohmann::json::exception &e) {
    throw DataError(where + ": bad manifest: " + e.what());
  }
}

Manifest Manifest::load(const std::filesystem::path &dir) {
  std::filesystem::path p = dir / "manifest.json";
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(io::readFile(p));
  } catch (const nlohmann::json::exception &e) {
    throw DataError(p.string() + ": " + e.what());
  } catch (const std::runtime_error &e) {
    throw DataError(e.what());
  }
  return fromJson(j, p.string());
}

} // namespace gpt::data
