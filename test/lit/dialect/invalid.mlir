// Every verifier rule, one near miss each.
// RUN: gpt-opt %s -split-input-file -verify-diagnostics

func.func @embedding_table_rank(%t: tensor<100xf32>, %ids: tensor<?x?xi32>) {
  // expected-error @+1 {{table must be rank 2 [vocab, dim], got rank 1}}
  %0 = gpt.embedding %t, %ids : tensor<100xf32>, tensor<?x?xi32> -> tensor<?x?x16xf32>
  return
}

// -----

func.func @embedding_result_dim(%t: tensor<100x16xf32>, %ids: tensor<?x?xi32>) {
  // expected-error @+1 {{result has shape [?, ?, 8], expected [?, ?, 16]}}
  %0 = gpt.embedding %t, %ids : tensor<100x16xf32>, tensor<?x?xi32> -> tensor<?x?x8xf32>
  return
}

// -----

func.func @embedding_ids_type(%t: tensor<100x16xf32>, %ids: tensor<?x?xf32>) {
  // expected-error @+1 {{operand #1 must be ranked tensor of 32-bit signless integer values}}
  %0 = gpt.embedding %t, %ids : tensor<100x16xf32>, tensor<?x?xf32> -> tensor<?x?x16xf32>
  return
}

// -----

func.func @position_too_long(%t: tensor<8x16xf32>, %ids: tensor<2x9xi32>) {
  // expected-error @+1 {{sequence length 9 exceeds the table's context length 8}}
  %0 = gpt.position_embedding %t, %ids : tensor<8x16xf32>, tensor<2x9xi32> -> tensor<2x9x16xf32>
  return
}

// -----

func.func @position_ids_rank(%t: tensor<8x16xf32>, %ids: tensor<?xi32>) {
  // expected-error @+1 {{ids must be rank 2 [batch, seq], got rank 1}}
  %0 = gpt.position_embedding %t, %ids : tensor<8x16xf32>, tensor<?xi32> -> tensor<?x16xf32>
  return
}

// -----

func.func @rope_odd_head(%x: tensor<?x?x48xf32>) {
  // expected-error @+1 {{head_dim must be even and > 0, got 3}}
  %0 = gpt.rope %x {head_dim = 3 : i64, columns = 30 : i64, theta = 1.0e4 : f32} : tensor<?x?x48xf32> -> tensor<?x?x48xf32>
  return
}

// -----

func.func @rope_columns(%x: tensor<?x?x48xf32>) {
  // expected-error @+1 {{columns (30) must be a positive multiple of head_dim (4)}}
  %0 = gpt.rope %x {head_dim = 4 : i64, columns = 30 : i64, theta = 1.0e4 : f32} : tensor<?x?x48xf32> -> tensor<?x?x48xf32>
  return
}

// -----

func.func @rope_too_many_columns(%x: tensor<?x?x16xf32>) {
  // expected-error @+1 {{columns (32) must not exceed the static last dim, got [?, ?, 16]}}
  %0 = gpt.rope %x {head_dim = 4 : i64, columns = 32 : i64, theta = 1.0e4 : f32} : tensor<?x?x16xf32> -> tensor<?x?x16xf32>
  return
}

// -----

func.func @rope_theta(%x: tensor<?x?x16xf32>) {
  // expected-error @+1 {{theta must be a finite number > 1}}
  %0 = gpt.rope %x {head_dim = 4 : i64, columns = 16 : i64, theta = 0.5 : f32} : tensor<?x?x16xf32> -> tensor<?x?x16xf32>
  return
}

// -----

func.func @rope_start(%x: tensor<2x?x16xf32>, %s: tensor<3xi32>) {
  // expected-error @+1 {{start must be [batch], got [3]}}
  %0 = gpt.rope %x start %s {head_dim = 4 : i64, columns = 16 : i64, theta = 1.0e4 : f32} : tensor<2x?x16xf32>, tensor<3xi32> -> tensor<2x?x16xf32>
  return
}

// -----

func.func @layernorm_gamma(%x: tensor<?x16xf32>, %g: tensor<8xf32>, %b: tensor<16xf32>) {
  // expected-error @+1 {{gamma has shape [8], expected [16]}}
  %0 = gpt.layernorm %x, %g, %b {epsilon = 1.0e-5 : f32} : tensor<?x16xf32>, tensor<8xf32>, tensor<16xf32> -> tensor<?x16xf32>
  return
}

// -----

func.func @layernorm_eps(%x: tensor<?x16xf32>, %g: tensor<16xf32>, %b: tensor<16xf32>) {
  // expected-error @+1 {{epsilon must be > 0}}
  %0 = gpt.layernorm %x, %g, %b {epsilon = 0.0 : f32} : tensor<?x16xf32>, tensor<16xf32>, tensor<16xf32> -> tensor<?x16xf32>
  return
}

// -----

func.func @layernorm_element_type(%x: tensor<?x16xf32>, %g: tensor<16xf16>, %b: tensor<16xf32>) {
  // expected-error @+1 {{input and gamma must have the same element type, got 'f32' and 'f16'}}
  %0 = gpt.layernorm %x, %g, %b {epsilon = 1.0e-5 : f32} : tensor<?x16xf32>, tensor<16xf16>, tensor<16xf32> -> tensor<?x16xf32>
  return
}

// -----

func.func @matmul_k(%a: tensor<4x8xf32>, %b: tensor<6x5xf32>) {
  // expected-error @+1 {{contraction dimensions differ: lhs [4, 8] gives K = 8, rhs [6, 5] gives K = 6}}
  %0 = gpt.matmul %a, %b : tensor<4x8xf32>, tensor<6x5xf32> -> tensor<4x5xf32>
  return
}

// -----

func.func @matmul_batch(%a: tensor<2x4x8xf32>, %b: tensor<3x8x5xf32>) {
  // expected-error @+1 {{batch dimensions differ: [2, 4, 8] vs [3, 8, 5]}}
  %0 = gpt.matmul %a, %b : tensor<2x4x8xf32>, tensor<3x8x5xf32> -> tensor<2x4x5xf32>
  return
}

// -----

func.func @matmul_rank(%a: tensor<8xf32>, %b: tensor<8x5xf32>) {
  // expected-error @+1 {{operands must have rank >= 2, got ranks 1 and 2}}
  %0 = gpt.matmul %a, %b : tensor<8xf32>, tensor<8x5xf32> -> tensor<5xf32>
  return
}

// -----

func.func @matmul_result(%a: tensor<4x8xf32>, %b: tensor<5x8xf32>) {
  // expected-error @+1 {{result has shape [4, 8], expected [4, 5]}}
  %0 = gpt.matmul %a, %b {transpose_rhs} : tensor<4x8xf32>, tensor<5x8xf32> -> tensor<4x8xf32>
  return
}

// -----

func.func @linear_k(%x: tensor<?x16xf32>, %w: tensor<8x4xf32>) {
  // expected-error @+1 {{input's last dimension 16 does not match the weight's input dimension 8 (weight [8, 4])}}
  %0 = gpt.linear %x, %w : tensor<?x16xf32>, tensor<8x4xf32> -> tensor<?x4xf32>
  return
}

// -----

func.func @linear_bias(%x: tensor<?x16xf32>, %w: tensor<16x4xf32>, %b: tensor<16xf32>) {
  // expected-error @+1 {{bias has shape [16], expected [4]}}
  %0 = gpt.linear %x, %w bias %b : tensor<?x16xf32>, tensor<16x4xf32>, tensor<16xf32> -> tensor<?x4xf32>
  return
}

// -----

func.func @add_broadcast(%x: tensor<?x16xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{rhs shape [8] must equal lhs shape [?, 16] or a suffix of it}}
  %0 = gpt.add %x, %b : tensor<?x16xf32>, tensor<8xf32>
  return
}

// -----

func.func @mul_rank(%x: tensor<16xf32>, %b: tensor<2x16xf32>) {
  // expected-error @+1 {{rhs shape [2, 16] must equal lhs shape [16] or a suffix of it}}
  %0 = gpt.mul %x, %b : tensor<16xf32>, tensor<2x16xf32>
  return
}

// -----

func.func @gelu_int(%x: tensor<16xi32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of floating-point values}}
  %0 = gpt.gelu %x : tensor<16xi32>
  return
}

// -----

func.func @scale_types(%x: tensor<16xf32>) {
  // expected-error @+1 {{requires the same type for all operands and results}}
  %0 = "gpt.scale"(%x) {factor = 2.0 : f32} : (tensor<16xf32>) -> tensor<8xf32>
  return
}

// -----

func.func @mask_rank(%x: tensor<16xf32>) {
  // expected-error @+1 {{input must have rank >= 2 [..., queries, keys]}}
  %0 = gpt.causal_mask %x : tensor<16xf32>
  return
}

// -----

func.func @softmax_axis(%x: tensor<4x16xf32>) {
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %0 = gpt.softmax %x {axis = 2 : i64} : tensor<4x16xf32>
  return
}

// -----

func.func @fused_softmax_rank(%x: tensor<16xf32>) {
  // expected-error @+1 {{input of rank 1 is too small for a causal mask}}
  %0 = gpt.scaled_masked_softmax %x {scale = 1.0 : f32, causal} : tensor<16xf32>
  return
}

// -----

func.func @attention_heads(%q: tensor<?x?x16xf32>) {
  // expected-error @+1 {{num_heads = 3 must be positive and divide the model dimension 16}}
  %0 = gpt.attention %q, %q, %q {num_heads = 3 : i64, scale = 0.5 : f32, causal} : tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32> -> tensor<?x?x16xf32>
  return
}

// -----

func.func @attention_rank(%q: tensor<?x4x?x4xf32>) {
  // expected-error @+1 {{query must be rank 3 [batch, seq, dim], got [?, 4, ?, 4]}}
  %0 = gpt.attention %q, %q, %q {num_heads = 4 : i64, scale = 0.5 : f32, causal} : tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32> -> tensor<?x4x?x4xf32>
  return
}

// -----

func.func @attention_value(%q: tensor<2x?x16xf32>, %k: tensor<2x7x16xf32>, %v: tensor<2x6x16xf32>) {
  // expected-error @+1 {{value has shape [2, 6, 16], expected [2, 7, 16]}}
  %0 = gpt.attention %q, %k, %v {num_heads = 4 : i64, scale = 0.5 : f32, causal} : tensor<2x?x16xf32>, tensor<2x7x16xf32>, tensor<2x6x16xf32> -> tensor<2x?x16xf32>
  return
}

// -----

func.func @attention_scale(%q: tensor<?x?x16xf32>) {
  // expected-error @+1 {{scale must be > 0}}
  %0 = gpt.attention %q, %q, %q {num_heads = 4 : i64, scale = -0.5 : f32, causal} : tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32> -> tensor<?x?x16xf32>
  return
}

// -----

func.func @reshape_count(%x: tensor<?x?x16xf32>) {
  // expected-error @+1 {{cannot reshape [?, ?, 16] to [?, ?, 4, 5]: element counts differ (16 vs 20)}}
  %0 = gpt.reshape %x : tensor<?x?x16xf32> -> tensor<?x?x4x5xf32>
  return
}

// -----

func.func @reshape_dynamic(%x: tensor<?x?x16xf32>) {
  // expected-error @+1 {{dynamic dimensions must stay in the shared leading dimensions}}
  %0 = gpt.reshape %x : tensor<?x?x16xf32> -> tensor<?x16xf32>
  return
}

// -----

func.func @transpose_perm(%x: tensor<2x3x4xf32>) {
  // expected-error @+1 {{permutation must hold each axis 0..2 exactly once}}
  %0 = gpt.transpose %x {permutation = array<i64: 0, 0, 1>} : tensor<2x3x4xf32> -> tensor<2x2x3xf32>
  return
}

// -----

func.func @transpose_result(%x: tensor<2x3x4xf32>) {
  // expected-error @+1 {{result has shape [2, 3, 4], expected [2, 4, 3]}}
  %0 = gpt.transpose %x {permutation = array<i64: 0, 2, 1>} : tensor<2x3x4xf32> -> tensor<2x3x4xf32>
  return
}

// -----

func.func @split_divisible(%x: tensor<?x?x16xf32>) {
  // expected-error @+1 {{axis 2 of size 16 must be static and divisible by 3}}
  %0:3 = gpt.split %x {axis = 2 : i64} : tensor<?x?x16xf32> -> tensor<?x?x5xf32>, tensor<?x?x5xf32>, tensor<?x?x5xf32>
  return
}

// -----

func.func @split_result(%x: tensor<?x?x16xf32>) {
  // expected-error @+1 {{result #1 has shape [?, ?, 4], expected [?, ?, 8]}}
  %0:2 = gpt.split %x {axis = 2 : i64} : tensor<?x?x16xf32> -> tensor<?x?x8xf32>, tensor<?x?x4xf32>
  return
}

// -----

func.func @xent_targets(%l: tensor<?x?x100xf32>, %t: tensor<?xi32>) {
  // expected-error @+1 {{targets has shape [?], expected [?, ?]}}
  %0 = gpt.cross_entropy %l, %t : tensor<?x?x100xf32>, tensor<?xi32> -> tensor<f32>
  return
}

// -----

func.func @xent_weights(%l: tensor<?x?x100xf32>, %t: tensor<?x?xi32>, %w: tensor<?xf32>) {
  // expected-error @+1 {{weights has shape [?], expected [?, ?]}}
  %0 = gpt.cross_entropy %l, %t weights %w : tensor<?x?x100xf32>, tensor<?x?xi32>, tensor<?xf32> -> tensor<f32>
  return
}

// -----

func.func @xent_result(%l: tensor<?x?x100xf32>, %t: tensor<?x?xi32>) {
  // expected-error @+1 {{result #0 must be 0D tensor of floating-point values}}
  %0 = gpt.cross_entropy %l, %t : tensor<?x?x100xf32>, tensor<?x?xi32> -> tensor<1xf32>
  return
}

// -----

func.func @fusion_body_op(%x: tensor<4x4xf32>) {
  %0 = gpt.fusion (%x) : (tensor<4x4xf32>) -> (tensor<4x4xf32>) {
  ^bb0(%a: tensor<4x4xf32>):
    // expected-error @+1 {{cannot be part of a gpt.fusion body (only elementwise ops and gpt.layernorm can)}}
    %s = gpt.softmax %a {axis = 1 : i64} : tensor<4x4xf32>
    gpt.yield %s : tensor<4x4xf32>
  }
  return
}

// -----

func.func @fusion_arg_type(%x: tensor<4x4xf32>) {
  // expected-error @+1 {{body argument #0 has type 'tensor<4xf32>' but input #0 has type 'tensor<4x4xf32>'}}
  %0 = gpt.fusion (%x) : (tensor<4x4xf32>) -> (tensor<4xf32>) {
  ^bb0(%a: tensor<4xf32>):
    %g = gpt.gelu %a : tensor<4xf32>
    gpt.yield %g : tensor<4xf32>
  }
  return
}

// -----

func.func @fusion_yield(%x: tensor<4x4xf32>) {
  // expected-error @+1 {{gpt.yield types do not match the results}}
  %0:2 = gpt.fusion (%x) : (tensor<4x4xf32>) -> (tensor<4x4xf32>, tensor<4x4xf32>) {
  ^bb0(%a: tensor<4x4xf32>):
    %g = gpt.gelu %a : tensor<4x4xf32>
    gpt.yield %g : tensor<4x4xf32>
  }
  return
}

// -----

func.func @yield_outside(%x: tensor<4xf32>) {
  // expected-error @+1 {{expects parent op 'gpt.fusion'}}
  gpt.yield %x : tensor<4xf32>
}

// -----

func.func @attention_qkv_not_thirds(%x: tensor<?x?x25xf32>) {
  // expected-error @+1 {{qkv must be [batch, seq, 3 * dim] with a static dim, got [?, ?, 25]}}
  %o, %l = gpt.attention_qkv %x {causal, num_heads = 1 : i64, scale = 0.5 : f32} : tensor<?x?x25xf32> -> tensor<?x?x8xf32>, tensor<?x1x?xf32>
  return
}

// -----

func.func @attention_qkv_lse(%x: tensor<?x?x24xf32>) {
  // expected-error @+1 {{lse has shape [?, 3, ?], expected [?, 2, ?]}}
  %o, %l = gpt.attention_qkv %x {causal, num_heads = 2 : i64, scale = 0.5 : f32} : tensor<?x?x24xf32> -> tensor<?x?x8xf32>, tensor<?x3x?xf32>
  return
}

// -----

func.func @attention_qkv_grad_shape(%d: tensor<?x?x8xf32>, %x: tensor<?x?x24xf32>, %o: tensor<?x?x8xf32>, %l: tensor<?x2x?xf32>) {
  // expected-error @+1 {{qkv_grad has shape [?, ?, 8], expected [?, ?, 24]}}
  %g = gpt.attention_qkv_grad %d, %x, %o, %l {causal, num_heads = 2 : i64, scale = 0.5 : f32} : tensor<?x?x8xf32>, tensor<?x?x24xf32>, tensor<?x?x8xf32>, tensor<?x2x?xf32> -> tensor<?x?x8xf32>
  return
}

// -----

func.func @all_reduce_dynamic(%g: tensor<?x4xf32>) {
  // expected-error @+1 {{reduces static-shaped tensors (every rank must pass the same number of elements), got 'tensor<?x4xf32>'}}
  %0 = gpt.all_reduce mean over "data" %g : tensor<?x4xf32>
  return
}

// -----

func.func @all_reduce_group(%g: tensor<4xf32>) {
  // expected-error @+1 {{needs a non-empty process group name}}
  %0 = gpt.all_reduce sum over "" %g : tensor<4xf32>
  return
}

// -----

func.func @all_reduce_empty() {
  // expected-error @+1 {{needs at least one tensor to reduce}}
  "gpt.all_reduce"() {reduction = 0 : i32, group = "data"} : () -> ()
  return
}

// -----

func.func @all_reduce_reduction(%g: tensor<4xf32>) {
  // expected-error @+1 {{expected string or keyword containing one of the following enum values for attribute 'reduction' [sum, mean]}}
  %0 = gpt.all_reduce max over "data" %g : tensor<4xf32>
  return
}
