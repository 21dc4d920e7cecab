#!/usr/bin/env bash
# The main command. On a fresh Debian 12 machine, with no data of yours:
#   1. installs what is missing (scripts/install-deps.sh) and builds (scripts/build.sh);
#   2. generates the built-in dataset (`gpt data synth`: short instruction /
#      answer dialogues — arithmetic, counting, ordering, spelling, simple
#      facts — with a held-out split whose questions never occur in train);
#   3. trains a small BPE tokenizer on it and prepares token shards;
#   4. trains the default small model for a few minutes (live progress line);
#   5. prints the validation loss (`gpt eval`) and the exact-match accuracy on
#      the held-out questions (`gpt eval-chat`);
#   6. serves the model (`gpt serve`, see start_server at the end).
#
# Usage: scripts/quickstart.sh [options]
#   --data FILE...     train on your own corpus instead: plain text files, or
#                      chat JSONL (.jsonl, OpenAI fine-tuning format)
#   --heldout FILE     with chat --data: held-out chat JSONL for the accuracy
#   --minutes N        training time (default 5)
#   --steps N          train for N steps instead of a time budget
#   --out DIR          where everything goes (default build/quickstart; its
#                      data/, tokenizer/, prepared/ and run/ are replaced)
#   --port N           port of the server (default 8080)
#   --backend B        cpu (default) or vulkan: train, evaluate and serve on a
#                      GPU (or any Vulkan device; see `build/bin/gpt devices`)
#   --no-install       skip scripts/install-deps.sh
#   --no-build         skip scripts/build.sh (use the binaries in $BUILD_DIR)
#   --no-serve         stop after the evaluation
# Environment: BUILD_DIR (default build), THREADS (default: all cores),
#   TASKS (comma-separated `gpt data synth` tasks of the built-in dataset).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

DATA=()
HELDOUT=""
MINUTES=5
STEPS=""
OUT=build/quickstart
PORT=8080
BACKEND=cpu
INSTALL=1
BUILD=1
SERVE=1
while [ $# -gt 0 ]; do
  case "$1" in
  --data)
    shift
    while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do
      DATA+=("$1")
      shift
    done
    [ ${#DATA[@]} -gt 0 ] || { echo "quickstart: --data needs files" >&2; exit 2; }
    continue
    ;;
  --heldout) HELDOUT=$2; shift ;;
  --minutes) MINUTES=$2; shift ;;
  --steps) STEPS=$2; shift ;;
  --out) OUT=$2; shift ;;
  --port) PORT=$2; shift ;;
  --backend) BACKEND=$2; shift ;;
  --no-install) INSTALL=0 ;;
  --no-build) BUILD=0 ;;
  --no-serve) SERVE=0 ;;
  -h | --help) usage; exit 0 ;;
  *) echo "quickstart: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
for f in ${DATA[@]+"${DATA[@]}"} $HELDOUT; do
  [ -f "$f" ] || { echo "quickstart: $f: no such file" >&2; exit 2; }
done

BUILD_DIR=${BUILD_DIR:-build}
THREADS=${THREADS:-$(nproc)}
GPT="$BUILD_DIR/bin/gpt"
step() { printf '\n== %s ==\n' "$*"; }
elapsed() { echo "$(($(date +%s) - START))s"; }

[ "$INSTALL" = 1 ] && { step "dependencies"; ./scripts/install-deps.sh; }
[ "$BUILD" = 1 ] && { step "build ($BUILD_DIR)"; BUILD_DIR=$BUILD_DIR ./scripts/build.sh; }
[ -x "$GPT" ] || { echo "quickstart: $GPT is missing (build first)" >&2; exit 1; }
START=$(date +%s)
mkdir -p "$OUT"
rm -rf "$OUT/data" "$OUT/tokenizer" "$OUT/prepared" "$OUT/run"

# The default small model: 4 layers, 4 heads, d_model 128, context 128
# (about 0.9M parameters with the 512-token vocabulary). It learns the
# built-in tasks far faster than the `small` preset on 2 cores.
cat >"$OUT/model.json" <<'EOF'
{"context_length": 128, "n_layer": 4, "n_head": 4, "d_model": 128}
EOF

KIND=synth
if [ ${#DATA[@]} -eq 0 ]; then
  step "built-in dataset (gpt data synth)"
  # Letter-level tasks (spell, reverse, sort_words) need far more steps than
  # a few CPU minutes give a model this size: they stay out of the default
  # mix (gpt data synth --list-tasks shows them all).
  "$GPT" data synth -o "$OUT/data" --train 50000 --heldout 500 --seed 1 \
    --tasks "${TASKS:-add,sub,compare,next,followup,count_words,count_letters,sort_numbers,facts}"
  TRAIN_FILES=("$OUT/data/train.jsonl")
  HELDOUT="$OUT/data/heldout.jsonl"
  VOCAB=512
  VAL_FRACTION=0.02
else
  KIND=user
  TRAIN_FILES=("${DATA[@]}")
  VOCAB=${VOCAB:-2048}
  VAL_FRACTION=0.05
fi

step "tokenizer (byte-level BPE, vocabulary $VOCAB)"
"$GPT" tokenizer train --input "${TRAIN_FILES[@]}" --vocab-size "$VOCAB" \
  -o "$OUT/tokenizer" --threads "$THREADS"

step "token shards (gpt data prepare)"
"$GPT" data prepare --input "${TRAIN_FILES[@]}" --tokenizer "$OUT/tokenizer" \
  --val-fraction "$VAL_FRACTION" -o "$OUT/prepared" --threads "$THREADS"

if [ -n "$STEPS" ]; then
  LENGTH=(--steps "$STEPS")
  step "training $STEPS steps"
else
  LENGTH=(--time-budget $((MINUTES * 60)))
  step "training for $MINUTES minutes"
fi
"$GPT" train --config "$OUT/model.json" --data "$OUT/prepared" --out "$OUT/run" \
  "${LENGTH[@]}" --batch 16 --lr 3e-3 --warmup 50 --eval-every 200 \
  --eval-batches 8 --threads "$THREADS" --backend "$BACKEND"

step "evaluation"
EVAL=$("$GPT" eval --model "$OUT/run" --data "$OUT/prepared" --threads "$THREADS" --backend "$BACKEND" --json)
echo "validation loss (nats per answer token): $EVAL"
if [ -n "$HELDOUT" ]; then
  echo "held-out questions ($HELDOUT), greedy answers, exact match:"
  "$GPT" eval-chat --model "$OUT/run" --data "$HELDOUT" --threads "$THREADS" --backend "$BACKEND" --show 6
fi
echo "(data, training and evaluation took $(elapsed))"

# ---------------------------------------------------------------------------
# Serving: `gpt serve` (OpenAI-compatible HTTP API, docs/serving.md). A build
# without it prints the command instead.
# ---------------------------------------------------------------------------
start_server() {
  local run=$1
  step "serve"
  cat <<EOF
Call it, once it is up, with curl:
  curl -s http://127.0.0.1:$PORT/v1/chat/completions -H 'Content-Type: application/json' \\
    -d '{"model": "$(basename "$run")", "messages": [{"role": "user", "content": "What is 12 + 7?"}], "temperature": 0}'
or with the openai client (npm install openai):
  node -e 'const OpenAI = require("openai"); const c = new OpenAI({baseURL: "http://127.0.0.1:$PORT/v1", apiKey: "none"});
    c.chat.completions.create({model: "$(basename "$run")", messages: [{role: "user", content: "Spell cat backwards."}], temperature: 0})
     .then(r => console.log(r.choices[0].message.content));'
Or chat in the terminal: $GPT chat --model $run
EOF
  if "$GPT" serve --help >/dev/null 2>&1; then
    echo "serving $run on http://127.0.0.1:$PORT (Ctrl-C stops it)"
    exec "$GPT" serve --model "$run" --host 127.0.0.1 --port "$PORT" --backend "$BACKEND"
  else
    echo "NOTE: this build has no 'gpt serve'."
    echo "When it lands: $GPT serve --model $run --host 127.0.0.1 --port $PORT"
  fi
}

if [ "$SERVE" = 1 ]; then
  start_server "$OUT/run"
else
  echo "model: $OUT/run (serve it with: $GPT serve --model $OUT/run --port $PORT)"
fi
