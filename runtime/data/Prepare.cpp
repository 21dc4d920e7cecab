//===- Prepare.cpp --------------------------------------------------------===//
#include "runtime/data/Prepare.h"

#include "runtime/data/ChatJsonl.h"
#include "runtime/data/DataError.h"
#include "runtime/data/Random.h"
#include "runtime/data/Shard.h"
#include "runtime/io/FileIO.h"
#include "runtime/tokenizer/ChatTemplate.h"
#include "runtime/tokenizer/PreTokenizer.h"

#include <cmath>
#include <cstdio>
#include <thread>

namespace gpt::data {
namespace fs = std::filesystem;
using tokenizer::TokenId;
using tokenizer::Tokenizer;

namespace {

struct SplitBuilder {
  std::vector<std::uint32_t> tokens;
  std::vector<std::uint8_t> weights; // chat only
  SplitStats stats;
};

// Encodes a large text on several threads, cutting only where the
// pre-tokenization cannot change.
std::vector<TokenId> encodeParallel(const Tokenizer &tok, std::string_view text,
                                    unsigned threads) {
  std::vector<std::size_t> cuts;
  if (threads > 1 && text.size() > (1u << 20))
    cuts = tokenizer::safeCutPoints(text, threads);
  if (cuts.empty())
    return tok.encode(text);
  std::vector<std::size_t> bounds = {0};
  bounds.insert(bounds.end(), cuts.begin(), cuts.end());
  bounds.push_back(text.size());
  std::vector<std::vector<TokenId>> parts(bounds.size() - 1);
  std::vector<std::thread> pool;
  for (std::size_t i = 0; i < parts.size(); ++i)
    pool.emplace_back([&, i] {
      parts[i] = tok.encode(text.substr(bounds[i], bounds[i + 1] - bounds[i]));
    });
  for (auto &t : pool)
    t.join();
  std::vector<TokenId> out;
  for (auto &p : parts)
    out.insert(out.end(), p.begin(), p.end());
  return out;
}

void addText(SplitBuilder &s, const std::vector<TokenId> &ids,
             std::uint64_t bytes) {
  s.tokens.insert(s.tokens.end(), ids.begin(), ids.end());
  s.stats.documents += 1;
  s.stats.textBytes += bytes;
  s.stats.trainedTextBytes += bytes;
}

// Document indices going to val: round(n * fraction) of them, chosen by a
// seeded shuffle (at least one when fraction > 0 and n > 1).
std::vector<bool> chooseVal(std::size_t n, double fraction,
                            std::uint64_t seed) {
  std::vector<bool> isVal(n, false);
  auto count = static_cast<std::size_t>(std::llround(n * fraction));
  if (fraction > 0 && count == 0 && n > 1)
    count = 1;
  if (count >= n && n > 0)
    count = n - 1;
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i)
    order[i] = i;
  seededShuffle(order, seed);
  for (std::size_t i = 0; i < count; ++i)
    isVal[order[i]] = true;
  return isVal;
}

// With --val-input: the inputs are train, the val inputs val.
std::vector<bool> givenVal(const PrepareOptions &o) {
  std::vector<bool> isVal(o.inputs.size(), false);
  isVal.resize(o.inputs.size() + o.valInputs.size(), true);
  return isVal;
}

std::string splitName(const PrepareOptions &o, bool val) {
  if (o.valInputs.empty())
    return "";
  return val ? "val" : "train";
}

std::string readInput(const fs::path &p) {
  try {
    return io::readFile(p);
  } catch (const std::runtime_error &e) {
    throw DataError(e.what());
  }
}

void prepareText(const PrepareOptions &o, const Tokenizer &tok, Manifest &m,
                 SplitBuilder &train, SplitBuilder &val) {
  if (o.inputs.size() == 1 && o.valInputs.empty()) {
    std::string text = readInput(o.inputs[0]);
    auto cut = static_cast<std::size_t>(
        std::floor(text.size() * (1.0 - o.valFraction)));
    while (cut < text.size() &&
           (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
      ++cut; // do not split a UTF-8 sequence
    std::string_view all(text);
    addText(train, encodeParallel(tok, all.substr(0, cut), o.threads), cut);
    if (cut < text.size())
      addText(val, encodeParallel(tok, all.substr(cut), o.threads),
              text.size() - cut);
    m.inputs.push_back({o.inputs[0].string(), text.size(), 1, 0});
    return;
  }
  std::vector<fs::path> files = o.inputs;
  files.insert(files.end(), o.valInputs.begin(), o.valInputs.end());
  std::vector<bool> isVal =
      o.valInputs.empty() ? chooseVal(o.inputs.size(), o.valFraction, o.seed)
                          : givenVal(o);
  for (std::size_t i = 0; i < files.size(); ++i) {
    std::string text = readInput(files[i]);
    std::vector<TokenId> ids = encodeParallel(tok, text, o.threads);
    ids.push_back(m.eotId);
    addText(isVal[i] ? val : train, ids, text.size());
    m.inputs.push_back(
        {files[i].string(), text.size(), 1, 0, splitName(o, isVal[i])});
    if (o.log)
      o.log("tokenized " + files[i].string());
  }
}

void prepareChat(const PrepareOptions &o, const Tokenizer &tok, Manifest &m,
                 SplitBuilder &train, SplitBuilder &val) {
  std::vector<Conversation> all;
  std::vector<bool> isVal;
  auto read = [&](const std::vector<fs::path> &files, bool val) {
    for (const fs::path &p : files) {
      std::uint64_t bytes = fs::file_size(p);
      ChatFile f = readChatJsonl(p, o.skipBad);
      for (const std::string &s : f.skipped)
        if (o.log)
          o.log("skipped " + s);
      m.inputs.push_back({p.string(), bytes, f.conversations.size(),
                          f.skipped.size(), splitName(o, val)});
      m.skippedLines += f.skipped.size();
      for (auto &c : f.conversations) {
        all.push_back(std::move(c));
        isVal.push_back(val);
      }
    }
  };
  read(o.inputs, false);
  read(o.valInputs, true);
  tokenizer::ChatTemplate tpl(tok);
  if (o.valInputs.empty())
    isVal = chooseVal(all.size(), o.valFraction, o.seed);
  for (std::size_t i = 0; i < all.size(); ++i) {
    tokenizer::RenderedChat r = tpl.render(all[i].messages, false);
    r.ids.push_back(m.eotId);
    r.weights.push_back(0);
    SplitBuilder &s = isVal[i] ? val : train;
    for (std::size_t k = 0; k < r.ids.size(); ++k) {
      if (tok.isSpecial(r.ids[k]))
        continue;
      std::uint64_t n = tok.model().bytes(r.ids[k]).size();
      s.stats.textBytes += n;
      if (r.weights[k])
        s.stats.trainedTextBytes += n;
    }
    s.tokens.insert(s.tokens.end(), r.ids.begin(), r.ids.end());
    s.weights.insert(s.weights.end(), r.weights.begin(), r.weights.end());
    s.stats.documents += 1;
  }
}

// Stages all output files under temporary names; commit() renames them into
// place (manifest last); the destructor removes anything not committed.
class Outputs {
public:
  fs::path stage(const fs::path &final) {
    fs::path tmp = io::tempPathFor(final);
    pending_.push_back({tmp, final});
    return tmp;
  }
  void commit() {
    for (auto &[tmp, final] : pending_)
      fs::rename(tmp, final);
    pending_.clear();
  }
  ~Outputs() {
    for (auto &entry : pending_)
      std::remove(entry.first.c_str());
  }

private:
  std::vector<std::pair<fs::path, fs::path>> pending_;
};

void writeSplit(const PrepareOptions &o, const std::string &name,
                SplitBuilder &s, std::uint32_t vocab, bool weighted,
                Outputs &out) {
  s.stats.tokens = s.tokens.size();
  s.stats.trainedTokens = 0;
  if (weighted)
    for (auto w : s.weights)
      s.stats.trainedTokens += w;
  else
    s.stats.trainedTokens = s.tokens.size();
  std::uint64_t per = o.shardTokens == 0 ? 1 : o.shardTokens;
  for (std::uint64_t begin = 0, k = 0; begin < s.tokens.size();
       begin += per, ++k) {
    std::uint64_t end = std::min<std::uint64_t>(s.tokens.size(), begin + per);
    char fileName[64];
    std::snprintf(fileName, sizeof fileName, "%s_%03llu.bin", name.c_str(),
                  static_cast<unsigned long long>(k));
    std::vector<std::uint32_t> tokens(s.tokens.begin() + begin,
                                      s.tokens.begin() + end);
    std::vector<std::uint8_t> weights;
    if (weighted)
      weights.assign(s.weights.begin() + begin, s.weights.begin() + end);
    writeShard(out.stage(o.outDir / fileName), tokens, weights, vocab);
    s.stats.shards.push_back({fileName, end - begin});
  }
}

void checkOptions(const PrepareOptions &o, bool &chat) {
  if (o.inputs.empty())
    throw DataError("no input files");
  if (!(o.valFraction >= 0.0 && o.valFraction < 1.0))
    throw DataError("--val-fraction must be in [0, 1)");
  if (!o.valInputs.empty() && o.valFraction != 0.0)
    throw DataError("--val-input gives the val split: --val-fraction must be "
                    "0 with it");
  if (o.outDir.empty())
    throw DataError("no output directory");
  std::size_t jsonl = 0, files = 0;
  for (const auto *list : {&o.inputs, &o.valInputs})
    for (const fs::path &p : *list) {
      if (!fs::is_regular_file(p))
        throw DataError(p.string() + ": no such file");
      jsonl += p.extension() == ".jsonl";
      ++files;
    }
  if (jsonl != 0 && jsonl != files)
    throw DataError("cannot mix chat .jsonl files and plain text files");
  chat = jsonl != 0;
}

} // namespace

Manifest prepareData(const PrepareOptions &o) {
  bool chat = false;
  checkOptions(o, chat);
  Tokenizer tok = [&] {
    try {
      return Tokenizer::load(o.tokenizer);
    } catch (const std::runtime_error &e) {
      throw DataError(e.what());
    }
  }();
  Manifest m;
  m.kind = chat ? "chat" : "text";
  m.tokenizerPath = fs::absolute(o.tokenizer).lexically_normal().string();
  m.tokenizerFingerprint = tok.fingerprint();
  m.vocabSize = static_cast<std::uint32_t>(tok.vocabSize());
  m.eotId = tok.requireSpecial(tokenizer::kEndOfText);
  m.tokenDtype = tok.vocabSize() <= 65536 ? "uint16" : "uint32";
  m.valFraction = o.valFraction;
  m.seed = o.seed;
  SplitBuilder train, val;
  if (chat)
    prepareChat(o, tok, m, train, val);
  else
    prepareText(o, tok, m, train, val);

  fs::create_directories(o.outDir);
  Outputs out;
  writeSplit(o, "train", train, m.vocabSize, chat, out);
  writeSplit(o, "val", val, m.vocabSize, chat, out);
  m.train = train.stats;
  m.val = val.stats;
  fs::path manifestTmp = out.stage(o.outDir / "manifest.json");
  io::writeFileAtomic(manifestTmp, m.toJson().dump(2) + "\n");
  out.commit();
  return m;
}

} // namespace gpt::data
