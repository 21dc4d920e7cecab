//===- Builder.h ------------------------------------------------*- C++ -*-===//
//
// Helpers to write small artifacts by hand in tests and run them.
#pragma once

#include "runtime/artifact/Artifact.h"
#include "runtime/executor/CpuExecutor.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace gpt::test {

using json = nlohmann::json;

/// Builds one function; values get storage as they are declared.
struct FunctionBuilder {
  std::string name = "f";
  json values = json::array(), inputs = json::array(), kernels = json::array(),
       outputs = json::array();
  int64_t staticBytes = 0, tokenBytes = 0;

  int add(const char *dtype, const std::vector<int64_t> &shape,
          const json &storage) {
    values.push_back(
        {{"dtype", dtype}, {"shape", shape}, {"storage", storage}});
    return static_cast<int>(values.size()) - 1;
  }
  int input(const std::string &n, const std::vector<int64_t> &shape,
            const char *dtype = "f32", const char *role = "input") {
    int id = add(dtype, shape, {{"kind", "input"}, {"index", inputs.size()}});
    inputs.push_back({{"name", n}, {"role", role}, {"value", id}});
    return id;
  }
  /// A temporary in the token arena if it depends on B or T, else static.
  int temp(const std::vector<int64_t> &shape, const char *dtype = "f32") {
    int64_t factor = 1;
    bool symbolic = false;
    for (int64_t d : shape) {
      if (d < 0)
        symbolic = true;
      else
        factor *= d;
    }
    if (symbolic) {
      int id =
          add(dtype, shape,
              {{"kind", "arena"}, {"arena", "token"}, {"offset", tokenBytes}});
      tokenBytes += factor * 4;
      return id;
    }
    int id =
        add(dtype, shape,
            {{"kind", "arena"}, {"arena", "static"}, {"offset", staticBytes}});
    staticBytes += (factor * 4 + 63) / 64 * 64;
    return id;
  }
  int alias(int of, const std::vector<int64_t> &shape,
            const char *dtype = "f32") {
    return add(dtype, shape, {{"kind", "alias"}, {"of", of}});
  }
  void kernel(const std::string &k, const std::vector<int> &ins,
              const std::vector<int> &outs, json attrs = json::object()) {
    kernels.push_back(
        {{"kernel", k}, {"inputs", ins}, {"outputs", outs}, {"attrs", attrs}});
  }
  void output(const std::string &n, int value, int aliasInput = -1) {
    json o = {{"name", n}, {"value", value}};
    if (aliasInput >= 0)
      o["alias_input"] = aliasInput;
    outputs.push_back(o);
  }
  json function() const {
    return {{"name", name},
            {"inputs", inputs},
            {"outputs", outputs},
            {"values", values},
            {"kernels", kernels},
            {"arena",
             {{"static_bytes", staticBytes}, {"token_bytes", tokenBytes}}}};
  }
};

inline json smallConfig() {
  return {{"vocab_size", 16},
          {"context_length", 8},
          {"n_layer", 1},
          {"n_head", 2},
          {"d_model", 8}};
}

inline json manifestOf(const std::vector<json> &functions) {
  return {{"format", 1},
          {"compiler", "test"},
          {"target", "cpu"},
          {"config", smallConfig()},
          {"functions", functions}};
}

inline Artifact artifactOf(const FunctionBuilder &b) {
  return parseArtifact(serializeArtifact(manifestOf({b.function()})),
                       "test.gptart");
}

/// Owned input tensor that can be viewed.
struct Buf {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<float> f;
  std::vector<int32_t> i;
  TensorView view() {
    return {dtype, shape,
            dtype == DType::F32 ? static_cast<void *>(f.data())
                                : static_cast<void *>(i.data())};
  }
  size_t size() const {
    size_t n = 1;
    for (int64_t d : shape)
      n *= static_cast<size_t>(d);
    return n;
  }
};

inline Buf randn(std::vector<int64_t> shape, uint32_t seed,
                 float scale = 1.0f) {
  Buf b;
  b.shape = std::move(shape);
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  b.f.resize(b.size());
  for (float &x : b.f)
    x = dist(rng);
  return b;
}

inline Buf ints(std::vector<int64_t> shape, std::vector<int32_t> data) {
  Buf b;
  b.dtype = DType::I32;
  b.shape = std::move(shape);
  b.i = std::move(data);
  return b;
}

inline Buf scalar(float x) {
  Buf b;
  b.f = {x};
  return b;
}

inline Buf floats(std::vector<int64_t> shape, std::vector<float> data) {
  Buf b;
  b.shape = std::move(shape);
  b.f = std::move(data);
  return b;
}

/// max |a - b| / (atol + rtol |b|) <= 1 for all elements.
inline ::testing::AssertionResult near(const std::vector<float> &got,
                                       const std::vector<double> &want,
                                       double atol = 1e-5, double rtol = 1e-4) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure()
           << "size " << got.size() << " != " << want.size();
  for (size_t i = 0; i < got.size(); ++i) {
    double err = std::fabs(double(got[i]) - want[i]);
    if (!(err <= atol + rtol * std::fabs(want[i])))
      return ::testing::AssertionFailure()
             << "element " << i << ": got " << got[i] << ", want " << want[i];
  }
  return ::testing::AssertionSuccess();
}

/// A test function and its input buffers by name: the executor tests
/// (PagedTest) and the Vulkan parity tests (KernelCase) build on it.
struct CaseInputs {
  FunctionBuilder b;
  std::map<std::string, Buf> bufs;

  /// Declares input `name` (shape `declared`, else the buffer's) and keeps
  /// its buffer; returns the value id.
  int in(const std::string &name, Buf buf, std::vector<int64_t> declared = {},
         const char *role = "input") {
    const char *dtype = buf.dtype == DType::F32 ? "f32" : "i32";
    int id =
        b.input(name, declared.empty() ? buf.shape : declared, dtype, role);
    bufs[name] = std::move(buf);
    return id;
  }
  /// The input index of value `value` (-1 if it is not an input).
  int inputIndex(int value) const {
    for (size_t i = 0; i < b.inputs.size(); ++i)
      if (b.inputs[i]["value"] == value)
        return static_cast<int>(i);
    return -1;
  }
  /// Views of every buffer, by input name.
  std::map<std::string, TensorView> views() {
    std::map<std::string, TensorView> v;
    for (auto &kv : bufs)
      v[kv.first] = kv.second.view();
    return v;
  }
};

} // namespace gpt::test
