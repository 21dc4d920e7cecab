#!/usr/bin/env bash
# `gpt serve` against an attacker on the loopback (gpt_serve_abuse.py):
# bad escapes, huge chunked / no-length bodies, a gzip bomb, 10,000
# headers, 200 slowloris sockets, 1,000 short connections, half-closed
# clients, the connection cap. The server must end every case alive, with
# peak memory bounded, and answer a greedy request identically afterwards.
# Usage: gpt_serve_abuse_test.sh PATH/TO/gpt PATH/TO/gptc PATH/TO/shared/data
# Exits 77 (skipped) only without gptc or python3.
set -u
GPT=$1
GPTC=${2:-}
DATA=${3:-$(dirname "$0")/../../../shared/data}
HERE=$(cd "$(dirname "$0")" && pwd)
if [ -z "$GPTC" ] || [ ! -x "$GPTC" ]; then
  echo "SKIP: no gptc (built without the compiler)"
  exit 77
fi
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
export XDG_CACHE_HOME="$WORK/cache"
export GPT_GPTC="$GPTC"

# A tiny randomly initialised model with GPT-2's tokenizer (no training:
# only the server's behaviour is under test).
"$GPT" import random --preset tiny --vocab 50257 --context 128 \
  --vocab-json "$DATA/encoder.json" --merges "$DATA/vocab.bpe" \
  -o "$WORK/m" >"$WORK/import.log" 2>&1 || {
  echo "FAIL: import random: $(tail -3 "$WORK/import.log")"
  exit 1
}
"$GPT" serve --model "$WORK/m" --port 0 --threads 1 --parallel 4 \
  --max-queue 8 --max-body-bytes 65536 --max-connections 400 \
  --header-timeout 3 --body-timeout 3 --idle-timeout 5 \
  >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVER_PID=$!
PORT=""
for _ in $(seq 1 600); do
  PORT=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/serve.out" 2>/dev/null |
    head -1 | sed 's/.*://')
  [ -n "$PORT" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$PORT" ]; then
  echo "FAIL: server did not start: $(cat "$WORK/serve.err")"
  exit 1
fi
timeout 600 python3 "$HERE/gpt_serve_abuse.py" --port "$PORT" \
  --pid "$SERVER_PID" --model m --max-body 65536 --max-connections 400
rc=$?
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  echo "FAIL: the server died: $(tail -5 "$WORK/serve.err")"
  exit 1
fi
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
code=$?
SERVER_PID=""
[ "$code" -eq 0 ] || { echo "FAIL: exit status $code after SIGTERM"; rc=1; }
exit $rc
