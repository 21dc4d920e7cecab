#version 460
#include "common.glsl"
// kv_cache_write: cache[block_table[b, p / BS], p % BS] = new[b, t] for
// p = start[b] + t. Slots the host could not check (table or start made on
// the device) that fall outside the pool are skipped.
layout(local_size_x = 256) in;
layout(push_constant) uniform Push {
  F32 cache;
  F32 src;
  I32 table;
  I32 start;
  uint n; // B * T * D
  uint T;
  uint D;
  uint BS;
  uint NB;
  uint N;
} p;
void main() {
  GRID_STRIDE(i, p.n) {
    uint r = i / p.D, d = i - r * p.D;
    uint b = r / p.T, t = r - b * p.T;
    int pos = p.start.v[b] + int(t);
    if (pos < 0 || uint(pos) >= p.NB * p.BS)
      continue;
    int blk = p.table.v[b * p.NB + uint(pos) / p.BS];
    if (blk < 0 || uint(blk) >= p.N)
      continue;
    p.cache.v[(uint(blk) * p.BS + uint(pos) % p.BS) * p.D + d] = p.src.v[i];
  }
}
