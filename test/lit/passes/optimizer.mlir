// --gpt-optimizer turns @loss_grad into @train_grad (accumulation) and
// @apply_optimizer (AdamW, clipping, schedule), all updates in place.
// RUN: gpt-opt %s --gpt-autodiff --gpt-optimizer | FileCheck %s
// RUN: not gpt-opt %s --gpt-optimizer 2>&1 | FileCheck %s --check-prefix=NOGRAD

// CHECK-NOT: func.func @loss_grad
// CHECK-LABEL: func.func @train_grad(%arg0: tensor<?x?x16xf32> {gpt.input = "x"}, %arg1: tensor<?x?xi32> {gpt.input = "targets"}, %arg2: tensor<f32> {gpt.input = "grad_scale"}, %arg3: tensor<16x8xf32> {gpt.param = "w", gpt.weight_decay}, %arg4: tensor<8xf32> {gpt.param = "b"}, %arg5: tensor<16x8xf32> {gpt.state = "grad.w"}, %arg6: tensor<8xf32> {gpt.state = "grad.b"})
// CHECK-SAME: -> (tensor<f32> {gpt.output = "loss"}, tensor<16x8xf32> {gpt.alias_input = 5 : i64, gpt.output = "grad.w"}, tensor<8xf32> {gpt.alias_input = 6 : i64, gpt.output = "grad.b"})
// Each gradient is accumulated as soon as it is complete.
// CHECK: %[[DB:.*]] = gpt.sum_leading
// CHECK-NEXT: %[[SB:.*]] = gpt.mul %[[DB]], %arg2
// CHECK-NEXT: %[[AB:.*]] = gpt.add %arg6, %[[SB]]
// CHECK: %[[DW:.*]] = gpt.linear_weight_grad
// CHECK-NEXT: %[[SW:.*]] = gpt.mul %[[DW]], %arg2
// CHECK-NEXT: %[[AW:.*]] = gpt.add %arg5, %[[SW]]
// CHECK: return %{{.*}}, %[[AW]], %[[AB]]

// CHECK-LABEL: func.func @apply_optimizer(%arg0: tensor<i32> {gpt.input = "step"}, %arg1: tensor<9xf32> {gpt.input = "hparams"}, %arg2: tensor<16x8xf32> {gpt.param = "w", gpt.weight_decay}, %arg3: tensor<8xf32> {gpt.param = "b"}, %arg4: tensor<16x8xf32> {gpt.state = "grad.w"}, %arg5: tensor<8xf32> {gpt.state = "grad.b"}, %arg6: tensor<16x8xf32> {gpt.state = "adam_m.w"}, %arg7: tensor<8xf32> {gpt.state = "adam_m.b"}, %arg8: tensor<16x8xf32> {gpt.state = "adam_v.w"}, %arg9: tensor<8xf32> {gpt.state = "adam_v.b"})
// CHECK-SAME: {gpt.output = "grad_norm"}
// CHECK-SAME: {gpt.alias_input = 2 : i64, gpt.output = "w"}
// CHECK-SAME: {gpt.alias_input = 6 : i64, gpt.output = "adam_m.w"}
// CHECK-SAME: {gpt.alias_input = 4 : i64, gpt.output = "grad.w"}
// CHECK: %[[N:.*]] = gpt.global_norm %arg4, %arg5
// CHECK: %[[LR:.*]] = gpt.lr_schedule %arg0, %arg1
// Weight decay on the matrix only.
// CHECK: gpt.adamw %arg2, %arg4, %arg6, %arg8, %[[LR]], %[[N]], %arg0, %arg1 {decay}
// CHECK: gpt.adamw %arg3, %arg5, %arg7, %arg9, %[[LR]], %[[N]], %arg0, %arg1 :
// CHECK: gpt.fill {value = 0.000000e+00 : f32} : tensor<8xf32>
func.func @loss(%x: tensor<?x?x16xf32> {gpt.input = "x"}, %t: tensor<?x?xi32> {gpt.input = "targets"},
                %w: tensor<16x8xf32> {gpt.param = "w", gpt.weight_decay}, %b: tensor<8xf32> {gpt.param = "b"}) -> tensor<f32> {
  %h = gpt.linear %x, %w : tensor<?x?x16xf32>, tensor<16x8xf32> -> tensor<?x?x8xf32>
  %hb = gpt.add %h, %b : tensor<?x?x8xf32>, tensor<8xf32>
  %l = gpt.cross_entropy %hb, %t : tensor<?x?x8xf32>, tensor<?x?xi32> -> tensor<f32>
  return %l : tensor<f32>
}

// NOGRAD: --gpt-optimizer needs @loss_grad: run --gpt-autodiff first
