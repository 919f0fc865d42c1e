// Gemini's native API through the gateway, driven by Google's own Gen AI SDK (`@google/genai`) as ngrok's guide sets
// it up: the gateway's URL as base URL, API version v1beta, the access key as API key. GenerateContent and its SSE
// stream pass through to Google's native endpoint with the stored Google key, metered from `usageMetadata`; refusals
// come in Google's error shape, which the SDK raises as ApiError. SQLite store.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, FunctionCallingConfigMode, GoogleGenAI, HarmBlockThreshold, HarmCategory, Type, type FunctionCall, type GenerateContentResponse } from '@google/genai';
import OpenAI from 'openai';
import { gw, startHarness, type Harness } from './helpers/gateway.ts';
import { FAKE_GEMINI_TOKEN_COUNT, FAKE_GEMINI_USAGE, FAKE_INTERACTIONS_USAGE, FAKE_TOKEN_COUNT, FAKE_USAGE } from './fake-upstream.ts';
import { estimateRequestInputTokens } from '../src/domain/tokens.ts';

const MANAGED_GOOGLE_KEY = 'gk-managed-google-secret';
/** What the gateway bills of FAKE_GEMINI_USAGE: input = prompt + tool-use prompt, output = candidates + thoughts. */
const BILLED = {
  input: FAKE_GEMINI_USAGE.prompt + FAKE_GEMINI_USAGE.toolUsePrompt,
  output: FAKE_GEMINI_USAGE.candidates + FAKE_GEMINI_USAGE.thoughts,
  cacheRead: FAKE_GEMINI_USAGE.cached,
  reasoning: FAKE_GEMINI_USAGE.thoughts,
};

/** A usage row as these tests compare it: who served, the tokens billed, how it ended. */
function meteredAs(row: Awaited<ReturnType<Harness['usage']>>[number]): unknown[] {
  return [row.provider, row.model, Number(row.inputTokens), Number(row.outputTokens), Number(row.cacheReadTokens), Number(row.reasoningTokens), row.stopReason, Number(row.usageEstimated), Number(row.isStreaming), row.completion];
}

describe('Gemini native API through the Gen AI SDK (sqlite)', () => {
  let h: Harness;
  let ai: GoogleGenAI;
  let token: string;
  let limited: string;
  let good: string;
  before(async () => {
    ({ h, limited, good, token } = await googleKeys());
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
    assert.deepEqual(meteredAs(row!), ['google', 'gemini-2.5-flash', BILLED.input, BILLED.output, BILLED.cacheRead, BILLED.reasoning, 'STOP', 0, 0, 'succeeded']);
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

  test('a model that does not speak Gemini\'s API, nor one it translates to, is refused with 3813; a wrong access key with 401, both in Google\'s shape', async () => {
    await assert.rejects(ai.models.generateContent({ model: 'text-embedding-3-small', contents: 'hi' }), (e: unknown) => {
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
    const both = await routedTo(h, limited, good);
    const answer = await client(h, both).models.generateContent({ model: 'gemini-2.5-flash', contents: 'failover' });
    assert.match(answer.text ?? '', /failover/);
    const headers = answer.sdkHttpResponse?.headers ?? {};
    assert.equal(headers['ngrok-aig-attempts'], '2');
    const rows = await h.usage(headers['ngrok-aig-request-id']!, 2);
    assert.deepEqual(rows.map((r) => [r.statusCode, r.retryAction, r.providerKeyId]), [[429, 'next_key', limited], [200, 'succeeded', good]]);

    const onlyLimited = await routedTo(h, limited);
    const res = await gw(h, '/v1beta/models/gemini-2.5-flash:generateContent', { headers: { 'x-goog-api-key': onlyLimited }, body: { contents: [{ parts: [{ text: 'x' }] }] } });
    assert.equal(res.status, 429);
    assert.equal(res.json().error.status, 'RESOURCE_EXHAUSTED');
    assert.equal(res.headers.get('retry-after'), '2', 'RetryInfo\'s 1.2s, in whole seconds');
  });

  test('countTokens: passed to Google\'s :countTokens with the stored key, the count as Google sent it; recorded, never billed', async () => {
    const counted = await ai.models.countTokens({ model: 'gemini-2.5-flash', contents: 'count these words' });
    assert.equal(counted.totalTokens, FAKE_GEMINI_TOKEN_COUNT);
    const up = lastUpstream();
    assert.equal(up.path, '/v1beta/models/gemini-2.5-flash:countTokens');
    assert.equal(up.headers['x-goog-api-key'], 'AIza-fake-good');
    assert.ok(!JSON.stringify(up.headers).includes(token), 'the access key never goes upstream');
    assert.deepEqual(up.body!.contents, [{ parts: [{ text: 'count these words' }], role: 'user' }]);
    const headers = counted.sdkHttpResponse?.headers ?? {};
    assert.equal(headers['ngrok-aig-model'], 'gemini-2.5-flash');
    const [row] = await h.usage(headers['ngrok-aig-request-id']!, 1);
    assert.deepEqual(
      [row!.provider, row!.model, Number(row!.inputTokens), Number(row!.outputTokens), Number(row!.usageEstimated), BigInt(row!.costPico), row!.completion],
      ['google', 'gemini-2.5-flash', 0, 0, 0, 0n, 'succeeded'],
    );

    const narrow = (await h.accessKey(await h.configuration({ access: { providers: { allow: ['openai'] } } }))).token;
    await assert.rejects(client(h, narrow).models.countTokens({ model: 'gemini-2.5-flash', contents: 'nope' }), (e: unknown) => {
      assert.ok(e instanceof ApiError, String(e));
      assert.equal(e.status, 403);
      assert.match(JSON.parse(e.message).error.message, /^ERR_NGROK_27231: /);
      return true;
    });
    // A model that neither generates nor is counted anywhere (an embedding model) is refused as generateContent is.
    await assert.rejects(ai.models.countTokens({ model: 'text-embedding-3-small', contents: 'hi' }), (e: unknown) => e instanceof ApiError && e.status === 400 && /^ERR_NGROK_3813: /.test(JSON.parse(e.message).error.message));
  });

  test('embedContent: one content or several go to Google\'s :batchEmbedContents, the embeddings as Google sent them; billed on an estimate of the input (Google reports no usage)', async () => {
    const answer = await ai.models.embedContent({ model: 'gemini-embedding-001', contents: ['the first text to embed', 'a second one'], config: { outputDimensionality: 4 } });
    assert.equal(answer.embeddings?.length, 2);
    assert.equal(answer.embeddings[0]!.values?.length, 4);
    let up = lastUpstream();
    assert.equal(up.path, '/v1beta/models/gemini-embedding-001:batchEmbedContents');
    assert.equal(up.headers['x-goog-api-key'], 'AIza-fake-good');
    const requestId = answer.sdkHttpResponse?.headers?.['ngrok-aig-request-id'];
    assert.ok(requestId);
    const [row] = await h.usage(requestId, 1);
    assert.deepEqual([row!.provider, row!.model, Number(row!.usageEstimated), Number(row!.outputTokens), Number(row!.isStreaming), row!.completion], ['google', 'gemini-embedding-001', 1, 0, 0, 'succeeded']);
    assert.ok(Number(row!.inputTokensEstimate) > 0, 'input estimated from the texts');
    assert.equal(Number(row!.outputTokensEstimate), 0);

    // The provider named in the model: each request's own `model` is the one the call goes to, as Google requires.
    const one = await ai.models.embedContent({ model: 'google:gemini-embedding-001', contents: 'just one' });
    assert.equal(one.embeddings?.length, 1);
    up = lastUpstream();
    assert.equal(up.path, '/v1beta/models/gemini-embedding-001:batchEmbedContents');
    assert.deepEqual((up.body!.requests as { model: string }[]).map((r) => r.model), ['models/gemini-embedding-001']);

    await assert.rejects(ai.models.embedContent({ model: 'gemini-2.5-flash', contents: 'x' }), (e: unknown) => e instanceof ApiError && e.status === 400 && /^ERR_NGROK_3813: /.test(JSON.parse(e.message).error.message));
  });

  test(':embedContent (one content, as REST callers, LangChain and older SDKs send it) goes to Google\'s :embedContent byte for byte, the embedding as Google sent it; billed on an estimate of its text', async () => {
    const raw = '{"content": {"parts": [{"text": "embed this single text"}]}, "taskType": "RETRIEVAL_DOCUMENT", "title": "A title", "outputDimensionality": 4}';
    const res = await gw(h, '/v1beta/models/gemini-embedding-001:embedContent', { headers: { 'x-goog-api-key': token }, body: raw });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json().embedding.values.length, 4);
    assert.equal(res.headers.get('ngrok-aig-model'), 'gemini-embedding-001');
    let up = lastUpstream();
    assert.equal(up.path, '/v1beta/models/gemini-embedding-001:embedContent');
    assert.equal(up.headers['x-goog-api-key'], 'AIza-fake-good');
    assert.ok(!JSON.stringify(up.headers).includes(token), 'the access key never goes upstream');
    assert.equal(up.rawBody, raw);
    const [row] = await h.usage(res.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([row!.provider, row!.model, Number(row!.usageEstimated), Number(row!.outputTokens), Number(row!.isStreaming), row!.completion], ['google', 'gemini-embedding-001', 1, 0, 0, 'succeeded']);
    // The estimate counts the content's text (Google embeds its parts' text only): "embed this single text" is 4 tokens.
    assert.equal(Number(row!.inputTokensEstimate), 4);

    // Google's REST spelling; the provider in the path, and a body naming the model as the client asked it: the body's
    // model is the one the call goes to, as Google requires.
    const snake = await gw(h, '/v1beta/models/google:gemini-embedding-001:embedContent', { headers: { 'x-goog-api-key': token }, body: { model: 'models/google:gemini-embedding-001', content: { parts: [{ text: 'snake' }] }, task_type: 'SEMANTIC_SIMILARITY', output_dimensionality: 3 } });
    assert.equal(snake.status, 200, snake.text);
    assert.equal(snake.json().embedding.values.length, 3);
    up = lastUpstream();
    assert.equal(up.path, '/v1beta/models/gemini-embedding-001:embedContent');
    assert.deepEqual([up.body!.model, up.body!.task_type, up.body!.output_dimensionality], ['models/gemini-embedding-001', 'SEMANTIC_SIMILARITY', 3]);

    // A rate-limited key fails over to the next, as for every call.
    const both = await routedTo(h, limited, good);
    const failover = await gw(h, '/v1beta/models/gemini-embedding-001:embedContent', { headers: { 'x-goog-api-key': both }, body: { content: { parts: [{ text: 'failover' }] } } });
    assert.deepEqual([failover.status, failover.headers.get('ngrok-aig-attempts')], [200, '2'], failover.text);
    const rows = await h.usage(failover.headers.get('ngrok-aig-request-id')!, 2);
    assert.deepEqual(rows.map((r) => [r.statusCode, r.retryAction, r.providerKeyId]), [[429, 'next_key', limited], [200, 'succeeded', good]]);

    // The access scope, and the models that embed, as for :batchEmbedContents.
    const narrow = (await h.accessKey(await h.configuration({ access: { providers: { allow: ['openai'] } } }))).token;
    const outside = await gw(h, '/v1beta/models/gemini-embedding-001:embedContent', { headers: { 'x-goog-api-key': narrow }, body: { content: { parts: [{ text: 'x' }] } } });
    assert.deepEqual([outside.status, outside.json().error.status], [403, 'PERMISSION_DENIED']);
    assert.match(outside.json().error.message, /^ERR_NGROK_27231: /);
    const generating = await gw(h, '/v1beta/models/gemini-2.5-flash:embedContent', { headers: { 'x-goog-api-key': token }, body: { content: { parts: [{ text: 'x' }] } } });
    assert.equal(generating.status, 400);
    assert.match(generating.json().error.message, /^ERR_NGROK_3813: /);
  });

  test('"ngrok/auto", and a virtual model standing for it, are told on Gemini\'s native paths that those paths name their one model, not about fallbacks or token counting', async () => {
    const refusal = async (call: Promise<unknown>): Promise<string> => {
      const e: unknown = await call.then(() => undefined, (error: unknown) => error);
      assert.ok(e instanceof ApiError, String(e));
      assert.equal(e.status, 400);
      return JSON.parse(e.message).error.message as string;
    };
    const sent = h.fake.requests.length;
    const literal = await refusal(ai.models.generateContent({ model: 'ngrok/auto', contents: 'pick one' }));
    assert.match(literal, /^ERR_NGROK_3801: .*"ngrok\/auto" \(automatic model selection\) is not served on Gemini's native API \(\/v1beta\/models\/\{model\}:…\): its path names the one model that answers\. Name a model, such as "gemini-2\.5-flash"\.$/);
    assert.doesNotMatch(literal, /fallback|"models"|token counting/);
    const virtual = await h.api<{ id: string }>('POST', '/virtual-models', { name: 'gemini-auto', targets: ['ngrok/auto'] });
    const standing = await refusal(ai.models.generateContent({ model: 'gemini-auto', contents: 'pick one' }));
    assert.match(standing, /^ERR_NGROK_3801: .*virtual model "gemini-auto" stands for "ngrok\/auto" \(automatic model selection\), which is not served on Gemini's native API .*Name a model, such as "gemini-2\.5-flash"\.$/);
    assert.doesNotMatch(standing, /fallback|"models"/);
    const streamed = await refusal((async () => { for await (const chunk of await ai.models.generateContentStream({ model: 'gemini-auto', contents: 'x' })) void chunk; })());
    assert.match(streamed, /which is not served on Gemini's native API/);
    const embedding = await gw(h, '/v1beta/models/gemini-auto:embedContent', { headers: { 'x-goog-api-key': token }, body: { content: { parts: [{ text: 'x' }] } } });
    assert.match(embedding.json().error.message, /which is not served on Gemini's native API .*"gemini-embedding-001"/);
    assert.equal(h.fake.requests.length, sent, 'nothing went upstream');
    await h.api('DELETE', `/virtual-models/${virtual.id}`);
  });

  test('the Gen AI SDK on API version v1 (its default in 3.x) gets a 404 in Google\'s shape saying to give it apiVersion v1beta', async () => {
    const v1 = new GoogleGenAI({ apiKey: token, apiVersion: 'v1', httpOptions: { baseUrl: h.gatewayUrl } });
    const sent = h.fake.requests.length;
    const refused = (method: string) => (e: unknown) => {
      assert.ok(e instanceof ApiError && e.status === 404, String(e));
      const error = JSON.parse(e.message).error;
      assert.equal(error.status, 'NOT_FOUND', 'Google\'s shape, which the SDK reads');
      assert.equal(error.message, `ERR_NGROK_27204: Unsupported API surface "/v1/models/gemini-2.5-flash:${method}" (POST). Did you mean /v1beta/models/gemini-2.5-flash:${method}? Gemini's API is served as version v1beta: give Google's Gen AI SDK apiVersion: 'v1beta' (its default is v1).`);
      return true;
    };
    await assert.rejects(v1.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' }), refused('generateContent'));
    await assert.rejects(v1.models.countTokens({ model: 'gemini-2.5-flash', contents: 'hi' }), refused('countTokens'));
    // Any other POST under /v1/models/ names no v1beta path: no hint.
    const other = await gw(h, '/v1/models/gpt-4o', { token, body: {} });
    assert.deepEqual([other.status, other.json().error.message], [404, 'ERR_NGROK_27204: Unsupported API surface "/v1/models/gpt-4o" (POST).']);
    // Its model pages too: served OpenAI's listing at /v1/models, its pager read no model at all.
    const listRefused = (e: unknown) => {
      assert.ok(e instanceof ApiError && e.status === 404, String(e));
      assert.equal(JSON.parse(e.message).error.status, 'NOT_FOUND');
      assert.equal(JSON.parse(e.message).error.message, 'ERR_NGROK_27204: Unsupported API surface "/v1/models" (GET). Did you mean /v1beta/models? Gemini\'s API is served as version v1beta: give Google\'s Gen AI SDK apiVersion: \'v1beta\' (its default is v1).');
      return true;
    };
    await assert.rejects(v1.models.list(), listRefused);
    const one = await gw(h, '/v1/models/gemini-2.5-flash', { method: 'GET', token, headers: { 'x-goog-api-key': token } });
    assert.equal(one.status, 404);
    assert.match(one.json().error.message, /Did you mean \/v1beta\/models\/gemini-2\.5-flash\?/);
    // An OpenAI client's listing is as it was.
    assert.equal((await gw(h, '/v1/models', { method: 'GET', token })).status, 200);
    assert.equal(h.fake.requests.length, sent, 'nothing went upstream');
  });

  test('models.list and models.get: the Google models the access key may use and the models Gemini\'s methods reach by translation (chat models and Claude for generateContent, OpenAI embedding models for embedContent), in Google\'s shape and pages, from the catalog with no upstream call', async () => {
    const sent = h.fake.requests.length;
    const pager = await ai.models.list({ config: { pageSize: 3 } });
    assert.equal(pager.page.length, 3, 'pageSize honoured');
    const names: string[] = [];
    for await (const model of pager) names.push(model.name!);
    assert.ok(names.length > 3, 'the pager fetched the next pages');
    assert.equal(new Set(names).size, names.length);
    assert.ok(names.includes('models/gemini-2.5-flash') && names.includes('models/gemini-embedding-001'), names.join());
    // Google's models, the OpenAI embedding models embedContent reaches, and the chat models and Claude generateContent
    // reaches; not a model no Gemini method reaches (a legacy-completions or realtime model).
    for (const listed of ['models/text-embedding-3-small', 'models/gpt-4o', 'models/o3']) assert.ok(names.includes(listed), `${listed} in ${names.join()}`);
    assert.ok(!names.includes('models/gpt-3.5-turbo-instruct') && !names.some((n) => n.includes('realtime')), names.join());
    const whole = [];
    for await (const model of await ai.models.list()) whole.push(model.name);
    assert.deepEqual(whole, names, 'one page without pageSize');

    const flash = await ai.models.get({ model: 'gemini-2.5-flash' });
    assert.deepEqual(
      [flash.name, flash.displayName, flash.inputTokenLimit, flash.outputTokenLimit, flash.supportedActions],
      ['models/gemini-2.5-flash', 'Gemini 2.5 Flash', 1_048_576, 65_536, ['generateContent', 'countTokens']],
    );
    assert.deepEqual((await ai.models.get({ model: 'models/gemini-embedding-001' })).supportedActions, ['embedContent']);
    const openaiEmbedding = await ai.models.get({ model: 'text-embedding-3-small' });
    assert.deepEqual([openaiEmbedding.name, openaiEmbedding.supportedActions], ['models/text-embedding-3-small', ['embedContent']]);
    const gpt = await ai.models.get({ model: 'gpt-4o' });
    assert.deepEqual([gpt.name, gpt.displayName, gpt.inputTokenLimit, gpt.supportedActions], ['models/gpt-4o', 'GPT-4o', 128_000, ['generateContent', 'countTokens']]);
    // A key that may use every provider: Claude, DeepSeek's chat models, every one under the name a request sends.
    const everything = client(h, (await h.accessKey(await h.configuration({}))).token);
    const all: string[] = [];
    for await (const model of await everything.models.list({ config: { pageSize: 7 } })) all.push(model.name!);
    assert.equal(new Set(all).size, all.length, 'paged without repeats');
    for (const listed of ['models/claude-sonnet-4-6', 'models/deepseek-chat', 'models/gemini-2.5-flash']) assert.ok(all.includes(listed), `${listed} in ${all.join()}`);
    const claude = await everything.models.get({ model: 'anthropic:claude-sonnet-4-6' });
    assert.deepEqual([claude.name, claude.supportedActions], ['models/claude-sonnet-4-6', ['generateContent', 'countTokens']]);
    await assert.rejects(ai.models.get({ model: 'gpt-3.5-turbo-instruct' }), (e: unknown) => e instanceof ApiError && e.status === 404 && JSON.parse(e.message).error.status === 'NOT_FOUND');
    assert.equal(h.fake.requests.length, sent, 'nothing reached Google');

    const narrow = (await h.accessKey(await h.configuration({ access: { providers: { allow: ['openai'] } } }))).token;
    const none = await gw(h, `/v1beta/models?key=${narrow}`);
    assert.equal(none.status, 200, none.text);
    const openaiOnly = none.json().models as { name: string; supportedGenerationMethods: string[] }[];
    assert.ok(openaiOnly.length > 3 && openaiOnly.every((m) => !m.name.startsWith('models/gemini-') && !m.name.startsWith('models/claude-')), 'only what Gemini\'s API reaches of OpenAI\'s');
    assert.deepEqual(openaiOnly.filter((m) => m.supportedGenerationMethods.includes('embedContent')).map((m) => m.name), ['models/text-embedding-3-small', 'models/text-embedding-3-large', 'models/text-embedding-ada-002']);
    assert.ok(openaiOnly.some((m) => m.name === 'models/gpt-4o'));
    await assert.rejects(client(h, narrow).models.get({ model: 'gemini-2.5-flash' }), (e: unknown) => e instanceof ApiError && e.status === 404);
    for (const query of ['pageSize=-1', 'pageSize=ten', 'pageToken=models%2Fnot-in-the-list']) {
      const bad = await gw(h, `/v1beta/models?${query}`, { headers: { 'x-goog-api-key': token } });
      assert.deepEqual([bad.status, bad.json().error.status], [400, 'INVALID_ARGUMENT'], query);
    }
    // A method's path asked with GET is no model page: a known path with the wrong method.
    const wrongMethod = await gw(h, '/v1beta/models/gemini-2.5-flash:countTokens', { headers: { 'x-goog-api-key': token } });
    assert.match(wrongMethod.json().error.message, /^ERR_NGROK_27204: /);
    const unauthenticated = await gw(h, '/v1beta/models');
    assert.equal(unauthenticated.status, 401);
    assert.equal(unauthenticated.json().error.status, 'UNAUTHENTICATED');
  });

  test('a virtual model whose first target no Gemini method reaches (a realtime model) is listed and got as the target a request goes on to, as generateContent serves it', async () => {
    const narrow = client(h, (await h.accessKey(await h.configuration({ access: { providers: { allow: ['openai'] } } }))).token);
    const virtual = await h.api<{ id: string }>('POST', '/virtual-models', { name: 'voice-or-text', targets: ['openai/gpt-realtime', 'openai/gpt-4o'] });
    const answer = await narrow.models.generateContent({ model: 'voice-or-text', contents: 'hi' });
    assert.match(answer.text!, /fake gpt-4o model/);
    const names: string[] = [];
    for await (const model of await narrow.models.list()) names.push(model.name!);
    assert.ok(names.includes('models/voice-or-text'), names.join());
    const got = await narrow.models.get({ model: 'voice-or-text' });
    assert.deepEqual([got.name, got.displayName, got.inputTokenLimit, got.supportedActions], ['models/voice-or-text', 'voice-or-text', 128_000, ['generateContent', 'countTokens']]);
    await h.api('DELETE', `/virtual-models/${virtual.id}`);
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

  test('a file of the Files API (kept in the operator\'s project) is refused on a managed key, by URI or by name; a public URL is served', async () => {
    const token = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'google', steps: [{ type: 'ngrok' }] }] } }))).token;
    const sent = h.fake.requests.length;
    for (const fileUri of ['https://generativelanguage.googleapis.com/v1beta/files/abc123', 'files/abc123']) {
      await assert.rejects(client(h, token).models.generateContent({ model: 'gemini-2.5-flash', contents: [{ role: 'user', parts: [{ text: 'summarise' }, { fileData: { fileUri, mimeType: 'application/pdf' } }] }] }), (e: unknown) => {
        assert.ok(e instanceof ApiError, String(e));
        assert.equal(e.status, 400);
        assert.match(JSON.parse(e.message).error.message, /^ERR_NGROK_AI_GATEWAY_MANAGED_KEY_STORED_STATE_UNSUPPORTED: .*can't use `fileData\.fileUri`.*add your own Google key/);
        return true;
      }, fileUri);
    }
    assert.equal(h.fake.requests.length, sent, 'nothing reached Google');
    await client(h, token).models.generateContent({ model: 'gemini-2.5-flash', contents: [{ role: 'user', parts: [{ text: 'summarise' }, { fileData: { fileUri: 'https://www.youtube.com/watch?v=9hE5-98ZeCg' } }] }] });
    assert.equal(h.fake.requests.length, sent + 1);
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

    // Token counting generates nothing: the cap is not added to it, and it costs nothing, fee included.
    const counted = await client(h, token).models.countTokens({ model: 'gemini-2.5-flash', contents: 'count' });
    assert.equal(counted.totalTokens, FAKE_GEMINI_TOKEN_COUNT);
    assert.equal(h.fake.requests.at(-1)!.body!.generationConfig, undefined);
    const [row] = await h.usage(counted.sdkHttpResponse!.headers!['ngrok-aig-request-id']!, 1);
    assert.deepEqual([row!.keySource, BigInt(row!.costPico)], ['ngrok', 0n]);
  });

  test('embeddings on the managed key are billed at the catalog\'s gemini-embedding-001 price, $0.15 per million input tokens', async () => {
    const token = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'google', steps: [{ type: 'ngrok' }] }] } }))).token;
    const answer = await client(h, token).models.embedContent({ model: 'gemini-embedding-001', contents: ['price this text'] });
    assert.equal(answer.embeddings?.length, 1);
    assert.equal(h.fake.requests.at(-1)!.headers['x-goog-api-key'], MANAGED_GOOGLE_KEY);
    const [row] = await h.usage(answer.sdkHttpResponse!.headers!['ngrok-aig-request-id']!, 1);
    assert.equal(row!.keySource, 'ngrok');
    assert.equal(Number(row!.usageEstimated), 1);
    assert.ok(Number(row!.inputTokensEstimate) > 0);
    assert.equal(BigInt(row!.costPico) - BigInt(row!.feePico), BigInt(row!.inputTokensEstimate) * 150_000n);
  });

  test('OpenAI\'s /v1/embeddings on gemini-embedding-001 (the model /v1/models lists) passes through to Google\'s OpenAI-compatible embeddings, billed on an estimate at $0.15 per million input tokens (Google reports no usage)', async () => {
    const token = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'google', steps: [{ type: 'ngrok' }] }] } }))).token;
    const openai = new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: token, maxRetries: 0 });
    const listed: string[] = [];
    for await (const m of openai.models.list()) listed.push(m.id);
    assert.ok(listed.includes('google/gemini-embedding-001'));
    const { data, response } = await openai.embeddings.create({ model: 'google/gemini-embedding-001', input: ['first text', 'second text'] }).withResponse();
    assert.deepEqual(data.data.map((d) => [d.index, d.embedding.length]), [[0, 4], [1, 4]]);
    assert.equal(response.headers.get('ngrok-aig-model'), 'gemini-embedding-001');
    const up = h.fake.requests.at(-1)!;
    assert.equal(up.path, '/v1beta/openai/embeddings');
    assert.equal(up.headers.authorization, `Bearer ${MANAGED_GOOGLE_KEY}`);
    assert.deepEqual([up.body!.model, up.body!.input], ['gemini-embedding-001', ['first text', 'second text']]);
    const [row] = await h.usage(response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([row!.keySource, row!.provider, row!.model, Number(row!.usageEstimated), row!.completion], ['ngrok', 'google', 'gemini-embedding-001', 1, 'succeeded']);
    assert.ok(Number(row!.inputTokensEstimate) > 0);
    assert.equal(BigInt(row!.costPico) - BigInt(row!.feePico), BigInt(row!.inputTokensEstimate) * 150_000n);
  });

  test('embedContent translated to text-embedding-3-small on the managed OpenAI key is billed at that model\'s $0.02 per million input tokens, on OpenAI\'s count', async () => {
    const token = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'ngrok' }] }] } }))).token;
    const answer = await client(h, token).models.embedContent({ model: 'text-embedding-3-small', contents: ['price this text'] });
    assert.equal(answer.embeddings?.length, 1);
    assert.equal(h.fake.requests.at(-1)!.path, '/v1/embeddings');
    const [row] = await h.usage(answer.sdkHttpResponse!.headers!['ngrok-aig-request-id']!, 1);
    assert.deepEqual([row!.keySource, row!.model, Number(row!.inputTokens), Number(row!.usageEstimated)], ['ngrok', 'text-embedding-3-small', FAKE_USAGE.input, 0]);
    assert.equal(BigInt(row!.inputCostPico), BigInt(FAKE_USAGE.input) * 20_000n);
  });

  test('a Gemini embeddings batch over OpenAI\'s 2,048 inputs per call, for an OpenAI embedding model, is refused before any call in Google\'s shape', async () => {
    const token = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'ngrok' }] }] } }))).token;
    const sent = h.fake.requests.length;
    const contents = Array.from({ length: 2049 }, (_, i) => `text ${i}`);
    await assert.rejects(client(h, token).models.embedContent({ model: 'text-embedding-3-small', contents }), (e: unknown) => {
      assert.ok(e instanceof ApiError && e.status === 400, String(e));
      const error = JSON.parse(e.message).error;
      assert.equal(error.status, 'INVALID_ARGUMENT');
      assert.match(error.message, /^ERR_NGROK_27226: .*2049 contents in one batch.*at most 2048 in one call/);
      return true;
    });
    assert.equal(h.fake.requests.length, sent, 'nothing went upstream');
  });

  test(':embedContent on the managed key is billed as :batchEmbedContents is, at gemini-embedding-001\'s $0.15 per million input tokens', async () => {
    const token = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'google', steps: [{ type: 'ngrok' }] }] } }))).token;
    const res = await gw(h, '/v1beta/models/gemini-embedding-001:embedContent', { headers: { 'x-goog-api-key': token }, body: { content: { parts: [{ text: 'price this single text' }] } } });
    assert.equal(res.status, 200, res.text);
    assert.equal(h.fake.requests.at(-1)!.headers['x-goog-api-key'], MANAGED_GOOGLE_KEY);
    const [row] = await h.usage(res.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([row!.keySource, Number(row!.usageEstimated)], ['ngrok', 1]);
    assert.ok(Number(row!.inputTokensEstimate) > 0);
    assert.equal(BigInt(row!.costPico) - BigInt(row!.feePico), BigInt(row!.inputTokensEstimate) * 150_000n);
  });

  test('audio input (billed by Google above the text price the catalog holds) is refused on the managed key as on chat: inline or by file, in either spelling, streamed or not; images still pass', async () => {
    const token = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'google', steps: [{ type: 'ngrok' }] }] } }))).token;
    const m = client(h, token);
    const sent = h.fake.requests.length;
    const audioRefused = (e: unknown) => {
      assert.ok(e instanceof ApiError, String(e));
      assert.equal(e.status, 400);
      assert.match(JSON.parse(e.message).error.message, /^ERR_NGROK_27238: .*audio input/);
      return true;
    };
    const spoken = [{ role: 'user', parts: [{ text: 'transcribe this' }, { inlineData: { mimeType: 'audio/wav', data: 'UklGRiQAAABXQVZF' } }] }];
    await assert.rejects(m.models.generateContent({ model: 'gemini-2.5-flash', contents: spoken }), audioRefused);
    await assert.rejects((async () => { for await (const chunk of await m.models.generateContentStream({ model: 'gemini-2.5-flash', contents: spoken })) void chunk; })(), audioRefused);
    await assert.rejects(m.models.generateContent({ model: 'gemini-2.5-flash', contents: [{ role: 'user', parts: [{ fileData: { fileUri: 'https://storage.googleapis.com/b/talk.mp3', mimeType: 'audio/mp3' } }] }] }), audioRefused);
    for (const body of [
      { contents: [{ parts: [{ inline_data: { mime_type: 'audio/ogg', data: 'T2dnUw==' } }] }] },
      { contents: [{ parts: [{ file_data: { file_uri: 'gs://bucket/talk.flac', mime_type: 'audio/flac' } }] }] },
      { system_instruction: { parts: [{ inline_data: { mime_type: 'audio/wav', data: 'UklGRg==' } }] }, contents: [{ parts: [{ text: 'x' }] }] },
    ]) {
      const res = await gw(h, '/v1beta/models/gemini-2.5-flash:generateContent', { headers: { 'x-goog-api-key': token }, body });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(res.json().error.message, /^ERR_NGROK_27238: .*audio input/);
    }
    assert.equal(h.fake.requests.length, sent, 'nothing reached Google');

    const seen = await m.models.generateContent({ model: 'gemini-2.5-flash', contents: [{ role: 'user', parts: [{ text: 'what is this?' }, { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } }] }] });
    assert.match(seen.text ?? '', /what is this\?/);
  });

  test('the proto names Google reads as well (`google_search`, `generation_config.max_output_tokens`) neither reach grounding nor escape the output cap', async () => {
    const token = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'google', steps: [{ type: 'ngrok' }] }] } }))).token;
    const call = (body: string) => gw(h, '/v1beta/models/gemini-2.5-flash:generateContent', { headers: { 'x-goog-api-key': token }, body });
    const sent = h.fake.requests.length;
    const grounded = await call('{"contents":[{"parts":[{"text":"search"}]}],"tools":[{"google_search":{}}]}');
    assert.equal(grounded.status, 400, grounded.text);
    assert.match(grounded.json().error.message, /^ERR_NGROK_27238: .*"google_search"/);
    assert.equal(h.fake.requests.length, sent, 'nothing reached Google');

    await h.gatewayConfig({ maxOutputTokens: 100 });
    const upstreamConfig = async (body: string) => {
      const res = await call(body);
      assert.equal(res.status, 200, res.text);
      return h.fake.requests.at(-1)!.body!;
    };
    assert.deepEqual((await upstreamConfig('{"contents":[{"parts":[{"text":"a"}]}],"generation_config":{"max_output_tokens":5000,"temperature":0.5}}')).generation_config, { maxOutputTokens: 100, temperature: 0.5 });
    assert.deepEqual((await upstreamConfig('{"contents":[{"parts":[{"text":"a"}]}],"generationConfig":{"max_output_tokens":5000}}')).generationConfig, { maxOutputTokens: 100 });
    assert.deepEqual((await upstreamConfig('{"contents":[{"parts":[{"text":"a"}]}],"generationConfig":{"maxOutputTokens":50,"max_output_tokens":5000}}')).generationConfig, { maxOutputTokens: 100 });
    // A limit written twice reaches Google once, as read here (whichever of the two Google would have kept).
    const twice = '{"contents":[{"parts":[{"text":"a"}]}],"generationConfig":{"maxOutputTokens":5000,"maxOutputTokens":10}}';
    await call(twice);
    assert.equal(h.fake.requests.at(-1)!.rawBody, '{"contents":[{"parts":[{"text":"a"}]}],"generationConfig":{"maxOutputTokens":10}}');
    const both = await call('{"contents":[{"parts":[{"text":"a"}]}],"generationConfig":{"maxOutputTokens":10},"generation_config":{"max_output_tokens":5000}}');
    assert.equal(both.status, 400, both.text);
    assert.match(both.json().error.message, /"generationConfig" and "generation_config"/);
  });
});

describe('Gemini Interactions through the Gen AI SDK\'s interactions.create, served statelessly (sqlite)', () => {
  let h: Harness;
  let ai: GoogleGenAI;
  let token: string;
  let limited: string;
  let good: string;
  before(async () => {
    ({ h, limited, good, token } = await googleKeys({ TOLLGATE_MANAGED_GOOGLE_API_KEY: MANAGED_GOOGLE_KEY }));
    ai = client(h, token);
  });
  after(async () => { await h.close(); });

  const lastUpstream = () => h.fake.requests.at(-1)!;
  /** The SDK's interaction streams keep no HTTP response: a client whose fetch notes each answer's request id. */
  let seenRequestId: string | undefined;
  const lastRequestId = () => seenRequestId;
  let recording: GoogleGenAI;
  const recordingFetch = async (...args: Parameters<typeof fetch>): Promise<Response> => {
    const res = await fetch(...args);
    seenRequestId = res.headers.get('ngrok-aig-request-id') ?? undefined;
    return res;
  };
  before(() => { recording = new GoogleGenAI({ apiKey: token, apiVersion: 'v1beta', httpOptions: { baseUrl: h.gatewayUrl, fetch: recordingFetch } }); });
  /** An SDK error's status and Google's error object (the SDK keeps the body it was given). */
  const googleError = (e: unknown): { status: number; error: { code: number; status: string; message: string; details?: { reason: string }[] } } => {
    const err = e as { status?: unknown; body?: unknown };
    assert.equal(typeof err.status, 'number', String(e));
    return { status: err.status as number, error: JSON.parse(String(err.body)).error };
  };

  test('create: the interaction as Google answered it, from Google\'s /v1beta/interactions with the stored key and "store": false (omitted by the client); billed from its usage', async () => {
    const interaction = await ai.interactions.create({ model: 'google:gemini-2.5-flash', input: 'hello interactions' });
    assert.match(interaction.output_text ?? '', /fake gemini-2\.5-flash model! You said: "hello interactions"/);
    assert.equal(interaction.status, 'completed');
    // (The SDK adds its own `initial_input_tokens`, for its automatic continuation.)
    const { initial_input_tokens: _added, ...usage } = interaction.usage ?? {};
    assert.deepEqual(usage, { ...FAKE_INTERACTIONS_USAGE, total_tokens: 26 });
    const headers = (interaction as { sdkHttpResponse?: { headers?: Record<string, string> } }).sdkHttpResponse?.headers ?? {};
    assert.equal(headers['ngrok-aig-model'], 'gemini-2.5-flash');
    assert.equal(headers['ngrok-aig-attempts'], '1');
    const up = lastUpstream();
    assert.equal(up.path, '/v1beta/interactions');
    assert.equal(up.headers['x-goog-api-key'], 'AIza-fake-good');
    assert.ok(!JSON.stringify(up.headers).includes(token), 'the access key never goes upstream');
    assert.deepEqual([up.body!.model, up.body!.input, up.body!.store], ['gemini-2.5-flash', 'hello interactions', false]);
    const [row] = await h.usage(headers['ngrok-aig-request-id']!, 1);
    assert.deepEqual(meteredAs(row!), ['google', 'gemini-2.5-flash', BILLED.input, BILLED.output, BILLED.cacheRead, BILLED.reasoning, 'completed', 0, 0, 'succeeded']);
  });

  test('"store": null becomes false upstream, that member alone rewritten; "store": false goes as sent', async () => {
    const raw = '{"model":"gemini-2.5-flash","input":"keep my bytes","store":null,"generation_config":{"seed":9007199254740993,"temperature":1.0}}';
    const res = await gw(h, '/v1beta/interactions', { headers: { 'x-goog-api-key': token }, body: raw });
    assert.equal(res.status, 200, res.text);
    assert.equal(lastUpstream().rawBody, raw.replace('"store":null', '"store":false'));
    const sent = '{"model":"gemini-2.5-flash","input":"as sent","store":false}';
    assert.equal((await gw(h, '/v1beta/interactions', { headers: { 'x-goog-api-key': token }, body: sent })).status, 200);
    assert.equal(lastUpstream().rawBody, sent);
  });

  test('the access key in ?key= is understood, as on every Gemini path, and stays here', async () => {
    const res = await gw(h, `/v1beta/interactions?key=${encodeURIComponent(token)}`, { body: { model: 'gemini-2.5-flash', input: 'key in the query' } });
    assert.equal(res.status, 200, res.text);
    const up = lastUpstream();
    assert.deepEqual([up.path, up.query, up.headers['x-goog-api-key']], ['/v1beta/interactions', '', 'AIza-fake-good'], 'the client\'s query (its access key) is not forwarded');
    assert.ok(!JSON.stringify(up.headers).includes(token), 'the access key never goes upstream');
    const unknown = await gw(h, '/v1beta/interactions?key=not-a-key', { body: { model: 'gemini-2.5-flash', input: 'x' } });
    assert.equal(unknown.status, 401, unknown.text);
  });

  test('no "model": 400 suggesting a Gemini model, the only kind Interactions take', async () => {
    const sent = h.fake.requests.length;
    const res = await gw(h, '/v1beta/interactions', { headers: { 'x-goog-api-key': token }, body: { input: 'which model?' } });
    assert.equal(res.status, 400, res.text);
    const { message } = JSON.parse(res.text).error as { message: string };
    assert.match(message, /^ERR_NGROK_3801: .*"model" is required on this endpoint: name a model such as "gemini-2\.5-flash"/);
    assert.doesNotMatch(message, /gpt-4o|claude/);
    assert.equal(h.fake.requests.length, sent, 'nothing reached Google');
  });

  test('stream: Google\'s SSE events relayed (step.delta text, interaction.completed with the usage), "store": false upstream, billed from the completed interaction\'s usage', async () => {
    const stream = await recording.interactions.create({ model: 'gemini-2.5-flash', input: 'stream interactions', stream: true });
    let text = '';
    const types: string[] = [];
    let usage: unknown;
    for await (const event of stream) {
      types.push(event.event_type);
      if (event.event_type === 'step.delta' && event.delta.type === 'text') text += event.delta.text;
      if (event.event_type === 'interaction.completed') usage = event.interaction.usage;
    }
    assert.match(text, /fake gemini-2\.5-flash model! You said: "stream interactions"/);
    assert.deepEqual(types, ['interaction.created', 'interaction.status_update', 'step.start', 'step.delta', 'step.delta', 'step.delta', 'step.stop', 'interaction.completed']);
    assert.deepEqual(usage, { ...FAKE_INTERACTIONS_USAGE, total_tokens: 26 });
    const up = lastUpstream();
    assert.deepEqual([up.path, up.body!.stream, up.body!.store], ['/v1beta/interactions', true, false]);
    const requestId = lastRequestId();
    assert.ok(requestId, 'the stream names its request id');
    const [row] = await h.usage(requestId, 1);
    assert.deepEqual(meteredAs(row!), ['google', 'gemini-2.5-flash', BILLED.input, BILLED.output, BILLED.cacheRead, BILLED.reasoning, 'completed', 0, 1, 'succeeded']);
  });

  test('state is refused before Google is called, in Google\'s shape (27228): "store": true, previous_interaction_id, "background": true, an agent, an environment, a webhook', async () => {
    const sent = h.fake.requests.length;
    const refusals: [Record<string, unknown>, RegExp][] = [
      [{ model: 'gemini-2.5-flash', input: 'x', store: true }, /"store": true is not supported: .*statelessly/],
      [{ model: 'gemini-2.5-flash', input: 'x', previous_interaction_id: 'v1_earlier' }, /"previous_interaction_id" is not supported/],
      [{ model: 'gemini-2.5-flash', input: 'x', background: true }, /"background": true is not supported/],
      [{ agent: 'deep-research-pro-preview-12-2025', input: 'x' }, /"agent" is not supported/],
      [{ model: 'gemini-2.5-flash', input: 'x', environment: 'env-1' }, /"environment" is not supported/],
      [{ model: 'gemini-2.5-flash', input: 'x', webhook_config: { uris: ['https://example.com/hook'] } }, /"webhook_config" is not supported/],
    ];
    for (const [body, message] of refusals) {
      await assert.rejects(ai.interactions.create(body as Parameters<typeof ai.interactions.create>[0]), (e: unknown) => {
        const { status, error } = googleError(e);
        assert.deepEqual([status, error.code, error.status], [400, 400, 'INVALID_ARGUMENT'], JSON.stringify(body));
        assert.match(error.message, /^ERR_NGROK_27228: /);
        assert.match(error.message, message);
        assert.equal(error.details?.[0]?.reason, 'ERR_NGROK_27228');
        return true;
      });
    }
    assert.equal(h.fake.requests.length, sent, 'nothing reached Google');
  });

  test('an interaction cannot be read, deleted, cancelled or resumed: nothing is stored (404 27204 saying so)', async () => {
    const sent = h.fake.requests.length;
    for (const call of [() => ai.interactions.get('v1_some-interaction'), () => ai.interactions.get('v1_some-interaction', { stream: true, last_event_id: 'e1' }), () => ai.interactions.delete('v1_some-interaction'), () => ai.interactions.cancel('v1_some-interaction')]) {
      await assert.rejects(call(), (e: unknown) => {
        const { status, error } = googleError(e);
        assert.deepEqual([status, error.status], [404, 'NOT_FOUND']);
        assert.match(error.message, /^ERR_NGROK_27204: .*served statelessly.*"store": false/);
        return true;
      });
    }
    assert.equal(h.fake.requests.length, sent);
  });

  test('scope, model and key failover as for every surface: a provider outside the scope 403 27231, a model not of Google 3813, a rate-limited key passed over (429 with RetryInfo\'s wait once all are)', async () => {
    const narrow = (await h.accessKey(await h.configuration({ access: { providers: { allow: ['openai'] } } }))).token;
    await assert.rejects(client(h, narrow).interactions.create({ model: 'gemini-2.5-flash', input: 'nope' }), (e: unknown) => {
      const { status, error } = googleError(e);
      assert.deepEqual([status, error.status], [403, 'PERMISSION_DENIED']);
      assert.match(error.message, /^ERR_NGROK_27231: Provider "google" is not allowed/);
      return true;
    });
    await assert.rejects(ai.interactions.create({ model: 'gpt-4o', input: 'not translated' }), (e: unknown) => {
      const { status, error } = googleError(e);
      assert.equal(status, 400);
      assert.match(error.message, /^ERR_NGROK_3813: .*gemini API format/);
      return true;
    });

    const both = await routedTo(h, limited, good);
    const answer = await client(h, both).interactions.create({ model: 'gemini-2.5-flash', input: 'failover' });
    assert.match(answer.output_text ?? '', /failover/);
    const headers = (answer as { sdkHttpResponse?: { headers?: Record<string, string> } }).sdkHttpResponse?.headers ?? {};
    assert.equal(headers['ngrok-aig-attempts'], '2');
    const rows = await h.usage(headers['ngrok-aig-request-id']!, 2);
    assert.deepEqual(rows.map((r) => [r.statusCode, r.retryAction, r.providerKeyId]), [[429, 'next_key', limited], [200, 'succeeded', good]]);

    const onlyLimited = await routedTo(h, limited);
    const res = await gw(h, '/v1beta/interactions', { headers: { 'x-goog-api-key': onlyLimited }, body: { model: 'gemini-2.5-flash', input: 'x' } });
    assert.equal(res.status, 429);
    assert.equal(res.json().error.status, 'RESOURCE_EXHAUSTED');
    assert.equal(res.headers.get('retry-after'), '2');
  });

  test('without usage the interaction is billed on an estimate of its input and streamed text', async () => {
    let text = '';
    for await (const event of await recording.interactions.create({ model: 'google:nousage-gemini-x', input: 'estimate this interaction', stream: true })) {
      if (event.event_type === 'step.delta' && event.delta.type === 'text') text += event.delta.text;
    }
    assert.match(text, /estimate this interaction/);
    const [row] = await h.usage(lastRequestId()!, 1);
    assert.equal(Number(row!.usageEstimated), 1);
    assert.ok(Number(row!.inputTokensEstimate) > 0 && Number(row!.outputTokensEstimate) > 0);
    assert.equal(row!.stopReason, 'completed');
  });

  test('a stream Google breaks ends with an Interactions `error` event naming 27235; one that fails after `interaction.created` is passed over to the next key', async () => {
    const seen: { event_type: string; error?: { code?: string; message?: string } }[] = [];
    for await (const event of await ai.interactions.create({ model: 'google:broken-gemini-x', input: 'break', stream: true })) seen.push(event as (typeof seen)[number]);
    assert.equal(seen.filter((e) => e.event_type === 'step.delta').length, 1, 'the first delta reached the client before the break');
    const last = seen.at(-1)!;
    assert.equal(last.event_type, 'error');
    assert.equal(last.error?.code, 'ERR_NGROK_27235');
    assert.match(last.error?.message ?? '', /^ERR_NGROK_27235: /);

    // Both keys' streams fail after their opening event: the first is held and passed over, the last is relayed as sent.
    const second = await h.providerKey('google', 'AIza-fake-second', 'second');
    const twoKeys = await routedTo(h, good, second);
    const events: { event_type: string; error?: { code?: string } }[] = [];
    seenRequestId = undefined;
    const twoKeyClient = new GoogleGenAI({ apiKey: twoKeys, apiVersion: 'v1beta', httpOptions: { baseUrl: h.gatewayUrl, fetch: recordingFetch } });
    for await (const event of await twoKeyClient.interactions.create({ model: 'google:overloaded-gemini-x', input: 'x', stream: true })) events.push(event as (typeof events)[number]);
    assert.deepEqual(events.map((e) => e.event_type), ['interaction.created', 'error']);
    assert.equal(events[1]!.error?.code, 'UNAVAILABLE');
    const rows = await h.usage(lastRequestId()!, 2);
    assert.deepEqual(rows.map((r) => [r.retryAction, r.completion, r.providerKeyId]), [['next_key', 'failed', good], ['succeeded', 'stream_failed', second]]);
  });

  test('on the managed key: text in and text or JSON out only (27238), the Standard tier only (3815); a text interaction billed at the catalog\'s Gemini prices', async () => {
    const managed = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'google', steps: [{ type: 'ngrok' }] }] } }))).token;
    const m = client(h, managed);
    const sent = h.fake.requests.length;
    const image = { type: 'image' as const, mime_type: 'image/png' as const, data: 'iVBORw0KGgo=' };
    const refusals: [Record<string, unknown>, RegExp][] = [
      [{ model: 'gemini-2.5-flash', input: [{ type: 'text', text: 'what is this?' }, image] }, /^ERR_NGROK_27238: .*text input and gives text or JSON output only, and this request sends "image" input/],
      [{ model: 'gemini-2.5-flash', input: [{ type: 'user_input', content: [image] }] }, /^ERR_NGROK_27238: .*sends "image" input/],
      [{ model: 'gemini-2.5-flash', input: [{ type: 'text', text: 'transcribe' }, { type: 'audio', mime_type: 'audio/wav', data: 'UklGRg==' }] }, /^ERR_NGROK_27238: .*sends "audio" input/],
      [{ model: 'gemini-2.5-flash', input: 'draw', response_modalities: ['image'] }, /^ERR_NGROK_27238: .*asks for "image" output/],
      [{ model: 'gemini-2.5-flash', input: 'say it', response_format: { type: 'audio' } }, /^ERR_NGROK_27238: .*asks for "audio" output/],
      [{ model: 'gemini-2.5-flash', input: 'x', service_tier: 'priority' }, /^ERR_NGROK_3815: service_tier "priority" is not supported with managed keys. Use 'standard' on Gemini Interactions/],
      [{ model: 'gemini-2.5-flash', input: 'x', tools: [{ type: 'google_search' }] }, /^ERR_NGROK_27238: .*hosted tool "google_search"/],
    ];
    for (const [body, message] of refusals) {
      await assert.rejects(m.interactions.create(body as Parameters<typeof m.interactions.create>[0]), (e: unknown) => {
        const { status, error } = googleError(e);
        assert.equal(status, 400, JSON.stringify(body));
        assert.match(error.message, message);
        return true;
      });
    }
    assert.equal(h.fake.requests.length, sent, 'nothing reached Google');

    const schema = { type: 'object', properties: { city: { type: 'string' } } };
    const answer = await m.interactions.create({ model: 'gemini-2.5-flash', input: [{ type: 'text', text: 'managed' }], response_format: { type: 'text', mime_type: 'application/json', schema }, service_tier: 'standard' });
    assert.match(answer.output_text ?? '', /managed/);
    assert.equal(lastUpstream().headers['x-goog-api-key'], MANAGED_GOOGLE_KEY);
    assert.equal(lastUpstream().body!.store, false);
    const [row] = await h.usage((answer as { sdkHttpResponse?: { headers?: Record<string, string> } }).sdkHttpResponse!.headers!['ngrok-aig-request-id']!, 1);
    assert.equal(row!.keySource, 'ngrok');
    // gemini-2.5-flash: $0.30 / $2.50 per million, cache reads $0.03 — pico-USD per token 300,000 / 2,500,000 / 30,000.
    const expected = BigInt(BILLED.input - BILLED.cacheRead) * 300_000n + BigInt(BILLED.cacheRead) * 30_000n + BigInt(BILLED.output) * 2_500_000n;
    assert.equal(BigInt(row!.costPico) - BigInt(row!.feePico), expected);

    // BYOK has the statelessness rules too, and none of the managed key's.
    await assert.rejects(ai.interactions.create({ model: 'gemini-2.5-flash', input: 'x', store: true }), (e: unknown) => googleError(e).status === 400);
    const byok = await ai.interactions.create({ model: 'gemini-2.5-flash', input: [{ type: 'text', text: 'look' }, image] });
    assert.equal(byok.status, 'completed');
  });

  test('members written in camelCase, as Google\'s parser takes GenerateContent\'s, are read as their snake_case twins: state refused naming them as sent; on the managed key media output, other tiers and grounding refused, and the output cap holds', async () => {
    const post = (apiKey: string, body: string) => gw(h, '/v1beta/interactions', { headers: { 'x-goog-api-key': apiKey }, body });
    const refused = async (apiKey: string, body: Record<string, unknown>, status: number, message: RegExp) => {
      const res = await post(apiKey, JSON.stringify({ model: 'gemini-2.5-flash', input: 'x', ...body }));
      assert.equal(res.status, status, `${JSON.stringify(body)}: ${res.text}`);
      assert.match(res.json().error.message, message);
    };
    const managed = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'google', steps: [{ type: 'ngrok' }] }] } }))).token;
    const sent = h.fake.requests.length;
    await refused(token, { previousInteractionId: 'v1_earlier' }, 400, /^ERR_NGROK_27228: Invalid request: "previousInteractionId" is not supported/);
    await refused(token, { webhookConfig: { uris: ['https://example.com/hook'] } }, 400, /^ERR_NGROK_27228: Invalid request: "webhookConfig" is not supported/);
    await refused(token, { agentConfig: { type: 'dynamic' } }, 400, /^ERR_NGROK_27228: Invalid request: "agentConfig" is not supported/);
    await refused(managed, { responseModalities: ['IMAGE'] }, 400, /^ERR_NGROK_27238: .*asks for "IMAGE" output \(responseModalities\)/);
    await refused(managed, { generationConfig: { speechConfig: { voice: 'Kore' } } }, 400, /^ERR_NGROK_27238: .*sets generationConfig\.speechConfig/);
    await refused(managed, { responseMimeType: 'image/png' }, 400, /^ERR_NGROK_27238: .*asks for "image\/png" output \(responseMimeType\)/);
    await refused(managed, { serviceTier: 'priority' }, 400, /^ERR_NGROK_3815: service_tier "priority" is not supported/);
    await refused(managed, { service_tier: 'standard', serviceTier: 'flex' }, 400, /^ERR_NGROK_3815: service_tier "flex"/);
    await refused(managed, { tools: [{ type: 'googleSearch' }] }, 400, /^ERR_NGROK_27238: .*hosted tool "googleSearch"/);
    assert.equal(h.fake.requests.length, sent, 'nothing reached Google');

    await h.gatewayConfig({ maxOutputTokens: 100 });
    try {
      const upstream = async (body: string) => {
        const res = await post(managed, body);
        assert.equal(res.status, 200, res.text);
        return h.fake.requests.at(-1)!.body!;
      };
      assert.deepEqual((await upstream('{"model":"gemini-2.5-flash","input":"a","generationConfig":{"maxOutputTokens":5000}}')).generationConfig, { max_output_tokens: 100 });
      assert.deepEqual((await upstream('{"model":"gemini-2.5-flash","input":"a","generation_config":{"maxOutputTokens":5000,"temperature":0.5}}')).generation_config, { max_output_tokens: 100, temperature: 0.5 });
      assert.deepEqual((await upstream('{"model":"gemini-2.5-flash","input":"a","generation_config":{"max_output_tokens":50,"maxOutputTokens":5000}}')).generation_config, { max_output_tokens: 100 });
      assert.deepEqual((await upstream('{"model":"gemini-2.5-flash","input":"a"}')).generation_config, { max_output_tokens: 100 }, 'the cap is added where none is asked');
      await refused(managed, { generationConfig: { maxOutputTokens: 10 }, generation_config: { max_output_tokens: 5000 } }, 400, /"generationConfig" and "generation_config" name one field/);
    } finally {
      await h.gatewayConfig({ maxOutputTokens: null });
    }
  });

  test('the managed key\'s text-only rule and the statelessness rules are not passed by a thought\'s summary, a key given twice inside the input, or a background spelled as a string', async () => {
    const post = (apiKey: string, body: string) => gw(h, '/v1beta/interactions', { headers: { 'x-goog-api-key': apiKey }, body });
    const managed = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'google', steps: [{ type: 'ngrok' }] }] } }))).token;
    const sent = h.fake.requests.length;
    const image = '{"type":"image","mime_type":"image/png","data":"iVBORw0KGgo="}';
    const refusals: [string, string, RegExp][] = [
      // A thought step's summary holds text or images (ThoughtSummaryContent).
      [managed, `{"model":"gemini-2.5-flash","input":[{"type":"thought","signature":"s","summary":[${image}]},{"type":"user_input","content":"what was that?"}]}`, /^ERR_NGROK_27238: .*sends "image" input/],
      // JSON.parse keeps the last "type" (text); a parser keeping the first would read an image, escaped or not.
      [managed, '{"model":"gemini-2.5-flash","input":[{"type":"image","mime_type":"image/png","data":"iVBORw0KGgo=","type":"text","text":"hi"}]}', /^ERR_NGROK_27228: .*the key "type" is given twice/],
      [token, '{"model":"gemini-2.5-flash","input":[{"type":"user_input","content":[{"type":"image","data":"iVBORw0KGgo=","mime_type":"image/png","typ\\u0065":"text","text":"x"}]}]}', /^ERR_NGROK_27228: .*the key "type" is given twice/],
      [token, '{"model":"gemini-2.5-flash","input":"x","background":"true"}', /^ERR_NGROK_27228: Invalid request: "background": "true" is not supported/],
    ];
    for (const [key, body, message] of refusals) {
      const res = await post(key, body);
      assert.equal(res.status, 400, `${body.slice(0, 200)}: ${res.text.slice(0, 300)}`);
      assert.match(res.json().error.message, message);
    }
    assert.equal(h.fake.requests.length, sent, 'nothing reached Google');
    // Keys repeated in different objects are not one key given twice.
    const answer = await post(managed, '{"model":"gemini-2.5-flash","input":[{"type":"text","text":"a"},{"type":"text","text":"b"}],"generation_config":{"temperature":0.5}}');
    assert.equal(answer.status, 200, answer.text);
  });
});

describe('Gemini\'s API on models that do not serve it: translated to chat completions, and to Messages for Claude (sqlite)', () => {
  let h: Harness;
  let ai: GoogleGenAI;
  let token: string;
  before(async () => {
    h = await startHarness('sqlite');
    await h.providerKey('openai', 'sk-translate-openai');
    await h.providerKey('anthropic', 'sk-ant-translate');
    await h.providerKey('google', 'AIza-fake-good');
    token = (await h.accessKey(await h.configuration({}))).token;
    ai = client(h, token);
  });
  after(async () => { await h.close(); });

  const lastUpstream = () => h.fake.requests.at(-1)!;
  /** What the Gen AI SDK reads of FAKE_USAGE: thinking counted apart from the candidates, cached input inside the prompt. */
  const USAGE_METADATA = { promptTokenCount: FAKE_USAGE.input, candidatesTokenCount: FAKE_USAGE.output - FAKE_USAGE.reasoning, totalTokenCount: FAKE_USAGE.input + FAKE_USAGE.output, thoughtsTokenCount: FAKE_USAGE.reasoning, cachedContentTokenCount: FAKE_USAGE.cacheRead };

  test('generateContent on gpt-4o: goes up as chat completions, comes back as a GenerateContentResponse; what has no place is named; billed as the model that served', async () => {
    const answer = await ai.models.generateContent({
      model: 'gpt-4o', contents: 'hello gpt',
      config: { systemInstruction: 'Be brief.', maxOutputTokens: 100, temperature: 0.3, topK: 20, safetySettings: [{ category: HarmCategory.HARM_CATEGORY_HARASSMENT, threshold: HarmBlockThreshold.BLOCK_NONE }], tools: [{ googleSearch: {} }] },
    });
    assert.match(answer.text ?? '', /fake gpt-4o model! You said: "hello gpt"/);
    assert.equal(answer.candidates?.[0]?.finishReason, 'STOP');
    assert.equal(answer.candidates?.[0]?.content?.role, 'model');
    assert.deepEqual(answer.usageMetadata, USAGE_METADATA);
    const headers = answer.sdkHttpResponse?.headers ?? {};
    assert.equal(headers['ngrok-aig-model'], 'gpt-4o');
    assert.deepEqual(headers['ngrok-aig-removed-params']?.split(', ').sort(), ['generationConfig.topK', 'safetySettings', 'tools']);
    assert.equal(headers['content-type'], 'application/json');
    const up = lastUpstream();
    assert.equal(up.path, '/v1/chat/completions');
    assert.equal(up.headers.authorization, 'Bearer sk-translate-openai');
    assert.equal(up.headers['x-goog-api-key'], undefined, 'the access key never goes upstream');
    assert.deepEqual(up.body!.messages, [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hello gpt' }]);
    assert.deepEqual([up.body!.model, up.body!.max_completion_tokens ?? up.body!.max_tokens, up.body!.temperature, up.body!.tools, up.body!.safetySettings], ['gpt-4o', 100, 0.3, undefined, undefined]);
    const [row] = await h.usage(headers['ngrok-aig-request-id']!, 1);
    assert.deepEqual(
      [row!.provider, row!.model, Number(row!.inputTokens), Number(row!.outputTokens), Number(row!.cacheReadTokens), Number(row!.usageEstimated), Number(row!.isStreaming), row!.completion],
      ['openai', 'gpt-4o', FAKE_USAGE.input, FAKE_USAGE.output, FAKE_USAGE.cacheRead, 0, 0, 'succeeded'],
    );
  });

  test('generateContentStream on gpt-4o: the chat stream comes back as Gemini chunks, the last with its finish reason and usage; metered on the provider\'s counts', async () => {
    let text = '';
    let last: GenerateContentResponse | undefined;
    for await (const chunk of await ai.models.generateContentStream({ model: 'gpt-4o', contents: 'stream gpt' })) {
      text += chunk.text ?? '';
      last = chunk;
    }
    assert.match(text, /fake gpt-4o model! You said: "stream gpt"/);
    assert.equal(last?.candidates?.[0]?.finishReason, 'STOP');
    assert.deepEqual(last?.usageMetadata, USAGE_METADATA);
    const up = lastUpstream();
    assert.equal(up.path, '/v1/chat/completions');
    assert.deepEqual([up.body!.stream, up.body!.stream_options], [true, { include_usage: true }]);
    const [row] = await h.usage(last!.sdkHttpResponse!.headers!['ngrok-aig-request-id']!, 1);
    assert.deepEqual([row!.model, Number(row!.inputTokens), Number(row!.outputTokens), Number(row!.usageEstimated), Number(row!.isStreaming), row!.completion], ['gpt-4o', FAKE_USAGE.input, FAKE_USAGE.output, 0, 1, 'succeeded']);
  });

  test('on a reasoning model: the thinking budget is its reasoning effort, the limit its max_completion_tokens, and the sampling settings it refuses are named as the client sent them', async () => {
    const answer = await ai.models.generateContent({ model: 'o3', contents: 'think', config: { maxOutputTokens: 100, temperature: 0.5, stopSequences: ['END'], thinkingConfig: { thinkingBudget: 20_000 } } });
    assert.match(answer.text ?? '', /fake o3 model/);
    assert.deepEqual(answer.sdkHttpResponse?.headers?.['ngrok-aig-removed-params']?.split(', ').sort(), ['generationConfig.stopSequences', 'generationConfig.temperature']);
    const up = lastUpstream().body!;
    assert.deepEqual([up.reasoning_effort, up.max_completion_tokens, 'max_tokens' in up, 'temperature' in up, 'stop' in up], ['high', 100, false, false, false]);
  });

  test('a function-calling round trip: the call comes back as the SDK\'s functionCall with an id, its functionResponse goes up as the call\'s tool message (buffered and streamed)', async () => {
    const weather = { name: 'get_weather', description: 'Weather in a city', parameters: { type: Type.OBJECT, properties: { city: { type: Type.STRING } }, required: ['city'] } };
    const config = { tools: [{ functionDeclarations: [weather] }], toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.ANY } } };
    const ask = { role: 'user', parts: [{ text: 'Weather in Paris?' }] };
    const first = await ai.models.generateContent({ model: 'openai:tool-weather', contents: [ask], config });
    assert.deepEqual(first.functionCalls, [{ id: 'call_fake1', name: 'get_weather', args: { city: 'Paris' } }]);
    assert.deepEqual(lastUpstream().body!.tools, [{ type: 'function', function: { name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }]);
    assert.equal(lastUpstream().body!.tool_choice, 'required');

    const calls: FunctionCall[] = [];
    for await (const chunk of await ai.models.generateContentStream({ model: 'openai:tool-weather', contents: [ask], config })) calls.push(...(chunk.functionCalls ?? []));
    assert.deepEqual(calls, [{ id: 'call_fake1', name: 'get_weather', args: { city: 'Paris' } }], 'the call comes whole, once');

    const call = first.functionCalls![0]!;
    const second = await ai.models.generateContent({
      model: 'openai:tool-weather', config: { tools: config.tools },
      contents: [ask, first.candidates![0]!.content!, { role: 'user', parts: [{ functionResponse: { id: call.id!, name: call.name!, response: { output: 'Sunny, 21 °C' } } }] }],
    });
    assert.equal(second.functionCalls, undefined);
    assert.ok((second.text ?? '') !== '');
    assert.deepEqual(lastUpstream().body!.messages, [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_fake1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_fake1', content: 'Sunny, 21 °C' },
    ]);
  });

  test('a JSON-schema response goes up as chat\'s json_schema response_format; the answer is the model\'s text', async () => {
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
    const answer = await ai.models.generateContent({ model: 'gpt-4o', contents: 'Which city?', config: { responseMimeType: 'application/json', responseJsonSchema: schema } });
    assert.deepEqual(lastUpstream().body!.response_format, { type: 'json_schema', json_schema: { name: 'output', schema, strict: true } });
    assert.match(answer.text ?? '', /Which city\?/);
    assert.equal(answer.sdkHttpResponse?.headers?.['ngrok-aig-removed-params'], undefined);
  });

  test('an upstream refusal comes back in Google\'s error shape with its status; a stream the provider breaks ends with Google\'s error chunk', async () => {
    await assert.rejects(ai.models.generateContent({ model: 'openai:fail-400-x', contents: 'bad' }), (e: unknown) => {
      assert.ok(e instanceof ApiError, String(e));
      assert.equal(e.status, 400);
      const { error } = JSON.parse(e.message);
      assert.deepEqual([error.code, error.status], [400, 'INVALID_ARGUMENT']);
      assert.match(error.message, /the fake provider rejects this request/);
      return true;
    });
    const seen: string[] = [];
    await assert.rejects((async () => { for await (const chunk of await ai.models.generateContentStream({ model: 'openai:cut-x', contents: 'break' })) seen.push(chunk.text ?? ''); })(), (e: unknown) => {
      assert.ok(e instanceof ApiError, String(e));
      assert.equal(e.status, 502);
      assert.match(e.message, /ERR_NGROK_27235/);
      return true;
    });
  });

  test('Claude answers Gemini\'s API over its own Messages API (through chat completions), billed as Claude', async () => {
    const answer = await ai.models.generateContent({ model: 'claude-sonnet-4-6', contents: 'hello claude', config: { systemInstruction: 'Be brief.', maxOutputTokens: 50, seed: 4 } });
    assert.match(answer.text ?? '', /fake claude-sonnet-4-6 model! You said: "hello claude"/);
    const headers = answer.sdkHttpResponse?.headers ?? {};
    assert.equal(headers['ngrok-aig-removed-params'], 'generationConfig.seed');
    const up = lastUpstream();
    assert.equal(up.path, '/v1/messages');
    assert.deepEqual([up.body!.system, up.body!.max_tokens, up.body!.messages], ['Be brief.', 50, [{ role: 'user', content: 'hello claude' }]]);
    const [row] = await h.usage(headers['ngrok-aig-request-id']!, 1);
    assert.deepEqual([row!.provider, row!.model, Number(row!.inputTokens), Number(row!.outputTokens)], ['anthropic', 'claude-sonnet-4-6', FAKE_USAGE.input + FAKE_USAGE.cacheRead + FAKE_USAGE.cacheWrite, FAKE_USAGE.output]);
    let streamed = '';
    for await (const chunk of await ai.models.generateContentStream({ model: 'claude-sonnet-4-6', contents: 'stream claude' })) streamed += chunk.text ?? '';
    assert.match(streamed, /You said: "stream claude"/);
  });

  test('countTokens on gpt-4o is counted by the gateway\'s own tokenizer, as Messages\' count_tokens is for it: Google\'s totalTokens, nothing sent upstream', async () => {
    const sent = h.fake.requests.length;
    const counted = await ai.models.countTokens({ model: 'gpt-4o', contents: 'count these words for a GPT model' });
    const contents = [{ parts: [{ text: 'count these words for a GPT model' }], role: 'user' }];
    assert.equal(counted.totalTokens, estimateRequestInputTokens({ contents }, 'generate-content'));
    assert.ok(counted.totalTokens! > 0 && counted.totalTokens !== FAKE_TOKEN_COUNT);
    const headers = counted.sdkHttpResponse?.headers ?? {};
    assert.deepEqual([headers['ngrok-aig-model'], headers['ngrok-aig-attempts']], ['gpt-4o', '0']);
    assert.equal(h.fake.requests.length, sent, 'nothing went upstream');

    // Google's other form, a whole generateContentRequest: its system instruction is counted too, in either spelling.
    const request = { contents, systemInstruction: { parts: [{ text: 'Answer in the voice of a pirate, always.' }] } };
    const whole = await gw(h, '/v1beta/models/openai:gpt-4o:countTokens', { headers: { 'x-goog-api-key': token }, body: { generateContentRequest: { model: 'models/gpt-4o', ...request } } });
    assert.equal(whole.status, 200, whole.text);
    assert.deepEqual(whole.json(), { totalTokens: estimateRequestInputTokens(request, 'generate-content') });
    assert.ok(whole.json().totalTokens > counted.totalTokens!);
    const snake = await gw(h, '/v1beta/models/gpt-4o:countTokens', { headers: { 'x-goog-api-key': token }, body: { generate_content_request: request } });
    assert.deepEqual(snake.json(), whole.json());
    assert.equal(h.fake.requests.length, sent, 'nothing went upstream');
  });

  test('countTokens whose contents Google would refuse (a string, none, a list of strings) is a 400 INVALID_ARGUMENT as generateContent\'s, on every model, not a count of nothing', async () => {
    const sent = h.fake.requests.length;
    for (const model of ['gpt-4o', 'claude-sonnet-4-6', 'gemini-2.5-flash']) {
      for (const body of [{ contents: 'count me' }, {}, { contents: ['count me'] }, { generateContentRequest: { contents: 'count me' } }]) {
        const res = await gw(h, `/v1beta/models/${model}:countTokens`, { headers: { 'x-goog-api-key': token }, body });
        assert.equal(res.status, 400, `${model} ${JSON.stringify(body)}: ${res.text}`);
        const { error } = res.json();
        assert.deepEqual([error.code, error.status], [400, 'INVALID_ARGUMENT']);
        assert.match(error.message, /^ERR_NGROK_3801: Invalid request body: "contents" (is required|must be a list of Content objects)/);
      }
    }
    assert.equal(h.fake.requests.length, sent, 'nothing went upstream');
  });

  test('countTokens on Claude goes to Anthropic\'s count_tokens, translated as generateContent is to Messages; its count comes back as Google\'s totalTokens, recorded and never billed', async () => {
    const counted = await ai.models.countTokens({ model: 'claude-sonnet-4-6', contents: 'count for claude' });
    assert.equal(counted.totalTokens, FAKE_TOKEN_COUNT);
    let up = lastUpstream();
    assert.equal(up.path, '/v1/messages/count_tokens');
    assert.equal(up.headers['x-api-key'], 'sk-ant-translate');
    assert.deepEqual(up.body, { model: 'claude-sonnet-4-6', messages: [{ role: 'user', content: 'count for claude' }] });
    const headers = counted.sdkHttpResponse?.headers ?? {};
    assert.equal(headers['ngrok-aig-model'], 'claude-sonnet-4-6');
    const [row] = await h.usage(headers['ngrok-aig-request-id']!, 1);
    assert.deepEqual(
      [row!.provider, row!.model, Number(row!.inputTokens), Number(row!.outputTokens), Number(row!.usageEstimated), BigInt(row!.costPico), row!.completion],
      ['anthropic', 'claude-sonnet-4-6', 0, 0, 0, 0n, 'succeeded'],
    );

    // A whole generateContentRequest: its system instruction is counted; its generation settings, which change no
    // count (and which count_tokens refuses), are not sent.
    const whole = await gw(h, '/v1beta/models/claude-sonnet-4-6:countTokens', { headers: { 'x-goog-api-key': token }, body: { generate_content_request: { contents: [{ role: 'user', parts: [{ text: 'hi' }] }], system_instruction: { parts: [{ text: 'Be brief.' }] }, generation_config: { max_output_tokens: 50, temperature: 0.2 } } } });
    assert.deepEqual([whole.status, whole.json()], [200, { totalTokens: FAKE_TOKEN_COUNT }], whole.text);
    up = lastUpstream();
    assert.deepEqual(up.body, { model: 'claude-sonnet-4-6', system: 'Be brief.', messages: [{ role: 'user', content: 'hi' }] });

    // Anthropic's refusal comes back in Google's shape; what Claude cannot read is refused as for generateContent.
    await assert.rejects(ai.models.countTokens({ model: 'anthropic:fail-400-claude', contents: 'x' }), (e: unknown) => {
      assert.ok(e instanceof ApiError, String(e));
      const { error } = JSON.parse(e.message);
      assert.deepEqual([e.status, error.status], [400, 'INVALID_ARGUMENT']);
      return true;
    });
    const sent = h.fake.requests.length;
    const cached = await gw(h, '/v1beta/models/claude-sonnet-4-6:countTokens', { headers: { 'x-goog-api-key': token }, body: { generateContentRequest: { contents: [{ parts: [{ text: 'x' }] }], cachedContent: 'cachedContents/abc' } } });
    assert.equal(cached.status, 400);
    assert.match(cached.json().error.message, /^ERR_NGROK_27226: .*cachedContent/);
    assert.equal(h.fake.requests.length, sent, 'nothing was sent');
  });

  test('inline audio: WAV and MP3 reach a chat model as chat\'s `input_audio`; other audio, and any audio to Claude, is refused naming the target it could not reach, never dropped', async () => {
    const call = (model: string, mimeType: string) => gw(h, `/v1beta/models/${model}:generateContent`, { headers: { 'x-goog-api-key': token }, body: {
      contents: [{ role: 'user', parts: [{ text: 'Transcribe this.' }, { inlineData: { mimeType, data: 'UklGRiQAAABXQVZF' } }] }],
    } });
    for (const [mimeType, format] of [['audio/wav', 'wav'], ['audio/mpeg', 'mp3'], ['audio/mp3', 'mp3']]) {
      const res = await call('gpt-4o', mimeType!);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(lastUpstream().body!.messages, [{ role: 'user', content: [{ type: 'text', text: 'Transcribe this.' }, { type: 'input_audio', input_audio: { data: 'UklGRiQAAABXQVZF', format } }] }]);
    }
    const sent = h.fake.requests.length;
    for (const [model, mimeType, reason] of [
      ['gpt-4o', 'audio/ogg', /^ERR_NGROK_27226: .*inline data chat completions cannot carry/],
      ['claude-sonnet-4-6', 'audio/wav', /^ERR_NGROK_27226: .*audio \("inlineData"\), which Anthropic Messages cannot carry/],
      ['claude-sonnet-4-6', 'audio/ogg', /^ERR_NGROK_27226: .*inline data Anthropic Messages cannot carry/],
    ] as const) {
      const res = await call(model, mimeType);
      assert.equal(res.status, 400, `${model} ${mimeType}: ${res.text}`);
      assert.match(res.json().error.message, reason, `${model} ${mimeType}`);
    }
    assert.equal(h.fake.requests.length, sent, 'nothing was sent');
  });

  test('an image Claude cannot take (a phone\'s HEIC photo) is refused before any call naming its type; an SVG reaches Claude as its source, a text document; a chat model gets either as an image', async () => {
    const call = (model: string, mimeType: string, data: string) => gw(h, `/v1beta/models/${model}:generateContent`, { headers: { 'x-goog-api-key': token }, body: {
      contents: [{ role: 'user', parts: [{ text: 'What is this?' }, { inlineData: { mimeType, data } }] }],
    } });
    const sent = h.fake.requests.length;
    const refused = await call('claude-sonnet-4-6', 'image/heic', 'AAAAGGZ0eXBoZWlj');
    assert.equal(refused.status, 400, refused.text);
    assert.match(refused.json().error.message, /^ERR_NGROK_27226: .*an image of type "image\/heic", which Claude and Bedrock's Converse cannot take \(they read JPEG, PNG, GIF and WebP images\)/);
    assert.equal(h.fake.requests.length, sent, 'nothing was sent');
    const svg = '<svg xmlns="http://www.w3.org/2000/svg"><rect width="4" height="4" fill="blue"/></svg>';
    const carried = await call('claude-sonnet-4-6', 'image/svg+xml', Buffer.from(svg).toString('base64'));
    assert.equal(carried.status, 200, carried.text);
    assert.deepEqual((lastUpstream().body!.messages as { content: unknown[] }[])[0]!.content[1], { type: 'document', source: { type: 'text', media_type: 'text/plain', data: svg } });
    const chat = await call('gpt-4o', 'image/heic', 'AAAAGGZ0eXBoZWlj');
    assert.equal(chat.status, 200, chat.text);
    assert.deepEqual((lastUpstream().body!.messages as { content: unknown[] }[])[0]!.content[1], { type: 'image_url', image_url: { url: 'data:image/heic;base64,AAAAGGZ0eXBoZWlj' } });
  });

  test('a text file (inlineData text/*) reaches Claude as a text document of its UTF-8 text; to a chat model, and not UTF-8, it is refused, never dropped', async () => {
    const call = (model: string, mimeType: string, data: string) => gw(h, `/v1beta/models/${model}:generateContent`, { headers: { 'x-goog-api-key': token }, body: {
      contents: [{ role: 'user', parts: [{ text: 'Summarise these notes.' }, { inlineData: { mimeType, data } }] }],
    } });
    for (const mimeType of ['text/plain', 'text/markdown', 'text/csv']) {
      const res = await call('claude-sonnet-4-6', mimeType, Buffer.from('café, 3 €').toString('base64'));
      assert.equal(res.status, 200, `${mimeType}: ${res.text}`);
      assert.deepEqual((lastUpstream().body!.messages as { content: unknown[] }[])[0]!.content[1], { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'café, 3 €' } }, mimeType);
    }
    const sent = h.fake.requests.length;
    for (const [model, data, reason] of [
      ['claude-sonnet-4-6', Buffer.from([0x63, 0x61, 0x66, 0xe9]).toString('base64'), /^ERR_NGROK_27226: .*inline data Anthropic Messages cannot carry \(only images, PDFs and text files in UTF-8 or the charset their mimeType names/],
      ['gpt-4o', Buffer.from('notes').toString('base64'), /^ERR_NGROK_27226: .*inline data chat completions cannot carry/],
    ] as const) {
      const res = await call(model, 'text/plain', data);
      assert.equal(res.status, 400, `${model}: ${res.text}`);
      assert.match(res.json().error.message, reason, model);
    }
    assert.equal(h.fake.requests.length, sent, 'nothing was sent');
  });

  test('a text file whose mimeType names its charset (a spreadsheet\'s Windows-1252 CSV) reaches Claude read in that charset, and a JSON file as text; to a chat model both are still refused', async () => {
    const call = (model: string, mimeType: string, data: string) => gw(h, `/v1beta/models/${model}:generateContent`, { headers: { 'x-goog-api-key': token }, body: {
      contents: [{ role: 'user', parts: [{ text: 'Summarise this file.' }, { inlineData: { mimeType, data } }] }],
    } });
    for (const [mimeType, data, text] of [
      ['text/csv; charset=windows-1252', Buffer.from('name\ncafé', 'latin1').toString('base64'), 'name\ncafé'],
      ['application/json', Buffer.from('{"dish": "café"}').toString('base64'), '{"dish": "café"}'],
    ] as const) {
      const res = await call('claude-sonnet-4-6', mimeType, data);
      assert.equal(res.status, 200, `${mimeType}: ${res.text}`);
      assert.deepEqual((lastUpstream().body!.messages as { content: unknown[] }[])[0]!.content[1], { type: 'document', source: { type: 'text', media_type: 'text/plain', data: text } }, mimeType);
      const sent = h.fake.requests.length;
      const refused = await call('gpt-4o', mimeType, data);
      assert.equal(refused.status, 400, `gpt-4o ${mimeType}: ${refused.text}`);
      assert.match(refused.json().error.message, /^ERR_NGROK_27226: .*inline data chat completions cannot carry/);
      assert.equal(h.fake.requests.length, sent, 'nothing was sent');
    }
  });

  test('media in systemInstruction is refused naming it and the target (a system prompt is text alone there); inlineData without its data or mimeType is the client\'s 400 naming it — never dropped', async () => {
    const sent = h.fake.requests.length;
    for (const [model, target] of [['gpt-4o', 'chat completions'], ['claude-sonnet-4-6', 'Anthropic Messages']] as const) {
      const res = await gw(h, `/v1beta/models/${model}:generateContent`, { headers: { 'x-goog-api-key': token }, body: {
        systemInstruction: { parts: [{ text: 'Answer from the attached style guide.' }, { inlineData: { mimeType: 'application/pdf', data: 'JVBERi0x' } }] },
        contents: [{ role: 'user', parts: [{ text: 'Write the intro.' }] }],
      } });
      assert.equal(res.status, 400, `${model}: ${res.text}`);
      assert.match(res.json().error.message, new RegExp(`^ERR_NGROK_27226: .*inline data in "systemInstruction", which ${target} cannot carry`), model);
    }
    for (const [model, inlineData, path] of [
      ['gpt-4o', { mimeType: 'image/png' }, 'contents\\[0\\]\\.parts\\[1\\]\\.inlineData'],
      ['claude-sonnet-4-6', { data: 'iVBORw0K' }, 'contents\\[0\\]\\.parts\\[1\\]\\.inlineData'],
    ] as const) {
      const res = await gw(h, `/v1beta/models/${model}:generateContent`, { headers: { 'x-goog-api-key': token }, body: {
        contents: [{ role: 'user', parts: [{ text: 'What is in this picture?' }, { inlineData }] }],
      } });
      assert.equal(res.status, 400, `${model}: ${res.text}`);
      assert.equal(res.json().error.status, 'INVALID_ARGUMENT');
      assert.match(res.json().error.message, new RegExp(`^ERR_NGROK_27228: Invalid request: "${path}" needs "data" \\(base64\\) and "mimeType"`), model);
    }
    assert.equal(h.fake.requests.length, sent, 'nothing was sent');
  });

  test('a Gemini model is still served natively, untranslated; what another model cannot read (Google\'s cached content) is refused', async () => {
    const answer = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'native' });
    assert.match(answer.text ?? '', /fake gemini-2\.5-flash model/);
    assert.equal(lastUpstream().path, '/v1beta/models/gemini-2.5-flash:generateContent');
    assert.deepEqual(lastUpstream().body, { contents: [{ parts: [{ text: 'native' }], role: 'user' }] });
    const sent = h.fake.requests.length;
    await assert.rejects(ai.models.generateContent({ model: 'gpt-4o', contents: 'x', config: { cachedContent: 'cachedContents/abc' } }), (e: unknown) => {
      assert.ok(e instanceof ApiError, String(e));
      assert.equal(e.status, 400);
      assert.match(JSON.parse(e.message).error.message, /^ERR_NGROK_27226: .*cachedContent/);
      return true;
    });
    assert.equal(h.fake.requests.length, sent, 'nothing was sent');
  });

  /** The fake's OpenAI vector for the input at `index`, as floats (wire.ts). */
  const fakeVector = (index: number, dimensions: number): number[] => Array.from({ length: dimensions }, (_, i) => Math.fround(((index + 1) * (i + 1)) / 1024 - 0.5));

  test('embedContent on text-embedding-3-small (one content and several): one /v1/embeddings call, the vectors as Google\'s embeddings in order; taskType and title named removed; metered from OpenAI\'s usage', async () => {
    const answer = await ai.models.embedContent({ model: 'text-embedding-3-small', contents: ['the first text', 'the second text'], config: { outputDimensionality: 3, taskType: 'RETRIEVAL_DOCUMENT', title: 'A title' } });
    assert.deepEqual(answer.embeddings?.map((e) => e.values), [fakeVector(0, 3), fakeVector(1, 3)]);
    const headers = answer.sdkHttpResponse?.headers ?? {};
    assert.equal(headers['ngrok-aig-model'], 'text-embedding-3-small');
    assert.deepEqual(headers['ngrok-aig-removed-params']?.split(', ').sort(), ['requests.taskType', 'requests.title']);
    const up = lastUpstream();
    assert.equal(up.path, '/v1/embeddings');
    assert.equal(up.headers.authorization, 'Bearer sk-translate-openai');
    assert.deepEqual(up.body, { model: 'text-embedding-3-small', input: ['the first text', 'the second text'], dimensions: 3 });
    const [row] = await h.usage(headers['ngrok-aig-request-id']!, 1);
    assert.deepEqual(
      [row!.provider, row!.model, Number(row!.inputTokens), Number(row!.outputTokens), Number(row!.usageEstimated), Number(row!.isStreaming), row!.completion],
      ['openai', 'text-embedding-3-small', FAKE_USAGE.input, 0, 0, 0, 'succeeded'],
    );

    // One content (the SDK still calls :batchEmbedContents), the model written with its provider.
    const one = await ai.models.embedContent({ model: 'openai:text-embedding-3-small', contents: 'just one' });
    assert.deepEqual(one.embeddings?.map((e) => e.values), [fakeVector(0, 4)]);
    assert.equal(one.sdkHttpResponse?.headers?.['ngrok-aig-removed-params'], undefined);
    assert.deepEqual(lastUpstream().body, { model: 'text-embedding-3-small', input: ['just one'] });
  });

  test(':embedContent on text-embedding-3-small: one input, Google\'s single embedding back; the fields OpenAI has no place for named as sent', async () => {
    const res = await gw(h, '/v1beta/models/text-embedding-3-small:embedContent', { headers: { 'x-goog-api-key': token }, body: { content: { parts: [{ text: 'embed this' }, { text: 'and this' }] }, task_type: 'SEMANTIC_SIMILARITY', title: 't', output_dimensionality: 2 } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json(), { embedding: { values: fakeVector(0, 2) } });
    assert.deepEqual(res.headers.get('ngrok-aig-removed-params')?.split(', ').sort(), ['task_type', 'title']);
    assert.deepEqual(lastUpstream().body, { model: 'text-embedding-3-small', input: 'embed this\nand this', dimensions: 2 });
    const [row] = await h.usage(res.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([row!.model, Number(row!.inputTokens), Number(row!.usageEstimated)], ['text-embedding-3-small', FAKE_USAGE.input, 0]);
  });

  test('embeddings a text model cannot carry are refused before any call: a part that is not text (27226), a request naming another model (27228); the provider\'s refusal comes back in Google\'s shape; a Gemini embedding model stays native', async () => {
    const sent = h.fake.requests.length;
    const image = { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } };
    await assert.rejects(ai.models.embedContent({ model: 'text-embedding-3-small', contents: [{ parts: [{ text: 'look' }, image] }] }), (e: unknown) => {
      assert.ok(e instanceof ApiError, String(e));
      assert.equal(e.status, 400);
      assert.match(JSON.parse(e.message).error.message, /^ERR_NGROK_27226: .*not text/);
      return true;
    });
    const single = await gw(h, '/v1beta/models/text-embedding-3-small:embedContent', { headers: { 'x-goog-api-key': token }, body: { content: { parts: [image] } } });
    assert.equal(single.status, 400);
    assert.match(single.json().error.message, /^ERR_NGROK_27226: .*not text/);
    const other = await gw(h, '/v1beta/models/text-embedding-3-small:batchEmbedContents', { headers: { 'x-goog-api-key': token }, body: { requests: [{ model: 'models/text-embedding-3-small', content: { parts: [{ text: 'a' }] } }, { model: 'models/text-embedding-3-large', content: { parts: [{ text: 'b' }] } }] } });
    assert.equal(other.status, 400);
    assert.match(other.json().error.message, /^ERR_NGROK_27228: .*"models\/text-embedding-3-large"/);
    assert.equal(h.fake.requests.length, sent, 'nothing was sent');

    await assert.rejects(ai.models.embedContent({ model: 'openai:fail-400-embed', contents: 'x' }), (e: unknown) => {
      assert.ok(e instanceof ApiError, String(e));
      assert.deepEqual([e.status, JSON.parse(e.message).error.status], [400, 'INVALID_ARGUMENT']);
      return true;
    });
    const native = await ai.models.embedContent({ model: 'gemini-embedding-001', contents: 'native' });
    assert.equal(native.embeddings?.length, 1);
    assert.equal(lastUpstream().path, '/v1beta/models/gemini-embedding-001:batchEmbedContents');
  });

  test('malformed embeddings for an OpenAI model are refused in Google\'s shape, naming the member, never embedded as no text; 2,048 requests go up as one call, vectors in order, and more are refused', async () => {
    const sent = h.fake.requests.length;
    const refused = async (method: string, body: string, why: RegExp) => {
      const res = await gw(h, `/v1beta/models/text-embedding-3-small:${method}`, { headers: { 'x-goog-api-key': token }, body });
      assert.equal(res.status, 400, `${method} ${body}: ${res.text.slice(0, 200)}`);
      const { error } = res.json();
      assert.deepEqual([error.code, error.status], [400, 'INVALID_ARGUMENT']);
      assert.match(error.message, why);
    };
    await refused('batchEmbedContents', '{"requests":"embed me"}', /"requests\[0\]" must be an EmbedContentRequest/);
    await refused('batchEmbedContents', '{"requests":[null]}', /"requests\[0\]" must be an EmbedContentRequest/);
    await refused('batchEmbedContents', '{}', /"requests" is required/);
    await refused('batchEmbedContents', '{"requests":[]}', /"requests" is required/);
    await refused('batchEmbedContents', '{"requests":[{"content":{"parts":[{"text":"a"}]}},{"content":null}]}', /"requests\[1\]\.content" is required/);
    await refused('batchEmbedContents', '{"requests":[{"content":{"parts":"a"}}]}', /"requests\[0\]\.content\.parts" must be a list of Part objects/);
    await refused('embedContent', '{"content":"embed me"}', /"content" is required: one Content object/);
    await refused('embedContent', '{"content":{"parts":[1]}}', /"content\.parts" must be a list of Part objects/);
    await refused('embedContent', '{"content":{"parts":[]}}', /"content\.parts" must be a list of Part objects/);
    assert.equal(h.fake.requests.length, sent, 'nothing was sent');

    // OpenAI's most inputs in one call go up as one; more are refused before any call (27226, Google's shape).
    const many = Array.from({ length: 2048 }, (_, i) => ({ content: { parts: [{ text: `text ${i}` }] } }));
    const res = await gw(h, '/v1beta/models/text-embedding-3-small:batchEmbedContents', { headers: { 'x-goog-api-key': token }, body: { requests: many } });
    assert.equal(res.status, 200, res.text.slice(0, 200));
    assert.equal(res.json().embeddings.length, 2048);
    assert.equal((lastUpstream().body as { input: string[] }).input[2047], 'text 2047');
    const upstreamCalls = h.fake.requests.length;
    const tooMany = await gw(h, '/v1beta/models/text-embedding-3-small:batchEmbedContents', { headers: { 'x-goog-api-key': token }, body: { requests: [...many, ...many] } });
    assert.deepEqual([tooMany.status, tooMany.json().error.status], [400, 'INVALID_ARGUMENT']);
    assert.match(tooMany.json().error.message, /^ERR_NGROK_27226: .*4096 contents in one batch/);
    assert.equal(h.fake.requests.length, upstreamCalls, 'nothing was sent');
  });
});

describe('Gemini requests in Google\'s REST spelling, and Google\'s answer to a key that is not valid (sqlite)', () => {
  const INVALID_KEY = 'sk-invalid-key';
  let h: Harness;
  let invalid: string;
  let good: string;
  let token: string;
  before(async () => {
    // The managed Google key is one Google says is not valid: the operator's to fix, never the tenant's.
    h = await startHarness('sqlite', { TOLLGATE_MANAGED_GOOGLE_API_KEY: INVALID_KEY });
    invalid = await h.providerKey('google', INVALID_KEY, 'revoked');
    good = await h.providerKey('google', 'AIza-fake-good', 'good');
    await h.providerKey('openai', 'sk-translate-openai');
    token = await routedTo(h, good);
  });
  after(async () => { await h.close(); });

  const call = (model: string, body: string) => gw(h, `/v1beta/models/${model}:generateContent`, { headers: { 'x-goog-api-key': token }, body });
  const long = 'Answer as a pirate would, at length and with feeling. '.repeat(60);

  test('the input cap counts a system instruction, function calls and results written as Google\'s REST examples write them (system_instruction, function_call, function_response)', async () => {
    await h.gatewayConfig({ maxInputTokens: 300 });
    try {
      const sent = h.fake.requests.length;
      for (const body of [
        { system_instruction: { parts: [{ text: long }] }, contents: [{ role: 'user', parts: [{ text: 'hi' }] }] },
        { contents: [{ role: 'user', parts: [{ text: 'hi' }] }, { role: 'model', parts: [{ function_call: { name: 'f', args: { text: long } } }] }, { role: 'user', parts: [{ function_response: { name: 'f', response: { output: long } } }] }] },
      ]) {
        for (const model of ['gemini-2.5-flash', 'gpt-4o']) {
          const res = await call(model, JSON.stringify(body));
          assert.equal(res.status, 413, `${model}: ${res.text}`);
          const { error } = res.json();
          assert.match(error.message, /^ERR_NGROK_3811: Input too large/);
        }
      }
      assert.equal(h.fake.requests.length, sent, 'nothing went upstream');
      const small = await call('gemini-2.5-flash', '{"system_instruction":{"parts":[{"text":"Be brief."}]},"contents":[{"parts":[{"text":"hi"}]}]}');
      assert.equal(small.status, 200, small.text);
    } finally {
      await h.gatewayConfig({ maxInputTokens: null });
    }
  });

  test('translated to a chat model, a snake_case request keeps its system prompt, images, tools, calling mode and output settings', async () => {
    const body = {
      system_instruction: { parts: [{ text: 'Be brief.' }] },
      contents: [{ role: 'user', parts: [{ text: 'What is this?' }, { inline_data: { mime_type: 'image/png', data: 'iVBORw0KGgo=' } }] }],
      tools: [{ function_declarations: [{ name: 'describe_image', parameters: { type: 'OBJECT', properties: { label_text: { type: 'STRING' } } } }] }],
      tool_config: { function_calling_config: { mode: 'NONE' } },
      generation_config: { stop_sequences: ['END'], top_p: 0.5, response_mime_type: 'application/json', response_json_schema: { type: 'object', properties: { label_text: { type: 'string' } } } },
    };
    const res = await call('gpt-4o', JSON.stringify(body));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('ngrok-aig-removed-params'), null, 'nothing was left out');
    const up = h.fake.requests.at(-1)!;
    assert.equal(up.path, '/v1/chat/completions');
    assert.deepEqual(up.body!.messages, [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] },
    ]);
    assert.deepEqual(up.body!.tools, [{ type: 'function', function: { name: 'describe_image', parameters: { type: 'object', properties: { label_text: { type: 'string' } } } } }]);
    assert.deepEqual([up.body!.tool_choice, up.body!.stop, up.body!.top_p, (up.body!.response_format as { type: string }).type], ['none', ['END'], 0.5, 'json_schema']);
  });

  test('`contents` that is no Content is refused before any upstream call, in Google\'s shape; a lone Content is one turn, as Google reads it', async () => {
    const sent = h.fake.requests.length;
    for (const [model, contents] of [['gpt-4o', '"hello"'], ['claude-sonnet-4-6', '42'], ['gemini-2.5-flash', '"hello"'], ['gpt-4o', '["hello"]'], ['gpt-4o', '[]']] as const) {
      const res = await call(model, `{"contents":${contents}}`);
      assert.equal(res.status, 400, `${model} ${contents}: ${res.text}`);
      const { error } = res.json();
      assert.deepEqual([error.status, error.details[0].reason], ['INVALID_ARGUMENT', 'ERR_NGROK_3801']);
      assert.match(error.message, /^ERR_NGROK_3801: Invalid request body: "contents"/);
    }
    const missing = await call('gpt-4o', '{"system_instruction":{"parts":[{"text":"x"}]}}');
    assert.equal(missing.status, 400, missing.text);
    assert.match(missing.json().error.message, /"contents" is required/);
    assert.equal(h.fake.requests.length, sent, 'nothing went upstream');
    // Google's own REST sample: `"contents": {"parts": {"text": …}}`.
    const lone = await call('gpt-4o', '{"contents":{"parts":{"text":"Hello there"}}}');
    assert.equal(lone.status, 200, lone.text);
    assert.deepEqual(h.fake.requests.at(-1)!.body!.messages, [{ role: 'user', content: 'Hello there' }]);
  });

  test('a key Google answers with 400 API_KEY_INVALID fails over to the next key; with none left the client is told a credential was rejected, not Google\'s message', async () => {
    const both = await routedTo(h, invalid, good);
    const answer = await client(h, both).models.generateContent({ model: 'gemini-2.5-flash', contents: 'failover' });
    assert.match(answer.text ?? '', /failover/);
    const headers = answer.sdkHttpResponse?.headers ?? {};
    assert.equal(headers['ngrok-aig-attempts'], '2');
    const rows = await h.usage(headers['ngrok-aig-request-id']!, 2);
    assert.deepEqual(rows.map((r) => [r.statusCode, r.retryAction, r.providerKeyId]), [[400, 'next_key', invalid], [200, 'succeeded', good]]);
    let streamed = '';
    for await (const chunk of await client(h, both).models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'stream failover' })) streamed += chunk.text ?? '';
    assert.match(streamed, /stream failover/);

    const only = await routedTo(h, invalid);
    await assert.rejects(client(h, only).models.generateContent({ model: 'gemini-2.5-flash', contents: 'x' }), (e: unknown) => {
      assert.ok(e instanceof ApiError, String(e));
      assert.equal(e.status, 503);
      assert.match(JSON.parse(e.message).error.message, /^ERR_NGROK_3807: All providers failed: \[1\] google:gemini-2\.5-flash with key \S+: HTTP 400 credential rejected$/);
      return true;
    });
    // The managed key: its tenant is told the gateway's key failed, never "API key not valid" as if the key were theirs.
    const managed = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'google', steps: [{ type: 'ngrok' }] }] } }))).token;
    await assert.rejects(client(h, managed).models.generateContent({ model: 'gemini-2.5-flash', contents: 'x' }), (e: unknown) => {
      assert.ok(e instanceof ApiError, String(e));
      assert.equal(e.status, 503);
      assert.match(JSON.parse(e.message).error.message, /with managed key: HTTP 400 credential rejected$/);
      assert.doesNotMatch(e.message, /API key not valid/);
      return true;
    });
  });

  test('Google\'s Interactions API answers a key that is not valid as its native API does: the next key serves the interaction; with none left, a credential was rejected', async () => {
    const both = await routedTo(h, invalid, good);
    const answer = await client(h, both).interactions.create({ model: 'gemini-2.5-flash', input: 'interactions failover' });
    assert.match(answer.output_text ?? '', /interactions failover/);
    const headers = (answer as { sdkHttpResponse?: { headers?: Record<string, string> } }).sdkHttpResponse?.headers ?? {};
    assert.equal(headers['ngrok-aig-attempts'], '2');
    const rows = await h.usage(headers['ngrok-aig-request-id']!, 2);
    assert.deepEqual(rows.map((r) => [r.statusCode, r.retryAction, r.providerKeyId]), [[400, 'next_key', invalid], [200, 'succeeded', good]]);
    assert.equal(h.fake.requests.at(-2)!.path, '/v1beta/interactions');

    const managed = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'google', steps: [{ type: 'ngrok' }] }] } }))).token;
    const res = await gw(h, '/v1beta/interactions', { headers: { 'x-goog-api-key': managed }, body: { model: 'gemini-2.5-flash', input: 'x', stream: true } });
    assert.equal(res.status, 503, res.text);
    assert.match(res.json().error.message, /^ERR_NGROK_3807: .*with managed key: HTTP 400 credential rejected$/);
    assert.doesNotMatch(res.text, /API key not valid/);
  });

  test('Google\'s OpenAI-compatible API answers a key that is not valid with the same error in a list: it fails over too (the openai SDK)', async () => {
    const sdk = (t: string) => new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: t, maxRetries: 0 });
    const both = await routedTo(h, invalid, good);
    const { data, response } = await sdk(both).chat.completions.create({ model: 'google:gemini-2.5-flash', messages: [{ role: 'user', content: 'compat failover' }] }).withResponse();
    assert.match(data.choices[0]!.message.content ?? '', /compat failover/);
    assert.equal(response.headers.get('ngrok-aig-attempts'), '2');
    assert.equal(h.fake.requests.at(-2)!.headers.authorization, `Bearer ${INVALID_KEY}`);
    const only = await routedTo(h, invalid);
    await assert.rejects(sdk(only).chat.completions.create({ model: 'google:gemini-2.5-flash', messages: [{ role: 'user', content: 'x' }] }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.InternalServerError, String(e));
      assert.match(e.message, /ERR_NGROK_3807: .*HTTP 400 credential rejected/);
      return true;
    });
  });
});

/**
 * A gateway with two Google keys, one rate-limited (`sk-429`), and an access key for Google and OpenAI routed to the
 * good one.
 */
async function googleKeys(env: Record<string, string> = {}): Promise<{ h: Harness; limited: string; good: string; token: string }> {
  const h = await startHarness('sqlite', env);
  const limited = await h.providerKey('google', 'sk-429', 'limited');
  const good = await h.providerKey('google', 'AIza-fake-good', 'good');
  const token = (await h.accessKey(await h.configuration({
    access: { providers: { allow: ['google', 'openai'] } },
    router: { rules: [{ provider: 'google', steps: [{ type: 'user', keys: [{ id: good }] }] }] },
  }))).token;
  return { h, limited, good, token };
}

/** An access key whose Google requests use these stored keys, in order. */
async function routedTo(h: Harness, ...keyIds: string[]): Promise<string> {
  return (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'google', steps: [{ type: 'user', keys: keyIds.map((id) => ({ id })) }] }] } }))).token;
}

function client(h: Harness, apiKey: string): GoogleGenAI {
  return new GoogleGenAI({ apiKey, apiVersion: 'v1beta', httpOptions: { baseUrl: h.gatewayUrl } });
}
