// --gpt-lower-to-kernels tags each op with its runtime kernel.
// RUN: gpt-opt %s --split-input-file --gpt-lower-to-kernels -verify-diagnostics | FileCheck %s
// Vulkan selects the same kernels (the emitter adds generated shaders).
// RUN: gpt-opt %s --split-input-file --gpt-lower-to-kernels=target=vulkan -verify-diagnostics | FileCheck %s
// RUN: not gpt-opt %s --split-input-file --gpt-lower-to-kernels=target=metal 2>&1 | FileCheck %s --check-prefix=BADTARGET

// CHECK-LABEL: func.func @kernels
// CHECK: gpt.embedding {{.*}}gpt.kernel = "embedding"
// CHECK: gpt.fusion{{.*}}gpt.kernel = "elementwise"
// CHECK: gpt.reshape {{.*}}gpt.kernel = "alias"
// CHECK: gpt.gelu {{.*}}gpt.kernel = "elementwise"
// CHECK: gpt.causal_mask {{.*}}gpt.kernel = "causal_mask"
// CHECK: arith.constant {{.*}}gpt.kernel = "fill"
// CHECK: gpt.linear {{.*}}gpt.kernel = "linear"
// CHECK: gpt.scale {{.*}}gpt.kernel = "elementwise"
// BADTARGET: for the --target option: Cannot find option named 'metal'
func.func @kernels(%t: tensor<?x?xi32>, %wte: tensor<16x8xf32>, %g: tensor<8xf32>)
    -> (tensor<?x?x16xf32>, tensor<?x?x2x4xf32>, tensor<?x?x8xf32>, tensor<f32>) {
  %x = gpt.embedding %wte, %t : tensor<16x8xf32>, tensor<?x?xi32> -> tensor<?x?x8xf32>
  %f = gpt.fusion (%x, %g) : (tensor<?x?x8xf32>, tensor<8xf32>) -> (tensor<?x?x8xf32>) {
  ^bb0(%a: tensor<?x?x8xf32>, %b: tensor<8xf32>):
    %s = gpt.mul %a, %b : tensor<?x?x8xf32>, tensor<8xf32>
    %n = gpt.gelu %s : tensor<?x?x8xf32>
    gpt.yield %n : tensor<?x?x8xf32>
  }
  %r = gpt.reshape %f : tensor<?x?x8xf32> -> tensor<?x?x2x4xf32>
  %e = gpt.gelu %f : tensor<?x?x8xf32>
  %m = gpt.causal_mask %e : tensor<?x?x8xf32>
  %c = arith.constant dense<1.0> : tensor<f32>
  %l = gpt.linear %f, %wte {transpose_weight} : tensor<?x?x8xf32>, tensor<16x8xf32> -> tensor<?x?x16xf32>
  %s2 = gpt.scale %c {factor = 2.0 : f32} : tensor<f32>
  return %l, %r, %m, %s2 : tensor<?x?x16xf32>, tensor<?x?x2x4xf32>, tensor<?x?x8xf32>, tensor<f32>
}

// -----

// A constant that is not a splat has no kernel (the artifact holds no data).
func.func @dense_constant() -> tensor<2xf32> {
  // expected-error @+1 {{has no kernel on target '}}
  %c = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  return %c : tensor<2xf32>
}
