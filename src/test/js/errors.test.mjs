// Requests the server must refuse: malformed JSON, wrong types and oversized bodies by plain
// fetch (the client would not send them), refusals through the client (its error classes), and
// after each group the server still answers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import OpenAI from 'openai';
import { apiKey, baseUrl, call, client, fixture, params } from './lib.mjs';

const openai = client();
const c = fixture.completions[0];

/** Posts a raw body; expects `status` and OpenAI's error object whose message contains `part`. */
async function refused(path, body, status, part, headers = {}) {
  const r = await call(path, { method: 'POST', body, headers: { 'Content-Type': 'application/json', ...headers }, duplex: 'half' });
  const text = await r.text();
  assert.equal(r.status, status, `${path} ${String(body).slice(0, 80)} -> ${text}`);
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  const { error } = JSON.parse(text);
  assert.equal(typeof error.message, 'string');
  assert.ok(error.message.includes(part), `'${part}' in '${error.message}'`);
  for (const key of ['type', 'param', 'code']) assert.ok(key in error, `error.${key} in ${text}`);
  return error;
}

async function stillServing() {
  const r = await openai.completions.create(params('completion', c));
  assert.equal(r.choices[0].text, c.text);
}

test('malformed JSON gets 400 invalid_json', async () => {
  const e = await refused('/v1/completions', '{"prompt": "x", ', 400, 'not valid JSON');
  assert.equal(e.code, 'invalid_json');
  assert.equal(e.type, 'invalid_request_error');
  await refused('/v1/chat/completions', '{"messages": [}', 400, 'not valid JSON');
  await refused('/v1/completions', '{"prompt": "x"} {"prompt": "y"}', 400, 'not valid JSON');
  await refused('/v1/completions', '\u00ff\u00fe', 400, 'not valid JSON');
  await refused('/v1/completions', '[1, 2]', 400, 'JSON object');
  await refused('/v1/completions', '', 400, 'empty');
  await stillServing();
});

test('wrong types get 400 naming the parameter', async () => {
  const body = (extra) => JSON.stringify({ model: fixture.model, prompt: c.prompt, ...extra });
  const cases = [
    [{ prompt: 42 }, 'prompt'],
    [{ prompt: ['a', 'b'] }, 'prompt'],
    [{ max_tokens: 'ten' }, 'max_tokens'],
    [{ max_tokens: 2.5 }, 'max_tokens'],
    [{ temperature: 'hot' }, 'temperature'],
    [{ top_p: [0.5] }, 'top_p'],
    [{ seed: 'abc' }, 'seed'],
    [{ stream: 'yes' }, 'stream'],
    [{ stream_options: true }, 'stream_options'],
    [{ stop: { x: 1 } }, 'stop'],
    [{ stop: [1, 2] }, 'stop'],
    [{ model: 7 }, 'model'],
  ];
  for (const [extra, param] of cases) {
    const e = await refused('/v1/completions', body(extra), 400, `'${param}'`);
    assert.equal(e.param, param, JSON.stringify(extra));
  }
  const chat = (messages) => JSON.stringify({ model: fixture.model, messages });
  await refused('/v1/chat/completions', chat('hi'), 400, "'messages' must be a list");
  await refused('/v1/chat/completions', chat([{ role: 1, content: 'x' }]), 400, 'messages[0].role');
  await refused('/v1/chat/completions', chat([{ role: 'user', content: 5 }]), 400, 'messages[0].content');
  await refused('/v1/chat/completions', chat([{ role: 'user', content: [{ type: 'image_url', image_url: 'x' }] }]), 400, 'only text');
  await stillServing();
});

test('oversized bodies get 413, however they arrive', async () => {
  const limit = fixture.maxBodyBytes;
  const big = (n) => JSON.stringify({ model: fixture.model, prompt: 'x'.repeat(n) });
  await refused('/v1/completions', big(limit), 413, 'larger than');
  // far over the limit: refused from its Content-Length, while the client is still sending;
  // unless the server reads the rest, the client gets a connection reset instead of the 413
  const huge = big(64 * limit);
  for (let i = 0; i < 8; i++) await refused('/v1/completions', huge, 413, 'larger than');
  await Promise.all(Array.from({ length: 8 }, () => refused('/v1/completions', huge, 413, 'larger than')));
  // the same for every refusal made before the body is read
  await refused('/v1/completions', huge, 401, 'incorrect API key', { Authorization: 'Bearer nope' });
  await refused('/v1/nothing', huge, 404, 'no such endpoint');
  // chunked (no Content-Length): the server counts while reading
  const bytes = new TextEncoder().encode(big(4 * limit));
  const chunked = new ReadableStream({
    start(controller) {
      for (let i = 0; i < bytes.length; i += 8192) controller.enqueue(bytes.subarray(i, i + 8192));
      controller.close();
    },
  });
  await refused('/v1/completions', chunked, 413, 'larger than');
  await stillServing();
});

test('the client surfaces refusals as its typed errors', async () => {
  await assert.rejects(openai.completions.create({ ...params('completion', c), model: 'gpt-4' }), (e) => {
    assert.ok(e instanceof OpenAI.NotFoundError, e.constructor.name);
    assert.equal(e.status, 404);
    assert.equal(e.code, 'model_not_found');
    return true;
  });
  await assert.rejects(openai.completions.create(params('completion', c, { max_tokens: 10 * fixture.context })), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError, e.constructor.name);
    assert.equal(e.param, 'max_tokens');
    assert.match(e.message, /context|limit/);
    return true;
  });
  await assert.rejects(openai.completions.create(params('completion', c, { prompt: 'x'.repeat(2 * fixture.maxBodyBytes) })), (e) => {
    assert.ok(e instanceof OpenAI.APIError, e.constructor.name);
    assert.equal(e.status, 413);
    assert.equal(e.code, 'request_too_large');
    return true;
  });
  await assert.rejects(openai.chat.completions.create({ model: fixture.model, messages: [] }), OpenAI.BadRequestError);
  await assert.rejects(openai.completions.create(params('completion', c, { n: 2 })), OpenAI.BadRequestError);
  // refused before anything is streamed: the status, not an event stream
  await assert.rejects(openai.completions.create(params('completion', c, { temperature: -1, stream: true })), OpenAI.BadRequestError);
  const stranger = client({ apiKey: `${apiKey}-wrong` });
  await assert.rejects(stranger.models.list(), OpenAI.AuthenticationError);
  await assert.rejects(client({ baseURL: `${baseUrl}/v2` }).models.list(), OpenAI.NotFoundError);
  await stillServing();
});
