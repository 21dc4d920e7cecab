#!/usr/bin/env bash
# End-to-end checks of `gpt bench train` and `gpt bench generate`: they run a
# real compiled model and print the JSON documented in docs/benchmarks.md.
# Usage: gpt_bench_test.sh PATH/TO/gpt PATH/TO/gptc
# Exits 77 (skipped) when gptc is not available.
set -u
GPT=$1
GPTC=${2:-}
[ -n "$GPTC" ] && [ -x "$GPTC" ] || { echo "no gptc: skipped"; exit 77; }
export GPT_GPTC=$GPTC
WORK=$(mktemp -d)
export XDG_CACHE_HOME=$WORK/cache
trap 'rm -rf "$WORK"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# Reads a numeric field path (a.b.c) from a JSON file with node's JSON parser
# if node exists, else with grep on the key.
field() {
  if command -v node >/dev/null 2>&1; then
    node -e "const j=JSON.parse(require('fs').readFileSync('$1','utf8'));
             let v=j; for (const k of '$2'.split('.')) v=v?.[k];
             if (typeof v!=='number' || !(v>0)) process.exit(1); console.log(v)"
  else
    grep -q "\"${2##*.}\"" "$1" && echo 1
  fi
}

$GPT bench train --preset tiny --vocab 64 --batch 2 --seq 16 --steps 2 \
  --threads 1 --json --profile >"$WORK/train.json" 2>"$WORK/err" ||
  fail "bench train: $(cat "$WORK/err")"
for key in ms_per_step tokens_per_second gflops_per_second peak_memory_bytes \
  kernels.linear.ms_per_step; do
  field "$WORK/train.json" "$key" >/dev/null || fail "bench train: no positive $key"
done

$GPT bench generate --preset tiny --vocab 64 --prompt-lengths 8,16 \
  --batches 1,2 --decode-tokens 4 --clients 2 --threads 1 --json \
  >"$WORK/gen.json" 2>"$WORK/err" || fail "bench generate: $(cat "$WORK/err")"
for key in prefill.8.tokens_per_second prefill.16.tokens_per_second \
  decode.1.tokens_per_second decode.2.tokens_per_second \
  serving.aggregate_tokens_per_second serving.ttft_p50_ms; do
  field "$WORK/gen.json" "$key" >/dev/null || fail "bench generate: no positive $key"
done

# A precompiled artifact: no gptc needed (how GPU machines run it).
printf '{"vocab_size": 64, "context_length": 32, "n_layer": 1, "n_head": 2, "d_model": 16}' >"$WORK/cfg.json"
"$GPTC" --config "$WORK/cfg.json" --emit=artifact -o "$WORK/a.gptart" ||
  fail "gptc for the precompiled artifact"
GPT_GPTC=/nonexistent $GPT bench train --config "$WORK/cfg.json" --batch 2 \
  --seq 8 --steps 1 --threads 1 --artifact "$WORK/a.gptart" --json \
  >"$WORK/pre.json" 2>"$WORK/err" || fail "bench train --artifact: $(cat "$WORK/err")"
field "$WORK/pre.json" ms_per_step >/dev/null || fail "bench train --artifact json"
GPT_GPTC=/nonexistent $GPT bench generate --config "$WORK/cfg.json" \
  --prompt-lengths 8 --batches 1 --decode-tokens 3 --clients 1 --threads 1 \
  --artifact "$WORK/a.gptart" --json >"$WORK/pregen.json" 2>"$WORK/err" ||
  fail "bench generate --artifact: $(cat "$WORK/err")"
field "$WORK/pregen.json" decode.1.tokens_per_second >/dev/null ||
  fail "bench generate --artifact json"
$GPT bench train --preset tiny --vocab 64 --steps 1 --artifact "$WORK/a.gptart" \
  >/dev/null 2>"$WORK/err" && fail "artifact of another config accepted"
grep -q "another model config" "$WORK/err" || fail "config mismatch: $(cat "$WORK/err")"

# Bad options fail with a message, not a crash.
$GPT bench train --preset tiny --vocab 64 --seq 100000 --steps 1 \
  >/dev/null 2>"$WORK/err" && fail "seq beyond the context accepted"
grep -q -- "--seq" "$WORK/err" || fail "seq message: $(cat "$WORK/err")"
$GPT bench generate --preset tiny --vocab 64 --decode-tokens 1 \
  >/dev/null 2>"$WORK/err" && fail "--decode-tokens 1 accepted"

if [ $failures -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "gpt bench checks passed"
