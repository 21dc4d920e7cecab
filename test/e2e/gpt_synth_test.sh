#!/usr/bin/env bash
# End-to-end checks of `gpt data synth` and `gpt eval-chat`: generate the
# built-in dataset, check the files, train a tiny model for a few steps with
# the real gptc and CPU executor, and get an exact-match accuracy from
# eval-chat (a number; a tiny model after 20 steps is not expected to be
# right).
# Usage: gpt_synth_test.sh PATH/TO/gpt PATH/TO/gptc
# The training part exits 77 (skipped) when gptc is not available.
set -u
GPT=$1
GPTC=${2:-}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export XDG_CACHE_HOME="$WORK/cache"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

for cmd in "data synth" eval-chat; do
  $GPT $cmd --help >/dev/null 2>&1 || fail "gpt $cmd --help"
done
$GPT data synth --list-tasks >"$WORK/tasks" || fail "--list-tasks"
for t in add sub count_words sort_numbers reverse facts followup add_zh sort_numbers_zh facts_zh; do
  grep -q "^$t" "$WORK/tasks" || fail "task $t not listed"
done

# Generation: files, sizes, determinism, format.
$GPT data synth -o "$WORK/d" --train 2000 --valid 100 --heldout 60 --seed 3 \
  >"$WORK/out" 2>&1 || fail "synth: $(cat "$WORK/out")"
[ "$(wc -l <"$WORK/d/train.jsonl")" -eq 2000 ] || fail "train lines"
[ "$(wc -l <"$WORK/d/valid.jsonl")" -eq 100 ] || fail "valid lines"
[ "$(wc -l <"$WORK/d/heldout.jsonl")" -eq 60 ] || fail "heldout lines"
[ "$(ls "$WORK/d" | wc -l)" -eq 3 ] || fail "extra files: $(ls "$WORK/d")"
grep -q '"task":"add_zh"' "$WORK/d/train.jsonl" || fail "no Chinese task in train"
grep -q '"task":"facts' "$WORK/d/heldout.jsonl" "$WORK/d/valid.jsonl" &&
  fail "facts held out"
grep -q '^{"messages":\[{"role":"\(system\|user\)","content":"' \
  "$WORK/d/train.jsonl" || fail "not chat JSONL: $(head -1 "$WORK/d/train.jsonl")"
grep -vq '"role":"assistant","content":"[^"]*"}\],"task":"' \
  "$WORK/d/heldout.jsonl" && fail "a held-out line does not end in an answer"
$GPT data synth -o "$WORK/d2" --train 2000 --valid 100 --heldout 60 --seed 3 >/dev/null ||
  fail "synth again"
cmp -s "$WORK/d/train.jsonl" "$WORK/d2/train.jsonl" || fail "train not deterministic"
cmp -s "$WORK/d/heldout.jsonl" "$WORK/d2/heldout.jsonl" || fail "heldout not deterministic"
cmp -s "$WORK/d/valid.jsonl" "$WORK/d2/valid.jsonl" || fail "valid not deterministic"
$GPT data synth -o "$WORK/d3" --train 2000 --heldout 60 --seed 4 >/dev/null ||
  fail "synth seed 4"
cmp -s "$WORK/d/train.jsonl" "$WORK/d3/train.jsonl" && fail "seed ignored"
# No held-out line occurs in train (questions and answers compared whole).
sed 's/,"task":.*//; s/{"role":"system","content":"[^"]*"},//' \
  "$WORK/d/train.jsonl" | sort -u >"$WORK/train.norm"
sed 's/,"task":.*//; s/{"role":"system","content":"[^"]*"},//' \
  "$WORK/d/heldout.jsonl" | sort -u >"$WORK/held.norm"
[ -z "$(comm -12 "$WORK/train.norm" "$WORK/held.norm")" ] ||
  fail "held-out conversations in train: $(comm -12 "$WORK/train.norm" "$WORK/held.norm" | head -2)"
sed 's/,"task":.*//; s/{"role":"system","content":"[^"]*"},//' \
  "$WORK/d/valid.jsonl" | sort -u >"$WORK/valid.norm"
[ -z "$(comm -12 "$WORK/train.norm" "$WORK/valid.norm")" ] ||
  fail "validation conversations in train: $(comm -12 "$WORK/train.norm" "$WORK/valid.norm" | head -2)"
$GPT data synth -o "$WORK/f" --tasks facts,facts_zh >/dev/null 2>"$WORK/err" &&
  fail "held-out facts accepted"
grep -q "no selected task has held-out questions" "$WORK/err" ||
  fail "facts-only error: $(cat "$WORK/err")"
$GPT data synth -o "$WORK/bad" --tasks nope >/dev/null 2>"$WORK/err" &&
  fail "unknown task accepted"
grep -q "unknown synthetic task 'nope'" "$WORK/err" || fail "task error: $(cat "$WORK/err")"
$GPT data synth --train 5 >/dev/null 2>&1 && fail "missing -o accepted"
$GPT data synth -o "$WORK/j" --train 100 --heldout 10 --json >"$WORK/j.json" ||
  fail "synth --json"
grep -q '"train":100,"valid":1000,"heldout":10' "$WORK/j.json" || fail "json: $(cat "$WORK/j.json")"

if [ -z "$GPTC" ] || [ ! -x "$GPTC" ]; then
  echo "SKIP (training part): no gptc (built without the compiler)"
  [ "$failures" -eq 0 ] || exit 1
  exit 77
fi
export GPT_GPTC="$GPTC"

# A tiny model, a few steps, then eval-chat on the held-out split.
$GPT tokenizer train --input "$WORK/d/train.jsonl" --vocab-size 400 \
  -o "$WORK/tok" >/dev/null 2>&1 || fail "tokenizer train"
$GPT data prepare --input "$WORK/d/train.jsonl" --tokenizer "$WORK/tok" \
  --val-input "$WORK/d/valid.jsonl" --val-fraction 0 -o "$WORK/prep" \
  >"$WORK/prep.out" 2>&1 || fail "data prepare: $(cat "$WORK/prep.out")"
grep -q "val: 100 documents" "$WORK/prep.out" || fail "val split: $(cat "$WORK/prep.out")"
grep -q "train: 2000 documents" "$WORK/prep.out" || fail "train split: $(cat "$WORK/prep.out")"
$GPT data prepare --input "$WORK/d/train.jsonl" --tokenizer "$WORK/tok" \
  --val-input "$WORK/d/valid.jsonl" -o "$WORK/prep2" >/dev/null 2>"$WORK/err" &&
  fail "--val-input with the default --val-fraction accepted"
grep -q "val-fraction must be 0" "$WORK/err" || fail "val-input error: $(cat "$WORK/err")"
$GPT train --preset tiny --data "$WORK/prep" --out "$WORK/run" --steps 20 \
  --batch 8 --threads 2 --eval-every 10 --eval-batches 2 >/dev/null \
  2>"$WORK/err" || fail "train: $(tail -3 "$WORK/err")"
$GPT eval-chat --model "$WORK/run" --data "$WORK/d/heldout.jsonl" \
  --max-examples 20 --max-tokens 8 --threads 2 --json >"$WORK/acc.json" \
  2>"$WORK/err" || fail "eval-chat: $(cat "$WORK/err")"
echo "eval-chat: $(cat "$WORK/acc.json")"
grep -Eq '^\{"accuracy":(0|1|0\.[0-9]+|[0-9.e-]+),"correct":[0-9]+,"total":20,"loss":[0-9.e+-]+,"tasks":\{' \
  "$WORK/acc.json" || fail "eval-chat json: $(cat "$WORK/acc.json")"
$GPT eval-chat --model "$WORK/run" --data "$WORK/d/heldout.jsonl" \
  --max-examples 6 --max-tokens 4 --threads 2 >"$WORK/acc.txt" 2>&1 ||
  fail "eval-chat text"
grep -q "exact-match accuracy .*% (.*/6)" "$WORK/acc.txt" ||
  fail "eval-chat text: $(cat "$WORK/acc.txt")"
# --show-tasks: the first conversation of each named task, right or wrong.
$GPT eval-chat --model "$WORK/run" --data "$WORK/d/heldout.jsonl" \
  --max-tokens 4 --threads 2 --show 0 --show-tasks add_zh,reverse \
  >"$WORK/show.txt" 2>&1 || fail "eval-chat --show-tasks: $(cat "$WORK/show.txt")"
first_zh=$(grep -m1 '"task":"add_zh"' "$WORK/d/heldout.jsonl" |
  sed 's/.*"role":"user","content":"\([^"]*\)".*/\1/')
grep -qF "] add_zh: $first_zh -> " "$WORK/show.txt" ||
  fail "--show-tasks add_zh (want '$first_zh'): $(cat "$WORK/show.txt")"
grep -q "\] reverse: " "$WORK/show.txt" || fail "--show-tasks reverse: $(cat "$WORK/show.txt")"
$GPT eval-chat --model "$WORK/run" --data "$WORK/d/heldout.jsonl" \
  --show-tasks nope >/dev/null 2>"$WORK/err" && fail "--show-tasks nope accepted"
grep -q "no conversation of task 'nope'" "$WORK/err" || fail "show-tasks error: $(cat "$WORK/err")"

# The reference must be the last message, the assistant's.
echo '{"messages":[{"role":"user","content":"hi"}]}' >"$WORK/noanswer.jsonl"
$GPT eval-chat --model "$WORK/run" --data "$WORK/noanswer.jsonl" \
  >/dev/null 2>"$WORK/err" && fail "accepted a conversation without answer"
grep -q "noanswer.jsonl:1: the last message must be the assistant's" \
  "$WORK/err" || fail "no-answer message: $(cat "$WORK/err")"
echo '{"messages":[{"role":"user","content":1}]}' >"$WORK/badjson.jsonl"
$GPT eval-chat --model "$WORK/run" --data "$WORK/badjson.jsonl" \
  >/dev/null 2>"$WORK/err" && fail "accepted bad content"
grep -q "badjson.jsonl:1:" "$WORK/err" || fail "bad-line message: $(cat "$WORK/err")"

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "all synth/eval-chat e2e checks passed"
