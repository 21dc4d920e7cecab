// The gpt.* discardable attributes and #gpt.slot: round trip of every one,
// then one near miss each (the dialect verifies name, place and type).
// RUN: gpt-opt %s -split-input-file -verify-diagnostics | FileCheck %s

// CHECK: module attributes {gpt.config = "{}", gpt.target = "vulkan"}
// CHECK: func.func @roles(%{{.*}}: tensor<?x?xi32> {gpt.input = "tokens"}, %{{.*}}: tensor<4x4xf32> {gpt.param = "w", gpt.weight_decay}, %{{.*}}: tensor<4x4xf32> {gpt.state = "adam_m.w", gpt.symbols = array<i64: -3, 4>})
// CHECK-SAME: -> (tensor<4x4xf32> {gpt.alias_input = 2 : i64, gpt.output = "adam_m.w"})
// CHECK-SAME: gpt.static_bytes = 64 : i64, gpt.token_bytes = 0 : i64
// CHECK: gpt.add {{.*}}{gpt.kernel = "elementwise", gpt.plan = [#gpt.slot<input, 2>]}
module attributes {gpt.config = "{}", gpt.target = "vulkan"} {
  func.func @roles(%t: tensor<?x?xi32> {gpt.input = "tokens"},
                   %w: tensor<4x4xf32> {gpt.param = "w", gpt.weight_decay},
                   %m: tensor<4x4xf32> {gpt.state = "adam_m.w", gpt.symbols = array<i64: -3, 4>})
      -> (tensor<4x4xf32> {gpt.output = "adam_m.w", gpt.alias_input = 2 : i64})
      attributes {gpt.static_bytes = 64 : i64, gpt.token_bytes = 0 : i64} {
    %0 = gpt.add %w, %m {gpt.kernel = "elementwise", gpt.plan = [#gpt.slot<input, 2>]} : tensor<4x4xf32>, tensor<4x4xf32>
    return %0 : tensor<4x4xf32>
  }
}

// -----

// CHECK-LABEL: func.func @slots
// CHECK: gpt.plan = [#gpt.slot<static, 128>]
// CHECK: gpt.plan = [#gpt.slot<token, 64>]
// CHECK: gpt.plan = [#gpt.slot<alias, 0>]
func.func @slots(%a: tensor<4x4xf32>, %b: tensor<?x?x4xf32>) {
  %0 = gpt.add %a, %a {gpt.plan = [#gpt.slot<static, 128>]} : tensor<4x4xf32>, tensor<4x4xf32>
  %1 = gpt.gelu %b {gpt.plan = [#gpt.slot<token, 64>]} : tensor<?x?x4xf32>
  %2 = gpt.reshape %0 {gpt.plan = [#gpt.slot<alias, 0>]} : tensor<4x4xf32> -> tensor<16xf32>
  return
}

// -----

func.func @unknown_kernel(%a: tensor<4xf32>) {
  // expected-error @+1 {{unknown kernel 'matmul_fast' (schema/Kernels.def)}}
  %0 = gpt.gelu %a {gpt.kernel = "matmul_fast"} : tensor<4xf32>
  return
}

// -----

func.func @kernel_not_a_string(%a: tensor<4xf32>) {
  // expected-error @+1 {{'gpt.kernel' must be a kernel name, got 3 : i64}}
  %0 = gpt.gelu %a {gpt.kernel = 3} : tensor<4xf32>
  return
}

// -----

func.func @plan_count(%a: tensor<4xf32>) {
  // expected-error @+1 {{'gpt.plan' has 2 entries for 1 results}}
  %0 = gpt.gelu %a {gpt.plan = [#gpt.slot<static, 0>, #gpt.slot<static, 64>]} : tensor<4xf32>
  return
}

// -----

func.func @plan_strings(%a: tensor<4xf32>) {
  // expected-error @+1 {{'gpt.plan' must be an array of #gpt.slot}}
  %0 = gpt.gelu %a {gpt.plan = ["static:0"]} : tensor<4xf32>
  return
}

// -----

func.func @slot_negative(%a: tensor<4xf32>) {
  // expected-error @+1 {{#gpt.slot offset must be >= 0, got -64}}
  %0 = gpt.gelu %a {gpt.plan = [#gpt.slot<static, -64>]} : tensor<4xf32>
  return
}

// -----

func.func @slot_kind(%a: tensor<4xf32>) {
  // expected-error @+2 {{SlotKind to be one of: static, token, alias, input, none}}
  // expected-error @+1 {{failed to parse GPT_SlotAttr parameter 'kind'}}
  %0 = gpt.gelu %a {gpt.plan = [#gpt.slot<heap, 0>]} : tensor<4xf32>
  return
}

// -----

func.func @unknown_op_attr(%a: tensor<4xf32>) {
  // expected-error @+1 {{'gpt.kernal' is not a gpt attribute of an operation}}
  %0 = gpt.gelu %a {gpt.kernal = "elementwise"} : tensor<4xf32>
  return
}

// -----

// expected-error @+1 {{unknown gpt.target 'metal' (cpu or vulkan)}}
module attributes {gpt.target = "metal"} {
}

// -----

// expected-error @+1 {{'gpt.target' belongs on the module}}
func.func @target_on_function() attributes {gpt.target = "cpu"} {
  return
}

// -----

// expected-error @+1 {{'gpt.param' must be the argument's name, got unit}}
func.func @role_not_a_name(%w: tensor<4xf32> {gpt.param}) {
  return
}

// -----

// expected-error @+1 {{'gpt.output' is not a gpt attribute of a function argument}}
func.func @output_on_argument(%w: tensor<4xf32> {gpt.output = "w"}) {
  return
}

// -----

// expected-error @+1 {{'gpt.alias_input' = 5 is not an argument of @alias_range}}
func.func @alias_range(%w: tensor<4xf32>) -> (tensor<4xf32> {gpt.alias_input = 5 : i64}) {
  return %w : tensor<4xf32>
}
