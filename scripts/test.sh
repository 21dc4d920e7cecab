#!/usr/bin/env bash
# The test command: installs dependencies, builds everything, runs the whole
# suite (lit + FileCheck, GoogleTest, end-to-end), then checks that the
# runtime side still configures and builds without the compiler (no MLIR).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
# Vulkan tests (when present) run on lavapipe, the CPU driver.
export VK_LOADER_DRIVERS_SELECT='*lvp*'
ctest --test-dir build --output-on-failure -j "$(nproc)"

echo "== runtime-only build (-DGPT_BUILD_COMPILER=OFF) =="
BUILD_DIR=build-nocompiler ./scripts/build.sh -DGPT_BUILD_COMPILER=OFF \
  -DGPT_BUILD_TESTS=OFF -DGPT_BUILD_BENCH=OFF
echo "== all tests passed =="
