#!/usr/bin/env bash
# gpt serve's stop signals with a generation in flight (a random GPT-2
# 124M decodes slowly enough on a CPU to be caught mid-answer):
#   SIGTERM, then the --drain-timeout passes  -> exit 1, said on stderr
#   SIGTERM, then a second SIGTERM            -> exit 1 at once
#   SIGTERM with nothing in flight            -> exit 0
# Usage: gpt_serve_drain_test.sh PATH/TO/gpt PATH/TO/gptc PATH/TO/shared/data
# Exits 77 (skipped) only without gptc.
set -u
GPT=$1
GPTC=${2:-}
DATA=${3:-$(dirname "$0")/../../../shared/data}
if [ -z "$GPTC" ] || [ ! -x "$GPTC" ]; then
  echo "SKIP: no gptc (built without the compiler)"
  exit 77
fi
WORK=$(mktemp -d)
PID=""
trap '[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
export XDG_CACHE_HOME="$WORK/cache"
export GPT_GPTC="$GPTC"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
"$GPT" import random --preset gpt2-124m --vocab-json "$DATA/encoder.json" \
  --merges "$DATA/vocab.bpe" -o "$WORK/m" >"$WORK/import.log" 2>&1 ||
  { echo "FAIL: import random: $(tail -3 "$WORK/import.log")"; exit 1; }

start() { # extra args; sets PID and PORT
  "$GPT" serve --model "$WORK/m" --port 0 --threads 2 "$@" >"$WORK/out" \
    2>"$WORK/err" &
  PID=$!
  PORT=""
  for _ in $(seq 1 600); do
    PORT=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/out" 2>/dev/null | head -1 |
      sed 's/.*://')
    [ -n "$PORT" ] && return 0
    sleep 0.1
  done
  fail "server did not start: $(cat "$WORK/err")"
  exit 1
}
# A long streaming answer; returns once its first token has arrived.
in_flight() {
  curl -sN "http://127.0.0.1:$PORT/v1/completions" -H 'Content-Type: application/json' \
    -d '{"model":"m","prompt":"Once","max_tokens":900,"stream":true}' \
    >"$WORK/stream" 2>/dev/null &
  for _ in $(seq 1 300); do
    grep -q '"text"' "$WORK/stream" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "no token streamed"
}
# Waits up to $1 seconds for the server to exit; sets CODE to its status
# ("still running" if it did not exit).
exit_within() {
  CODE="still running"
  for _ in $(seq 1 $(($1 * 10))); do
    if ! kill -0 "$PID" 2>/dev/null; then
      wait "$PID"
      CODE=$?
      return
    fi
    sleep 0.1
  done
}

start --drain-timeout 2
in_flight
kill -TERM "$PID"
exit_within 10
[ "$CODE" = 1 ] || fail "drain deadline: exit '$CODE', expected 1"
grep -q "drain deadline passed" "$WORK/err" || fail "no drain-deadline message: $(tail -2 "$WORK/err")"

start --drain-timeout 60
in_flight
kill -TERM "$PID"
sleep 0.5
kill -0 "$PID" 2>/dev/null || fail "exited before the second signal"
kill -TERM "$PID"
exit_within 3
[ "$CODE" = 1 ] || fail "second signal: exit '$CODE', expected 1 at once"
grep -q "second signal" "$WORK/err" || fail "no second-signal message"

start
kill -TERM "$PID"
exit_within 10
[ "$CODE" = 0 ] || fail "idle SIGTERM: exit '$CODE', expected 0"
PID=""
echo "drain checks: $((3 - failures)) of 3 passed"
[ "$failures" -eq 0 ]
