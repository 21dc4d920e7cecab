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

// Ps and dSs of the tile (zero where masked or outside the tensors).
void probabilities(uint i0, uint rows, uint j0, uint cols) {
  const uint Dh = p.Dh, LD = Dh + 1, BC = p.BC;
  const int offset = int(p.S) - int(p.T);
  for (uint idx = gl_LocalInvocationID.x; idx < p.BR * BC; idx += 64) {
    uint r = idx / BC, c = idx - r * BC;
    float pr = 0.0, ds = 0.0;
    bool visible = p.causal == 0 || int(j0 + c) < int(i0 + r) + offset + 1;
    if (r < rows && c < cols && visible) {
      float s = 0.0, dp = 0.0;
      for (uint d = 0; d < Dh; ++d) {
        s += Qs[r * LD + d] * Ks[c * LD + d];
        dp += dOs[r * LD + d] * Vs[c * LD + d];
      }
      pr = exp(p.scale * s - rowLse[r]);
      ds = pr * (dp - rowD[r]);
    }
    Ps[idx] = pr;
    dSs[idx] = ds;
  }
}
