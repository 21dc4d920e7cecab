#version 460
#include "common.glsl"
// layernorm_grad, per row: recomputes mean/rstd from x, then
//   dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  g = dy * gamma.
// Stores (mean, rstd) per row for the dgamma/dbeta column pass.
layout(local_size_x = 128) in;
layout(push_constant) uniform Push {
  F32 dy;
  F32 x;
  F32 gamma;
  F32 dx;
  F32 stats; // [rows][2]: mean, rstd
  uint rows;
  uint D;
  float eps;
  uint pad;
} p;

shared float red[128];
shared float red2[128];

float wgSum(float v) {
  uint t = gl_LocalInvocationID.x;
  red[t] = v;
  barrier();
  for (uint s = 64; s > 0; s >>= 1) {
    if (t < s)
      red[t] += red[t + s];
    barrier();
  }
  float r = red[0];
  barrier();
  return r;
}

// Two sums in one tree (one barrier chain instead of two).
vec2 wgSum2(vec2 v) {
  uint t = gl_LocalInvocationID.x;
  red[t] = v.x;
  red2[t] = v.y;
  barrier();
  for (uint s = 64; s > 0; s >>= 1) {
    if (t < s) {
      red[t] += red[t + s];
      red2[t] += red2[t + s];
    }
    barrier();
  }
  vec2 r = vec2(red[0], red2[0]);
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
    vec2 acc = vec2(0.0);
    for (uint j = t; j < D; j += 128) {
      float g = p.dy.v[base + j] * p.gamma.v[j];
      acc += vec2(g, g * ((p.x.v[base + j] - mean) * rstd));
    }
    vec2 s = wgSum2(acc) / float(D);
    for (uint j = t; j < D; j += 128) {
      float xhat = (p.x.v[base + j] - mean) * rstd;
      p.dx.v[base + j] =
          rstd * (p.dy.v[base + j] * p.gamma.v[j] - s.x - xhat * s.y);
    }
    if (t == 0) {
      p.stats.v[2 * r] = mean;
      p.stats.v[2 * r + 1] = rstd;
    }
  }
}
