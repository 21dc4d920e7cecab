//===- make_seeds.cpp -----------------------------------------------------===//
//
// Writes the fuzzers' seed corpus: small valid GGUF and safetensors files
// (a micro GPT-2 in F32 and F16, a GGUF holding every value type).
// Usage: make_seeds OUT_DIR   (creates OUT_DIR/gguf, OUT_DIR/safetensors)
#include "runtime/interop/Gguf.h"
#include "runtime/interop/Gpt2Interop.h"
#include "runtime/io/Safetensors.h"
#include "runtime/tokenizer/ByteLevel.h"
#include "schema/Parameters.h"

#include <filesystem>
#include <fstream>
#include <iostream>

using namespace gpt;
namespace fs = std::filesystem;

static void write(const fs::path &p, const std::string &b) {
  std::ofstream(p, std::ios::binary) << b;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    std::cerr << "usage: make_seeds OUT_DIR\n";
    return 2;
  }
  fs::path out = argv[1];
  fs::create_directories(out / "gguf");
  fs::create_directories(out / "safetensors");

  interop::ModelBundle m;
  std::vector<std::string> tokens;
  for (std::uint8_t b : tokenizer::byte_level::byteOrder())
    tokens.push_back(std::string(1, static_cast<char>(b)));
  tokens.push_back("ab");
  m.tokenizer = std::make_unique<tokenizer::Tokenizer>(
      tokens, std::vector<std::pair<std::string, std::string>>{{"a", "b"}},
      std::vector<std::string>{"<|endoftext|>", "<|im_start|>", "<|im_end|>"});
  m.config.vocab_size = static_cast<std::int64_t>(m.tokenizer->vocabSize());
  m.config.context_length = 4;
  m.config.n_layer = 1;
  m.config.n_head = 1;
  m.config.d_model = 4;
  m.config.d_ff = 8;
  for (const ParamSpec &s : parameterSpecs(m.config)) {
    std::int64_t n = 1;
    for (auto d : s.shape)
      n *= d;
    std::vector<float> v(static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < v.size(); ++i)
      v[i] = static_cast<float>((i * 7919 + s.name.size()) % 13) / 13.0f - 0.5f;
    m.params[s.name] = io::Tensor::fromF32(s.shape, v);
  }
  write(out / "gguf" / "micro_f32.gguf",
        interop::encodeGguf(
            interop::gpt2ToGguf(m, interop::GgufDType::F32, "micro")));
  write(out / "gguf" / "micro_f16.gguf",
        interop::encodeGguf(
            interop::gpt2ToGguf(m, interop::GgufDType::F16, "micro")));

  interop::GgufFile v;
  v.set("general.alignment", interop::GgufValue::u32(16));
  for (std::uint32_t t = 0; t <= 12; ++t) {
    if (t == 8 || t == 9)
      continue;
    interop::GgufValue x;
    x.type = static_cast<interop::GgufType>(t);
    x.i = t == 7 ? 1 : -3;
    x.f = 0.5;
    v.set("k" + std::to_string(t), x);
  }
  v.set("s", interop::GgufValue::str("text"));
  v.set("a", interop::GgufValue::stringArray({"x", "yz"}));
  v.set("b", interop::GgufValue::int32Array({1, 2, 3}));
  interop::GgufTensor q;
  q.name = "q";
  q.ne = {32, 2};
  q.type = interop::GgmlType::Q8_0;
  q.data.assign(68, 1);
  v.tensors.push_back(q);
  write(out / "gguf" / "values.gguf", interop::encodeGguf(v));

  io::SafetensorsFile st;
  st.tensors = m.params;
  st.metadata = {{"format", "pt"}, {"step", "0"}};
  write(out / "safetensors" / "micro.safetensors", io::encodeSafetensors(st));
  io::SafetensorsFile small;
  small.tensors["a"] = io::Tensor::fromF32({2, 2}, {1, 2, 3, 4});
  small.tensors["b"].dtype = io::DType::F16;
  small.tensors["b"].shape = {3};
  small.tensors["b"].data.assign(6, 0);
  small.tensors["e"] = io::Tensor::fromF32({0}, {});
  write(out / "safetensors" / "small.safetensors",
        io::encodeSafetensors(small));
  std::cout << "seeds written to " << out << "\n";
  return 0;
}
