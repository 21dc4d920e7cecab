//===- GPTAttributes.td - attributes of the gpt dialect ----*- tablegen -*-===//
//
// `#gpt.slot<kind, offset>`: where --gpt-plan-memory puts a value, read back
// by the artifact emitter. The names of the dialect's discardable attributes
// (gpt.kernel, gpt.plan, ...) are in GPTAttributes.h.
//
//===----------------------------------------------------------------------===//
#ifndef GPT_ATTRIBUTES_TD
#define GPT_ATTRIBUTES_TD

include "GPTDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def GPT_SlotKind : I32EnumAttr<"SlotKind", "where a planned value lives", [
  I32EnumAttrCase<"Static", 0, "static">, // static arena, byte offset
  I32EnumAttrCase<"Token", 1, "token">,   // token arena, bytes per token
  I32EnumAttrCase<"Alias", 2, "alias">,   // a view of operand `offset`
  I32EnumAttrCase<"Input", 3, "input">,   // written into argument `offset`
  I32EnumAttrCase<"None", 4, "none">      // not materialized (filled later)
]> {
  let cppNamespace = "::mlir::gpt";
  let genSpecializedAttr = 0;
}

def GPT_Reduction : I32EnumAttr<"Reduction",
    "how gpt.all_reduce combines the ranks' values", [
  I32EnumAttrCase<"Sum", 0, "sum">,  // the sum over the ranks
  I32EnumAttrCase<"Mean", 1, "mean"> // the sum divided by the world size
]> {
  let cppNamespace = "::mlir::gpt";
}

def GPT_SlotAttr : AttrDef<GPT_Dialect, "Slot"> {
  let mnemonic = "slot";
  let summary = "The memory plan's placement of one op result";
  let description = [{
    `#gpt.slot<static, 128>` is byte 128 of the function's static arena;
    `#gpt.slot<token, 64>` is offset 64 × B·T bytes of the token arena (the
    plan is in bytes per token, valid for every batch and length);
    `#gpt.slot<alias, 0>` views operand 0; `#gpt.slot<input, 3>` is written
    in place into argument 3; `#gpt.slot<none, 0>` has no memory (a constant
    the emitter fills into its in-place argument at the end).
  }];
  let parameters = (ins EnumParameter<GPT_SlotKind>:$kind, "int64_t":$offset);
  let assemblyFormat = "`<` $kind `,` $offset `>`";
  let genVerifyDecl = 1;
}

#endif // GPT_ATTRIBUTES_TD
