// --gpt-autodiff builds @loss_grad: the loss, then one gradient per
// parameter in argument order, from each op's own gradient rule.
// RUN: gpt-opt %s --gpt-autodiff | FileCheck %s
// RUN: not gpt-opt %s --gpt-autodiff=source=missing 2>&1 | FileCheck %s --check-prefix=MISSING

// CHECK-LABEL: func.func @loss_grad
// CHECK-SAME: -> (tensor<f32> {gpt.output = "loss"}, tensor<16x8xf32> {gpt.output = "grad.w"}, tensor<8xf32> {gpt.output = "grad.b"}, tensor<8xf32> {gpt.output = "grad.g"})
// CHECK: %[[H:.*]] = gpt.linear %arg0, %arg2 :
// CHECK: %[[HB:.*]] = gpt.add %[[H]], %arg3
// CHECK: %[[A:.*]] = gpt.gelu %[[HB]]
// CHECK: %[[S:.*]] = gpt.mul %[[A]], %arg4
// CHECK: %[[L:.*]] = gpt.cross_entropy %[[S]], %arg1 :
// The seed dL/dL = 1, then the rules in reverse order.
// CHECK: %[[ONE:.*]] = arith.constant dense<1.000000e+00> : tensor<f32>
// CHECK: %[[DS:.*]] = gpt.cross_entropy_grad %[[ONE]], %[[S]], %arg1
// CHECK: %[[DA:.*]] = gpt.mul %[[DS]], %arg4
// CHECK: %[[DGFULL:.*]] = gpt.mul %[[DS]], %[[A]]
// CHECK: %[[DG:.*]] = gpt.sum_leading %[[DGFULL]] : tensor<?x?x8xf32> -> tensor<8xf32>
// CHECK: %[[DHB:.*]] = gpt.gelu_grad %[[DA]], %[[HB]]
// CHECK: %[[DB:.*]] = gpt.sum_leading %[[DHB]] : tensor<?x?x8xf32> -> tensor<8xf32>
// CHECK: %[[DW:.*]] = gpt.linear_weight_grad %arg0, %[[DHB]] : tensor<?x?x16xf32>, tensor<?x?x8xf32> -> tensor<16x8xf32>
// CHECK: return %[[L]], %[[DW]], %[[DB]], %[[DG]]
// The inputs (x is data, not a parameter) get no gradient.
// CHECK-NOT: gpt.linear {{.*}}transpose_weight
func.func @loss(%x: tensor<?x?x16xf32> {gpt.input = "x"}, %t: tensor<?x?xi32> {gpt.input = "targets"},
                %w: tensor<16x8xf32> {gpt.param = "w"}, %b: tensor<8xf32> {gpt.param = "b"},
                %g: tensor<8xf32> {gpt.param = "g"}) -> tensor<f32> {
  %h = gpt.linear %x, %w : tensor<?x?x16xf32>, tensor<16x8xf32> -> tensor<?x?x8xf32>
  %hb = gpt.add %h, %b : tensor<?x?x8xf32>, tensor<8xf32>
  %a = gpt.gelu %hb : tensor<?x?x8xf32>
  %s = gpt.mul %a, %g : tensor<?x?x8xf32>, tensor<8xf32>
  %l = gpt.cross_entropy %s, %t : tensor<?x?x8xf32>, tensor<?x?xi32> -> tensor<f32>
  return %l : tensor<f32>
}

// MISSING: error: --gpt-autodiff: no function @missing
