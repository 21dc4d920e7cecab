// Folds and canonicalization patterns of the gpt dialect.
// RUN: gpt-opt %s --canonicalize --split-input-file | FileCheck %s

// CHECK-LABEL: func.func @scale_by_one
// CHECK-NEXT: return %arg0
func.func @scale_by_one(%x: tensor<?x16xf32>) -> tensor<?x16xf32> {
  %s = gpt.scale %x {factor = 1.0 : f32} : tensor<?x16xf32>
  return %s : tensor<?x16xf32>
}

// -----

// CHECK-LABEL: func.func @scale_of_scale
// CHECK-NEXT: %[[S:.*]] = gpt.scale %arg0 {factor = 1.500000e+00 : f32}
// CHECK-NEXT: return %[[S]]
func.func @scale_of_scale(%x: tensor<?x16xf32>) -> tensor<?x16xf32> {
  %a = gpt.scale %x {factor = 0.5 : f32} : tensor<?x16xf32>
  %b = gpt.scale %a {factor = 3.0 : f32} : tensor<?x16xf32>
  return %b : tensor<?x16xf32>
}

// -----

// CHECK-LABEL: func.func @scale_kept
// CHECK-NEXT: gpt.scale %arg0 {factor = 2.000000e+00 : f32}
func.func @scale_kept(%x: tensor<?x16xf32>) -> tensor<?x16xf32> {
  %s = gpt.scale %x {factor = 2.0 : f32} : tensor<?x16xf32>
  return %s : tensor<?x16xf32>
}

// -----

// CHECK-LABEL: func.func @reshape_roundtrip
// CHECK-NEXT: return %arg0
func.func @reshape_roundtrip(%x: tensor<?x?x16xf32>) -> tensor<?x?x16xf32> {
  %a = gpt.reshape %x : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %b = gpt.reshape %a : tensor<?x?x4x4xf32> -> tensor<?x?x16xf32>
  return %b : tensor<?x?x16xf32>
}

// -----

// CHECK-LABEL: func.func @reshape_of_reshape
// CHECK-NEXT: %[[R:.*]] = gpt.reshape %arg0 : tensor<?x?x16xf32> -> tensor<?x?x2x8xf32>
// CHECK-NEXT: return %[[R]]
func.func @reshape_of_reshape(%x: tensor<?x?x16xf32>) -> tensor<?x?x2x8xf32> {
  %a = gpt.reshape %x : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %b = gpt.reshape %a : tensor<?x?x4x4xf32> -> tensor<?x?x2x8xf32>
  return %b : tensor<?x?x2x8xf32>
}

// -----

// A reshape that changes the shape is kept.
// CHECK-LABEL: func.func @reshape_kept
// CHECK-NEXT: gpt.reshape %arg0 : tensor<?x6x4xf32> -> tensor<?x24xf32>
func.func @reshape_kept(%x: tensor<?x6x4xf32>) -> tensor<?x24xf32> {
  %a = gpt.reshape %x : tensor<?x6x4xf32> -> tensor<?x24xf32>
  return %a : tensor<?x24xf32>
}

// -----

// CHECK-LABEL: func.func @transpose_inverse
// CHECK-NEXT: return %arg0
func.func @transpose_inverse(%x: tensor<?x?x4x4xf32>) -> tensor<?x?x4x4xf32> {
  %a = gpt.transpose %x {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %b = gpt.transpose %a {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x4x?x4xf32> -> tensor<?x?x4x4xf32>
  return %b : tensor<?x?x4x4xf32>
}

// -----

// CHECK-LABEL: func.func @transpose_compose
// CHECK-NEXT: %[[T:.*]] = gpt.transpose %arg0 {permutation = array<i64: 0, 2, 3, 1>} : tensor<2x3x4x5xf32> -> tensor<2x4x5x3xf32>
// CHECK-NEXT: return %[[T]]
func.func @transpose_compose(%x: tensor<2x3x4x5xf32>) -> tensor<2x4x5x3xf32> {
  %a = gpt.transpose %x {permutation = array<i64: 0, 2, 1, 3>} : tensor<2x3x4x5xf32> -> tensor<2x4x3x5xf32>
  %b = gpt.transpose %a {permutation = array<i64: 0, 1, 3, 2>} : tensor<2x4x3x5xf32> -> tensor<2x4x5x3xf32>
  return %b : tensor<2x4x5x3xf32>
}

// -----

// CHECK-LABEL: func.func @identity_transpose
// CHECK-NEXT: return %arg0
func.func @identity_transpose(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %a = gpt.transpose %x {permutation = array<i64: 0, 1>} : tensor<2x3xf32> -> tensor<2x3xf32>
  return %a : tensor<2x3xf32>
}
