// The official client against the server: models, completions and chat (plain and streamed),
// stop strings, and a stream the client cancels.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import OpenAI from 'openai';
import { assertIdle, baseUrl, client, fixture, idle, params, streamed } from './lib.mjs';

const openai = client();
const kinds = [['completion', fixture.completions], ['chat', fixture.chats]];

test('/v1/models lists the one model', async () => {
  const page = await openai.models.list();
  assert.deepEqual(page.data.map((m) => [m.id, m.object]), [[fixture.model, 'model']]);
  assert.equal((await openai.models.retrieve(fixture.model)).id, fixture.model);
  await assert.rejects(openai.models.retrieve('no-such-model'), OpenAI.NotFoundError);
});

test('non-streaming answers are the greedy reference, with usage and finish_reason', async () => {
  for (const c of fixture.completions) {
    const r = await openai.completions.create(params('completion', c));
    assert.equal(r.object, 'text_completion');
    assert.match(r.id, /^cmpl-/);
    assert.equal(r.model, fixture.model);
    assert.equal(r.choices.length, 1);
    assert.equal(r.choices[0].text, c.text, `prompt ${JSON.stringify(c.prompt)}`);
    assert.equal(r.choices[0].finish_reason, 'length');
    assert.deepEqual(r.usage, { prompt_tokens: c.promptTokens, completion_tokens: c.maxTokens, total_tokens: c.promptTokens + c.maxTokens });
  }
  for (const c of fixture.chats) {
    const r = await openai.chat.completions.create(params('chat', c));
    assert.equal(r.object, 'chat.completion');
    assert.match(r.id, /^chatcmpl-/);
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.equal(r.choices[0].message.content, c.text, `messages ${JSON.stringify(c.messages)}`);
    assert.equal(r.choices[0].finish_reason, 'length');
    assert.deepEqual(r.usage, { prompt_tokens: c.promptTokens, completion_tokens: c.maxTokens, total_tokens: c.promptTokens + c.maxTokens });
  }
  // max_completion_tokens is chat's newer name for max_tokens
  const c = fixture.chats[0];
  const r = await openai.chat.completions.create({ model: fixture.model, messages: c.messages, max_completion_tokens: c.maxTokens, temperature: 0 });
  assert.equal(r.choices[0].message.content, c.text);
});

test('streamed chunks assemble to the non-streaming text', async () => {
  for (const [kind, cases] of kinds) {
    for (const c of cases) {
      const s = await streamed(openai, kind, params(kind, c, { stream_options: { include_usage: true } }));
      assert.equal(s.text, c.text, `${kind} ${JSON.stringify(c.prompt ?? c.messages)}`);
      assert.deepEqual(s.finishes, ['length'], 'one finish_reason, on the last chunk');
      assert.equal(s.ids.size, 1, 'every chunk has the same id');
      assert.deepEqual(s.usage, { prompt_tokens: c.promptTokens, completion_tokens: c.maxTokens, total_tokens: c.promptTokens + c.maxTokens });
    }
  }
});

test('stop strings end the text before their first occurrence', async () => {
  for (const [kind, cases] of kinds) {
    // a stop string from inside a reference: two characters whose first occurrence is past the
    // start, chosen by the fixture (which gives each kind at least one)
    const c = cases.find(k => k.stop !== null);
    assert.ok(c, `no usable stop string in ${JSON.stringify(cases.map(k => k.text))}`);
    const stop = c.stop;
    const expected = c.text.substring(0, c.text.indexOf(stop));

    const r = kind === 'chat'
      ? await openai.chat.completions.create(params(kind, c, { stop }))
      : await openai.completions.create(params(kind, c, { stop: ['never there', stop] }));
    assert.equal(kind === 'chat' ? r.choices[0].message.content : r.choices[0].text, expected, `stop ${JSON.stringify(stop)}`);
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.ok(r.usage.completion_tokens < c.maxTokens, 'generation ended at the stop string');

    const s = await streamed(openai, kind, params(kind, c, { stop }));
    assert.equal(s.text, expected, `streamed, stop ${JSON.stringify(stop)}`);
    assert.deepEqual(s.finishes, ['stop']);
  }
  assertIdle(await idle());
});

test('a stream the client aborts is cancelled on the server and its KV blocks freed', async () => {
  const c = fixture.completions[0];
  const maxTokens = fixture.context - c.promptTokens; // long enough to be running when the client leaves
  const before = await idle();
  const controller = new AbortController();
  let chunks = 0;
  const s = await streamed(openai, 'completion', params('completion', c, { max_tokens: maxTokens }), {
    signal: controller.signal,
    afterChunk: (n) => {
      chunks = n;
      if (n === 3) controller.abort();
    },
  });
  assert.equal(chunks, 3, 'no chunk after the abort');
  assert.deepEqual(s.finishes, []);
  // the request runs past the reference's tokens, whose text can be shorter than three chunks (a random
  // model's tokens are often special, without text): the two agree as far as both go; the reference's
  // last character may be a sequence its last token cut off (U+FFFD)
  const reference = c.text.replace(/\uFFFD$/, '');
  assert.ok(reference.startsWith(s.text) || s.text.startsWith(reference),
    `the text before the abort agrees with the reference: ${JSON.stringify(s.text)} vs ${JSON.stringify(c.text)}`);

  const after = await idle();
  assertIdle(after);
  assert.equal(after.gatun_http_client_disconnects_total - before.gatun_http_client_disconnects_total, 1, 'the server saw the client go');
  assert.equal(after.gatun_requests_finished_total - before.gatun_requests_finished_total, 1);
  const generated = after.gatun_generation_tokens_total - before.gatun_generation_tokens_total;
  console.log(`cancelled after ${generated} of ${maxTokens} tokens`);
  assert.ok(generated < maxTokens, 'the request did not run to its end');

  // and the server goes on serving
  const health = await fetch(`${baseUrl}/health`);
  assert.deepEqual([health.status, await health.json()], [200, { status: 'ok' }]);
  const r = await openai.completions.create(params('completion', c));
  assert.equal(r.choices[0].text, c.text);
});

