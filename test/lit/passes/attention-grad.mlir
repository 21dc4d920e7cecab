// Attention is differentiated through gpt.attention_with_lse + the fused
// flash backward; the split's gradient is a concat of dq, dk, dv.
// RUN: gpt-opt %s --gpt-autodiff | FileCheck %s

// CHECK-LABEL: func.func @loss_grad
// CHECK: %[[Q:.*]]:3 = gpt.split %arg0
// CHECK: %[[O:.*]], %[[LSE:.*]] = gpt.attention_with_lse %[[Q]]#0, %[[Q]]#1, %[[Q]]#2 {causal, num_heads = 2 : i64, scale = 5.000000e-01 : f32} : {{.*}} -> tensor<?x?x8xf32>, tensor<?x2x?xf32>
// CHECK-NOT: gpt.attention %
// CHECK: %[[DQ:.*]], %[[DK:.*]], %[[DV:.*]] = gpt.attention_grad %{{.*}}, %[[Q]]#0, %[[Q]]#1, %[[Q]]#2, %[[O]], %[[LSE]]
// CHECK: gpt.concat %[[DQ]], %[[DK]], %[[DV]] {axis = 2 : i64} : {{.*}} -> tensor<?x?x24xf32>
func.func @loss(%qkv: tensor<?x?x24xf32> {gpt.param = "qkv"}, %t: tensor<?x?xi32> {gpt.input = "targets"}) -> tensor<f32> {
  %q, %k, %v = gpt.split %qkv {axis = 2 : i64} : tensor<?x?x24xf32> -> tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>
  %o = gpt.attention %q, %k, %v {num_heads = 2 : i64, scale = 0.5 : f32, causal} : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %l = gpt.cross_entropy %o, %t : tensor<?x?x8xf32>, tensor<?x?xi32> -> tensor<f32>
  return %l : tensor<f32>
}
