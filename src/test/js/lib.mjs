// Shared by the client scripts: the command line, an OpenAI client for the server, and /metrics.
//
// Every script is run as
//   node <script>.test.mjs <baseUrl> <fixture.json>
// with the API key in OPENAI_API_KEY. <baseUrl> is the server's http://host:port (no /v1);
// the fixture (written by OpenAiNpmClientTest) names the model and gives greedy reference
// texts computed in Java, one request at a time, for prompts without near ties.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';

const [baseArg, fixtureArg] = process.argv.slice(2);
if (!baseArg || !fixtureArg) {
  console.error('usage: node <script>.test.mjs <baseUrl> <fixture.json>  (API key in OPENAI_API_KEY)');
  process.exit(2);
}

export const baseUrl = baseArg.replace(/\/+$/, '');
export const apiKey = process.env.OPENAI_API_KEY;
assert.ok(apiKey, 'OPENAI_API_KEY must be set');

/**
 * {model, context, maxBodyBytes, seed,
 *  completions: [{prompt, maxTokens, promptTokens, text}],
 *  chats: [{messages, maxTokens, promptTokens, text}]}
 */
export const fixture = JSON.parse(readFileSync(fixtureArg, 'utf8'));

/** No retries: every refusal and dropped connection must show. */
export function client(options = {}) {
  return new OpenAI({ apiKey, baseURL: `${baseUrl}/v1`, maxRetries: 0, timeout: 120_000, ...options });
}

/** A plain fetch of a server path with the API key (for what the client would not send). */
export function call(path, init = {}) {
  return fetch(`${baseUrl}${path}`, { ...init, headers: { Authorization: `Bearer ${apiKey}`, ...init.headers } });
}

/** The unlabelled samples of GET /metrics, by name. */
export async function metrics() {
  const r = await call('/metrics');
  assert.equal(r.status, 200);
  const out = {};
  for (const line of (await r.text()).split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*) (\S+)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

/**
 * Waits until no request runs or waits and no KV block is held, then returns the metrics.
 * A cancelled request is freed by the engine's next step, so this polls (for at most 30 s).
 */
export async function idle() {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const m = await metrics();
    const quiet = m.gatun_requests_running === 0 && m.gatun_requests_queued === 0 && m.gatun_kv_blocks_used === 0
      && m.gatun_requests_finished_total === m.gatun_requests_submitted_total;
    if (quiet || Date.now() > deadline) return m;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Asserts the engine holds nothing: every request finished, every KV block free. */
export function assertIdle(m) {
  assert.equal(m.gatun_requests_running, 0, 'requests running');
  assert.equal(m.gatun_requests_queued, 0, 'requests queued');
  assert.equal(m.gatun_kv_blocks_used, 0, 'KV blocks in use');
  assert.equal(m.gatun_requests_finished_total, m.gatun_requests_submitted_total, 'requests submitted but not finished');
}

/**
 * Streams a completion or chat request through the client and assembles it. Returns
 * {text, finishes: [finish_reason of each chunk that had one], usage, ids: the set of chunk ids}.
 * afterChunk(n) is called after the n-th chunk; when `signal` aborts, the client's stream ends
 * quietly and what came so far is returned.
 */
export async function streamed(openai, kind, params, { signal, afterChunk } = {}) {
  const api = kind === 'chat' ? openai.chat.completions : openai.completions;
  const stream = await api.create({ ...params, stream: true }, { signal });
  const out = { text: '', finishes: [], usage: null, ids: new Set() };
  let n = 0;
  for await (const chunk of stream) {
    out.ids.add(chunk.id);
    if (chunk.usage) out.usage = chunk.usage;
    for (const choice of chunk.choices) {
      assert.equal(choice.index, 0);
      out.text += kind === 'chat' ? (choice.delta?.content ?? '') : choice.text;
      if (choice.finish_reason) out.finishes.push(choice.finish_reason);
    }
    afterChunk?.(++n);
  }
  return out;
}

/** The request body of one fixture case (greedy, its own max_tokens). */
export function params(kind, c, extra = {}) {
  const base = { model: fixture.model, max_tokens: c.maxTokens, temperature: 0 };
  return kind === 'chat' ? { ...base, messages: c.messages, ...extra } : { ...base, prompt: c.prompt, ...extra };
}
