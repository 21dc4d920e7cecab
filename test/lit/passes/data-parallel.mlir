// --gpt-data-parallel: @train_grad's accumulated gradients are averaged over
// the ranks in buckets, in the order the backward produces them, each
// reduction right after its bucket's last gradient; the plan reduces them in
// place (views of the accumulators, which are the caller's buffers).
// RUN: gpt-opt %s --split-input-file --gpt-data-parallel=bucket-bytes=32 | FileCheck %s
// RUN: gpt-opt %s --split-input-file --gpt-data-parallel=bucket-bytes=32 --gpt-lower-to-kernels --gpt-plan-memory | FileCheck %s --check-prefix=PLAN
// RUN: gpt-opt %s --split-input-file --gpt-data-parallel=bucket-bytes=1000000 | FileCheck %s --check-prefix=ONE

// Backward order w3, w2, w1: w3 and w2 (16 + 16 bytes) fill the first
// bucket, w1 (64 bytes) the second. The loss is not a gradient.
// CHECK-LABEL: func.func @train_grad
// CHECK: %[[A3:.*]] = gpt.add %arg7, %arg0
// CHECK: %[[A2:.*]] = gpt.add %arg6, %arg0
// CHECK-NEXT: %[[R:.*]]:2 = gpt.all_reduce mean over "data" %[[A3]], %[[A2]] : tensor<4xf32>, tensor<4xf32>
// CHECK: %[[A1:.*]] = gpt.add %arg5, %arg2
// CHECK-NEXT: %[[S:.*]] = gpt.all_reduce mean over "data" %[[A1]] : tensor<4x4xf32>
// CHECK: return %arg1, %[[S]], %[[R]]#1, %[[R]]#0

// PLAN-LABEL: func.func @train_grad
// PLAN: gpt.add %arg7, %arg0 {gpt.kernel = "elementwise", gpt.plan = [#gpt.slot<input, 7>]}
// PLAN: gpt.add %arg6, %arg0 {gpt.kernel = "elementwise", gpt.plan = [#gpt.slot<input, 6>]}
// PLAN: gpt.all_reduce mean over "data" {{.*}} {gpt.kernel = "all_reduce", gpt.plan = [#gpt.slot<alias, 0>, #gpt.slot<alias, 1>]}
// PLAN: gpt.add %arg5, %arg2 {gpt.kernel = "elementwise", gpt.plan = [#gpt.slot<input, 5>]}
// PLAN: gpt.all_reduce mean over "data" {{.*}} {gpt.kernel = "all_reduce", gpt.plan = [#gpt.slot<alias, 0>]}
// PLAN: gpt.static_bytes = 0 : i64

// One bucket holds everything when it is large enough.
// ONE-LABEL: func.func @train_grad
// ONE-COUNT-1: gpt.all_reduce
// ONE-NOT: gpt.all_reduce
func.func @train_grad(%x: tensor<4xf32> {gpt.input = "x"},
                      %scale: tensor<f32> {gpt.input = "grad_scale"},
                      %w1: tensor<4x4xf32> {gpt.param = "w1"},
                      %w2: tensor<4xf32> {gpt.param = "w2"},
                      %w3: tensor<4xf32> {gpt.param = "w3"},
                      %g1: tensor<4x4xf32> {gpt.state = "grad.w1"},
                      %g2: tensor<4xf32> {gpt.state = "grad.w2"},
                      %g3: tensor<4xf32> {gpt.state = "grad.w3"})
    -> (tensor<f32> {gpt.output = "loss"},
        tensor<4x4xf32> {gpt.alias_input = 5 : i64, gpt.output = "grad.w1"},
        tensor<4xf32> {gpt.alias_input = 6 : i64, gpt.output = "grad.w2"},
        tensor<4xf32> {gpt.alias_input = 7 : i64, gpt.output = "grad.w3"}) {
  %a3 = gpt.add %g3, %x : tensor<4xf32>, tensor<4xf32>
  %a2 = gpt.add %g2, %x : tensor<4xf32>, tensor<4xf32>
  %a1 = gpt.add %g1, %w1 : tensor<4x4xf32>, tensor<4x4xf32>
  return %scale, %a1, %a2, %a3 : tensor<f32>, tensor<4x4xf32>, tensor<4xf32>, tensor<4xf32>
}

// -----

// Only @train_grad reduces: the same body under another name is left alone.
// CHECK-LABEL: func.func @apply_optimizer
// CHECK-NOT: gpt.all_reduce
func.func @apply_optimizer(%g: tensor<4xf32> {gpt.state = "grad.w"})
    -> (tensor<4xf32> {gpt.alias_input = 0 : i64, gpt.output = "grad.w"}) {
  %a = gpt.add %g, %g : tensor<4xf32>, tensor<4xf32>
  return %a : tensor<4xf32>
}
