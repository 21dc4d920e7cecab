// --gpt-optimizer=shardable=true: besides @apply_optimizer, the pieces a rank
// of a sharded optimizer (ZeRO-1) runs: the global norm and LR, one AdamW
// function per parameter (in place, decay where the parameter has it), and
// zeroing every accumulator.
// RUN: gpt-opt %s --gpt-autodiff --gpt-optimizer=shardable=true | FileCheck %s
// RUN: gpt-opt %s --gpt-autodiff --gpt-optimizer | FileCheck %s --check-prefix=PLAIN

// CHECK-LABEL: func.func @apply_optimizer
// CHECK-LABEL: func.func @optimizer_scalars(%arg0: tensor<i32> {gpt.input = "step"}, %arg1: tensor<9xf32> {gpt.input = "hparams"}, %arg2: tensor<16x8xf32> {gpt.state = "grad.w"}, %arg3: tensor<8xf32> {gpt.state = "grad.b"}) -> (tensor<f32> {gpt.output = "grad_norm"}, tensor<f32> {gpt.output = "lr"})
// CHECK: %[[N:.*]] = gpt.global_norm %arg2, %arg3
// CHECK: %[[LR:.*]] = gpt.lr_schedule %arg0, %arg1
// CHECK: return %[[N]], %[[LR]]
// CHECK-LABEL: func.func @apply_adamw.w(%arg0: tensor<i32> {gpt.input = "step"}, %arg1: tensor<9xf32> {gpt.input = "hparams"}, %arg2: tensor<f32> {gpt.input = "lr"}, %arg3: tensor<f32> {gpt.input = "grad_norm"}, %arg4: tensor<16x8xf32> {gpt.param = "w", gpt.weight_decay}, %arg5: tensor<16x8xf32> {gpt.state = "grad.w"}, %arg6: tensor<16x8xf32> {gpt.state = "adam_m.w"}, %arg7: tensor<16x8xf32> {gpt.state = "adam_v.w"})
// CHECK-SAME: -> (tensor<16x8xf32> {gpt.alias_input = 4 : i64, gpt.output = "w"}, tensor<16x8xf32> {gpt.alias_input = 6 : i64, gpt.output = "adam_m.w"}, tensor<16x8xf32> {gpt.alias_input = 7 : i64, gpt.output = "adam_v.w"})
// CHECK: gpt.adamw %arg4, %arg5, %arg6, %arg7, %arg2, %arg3, %arg0, %arg1 {decay}
// CHECK-LABEL: func.func @apply_adamw.b(
// CHECK-NOT: decay
// CHECK: gpt.adamw
// CHECK-NOT: {decay}
// CHECK-LABEL: func.func @zero_grads(%arg0: tensor<16x8xf32> {gpt.state = "grad.w"}, %arg1: tensor<8xf32> {gpt.state = "grad.b"}) -> (tensor<16x8xf32> {gpt.alias_input = 0 : i64, gpt.output = "grad.w"}, tensor<8xf32> {gpt.alias_input = 1 : i64, gpt.output = "grad.b"})
// CHECK: gpt.fill {value = 0.000000e+00 : f32} : tensor<16x8xf32>

// PLAIN-NOT: @optimizer_scalars
// PLAIN-NOT: @apply_adamw
// PLAIN-NOT: @zero_grads
func.func @loss(%x: tensor<?x?x16xf32> {gpt.input = "x"}, %t: tensor<?x?xi32> {gpt.input = "targets"},
                %w: tensor<16x8xf32> {gpt.param = "w", gpt.weight_decay}, %b: tensor<8xf32> {gpt.param = "b"}) -> tensor<f32> {
  %h = gpt.linear %x, %w : tensor<?x?x16xf32>, tensor<16x8xf32> -> tensor<?x?x8xf32>
  %hb = gpt.add %h, %b : tensor<?x?x8xf32>, tensor<8xf32>
  %l = gpt.cross_entropy %hb, %t : tensor<?x?x8xf32>, tensor<?x?xi32> -> tensor<f32>
  return %l : tensor<f32>
}
