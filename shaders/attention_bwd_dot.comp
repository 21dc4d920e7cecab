#version 460
#include "common.glsl"
// attention backward pre-pass: dvec[b, h, t] = dot(dout[b, t, h], o[b, t, h]).
layout(local_size_x = 64) in;
layout(push_constant) uniform Push {
  F32 dout;
  F32 o;
  F32 dvec;
  uint n; // B * H * T
  uint T;
  uint H;
  uint Dh;
  uint doStride;
  uint oStride;
} p;
void main() {
  GRID_STRIDE(idx, p.n) {
    uint t = idx % p.T, h = (idx / p.T) % p.H, b = idx / (p.T * p.H);
    uint a = (b * p.T + t) * p.doStride + h * p.Dh;
    uint c = (b * p.T + t) * p.oStride + h * p.Dh;
    float s = 0.0;
    for (uint d = 0; d < p.Dh; ++d)
      s += p.dout.v[a + d] * p.o.v[c + d];
    p.dvec.v[idx] = s;
  }
}
