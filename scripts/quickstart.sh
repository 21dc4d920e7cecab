#!/usr/bin/env bash
# The main command. Today it installs the dependencies, builds the project and
# compiles the built-in GPT-2 124M config with the full pipeline, printing a
# summary and the fused IR of one transformer block. Training and serving
# join this script as they land (see the README).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
OUT=${OUT:-build/quickstart}
mkdir -p "$OUT"
echo "== compiling the built-in GPT-2 124M config =="
build/bin/gptc --preset gpt2-124m --emit=mlir --target=cpu -o "$OUT/gpt2-124m.mlir"
build/bin/gptc --preset gpt2-124m --no-fusion -o "$OUT/gpt2-124m.unfused.mlir"
forward() { sed -n '/func.func @forward/,/^  }/p' "$1"; }
echo "forward before fusion: $(forward "$OUT/gpt2-124m.unfused.mlir" | grep -c 'gpt\.softmax') softmax, $(forward "$OUT/gpt2-124m.unfused.mlir" | grep -c 'gpt\.matmul') matmul"
echo "forward after fusion:  $(forward "$OUT/gpt2-124m.mlir" | grep -c 'gpt\.attention') gpt.attention, $(forward "$OUT/gpt2-124m.mlir" | grep -c 'gpt\.softmax') softmax, $(forward "$OUT/gpt2-124m.mlir" | grep -c 'gpt\.fusion(') gpt.fusion"
echo "== first transformer block of @forward after the default pipeline =="
forward "$OUT/gpt2-124m.mlir" | sed -n '2,/%11:2 = gpt.fusion/p' | cut -c1-200
echo "== full module: $OUT/gpt2-124m.mlir =="
