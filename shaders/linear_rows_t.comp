#version 460
#include "common.glsl"
// linear for few rows (decode, M <= 8) with W [N, K]: a workgroup owns 8
// output columns, 32 lanes each; the lanes of a column stride over its W
// row (vec4 when aligned: 512 contiguous bytes per step) for all M rows,
// reading each weight once, then reduce in a fixed tree (deterministic).
layout(local_size_x = 256) in;
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
shared float red[8][256];
void main() {
  uint tid = gl_LocalInvocationID.x, col = tid / 32, lane = tid % 32;
  uint groups = (p.N + 7) / 8;
  for (uint g = gl_WorkGroupID.x; g < groups; g += gl_NumWorkGroups.x) {
    uint n = g * 8 + col;
    float acc[8];
    for (uint m = 0; m < 8; ++m)
      acc[m] = 0.0;
    uint64_t wRow = p.w + uint64_t(min(n, p.N - 1)) * p.K * 4;
    if (n >= p.N) {
      // no column: contributes zeros
    } else if (p.vec != 0) {
      F32x4 W = F32x4(wRow), X = F32x4(p.x);
      uint K4 = p.K / 4;
      for (uint k = lane; k < K4; k += 32) {
        vec4 wv = W.v[k];
        for (uint m = 0; m < 8; ++m)
          if (m < p.M)
            acc[m] += dot(X.v[m * K4 + k], wv);
      }
    } else {
      F32 W = F32(wRow), X = F32(p.x);
      for (uint k = lane; k < p.K; k += 32) {
        float wv = W.v[k];
        for (uint m = 0; m < 8; ++m)
          if (m < p.M)
            acc[m] += X.v[m * p.K + k] * wv;
      }
    }
    for (uint m = 0; m < 8; ++m)
      red[m][tid] = acc[m];
    barrier();
    for (uint s = 16; s > 0; s >>= 1) {
      if (lane < s)
        for (uint m = 0; m < 8; ++m)
          red[m][tid] += red[m][tid + s];
      barrier();
    }
    if (lane < p.M && n < p.N)
      p.y.v[lane * p.N + n] =
          red[lane][col * 32] + (p.hasBias != 0 ? p.bias.v[n] : 0.0);
    barrier();
  }
}
