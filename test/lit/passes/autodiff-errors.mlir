// --gpt-autodiff rejects what it cannot differentiate.
// RUN: gpt-opt %s --split-input-file --gpt-autodiff -verify-diagnostics

// expected-error @+1 {{the loss does not depend on any parameter}}
func.func @loss(%x: tensor<?x?x8xf32> {gpt.input = "x"}, %t: tensor<?x?xi32> {gpt.input = "targets"}) -> tensor<f32> {
  %l = gpt.cross_entropy %x, %t : tensor<?x?x8xf32>, tensor<?x?xi32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

func.func @loss(%x: tensor<?x?x8xf32> {gpt.param = "x"}, %t: tensor<?x?xi32> {gpt.input = "targets"}) -> tensor<f32> {
  // expected-error @+1 {{cannot be differentiated: run --gpt-autodiff before --gpt-fuse-elementwise}}
  %f = gpt.fusion (%x) : (tensor<?x?x8xf32>) -> (tensor<?x?x8xf32>) {
  ^bb0(%a: tensor<?x?x8xf32>):
    %g = gpt.gelu %a : tensor<?x?x8xf32>
    gpt.yield %g : tensor<?x?x8xf32>
  }
  %l = gpt.cross_entropy %f, %t : tensor<?x?x8xf32>, tensor<?x?xi32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// expected-error @+1 {{must return exactly one scalar loss}}
func.func @loss(%x: tensor<?x?x8xf32> {gpt.param = "x"}) -> tensor<?x?x8xf32> {
  return %x : tensor<?x?x8xf32>
}
