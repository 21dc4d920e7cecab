#!/usr/bin/env bash
# End-to-end checks of `gpt train`, `gpt eval` and `gpt generate` with the
# real compiler (gptc as a subprocess) and the CPU executor: a tiny model on
# a slice of tiny Shakespeare with a small trained BPE tokenizer.
# Usage: gpt_train_test.sh PATH/TO/gpt PATH/TO/gptc PATH/TO/shared/data
# Exits 77 (skipped) when gptc is not available.
set -u
GPT=$1
GPTC=${2:-}
DATA=$3
if [ -z "$GPTC" ] || [ ! -x "$GPTC" ]; then
  echo "SKIP: no gptc (built without the compiler)"
  exit 77
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export XDG_CACHE_HOME="$WORK/cache"
export GPT_GPTC="$GPTC"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
losses() { grep -o '"loss":[^,}]*' "$1/metrics.jsonl" | cut -d: -f2; }
COMMON=(--preset tiny --data "$WORK/prep" --batch 8 --threads 2 --eval-every 5
  --eval-batches 4)

for cmd in train eval generate; do
  $GPT $cmd --help >/dev/null 2>&1 || fail "gpt $cmd --help"
done

head -c 300000 "$DATA/tinyshakespeare.txt" >"$WORK/shake.txt"
$GPT tokenizer train --input "$WORK/shake.txt" --vocab-size 512 -o "$WORK/tok" \
  >/dev/null 2>&1 || fail "tokenizer train"
$GPT data prepare --input "$WORK/shake.txt" --tokenizer "$WORK/tok" \
  --val-fraction 0.1 -o "$WORK/prep" >/dev/null 2>&1 || fail "data prepare"

# 20 steps straight.
start=$(date +%s.%N)
$GPT train "${COMMON[@]}" --steps 20 --out "$WORK/run" \
  >"$WORK/out" 2>"$WORK/err" || fail "train 20 steps: $(cat "$WORK/err")"
end=$(date +%s.%N)
echo "20 tiny steps (incl. compiling): $(echo "$end - $start" | bc) s"
for f in config.json artifact.gptart tokenizer/tokenizer.json \
  model.safetensors checkpoints/model-20.safetensors \
  checkpoints/optimizer-20.safetensors state.json metrics.jsonl loss.svg; do
  [ -e "$WORK/run/$f" ] || fail "run dir lacks $f"
done
[ "$(wc -l <"$WORK/run/metrics.jsonl")" -eq 20 ] || fail "metrics lines"
grep -q "step 20/20" "$WORK/err" || fail "progress line: $(tail -3 "$WORK/err")"
grep -q '"val_loss"' "$WORK/run/metrics.jsonl" || fail "no val_loss in metrics"
grep -q '<polyline class="train"' "$WORK/run/loss.svg" || fail "svg train curve"
first=$(losses "$WORK/run" | head -1)
last=$(losses "$WORK/run" | tail -1)
echo "loss: step 1 $first -> step 20 $last"
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a - 0.3) }' ||
  fail "loss did not go down: $first -> $last"
ls "$XDG_CACHE_HOME/gpt/artifacts/"*.gptart >/dev/null 2>&1 ||
  fail "artifact not cached"

# Resume: 10 steps (same LR schedule), then --resume up to 20 == straight.
$GPT train "${COMMON[@]}" --steps 10 --lr-decay-steps 20 --out "$WORK/r2" \
  >/dev/null 2>"$WORK/err" || fail "train 10 steps: $(cat "$WORK/err")"
grep -q '"step": 10' "$WORK/r2/state.json" || fail "state.json step 10"
$GPT train --resume --steps 20 --out "$WORK/r2" --threads 2 --eval-every 5 \
  --eval-batches 4 >/dev/null 2>"$WORK/err" || fail "resume: $(cat "$WORK/err")"
grep -q "resuming" "$WORK/err" || fail "resume message"
cmp -s "$WORK/run/model.safetensors" "$WORK/r2/model.safetensors" ||
  fail "resumed weights differ from the straight run"
cmp -s "$WORK/run/checkpoints/optimizer-20.safetensors" \
  "$WORK/r2/checkpoints/optimizer-20.safetensors" ||
  fail "resumed optimizer state differs"
[ "$(losses "$WORK/run")" == "$(losses "$WORK/r2")" ] ||
  fail "resumed losses differ: $(losses "$WORK/run" | tr '\n' ' ') vs $(losses "$WORK/r2" | tr '\n' ' ')"

# A run directory with a checkpoint is not overwritten.
$GPT train "${COMMON[@]}" --steps 5 --out "$WORK/run" >/dev/null 2>"$WORK/err" &&
  fail "overwrote a run"
grep -q "already holds a checkpoint" "$WORK/err" || fail "overwrite message"

# eval --json on the prepared dir and on a text file.
$GPT eval --model "$WORK/run" --data "$WORK/prep" --json >"$WORK/eval.json" \
  2>"$WORK/err" || fail "eval: $(cat "$WORK/err")"
grep -Eq '^\{"loss":[0-9.e+-]+,"perplexity":[0-9.e+-]+,"bits_per_byte":[0-9.e+-]+\}$' \
  "$WORK/eval.json" || fail "eval json: $(cat "$WORK/eval.json")"
echo "eval: $(cat "$WORK/eval.json")"
tail -c 20000 "$DATA/tinyshakespeare.txt" >"$WORK/tail.txt"
$GPT eval --model "$WORK/run" --data "$WORK/tail.txt" >"$WORK/out" 2>&1 ||
  fail "eval text file: $(cat "$WORK/out")"
grep -q "bits/byte" "$WORK/out" || fail "eval text output"

# generate: deterministic for a seed, needs no gptc.
GPT_GPTC=/nonexistent $GPT generate --model "$WORK/run" --prompt "ROMEO:" \
  --max-tokens 20 --seed 3 >"$WORK/g1" 2>"$WORK/err" || fail "generate: $(cat "$WORK/err")"
GPT_GPTC=/nonexistent $GPT generate --model "$WORK/run" --prompt "ROMEO:" \
  --max-tokens 20 --seed 3 >"$WORK/g2" 2>&1 || fail "generate 2"
cmp -s "$WORK/g1" "$WORK/g2" || fail "generate is not deterministic"
grep -q "^ROMEO:" "$WORK/g1" || fail "generate output: $(cat "$WORK/g1")"
[ "$(wc -c <"$WORK/g1")" -gt 10 ] || fail "generate produced nothing"
echo "sample: $(head -c 200 "$WORK/g1" | tr '\n' ' ')"
# On the engine: more tokens than the context leaves stops at the context
# and says so; a prompt that fills the context is refused.
GPT_GPTC=/nonexistent $GPT generate --model "$WORK/run" --prompt "ROMEO:" \
  --max-tokens 100000 --temperature 0 >"$WORK/g3" 2>"$WORK/err" ||
  fail "generate to the context: $(cat "$WORK/err")"
# (The data has no <|endoftext|>, so greedy decoding never stops before.)
grep -q "stopped at the model's context" "$WORK/err" ||
  fail "generate to the context: no note: $(cat "$WORK/err")"
head -c 20000 "$WORK/shake.txt" >"$WORK/long.txt"
GPT_GPTC=/nonexistent $GPT generate --model "$WORK/run" \
  --prompt "$(cat "$WORK/long.txt")" --max-tokens 5 >/dev/null 2>"$WORK/err" &&
  fail "a prompt longer than the context was accepted"
grep -q "the model's context is" "$WORK/err" ||
  fail "over-long prompt message: $(cat "$WORK/err")"

# NaN/inf loss: stop with a message and a non-zero exit, keep the last good
# checkpoint.
$GPT train "${COMMON[@]}" --steps 20 --lr 1e38 --warmup 0 --grad-clip 0 \
  --checkpoint-every 1 --out "$WORK/nan" >/dev/null 2>"$WORK/err" &&
  fail "NaN run succeeded"
grep -Eq "(loss|gradient norm) is (nan|inf|-nan)" "$WORK/err" ||
  fail "NaN message: $(tail -2 "$WORK/err")"
grep -q "last good checkpoint" "$WORK/err" || fail "NaN keeps checkpoint"

# Fine-tuning: a fresh run started from the trained weights begins near
# where the first run ended, far below a random start.
$GPT train --init-from "$WORK/run" --data "$WORK/prep" --out "$WORK/ft" \
  --steps 2 --threads 2 >/dev/null 2>"$WORK/err" || fail "init-from: $(cat "$WORK/err")"
grep -q "initialized from" "$WORK/err" || fail "init-from message"
ft_first=$(losses "$WORK/ft" | head -1)
awk -v a="$first" -v b="$ft_first" 'BEGIN { exit !(b < a - 0.2) }' ||
  fail "fine-tuning starts at $ft_first, not below the fresh start $first"
$GPT train --init-from "$WORK/run" --preset tiny --data "$WORK/prep" \
  --out "$WORK/ft2" --steps 1 >/dev/null 2>&1 && fail "init-from with --preset"

# Bad inputs.
printf 'garbage' >"$WORK/bad.gptart"
$GPT train "${COMMON[@]}" --steps 2 --artifact "$WORK/bad.gptart" \
  --out "$WORK/bad" >/dev/null 2>"$WORK/err" && fail "bad artifact accepted"
grep -q "bad.gptart" "$WORK/err" || fail "bad artifact message: $(cat "$WORK/err")"
GPT_GPTC=/nonexistent/gptc $GPT train --preset small --data "$WORK/prep" \
  --steps 1 --out "$WORK/nogptc" >/dev/null 2>"$WORK/err" && fail "missing gptc"
grep -q "/nonexistent/gptc" "$WORK/err" || fail "missing gptc message: $(cat "$WORK/err")"
$GPT eval --model "$WORK/none" --data "$WORK/prep" >/dev/null 2>&1 &&
  fail "eval of a missing run"
$GPT train --preset huge --data "$WORK/prep" --steps 1 --out "$WORK/x" \
  >/dev/null 2>"$WORK/err" && fail "unknown preset"
grep -q "unknown preset" "$WORK/err" || fail "preset message"

if [ $failures -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "all gpt train/eval/generate checks passed"
