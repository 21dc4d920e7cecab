// Flash-style attention backward, shared by attention_bwd_dq.comp (#define
// DQ: one workgroup per query tile, streams key tiles, owns its dq rows) and
// attention_bwd_dkdv.comp (one workgroup per key tile, streams query tiles,
// owns its dk/dv rows). Each recomputes the probabilities of a tile from the
// forward's lse: P = exp(scale q.k - lse), dS = P (dO.v - D) with
// D = rowsum(dO * O) from attention_bwd_dot.comp. Every output element is
// written by one invocation (deterministic, no atomics).
//
// Tile sizes come from the host: BR query rows, BC key rows, the owned side
// <= 32 rows with rows*(Dh+1) <= 2080 and rows*Dh <= 64*ACC, the streamed
// side <= 16 rows with rows*(Dh+1) <= 1040.
#extension GL_EXT_control_flow_attributes : enable
layout(local_size_x = 64) in;

#ifdef DQ
#define QCAP 2080
#define KCAP 1040
#else
#define QCAP 1040
#define KCAP 2080
#endif
#define ACC 32

layout(push_constant) uniform Push {
  F32 q;
  F32 k;
  F32 v;
  F32 dout;
  F32 lse;  // [B, H, T]
  F32 dvec; // [B, H, T]
  F32 g0;   // dq (DQ) or dk; address 0: not wanted
  F32 g1;   // dv; address 0: not wanted
  uint T;
  uint S;
  uint H;
  uint Dh;
  uint qStride;  // floats between rows of q
  uint kvStride; // of k and v
  uint doStride; // of dout
  uint gStride;  // of the gradients
  uint causal;
  float scale;
  uint BR;
  uint BC;
} p;

shared float Qs[QCAP];  // [BR][Dh+1]
shared float dOs[QCAP]; // [BR][Dh+1]
shared float Ks[KCAP];  // [BC][Dh+1]
shared float Vs[KCAP];  // [BC][Dh+1]
shared float Ps[512];   // [BR][BC]
shared float dSs[512];  // [BR][BC]
shared float rowLse[32], rowD[32];

void loadQueryTile(uint b, uint h, uint i0, uint rows) {
  const uint tid = gl_LocalInvocationID.x, Dh = p.Dh, LD = Dh + 1;
  for (uint e = tid; e < rows * Dh; e += 64) {
    uint r = e / Dh, d = e - r * Dh, t = b * p.T + i0 + r;
    Qs[r * LD + d] = p.q.v[t * p.qStride + h * Dh + d];
    dOs[r * LD + d] = p.dout.v[t * p.doStride + h * Dh + d];
  }
  if (tid < rows) {
    uint at = (b * p.H + h) * p.T + i0 + tid;
    rowLse[tid] = p.lse.v[at];
    rowD[tid] = p.dvec.v[at];
  }
}

void loadKeyTile(uint b, uint h, uint j0, uint cols) {
  const uint Dh = p.Dh, LD = Dh + 1;
  for (uint e = gl_LocalInvocationID.x; e < cols * Dh; e += 64) {
    uint c = e / Dh, d = e - c * Dh;
    uint at = (b * p.S + j0 + c) * p.kvStride + h * Dh + d;
    Ks[c * LD + d] = p.k.v[at];
    Vs[c * LD + d] = p.v.v[at];
  }
}

// Ps and dSs of the tile (zero where masked or outside the tensors),
// register-blocked: thread (tr, tc) of an 8 x 8 grid owns rows
// tr*RB .. +RB-1 and columns tc*CB .. +CB-1 (RB = ceil(BR/8) and
// CB = ceil(BC/8), at most 4 x 4 since BR*BC <= 512), so each Q, dO, K and
// V value read from shared memory feeds RB or CB products. Each dot
// product is summed over d in order, as with one thread per element.
void probabilities(uint i0, uint rows, uint j0, uint cols) {
  const uint Dh = p.Dh, LD = Dh + 1, BR = p.BR, BC = p.BC;
  const int offset = int(p.S) - int(p.T);
  const uint tid = gl_LocalInvocationID.x;
  const uint RB = (BR + 7) / 8, CB = (BC + 7) / 8;
  const uint r0 = (tid / 8) * RB, c0 = (tid % 8) * CB;
  float s[4][4], dp[4][4];
  [[unroll]] for (uint i = 0; i < 4; ++i)
    [[unroll]] for (uint j = 0; j < 4; ++j) {
      s[i][j] = 0.0;
      dp[i][j] = 0.0;
    }
  if (r0 < rows && c0 < cols) {
    uint qa[4], ka[4]; // clamped: rows/columns past the tile are unused
    [[unroll]] for (uint i = 0; i < 4; ++i) {
      qa[i] = min(r0 + min(i, RB - 1), rows - 1) * LD;
      ka[i] = min(c0 + min(i, CB - 1), cols - 1) * LD;
    }
    for (uint d = 0; d < Dh; ++d) {
      float qv[4], ov[4], kv[4], vv[4];
      [[unroll]] for (uint i = 0; i < 4; ++i) {
        qv[i] = Qs[qa[i] + d];
        ov[i] = dOs[qa[i] + d];
        kv[i] = Ks[ka[i] + d];
        vv[i] = Vs[ka[i] + d];
      }
      [[unroll]] for (uint i = 0; i < 4; ++i)
        [[unroll]] for (uint j = 0; j < 4; ++j) {
          s[i][j] += qv[i] * kv[j];
          dp[i][j] += ov[i] * vv[j];
        }
    }
  }
  [[unroll]] for (uint i = 0; i < 4; ++i) {
    uint r = r0 + i;
    if (i >= RB || r >= BR)
      continue;
    [[unroll]] for (uint j = 0; j < 4; ++j) {
      uint c = c0 + j;
      if (j >= CB || c >= BC)
        continue;
      float pr = 0.0, ds = 0.0;
      bool visible = p.causal == 0 || int(j0 + c) < int(i0 + r) + offset + 1;
      if (r < rows && c < cols && visible) {
        pr = exp(p.scale * s[i][j] - rowLse[r]);
        ds = pr * (dp[i][j] - rowD[r]);
      }
      Ps[r * BC + c] = pr;
      dSs[r * BC + c] = ds;
    }
  }
}
