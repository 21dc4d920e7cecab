// Round trip of every gpt op: parse, verify, print, parse again.
// RUN: gpt-opt %s | gpt-opt | FileCheck %s
// RUN: gpt-opt %s --mlir-print-op-generic | gpt-opt | FileCheck %s

// CHECK-LABEL: func.func @embeddings
func.func @embeddings(%wte: tensor<100x16xf32>, %wpe: tensor<32x16xf32>,
                      %ids: tensor<?x?xi32>) -> tensor<?x?x16xf32> {
  // CHECK: gpt.embedding %{{.*}}, %{{.*}} : tensor<100x16xf32>, tensor<?x?xi32> -> tensor<?x?x16xf32>
  %t = gpt.embedding %wte, %ids : tensor<100x16xf32>, tensor<?x?xi32> -> tensor<?x?x16xf32>
  // CHECK: gpt.position_embedding %{{.*}}, %{{.*}} : tensor<32x16xf32>, tensor<?x?xi32> -> tensor<?x?x16xf32>
  %p = gpt.position_embedding %wpe, %ids : tensor<32x16xf32>, tensor<?x?xi32> -> tensor<?x?x16xf32>
  // CHECK: gpt.add %{{.*}}, %{{.*}} : tensor<?x?x16xf32>, tensor<?x?x16xf32>
  %x = gpt.add %t, %p : tensor<?x?x16xf32>, tensor<?x?x16xf32>
  return %x : tensor<?x?x16xf32>
}

// CHECK-LABEL: func.func @rope
func.func @rope(%qkv: tensor<?x?x48xf32>, %start: tensor<?xi32>) -> (tensor<?x?x48xf32>, tensor<?x?x48xf32>) {
  // CHECK: gpt.rope %{{.*}} {columns = 32 : i64, head_dim = 4 : i64, theta = 1.000000e+04 : f32} : tensor<?x?x48xf32> -> tensor<?x?x48xf32>
  %r = gpt.rope %qkv {head_dim = 4 : i64, columns = 32 : i64, theta = 1.0e4 : f32} : tensor<?x?x48xf32> -> tensor<?x?x48xf32>
  // CHECK: gpt.rope %{{.*}} start %{{.*}} {columns = 32 : i64, head_dim = 4 : i64, inverse, theta = 5.000000e+02 : f32} : tensor<?x?x48xf32>, tensor<?xi32> -> tensor<?x?x48xf32>
  %s = gpt.rope %qkv start %start {head_dim = 4 : i64, columns = 32 : i64, theta = 500.0 : f32, inverse} : tensor<?x?x48xf32>, tensor<?xi32> -> tensor<?x?x48xf32>
  return %r, %s : tensor<?x?x48xf32>, tensor<?x?x48xf32>
}

// CHECK-LABEL: func.func @norm_and_linear
func.func @norm_and_linear(%x: tensor<?x?x16xf32>, %g: tensor<16xf32>, %b: tensor<16xf32>,
                           %w: tensor<16x48xf32>, %bias: tensor<48xf32>,
                           %wte: tensor<100x16xf32>) -> (tensor<?x?x48xf32>, tensor<?x?x100xf32>) {
  // CHECK: gpt.layernorm {{.*}} {epsilon = 9.99999974E-6 : f32}
  %n = gpt.layernorm %x, %g, %b {epsilon = 1.0e-5 : f32} : tensor<?x?x16xf32>, tensor<16xf32>, tensor<16xf32> -> tensor<?x?x16xf32>
  // CHECK: gpt.linear %{{.*}}, %{{.*}} bias %{{.*}} : tensor<?x?x16xf32>, tensor<16x48xf32>, tensor<48xf32> -> tensor<?x?x48xf32>
  %y = gpt.linear %n, %w bias %bias : tensor<?x?x16xf32>, tensor<16x48xf32>, tensor<48xf32> -> tensor<?x?x48xf32>
  // CHECK: gpt.linear %{{.*}}, %{{.*}} {transpose_weight} : tensor<?x?x16xf32>, tensor<100x16xf32> -> tensor<?x?x100xf32>
  %l = gpt.linear %n, %wte {transpose_weight} : tensor<?x?x16xf32>, tensor<100x16xf32> -> tensor<?x?x100xf32>
  return %y, %l : tensor<?x?x48xf32>, tensor<?x?x100xf32>
}

// CHECK-LABEL: func.func @elementwise
func.func @elementwise(%x: tensor<?x?x16xf32>, %b: tensor<16xf32>) -> tensor<?x?x16xf32> {
  // CHECK: gpt.add %{{.*}}, %{{.*}} : tensor<?x?x16xf32>, tensor<16xf32>
  %a = gpt.add %x, %b : tensor<?x?x16xf32>, tensor<16xf32>
  // CHECK: gpt.mul %{{.*}}, %{{.*}} : tensor<?x?x16xf32>, tensor<?x?x16xf32>
  %m = gpt.mul %a, %x : tensor<?x?x16xf32>, tensor<?x?x16xf32>
  // CHECK: gpt.scale %{{.*}} {factor = 5.000000e-01 : f32} : tensor<?x?x16xf32>
  %s = gpt.scale %m {factor = 0.5 : f32} : tensor<?x?x16xf32>
  // CHECK: gpt.gelu %{{.*}} : tensor<?x?x16xf32>
  %g = gpt.gelu %s : tensor<?x?x16xf32>
  return %g : tensor<?x?x16xf32>
}

// CHECK-LABEL: func.func @attention_parts
func.func @attention_parts(%qkv: tensor<?x?x48xf32>) -> (tensor<?x?x16xf32>, tensor<?x4x?x?xf32>, tensor<?x4x?x?xf32>) {
  // CHECK: %{{.*}}:3 = gpt.split %{{.*}} {axis = 2 : i64} : tensor<?x?x48xf32> -> tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>
  %q, %k, %v = gpt.split %qkv {axis = 2 : i64} : tensor<?x?x48xf32> -> tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>
  // CHECK: gpt.reshape %{{.*}} : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %q4 = gpt.reshape %q : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  // CHECK: gpt.transpose %{{.*}} {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %qh = gpt.transpose %q4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  // CHECK: gpt.matmul %{{.*}}, %{{.*}} {transpose_rhs} : tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32> -> tensor<?x4x?x?xf32>
  %s = gpt.matmul %qh, %qh {transpose_rhs} : tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32> -> tensor<?x4x?x?xf32>
  // CHECK: gpt.causal_mask %{{.*}} : tensor<?x4x?x?xf32>
  %m = gpt.causal_mask %s : tensor<?x4x?x?xf32>
  // CHECK: gpt.softmax %{{.*}} {axis = -1 : i64} : tensor<?x4x?x?xf32>
  %p = gpt.softmax %m {axis = -1 : i64} : tensor<?x4x?x?xf32>
  // CHECK: gpt.scaled_masked_softmax %{{.*}} {causal, scale = 5.000000e-01 : f32} : tensor<?x4x?x?xf32>
  %f = gpt.scaled_masked_softmax %s {scale = 0.5 : f32, causal} : tensor<?x4x?x?xf32>
  // CHECK: gpt.attention %{{.*}}, %{{.*}}, %{{.*}} {causal, num_heads = 4 : i64, scale = 5.000000e-01 : f32} : tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32> -> tensor<?x?x16xf32>
  %o = gpt.attention %q, %k, %v {num_heads = 4 : i64, scale = 0.5 : f32, causal} : tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32> -> tensor<?x?x16xf32>
  return %o, %p, %f : tensor<?x?x16xf32>, tensor<?x4x?x?xf32>, tensor<?x4x?x?xf32>
}

// CHECK-LABEL: func.func @losses
func.func @losses(%logits: tensor<?x?x100xf32>, %targets: tensor<?x?xi32>, %w: tensor<?x?xf32>) -> (tensor<f32>, tensor<f32>) {
  // CHECK: gpt.cross_entropy %{{.*}}, %{{.*}} : tensor<?x?x100xf32>, tensor<?x?xi32> -> tensor<f32>
  %l = gpt.cross_entropy %logits, %targets : tensor<?x?x100xf32>, tensor<?x?xi32> -> tensor<f32>
  // CHECK: gpt.cross_entropy %{{.*}}, %{{.*}} weights %{{.*}} : tensor<?x?x100xf32>, tensor<?x?xi32>, tensor<?x?xf32> -> tensor<f32>
  %lw = gpt.cross_entropy %logits, %targets weights %w : tensor<?x?x100xf32>, tensor<?x?xi32>, tensor<?x?xf32> -> tensor<f32>
  return %l, %lw : tensor<f32>, tensor<f32>
}

// CHECK-LABEL: func.func @fusion
func.func @fusion(%x: tensor<?x?x16xf32>, %y: tensor<?x?x16xf32>, %g: tensor<16xf32>, %b: tensor<16xf32>) -> (tensor<?x?x16xf32>, tensor<?x?x16xf32>) {
  // CHECK: %{{.*}}:2 = gpt.fusion(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : (tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<16xf32>, tensor<16xf32>) -> (tensor<?x?x16xf32>, tensor<?x?x16xf32>) {
  // CHECK:   gpt.add
  // CHECK:   gpt.layernorm
  // CHECK:   gpt.yield %{{.*}}, %{{.*}} : tensor<?x?x16xf32>, tensor<?x?x16xf32>
  %r:2 = gpt.fusion (%x, %y, %g, %b) : (tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<16xf32>, tensor<16xf32>) -> (tensor<?x?x16xf32>, tensor<?x?x16xf32>) {
  ^bb0(%a: tensor<?x?x16xf32>, %c: tensor<?x?x16xf32>, %gg: tensor<16xf32>, %bb: tensor<16xf32>):
    %s = gpt.add %a, %c : tensor<?x?x16xf32>, tensor<?x?x16xf32>
    %n = gpt.layernorm %s, %gg, %bb {epsilon = 1.0e-5 : f32} : tensor<?x?x16xf32>, tensor<16xf32>, tensor<16xf32> -> tensor<?x?x16xf32>
    gpt.yield %s, %n : tensor<?x?x16xf32>, tensor<?x?x16xf32>
  }
  return %r#0, %r#1 : tensor<?x?x16xf32>, tensor<?x?x16xf32>
}

// CHECK-LABEL: func.func @all_reduce
// CHECK: %[[R:.*]]:2 = gpt.all_reduce mean over "data" %arg0, %arg1 : tensor<4x8xf32>, tensor<8xf32>
// CHECK: gpt.all_reduce sum over "data" %[[R]]#1 : tensor<8xf32>
func.func @all_reduce(%w: tensor<4x8xf32>, %b: tensor<8xf32>) -> (tensor<4x8xf32>, tensor<8xf32>) {
  %r:2 = gpt.all_reduce mean over "data" %w, %b : tensor<4x8xf32>, tensor<8xf32>
  %s = gpt.all_reduce sum over "data" %r#1 : tensor<8xf32>
  return %r#0, %s : tensor<4x8xf32>, tensor<8xf32>
}
