//===- Gpt2Interop.h --------------------------------------------*- C++ -*-===//
//
// Moving GPT-2 models between our run directories, Hugging Face checkpoints
// and GGUF (llama.cpp). See docs/interop.md.
//
//   importHfGpt2      config.json + model.safetensors (or a sharded
//                     model.safetensors.index.json) + vocab.json + merges.txt
//   gpt2ToGguf        GGUF v3, architecture "gpt2", llama.cpp's key and
//                     tensor names, F32 or F16
//   gpt2FromGguf      the reverse (F32, F16 and BF16 tensors)
//   readRunModel / writeRunModel   our run directory (docs/training.md)
//
// Layouts: our linear weights are [in, out] (GPT-2's Conv1D, the same bytes
// as Hugging Face's checkpoints); GGUF stores PyTorch nn.Linear's [out, in]
// (ggml ne = {in, out}), so those four matrices per layer are transposed on
// export and back on import. Embeddings are [rows, d_model] everywhere.
//
// Vocabulary: our tokenizer always has <|endoftext|>, <|im_start|> and
// <|im_end|> after the ordinary tokens, so GPT-2's 50257 tokens become 50259.
// An imported embedding (and untied lm_head) with fewer rows than the
// tokenizer gets the missing rows set to the mean of the existing rows (what
// transformers' resize_token_embeddings does by default), so the new tokens
// start out neither favoured nor impossible; the logits of every existing
// token are unchanged. GGUF export writes the vocabulary the model has.
#pragma once

#include "runtime/interop/Gguf.h"
#include "runtime/io/Safetensors.h"
#include "runtime/tokenizer/Tokenizer.h"
#include "schema/ModelConfig.h"

#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace gpt::interop {

/// A model that cannot be converted (missing or misshapen tensor, unknown
/// config, unsupported dtype ...). The message names the file and the key or
/// tensor.
class InteropError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct ModelBundle {
  ModelConfig config;
  /// Our parameter names and layouts (schema/Parameters.h), F32.
  std::map<std::string, io::Tensor> params;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
  /// Remarks for the user (padding, ignored buffers, ...).
  std::vector<std::string> notes;
};

enum class GgufDType { F32, F16 };

/// Reads a GPT-2-family Hugging Face checkpoint directory.
ModelBundle importHfGpt2(const std::filesystem::path &dir);

/// A GPT-2-initialised model (train/Init.h, deterministic for `seed`) of
/// `config` with GPT-2's BPE files (vocab.json / encoder.json and
/// merges.txt / vocab.bpe): benchmarks and side-by-side runs with other
/// engines need a model of a given shape, not a trained one.
ModelBundle randomGpt2(const ModelConfig &config,
                       const std::filesystem::path &vocabJson,
                       const std::filesystem::path &mergesTxt,
                       std::uint64_t seed);

/// Builds the GGUF file. With F16, 2-D weights are stored as F16 and the 1-D
/// norms and biases stay F32 (as llama.cpp's converter does). output.weight
/// is always written (a copy of token_embd when the embeddings are tied), as
/// llama.cpp's convert_hf_to_gguf.py does for GPT-2.
GgufFile gpt2ToGguf(const ModelBundle &model, GgufDType dtype,
                    const std::string &name);

/// Reads a GGUF "gpt2" model. output.weight equal to token_embd.weight (or
/// absent) means tied embeddings.
ModelBundle gpt2FromGguf(const GgufFile &file, const std::string &where);

/// config.json, model.safetensors and tokenizer/ of a run directory.
ModelBundle readRunModel(const std::filesystem::path &runDir);

/// Writes config.json, tokenizer/ and model.safetensors (metadata step 0,
/// format pt, producer). Refuses a directory that already holds a
/// model.safetensors unless `overwrite`.
void writeRunModel(const std::filesystem::path &runDir,
                   const ModelBundle &model, const std::string &producer,
                   bool overwrite);

/// Checks that params holds exactly the parameters of config, F32 with the
/// right shapes. `where` prefixes messages.
void checkParameters(const ModelBundle &model, const std::string &where);

/// Grows the vocabulary to `vocab` rows (mean-row init, see above).
void padVocabulary(ModelBundle &model, std::int64_t vocab);

} // namespace gpt::interop
