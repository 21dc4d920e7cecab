// Positive and negative cases of --gpt-fuse-elementwise.
// RUN: gpt-opt %s --gpt-fuse-elementwise --split-input-file | FileCheck %s

// Bias add -> gelu becomes one fusion; the linear stays outside.
// CHECK-LABEL: func.func @bias_gelu
// CHECK: %[[L:.*]] = gpt.linear %arg0, %arg1 :
// CHECK: %[[F:.*]] = gpt.fusion(%[[L]], %arg2) : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32> {
// CHECK-NEXT: ^bb0(%[[A:.*]]: tensor<?x?x64xf32>, %[[B:.*]]: tensor<64xf32>):
// CHECK-NEXT:   %[[S:.*]] = gpt.add %[[A]], %[[B]]
// CHECK-NEXT:   %[[G:.*]] = gpt.gelu %[[S]]
// CHECK-NEXT:   gpt.yield %[[G]]
// CHECK-NEXT: }
// CHECK-NEXT: return %[[F]]
func.func @bias_gelu(%x: tensor<?x?x16xf32>, %w: tensor<16x64xf32>, %b: tensor<64xf32>) -> tensor<?x?x64xf32> {
  %l = gpt.linear %x, %w : tensor<?x?x16xf32>, tensor<16x64xf32> -> tensor<?x?x64xf32>
  %a = gpt.add %l, %b : tensor<?x?x64xf32>, tensor<64xf32>
  %g = gpt.gelu %a : tensor<?x?x64xf32>
  return %g : tensor<?x?x64xf32>
}

// -----

// Bias add + residual add feeding layernorm: one fusion, two results (the
// residual stream is needed later, the normalized value now).
// CHECK-LABEL: func.func @residual_layernorm
// CHECK: %[[F:.*]]:2 = gpt.fusion(%{{.*}}, %arg3, %arg0, %arg4, %arg5)
// CHECK:   gpt.add
// CHECK:   gpt.add
// CHECK:   gpt.layernorm
// CHECK:   gpt.yield
// CHECK: return %[[F]]#0, %[[F]]#1
func.func @residual_layernorm(%x: tensor<?x?x16xf32>, %h: tensor<?x?x64xf32>, %w: tensor<64x16xf32>,
                              %b: tensor<16xf32>, %g: tensor<16xf32>, %beta: tensor<16xf32>)
    -> (tensor<?x?x16xf32>, tensor<?x?x16xf32>) {
  %l = gpt.linear %h, %w : tensor<?x?x64xf32>, tensor<64x16xf32> -> tensor<?x?x16xf32>
  %a = gpt.add %l, %b : tensor<?x?x16xf32>, tensor<16xf32>
  %r = gpt.add %x, %a : tensor<?x?x16xf32>, tensor<?x?x16xf32>
  %n = gpt.layernorm %r, %g, %beta {epsilon = 1.0e-5 : f32} : tensor<?x?x16xf32>, tensor<16xf32>, tensor<16xf32> -> tensor<?x?x16xf32>
  return %r, %n : tensor<?x?x16xf32>, tensor<?x?x16xf32>
}

// -----

// A lone bias add after a bias-less linear is folded into the linear.
// CHECK-LABEL: func.func @lone_bias
// CHECK-NEXT: %[[L:.*]] = gpt.linear %arg0, %arg1 bias %arg2 :
// CHECK-NEXT: return %[[L]]
func.func @lone_bias(%x: tensor<?x?x16xf32>, %w: tensor<16x48xf32>, %b: tensor<48xf32>) -> tensor<?x?x48xf32> {
  %l = gpt.linear %x, %w : tensor<?x?x16xf32>, tensor<16x48xf32> -> tensor<?x?x48xf32>
  %a = gpt.add %l, %b : tensor<?x?x48xf32>, tensor<48xf32>
  return %a : tensor<?x?x48xf32>
}

// -----

// Near miss: a single elementwise op gains nothing from a fusion.
// CHECK-LABEL: func.func @single_op
// CHECK-NOT: gpt.fusion
// CHECK: gpt.gelu
func.func @single_op(%x: tensor<?x16xf32>) -> tensor<?x16xf32> {
  %g = gpt.gelu %x : tensor<?x16xf32>
  return %g : tensor<?x16xf32>
}

// -----

// Near miss: a layernorm with no elementwise producer is not a fusion.
// CHECK-LABEL: func.func @lone_layernorm
// CHECK-NOT: gpt.fusion
func.func @lone_layernorm(%x: tensor<?x16xf32>, %g: tensor<16xf32>, %b: tensor<16xf32>) -> tensor<?x16xf32> {
  %n = gpt.layernorm %x, %g, %b {epsilon = 1.0e-5 : f32} : tensor<?x16xf32>, tensor<16xf32>, tensor<16xf32> -> tensor<?x16xf32>
  return %n : tensor<?x16xf32>
}

// -----

// Near miss: %a feeds a matmul that the gelu needs, so grouping add and gelu
// would move the add past its user (a cycle). Nothing is fused.
// CHECK-LABEL: func.func @would_cycle
// CHECK-NOT: gpt.fusion
// CHECK: gpt.add
// CHECK: gpt.linear
// CHECK: gpt.mul
func.func @would_cycle(%x: tensor<?x16xf32>, %w: tensor<16x16xf32>) -> tensor<?x16xf32> {
  %a = gpt.add %x, %x : tensor<?x16xf32>, tensor<?x16xf32>
  %l = gpt.linear %a, %w : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %m = gpt.mul %a, %l : tensor<?x16xf32>, tensor<?x16xf32>
  return %m : tensor<?x16xf32>
}

// -----

// Near miss: an elementwise op after a layernorm starts a new group; the
// layernorm closes the first one.
// CHECK-LABEL: func.func @after_layernorm
// CHECK: %[[F:.*]]:2 = gpt.fusion
// CHECK:   gpt.add
// CHECK:   gpt.layernorm
// CHECK: }
// CHECK: %[[G:.*]] = gpt.fusion(%[[F]]#1)
// CHECK:   gpt.gelu
// CHECK:   gpt.scale
// CHECK: }
func.func @after_layernorm(%x: tensor<?x16xf32>, %g: tensor<16xf32>, %b: tensor<16xf32>) -> (tensor<?x16xf32>, tensor<?x16xf32>) {
  %a = gpt.add %x, %x : tensor<?x16xf32>, tensor<?x16xf32>
  %n = gpt.layernorm %a, %g, %b {epsilon = 1.0e-5 : f32} : tensor<?x16xf32>, tensor<16xf32>, tensor<16xf32> -> tensor<?x16xf32>
  %e = gpt.gelu %n : tensor<?x16xf32>
  %s = gpt.scale %e {factor = 2.0 : f32} : tensor<?x16xf32>
  return %a, %s : tensor<?x16xf32>, tensor<?x16xf32>
}

// -----

// Near miss: a bias add whose linear result is also used elsewhere is not
// folded (the bias-less value would still be needed).
// CHECK-LABEL: func.func @shared_linear
// CHECK: %[[L:.*]] = gpt.linear %arg0, %arg1 :
// CHECK: gpt.add %[[L]], %arg2
func.func @shared_linear(%x: tensor<?x16xf32>, %w: tensor<16x16xf32>, %b: tensor<16xf32>) -> (tensor<?x16xf32>, tensor<?x16xf32>) {
  %l = gpt.linear %x, %w : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %a = gpt.add %l, %b : tensor<?x16xf32>, tensor<16xf32>
  return %a, %l : tensor<?x16xf32>, tensor<?x16xf32>
}
