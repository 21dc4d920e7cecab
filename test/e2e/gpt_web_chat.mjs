// The chat page of `gpt serve` in a real browser (Debian's chromium via
// puppeteer-core). Run by gpt_web_test.sh, which starts the servers:
//   BASE=http://127.0.0.1:PORT KEY_BASE=... KEY=... SHOTS=dir node gpt_web_chat.mjs
import puppeteer from 'puppeteer-core';
import fs from 'node:fs';
import path from 'node:path';

const BASE = process.env.BASE;
const KEY_BASE = process.env.KEY_BASE;
const KEY = process.env.KEY;
const SHOTS = process.env.SHOTS;
let failures = 0;
let passed = 0;
function check(cond, what) {
  if (cond) passed++;
  else { failures++; console.log(`FAIL: ${what}`); }
}
async function step(name, fn) {
  try { await fn(); } catch (e) { failures++; console.log(`FAIL: ${name}: ${e?.stack ?? e}`); }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});

async function openPage(base, width = 1200, height = 800) {
  const page = await browser.newPage();
  await page.setViewport({ width, height });
  page.problems = [];
  page.on('console', (m) => { if (m.type() === 'error') page.problems.push(m.text()); });
  page.on('pageerror', (e) => page.problems.push(String(e)));
  await page.evaluateOnNewDocument(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.cspViolations = (window.cspViolations || 0) + 1;
      console.error(`CSP violation: ${e.violatedDirective}`);
    });
  });
  await page.goto(base + '/', { waitUntil: 'networkidle0' });
  return page;
}

async function lastAssistant(page) {
  return page.evaluate(() => {
    const msgs = [...document.querySelectorAll('.msg.assistant')];
    const m = msgs.at(-1);
    return m ? { text: m.querySelector('.body').textContent, stats: m.querySelector('.stats')?.textContent ?? '' }
      : null;
  });
}

async function waitFor(page, fn, timeout = 60000, ...args) {
  await page.waitForFunction(fn, { timeout, polling: 50 }, ...args);
}

async function send(page, text) {
  await page.click('#input');
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

async function metric(name) {
  const r = await fetch(BASE + '/metrics');
  const t = await r.text();
  const m = t.match(new RegExp(`^${name} (\\d+)`, 'm'));
  return m ? Number(m[1]) : NaN;
}

const page = await openPage(BASE);

await step('loads with the model and no errors', async () => {
  await waitFor(page, () => document.querySelector('#model-info').textContent.includes('context'));
  const info = await page.$eval('#model-info', (e) => e.textContent);
  check(/context \d+/.test(info), `model info: ${info}`);
  check(page.problems.length === 0, `console errors: ${page.problems.join(' | ')}`);
});

await step('chat: Enter sends, the answer streams, stats appear', async () => {
  await page.evaluate(() => { document.querySelector('#toggle-settings').click(); });
  await page.$eval('#max_tokens', (e) => { e.value = '24'; e.dispatchEvent(new Event('change')); });
  await page.$eval('#temperature', (e) => { e.value = '0'; e.dispatchEvent(new Event('change')); });
  await send(page, 'Hello there');
  await waitFor(page, () => document.querySelectorAll('.msg.user').length === 1);
  const user = await page.$eval('.msg.user .body', (e) => e.textContent);
  check(user === 'Hello there', `user bubble: ${user}`);
  await waitFor(page, () => document.querySelector('.msg.assistant .stats')?.textContent.includes('finish'));
  const a = await lastAssistant(page);
  check(a.text.length > 0, 'assistant text streamed');
  check(/\d+ tokens/.test(a.stats) && /tokens\/s/.test(a.stats) && /first token \d+ ms/.test(a.stats) &&
        /finish: (length|stop)/.test(a.stats), `stats: ${a.stats}`);
  check(await page.$eval('#input', (e) => e.value) === '', 'input cleared');
});

await step('Shift+Enter is a new line, not a send', async () => {
  await page.click('#input');
  await page.keyboard.type('line one');
  await page.keyboard.down('Shift');
  await page.keyboard.press('Enter');
  await page.keyboard.up('Shift');
  await page.keyboard.type('line two');
  const v = await page.$eval('#input', (e) => e.value);
  check(v === 'line one\nline two', `textarea: ${JSON.stringify(v)}`);
  check(await page.$$eval('.msg.user', (l) => l.length) === 1, 'nothing sent');
  await page.$eval('#input', (e) => { e.value = ''; });
});

await step('Esc stops the answer and the server cancels it', async () => {
  const before = await metric('gpt_client_disconnects_total');
  await page.$eval('#max_tokens', (e) => { e.value = '120'; e.dispatchEvent(new Event('change')); });
  await send(page, 'Tell me a long story');
  await waitFor(page, () => {
    const m = [...document.querySelectorAll('.msg.assistant')].at(-1);
    return m && m.querySelector('.body').textContent.length > 0;
  });
  const t0 = Date.now();
  await page.keyboard.press('Escape');
  await waitFor(page, () => document.querySelector('.msg.assistant:last-of-type .stats')?.textContent
    .includes('finish: stopped'), 5000);
  check(Date.now() - t0 < 2000, 'stopped within 2 s');
  let after = before;
  for (let i = 0; i < 50 && after <= before; i++) { await sleep(100); after = await metric('gpt_client_disconnects_total'); }
  check(after === before + 1, `server counted the cancel: ${before} -> ${after}`);
  check(await page.$eval('#send', (e) => !e.hidden), 'send button back');
});

await step('regenerate and edit the last turn', async () => {
  const n = await page.$$eval('.msg', (l) => l.length);
  await page.$eval('#max_tokens', (e) => { e.value = '8'; e.dispatchEvent(new Event('change')); });
  const regen = await page.$('.msg.assistant:last-of-type button[aria-label="Regenerate the last answer"]');
  check(regen !== null, 'regenerate button');
  await regen.click();
  await waitFor(page, (k) => document.querySelectorAll('.msg').length === k &&
    document.querySelector('.msg.assistant:last-of-type .stats')?.textContent.includes('finish: length'), 60000, n);
  const edit = await page.$('.msg.user:nth-last-child(2) button[aria-label="Edit and resend the last message"]');
  check(edit !== null, 'edit button');
  await edit.click();
  check(await page.$eval('#input', (e) => e.value) === 'Tell me a long story', 'edit puts the text back');
  check(await page.$$eval('.msg', (l) => l.length) === n - 2, 'edit removes the last turn');
  await page.keyboard.press('Enter');
  await waitFor(page, (k) => document.querySelectorAll('.msg').length === k &&
    document.querySelector('.msg.assistant:last-of-type .stats')?.textContent.includes('finish'), 60000, n);
});

await step('settings are checked against the context before sending', async () => {
  const ctx = await page.evaluate(() => window.gptChat.state.model.context_length);
  await page.$eval('#max_tokens', (e, v) => { e.value = String(v); e.dispatchEvent(new Event('change')); }, ctx + 1);
  const n = await page.$$eval('.msg', (l) => l.length);
  await send(page, 'too long');
  await waitFor(page, () => !document.querySelector('#error').hidden);
  const err = await page.$eval('#error', (e) => e.textContent);
  check(err.includes(`at most the context (${ctx})`), `error: ${err}`);
  check(await page.$$eval('.msg', (l) => l.length) === n, 'nothing sent');
  check(await page.$eval('#input', (e) => e.value) === 'too long', 'text kept for editing');
  check((await page.$eval('#limits', (e) => e.textContent)).includes(`Context: ${ctx} tokens`), 'limits shown');
  await page.$eval('#max_tokens', (e) => { e.value = '8'; e.dispatchEvent(new Event('change')); });
  await page.$eval('#input', (e) => { e.value = ''; });
});

await step('model output cannot inject HTML; CJK and emoji render', async () => {
  const r = await page.evaluate(() => {
    const evil = '<img src=x onerror="window.pwned=1"> **bold** `code` <script>window.pwned=2</script>\n\n' +
      '```html\n<script>window.pwned=3</script>\n```\n请问你知道Python编程语言的历史？ 😀';
    const node = window.gptChat.renderMarkdown(evil);
    document.body.append(node);
    return { imgs: node.querySelectorAll('img').length, scripts: node.querySelectorAll('script').length,
      strong: node.querySelector('strong')?.textContent, pre: node.querySelector('pre code')?.textContent,
      copy: node.querySelectorAll('pre .copy').length, text: node.textContent, pwned: window.pwned ?? null };
  });
  await sleep(200);
  check(r.imgs === 0 && r.scripts === 0, `elements from model text: ${r.imgs} img, ${r.scripts} script`);
  check(r.pwned === null && (await page.evaluate(() => window.pwned ?? null)) === null, 'no script ran');
  check(r.text.includes('<img src=x onerror="window.pwned=1">'), 'tags shown as text');
  check(r.strong === 'bold' && r.pre === '<script>window.pwned=3</script>' && r.copy === 1, 'markdown structure');
  check(r.text.includes('请问你知道Python编程语言的历史？ 😀'), 'CJK and emoji');
});

await step('conversations: new, rename, persist, delete, import', async () => {
  await page.click('#new-chat');
  check(await page.$$eval('#chat-list li', (l) => l.length) === 2, 'two conversations');
  page.once('dialog', (d) => d.accept('Renamed chat'));
  await page.click('#chat-list li.active button[aria-label^="Rename"]');
  await waitFor(page, () => document.querySelector('#chat-list li.active .name').textContent === 'Renamed chat');
  await page.reload({ waitUntil: 'networkidle0' });
  const names = await page.$$eval('#chat-list .name', (l) => l.map((e) => e.textContent));
  check(names.includes('Renamed chat') && names.length === 2, `after reload: ${names}`);
  const file = path.join(SHOTS, 'import.json');
  fs.writeFileSync(file, JSON.stringify([{ title: '导入 😀', messages: [
    { role: 'system', content: 'Be brief.' }, { role: 'user', content: '12加7等于多少？' },
    { role: 'assistant', content: '19' }] }]));
  const input = await page.$('#import');
  await input.uploadFile(file);
  await waitFor(page, () => document.querySelector('#chat-list li.active .name')?.textContent === '导入 😀');
  const msgs = await page.$$eval('.msg .body', (l) => l.map((e) => e.textContent));
  check(JSON.stringify(msgs) === JSON.stringify(['12加7等于多少？', '19']), `imported: ${msgs}`);
  check(await page.$eval('#system', (e) => e.value) === 'Be brief.', 'imported system prompt');
  page.once('dialog', (d) => d.accept());
  await page.click('#chat-list li.active button[aria-label^="Delete"]');
  check(await page.$$eval('#chat-list li', (l) => l.length) === 2, 'deleted');
});

await step('360 px wide, desktop, dark mode (screenshots)', async () => {
  check(await page.evaluate(() => window.gptChat.open('Hello there')), 'open the first chat');
  await page.screenshot({ path: path.join(SHOTS, 'desktop-light.png') });
  await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'dark' }]);
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  check(bg !== 'rgb(255, 255, 255)', `dark background: ${bg}`);
  await page.screenshot({ path: path.join(SHOTS, 'desktop-dark.png') });
  await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'light' }]);
  const narrow = await openPage(BASE, 360, 740);
  await waitFor(narrow, () => document.querySelector('#model-info').textContent.includes('context'));
  await narrow.evaluate(() => window.gptChat.open('Hello there'));
  const w = await narrow.evaluate(() => document.documentElement.scrollWidth);
  check(w <= 360, `no horizontal scrolling at 360 px (scrollWidth ${w})`);
  const visible = await narrow.$eval('#composer', (e) => e.getBoundingClientRect().right <= 360);
  check(visible, 'composer fits');
  await narrow.screenshot({ path: path.join(SHOTS, 'phone-360.png') });
  await narrow.close();
  const labels = await page.$$eval('button, textarea, input', (l) => l.filter((e) =>
    !e.getAttribute('aria-label') && !e.closest('label') && !e.textContent.trim()).length);
  check(labels === 0, `${labels} controls without an accessible label`);
  check((await page.evaluate(() => window.cspViolations ?? 0)) === 0, 'no CSP violations');
});

await step('an API-key server: the page asks for the key once', async () => {
  const dialogs = [];
  const kp = await browser.newPage();
  kp.on('dialog', (d) => { dialogs.push(d.message()); d.accept(KEY); });
  await kp.goto(KEY_BASE + '/', { waitUntil: 'networkidle0' });
  await waitFor(kp, () => document.querySelector('#model-info').textContent.includes('context'));
  check(dialogs.length === 1 && dialogs[0].includes('API key'), `key prompt: ${dialogs}`);
  check(await kp.evaluate(() => sessionStorage.getItem('gpt-chat.api-key')) === KEY, 'key in sessionStorage');
  await kp.$eval('#max_tokens', (e) => { e.value = '4'; e.dispatchEvent(new Event('change')); });
  await send(kp, 'hi');
  await waitFor(kp, () => document.querySelector('.msg.assistant .stats')?.textContent.includes('finish'));
  check(dialogs.length === 1, 'asked once');
  await kp.close();
});

await step('a dropped server is a clear error', async () => {
  await page.setRequestInterception(true);
  page.once('request', (r) => (r.url().includes('/v1/chat/completions') ? r.abort('connectionreset') : r.continue()));
  await send(page, 'are you there?');
  await waitFor(page, () => !document.querySelector('#error').hidden);
  const err = await page.$eval('#error', (e) => e.textContent);
  check(/connection/i.test(err), `error: ${err}`);
  await page.setRequestInterception(false);
});

await browser.close();
console.log(`${passed} checks passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
