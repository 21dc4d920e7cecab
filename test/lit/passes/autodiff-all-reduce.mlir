// The gradient rule of gpt.all_reduce: the same reduction of the result
// gradients, with zeros for a result nothing depends on (every rank must
// pass the same bucket).
// RUN: gpt-opt %s --gpt-autodiff | FileCheck %s

// CHECK-LABEL: func.func @loss_grad
// CHECK: %[[R:.*]]:2 = gpt.all_reduce mean over "data" %arg2, %arg3 : tensor<8xf32>, tensor<8xf32>
// CHECK: gpt.cross_entropy_grad
// CHECK: %[[DR0:.*]] = gpt.sum_leading %{{.*}} : tensor<?x?x8xf32> -> tensor<8xf32>
// CHECK: %[[Z:.*]] = gpt.zeros_like %arg3
// CHECK: %[[DW:.*]]:2 = gpt.all_reduce mean over "data" %[[DR0]], %[[Z]] : tensor<8xf32>, tensor<8xf32>
// CHECK: return %{{.*}}, %[[DW]]#0, %[[DW]]#1
func.func @loss(%x: tensor<?x?x8xf32> {gpt.input = "x"}, %t: tensor<?x?xi32> {gpt.input = "targets"},
                %w: tensor<8xf32> {gpt.param = "w"}, %u: tensor<8xf32> {gpt.param = "u"}) -> tensor<f32> {
  %r:2 = gpt.all_reduce mean over "data" %w, %u : tensor<8xf32>, tensor<8xf32>
  %s = gpt.add %x, %r#0 : tensor<?x?x8xf32>, tensor<8xf32>
  %l = gpt.cross_entropy %s, %t : tensor<?x?x8xf32>, tensor<?x?xi32> -> tensor<f32>
  return %l : tensor<f32>
}
