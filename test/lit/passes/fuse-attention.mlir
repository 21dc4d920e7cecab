// Positive and negative cases of --gpt-fuse-attention.
// RUN: gpt-opt %s --gpt-fuse-attention --split-input-file | FileCheck %s

// The form the frontend emits.
// CHECK-LABEL: func.func @canonical
// CHECK: %[[O:.*]] = gpt.attention %arg0, %arg1, %arg2 {causal, num_heads = 4 : i64, scale = 5.000000e-01 : f32} : tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32> -> tensor<?x?x16xf32>
// CHECK-NOT: gpt.softmax
// CHECK-NOT: gpt.matmul
// CHECK: return %[[O]]
func.func @canonical(%q: tensor<?x?x16xf32>, %k: tensor<?x?x16xf32>, %v: tensor<?x?x16xf32>) -> tensor<?x?x16xf32> {
  %q4 = gpt.reshape %q : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %qh = gpt.transpose %q4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %k4 = gpt.reshape %k : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %kh = gpt.transpose %k4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %v4 = gpt.reshape %v : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %vh = gpt.transpose %v4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %s = gpt.matmul %qh, %kh {transpose_rhs} : tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32> -> tensor<?x4x?x?xf32>
  %sc = gpt.scale %s {factor = 0.5 : f32} : tensor<?x4x?x?xf32>
  %m = gpt.causal_mask %sc : tensor<?x4x?x?xf32>
  %p = gpt.softmax %m {axis = 3 : i64} : tensor<?x4x?x?xf32>
  %o = gpt.matmul %p, %vh : tensor<?x4x?x?xf32>, tensor<?x4x?x4xf32> -> tensor<?x4x?x4xf32>
  %ot = gpt.transpose %o {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x4x?x4xf32> -> tensor<?x?x4x4xf32>
  %out = gpt.reshape %ot : tensor<?x?x4x4xf32> -> tensor<?x?x16xf32>
  return %out : tensor<?x?x16xf32>
}

// -----

// K transposed while its heads are split.
// CHECK-LABEL: func.func @key_split_transposed
// CHECK: %[[O:.*]] = gpt.attention %arg0, %arg1, %arg2 {causal, num_heads = 4 : i64, scale = 5.000000e-01 : f32} : tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32> -> tensor<?x?x16xf32>
// CHECK-NOT: gpt.softmax
// CHECK-NOT: gpt.matmul
// CHECK: return %[[O]]
func.func @key_split_transposed(%q: tensor<?x?x16xf32>, %k: tensor<?x?x16xf32>, %v: tensor<?x?x16xf32>) -> tensor<?x?x16xf32> {
  %q4 = gpt.reshape %q : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %qh = gpt.transpose %q4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %k4 = gpt.reshape %k : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %kh = gpt.transpose %k4 {permutation = array<i64: 0, 2, 3, 1>} : tensor<?x?x4x4xf32> -> tensor<?x4x4x?xf32>
  %v4 = gpt.reshape %v : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %vh = gpt.transpose %v4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %s = gpt.matmul %qh, %kh : tensor<?x4x?x4xf32>, tensor<?x4x4x?xf32> -> tensor<?x4x?x?xf32>
  %sc = gpt.scale %s {factor = 0.5 : f32} : tensor<?x4x?x?xf32>
  %m = gpt.causal_mask %sc : tensor<?x4x?x?xf32>
  %p = gpt.softmax %m {axis = 3 : i64} : tensor<?x4x?x?xf32>
  %o = gpt.matmul %p, %vh : tensor<?x4x?x?xf32>, tensor<?x4x?x4xf32> -> tensor<?x4x?x4xf32>
  %ot = gpt.transpose %o {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x4x?x4xf32> -> tensor<?x?x4x4xf32>
  %out = gpt.reshape %ot : tensor<?x?x4x4xf32> -> tensor<?x?x16xf32>
  return %out : tensor<?x?x16xf32>
}

// -----

// Mask before scale (equivalent for a positive scale).
// CHECK-LABEL: func.func @mask_then_scale
// CHECK: %[[O:.*]] = gpt.attention %arg0, %arg1, %arg2 {causal, num_heads = 4 : i64, scale = 5.000000e-01 : f32} : tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32> -> tensor<?x?x16xf32>
// CHECK-NOT: gpt.softmax
// CHECK-NOT: gpt.matmul
// CHECK: return %[[O]]
func.func @mask_then_scale(%q: tensor<?x?x16xf32>, %k: tensor<?x?x16xf32>, %v: tensor<?x?x16xf32>) -> tensor<?x?x16xf32> {
  %q4 = gpt.reshape %q : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %qh = gpt.transpose %q4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %k4 = gpt.reshape %k : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %kh = gpt.transpose %k4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %v4 = gpt.reshape %v : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %vh = gpt.transpose %v4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %s = gpt.matmul %qh, %kh {transpose_rhs} : tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32> -> tensor<?x4x?x?xf32>
  %m = gpt.causal_mask %s : tensor<?x4x?x?xf32>
  %sc = gpt.scale %m {factor = 0.5 : f32} : tensor<?x4x?x?xf32>
  %p = gpt.softmax %sc {axis = 3 : i64} : tensor<?x4x?x?xf32>
  %o = gpt.matmul %p, %vh : tensor<?x4x?x?xf32>, tensor<?x4x?x4xf32> -> tensor<?x4x?x4xf32>
  %ot = gpt.transpose %o {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x4x?x4xf32> -> tensor<?x?x4x4xf32>
  %out = gpt.reshape %ot : tensor<?x?x4x4xf32> -> tensor<?x?x16xf32>
  return %out : tensor<?x?x16xf32>
}

// -----

// Scale written as a multiply by a constant splat.
// CHECK-LABEL: func.func @scale_by_constant_mul
// CHECK: %[[O:.*]] = gpt.attention %arg0, %arg1, %arg2 {causal, num_heads = 4 : i64, scale = 5.000000e-01 : f32} : tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32> -> tensor<?x?x16xf32>
// CHECK-NOT: gpt.softmax
// CHECK-NOT: gpt.matmul
// CHECK: return %[[O]]
func.func @scale_by_constant_mul(%q: tensor<?x?x16xf32>, %k: tensor<?x?x16xf32>, %v: tensor<?x?x16xf32>) -> tensor<?x?x16xf32> {
  %q4 = gpt.reshape %q : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %qh = gpt.transpose %q4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %k4 = gpt.reshape %k : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %kh = gpt.transpose %k4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %v4 = gpt.reshape %v : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %vh = gpt.transpose %v4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %s = gpt.matmul %qh, %kh {transpose_rhs} : tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32> -> tensor<?x4x?x?xf32>
  %c = arith.constant dense<0.5> : tensor<f32>
  %sc = gpt.mul %s, %c : tensor<?x4x?x?xf32>, tensor<f32>
  %m = gpt.causal_mask %sc : tensor<?x4x?x?xf32>
  %p = gpt.softmax %m {axis = 3 : i64} : tensor<?x4x?x?xf32>
  %o = gpt.matmul %p, %vh : tensor<?x4x?x?xf32>, tensor<?x4x?x4xf32> -> tensor<?x4x?x4xf32>
  %ot = gpt.transpose %o {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x4x?x4xf32> -> tensor<?x?x4x4xf32>
  %out = gpt.reshape %ot : tensor<?x?x4x4xf32> -> tensor<?x?x16xf32>
  return %out : tensor<?x?x16xf32>
}

// -----

// Near miss: no causal mask.
// CHECK-LABEL: func.func @no_mask
// CHECK-NOT: gpt.attention
// CHECK: gpt.softmax
func.func @no_mask(%q: tensor<?x?x16xf32>, %k: tensor<?x?x16xf32>, %v: tensor<?x?x16xf32>) -> tensor<?x?x16xf32> {
  %q4 = gpt.reshape %q : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %qh = gpt.transpose %q4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %k4 = gpt.reshape %k : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %kh = gpt.transpose %k4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %v4 = gpt.reshape %v : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %vh = gpt.transpose %v4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %s = gpt.matmul %qh, %kh {transpose_rhs} : tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32> -> tensor<?x4x?x?xf32>
  %sc = gpt.scale %s {factor = 0.5 : f32} : tensor<?x4x?x?xf32>
  %p = gpt.softmax %sc {axis = 3 : i64} : tensor<?x4x?x?xf32>
  %o = gpt.matmul %p, %vh : tensor<?x4x?x?xf32>, tensor<?x4x?x4xf32> -> tensor<?x4x?x4xf32>
  %ot = gpt.transpose %o {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x4x?x4xf32> -> tensor<?x?x4x4xf32>
  %out = gpt.reshape %ot : tensor<?x?x4x4xf32> -> tensor<?x?x16xf32>
  return %out : tensor<?x?x16xf32>
}

// -----

// Near miss: softmax over the query axis.
// CHECK-LABEL: func.func @wrong_axis
// CHECK-NOT: gpt.attention
// CHECK: gpt.softmax
func.func @wrong_axis(%q: tensor<?x?x16xf32>, %k: tensor<?x?x16xf32>, %v: tensor<?x?x16xf32>) -> tensor<?x?x16xf32> {
  %q4 = gpt.reshape %q : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %qh = gpt.transpose %q4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %k4 = gpt.reshape %k : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %kh = gpt.transpose %k4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %v4 = gpt.reshape %v : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %vh = gpt.transpose %v4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %s = gpt.matmul %qh, %kh {transpose_rhs} : tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32> -> tensor<?x4x?x?xf32>
  %sc = gpt.scale %s {factor = 0.5 : f32} : tensor<?x4x?x?xf32>
  %m = gpt.causal_mask %sc : tensor<?x4x?x?xf32>
  %p = gpt.softmax %m {axis = 2 : i64} : tensor<?x4x?x?xf32>
  %o = gpt.matmul %p, %vh : tensor<?x4x?x?xf32>, tensor<?x4x?x4xf32> -> tensor<?x4x?x4xf32>
  %ot = gpt.transpose %o {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x4x?x4xf32> -> tensor<?x?x4x4xf32>
  %out = gpt.reshape %ot : tensor<?x?x4x4xf32> -> tensor<?x?x16xf32>
  return %out : tensor<?x?x16xf32>
}

// -----

// Near miss: K not transposed (q·k instead of q·kᵀ).
// CHECK-LABEL: func.func @key_not_transposed
// CHECK-NOT: gpt.attention
// CHECK: gpt.softmax
func.func @key_not_transposed(%q: tensor<?x?x16xf32>, %k: tensor<?x?x16xf32>, %v: tensor<?x?x16xf32>) -> tensor<?x?x16xf32> {
  %q4 = gpt.reshape %q : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %qh = gpt.transpose %q4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %k4 = gpt.reshape %k : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %kh = gpt.transpose %k4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %v4 = gpt.reshape %v : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %vh = gpt.transpose %v4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %s = gpt.matmul %qh, %kh : tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32> -> tensor<?x4x?x?xf32>
  %sc = gpt.scale %s {factor = 0.5 : f32} : tensor<?x4x?x?xf32>
  %m = gpt.causal_mask %sc : tensor<?x4x?x?xf32>
  %p = gpt.softmax %m {axis = 3 : i64} : tensor<?x4x?x?xf32>
  %o = gpt.matmul %p, %vh : tensor<?x4x?x?xf32>, tensor<?x4x?x4xf32> -> tensor<?x4x?x4xf32>
  %ot = gpt.transpose %o {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x4x?x4xf32> -> tensor<?x?x4x4xf32>
  %out = gpt.reshape %ot : tensor<?x?x4x4xf32> -> tensor<?x?x16xf32>
  return %out : tensor<?x?x16xf32>
}

// -----

// Near miss: the scale is not 1/sqrt(Dh) = 0.5.
// CHECK-LABEL: func.func @wrong_scale
// CHECK-NOT: gpt.attention
// CHECK: gpt.softmax
func.func @wrong_scale(%q: tensor<?x?x16xf32>, %k: tensor<?x?x16xf32>, %v: tensor<?x?x16xf32>) -> tensor<?x?x16xf32> {
  %q4 = gpt.reshape %q : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %qh = gpt.transpose %q4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %k4 = gpt.reshape %k : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %kh = gpt.transpose %k4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %v4 = gpt.reshape %v : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %vh = gpt.transpose %v4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %s = gpt.matmul %qh, %kh {transpose_rhs} : tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32> -> tensor<?x4x?x?xf32>
  %sc = gpt.scale %s {factor = 0.25 : f32} : tensor<?x4x?x?xf32>
  %m = gpt.causal_mask %sc : tensor<?x4x?x?xf32>
  %p = gpt.softmax %m {axis = 3 : i64} : tensor<?x4x?x?xf32>
  %o = gpt.matmul %p, %vh : tensor<?x4x?x?xf32>, tensor<?x4x?x4xf32> -> tensor<?x4x?x4xf32>
  %ot = gpt.transpose %o {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x4x?x4xf32> -> tensor<?x?x4x4xf32>
  %out = gpt.reshape %ot : tensor<?x?x4x4xf32> -> tensor<?x?x16xf32>
  return %out : tensor<?x?x16xf32>
}

// -----

// Near miss: the scale is not a constant.
// CHECK-LABEL: func.func @non_constant_scale
// CHECK-NOT: gpt.attention
// CHECK: gpt.softmax
func.func @non_constant_scale(%q: tensor<?x?x16xf32>, %k: tensor<?x?x16xf32>, %v: tensor<?x?x16xf32>, %f: tensor<f32>) -> tensor<?x?x16xf32> {
  %q4 = gpt.reshape %q : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %qh = gpt.transpose %q4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %k4 = gpt.reshape %k : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %kh = gpt.transpose %k4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %v4 = gpt.reshape %v : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %vh = gpt.transpose %v4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %s = gpt.matmul %qh, %kh {transpose_rhs} : tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32> -> tensor<?x4x?x?xf32>
  %sc = gpt.mul %s, %f : tensor<?x4x?x?xf32>, tensor<f32>
  %m = gpt.causal_mask %sc : tensor<?x4x?x?xf32>
  %p = gpt.softmax %m {axis = 3 : i64} : tensor<?x4x?x?xf32>
  %o = gpt.matmul %p, %vh : tensor<?x4x?x?xf32>, tensor<?x4x?x4xf32> -> tensor<?x4x?x4xf32>
  %ot = gpt.transpose %o {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x4x?x4xf32> -> tensor<?x?x4x4xf32>
  %out = gpt.reshape %ot : tensor<?x?x4x4xf32> -> tensor<?x?x16xf32>
  return %out : tensor<?x?x16xf32>
}

// -----

// Near miss: the probabilities are returned too.
// CHECK-LABEL: func.func @probs_used_elsewhere
// CHECK-NOT: gpt.attention
// CHECK: gpt.softmax
func.func @probs_used_elsewhere(%q: tensor<?x?x16xf32>, %k: tensor<?x?x16xf32>, %v: tensor<?x?x16xf32>) -> (tensor<?x?x16xf32>, tensor<?x4x?x?xf32>) {
  %q4 = gpt.reshape %q : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %qh = gpt.transpose %q4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %k4 = gpt.reshape %k : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %kh = gpt.transpose %k4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %v4 = gpt.reshape %v : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %vh = gpt.transpose %v4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %s = gpt.matmul %qh, %kh {transpose_rhs} : tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32> -> tensor<?x4x?x?xf32>
  %sc = gpt.scale %s {factor = 0.5 : f32} : tensor<?x4x?x?xf32>
  %m = gpt.causal_mask %sc : tensor<?x4x?x?xf32>
  %p = gpt.softmax %m {axis = 3 : i64} : tensor<?x4x?x?xf32>
  %o = gpt.matmul %p, %vh : tensor<?x4x?x?xf32>, tensor<?x4x?x4xf32> -> tensor<?x4x?x4xf32>
  %ot = gpt.transpose %o {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x4x?x4xf32> -> tensor<?x?x4x4xf32>
  %out = gpt.reshape %ot : tensor<?x?x4x4xf32> -> tensor<?x?x16xf32>
  return %out, %p : tensor<?x?x16xf32>, tensor<?x4x?x?xf32>
}

// -----

// Near miss: the raw scores are returned too.
// CHECK-LABEL: func.func @scores_used_elsewhere
// CHECK-NOT: gpt.attention
// CHECK: gpt.softmax
func.func @scores_used_elsewhere(%q: tensor<?x?x16xf32>, %k: tensor<?x?x16xf32>, %v: tensor<?x?x16xf32>) -> (tensor<?x?x16xf32>, tensor<?x4x?x?xf32>) {
  %q4 = gpt.reshape %q : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %qh = gpt.transpose %q4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %k4 = gpt.reshape %k : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %kh = gpt.transpose %k4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %v4 = gpt.reshape %v : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %vh = gpt.transpose %v4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %s = gpt.matmul %qh, %kh {transpose_rhs} : tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32> -> tensor<?x4x?x?xf32>
  %sc = gpt.scale %s {factor = 0.5 : f32} : tensor<?x4x?x?xf32>
  %m = gpt.causal_mask %sc : tensor<?x4x?x?xf32>
  %p = gpt.softmax %m {axis = 3 : i64} : tensor<?x4x?x?xf32>
  %o = gpt.matmul %p, %vh : tensor<?x4x?x?xf32>, tensor<?x4x?x4xf32> -> tensor<?x4x?x4xf32>
  %ot = gpt.transpose %o {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x4x?x4xf32> -> tensor<?x?x4x4xf32>
  %out = gpt.reshape %ot : tensor<?x?x4x4xf32> -> tensor<?x?x16xf32>
  return %out, %s : tensor<?x?x16xf32>, tensor<?x4x?x?xf32>
}

