//===- MatmulKernels.cpp - linear, linear_weight_grad, matmul -------------===//
//
// Every product goes through one tiled, register-blocked GEMM shader
// (matmul: 64 x 64 tiles; matmul_big: 128 x 128 when there are enough tiles
// to fill a device) with transposes and batch strides in its push
// constants. `linear` with at most kFewRows rows (decode) takes a path that
// reads each weight once instead (linear_rows / linear_rows_t).
// GPT_VK_MATMUL=small|big|coopmat|coopmat_small|rows forces a path (tests).
// On devices with cooperative matrices (docs/vulkan.md), products of
// functions that GPT_VK_COOPMAT allows (inference by default) run on
// matmul_coopmat(_small): fp16 inputs, fp32 accumulation. linear_rows_t has a
// subgroup-arithmetic twin (linear_rows_t_sg) used when the device has
// subgroup arithmetic with a power-of-two subgroup size of 4..256, unless
// GPT_VK_SUBGROUPS=0.
//
//===----------------------------------------------------------------------===//
#include "runtime/vulkan/KernelContext.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace gpt::vk {
namespace {

constexpr int64_t kFewRows = 8;

bool aligned16(uint64_t address) { return address % 16 == 0; }

/// C[z] (M x N, ldc) = op(A[z]) op(B[z]) (+ bias) for z < batch.
struct Gemm {
  uint64_t a = 0, b = 0, c = 0, bias = 0;
  int64_t M = 0, N = 0, K = 0, lda = 0, ldb = 0, ldc = 0;
  int64_t strideA = 0, strideB = 0, strideC = 0, batch = 1;
  bool transA = false, transB = false;
};

struct GemmPush {
  uint64_t a, b, c, bias;
  uint32_t M, N, K, lda, ldb, ldc, strideA, strideB, strideC, flags;
};
static_assert(sizeof(GemmPush) == 72);

/// The GEMM shader for a product: tensor cores (fp16 inputs) where the
/// function allows them and K is long enough to pay for the conversion,
/// else fp32 FMA; 128 x 128 tiles only when that still gives a few hundred
/// workgroups (a large GPU has ~100 compute units), else 64 x 64.
const char *gemmShader(const DeviceCaps &caps, const Gemm &g, bool fp16Products,
                       int64_t *tile) {
  int64_t bigTiles = ((g.M + 127) / 128) * ((g.N + 127) / 128) * g.batch;
  const std::string &forced = caps.forcedMatmul;
  bool coopmat = forced == "coopmat" || forced == "coopmat_small" ||
                 (forced.empty() && fp16Products && g.K >= 64);
  if (coopmat && !caps.coopmat)
    throw ExecutorError("vulkan: GPT_VK_MATMUL=" + forced +
                        " but the device has no usable cooperative matrices "
                        "(`gpt devices` says what it reports)");
  bool big = forced == "big" || forced == "coopmat" ||
             (forced.empty() && bigTiles >= 256);
  *tile = big ? 128 : 64;
  if (coopmat)
    return big ? "matmul_coopmat" : "matmul_coopmat_small";
  return big ? "matmul_big" : "matmul";
}

void recordGemm(Recorder &rec, const Gemm &g, bool fp16Products) {
  if (g.M == 0 || g.N == 0 || g.batch == 0)
    return;
  int64_t tile = 64;
  const char *shader = gemmShader(rec.caps(), g, fp16Products, &tile);
  int64_t gx = (g.N + tile - 1) / tile;
  if (gx > rec.caps().maxGroupCountX)
    throw std::runtime_error("vulkan: matmul with N = " + std::to_string(g.N) +
                             " exceeds one dispatch grid");
  // The grid's y (rows of tiles) and z (batch) are split into dispatches of
  // at most 65535 groups, offsetting the addresses.
  const int64_t maxGroups = 65535;
  int64_t rowsPer = maxGroups * tile;
  for (int64_t z0 = 0; z0 < g.batch; z0 += maxGroups) {
    int64_t nz = std::min(maxGroups, g.batch - z0);
    for (int64_t m0 = 0; m0 < g.M; m0 += rowsPer) {
      int64_t mm = std::min(rowsPer, g.M - m0);
      uint64_t a =
          g.a + 4 * uint64_t(z0 * g.strideA + (g.transA ? m0 : m0 * g.lda));
      uint64_t b = g.b + 4 * uint64_t(z0 * g.strideB);
      uint64_t c = g.c + 4 * uint64_t(z0 * g.strideC + m0 * g.ldc);
      bool batched = nz > 1;
      bool vecA =
          aligned16(a) && g.lda % 4 == 0 && (!batched || g.strideA % 4 == 0);
      bool vecB =
          aligned16(b) && g.ldb % 4 == 0 && (!batched || g.strideB % 4 == 0);
      GemmPush push{a,
                    b,
                    c,
                    g.bias,
                    u32(mm),
                    u32(g.N),
                    u32(g.K),
                    u32(g.lda),
                    u32(g.ldb),
                    u32(g.ldc),
                    u32(g.strideA),
                    u32(g.strideB),
                    u32(g.strideC),
                    (g.transA ? 1u : 0u) | (g.transB ? 2u : 0u) |
                        (vecA ? 4u : 0u) | (vecB ? 8u : 0u) |
                        (g.bias ? 16u : 0u)};
      rec.dispatch(shader, &push, sizeof push, uint32_t(gx),
                   uint32_t((mm + tile - 1) / tile), uint32_t(nz));
    }
  }
}

void recordLinear(KernelContext &ctx) {
  const DeviceTensor &x = *ctx.in[0], &w = *ctx.in[1], &y = *ctx.out[0];
  const DeviceTensor *bias = ctx.in.size() > 2 ? ctx.in[2] : nullptr;
  bool tw = attrBool(ctx.kernel, "transpose_weight");
  int64_t K = x.last(), M = x.rows(), N = tw ? w.shape[0] : w.shape[1];
  if (M == 0 || N == 0)
    return;
  u32(x.numel);
  u32(w.numel);
  u32(y.numel);
  const std::string &forced = ctx.rec.caps().forcedMatmul;
  bool rows = forced == "rows" || (forced.empty() && M <= kFewRows);
  if (rows && M <= kFewRows) {
    if (tw) {
      struct {
        uint64_t x, w, y, bias;
        uint32_t M, N, K, hasBias, vec;
      } push{x.address,
             w.address,
             y.address,
             bias ? bias->address : 0,
             u32(M),
             u32(N),
             u32(K),
             bias ? 1u : 0u,
             aligned16(x.address) && aligned16(w.address) && K % 4 == 0};
      static_assert(sizeof push == 56);
      const char *shader = useSubgroups(ctx.rec.caps(), 256)
                               ? "linear_rows_t_sg"
                               : "linear_rows_t";
      ctx.rec.dispatch(shader, &push, sizeof push,
                       groupsFor(N, 8, ctx.rec.caps()));
    } else {
      // Few column blocks (e.g. N = 768: 12) would leave most of a GPU
      // idle: split K into slices of >= 64 (partials in scratch), then add
      // the slices in order (sum_leading).
      int64_t blocks = (N + 63) / 64;
      int64_t slices = std::clamp<int64_t>((256 + blocks - 1) / blocks, 1,
                                           std::max<int64_t>(1, K / 64));
      int64_t kChunk = (K + slices - 1) / slices;
      slices = kChunk ? (K + kChunk - 1) / kChunk : 1;
      uint64_t out = slices > 1 ? ctx.rec.scratch(0, size_t(slices * M * N) * 4)
                                : y.address;
      struct {
        uint64_t x, w, y, bias;
        uint32_t M, N, K, hasBias, kChunk;
      } push{x.address,
             w.address,
             out,
             bias ? bias->address : 0,
             u32(M),
             u32(N),
             u32(K),
             bias ? 1u : 0u,
             u32(std::max<int64_t>(kChunk, 1))};
      static_assert(sizeof push == 56);
      ctx.rec.dispatch("linear_rows", &push, sizeof push,
                       groupsFor(N, 64, ctx.rec.caps()), u32(slices));
      if (slices > 1) {
        struct {
          uint64_t x, y;
          uint32_t S, R, chunk, chunks;
        } sum{out, y.address, u32(M * N), u32(slices), u32(slices), 1};
        static_assert(sizeof sum == 32);
        ctx.rec.dispatch("sum_leading", &sum, sizeof sum,
                         groupsFor(M * N, 256, ctx.rec.caps()));
      }
    }
    return;
  }
  Gemm g;
  g.a = x.address;
  g.b = w.address;
  g.c = y.address;
  g.bias = bias ? bias->address : 0;
  g.M = M;
  g.N = N;
  g.K = K;
  g.lda = K;
  g.ldb = tw ? K : N;
  g.ldc = N;
  g.transB = tw;
  recordGemm(ctx.rec, g, ctx.fp16Products);
}

/// dW = xᵀ·dy over all rows ([K, N]), or dyᵀ·x ([N, K]) when transposed.
void recordLinearWeightGrad(KernelContext &ctx) {
  const DeviceTensor &x = *ctx.in[0], &dy = *ctx.in[1], &dw = *ctx.out[0];
  bool tw = attrBool(ctx.kernel, "transpose_weight");
  int64_t K = x.last(), N = dy.last(), rows = x.rows();
  u32(x.numel);
  u32(dy.numel);
  u32(dw.numel);
  Gemm g;
  g.a = tw ? dy.address : x.address;
  g.b = tw ? x.address : dy.address;
  g.c = dw.address;
  g.M = tw ? N : K;
  g.N = tw ? K : N;
  g.K = rows;
  g.lda = g.M;
  g.ldb = g.N;
  g.ldc = g.N;
  g.transA = true;
  recordGemm(ctx.rec, g, ctx.fp16Products);
}

void recordMatmul(KernelContext &ctx) {
  const DeviceTensor &a = *ctx.in[0], &b = *ctx.in[1], &y = *ctx.out[0];
  bool tl = attrBool(ctx.kernel, "transpose_lhs");
  bool tr = attrBool(ctx.kernel, "transpose_rhs");
  size_t ra = a.shape.size(), rb = b.shape.size();
  int64_t M = tl ? a.shape[ra - 1] : a.shape[ra - 2];
  int64_t K = tl ? a.shape[ra - 2] : a.shape[ra - 1];
  int64_t N = tr ? b.shape[rb - 2] : b.shape[rb - 1];
  int64_t batch = 1;
  for (size_t d = 0; d + 2 < ra; ++d)
    batch *= a.shape[d];
  bool bBatched = rb > 2;
  u32(a.numel);
  u32(b.numel);
  u32(y.numel);
  Gemm g;
  g.a = a.address;
  g.b = b.address;
  g.c = y.address;
  g.N = N;
  g.K = K;
  g.lda = tl ? M : K;
  g.ldb = tr ? K : N;
  g.ldc = N;
  g.transA = tl;
  g.transB = tr;
  if (!bBatched && !tl) { // one tall product
    g.M = batch * M;
  } else {
    g.M = M;
    g.batch = batch;
    g.strideA = M * K;
    g.strideB = bBatched ? K * N : 0;
    g.strideC = M * N;
  }
  recordGemm(ctx.rec, g, ctx.fp16Products);
}

} // namespace

void registerMatmulKernels(KernelTable &table) {
  table[KernelId::Linear] = recordLinear;
  table[KernelId::LinearWeightGrad] = recordLinearWeightGrad;
  table[KernelId::Matmul] = recordMatmul;
}

} // namespace gpt::vk
