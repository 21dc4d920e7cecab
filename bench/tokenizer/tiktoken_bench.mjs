// Encode throughput of OpenAI's tiktoken (npm package: the Rust core built
// to WASM) on the same text, encoding "gpt2", encode_ordinary, to compare
// with gpt_tokenizer_bench. Usage: node tiktoken_bench.mjs FILE
// (run from a directory where `npm install tiktoken` was done; see
// compare_tiktoken.sh).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
const require = createRequire(process.cwd() + "/");
const { get_encoding } = require("tiktoken");

const text = readFileSync(process.argv[2], "utf8");
const bytes = Buffer.byteLength(text, "utf8");
const enc = get_encoding("gpt2");
let tokens = enc.encode_ordinary(text).length; // warm-up
const runs = 10;
const t0 = process.hrtime.bigint();
for (let i = 0; i < runs; i++) tokens = enc.encode_ordinary(text).length;
const secs = Number(process.hrtime.bigint() - t0) / 1e9 / runs;
console.log(JSON.stringify({
  tiktoken_mb_per_s: bytes / secs / 1e6, seconds_per_encode: secs, tokens, bytes,
}));
enc.free();
