// Flash-style attention forward, shared by attention_fwd.comp (dense k/v)
// and paged_attention.comp (#define PAGED: k/v rows through a block table).
//
// One workgroup per (query tile of BR rows, head, batch). Keys and values
// stream through shared memory BC rows at a time; each query row keeps an
// online softmax (running max m and sum l) and its output accumulator lives
// in registers, spread over the 64 invocations. No [T,S] matrix is stored.
// Query t sees keys j < t + offset + 1 when causal (offset = S - T dense,
// start[b] paged), every key otherwise.
//
// Paged decode with few workgroups splits the keys (flash-decoding): each
// workgroup writes its unnormalized accumulator, m and l to `part`, and
// paged_attention_combine.comp merges the splits in a fixed order.
//
// Tile sizes come from the host (BR, BC <= 32) so that BR*(Dh+1) <= QCAP,
// BC*(Dh+1) <= KCAP, BC*Dh <= VCAP and BR*Dh <= 64*ACC.
#extension GL_EXT_control_flow_attributes : enable
layout(local_size_x = 64) in;

#define QCAP 2080
#define KCAP 2080
#define VCAP 2048
#define ACC 32

layout(push_constant) uniform Push {
  F32 q;
  F32 k;
  F32 v;
  F32 o;
#ifdef PAGED
  I32 table; // [B, NB]
  I32 start; // [B]
  F32 part;  // split-K partials [B, H, nsplit, T, Dh + 2] (nsplit > 1)
#else
  F32 lse; // [B, H, T]; address 0: not wanted
#endif
  uint T;
  uint H;
  uint Dh;
  uint qStride;  // floats between query rows
  uint kvStride; // floats between key (and value) rows
  uint oStride;
#ifdef PAGED
  uint BS;
  uint NB;
  uint N;
#else
  uint S;
  uint causal;
  uint pad0;
#endif
  float scale;
  uint BR;
  uint BC;
#ifdef PAGED
  uint nsplit; // > 1: workgroup x = key range of `chunk` keys, one query tile
  uint chunk;
#else
  uint pad1;
#endif
} p;

shared float Qs[QCAP]; // [BR][Dh+1] (padded: conflict-free dot products)
shared float Ks[KCAP]; // [BC][Dh+1]
shared float Vs[VCAP]; // [BC][Dh]
shared float Ps[32 * 32]; // scores, then probabilities [BR][BC]
shared float rowM[32], rowL[32], rowCorr[32];

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint b = gl_WorkGroupID.z, h = gl_WorkGroupID.y;
  const uint Dh = p.Dh, LD = Dh + 1, BR = p.BR, BC = p.BC;
#ifdef PAGED
  const bool split = p.nsplit > 1;
  const uint i0 = split ? 0 : gl_WorkGroupID.x * BR;
#else
  const uint i0 = gl_WorkGroupID.x * BR;
#endif
  if (i0 >= p.T) // uniform over the workgroup
    return;
  const uint rows = min(BR, p.T - i0);
#ifdef PAGED
  // The host checked start and the table when it could; clamp regardless so
  // nothing reads outside the pool.
  const int offset = max(p.start.v[b], 0);
  const int kvLen = int(min(uint(offset) + p.T, p.NB * p.BS));
  const bool causal = true;
#else
  const int offset = int(p.S) - int(p.T);
  const int kvLen = int(p.S);
  const bool causal = p.causal != 0;
#endif
  // Keys visible to the tile's last row bound the key loop.
  int jBegin = 0;
  int jEnd = causal ? clamp(int(i0 + rows) + offset, 0, kvLen) : kvLen;
#ifdef PAGED
  if (split) {
    jBegin = min(int(gl_WorkGroupID.x * p.chunk), jEnd);
    jEnd = min(jEnd, jBegin + int(p.chunk));
  }
#endif

  for (uint e = tid; e < rows * Dh; e += 64) {
    uint r = e / Dh, d = e - r * Dh;
    Qs[r * LD + d] = p.q.v[(b * p.T + i0 + r) * p.qStride + h * Dh + d];
  }
  if (tid < BR) {
    rowM[tid] = NEG_BIG; // no key seen yet (see common.glsl)
    rowL[tid] = 0.0;
  }
  float acc[ACC];
  [[unroll]] for (uint k = 0; k < ACC; ++k) acc[k] = 0.0;

  for (int j0 = jBegin; j0 < jEnd; j0 += int(BC)) {
    const uint cols = min(BC, uint(jEnd - j0));
    barrier(); // the previous tile's Ks/Vs/Ps are consumed
    for (uint e = tid; e < cols * Dh; e += 64) {
      uint c = e / Dh, d = e - c * Dh;
      uint j = uint(j0) + c;
#ifdef PAGED
      int id = clamp(p.table.v[b * p.NB + j / p.BS], 0, int(p.N) - 1);
      uint row = uint(id) * p.BS + j % p.BS;
#else
      uint row = b * p.S + j;
#endif
      uint at = row * p.kvStride + h * Dh + d;
      Ks[c * LD + d] = p.k.v[at];
      Vs[c * Dh + d] = p.v.v[at];
    }
    barrier();
    // Scores, register-blocked: thread (tr, tc) owns rows 4tr..4tr+3 and
    // columns 4tc..4tc+3 of the 32 x 32 tile, so each Q and K value read
    // from shared memory feeds four products. Each dot product is summed
    // over d in order (the same sum as one thread per score).
    {
      const uint tr = tid / 8, tc = tid % 8;
      float dot[4][4];
      [[unroll]] for (uint i = 0; i < 4; ++i)
        [[unroll]] for (uint j = 0; j < 4; ++j) dot[i][j] = 0.0;
      const uint r0 = tr * 4, c0 = tc * 4;
      if (r0 < rows && c0 < cols) {
        const uint qr = min(r0, rows - 1), kc = min(c0, cols - 1);
        uint qa[4], ka[4]; // rows beyond the tile read a valid row, unused
        [[unroll]] for (uint i = 0; i < 4; ++i) {
          qa[i] = min(r0 + i, rows - 1) * LD;
          ka[i] = min(c0 + i, cols - 1) * LD;
        }
        for (uint d = 0; d < Dh; ++d) {
          float qv[4], kv[4];
          [[unroll]] for (uint i = 0; i < 4; ++i) {
            qv[i] = Qs[qa[i] + d];
            kv[i] = Ks[ka[i] + d];
          }
          [[unroll]] for (uint i = 0; i < 4; ++i)
            [[unroll]] for (uint j = 0; j < 4; ++j) dot[i][j] += qv[i] * kv[j];
        }
      }
      [[unroll]] for (uint i = 0; i < 4; ++i) {
        uint r = r0 + i;
        if (r >= rows)
          continue;
        int limit = causal ? int(i0 + r) + offset + 1 : kvLen;
        [[unroll]] for (uint j = 0; j < 4; ++j) {
          uint c = c0 + j;
          if (c >= BC)
            continue;
          Ps[r * BC + c] = c < cols && j0 + int(c) < limit
                               ? dot[i][j] * p.scale
                               : NEG_BIG; // masked
        }
      }
    }
    barrier();
    if (tid < rows) {
      // Online softmax update of row tid; rescale factor for its outputs.
      const uint r = tid;
      float mOld = rowM[r], mx = mOld;
      for (uint c = 0; c < cols; ++c)
        mx = max(mx, Ps[r * BC + c]);
      float corr = 1.0, sum = 0.0;
      if (mx > NEG_HALF) {
        corr = mOld <= NEG_HALF ? 0.0 : exp(mOld - mx);
        for (uint c = 0; c < cols; ++c) {
          float s = Ps[r * BC + c];
          float e = s <= NEG_HALF ? 0.0 : exp(s - mx);
          Ps[r * BC + c] = e;
          sum += e;
        }
      } else {
        for (uint c = 0; c < cols; ++c)
          Ps[r * BC + c] = 0.0;
      }
      rowL[r] = rowL[r] * corr + sum;
      rowM[r] = mx;
      rowCorr[r] = corr;
    }
    barrier();
    if (Dh == 64) {
      // Thread tid owns column d = tid of every row (e = tid + 64 k: row k):
      // each V value read from shared memory feeds all rows.
      [[unroll]] for (uint k = 0; k < ACC; ++k)
        if (k < rows)
          acc[k] *= rowCorr[k];
      for (uint c = 0; c < cols; ++c) {
        float v = Vs[c * 64 + tid];
        [[unroll]] for (uint k = 0; k < ACC; ++k)
          if (k < rows)
            acc[k] += Ps[k * BC + c] * v;
      }
    } else {
      [[unroll]] for (uint k = 0; k < ACC; ++k) {
        uint e = tid + 64 * k;
        if (e < rows * Dh) {
          uint r = e / Dh, d = e - r * Dh;
          float a = acc[k] * rowCorr[r];
          for (uint c = 0; c < cols; ++c)
            a += Ps[r * BC + c] * Vs[c * Dh + d];
          acc[k] = a;
        }
      }
    }
  }
  barrier(); // rowM/rowL are final (also when no key tile ran)
#ifdef PAGED
  if (split) {
    const uint stride = Dh + 2;
    const uint base = ((b * p.H + h) * p.nsplit + gl_WorkGroupID.x) * p.T;
    [[unroll]] for (uint k = 0; k < ACC; ++k) {
      uint e = tid + 64 * k;
      if (e < rows * Dh) {
        uint r = e / Dh, d = e - r * Dh;
        p.part.v[(base + r) * stride + 2 + d] = acc[k];
      }
    }
    if (tid < rows) {
      p.part.v[(base + tid) * stride] = rowM[tid];
      p.part.v[(base + tid) * stride + 1] = rowL[tid];
    }
    return;
  }
#endif
  [[unroll]] for (uint k = 0; k < ACC; ++k) {
    uint e = tid + 64 * k;
    if (e < rows * Dh) {
      uint r = e / Dh, d = e - r * Dh;
      float l = rowL[r], inv = l > 0.0 ? 1.0 / l : 0.0;
      p.o.v[(b * p.T + i0 + r) * p.oStride + h * Dh + d] = acc[k] * inv;
    }
  }
#ifndef PAGED
  if (tid < rows && uint64_t(p.lse) != 0) {
    float l = rowL[tid], m = rowM[tid];
    // A query that sees no key: lse = -inf (as the CPU), stored, not computed.
    p.lse.v[(b * p.H + h) * p.T + i0 + tid] =
        m > NEG_HALF && l > 0.0 ? m + log(l) : NEG_INF_BITS;
  }
#endif
}
