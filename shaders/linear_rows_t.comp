#version 460
#include "common.glsl"
// linear for few rows (decode, M <= 8) with W [N, K]: one workgroup per
// output column reads W's row once (vec4 when aligned) for all M rows, then
// reduces the 64 partial sums in a fixed tree (deterministic).
layout(local_size_x = 64) in;
layout(push_constant) uniform Push {
  uint64_t x; // [M, K]
  uint64_t w; // [N, K]
  F32 y;      // [M, N]
  F32 bias;   // [N] when hasBias
  uint M;
  uint N;
  uint K;
  uint hasBias;
  uint vec; // x and w 16-byte aligned and K % 4 == 0
} p;
shared float red[8][64];
void main() {
  uint tid = gl_LocalInvocationID.x;
  for (uint n = gl_WorkGroupID.x; n < p.N; n += gl_NumWorkGroups.x) {
    float acc[8];
    for (uint m = 0; m < 8; ++m)
      acc[m] = 0.0;
    uint64_t wRow = p.w + uint64_t(n) * p.K * 4;
    if (p.vec != 0) {
      F32x4 W = F32x4(wRow), X = F32x4(p.x);
      uint K4 = p.K / 4;
      for (uint k = tid; k < K4; k += 64) {
        vec4 wv = W.v[k];
        for (uint m = 0; m < 8; ++m)
          if (m < p.M)
            acc[m] += dot(X.v[m * K4 + k], wv);
      }
    } else {
      F32 W = F32(wRow), X = F32(p.x);
      for (uint k = tid; k < p.K; k += 64) {
        float wv = W.v[k];
        for (uint m = 0; m < 8; ++m)
          if (m < p.M)
            acc[m] += X.v[m * p.K + k] * wv;
      }
    }
    for (uint m = 0; m < 8; ++m)
      red[m][tid] = acc[m];
    barrier();
    for (uint s = 32; s > 0; s >>= 1) {
      if (tid < s)
        for (uint m = 0; m < 8; ++m)
          red[m][tid] += red[m][tid + s];
      barrier();
    }
    if (tid < p.M)
      p.y.v[tid * p.N + n] =
          red[tid][0] + (p.hasBias != 0 ? p.bias.v[n] : 0.0);
    barrier();
  }
}
