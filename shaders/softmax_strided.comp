#version 460
#include "common.glsl"
// softmax / softmax_grad along an inner axis (elements `inner` apart): one
// thread per (outer, inner) line, neighbouring threads read neighbouring
// addresses. grad != 0: out = b * (a - sum(a * b)) with a = dy, b = y.
layout(local_size_x = 128) in;
layout(push_constant) uniform Push {
  F32 a;
  F32 b;
  F32 o;
  uint outer;
  uint len;
  uint inner;
  uint grad;
} p;

void main() {
  uint len = p.len, inner = p.inner;
  GRID_STRIDE(l, p.outer * inner) {
    uint base = (l / inner) * len * inner + l % inner;
    if (p.grad != 0) {
      float dot = 0.0;
      for (uint j = 0; j < len; ++j)
        dot += p.a.v[base + j * inner] * p.b.v[base + j * inner];
      for (uint j = 0; j < len; ++j) {
        uint at = base + j * inner;
        p.o.v[at] = p.b.v[at] * (p.a.v[at] - dot);
      }
    } else {
      float m = NEG_BIG;
      for (uint j = 0; j < len; ++j)
        m = max(m, p.a.v[base + j * inner]);
      float s = 0.0;
      for (uint j = 0; j < len; ++j)
        s += osmProb(p.a.v[base + j * inner], m, 1.0);
      float inv = m <= NEG_HALF ? 0.0 : 1.0 / s; // all masked: zeros
      for (uint j = 0; j < len; ++j) {
        uint at = base + j * inner;
        p.o.v[at] = osmProb(p.a.v[at], m, inv);
      }
    }
  }
}
