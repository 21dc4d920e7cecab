// Positive and negative cases of --gpt-fuse-softmax.
// RUN: gpt-opt %s --gpt-fuse-softmax --split-input-file | FileCheck %s

// CHECK-LABEL: func.func @scale_mask_softmax
// CHECK-NEXT: %[[R:.*]] = gpt.scaled_masked_softmax %arg0 {causal, scale = 2.500000e-01 : f32} : tensor<?x4x?x?xf32>
// CHECK-NEXT: return %[[R]]
func.func @scale_mask_softmax(%s: tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32> {
  %sc = gpt.scale %s {factor = 0.25 : f32} : tensor<?x4x?x?xf32>
  %m = gpt.causal_mask %sc : tensor<?x4x?x?xf32>
  %p = gpt.softmax %m {axis = -1 : i64} : tensor<?x4x?x?xf32>
  return %p : tensor<?x4x?x?xf32>
}

// -----

// CHECK-LABEL: func.func @mask_then_positive_scale
// CHECK-NEXT: gpt.scaled_masked_softmax %arg0 {causal, scale = 2.500000e-01 : f32}
func.func @mask_then_positive_scale(%s: tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32> {
  %m = gpt.causal_mask %s : tensor<?x4x?x?xf32>
  %sc = gpt.scale %m {factor = 0.25 : f32} : tensor<?x4x?x?xf32>
  %p = gpt.softmax %sc {axis = 3 : i64} : tensor<?x4x?x?xf32>
  return %p : tensor<?x4x?x?xf32>
}

// -----

// CHECK-LABEL: func.func @scale_only
// CHECK-NEXT: gpt.scaled_masked_softmax %arg0 {scale = 3.000000e+00 : f32} : tensor<8x16xf32>
func.func @scale_only(%s: tensor<8x16xf32>) -> tensor<8x16xf32> {
  %sc = gpt.scale %s {factor = 3.0 : f32} : tensor<8x16xf32>
  %p = gpt.softmax %sc {axis = 1 : i64} : tensor<8x16xf32>
  return %p : tensor<8x16xf32>
}

// -----

// CHECK-LABEL: func.func @mask_only
// CHECK-NEXT: gpt.scaled_masked_softmax %arg0 {causal, scale = 1.000000e+00 : f32}
func.func @mask_only(%s: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %m = gpt.causal_mask %s : tensor<?x?xf32>
  %p = gpt.softmax %m {axis = 1 : i64} : tensor<?x?xf32>
  return %p : tensor<?x?xf32>
}

// -----

// A scale that is not 1/sqrt(Dh) is left by attention fusion; it is still
// fused here.
// CHECK-LABEL: func.func @constant_mul_scale
// CHECK: gpt.scaled_masked_softmax %arg0 {causal, scale = 2.500000e-01 : f32}
func.func @constant_mul_scale(%s: tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32> {
  %c = arith.constant dense<0.25> : tensor<f32>
  %sc = gpt.mul %s, %c : tensor<?x4x?x?xf32>, tensor<f32>
  %m = gpt.causal_mask %sc : tensor<?x4x?x?xf32>
  %p = gpt.softmax %m {axis = 3 : i64} : tensor<?x4x?x?xf32>
  return %p : tensor<?x4x?x?xf32>
}

// -----

// Near miss: softmax over a non-last axis.
// CHECK-LABEL: func.func @not_last_axis
// CHECK-NOT: gpt.scaled_masked_softmax
// CHECK: gpt.softmax %{{.*}} {axis = 2 : i64}
func.func @not_last_axis(%s: tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32> {
  %m = gpt.causal_mask %s : tensor<?x4x?x?xf32>
  %p = gpt.softmax %m {axis = 2 : i64} : tensor<?x4x?x?xf32>
  return %p : tensor<?x4x?x?xf32>
}

// -----

// Near miss: a plain softmax has nothing to fuse.
// CHECK-LABEL: func.func @plain
// CHECK-NOT: gpt.scaled_masked_softmax
// CHECK: gpt.softmax
func.func @plain(%s: tensor<8x16xf32>) -> tensor<8x16xf32> {
  %p = gpt.softmax %s {axis = 1 : i64} : tensor<8x16xf32>
  return %p : tensor<8x16xf32>
}

// -----

// Near miss: the masked scores are used elsewhere, so the mask stays; only
// nothing above it is fused.
// CHECK-LABEL: func.func @mask_used_elsewhere
// CHECK: %[[M:.*]] = gpt.causal_mask
// CHECK: gpt.softmax %[[M]]
// CHECK-NOT: gpt.scaled_masked_softmax
func.func @mask_used_elsewhere(%s: tensor<?x?xf32>) -> (tensor<?x?xf32>, tensor<?x?xf32>) {
  %sc = gpt.scale %s {factor = 0.5 : f32} : tensor<?x?xf32>
  %m = gpt.causal_mask %sc : tensor<?x?xf32>
  %p = gpt.softmax %m {axis = 1 : i64} : tensor<?x?xf32>
  return %p, %m : tensor<?x?xf32>, tensor<?x?xf32>
}

// -----

// Near miss: a negative scale applied after the mask turns -inf into +inf;
// mask(scale * x) would differ, so nothing is fused.
// CHECK-LABEL: func.func @negative_scale_after_mask
// CHECK-NOT: gpt.scaled_masked_softmax
// CHECK: gpt.causal_mask
// CHECK: gpt.scale
// CHECK: gpt.softmax
func.func @negative_scale_after_mask(%s: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %m = gpt.causal_mask %s : tensor<?x?xf32>
  %sc = gpt.scale %m {factor = -1.0 : f32} : tensor<?x?xf32>
  %p = gpt.softmax %sc {axis = 1 : i64} : tensor<?x?xf32>
  return %p : tensor<?x?xf32>
}

// -----

// A negative scale applied before the mask is fine.
// CHECK-LABEL: func.func @negative_scale_before_mask
// CHECK-NEXT: gpt.scaled_masked_softmax %arg0 {causal, scale = -1.000000e+00 : f32}
func.func @negative_scale_before_mask(%s: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %sc = gpt.scale %s {factor = -1.0 : f32} : tensor<?x?xf32>
  %m = gpt.causal_mask %sc : tensor<?x?xf32>
  %p = gpt.softmax %m {axis = 1 : i64} : tensor<?x?xf32>
  return %p : tensor<?x?xf32>
}
