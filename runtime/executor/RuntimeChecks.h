//===- RuntimeChecks.h - Data checks every backend makes on the host ------===//
//
// Checks of input data (not shapes) that a kernel cannot do itself on every
// backend: a GPU cannot throw, so the Vulkan record functions run these on
// the host copies of their inputs, with the same wording as the CPU kernels.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>

namespace gpt {

/// Every id in [0, V) ("token id 70000 at position 3 out of range [0, 64)";
/// `what` names the ids).
void checkTokenIds(const int32_t *ids, int64_t n, int64_t V,
                   const char *what = "token id");

/// The positions of a position embedding fit the context C: without
/// `start` T <= C, with it start[b] >= 0 and start[b] + T <= C for each b.
void checkPositions(const int32_t *start, int64_t B, int64_t T, int64_t C);

/// Positions start[b] .. start[b]+T-1 of every sequence need a slot in the
/// paged cache: start >= 0, the last position < NB * BS, and every block id
/// the sequence uses up to it in [0, N). Throws ExecutorError naming the
/// sequence and the entry.
void checkPagedPositions(const int32_t *table, const int32_t *start, int64_t B,
                         int64_t T, int64_t NB, int64_t BS, int64_t N);

} // namespace gpt
