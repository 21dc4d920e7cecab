//===- GPTParallelOps.td - ops across processes ------------*- tablegen -*-===//
//
// Data parallelism: the ops that combine values across the ranks of a
// process group (docs/distributed.md). They are not Pure: they communicate,
// so they are neither merged (CSE) nor dropped when unused.
//
//===----------------------------------------------------------------------===//
#ifndef GPT_PARALLEL_OPS_TD
#define GPT_PARALLEL_OPS_TD

def GPT_AllReduceOp : GPT_Op<"all_reduce",
    [DeclareOpInterfaceMethods<GPT_DifferentiableOpInterface>,
     RangedTypesMatchWith<"results have the operands' types", "inputs",
                          "results", "$_self">]> {
  let summary = "combine tensors across the ranks of a process group";
  let description = [{
    Every rank of `group` passes the same number of tensors with the same
    types; result `i` is, on every rank, the sum (`sum`) or the mean
    (`mean`) over the ranks of their operand `i`. Several operands form one
    bucket: one collective call moves them all. With one rank it is the
    identity.

    The runtime reduces in place (each result is its operand's memory) and
    may run the reduction in the background until a later kernel touches
    those bytes. Its gradient is the same reduction of the result gradients.

    ```mlir
    %g0, %g1 = gpt.all_reduce mean over "data" %a, %b
        : tensor<64x64xf32>, tensor<64xf32>
    ```
  }];
  let arguments = (ins Variadic<GPT_FloatTensor>:$inputs,
                   GPT_Reduction:$reduction, StrAttr:$group);
  let results = (outs Variadic<GPT_FloatTensor>:$results);
  let assemblyFormat = [{
    $reduction `over` $group $inputs attr-dict `:` type($inputs)
  }];
  let builders = [
    OpBuilder<(ins "::mlir::ValueRange":$inputs,
                   "::mlir::gpt::Reduction":$reduction,
                   "::llvm::StringRef":$group), [{
      build($_builder, $_state, inputs.getTypes(), inputs,
            ::mlir::gpt::ReductionAttr::get($_builder.getContext(),
                                            reduction),
            $_builder.getStringAttr(group));
    }]>
  ];
  let hasVerifier = 1;
}

#endif // GPT_PARALLEL_OPS_TD
