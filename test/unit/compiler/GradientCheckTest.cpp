//===- GradientCheckTest.cpp ----------------------------------------------===//
//
// Gradient checks: every differentiable op's rule (DifferentiableOpInterface::
// buildGradients) and the whole --gpt-autodiff pass on a 2-layer model, against
// central finite differences computed in double precision by the reference
// interpreter (ReferenceInterpreter.h).
//
// Per op: L(x) = sum_r sum_i w_r[i] * op(x)_r[i] with random inputs x and
// random weights w shaped like the results (entries that are -inf, i.e.
// masked scores, are constants and left out of L). The rule is asked for the
// operand gradients with resultGrads = w; the function it builds is evaluated
// by the interpreter and compared with (L(x + h e) - L(x - h e)) / 2h,
// h = 1e-6 * max(1, |x|).
//
// Error measure, per checked entry: |g - fd| / (|fd| + max|fd| + 1e-30), the
// max taken over the operand's checked entries (an elementwise relative error
// that does not blow up on entries that are nearly 0). Tolerances: 1e-7 for
// single ops, 1e-6 for the whole model; the worst errors seen are ~4e-9 and
// ~7e-9 (the finite-difference error in double), so a wrong rule stands out
// by orders of magnitude (see the negative tests at the end).
#include "ReferenceInterpreter.h"

#include "dialects/gpt/GPTAttributes.h"
#include "dialects/gpt/GPTOps.h"
#include "frontend/GPTBuilder.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <set>
#include <sstream>

using namespace mlir;
using gpt_test::RefTensor;
namespace gd = mlir::gpt;

namespace {
using Shape = std::vector<int64_t>;
constexpr int64_t kDyn = ShapedType::kDynamic;
constexpr double kOpTolerance = 1e-7;
constexpr double kModelTolerance = 1e-6;

//===----------------------------------------------------------------------===//
// Finite-difference checker
//===----------------------------------------------------------------------===//

struct CheckReport {
  bool ok = true;
  double worst = 0;    // largest error measure seen
  int64_t checked = 0; // entries compared
  std::string detail;  // where the worst entry is, and its values
};

/// Compares `grads[j]` (the claimed gradient with respect to input
/// `operands[j]`) with central differences of `loss`. Operands with more than
/// `maxEntries` elements are checked at a random sample of entries.
CheckReport checkAgainstFiniteDifferences(
    const std::function<double(const std::vector<RefTensor> &)> &loss,
    std::vector<RefTensor> inputs, const std::vector<unsigned> &operands,
    const std::vector<RefTensor> &grads, const std::vector<std::string> &names,
    double tolerance, int64_t maxEntries, std::mt19937 &rng) {
  CheckReport report;
  for (size_t j = 0; j < operands.size(); ++j) {
    RefTensor &x = inputs[operands[j]];
    const RefTensor &g = grads[j];
    if (g.shape != x.shape) {
      report.ok = false;
      report.detail = names[j] + ": gradient has the wrong shape";
      return report;
    }
    std::vector<int64_t> entries;
    if (x.size() <= maxEntries) {
      for (int64_t e = 0; e < x.size(); ++e)
        entries.push_back(e);
    } else {
      std::uniform_int_distribution<int64_t> pick(0, x.size() - 1);
      for (int64_t n = 0; n < maxEntries; ++n)
        entries.push_back(pick(rng));
    }
    std::vector<double> fd;
    double scale = 0;
    for (int64_t e : entries) {
      double saved = x.data[e];
      double h = 1e-6 * std::max(1.0, std::abs(saved));
      x.data[e] = saved + h;
      double up = loss(inputs);
      x.data[e] = saved - h;
      double down = loss(inputs);
      x.data[e] = saved;
      fd.push_back((up - down) / (2 * h));
      scale = std::max(scale, std::abs(fd.back()));
    }
    for (size_t n = 0; n < entries.size(); ++n) {
      double claimed = g.data[entries[n]];
      double err =
          std::abs(claimed - fd[n]) / (std::abs(fd[n]) + scale + 1e-30);
      if (!(err <= tolerance))
        report.ok = false;
      if (!(err <= report.worst)) {
        report.worst = err;
        std::ostringstream os;
        os.precision(12);
        os << names[j] << "[" << entries[n] << "]: rule " << claimed
           << ", finite differences " << fd[n] << " (max |fd| " << scale << ")";
        report.detail = os.str();
      }
      ++report.checked;
    }
    if (scale == 0) { // a check that compares only zeros proves nothing
      report.ok = false;
      report.detail = names[j] + ": all finite differences are 0";
    }
  }
  return report;
}

/// Sum of w * y over the finite entries of y (masked -inf scores are
/// constants: they do not depend on the inputs).
double weightedSum(const std::vector<RefTensor> &ys,
                   const std::vector<const RefTensor *> &ws) {
  double sum = 0;
  for (size_t r = 0; r < ys.size(); ++r)
    if (ws[r])
      for (int64_t i = 0; i < ys[r].size(); ++i)
        if (std::isfinite(ys[r].data[i]))
          sum += ws[r]->data[i] * ys[r].data[i];
  return sum;
}

//===----------------------------------------------------------------------===//
// Single-op cases
//===----------------------------------------------------------------------===//

enum class Gen { Normal, Ids, Weights };

struct Operand {
  Shape type;  // the MLIR type's shape, kDyn for dynamic dims
  Shape shape; // the runtime shape
  Gen gen = Gen::Normal;
  int64_t bound = 0; // Gen::Ids: values in [0, bound)
  bool diff = true;  // checked against finite differences
};

using CreateFn = std::function<Operation *(OpBuilder &, Location, ValueRange)>;

struct OpCase {
  std::string name;
  std::vector<Operand> operands;
  CreateFn create;
  std::vector<bool> weighted; // per result; empty: all results
};

RankedTensorType f32(OpBuilder &b, Shape shape) {
  return RankedTensorType::get(shape, b.getF32Type());
}

Operand F(Shape type, Shape shape = {}) {
  if (shape.empty())
    shape = type;
  return {type, shape, Gen::Normal, 0, true};
}
Operand Ids(Shape type, Shape shape, int64_t bound) {
  return {type, shape, Gen::Ids, bound, false};
}
Operand Weights(Shape type, Shape shape) {
  return {type, shape, Gen::Weights, 0, false};
}

CreateFn reshapeTo(Shape result) {
  return [=](OpBuilder &b, Location loc, ValueRange x) -> Operation * {
    return b.create<gd::ReshapeOp>(loc, f32(b, result), x[0]);
  };
}

std::vector<OpCase> opCases() {
  std::vector<OpCase> cases;
  auto add = [&](std::string name, std::vector<Operand> operands,
                 CreateFn create, std::vector<bool> weighted = {}) {
    cases.push_back({std::move(name), std::move(operands), std::move(create),
                     std::move(weighted)});
  };
  auto unit = [](OpBuilder &b, bool on) {
    return on ? b.getUnitAttr() : UnitAttr();
  };

  // Embeddings: ids repeat (10 ids over 7 rows), so the scatter must add.
  add("embedding", {F({7, 4}), Ids({kDyn, kDyn}, {2, 5}, 7)},
      [](OpBuilder &b, Location l, ValueRange x) -> Operation * {
        return b.create<gd::EmbeddingOp>(l, f32(b, {kDyn, kDyn, 4}), x[0],
                                         x[1]);
      });
  add("embedding_rank1_ids", {F({5, 3}), Ids({6}, {6}, 5)},
      [](OpBuilder &b, Location l, ValueRange x) -> Operation * {
        return b.create<gd::EmbeddingOp>(l, f32(b, {6, 3}), x[0], x[1]);
      });
  // T = 4 < C = 6: rows 4, 5 get no gradient (the check still covers them).
  add("position_embedding", {F({6, 3}), Ids({kDyn, kDyn}, {2, 4}, 6)},
      [](OpBuilder &b, Location l, ValueRange x) -> Operation * {
        // Generic builder: the optional `start` operand is absent.
        return b.create<gd::PositionEmbeddingOp>(
            l, TypeRange{f32(b, {kDyn, kDyn, 3})}, ValueRange{x[0], x[1]});
      });

  // RoPE on [B, T, 10] = two heads of 4 rotated, 2 columns copied; theta 5
  // so every pair turns by a visibly different angle.
  add("rope", {F({kDyn, kDyn, 10}, {2, 3, 10})},
      [](OpBuilder &b, Location l, ValueRange x) -> Operation * {
        return b.create<gd::RopeOp>(l, x[0], Value(), 4, 8, 5.0f, false);
      });
  add("rope_start_inverse",
      {F({kDyn, kDyn, 8}, {2, 3, 8}), Ids({kDyn}, {2}, 9)},
      [](OpBuilder &b, Location l, ValueRange x) -> Operation * {
        return b.create<gd::RopeOp>(l, x[0], x[1], 4, 8, 5.0f, true);
      });

  add("layernorm", {F({kDyn, 3, 5}, {2, 3, 5}), F({5}), F({5})},
      [](OpBuilder &b, Location l, ValueRange x) -> Operation * {
        return b.create<gd::LayerNormOp>(l, x[0].getType(), x[0], x[1], x[2],
                                         b.getF32FloatAttr(1e-5f));
      });
  add("layernorm_rank2_large_eps", {F({4, 6}), F({6}), F({6})},
      [](OpBuilder &b, Location l, ValueRange x) -> Operation * {
        return b.create<gd::LayerNormOp>(l, x[0].getType(), x[0], x[1], x[2],
                                         b.getF32FloatAttr(0.5f));
      });

  // Matmul: all four transpose combinations, batched (dynamic batch).
  for (int tA = 0; tA < 2; ++tA)
    for (int tB = 0; tB < 2; ++tB) {
      Shape lhs = tA ? Shape{kDyn, 4, 3} : Shape{kDyn, 3, 4};
      Shape rhs = tB ? Shape{2, 5, 4} : Shape{2, 4, 5};
      Shape lhsRun = lhs;
      lhsRun[0] = 2;
      add(std::string("matmul_") + (tA ? "t" : "n") + (tB ? "t" : "n"),
          {F(lhs, lhsRun), F(rhs)},
          [=](OpBuilder &b, Location l, ValueRange x) -> Operation * {
            return b.create<gd::MatmulOp>(l, f32(b, {kDyn, 3, 5}), x[0], x[1],
                                          unit(b, tA), unit(b, tB));
          });
    }
  add("matmul_rank2", {F({3, 4}), F({4, 5})},
      [](OpBuilder &b, Location l, ValueRange x) -> Operation * {
        return b.create<gd::MatmulOp>(l, f32(b, {3, 5}), x[0], x[1], UnitAttr(),
                                      UnitAttr());
      });
  add("matmul_rank4_heads", {F({2, 2, 3, 4}), F({2, 2, 5, 4})},
      [=](OpBuilder &b, Location l, ValueRange x) -> Operation * {
        return b.create<gd::MatmulOp>(l, f32(b, {2, 2, 3, 5}), x[0], x[1],
                                      UnitAttr(), b.getUnitAttr());
      });
  // A rank-2 rhs shared by every batch: its gradient sums over the batch.
  for (int tA = 0; tA < 2; ++tA)
    for (int tB = 0; tB < 2; ++tB) {
      Shape lhs = tA ? Shape{kDyn, 2, 4, 3} : Shape{kDyn, 2, 3, 4};
      Shape rhs = tB ? Shape{5, 4} : Shape{4, 5};
      Shape lhsRun = lhs;
      lhsRun[0] = 2;
      add(std::string("matmul_shared_rhs_") + (tA ? "t" : "n") +
              (tB ? "t" : "n"),
          {F(lhs, lhsRun), F(rhs)},
          [=](OpBuilder &b, Location l, ValueRange x) -> Operation * {
            return b.create<gd::MatmulOp>(l, f32(b, {kDyn, 2, 3, 5}), x[0],
                                          x[1], unit(b, tA), unit(b, tB));
          });
    }

  // Linear, with and without bias and transpose_weight.
  for (int t = 0; t < 2; ++t)
    for (int bias = 0; bias < 2; ++bias) {
      std::vector<Operand> ops = {F({kDyn, 3, 4}, {2, 3, 4}),
                                  F(t ? Shape{5, 4} : Shape{4, 5})};
      if (bias)
        ops.push_back(F({5}));
      add(std::string("linear") + (bias ? "_bias" : "") +
              (t ? "_transpose_weight" : ""),
          ops, [=](OpBuilder &b, Location l, ValueRange x) -> Operation * {
            return b.create<gd::LinearOp>(l, f32(b, {kDyn, 3, 5}), x[0], x[1],
                                          bias ? x[2] : Value(), unit(b, t));
          });
    }
  add("linear_rank2_input", {F({3, 4}), F({4, 2}), F({2})},
      [](OpBuilder &b, Location l, ValueRange x) -> Operation * {
        return b.create<gd::LinearOp>(l, f32(b, {3, 2}), x[0], x[1], x[2],
                                      UnitAttr());
      });

  // Elementwise with trailing broadcast.
  for (int mul = 0; mul < 2; ++mul) {
    std::string op = mul ? "mul" : "add";
    auto create = [=](OpBuilder &b, Location l, ValueRange x) -> Operation * {
      if (mul)
        return b.create<gd::MulOp>(l, x[0], x[1]);
      return b.create<gd::AddOp>(l, x[0], x[1]);
    };
    add(op + "_same_shape",
        {F({kDyn, 3, 4}, {2, 3, 4}), F({kDyn, 3, 4}, {2, 3, 4})}, create);
    add(op + "_bias", {F({kDyn, 3, 4}, {2, 3, 4}), F({4})}, create);
    add(op + "_table", {F({2, 3, 4}), F({3, 4})}, create);
  }
  add("scale", {F({2, 3, 4})},
      [](OpBuilder &b, Location l, ValueRange x) -> Operation * {
        return b.create<gd::ScaleOp>(l, x[0], b.getF32FloatAttr(0.37f));
      });
  add("scale_negative", {F({kDyn, 5}, {3, 5})},
      [](OpBuilder &b, Location l, ValueRange x) -> Operation * {
        return b.create<gd::ScaleOp>(l, x[0], b.getF32FloatAttr(-1.5f));
      });
  add("gelu", {F({kDyn, 3, 4}, {2, 3, 4})},
      [](OpBuilder &b, Location l, ValueRange x) -> Operation * {
        return b.create<gd::GeluOp>(l, x[0]);
      });

  // Causal mask: square, keys beyond queries (KV cache, S > T), rank 4.
  for (auto [name, shape] : std::vector<std::pair<std::string, Shape>>{
           {"causal_mask", {2, 4, 4}},
           {"causal_mask_s_gt_t", {2, 3, 5}},
           {"causal_mask_rank4", {1, 2, 3, 3}}})
    add(name, {F(shape)},
        [](OpBuilder &b, Location l, ValueRange x) -> Operation * {
          return b.create<gd::CausalMaskOp>(l, x[0]);
        });

  for (int64_t axis : {-1, 0, 1, 2})
    add("softmax_axis_" +
            (axis < 0 ? "m" + std::to_string(-axis) : std::to_string(axis)),
        {F({2, 3, 4})},
        [=](OpBuilder &b, Location l, ValueRange x) -> Operation * {
          return b.create<gd::SoftmaxOp>(l, x[0], b.getI64IntegerAttr(axis));
        });
  add("softmax_rank4_axis_3", {F({kDyn, 2, 3, 3}, {2, 2, 3, 3})},
      [](OpBuilder &b, Location l, ValueRange x) -> Operation * {
        return b.create<gd::SoftmaxOp>(l, x[0], b.getI64IntegerAttr(3));
      });

  for (auto [name, shape, causal, scale] :
       std::vector<std::tuple<std::string, Shape, bool, float>>{
           {"scaled_masked_softmax_causal", {2, 4, 4}, true, 0.5f},
           {"scaled_masked_softmax_no_mask", {2, 3, 5}, false, 1.7f},
           {"scaled_masked_softmax_causal_s_gt_t", {2, 2, 3, 5}, true, 0.35f}})
    add(name, {F(shape)},
        [=](OpBuilder &b, Location l, ValueRange x) -> Operation * {
          return b.create<gd::ScaledMaskedSoftmaxOp>(
              l, x[0], b.getF32FloatAttr(scale), unit(b, causal));
        });

  // Attention: q [B,T,D], k/v [B,S,D].
  for (auto [name, T, S, heads, causal] :
       std::vector<std::tuple<std::string, int64_t, int64_t, int64_t, bool>>{
           {"attention_causal", 4, 4, 2, true},
           {"attention_no_mask_s_gt_t", 3, 5, 2, false},
           {"attention_causal_s_gt_t", 3, 5, 3, true},
           {"attention_one_head", 4, 4, 1, true}}) {
    int64_t D = 6;
    float scale = 1.0f / std::sqrt(static_cast<float>(D / heads));
    std::vector<Operand> ops = {F({kDyn, kDyn, D}, {2, T, D}),
                                F({kDyn, kDyn, D}, {2, S, D}),
                                F({kDyn, kDyn, D}, {2, S, D})};
    add(name, ops, [=](OpBuilder &b, Location l, ValueRange x) -> Operation * {
      return b.create<gd::AttentionOp>(
          l, x[0].getType(), x[0], x[1], x[2], b.getI64IntegerAttr(heads),
          b.getF32FloatAttr(scale), unit(b, causal));
    });
    // Only the output carries a gradient: lse is an internal by-product
    // (its rule ignores an lse gradient by design).
    add(name + "_with_lse", ops,
        [=](OpBuilder &b, Location l, ValueRange x) -> Operation * {
          return b.create<gd::AttentionWithLseOp>(
              l, TypeRange{x[0].getType(), f32(b, {kDyn, heads, kDyn})}, x[0],
              x[1], x[2], b.getI64IntegerAttr(heads), b.getF32FloatAttr(scale),
              unit(b, causal));
        },
        {true, false});
  }

  add("reshape_split_heads", {F({kDyn, 3, 4}, {2, 3, 4})},
      reshapeTo({kDyn, 3, 2, 2}));
  add("reshape_merge_heads", {F({kDyn, 3, 2, 2}, {2, 3, 2, 2})},
      reshapeTo({kDyn, 3, 4}));
  add("reshape_static", {F({2, 12})}, reshapeTo({2, 3, 4}));
  add("transpose_0213", {F({kDyn, 3, 4, 5}, {2, 3, 4, 5})},
      [](OpBuilder &b, Location l, ValueRange x) -> Operation * {
        return b.create<gd::TransposeOp>(l, f32(b, {kDyn, 4, 3, 5}), x[0],
                                         b.getDenseI64ArrayAttr({0, 2, 1, 3}));
      });
  add("transpose_201", {F({2, 3, 4})},
      [](OpBuilder &b, Location l, ValueRange x) -> Operation * {
        return b.create<gd::TransposeOp>(l, f32(b, {4, 2, 3}), x[0],
                                         b.getDenseI64ArrayAttr({2, 0, 1}));
      });

  auto split3 = [](OpBuilder &b, Location l, ValueRange x) -> Operation * {
    auto t = f32(b, {kDyn, 3, 2});
    return b.create<gd::SplitOp>(l, TypeRange{t, t, t}, x[0],
                                 b.getI64IntegerAttr(2));
  };
  add("split_last_axis", {F({kDyn, 3, 6}, {2, 3, 6})}, split3);
  // Results without a gradient become zeros in the concatenation.
  add("split_one_result_used", {F({kDyn, 3, 6}, {2, 3, 6})}, split3,
      {false, true, false});
  add("split_axis_0", {F({4, 3})},
      [](OpBuilder &b, Location l, ValueRange x) -> Operation * {
        auto t = f32(b, {2, 3});
        return b.create<gd::SplitOp>(l, TypeRange{t, t}, x[0],
                                     b.getI64IntegerAttr(0));
      });

  // One process: the reduction is the identity, so this checks the rule's
  // wiring (one gradient per operand, in order). The zeros for a result
  // without a gradient are in test/lit/passes/autodiff-all-reduce.mlir (an
  // all-zero gradient gives the finite-difference measure nothing to judge).
  for (auto reduction : {gd::Reduction::Mean, gd::Reduction::Sum})
    add("all_reduce_" + gd::stringifyReduction(reduction).str(),
        {F({3, 4}), F({5})},
        [=](OpBuilder &b, Location l, ValueRange x) -> Operation * {
          return b.create<gd::AllReduceOp>(l, x, reduction, "data");
        });

  add("cross_entropy",
      {F({kDyn, kDyn, 7}, {2, 3, 7}), Ids({kDyn, kDyn}, {2, 3}, 7)},
      [](OpBuilder &b, Location l, ValueRange x) -> Operation * {
        return b.create<gd::CrossEntropyOp>(l, f32(b, {}), x[0], x[1], Value());
      });
  add("cross_entropy_weighted",
      {F({kDyn, kDyn, 7}, {2, 3, 7}), Ids({kDyn, kDyn}, {2, 3}, 7),
       Weights({kDyn, kDyn}, {2, 3})},
      [](OpBuilder &b, Location l, ValueRange x) -> Operation * {
        return b.create<gd::CrossEntropyOp>(l, f32(b, {}), x[0], x[1], x[2]);
      });
  return cases;
}

// gtest prints a failing parameter by its name.
void PrintTo(const OpCase &c, std::ostream *os) { *os << c.name; }

RefTensor randomTensor(const Operand &o, std::mt19937 &rng) {
  RefTensor t(o.shape);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  for (int64_t i = 0; i < t.size(); ++i) {
    switch (o.gen) {
    case Gen::Normal:
      t.data[i] = normal(rng);
      break;
    case Gen::Ids:
      t.data[i] = static_cast<double>(
          std::uniform_int_distribution<int64_t>(0, o.bound - 1)(rng));
      break;
    case Gen::Weights: // loss weights: some tokens masked out with 0
      t.data[i] = i % 3 == 1 ? 0.0 : uniform(rng) + 0.1;
      break;
    }
  }
  return t;
}

class OpGradientTest : public testing::TestWithParam<OpCase> {
protected:
  void SetUp() override {
    context
        .loadDialect<gd::GPTDialect, func::FuncDialect, arith::ArithDialect>();
  }

  /// func @name(operands...) with `op` created at its start.
  func::FuncOp newFunction(OpBuilder &b, ModuleOp module, StringRef name,
                           const OpCase &c) {
    SmallVector<Type> types;
    for (const Operand &o : c.operands) {
      Type elem = o.gen == Gen::Ids ? Type(b.getI32Type()) : b.getF32Type();
      types.push_back(RankedTensorType::get(o.type, elem));
    }
    b.setInsertionPointToEnd(module.getBody());
    auto fn = b.create<func::FuncOp>(b.getUnknownLoc(), name,
                                     b.getFunctionType(types, {}));
    b.setInsertionPointToStart(fn.addEntryBlock());
    return fn;
  }

  void finish(OpBuilder &b, func::FuncOp fn, ValueRange results) {
    b.create<func::ReturnOp>(b.getUnknownLoc(), results);
    fn.setFunctionType(b.getFunctionType(fn.getBody().getArgumentTypes(),
                                         ValueRange(results).getTypes()));
  }

  MLIRContext context;
};

TEST_P(OpGradientTest, RuleMatchesFiniteDifferences) {
  const OpCase &c = GetParam();
  OpBuilder b(&context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(b.getUnknownLoc());

  // @forward(x...) -> op(x...)
  func::FuncOp forward = newFunction(b, *module, "forward", c);
  Operation *op =
      c.create(b, b.getUnknownLoc(), forward.getBody().getArguments());
  finish(b, forward, op->getResults());
  unsigned numResults = op->getNumResults();
  std::vector<bool> weighted =
      c.weighted.empty() ? std::vector<bool>(numResults, true) : c.weighted;
  ASSERT_EQ(weighted.size(), numResults);

  // @grad(x..., w...) -> d(sum w*op(x))/dx for the differentiable operands.
  func::FuncOp gradFn = newFunction(b, *module, "grad", c);
  Block &entry = gradFn.getBody().front();
  Operation *op2 = c.create(b, b.getUnknownLoc(), entry.getArguments());
  SmallVector<Value> resultGrads;
  for (unsigned r = 0; r < numResults; ++r)
    resultGrads.push_back(
        weighted[r]
            ? entry.addArgument(op2->getResult(r).getType(), b.getUnknownLoc())
            : Value());
  auto rule = dyn_cast<gd::DifferentiableOpInterface>(op2);
  ASSERT_TRUE(rule) << c.name << " has no gradient rule";
  SmallVector<Value> operandGrads;
  ASSERT_TRUE(succeeded(rule.buildGradients(b, resultGrads, operandGrads)));
  ASSERT_EQ(operandGrads.size(), c.operands.size());
  std::vector<unsigned> diff;
  std::vector<std::string> names;
  SmallVector<Value> returned;
  for (unsigned i = 0; i < c.operands.size(); ++i) {
    if (!c.operands[i].diff)
      continue;
    ASSERT_TRUE(operandGrads[i]) << "no gradient for operand " << i;
    EXPECT_EQ(operandGrads[i].getType(), op2->getOperand(i).getType())
        << "gradient type of operand " << i;
    diff.push_back(i);
    names.push_back("operand " + std::to_string(i));
    returned.push_back(operandGrads[i]);
  }
  finish(b, gradFn, returned);
  ASSERT_TRUE(succeeded(verify(*module)));

  std::mt19937 rng(1234);
  std::vector<RefTensor> x;
  for (const Operand &o : c.operands)
    x.push_back(randomTensor(o, rng));
  gpt_test::EvalResult y = gpt_test::evaluate(forward, x);
  ASSERT_TRUE(y.ok()) << y.error;
  std::vector<RefTensor> w;
  std::vector<const RefTensor *> wp(numResults, nullptr);
  w.reserve(numResults);
  for (unsigned r = 0; r < numResults; ++r) {
    w.push_back(randomTensor(F(y.results[r].shape), rng));
    if (weighted[r])
      wp[r] = &w.back();
  }

  std::vector<RefTensor> gradInputs = x;
  for (unsigned r = 0; r < numResults; ++r)
    if (weighted[r])
      gradInputs.push_back(w[r]);
  gpt_test::EvalResult g = gpt_test::evaluate(gradFn, gradInputs);
  ASSERT_TRUE(g.ok()) << g.error;

  std::string evalError;
  auto loss = [&](const std::vector<RefTensor> &in) {
    gpt_test::EvalResult r = gpt_test::evaluate(forward, in);
    if (!r.ok()) {
      evalError = r.error;
      return 0.0;
    }
    return weightedSum(r.results, wp);
  };
  CheckReport report = checkAgainstFiniteDifferences(
      loss, x, diff, g.results, names, kOpTolerance, 1000, rng);
  ASSERT_TRUE(evalError.empty()) << evalError;
  EXPECT_TRUE(report.ok) << c.name << ": worst error " << report.worst << " at "
                         << report.detail;
  EXPECT_GT(report.checked, 0);
  std::ostringstream worst;
  worst << report.worst;
  RecordProperty("worst_error", worst.str());
}

INSTANTIATE_TEST_SUITE_P(EveryOp, OpGradientTest, testing::ValuesIn(opCases()),
                         [](const testing::TestParamInfo<OpCase> &info) {
                           return info.param.name;
                         });

// A new differentiable op must come with a case above.
TEST(OpGradientCoverage, EveryDifferentiableOpHasACase) {
  MLIRContext context;
  context.loadDialect<gd::GPTDialect, func::FuncDialect>();
  OpBuilder b(&context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(b.getUnknownLoc());
  std::set<std::string> covered;
  for (const OpCase &c : opCases()) {
    SmallVector<Type> types;
    for (const Operand &o : c.operands)
      types.push_back(RankedTensorType::get(
          o.type, o.gen == Gen::Ids ? Type(b.getI32Type()) : b.getF32Type()));
    b.setInsertionPointToEnd(module->getBody());
    auto fn = b.create<func::FuncOp>(b.getUnknownLoc(), c.name,
                                     b.getFunctionType(types, {}));
    b.setInsertionPointToStart(fn.addEntryBlock());
    Operation *op = c.create(b, b.getUnknownLoc(), fn.getArguments());
    covered.insert(op->getName().getStringRef().str());
  }
  int differentiable = 0;
  for (RegisteredOperationName name : context.getRegisteredOperations()) {
    if (name.getDialectNamespace() != "gpt" ||
        !name.hasInterface<gd::DifferentiableOpInterface>())
      continue;
    ++differentiable;
    EXPECT_TRUE(covered.count(name.getStringRef().str()))
        << name.getStringRef().str() << " has a gradient rule but no case";
  }
  EXPECT_GE(differentiable, 18); // the lookup itself works
}

//===----------------------------------------------------------------------===//
// The whole pass on a 2-layer model
//===----------------------------------------------------------------------===//

::gpt::ModelConfig tinyConfig(bool tied) {
  ::gpt::ModelConfig c;
  c.vocab_size = 11;
  c.context_length = 8;
  c.n_layer = 2;
  c.n_head = 2;
  c.d_model = 8;
  c.d_ff = 16;
  c.tie_embeddings = tied;
  return c;
}

template <typename OpT> int count(Operation *root) {
  int n = 0;
  root->walk([&](OpT) { ++n; });
  return n;
}

struct ModelRun {
  OwningOpRef<ModuleOp> module;
  func::FuncOp loss, lossGrad;
};

enum class Fusion { None, Attention, All };

/// The frontend's module after canonicalize, [fuse attention, fuse softmax,]
/// autodiff, [fuse elementwise, canonicalize, cse] (the training pipeline up
/// to kernel selection).
ModelRun compileModel(MLIRContext &context, const ::gpt::ModelConfig &config,
                      bool weighted, Fusion fusion) {
  ModelRun run;
  ::gpt::FrontendOptions options;
  options.weightedLoss = weighted;
  run.module = ::gpt::buildGPTModule(context, config, options);
  PassManager pm(&context);
  pm.addPass(createCanonicalizerPass());
  if (fusion != Fusion::None) {
    pm.addNestedPass<func::FuncOp>(gd::createGPTFuseAttention());
    pm.addNestedPass<func::FuncOp>(gd::createGPTFuseSoftmax());
  }
  pm.addPass(gd::createGPTAutodiff());
  if (fusion == Fusion::All) {
    pm.addNestedPass<func::FuncOp>(gd::createGPTFuseElementwise());
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createCSEPass());
  }
  if (failed(pm.run(*run.module)))
    return run;
  run.loss = run.module->lookupSymbol<func::FuncOp>("loss");
  run.lossGrad = run.module->lookupSymbol<func::FuncOp>("loss_grad");
  return run;
}

/// Random inputs of @loss: tokens, targets, [weights,] parameters. Layernorm
/// gains are drawn around 1, everything else around 0.
std::vector<RefTensor> modelInputs(func::FuncOp fn,
                                   const ::gpt::ModelConfig &config, int64_t B,
                                   int64_t T, std::mt19937 &rng,
                                   std::vector<unsigned> &params,
                                   std::vector<std::string> &names) {
  std::vector<RefTensor> inputs;
  std::normal_distribution<double> normal(0.0, 1.0);
  for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
    auto type = cast<RankedTensorType>(fn.getArgument(i).getType());
    if (auto param =
            fn.getArgAttrOfType<StringAttr>(i, mlir::gpt::attr::kParam)) {
      RefTensor t(Shape(type.getShape()));
      bool gain = param.getValue().contains("ln") &&
                  param.getValue().ends_with(".weight");
      for (double &v : t.data)
        v = gain ? 1.0 + 0.2 * normal(rng) : 0.4 * normal(rng);
      params.push_back(i);
      names.push_back(param.getValue().str());
      inputs.push_back(std::move(t));
      continue;
    }
    StringRef role =
        fn.getArgAttrOfType<StringAttr>(i, mlir::gpt::attr::kInput).getValue();
    Operand o = role == "weights" ? Weights({}, {B, T})
                                  : Ids({}, {B, T}, config.vocab_size);
    inputs.push_back(randomTensor(o, rng));
  }
  return inputs;
}

class ModelGradientTest
    : public testing::TestWithParam<std::tuple<bool, bool>> {
protected:
  MLIRContext context;
};

TEST_P(ModelGradientTest, LossGradMatchesFiniteDifferences) {
  auto [tied, weighted] = GetParam();
  ::gpt::ModelConfig config = tinyConfig(tied);
  ModelRun fused = compileModel(context, config, weighted, Fusion::Attention);
  ModelRun plain = compileModel(context, config, weighted, Fusion::None);
  ModelRun all = compileModel(context, config, weighted, Fusion::All);
  ASSERT_TRUE(fused.lossGrad && plain.lossGrad && all.lossGrad);
  // The fused model really uses the fused ops; the plain one does not.
  EXPECT_EQ(count<gd::AttentionWithLseOp>(fused.lossGrad), 2);
  EXPECT_EQ(count<gd::AttentionGradOp>(fused.lossGrad), 2);
  EXPECT_EQ(count<gd::AttentionOp>(fused.loss), 2);
  EXPECT_EQ(count<gd::AttentionWithLseOp>(plain.lossGrad), 0);
  EXPECT_EQ(count<gd::SoftmaxGradOp>(plain.lossGrad), 2);
  EXPECT_EQ(count<gd::CausalMaskGradOp>(plain.lossGrad), 2);
  EXPECT_GT(count<gd::FusionOp>(all.lossGrad), 0);

  std::mt19937 rng(tied ? 7 : 8);
  std::vector<unsigned> params;
  std::vector<std::string> names;
  const int64_t B = 2, T = 5; // T < context: wpe rows 5..7 get zero gradient
  std::vector<RefTensor> inputs =
      modelInputs(fused.loss, config, B, T, rng, params, names);
  ASSERT_EQ(fused.lossGrad.getNumResults(), 1 + params.size());

  gpt_test::EvalResult grads = gpt_test::evaluate(fused.lossGrad, inputs);
  ASSERT_TRUE(grads.ok()) << grads.error;
  gpt_test::EvalResult plainGrads = gpt_test::evaluate(plain.lossGrad, inputs);
  ASSERT_TRUE(plainGrads.ok()) << plainGrads.error;
  gpt_test::EvalResult allGrads = gpt_test::evaluate(all.lossGrad, inputs);
  ASSERT_TRUE(allGrads.ok()) << allGrads.error;
  gpt_test::EvalResult loss = gpt_test::evaluate(fused.loss, inputs);
  ASSERT_TRUE(loss.ok()) << loss.error;
  gpt_test::EvalResult plainLoss = gpt_test::evaluate(plain.loss, inputs);
  ASSERT_TRUE(plainLoss.ok()) << plainLoss.error;

  // Same loss everywhere (a random model predicts ~uniformly: ~log 11).
  double l = loss.results[0].data[0];
  EXPECT_NEAR(grads.results[0].data[0], l, 1e-12 * std::abs(l));
  EXPECT_NEAR(plainLoss.results[0].data[0], l, 1e-12 * std::abs(l));
  EXPECT_NEAR(plainGrads.results[0].data[0], l, 1e-12 * std::abs(l));
  EXPECT_NEAR(allGrads.results[0].data[0], l, 1e-12 * std::abs(l));
  EXPECT_GT(l, 1.0);

  // Fused and decomposed attention give the same gradients, and so does the
  // module after elementwise fusion (gpt.fusion regions), up to rounding.
  ASSERT_EQ(allGrads.results.size(), grads.results.size());
  for (size_t p = 0; p < params.size(); ++p) {
    const RefTensor &a = grads.results[1 + p];
    double scale = 0;
    for (double v : a.data)
      scale = std::max(scale, std::abs(v));
    for (auto [other, what] :
         {std::pair{&plainGrads, "fused vs decomposed attention"},
          std::pair{&allGrads, "with vs without elementwise fusion"}}) {
      const RefTensor &b = other->results[1 + p];
      ASSERT_EQ(a.shape, b.shape) << names[p];
      for (int64_t i = 0; i < a.size(); ++i)
        ASSERT_NEAR(a.data[i], b.data[i], 1e-10 * scale + 1e-14)
            << names[p] << "[" << i << "] " << what;
    }
  }

  // Every parameter against finite differences of @loss: all entries of
  // parameters up to 100 elements, 40 random entries of bigger ones.
  std::string evalError;
  auto lossFn = [&](const std::vector<RefTensor> &in) {
    gpt_test::EvalResult r = gpt_test::evaluate(fused.loss, in);
    if (!r.ok())
      evalError = r.error;
    return r.ok() ? r.results[0].data[0] : 0.0;
  };
  int64_t total = 0;
  double worst = 0;
  for (size_t p = 0; p < params.size(); ++p) {
    CheckReport report = checkAgainstFiniteDifferences(
        lossFn, inputs, {params[p]}, {grads.results[1 + p]}, {names[p]},
        kModelTolerance, 100, rng);
    ASSERT_TRUE(evalError.empty()) << evalError;
    EXPECT_TRUE(report.ok) << "worst error " << report.worst << " at "
                           << report.detail;
    total += report.checked;
    worst = std::max(worst, report.worst);
  }
  EXPECT_GT(total, 1000);
  std::ostringstream os;
  os << worst;
  RecordProperty("worst_error", os.str());
  RecordProperty("entries_checked", std::to_string(total));
  // The positions past T get exactly zero.
  for (size_t p = 0; p < params.size(); ++p) {
    if (names[p] != "wpe.weight")
      continue;
    for (int64_t i = T * config.d_model; i < grads.results[1 + p].size(); ++i)
      EXPECT_EQ(grads.results[1 + p].data[i], 0.0);
  }
}

INSTANTIATE_TEST_SUITE_P(
    TwoLayer, ModelGradientTest,
    testing::Combine(testing::Bool(), testing::Bool()),
    [](const testing::TestParamInfo<std::tuple<bool, bool>> &info) {
      return std::string(std::get<0>(info.param) ? "tied" : "untied") +
             (std::get<1>(info.param) ? "_weighted" : "_unweighted");
    });

//===----------------------------------------------------------------------===//
// The checker catches wrong rules
//===----------------------------------------------------------------------===//

class CheckerTest : public testing::Test {
protected:
  void SetUp() override {
    context.loadDialect<gd::GPTDialect, func::FuncDialect>();
  }
  MLIRContext context;
};

/// y = softmax(x, axis 1) on [2,3,4]; the "gradient" is built by hand with
/// softmax_grad on `gradAxis`. Returns the checker's report.
CheckReport checkSoftmaxRule(MLIRContext &context, int64_t gradAxis,
                             double perturb) {
  OpBuilder b(&context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(b.getUnknownLoc());
  auto t = f32(b, {2, 3, 4});
  b.setInsertionPointToEnd(module->getBody());
  auto fwd = b.create<func::FuncOp>(b.getUnknownLoc(), "f",
                                    b.getFunctionType({t}, {t}));
  b.setInsertionPointToStart(fwd.addEntryBlock());
  Value y = b.create<gd::SoftmaxOp>(b.getUnknownLoc(), fwd.getArgument(0),
                                    b.getI64IntegerAttr(1));
  b.create<func::ReturnOp>(b.getUnknownLoc(), y);

  b.setInsertionPointToEnd(module->getBody());
  auto grad = b.create<func::FuncOp>(b.getUnknownLoc(), "g",
                                     b.getFunctionType({t, t}, {t}));
  b.setInsertionPointToStart(grad.addEntryBlock());
  Value y2 = b.create<gd::SoftmaxOp>(b.getUnknownLoc(), grad.getArgument(0),
                                     b.getI64IntegerAttr(1));
  Value dx = b.create<gd::SoftmaxGradOp>(b.getUnknownLoc(), grad.getArgument(1),
                                         y2, b.getI64IntegerAttr(gradAxis));
  b.create<func::ReturnOp>(b.getUnknownLoc(), dx);
  EXPECT_TRUE(succeeded(verify(*module)));

  std::mt19937 rng(5);
  std::vector<RefTensor> x = {randomTensor(F({2, 3, 4}), rng)};
  RefTensor w = randomTensor(F({2, 3, 4}), rng);
  gpt_test::EvalResult g = gpt_test::evaluate(grad, {x[0], w});
  EXPECT_TRUE(g.ok()) << g.error;
  if (!g.ok())
    return {};
  g.results[0].data[7] *= 1 + perturb;
  auto loss = [&](const std::vector<RefTensor> &in) {
    return weightedSum(gpt_test::evaluate(fwd, in).results, {&w});
  };
  return checkAgainstFiniteDifferences(loss, x, {0}, g.results, {"x"},
                                       kOpTolerance, 1000, rng);
}

TEST_F(CheckerTest, AcceptsTheRightRule) {
  CheckReport report = checkSoftmaxRule(context, 1, 0.0);
  EXPECT_TRUE(report.ok) << report.detail;
  EXPECT_EQ(report.checked, 24);
}

TEST_F(CheckerTest, RejectsASoftmaxGradientOnTheWrongAxis) {
  CheckReport report = checkSoftmaxRule(context, 2, 0.0);
  EXPECT_FALSE(report.ok);
  EXPECT_GT(report.worst, 1e-2);
}

TEST_F(CheckerTest, RejectsOneEntryOffByOnePartIn10000) {
  CheckReport report = checkSoftmaxRule(context, 1, 1e-4);
  EXPECT_FALSE(report.ok);
}

//===----------------------------------------------------------------------===//
// The interpreter's own ops that are not gradients
//===----------------------------------------------------------------------===//

TEST(ReferenceInterpreterTest, OptimizerOps) {
  MLIRContext context;
  context.loadDialect<gd::GPTDialect, func::FuncDialect>();
  OpBuilder b(&context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(b.getUnknownLoc());
  auto vec = f32(b, {3}), scalar = f32(b, {}), hp = f32(b, {9});
  auto step32 = RankedTensorType::get({}, b.getI32Type());
  b.setInsertionPointToEnd(module->getBody());
  // (p, g, m, v, step, hparams) -> (norm, lr, p', m', v', zeros)
  auto fn = b.create<func::FuncOp>(
      b.getUnknownLoc(), "opt",
      b.getFunctionType({vec, vec, vec, vec, step32, hp},
                        {scalar, scalar, vec, vec, vec, vec}));
  Block *e = fn.addEntryBlock();
  b.setInsertionPointToStart(e);
  Location l = b.getUnknownLoc();
  Value norm =
      b.create<gd::GlobalNormOp>(l, scalar, ValueRange{e->getArgument(1)});
  Value lr = b.create<gd::LrScheduleOp>(l, scalar, e->getArgument(4),
                                        e->getArgument(5));
  auto upd = b.create<gd::AdamWOp>(
      l, TypeRange{vec, vec, vec}, e->getArgument(0), e->getArgument(1),
      e->getArgument(2), e->getArgument(3), lr, norm, e->getArgument(4),
      e->getArgument(5), b.getUnitAttr());
  Value zeros = b.create<gd::FillOp>(l, vec, b.getF32FloatAttr(0.0f));
  b.create<func::ReturnOp>(l, ValueRange{norm, lr, upd.getNewParam(),
                                         upd.getNewM(), upd.getNewV(), zeros});
  ASSERT_TRUE(succeeded(verify(*module)));

  auto vecOf = [](std::vector<double> v) {
    RefTensor t({static_cast<int64_t>(v.size())});
    t.data = v;
    return t;
  };
  RefTensor step(Shape{});
  step.data[0] = 4; // past warm-up (2), before the end (10)
  // lr, min_lr, warmup, total, b1, b2, eps, wd, clip
  RefTensor hparams = vecOf({1e-2, 1e-3, 2, 10, 0.9, 0.95, 1e-8, 0.1, 1.0});
  gpt_test::EvalResult r = gpt_test::evaluate(
      fn, {vecOf({1, -2, 3}), vecOf({3, 0, 4}), vecOf({0.1, 0.2, 0.3}),
           vecOf({0.01, 0.02, 0.03}), step, hparams});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_DOUBLE_EQ(r.results[0].data[0], 5.0);
  double lrExpected =
      1e-3 + 0.5 * (1e-2 - 1e-3) * (1 + std::cos(M_PI * 2.0 / 8.0));
  EXPECT_NEAR(r.results[1].data[0], lrExpected, 1e-15);
  // Element 0 by hand: clipped g = 3 * (1 / (5 + 1e-6)), t = 5.
  double g = 3.0 / (5.0 + 1e-6);
  double m = 0.9 * 0.1 + 0.1 * g, v = 0.95 * 0.01 + 0.05 * g * g;
  double p =
      1 - lrExpected * ((m / (1 - std::pow(0.9, 5))) /
                            (std::sqrt(v / (1 - std::pow(0.95, 5))) + 1e-8) +
                        0.1 * 1);
  EXPECT_NEAR(r.results[3].data[0], m, 1e-15);
  EXPECT_NEAR(r.results[4].data[0], v, 1e-15);
  EXPECT_NEAR(r.results[2].data[0], p, 1e-15);
  EXPECT_EQ(r.results[5].data, std::vector<double>(3, 0.0));
}

TEST(ReferenceInterpreterTest, ReportsAnUnknownOpAndBadIds) {
  MLIRContext context;
  context.loadDialect<gd::GPTDialect, func::FuncDialect>();
  OpBuilder b(&context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(b.getUnknownLoc());
  b.setInsertionPointToEnd(module->getBody());
  auto table = f32(b, {3, 2});
  auto ids = RankedTensorType::get({2}, b.getI32Type());
  auto fn =
      b.create<func::FuncOp>(b.getUnknownLoc(), "f",
                             b.getFunctionType({table, ids}, {f32(b, {2, 2})}));
  b.setInsertionPointToStart(fn.addEntryBlock());
  Value y = b.create<gd::EmbeddingOp>(b.getUnknownLoc(), f32(b, {2, 2}),
                                      fn.getArgument(0), fn.getArgument(1));
  b.create<func::ReturnOp>(b.getUnknownLoc(), y);
  RefTensor t({3, 2}, 1.0), bad({2});
  bad.data = {0, 3};
  gpt_test::EvalResult r = gpt_test::evaluate(fn, {t, bad});
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("out of range"), std::string::npos) << r.error;
}
} // namespace
