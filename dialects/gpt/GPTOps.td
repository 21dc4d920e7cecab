//===- GPTOps.td - operations of the gpt dialect ------------*- tablegen -*-===//
#ifndef GPT_OPS_TD
#define GPT_OPS_TD

include "GPTDialect.td"
include "mlir/IR/OpBase.td"
include "mlir/IR/BuiltinAttributes.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "GPTInterfaces.td"
include "GPTAttributes.td"

// Floating-point tensors carry activations and parameters; token ids are i32.
def GPT_FloatTensor : RankedTensorOf<[AnyFloat]>;
def GPT_TokenTensor : RankedTensorOf<[I32]>;
def GPT_ScalarFloat : 0DTensorOf<[AnyFloat]>;
// A step counter: exact for every step an int32 can count (f32 is not past
// 2^24).
def GPT_ScalarStep : 0DTensorOf<[I32]>;

//===----------------------------------------------------------------------===//
// Embeddings
//===----------------------------------------------------------------------===//

def GPT_EmbeddingOp : GPT_Op<"embedding", [
    DeclareOpInterfaceMethods<GPT_DifferentiableOpInterface>, Pure]> {
  let summary = "token embedding lookup";
  let description = [{
    `result[..., :] = table[ids[...], :]`. `table` is `[V, D]`; `ids` is any
    rank of i32; the result has shape `ids.shape + [D]`. Ids outside `[0, V)`
    are a runtime error reported by the executor.

    ```mlir
    %x = gpt.embedding %wte, %tokens : tensor<50257x768xf32>, tensor<?x?xi32> -> tensor<?x?x768xf32>
    ```
  }];
  let arguments = (ins GPT_FloatTensor:$table, GPT_TokenTensor:$ids);
  let results = (outs GPT_FloatTensor:$result);
  let assemblyFormat = [{
    $table `,` $ids attr-dict `:` type($table) `,` type($ids) `->` type($result)
  }];
  let hasVerifier = 1;
  let builders = [OpBuilder<(ins "Value":$table, "Value":$ids), [{
    build($_builder, $_state, infer::embedding(table, ids), table, ids);
  }]>];
}

def GPT_PositionEmbeddingOp : GPT_Op<"position_embedding", [
    DeclareOpInterfaceMethods<GPT_DifferentiableOpInterface>, Pure]> {
  let summary = "learned position embedding for positions start..start+T-1";
  let description = [{
    For `ids : [B, T]`, `result[b, t, :] = table[start[b] + t, :]`, where
    `start : [B]` (i32) is optional and 0 when absent (training and full
    forward passes; inference with a KV cache passes each sequence's current
    length). `table` is `[C, D]` where `C` is the context length; positions
    beyond `C` are an error (checked statically when `T` and `C` are known,
    by the executor otherwise). Only the shape of `ids` is read.
  }];
  let arguments = (ins GPT_FloatTensor:$table, GPT_TokenTensor:$ids,
                   Optional<GPT_TokenTensor>:$start);
  let results = (outs GPT_FloatTensor:$result);
  let assemblyFormat = [{
    $table `,` $ids (`start` $start^)? attr-dict `:` type($table) `,` type($ids)
    (`,` type($start)^)? `->` type($result)
  }];
  let hasVerifier = 1;
  let builders = [OpBuilder<(ins "Value":$table, "Value":$ids,
                                "Value":$start), [{
    build($_builder, $_state, infer::embedding(table, ids), table, ids, start);
  }]>];
}

//===----------------------------------------------------------------------===//
// Normalization and linear algebra
//===----------------------------------------------------------------------===//

def GPT_LayerNormOp : GPT_Op<"layernorm", [
    DeclareOpInterfaceMethods<GPT_DifferentiableOpInterface>, Pure]> {
  let summary = "layer normalization over the last axis";
  let description = [{
    `result = (x - mean(x)) / sqrt(var(x) + epsilon) * gamma + beta`, with mean
    and (biased) variance over the last axis. `gamma` and `beta` are `[D]`
    where `D` is the last dimension of `x`.
  }];
  let arguments = (ins GPT_FloatTensor:$input, GPT_FloatTensor:$gamma,
                   GPT_FloatTensor:$beta, F32Attr:$epsilon);
  let results = (outs GPT_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $gamma `,` $beta attr-dict `:` type($input) `,` type($gamma) `,`
    type($beta) `->` type($result)
  }];
  let hasVerifier = 1;
  let builders = [OpBuilder<(ins "Value":$input, "Value":$gamma,
                                "Value":$beta, "float":$epsilon), [{
    build($_builder, $_state, input.getType(), input, gamma, beta,
          $_builder.getF32FloatAttr(epsilon));
  }]>];
}

def GPT_MatmulOp : GPT_Op<"matmul", [
    DeclareOpInterfaceMethods<GPT_DifferentiableOpInterface>, Pure]> {
  let summary = "batched matrix product with optional transposes";
  let description = [{
    `result[..., m, n] = sum_k op(lhs)[..., m, k] * op(rhs)[..., k, n]` where
    `op` transposes the last two axes when `transpose_lhs` / `transpose_rhs`
    is set. Both operands have rank >= 2; the leading (batch) dimensions must
    agree, or `rhs` may be rank 2 and is then shared by every batch.
  }];
  let arguments = (ins GPT_FloatTensor:$lhs, GPT_FloatTensor:$rhs,
                   UnitAttr:$transpose_lhs, UnitAttr:$transpose_rhs);
  let results = (outs GPT_FloatTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)
  }];
  let hasVerifier = 1;
  let builders = [OpBuilder<(ins "Value":$lhs, "Value":$rhs,
                                "bool":$transposeLhs, "bool":$transposeRhs), [{
    build($_builder, $_state,
          infer::matmul(lhs, rhs, transposeLhs, transposeRhs), lhs, rhs,
          transposeLhs ? $_builder.getUnitAttr() : UnitAttr(),
          transposeRhs ? $_builder.getUnitAttr() : UnitAttr());
  }]>];
}

def GPT_LinearOp : GPT_Op<"linear", [
    DeclareOpInterfaceMethods<GPT_DifferentiableOpInterface>, Pure]> {
  let summary = "affine map of the last axis: x * W (+ bias)";
  let description = [{
    `x : [..., K]`; `weight : [K, N]`, or `[N, K]` with `transpose_weight`
    (the tied-embedding output head uses `wte : [V, D]` this way); optional
    `bias : [N]`. Result: `[..., N]`.
  }];
  let arguments = (ins GPT_FloatTensor:$input, GPT_FloatTensor:$weight,
                   Optional<GPT_FloatTensor>:$bias, UnitAttr:$transpose_weight);
  let results = (outs GPT_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`bias` $bias^)? attr-dict `:` type($input) `,`
    type($weight) (`,` type($bias)^)? `->` type($result)
  }];
  let hasVerifier = 1;
  let builders = [OpBuilder<(ins "Value":$input, "Value":$weight,
                                "Value":$bias, "bool":$transposeWeight), [{
    build($_builder, $_state, infer::linear(input, weight, transposeWeight),
          input, weight, bias,
          transposeWeight ? $_builder.getUnitAttr() : UnitAttr());
  }]>];
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

class GPT_BinaryElementwiseOp<string mnemonic, string math>
    : GPT_Op<mnemonic, [Pure, AllTypesMatch<["lhs", "result"]>,
        DeclareOpInterfaceMethods<GPT_DifferentiableOpInterface>]> {
  let summary = "elementwise " # mnemonic # " with trailing broadcast";
  let description = [{
    `result = lhs }] # math # [{ rhs` elementwise. `rhs` has the shape of
    `lhs` or of a suffix of it (a bias `[D]` or a `[T, D]` table broadcast
    over the leading axes). The result has the type of `lhs`.
  }];
  let arguments = (ins GPT_FloatTensor:$lhs, GPT_FloatTensor:$rhs);
  let results = (outs GPT_FloatTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs)
  }];
  let hasVerifier = 1;
}

def GPT_AddOp : GPT_BinaryElementwiseOp<"add", "+">;
def GPT_MulOp : GPT_BinaryElementwiseOp<"mul", "*">;

def GPT_ScaleOp : GPT_Op<"scale", [
    DeclareOpInterfaceMethods<GPT_DifferentiableOpInterface>, Pure, SameOperandsAndResultType]> {
  let summary = "multiply by a constant factor";
  let description = [{ `result = factor * input`. }];
  let arguments = (ins GPT_FloatTensor:$input, F32Attr:$factor);
  let results = (outs GPT_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def GPT_GeluOp : GPT_Op<"gelu", [
    DeclareOpInterfaceMethods<GPT_DifferentiableOpInterface>, Pure, SameOperandsAndResultType]> {
  let summary = "GELU, GPT-2's tanh approximation";
  let description = [{
    `0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))`.
  }];
  let arguments = (ins GPT_FloatTensor:$input);
  let results = (outs GPT_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

//===----------------------------------------------------------------------===//
// Attention building blocks
//===----------------------------------------------------------------------===//

def GPT_RopeOp : GPT_Op<"rope", [
    DeclareOpInterfaceMethods<GPT_DifferentiableOpInterface>, Pure]> {
  let summary = "rotary position embedding of the leading columns";
  let description = [{
    On `x : [B, T, D]`, the first `columns` columns are heads of `head_dim`
    columns each; in each head, the pair of columns `(i, i + head_dim/2)`
    of row `(b, t)` is rotated by the angle `p * theta^(-2i/head_dim)`,
    where `p = start[b] + t` (`start : [B]` i32, 0 when absent):
    `y_i = x_i cos - x_j sin`, `y_j = x_i sin + x_j cos` (the "rotate half"
    pairing of GPT-NeoX and Llama). Columns from `columns` on are copied.
    The frontend applies it to the packed `[q | k | v]` projection with
    `columns = 2 * d_model`, so queries and keys carry their position and
    attention scores depend on the distance between them. `inverse`
    rotates by the opposite angle, which is also the gradient (the
    transpose of a rotation).
  }];
  let arguments = (ins GPT_FloatTensor:$input, Optional<GPT_TokenTensor>:$start,
                   I64Attr:$head_dim, I64Attr:$columns, F32Attr:$theta,
                   UnitAttr:$inverse);
  let results = (outs GPT_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`start` $start^)? attr-dict `:` type($input)
    (`,` type($start)^)? `->` type($result)
  }];
  let hasVerifier = 1;
  let builders = [OpBuilder<(ins "Value":$input, "Value":$start,
                                "int64_t":$headDim, "int64_t":$columns,
                                "float":$theta, "bool":$inverse), [{
    build($_builder, $_state, input.getType(), input, start, headDim, columns,
          ::llvm::APFloat(theta), inverse);
  }]>];
}

def GPT_CausalMaskOp : GPT_Op<"causal_mask", [
    DeclareOpInterfaceMethods<GPT_DifferentiableOpInterface>, Pure, SameOperandsAndResultType]> {
  let summary = "set scores of future positions to -inf";
  let description = [{
    On scores `[..., T, S]` (queries by keys), `result[..., i, j] = -inf`
    where `j > i + (S - T)` and `input[..., i, j]` elsewhere. With `S == T`
    this is the usual lower-triangular mask; with a KV cache (`S > T`) the
    queries are the last `T` positions.
  }];
  let arguments = (ins GPT_FloatTensor:$input);
  let results = (outs GPT_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def GPT_SoftmaxOp : GPT_Op<"softmax", [
    DeclareOpInterfaceMethods<GPT_DifferentiableOpInterface>, Pure, SameOperandsAndResultType]> {
  let summary = "softmax along one axis";
  let description = [{
    `result = exp(x - max(x)) / sum(exp(x - max(x)))` along `axis`
    (negative values count from the end).
  }];
  let arguments = (ins GPT_FloatTensor:$input, I64Attr:$axis);
  let results = (outs GPT_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The axis as a non-negative index.
    int64_t getNormalizedAxis();
  }];
}

def GPT_ScaledMaskedSoftmaxOp
    : GPT_Op<"scaled_masked_softmax", [
    DeclareOpInterfaceMethods<GPT_DifferentiableOpInterface>, Pure, SameOperandsAndResultType]> {
  let summary = "softmax(causal_mask(scale * x)) over the last axis, fused";
  let description = [{
    Produced by `--gpt-fuse-softmax` from a `gpt.scale` and/or
    `gpt.causal_mask` feeding a last-axis `gpt.softmax`. When `causal` is
    absent no mask is applied.
  }];
  let arguments = (ins GPT_FloatTensor:$input, F32Attr:$scale,
                   UnitAttr:$causal);
  let results = (outs GPT_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def GPT_AttentionOp : GPT_Op<"attention", [
    DeclareOpInterfaceMethods<GPT_DifferentiableOpInterface>, Pure]> {
  let summary = "fused multi-head scaled dot-product attention";
  let description = [{
    `query : [B, T, D]`, `key` and `value : [B, S, D]`, `D = num_heads * Dh`.
    Per head `h` (columns `h*Dh .. (h+1)*Dh`):
    `out_h = softmax(mask(scale * q_h k_h^T)) v_h`, with the mask of
    `gpt.causal_mask` when `causal` is set. The result is `[B, T, D]` with the
    heads concatenated. Kernels compute it flash-style (tiled, online
    softmax); no `T x S` matrix is materialized.
  }];
  let arguments = (ins GPT_FloatTensor:$query, GPT_FloatTensor:$key,
                   GPT_FloatTensor:$value, I64Attr:$num_heads, F32Attr:$scale,
                   UnitAttr:$causal);
  let results = (outs GPT_FloatTensor:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value attr-dict `:` type($query) `,` type($key) `,`
    type($value) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Shape manipulation
//===----------------------------------------------------------------------===//

def GPT_ReshapeOp : GPT_Op<"reshape", [
    DeclareOpInterfaceMethods<GPT_DifferentiableOpInterface>, Pure]> {
  let summary = "reshape that keeps dynamic leading dimensions";
  let description = [{
    Operand and result share a leading prefix of dimensions (dynamic ones
    included); the dimensions after it are static on both sides and hold the
    same number of elements. This covers splitting `[B, T, D]` into
    `[B, T, H, Dh]` and merging it back while B and T stay symbolic.
  }];
  let arguments = (ins GPT_FloatTensor:$input);
  let results = (outs GPT_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def GPT_TransposeOp : GPT_Op<"transpose", [
    DeclareOpInterfaceMethods<GPT_DifferentiableOpInterface>, Pure]> {
  let summary = "permute axes";
  let description = [{
    `result.shape[i] = input.shape[permutation[i]]`.
  }];
  let arguments = (ins GPT_FloatTensor:$input,
                   DenseI64ArrayAttr:$permutation);
  let results = (outs GPT_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
  let builders = [OpBuilder<(ins "Value":$input,
                                "ArrayRef<int64_t>":$permutation), [{
    build($_builder, $_state, infer::transpose(input, permutation), input,
          $_builder.getDenseI64ArrayAttr(permutation));
  }]>];
}

def GPT_SplitOp : GPT_Op<"split", [
    DeclareOpInterfaceMethods<GPT_DifferentiableOpInterface>, Pure]> {
  let summary = "split into equal chunks along an axis";
  let description = [{
    Splits `input` into `n` (the number of results) equal parts along `axis`,
    which must be static and divisible by `n`. Used to separate the fused
    `[B, T, 3D]` QKV projection into Q, K and V.
  }];
  let arguments = (ins GPT_FloatTensor:$input, I64Attr:$axis);
  let results = (outs Variadic<GPT_FloatTensor>:$results);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($results)";
  let hasVerifier = 1;
  let builders = [OpBuilder<(ins "Value":$input, "int64_t":$axis,
                                "unsigned":$parts), [{
    SmallVector<Type> types(parts, infer::splitPart(input, axis, parts));
    build($_builder, $_state, types, input, $_builder.getI64IntegerAttr(axis));
  }]>];
}

//===----------------------------------------------------------------------===//
// Loss
//===----------------------------------------------------------------------===//

def GPT_CrossEntropyOp : GPT_Op<"cross_entropy", [
    DeclareOpInterfaceMethods<GPT_DifferentiableOpInterface>, Pure]> {
  let summary = "mean softmax cross-entropy over tokens";
  let description = [{
    `logits : [..., V]`, `targets : [...]` (i32), optional `weights : [...]`.
    Per token `l = logsumexp(logits) - logits[target]`; the result is the mean
    `sum(l) / count` or, with weights, `sum(w * l) / sum(w)` (chat fine-tuning
    trains on assistant tokens only by giving the others weight 0). The result
    is a 0-d tensor.
  }];
  let arguments = (ins GPT_FloatTensor:$logits, GPT_TokenTensor:$targets,
                   Optional<GPT_FloatTensor>:$weights);
  let results = (outs GPT_ScalarFloat:$result);
  let assemblyFormat = [{
    $logits `,` $targets (`weights` $weights^)? attr-dict `:` type($logits) `,`
    type($targets) (`,` type($weights)^)? `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Fusion regions
//===----------------------------------------------------------------------===//

def GPT_FusionOp : GPT_Op<"fusion", [IsolatedFromAbove, SingleBlock,
                                      RecursiveMemoryEffects]> {
  let summary = "a group of ops compiled into one generated kernel";
  let description = [{
    Produced by `--gpt-fuse-elementwise`. The body holds elementwise ops
    (`gpt.add`, `gpt.mul`, `gpt.scale`, `gpt.gelu`), optionally ended by one
    `gpt.layernorm` (a row-wise reduction over the last axis), and yields one
    or more tensors of the same shape. Block arguments stand for `inputs`.
    The lowering turns each fusion into one kernel that reads every input once
    and writes every result once.

    ```mlir
    %sum, %ln = gpt.fusion (%x, %y, %g, %b) : (...) -> (...) {
    ^bb0(%a: tensor<?x?x768xf32>, ...):
      %s = gpt.add %a, %c : ...
      %n = gpt.layernorm %s, %g, %b {epsilon = 1.0e-05 : f32} : ...
      gpt.yield %s, %n : ...
    }
    ```
  }];
  let arguments = (ins Variadic<GPT_FloatTensor>:$inputs);
  let results = (outs Variadic<GPT_FloatTensor>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    `(` $inputs `)` attr-dict `:` functional-type($inputs, $results) $body
  }];
  let hasVerifier = 1;
}

def GPT_YieldOp : GPT_Op<"yield", [Pure, Terminator, HasParent<"FusionOp">]> {
  let summary = "results of a gpt.fusion body";
  let arguments = (ins Variadic<GPT_FloatTensor>:$values);
  let assemblyFormat = "$values attr-dict `:` type($values)";
}

include "GPTGradOps.td"
include "GPTInferenceOps.td"
include "GPTParallelOps.td"

#endif // GPT_OPS_TD
