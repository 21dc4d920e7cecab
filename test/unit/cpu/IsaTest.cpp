//===- IsaTest.cpp - ISA detection and selection -------------------------===//
#include "runtime/cpu/Isa.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace gpt::cpu {
namespace {

TEST(Isa, NamesRoundTrip) {
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512})
    EXPECT_EQ(parseIsa(isaName(isa)), isa);
  EXPECT_FALSE(parseIsa("sse9").has_value());
}

TEST(Isa, ActiveIsSupportedAndSettable) {
  Isa before = activeIsa();
  EXPECT_TRUE(isaSupported(before));
  EXPECT_TRUE(isaSupported(Isa::Scalar));
  setIsa(Isa::Scalar);
  EXPECT_EQ(activeIsa(), Isa::Scalar);
  setIsa(detectIsa());
  EXPECT_EQ(activeIsa(), detectIsa());
  if (detectIsa() != Isa::Avx512)
    EXPECT_THROW(setIsa(Isa::Avx512), std::invalid_argument);
  setIsa(before);
}

} // namespace
} // namespace gpt::cpu
