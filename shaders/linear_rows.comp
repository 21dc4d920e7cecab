#version 460
#include "common.glsl"
// linear for few rows (decode, M <= 8) with W [K, N]: a workgroup owns 64
// output columns and the k range of its slice gl_WorkGroupID.y (the host
// splits K when there are few column blocks); its 4 thread rows stride over
// k reading W once (coalesced along n) for all M rows and the 4 partials
// are added in order. Slice s writes y + s * M * N (bias only in slice 0);
// the host sums the slices in order when there are several.
layout(local_size_x = 64, local_size_y = 4) in;
layout(push_constant) uniform Push {
  F32 x;    // [M, K]
  F32 w;    // [K, N]
  F32 y;    // [slices, M, N]
  F32 bias; // [N] when hasBias
  uint M;
  uint N;
  uint K;
  uint hasBias;
  uint kChunk; // k per slice
} p;
shared float red[4][8][64];
void main() {
  uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
  uint slice = gl_WorkGroupID.y;
  uint k0 = slice * p.kChunk, k1 = min(p.K, k0 + p.kChunk);
  uint yOff = slice * p.M * p.N;
  bool addBias = p.hasBias != 0 && slice == 0;
  uint blocks = (p.N + 63) / 64;
  for (uint blk = gl_WorkGroupID.x; blk < blocks; blk += gl_NumWorkGroups.x) {
    uint n = blk * 64 + tx;
    float acc[8];
    for (uint m = 0; m < 8; ++m)
      acc[m] = 0.0;
    if (n < p.N)
      for (uint k = k0 + ty; k < k1; k += 4) {
        float wv = p.w.v[k * p.N + n];
        for (uint m = 0; m < 8; ++m)
          if (m < p.M)
            acc[m] += p.x.v[m * p.K + k] * wv;
      }
    for (uint m = 0; m < 8; ++m)
      red[ty][m][tx] = acc[m];
    barrier();
    if (ty == 0 && n < p.N)
      for (uint m = 0; m < p.M; ++m)
        p.y.v[yOff + m * p.N + n] = ((red[0][m][tx] + red[1][m][tx]) +
                                     (red[2][m][tx] + red[3][m][tx])) +
                                    (addBias ? p.bias.v[n] : 0.0);
    barrier();
  }
}
