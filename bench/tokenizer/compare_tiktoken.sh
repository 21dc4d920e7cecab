#!/usr/bin/env bash
# Compares our encode throughput with tiktoken's on tiny Shakespeare, both
# pinned to one core. Needs node + npm and the npm registry (installs
# tiktoken into a temporary directory). Usage:
#   bench/tokenizer/compare_tiktoken.sh BUILD_DIR [SHARED_DATA_DIR]
set -euo pipefail
BUILD=${1:?build directory}
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${2:-$HERE/../../../shared/data}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm install --silent --no-audit --no-fund tiktoken@1.0.22 >/dev/null)
ours=$(taskset -c 0 "$BUILD/bench/tokenizer/gpt_tokenizer_bench" \
  --benchmark_filter=BM_EncodeCold --benchmark_format=json |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{
    const b=JSON.parse(s).benchmarks[0];console.log(b.bytes_per_second/1e6)})')
theirs=$(cd "$TMP" && taskset -c 0 node "$HERE/tiktoken_bench.mjs" "$DATA/tinyshakespeare.txt" |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).tiktoken_mb_per_s))')
node -e "const a=$ours,b=$theirs;console.log('ours '+a.toFixed(1)+' MB/s, tiktoken '+b.toFixed(1)+' MB/s, ratio '+(a/b).toFixed(2))"
