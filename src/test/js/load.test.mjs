// A bounded load test: REQUESTS streamed requests, CONCURRENCY at a time, completions and chat
// mixed, about a quarter of them aborted by the client at a random point (some before the
// answer starts). Every stream not aborted must be the greedy reference exactly (no token lost
// or duplicated); afterwards every request has finished and every KV block is free.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import OpenAI from 'openai';
import { assertIdle, client, fixture, idle, params, streamed } from './lib.mjs';

const REQUESTS = 320;
const CONCURRENCY = 64;

/** mulberry32: a small seeded generator, so that a failing run can be replayed from its seed. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One request; returns 'answered' or 'aborted'. abortAfter: chunks to read before aborting (-1: at once; null: never). */
async function one(openai, kind, c, abortAfter) {
  const controller = new AbortController();
  if (abortAfter !== null && abortAfter < 0) setImmediate(() => controller.abort());
  let s;
  try {
    s = await streamed(openai, kind, params(kind, c, { stream_options: { include_usage: true } }), {
      signal: controller.signal,
      afterChunk: (n) => abortAfter !== null && n > abortAfter && controller.abort(),
    });
  } catch (e) {
    if (!(e instanceof OpenAI.APIUserAbortError)) throw e; // aborted before the answer started
    return 'aborted';
  }
  if (controller.signal.aborted) {
    assert.ok(c.text.startsWith(s.text), `the text before the abort is a prefix of the reference: ${JSON.stringify(s.text)}`);
    return 'aborted';
  }
  assert.equal(s.text, c.text, `${kind} ${JSON.stringify(c.prompt ?? c.messages)}`);
  assert.deepEqual(s.finishes, ['length']);
  assert.equal(s.ids.size, 1);
  assert.equal(s.usage?.completion_tokens, c.maxTokens, 'usage.completion_tokens');
  return 'answered';
}

test(`${REQUESTS} streams, ${CONCURRENCY} at a time, with random client cancels`, { timeout: 120_000 }, async () => {
  const seed = fixture.seed >>> 0;
  console.log(`load: seed ${seed}`);
  const rand = random(seed);
  const plan = Array.from({ length: REQUESTS }, () => {
    const kind = rand() < 0.5 ? 'completion' : 'chat';
    const cases = kind === 'chat' ? fixture.chats : fixture.completions;
    const c = cases[Math.floor(rand() * cases.length)];
    const abortAfter = rand() < 0.25 ? Math.floor(rand() * (c.maxTokens / 2 + 1)) - 1 : null;
    return { kind, c, abortAfter };
  });

  const before = await idle();
  const openai = client();
  const outcomes = { answered: 0, aborted: 0 };
  let next = 0;
  const started = Date.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < plan.length) {
      const i = next++;
      const { kind, c, abortAfter } = plan[i];
      try {
        outcomes[await one(openai, kind, c, abortAfter)]++;
      } catch (e) {
        e.message = `request ${i} (${kind}, abort after ${abortAfter}, seed ${seed}): ${e.message}`;
        throw e;
      }
    }
  }));
  console.log(`load: ${outcomes.answered} answered, ${outcomes.aborted} aborted in ${Date.now() - started} ms`);
  assert.equal(outcomes.answered + outcomes.aborted, REQUESTS);
  assert.ok(outcomes.answered >= plan.filter((p) => p.abortAfter === null).length);

  const after = await idle();
  assertIdle(after);
  const submitted = after.gatun_requests_submitted_total - before.gatun_requests_submitted_total;
  // a request aborted before its body was read is never submitted
  assert.ok(submitted >= outcomes.answered && submitted <= REQUESTS, `${submitted} submitted`);
  const gone = after.gatun_http_client_disconnects_total - before.gatun_http_client_disconnects_total;
  assert.ok(gone <= outcomes.aborted, `${gone} disconnects seen for ${outcomes.aborted} aborts`);
  console.log(`load: ${submitted} submitted, ${gone} seen to disconnect, ${after.gatun_preemptions_total - before.gatun_preemptions_total} preemptions`);
});
