#!/usr/bin/env bash
# Packs what scripts/gpu-check.sh needs into gpu-bundle/ so it can run on a
# bare GPU machine without the toolchain (no compiler, no MLIR: gptc needs
# libLLVM, so the artifacts are compiled here):
#   bin/gpt, the Vulkan test binaries, bench_vulkan_kernels, the shared
#   libraries they use beyond glibc/libstdc++/libvulkan, Vulkan artifacts
#   and configs of the benchmark shapes (artifacts/, configs/: GPT-2 124M
#   and "small" = V50257, 4 layers, d 256, context 1024), GPT-2's BPE files
#   (tokenizer/, for `gpt import random` there), Debian's validation layer
#   (vvl/) and, when one is given, llama.cpp's llama-bench for the
#   side-by-side run (peer/).
# Usage: scripts/gpu-bundle.sh [BUILD_DIR]   (run scripts/build.sh first)
# Environment: LLAMA_BENCH (a llama-bench built with -DGGML_VULKAN=ON and
# -DBUILD_SHARED_LIBS=OFF, outside this repository; see docs/vulkan.md),
# GPT2_BPE_DIR (encoder.json + vocab.bpe; default ../shared/data),
# BUNDLE_TAR (also write this .tar.xz of the bundle: the device tool carries
# at most 64 MiB).
# Then on the GPU machine: scripts/gpu-check.sh gpu-bundle gpu-results
set -euo pipefail
BUILD=${1:-build}
OUT=gpu-bundle
GPT2_BPE_DIR=${GPT2_BPE_DIR:-../shared/data}
rm -rf "$OUT"
mkdir -p "$OUT/bin" "$OUT/lib" "$OUT/test/unit/vulkan" "$OUT/bench" \
  "$OUT/artifacts" "$OUT/configs" "$OUT/tokenizer" "$OUT/peer"
cp "$BUILD/bin/gpt" "$OUT/bin/"
for t in "$BUILD"/test/unit/vulkan/vulkan_*_test; do
  # The model test runs gptc, which cannot travel; the kernel tests do not.
  case "$(basename "$t")" in vulkan_model_test) continue ;; esac
  cp "$t" "$OUT/test/unit/vulkan/"
done
cp "$BUILD/bench/bench_vulkan_kernels" "$OUT/bench/" 2>/dev/null || true
if [ -n "${LLAMA_BENCH:-}" ]; then
  cp "$LLAMA_BENCH" "$OUT/peer/llama-bench"
  strip "$OUT/peer/llama-bench" || true
fi
# Shared libraries other than the C/C++ runtime and the Vulkan loader (which
# must come from the GPU machine, matched to its driver).
for f in "$OUT"/bin/* "$OUT"/test/unit/vulkan/* "$OUT"/bench/* "$OUT"/peer/*; do
  [ -f "$f" ] && ldd "$f" | awk '/=> \// {print $3}'
done | sort -u | grep -vE 'lib(c|m|stdc\+\+|gcc_s|pthread|dl|rt|vulkan)\.so' |
  while read -r lib; do cp -L "$lib" "$OUT/lib/"; done
# The benchmark shapes, each with its Vulkan artifact.
printf '{"vocab_size": 50257, "context_length": 1024, "n_layer": 12, "n_head": 12, "d_model": 768}\n' \
  >"$OUT/configs/gpt2-124m.json"
printf '{"vocab_size": 50257, "context_length": 1024, "n_layer": 4, "n_head": 4, "d_model": 256}\n' \
  >"$OUT/configs/small.json"
for shape in gpt2-124m small; do
  "$BUILD/bin/gptc" --config "$OUT/configs/$shape.json" --emit=artifact \
    --target=vulkan -o "$OUT/artifacts/$shape.vulkan.gptart"
done
cp "$GPT2_BPE_DIR/encoder.json" "$GPT2_BPE_DIR/vocab.bpe" "$OUT/tokenizer/"
# Debian's validation layer (the GPU machine may have none).
vvl=$(ls /usr/lib/x86_64-linux-gnu/libVkLayer_khronos_validation.so 2>/dev/null || true)
if [ -n "$vvl" ]; then
  mkdir -p "$OUT/vvl"
  cp "$vvl" "$OUT/vvl/"
  cp /usr/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json "$OUT/vvl/"
fi
du -sh "$OUT"
if [ -n "${BUNDLE_TAR:-}" ]; then
  mkdir -p "$(dirname "$BUNDLE_TAR")"
  tar -cJf "$BUNDLE_TAR" "$OUT"
  du -sh "$BUNDLE_TAR"
fi
