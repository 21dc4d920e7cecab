#!/usr/bin/env bash
# Bounded libFuzzer runs over the untrusted inputs:
#   gguf         runtime/interop/Gguf.cpp + the gpt2 import (Gpt2Interop.cpp)
#   safetensors  runtime/io/Safetensors.cpp
#   http         the server's request path: raw bytes -> Beast's parser ->
#                checkRequestHead/routeRequest -> the OpenAI protocol
#                parser (HttpFuzz.h)
#
# Usage: test/fuzz/run_fuzz.sh [SECONDS_PER_TARGET=60] [TARGET...]
#        test/fuzz/run_fuzz.sh --update-seeds     (rewrites corpus/*)
#
# Needs clang++ with libFuzzer (Debian: clang, libclang-rt-14-dev; see
# scripts/install-deps.sh). Builds with ASan + UBSan into $FUZZ_BUILD
# (default build-fuzz/), starts from the committed seed corpus
# (test/fuzz/corpus/<target>) plus the crashers already found, and limits
# every malloc to 256 MiB so a header that makes the reader allocate
# according to a count it has not checked is reported as a crash. A new
# finding is written to test/fuzz/crashers/<target>/ (commit it: the ctest
# FuzzReplay.* tests replay that directory) and the script exits 1.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FUZZ=$ROOT/test/fuzz
BUILD=${FUZZ_BUILD:-$ROOT/build-fuzz}
CXX=${FUZZ_CXX:-clang++}
mkdir -p "$BUILD"

if ! command -v "$CXX" >/dev/null; then
  echo "run_fuzz: $CXX not found (apt-get install clang libclang-rt-14-dev)" >&2
  exit 77
fi

FLAGS=(-std=c++17 -O1 -g -fno-omit-frame-pointer -pthread
       -fsanitize=address,undefined -fno-sanitize-recover=undefined
       -I"$ROOT/runtime" -I"$ROOT" -I"$FUZZ")
UPDATE_SEEDS=0
SECONDS_PER=60
if [ "${1:-}" == "--update-seeds" ]; then
  UPDATE_SEEDS=1
  TARGETS=(gguf safetensors)
else
  [ -n "${1:-}" ] && SECONDS_PER=$1 && shift
  TARGETS=("$@")
  [ ${#TARGETS[@]} -eq 0 ] && TARGETS=(gguf safetensors http)
fi

# Sources each target needs (compiled once, fuzzer-instrumented).
LIB_SOURCES=()
for f in "$ROOT"/runtime/tokenizer/*.cpp; do LIB_SOURCES+=("$f"); done
LIB_SOURCES+=("$ROOT"/runtime/io/FileIO.cpp)
for t in "${TARGETS[@]}"; do
  case $t in
  gguf | safetensors)
    LIB_SOURCES+=("$ROOT"/runtime/interop/Gguf.cpp
      "$ROOT"/runtime/interop/Gpt2Interop.cpp
      "$ROOT"/runtime/io/Safetensors.cpp
      "$ROOT"/runtime/train/Init.cpp
      "$ROOT"/schema/ModelConfig.cpp
      "$ROOT"/schema/Parameters.cpp) ;;
  http)
    cmake -DWEB_DIR="$ROOT/web" -DOUT="$BUILD/WebAssets.cpp" \
      -P "$ROOT/web/embed.cmake"
    LIB_SOURCES+=("$ROOT"/runtime/serve/Protocol.cpp
      "$ROOT"/runtime/serve/HttpRouting.cpp "$BUILD/WebAssets.cpp") ;;
  *) echo "run_fuzz: unknown target $t" >&2; exit 2 ;;
  esac
done
mapfile -t LIB_SOURCES < <(printf '%s\n' "${LIB_SOURCES[@]}" | sort -u)

# Objects once (fuzzer-instrumented), then one binary per target.
OBJS=()
for src in "${LIB_SOURCES[@]}"; do
  obj=$BUILD/$(basename "$(dirname "$src")")_$(basename "$src" .cpp).o
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ]; then
    echo "run_fuzz: compiling $(basename "$src")" >&2
    "$CXX" "${FLAGS[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
  fi
  OBJS+=("$obj")
done

if [ "$UPDATE_SEEDS" == 1 ]; then
  "$CXX" "${FLAGS[@]}" "$FUZZ/make_seeds.cpp" "${OBJS[@]}" -o "$BUILD/make_seeds"
  "$BUILD/make_seeds" "$FUZZ/corpus"
  exit 0
fi

status=0
for t in "${TARGETS[@]}"; do
  bin=$BUILD/${t}_fuzzer
  "$CXX" "${FLAGS[@]}" -fsanitize=fuzzer "$FUZZ/${t}_fuzzer.cpp" "${OBJS[@]}" \
    -o "$bin"
  work=$BUILD/corpus_$t
  mkdir -p "$work" "$FUZZ/crashers/$t"
  cp -n "$FUZZ/corpus/$t"/* "$work"/ 2>/dev/null || true
  cp -n "$FUZZ/crashers/$t"/* "$work"/ 2>/dev/null || true
  echo "run_fuzz: $t for ${SECONDS_PER}s" >&2
  if ! "$bin" "$work" -max_total_time="$SECONDS_PER" -timeout=10 \
      -rss_limit_mb=2048 -malloc_limit_mb=256 -max_len=262144 \
      -print_final_stats=1 \
      -artifact_prefix="$FUZZ/crashers/$t/" 2>"$BUILD/$t.log"; then
    echo "run_fuzz: $t FOUND A CRASH (see $BUILD/$t.log and" \
      "$FUZZ/crashers/$t/)" >&2
    tail -n 40 "$BUILD/$t.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" \
      "$BUILD/$t.log" | sed "s/^/run_fuzz: $t /" >&2
    echo "run_fuzz: $t clean" >&2
  fi
done
exit $status
