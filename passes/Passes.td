//===- Passes.td - passes over the gpt dialect ------------*- tablegen -*-===//
#ifndef GPT_PASSES_TD
#define GPT_PASSES_TD

include "mlir/Pass/PassBase.td"

def GPTFuseAttention : Pass<"gpt-fuse-attention", "mlir::func::FuncOp"> {
  let summary = "Fuse decomposed multi-head attention into gpt.attention";
  let description = [{
    Matches, for query/key/value `[B, T, D]` split into heads by
    `gpt.reshape` + `gpt.transpose`:
    `matmul(q, k^T) -> scale(1/sqrt(Dh)) -> causal_mask -> softmax(last axis)
     -> matmul(., v) -> transpose -> reshape`
    (scale and mask in either order; the scale may be `gpt.scale` or a
    `gpt.mul` by a constant splat) and replaces it with one `gpt.attention`.
    Near misses are left alone: no causal mask, softmax on another axis, K not
    transposed, a scale that is not a constant 1/sqrt(Dh), or an intermediate
    used elsewhere (it would have to be materialized anyway). What is left of a
    near miss is still fused by `--gpt-fuse-softmax`.
  }];
  let dependentDialects = ["mlir::gpt::GPTDialect"];
}

def GPTFuseSoftmax : Pass<"gpt-fuse-softmax", "mlir::func::FuncOp"> {
  let summary = "Fuse scale and causal mask chains into the softmax they feed";
  let description = [{
    `softmax(causal_mask(scale(x)))` over the last axis (either op optional,
    either order when the scale is positive) becomes one
    `gpt.scaled_masked_softmax`, so the scores are read once.
  }];
  let dependentDialects = ["mlir::gpt::GPTDialect"];
}

def GPTFuseElementwise : Pass<"gpt-fuse-elementwise", "mlir::func::FuncOp"> {
  let summary = "Group elementwise chains (and the layernorm they feed) into gpt.fusion";
  let description = [{
    Greedy producer-consumer clustering of `gpt.add`, `gpt.mul`, `gpt.scale`
    and `gpt.gelu`, closed by at most one consuming `gpt.layernorm` (so a
    residual add feeding a layernorm, or a bias add feeding gelu, becomes one
    kernel). Every intermediate used outside the group becomes a result. A
    group is only formed when it does not need to move an op past one of its
    users, and when it holds at least two ops. Afterwards a bias add left alone
    after a bias-less `gpt.linear` is folded into that linear's `bias`.
  }];
  let dependentDialects = ["mlir::gpt::GPTDialect"];
}

def GPTAutodiff : Pass<"gpt-autodiff", "mlir::ModuleOp"> {
  let summary = "Reverse-mode differentiation of the loss function";
  let description = [{
    Clones `@loss` into `@loss_grad`, which returns the loss followed by the
    gradient of every parameter argument (`gpt.param`), in argument order.
    `gpt.attention` is first replaced by `gpt.attention_with_lse` so the
    backward can recompute probabilities from the saved log-sum-exp. Each op
    supplies its own rule through `DifferentiableOpInterface`; gradients of a
    value used several times are summed. Only values that depend on a
    parameter get gradients. Run it before `--gpt-fuse-elementwise`, so the
    backward's elementwise chains are fused together with the forward's.
  }];
  let options = [
    Option<"source", "source", "std::string", /*default=*/"\"loss\"",
           "Function to differentiate">,
    Option<"target", "target", "std::string", /*default=*/"\"loss_grad\"",
           "Name of the generated function">,
  ];
  let dependentDialects = ["mlir::gpt::GPTDialect", "mlir::arith::ArithDialect"];
}

def GPTOptimizer : Pass<"gpt-optimizer", "mlir::ModuleOp"> {
  let summary = "Build the training step: gradient accumulation and AdamW";
  let description = [{
    From `@loss_grad` builds
    * `@train_grad(inputs..., grad_scale, params..., grad.<p>...)` returning
      the loss and `grad.<p> + grad_scale * dloss/dp` in place (one call per
      micro-batch: gradient accumulation);
    * `@apply_optimizer(step, hparams, params..., grad.<p>..., adam_m.<p>...,
      adam_v.<p>...)` returning the global gradient norm, the learning rate,
      and, in place, the updated parameters and moments and zeroed
      accumulators. `hparams = [lr, min_lr, warmup, total_steps, beta1,
      beta2, eps, weight_decay, grad_clip]`, so the schedule, clipping and
      decay run inside the compiled step; weight decay applies only to
      parameters tagged `gpt.weight_decay` (matrices).
    `@loss_grad` is removed. In-place outputs carry `gpt.alias_input`.

    With `shardable`, also the functions a rank of a sharded optimizer
    (ZeRO-1) runs instead of `@apply_optimizer`, computing the same update
    piecewise: `@optimizer_scalars(step, hparams, grad.<p>...)` returning
    the global gradient norm and the learning rate,
    `@apply_adamw.<p>(step, hparams, lr, grad_norm, p, grad.<p>,
    adam_m.<p>, adam_v.<p>)` per parameter (in place) and
    `@zero_grads(grad.<p>...)`.
  }];
  let options = [
    Option<"shardable", "shardable", "bool", /*default=*/"false",
           "Also emit the per-parameter functions of a sharded optimizer">,
  ];
  let dependentDialects = ["mlir::gpt::GPTDialect"];
}

def GPTPackAttention : Pass<"gpt-pack-attention", "mlir::func::FuncOp"> {
  let summary = "Attention straight on the packed QKV projection";
  let description = [{
    When q, k and v are the three last-axis parts of one `gpt.split` (the
    fused QKV linear), `gpt.attention` / `gpt.attention_with_lse` becomes
    `gpt.attention_qkv` on the split's input, and the backward's
    `gpt.concat` of `gpt.attention_grad`'s three gradients becomes
    `gpt.attention_qkv_grad`: no split, concat or repack copy runs around
    attention. It leaves alone: q, k, v from different splits or out of
    order, a split on another axis, a concat in another order or axis, and
    an attention gradient that something besides the concat reads.
  }];
  let dependentDialects = ["mlir::gpt::GPTDialect"];
}

def GPTDataParallel : Pass<"gpt-data-parallel", "mlir::func::FuncOp"> {
  let summary = "Average the gradients over the ranks of a data-parallel job";
  let description = [{
    In `@train_grad`, the accumulated gradients it returns (the results
    written in place into `grad.<p>` arguments) pass through
    `gpt.all_reduce mean over "<group>"` before the return. Gradients are
    grouped into buckets of at least `bucket-bytes` in the order the
    backward produces them, and each bucket's reduction sits right after
    its last gradient, so the runtime can reduce it while the rest of the
    backward runs. `@apply_optimizer` reads the accumulators, so the
    global-norm clip sees the reduced gradients. Other functions are left
    alone; a `@train_grad` that already reduces is an error.

    With gradient accumulation the runtime may skip the reduction on every
    micro-batch but the last: it acts on the accumulator, and the mean of
    the ranks' sums is the sum of the per-micro-batch means.
  }];
  let options = [
    Option<"bucketBytes", "bucket-bytes", "int64_t",
           /*default=*/"25 * 1024 * 1024",
           "Smallest bucket (bytes of f32 gradients per collective call)">,
    Option<"group", "group", "std::string", /*default=*/"\"data\"",
           "Process group the gradients are averaged over">,
  ];
  let dependentDialects = ["mlir::gpt::GPTDialect"];
}

def GPTLowerToKernels : Pass<"gpt-lower-to-kernels", "mlir::func::FuncOp"> {
  let summary = "Select the runtime kernel of every op for a target";
  let description = [{
    Tags each op with `gpt.kernel = "<name>"`, the kernel of
    docs/artifact.md that executes it: fusion regions and single elementwise
    ops become `elementwise` (a row program generated from the region),
    reshapes become `alias` (no kernel: a view of the same bytes), splat
    constants and `gpt.zeros_like` become `fill`. An op without a kernel on
    the target is an error. `target=vulkan` selects the same kernels (the
    Vulkan runtime has a shader for each; docs/vulkan.md).
  }];
  let options = [
    Option<"target", "target", "mlir::gpt::CompileTarget",
           /*default=*/"mlir::gpt::CompileTarget::Cpu", "Kernel target",
           [{::llvm::cl::values(
             clEnumValN(mlir::gpt::CompileTarget::Cpu, "cpu", "CPU kernels"),
             clEnumValN(mlir::gpt::CompileTarget::Vulkan, "vulkan",
                        "Vulkan compute shaders"))}]>,
  ];
}

def GPTPlanMemory : Pass<"gpt-plan-memory", "mlir::func::FuncOp"> {
  let summary = "Place every intermediate in an arena by liveness";
  let description = [{
    Per function, two arenas: `static` for values whose size does not depend
    on batch or sequence, `token` for values of `c * B * T` elements, planned
    in bytes per token so that one plan is valid for every B and T (the first
    dynamic dim of a type is B, the others T). Linear scan in op order with
    first-fit placement; a value's space is reused once its last user ran.
    An elementwise kernel may write its result over a same-shaped operand
    that dies there; in-place outputs (`gpt.alias_input`) of elementwise and
    AdamW ops are computed straight into the caller's buffer. Each op gets
    `gpt.plan = [#gpt.slot<static, offset> | #gpt.slot<token, offset per
    token> | #gpt.slot<alias, 0> | #gpt.slot<input, argument> |
    #gpt.slot<none, 0>]`, one per result, and each function
    `gpt.static_bytes` and `gpt.token_bytes` (`gptc --report-memory` prints
    them).
  }];
}

#endif // GPT_PASSES_TD
