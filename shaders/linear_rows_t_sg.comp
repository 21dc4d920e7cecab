#version 460
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "common.glsl"
// linear_rows_t with subgroup arithmetic (picked by the host when the device
// has it, subgroup size >= 4 and a power of two): W [N, K], a workgroup owns
// 8 output columns. Work is split by subgroup, never by thread index, so any
// subgroup size works: with q = max(1, gl_NumSubgroups / 8) subgroups per
// column, subgroup sg takes columns sg / q, sg / q + NS / q, ... and part
// sg % q of their k range (lanes stride over k, reading each weight once);
// subgroupAdd reduces the lanes, and the q parts of a column are added in
// order from shared memory (deterministic on a device).
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
// [m][column * q + part]; 8 * q <= max(8, gl_NumSubgroups) <= 64 (size >= 4)
shared float red[8][64];
void main() {
  uint tid = gl_LocalInvocationID.x;
  uint NS = gl_NumSubgroups, sg = gl_SubgroupID;
  uint S = gl_SubgroupSize, lane = gl_SubgroupInvocationID;
  uint q = max(1u, NS / 8), part = sg % q, colsPerPass = NS / q;
  uint step = q * S, first = part * S + lane;
  uint groups = (p.N + 7) / 8;
  for (uint g = gl_WorkGroupID.x; g < groups; g += gl_NumWorkGroups.x) {
    // Uniform within the subgroup: c, n and the branches depend on sg only.
    for (uint c = sg / q; c < 8; c += colsPerPass) {
      uint n = g * 8 + c;
      if (n >= p.N)
        break;
      float acc[8];
      for (uint m = 0; m < 8; ++m)
        acc[m] = 0.0;
      uint64_t wRow = p.w + uint64_t(n) * p.K * 4;
      if (p.vec != 0) {
        F32x4 W = F32x4(wRow), X = F32x4(p.x);
        uint K4 = p.K / 4;
        for (uint k = first; k < K4; k += step) {
          vec4 wv = W.v[k];
          for (uint m = 0; m < 8; ++m)
            if (m < p.M)
              acc[m] += dot(X.v[m * K4 + k], wv);
        }
      } else {
        F32 W = F32(wRow), X = F32(p.x);
        for (uint k = first; k < p.K; k += step) {
          float wv = W.v[k];
          for (uint m = 0; m < 8; ++m)
            if (m < p.M)
              acc[m] += X.v[m * p.K + k] * wv;
        }
      }
      for (uint m = 0; m < 8; ++m) {
        float s = subgroupAdd(acc[m]);
        if (lane == 0)
          red[m][c * q + part] = s;
      }
    }
    barrier();
    if (tid < 64) {
      uint c = tid / 8, m = tid % 8, n = g * 8 + c;
      if (m < p.M && n < p.N) {
        float s = 0.0;
        for (uint i = 0; i < q; ++i)
          s += red[m][c * q + i];
        p.y.v[m * p.N + n] = s + (p.hasBias != 0 ? p.bias.v[n] : 0.0);
      }
    }
    barrier();
  }
}
