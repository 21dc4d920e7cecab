// Tiled, register-blocked C = op(A) op(B) (+ bias[n]) for matmul.comp and
// matmul_big.comp, which define TM x TN (the C tile of one workgroup), BK
// (the K slice staged in shared memory) and RM x RN (the C block of one of
// the 16 x 16 threads; multiples of 4). op(A) is M x K: A is [M, K] (lda),
// or [K, M] with TRANS_A; op(B) is K x N: B is [K, N], or [N, K] with
// TRANS_B. Batch item z = gl_WorkGroupID.z is offset by the strides
// (0 broadcasts). Tiles are loaded as vec4 along the contiguous dim when the
// host says the operand is 16-byte aligned (VEC_*), scalar at ragged edges;
// the next K slice is fetched into registers while this one is multiplied.
#include "matmul_load.glsl"

shared vec4 As[BK][TM / 4]; // k-major: a thread reads 4 rows at once
shared vec4 Bs[BK][TN / 4];

void storeTiles() {
  uint tid = gl_LocalInvocationIndex;
  for (uint s = 0; s < LA; ++s) {
    uint v = tid + 256 * s;
    if ((p.flags & TRANS_A) == 0) {
      uint r = v / (BK / 4), kq = (v % (BK / 4)) * 4;
      for (uint i = 0; i < 4; ++i)
        As[kq + i][r / 4][r % 4] = ra[s][i];
    } else {
      As[v / (TM / 4)][v % (TM / 4)] = ra[s];
    }
  }
  for (uint s = 0; s < LB; ++s) {
    uint v = tid + 256 * s;
    if ((p.flags & TRANS_B) == 0) {
      Bs[v / (TN / 4)][v % (TN / 4)] = rb[s];
    } else {
      uint r = v / (BK / 4), kq = (v % (BK / 4)) * 4;
      for (uint i = 0; i < 4; ++i)
        Bs[kq + i][r / 4][r % 4] = rb[s][i];
    }
  }
}

void main() {
  uint tid = gl_LocalInvocationIndex;
  uint tx = tid % 16, ty = tid / 16;
  uint m0 = gl_WorkGroupID.y * TM, n0 = gl_WorkGroupID.x * TN;
  uint64_t z = gl_WorkGroupID.z;
  uint64_t aBase = p.a + z * p.strideA * 4;
  uint64_t bBase = p.b + z * p.strideB * 4;
  F32 C = F32(p.c + z * p.strideC * 4);

  // Thread rows (ty + 16 g) * 4 + i, columns (tx + 16 h) * 4 + j: a warp
  // reads distinct consecutive vec4s of Bs and broadcasts As.
  vec4 acc[RM][RN / 4];
  for (uint i = 0; i < RM; ++i)
    for (uint h = 0; h < RN / 4; ++h)
      acc[i][h] = vec4(0.0);

  loadTiles(aBase, bBase, m0, n0, 0);
  for (uint k0 = 0; k0 < p.K; k0 += BK) {
    storeTiles();
    barrier();
    if (k0 + BK < p.K)
      loadTiles(aBase, bBase, m0, n0, k0 + BK);
    for (uint kk = 0; kk < BK; ++kk) {
      vec4 av[RM / 4], bv[RN / 4];
      for (uint g = 0; g < RM / 4; ++g)
        av[g] = As[kk][ty + 16 * g];
      for (uint h = 0; h < RN / 4; ++h)
        bv[h] = Bs[kk][tx + 16 * h];
      for (uint g = 0; g < RM / 4; ++g)
        for (uint i = 0; i < 4; ++i)
          for (uint h = 0; h < RN / 4; ++h)
            acc[g * 4 + i][h] += av[g][i] * bv[h];
    }
    barrier();
  }

  bool hasBias = (p.flags & HAS_BIAS) != 0;
  F32 bias = F32(p.bias);
  for (uint g = 0; g < RM / 4; ++g)
    for (uint i = 0; i < 4; ++i) {
      uint m = m0 + (ty + 16 * g) * 4 + i;
      if (m >= p.M)
        continue;
      for (uint h = 0; h < RN / 4; ++h)
        for (uint j = 0; j < 4; ++j) {
          uint n = n0 + (tx + 16 * h) * 4 + j;
          if (n < p.N)
            C.v[m * p.ldc + n] =
                acc[g * 4 + i][h][j] + (hasBias ? bias.v[n] : 0.0);
        }
    }
}
