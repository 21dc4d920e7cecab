// --gpt-data-parallel refuses what it cannot make data parallel.
// RUN: gpt-opt %s --split-input-file --gpt-data-parallel -verify-diagnostics

// expected-error @+1 {{@train_grad returns no gradient accumulators}}
func.func @train_grad(%x: tensor<4xf32> {gpt.input = "x"}) -> (tensor<4xf32> {gpt.output = "y"}) {
  %a = gpt.add %x, %x : tensor<4xf32>, tensor<4xf32>
  return %a : tensor<4xf32>
}

// -----

// expected-error @+1 {{@train_grad already reduces its gradients}}
func.func @train_grad(%g: tensor<4xf32> {gpt.state = "grad.w"})
    -> (tensor<4xf32> {gpt.alias_input = 0 : i64, gpt.output = "grad.w"}) {
  %a = gpt.add %g, %g : tensor<4xf32>, tensor<4xf32>
  %r = gpt.all_reduce mean over "data" %a : tensor<4xf32>
  return %r : tensor<4xf32>
}

// -----

// An accumulator that is the argument itself (nothing computed).
// expected-error @+1 {{gradient result #0 is an argument, not a computed accumulator}}
func.func @train_grad(%g: tensor<4xf32> {gpt.state = "grad.w"})
    -> (tensor<4xf32> {gpt.alias_input = 0 : i64, gpt.output = "grad.w"}) {
  return %g : tensor<4xf32>
}
