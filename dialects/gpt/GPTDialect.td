//===- GPTDialect.td - the gpt dialect declaration ---------*- tablegen -*-===//
#ifndef GPT_DIALECT_TD
#define GPT_DIALECT_TD

include "mlir/IR/OpBase.td"

def GPT_Dialect : Dialect {
  let name = "gpt";
  let summary = "Tensor-level operations of a GPT-2-style decoder";
  let description = [{
    The `gpt` dialect describes a decoder-only transformer on ranked tensors
    with value semantics. Batch and sequence dimensions are usually dynamic
    (`?`) so that one compiled artifact serves every batch size and length.
    Frontends emit decomposed attention (matmul, scale, causal mask, softmax,
    matmul); the fusion passes rewrite it into `gpt.attention`,
    `gpt.scaled_masked_softmax` and `gpt.fusion` regions.
  }];
  let cppNamespace = "::mlir::gpt";
  let hasCanonicalizer = 0;
  let useDefaultAttributePrinterParser = 1;
  // The gpt.* discardable attributes (GPTAttributes.h) are checked here.
  let hasOperationAttrVerify = 1;
  let hasRegionArgAttrVerify = 1;
  let hasRegionResultAttrVerify = 1;
  let extraClassDeclaration = [{
    void registerAttributes();
  }];
}

class GPT_Op<string mnemonic, list<Trait> traits = []>
    : Op<GPT_Dialect, mnemonic, traits>;

#endif // GPT_DIALECT_TD
