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
HERE=$(cd "$(dirname "$0")" && pwd)
# The JSON's schema, its rates against its times, and the FLOP count against
# the documented convention (gpt_bench_check.py).
check() { python3 "$HERE/gpt_bench_check.py" "$@" || fail "bench $1 JSON ($2)"; }

$GPT bench train --preset tiny --vocab 64 --batch 2 --seq 16 --steps 2 \
  --threads 1 --json --profile >"$WORK/train.json" 2>"$WORK/err" ||
  fail "bench train: $(cat "$WORK/err")"
check train "$WORK/train.json" --profile
grep -q '"linear"' "$WORK/train.json" || fail "bench train --profile: no linear kernel"

$GPT bench generate --preset tiny --vocab 64 --prompt-lengths 8,16 \
  --batches 1,2 --decode-tokens 4 --clients 2 --threads 1 --json \
  >"$WORK/gen.json" 2>"$WORK/err" || fail "bench generate: $(cat "$WORK/err")"
check generate "$WORK/gen.json"
python3 -c 'import json,sys; j=json.load(open(sys.argv[1]))
assert sorted(j["prefill"]) == ["16", "8"] and sorted(j["decode"]) == ["1", "2"], j
assert j["serving"]["clients"] == 2' "$WORK/gen.json" ||
  fail "bench generate: the asked lengths and batches are not the ones reported"
# The checker itself must catch a wrong FLOP count.
sed 's/"gflops_per_second": [0-9.e+-]*/"gflops_per_second": 1234.5/' \
  "$WORK/train.json" >"$WORK/bad.json"
python3 "$HERE/gpt_bench_check.py" train "$WORK/bad.json" >/dev/null &&
  fail "the checker accepted a wrong gflops_per_second"

# A precompiled artifact: no gptc needed (how GPU machines run it).
printf '{"vocab_size": 64, "context_length": 32, "n_layer": 1, "n_head": 2, "d_model": 16}' >"$WORK/cfg.json"
"$GPTC" --config "$WORK/cfg.json" --emit=artifact -o "$WORK/a.gptart" ||
  fail "gptc for the precompiled artifact"
GPT_GPTC=/nonexistent $GPT bench train --config "$WORK/cfg.json" --batch 2 \
  --seq 8 --steps 1 --threads 1 --artifact "$WORK/a.gptart" --json \
  >"$WORK/pre.json" 2>"$WORK/err" || fail "bench train --artifact: $(cat "$WORK/err")"
check train "$WORK/pre.json"
GPT_GPTC=/nonexistent $GPT bench generate --config "$WORK/cfg.json" \
  --prompt-lengths 8 --batches 1 --decode-tokens 3 --clients 1 --threads 1 \
  --artifact "$WORK/a.gptart" --json >"$WORK/pregen.json" 2>"$WORK/err" ||
  fail "bench generate --artifact: $(cat "$WORK/err")"
check generate "$WORK/pregen.json"
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
