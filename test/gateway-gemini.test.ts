// Gemini's native API through the gateway, driven by Google's own Gen AI SDK (`@google/genai`) as ngrok's guide sets
// it up: the gateway's URL as base URL, API version v1beta, the access key as API key. GenerateContent and its SSE
// stream pass through to Google's native endpoint with the stored Google key, metered from `usageMetadata`; refusals
// come in Google's error shape, which the SDK raises as ApiError. SQLite store.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, GoogleGenAI } from '@google/genai';
import { gw, startHarness, type Harness } from './helpers/gateway.ts';
import { FAKE_GEMINI_USAGE } from './fake-upstream.ts';

const MANAGED_GOOGLE_KEY = 'gk-managed-google-secret';
/** What the gateway bills of FAKE_GEMINI_USAGE: input = prompt + tool-use prompt, output = candidates + thoughts. */
const BILLED = {
  input: FAKE_GEMINI_USAGE.prompt + FAKE_GEMINI_USAGE.toolUsePrompt,
  output: FAKE_GEMINI_USAGE.candidates + FAKE_GEMINI_USAGE.thoughts,
  cacheRead: FAKE_GEMINI_USAGE.cached,
  reasoning: FAKE_GEMINI_USAGE.thoughts,
};

describe('Gemini native API through the Gen AI SDK (sqlite)', () => {
  let h: Harness;
  let ai: GoogleGenAI;
  let token: string;
  let limited: string;
  let good: string;
  before(async () => {
    h = await startHarness('sqlite');
    limited = await h.providerKey('google', 'sk-429', 'limited');
    good = await h.providerKey('google', 'AIza-fake-good', 'good');
    token = (await h.accessKey(await h.configuration({
      access: { providers: { allow: ['google', 'openai'] } },
      router: { rules: [{ provider: 'google', steps: [{ type: 'user', keys: [{ id: good }] }] }] },
    }))).token;
    ai = client(h, token);
  });
  after(async () => { await h.close(); });

  const lastUpstream = () => h.fake.requests.at(-1)!;

  test('generateContent: the answer and its usage as Google sent them, the stored Google key upstream in x-goog-api-key, billed from usageMetadata', async () => {
    const answer = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hello gemini' });
    assert.match(answer.text ?? '', /fake gemini-2\.5-flash model! You said: "hello gemini"/);
    assert.equal(answer.candidates?.[0]?.finishReason, 'STOP');
    assert.equal(answer.usageMetadata?.thoughtsTokenCount, FAKE_GEMINI_USAGE.thoughts);
    const headers = answer.sdkHttpResponse?.headers ?? {};
    assert.equal(headers['ngrok-aig-model'], 'gemini-2.5-flash');
    assert.equal(headers['ngrok-aig-attempts'], '1');
    const up = lastUpstream();
    assert.equal(up.path, '/v1beta/models/gemini-2.5-flash:generateContent');
    assert.equal(up.headers['x-goog-api-key'], 'AIza-fake-good');
    assert.equal(up.headers.authorization, undefined);
    assert.ok(!JSON.stringify(up.headers).includes(token), 'the access key never goes upstream');
    assert.deepEqual(up.body!.contents, [{ parts: [{ text: 'hello gemini' }], role: 'user' }]);
    assert.equal(up.body!.model, undefined, 'Gemini names the model in the path: nothing is added to the body');
    const [row] = await h.usage(headers['ngrok-aig-request-id']!, 1);
    assert.deepEqual(
      [row!.provider, row!.model, Number(row!.inputTokens), Number(row!.outputTokens), Number(row!.cacheReadTokens), Number(row!.reasoningTokens), row!.stopReason, Number(row!.usageEstimated), Number(row!.isStreaming), row!.completion],
      ['google', 'gemini-2.5-flash', BILLED.input, BILLED.output, BILLED.cacheRead, BILLED.reasoning, 'STOP', 0, 0, 'succeeded'],
    );
  });

  test('the body goes upstream byte for byte; `google:` and the key in ?key= are understood, and the ?key= stays here', async () => {
    const raw = '{"contents":[{"role":"user","parts":[{"text":"exact bytes"}]}],  "generationConfig": {"seed": 9007199254740993, "temperature": 1.0}}';
    const res = await gw(h, `/v1beta/models/google:gemini-2.5-flash:generateContent?key=${token}`, { body: raw });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('ngrok-aig-model'), 'gemini-2.5-flash');
    const up = lastUpstream();
    assert.equal(up.path, '/v1beta/models/gemini-2.5-flash:generateContent');
    assert.equal(up.query, '', 'the client\'s query (its access key) is not forwarded');
    assert.equal(up.rawBody, raw);
  });

  test('generateContentStream: SSE relayed as Google sent it (alt=sse upstream), billed from the last chunk\'s usageMetadata', async () => {
    const stream = await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'stream please' });
    let text = '';
    let last;
    for await (const chunk of stream) {
      text += chunk.text ?? '';
      last = chunk;
    }
    assert.match(text, /fake gemini-2\.5-flash model! You said: "stream please"/);
    assert.equal(last?.candidates?.[0]?.finishReason, 'STOP');
    const up = lastUpstream();
    assert.equal(up.path, '/v1beta/models/gemini-2.5-flash:streamGenerateContent');
    assert.equal(up.query, 'alt=sse');
    assert.equal(up.headers['x-goog-api-key'], 'AIza-fake-good');
    const requestId = last?.sdkHttpResponse?.headers?.['ngrok-aig-request-id'];
    assert.ok(requestId);
    const [row] = await h.usage(requestId, 1);
    assert.deepEqual(
      [Number(row!.inputTokens), Number(row!.outputTokens), Number(row!.cacheReadTokens), Number(row!.reasoningTokens), row!.stopReason, Number(row!.usageEstimated), Number(row!.isStreaming), row!.completion],
      [BILLED.input, BILLED.output, BILLED.cacheRead, BILLED.reasoning, 'STOP', 0, 1, 'succeeded'],
    );
  });

  test('streamGenerateContent without alt=sse (a JSON array at Google) is refused in Google\'s shape, naming the fix', async () => {
    const res = await gw(h, '/v1beta/models/gemini-2.5-flash:streamGenerateContent', { headers: { 'x-goog-api-key': token }, body: { contents: [{ parts: [{ text: 'x' }] }] } });
    assert.equal(res.status, 400);
    const { error } = res.json();
    assert.equal(error.status, 'INVALID_ARGUMENT');
    assert.match(error.message, /alt=sse/);
  });

  test('a stream without usage is billed on an estimate; one that breaks mid-way ends with an error chunk the SDK raises', async () => {
    let text = '';
    let requestId: string | undefined;
    for await (const chunk of await ai.models.generateContentStream({ model: 'google:nousage-gemini-x', contents: 'estimate me' })) {
      text += chunk.text ?? '';
      requestId = chunk.sdkHttpResponse?.headers?.['ngrok-aig-request-id'];
    }
    assert.match(text, /estimate me/);
    assert.equal(lastUpstream().path, '/v1beta/models/nousage-gemini-x:streamGenerateContent');
    const [estimated] = await h.usage(requestId!, 1);
    assert.equal(Number(estimated!.usageEstimated), 1);
    assert.ok(Number(estimated!.inputTokensEstimate) > 0 && Number(estimated!.outputTokensEstimate) > 0, 'input and output estimated from the request and the streamed text');
    assert.equal(estimated!.stopReason, 'STOP');

    const broken = await ai.models.generateContentStream({ model: 'google:broken-gemini-x', contents: 'break' });
    const seen: string[] = [];
    await assert.rejects((async () => { for await (const chunk of broken) seen.push(chunk.text ?? ''); })(), (e: unknown) => {
      assert.ok(e instanceof ApiError, String(e));
      assert.equal(e.status, 502);
      assert.match(e.message, /ERR_NGROK_27235/);
      return true;
    });
    assert.equal(seen.length, 1, 'the first chunk reached the client before the break');
  });

  test('a stream that opens with Google\'s error chunk fails the attempt before anything reached the client: the gateway\'s 503, which the SDK raises', async () => {
    await assert.rejects((async () => { for await (const chunk of await ai.models.generateContentStream({ model: 'google:overloaded-gemini-x', contents: 'x' })) void chunk; })(), (e: unknown) => {
      assert.ok(e instanceof ApiError, String(e));
      assert.equal(e.status, 503);
      assert.match(JSON.parse(e.message).error.message, /^ERR_NGROK_3807: All providers failed/);
      return true;
    });
  });

  test('a key outside the access scope is refused in Google\'s error shape, which the SDK raises as an ApiError with its status', async () => {
    const narrow = (await h.accessKey(await h.configuration({ access: { providers: { allow: ['openai'] } } }))).token;
    await assert.rejects(client(h, narrow).models.generateContent({ model: 'gemini-2.5-flash', contents: 'nope' }), (e: unknown) => {
      assert.ok(e instanceof ApiError, String(e));
      assert.equal(e.status, 403);
      const { error } = JSON.parse(e.message);
      assert.equal(error.code, 403);
      assert.equal(error.status, 'PERMISSION_DENIED');
      assert.match(error.message, /^ERR_NGROK_27231: Provider "google" is not allowed/);
      assert.equal(error.details[0].reason, 'ERR_NGROK_27231');
      return true;
    });
  });

  test('a model that does not speak Gemini\'s API is refused with 3813; a wrong access key with 401, both in Google\'s shape', async () => {
    await assert.rejects(ai.models.generateContent({ model: 'gpt-4o', contents: 'hi' }), (e: unknown) => {
      assert.ok(e instanceof ApiError, String(e));
      assert.equal(e.status, 400);
      const { error } = JSON.parse(e.message);
      assert.equal(error.status, 'INVALID_ARGUMENT');
      assert.match(error.message, /^ERR_NGROK_3813: .*gemini API format/);
      return true;
    });
    await assert.rejects(client(h, 'ng-not-a-key').models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' }), (e: unknown) => e instanceof ApiError && e.status === 401 && JSON.parse(e.message).error.status === 'UNAUTHENTICATED');
  });

  test('a rate-limited Google key fails over to the next; with every key limited, a 429 with Google\'s wait as Retry-After', async () => {
    const both = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'google', steps: [{ type: 'user', keys: [{ id: limited }, { id: good }] }] }] } }))).token;
    const answer = await client(h, both).models.generateContent({ model: 'gemini-2.5-flash', contents: 'failover' });
    assert.match(answer.text ?? '', /failover/);
    const headers = answer.sdkHttpResponse?.headers ?? {};
    assert.equal(headers['ngrok-aig-attempts'], '2');
    const rows = await h.usage(headers['ngrok-aig-request-id']!, 2);
    assert.deepEqual(rows.map((r) => [r.statusCode, r.retryAction, r.providerKeyId]), [[429, 'next_key', limited], [200, 'succeeded', good]]);

    const onlyLimited = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'google', steps: [{ type: 'user', keys: [{ id: limited }] }] }] } }))).token;
    const res = await gw(h, '/v1beta/models/gemini-2.5-flash:generateContent', { headers: { 'x-goog-api-key': onlyLimited }, body: { contents: [{ parts: [{ text: 'x' }] }] } });
    assert.equal(res.status, 429);
    assert.equal(res.json().error.status, 'RESOURCE_EXHAUSTED');
    assert.equal(res.headers.get('retry-after'), '2', 'RetryInfo\'s 1.2s, in whole seconds');
  });

  test('an upstream error is relayed as Google sent it', async () => {
    await assert.rejects(ai.models.generateContent({ model: 'google:fail-400-gemini', contents: 'bad' }), (e: unknown) => {
      assert.ok(e instanceof ApiError);
      assert.equal(e.status, 400);
      assert.deepEqual(JSON.parse(e.message).error.message, 'Request contains an invalid argument.');
      return true;
    });
  });
});

describe('Gemini native API on a managed Google key (sqlite)', () => {
  let h: Harness;
  before(async () => { h = await startHarness('sqlite', { TOLLGATE_MANAGED_GOOGLE_API_KEY: MANAGED_GOOGLE_KEY }); });
  after(async () => { await h.close(); });

  test('billed at the catalog\'s Gemini prices: uncached input, cached input and output (thoughts included)', async () => {
    const token = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'google', steps: [{ type: 'ngrok' }] }] } }))).token;
    const answer = await client(h, token).models.generateContent({ model: 'gemini-2.5-flash', contents: 'managed' });
    assert.equal(h.fake.requests.at(-1)!.headers['x-goog-api-key'], MANAGED_GOOGLE_KEY);
    const [row] = await h.usage(answer.sdkHttpResponse!.headers!['ngrok-aig-request-id']!, 1);
    assert.equal(row!.keySource, 'ngrok');
    // gemini-2.5-flash: $0.30 / $2.50 per million, cache reads $0.03 — pico-USD per token 300,000 / 2,500,000 / 30,000.
    const expected = BigInt(BILLED.input - BILLED.cacheRead) * 300_000n + BigInt(BILLED.cacheRead) * 30_000n + BigInt(BILLED.output) * 2_500_000n;
    assert.equal(BigInt(row!.costPico) - BigInt(row!.feePico), expected);
  });

  test('Google Search grounding (billed per prompt, at no price the catalog holds) is refused on a managed key; the account\'s output cap lands in generationConfig', async () => {
    const token = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'google', steps: [{ type: 'ngrok' }] }] } }))).token;
    const sent = h.fake.requests.length;
    await assert.rejects(client(h, token).models.generateContent({ model: 'gemini-2.5-flash', contents: 'search', config: { tools: [{ googleSearch: {} }] } }), (e: unknown) => {
      assert.ok(e instanceof ApiError, String(e));
      assert.equal(e.status, 400);
      assert.match(JSON.parse(e.message).error.message, /^ERR_NGROK_27238: .*"googleSearch"/);
      return true;
    });
    assert.equal(h.fake.requests.length, sent, 'nothing reached Google');

    await h.gatewayConfig({ maxOutputTokens: 100 });
    await client(h, token).models.generateContent({ model: 'gemini-2.5-flash', contents: 'capped', config: { maxOutputTokens: 5000, temperature: 0.5 } });
    assert.deepEqual(h.fake.requests.at(-1)!.body!.generationConfig, { maxOutputTokens: 100, temperature: 0.5 });
    await client(h, token).models.generateContent({ model: 'gemini-2.5-flash', contents: 'uncapped' });
    assert.deepEqual(h.fake.requests.at(-1)!.body!.generationConfig, { maxOutputTokens: 100 }, 'a request without a limit gets the cap');
  });
});

function client(h: Harness, apiKey: string): GoogleGenAI {
  return new GoogleGenAI({ apiKey, apiVersion: 'v1beta', httpOptions: { baseUrl: h.gatewayUrl } });
}
