#!/usr/bin/env bash
# The Vulkan checks and benchmarks on a machine with a real GPU, in one go:
#   scripts/gpu-check.sh [BUILD_DIR] [OUT_DIR]
# BUILD_DIR may be a build directory or a bundle made by
# scripts/gpu-bundle.sh (for GPU machines without the toolchain: it brings
# its libraries in lib/ and precompiled artifacts in artifacts/).
# 1. checks that a Vulkan loader and a GPU driver are there (says clearly
#    when not), 2. builds if BUILD_DIR has no gpt binary, 3. lists the
#    devices, 4. runs every Vulkan test binary on the GPU (not lavapipe),
#    5. runs the benchmarks: kernels (per-kernel times from timestamps),
#    a GPT-2 124M training step at B=8, T=1024, and generation (prefill and
#    decode tokens/s) — all as JSON under OUT_DIR.
# Environment: GPU_DRIVER (a VK_LOADER_DRIVERS_SELECT pattern, default
# '*nvidia*'), GPT_VK_VALIDATION (default: 1 if the validation layer is
# installed, else 0), BENCH_STEPS (default 5), BENCH_PRESET (default
# gpt2-124m; e.g. tiny for a dry run on lavapipe), BENCH_BATCH (8),
# BENCH_SEQ (1024), PEER=0 (skip the side-by-side run), PEER_SHAPES
# (default "small gpt2-124m"), PEER_PROMPT (512), PEER_DECODE (128),
# PEER_REPS (llama-bench repetitions, 5).
# 6. With a bundle that carries peer/llama-bench (scripts/gpu-bundle.sh with
#    LLAMA_BENCH): side by side on the same GPU, random GPT-2-initialised
#    models of the small and 124M shapes (`gpt import random`), exported to
#    GGUF at f32 and f16 for llama-bench (pp512, tg128, all layers on the
#    GPU) and run by `gpt bench generate` (prefill 512, decode batch 1 for
#    128 tokens), with and without tensor cores (GPT_VK_COOPMAT).
set -uo pipefail
BUILD=${1:-build}
OUT=${2:-gpu-results}
mkdir -p "$OUT"
GPU_DRIVER=${GPU_DRIVER:-'*nvidia*'}
BENCH_STEPS=${BENCH_STEPS:-5}
BENCH_PRESET=${BENCH_PRESET:-gpt2-124m}
BENCH_BATCH=${BENCH_BATCH:-8}
BENCH_SEQ=${BENCH_SEQ:-1024}
say() { echo "gpu-check: $*" | tee -a "$OUT/summary.txt"; }

if ! ldconfig -p | grep 'libvulkan\.so' >/dev/null; then
  say "no Vulkan loader (libvulkan.so.1) on this machine: install libvulkan1"
  say "(Debian/Ubuntu: apt install libvulkan1) or unpack its .deb; see docs/vulkan.md"
  exit 2
fi
if [ -f "$BUILD/vvl/VkLayer_khronos_validation.json" ]; then
  # The bundle's validation layer (Debian's), for machines without one.
  export VK_LAYER_PATH="$PWD/$BUILD/vvl${VK_LAYER_PATH:+:$VK_LAYER_PATH}"
  export LD_LIBRARY_PATH="$PWD/$BUILD/vvl:${LD_LIBRARY_PATH:-}"
fi
if [ -z "${GPT_VK_VALIDATION:-}" ]; then
  if ls /usr/share/vulkan/explicit_layer.d/*validation* >/dev/null 2>&1 ||
    [ -f "$BUILD/vvl/VkLayer_khronos_validation.json" ]; then
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
[ -d "$BUILD/lib" ] && export LD_LIBRARY_PATH="$PWD/$BUILD/lib:${LD_LIBRARY_PATH:-}"
ART=()
if [ "$BENCH_PRESET" = gpt2-124m ] && [ -f "$BUILD/artifacts/gpt2-124m.vulkan.gptart" ]; then
  ART=(--artifact "$BUILD/artifacts/gpt2-124m.vulkan.gptart")
fi
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
    say "$name: $(grep -o 'PASSED.*' "$OUT/$name.log" | tail -1)"
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
"$BUILD/bin/gpt" bench train --backend vulkan --preset "$BENCH_PRESET" \
  --batch "$BENCH_BATCH" --seq "$BENCH_SEQ" --steps "$BENCH_STEPS" --json "${ART[@]}" \
  >"$OUT/bench_train.json" 2>"$OUT/bench_train.log" &&
  say "train $BENCH_PRESET B$BENCH_BATCH T$BENCH_SEQ: $(grep -E '^  "(ms_per_step|gflops_per_second)"' "$OUT/bench_train.json" | tr -d ' \n')" ||
  say "bench train failed (see $OUT/bench_train.log)"
# Per-kernel times (timestamps after every dispatch slow the step a little).
"$BUILD/bin/gpt" bench train --backend vulkan --preset "$BENCH_PRESET" \
  --batch "$BENCH_BATCH" --seq "$BENCH_SEQ" --steps 2 --profile "${ART[@]}" \
  >"$OUT/bench_train_profile.txt" 2>&1 ||
  say "bench train --profile failed (see $OUT/bench_train_profile.txt)"
"$BUILD/bin/gpt" bench generate --backend vulkan --preset "$BENCH_PRESET" \
  --prompt-lengths 128,512 --batches 1,8,32 --json --profile "${ART[@]}" \
  >"$OUT/bench_generate.json" 2>"$OUT/bench_generate.log" &&
  say "generate $BENCH_PRESET: $OUT/bench_generate.json" ||
  say "bench generate failed (see $OUT/bench_generate.log)"
# Side by side with llama.cpp's Vulkan backend on the same GPU.
if [ "${PEER:-1}" != 0 ] && [ -x "$BUILD/peer/llama-bench" ] && [ -f "$BUILD/tokenizer/encoder.json" ]; then
  export GGML_VK_VISIBLE_DEVICES=${GGML_VK_VISIBLE_DEVICES:-0}
  models=$(mktemp -d)
  for shape in ${PEER_SHAPES:-small gpt2-124m}; do
    cfg="$BUILD/configs/$shape.json"
    art="$BUILD/artifacts/$shape.vulkan.gptart"
    "$BUILD/bin/gpt" import random --config "$cfg" --no-artifact \
      --vocab-json "$BUILD/tokenizer/encoder.json" --merges "$BUILD/tokenizer/vocab.bpe" \
      -o "$models/$shape" >>"$OUT/peer.log" 2>&1 || { say "import random $shape failed (see $OUT/peer.log)"; status=1; continue; }
    for dt in f32 f16; do
      "$BUILD/bin/gpt" export gguf "$models/$shape" -o "$models/$shape-$dt.gguf" --dtype $dt >>"$OUT/peer.log" 2>&1 ||
        { say "export gguf $shape $dt failed (see $OUT/peer.log)"; status=1; }
    done
    "$BUILD/peer/llama-bench" -m "$models/$shape-f32.gguf" -m "$models/$shape-f16.gguf" \
      -p "${PEER_PROMPT:-512}" -n "${PEER_DECODE:-128}" -r "${PEER_REPS:-5}" -ngl 99 -o json >"$OUT/llama_$shape.json" 2>>"$OUT/peer.log" &&
      say "llama.cpp $shape: $(grep -E '"(type_k|n_prompt|n_gen|avg_ts)"' "$OUT/llama_$shape.json" | tr -d ' \n')" ||
      { say "llama-bench $shape failed (see $OUT/peer.log)"; status=1; }
    for cm in inference 0; do
      GPT_VK_COOPMAT=$cm "$BUILD/bin/gpt" bench generate --backend vulkan --config "$cfg" --artifact "$art" \
        --prompt-lengths "${PEER_PROMPT:-512}" --batches 1 --decode-tokens "${PEER_DECODE:-128}" --clients 1 --json \
        >"$OUT/ours_${shape}_coopmat_$cm.json" 2>>"$OUT/peer.log" &&
        say "ours $shape (GPT_VK_COOPMAT=$cm): $(tr -d ' \n' <"$OUT/ours_${shape}_coopmat_$cm.json" | grep -oE '"(prefill|decode)":\{"[0-9]+":\{[^}]*\}' | tr '\n' ' ')" ||
        { say "gpt bench generate $shape failed (see $OUT/peer.log)"; status=1; }
    done
  done
  rm -rf "$models"
fi
say "done (status $status)"
exit $status
