#!/usr/bin/env bash
# Crash consistency of checkpoints: `gpt train` is SIGKILLed after every
# file operation of its checkpoints in turn (GPT_TEST_CRASH_AFTER_WRITE=N,
# 5 per checkpoint, 3 checkpoints), then resumed (or restarted, when it died
# before its first commit) until it finishes. Every run must end with
# exactly the uninterrupted run's weights, optimizer state and losses, and
# no leftover files.
# Usage: gpt_train_crash_test.sh PATH/TO/gpt PATH/TO/gptc PATH/TO/shared/data
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
ARGS=(--preset tiny --data "$WORK/prep" --batch 4 --threads 2 --steps 9
  --checkpoint-every 3 --eval-every 0)

head -c 100000 "$DATA/tinyshakespeare.txt" >"$WORK/shake.txt"
$GPT tokenizer train --input "$WORK/shake.txt" --vocab-size 300 -o "$WORK/tok" \
  >/dev/null 2>&1 || fail "tokenizer train"
$GPT data prepare --input "$WORK/shake.txt" --tokenizer "$WORK/tok" \
  --val-fraction 0.1 -o "$WORK/prep" >/dev/null 2>&1 || fail "data prepare"
$GPT train "${ARGS[@]}" --out "$WORK/straight" >/dev/null 2>"$WORK/err" ||
  { fail "straight run: $(tail -3 "$WORK/err")"; exit 1; }

for n in $(seq 1 15); do
  run="$WORK/crash$n"
  GPT_TEST_CRASH_AFTER_WRITE=$n $GPT train "${ARGS[@]}" --out "$run" \
    >/dev/null 2>"$WORK/err$n"
  code=$?
  [ "$code" -eq 137 ] || fail "N=$n: exit $code, expected a SIGKILL (137)"
  for attempt in 1 2 3; do
    if [ -f "$run/state.json" ]; then
      $GPT train --resume --steps 9 --out "$run" --threads 2 \
        >/dev/null 2>>"$WORK/err$n" && break
    else
      $GPT train "${ARGS[@]}" --out "$run" >/dev/null 2>>"$WORK/err$n" && break
    fi
  done
  grep -q '"step": 9' "$run/state.json" 2>/dev/null ||
    { fail "N=$n: did not finish: $(tail -3 "$WORK/err$n")"; continue; }
  cmp -s "$WORK/straight/model.safetensors" "$run/model.safetensors" ||
    fail "N=$n: weights differ from the uninterrupted run"
  cmp -s "$WORK/straight/checkpoints/optimizer-9.safetensors" \
    "$run/checkpoints/optimizer-9.safetensors" ||
    fail "N=$n: optimizer state differs"
  [ "$(losses "$WORK/straight")" == "$(losses "$run")" ] ||
    fail "N=$n: losses differ"
  left=$(cd "$run" && ls -A . checkpoints | grep -E '\.tmp\.|-[0-8]\.safetensors' || true)
  [ -z "$left" ] || fail "N=$n: leftover files: $left"
done
echo "15 crash points, each resumed to the uninterrupted result: $((15 - failures)) passed"
[ "$failures" -eq 0 ]
