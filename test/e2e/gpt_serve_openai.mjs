// Drives a running `gpt serve` with the official `openai` npm package.
// Run by gpt_serve_test.sh (which installs the package and starts servers):
//   node gpt_serve_openai.mjs
// Environment: BASE (http://127.0.0.1:PORT/v1 of the open server), MODEL,
// KEY_BASE (a server started with --api-key KEY_VALUE --parallel 1
// --max-queue 1), KEY_VALUE, MAX_BODY (its --max-body-bytes).
import OpenAI from 'openai';

const BASE = process.env.BASE;
const MODEL = process.env.MODEL;
const KEY_BASE = process.env.KEY_BASE;
const KEY_VALUE = process.env.KEY_VALUE;
const MAX_BODY = Number(process.env.MAX_BODY);
const ROOT = BASE.replace(/\/v1$/, '');

const client = new OpenAI({ baseURL: BASE, apiKey: 'unused', maxRetries: 0, timeout: 120000 });

let failures = 0;
let passed = 0;
function check(cond, what) {
  if (cond) {
    passed++;
  } else {
    failures++;
    console.log(`FAIL: ${what}`);
  }
}
async function test(name, fn) {
  try {
    await fn();
  } catch (e) {
    failures++;
    console.log(`FAIL: ${name}: ${e?.stack ?? e}`);
  }
}
async function expectError(name, fn, status, fields = {}) {
  try {
    await fn();
    check(false, `${name}: expected HTTP ${status}, got success`);
  } catch (e) {
    check(e instanceof OpenAI.APIError, `${name}: not an APIError: ${e}`);
    check(e.status === status, `${name}: status ${e.status} != ${status} (${e.message})`);
    for (const [k, v] of Object.entries(fields))
      check(e[k] === v, `${name}: ${k} = ${JSON.stringify(e[k])}, expected ${JSON.stringify(v)}`);
    check(e.error && typeof e.error.message === 'string' && 'type' in e.error &&
          'param' in e.error && 'code' in e.error, `${name}: error body shape ${JSON.stringify(e.error)}`);
  }
}
const greedy = { model: MODEL, temperature: 0 };

await test('models', async () => {
  const models = await client.models.list();
  check(models.data.some((m) => m.id === MODEL), `models lists ${MODEL}`);
});

await test('health and metrics', async () => {
  const h = await fetch(`${ROOT}/health`);
  check(h.status === 200 && (await h.json()).status === 'ok', 'health');
  const m = await (await fetch(`${ROOT}/metrics`)).text();
  for (const name of ['gpt_requests_total', 'gpt_prompt_tokens_total', 'gpt_generated_tokens_total',
    'gpt_tokens_per_second', 'gpt_queue_depth', 'gpt_kv_cache_usage_ratio'])
    check(m.includes(name), `metrics has ${name}`);
});

let reference = '';
await test('completion', async () => {
  const r = await client.completions.create({ ...greedy, prompt: 'The', max_tokens: 12 });
  check(r.object === 'text_completion', 'object');
  check(r.id.startsWith('cmpl-'), 'id');
  check(r.model === MODEL, 'model');
  check(r.choices.length === 1 && typeof r.choices[0].text === 'string', 'one text choice');
  check(['stop', 'length'].includes(r.choices[0].finish_reason), 'finish_reason');
  check(r.usage.total_tokens === r.usage.prompt_tokens + r.usage.completion_tokens, 'usage adds up');
  check(r.usage.completion_tokens <= 12, 'max_tokens respected');
  reference = r.choices[0].text;
  const again = await client.completions.create({ ...greedy, prompt: 'The', max_tokens: 12 });
  check(again.choices[0].text === reference, 'greedy is deterministic');
  console.log(`completion: ${JSON.stringify(reference)}`);
});

await test('n > 1', async () => {
  const r = await client.completions.create({ model: MODEL, prompt: 'The', max_tokens: 6, n: 3, seed: 1 });
  check(r.choices.length === 3, 'three choices');
  check(r.choices.map((c) => c.index).join() === '0,1,2', 'indexes');
  const p = await client.completions.create({ ...greedy, prompt: ['A', 'B'], max_tokens: 3, n: 2 });
  check(p.choices.length === 4, 'prompt array x n');
});

await test('seed reproducibility', async () => {
  const req = { model: MODEL, prompt: 'The', max_tokens: 16, temperature: 1.0, top_p: 0.9, seed: 1234 };
  const a = await client.completions.create(req);
  // Other traffic in between must not change a seeded answer.
  await Promise.all([1, 2, 3].map(() => client.completions.create({ model: MODEL, prompt: 'x', max_tokens: 8 })));
  const b = await client.completions.create(req);
  check(a.choices[0].text === b.choices[0].text, `seeded outputs equal: ${JSON.stringify(a.choices[0].text)} vs ${JSON.stringify(b.choices[0].text)}`);
  // ... nor traffic in the same batch.
  const [c1, , c2] = await Promise.all([client.completions.create(req),
    client.completions.create({ model: MODEL, prompt: 'A', max_tokens: 20, temperature: 1 }),
    client.completions.create(req)]);
  check(c1.choices[0].text === a.choices[0].text && c2.choices[0].text === a.choices[0].text,
        'seeded outputs equal while batched with other requests');
  const chatReq = { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 8, seed: 7, temperature: 1 };
  const c = await client.chat.completions.create(chatReq);
  const d = await client.chat.completions.create(chatReq);
  check(c.choices[0].message.content === d.choices[0].message.content, 'seeded chat equal');
});

await test('stop', async () => {
  const full = (await client.completions.create({ ...greedy, prompt: 'The', max_tokens: 16 })).choices[0].text;
  if (full.length < 4) {
    console.log(`stop: completion too short to test (${JSON.stringify(full)})`);
    return;
  }
  const stop = full.slice(Math.floor(full.length / 2), Math.floor(full.length / 2) + 2);
  const expected = full.slice(0, full.indexOf(stop));
  const r = await client.completions.create({ ...greedy, prompt: 'The', max_tokens: 16, stop: [stop, '@@never@@'] });
  check(r.choices[0].text === expected, `stop ${JSON.stringify(stop)}: ${JSON.stringify(r.choices[0].text)} != ${JSON.stringify(expected)}`);
  check(r.choices[0].finish_reason === 'stop', 'finish_reason stop');
  const s = await client.completions.create({ ...greedy, prompt: 'The', max_tokens: 16, stop, stream: true });
  let text = '';
  for await (const chunk of s) text += chunk.choices[0]?.text ?? '';
  check(text === expected, `streamed stop: ${JSON.stringify(text)} != ${JSON.stringify(expected)}`);
});

await test('logprobs', async () => {
  const r = await client.completions.create({ ...greedy, prompt: 'The', max_tokens: 5, logprobs: 2 });
  const lp = r.choices[0].logprobs;
  check(lp && Array.isArray(lp.tokens) && lp.tokens.length >= 1, 'logprobs.tokens');
  check(lp.tokens.length === lp.token_logprobs.length && lp.tokens.length === lp.top_logprobs.length &&
        lp.tokens.length === lp.text_offset.length, 'logprobs arrays align');
  check(lp.token_logprobs.every((x) => typeof x === 'number' && x <= 0), 'logprobs <= 0');
  check(lp.top_logprobs.every((t) => Object.keys(t).length >= 1 && Object.keys(t).length <= 2), 'top 2');
  check(lp.tokens.join('') === r.choices[0].text, 'tokens spell the text');
  const c = await client.chat.completions.create({ ...greedy, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, logprobs: true, top_logprobs: 3 });
  const content = c.choices[0].logprobs?.content;
  check(Array.isArray(content) && content.length >= 1 && content.every((t) => typeof t.logprob === 'number' &&
        Array.isArray(t.bytes) && t.top_logprobs.length <= 3), 'chat logprobs');
});

await test('echo', async () => {
  const r = await client.completions.create({ ...greedy, prompt: 'The', max_tokens: 12, echo: true });
  check(r.choices[0].text === 'The' + reference, `echo: ${JSON.stringify(r.choices[0].text)}`);
});

await test('prompt logprobs (echo, max_tokens 0)', async () => {
  // What lm-evaluation-harness's local-completions asks for.
  const r = await client.completions.create({ model: MODEL, prompt: 'The king is dead', max_tokens: 0,
    echo: true, logprobs: 2 });
  const lp = r.choices[0].logprobs;
  check(r.choices[0].text === 'The king is dead', `echo text: ${JSON.stringify(r.choices[0].text)}`);
  check(lp.token_logprobs[0] === null && lp.token_logprobs.length >= 3 &&
        lp.token_logprobs.slice(1).every((x) => typeof x === 'number' && x <= 0) &&
        lp.top_logprobs.slice(1).every((t) => Object.keys(t).length >= 1),
        `prompt logprobs: ${JSON.stringify(lp)}`);
});

await test('logit_bias, models.retrieve, legacy engines route', async () => {
  // +100 on token 0 makes greedy decoding emit it every time.
  const r = await client.completions.create({ ...greedy, prompt: 'The', max_tokens: 4, logprobs: 0,
    logit_bias: { '0': 100 } });
  const toks = r.choices[0].logprobs.tokens;
  check(toks.length === 4 && toks.every((t) => t === toks[0]),
        `logit_bias +100 on one token: ${JSON.stringify(toks)}`);
  const m = await client.models.retrieve(MODEL);
  check(m.id === MODEL && m.object === 'model', `models.retrieve: ${JSON.stringify(m)}`);
  await expectError('unknown model id', () => client.models.retrieve('nope'), 404);
  const legacy = await fetch(`${BASE}/engines/${MODEL}/completions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ prompt: 'The', max_tokens: 12, temperature: 0 }) });
  const lj = await legacy.json();
  check(legacy.status === 200 && lj.choices[0].text === reference,
        `legacy engines route: ${legacy.status} ${JSON.stringify(lj)}`);
  await expectError('unsupported response_format', () => client.chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content: 'hi' }], response_format: { type: 'json_object' } }),
  400, { param: 'response_format' });
});

let chatReference = '';
await test('chat', async () => {
  const r = await client.chat.completions.create({
    ...greedy,
    messages: [
      { role: 'system', content: 'Be kind.' },
      { role: 'user', content: 'Who?' },
      { role: 'assistant', content: 'I.' },
      { role: 'user', content: 'Why?' },
    ],
    max_tokens: 8,
  });
  check(r.object === 'chat.completion', 'object');
  check(r.id.startsWith('chatcmpl-'), 'id');
  check(r.choices[0].message.role === 'assistant', 'role');
  check(typeof r.choices[0].message.content === 'string', 'content');
  check(['stop', 'length'].includes(r.choices[0].finish_reason), 'finish_reason');
  check(r.usage.prompt_tokens > 10, 'prompt rendered with the template');
  chatReference = r.choices[0].message.content;
  console.log(`chat: ${JSON.stringify(chatReference)}`);
  const n = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, n: 2 });
  check(n.choices.length === 2 && n.choices[1].index === 1, 'chat n=2');
});

await test('chat streaming', async () => {
  const stream = await client.chat.completions.create({
    ...greedy,
    messages: [
      { role: 'system', content: 'Be kind.' },
      { role: 'user', content: 'Who?' },
      { role: 'assistant', content: 'I.' },
      { role: 'user', content: 'Why?' },
    ],
    max_tokens: 8,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let role = '';
  let finish = null;
  let usage = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    check(chunk.object === 'chat.completion.chunk', 'chunk object');
    if (chunk.usage) usage = chunk.usage;
    const c = chunk.choices[0];
    if (!c) continue;
    if (c.delta.role) role = c.delta.role;
    if (c.delta.content) text += c.delta.content;
    if (c.finish_reason) finish = c.finish_reason;
  }
  check(role === 'assistant', 'first delta has the role');
  check(text === chatReference, `streamed chat equals non-streamed: ${JSON.stringify(text)}`);
  check(finish === 'stop' || finish === 'length', 'finish_reason in the stream');
  check(usage && usage.completion_tokens >= 1 && usage.total_tokens === usage.prompt_tokens + usage.completion_tokens,
        'include_usage chunk');
  check(chunks >= 3, 'several chunks');
});

await test('completion streaming', async () => {
  const stream = await client.completions.create({ ...greedy, prompt: 'The', max_tokens: 12, stream: true });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
  check(text === reference, `streamed completion equals non-streamed: ${JSON.stringify(text)}`);
});

await test('client disconnect cancels', async () => {
  // 8 x 50 tokens: long enough that the abort lands mid-generation.
  const stream = await client.completions.create({ model: MODEL, prompt: 'The', max_tokens: 50, n: 8, stream: true });
  for await (const chunk of stream) {
    stream.controller.abort();
    break;
  }
  let ok = false;
  for (let i = 0; i < 100 && !ok; i++) {
    const m = await (await fetch(`${ROOT}/metrics`)).text();
    ok = /gpt_client_disconnects_total [1-9]/.test(m) && /gpt_requests_running 0\b/.test(m);
    if (!ok) await new Promise((r) => setTimeout(r, 50));
  }
  check(ok, 'disconnect counted and the slot freed');
});

await test('errors', async () => {
  await expectError('temperature out of range', () => client.completions.create({ model: MODEL, prompt: 'x', temperature: 5 }), 400, { param: 'temperature' });
  await expectError('n out of range', () => client.completions.create({ model: MODEL, prompt: 'x', n: 1000 }), 400, { param: 'n' });
  await expectError('wrong type', () => client.completions.create({ model: MODEL, prompt: 'x', max_tokens: 'ten' }), 400, { param: 'max_tokens' });
  await expectError('top_p wrong', () => client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], top_p: 2 }), 400, { param: 'top_p' });
  await expectError('bad role', () => client.chat.completions.create({ model: MODEL, messages: [{ role: 'wizard', content: 'x' }] }), 400, { param: 'messages[0].role' });
  await expectError('missing messages', () => client.chat.completions.create({ model: MODEL }), 400, { param: 'messages' });
  await expectError('unknown model', () => client.completions.create({ model: 'gpt-9', prompt: 'x' }), 404, { code: 'model_not_found', param: 'model' });
  await expectError('context exceeded', () => client.completions.create({ model: MODEL, prompt: 'word '.repeat(600), max_tokens: 8 }), 400, { code: 'context_length_exceeded' });
  // max_tokens beyond the context: the completion stops at the context
  // with finish_reason 'length' (docs/serving.md), not a 400.
  const ctx = (await client.models.list()).data[0].context_length;
  const long = await client.completions.create({ model: MODEL, prompt: 'x', max_tokens: 100000, temperature: 0 });
  const fin = long.choices[0].finish_reason;
  check(ctx > 0 && long.usage.total_tokens <= ctx &&
        (fin === 'stop' || (fin === 'length' && long.usage.total_tokens === ctx)),
        `max_tokens beyond the context stops at it (${fin}, ${long.usage.total_tokens}/${ctx})`);
  await expectError('body too large', () => client.completions.create({ model: MODEL, prompt: 'y'.repeat(MAX_BODY + 1000) }), 413);
  // Unknown fields are ignored.
  const r = await client.completions.create({ model: MODEL, prompt: 'x', max_tokens: 2, some_new_field: { a: 1 } });
  check(r.choices.length === 1, 'unknown fields ignored');
  // Malformed JSON and unknown endpoints (not expressible with the client).
  const bad = await fetch(`${BASE}/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":' });
  const badBody = await bad.json();
  check(bad.status === 400 && badBody.error && badBody.error.type === 'invalid_request_error', 'malformed JSON is 400');
  const nf = await fetch(`${BASE}/nope`);
  check(nf.status === 404 && (await nf.json()).error, 'unknown endpoint is 404 with an error body');
});

await test('api key and queue', async () => {
  const noKey = new OpenAI({ baseURL: KEY_BASE, apiKey: 'wrong', maxRetries: 0 });
  await expectError('wrong key', () => noKey.models.list(), 401, { code: 'invalid_api_key' });
  await expectError('wrong key completions', () => noKey.completions.create({ model: MODEL, prompt: 'x' }), 401);
  const missing = await fetch(`${KEY_BASE}/models`);
  check(missing.status === 401, 'missing key is 401');
  const keyed = new OpenAI({ baseURL: KEY_BASE, apiKey: KEY_VALUE, maxRetries: 0, timeout: 120000 });
  check((await keyed.models.list()).data[0].id === MODEL, 'right key works');
  // --parallel 1 --max-queue 1: of 6 simultaneous requests some must be 429.
  const results = await Promise.allSettled([1, 2, 3, 4, 5, 6].map(() =>
    keyed.completions.create({ model: MODEL, prompt: 'The', max_tokens: 30 })));
  const ok = results.filter((r) => r.status === 'fulfilled').length;
  const busy = results.filter((r) => r.status === 'rejected' && r.reason?.status === 429);
  check(ok >= 1 && busy.length >= 1 && ok + busy.length === 6, `queue: ${ok} ok, ${busy.length} 429`);
  if (busy.length) check(busy[0].reason.error?.code === 'rate_limit_exceeded', '429 code');
});

await test('load: 64 concurrent requests', async () => {
  const prompts = ['The', 'A', 'One', 'In', 'He', 'She', 'It', 'We'];
  const sequential = {};
  for (const p of prompts)
    sequential[p] = (await client.completions.create({ ...greedy, prompt: p, max_tokens: 16 })).choices[0].text;
  const t0 = Date.now();
  const results = await Promise.allSettled(Array.from({ length: 64 }, (_, i) => {
    const p = prompts[i % prompts.length];
    return (i % 2
      ? client.completions.create({ ...greedy, prompt: p, max_tokens: 16 }).then((r) => r.choices[0].text)
      : client.completions.create({ ...greedy, prompt: p, max_tokens: 16, stream: true }).then(async (s) => {
        let t = '';
        for await (const c of s) t += c.choices[0]?.text ?? '';
        return t;
      })).then((text) => ({ p, text }));
  }));
  const lost = results.filter((r) => r.status === 'rejected');
  check(lost.length === 0, `no request lost (${lost.length} failed: ${lost[0]?.reason})`);
  const wrong = results.filter((r) => r.status === 'fulfilled' && r.value.text !== sequential[r.value.p]);
  check(wrong.length === 0, `batched greedy == sequential (${wrong.length} differ, e.g. ${JSON.stringify(wrong[0]?.value)} vs ${JSON.stringify(sequential[wrong[0]?.value.p])})`);
  console.log(`load: 64 requests in ${Date.now() - t0} ms`);
  const h = await fetch(`${ROOT}/health`);
  check(h.status === 200, 'healthy after the load');
});

console.log(`${passed} checks passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
