#version 460
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "common.glsl"
// layernorm with subgroup arithmetic (picked by the host when the device has
// it, subgroup size >= 4, a power of two and <= 128, so the 128 threads fill
// whole subgroups): as layernorm.comp, but each row sum is a subgroupAdd per
// subgroup, then the gl_NumSubgroups partials are added in subgroup order
// from shared memory (deterministic on a device).
layout(local_size_x = 128) in;
layout(push_constant) uniform Push {
  F32 x;
  F32 gamma;
  F32 beta;
  F32 y;
  uint rows;
  uint D;
  float eps;
  uint hasBeta;
} p;

shared float red[32]; // one per subgroup (size >= 4)

// Called in workgroup-uniform control flow.
float wgSum(float v) {
  float s = subgroupAdd(v);
  if (gl_SubgroupInvocationID == 0)
    red[gl_SubgroupID] = s;
  barrier();
  float r = 0.0;
  for (uint i = 0; i < gl_NumSubgroups; ++i)
    r += red[i];
  barrier();
  return r;
}

void main() {
  uint t = gl_LocalInvocationID.x, D = p.D;
  for (uint r = gl_WorkGroupID.x; r < p.rows; r += gl_NumWorkGroups.x) {
    uint base = r * D;
    float sum = 0.0;
    for (uint j = t; j < D; j += 128)
      sum += p.x.v[base + j];
    float mean = wgSum(sum) / float(D);
    float var = 0.0;
    for (uint j = t; j < D; j += 128) {
      float c = p.x.v[base + j] - mean;
      var += c * c;
    }
    float rstd = 1.0 / sqrt(wgSum(var) / float(D) + p.eps);
    for (uint j = t; j < D; j += 128) {
      float v = (p.x.v[base + j] - mean) * rstd * p.gamma.v[j];
      if (p.hasBeta != 0)
        v += p.beta.v[j];
      p.y.v[base + j] = v;
    }
  }
}
