//===- DataKernelTest.cpp -------------------------------------------------===//
//
// Data-movement and embedding kernels on Vulkan against the CPU executor.
// Tolerance: exact (data movement copies bits; embedding_grad and
// position_embedding_grad add the same rows in the same order as the CPU)
// except sum_leading (two-pass partial sums: different order).
#include "vulkan/Parity.h"

#include <numeric>

using namespace gpt;
using namespace gpt::test;

namespace {

using Case = KernelCase;

Buf iota(std::vector<int64_t> shape, int32_t from = 0) {
  Buf b;
  b.dtype = DType::I32;
  b.shape = std::move(shape);
  b.i.resize(b.size());
  std::iota(b.i.begin(), b.i.end(), from);
  return b;
}

} // namespace

TEST(VulkanData, SplitConcat) {
  Case c;
  const int64_t B = 2, T = 5;
  int x = c.in("x", randn({B, T, 12}, 1), {-1, -2, 12});
  int p0 = c.b.temp({-1, -2, 4}), p1 = c.b.temp({-1, -2, 4}),
      p2 = c.b.temp({-1, -2, 4});
  int cat = c.b.temp({-1, -2, 12});
  c.b.kernel("split", {x}, {p0, p1, p2}, {{"axis", -1}});
  c.b.kernel("concat", {p2, p0, p1}, {cat}, {{"axis", 2}});
  // Unequal parts along a middle axis, i32.
  int z = c.in("z", iota({2, 5, 7}), {2, 5, 7});
  int s0 = c.b.temp({2, 2, 7}, "i32"), s1 = c.b.temp({2, 3, 7}, "i32");
  int zc = c.b.temp({2, 5, 7}, "i32");
  c.b.kernel("split", {z}, {s0, s1}, {{"axis", 1}});
  c.b.kernel("concat", {s1, s0}, {zc}, {{"axis", 1}});
  // Leading axis.
  int l0 = c.b.temp({1, 5, 7}, "i32"), l1 = c.b.temp({1, 5, 7}, "i32");
  c.b.kernel("split", {z}, {l0, l1}, {{"axis", 0}});
  c.b.output("p1", p1);
  c.b.output("cat", cat);
  c.b.output("s1", s1);
  c.b.output("zc", zc);
  c.b.output("l1", l1);
  expectParity(c.run(), 0, 0);
}

TEST(VulkanData, Transpose) {
  Case c;
  // [B, T, H, Dh] -> [B, H, T, Dh] (general gather, contiguous inner dim).
  int x = c.in("x", randn({2, 5, 3, 4}, 2), {-1, -2, 3, 4});
  int t0 = c.b.temp({-1, 3, -2, 4});
  c.b.kernel("transpose", {x}, {t0}, {{"permutation", {0, 2, 1, 3}}});
  // 2-d swap with ragged 32 x 32 tiles (tiled shader).
  int m = c.in("m", randn({37, 70}, 3));
  int t1 = c.b.temp({70, 37});
  c.b.kernel("transpose", {m}, {t1}, {{"permutation", {1, 0}}});
  // Batched swap of merged blocks: [2, 3, 33, 5] -> [2, 5, 3, 33].
  int q = c.in("q", randn({2, 3, 33, 5}, 4));
  int t2 = c.b.temp({2, 5, 3, 33});
  c.b.kernel("transpose", {q}, {t2}, {{"permutation", {0, 3, 1, 2}}});
  // Arbitrary permutation with size-1 dims, i32, rank 6.
  int r = c.in("r", iota({3, 1, 4, 2, 1, 5}));
  int t3 = c.b.temp({5, 2, 3, 1, 1, 4}, "i32");
  c.b.kernel("transpose", {r}, {t3}, {{"permutation", {5, 3, 0, 4, 1, 2}}});
  // Identity after dropping size-1 dims: a copy.
  int t4 = c.b.temp({3, 4, 1, 1, 2, 5}, "i32");
  c.b.kernel("transpose", {r}, {t4}, {{"permutation", {0, 2, 1, 4, 3, 5}}});
  // Rank 8, every dim > 1.
  int e = c.in("e", randn({2, 3, 2, 2, 3, 2, 2, 3}, 5));
  int t5 = c.b.temp({3, 2, 2, 3, 2, 2, 3, 2});
  c.b.kernel("transpose", {e}, {t5},
             {{"permutation", {7, 6, 5, 4, 3, 2, 1, 0}}});
  c.b.output("t0", t0);
  c.b.output("t1", t1);
  c.b.output("t2", t2);
  c.b.output("t3", t3);
  c.b.output("t4", t4);
  c.b.output("t5", t5);
  expectParity(c.run(), 0, 0);
}

TEST(VulkanData, TakeLast) {
  Case c;
  int x = c.in("x", randn({3, 4, 5}, 9), {-1, -2, 5});
  int y = c.b.temp({-1, 5});
  c.b.kernel("take_last", {x}, {y});
  c.b.output("y", y);
  expectParity(c.run(), 0, 0);
}

TEST(VulkanData, EmbeddingAndErrors) {
  Case c;
  const int64_t B = 2, T = 5, V = 7, D = 6;
  int table = c.in("table", randn({V, D}, 1));
  int ids =
      c.in("tokens", ints({B, T}, {0, 1, 2, 3, 4, 5, 6, 6, 5, 0}), {-1, -2});
  int y = c.b.temp({-1, -2, D});
  c.b.kernel("embedding", {table, ids}, {y});
  // Ids the host cannot see (made on the device): the shader's path.
  int devIds = c.b.temp({-1, -2}, "i32");
  int y2 = c.b.temp({-1, -2, D});
  c.b.kernel("copy", {ids}, {devIds});
  c.b.kernel("embedding", {table, devIds}, {y2});
  c.b.output("y", y);
  c.b.output("y2", y2);
  expectParity(c.run(), 0, 0);
  c.bufs["tokens"].i[7] = 7;
  std::string msg = c.vkError();
  EXPECT_NE(msg.find("token id 7 at position 7 out of range [0, 7)"),
            std::string::npos)
      << msg;
  c.bufs["tokens"].i[7] = -1;
  EXPECT_NE(c.vkError().find("token id -1"), std::string::npos);
}

TEST(VulkanData, EmbeddingGrad) {
  // 300 rows (two chunks of 256 ids), D = 300 (> one thread per column),
  // repeated ids, some table rows never used.
  Case c;
  const int64_t B = 3, T = 100, V = 17, D = 300;
  std::vector<int32_t> idv(B * T);
  for (int64_t i = 0; i < B * T; ++i)
    idv[i] = static_cast<int32_t>((i * 7 + i / 13) % 13);
  int ids = c.in("tokens", ints({B, T}, idv), {-1, -2});
  int dy = c.in("dy", randn({B, T, D}, 2), {-1, -2, D});
  int dt = c.b.temp({V, D});
  c.b.kernel("embedding_grad", {dy, ids}, {dt});
  c.b.output("dt", dt);
  expectParity(c.run(), 0, 0);
  c.bufs["tokens"].i[123] = 17;
  EXPECT_NE(c.vkError().find("token id 17 at position 123 out of range "
                             "[0, 17)"),
            std::string::npos);
}

TEST(VulkanData, PositionEmbeddingAndGrad) {
  Case c;
  const int64_t B = 2, T = 5, C = 6, D = 4;
  int table = c.in("table", randn({C, D}, 2));
  int ids =
      c.in("tokens", ints({B, T}, std::vector<int32_t>(B * T, 0)), {-1, -2});
  int dy = c.in("dy", randn({B, T, D}, 3), {-1, -2, D});
  int y = c.b.temp({-1, -2, D});
  int dt = c.b.temp({C, D});
  c.b.kernel("position_embedding", {table, ids}, {y});
  c.b.kernel("position_embedding_grad", {dy}, {dt});
  c.b.output("y", y);
  c.b.output("dt", dt);
  expectParity(c.run(), 0, 0);
  c.bufs["tokens"] = ints({1, 7}, std::vector<int32_t>(7, 0));
  c.bufs["dy"] = randn({1, 7, D}, 3);
  std::string msg = c.vkError();
  EXPECT_NE(msg.find("sequence length T = 7 exceeds the context length 6"),
            std::string::npos)
      << msg;
}

TEST(VulkanData, PositionEmbeddingWithStart) {
  Case c;
  const int64_t B = 3, T = 4, C = 10, D = 5;
  int table = c.in("table", randn({C, D}, 1));
  int ids =
      c.in("tokens", ints({B, T}, std::vector<int32_t>(B * T, 0)), {-1, -2});
  int start = c.in("start", ints({B}, {0, 3, 6}), {-1});
  int y = c.b.temp({-1, -2, D});
  c.b.kernel("position_embedding", {table, ids, start}, {y});
  // start made on the device: clamped in the shader, same result here.
  int devStart = c.b.temp({-1}, "i32");
  int y2 = c.b.temp({-1, -2, D});
  c.b.kernel("copy", {start}, {devStart});
  c.b.kernel("position_embedding", {table, ids, devStart}, {y2});
  c.b.output("y", y);
  c.b.output("y2", y2);
  expectParity(c.run(), 0, 0);
  c.bufs["start"].i[2] = 7;
  std::string err = c.vkError();
  EXPECT_NE(err.find("sequence 2: positions 7..10 exceed the context length "
                     "10"),
            std::string::npos)
      << err;
  c.bufs["start"].i[2] = -1;
  EXPECT_NE(c.vkError().find("exceed the context length"), std::string::npos);
}

// rope: the shader's angles are float (reduced to turns before sin/cos),
// the CPU's double; positions up to 304 keep the difference near 1e-5.
TEST(VulkanData, Rope) {
  Case c;
  const int64_t B = 2, T = 5, D = 14;
  int x = c.in("x", randn({B, T, D}, 4), {-1, -2, D});
  int start = c.in("start", ints({B}, {0, 300}), {-1});
  int y = c.b.temp({-1, -2, D}), ys = c.b.temp({-1, -2, D}),
      back = c.b.temp({-1, -2, D});
  nlohmann::json attrs = {{"head_dim", 6}, {"columns", 12}, {"theta", 100.0}};
  nlohmann::json inverse = attrs;
  inverse["inverse"] = true;
  c.b.kernel("rope", {x, -1}, {y}, attrs);
  c.b.kernel("rope", {x, start}, {ys}, attrs);
  c.b.kernel("rope", {ys, start}, {back}, inverse);
  c.b.output("y", y);
  c.b.output("ys", ys);
  c.b.output("back", back);
  expectParity(c.run(), 1e-4, 1e-4);
  c.bufs["start"].i[1] = -2;
  EXPECT_NE(c.vkError().find("rope: sequence 1 starts at a negative position"),
            std::string::npos);
}

TEST(VulkanData, KvCacheWrite) {
  const int64_t B = 2, T = 5, N = 7, BS = 4, D = 6, NB = 3;
  Case c;
  int cache = c.in("cache", randn({N, BS, D}, 2), {-3, BS, D}, "state");
  int x = c.in("new", randn({B, T, D}, 3), {-1, -2, D});
  std::vector<int32_t> tb = {5, 0, 3, 6, 1, 2};
  int table = c.in("block_table", ints({B, NB}, tb), {-1, NB});
  int start = c.in("start", ints({B}, {0, 6}), {-1});
  int out = c.b.alias(cache, {-3, BS, D});
  c.b.kernel("kv_cache_write", {cache, x, table, start}, {out});
  c.b.output("cache", out, c.inputIndex(cache));
  ParityResult r = c.run();
  EXPECT_TRUE(r.vk.empty()); // written in place
  expectParity(r, 0, 0);

  c.bufs["start"].i[1] = 8; // position 12 >= NB * BS
  std::string err = c.vkError();
  EXPECT_NE(err.find("sequence 1: position 12 does not fit the block table "
                     "(3 x 4 positions)"),
            std::string::npos)
      << err;
  c.bufs["start"].i[1] = 0;
  c.bufs["block_table"].i[1 * NB + 1] = N; // used by positions 4..7
  err = c.vkError();
  EXPECT_NE(err.find("sequence 1: block_table[1] = 7 is outside the pool "
                     "[0, 7)"),
            std::string::npos)
      << err;
  c.bufs["start"].i[0] = -2;
  c.bufs["block_table"].i[1 * NB + 1] = 2;
  EXPECT_NE(c.vkError().find("sequence 0: start -2 is negative"),
            std::string::npos);
}

TEST(VulkanData, SumLeading) {
  Case c;
  // 600 rows of 5: two passes (row chunks, then partials).
  int x = c.in("x", randn({2, 300, 5}, 4), {-1, -2, 5});
  int y = c.b.temp({5});
  c.b.kernel("sum_leading", {x}, {y});
  // Few rows, 2-d tail: one pass.
  int w = c.in("w", randn({3, 4, 6}, 5));
  int y2 = c.b.temp({4, 6});
  c.b.kernel("sum_leading", {w}, {y2});
  c.b.output("y", y);
  c.b.output("y2", y2);
  // A sum of 600 unit normals: |sum| ~ 25; fp32 rounding of either order
  // is ~600 ulp of 25 at worst.
  expectParity(c.run(), 2e-4f, 1e-5f);
}
