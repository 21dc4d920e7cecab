#version 460
#include "common.glsl"
// rope: rotary position embedding (gpt.rope). In each head of the first
// `columns` columns of row r = (b, t), the pair (i, i + hd/2) turns by
// (start[b] + t) * theta^(-2i/hd); `sign` -1 turns the other way (the
// gradient). One invocation per pair, then one per copied column (those
// past `columns`, when y is not x). In place is fine: each pair is read
// and written by one invocation.
layout(local_size_x = 256) in;
layout(push_constant) uniform Push {
  F32 x;
  F32 y;
  I32 start; // valid only if hasStart
  uint rows; // B * T
  uint T;
  uint D;
  uint headDim;
  uint columns;
  uint perRow; // columns / 2 pairs, plus D - columns copies unless in place
  float log2Theta;
  float direction; // 1, or -1 for the inverse
  uint hasStart;
} p;
void main() {
  GRID_STRIDE(w, p.rows * p.perRow) {
    uint r = w / p.perRow, j = w - r * p.perRow;
    uint base = r * p.D;
    uint pairs = p.columns / 2;
    if (j >= pairs) { // a column past the rotated ones
      uint c = p.columns + (j - pairs);
      p.y.v[base + c] = p.x.v[base + c];
      continue;
    }
    uint half_ = p.headDim / 2;
    uint head = j / half_, i = j - head * half_;
    uint b = r / p.T, t = r - b * p.T;
    float pos = float(int(t) + (p.hasStart != 0 ? p.start.v[b] : 0));
    float freq = exp2(-2.0 * float(i) / float(p.headDim) * p.log2Theta);
    // Reduce the angle to [-pi, pi) first: Vulkan bounds sin/cos error only
    // there.
    float turns = fract(pos * freq * 0.15915494309189535 + 0.5) - 0.5;
    float angle = turns * 6.283185307179586;
    float c = cos(angle), s = p.direction * sin(angle);
    uint a = base + head * p.headDim + i;
    float xa = p.x.v[a], xb = p.x.v[a + half_];
    p.y.v[a] = xa * c - xb * s;
    p.y.v[a + half_] = xa * s + xb * c;
  }
}
