//===- GPTInferenceOps.td - KV-cache ops for generation ---*- tablegen -*-===//
//
// The KV cache is paged: each layer's keys (and values) live in a pool of
// fixed-size blocks `[N, block, D]`; a sequence's block table `[NB]` lists
// the blocks holding its positions `0, block, 2*block, ...`. Sequences of
// any length share the pool without fragmentation, and the runtime owns the
// allocation (see docs/artifact.md).
//
//===----------------------------------------------------------------------===//
#ifndef GPT_INFERENCE_OPS_TD
#define GPT_INFERENCE_OPS_TD

def GPT_KVCacheWriteOp : GPT_Op<"kv_cache_write", [Pure,
    AllTypesMatch<["cache", "result"]>]> {
  let summary = "store new keys or values into a paged cache";
  let description = [{
    `new : [B, T, D]` is written at positions `start[b] .. start[b]+T-1` of
    sequence `b`: position `p` goes to block `block_table[b, p / block]`, row
    `p % block`. Returns the updated cache (the runtime updates it in place).
  }];
  let arguments = (ins GPT_FloatTensor:$cache, GPT_FloatTensor:$new_values,
                   GPT_TokenTensor:$block_table, GPT_TokenTensor:$start);
  let results = (outs GPT_FloatTensor:$result);
  let assemblyFormat = [{
    $cache `,` $new_values `,` $block_table `,` $start attr-dict `:`
    type($cache) `,` type($new_values) `,` type($block_table) `,` type($start)
  }];
  let hasVerifier = 1;
}

def GPT_PagedAttentionOp : GPT_Op<"paged_attention", [Pure]> {
  let summary = "causal multi-head attention over a paged KV cache";
  let description = [{
    `query : [B, T, D]` holds positions `start[b] .. start[b]+T-1` of each
    sequence; query `t` attends to cached positions `0 .. start[b]+t`
    (`gpt.attention` semantics, keys and values read through the block
    table). Prefill (`T` > 1) and decode (`T` = 1) are the same op.
  }];
  let arguments = (ins GPT_FloatTensor:$query, GPT_FloatTensor:$key_cache,
                   GPT_FloatTensor:$value_cache, GPT_TokenTensor:$block_table,
                   GPT_TokenTensor:$start, I64Attr:$num_heads,
                   F32Attr:$scale);
  let results = (outs GPT_FloatTensor:$result);
  let assemblyFormat = [{
    $query `,` $key_cache `,` $value_cache `,` $block_table `,` $start
    attr-dict `:` type(operands) `->` type($result)
  }];
  let hasVerifier = 1;
  let builders = [OpBuilder<(ins "Value":$query, "Value":$keyCache,
      "Value":$valueCache, "Value":$blockTable, "Value":$start,
      "int64_t":$numHeads, "float":$scale), [{
    build($_builder, $_state, query.getType(), query, keyCache, valueCache,
          blockTable, start, $_builder.getI64IntegerAttr(numHeads),
          $_builder.getF32FloatAttr(scale));
  }]>];
}

def GPT_TakeLastOp : GPT_Op<"take_last", [Pure]> {
  let summary = "the last position of each sequence: [B, T, D] -> [B, D]";
  let description = [{
    Generation only needs the next-token logits, so the output head runs on
    the last position alone.
  }];
  let arguments = (ins GPT_FloatTensor:$input);
  let results = (outs GPT_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let builders = [OpBuilder<(ins "Value":$input), [{
    build($_builder, $_state, infer::takeLast(input), input);
  }]>];
}

#endif // GPT_INFERENCE_OPS_TD
