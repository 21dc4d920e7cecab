#!/usr/bin/env bash
# The chat page of `gpt serve` in Debian's chromium, driven by puppeteer-core
# (gpt_web_chat.mjs): streaming, Enter/Shift+Enter/Esc, stop (server-side
# cancel), regenerate, edit, settings checked against the context, HTML
# injection from model text, CJK and emoji, conversations (rename, reload,
# delete, import), 360 px and dark mode, accessible labels, CSP, the API-key
# prompt and a dropped connection. Uses a randomly initialised GPT-2 124M
# (slow enough on a CPU that Stop has something to stop). Screenshots go to
# SHOTS (default: build/web-screenshots).
# Usage: gpt_web_test.sh PATH/TO/gpt PATH/TO/gptc PATH/TO/shared/data
# Exits 77 (skipped) only without gptc or chromium.
set -u
GPT=$1
GPTC=${2:-}
DATA=${3:-$(dirname "$0")/../../../shared/data}
HERE=$(cd "$(dirname "$0")" && pwd)
SHOTS=${SHOTS:-$(cd "$(dirname "$GPT")/.." && pwd)/web-screenshots}
if [ -z "$GPTC" ] || [ ! -x "$GPTC" ]; then
  echo "SKIP: no gptc (built without the compiler)"
  exit 77
fi
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || { echo "SKIP: no chromium at $CHROMIUM"; exit 77; }
command -v node >/dev/null || { echo "FAIL: node is not installed"; exit 1; }
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT
export XDG_CACHE_HOME="$WORK/cache"
export GPT_GPTC="$GPTC"
mkdir -p "$SHOTS" "$WORK/js"
cp "$HERE/gpt_web_chat.mjs" "$WORK/js/"
(cd "$WORK/js" && echo '{"type":"module","private":true}' >package.json &&
  PUPPETEER_SKIP_DOWNLOAD=1 npm install --no-audit --no-fund --silent \
    puppeteer-core@23 >"$WORK/npm.log" 2>&1) || {
  echo "FAIL: cannot install puppeteer-core: $(tail -3 "$WORK/npm.log")"
  exit 1
}
"$GPT" import random --preset gpt2-124m --vocab-json "$DATA/encoder.json" \
  --merges "$DATA/vocab.bpe" -o "$WORK/m" >"$WORK/import.log" 2>&1 || {
  echo "FAIL: import random: $(tail -3 "$WORK/import.log")"
  exit 1
}
start() { # log, extra args; sets PORT
  "$GPT" serve --model "$WORK/m" --port 0 --threads 2 --parallel 2 "${@:2}" \
    >"$1.out" 2>"$1.err" &
  PIDS+=($!)
  PORT=""
  for _ in $(seq 1 600); do
    PORT=$(grep -o 'chat page at http://127.0.0.1:[0-9]*' "$1.out" 2>/dev/null |
      head -1 | sed 's/.*://')
    [ -n "$PORT" ] && return 0
    sleep 0.1
  done
  echo "FAIL: server did not start: $(cat "$1.err")"
  exit 1
}
start "$WORK/open"
OPEN=$PORT
start "$WORK/keyed" --api-key sekrit
KEYED=$PORT
cd "$WORK/js" && BASE="http://127.0.0.1:$OPEN" KEY_BASE="http://127.0.0.1:$KEYED" \
  KEY=sekrit SHOTS="$SHOTS" CHROMIUM="$CHROMIUM" timeout 600 node gpt_web_chat.mjs
rc=$?
echo "screenshots: $SHOTS/{desktop-light,desktop-dark,phone-360}.png"
exit $rc
