#version 460
#include "common.glsl"
// global_norm pass 1: the tensors are cut into fixed chunks of CHUNK
// elements (a tensor's last chunk may be shorter); workgroup c writes the
// sum of squares of chunk c to partial[c]. table[i] = (address lo, hi,
// numel, first chunk of tensor i), sorted by first chunk.
layout(local_size_x = 128) in;
layout(buffer_reference, std430, buffer_reference_align = 16) buffer Table {
  uvec4 e[];
};
layout(push_constant) uniform Push {
  Table table;
  F32 partial;
  uint tensors;
  uint chunks;
} p;

const uint CHUNK = 8192;
shared float red[128];

void main() {
  uint t = gl_LocalInvocationID.x;
  for (uint c = gl_WorkGroupID.x; c < p.chunks; c += gl_NumWorkGroups.x) {
    // Last tensor whose first chunk is <= c (binary search; uniform).
    uint lo = 0, hi = p.tensors - 1;
    while (lo < hi) {
      uint mid = (lo + hi + 1) / 2;
      if (p.table.e[mid].w <= c)
        lo = mid;
      else
        hi = mid - 1;
    }
    uvec4 ent = p.table.e[lo];
    F32 x = F32(packUint2x32(ent.xy));
    uint begin = (c - ent.w) * CHUNK, end = min(ent.z, begin + CHUNK);
    float s = 0.0;
    for (uint i = begin + t; i < end; i += 128) {
      float v = x.v[i];
      s += v * v;
    }
    red[t] = s;
    barrier();
    for (uint k = 64; k > 0; k >>= 1) {
      if (t < k)
        red[t] += red[t + k];
      barrier();
    }
    if (t == 0)
      p.partial.v[c] = red[0];
    barrier();
  }
}
