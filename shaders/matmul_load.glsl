// The global-memory half of the tiled GEMMs (matmul_tile.glsl for fp32
// FMA, matmul_coopmat.glsl for cooperative matrices): push constants, flags
// and the register-staged loads of one K slice. The includer defines TM, TN
// (the C tile of one workgroup) and BK (the K slice); 256 threads load
// TM x BK of op(A) into ra and BK x TN of op(B) into rb, as vec4 along the
// operand's contiguous dim when the host says it is 16-byte aligned
// (VEC_*), scalar at ragged edges (zeros outside the matrix). op(A) is
// M x K: A is [M, K] (lda), or [K, M] with TRANS_A; op(B) is K x N: B is
// [K, N], or [N, K] with TRANS_B.
layout(local_size_x = 256) in;
layout(push_constant) uniform Push {
  uint64_t a;
  uint64_t b;
  uint64_t c;
  uint64_t bias; // used only with HAS_BIAS
  uint M;
  uint N;
  uint K;
  uint lda;
  uint ldb;
  uint ldc;
  uint strideA; // elements between batch items
  uint strideB;
  uint strideC;
  uint flags;
} p;

#define TRANS_A 1u
#define TRANS_B 2u
#define VEC_A 4u
#define VEC_B 8u
#define HAS_BIAS 16u

const uint LA = TM * BK / 1024; // vec4 loads per thread per K slice
const uint LB = TN * BK / 1024;

// base[idx .. idx + 3], of which the first `valid` exist (the rest 0).
vec4 load4(uint64_t base, uint idx, uint valid, bool vec) {
  if (vec && valid >= 4)
    return F32x4(base).v[idx / 4];
  vec4 r = vec4(0.0);
  F32 s = F32(base);
  for (uint i = 0; i < min(valid, 4u); ++i)
    r[i] = s.v[idx + i];
  return r;
}

// In-bounds count of 4 elements starting at `at` along a dim of `extent`.
uint validOf(bool rowOk, uint at, uint extent) {
  return rowOk && at < extent ? extent - at : 0u;
}

vec4 ra[LA];
vec4 rb[LB];

void loadTiles(uint64_t aBase, uint64_t bBase, uint m0, uint n0, uint k0) {
  uint tid = gl_LocalInvocationIndex;
  bool vecA = (p.flags & VEC_A) != 0, vecB = (p.flags & VEC_B) != 0;
  for (uint s = 0; s < LA; ++s) {
    uint v = tid + 256 * s;
    if ((p.flags & TRANS_A) == 0) { // [M, K]: contiguous along k
      uint m = m0 + v / (BK / 4), k = k0 + (v % (BK / 4)) * 4;
      ra[s] = load4(aBase, m * p.lda + k, validOf(m < p.M, k, p.K), vecA);
    } else { // [K, M]: contiguous along m
      uint k = k0 + v / (TM / 4), m = m0 + (v % (TM / 4)) * 4;
      ra[s] = load4(aBase, k * p.lda + m, validOf(k < p.K, m, p.M), vecA);
    }
  }
  for (uint s = 0; s < LB; ++s) {
    uint v = tid + 256 * s;
    if ((p.flags & TRANS_B) == 0) { // [K, N]: contiguous along n
      uint k = k0 + v / (TN / 4), n = n0 + (v % (TN / 4)) * 4;
      rb[s] = load4(bBase, k * p.ldb + n, validOf(k < p.K, n, p.N), vecB);
    } else { // [N, K]: contiguous along k
      uint n = n0 + v / (BK / 4), k = k0 + (v % (BK / 4)) * 4;
      rb[s] = load4(bBase, n * p.ldb + k, validOf(n < p.N, k, p.K), vecB);
    }
  }
}

