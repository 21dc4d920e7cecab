#!/usr/bin/env bash
# Packs what scripts/gpu-check.sh needs into gpu-bundle/ so it can run on a
# bare GPU machine without the toolchain (no compiler, no MLIR: gptc needs
# libLLVM, so the artifacts are compiled here):
#   bin/gpt, the Vulkan test binaries, bench_vulkan_kernels, the shared
#   libraries they use beyond glibc/libstdc++/libvulkan, and the GPT-2 124M
#   artifact for --target=vulkan.
# Usage: scripts/gpu-bundle.sh [BUILD_DIR]   (run scripts/build.sh first)
# Then on the GPU machine: scripts/gpu-check.sh gpu-bundle gpu-results
# (with the device tool: carry gpu-bundle; it is about 30 MB).
set -euo pipefail
BUILD=${1:-build}
OUT=gpu-bundle
rm -rf "$OUT"
mkdir -p "$OUT/bin" "$OUT/lib" "$OUT/test/unit/vulkan" "$OUT/bench" "$OUT/artifacts"
cp "$BUILD/bin/gpt" "$OUT/bin/"
for t in "$BUILD"/test/unit/vulkan/vulkan_*_test; do
  # The model test runs gptc, which cannot travel; the kernel tests do not.
  case "$(basename "$t")" in vulkan_model_test) continue ;; esac
  cp "$t" "$OUT/test/unit/vulkan/"
done
cp "$BUILD/bench/bench_vulkan_kernels" "$OUT/bench/" 2>/dev/null || true
# Shared libraries other than the C/C++ runtime and the Vulkan loader (which
# must come from the GPU machine, matched to its driver).
for f in "$OUT"/bin/* "$OUT"/test/unit/vulkan/* "$OUT"/bench/*; do
  ldd "$f" | awk '/=> \// {print $3}'
done | sort -u | grep -vE 'lib(c|m|stdc\+\+|gcc_s|pthread|dl|rt|vulkan)\.so' |
  while read -r lib; do cp -L "$lib" "$OUT/lib/"; done
"$BUILD/bin/gptc" --preset gpt2-124m --emit=artifact --target=vulkan \
  -o "$OUT/artifacts/gpt2-124m.vulkan.gptart"
du -sh "$OUT"
