#version 460
#include "common.glsl"
// paged_attention split-K: merges the per-split partials (m, l, unnormalized
// accumulator) of paged_attention.comp into o, splits in a fixed order.
layout(local_size_x = 64) in;
layout(push_constant) uniform Push {
  F32 part; // [B, H, nsplit, T, Dh + 2]
  F32 o;    // [B, T, D]
  uint n;   // B * T * H * Dh
  uint T;
  uint H;
  uint Dh;
  uint nsplit;
  uint oStride;
} p;
void main() {
  GRID_STRIDE(idx, p.n) {
    uint d = idx % p.Dh, rest = idx / p.Dh;
    uint h = rest % p.H;
    rest /= p.H;
    uint t = rest % p.T, b = rest / p.T;
    uint stride = p.Dh + 2, first = (b * p.H + h) * p.nsplit;
    // A split that saw no key has m = NEG_BIG (attention_fwd.glsl).
    float M = NEG_BIG;
    for (uint s = 0; s < p.nsplit; ++s)
      M = max(M, p.part.v[((first + s) * p.T + t) * stride]);
    float L = 0.0, a = 0.0;
    if (M > NEG_HALF) {
      for (uint s = 0; s < p.nsplit; ++s) {
        uint at = ((first + s) * p.T + t) * stride;
        float m = p.part.v[at];
        if (m > NEG_HALF) {
          float w = exp(m - M);
          L += p.part.v[at + 1] * w;
          a += p.part.v[at + 2 + d] * w;
        }
      }
    }
    p.o.v[(b * p.T + t) * p.oStride + h * p.Dh + d] =
        L > 0.0 ? a * (1.0 / L) : 0.0;
  }
}
