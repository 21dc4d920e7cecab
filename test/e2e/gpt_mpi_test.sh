#!/usr/bin/env bash
# End-to-end checks of data-parallel training with Open MPI on one machine
# (2 ranks over loopback, oversubscribed): the real gpt and gptc binaries.
#   - 2 ranks x B == 1 process with --grad-accum 2 x B, every step's loss
#     within 1e-6 relative (and the weights bitwise), and two 2-rank runs
#     bitwise equal;
#   - a sharded 2-rank run killed mid-way resumes (sharded) from its
#     checkpoint to the same weights as a straight unsharded run, and a checkpoint continues with another
#     world size (1 process, --grad-accum 2) to the same weights;
#   - a killed rank and a stopped (hung) rank end the job non-zero within
#     the collective timeout, the latter naming the step;
#   - --shard-optimizer (ZeRO-1) gives the same weights and checkpoints;
#   - the same on Vulkan (lavapipe), reducing through host staging;
#   - gpt itself does not link libmpi (it runs without Open MPI).
# Usage: gpt_mpi_test.sh PATH/TO/gpt PATH/TO/gptc PATH/TO/shared/data
# Exits 77 (skipped) when gptc is not available.
set -u
GPT=$1
GPTC=${2:-}
DATA=$3
if [ -z "$GPTC" ] || [ ! -x "$GPTC" ]; then
  echo "SKIP: no gptc (built without the compiler)"
  exit 77
fi
command -v mpirun >/dev/null || { echo "FAIL: mpirun not installed"; exit 1; }
WORK=$(mktemp -d)
cleanup() {
  pkill -KILL -f "$WORK" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
export XDG_CACHE_HOME="$WORK/cache"
export GPT_GPTC="$GPTC"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
MPI=(mpirun --allow-run-as-root --oversubscribe -np 2
  --mca btl self,tcp --mca btl_tcp_if_include lo)
COMMON=(--preset tiny --data "$WORK/prep" --batch 4 --seq 32 --threads 1
  --eval-every 10 --eval-batches 2)

if ldd "$GPT" | grep -q libmpi; then fail "gpt links libmpi: $(ldd "$GPT" | grep libmpi)"; fi

head -c 200000 "$DATA/tinyshakespeare.txt" >"$WORK/shake.txt"
$GPT tokenizer train --input "$WORK/shake.txt" --vocab-size 320 -o "$WORK/tok" \
  >/dev/null 2>&1 || fail "tokenizer train"
$GPT data prepare --input "$WORK/shake.txt" --tokenizer "$WORK/tok" \
  --val-fraction 0.1 -o "$WORK/prep" >/dev/null 2>&1 || fail "data prepare"

losses() { grep -o '"loss":[^,}]*' "$1/metrics.jsonl" | cut -d: -f2; }

# --- 2 ranks == 1 process with --grad-accum 2, and runs repeat exactly. ---
$GPT train "${COMMON[@]}" --grad-accum 2 --steps 20 --out "$WORK/one" \
  >/dev/null 2>"$WORK/err" || fail "1 process: $(tail -3 "$WORK/err")"
for run in two two_again; do
  "${MPI[@]}" $GPT train "${COMMON[@]}" --steps 20 --out "$WORK/$run" \
    >"$WORK/$run.out" 2>"$WORK/$run.err" ||
    fail "2 ranks ($run): $(tail -5 "$WORK/$run.err")"
done
grep -q "data parallel: MPI (Open MPI" "$WORK/two.err" ||
  fail "no data-parallel line: $(head -5 "$WORK/two.err")"
[ "$(grep -c 'step 20/20' "$WORK/two.err")" -eq 1 ] ||
  fail "progress is not printed by rank 0 alone"
[ "$(wc -l <"$WORK/two/metrics.jsonl")" -eq 20 ] || fail "metrics lines"
paste <(losses "$WORK/one") <(losses "$WORK/two") >"$WORK/pairs"
[ "$(wc -l <"$WORK/pairs")" -eq 20 ] || fail "loss pairs: $(wc -l <"$WORK/pairs")"
awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > 1e-6 * ($1 < 0 ? -$1 : $1)) {
       print "step " NR ": " $1 " vs " $2; bad = 1 } } END { exit bad }' \
  "$WORK/pairs" || fail "2-rank losses differ from --grad-accum 2"
echo "loss at step 1 / 20: $(head -1 "$WORK/pairs") / $(tail -1 "$WORK/pairs")"
cmp -s "$WORK/one/model.safetensors" "$WORK/two/model.safetensors" ||
  fail "2-rank weights differ from --grad-accum 2 (not bitwise)"
cmp -s "$WORK/two/model.safetensors" "$WORK/two_again/model.safetensors" ||
  fail "two 2-rank runs differ"
cmp -s <(losses "$WORK/two") <(losses "$WORK/two_again") ||
  fail "two 2-rank runs' losses differ"

# --- ZeRO-1: the same weights and the same checkpoint, half the moments. ---
"${MPI[@]}" $GPT train "${COMMON[@]}" --steps 20 --shard-optimizer \
  --out "$WORK/zero" >/dev/null 2>"$WORK/zero.err" ||
  fail "2 ranks --shard-optimizer: $(tail -5 "$WORK/zero.err")"
grep -q "optimizer state sharded: rank 0 keeps the moments of" \
  "$WORK/zero.err" || fail "no sharding line: $(head -5 "$WORK/zero.err")"
cmp -s "$WORK/zero/model.safetensors" "$WORK/two/model.safetensors" ||
  fail "--shard-optimizer weights differ from the unsharded run"
cmp -s "$WORK/zero/checkpoints/optimizer-20.safetensors" \
  "$WORK/two/checkpoints/optimizer-20.safetensors" ||
  fail "--shard-optimizer checkpoint differs from the unsharded one"

# --- Vulkan (lavapipe here): each rank reduces through host staging. ---
export VK_LOADER_DRIVERS_SELECT='*lvp*'
if $GPT devices >/dev/null 2>&1; then
  VK=(--backend vulkan --preset tiny --data "$WORK/prep" --batch 4 --seq 32
    --threads 1 --eval-every 10 --eval-batches 2 --steps 10)
  $GPT train "${VK[@]}" --grad-accum 2 --out "$WORK/vone" >/dev/null \
    2>"$WORK/err" || fail "vulkan, 1 process: $(tail -3 "$WORK/err")"
  "${MPI[@]}" -x VK_LOADER_DRIVERS_SELECT $GPT train "${VK[@]}" \
    --out "$WORK/vtwo" >/dev/null 2>"$WORK/err" ||
    fail "vulkan, 2 ranks: $(tail -5 "$WORK/err")"
  cmp -s "$WORK/vone/model.safetensors" "$WORK/vtwo/model.safetensors" ||
    fail "vulkan: 2 ranks differ from --grad-accum 2"
  cmp -s <(losses "$WORK/vone") <(losses "$WORK/vtwo") ||
    fail "vulkan: 2-rank losses differ from --grad-accum 2"
  "${MPI[@]}" -x VK_LOADER_DRIVERS_SELECT $GPT train "${VK[@]}" \
    --shard-optimizer --out "$WORK/vzero" >/dev/null 2>"$WORK/err" ||
    fail "vulkan, 2 ranks sharded: $(tail -5 "$WORK/err")"
  cmp -s "$WORK/vzero/checkpoints/optimizer-10.safetensors" \
    "$WORK/vone/checkpoints/optimizer-10.safetensors" ||
    fail "vulkan: --shard-optimizer checkpoint differs"
  echo "vulkan: 2 ranks (sharded or not) == --grad-accum 2 (10 steps, bitwise)"
else
  echo "vulkan part not run: this gpt has no Vulkan device (gpt devices)"
fi

# --- Another world size from the same checkpoint. ---
"${MPI[@]}" $GPT train "${COMMON[@]}" --steps 10 --lr-decay-steps 20 \
  --out "$WORK/ws" >/dev/null 2>"$WORK/err" || fail "2 ranks, 10 steps"
$GPT train --resume --out "$WORK/ws" --steps 20 --grad-accum 2 --threads 1 \
  >/dev/null 2>"$WORK/err" || fail "resume alone: $(tail -3 "$WORK/err")"
cmp -s "$WORK/ws/model.safetensors" "$WORK/two/model.safetensors" ||
  fail "2 ranks then 1 process (--grad-accum 2) differs from 2 ranks"

# --- Kill a sharded job mid-way, resume it sharded: == straight unsharded. ---
KILL=(--preset tiny --data "$WORK/prep" --batch 8 --seq 64 --threads 1
  --eval-every 1000 --lr-decay-steps 4000 --checkpoint-every 5)
"${MPI[@]}" $GPT train "${KILL[@]}" --steps 4000 --shard-optimizer --out "$WORK/k" \
  >/dev/null 2>"$WORK/k.err" &
job=$!
for _ in $(seq 1 300); do
  [ -f "$WORK/k/state.json" ] &&
    [ "$(grep -o '"step": *[0-9]*' "$WORK/k/state.json" | grep -o '[0-9]*$')" -ge 10 ] && break
  sleep 0.1
done
kill -KILL $job 2>/dev/null
pkill -KILL -f "$WORK/k" 2>/dev/null
wait $job 2>/dev/null
done_steps=$(grep -o '"step": *[0-9]*' "$WORK/k/state.json" | grep -o '[0-9]*$')
if [ -z "$done_steps" ] || [ "$done_steps" -ge 4000 ]; then
  fail "the job was not killed mid-way (state: $done_steps)"
else
  target=$((done_steps + 5))
  "${MPI[@]}" $GPT train --resume --out "$WORK/k" --steps $target \
    --shard-optimizer --threads 1 >/dev/null 2>"$WORK/err" ||
    fail "resume after kill: $(tail -5 "$WORK/err")"
  "${MPI[@]}" $GPT train "${KILL[@]}" --steps $target --out "$WORK/straight" \
    >/dev/null 2>"$WORK/err" || fail "straight run: $(tail -5 "$WORK/err")"
  cmp -s "$WORK/k/model.safetensors" "$WORK/straight/model.safetensors" ||
    fail "killed at step $done_steps and resumed to $target: weights differ"
  echo "killed after checkpoint $done_steps, resumed to $target: same weights"
fi

# --- A rank that dies, a rank that hangs. ---
rank_pid() { # pid of rank $1 of the gpt job writing into $2
  for p in $(pgrep -x gpt); do
    tr '\0' '\n' </proc/$p/environ 2>/dev/null |
      grep -qx "OMPI_COMM_WORLD_RANK=$1" &&
      tr '\0' ' ' </proc/$p/cmdline | grep -q -- "$2" && echo $p
  done
}
for how in KILL STOP; do
  out="$WORK/dead_$how"
  "${MPI[@]}" $GPT train --preset tiny --data "$WORK/prep" --batch 4 \
    --seq 32 --threads 1 --steps 100000 --eval-every 100000 \
    --collective-timeout 5 --out "$out" >/dev/null 2>"$out.err" &
  job=$!
  for _ in $(seq 1 100); do
    grep -q "^step" "$out.err" 2>/dev/null && break
    sleep 0.1
  done
  pid=$(rank_pid 1 "$out")
  [ -n "$pid" ] || fail "$how: rank 1 not found"
  start=$(date +%s)
  kill -$how $pid 2>/dev/null
  rc=0
  for _ in $(seq 1 300); do kill -0 $job 2>/dev/null || break; sleep 0.1; done
  if kill -0 $job 2>/dev/null; then
    fail "$how: the job still runs 30 s after rank 1 was signalled"
    kill -KILL $job; pkill -KILL -f "$out"
  fi
  wait $job
  rc=$?
  secs=$(($(date +%s) - start))
  [ $rc -ne 0 ] || fail "$how: the job exited 0"
  if [ $how = STOP ]; then
    kill -KILL $pid 2>/dev/null
    grep -q "gpt: rank 0: waited 5 s for .* aborting the job" "$out.err" ||
      fail "hung rank: no timeout message: $(grep -v '^step' "$out.err" | head -5)"
  else
    grep -q "rank 1" "$out.err" ||
      fail "dead rank not named: $(grep -v '^step' "$out.err" | head -5)"
  fi
  echo "rank 1 $how: job exited $rc after ${secs} s"
done

if [ $failures -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "all gpt mpi checks passed"
