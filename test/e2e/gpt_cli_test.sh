#!/usr/bin/env bash
# End-to-end checks of the `gpt` binary: tokenizer train/encode/decode and
# data prepare, including failures (non-zero exit, message on stderr).
# Usage: gpt_cli_test.sh PATH/TO/gpt PATH/TO/shared/data
set -u
GPT=$1
DATA=$2
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect_eq() { [ "$1" == "$2" ] || fail "$3: got '$1', want '$2'"; }

# --help works on every subcommand.
for cmd in "" "tokenizer" "tokenizer train" "tokenizer encode" \
  "tokenizer decode" "data" "data prepare"; do
  $GPT $cmd --help >/dev/null 2>&1 || fail "gpt $cmd --help"
done
$GPT nonsense >/dev/null 2>&1 && fail "unknown subcommand accepted"

# Encode / decode with the GPT-2 files.
expect_eq "$(printf 'Hello world' | $GPT tokenizer encode --tokenizer "$DATA" --json)" \
  "[15496,995]" "encode --json"
expect_eq "$(printf '<|endoftext|>' | $GPT tokenizer encode --tokenizer "$DATA")" \
  "27 91 437 1659 5239 91 29" "specials are plain text by default"
expect_eq "$(printf 'a<|endoftext|>' | $GPT tokenizer encode --tokenizer "$DATA" --special)" \
  "64 50256" "--special"
$GPT tokenizer encode --tokenizer "$DATA" <"$DATA/tinyshakespeare.txt" >"$WORK/ids.txt" ||
  fail "encode tinyshakespeare"
$GPT tokenizer decode --tokenizer "$DATA" <"$WORK/ids.txt" >"$WORK/back.txt" ||
  fail "decode tinyshakespeare"
cmp -s "$WORK/back.txt" "$DATA/tinyshakespeare.txt" || fail "decode(encode(x)) != x"
echo '[50259]' | $GPT tokenizer decode --tokenizer "$DATA" >/dev/null 2>"$WORK/err" &&
  fail "out-of-range id accepted"
grep -q "out of range" "$WORK/err" || fail "out-of-range message: $(cat "$WORK/err")"
$GPT tokenizer encode --tokenizer "$WORK/none" </dev/null 2>"$WORK/err" >/dev/null &&
  fail "missing tokenizer accepted"
grep -q "$WORK/none" "$WORK/err" || fail "missing tokenizer message"

# Train a small tokenizer and use it.
head -c 200000 "$DATA/tinyshakespeare.txt" >"$WORK/small.txt"
$GPT tokenizer train --input "$WORK/small.txt" --vocab-size 400 -o "$WORK/tok" \
  >/dev/null 2>&1 || fail "tokenizer train"
for f in tokenizer.json encoder.json vocab.bpe; do
  [ -f "$WORK/tok/$f" ] || fail "train wrote no $f"
done
printf 'To be, or not to be' | $GPT tokenizer encode --tokenizer "$WORK/tok" |
  $GPT tokenizer decode --tokenizer "$WORK/tok" >"$WORK/rt.txt"
expect_eq "$(cat "$WORK/rt.txt")" "To be, or not to be" "trained round trip"
$GPT tokenizer train --input "$WORK/small.txt" --vocab-size 10 -o "$WORK/t2" \
  >/dev/null 2>&1 && fail "tiny vocab accepted"

# data prepare: text and chat, then failures.
$GPT data prepare --input "$DATA/tinyshakespeare.txt" --tokenizer "$DATA" \
  --val-fraction 0.1 -o "$WORK/shake" >"$WORK/out" 2>&1 || fail "prepare text: $(cat "$WORK/out")"
[ -f "$WORK/shake/manifest.json" ] && [ -f "$WORK/shake/train_000.bin" ] &&
  [ -f "$WORK/shake/val_000.bin" ] || fail "prepare text outputs"
grep -q '"text_bytes": 111540' "$WORK/shake/manifest.json" || fail "val bytes in manifest"
$GPT data prepare --input "$DATA/oasst1_zh_chat.jsonl" --tokenizer "$DATA" \
  -o "$WORK/zh" --json >"$WORK/zh.json" 2>&1 || fail "prepare chat"
grep -q '"kind": "chat"' "$WORK/zh.json" || fail "chat manifest"

printf '%s\n' '{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]}' \
  '{"messages":[{"role":"user","content":5}]}' >"$WORK/bad.jsonl"
$GPT data prepare --input "$WORK/bad.jsonl" --tokenizer "$DATA" -o "$WORK/bad" \
  >/dev/null 2>"$WORK/err" && fail "bad chat accepted"
grep -q "bad.jsonl:2: messages\[0\].content is not a string" "$WORK/err" ||
  fail "bad chat message: $(cat "$WORK/err")"
[ -e "$WORK/bad" ] && fail "failed prepare wrote output"
$GPT data prepare --input "$WORK/bad.jsonl" --tokenizer "$DATA" -o "$WORK/bad" \
  --skip-bad >"$WORK/out" 2>"$WORK/err" || fail "--skip-bad"
grep -q "skipped 1" "$WORK/out" || fail "--skip-bad count: $(cat "$WORK/out")"

if [ $failures -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "all gpt CLI checks passed"
