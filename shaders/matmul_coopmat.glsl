// C = op(A) op(B) (+ bias[n]) on cooperative matrices (tensor cores):
// fp16 inputs, fp32 accumulation, through GL_NV_cooperative_matrix (the
// extension Debian 12's glslang compiles; VK_KHR_cooperative_matrix needs
// glslang >= 13). The includer defines TM x TN (the C tile of one
// workgroup, multiples of 32 x 64) and BK (the K slice, a multiple of 16).
//
// 256 threads = 8 subgroups of 32 (the host picks this shader only when the
// subgroup size is 32 and the device offers 16 x 16 x 16 fp16 x fp16 +
// fp32), laid out 2 x 4 over the tile: each owns a (TM/2) x (TN/4) block
// of FM x FN 16 x 16 accumulators. Each K slice is loaded from global
// memory as fp32 (matmul_load.glsl, the next slice prefetched into
// registers while this one is multiplied), converted to fp16 into shared
// memory (A as [m][k], B as [k][n], rows padded by 8 halves), and
// multiplied fragment by fragment. The epilogue goes through a per-subgroup
// 16 x 16 fp32 scratch to add the bias and clip ragged edges.
//
// Rounding: each product term has operands rounded to fp16 (relative error
// <= 2^-11 each), the sum is fp32, so |error| <~ 2^-10 * sum |a_k b_k|.
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require

#include "matmul_load.glsl"

const uint WM = TM / 2, WN = TN / 4; // one subgroup's block
const uint FM = WM / 16, FN = WN / 16;
const uint AST = BK + 8; // padded row strides (halves; 16-byte multiples)
const uint BST = TN + 8;

shared float16_t As[TM * AST];
shared float16_t Bs[BK * BST];
shared float Cs[8 * 256];

void storeTiles() {
  uint tid = gl_LocalInvocationIndex;
  for (uint s = 0; s < LA; ++s) {
    uint v = tid + 256 * s;
    if ((p.flags & TRANS_A) == 0) { // 4 consecutive k of row r
      uint r = v / (BK / 4), kq = (v % (BK / 4)) * 4;
      for (uint i = 0; i < 4; ++i)
        As[r * AST + kq + i] = float16_t(ra[s][i]);
    } else { // 4 consecutive m of slice row k
      uint k = v / (TM / 4), mq = (v % (TM / 4)) * 4;
      for (uint i = 0; i < 4; ++i)
        As[(mq + i) * AST + k] = float16_t(ra[s][i]);
    }
  }
  for (uint s = 0; s < LB; ++s) {
    uint v = tid + 256 * s;
    if ((p.flags & TRANS_B) == 0) { // 4 consecutive n of slice row k
      uint k = v / (TN / 4), nq = (v % (TN / 4)) * 4;
      for (uint i = 0; i < 4; ++i)
        Bs[k * BST + nq + i] = float16_t(rb[s][i]);
    } else { // 4 consecutive k of column n
      uint n = v / (BK / 4), kq = (v % (BK / 4)) * 4;
      for (uint i = 0; i < 4; ++i)
        Bs[(kq + i) * BST + n] = float16_t(rb[s][i]);
    }
  }
}

void main() {
  uint sg = gl_SubgroupID;
  uint wm = sg / 4, wn = sg % 4;
  uint m0 = gl_WorkGroupID.y * TM, n0 = gl_WorkGroupID.x * TN;
  uint64_t z = gl_WorkGroupID.z;
  uint64_t aBase = p.a + z * p.strideA * 4;
  uint64_t bBase = p.b + z * p.strideB * 4;

  fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> acc[FM][FN];
  for (uint i = 0; i < FM; ++i)
    for (uint j = 0; j < FN; ++j)
      acc[i][j] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);

  loadTiles(aBase, bBase, m0, n0, 0);
  for (uint k0 = 0; k0 < p.K; k0 += BK) {
    storeTiles();
    barrier();
    if (k0 + BK < p.K)
      loadTiles(aBase, bBase, m0, n0, k0 + BK);
    for (uint kk = 0; kk < BK; kk += 16) {
      fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> fa[FM];
      fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> fb[FN];
      for (uint i = 0; i < FM; ++i)
        coopMatLoadNV(fa[i], As, (wm * WM + i * 16) * AST + kk, AST, false);
      for (uint j = 0; j < FN; ++j)
        coopMatLoadNV(fb[j], Bs, kk * BST + wn * WN + j * 16, BST, false);
      for (uint i = 0; i < FM; ++i)
        for (uint j = 0; j < FN; ++j)
          acc[i][j] = coopMatMulAddNV(fa[i], fb[j], acc[i][j]);
    }
    barrier();
  }

  bool hasBias = (p.flags & HAS_BIAS) != 0;
  F32 bias = F32(p.bias);
  F32 C = F32(p.c + z * p.strideC * 4);
  uint lane = gl_SubgroupInvocationID;
  for (uint i = 0; i < FM; ++i)
    for (uint j = 0; j < FN; ++j) {
      coopMatStoreNV(acc[i][j], Cs, sg * 256, 16, false);
      subgroupMemoryBarrierShared();
      subgroupBarrier();
      uint rowBase = m0 + wm * WM + i * 16, colBase = n0 + wn * WN + j * 16;
      for (uint e = lane; e < 256; e += 32) {
        uint m = rowBase + e / 16, n = colBase + e % 16;
        if (m < p.M && n < p.N)
          C.v[m * p.ldc + n] =
              Cs[sg * 256 + e] + (hasBias ? bias.v[n] : 0.0);
      }
      subgroupBarrier(); // Cs is rewritten by the next fragment
    }
}
