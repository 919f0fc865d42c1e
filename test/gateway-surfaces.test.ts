// The two OpenAI surfaces beside chat, Responses and Messages, as a user of the official SDK relies on them:
// `POST /v1/embeddings` and the legacy `POST /v1/completions` — what reaches the provider, what the client gets
// back, and what is metered and billed (usage event, cost, Ngrok-AIG-* headers, access line).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import OpenAI from 'openai';
import { gw, startHarness, type Harness } from './helpers/gateway.ts';
import { LineCapture } from './helpers/log-capture.ts';
import { FAKE_USAGE } from './fake-upstream.ts';

/** Catalog list prices in micro-USD per million tokens (src/catalog/models.ts). */
const EMBEDDING_3_SMALL_MICRO = 20_000n;
const INSTRUCT_IN_MICRO = 1_500_000n;
const INSTRUCT_OUT_MICRO = 2_000_000n;
/** TOLLGATE_PROCESSING_FEE_USD_PER_MTOK below, in micro-USD. */
const FEE_MICRO = 50_000n;

describe('embeddings and legacy completions (sqlite)', () => {
  let h: Harness;
  const capture = new LineCapture();
  let token: string;
  /** An access key whose OpenAI requests go out with the account's own keys: `sk-byok`, then `sk-byok-b`. */
  let byok: string;
  const sdk = (t = token) => new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: t, maxRetries: 0 });
  const requestIdOf = (response: Response) => response.headers.get('ngrok-aig-request-id')!;
  const accessLine = async (requestId: string): Promise<Record<string, unknown>> => {
    for (let i = 0; i < 200; i++) {
      const line = capture.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.requestId === requestId && l.msg === 'request');
      if (line) return line;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`no access line for ${requestId}`);
  };

  before(async () => {
    h = await startHarness('sqlite', { TOLLGATE_PROCESSING_FEE_USD_PER_MTOK: '0.05' }, { logger: pino({ level: 'info' }, capture) });
    token = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'ngrok' }] }] } }))).token;
    const first = await h.providerKey('openai', 'sk-byok');
    const second = await h.providerKey('openai', 'sk-byok-b');
    byok = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: first }, { id: second }] }] }] } }))).token;
  });
  after(async () => { await h.close(); });

  test('embeddings through the SDK (base64 by default): the bytes go up untouched, vectors decode, usage has no output, cost is the catalog price', async () => {
    h.fake.reset();
    const { data, response } = await sdk().embeddings.create({ model: 'text-embedding-3-small', input: ['first', 'second'], dimensions: 3 }).withResponse();
    const sent = h.fake.requests[0]!;
    assert.equal(sent.path, '/v1/embeddings');
    // The SDK asks for base64 (it decodes the vectors itself): asked, answered and decoded as such.
    assert.equal(sent.body!.encoding_format, 'base64');
    assert.equal(sent.body!.dimensions, 3);
    assert.equal(data.data.length, 2);
    assert.equal(data.data[1]!.embedding.length, 3);
    assert.equal(data.data[1]!.embedding[0], Math.fround(2 / 1024 - 0.5));
    assert.deepEqual([response.headers.get('ngrok-aig-model'), response.headers.get('ngrok-aig-attempts')], ['text-embedding-3-small', '1']);
    const [row] = await h.usage(requestIdOf(response), 1);
    assert.deepEqual([row!.provider, row!.model, row!.keySource, row!.inputTokens, row!.outputTokens, row!.reasoningTokens, row!.cacheReadTokens, Number(row!.usageEstimated), Number(row!.isStreaming), row!.stopReason],
      ['openai', 'text-embedding-3-small', 'ngrok', FAKE_USAGE.input, 0, 0, 0, 0, 0, '']);
    const input = BigInt(FAKE_USAGE.input);
    assert.deepEqual([BigInt(row!.inputCostPico), BigInt(row!.outputCostPico), BigInt(row!.feePico), BigInt(row!.costPico)],
      [input * EMBEDDING_3_SMALL_MICRO, 0n, input * FEE_MICRO, input * (EMBEDDING_3_SMALL_MICRO + FEE_MICRO)]);
    const line = await accessLine(requestIdOf(response));
    assert.deepEqual([line.surface, line.modelServed, line.provider, line.inputTokens, line.outputTokens, line.streaming], ['embeddings', 'openai:text-embedding-3-small', 'openai', FAKE_USAGE.input, 0, false]);
  });

  test('an embeddings body goes up as the client wrote it (no re-serialisation), floats answered as floats', async () => {
    h.fake.reset();
    const raw = '{"model":"text-embedding-3-small","input":"x","encoding_format":"float","dimensions":2,"user":"u-1e2","extra":1.0}';
    const r = await gw(h, '/v1/embeddings', { token, body: raw });
    assert.equal(r.status, 200, r.text);
    assert.equal(h.fake.requests[0]!.rawBody, raw);
    assert.deepEqual(r.json().data[0].embedding, [1 / 1024 - 0.5, 2 / 1024 - 0.5].map(Math.fround));
  });

  test('without usage from the provider, the input is estimated: strings by tokenizer, token arrays by their length', async () => {
    const cases: [unknown, number][] = [
      ['hello world', 2],
      [['hello world', 'hello world'], 4],
      [[1000, 2000, 3000, 4000, 5000], 5],
      [[[100000, 100001, 100002], [7, 8]], 5],
    ];
    for (const [input, tokens] of cases) {
      const r = await gw(h, '/v1/embeddings', { token: byok, body: { model: 'openai:nousage-embed', input } });
      assert.equal(r.status, 200, r.text);
      const [row] = await h.usage(r.headers.get('ngrok-aig-request-id')!, 1);
      assert.deepEqual([Number(row!.usageEstimated), row!.inputTokensEstimate, row!.outputTokensEstimate, row!.inputTokens], [1, tokens, 0, 0], JSON.stringify(input));
    }
  });

  test('embeddings fail over like chat: a 429 with Retry-After moves to the next key; a chat or Claude model is refused with the surface error before any call', async () => {
    const limited = await h.providerKey('openai', 'sk-429', 'limited');
    const good = await h.providerKey('openai', 'sk-emb-good', 'good');
    const t = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: limited }, { id: good }] }] }] } }))).token;
    h.fake.reset();
    const { data, response } = await sdk(t).embeddings.create({ model: 'text-embedding-3-small', input: 'x' }).withResponse();
    assert.equal(data.data.length, 1);
    assert.equal(response.headers.get('ngrok-aig-attempts'), '2');
    assert.deepEqual(h.fake.requests.map((r) => [r.path, r.headers.authorization]), [['/v1/embeddings', 'Bearer sk-429'], ['/v1/embeddings', 'Bearer sk-emb-good']]);
    const rows = await h.usage(requestIdOf(response), 2);
    assert.deepEqual(rows.map((r) => [r.statusCode, r.retryAction, r.inputTokens]), [[429, 'next_key', 0], [200, 'succeeded', FAKE_USAGE.input]]);
    // Every key limited: the SDK's RateLimitError, in OpenAI's shape, with the provider's wait.
    const allLimited = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: limited }] }] }] } }))).token;
    const refused = await gw(h, '/v1/embeddings', { token: allLimited, body: { model: 'text-embedding-3-small', input: 'x' } });
    assert.equal(refused.status, 429, refused.text);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.equal(typeof refused.json().error.code, 'string');

    h.fake.reset();
    for (const model of ['gpt-4o', 'openai:gpt-4o', 'claude-sonnet-4-6', 'gpt-3.5-turbo-instruct']) {
      await assert.rejects(sdk().embeddings.create({ model, input: 'x' }), (e: unknown) => e instanceof OpenAI.BadRequestError && e.code === 'ERR_NGROK_27226', model);
    }
    for (const model of ['text-embedding-3-small', 'gpt-4o', 'claude-sonnet-4-6']) {
      await assert.rejects(sdk().completions.create({ model, prompt: 'x' }), (e: unknown) => e instanceof OpenAI.BadRequestError && e.code === 'ERR_NGROK_27226', model);
    }
    // The managed key serves catalogued models only, as on chat.
    const uncatalogued = await gw(h, '/v1/embeddings', { token, body: { model: 'openai:text-embedding-4-preview', input: 'x' } });
    assert.deepEqual([uncatalogued.status, uncatalogued.json().error.code], [400, 'ERR_NGROK_27233']);
    assert.equal(h.fake.requests.length, 0);
  });

  test('legacy completions: JSON with n, best_of and echo, billed on what the provider reports', async () => {
    h.fake.reset();
    const { data, response } = await sdk().completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'Say hi', n: 2, best_of: 3, echo: true, max_tokens: 5 }).withResponse();
    assert.equal(data.choices.length, 2);
    assert.match(data.choices[1]!.text, /^Say hi/);
    // The request goes up as written.
    assert.deepEqual([h.fake.requests[0]!.path, h.fake.requests[0]!.body!.best_of, h.fake.requests[0]!.body!.n], ['/v1/completions', 3, 2]);
    const [row] = await h.usage(requestIdOf(response), 1);
    const output = FAKE_USAGE.output * 3;
    assert.deepEqual([row!.model, row!.inputTokens, row!.outputTokens, row!.stopReason, Number(row!.usageEstimated)], ['gpt-3.5-turbo-instruct', FAKE_USAGE.input, output, 'stop', 0]);
    assert.equal(BigInt(row!.costPico), BigInt(FAKE_USAGE.input) * (INSTRUCT_IN_MICRO + FEE_MICRO) + BigInt(output) * (INSTRUCT_OUT_MICRO + FEE_MICRO));
    const line = await accessLine(requestIdOf(response));
    assert.deepEqual([line.surface, line.inputTokens, line.outputTokens], ['completions', FAKE_USAGE.input, output]);
  });

  test('legacy completions streamed: usage from the final chunk, asked for when the client did not, its chunk shown only when asked; the stop reason is choice 0\'s, whichever finishes first', async () => {
    for (const includeUsage of [false, true]) {
      h.fake.reset();
      const { data: stream, response } = await sdk().completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'Stream me', n: 2, stream: true, ...(includeUsage ? { stream_options: { include_usage: true } } : {}) }).withResponse();
      const texts = ['', ''];
      const finished: string[] = [];
      let usage: OpenAI.CompletionUsage | undefined;
      for await (const chunk of stream) {
        for (const c of chunk.choices) {
          texts[c.index] += c.text;
          if (c.finish_reason) finished.push(`${c.index}:${c.finish_reason}`);
        }
        if (chunk.usage) usage = chunk.usage;
      }
      assert.match(texts[1]!, /Stream me/);
      // OpenAI's completions chunks write `text` before `index`; choice 1 finishes first, and for another reason.
      assert.deepEqual(finished, ['1:length', '0:stop']);
      assert.equal(h.fake.requests[0]!.body!.stream_options !== undefined, true);
      assert.equal(usage?.completion_tokens, includeUsage ? FAKE_USAGE.output * 2 : undefined);
      const [row] = await h.usage(requestIdOf(response), 1);
      assert.deepEqual([row!.inputTokens, row!.outputTokens, row!.stopReason, Number(row!.isStreaming), Number(row!.usageEstimated)], [FAKE_USAGE.input, FAKE_USAGE.output * 2, 'stop', 1, 0]);
      const line = await accessLine(requestIdOf(response));
      assert.deepEqual([line.surface, line.streaming, line.outputTokens], ['completions', true, FAKE_USAGE.output * 2]);
    }
  });

  test('legacy completions without usage are estimated, JSON and streamed, every choice counted', async () => {
    const estimate = async (stream: boolean, n: number) => {
      const r = await gw(h, '/v1/completions', { token: byok, body: { model: 'openai:nousage-instruct', prompt: ['hello world', [1, 2, 3]], n, stream } });
      assert.equal(r.status, 200, r.text);
      const [row] = await h.usage(r.headers.get('ngrok-aig-request-id')!, 1);
      assert.deepEqual([Number(row!.usageEstimated), row!.inputTokensEstimate, row!.inputTokens, row!.outputTokens], [1, 5, 0, 0], `stream ${stream}`);
      return Number(row!.outputTokensEstimate);
    };
    const one = await estimate(false, 1);
    assert.ok(one > 5);
    assert.equal(await estimate(false, 2), 2 * one);
    // Streamed, the choices' pieces arrive interleaved and are counted as one text: the same words, a few tokens apart.
    const streamed = await estimate(true, 2);
    assert.ok(Math.abs(streamed - 2 * one) <= one / 4, `${streamed} for ${2 * one}`);
  });

  test('legacy completions errors come in OpenAI\'s shape, the provider\'s refusal passed through', async () => {
    const r = await gw(h, '/v1/completions', { token: byok, body: { model: 'openai:fail-400-instruct', prompt: 'x' } });
    assert.equal(r.status, 400);
    assert.equal(r.json().error.type, 'invalid_request_error');
    const mine = await gw(h, '/v1/completions', { token, body: { model: 'gpt-3.5-turbo-instruct', prompt: 'x', stream: 'yes' } });
    assert.deepEqual([mine.status, mine.json().error.code], [400, 'ERR_NGROK_3801']);
    assert.ok(mine.headers.get('ngrok-aig-request-id'));
  });

  test('a 2,048-input batch and its large answer pass through; the answer reaches the client while the provider is still writing it', async () => {
    h.fake.reset();
    const input = Array.from({ length: 2048 }, (_, i) => `document number ${i}`);
    // The SDK's default: base64 vectors, decoded by the SDK.
    const { data, response } = await sdk().embeddings.create({ model: 'text-embedding-3-small', input, dimensions: 1536 }).withResponse();
    assert.equal(data.data.length, 2048);
    assert.equal(data.data[2047]!.embedding.length, 1536);
    assert.equal(data.data[2047]!.embedding[1535], Math.fround((2048 * 1536) / 1024 - 0.5));
    assert.equal((h.fake.requests[0]!.body!.input as string[]).length, 2048);
    let [row] = await h.usage(requestIdOf(response), 1);
    assert.deepEqual([row!.inputTokens, Number(row!.usageEstimated), row!.completion, Number(row!.isError)], [FAKE_USAGE.input, 0, 'succeeded', 0]);
    // As floats (some 40 MB of JSON), from a provider that pauses half-way: the first half is already the client's.
    const res = await fetch(`${h.gatewayUrl}/v1/embeddings`, { method: 'POST', headers: { authorization: `Bearer ${byok}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'openai:quiet-1500-embed', input, dimensions: 1024, encoding_format: 'float' }) });
    const reader = res.body!.getReader();
    const first = await reader.read();
    // Ordering, not a clock: the client holds bytes while the provider is still pausing before the rest.
    const upstream = h.fake.requests.at(-1)!;
    assert.ok(!first.done);
    assert.notEqual(upstream.completed, true, 'the first bytes reached the client before the provider finished its answer');
    const parts: Uint8Array[] = [first.value!];
    for (let next = await reader.read(); !next.done; next = await reader.read()) parts.push(next.value);
    const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as OpenAI.CreateEmbeddingResponse;
    assert.deepEqual([body.data.length, body.data[5]!.embedding.length, body.usage.prompt_tokens], [2048, 1024, FAKE_USAGE.input]);
    [row] = await h.usage(res.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([row!.inputTokens, row!.outputTokens, Number(row!.usageEstimated), row!.completion], [FAKE_USAGE.input, 0, 0, 'succeeded']);
    assert.equal(res.headers.get('ngrok-aig-model'), 'quiet-1500-embed');
  });

  test('a large embeddings answer that breaks off after bytes went out: the client sees a broken answer, the attempt is stream_failed', async () => {
    const input = Array.from({ length: 2048 }, (_, i) => `document ${i}`);
    await assert.rejects(sdk(byok).embeddings.create({ model: 'openai:cut-embed', input, dimensions: 512, encoding_format: 'float' }));
    const requestId = await (async () => {
      for (let i = 0; i < 200; i++) {
        const row = await h.running.store.db.selectFrom('usageEvents').selectAll().where('model', '=', 'cut-embed').executeTakeFirst();
        if (row) return row.requestId;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error('no usage event for the cut answer');
    })();
    const rows = await h.usage(requestId, 1);
    assert.equal(rows.length, 1);
    assert.deepEqual([rows[0]!.completion, Number(rows[0]!.isError), Number(rows[0]!.usageEstimated)], ['stream_failed', 1, 1]);
    const line = await accessLine(requestId);
    assert.deepEqual([line.surface, line.completion, line.errorCode], ['embeddings', 'stream_failed', 'ERR_NGROK_27235']);
    // A small answer cut the same way is held, nothing of it sent: the next key is tried, and the client gets an error it can read.
    const small = await gw(h, '/v1/embeddings', { token: byok, body: { model: 'openai:cut-embed', input: 'x' } });
    assert.equal(small.status, 502, small.text);
    assert.equal(small.json().error.code, 'ERR_NGROK_27235');
    assert.equal((await h.usage(small.headers.get('ngrok-aig-request-id')!, 2)).length, 2);
  });
});
