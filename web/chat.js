// The chat page of `gpt serve` (GET /): a client of our own
// /v1/chat/completions with streaming. Conversations live in localStorage,
// the API key (asked for after a 401) in sessionStorage. Model output is
// never parsed as HTML: renderMarkdown builds DOM nodes with textContent,
// so `<script>` or `<img onerror=...>` in an answer shows as text.
'use strict';

const STORE = 'gpt-chat.conversations';
const KEY_STORE = 'gpt-chat.api-key';
const $ = (id) => document.getElementById(id);

const state = {
  chats: [],        // [{id, title, messages:[{role, content, stats?}], settings}]
  current: null,    // id of the shown chat
  model: null,      // {id, context_length}
  abort: null,      // AbortController of the running request
};

// ---- Markdown (a safe subset) ------------------------------------------

// Fenced code blocks (with a copy button), inline code, **bold**, *italic*,
// paragraphs and line breaks. Text only ever reaches the DOM through
// textContent / createTextNode.
function renderMarkdown(text) {
  const root = document.createElement('div');
  const parts = text.split(/```/);
  parts.forEach((part, i) => {
    if (i % 2 === 1) {
      const nl = part.indexOf('\n');
      const lang = nl >= 0 ? part.slice(0, nl).trim() : '';
      const codeText = nl >= 0 ? part.slice(nl + 1) : part;
      const pre = document.createElement('pre');
      const code = document.createElement('code');
      if (/^[\w+-]{1,20}$/.test(lang)) code.dataset.lang = lang;
      code.textContent = codeText.replace(/\n$/, '');
      const copy = document.createElement('button');
      copy.type = 'button';
      copy.className = 'copy';
      copy.textContent = 'Copy';
      copy.setAttribute('aria-label', 'Copy code');
      copy.addEventListener('click', () => {
        navigator.clipboard?.writeText(code.textContent).then(
          () => { copy.textContent = 'Copied'; }, () => { copy.textContent = 'Copy failed'; });
      });
      pre.append(copy, code);
      root.append(pre);
      return;
    }
    for (const para of part.split(/\n{2,}/)) {
      if (!para.trim()) continue;
      const p = document.createElement('p');
      appendInline(p, para);
      root.append(p);
    }
  });
  return root;
}

function appendInline(parent, text) {
  const re = /(`[^`\n]+`|\*\*[^*\n]+\*\*|\*[^*\n]+\*)/g;
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > last) parent.append(document.createTextNode(text.slice(last, m.index)));
    const t = m[0];
    let el;
    if (t.startsWith('`')) { el = document.createElement('code'); el.textContent = t.slice(1, -1); }
    else if (t.startsWith('**')) { el = document.createElement('strong'); el.textContent = t.slice(2, -2); }
    else { el = document.createElement('em'); el.textContent = t.slice(1, -1); }
    parent.append(el);
    last = m.index + t.length;
  }
  if (last < text.length) parent.append(document.createTextNode(text.slice(last)));
}

// ---- Storage ------------------------------------------------------------

function defaultSettings() {
  return { system: '', temperature: 0.7, top_p: 0.95, max_tokens: 256, seed: '', stop: '' };
}

function load() {
  try {
    const v = JSON.parse(localStorage.getItem(STORE) || '[]');
    state.chats = Array.isArray(v) ? v.filter(validChat) : [];
  } catch { state.chats = []; }
}

function save() {
  try { localStorage.setItem(STORE, JSON.stringify(state.chats)); }
  catch (e) { showError(`cannot save conversations: ${e.message}`); }
}

function validChat(c) {
  return c && typeof c.id === 'string' && typeof c.title === 'string' && Array.isArray(c.messages) &&
    c.messages.every((m) => m && ['system', 'user', 'assistant'].includes(m.role) && typeof m.content === 'string');
}

function newChat() {
  const c = { id: `c${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`,
    title: 'New chat', messages: [], settings: defaultSettings() };
  state.chats.unshift(c);
  state.current = c.id;
  save();
  renderAll();
  $('input').focus();
}

const current = () => state.chats.find((c) => c.id === state.current);

// ---- Rendering ----------------------------------------------------------

function renderList() {
  const ul = $('chat-list');
  ul.replaceChildren();
  for (const c of state.chats) {
    const li = document.createElement('li');
    if (c.id === state.current) li.className = 'active';
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = c.title;
    name.tabIndex = 0;
    name.setAttribute('role', 'button');
    name.setAttribute('aria-label', `Open conversation ${c.title}`);
    const open = () => { if (!state.abort) { state.current = c.id; renderAll(); } };
    name.addEventListener('click', open);
    name.addEventListener('keydown', (e) => { if (e.key === 'Enter') open(); });
    const rename = document.createElement('button');
    rename.type = 'button';
    rename.textContent = '✎';
    rename.setAttribute('aria-label', `Rename ${c.title}`);
    rename.addEventListener('click', () => {
      const t = prompt('Rename conversation', c.title);
      if (t !== null && t.trim()) { c.title = t.trim().slice(0, 200); save(); renderAll(); }
    });
    const del = document.createElement('button');
    del.type = 'button';
    del.textContent = '✕';
    del.setAttribute('aria-label', `Delete ${c.title}`);
    del.addEventListener('click', () => {
      if (state.abort && c.id === state.current) return;
      state.chats = state.chats.filter((x) => x !== c);
      if (state.current === c.id) state.current = state.chats[0]?.id ?? null;
      save();
      if (!state.current) newChat(); else renderAll();
    });
    li.append(name, rename, del);
    ul.append(li);
  }
}

function renderMessages() {
  const box = $('messages');
  box.replaceChildren();
  const c = current();
  if (!c) return;
  $('chat-title').textContent = c.title;
  c.messages.forEach((m, i) => box.append(messageNode(m, i, c)));
  box.scrollTop = box.scrollHeight;
}

function messageNode(m, index, chat) {
  const div = document.createElement('div');
  div.className = `msg ${m.role}`;
  div.dataset.index = String(index);
  const role = document.createElement('div');
  role.className = 'role';
  role.append(document.createTextNode(m.role === 'user' ? 'You' : 'Assistant'));
  const last = index === chat.messages.length - 1;
  if (!state.abort && m.role === 'assistant' && last) {
    role.append(button('Regenerate', 'Regenerate the last answer', regenerate));
  }
  if (!state.abort && m.role === 'user' && (last || index === chat.messages.length - 2)) {
    role.append(button('Edit', 'Edit and resend the last message', () => editLast(index)));
  }
  const body = document.createElement('div');
  body.className = 'body';
  body.append(renderMarkdown(m.content));
  div.append(role, body);
  if (m.stats) div.append(statsNode(m.stats));
  return div;
}

function button(text, label, fn) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.setAttribute('aria-label', label);
  b.addEventListener('click', fn);
  return b;
}

function statsNode(s) {
  const d = document.createElement('div');
  d.className = 'stats';
  const parts = [];
  if (s.tokens != null) parts.push(`${s.tokens} tokens`);
  if (s.tps != null) parts.push(`${s.tps.toFixed(1)} tokens/s`);
  if (s.ttft != null) parts.push(`first token ${Math.round(s.ttft)} ms`);
  if (s.finish) parts.push(`finish: ${s.finish}`);
  d.textContent = parts.join(' · ');
  return d;
}

function renderSettings() {
  const c = current();
  if (!c) return;
  const s = c.settings;
  for (const k of ['system', 'temperature', 'top_p', 'max_tokens', 'seed', 'stop']) $(k).value = s[k] ?? '';
  const ctx = state.model?.context_length;
  $('max_tokens').max = ctx ?? '';
  $('limits').textContent = ctx ? `Context: ${ctx} tokens (prompt + answer). Max tokens ≤ ${ctx}.` : '';
}

function renderAll() {
  renderList();
  renderMessages();
  renderSettings();
}

function showError(text) {
  const e = $('error');
  e.textContent = text;
  e.hidden = !text;
}

// ---- Requests -----------------------------------------------------------

function apiKey() { return sessionStorage.getItem(KEY_STORE) || ''; }

function headers() {
  const h = { 'Content-Type': 'application/json' };
  const k = apiKey();
  if (k) h.Authorization = `Bearer ${k}`;
  return h;
}

async function fetchModel() {
  try {
    const r = await fetch('/v1/models', { headers: headers() });
    if (r.status === 401) { askKey(); return; }
    if (!r.ok) { showError(`cannot list models: HTTP ${r.status}`); return; }
    const j = await r.json();
    state.model = j.data?.[0] ?? null;
    $('model-info').textContent = state.model ? `${state.model.id} · context ${state.model.context_length}` : '';
    renderSettings();
  } catch (e) {
    showError(`cannot reach the server: ${e.message}`);
  }
}

function askKey() {
  const k = prompt('This server needs an API key (kept for this browser tab only):', '');
  if (k) { sessionStorage.setItem(KEY_STORE, k.trim()); fetchModel(); }
}

function readSettings() {
  const c = current();
  const s = c.settings;
  s.system = $('system').value;
  s.temperature = Number($('temperature').value);
  s.top_p = Number($('top_p').value);
  s.max_tokens = Number($('max_tokens').value);
  s.seed = $('seed').value;
  s.stop = $('stop').value;
  save();
  return s;
}

/// The request body, or an error message when a setting is out of range.
function buildRequest(c) {
  const s = readSettings();
  const ctx = state.model?.context_length;
  if (!(s.temperature >= 0 && s.temperature <= 2)) return { error: 'temperature must be between 0 and 2' };
  if (!(s.top_p > 0 && s.top_p <= 1)) return { error: 'top-p must be in (0, 1]' };
  if (!(Number.isInteger(s.max_tokens) && s.max_tokens >= 1)) return { error: 'max tokens must be a whole number ≥ 1' };
  if (ctx && s.max_tokens > ctx) return { error: `max tokens must be at most the context (${ctx})` };
  const stop = s.stop.split(',').map((x) => x.trim()).filter(Boolean);
  if (stop.length > 16) return { error: 'at most 16 stop sequences' };
  const messages = [];
  if (s.system.trim()) messages.push({ role: 'system', content: s.system });
  for (const m of c.messages) messages.push({ role: m.role, content: m.content });
  const body = { model: state.model?.id ?? 'gpt', messages, temperature: s.temperature, top_p: s.top_p,
    max_tokens: s.max_tokens, stream: true, stream_options: { include_usage: true } };
  if (s.seed !== '' && Number.isInteger(Number(s.seed))) body.seed = Number(s.seed);
  if (stop.length) body.stop = stop;
  return { body };
}

const STATUS_TEXT = {
  400: 'the request was refused', 401: 'the API key is missing or wrong',
  404: 'not found', 413: 'the conversation is too large', 429: 'the server is busy; try again shortly',
  503: 'the server is shutting down or overloaded',
};

async function generate() {
  const c = current();
  const req = buildRequest(c);
  if (req.error) { showError(req.error); return false; }
  showError('');
  const answer = { role: 'assistant', content: '', stats: null };
  c.messages.push(answer);
  state.abort = new AbortController();
  setBusy(true);
  renderMessages();
  const node = $('messages').lastElementChild;
  const body = node.querySelector('.body');
  const t0 = performance.now();
  let ttft = null, tokens = null, finish = null, chunks = 0;
  try {
    const r = await fetch('/v1/chat/completions', {
      method: 'POST', headers: headers(), body: JSON.stringify(req.body), signal: state.abort.signal });
    if (!r.ok) {
      let msg = STATUS_TEXT[r.status] ?? `HTTP ${r.status}`;
      try { const j = await r.json(); if (j.error?.message) msg += `: ${j.error.message}`; } catch { /* not JSON */ }
      c.messages.pop();
      showError(`${msg} (HTTP ${r.status})`);
      if (r.status === 401) askKey();
      return false;
    }
    const reader = r.body.getReader();
    const dec = new TextDecoder('utf-8');
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let cut;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const event = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        for (const line of event.split('\n')) {
          if (!line.startsWith('data: ')) continue;
          const data = line.slice(6);
          if (data === '[DONE]') continue;
          const j = JSON.parse(data);
          if (j.error) throw new Error(j.error.message);
          const ch = j.choices?.[0];
          if (ch?.delta?.content) {
            if (ttft === null) ttft = performance.now() - t0;
            answer.content += ch.delta.content;
            chunks++;
            body.replaceChildren(renderMarkdown(answer.content));
            $('messages').scrollTop = $('messages').scrollHeight;
          }
          if (ch?.finish_reason) finish = ch.finish_reason;
          if (j.usage) tokens = j.usage.completion_tokens;
        }
      }
    }
    if (finish === null) throw new Error('the connection was dropped before the answer ended');
  } catch (e) {
    if (e.name === 'AbortError') finish = 'stopped';
    else {
      showError(e.message.includes('fetch') || e.name === 'TypeError'
        ? `the connection to the server failed: ${e.message}` : e.message);
      finish = finish ?? 'error';
    }
  } finally {
    const secs = (performance.now() - t0) / 1000;
    const n = tokens ?? chunks;
    answer.stats = { tokens: n, tps: secs > 0 && ttft !== null ? n / Math.max(1e-3, secs - ttft / 1000) : null,
      ttft, finish };
    state.abort = null;
    setBusy(false);
    if (c.title === 'New chat') {
      const first = c.messages.find((m) => m.role === 'user');
      if (first) c.title = first.content.slice(0, 40);
    }
    save();
    renderAll();
  }
  return true;
}

function setBusy(busy) {
  $('send').hidden = busy;
  $('stop-btn').hidden = !busy;
  $('input').setAttribute('aria-busy', String(busy));
}

function stop() { state.abort?.abort(); }

async function send() {
  if (state.abort) return;
  const text = $('input').value;
  if (!text.trim()) return;
  const c = current();
  c.messages.push({ role: 'user', content: text });
  $('input').value = '';
  save();
  if (!(await generate()) && c.messages.at(-1)?.role === 'user') {
    // Refused before any answer: give the text back to edit.
    $('input').value = c.messages.pop().content;
    save();
    renderAll();
  }
}

function regenerate() {
  const c = current();
  if (state.abort || c.messages.at(-1)?.role !== 'assistant') return;
  c.messages.pop();
  generate();
}

function editLast(index) {
  const c = current();
  if (state.abort) return;
  $('input').value = c.messages[index].content;
  c.messages.splice(index);
  save();
  renderAll();
  $('input').focus();
}

// ---- Import / export ----------------------------------------------------

function exportChats() {
  const data = state.chats.map((c) => ({ title: c.title, settings: c.settings,
    messages: [...(c.settings.system ? [{ role: 'system', content: c.settings.system }] : []),
      ...c.messages.map((m) => ({ role: m.role, content: m.content }))] }));
  const blob = new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = 'conversations.json';
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

async function importChats(file) {
  try {
    const data = JSON.parse(await file.text());
    const list = Array.isArray(data) ? data : [data];
    let added = 0;
    for (const item of list) {
      const msgs = Array.isArray(item) ? item : item.messages;
      if (!Array.isArray(msgs) || !msgs.every((m) => m && typeof m.content === 'string' &&
          ['system', 'user', 'assistant'].includes(m.role))) continue;
      const settings = { ...defaultSettings(), ...(item.settings ?? {}) };
      const sys = msgs.find((m) => m.role === 'system');
      if (sys) settings.system = sys.content;
      state.chats.unshift({ id: `c${Date.now().toString(36)}${added}`, title: String(item.title ?? 'Imported').slice(0, 200),
        settings, messages: msgs.filter((m) => m.role !== 'system').map((m) => ({ role: m.role, content: m.content })) });
      added++;
    }
    if (!added) throw new Error('no conversations in OpenAI messages format');
    state.current = state.chats[0].id;
    save();
    renderAll();
  } catch (e) {
    showError(`import failed: ${e.message}`);
  }
}

// ---- Start --------------------------------------------------------------

function init() {
  load();
  if (!state.chats.length) newChat();
  state.current = state.chats[0].id;
  renderAll();
  $('composer').addEventListener('submit', (e) => { e.preventDefault(); send(); });
  $('input').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
  });
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape') stop(); });
  $('stop-btn').addEventListener('click', stop);
  $('new-chat').addEventListener('click', () => { if (!state.abort) newChat(); });
  $('export').addEventListener('click', exportChats);
  $('import').addEventListener('change', (e) => { if (e.target.files[0]) importChats(e.target.files[0]); e.target.value = ''; });
  $('toggle-settings').addEventListener('click', () => {
    const s = $('settings');
    s.hidden = !s.hidden;
    $('toggle-settings').setAttribute('aria-expanded', String(!s.hidden));
  });
  $('toggle-sidebar').addEventListener('click', () => {
    const hidden = $('sidebar').classList.toggle('hidden');
    $('toggle-sidebar').setAttribute('aria-expanded', String(!hidden));
  });
  for (const k of ['system', 'temperature', 'top_p', 'max_tokens', 'seed', 'stop'])
    $(k).addEventListener('change', readSettings);
  if (window.matchMedia('(max-width: 640px)').matches) $('sidebar').classList.add('hidden');
  fetchModel();
}

// For the browser tests.
window.gptChat = {
  renderMarkdown, state,
  open(title) {
    const c = state.chats.find((x) => x.title === title);
    if (c) { state.current = c.id; renderAll(); }
    return !!c;
  },
};
document.addEventListener('DOMContentLoaded', init);
