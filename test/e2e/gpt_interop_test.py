#!/usr/bin/env python3
"""Helpers of gpt_interop_test.sh, standard library only.

  make-hf DIR TOKENIZER_DIR   a tiny GPT-2 checkpoint in Hugging Face's layout
                              (GPT-2's 50257-token vocabulary, "transformer."
                              names, Conv1D weights, attn.bias buffers)
  check-gguf FILE DTYPE       an independent GGUF v3 parser, written from the
                              spec: layout, llama.cpp's gpt2 keys and their
                              types, tensor names, shapes, types, alignment
  same-tensors A B            two safetensors files hold identical tensors
  check-safetensors FILE      an independent safetensors parser with the
                              reference implementation's rules
"""
import json
import random
import struct
import sys

D, L, H, CTX, V = 16, 2, 2, 32, 50257


def write_safetensors(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, (shape, values) in tensors.items():
        data = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape,
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def make_hf(out, tok):
    rnd = random.Random(5)

    def rand(*shape, mean=0.0, std=0.2):
        n = 1
        for s in shape:
            n *= s
        return (list(shape), [rnd.gauss(mean, std) for _ in range(n)])

    t = {"transformer.wte.weight": rand(V, D),
         "transformer.wpe.weight": rand(CTX, D)}
    for i in range(L):
        p = "transformer.h.%d." % i
        t[p + "ln_1.weight"] = rand(D, mean=1.0)
        t[p + "ln_1.bias"] = rand(D)
        t[p + "attn.c_attn.weight"] = rand(D, 3 * D)
        t[p + "attn.c_attn.bias"] = rand(3 * D)
        t[p + "attn.c_proj.weight"] = rand(D, D)
        t[p + "attn.c_proj.bias"] = rand(D)
        t[p + "ln_2.weight"] = rand(D, mean=1.0)
        t[p + "ln_2.bias"] = rand(D)
        t[p + "mlp.c_fc.weight"] = rand(D, 4 * D)
        t[p + "mlp.c_fc.bias"] = rand(4 * D)
        t[p + "mlp.c_proj.weight"] = rand(4 * D, D)
        t[p + "mlp.c_proj.bias"] = rand(D)
        t[p + "attn.bias"] = ([1, 1, CTX, CTX],
                              [1.0 if c <= r else 0.0
                               for r in range(CTX) for c in range(CTX)])
    t["transformer.ln_f.weight"] = rand(D, mean=1.0)
    t["transformer.ln_f.bias"] = rand(D)
    write_safetensors(out + "/model.safetensors", t, {"format": "pt"})
    cfg = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
           "activation_function": "gelu_new", "vocab_size": V,
           "n_positions": CTX, "n_ctx": CTX, "n_embd": D, "n_layer": L,
           "n_head": H, "n_inner": None, "layer_norm_epsilon": 1e-5,
           "bos_token_id": 50256, "eos_token_id": 50256}
    with open(out + "/config.json", "w") as f:
        json.dump(cfg, f)
    for src, dst in (("encoder.json", "vocab.json"), ("vocab.bpe", "merges.txt")):
        with open(tok + "/" + src, "rb") as a, open(out + "/" + dst, "wb") as b:
            b.write(a.read())


class Reader:
    def __init__(self, b):
        self.b, self.p = b, 0

    def take(self, fmt):
        v = struct.unpack_from("<" + fmt, self.b, self.p)
        self.p += struct.calcsize("<" + fmt)
        return v[0]

    def string(self):
        n = self.take("Q")
        s = self.b[self.p:self.p + n]
        self.p += n
        return s.decode("utf-8")


SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?",
           10: "Q", 11: "q", 12: "d"}


def value(r, t):
    if t == 8:
        return r.string()
    if t == 9:
        et, n = r.take("I"), r.take("Q")
        return (et, [value(r, et) for _ in range(n)])
    return r.take(SCALARS[t])


def check_gguf(path, dtype):
    b = open(path, "rb").read()
    r = Reader(b)
    assert b[:4] == b"GGUF", "magic"
    r.p = 4
    assert r.take("I") == 3, "version"
    nt, nkv = r.take("Q"), r.take("Q")
    kv, types = {}, {}
    for _ in range(nkv):
        k = r.string()
        t = r.take("I")
        kv[k], types[k] = value(r, t), t
    want = {"general.architecture": 8, "general.name": 8,
            "general.file_type": 4, "gpt2.context_length": 4,
            "gpt2.embedding_length": 4, "gpt2.feed_forward_length": 4,
            "gpt2.block_count": 4, "gpt2.attention.head_count": 4,
            "gpt2.attention.layer_norm_epsilon": 6, "tokenizer.ggml.model": 8,
            "tokenizer.ggml.pre": 8, "tokenizer.ggml.tokens": 9,
            "tokenizer.ggml.token_type": 9, "tokenizer.ggml.merges": 9,
            "tokenizer.ggml.bos_token_id": 4, "tokenizer.ggml.eos_token_id": 4}
    for k, t in want.items():
        assert types.get(k) == t, "key %s: type %s, want %s" % (k, types.get(k), t)
    assert kv["general.architecture"] == "gpt2"
    assert kv["tokenizer.ggml.model"] == "gpt2"
    assert kv["tokenizer.ggml.pre"] == "gpt-2"
    assert kv["general.file_type"] == (1 if dtype == "f16" else 0)
    et, toks = kv["tokenizer.ggml.tokens"]
    assert et == 8
    n_vocab = len(toks)
    assert toks[kv["tokenizer.ggml.eos_token_id"]] == "<|endoftext|>"
    assert kv["tokenizer.ggml.token_type"][0] == 5  # int32 elements
    assert len(kv["tokenizer.ggml.token_type"][1]) == n_vocab
    assert kv["tokenizer.ggml.merges"][1][0] == "\u0120 t", "first GPT-2 merge"
    d, ff = kv["gpt2.embedding_length"], kv["gpt2.feed_forward_length"]
    ctx, nl = kv["gpt2.context_length"], kv["gpt2.block_count"]
    shapes = {"token_embd.weight": [d, n_vocab],
              "position_embd.weight": [d, ctx],
              "output_norm.weight": [d], "output_norm.bias": [d],
              "output.weight": [d, n_vocab]}
    for i in range(nl):
        for n, s in (("attn_norm", [d]), ("ffn_norm", [d])):
            shapes["blk.%d.%s.weight" % (i, n)] = s
            shapes["blk.%d.%s.bias" % (i, n)] = s
        shapes["blk.%d.attn_qkv.weight" % i] = [d, 3 * d]
        shapes["blk.%d.attn_qkv.bias" % i] = [3 * d]
        shapes["blk.%d.attn_output.weight" % i] = [d, d]
        shapes["blk.%d.attn_output.bias" % i] = [d]
        shapes["blk.%d.ffn_up.weight" % i] = [d, ff]
        shapes["blk.%d.ffn_up.bias" % i] = [ff]
        shapes["blk.%d.ffn_down.weight" % i] = [ff, d]
        shapes["blk.%d.ffn_down.bias" % i] = [d]
    assert nt == len(shapes), "tensor count %d, want %d" % (nt, len(shapes))
    infos = []
    for _ in range(nt):
        name = r.string()
        nd = r.take("I")
        ne = [r.take("Q") for _ in range(nd)]
        t, off = r.take("I"), r.take("Q")
        assert shapes.get(name) == ne, "%s: ne %s, want %s" % (name, ne, shapes.get(name))
        want_t = 1 if (dtype == "f16" and nd == 2) else 0
        assert t == want_t, "%s: type %d" % (name, t)
        assert off % 32 == 0, name
        n = 1
        for x in ne:
            n *= x
        infos.append((off, n * (2 if t == 1 else 4), name))
    start = (r.p + 31) // 32 * 32
    pos = 0
    for off, size, name in sorted(infos):
        assert off == (pos + 31) // 32 * 32, "%s: offset %d" % (name, off)
        pos = off + size
    assert start + pos <= len(b), "data past the end"
    print("check-gguf: %s ok (%d keys, %d tensors, %d tokens)" % (path, nkv, nt, n_vocab))


def check_safetensors(path):
    b = open(path, "rb").read()
    (n,) = struct.unpack_from("<Q", b, 0)
    assert n <= 100_000_000 and 8 + n <= len(b)
    h = b[8:8 + n]
    assert h[:1] == b"{" and n % 8 == 0
    header = json.loads(h)
    meta = header.pop("__metadata__", {})
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items())
    sizes = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4}
    ranges = []
    for name, t in header.items():
        n_el = 1
        for s in t["shape"]:
            n_el *= s
        a, e = t["data_offsets"]
        assert e - a == n_el * sizes[t["dtype"]], name
        ranges.append((a, e))
    pos = 0
    for a, e in sorted(ranges):
        assert a == pos, "hole or overlap"
        pos = e
    assert 8 + n + pos == len(b), "trailing bytes"
    print("check-safetensors: %s ok (%d tensors)" % (path, len(header)))


def tensors(path):
    b = open(path, "rb").read()
    (n,) = struct.unpack_from("<Q", b, 0)
    header = json.loads(b[8:8 + n])
    header.pop("__metadata__", None)
    data = b[8 + n:]
    return {k: (v["dtype"], v["shape"],
                data[v["data_offsets"][0]:v["data_offsets"][1]])
            for k, v in header.items()}


def same_tensors(a, b):
    ta, tb = tensors(a), tensors(b)
    assert ta.keys() == tb.keys(), "different tensor names"
    for k in ta:
        assert ta[k] == tb[k], "tensor %s differs" % k
    print("same-tensors: %d tensors identical" % len(ta))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "make-hf":
        make_hf(sys.argv[2], sys.argv[3])
    elif cmd == "check-gguf":
        check_gguf(sys.argv[2], sys.argv[3])
    elif cmd == "same-tensors":
        same_tensors(sys.argv[2], sys.argv[3])
    elif cmd == "check-safetensors":
        check_safetensors(sys.argv[2])
    else:
        sys.exit("unknown command " + cmd)
