//===- ReferenceInterpreter.cpp - double-precision gpt dialect evaluator --===//
//
// Each op is written the plainest way its definition allows. The backward ops
// are deliberately NOT written like the gradient rules or the kernels: they
// differentiate the forward definition directly, forming Jacobians and the
// attention probability matrix explicitly, so that a finite-difference check
// through this interpreter is an independent check of the rules.
//
//===----------------------------------------------------------------------===//
#include "ReferenceInterpreter.h"

#include "dialects/gpt/GPTOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <limits>
#include <unordered_map>

using namespace mlir;
using namespace mlir::gpt;

namespace gpt_test {

using Shape = std::vector<int64_t>;

int64_t numElements(const Shape &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

RefTensor::RefTensor(Shape s, double fill)
    : shape(std::move(s)), data(numElements(shape), fill) {}

namespace {
constexpr double kNegInf = -std::numeric_limits<double>::infinity();

std::string shapeString(const Shape &s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i)
    out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

/// Product of the dims in [begin, end).
int64_t product(const Shape &s, size_t begin, size_t end) {
  int64_t n = 1;
  for (size_t i = begin; i < end; ++i)
    n *= s[i];
  return n;
}

double attrValue(FloatAttr attr) { return attr.getValueAsDouble(); }

/// True where gpt.causal_mask hides the score of query i for key j.
bool masked(int64_t i, int64_t j, int64_t T, int64_t S) {
  return j > i + (S - T);
}

/// softmax of x along `axis` (rows of -inf entries give 0 there).
RefTensor softmaxAlong(const RefTensor &x, int64_t axis) {
  int64_t outer = product(x.shape, 0, axis), n = x.shape[axis],
          inner = product(x.shape, axis + 1, x.shape.size());
  RefTensor y(x.shape);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t in = 0; in < inner; ++in) {
      auto at = [&](int64_t j) { return (o * n + j) * inner + in; };
      double m = kNegInf;
      for (int64_t j = 0; j < n; ++j)
        m = std::max(m, x.data[at(j)]);
      double sum = 0;
      for (int64_t j = 0; j < n; ++j)
        sum += std::exp(x.data[at(j)] - m);
      for (int64_t j = 0; j < n; ++j)
        y.data[at(j)] = std::exp(x.data[at(j)] - m) / sum;
    }
  return y;
}

double gelu(double x) {
  const double c = std::sqrt(2.0 / M_PI);
  return 0.5 * x * (1.0 + std::tanh(c * (x + 0.044715 * x * x * x)));
}

/// d/dx of gelu(x), by the product and chain rules on its formula.
double geluDerivative(double x) {
  const double c = std::sqrt(2.0 / M_PI);
  double u = c * (x + 0.044715 * x * x * x);
  double du = c * (1.0 + 3.0 * 0.044715 * x * x);
  double th = std::tanh(u);
  return 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * du;
}

/// One head of attention for one batch entry, in double: the scaled, masked
/// scores, the probability matrix, and each row's log-sum-exp.
struct HeadProbs {
  std::vector<std::vector<double>> scores, probs; // [T][S]
  std::vector<double> lse;                        // [T]
};

HeadProbs headProbs(const RefTensor &q, const RefTensor &k, int64_t b,
                    int64_t h, int64_t heads, double scale, bool causal) {
  int64_t T = q.shape[1], S = k.shape[1], D = q.shape[2], Dh = D / heads;
  HeadProbs r;
  r.scores.assign(T, std::vector<double>(S));
  r.probs.assign(T, std::vector<double>(S));
  r.lse.assign(T, 0.0);
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t s = 0; s < S; ++s) {
      double dot = 0;
      for (int64_t d = 0; d < Dh; ++d)
        dot += q.data[(b * T + t) * D + h * Dh + d] *
               k.data[(b * S + s) * D + h * Dh + d];
      r.scores[t][s] = causal && masked(t, s, T, S) ? kNegInf : scale * dot;
    }
    double m = kNegInf;
    for (double v : r.scores[t])
      m = std::max(m, v);
    double sum = 0;
    for (double v : r.scores[t])
      sum += std::exp(v - m);
    r.lse[t] = m + std::log(sum);
    for (int64_t s = 0; s < S; ++s)
      r.probs[t][s] = std::exp(r.scores[t][s] - r.lse[t]);
  }
  return r;
}

class Interpreter {
public:
  std::string error;

  bool runBlock(Block &block, const std::vector<RefTensor> &args,
                std::vector<RefTensor> &results) {
    if (args.size() != block.getNumArguments())
      return failAt(block.getParentOp(),
                    "expected " + std::to_string(block.getNumArguments()) +
                        " inputs, got " + std::to_string(args.size()));
    for (auto [arg, value] : llvm::zip(block.getArguments(), args))
      if (!set(block.getParentOp(), arg, value))
        return false;
    for (Operation &op : block) {
      if (op.hasTrait<OpTrait::IsTerminator>()) {
        results.clear();
        for (Value v : op.getOperands()) {
          if (!env.count(v.getAsOpaquePointer()))
            return failAt(&op, "returns a value that was not evaluated");
          results.push_back(get(v));
        }
        return true;
      }
      if (!exec(&op))
        return false;
    }
    return failAt(block.getParentOp(), "block has no terminator");
  }

private:
  // Node-based, so references handed out by get() survive later insertions.
  std::unordered_map<const void *, RefTensor> env;

  bool failAt(Operation *op, const std::string &message) {
    if (!error.empty())
      return false;
    std::string loc;
    llvm::raw_string_ostream os(loc);
    op->getLoc().print(os);
    error = "'" + op->getName().getStringRef().str() + "' (" + os.str() +
            "): " + message;
    return false;
  }

  const RefTensor &get(Value v) {
    static const RefTensor missing;
    auto it = env.find(v.getAsOpaquePointer());
    if (it != env.end())
      return it->second;
    failAt(v.getParentBlock()->getParentOp(), "use of an unevaluated value");
    return missing;
  }

  /// Binds a value, checking the computed shape against the static type.
  bool set(Operation *op, Value v, RefTensor t) {
    auto type = cast<RankedTensorType>(v.getType());
    bool fits = type.getRank() == t.rank();
    for (int64_t i = 0; fits && i < type.getRank(); ++i)
      fits = type.isDynamicDim(i) || type.getDimSize(i) == t.shape[i];
    if (!fits || numElements(t.shape) != t.size())
      return failAt(op, "computed shape " + shapeString(t.shape) +
                            " does not fit the type of a value");
    env[v.getAsOpaquePointer()] = std::move(t);
    return true;
  }

  /// The static shape of a type (for results whose size the inputs do not
  /// determine, such as a table gradient).
  bool staticShape(Operation *op, Type type, Shape &shape) {
    auto t = cast<RankedTensorType>(type);
    if (!t.hasStaticShape())
      return failAt(op, "result type must be static");
    shape.assign(t.getShape().begin(), t.getShape().end());
    return true;
  }

  bool exec(Operation *o);
  bool execForward(Operation *o, bool &handled);
  bool execBackward(Operation *o, bool &handled);
  bool execOptimizer(Operation *o, bool &handled);
};

bool Interpreter::exec(Operation *o) {
  for (Value v : o->getOperands())
    if (!env.count(v.getAsOpaquePointer()))
      return failAt(o, "uses a value that was not evaluated");
  bool handled = false;
  if (!execForward(o, handled) || handled)
    return handled && error.empty();
  if (!execBackward(o, handled) || handled)
    return handled && error.empty();
  if (!execOptimizer(o, handled) || handled)
    return handled && error.empty();
  return failAt(o, "not implemented by the reference interpreter");
}

bool Interpreter::execForward(Operation *o, bool &handled) {
  handled = true;
  if (auto op = dyn_cast<arith::ConstantOp>(o)) {
    auto dense = dyn_cast<DenseElementsAttr>(op.getValue());
    Shape shape;
    if (!dense || !staticShape(o, op.getType(), shape))
      return failAt(o, "only dense tensor constants are supported");
    RefTensor out(shape);
    if (isa<FloatType>(dense.getElementType())) {
      int64_t i = 0;
      for (const APFloat &v : dense.getValues<APFloat>())
        out.data[i++] = v.convertToDouble();
    } else {
      int64_t i = 0;
      for (const APInt &v : dense.getValues<APInt>())
        out.data[i++] = static_cast<double>(v.getSExtValue());
    }
    return set(o, o->getResult(0), std::move(out));
  }

  if (auto op = dyn_cast<EmbeddingOp>(o)) {
    const RefTensor &table = get(op.getTable()), &ids = get(op.getIds());
    int64_t V = table.shape[0], D = table.shape[1];
    Shape shape = ids.shape;
    shape.push_back(D);
    RefTensor out(shape);
    for (int64_t i = 0; i < ids.size(); ++i) {
      int64_t id = static_cast<int64_t>(ids.data[i]);
      if (id < 0 || id >= V)
        return failAt(o, "id " + std::to_string(id) + " out of range");
      for (int64_t d = 0; d < D; ++d)
        out.data[i * D + d] = table.data[id * D + d];
    }
    return set(o, o->getResult(0), std::move(out));
  }

  if (auto op = dyn_cast<PositionEmbeddingOp>(o)) {
    const RefTensor &table = get(op.getTable()), &ids = get(op.getIds());
    int64_t C = table.shape[0], D = table.shape[1];
    int64_t B = ids.shape[0], T = ids.shape[1];
    // Optional start : [B] (a KV cache's current lengths), 0 when absent.
    // Read generically so the check does not depend on the accessor.
    const RefTensor *start =
        o->getNumOperands() > 2 ? &get(o->getOperand(2)) : nullptr;
    RefTensor out({B, T, D});
    for (int64_t b = 0; b < B; ++b) {
      int64_t first = start ? static_cast<int64_t>(start->data[b]) : 0;
      if (first < 0 || first + T > C)
        return failAt(o, "positions beyond the table");
      for (int64_t t = 0; t < T; ++t)
        for (int64_t d = 0; d < D; ++d)
          out.data[(b * T + t) * D + d] = table.data[(first + t) * D + d];
    }
    return set(o, o->getResult(0), std::move(out));
  }

  if (auto op = dyn_cast<RopeOp>(o)) {
    const RefTensor &x = get(op.getInput());
    int64_t B = x.shape[0], T = x.shape[1], D = x.shape[2];
    int64_t hd = op.getHeadDim(), half = hd / 2, columns = op.getColumns();
    double theta = op.getTheta().convertToDouble();
    double sign = op.getInverse() ? -1.0 : 1.0;
    const RefTensor *start = op.getStart() ? &get(op.getStart()) : nullptr;
    RefTensor out = x;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t) {
        double pos = t + (start ? start->data[b] : 0.0);
        for (int64_t h = 0; h < columns; h += hd)
          for (int64_t i = 0; i < half; ++i) {
            double angle = pos * std::pow(theta, -2.0 * i / hd);
            double c = std::cos(angle), s = sign * std::sin(angle);
            int64_t a = (b * T + t) * D + h + i, z = a + half;
            out.data[a] = x.data[a] * c - x.data[z] * s;
            out.data[z] = x.data[a] * s + x.data[z] * c;
          }
      }
    return set(o, o->getResult(0), std::move(out));
  }

  if (auto op = dyn_cast<LayerNormOp>(o)) {
    const RefTensor &x = get(op.getInput()), &g = get(op.getGamma()),
                    &beta = get(op.getBeta());
    double eps = attrValue(op.getEpsilonAttr());
    int64_t D = x.shape.back(), rows = x.size() / D;
    RefTensor out(x.shape);
    for (int64_t r = 0; r < rows; ++r) {
      const double *row = &x.data[r * D];
      double mean = 0, var = 0;
      for (int64_t i = 0; i < D; ++i)
        mean += row[i] / D;
      for (int64_t i = 0; i < D; ++i)
        var += (row[i] - mean) * (row[i] - mean) / D;
      for (int64_t i = 0; i < D; ++i)
        out.data[r * D + i] =
            (row[i] - mean) / std::sqrt(var + eps) * g.data[i] + beta.data[i];
    }
    return set(o, o->getResult(0), std::move(out));
  }

  if (auto op = dyn_cast<MatmulOp>(o)) {
    const RefTensor &a = get(op.getLhs()), &bm = get(op.getRhs());
    bool tA = op.getTransposeLhs(), tB = op.getTransposeRhs();
    int64_t ra = a.rank(), rb = bm.rank();
    int64_t a0 = a.shape[ra - 2], a1 = a.shape[ra - 1];
    int64_t b0 = bm.shape[rb - 2], b1 = bm.shape[rb - 1];
    int64_t M = tA ? a1 : a0, K = tA ? a0 : a1;
    int64_t K2 = tB ? b1 : b0, N = tB ? b0 : b1;
    if (K != K2)
      return failAt(o, "contraction sizes differ");
    bool shared = rb == 2 && ra > 2;
    if (!shared && (ra != rb || !std::equal(a.shape.begin(), a.shape.end() - 2,
                                            bm.shape.begin())))
      return failAt(o, "batch dimensions differ");
    int64_t batch = product(a.shape, 0, ra - 2);
    Shape shape(a.shape.begin(), a.shape.end() - 2);
    shape.push_back(M);
    shape.push_back(N);
    RefTensor out(shape);
    for (int64_t n0 = 0; n0 < batch; ++n0) {
      const double *A = &a.data[n0 * a0 * a1];
      const double *Bm = &bm.data[shared ? 0 : n0 * b0 * b1];
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
          double sum = 0;
          for (int64_t k = 0; k < K; ++k)
            sum += (tA ? A[k * a1 + m] : A[m * a1 + k]) *
                   (tB ? Bm[n * b1 + k] : Bm[k * b1 + n]);
          out.data[(n0 * M + m) * N + n] = sum;
        }
    }
    return set(o, o->getResult(0), std::move(out));
  }

  if (auto op = dyn_cast<LinearOp>(o)) {
    const RefTensor &x = get(op.getInput()), &w = get(op.getWeight());
    bool t = op.getTransposeWeight();
    int64_t K = x.shape.back(), rows = x.size() / K;
    int64_t N = t ? w.shape[0] : w.shape[1];
    if ((t ? w.shape[1] : w.shape[0]) != K)
      return failAt(o, "weight does not match the input");
    Shape shape = x.shape;
    shape.back() = N;
    RefTensor out(shape);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t n = 0; n < N; ++n) {
        double sum = op.getBias() ? get(op.getBias()).data[n] : 0.0;
        for (int64_t k = 0; k < K; ++k)
          sum +=
              x.data[r * K + k] * (t ? w.data[n * K + k] : w.data[k * N + n]);
        out.data[r * N + n] = sum;
      }
    return set(o, o->getResult(0), std::move(out));
  }

  if (isa<AddOp, MulOp>(o)) {
    const RefTensor &l = get(o->getOperand(0)), &r = get(o->getOperand(1));
    if (r.rank() > l.rank() ||
        !std::equal(r.shape.begin(), r.shape.end(), l.shape.end() - r.rank()))
      return failAt(o, "rhs is not a suffix of lhs");
    RefTensor out(l.shape);
    bool add = isa<AddOp>(o);
    for (int64_t i = 0; i < l.size(); ++i) {
      double rv = r.data[i % r.size()];
      out.data[i] = add ? l.data[i] + rv : l.data[i] * rv;
    }
    return set(o, o->getResult(0), std::move(out));
  }

  if (auto op = dyn_cast<ScaleOp>(o)) {
    RefTensor out = get(op.getInput());
    double f = attrValue(op.getFactorAttr());
    for (double &v : out.data)
      v *= f;
    return set(o, o->getResult(0), std::move(out));
  }

  if (auto op = dyn_cast<GeluOp>(o)) {
    RefTensor out = get(op.getInput());
    for (double &v : out.data)
      v = gelu(v);
    return set(o, o->getResult(0), std::move(out));
  }

  if (auto op = dyn_cast<CausalMaskOp>(o)) {
    RefTensor out = get(op.getInput());
    int64_t T = out.shape[out.rank() - 2], S = out.shape.back();
    for (int64_t i = 0; i < out.size(); ++i)
      if (masked((i / S) % T, i % S, T, S))
        out.data[i] = kNegInf;
    return set(o, o->getResult(0), std::move(out));
  }

  if (auto op = dyn_cast<SoftmaxOp>(o)) {
    const RefTensor &x = get(op.getInput());
    int64_t axis = op.getAxis();
    if (axis < 0)
      axis += x.rank();
    return set(o, o->getResult(0), softmaxAlong(x, axis));
  }

  if (auto op = dyn_cast<ScaledMaskedSoftmaxOp>(o)) {
    RefTensor x = get(op.getInput());
    double scale = attrValue(op.getScaleAttr());
    int64_t T = x.shape[x.rank() - 2], S = x.shape.back();
    for (int64_t i = 0; i < x.size(); ++i)
      x.data[i] = op.getCausal() && masked((i / S) % T, i % S, T, S)
                      ? kNegInf
                      : scale * x.data[i];
    return set(o, o->getResult(0), softmaxAlong(x, x.rank() - 1));
  }

  if (isa<AttentionOp, AttentionWithLseOp>(o)) {
    const RefTensor &q = get(o->getOperand(0)), &k = get(o->getOperand(1)),
                    &v = get(o->getOperand(2));
    int64_t heads = cast<IntegerAttr>(o->getAttr("num_heads")).getInt();
    double scale = attrValue(cast<FloatAttr>(o->getAttr("scale")));
    bool causal = o->hasAttr("causal");
    int64_t B = q.shape[0], T = q.shape[1], D = q.shape[2], S = k.shape[1];
    int64_t Dh = D / heads;
    if (k.shape != Shape({B, S, D}) || v.shape != k.shape)
      return failAt(o, "key/value shapes do not match the query");
    RefTensor out({B, T, D}), lse({B, heads, T});
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < heads; ++h) {
        HeadProbs p = headProbs(q, k, b, h, heads, scale, causal);
        for (int64_t t = 0; t < T; ++t) {
          lse.data[(b * heads + h) * T + t] = p.lse[t];
          for (int64_t d = 0; d < Dh; ++d) {
            double sum = 0;
            for (int64_t s = 0; s < S; ++s)
              sum += p.probs[t][s] * v.data[(b * S + s) * D + h * Dh + d];
            out.data[(b * T + t) * D + h * Dh + d] = sum;
          }
        }
      }
    if (!set(o, o->getResult(0), std::move(out)))
      return false;
    return o->getNumResults() == 1 || set(o, o->getResult(1), std::move(lse));
  }

  if (auto op = dyn_cast<ReshapeOp>(o)) {
    RefTensor out = get(op.getInput());
    auto type = op.getType();
    Shape shape(type.getRank());
    for (int64_t i = 0; i < type.getRank(); ++i) {
      if (type.isDynamicDim(i) && i >= out.rank())
        return failAt(o, "dynamic result dim outside the shared prefix");
      shape[i] = type.isDynamicDim(i) ? out.shape[i] : type.getDimSize(i);
    }
    if (numElements(shape) != out.size())
      return failAt(o, "element counts differ");
    out.shape = shape;
    return set(o, o->getResult(0), std::move(out));
  }

  if (auto op = dyn_cast<TransposeOp>(o)) {
    const RefTensor &x = get(op.getInput());
    ArrayRef<int64_t> perm = op.getPermutation();
    int64_t rank = x.rank();
    Shape shape(rank), inStrides(rank, 1);
    for (int64_t i = rank - 2; i >= 0; --i)
      inStrides[i] = inStrides[i + 1] * x.shape[i + 1];
    for (int64_t i = 0; i < rank; ++i)
      shape[i] = x.shape[perm[i]];
    RefTensor out(shape);
    for (int64_t flat = 0; flat < out.size(); ++flat) {
      int64_t rest = flat, src = 0;
      for (int64_t i = rank - 1; i >= 0; --i) {
        int64_t idx = rest % shape[i];
        rest /= shape[i];
        src += idx * inStrides[perm[i]];
      }
      out.data[flat] = x.data[src];
    }
    return set(o, o->getResult(0), std::move(out));
  }

  if (auto op = dyn_cast<SplitOp>(o)) {
    const RefTensor &x = get(op.getInput());
    int64_t axis = op.getAxis(), n = op.getNumResults();
    int64_t outer = product(x.shape, 0, axis), size = x.shape[axis],
            inner = product(x.shape, axis + 1, x.shape.size());
    int64_t chunk = size / n;
    for (int64_t part = 0; part < n; ++part) {
      Shape shape = x.shape;
      shape[axis] = chunk;
      RefTensor out(shape);
      for (int64_t a = 0; a < outer; ++a)
        for (int64_t c = 0; c < chunk; ++c)
          for (int64_t i = 0; i < inner; ++i)
            out.data[(a * chunk + c) * inner + i] =
                x.data[(a * size + part * chunk + c) * inner + i];
      if (!set(o, op.getResult(part), std::move(out)))
        return false;
    }
    return true;
  }

  if (auto op = dyn_cast<CrossEntropyOp>(o)) {
    const RefTensor &z = get(op.getLogits()), &tg = get(op.getTargets());
    const RefTensor *w = op.getWeights() ? &get(op.getWeights()) : nullptr;
    int64_t V = z.shape.back(), rows = z.size() / V;
    if (tg.size() != rows || (w && w->size() != rows))
      return failAt(o, "targets/weights do not match the logits");
    double num = 0, den = 0;
    for (int64_t r = 0; r < rows; ++r) {
      int64_t target = static_cast<int64_t>(tg.data[r]);
      if (target < 0 || target >= V)
        return failAt(o, "target out of range");
      double m = kNegInf, sum = 0;
      for (int64_t j = 0; j < V; ++j)
        m = std::max(m, z.data[r * V + j]);
      for (int64_t j = 0; j < V; ++j)
        sum += std::exp(z.data[r * V + j] - m);
      double loss = m + std::log(sum) - z.data[r * V + target];
      double weight = w ? w->data[r] : 1.0;
      num += weight * loss;
      den += weight;
    }
    if (den == 0)
      return failAt(o, "weights sum to zero");
    RefTensor out(Shape{});
    out.data[0] = num / den;
    return set(o, o->getResult(0), std::move(out));
  }

  if (auto op = dyn_cast<FusionOp>(o)) {
    std::vector<RefTensor> args, results;
    for (Value v : op.getInputs())
      args.push_back(get(v));
    if (!runBlock(op.getBody().front(), args, results))
      return false;
    for (auto [r, t] : llvm::zip(op.getResults(), results))
      if (!set(o, r, std::move(t)))
        return false;
    return true;
  }

  handled = false;
  return true;
}

bool Interpreter::execBackward(Operation *o, bool &handled) {
  handled = true;
  if (auto op = dyn_cast<AttentionGradOp>(o)) {
    const RefTensor &dout = get(op.getResultGrad()), &q = get(op.getQuery()),
                    &k = get(op.getKey()), &v = get(op.getValue()),
                    &o0 = get(op.getResult()), &lse0 = get(op.getLse());
    int64_t heads = op.getNumHeads();
    double scale = attrValue(op.getScaleAttr());
    int64_t B = q.shape[0], T = q.shape[1], D = q.shape[2], S = k.shape[1];
    int64_t Dh = D / heads;
    RefTensor dq(q.shape), dk(k.shape), dv(v.shape);
    auto Q = [&](int64_t b, int64_t t, int64_t h, int64_t d) {
      return (b * T + t) * D + h * Dh + d;
    };
    auto KV = [&](int64_t b, int64_t s, int64_t h, int64_t d) {
      return (b * S + s) * D + h * Dh + d;
    };
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < heads; ++h) {
        // Recompute the probability matrix; the saved output and lse must
        // agree with it (a rule that wires the wrong ones in fails here).
        HeadProbs p = headProbs(q, k, b, h, heads, scale, op.getCausal());
        for (int64_t t = 0; t < T; ++t) {
          double saved = lse0.data[(b * heads + h) * T + t];
          if (std::abs(saved - p.lse[t]) > 1e-9 * (1 + std::abs(p.lse[t])))
            return failAt(o, "lse operand differs from the recomputed one");
          for (int64_t d = 0; d < Dh; ++d) {
            double sum = 0;
            for (int64_t s = 0; s < S; ++s)
              sum += p.probs[t][s] * v.data[KV(b, s, h, d)];
            if (std::abs(sum - o0.data[Q(b, t, h, d)]) >
                1e-9 * (1 + std::abs(sum)))
              return failAt(o, "result operand differs from the forward");
          }
        }
        // out = P V:  dV = P^T dOut,  dP = dOut V^T.
        std::vector<std::vector<double>> dP(T, std::vector<double>(S, 0.0));
        for (int64_t t = 0; t < T; ++t)
          for (int64_t s = 0; s < S; ++s)
            for (int64_t d = 0; d < Dh; ++d) {
              dv.data[KV(b, s, h, d)] +=
                  p.probs[t][s] * dout.data[Q(b, t, h, d)];
              dP[t][s] += dout.data[Q(b, t, h, d)] * v.data[KV(b, s, h, d)];
            }
        // P = softmax(scores) row by row, through its Jacobian
        // dP_i/dS_j = P_i (delta_ij - P_j); masked scores are constants.
        for (int64_t t = 0; t < T; ++t)
          for (int64_t j = 0; j < S; ++j) {
            if (op.getCausal() && masked(t, j, T, S))
              continue;
            double dS = 0;
            for (int64_t i = 0; i < S; ++i)
              dS += dP[t][i] * p.probs[t][i] * ((i == j) - p.probs[t][j]);
            // scores = scale * q_t . k_j
            for (int64_t d = 0; d < Dh; ++d) {
              dq.data[Q(b, t, h, d)] += dS * scale * k.data[KV(b, j, h, d)];
              dk.data[KV(b, j, h, d)] += dS * scale * q.data[Q(b, t, h, d)];
            }
          }
      }
    return set(o, op.getQueryGrad(), std::move(dq)) &&
           set(o, op.getKeyGrad(), std::move(dk)) &&
           set(o, op.getValueGrad(), std::move(dv));
  }

  if (auto op = dyn_cast<EmbeddingGradOp>(o)) {
    const RefTensor &dy = get(op.getResultGrad()), &ids = get(op.getIds());
    Shape shape;
    if (!staticShape(o, op.getType(), shape))
      return false;
    RefTensor out(shape);
    int64_t V = shape[0], D = shape[1];
    for (int64_t i = 0; i < ids.size(); ++i) {
      int64_t id = static_cast<int64_t>(ids.data[i]);
      if (id < 0 || id >= V)
        return failAt(o, "id out of range");
      for (int64_t d = 0; d < D; ++d)
        out.data[id * D + d] += dy.data[i * D + d];
    }
    return set(o, o->getResult(0), std::move(out));
  }

  if (auto op = dyn_cast<PositionEmbeddingGradOp>(o)) {
    const RefTensor &dy = get(op.getResultGrad());
    Shape shape;
    if (!staticShape(o, op.getType(), shape))
      return false;
    int64_t B = dy.shape[0], T = dy.shape[1], D = dy.shape[2];
    if (T > shape[0] || D != shape[1])
      return failAt(o, "gradient does not fit the table");
    RefTensor out(shape);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t d = 0; d < D; ++d)
          out.data[t * D + d] += dy.data[(b * T + t) * D + d];
    return set(o, o->getResult(0), std::move(out));
  }

  if (auto op = dyn_cast<LayerNormGradOp>(o)) {
    const RefTensor &dy = get(op.getResultGrad()), &x = get(op.getInput()),
                    &g = get(op.getGamma());
    double eps = attrValue(op.getEpsilonAttr());
    int64_t D = x.shape.back(), rows = x.size() / D;
    RefTensor dx(x.shape), dg(g.shape), db(g.shape);
    for (int64_t r = 0; r < rows; ++r) {
      const double *row = &x.data[r * D], *dyr = &dy.data[r * D];
      double mean = 0, var = 0;
      for (int64_t i = 0; i < D; ++i)
        mean += row[i] / D;
      for (int64_t i = 0; i < D; ++i)
        var += (row[i] - mean) * (row[i] - mean) / D;
      double rstd = 1.0 / std::sqrt(var + eps);
      std::vector<double> xhat(D);
      for (int64_t i = 0; i < D; ++i)
        xhat[i] = (row[i] - mean) * rstd;
      // y_i = xhat_i g_i + b_i, with the Jacobian of the normalization
      // d xhat_i / d x_j = rstd (delta_ij - 1/D) - rstd xhat_i xhat_j / D.
      for (int64_t j = 0; j < D; ++j) {
        double sum = 0;
        for (int64_t i = 0; i < D; ++i) {
          double jac =
              rstd * ((i == j) - 1.0 / D) - rstd * xhat[i] * xhat[j] / D;
          sum += dyr[i] * g.data[i] * jac;
        }
        dx.data[r * D + j] = sum;
      }
      for (int64_t i = 0; i < D; ++i) {
        dg.data[i] += dyr[i] * xhat[i];
        db.data[i] += dyr[i];
      }
    }
    return set(o, op.getInputGrad(), std::move(dx)) &&
           set(o, op.getGammaGrad(), std::move(dg)) &&
           set(o, op.getBetaGrad(), std::move(db));
  }

  if (auto op = dyn_cast<LinearWeightGradOp>(o)) {
    const RefTensor &x = get(op.getInput()), &dy = get(op.getResultGrad());
    int64_t K = x.shape.back(), N = dy.shape.back(), rows = x.size() / K;
    if (dy.size() / N != rows)
      return failAt(o, "row counts differ");
    bool t = op.getTransposeWeight();
    RefTensor out(t ? Shape{N, K} : Shape{K, N});
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < K; ++k)
        for (int64_t n = 0; n < N; ++n)
          out.data[t ? n * K + k : k * N + n] +=
              x.data[r * K + k] * dy.data[r * N + n];
    return set(o, o->getResult(0), std::move(out));
  }

  if (auto op = dyn_cast<SumLeadingOp>(o)) {
    const RefTensor &x = get(op.getInput());
    int64_t rank = op.getType().getRank();
    Shape shape(x.shape.end() - rank, x.shape.end());
    RefTensor out(shape);
    for (int64_t i = 0; i < x.size(); ++i)
      out.data[i % out.size()] += x.data[i];
    return set(o, o->getResult(0), std::move(out));
  }

  if (auto op = dyn_cast<GeluGradOp>(o)) {
    const RefTensor &dy = get(op.getResultGrad()), &x = get(op.getInput());
    RefTensor out(x.shape);
    for (int64_t i = 0; i < x.size(); ++i)
      out.data[i] = dy.data[i] * geluDerivative(x.data[i]);
    return set(o, o->getResult(0), std::move(out));
  }

  if (auto op = dyn_cast<SoftmaxGradOp>(o)) {
    const RefTensor &dy = get(op.getResultGrad()), &y = get(op.getResult());
    int64_t axis = op.getAxis();
    if (axis < 0)
      axis += y.rank();
    int64_t outer = product(y.shape, 0, axis), n = y.shape[axis],
            inner = product(y.shape, axis + 1, y.shape.size());
    RefTensor out(y.shape);
    for (int64_t a = 0; a < outer; ++a)
      for (int64_t in = 0; in < inner; ++in) {
        auto at = [&](int64_t j) { return (a * n + j) * inner + in; };
        // dy_i/dx_j = y_i (delta_ij - y_j)
        for (int64_t j = 0; j < n; ++j) {
          double sum = 0;
          for (int64_t i = 0; i < n; ++i)
            sum += dy.data[at(i)] * y.data[at(i)] * ((i == j) - y.data[at(j)]);
          out.data[at(j)] = sum;
        }
      }
    return set(o, o->getResult(0), std::move(out));
  }

  if (auto op = dyn_cast<CausalMaskGradOp>(o)) {
    RefTensor out = get(op.getResultGrad());
    int64_t T = out.shape[out.rank() - 2], S = out.shape.back();
    for (int64_t i = 0; i < out.size(); ++i)
      if (masked((i / S) % T, i % S, T, S))
        out.data[i] = 0.0;
    return set(o, o->getResult(0), std::move(out));
  }

  if (auto op = dyn_cast<CrossEntropyGradOp>(o)) {
    double dloss = get(op.getLossGrad()).data[0];
    const RefTensor &z = get(op.getLogits()), &tg = get(op.getTargets());
    const RefTensor *w = op.getWeights() ? &get(op.getWeights()) : nullptr;
    int64_t V = z.shape.back(), rows = z.size() / V;
    double den = 0;
    for (int64_t r = 0; r < rows; ++r)
      den += w ? w->data[r] : 1.0;
    // loss = sum_r w_r (lse_r - z_r[t_r]) / sum(w);  d lse_r / d z_rj = p_rj.
    RefTensor out(z.shape);
    for (int64_t r = 0; r < rows; ++r) {
      double m = kNegInf, sum = 0;
      for (int64_t j = 0; j < V; ++j)
        m = std::max(m, z.data[r * V + j]);
      for (int64_t j = 0; j < V; ++j)
        sum += std::exp(z.data[r * V + j] - m);
      double weight = (w ? w->data[r] : 1.0) / den;
      int64_t target = static_cast<int64_t>(tg.data[r]);
      for (int64_t j = 0; j < V; ++j) {
        double p = std::exp(z.data[r * V + j] - m) / sum;
        out.data[r * V + j] = dloss * weight * (p - (j == target ? 1.0 : 0.0));
      }
    }
    return set(o, o->getResult(0), std::move(out));
  }

  if (auto op = dyn_cast<ConcatOp>(o)) {
    int64_t axis = op.getAxis();
    Shape shape = get(op.getInputs()[0]).shape;
    shape[axis] = 0;
    for (Value v : op.getInputs())
      shape[axis] += get(v).shape[axis];
    RefTensor out(shape);
    int64_t outer = product(shape, 0, axis),
            inner = product(shape, axis + 1, shape.size()), offset = 0;
    for (Value v : op.getInputs()) {
      const RefTensor &x = get(v);
      int64_t n = x.shape[axis];
      for (int64_t a = 0; a < outer; ++a)
        for (int64_t c = 0; c < n; ++c)
          for (int64_t i = 0; i < inner; ++i)
            out.data[(a * shape[axis] + offset + c) * inner + i] =
                x.data[(a * n + c) * inner + i];
      offset += n;
    }
    return set(o, o->getResult(0), std::move(out));
  }

  if (auto op = dyn_cast<ZerosLikeOp>(o))
    return set(o, o->getResult(0), RefTensor(get(op.getInput()).shape));

  // The interpreter is one process: sum and mean over one rank are the
  // identity.
  if (auto op = dyn_cast<AllReduceOp>(o)) {
    for (auto [input, result] : llvm::zip(op.getInputs(), op.getResults()))
      if (!set(o, result, get(input)))
        return false;
    return true;
  }

  handled = false;
  return true;
}

bool Interpreter::execOptimizer(Operation *o, bool &handled) {
  handled = true;
  if (auto op = dyn_cast<FillOp>(o)) {
    Shape shape;
    if (!staticShape(o, op.getType(), shape))
      return false;
    return set(o, o->getResult(0),
               RefTensor(shape, attrValue(op.getValueAttr())));
  }

  if (auto op = dyn_cast<GlobalNormOp>(o)) {
    double sum = 0;
    for (Value v : op.getInputs())
      for (double x : get(v).data)
        sum += x * x;
    RefTensor out(Shape{});
    out.data[0] = std::sqrt(sum);
    return set(o, o->getResult(0), std::move(out));
  }

  if (auto op = dyn_cast<LrScheduleOp>(o)) {
    double step = get(op.getStep()).data[0];
    const std::vector<double> &hp = get(op.getHparams()).data;
    double lr = hp[0], minLr = hp[1], warmup = hp[2], total = hp[3];
    RefTensor out(Shape{});
    if (step < warmup)
      out.data[0] = lr * (step + 1) / warmup;
    else if (step >= total)
      out.data[0] = minLr;
    else
      out.data[0] =
          minLr + 0.5 * (lr - minLr) *
                      (1 + std::cos(M_PI * (step - warmup) / (total - warmup)));
    return set(o, o->getResult(0), std::move(out));
  }

  if (auto op = dyn_cast<AdamWOp>(o)) {
    const RefTensor &p = get(op.getParam()), &g = get(op.getGrad()),
                    &m = get(op.getM()), &v = get(op.getV());
    double lr = get(op.getLr()).data[0], norm = get(op.getNorm()).data[0];
    double t = get(op.getStep()).data[0] + 1;
    const std::vector<double> &hp = get(op.getHparams()).data;
    double b1 = hp[4], b2 = hp[5], eps = hp[6], wd = op.getDecay() ? hp[7] : 0,
           clip = hp[8];
    double gs = clip > 0 ? std::min(1.0, clip / (norm + 1e-6)) : 1.0;
    RefTensor np(p.shape), nm(p.shape), nv(p.shape);
    for (int64_t i = 0; i < p.size(); ++i) {
      double gi = g.data[i] * gs;
      nm.data[i] = b1 * m.data[i] + (1 - b1) * gi;
      nv.data[i] = b2 * v.data[i] + (1 - b2) * gi * gi;
      double mhat = nm.data[i] / (1 - std::pow(b1, t));
      double vhat = nv.data[i] / (1 - std::pow(b2, t));
      np.data[i] =
          p.data[i] - lr * (mhat / (std::sqrt(vhat) + eps) + wd * p.data[i]);
    }
    return set(o, op.getNewParam(), std::move(np)) &&
           set(o, op.getNewM(), std::move(nm)) &&
           set(o, op.getNewV(), std::move(nv));
  }

  handled = false;
  return true;
}
} // namespace

EvalResult evaluate(func::FuncOp fn, const std::vector<RefTensor> &inputs) {
  EvalResult result;
  Interpreter interp;
  if (!fn.getBody().hasOneBlock())
    result.error = "function must have exactly one block";
  else if (!interp.runBlock(fn.getBody().front(), inputs, result.results))
    result.error = interp.error.empty() ? "evaluation failed" : interp.error;
  return result;
}

} // namespace gpt_test
