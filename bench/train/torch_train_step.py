#!/usr/bin/env python3
"""The reference side of `bench/train/compare.sh`: one GPT training step in
PyTorch on the same model and shapes as `gpt bench train`.

Same model as ours: GPT-2 style pre-LayerNorm blocks, learned position
embeddings, tanh GELU, fused QKV projection, tied (or untied) LM head, no
dropout; same step: cross-entropy, backward, global-norm clip 1.0, AdamW
(betas 0.9/0.95, eps 1e-8, weight decay 0.1 on matrices only). Random tokens,
GPT-2 initialization. Prints one JSON object like `gpt bench train --json`.

Debian's python3-torch uses whatever libblas.so.3 points at: install
libopenblas-dev so that it is OpenBLAS (the script reports which it is).
"""
import argparse
import json
import math
import os
import time


def _threads_from_argv():
    """--threads, read before torch loads OpenBLAS (which sizes its own
    pool from OPENBLAS_NUM_THREADS at load time)."""
    import sys
    for i, arg in enumerate(sys.argv):
        if arg == "--threads" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return str(os.cpu_count())


os.environ.setdefault("OMP_WAIT_POLICY", "passive")
os.environ.setdefault("OPENBLAS_NUM_THREADS", _threads_from_argv())
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, self.h = c["d_model"], c["n_head"]
        eps = c.get("layernorm_eps", 1e-5)
        self.ln_1 = nn.LayerNorm(d, eps=eps)
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d, eps=eps)
        self.c_fc = nn.Linear(d, c.get("d_ff", 4 * d))
        self.mlp_proj = nn.Linear(c.get("d_ff", 4 * d), d)

    def forward(self, x):
        B, T, D = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(D, dim=2)
        q, k, v = (t.view(B, T, self.h, D // self.h).transpose(1, 2)
                   for t in (q, k, v))
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True) \
            if hasattr(F, "scaled_dot_product_attention") else \
            self.attention(q, k, v)
        x = x + self.c_proj(a.transpose(1, 2).reshape(B, T, D))
        return x + self.mlp_proj(
            F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))

    @staticmethod
    def attention(q, k, v):  # torch < 2.0: the explicit form
        T = q.shape[-2]
        s = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
        mask = torch.ones(T, T, dtype=torch.bool).tril()
        return torch.softmax(s.masked_fill(~mask, float("-inf")), -1) @ v


class GPT(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["d_model"]
        self.wte = nn.Embedding(c["vocab_size"], d)
        self.wpe = nn.Embedding(c["context_length"], d)
        self.h = nn.ModuleList(Block(c) for _ in range(c["n_layer"]))
        self.ln_f = nn.LayerNorm(d, eps=c.get("layernorm_eps", 1e-5))
        self.lm_head = nn.Linear(d, c["vocab_size"], bias=False)
        if c.get("tie_embeddings", True):
            self.lm_head.weight = self.wte.weight
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02
                if name.endswith("c_proj.weight") or \
                        name.endswith("mlp_proj.weight"):
                    std = 0.02 / math.sqrt(2 * c["n_layer"])
                nn.init.normal_(p, 0.0, std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, idx, targets):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.shape[-1]),
                               targets.view(-1))


def blas_library():
    try:
        return os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
    except OSError:
        return "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True,
                    help="model config JSON (the `config` of gpt's JSON)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    with open(a.config) as f:
        c = json.load(f)
    torch.manual_seed(1337)
    torch.set_num_threads(a.threads)
    model = GPT(c)
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    idx = torch.randint(0, c["vocab_size"], (a.batch, a.seq + 1))
    x, y = idx[:, :-1].contiguous(), idx[:, 1:].contiguous()
    times = []
    loss = None
    for step in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step >= a.warmup:
            times.append(time.perf_counter() - t0)
    times.sort()
    median = times[len(times) // 2]
    print(json.dumps({
        "benchmark": "train",
        "reference": "pytorch " + torch.__version__,
        "blas": blas_library(),
        "threads": a.threads,
        "batch": a.batch,
        "seq": a.seq,
        "steps": a.steps,
        "config": c,
        "ms_per_step": median * 1000,
        "tokens_per_second": a.batch * a.seq / median,
        "final_loss": float(loss),
    }, indent=2))


if __name__ == "__main__":
    main()
