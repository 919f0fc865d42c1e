// Gateway front door on SQLite: authentication, paths, bodies, request ids, CORS, /healthz, /v1/models,
// and what reaches the provider (never the access key; the provider key in the provider's header).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync, zstdCompressSync } from 'node:zlib';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { connect as connectH2 } from 'node:http2';
import { rawH2, rawHttp } from './helpers/raw-http.ts';
import { gw, MANAGED_ANTHROPIC_KEY, MANAGED_OPENAI_KEY, startHarness, type Harness } from './helpers/gateway.ts';

const chat = (content = 'hi', model = 'gpt-4o') => ({ model, messages: [{ role: 'user' as const, content }] });
const RQ = /^rq_[0-9A-Z]{26}$/;

describe('gateway front door (sqlite)', () => {
  let h: Harness;
  let token: string;
  before(async () => {
    h = await startHarness('sqlite', { TOLLGATE_MAX_BODY_BYTES: '4096' });
    token = (await h.accessKey()).token;
  });
  after(async () => { await h.close(); });

  test('the returned URLs carry the real ports', () => {
    assert.match(h.gatewayUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(new URL(h.gatewayUrl).port, '0');
    assert.notEqual(new URL(h.apiUrl).port, '0');
  });

  test('Authorization: Bearer (OpenAI SDK) and x-api-key (Anthropic SDK) both authenticate', async () => {
    const openai = new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: token, maxRetries: 0 });
    const { data, response } = await openai.chat.completions.create(chat('bearer')).withResponse();
    assert.match(data.choices[0]!.message.content!, /fake gpt-4o model/);
    assert.match(response.headers.get('ngrok-aig-request-id')!, RQ);
    const anthropic = new Anthropic({ baseURL: h.gatewayUrl, apiKey: token, maxRetries: 0 });
    const msg = await anthropic.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 50, messages: [{ role: 'user', content: 'x-api-key' }] });
    assert.equal(msg.content[0]!.type, 'text');
    const viaBearer = new Anthropic({ baseURL: h.gatewayUrl, authToken: token, apiKey: null, maxRetries: 0 });
    const msg2 = await viaBearer.messages.create({ model: 'claude-haiku-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'bearer to anthropic' }] });
    assert.equal(msg2.stop_reason, 'end_turn');
    // A dated snapshot id is the catalogued model (managed key included), sent upstream as pinned.
    h.fake.reset();
    const pinned = await anthropic.messages.create({ model: 'claude-haiku-4-5-20251001', max_tokens: 50, messages: [{ role: 'user', content: 'pinned' }] });
    assert.equal(pinned.stop_reason, 'end_turn');
    assert.equal(h.fake.requests[0]!.body!.model, 'claude-haiku-4-5-20251001');
  });

  test('the access key never reaches a provider; each provider key goes in its own header', async () => {
    h.fake.reset();
    const byok = await h.providerKey('openai', 'sk-byok-openai', 'primary');
    const cfg = await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: byok }] }] }] } });
    const scoped = await h.accessKey(cfg);
    // Without a rule the account's own keys come first (routing defaults): pin the managed key explicitly.
    const managedOnly = await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'ngrok' }] }] } }));
    await gw(h, '/v1/chat/completions', { token: scoped.token, body: chat('byok') });
    await gw(h, '/v1/chat/completions', { token: managedOnly.token, body: chat('managed') });
    await gw(h, '/v1/messages', { headers: { 'x-api-key': token, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'test-beta' }, body: { model: 'claude-sonnet-4-6', max_tokens: 10, messages: [{ role: 'user', content: 'hey' }] } });
    const [first, second, third] = h.fake.requests;
    assert.equal(first!.headers.authorization, 'Bearer sk-byok-openai');
    assert.equal(second!.headers.authorization, `Bearer ${MANAGED_OPENAI_KEY}`);
    assert.equal(third!.headers['x-api-key'], MANAGED_ANTHROPIC_KEY);
    assert.equal(third!.headers.authorization, undefined);
    assert.equal(third!.headers['anthropic-version'], '2023-06-01');
    assert.equal(third!.headers['anthropic-beta'], 'test-beta');
    for (const r of h.fake.requests) {
      const all = JSON.stringify(r.headers) + r.rawBody;
      assert.ok(!all.includes(token) && !all.includes(scoped.token) && !all.includes(managedOnly.token), 'an access key reached the provider');
    }
  });

  test("the operator's organization, project and rate limits never reach a tenant using the managed key", async () => {
    const byok = await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: await h.providerKey('openai', 'sk-own-openai', 'own') }] }] }] } }));
    const managed = await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'ngrok' }] }, { provider: 'anthropic', steps: [{ type: 'ngrok' }] }] } }));
    const own = await gw(h, '/v1/chat/completions', { token: byok.token, body: chat('own key') });
    // The tenant's own key: its own account's headers are passed through.
    assert.equal(own.headers.get('openai-organization'), 'fake-org');
    assert.equal(own.headers.get('x-ratelimit-remaining-requests'), '9999');
    const answers = [
      await gw(h, '/v1/chat/completions', { token: managed.token, body: chat('managed') }),
      await gw(h, '/v1/chat/completions', { token: managed.token, body: { ...chat('managed stream'), stream: true } }),
      await gw(h, '/v1/messages', { headers: { 'x-api-key': managed.token }, body: { model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'managed' }] } }),
    ];
    for (const r of answers) {
      assert.equal(r.status, 200, r.text);
      const leaked = [...r.headers.keys()].filter((name) => /organization|project|ratelimit/.test(name));
      assert.deepEqual(leaked, []);
    }
    assert.equal(answers[2]!.headers.get('request-id'), 'req_fake1', "the provider's request id still reaches the client");
  });

  test('same-format bodies are forwarded byte for byte', async () => {
    h.fake.reset();
    const raw = '{ "model" : "gpt-4o",\n  "messages": [{"role":"user","content":"exact bytes ✓"}], "temperature": 0.5 }';
    const r = await gw(h, '/v1/chat/completions', { token, body: raw });
    assert.equal(r.status, 200);
    assert.equal(h.fake.requests[0]!.rawBody, raw);
  });

  test('a key given twice reaches the provider once, with the value the gateway checked and routed by', async () => {
    h.fake.reset();
    // A provider whose parser keeps the first value would otherwise serve gpt-4o-mini and 100000 tokens, which
    // the scope, the routing and the output cap never saw.
    const raw = '{"model":"gpt-4o-mini","max_tokens":100000,"messages":[{"role":"user","content":"twice"}],"model":"gpt-4o","max_tokens":10}';
    const r = await gw(h, '/v1/chat/completions', { token, body: raw });
    assert.equal(r.status, 200, r.text);
    assert.equal(h.fake.requests[0]!.rawBody, '{"messages":[{"role":"user","content":"twice"}],"model":"gpt-4o","max_tokens":10}');
  });

  test('top-level keys that differ only in case are refused: a case-insensitive provider could read the unchecked one', async () => {
    h.fake.reset();
    for (const raw of [
      '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}],"Model":"gpt-4o"}',
      '{"Max_tokens":100000,"model":"gpt-4o","messages":[],"max_tokens":10}',
      '{"model":"gpt-4o","messages":[],"STREAM":true,"Stream":false}',
    ]) {
      const r = await gw(h, '/v1/chat/completions', { token, body: raw });
      assert.equal(r.status, 400, raw);
      assert.equal(r.json().error.code, 'ERR_NGROK_3801');
      assert.match(r.json().error.message, /differ only in case/);
    }
    assert.equal(h.fake.requests.length, 0);
    // One spelling alone is the client's business (the provider decides what it means).
    assert.equal((await gw(h, '/v1/chat/completions', { token, body: '{"model":"gpt-4o","messages":[],"User":"u1"}' })).status, 200);
  });

  test('an edited body keeps every value the gateway did not edit as the client wrote it', async () => {
    h.fake.reset();
    // The model is rewritten (provider prefix) and usage injected into the stream: the rest stays as sent.
    const raw = '{"model":"openai:gpt-4o","stream":true,"seed":9007199254740993,"temperature":1.0,"messages":[{"role":"user","content":"x"}]}';
    const r = await gw(h, '/v1/chat/completions', { token, body: raw });
    assert.equal(r.status, 200);
    assert.equal(h.fake.requests[0]!.rawBody, '{"model":"gpt-4o","stream":true,"seed":9007199254740993,"temperature":1.0,"messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true}}');
  });

  test('missing, unknown and revoked keys get 401 at once and never reach a provider', async () => {
    h.fake.reset();
    const missing = await gw(h, '/v1/chat/completions', { body: chat() });
    assert.equal(missing.status, 401);
    assert.equal(missing.json().error.code, 'ERR_NGROK_27201');
    assert.equal(missing.json().error.type, 'authentication_error');
    assert.match(missing.headers.get('ngrok-aig-request-id')!, RQ);
    // RFC 9110: a 401 names the scheme that would be accepted.
    assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="gateway"');
    assert.equal(missing.headers.get('ngrok-aig-attempts'), '0');
    const unknown = await gw(h, '/v1/chat/completions', { token: 'ng-nope-g1-unknownkey', body: chat() });
    assert.equal(unknown.status, 401);
    assert.match(unknown.json().error.message, /invalid or has been deleted/);
    // The control plane's key, sent here by mistake: said so (the two look alike to a user holding one).
    const controlKey = await gw(h, '/v1/chat/completions', { token: `tgapi_${'x'.repeat(43)}`, body: chat() });
    assert.equal(controlKey.status, 401);
    assert.match(controlKey.json().error.message, /that is a control-plane API key \(tgapi_…\), which only the control plane takes; the gateway takes an access key/);
    const basic = await gw(h, '/v1/chat/completions', { headers: { authorization: 'Basic Zm9vOmJhcg==' }, body: chat() });
    assert.equal(basic.status, 401);
    assert.match(basic.json().error.message, /Authorization header is not "Bearer <access key>"/);
    const anthropicShape = await gw(h, '/v1/messages', { headers: { 'x-api-key': 'ng-wrong' }, body: { model: 'claude-sonnet-4-6', max_tokens: 5, messages: [] } });
    assert.equal(anthropicShape.status, 401);
    assert.equal(anthropicShape.json().type, 'error');
    assert.equal(anthropicShape.json().error.type, 'authentication_error');
    await assert.rejects(new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: 'ng-bad', maxRetries: 0 }).chat.completions.create(chat()), OpenAI.AuthenticationError);
    await assert.rejects(new Anthropic({ baseURL: h.gatewayUrl, apiKey: 'ng-bad', maxRetries: 0 }).messages.create({ model: 'claude-sonnet-4-6', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }), Anthropic.AuthenticationError);

    const doomed = await h.accessKey();
    assert.equal((await gw(h, '/v1/chat/completions', { token: doomed.token, body: chat() })).status, 200);
    await h.api('DELETE', `/access-keys/${doomed.id}`);
    const revoked = await gw(h, '/v1/chat/completions', { token: doomed.token, body: chat('after revoke') });
    assert.equal(revoked.status, 401);
    assert.ok(!h.fake.requests.some((r) => r.rawBody.includes('after revoke')));
    assert.equal(h.fake.requests.length, 1);
  });

  test('unknown paths 404 27204 (Gemini triggers named); bad JSON 400 3801; oversized bodies 413', async () => {
    const nf = await gw(h, '/v1/nope', { token, body: {} });
    assert.equal(nf.status, 404);
    assert.equal(nf.json().error.code, 'ERR_NGROK_27204');
    assert.equal(nf.json().error.message, 'ERR_NGROK_27204: Unsupported API surface "/v1/nope" (POST).');
    assert.match(nf.headers.get('ngrok-aig-request-id')!, RQ);
    // The two base-URL mistakes SDK users make are named, each in its SDK's error shape.
    const noV1 = await new OpenAI({ baseURL: h.gatewayUrl, apiKey: token, maxRetries: 0 }).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    assert.ok(noV1 instanceof OpenAI.NotFoundError);
    assert.match(noV1.message, /Did you mean \/v1\/chat\/completions\? An OpenAI SDK's base URL ends with \/v1\./);
    const twice = await new Anthropic({ baseURL: `${h.gatewayUrl}/v1`, apiKey: token, maxRetries: 0 }).messages.create({ model: 'claude-sonnet-4-6', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    assert.ok(twice instanceof Anthropic.NotFoundError);
    assert.equal((twice.error as { type: string }).type, 'error', 'Anthropic\'s error shape');
    assert.match(twice.message, /Did you mean \/v1\/messages\? The base URL has \/v1 once too often/);
    // The same mistakes on a model listing, the first call a model picker makes.
    const listNoV1 = await new OpenAI({ baseURL: h.gatewayUrl, apiKey: token, maxRetries: 0 }).models.list().catch((e: unknown) => e);
    assert.ok(listNoV1 instanceof OpenAI.NotFoundError);
    assert.match(listNoV1.message, /Did you mean \/v1\/models\? An OpenAI SDK's base URL ends with \/v1\./);
    const listTwice = await new Anthropic({ baseURL: `${h.gatewayUrl}/v1`, apiKey: token, maxRetries: 0 }).models.retrieve('claude-sonnet-4-6').catch((e: unknown) => e);
    assert.ok(listTwice instanceof Anthropic.NotFoundError);
    assert.match(listTwice.message, /Did you mean \/v1\/models\/claude-sonnet-4-6\? The base URL has \/v1 once too often/);
    // A trailing slash is not served silently (the providers' APIs 404 it too): the 404 names the path without it.
    const slashed = await new OpenAI({ baseURL: h.gatewayUrl, apiKey: token, maxRetries: 0 }).post('/v1/chat/completions/', { body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] } }).catch((e: unknown) => e);
    assert.ok(slashed instanceof OpenAI.NotFoundError);
    assert.match(slashed.message, /Did you mean \/v1\/chat\/completions\? The path ends with a slash\./);
    // A stored response's calls (the OpenAI SDK's responses.retrieve, delete, cancel, inputItems.list): the gateway keeps none.
    const openai = new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: token, maxRetries: 0 });
    for (const call of [() => openai.responses.retrieve('resp_abc'), () => openai.responses.delete('resp_abc'), () => openai.responses.cancel('resp_abc'), () => openai.responses.inputItems.list('resp_abc')]) {
      const stored = await call().catch((e: unknown) => e);
      assert.ok(stored instanceof OpenAI.NotFoundError);
      assert.match(stored.message, /^404 ERR_NGROK_27204: Unsupported API surface "\/v1\/responses\/resp_abc(\/cancel|\/input_items)?" \((GET|POST|DELETE)\)\. Only POST \/v1\/responses is served: the gateway keeps no responses/);
    }
    // A hint names only what is served: GET /v1/chat/completions would be another 404.
    assert.doesNotMatch((await gw(h, '/chat/completions', { token })).json().error.message, /Did you mean/);
    // An Anthropic SDK call this gateway does not serve (Files, Skills): Anthropic's error shape, so `err.type`
    // says what happened and the body names the request.
    const files = await new Anthropic({ baseURL: h.gatewayUrl, apiKey: token, maxRetries: 0 }).beta.files.list().catch((e: unknown) => e);
    assert.ok(files instanceof Anthropic.NotFoundError);
    assert.equal(files.type, 'not_found_error');
    assert.equal((files.error as { request_id?: string }).request_id, files.requestID);
    assert.match(files.message, /ERR_NGROK_27204: Unsupported API surface "\/v1\/files" \(GET\)/);
    // Google's platform beyond what ngrok serves of it (Interactions' agents, triggers): said in Google's error shape,
    // the one the Gen AI SDK reads, naming what is not served.
    const triggers = await gw(h, '/v1beta/triggers', { headers: { 'x-goog-api-key': token }, body: {} });
    assert.equal(triggers.status, 404);
    assert.equal(triggers.json().error.status, 'NOT_FOUND');
    assert.match(triggers.json().error.message, /^ERR_NGROK_27204: .*Gemini agents, environments, webhooks and triggers are not served/);
    const wrongMethod = await gw(h, '/v1/chat/completions', { token });
    assert.equal(wrongMethod.status, 404);
    const bad = await gw(h, '/v1/chat/completions', { token, body: '{"model": "gpt-4o", ' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json().error.code, 'ERR_NGROK_3801');
    const notObject = await gw(h, '/v1/chat/completions', { token, body: '[1,2]' });
    assert.equal(notObject.status, 400);
    const modelNotString = await gw(h, '/v1/chat/completions', { token, body: { model: 5, messages: [] } });
    assert.equal(modelNotString.json().error.code, 'ERR_NGROK_3801');
    // An output limit that is not an integer: lenient servers would read "100000" as a number, past any cap.
    const before = h.fake.requests.length;
    for (const [path, body] of [['/v1/chat/completions', { model: 'gpt-4o', max_tokens: '100000', messages: [] }], ['/v1/chat/completions', { model: 'gpt-4o', max_completion_tokens: [100], messages: [] }], ['/v1/responses', { model: 'gpt-4o', max_output_tokens: 1.5, input: 'hi' }], ['/v1/messages', { model: 'claude-sonnet-4-5', max_tokens: '1024', messages: [] }]] as const) {
      const limit = await gw(h, path, { token, body });
      assert.equal(limit.status, 400);
      assert.match(limit.text, /ERR_NGROK_3801.*must be an integer/);
    }
    // A `stream` that is not a boolean: a lenient server would stream for "true" or 1, unmetered by the gateway.
    for (const [path, body] of [['/v1/chat/completions', { model: 'gpt-4o', stream: 'true', messages: [] }], ['/v1/messages', { model: 'claude-sonnet-4-5', max_tokens: 10, stream: 1, messages: [] }], ['/v1/responses', { model: 'gpt-4o', stream: 'false', input: 'hi' }]] as const) {
      const stream = await gw(h, path, { token, body });
      assert.equal(stream.status, 400);
      assert.match(stream.text, /ERR_NGROK_3801.*\\"stream\\" must be true or false/);
    }
    // What the client's API requires, whichever model would serve it (a translated `messages` string went out as an
    // empty conversation).
    for (const [path, body, reason] of [['/v1/messages', { model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }, '"max_tokens" is required'], ['/v1/messages', { model: 'gpt-4o', max_tokens: 10, messages: 'hello' }, '"messages" must be an array'], ['/v1/chat/completions', { model: 'gpt-4o' }, '"messages" must be an array of messages, and is required']] as const) {
      const refused = await gw(h, path, { token, body });
      assert.equal(refused.status, 400);
      assert.ok(String(refused.json().error.message).includes(reason), refused.text);
    }
    assert.equal(h.fake.requests.length, before, 'never sent upstream');
    assert.equal((await gw(h, '/v1/chat/completions', { token, body: { model: 'gpt-4o', max_tokens: null, messages: [{ role: 'user', content: 'hi' }] } })).status, 200, 'null is no limit, as the APIs read it');
    const big = await gw(h, '/v1/chat/completions', { token, body: chat('x'.repeat(5000)) });
    assert.equal(big.status, 413);
    assert.equal(big.json().error.code, 'ERR_NGROK_AI_GATEWAY_REQUEST_BODY_TOO_LONG');
    assert.match(big.headers.get('ngrok-aig-request-id')!, RQ);
  });

  test('a path that is not validly percent-encoded is 400 27228 in its API\'s error shape, over HTTP/1.1 and HTTP/2, not a missing path', async () => {
    const reason = /^ERR_NGROK_27228: Invalid request: the path is not validly percent-encoded/;
    for (const path of ['/v1/chat%ZZcompletions', '/v1/chat/completions%', '/v1/chat%FFcompletions']) {
      const r = await gw(h, path, { token, body: chat() });
      assert.deepEqual([r.status, r.json().error.code], [400, 'ERR_NGROK_27228'], r.text);
      assert.match(r.json().error.message, reason);
      assert.equal(r.headers.get('ngrok-aig-attempts'), '0');
    }
    // A Gen AI SDK call whose model is badly escaped: Google's shape, as every refusal on /v1beta/.
    const gemini = await gw(h, '/v1beta/models/gemini%ZZ:generateContent', { headers: { 'x-goog-api-key': token }, body: {} });
    assert.deepEqual([gemini.status, gemini.json().error.status], [400, 'INVALID_ARGUMENT']);
    assert.match(gemini.json().error.message, reason);
    // A well-formed escape the contract does not serve stays the 404 it was.
    assert.equal((await gw(h, '/v1/chat%2Fcompletions', { token, body: chat() })).status, 404);
    const session = connectH2(h.gatewayUrl);
    try {
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const stream = session.request({ ':method': 'POST', ':path': '/v1/chat%ZZcompletions', authorization: `Bearer ${token}` });
        let status = 0;
        let body = '';
        stream.on('response', (headers) => { status = Number(headers[':status']); });
        stream.setEncoding('utf8');
        stream.on('data', (chunk: string) => { body += chunk; });
        stream.on('end', () => resolve({ status, body }));
        stream.on('error', reject);
        stream.end(JSON.stringify(chat()));
      });
      assert.equal(answer.status, 400);
      assert.match((JSON.parse(answer.body) as { error: { message: string } }).error.message, reason);
    } finally {
      session.close();
    }
  });

  test('every answer says X-Content-Type-Options: nosniff and Ngrok-AIG-Attempts, /healthz and preflights (0) and unparsable requests included', async () => {
    const answers = [
      await gw(h, '/v1/chat/completions', { token, body: chat() }),
      await gw(h, '/v1/chat/completions', { body: chat() }),
      await gw(h, '/v1/nope', { token, body: {} }),
      await gw(h, '/v1/models', { token }),
      await gw(h, '/healthz'),
      await gw(h, '/v1/chat/completions', { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } }),
    ];
    for (const r of answers) assert.equal(r.headers.get('x-content-type-options'), 'nosniff', String(r.status));
    assert.deepEqual(answers.slice(4).map((r) => [r.status, r.headers.get('ngrok-aig-attempts')]), [[200, '0'], [204, '0']]);
    // The provider's own header (OpenAI sends it) is not doubled.
    assert.doesNotMatch(answers[0]!.headers.get('x-content-type-options')!, /,/);
    const unparsable = await rawHttp(h.gatewayUrl, `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-filler: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.deepEqual([unparsable.status, unparsable.headers['x-content-type-options']], [431, 'nosniff']);
  });

  test('an Expect the gateway cannot meet is 417 in the error shape with a request id (node answered a bare status line)', async () => {
    const r = await rawHttp(h.gatewayUrl, `POST /v1/messages HTTP/1.1\r\nhost: x\r\nconnection: close\r\nx-api-key: ${token}\r\nexpect: 200-ok\r\ncontent-length: 2\r\n\r\n{}`);
    assert.equal(r.status, 417);
    assert.match(r.headers['ngrok-aig-request-id'] ?? '', RQ);
    assert.equal(r.headers['ngrok-aig-attempts'], '0');
    const body = JSON.parse(r.body) as { type: string; error: { code: string; message: string } };
    assert.deepEqual([body.type, body.error.code], ['error', 'ERR_NGROK_27228'], 'Anthropic\'s shape on /v1/messages');
    assert.match(body.error.message, /the Expect header asks for "200-ok"; only "100-continue" is supported/);
    // 100-continue itself is served as before.
    const json = JSON.stringify(chat('continue'));
    const served = await rawHttp(h.gatewayUrl, `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\nauthorization: Bearer ${token}\r\nexpect: 100-continue\r\ncontent-length: ${json.length}\r\n\r\n${json}`);
    assert.match(served.body, /HTTP\/1\.1 200 OK/);
  });

  test('Expect: 100-continue is answered 100 only when the body is read: a refused key or an oversized body is answered before any upload', async () => {
    // Headers only: a client waiting for 100 Continue sends nothing more (node said 100 at once, and the body came).
    const refused = await rawHttp(h.gatewayUrl, `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\nauthorization: Bearer ng-not-a-key\r\nexpect: 100-continue\r\ncontent-type: application/json\r\ncontent-length: 5000000\r\n\r\n`);
    assert.equal(refused.status, 401, 'the refusal, not 100 Continue, is the first answer');
    const oversized = await rawHttp(h.gatewayUrl, `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\nauthorization: Bearer ${token}\r\nexpect: 100-continue\r\ncontent-type: application/json\r\ncontent-length: 50000000\r\n\r\n`);
    assert.equal(oversized.status, 413);
  });

  test('two access keys in one request are never served by whichever came first: refused 401, saying which header was read', async () => {
    h.fake.reset();
    const json = JSON.stringify(chat('twice'));
    // node kept the first Authorization and dropped the second unseen: the key served depended on the headers' order.
    for (const [first, second] of [[token, 'ng-other'], ['ng-other', token]]) {
      const r = await rawHttp(h.gatewayUrl, `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\nauthorization: Bearer ${first}\r\nauthorization: Bearer ${second}\r\ncontent-length: ${json.length}\r\n\r\n${json}`);
      assert.equal(r.status, 401);
      assert.match((JSON.parse(r.body) as { error: { message: string } }).error.message, /sends its access key header more than once/);
    }
    assert.equal(h.fake.requests.length, 0);
    // A client sending a stale bearer token beside a valid x-api-key (hand-set default headers, a proxy adding one):
    // Authorization is the one read, and its refusal says so rather than call the key the user checked invalid.
    const both = await gw(h, '/v1/messages', { token: 'ng-stale-token', headers: { 'x-api-key': token, 'anthropic-version': '2023-06-01' }, body: { model: 'claude-haiku-4-5', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] } });
    assert.deepEqual([both.status, both.json().error.type], [401, 'authentication_error']);
    assert.match(both.json().error.message, /the access key in the Authorization header is invalid or has been deleted\. The request also has an x-api-key header with another key, which is not read when Authorization holds one/);
    assert.equal((await gw(h, '/v1/chat/completions', { token, headers: { 'x-api-key': 'ng-other' }, body: chat() })).status, 200, 'Authorization first, as documented');
  });

  test('over HTTP/2 too, two Authorization headers are refused, never served with the first (node:http2 kept it and dropped the other)', async () => {
    h.fake.reset();
    const json = JSON.stringify(chat('twice over h2'));
    const request = (...authorizations: string[]) => rawH2(h.gatewayUrl, [
      [':method', 'POST'], [':scheme', 'http'], [':path', '/v1/chat/completions'], [':authority', 'x'],
      ...authorizations.map((a) => ['authorization', `Bearer ${a}`] as const), ['content-type', 'application/json'],
    ], json);
    assert.match(await request(token), /"chat\.completion"/, 'one key is served over HTTP/2');
    h.fake.reset();
    for (const pair of [[token, 'ng-other'], ['ng-other', token], [token, token]]) {
      assert.match(await request(...pair), /sends its access key header more than once/, pair.join(' then '));
    }
    // Expect: 100-continue (node:http2 emits checkContinue, not request): the same refusal, not the first key served.
    const expecting = await rawH2(h.gatewayUrl, [
      [':method', 'POST'], [':scheme', 'http'], [':path', '/v1/chat/completions'], [':authority', 'x'],
      ['authorization', `Bearer ${token}`], ['authorization', 'Bearer ng-other'], ['expect', '100-continue'], ['content-type', 'application/json'],
    ], json);
    assert.match(expecting, /sends its access key header more than once/);
    assert.equal(h.fake.requests.length, 0);
  });

  test('over HTTP/2, an answer given before the upload ended (a refused key) ends with END_STREAM before the stream is reset', async () => {
    // The upload's first piece only: the 401 is answered while the rest would still be coming, then the upload stopped.
    const answer = await rawH2(h.gatewayUrl, [
      [':method', 'POST'], [':scheme', 'http'], [':path', '/v1/chat/completions'], [':authority', 'x'],
      ['authorization', 'Bearer ng-not-a-key'], ['content-type', 'application/json'], ['content-length', '100000'],
    ], '{"model":"gpt-4o",', { uploadOpen: true });
    assert.match(answer, /invalid or has been deleted/);
  });

  test('a JSON body starting with a byte order mark is refused naming the mark, not as "not valid JSON"', async () => {
    const r = await fetch(`${h.gatewayUrl}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: `\ufeff${JSON.stringify(chat())}` });
    const body = (await r.json()) as { error: { code: string; message: string } };
    assert.deepEqual([r.status, body.error.code], [400, 'ERR_NGROK_3801']);
    assert.match(body.error.message, /starts with a byte order mark \(U\+FEFF\)/);
  });

  test("a body over the limit is ngrok's REQUEST_BODY_TOO_LONG with its message, as both SDKs read it; nothing reaches a provider", async () => {
    const before = h.fake.requests.length;
    const openai = new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: token, maxRetries: 0 });
    const openaiError = await openai.chat.completions.create(chat('x'.repeat(5000))).then(() => undefined, (e: unknown) => e as InstanceType<typeof OpenAI.APIError>);
    assert.ok(openaiError instanceof OpenAI.APIError && openaiError.status === 413, String(openaiError));
    assert.equal(openaiError.code, 'ERR_NGROK_AI_GATEWAY_REQUEST_BODY_TOO_LONG');
    assert.match(openaiError.message, /Request body is too long\. Max 4 KiB\./);
    const anthropic = new Anthropic({ baseURL: h.gatewayUrl, apiKey: token, maxRetries: 0 });
    const anthropicError = await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 5, messages: [{ role: 'user', content: 'x'.repeat(5000) }] }).then(() => undefined, (e: unknown) => e as InstanceType<typeof Anthropic.APIError>);
    assert.ok(anthropicError instanceof Anthropic.APIError && anthropicError.status === 413, String(anthropicError));
    assert.match(anthropicError.message, /ERR_NGROK_AI_GATEWAY_REQUEST_BODY_TOO_LONG: Request body is too long\. Max 4 KiB\./);
    assert.equal(h.fake.requests.length, before);
  });

  test('a compressed request body (Content-Encoding gzip, br, deflate, zstd) is decoded, within the body limit; other codings are refused by name', async () => {
    const post = (body: Buffer, coding: string) => fetch(`${h.gatewayUrl}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-encoding': coding }, body });
    const json = Buffer.from(JSON.stringify(chat('compressed hello')));
    for (const [coding, encoded] of [['gzip', gzipSync(json)], ['br', brotliCompressSync(json)], ['deflate', deflateSync(json)], ['deflate', deflateRawSync(json)], ['zstd', zstdCompressSync(json)]] as const) {
      const res = await post(encoded, coding);
      assert.equal(res.status, 200, `${coding}: ${await res.clone().text()}`);
      assert.match(await res.text(), /You said: \\"compressed hello\\"/);
      assert.deepEqual(h.fake.requests.at(-1)!.body!.messages, chat('compressed hello').messages, 'the provider gets plain JSON');
      assert.equal(h.fake.requests.at(-1)!.headers['content-encoding'], undefined);
    }
    const unknown = await post(json, 'compress');
    assert.deepEqual([unknown.status, ((await unknown.json()) as { error: { code: string; message: string } }).error.message], [400, 'ERR_NGROK_3801: Invalid request body: Content-Encoding "compress" is not one the gateway decodes (gzip, deflate, br or zstd); send the body uncompressed or in one of those.']);
    const broken = await post(Buffer.from('not gzip at all'), 'gzip');
    assert.match(((await broken.json()) as { error: { message: string } }).error.message, /not valid gzip data/);
    // Small on the wire, past the 4 KiB limit decoded: 413, as for a body sent that large.
    const bomb = await post(gzipSync(Buffer.from(JSON.stringify(chat('x'.repeat(100_000))))), 'gzip');
    assert.equal(bomb.status, 413);
    assert.equal(((await bomb.json()) as { error: { code: string } }).error.code, 'ERR_NGROK_AI_GATEWAY_REQUEST_BODY_TOO_LONG');
  });

  test("both SDKs' errors carry the gateway's request id for gateway-made errors", async () => {
    const openai = new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: token, maxRetries: 0 });
    const openaiError = await openai.chat.completions.create(chat('x', 'gpt-4oo')).then(() => undefined, (e: unknown) => e as InstanceType<typeof OpenAI.APIError>);
    assert.ok(openaiError instanceof OpenAI.BadRequestError);
    assert.match(openaiError.requestID ?? '', RQ);
    assert.equal(openaiError.requestID, openaiError.headers?.get('ngrok-aig-request-id'));
    const anthropic = new Anthropic({ baseURL: h.gatewayUrl, apiKey: 'ng-wrong-key', maxRetries: 0 });
    const anthropicError = await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).then(() => undefined, (e: unknown) => e as InstanceType<typeof Anthropic.APIError>);
    assert.ok(anthropicError instanceof Anthropic.AuthenticationError);
    assert.match(anthropicError.requestID ?? '', RQ);
  });

  test("a provider's answer keeps its own request id where the client's SDK reads it; one that sends none (Ollama, vLLM) gets the gateway's", async () => {
    // The account's own keys: the provider's answers (uncatalogued models included) are passed through.
    const own = await startHarness('sqlite');
    try {
      await own.providerKey('openai', 'sk-own-openai', 'own');
      await own.providerKey('anthropic', 'sk-own-anthropic', 'own');
      const ownToken = (await own.accessKey()).token;
      const openai = new OpenAI({ baseURL: `${own.gatewayUrl}/v1`, apiKey: ownToken, maxRetries: 0 });
      // The fake's OpenAI-format answers carry no x-request-id, like many OpenAI-compatible servers.
      const relayed = await openai.chat.completions.create(chat('x', 'openai:fail-400-ids')).then(() => undefined, (e: unknown) => e as InstanceType<typeof OpenAI.APIError>);
      assert.ok(relayed instanceof OpenAI.BadRequestError);
      assert.equal(relayed.headers?.get('ngrok-aig-attempts'), '1', 'the provider\'s own refusal');
      assert.match(relayed.requestID ?? '', RQ);
      assert.equal(relayed.requestID, relayed.headers?.get('ngrok-aig-request-id'));
      const answered = await gw(own, '/v1/chat/completions', { token: ownToken, body: chat() });
      assert.equal(answered.status, 200);
      assert.equal(answered.headers.get('x-request-id'), answered.headers.get('ngrok-aig-request-id'));
      // Anthropic's answers name their own request id: that one reaches the SDK.
      const anthropic = new Anthropic({ baseURL: own.gatewayUrl, apiKey: ownToken, maxRetries: 0 });
      const refused = await anthropic.messages.create({ model: 'anthropic:fail-400-ids', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).then(() => undefined, (e: unknown) => e as InstanceType<typeof Anthropic.APIError>);
      assert.ok(refused instanceof Anthropic.BadRequestError);
      assert.equal(refused.requestID, 'req_fake1');
    } finally {
      await own.close();
    }
  });

  test('request ids are unique and on every response; /healthz answers', async () => {
    const ids = new Set<string>();
    for (const r of [
      await gw(h, '/healthz'), await gw(h, '/v1/models', { token }), await gw(h, '/v1/chat/completions', { token, body: chat() }),
      await gw(h, '/v1/chat/completions', { body: chat() }), await gw(h, '/elsewhere'),
    ]) {
      const id = r.headers.get('ngrok-aig-request-id');
      assert.match(id ?? '', RQ);
      ids.add(id!);
    }
    assert.equal(ids.size, 5);
    assert.equal((await gw(h, '/healthz')).json().status, 'ok');
  });

  test('Ngrok-AIG-Attempts is on the model lists too (0: answered from the catalog), as on every other answer', async () => {
    // ngrok's "why a request failed over" guide: "Every response through ngrok.ai includes the Ngrok-AIG-Attempts header".
    const openai = new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: token, maxRetries: 0 });
    const list = await openai.models.list().withResponse();
    assert.equal(list.response.headers.get('ngrok-aig-attempts'), '0');
    const one = await openai.models.retrieve('gpt-4o').withResponse();
    assert.equal(one.response.headers.get('ngrok-aig-attempts'), '0');
    const anthropic = new Anthropic({ baseURL: h.gatewayUrl, apiKey: token, maxRetries: 0 });
    const pages = await anthropic.models.list().withResponse();
    assert.equal(pages.response.headers.get('ngrok-aig-attempts'), '0');
    for (const r of [await gw(h, '/v1/models', { method: 'HEAD', token }), await gw(h, '/v1beta/models', { headers: { 'x-goog-api-key': token } })]) {
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('ngrok-aig-attempts'), '0');
    }
  });

  test('CORS: preflight answers and responses expose the Ngrok-AIG headers', async () => {
    const pre = await gw(h, '/v1/chat/completions', { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, x-stainless-os' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), '*');
    assert.match(pre.headers.get('access-control-allow-methods')!, /POST/);
    assert.match(pre.headers.get('access-control-allow-headers')!, /authorization/);
    assert.match(pre.headers.get('access-control-allow-headers')!, /x-stainless-os/);
    const r = await gw(h, '/v1/chat/completions', { token, headers: { origin: 'https://app.example' }, body: chat() });
    const exposed = r.headers.get('access-control-expose-headers')!;
    for (const name of ['Ngrok-AIG-Request-Id', 'Ngrok-AIG-Attempts', 'Ngrok-AIG-Model', 'Ngrok-AIG-Rejected-Models', 'Ngrok-AIG-Removed-Params']) assert.ok(exposed.includes(name), name);
  });

  test('client-chosen names in Ngrok-AIG headers are percent-encoded as UTF-8; the gateway survives any of them', async () => {
    const scoped = (await h.accessKey(await h.configuration({ access: { models: { allow: ['openai/gpt-4o'] } } }))).token;
    const refused = await gw(h, '/v1/chat/completions', { token: scoped, body: chat('hi', 'openai:gpt-4o-€') });
    assert.equal(refused.status, 403);
    assert.equal(refused.json().error.code, 'ERR_NGROK_27232');
    assert.equal(refused.headers.get('ngrok-aig-rejected-models'), 'openai:gpt-4o-%E2%82%AC');
    const served = await gw(h, '/v1/chat/completions', { token, body: chat('hi', 'openai:gpt-4o-é\ud800') });
    assert.equal(served.status, 200);
    assert.equal(served.headers.get('ngrok-aig-model'), 'gpt-4o-%C3%A9%EF%BF%BD');
    assert.equal(served.headers.get('ngrok-aig-attempts'), '1');
    assert.equal((await h.usage(served.headers.get('ngrok-aig-request-id')!, 1)).length, 1);
    assert.equal((await gw(h, '/healthz')).status, 200);
  });

  test("a chained gateway's Ngrok-AIG headers are not passed on: the client sees one value, this gateway's", async () => {
    const r = await gw(h, '/v1/chat/completions', { token, body: chat('hi', 'openai:chained-gpt-4o') });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('ngrok-aig-request-id')!, RQ);
    assert.notEqual(r.headers.get('ngrok-aig-request-id'), 'rq_01UPSTREAMGATEWAY000000000');
    assert.equal(r.headers.get('ngrok-aig-attempts'), '1');
    assert.equal(r.headers.get('ngrok-aig-model'), 'chained-gpt-4o');
    assert.equal(r.headers.get('ngrok-aig-rejected-models'), null);
  });

  test('an answer given before a large body is read closes the connection instead of reading the rest', async () => {
    // Without the close, node would read (and discard) the whole declared megabyte the client never sends.
    const answer = await rawHttp(h.gatewayUrl, `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer wrong\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n\r\n{"model":"gpt-4o",`);
    assert.equal(answer.status, 401);
    assert.equal(answer.headers.connection, 'close');
    const unknownPath = await rawHttp(h.gatewayUrl, `POST /v1/nope HTTP/1.1\r\nhost: x\r\ncontent-length: 1000000\r\n\r\n{`);
    assert.equal(unknownPath.status, 404);
    const small = await gw(h, '/v1/chat/completions', { body: chat() });
    assert.equal(small.status, 401);
    // The absolute form of the request target (a client using the gateway as its HTTP proxy): served as its path.
    const body = JSON.stringify(chat('absolute'));
    const absolute = await rawHttp(h.gatewayUrl, `POST ${h.gatewayUrl}/v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    assert.equal(absolute.status, 200, absolute.body);
    assert.match(absolute.body, /You said: \\"absolute\\"/);
  });

  test('/v1/models lists what the key may use, in OpenAI list shape, by full catalog id', async () => {
    const openai = new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: token, maxRetries: 0 });
    const all: string[] = [];
    for await (const m of openai.models.list()) all.push(m.id);
    // ngrok's "Other agents" guide: model pickers see "full catalog ID such as openai/gpt-5.5", usable as the model.
    assert.ok(all.includes('openai/gpt-5.5'));
    assert.ok(all.includes('anthropic/claude-sonnet-4-6'));
    assert.ok(all.includes('meta-llama/llama-3.3-70b-versatile'), 'a resold model under its author');
    assert.ok(!all.some((id) => id.startsWith('openai:')));
    const picked = await openai.chat.completions.create(chat('picked', 'anthropic/claude-sonnet-4-6')).withResponse();
    assert.equal(picked.response.headers.get('ngrok-aig-model'), 'claude-sonnet-4-6');
    const cfg = await h.configuration({ access: { providers: { allow: ['anthropic'] } } });
    const scoped = await h.accessKey(cfg);
    const list = (await gw(h, '/v1/models', { token: scoped.token })).json();
    assert.equal(list.object, 'list');
    assert.ok(list.data.length > 0);
    assert.ok(list.data.every((m: { id: string; owned_by: string; object: string }) => m.owned_by === 'anthropic' && m.id.startsWith('anthropic/') && m.object === 'model'));
    assert.equal((await gw(h, '/v1/models')).status, 401);
    const head = await gw(h, '/v1/models', { method: 'HEAD', token });
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    assert.equal(head.headers.get('content-type'), 'application/json');
  });

  test('/v1/models for the Anthropic SDK: its ModelInfo pages, the same ids, paged by limit, after_id and before_id', async () => {
    const anthropic = new Anthropic({ baseURL: h.gatewayUrl, apiKey: token, maxRetries: 0 });
    const openaiIds: string[] = [];
    for await (const m of new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: token, maxRetries: 0 }).models.list()) openaiIds.push(m.id);
    // Without a limit, the whole list in one page (clients written against Anthropic's short list may read only one).
    const whole = await anthropic.models.list();
    assert.equal(whole.has_more, false);
    const ids = whole.data.map((m) => m.id);
    // The same ids in the same order, less the models no Messages request reaches (embedding, realtime models).
    assert.deepEqual(ids, openaiIds.filter((id) => ids.includes(id)));
    assert.ok(openaiIds.includes('openai/text-embedding-3-small') && !ids.includes('openai/text-embedding-3-small'));
    await assert.rejects(anthropic.models.retrieve('openai/text-embedding-3-small'), (e: unknown) => e instanceof Anthropic.NotFoundError);
    assert.deepEqual([whole.first_id, whole.last_id], [ids[0], ids[ids.length - 1]]);
    const sonnet = whole.data.find((m) => m.id === 'anthropic/claude-sonnet-4-6')!;
    assert.deepEqual([sonnet.type, sonnet.display_name, sonnet.created_at, sonnet.max_input_tokens, sonnet.max_tokens, sonnet.lifecycle],
      ['model', 'Claude Sonnet 4.6', '1970-01-01T00:00:00Z', 1_000_000, 128_000, 'active']);

    const page = await anthropic.models.list({ limit: 5 });
    assert.deepEqual([page.data.map((m) => m.id), page.has_more, page.first_id, page.last_id], [ids.slice(0, 5), true, ids[0], ids[4]]);
    assert.deepEqual((await page.getNextPage()).data.map((m) => m.id), ids.slice(5, 10));
    const walked: string[] = [];
    for await (const m of anthropic.models.list({ limit: 7 })) walked.push(m.id);
    assert.deepEqual(walked, ids);
    const before = await anthropic.models.list({ before_id: ids[8]!, limit: 3 });
    assert.deepEqual([before.data.map((m) => m.id), before.has_more], [ids.slice(5, 8), true]);
    const last = await anthropic.models.list({ after_id: ids[ids.length - 2]! });
    assert.deepEqual([last.data.map((m) => m.id), last.has_more], [ids.slice(-1), false]);
    assert.deepEqual((await anthropic.models.list({ lifecycle: ['retired'] })).data, []);

    for (const bad of [{ limit: 0 }, { limit: 1001 }, { after_id: 'openai:no-such-model' }, { after_id: ids[0]!, before_id: ids[1]! }]) {
      await assert.rejects(anthropic.models.list(bad), (e: unknown) => e instanceof Anthropic.BadRequestError && e.type === 'invalid_request_error' && e.message.includes('ERR_NGROK_27228'));
    }
    // Errors in Anthropic's shape too, so its SDK reads their type.
    await assert.rejects(new Anthropic({ baseURL: h.gatewayUrl, apiKey: 'ng-unknown', maxRetries: 0 }).models.list(),
      (e: unknown) => e instanceof Anthropic.AuthenticationError && e.type === 'authentication_error');
    const scoped = await h.accessKey(await h.configuration({ access: { providers: { allow: ['anthropic'] } } }));
    const onlyAnthropic = await new Anthropic({ baseURL: h.gatewayUrl, apiKey: scoped.token, maxRetries: 0 }).models.list();
    assert.ok(onlyAnthropic.data.length > 0 && onlyAnthropic.data.every((m) => m.id.startsWith('anthropic/')));
  });

  test('/v1/models/{id}: each SDK retrieves a model the key may use; anything else is its NotFoundError', async () => {
    const openai = new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: token, maxRetries: 0 });
    const anthropic = new Anthropic({ baseURL: h.gatewayUrl, apiKey: token, maxRetries: 0 });
    assert.deepEqual(await openai.models.retrieve('openai/gpt-4o'), { id: 'openai/gpt-4o', object: 'model', created: 0, owned_by: 'openai' });
    const sonnet = await anthropic.models.retrieve('anthropic/claude-sonnet-4-6');
    assert.deepEqual([sonnet.type, sonnet.id, sonnet.display_name, sonnet.max_tokens], ['model', 'anthropic/claude-sonnet-4-6', 'Claude Sonnet 4.6', 128_000]);
    // Any name a request could use answers under the model's id, as Anthropic answers an alias.
    assert.equal((await anthropic.models.retrieve('claude-sonnet-4-6')).id, 'anthropic/claude-sonnet-4-6');
    assert.equal((await openai.models.retrieve('openai:gpt-4o')).id, 'openai/gpt-4o');
    // A custom provider's model id holds a `/` (the SDKs send it percent-encoded) and a `:`.
    await h.api('POST', '/providers', {
      providerId: 'lab', name: 'Lab', baseUrl: `${h.fake.url}/v1`,
      supportedApiSurfaces: [{ format: 'openai', surface: 'chat-completions' }], models: [{ modelId: 'org/model:v2' }],
    });
    assert.equal((await openai.models.retrieve('lab:org/model:v2')).owned_by, 'lab');
    assert.equal((await anthropic.models.retrieve('lab:org/model:v2')).display_name, 'org/model:v2');
    assert.equal((await gw(h, '/v1/models/lab:org/model:v2', { token })).json().id, 'lab:org/model:v2', 'an unencoded slash too');

    const scoped = await h.accessKey(await h.configuration({ access: { providers: { allow: ['anthropic'] } } }));
    const openaiScoped = new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: scoped.token, maxRetries: 0 });
    const anthropicScoped = new Anthropic({ baseURL: h.gatewayUrl, apiKey: scoped.token, maxRetries: 0 });
    for (const id of ['openai:gpt-4o', 'openai:gpt-4oo', 'openai:uncatalogued-model', 'nobody:x', 'ngrok/auto']) {
      await assert.rejects(openaiScoped.models.retrieve(id), (e: unknown) => e instanceof OpenAI.NotFoundError && e.code === 'ERR_NGROK_27224', id);
      await assert.rejects(anthropicScoped.models.retrieve(id), (e: unknown) => e instanceof Anthropic.NotFoundError && e.type === 'not_found_error' && e.message.includes('ERR_NGROK_27224'), id);
    }
    const typo = await gw(h, '/v1/models/anthropic:claude-sonet-4-6', { token: scoped.token });
    assert.match(typo.json().error.message, /Did you mean "anthropic:claude-sonnet-4-6"\?/);
    const bareTypo = await gw(h, '/v1/models/claude-sonet-4-6', { token: scoped.token });
    assert.match(bareTypo.json().error.message, /Did you mean "claude-sonnet-4-6"\?/, 'a bare name among bare names');
    assert.equal((await gw(h, '/v1/models/openai:gpt-4o')).status, 401);
    assert.equal((await gw(h, '/v1/models/openai:gpt-4o', { method: 'HEAD', token })).status, 200);
  });
});
