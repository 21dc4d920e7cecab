#!/usr/bin/env bash
# The Vulkan checks and benchmarks on a machine with a real GPU, in one go:
#   scripts/gpu-check.sh [BUILD_DIR] [OUT_DIR]
# 1. checks that a Vulkan loader and a GPU driver are there (says clearly
#    when not), 2. builds if BUILD_DIR has no gpt binary, 3. lists the
#    devices, 4. runs every Vulkan test binary on the GPU (not lavapipe),
#    5. runs the benchmarks: kernels (per-kernel times from timestamps),
#    a GPT-2 124M training step at B=8, T=1024, and generation (prefill and
#    decode tokens/s) — all as JSON under OUT_DIR.
# Environment: GPU_DRIVER (a VK_LOADER_DRIVERS_SELECT pattern, default
# '*nvidia*'), GPT_VK_VALIDATION (default: 1 if the validation layer is
# installed, else 0), BENCH_STEPS (default 5).
set -uo pipefail
BUILD=${1:-build}
OUT=${2:-gpu-results}
mkdir -p "$OUT"
GPU_DRIVER=${GPU_DRIVER:-'*nvidia*'}
BENCH_STEPS=${BENCH_STEPS:-5}
say() { echo "gpu-check: $*" | tee -a "$OUT/summary.txt"; }

if ! ldconfig -p | grep -q 'libvulkan\.so'; then
  say "no Vulkan loader (libvulkan.so.1) on this machine: install libvulkan1"
  say "(Debian/Ubuntu: apt install libvulkan1) or unpack its .deb; see docs/vulkan.md"
  exit 2
fi
if [ -z "${GPT_VK_VALIDATION:-}" ]; then
  if ls /usr/share/vulkan/explicit_layer.d/*validation* >/dev/null 2>&1; then
    export GPT_VK_VALIDATION=1
  else
    export GPT_VK_VALIDATION=0
    say "validation layer not installed: tests run without it"
  fi
fi
if [ ! -x "$BUILD/bin/gpt" ]; then
  say "building into $BUILD"
  BUILD_DIR="$BUILD" ./scripts/build.sh >"$OUT/build.log" 2>&1 || {
    say "build failed (see $OUT/build.log)"
    exit 3
  }
fi
export VK_LOADER_DRIVERS_SELECT="$GPU_DRIVER"
if ! "$BUILD/bin/gpt" devices | tee "$OUT/devices.txt"; then
  say "no Vulkan device matches VK_LOADER_DRIVERS_SELECT='$GPU_DRIVER'"
  say "(NVIDIA: export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json or the driver's icd json)"
  exit 4
fi
"$BUILD/bin/gpt" devices --json >"$OUT/devices.json"

status=0
for t in "$BUILD"/test/unit/vulkan/vulkan_*_test; do
  name=$(basename "$t")
  if "$t" --gtest_brief=1 >"$OUT/$name.log" 2>&1; then
    say "$name: passed ($(grep -c '^\[       OK' "$OUT/$name.log" || true) tests)"
  else
    say "$name: FAILED (see $OUT/$name.log)"
    status=1
  fi
done

if [ -x "$BUILD/bench/bench_vulkan_kernels" ]; then
  "$BUILD/bench/bench_vulkan_kernels" --benchmark_format=json \
    >"$OUT/bench_vulkan_kernels.json" 2>"$OUT/bench_vulkan_kernels.log" &&
    say "kernel benchmarks: $OUT/bench_vulkan_kernels.json"
fi
"$BUILD/bin/gpt" bench train --backend vulkan --preset gpt2-124m --batch 8 \
  --seq 1024 --steps "$BENCH_STEPS" --profile --json \
  >"$OUT/bench_train_124m.json" 2>"$OUT/bench_train_124m.log" &&
  say "train 124M B8 T1024: $(grep -o '"ms_per_step": [0-9.]*' "$OUT/bench_train_124m.json")"
"$BUILD/bin/gpt" bench generate --backend vulkan --preset gpt2-124m \
  --prompt-lengths 128,512 --batches 1,8,32 --json \
  >"$OUT/bench_generate_124m.json" 2>"$OUT/bench_generate_124m.log" &&
  say "generate 124M: $OUT/bench_generate_124m.json"
say "done (status $status)"
exit $status
