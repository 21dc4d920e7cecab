#!/usr/bin/env bash
# Side by side, in one run on this host: `gpt bench train` against the same
# model and step in PyTorch (torch_train_step.py), on the three training
# shapes of issue 14, and the ratio (PyTorch ms / our ms: above 1 we are
# faster). A benchmark, not a test: it needs Debian's python3-torch (and
# libopenblas-dev, so that torch's libblas.so.3 is OpenBLAS).
# Usage: bench/train/compare.sh [--threads N] [--steps N] [--shapes a,b,c]
#        [--gpt build/bin/gpt] [--json FILE]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
GPT=$HERE/../../build/bin/gpt
THREADS=$(nproc)
STEPS=5
SHAPES=a,b,c
JSON=""
while [ $# -gt 0 ]; do
  case $1 in
  --threads) THREADS=$2; shift 2 ;;
  --steps) STEPS=$2; shift 2 ;;
  --shapes) SHAPES=$2; shift 2 ;;
  --gpt) GPT=$2; shift 2 ;;
  --json) JSON=$2; shift 2 ;;
  *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
# Debian's torch lives in the system Python (a pyenv python3 lacks it).
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
$PY -c "import torch" 2>/dev/null ||
  { echo "needs PyTorch: apt-get install python3-torch libopenblas-dev" >&2; exit 1; }
[ -x "$GPT" ] || { echo "no $GPT: build first (scripts/build.sh)" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

config() { # name vocab ctx layers heads d_model
  printf '{"vocab_size": %d, "context_length": %d, "n_layer": %d, "n_head": %d, "d_model": %d}\n' \
    "$2" "$3" "$4" "$5" "$6" >"$WORK/$1.json"
}
# shape: config batch seq
config a 256 256 4 4 128
config b 50257 256 4 4 256
config c 50257 1024 12 12 768
declare -A BATCH=([a]=8 [b]=4 [c]=4) SEQ=([a]=256 [b]=256 [c]=64)

echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $THREADS threads"
echo "blas behind torch: $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3)"
printf '%-6s %-34s %12s %12s %8s\n' shape model "ours ms" "torch ms" ratio
results="[]"
for s in ${SHAPES//,/ }; do
  args=(--config "$WORK/$s.json" --batch "${BATCH[$s]}" --seq "${SEQ[$s]}"
    --threads "$THREADS" --steps "$STEPS")
  "$GPT" bench train "${args[@]}" --json >"$WORK/$s.ours.json" 2>"$WORK/$s.err" ||
    { cat "$WORK/$s.err" >&2; exit 1; }
  $PY "$HERE/torch_train_step.py" "${args[@]}" >"$WORK/$s.torch.json"
  results=$(python3 - "$WORK/$s.ours.json" "$WORK/$s.torch.json" "$s" "$results" <<'PY'
import json, sys
ours, ref = (json.load(open(p)) for p in sys.argv[1:3])
c = ours["config"]
model = "V%d L%d d%d B%d T%d" % (c["vocab_size"], c["n_layer"], c["d_model"],
                                  ours["batch"], ours["seq"])
ratio = ref["ms_per_step"] / ours["ms_per_step"]
print("%-6s %-34s %12.1f %12.1f %7.2fx" % (sys.argv[3], model,
      ours["ms_per_step"], ref["ms_per_step"], ratio), file=sys.stderr)
out = json.loads(sys.argv[4])
out.append({"shape": sys.argv[3], "model": model, "ours": ours,
            "pytorch": ref, "ratio_pytorch_over_ours": ratio})
print(json.dumps(out))
PY
  )
done 2>&1
if [ -n "$JSON" ]; then echo "$results" >"$JSON"; fi
