// Shared declarations of every compute shader. Tensors are reached by
// buffer device address: push constants carry F32/I32 references to each
// operand's first element.
#extension GL_EXT_buffer_reference : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require

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
// whatever number of groups the host dispatched (it caps the grid).
#define GRID_STRIDE(i, n)                                                      \
  for (uint i = gl_GlobalInvocationID.x; i < uint(n);                          \
       i += gl_NumWorkGroups.x * gl_WorkGroupSize.x)
