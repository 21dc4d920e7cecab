// --gpt-plan-memory: liveness, reuse, in-place elementwise, two arenas.
// RUN: gpt-opt %s --split-input-file --gpt-lower-to-kernels --gpt-plan-memory -verify-diagnostics | FileCheck %s

// %a dies at %b (an elementwise kernel of the same type): %b takes its
// place. %c is a linear, which never writes over its input: new space.
// %c dies at %d, an elementwise kernel: %d takes its place. Sizes are per
// token: 8 floats = 32 bytes, rounded to 64.
// CHECK-LABEL: func.func @chain
// CHECK-SAME: gpt.static_bytes = 0 : i64, gpt.token_bytes = 128 : i64
// CHECK: gpt.gelu %arg0 {{.*}}gpt.plan = [#gpt.slot<token, 0>]
// CHECK: gpt.scale {{.*}}gpt.plan = [#gpt.slot<token, 0>]
// CHECK: gpt.linear {{.*}}gpt.plan = [#gpt.slot<token, 64>]
// CHECK: gpt.gelu {{.*}}gpt.plan = [#gpt.slot<token, 64>]
func.func @chain(%x: tensor<?x?x8xf32>, %w: tensor<8x8xf32>) -> tensor<?x?x8xf32> {
  %a = gpt.gelu %x : tensor<?x?x8xf32>
  %b = gpt.scale %a {factor = 2.0 : f32} : tensor<?x?x8xf32>
  %c = gpt.linear %b, %w : tensor<?x?x8xf32>, tensor<8x8xf32> -> tensor<?x?x8xf32>
  %d = gpt.gelu %c : tensor<?x?x8xf32>
  return %d : tensor<?x?x8xf32>
}

// -----

// A reshape is a view: it keeps the viewed value alive through its own uses.
// Static-shaped values go to the static arena.
// CHECK-LABEL: func.func @views
// CHECK: gpt.gelu {{.*}}gpt.plan = [#gpt.slot<token, 0>]
// CHECK: gpt.reshape {{.*}}gpt.plan = [#gpt.slot<alias, 0>]
// CHECK: gpt.linear_weight_grad {{.*}}gpt.plan = [#gpt.slot<static, 0>]
// CHECK: gpt.gelu {{.*}}gpt.plan = [#gpt.slot<token, 64>]
func.func @views(%x: tensor<?x?x8xf32>) -> (tensor<?x?x2x4xf32>, tensor<8x8xf32>, tensor<?x?x8xf32>) {
  %a = gpt.gelu %x : tensor<?x?x8xf32>
  %r = gpt.reshape %a : tensor<?x?x8xf32> -> tensor<?x?x2x4xf32>
  %g = gpt.linear_weight_grad %x, %x : tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<8x8xf32>
  %b = gpt.gelu %x : tensor<?x?x8xf32>
  return %r, %g, %b : tensor<?x?x2x4xf32>, tensor<8x8xf32>, tensor<?x?x8xf32>
}

// -----

// In-place outputs: the accumulation is computed straight into the
// caller's buffer (argument 1); a fill that is only written back needs no
// memory at all.
// CHECK-LABEL: func.func @in_place
// CHECK: gpt.add {{.*}}gpt.plan = [#gpt.slot<input, 1>]
// CHECK: gpt.fill {{.*}}gpt.plan = [#gpt.slot<none, 0>]
func.func @in_place(%g: tensor<8xf32>, %acc: tensor<8xf32>, %z: tensor<8xf32>)
    -> (tensor<8xf32> {gpt.alias_input = 1 : i64}, tensor<8xf32> {gpt.alias_input = 2 : i64}) {
  %a = gpt.add %acc, %g : tensor<8xf32>, tensor<8xf32>
  %f = gpt.fill {value = 0.0 : f32} : tensor<8xf32>
  return %a, %f : tensor<8xf32>, tensor<8xf32>
}

// -----

// Not in place when a view of the argument is read later: %v = reshape(%acc)
// is taken before the add and read by the gelu after it, so writing the sum
// into %acc's buffer would change what the gelu reads. The add gets its own
// memory (the emitter copies it back at the end).
// CHECK-LABEL: func.func @in_place_view_read_later
// CHECK: gpt.reshape {{.*}}gpt.plan = [#gpt.slot<alias, 0>]
// CHECK: gpt.add {{.*}}gpt.plan = [#gpt.slot<static, 0>]
func.func @in_place_view_read_later(%g: tensor<8xf32>, %acc: tensor<8xf32>)
    -> (tensor<8xf32> {gpt.alias_input = 1 : i64}, tensor<2x4xf32>) {
  %v = gpt.reshape %acc : tensor<8xf32> -> tensor<2x4xf32>
  %a = gpt.add %acc, %g : tensor<8xf32>, tensor<8xf32>
  %w = gpt.gelu %v : tensor<2x4xf32>
  return %a, %w : tensor<8xf32>, tensor<2x4xf32>
}

// -----

// Unfused attention scores [B, H, T, T] are not linear in B*T.
func.func @scores(%q: tensor<?x2x?x4xf32>) -> tensor<?x2x?x?xf32> {
  // expected-error @+1 {{cannot plan a result of type 'tensor<?x2x?x?xf32>': its size is not linear in batch x sequence}}
  %s = gpt.matmul %q, %q {transpose_rhs} : tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32> -> tensor<?x2x?x?xf32>
  return %s : tensor<?x2x?x?xf32>
}
