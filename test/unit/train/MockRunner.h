//===- MockRunner.h ---------------------------------------------*- C++ -*-===//
//
// A FunctionRunner that imitates a training artifact without any kernels:
// the "model" is the parameter list of a ModelConfig, the loss of a batch is
//   0.5 * mean_i (wte_i - c)^2 + 0.01 * c,  c = mean(tokens) / vocab
// so gradients (and therefore weights) depend on the exact batches seen,
// and apply_optimizer is a plain host AdamW. Enough to test the trainer's
// bookkeeping: accumulation, checkpoints, resume, NaN handling.
#pragma once

#include "runtime/train/Runner.h"
#include "schema/Parameters.h"

#include <cmath>
#include <stdexcept>

namespace gpt::train::testing {

class MockRunner : public FunctionRunner {
public:
  explicit MockRunner(const ModelConfig &c) : config_(c) {
    for (const ParamSpec &s : parameterSpecs(c))
      params_.push_back(s.name);
  }

  int trainGradCalls = 0, optimizerCalls = 0;
  std::vector<float> gradScales;
  int nanAtTrainGradCall = -1; // 1-based
  /// Data parallelism: whether train_grad "reduces" (compiled with
  /// --data-parallel), the collectives flag of each train_grad call, and
  /// the first token of each train_grad batch (which windows it got).
  bool reducesGradients = false;
  bool collectivesEnabled = true;
  std::vector<bool> collectivesPerCall;
  std::vector<std::int32_t> firstTokens;

  void setCollectivesEnabled(bool on) override { collectivesEnabled = on; }
  bool reduces(const std::string &fn) const override {
    return reducesGradients && fn == "train_grad";
  }

  bool hasFunction(const std::string &fn) const override {
    return fn == "train_grad" || fn == "apply_optimizer" || fn == "eval_loss" ||
           fn == "forward";
  }
  std::vector<std::string> inputNames(const std::string &fn) const override {
    std::vector<std::string> in;
    if (fn == "train_grad")
      in = {"tokens", "targets", "weights", "grad_scale"};
    else if (fn == "apply_optimizer")
      in = {"step", "hparams"};
    else if (fn == "eval_loss")
      in = {"tokens", "targets", "weights"};
    else
      in = {"tokens"};
    for (const auto &p : params_)
      in.push_back(p);
    if (fn == "train_grad" || fn == "apply_optimizer")
      for (const auto &p : params_)
        in.push_back("grad." + p);
    if (fn == "apply_optimizer")
      for (const char *pre : {"adam_m.", "adam_v."})
        for (const auto &p : params_)
          in.push_back(pre + p);
    return in;
  }

  std::map<std::string, HostResult>
  run(const std::string &fn,
      const std::map<std::string, TensorRef> &in) override {
    for (const auto &n : inputNames(fn))
      if (!in.count(n))
        throw std::runtime_error("mock: missing input " + n);
    std::map<std::string, HostResult> out;
    if (fn == "train_grad" || fn == "eval_loss") {
      const TensorRef &tok = in.at("tokens");
      std::int64_t n = tok.shape[0] * tok.shape[1];
      double c = 0;
      for (std::int64_t i = 0; i < n; ++i)
        c += static_cast<const std::int32_t *>(tok.data)[i];
      c = c / n / config_.vocab_size;
      const TensorRef &w = in.at("wte.weight");
      std::int64_t m = w.shape[0] * w.shape[1];
      const float *wp = static_cast<const float *>(w.data);
      double loss = 0;
      for (std::int64_t i = 0; i < m; ++i)
        loss += 0.5 * (wp[i] - c) * (wp[i] - c);
      loss = loss / m + 0.01 * c;
      if (fn == "train_grad") {
        ++trainGradCalls;
        collectivesPerCall.push_back(collectivesEnabled);
        firstTokens.push_back(static_cast<const std::int32_t *>(tok.data)[0]);
        if (trainGradCalls == nanAtTrainGradCall)
          loss = NAN;
        float scale = *static_cast<const float *>(in.at("grad_scale").data);
        gradScales.push_back(scale);
        float *g = static_cast<float *>(in.at("grad.wte.weight").data);
        for (std::int64_t i = 0; i < m; ++i)
          g[i] += scale * static_cast<float>((wp[i] - c) / m * 1000);
      }
      out["loss"] = {{}, {static_cast<float>(loss)}};
    } else if (fn == "apply_optimizer") {
      ++optimizerCalls;
      const float *h = static_cast<const float *>(in.at("hparams").data);
      float step = *static_cast<const float *>(in.at("step").data);
      double lr = h[0] * std::min(1.0, double(step + 1) / std::max(1.0f, h[2]));
      double norm2 = 0;
      for (const auto &p : params_) {
        const TensorRef &g = in.at("grad." + p);
        std::int64_t n = 1;
        for (auto d : g.shape)
          n *= d;
        for (std::int64_t i = 0; i < n; ++i)
          norm2 += double(static_cast<float *>(g.data)[i]) *
                   static_cast<float *>(g.data)[i];
      }
      for (const auto &p : params_) {
        const TensorRef &t = in.at(p);
        std::int64_t n = 1;
        for (auto d : t.shape)
          n *= d;
        float *pp = static_cast<float *>(t.data);
        float *g = static_cast<float *>(in.at("grad." + p).data);
        float *mm = static_cast<float *>(in.at("adam_m." + p).data);
        float *vv = static_cast<float *>(in.at("adam_v." + p).data);
        for (std::int64_t i = 0; i < n; ++i) {
          mm[i] = h[4] * mm[i] + (1 - h[4]) * g[i];
          vv[i] = h[5] * vv[i] + (1 - h[5]) * g[i] * g[i];
          double mh = mm[i] / (1 - std::pow(h[4], step + 1));
          double vh = vv[i] / (1 - std::pow(h[5], step + 1));
          pp[i] -= static_cast<float>(lr * mh / (std::sqrt(vh) + h[6]));
          g[i] = 0;
        }
      }
      out["grad_norm"] = {{}, {static_cast<float>(std::sqrt(norm2))}};
      out["lr"] = {{}, {static_cast<float>(lr)}};
    } else {
      const TensorRef &tok = in.at("tokens");
      std::int64_t B = tok.shape[0], T = tok.shape[1], V = config_.vocab_size;
      HostResult r;
      r.shape = {B, T, V};
      r.values.assign(B * T * V, 0.0f);
      for (std::int64_t i = 0; i < B * T; ++i) {
        auto id = static_cast<const std::int32_t *>(tok.data)[i];
        r.values[i * V + (id + 1) % V] = 10.0f;
      }
      out["logits"] = r;
    }
    return out;
  }

private:
  ModelConfig config_;
  std::vector<std::string> params_;
};

} // namespace gpt::train::testing
