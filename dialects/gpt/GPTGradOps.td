//===- GPTGradOps.td - backward and optimizer ops ---------*- tablegen -*-===//
//
// Ops emitted by --gpt-autodiff and --gpt-optimizer. Backward ops worth
// fusing (attention, layernorm, softmax + cross-entropy) are ops of their
// own, so that each lowers to one kernel.
//
//===----------------------------------------------------------------------===//
#ifndef GPT_GRAD_OPS_TD
#define GPT_GRAD_OPS_TD

def GPT_AttentionWithLseOp : GPT_Op<"attention_with_lse", [Pure,
    DeclareOpInterfaceMethods<GPT_DifferentiableOpInterface>]> {
  let summary = "gpt.attention that also returns the softmax log-sum-exp";
  let description = [{
    Same semantics as `gpt.attention`; `lse : [B, num_heads, T]` is the
    log-sum-exp of each query row's scaled, masked scores. Autodiff puts this
    op in place of `gpt.attention` in a training function so the backward can
    recompute the probabilities tile by tile instead of storing them.
  }];
  let arguments = (ins GPT_FloatTensor:$query, GPT_FloatTensor:$key,
                   GPT_FloatTensor:$value, I64Attr:$num_heads, F32Attr:$scale,
                   UnitAttr:$causal);
  let results = (outs GPT_FloatTensor:$result, GPT_FloatTensor:$lse);
  let assemblyFormat = [{
    $query `,` $key `,` $value attr-dict `:` type($query) `,` type($key) `,`
    type($value) `->` type($result) `,` type($lse)
  }];
  let hasVerifier = 1;
  let builders = [OpBuilder<(ins "Value":$query, "Value":$key,
      "Value":$value, "IntegerAttr":$numHeads, "FloatAttr":$scale,
      "UnitAttr":$causal), [{
    build($_builder, $_state, query.getType(),
          infer::attentionLse(query, numHeads.getInt()), query, key, value,
          numHeads, scale, causal);
  }]>];
}

def GPT_AttentionGradOp : GPT_Op<"attention_grad", [Pure]> {
  let summary = "flash-style backward of gpt.attention";
  let description = [{
    Given the output gradient, the inputs, the output and the log-sum-exp of
    the forward, returns the gradients of query, key and value.
  }];
  let arguments = (ins GPT_FloatTensor:$result_grad, GPT_FloatTensor:$query,
                   GPT_FloatTensor:$key, GPT_FloatTensor:$value,
                   GPT_FloatTensor:$result, GPT_FloatTensor:$lse,
                   I64Attr:$num_heads, F32Attr:$scale, UnitAttr:$causal);
  let results = (outs GPT_FloatTensor:$query_grad, GPT_FloatTensor:$key_grad,
                      GPT_FloatTensor:$value_grad);
  let assemblyFormat = [{
    $result_grad `,` $query `,` $key `,` $value `,` $result `,` $lse attr-dict
    `:` type(operands) `->` type(results)
  }];
}

//===----------------------------------------------------------------------===//
// Packed attention (--gpt-pack-attention): q, k and v read straight from the
// [B, T, 3D] output of the fused QKV projection, so no split, concat or
// repack copy runs around attention.
//===----------------------------------------------------------------------===//

def GPT_AttentionQkvOp : GPT_Op<"attention_qkv", [Pure]> {
  let summary = "gpt.attention_with_lse on a packed query/key/value tensor";
  let description = [{
    `qkv : [B, T, 3D]` holds query, key and value at channel offsets 0, D
    and 2D (what `gpt.split` on the last axis would return). Same semantics
    as `gpt.attention_with_lse` on those three parts; `lse : [B, num_heads,
    T]` (left unused by inference functions).
  }];
  let arguments = (ins GPT_FloatTensor:$qkv, I64Attr:$num_heads,
                   F32Attr:$scale, UnitAttr:$causal);
  let results = (outs GPT_FloatTensor:$result, GPT_FloatTensor:$lse);
  let assemblyFormat = [{
    $qkv attr-dict `:` type($qkv) `->` type($result) `,` type($lse)
  }];
  let hasVerifier = 1;
  let builders = [OpBuilder<(ins "Value":$qkv, "IntegerAttr":$numHeads,
      "FloatAttr":$scale, "UnitAttr":$causal), [{
    Type query = infer::packedQuery(qkv);
    build($_builder, $_state, query,
          RankedTensorType::get(
              {cast<RankedTensorType>(qkv.getType()).getDimSize(0),
               numHeads.getInt(),
               cast<RankedTensorType>(qkv.getType()).getDimSize(1)},
              cast<RankedTensorType>(query).getElementType()),
          qkv, numHeads, scale, causal);
  }]>];
}

def GPT_AttentionQkvGradOp : GPT_Op<"attention_qkv_grad", [Pure]> {
  let summary = "backward of gpt.attention_qkv, into one packed gradient";
  let description = [{
    `qkv_grad : [B, T, 3D]` holds the gradients of query, key and value at
    channel offsets 0, D and 2D: what `gpt.concat` of the three results of
    `gpt.attention_grad` on the last axis would return.
  }];
  let arguments = (ins GPT_FloatTensor:$result_grad, GPT_FloatTensor:$qkv,
                   GPT_FloatTensor:$result, GPT_FloatTensor:$lse,
                   I64Attr:$num_heads, F32Attr:$scale, UnitAttr:$causal);
  let results = (outs GPT_FloatTensor:$qkv_grad);
  let assemblyFormat = [{
    $result_grad `,` $qkv `,` $result `,` $lse attr-dict `:` type(operands)
    `->` type($qkv_grad)
  }];
  let hasVerifier = 1;
}

def GPT_EmbeddingGradOp : GPT_Op<"embedding_grad", [Pure]> {
  let summary = "scatter-add of output gradients into table rows";
  let arguments = (ins GPT_FloatTensor:$result_grad, GPT_TokenTensor:$ids);
  let results = (outs GPT_FloatTensor:$table_grad);
  let assemblyFormat = [{
    $result_grad `,` $ids attr-dict `:` type($result_grad) `,` type($ids) `->`
    type($table_grad)
  }];
}

def GPT_PositionEmbeddingGradOp : GPT_Op<"position_embedding_grad", [Pure]> {
  let summary = "sum of output gradients over the batch, per position";
  let description = [{ `table_grad[t] = sum_b dy[b, t]`; rows `>= T` are 0. }];
  let arguments = (ins GPT_FloatTensor:$result_grad);
  let results = (outs GPT_FloatTensor:$table_grad);
  let assemblyFormat = [{
    $result_grad attr-dict `:` type($result_grad) `->` type($table_grad)
  }];
}

def GPT_LayerNormGradOp : GPT_Op<"layernorm_grad", [Pure]> {
  let summary = "backward of gpt.layernorm (recomputes mean and rstd)";
  let arguments = (ins GPT_FloatTensor:$result_grad, GPT_FloatTensor:$input,
                   GPT_FloatTensor:$gamma, F32Attr:$epsilon);
  let results = (outs GPT_FloatTensor:$input_grad, GPT_FloatTensor:$gamma_grad,
                      GPT_FloatTensor:$beta_grad);
  let assemblyFormat = [{
    $result_grad `,` $input `,` $gamma attr-dict `:` type(operands) `->`
    type(results)
  }];
}

def GPT_LinearWeightGradOp : GPT_Op<"linear_weight_grad", [Pure]> {
  let summary = "weight gradient of gpt.linear: x^T dy over all rows";
  let description = [{
    `x : [..., K]`, `dy : [..., N]`; result `[K, N]`, or `[N, K]` with
    `transpose_weight`.
  }];
  let arguments = (ins GPT_FloatTensor:$input, GPT_FloatTensor:$result_grad,
                   UnitAttr:$transpose_weight);
  let results = (outs GPT_FloatTensor:$weight_grad);
  let assemblyFormat = [{
    $input `,` $result_grad attr-dict `:` type($input) `,` type($result_grad)
    `->` type($weight_grad)
  }];
}

def GPT_SumLeadingOp : GPT_Op<"sum_leading", [Pure]> {
  let summary = "sum over leading axes down to a suffix shape";
  let description = [{
    The gradient of a trailing broadcast: sums `input` over the leading axes
    that the result (a suffix of the input's shape) lacks.
  }];
  let arguments = (ins GPT_FloatTensor:$input);
  let results = (outs GPT_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def GPT_GeluGradOp : GPT_Op<"gelu_grad", [Pure,
    AllTypesMatch<["result_grad", "input", "input_grad"]>]> {
  let summary = "dy * gelu'(x)";
  let arguments = (ins GPT_FloatTensor:$result_grad, GPT_FloatTensor:$input);
  let results = (outs GPT_FloatTensor:$input_grad);
  let assemblyFormat = "$result_grad `,` $input attr-dict `:` type($input)";
}

def GPT_SoftmaxGradOp : GPT_Op<"softmax_grad", [Pure,
    AllTypesMatch<["result_grad", "result", "input_grad"]>]> {
  let summary = "y * (dy - sum(dy * y)) along an axis";
  let arguments = (ins GPT_FloatTensor:$result_grad, GPT_FloatTensor:$result,
                   I64Attr:$axis);
  let results = (outs GPT_FloatTensor:$input_grad);
  let assemblyFormat = "$result_grad `,` $result attr-dict `:` type($result)";
}

def GPT_CausalMaskGradOp : GPT_Op<"causal_mask_grad", [Pure,
    SameOperandsAndResultType]> {
  let summary = "zero the gradient of masked positions";
  let arguments = (ins GPT_FloatTensor:$result_grad);
  let results = (outs GPT_FloatTensor:$input_grad);
  let assemblyFormat = "$result_grad attr-dict `:` type($result_grad)";
}

def GPT_CrossEntropyGradOp : GPT_Op<"cross_entropy_grad", [Pure]> {
  let summary = "fused softmax + cross-entropy backward";
  let description = [{
    `dlogits = dloss * w / sum(w) * (softmax(logits) - onehot(target))`
    (without weights, `w = 1`).
  }];
  let arguments = (ins GPT_ScalarFloat:$loss_grad, GPT_FloatTensor:$logits,
                   GPT_TokenTensor:$targets, Optional<GPT_FloatTensor>:$weights);
  let results = (outs GPT_FloatTensor:$logits_grad);
  let assemblyFormat = [{
    $loss_grad `,` $logits `,` $targets (`weights` $weights^)? attr-dict `:`
    type($loss_grad) `,` type($logits) `,` type($targets) (`,` type($weights)^)?
    `->` type($logits_grad)
  }];
}

def GPT_ConcatOp : GPT_Op<"concat", [Pure]> {
  let summary = "concatenate along an axis (the inverse of gpt.split)";
  let arguments = (ins Variadic<GPT_FloatTensor>:$inputs, I64Attr:$axis);
  let results = (outs GPT_FloatTensor:$result);
  let assemblyFormat = "$inputs attr-dict `:` type($inputs) `->` type($result)";
  let hasVerifier = 1;
}

def GPT_ZerosLikeOp : GPT_Op<"zeros_like", [Pure, SameOperandsAndResultType]> {
  let summary = "a tensor of zeros shaped like the operand";
  let arguments = (ins GPT_FloatTensor:$input);
  let results = (outs GPT_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

//===----------------------------------------------------------------------===//
// Optimizer
//===----------------------------------------------------------------------===//

def GPT_FillOp : GPT_Op<"fill", [Pure]> {
  let summary = "a static-shaped tensor filled with one value";
  let arguments = (ins F32Attr:$value);
  let results = (outs GPT_FloatTensor:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def GPT_GlobalNormOp : GPT_Op<"global_norm", [Pure]> {
  let summary = "sqrt of the sum of squares of every element of every input";
  let arguments = (ins Variadic<GPT_FloatTensor>:$inputs);
  let results = (outs GPT_ScalarFloat:$result);
  let assemblyFormat = "$inputs attr-dict `:` type($inputs) `->` type($result)";
}

def GPT_LrScheduleOp : GPT_Op<"lr_schedule", [Pure]> {
  let summary = "learning rate at a step: linear warm-up, cosine decay";
  let description = [{
    `hparams = [lr, min_lr, warmup, total_steps, beta1, beta2, eps,
    weight_decay, grad_clip]`. `step < warmup`: `lr * (step + 1) / warmup`;
    `step >= total_steps`: `min_lr`; otherwise cosine from `lr` to `min_lr`.
  }];
  let arguments = (ins GPT_ScalarStep:$step, GPT_FloatTensor:$hparams);
  let results = (outs GPT_ScalarFloat:$result);
  let assemblyFormat = [{
    $step `,` $hparams attr-dict `:` type($step) `,` type($hparams) `->`
    type($result)
  }];
}

def GPT_AdamWOp : GPT_Op<"adamw", [Pure,
    AllTypesMatch<["param", "grad", "m", "v", "new_param", "new_m", "new_v"]>]> {
  let summary = "one AdamW update with global-norm clipping";
  let description = [{
    `g' = g * min(1, clip / (norm + 1e-6))` (when `clip > 0`),
    `m' = b1 m + (1 - b1) g'`, `v' = b2 v + (1 - b2) g'^2`,
    `p' = p - lr (m'/(1 - b1^t) / (sqrt(v'/(1 - b2^t)) + eps) + wd p)` with
    `t = step + 1`, where the decay term applies only with `decay` (matrices,
    not biases, layernorm gains or embeddings).
  }];
  let arguments = (ins GPT_FloatTensor:$param, GPT_FloatTensor:$grad,
                   GPT_FloatTensor:$m, GPT_FloatTensor:$v,
                   GPT_ScalarFloat:$lr, GPT_ScalarFloat:$norm,
                   GPT_ScalarStep:$step, GPT_FloatTensor:$hparams,
                   UnitAttr:$decay);
  let results = (outs GPT_FloatTensor:$new_param, GPT_FloatTensor:$new_m,
                      GPT_FloatTensor:$new_v);
  let assemblyFormat = [{
    $param `,` $grad `,` $m `,` $v `,` $lr `,` $norm `,` $step `,` $hparams
    attr-dict `:` type(operands) `->` type(results)
  }];
}

#endif // GPT_GRAD_OPS_TD
