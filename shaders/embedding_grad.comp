#version 460
#include "common.glsl"
// embedding_grad: dtable[v] = sum of dy[r] over rows r with ids[r] == v, in
// increasing r (as the CPU), without float atomics: a workgroup owns ROWS
// table rows [v0, v0 + ROWS), scans the ids 256 at a time and, in chunks
// with a hit, adds the matching dy rows to its own rows (each column by one
// thread, so in row order). Ids outside [0, V) match nothing (the host
// rejects those it can see).
#define ROWS 16
#define NONE 0xffffffffu
layout(local_size_x = 256) in;
layout(push_constant) uniform Push {
  F32 dy;
  I32 ids;
  F32 dt;
  uint N; // rows of dy
  uint D;
  uint V;
} p;
shared uint hits[256]; // table row - v0 of id r, or NONE
shared uint anyHit[2]; // by chunk parity: reset one while the other is read
void main() {
  uint tid = gl_LocalInvocationID.x;
  uint blocks = (p.V + ROWS - 1) / ROWS;
  for (uint blk = gl_WorkGroupID.x; blk < blocks; blk += gl_NumWorkGroups.x) {
    uint v0 = blk * ROWS, rows = min(uint(ROWS), p.V - v0);
    for (uint row = 0; row < rows; ++row)
      for (uint d = tid; d < p.D; d += 256)
        p.dt.v[(v0 + row) * p.D + d] = 0.0;
    if (tid == 0)
      anyHit[0] = 0;
    barrier();
    uint c = 0;
    for (uint base = 0; base < p.N; base += 256, ++c) {
      uint r = base + tid;
      uint row = NONE;
      if (r < p.N) {
        int id = p.ids.v[r];
        if (id >= int(v0) && id < int(v0 + rows))
          row = uint(id) - v0;
      }
      hits[tid] = row;
      if (row != NONE)
        atomicOr(anyHit[c & 1], 1u);
      if (tid == 0)
        anyHit[(c + 1) & 1] = 0;
      barrier();
      if (anyHit[c & 1] != 0) {
        uint count = min(256u, p.N - base);
        for (uint j = 0; j < count; ++j) {
          uint h = hits[j];
          if (h == NONE)
            continue;
          for (uint d = tid; d < p.D; d += 256)
            p.dt.v[(v0 + h) * p.D + d] += p.dy.v[(base + j) * p.D + d];
        }
      }
      barrier();
    }
  }
}
