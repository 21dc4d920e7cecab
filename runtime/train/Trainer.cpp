//===- Trainer.cpp --------------------------------------------------------===//
#include "runtime/train/Trainer.h"

#include "runtime/collective/Collective.h"
#include "runtime/train/Init.h"
#include "schema/Parameters.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace gpt::train {

std::vector<float> Hyperparams::optimizerVector() const {
  return {static_cast<float>(lr),      static_cast<float>(minLr),
          static_cast<float>(warmup),  static_cast<float>(totalSteps),
          static_cast<float>(beta1),   static_cast<float>(beta2),
          static_cast<float>(eps),     static_cast<float>(weightDecay),
          static_cast<float>(gradClip)};
}

nlohmann::ordered_json Hyperparams::toJson() const {
  nlohmann::ordered_json j;
  j["batch"] = batch;
  j["seq"] = seq;
  j["grad_accum"] = gradAccum;
  j["lr"] = lr;
  j["min_lr"] = minLr;
  j["warmup"] = warmup;
  j["total_steps"] = totalSteps;
  j["beta1"] = beta1;
  j["beta2"] = beta2;
  j["eps"] = eps;
  j["weight_decay"] = weightDecay;
  j["grad_clip"] = gradClip;
  j["seed"] = seed;
  return j;
}

Hyperparams Hyperparams::fromJson(const nlohmann::json &j,
                                  const std::string &where) {
  Hyperparams h;
  try {
    h.batch = j.at("batch").get<std::int64_t>();
    h.seq = j.at("seq").get<std::int64_t>();
    h.gradAccum = j.at("grad_accum").get<std::int64_t>();
    h.lr = j.at("lr").get<double>();
    h.minLr = j.at("min_lr").get<double>();
    h.warmup = j.at("warmup").get<std::int64_t>();
    h.totalSteps = j.at("total_steps").get<std::int64_t>();
    h.beta1 = j.at("beta1").get<double>();
    h.beta2 = j.at("beta2").get<double>();
    h.eps = j.at("eps").get<double>();
    h.weightDecay = j.at("weight_decay").get<double>();
    h.gradClip = j.at("grad_clip").get<double>();
    h.seed = j.at("seed").get<std::uint64_t>();
  } catch (const nlohmann::json::exception &e) {
    throw std::runtime_error(where + ": bad hyperparameters: " + e.what());
  }
  return h;
}

Trainer::Trainer(FunctionRunner &runner, const ModelConfig &config,
                 const Hyperparams &hp, bool forTraining)
    : runner_(runner), config_(config), hp_(hp) {
  for (const char *fn : {"train_grad", "apply_optimizer"})
    if (forTraining && !runner_.hasFunction(fn))
      throw std::runtime_error(std::string("the artifact has no '") + fn +
                               "' function (was it compiled for training?)");
  for (const ParamSpec &spec : parameterSpecs(config_)) {
    order_.push_back(spec.name);
    Tensor zero;
    zero.shape = spec.shape;
    zero.data.assign(static_cast<std::size_t>(zero.numel()) * 4, 0);
    if (forTraining)
      for (const char *prefix : {"grad.", "adam_m.", "adam_v."})
        state_[prefix + spec.name] = zero;
    params_[spec.name] = std::move(zero);
  }
  std::vector<std::string> names;
  for (const auto &kv : params_)
    names.push_back(kv.first);
  for (const auto &kv : state_)
    names.push_back(kv.first);
  runner_.setResident(names);
}

void Trainer::pushToDevice() {
  for (const auto &kv : params_)
    runner_.markHostChanged(kv.first);
  for (const auto &kv : state_)
    runner_.markHostChanged(kv.first);
  deviceAhead_ = false;
}

void Trainer::pullFromDevice() const {
  if (!deviceAhead_)
    return;
  for (auto &kv : params_)
    runner_.readBack(kv.first, TensorRef::of(kv.second));
  for (auto &kv : state_)
    runner_.readBack(kv.first, TensorRef::of(kv.second));
  deviceAhead_ = false;
}

void Trainer::initialize(std::uint64_t seed) {
  params_ = initParameters(config_, seed);
  for (auto &[name, t] : state_)
    std::fill(t.data.begin(), t.data.end(), 0);
  steps_ = 0;
  pushToDevice();
}

namespace {
void checkAndCopy(std::map<std::string, Tensor> &dst,
                  const std::map<std::string, Tensor> &src,
                  const std::string &where, const std::string &prefix) {
  std::size_t matched = 0;
  for (const auto &[name, t] : src) {
    auto it = dst.find(name);
    if (it == dst.end() || name.rfind(prefix, 0) != 0)
      throw std::runtime_error(where + ": unexpected tensor '" + name +
                               "' (not a tensor of this model)");
    if (t.dtype != DType::F32)
      throw std::runtime_error(where + ": tensor '" + name + "' is " +
                               io::dtypeName(t.dtype) + ", expected F32");
    if (t.shape != it->second.shape) {
      auto str = [](const std::vector<std::int64_t> &s) {
        std::string o = "[";
        for (std::size_t i = 0; i < s.size(); ++i)
          o += (i ? ", " : "") + std::to_string(s[i]);
        return o + "]";
      };
      throw std::runtime_error(where + ": tensor '" + name + "' has shape " +
                               str(t.shape) + ", the model expects " +
                               str(it->second.shape));
    }
    ++matched;
  }
  std::size_t want = 0;
  for (const auto &[name, t] : dst)
    if (name.rfind(prefix, 0) == 0)
      ++want;
  if (matched != want) {
    for (const auto &[name, t] : dst)
      if (name.rfind(prefix, 0) == 0 && !src.count(name))
        throw std::runtime_error(where + ": missing tensor '" + name + "'");
  }
  for (const auto &[name, t] : src)
    dst[name].data = t.data;
}
} // namespace

void Trainer::loadParameters(const std::map<std::string, Tensor> &tensors,
                             const std::string &where) {
  pullFromDevice(); // the state not replaced here stays as trained
  checkAndCopy(params_, tensors, where, "");
  pushToDevice();
}

void Trainer::loadOptimizerState(const std::map<std::string, Tensor> &tensors,
                                 const std::string &where) {
  if (sharded_) {
    // A checkpoint holds every moment; this rank keeps its own.
    std::map<std::string, Tensor> mine;
    for (const std::string &name : order_)
      for (const char *prefix : {"adam_m.", "adam_v."}) {
        auto it = tensors.find(prefix + name);
        if (it == tensors.end())
          throw std::runtime_error(where + ": missing tensor '" + prefix +
                                   name + "'");
        if (state_.count(prefix + name))
          mine.insert(*it);
      }
    if (tensors.size() != 2 * order_.size())
      for (const auto &[name, t] : tensors)
        if (name.rfind("adam_", 0) != 0 ||
            !params_.count(name.substr(name.find('.') + 1)))
          throw std::runtime_error(where + ": unexpected tensor '" + name +
                                   "'");
    std::map<std::string, Tensor> adam;
    for (auto &[name, t] : state_)
      if (name.rfind("adam_", 0) == 0)
        adam[name] = t;
    checkAndCopy(adam, mine, where, "adam_");
    pullFromDevice();
    for (auto &[name, t] : adam)
      state_[name] = std::move(t);
    pushToDevice();
    return;
  }
  std::map<std::string, Tensor> adam;
  for (auto &[name, t] : state_)
    if (name.rfind("adam_", 0) == 0)
      adam[name] = t;
  for (const auto &[name, t] : tensors)
    if (name.rfind("adam_", 0) != 0)
      throw std::runtime_error(where + ": unexpected tensor '" + name + "'");
  checkAndCopy(adam, tensors, where, "adam_");
  pullFromDevice();
  for (auto &[name, t] : adam)
    state_[name] = std::move(t);
  pushToDevice();
}

std::map<std::string, Tensor> Trainer::optimizerState() const {
  pullFromDevice();
  std::map<std::string, Tensor> out;
  for (const auto &[name, t] : state_)
    if (name.rfind("adam_", 0) == 0)
      out[name] = t;
  if (!sharded_)
    return out;
  // Each moment from its owner, in the same order on every rank.
  for (const std::string &name : order_)
    for (const char *prefix : {"adam_m.", "adam_v."}) {
      Tensor &t = out[prefix + name];
      if (t.data.empty()) {
        t.shape = params_.at(name).shape;
        t.data.assign(params_.at(name).data.size(), 0);
      }
      group_->broadcast(t.data.data(), t.data.size(), owner_.at(name));
    }
  return out;
}

namespace {
Tensor scalarF32(std::vector<std::int64_t> shape, std::vector<float> v) {
  return Tensor::fromF32(std::move(shape), v);
}
/// The optimizer's step counter: an exact i32 scalar.
Tensor stepTensor(std::int64_t step) {
  if (step < 0 || step > std::numeric_limits<std::int32_t>::max())
    throw std::runtime_error("step " + std::to_string(step) +
                             " is outside the optimizer's int32 counter");
  Tensor t;
  t.dtype = DType::I32;
  t.shape = {};
  t.data.resize(4);
  const std::int32_t v = static_cast<std::int32_t>(step);
  std::memcpy(t.data.data(), &v, 4);
  return t;
}
Tensor fromI32(std::int64_t B, std::int64_t T,
               const std::vector<std::int32_t> &v) {
  Tensor t;
  t.dtype = DType::I32;
  t.shape = {B, T};
  t.data.resize(v.size() * 4);
  std::memcpy(t.data.data(), v.data(), t.data.size());
  return t;
}
} // namespace

std::map<std::string, TensorRef>
Trainer::bindInputs(const std::string &fn, const data::Batch *batch,
                    std::map<std::string, Tensor> &scalars) {
  std::map<std::string, TensorRef> in;
  for (const std::string &name : runner_.inputNames(fn)) {
    if (auto it = params_.find(name); it != params_.end()) {
      in[name] = TensorRef::of(it->second);
    } else if (auto st = state_.find(name); st != state_.end()) {
      in[name] = TensorRef::of(st->second);
    } else if (auto sc = scalars.find(name); sc != scalars.end()) {
      in[name] = TensorRef::of(sc->second);
    } else if (batch &&
               (name == "tokens" || name == "targets" || name == "weights")) {
      auto B = static_cast<std::int64_t>(batch->batchSize);
      auto T = static_cast<std::int64_t>(batch->seqLen);
      Tensor t = name == "tokens"    ? fromI32(B, T, batch->inputs)
                 : name == "targets" ? fromI32(B, T, batch->targets)
                                     : Tensor::fromF32({B, T}, batch->weights);
      in[name] = TensorRef::of(scalars[name] = std::move(t));
    } else {
      throw std::runtime_error("artifact function '" + fn +
                               "' takes an input '" + name +
                               "' that the trainer does not know");
    }
  }
  return in;
}

namespace {
double scalarOut(const std::map<std::string, HostResult> &out,
                 const std::string &fn, const std::string &name) {
  auto it = out.find(name);
  if (it == out.end() || it->second.values.empty())
    throw std::runtime_error("artifact function '" + fn + "' returned no '" +
                             name + "'");
  return it->second.values[0];
}
} // namespace

void Trainer::setCollective(collective::Collective *group,
                            bool shardOptimizer) {
  if (group && group->worldSize() > 1 && !runner_.reduces("train_grad"))
    throw std::runtime_error(
        "the artifact's train_grad does not average gradients over ranks "
        "(compile it with gptc --data-parallel)");
  group_ = group;
  runner_.setCollective(group);
  sharded_ = shardOptimizer && group;
  owner_.clear();
  if (!sharded_)
    return;
  for (const char *fn : {"optimizer_scalars", "zero_grads"})
    if (!runner_.hasFunction(fn))
      throw std::runtime_error(
          std::string("the artifact has no '") + fn +
          "' function to shard the optimizer with (compile it with gptc "
          "--data-parallel)");
  // Largest parameters first, each to the rank holding the fewest bytes so
  // far (the lowest on a tie): deterministic, and balanced within the
  // largest parameter.
  std::vector<std::string> bySize = order_;
  std::stable_sort(bySize.begin(), bySize.end(),
                   [&](const std::string &a, const std::string &b) {
                     return params_.at(a).numel() > params_.at(b).numel();
                   });
  std::vector<std::int64_t> load(group->worldSize(), 0);
  for (const std::string &name : bySize) {
    int rank = static_cast<int>(std::min_element(load.begin(), load.end()) -
                                load.begin());
    owner_[name] = rank;
    load[rank] += params_.at(name).numel();
  }
  // Keep the moments of this rank's parameters only.
  for (const std::string &name : order_)
    if (owner_[name] != group->rank()) {
      state_.erase("adam_m." + name);
      state_.erase("adam_v." + name);
    }
  std::vector<std::string> resident;
  for (const auto &kv : params_)
    resident.push_back(kv.first);
  for (const auto &kv : state_)
    resident.push_back(kv.first);
  runner_.setResident(resident);
}

int Trainer::ownerOf(const std::string &name) const {
  auto it = owner_.find(name);
  return it == owner_.end() ? 0 : it->second;
}

StepResult Trainer::step(const std::vector<data::Batch> &microBatches) {
  if (microBatches.empty())
    throw std::invalid_argument("Trainer::step: no micro-batches");
  const bool parallel = group_ && group_->worldSize() > 1;
  if (group_)
    group_->beginStep(steps_);
  StepResult r;
  const float scale = 1.0f / static_cast<float>(microBatches.size());
  double lossSum = 0;
  bool finite = true;
  for (std::size_t i = 0; i < microBatches.size(); ++i) {
    const data::Batch &b = microBatches[i];
    std::map<std::string, Tensor> scalars;
    scalars["grad_scale"] = scalarF32({}, {scale});
    // The accumulators are reduced once, after the last micro-batch.
    runner_.setCollectivesEnabled(i + 1 == microBatches.size());
    auto out = runner_.run("train_grad", bindInputs("train_grad", &b, scalars));
    deviceAhead_ = true; // gradients accumulated (on the device if resident)
    double loss = scalarOut(out, "train_grad", "loss");
    finite = finite && std::isfinite(loss);
    if (!finite && !parallel) // alone, stop at once: parameters unchanged
      throw NonFiniteError("loss is " + std::to_string(loss) + " at step " +
                           std::to_string(steps_ + 1));
    lossSum += loss;
    r.tokens += static_cast<std::int64_t>(b.batchSize * b.seqLen);
  }
  runner_.setCollectivesEnabled(true);
  r.loss = lossSum / static_cast<double>(microBatches.size());
  if (parallel) {
    // Every rank learns the job's loss and whether any rank's was not
    // finite, before any of them updates its parameters.
    double v[3] = {finite ? r.loss : 0.0, finite ? 0.0 : 1.0,
                   static_cast<double>(r.tokens)};
    group_->allReduce(v, 3, collective::Reduction::Sum);
    if (v[1] > 0)
      throw NonFiniteError("the loss of " + std::to_string(int(v[1])) +
                           " rank(s) is not finite at step " +
                           std::to_string(steps_ + 1));
    r.loss = v[0] / group_->worldSize();
    r.tokens = static_cast<std::int64_t>(v[2]);
  }
  if (sharded_)
    shardedUpdate(r);
  else
    runOptimizerFunction("apply_optimizer", r);
  ++steps_;
  if (!std::isfinite(r.gradNorm))
    throw NonFiniteError("gradient norm is " + std::to_string(r.gradNorm) +
                         " at step " + std::to_string(steps_));
  return r;
}

std::map<std::string, Tensor>
Trainer::runOptimizerFunction(const std::string &fn, StepResult &r) {
  std::map<std::string, Tensor> scalars;
  scalars["step"] = stepTensor(steps_);
  scalars["hparams"] = scalarF32({9}, hp_.optimizerVector());
  auto out = runner_.run(fn, bindInputs(fn, nullptr, scalars));
  r.gradNorm = scalarOut(out, fn, "grad_norm");
  r.lr = scalarOut(out, fn, "lr");
  return scalars;
}

/// ZeRO-1: the norm and LR from every (averaged) gradient, AdamW on this
/// rank's parameters, zeroed accumulators, then every parameter from its
/// owner. The same kernels on the same values as apply_optimizer.
void Trainer::shardedUpdate(StepResult &r) {
  std::map<std::string, Tensor> scalars =
      runOptimizerFunction("optimizer_scalars", r);
  scalars["grad_norm"] = scalarF32({}, {static_cast<float>(r.gradNorm)});
  scalars["lr"] = scalarF32({}, {static_cast<float>(r.lr)});
  const int rank = group_->rank();
  for (const std::string &name : order_)
    if (owner_.at(name) == rank) {
      const std::string fn = "apply_adamw." + name;
      runner_.run(fn, bindInputs(fn, nullptr, scalars));
    }
  runner_.run("zero_grads", bindInputs("zero_grads", nullptr, scalars));
  for (const std::string &name : order_) {
    Tensor &p = params_.at(name);
    const int owner = owner_.at(name);
    if (owner == rank)
      runner_.readBack(name, TensorRef::of(p));
    group_->broadcast(p.data.data(), p.data.size(), owner);
    if (owner != rank)
      runner_.markHostChanged(name);
  }
}

double Trainer::evalLoss(const data::Batch &batch, double *weightSum) {
  std::map<std::string, Tensor> scalars;
  auto out = runner_.run("eval_loss", bindInputs("eval_loss", &batch, scalars));
  if (weightSum) {
    double w = 0;
    for (float x : batch.weights)
      w += x;
    *weightSum = w;
  }
  return scalarOut(out, "eval_loss", "loss");
}

HostResult Trainer::forward(const std::vector<std::int32_t> &tokens,
                            std::int64_t B, std::int64_t T) {
  std::map<std::string, Tensor> scalars;
  scalars["tokens"] = fromI32(B, T, tokens);
  auto out = runner_.run("forward", bindInputs("forward", nullptr, scalars));
  auto it = out.find("logits");
  if (it == out.end())
    throw std::runtime_error("artifact function 'forward' returned no logits");
  return it->second;
}

} // namespace gpt::train
