#!/usr/bin/env bash
# The main command end to end, shortened: scripts/quickstart.sh with the
# built-in dataset, 20 training steps instead of 5 minutes, no install or
# build; it must print the per-task held-out accuracy (English and Chinese
# rows), the examples it picks from the held-out set with the model's
# answers, and the server's answers to the seed's request and a chat
# request, then stop (QUICKSTART_EXIT_AFTER_CHECK=1).
# Usage: quickstart_test.sh PATH/TO/gpt PATH/TO/gptc
# Exits 77 (skipped) without gptc, curl or python3.
set -u
GPT=$1
GPTC=${2:-}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "$GPTC" ] || [ ! -x "$GPTC" ]; then
  echo "SKIP: no gptc (built without the compiler)"
  exit 77
fi
for tool in curl python3; do
  command -v $tool >/dev/null || { echo "SKIP: no $tool"; exit 77; }
done
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export XDG_CACHE_HOME="$WORK/cache" GPT_GPTC="$GPTC"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# A free port: bind 0 and read what the kernel gave.
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BUILD_DIR=$(dirname "$(dirname "$GPT")") THREADS=2 QUICKSTART_EXIT_AFTER_CHECK=1 \
  timeout 900 "$ROOT/scripts/quickstart.sh" --no-install --no-build --steps 20 \
  --out "$WORK/qs" --port "$PORT" >"$WORK/out" 2>"$WORK/err" ||
  fail "quickstart exited $?: $(tail -20 "$WORK/err") $(tail -20 "$WORK/out")"
cat "$WORK/out"

for f in train valid heldout; do
  [ -s "$WORK/qs/data/$f.jsonl" ] || fail "no $f.jsonl"
done
# The validation split is valid.jsonl, not a slice of train.
grep -q '"split": "val"' "$WORK/qs/prepared/manifest.json" ||
  fail "val split not from valid.jsonl: $(head -40 "$WORK/qs/prepared/manifest.json")"
grep -q "exact-match accuracy [0-9.]*% ([0-9]*/500)" "$WORK/out" || fail "no accuracy line"
for row in add add_zh spell reverse sort_words sort_numbers_zh; do
  grep -Eq "^  $row +[0-9.]+% \([0-9]+/[0-9]+\)" "$WORK/out" || fail "no '$row' row"
done
grep -Eq "^  facts(_zh)? +[0-9.]+% " "$WORK/out" && fail "facts are never held out, yet have a row"
# The examples: the first held-out question of each shown task, with the
# model's answer.
first_zh=$(grep -m1 '"task":"add_zh"' "$WORK/qs/data/heldout.jsonl" |
  sed 's/.*"role":"user","content":"\([^"]*\)".*/\1/')
grep -qF "] add_zh: $first_zh -> " "$WORK/out" ||
  fail "the Chinese example ($first_zh) is not printed"
# The server's answers.
grep -q "POST http://127.0.0.1:$PORT/v1/completions  (the seed's request)" "$WORK/out" ||
  fail "the seed's request was not sent"
grep -q '请问你知道Python编程语言的历史？' "$WORK/out" || fail "seed prompt not shown"
[ "$(grep -c '^  answer: ' "$WORK/out")" -eq 2 ] || fail "two answers expected"
[ "$(grep -Ec '^  finish_reason: (length|stop) \| usage: \{.*"total_tokens": [0-9]+' "$WORK/out")" -eq 2 ] ||
  fail "no finish_reason/usage line"
grep -q "Chat in your browser: http://127.0.0.1:$PORT/" "$WORK/out" || fail "no chat page URL"
grep -q "chat page at http://127.0.0.1:$PORT/" "$WORK/out" || fail "gpt serve did not announce the chat page"
grep -q "ERROR" "$WORK/out" && fail "an error answer"
curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 &&
  fail "the server still runs after the quickstart exited"

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "quickstart e2e passed"
