#version 460
#include "common.glsl"
// attention backward, dq: one workgroup per (query tile, head, batch).
#define DQ
#include "attention_bwd.glsl"

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint b = gl_WorkGroupID.z, h = gl_WorkGroupID.y;
  const uint Dh = p.Dh, LD = Dh + 1, BR = p.BR, BC = p.BC;
  const uint i0 = gl_WorkGroupID.x * BR;
  if (i0 >= p.T)
    return;
  const uint rows = min(BR, p.T - i0);
  const int offset = int(p.S) - int(p.T);
  // Keys visible to the tile's last row bound the key loop.
  const uint jEnd = p.causal != 0
                        ? uint(clamp(int(i0 + rows) + offset, 0, int(p.S)))
                        : p.S;
  loadQueryTile(b, h, i0, rows);
  float acc[ACC];
  [[unroll]] for (uint k = 0; k < ACC; ++k) acc[k] = 0.0;
  for (uint j0 = 0; j0 < jEnd; j0 += BC) {
    const uint cols = min(BC, jEnd - j0);
    barrier();
    loadKeyTile(b, h, j0, cols);
    barrier();
    probabilities(i0, rows, j0, cols);
    barrier();
    [[unroll]] for (uint k = 0; k < ACC; ++k) {
      uint e = tid + 64 * k;
      if (e < rows * Dh) {
        uint r = e / Dh, d = e - r * Dh;
        float a = acc[k];
        for (uint c = 0; c < cols; ++c)
          a += dSs[r * BC + c] * Ks[c * LD + d];
        acc[k] = a;
      }
    }
  }
  [[unroll]] for (uint k = 0; k < ACC; ++k) {
    uint e = tid + 64 * k;
    if (e < rows * Dh) {
      uint r = e / Dh, d = e - r * Dh;
      p.g0.v[(b * p.T + i0 + r) * p.gStride + h * Dh + d] = acc[k] * p.scale;
    }
  }
}
