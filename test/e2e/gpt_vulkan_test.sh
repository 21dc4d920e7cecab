#!/usr/bin/env bash
# Every command with --backend vulkan, end to end on the real binaries, on
# lavapipe (VK_LOADER_DRIVERS_SELECT from ctest) under the validation layers
# (GPT_VK_VALIDATION=1: any message is an error): gpt devices; train a tiny
# model on Vulkan and on the CPU from the same data and seed (losses must
# track); eval; greedy generate identical to the CPU's; chat; serve answering
# a completion; bench train/generate JSON with per-kernel GPU times; and the
# clear error when no Vulkan device exists.
# Usage: gpt_vulkan_test.sh PATH/TO/gpt PATH/TO/gptc PATH/TO/shared/data
set -u
GPT=$1
GPTC=${2:-}
DATA=$3
[ -n "$GPTC" ] && [ -x "$GPTC" ] || { echo "SKIP: no gptc"; exit 77; }
WORK=$(mktemp -d)
SERVER=""
trap '[ -n "$SERVER" ] && kill $SERVER 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
export XDG_CACHE_HOME="$WORK/cache"
export GPT_GPTC="$GPTC"
export GPT_VK_VALIDATION=${GPT_VK_VALIDATION:-1}
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
losses() { grep -o '"loss":[^,}]*' "$1/metrics.jsonl" | cut -d: -f2; }

$GPT devices >"$WORK/devices" 2>"$WORK/err" || fail "devices: $(cat "$WORK/err")"
grep -q "llvmpipe\|cpu\|gpu" "$WORK/devices" || fail "devices: $(cat "$WORK/devices")"
$GPT devices --json | grep -q '"subgroup_size"' || fail "devices --json"

head -c 100000 "$DATA/tinyshakespeare.txt" >"$WORK/shake.txt"
$GPT tokenizer train --input "$WORK/shake.txt" --vocab-size 300 -o "$WORK/tok" \
  >/dev/null 2>&1 || fail "tokenizer train"
$GPT data prepare --input "$WORK/shake.txt" --tokenizer "$WORK/tok" \
  --val-fraction 0.1 -o "$WORK/prep" >/dev/null 2>&1 || fail "data prepare"

COMMON=(--preset tiny --data "$WORK/prep" --batch 4 --seq 32
  --eval-every 6 --eval-batches 2 --threads 1)
$GPT train "${COMMON[@]}" --steps 12 --backend vulkan --out "$WORK/vk" \
  >/dev/null 2>"$WORK/err" || fail "train vulkan: $(tail -5 "$WORK/err")"
$GPT train "${COMMON[@]}" --steps 12 --backend cpu --out "$WORK/cpu" \
  >/dev/null 2>"$WORK/err" || fail "train cpu: $(tail -5 "$WORK/err")"
paste <(losses "$WORK/cpu") <(losses "$WORK/vk") >"$WORK/pairs"
[ "$(wc -l <"$WORK/pairs")" -eq 12 ] || fail "12 losses each: $(cat "$WORK/pairs")"
# Same data, same init: every step's loss within 1e-3 relative.
awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > 1e-3 * $1) bad++ }
     END { exit bad > 0 }' "$WORK/pairs" ||
  fail "losses diverge (cpu vulkan): $(tr '\n' ' ' <"$WORK/pairs")"
echo "losses (cpu vulkan): $(head -1 "$WORK/pairs") ... $(tail -1 "$WORK/pairs")"

# Exact resume on Vulkan: 6 steps, checkpoint (read back from the device),
# --resume up to 12 == the straight run.
$GPT train "${COMMON[@]}" --steps 6 --lr-decay-steps 12 --backend vulkan \
  --out "$WORK/vk6" >/dev/null 2>"$WORK/err" || fail "train 6: $(tail -3 "$WORK/err")"
$GPT train --out "$WORK/vk6" --resume --steps 12 --backend vulkan --threads 1 \
  >/dev/null 2>"$WORK/err" || fail "resume: $(tail -3 "$WORK/err")"
[ "$(losses "$WORK/vk6" | tail -1)" = "$(losses "$WORK/vk" | tail -1)" ] ||
  fail "resumed run ends at $(losses "$WORK/vk6" | tail -1), straight at $(losses "$WORK/vk" | tail -1)"

$GPT eval --model "$WORK/vk" --data "$WORK/prep" --backend vulkan --json \
  >"$WORK/eval.json" 2>"$WORK/err" || fail "eval: $(cat "$WORK/err")"
grep -q '"bits_per_byte"' "$WORK/eval.json" || fail "eval json"

for b in cpu vulkan; do
  $GPT generate --model "$WORK/vk" --prompt "ROMEO:" --max-tokens 24 \
    --temperature 0 --backend $b >"$WORK/gen.$b" 2>"$WORK/err" ||
    fail "generate $b: $(cat "$WORK/err")"
done
cmp -s "$WORK/gen.cpu" "$WORK/gen.vulkan" ||
  fail "greedy text differs: cpu '$(cat "$WORK/gen.cpu")' vulkan '$(cat "$WORK/gen.vulkan")'"

printf 'hello\n/quit\n' | timeout 120 $GPT chat --model "$WORK/vk" \
  --backend vulkan --temperature 0 --max-tokens 4 >/dev/null 2>"$WORK/err" ||
  fail "chat: $(cat "$WORK/err")"

# serve: one completion over HTTP.
$GPT serve --model "$WORK/vk" --backend vulkan --port 0 --kv-cache-mb 4 \
  >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVER=$!
port=""
for _ in $(seq 1 600); do
  port=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/serve.err" "$WORK/serve.out" 2>/dev/null | head -1 | sed 's/.*://')
  [ -n "$port" ] && break
  kill -0 $SERVER 2>/dev/null || break
  sleep 0.2
done
if [ -z "$port" ]; then
  fail "serve did not start: $(cat "$WORK/serve.err")"
else
  curl -s -X POST "http://127.0.0.1:$port/v1/completions" \
    -H 'Content-Type: application/json' \
    -d '{"model":"vk","prompt":"ROMEO:","max_tokens":5,"temperature":0}' \
    >"$WORK/completion.json" || fail "completion request"
  grep -q '"text"' "$WORK/completion.json" ||
    fail "completion: $(cat "$WORK/completion.json")"
fi
kill $SERVER 2>/dev/null
wait $SERVER 2>/dev/null
SERVER=""

$GPT bench train --preset tiny --vocab 64 --batch 2 --seq 16 --steps 2 \
  --backend vulkan --json --profile >"$WORK/bench.json" 2>"$WORK/err" ||
  fail "bench train: $(cat "$WORK/err")"
for key in '"backend": "vulkan"' '"ms_per_step"' '"kernels"' '"linear"' \
  '"attention_qkv_grad"'; do
  grep -q "$key" "$WORK/bench.json" || fail "bench train json lacks $key"
done
$GPT bench generate --preset tiny --vocab 64 --prompt-lengths 8 --batches 1,2 \
  --decode-tokens 4 --clients 2 --backend vulkan --json --profile \
  >"$WORK/bgen.json" 2>"$WORK/err" || fail "bench generate: $(cat "$WORK/err")"
for key in '"tokens_per_second"' '"decode_kernels"' '"paged_attention"'; do
  grep -q "$key" "$WORK/bgen.json" || fail "bench generate json lacks $key"
done

# No Vulkan driver at all: a clear error, exit status 1, nothing written.
VK_LOADER_DRIVERS_SELECT='no-such-driver*' $GPT train "${COMMON[@]}" --steps 2 \
  --backend vulkan --out "$WORK/none" >/dev/null 2>"$WORK/err" &&
  fail "train without a device succeeded"
grep -qi "no Vulkan device" "$WORK/err" || fail "no-device message: $(cat "$WORK/err")"
$GPT train "${COMMON[@]}" --steps 2 --backend metal --out "$WORK/none" >/dev/null \
  2>"$WORK/err" && fail "unknown backend accepted"
grep -q "unknown backend 'metal'" "$WORK/err" || fail "backend message: $(cat "$WORK/err")"

if [ $failures -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "gpt --backend vulkan checks passed"
