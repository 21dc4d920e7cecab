// --gpt-pack-attention: attention on the packed QKV projection, forward and
// backward; near misses stay as they are.
// RUN: gpt-opt %s --split-input-file --gpt-pack-attention | FileCheck %s

// CHECK-LABEL: func.func @forward
// CHECK-NOT: gpt.split
// CHECK: %[[OUT:.*]], %{{.*}} = gpt.attention_qkv %arg0 {causal, num_heads = 2 : i64, scale = 5.000000e-01 : f32} : tensor<?x?x24xf32> -> tensor<?x?x8xf32>, tensor<?x2x?xf32>
// CHECK: return %[[OUT]]
func.func @forward(%x: tensor<?x?x24xf32>) -> tensor<?x?x8xf32> {
  %s:3 = gpt.split %x {axis = 2 : i64} : tensor<?x?x24xf32> -> tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>
  %o = gpt.attention %s#0, %s#1, %s#2 {causal, num_heads = 2 : i64, scale = 0.5 : f32} : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  return %o : tensor<?x?x8xf32>
}

// -----

// Training: forward with lse and the backward's concat of dq, dk, dv.
// CHECK-LABEL: func.func @train
// CHECK-NOT: gpt.split
// CHECK: %[[OUT:.*]], %[[LSE:.*]] = gpt.attention_qkv %arg0
// CHECK-NOT: gpt.attention_grad
// CHECK: %[[DX:.*]] = gpt.attention_qkv_grad %arg1, %arg0, %[[OUT]], %[[LSE]] {causal, num_heads = 2 : i64, scale = 5.000000e-01 : f32} : tensor<?x?x8xf32>, tensor<?x?x24xf32>, tensor<?x?x8xf32>, tensor<?x2x?xf32> -> tensor<?x?x24xf32>
// CHECK-NOT: gpt.concat
// CHECK: return %[[OUT]], %[[DX]]
func.func @train(%x: tensor<?x?x24xf32>, %dout: tensor<?x?x8xf32>) -> (tensor<?x?x8xf32>, tensor<?x?x24xf32>) {
  %s:3 = gpt.split %x {axis = 2 : i64} : tensor<?x?x24xf32> -> tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>
  %o, %lse = gpt.attention_with_lse %s#0, %s#1, %s#2 {causal, num_heads = 2 : i64, scale = 0.5 : f32} : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x8xf32>, tensor<?x2x?xf32>
  %dq, %dk, %dv = gpt.attention_grad %dout, %s#0, %s#1, %s#2, %o, %lse {causal, num_heads = 2 : i64, scale = 0.5 : f32} : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x2x?xf32> -> tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>
  %dx = gpt.concat %dq, %dk, %dv {axis = 2 : i64} : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x24xf32>
  return %o, %dx : tensor<?x?x8xf32>, tensor<?x?x24xf32>
}

// -----

// Near miss: k and v swapped.
// CHECK-LABEL: func.func @swapped
// CHECK: gpt.split
// CHECK: gpt.attention %{{.*}}#0, %{{.*}}#2, %{{.*}}#1
// CHECK-NOT: attention_qkv
func.func @swapped(%x: tensor<?x?x24xf32>) -> tensor<?x?x8xf32> {
  %s:3 = gpt.split %x {axis = 2 : i64} : tensor<?x?x24xf32> -> tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>
  %o = gpt.attention %s#0, %s#2, %s#1 {causal, num_heads = 2 : i64, scale = 0.5 : f32} : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  return %o : tensor<?x?x8xf32>
}

// -----

// Near miss: q, k, v from different tensors (cross-attention style).
// CHECK-LABEL: func.func @two_sources
// CHECK-NOT: attention_qkv
func.func @two_sources(%x: tensor<?x?x24xf32>, %k: tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
  %s:3 = gpt.split %x {axis = 2 : i64} : tensor<?x?x24xf32> -> tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>
  %o = gpt.attention %s#0, %k, %s#2 {causal, num_heads = 2 : i64, scale = 0.5 : f32} : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  return %o : tensor<?x?x8xf32>
}

// -----

// Near miss: a split on the sequence axis.
// CHECK-LABEL: func.func @seq_axis
// CHECK-NOT: attention_qkv
func.func @seq_axis(%x: tensor<2x12x8xf32>) -> tensor<2x4x8xf32> {
  %s:3 = gpt.split %x {axis = 1 : i64} : tensor<2x12x8xf32> -> tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>
  %o = gpt.attention %s#0, %s#1, %s#2 {causal, num_heads = 2 : i64, scale = 0.5 : f32} : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  return %o : tensor<2x4x8xf32>
}

// -----

// Near miss: the key gradient is also read elsewhere, so the backward stays
// unpacked (the forward still packs, and the split stays for the backward).
// CHECK-LABEL: func.func @grad_used_twice
// CHECK: gpt.split
// CHECK: gpt.attention_qkv %arg0
// CHECK: gpt.attention_grad
// CHECK: gpt.concat
func.func @grad_used_twice(%x: tensor<?x?x24xf32>, %dout: tensor<?x?x8xf32>) -> (tensor<?x?x24xf32>, tensor<?x?x8xf32>) {
  %s:3 = gpt.split %x {axis = 2 : i64} : tensor<?x?x24xf32> -> tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>
  %o, %lse = gpt.attention_with_lse %s#0, %s#1, %s#2 {causal, num_heads = 2 : i64, scale = 0.5 : f32} : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x8xf32>, tensor<?x2x?xf32>
  %dq, %dk, %dv = gpt.attention_grad %dout, %s#0, %s#1, %s#2, %o, %lse {causal, num_heads = 2 : i64, scale = 0.5 : f32} : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x2x?xf32> -> tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>
  %dx = gpt.concat %dq, %dk, %dv {axis = 2 : i64} : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x24xf32>
  return %dx, %dk : tensor<?x?x24xf32>, tensor<?x?x8xf32>
}
