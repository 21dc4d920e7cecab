// Reads a GGUF we exported with Hugging Face's own parser (npm
// @huggingface/gguf, used by the Hub to show GGUF metadata) and checks what
// llama.cpp needs of a gpt2 model. Usage: node gpt_interop_gguf_check.mjs
// FILE f32|f16 (run from a directory where the package is installed).
import { gguf } from "@huggingface/gguf";
import assert from "node:assert/strict";

const [file, dtype] = process.argv.slice(2);
const { metadata: m, tensorInfos } = await gguf(file, { allowLocalFile: true });
assert.equal(m.version, 3);
assert.equal(m["general.architecture"], "gpt2");
assert.equal(m["tokenizer.ggml.model"], "gpt2");
assert.equal(m["tokenizer.ggml.pre"], "gpt-2");
const d = m["gpt2.embedding_length"], ff = m["gpt2.feed_forward_length"];
const nv = m["tokenizer.ggml.tokens"].length;
assert.equal(m["tokenizer.ggml.token_type"].length, nv);
assert.equal(m["tokenizer.ggml.tokens"][m["tokenizer.ggml.eos_token_id"]],
             "<|endoftext|>");
assert.equal(Number(m.tensor_count), tensorInfos.length);
const byName = Object.fromEntries(tensorInfos.map((t) => [t.name, t]));
const shape = (n) => byName[n].shape.map(Number);
assert.deepEqual(shape("token_embd.weight"), [d, nv]);
assert.deepEqual(shape("output.weight"), [d, nv]);
assert.deepEqual(shape("blk.0.attn_qkv.weight"), [d, 3 * d]);
assert.deepEqual(shape("blk.0.ffn_up.weight"), [d, ff]);
assert.deepEqual(shape("blk.0.ffn_down.weight"), [ff, d]);
for (const t of tensorInfos)
  assert.equal(t.dtype, dtype === "f16" && t.shape.length === 2 ? 1 : 0, t.name);
console.log(`@huggingface/gguf: ${file} ok (${tensorInfos.length} tensors, ${nv} tokens)`);
