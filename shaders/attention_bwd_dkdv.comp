#version 460
#include "common.glsl"
// attention backward, dk and dv: one workgroup per (key tile, head, batch),
// looping over the query tiles that see it.
#include "attention_bwd.glsl"

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint b = gl_WorkGroupID.z, h = gl_WorkGroupID.y;
  const uint Dh = p.Dh, BR = p.BR, BC = p.BC, LD = Dh + 1;
  const uint j0 = gl_WorkGroupID.x * BC;
  if (j0 >= p.S)
    return;
  const uint cols = min(BC, p.S - j0);
  const int offset = int(p.S) - int(p.T);
  // Query i sees key j when j < i + offset + 1: the first query to see j0.
  const uint iStart = p.causal != 0 ? uint(max(int(j0) - offset, 0)) : 0;
  loadKeyTile(b, h, j0, cols);
  float dk[ACC], dv[ACC];
  [[unroll]] for (uint k = 0; k < ACC; ++k) {
    dk[k] = 0.0;
    dv[k] = 0.0;
  }
  for (uint i0 = iStart; i0 < p.T; i0 += BR) {
    const uint rows = min(BR, p.T - i0);
    barrier();
    loadQueryTile(b, h, i0, rows);
    barrier();
    probabilities(i0, rows, j0, cols);
    barrier();
    [[unroll]] for (uint k = 0; k < ACC; ++k) {
      uint e = tid + 64 * k;
      if (e < cols * Dh) {
        uint c = e / Dh, d = e - c * Dh;
        float a = dk[k], g = dv[k];
        for (uint r = 0; r < rows; ++r) {
          a += dSs[r * BC + c] * Qs[r * LD + d];
          g += Ps[r * BC + c] * dOs[r * LD + d];
        }
        dk[k] = a;
        dv[k] = g;
      }
    }
  }
  [[unroll]] for (uint k = 0; k < ACC; ++k) {
    uint e = tid + 64 * k;
    if (e < cols * Dh) {
      uint c = e / Dh, d = e - c * Dh;
      uint at = (b * p.S + j0 + c) * p.gStride + h * Dh + d;
      if (uint64_t(p.g0) != 0)
        p.g0.v[at] = dk[k] * p.scale;
      if (uint64_t(p.g1) != 0)
        p.g1.v[at] = dv[k];
    }
  }
}
