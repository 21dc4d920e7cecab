#!/usr/bin/env python3
"""Checks the JSON of `gpt bench train|generate --json` (docs/benchmarks.md):
every documented field is there with the right type, rates are positive and
consistent with the times they come from, and the train FLOP count matches
the documented convention recomputed here from the config.

Usage: gpt_bench_check.py train|generate FILE.json [--profile]
Exits 1 with one line per problem."""
import json
import math
import sys

problems = []


def need(cond, what):
    if not cond:
        problems.append(what)


def num(obj, path, positive=True):
    v = obj
    for k in path.split("."):
        if not isinstance(v, dict) or k not in v:
            problems.append(f"missing {path}")
            return None
        v = v[k]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        problems.append(f"{path} is not a finite number: {v!r}")
        return None
    if positive and not v > 0:
        problems.append(f"{path} is not positive: {v}")
    if not positive and v < 0:
        problems.append(f"{path} is negative: {v}")
    return v


def close(a, b, what, rel=1e-6):
    if a is None or b is None:
        return
    need(abs(a - b) <= rel * max(abs(a), abs(b)), f"{what}: {a} != {b}")


def forward_flops_per_token(c, T):
    """docs/benchmarks.md, "FLOP convention": 2 FLOPs per multiply-add,
    every matmul; attention over the causal (unmasked) half."""
    d, f = c["d_model"], c.get("d_ff") or 4 * c["d_model"]
    attention = 2 * 2 * d * (T + 1) / 2
    per_layer = 2 * (d * 3 * d + d * d + 2 * d * f) + attention
    return c["n_layer"] * per_layer + 2 * d * c["vocab_size"]


def check_config(j):
    c = j.get("config")
    need(isinstance(c, dict), "config is not an object")
    if isinstance(c, dict):
        for k in ("vocab_size", "context_length", "n_layer", "n_head", "d_model"):
            num(j, "config." + k)
    return c if isinstance(c, dict) else None


def check_train(j, profile):
    need(j.get("benchmark") == "train", "benchmark is not 'train'")
    c = check_config(j)
    need(j.get("backend") in ("cpu", "vulkan"), f"backend {j.get('backend')!r}")
    need(isinstance(j.get("device"), str) and j["device"], "device is not a string")
    B, T, steps = num(j, "batch"), num(j, "seq"), num(j, "steps")
    ms = num(j, "ms_per_step")
    num(j, "ms_per_step_mean")
    tps = num(j, "tokens_per_second")
    flops = num(j, "flops_per_step")
    gflops = num(j, "gflops_per_second")
    num(j, "peak_memory_bytes")
    dev = num(j, "peak_device_memory_bytes", positive=False)
    scratch = num(j, "kernel_scratch_bytes", positive=False)
    num(j, "final_loss")
    # Training runs layernorm and cross-entropy, whose per-row statistics
    # are kernel scratch; the planned arenas hold everything else.
    need(scratch is not None and scratch > 0, "no kernel scratch reported")
    if j.get("backend") == "vulkan":
        need(dev is not None and dev > 0, "vulkan: no device memory reported")
    elif dev is not None:
        need(dev == 0, f"cpu: device memory {dev}")
    if None not in (B, T, ms, tps):
        close(tps, B * T / (ms / 1e3), "tokens_per_second vs batch*seq/ms_per_step")
    if c and None not in (B, T, flops):
        close(flops, 3 * forward_flops_per_token(c, T) * B * T,
              "flops_per_step vs the documented FLOP count")
    if None not in (flops, ms, gflops):
        close(gflops, flops / (ms / 1e3) / 1e9, "gflops_per_second vs flops/ms")
    if profile:
        k = j.get("kernels")
        need(isinstance(k, dict) and k, "no kernels table")
        for name, row in (k or {}).items():
            num(j, f"kernels.{name}.ms_per_step", positive=False)
            num(j, f"kernels.{name}.calls_per_step")
        if isinstance(k, dict) and ms is not None:
            total = sum(r.get("ms_per_step", 0) for r in k.values())
            # Kernel time is part of the step (each is timed inside it).
            need(total <= ms * 1.5 + 1, f"kernel time {total} ms > step {ms} ms")


def check_generate(j):
    need(j.get("benchmark") == "generate", "benchmark is not 'generate'")
    check_config(j)
    num(j, "peak_memory_bytes")
    num(j, "peak_device_memory_bytes", positive=False)
    for section in ("prefill", "decode"):
        need(isinstance(j.get(section), dict) and j[section], f"no {section}")
    for n, r in (j.get("prefill") or {}).items():
        rate, ms = num(j, f"prefill.{n}.tokens_per_second"), num(j, f"prefill.{n}.ms")
        if rate and ms:
            close(rate, int(n) / (ms / 1e3), f"prefill.{n} rate vs ms", 1e-4)
    for b, r in (j.get("decode") or {}).items():
        rate, ms = num(j, f"decode.{b}.tokens_per_second"), num(j, f"decode.{b}.ms_per_step")
        if rate and ms:
            close(rate, int(b) / (ms / 1e3), f"decode.{b} rate vs ms_per_step", 1e-4)
    num(j, "serving.clients")
    num(j, "serving.aggregate_tokens_per_second")
    p50, p99 = num(j, "serving.ttft_p50_ms"), num(j, "serving.ttft_p99_ms")
    if p50 and p99:
        need(p50 <= p99, f"ttft p50 {p50} > p99 {p99}")


def main():
    kind, path = sys.argv[1], sys.argv[2]
    try:
        j = json.load(open(path, encoding="utf-8"))
    except (OSError, ValueError) as e:
        print(f"{path}: not JSON: {e}")
        return 1
    if kind == "train":
        check_train(j, "--profile" in sys.argv[3:])
    else:
        check_generate(j)
    for p in problems:
        print(f"{path}: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
