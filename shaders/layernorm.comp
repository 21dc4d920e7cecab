#version 460
#include "common.glsl"
#include "reduce.glsl"
// variants: _sg=GPT_SUBGROUP
// layernorm: y = (x - mean) * rstd * gamma (+ beta) over the last axis, biased
// variance. One workgroup per row (rows grid-strided over the groups); the
// row sums are reduce.glsl's deterministic wgSum (tree, or subgroup
// arithmetic in the layernorm_sg variant).
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
