// Shared declarations of every compute shader. Tensors are reached by
// buffer device address: push constants carry F32/I32 references to each
// operand's first element.
#extension GL_EXT_buffer_reference : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#ifdef GPT_SUBGROUP // the `_sg` variants (shaders/CMakeLists.txt), reduce.glsl
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif

layout(buffer_reference, std430, buffer_reference_align = 4) buffer F32 {
  float v[];
};
layout(buffer_reference, std430, buffer_reference_align = 4) buffer I32 {
  int v[];
};
layout(buffer_reference, std430, buffer_reference_align = 16) buffer F32x4 {
  vec4 v[];
};

// for (uint i = first thread; i < n; i += all threads): covers n elements
// whatever number of groups the host dispatched (it caps the grid). The step
// is min(stride, n - i), so i never wraps past 2^32 (an element would be
// processed twice) however large n and the grid are; the loop still ends
// once i reaches n.
#define GRID_STRIDE(i, n)                                                      \
  for (uint i = gl_GlobalInvocationID.x, i##End_ = uint(n),                    \
            i##Step_ = gl_NumWorkGroups.x * gl_WorkGroupSize.x;                \
       i < i##End_; i += min(i##Step_, i##End_ - i))

// Finite stand-in for -inf. Vulkan lets a driver assume float operands are
// never inf or NaN unless the shader declares SignedZeroInfNanPreserve, so
// a comparison with -inf may be folded away and exp(-inf - -inf) is NaN
// anyway. Max/sum-of-exp reductions therefore start from NEG_BIG, clamp
// loaded scores with max(x, NEG_BIG) (a stored -inf, e.g. causal_mask's
// fill, then acts as NEG_BIG) and treat anything <= NEG_HALF as masked: no
// exp() is evaluated for it, and a row whose maximum is <= NEG_HALF is
// empty (the caller writes zeros). Storing -inf as a result is fine: use
// NEG_INF_BITS.
const float NEG_BIG = -3.0e38;
const float NEG_HALF = 0.5 * NEG_BIG;
#define NEG_INF_BITS uintBitsToFloat(0xff800000u)

// Online softmax pair (m = running max, s = sum of exp(x - m)); start from
// (NEG_BIG, 0). Adds element x; a masked x adds nothing.
void osmPush(inout float m, inout float s, float x) {
  x = max(x, NEG_BIG);
  if (x <= NEG_HALF)
    return;
  if (x > m) {
    s = (m <= NEG_HALF ? 0.0 : s * exp(m - x)) + 1.0;
    m = x;
  } else {
    s += exp(x - m);
  }
}

// Merges the pair (m2, s2) into (m, s).
void osmMerge(inout float m, inout float s, float m2, float s2) {
  if (m2 <= NEG_HALF)
    return;
  if (m <= NEG_HALF) {
    m = m2;
    s = s2;
    return;
  }
  float mn = max(m, m2);
  s = s * exp(m - mn) + s2 * exp(m2 - mn);
  m = mn;
}

// exp(x - m) * inv for a row with maximum m (0 for a masked x or empty row).
float osmProb(float x, float m, float inv) {
  x = max(x, NEG_BIG);
  return (x <= NEG_HALF || m <= NEG_HALF) ? 0.0 : exp(x - m) * inv;
}
