// Request capture through the gateway, on both stores: with the account's `requestCapture` on (PATCH /gateway-config),
// what an official SDK sent and what it got reads back through GET /usage/requests/{id}/capture — bodies as the client
// saw them (a JSON answer, an SSE stream, the gateway's own error, an MCP call), cut at the operator's limit, never the access key,
// `complete` false for a stream the client left; off, nothing is kept; another account reads nothing; a stopping
// gateway writes the captures of the exchanges it finished. What is kept, and how it is sealed, is tested on the
// control plane (control-request-capture.test.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { seeingHeaders } from './helpers/bedrock-client.ts';
import { BOOTSTRAP, startHarness, type Harness } from './helpers/gateway.ts';
import { STORE_KINDS } from './helpers/stores.ts';
import { createAccount } from '../src/store/accounts.ts';
import { openStore } from '../src/store/database.ts';
import { openCapture, type CapturedRequest, type CapturedResponse } from '../src/domain/request-capture.ts';
import { SecretBox } from '../src/domain/secret-box.ts';

/** Small, so a body over it is cheap to send. */
const LIMIT = 4096;

interface CaptureView { requestId: string; capturedAt: string; expiresAt: string; request: CapturedRequest; response: CapturedResponse }

async function readCapture(h: Harness, requestId: string, token = BOOTSTRAP): Promise<{ status: number; body: CaptureView }> {
  const res = await fetch(`${h.apiUrl}/usage/requests/${requestId}/capture`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() as CaptureView };
}

/** The capture once the gateway's writer has written it (about a second after the exchange ended). */
async function capture(h: Harness, requestId: string): Promise<CaptureView> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const got = await readCapture(h, requestId);
    if (got.status === 200) return got.body;
    if (Date.now() > deadline) throw new Error(`no capture of ${requestId}: ${got.status} ${JSON.stringify(got.body)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function rowCount(h: Harness, requestId: string): Promise<number> {
  return (await h.running.store.db.selectFrom('requestCaptures').select('requestId').where('requestId', '=', requestId).execute()).length;
}

async function accessToken(h: Harness): Promise<string> {
  const ko = await h.providerKey('openai', 'sk-capture-openai');
  const ka = await h.providerKey('anthropic', 'sk-capture-anthropic');
  return (await h.accessKey(await h.configuration({ router: { rules: [
    { provider: 'openai', steps: [{ type: 'user', keys: [{ id: ko }] }] },
    { provider: 'anthropic', steps: [{ type: 'user', keys: [{ id: ka }] }] },
  ] } }))).token;
}

for (const kind of STORE_KINDS) {
  describe(`request capture through the gateway (${kind})`, () => {
    let h: Harness;
    let token: string;
    let openai: OpenAI;
    let anthropic: Anthropic;
    /** The bodies the OpenAI SDK sent, as bytes on the wire. */
    const sent: string[] = [];
    before(async () => {
      h = await startHarness(kind, { TOLLGATE_REQUEST_CAPTURE_MAX_BYTES: String(LIMIT) });
      token = await accessToken(h);
      openai = new OpenAI({
        baseURL: `${h.gatewayUrl}/v1`, apiKey: token, maxRetries: 0,
        fetch: async (url: string | URL | Request, init?: RequestInit) => {
          if (typeof init?.body === 'string') sent.push(init.body);
          return fetch(url, init);
        },
      });
      anthropic = new Anthropic({ baseURL: h.gatewayUrl, apiKey: token, maxRetries: 0 });
    });
    after(async () => { await h.close(); });

    test('off, nothing is kept; on, a chat request and its JSON answer read back as the client sent and got them, without the access key', async () => {
      const params = { model: 'openai:gpt-capture', messages: [{ role: 'user' as const, content: 'capture me, héllo' }] };
      const off = await openai.chat.completions.create(params).asResponse();
      const offId = off.headers.get('ngrok-aig-request-id')!;
      await off.text();

      await h.gatewayConfig({ requestCapture: true });
      const answer = await openai.chat.completions.create(params).asResponse();
      const id = answer.headers.get('ngrok-aig-request-id')!;
      const got = await answer.text();
      const body = sent.at(-1)!;
      const c = await capture(h, id);
      assert.equal(c.requestId, id);
      assert.ok(Date.parse(c.expiresAt) > Date.parse(c.capturedAt));
      assert.deepEqual([c.request.method, c.request.path, c.request.body, c.request.bodyEncoding, c.request.bodyBytes, c.request.bodyTruncated],
        ['POST', '/v1/chat/completions', body, 'utf8', Buffer.byteLength(body), false]);
      assert.equal(c.request.headers['content-type'], 'application/json');
      assert.match(c.request.headers['user-agent'] ?? '', /OpenAI/);
      assert.equal(c.request.headers.authorization, undefined, 'the access key is never kept');
      assert.ok(!JSON.stringify(c).includes(token), 'the access key appears nowhere in the capture');
      assert.deepEqual([c.response.statusCode, c.response.complete, c.response.body, c.response.bodyBytes, c.response.bodyTruncated], [200, true, got, Buffer.byteLength(got), false]);
      assert.match(JSON.parse(c.response.body).choices[0].message.content, /fake gpt-capture model/);
      assert.equal(c.response.headers['ngrok-aig-request-id'], id);
      assert.equal(c.response.headers['ngrok-aig-model'], answer.headers.get('ngrok-aig-model'));
      assert.match(c.response.headers['content-type']!, /^application\/json/);

      // The exchange made with capture off ended before this one: had it been kept, it would have been written first.
      assert.equal((await readCapture(h, offId)).status, 404);
      assert.equal(await rowCount(h, offId), 0);
    });

    test('a streamed answer is captured as the server-sent events the client got', async () => {
      await h.gatewayConfig({ requestCapture: true });
      const streamed = await anthropic.messages.create({ model: 'anthropic:claude-capture', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'stream it' }] }).asResponse();
      const id = streamed.headers.get('ngrok-aig-request-id')!;
      const events = await streamed.text();
      assert.match(events, /event: message_stop/);
      const c = await capture(h, id);
      assert.deepEqual([c.request.path, c.request.headers['x-api-key']], ['/v1/messages', undefined], 'the access key is never kept');
      assert.match(c.request.headers['anthropic-version'] ?? '', /^\d{4}-\d{2}-\d{2}$/);
      assert.equal(JSON.parse(c.request.body).model, 'anthropic:claude-capture');
      assert.match(c.response.headers['content-type']!, /^text\/event-stream/);
      assert.equal(c.response.complete, true);
      const kept = Buffer.from(events).subarray(0, LIMIT).toString('utf8');
      assert.deepEqual([c.response.body, c.response.bodyBytes, c.response.bodyTruncated], [kept, Buffer.byteLength(events), Buffer.byteLength(events) > LIMIT]);
    });

    test('a body over the capture limit is kept up to it, with its whole size', async () => {
      await h.gatewayConfig({ requestCapture: true });
      const long = 'x'.repeat(3 * LIMIT);
      const answer = await openai.chat.completions.create({ model: 'openai:gpt-capture', messages: [{ role: 'user', content: long }] }).asResponse();
      const id = answer.headers.get('ngrok-aig-request-id')!;
      await answer.text();
      const body = sent.at(-1)!;
      assert.ok(body.includes(long));
      const c = await capture(h, id);
      assert.deepEqual([c.request.body, c.request.bodyBytes, c.request.bodyTruncated], [body.slice(0, LIMIT), Buffer.byteLength(body), true]);
      assert.deepEqual([c.response.statusCode, c.response.bodyTruncated, c.response.complete], [200, false, true]);
    });

    test('a stream the client left is captured as far as it went, not complete', async () => {
      await h.gatewayConfig({ requestCapture: true });
      const leaving = new AbortController();
      const { data: stream, response } = await openai.chat.completions.create({ model: 'openai:drip-capture', stream: true, messages: [{ role: 'user', content: 'x' }] }, { signal: leaving.signal }).withResponse();
      const id = response.headers.get('ngrok-aig-request-id')!;
      try {
        for await (const _ of stream) leaving.abort();
      } catch {
        // The SDK may raise its abort: the client left either way.
      }
      const c = await capture(h, id);
      assert.deepEqual([c.response.statusCode, c.response.complete], [200, false]);
      assert.match(c.response.body, /^data: /);
      assert.doesNotMatch(c.response.body, /\[DONE\]/);
    });

    test('a stream the provider broke off is captured with the error event that ended it, not complete', async () => {
      await h.gatewayConfig({ requestCapture: true });
      const broken = await anthropic.messages.create({ model: 'anthropic:short-capture', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'x' }] }).asResponse();
      const events = await broken.text();
      assert.match(events, /event: error/);
      const c = await capture(h, broken.headers.get('ngrok-aig-request-id')!);
      assert.deepEqual([c.response.statusCode, c.response.complete, c.response.body], [200, false, events]);
    });

    test('an MCP gateway request is captured too', async () => {
      await h.gatewayConfig({ requestCapture: true });
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'capture', version: '1' } } });
      const res = await fetch(`${h.gatewayUrl}/mcp`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body });
      const got = await res.text();
      assert.equal(res.status, 200, got);
      const c = await capture(h, res.headers.get('ngrok-aig-request-id')!);
      assert.deepEqual([c.request.path, c.request.body, c.request.headers.authorization], ['/mcp', body, undefined]);
      assert.deepEqual([c.response.statusCode, c.response.complete, c.response.body, c.response.headers['mcp-session-id']], [200, true, got, res.headers.get('mcp-session-id')]);
    });

    test("the AWS SDK's default Bedrock client (HTTP/2): its answer and stream are captured once, as it got them", async () => {
      await h.gatewayConfig({ requestCapture: true });
      let headers: Record<string, string> = {};
      const sdk = seeingHeaders(new BedrockRuntimeClient({ endpoint: h.gatewayUrl, region: 'us-east-1', token: { token }, authSchemePreference: ['httpBearerAuth'], maxAttempts: 1 }), (seen) => { headers = seen; });
      try {
        const out = await sdk.send(new ConverseCommand({ modelId: 'openai:gpt-capture', messages: [{ role: 'user', content: [{ text: 'over h2' }] }] }));
        const c = await capture(h, headers['ngrok-aig-request-id']!);
        assert.equal(c.request.path, '/model/openai%3Agpt-capture/converse');
        assert.equal(JSON.parse(c.request.body).messages[0].content[0].text, 'over h2');
        assert.deepEqual([c.response.statusCode, c.response.complete, c.response.bodyBytes, c.response.bodyTruncated], [200, true, Buffer.byteLength(c.response.body), false]);
        assert.equal(String(c.response.bodyBytes), headers['content-length'] ?? String(c.response.bodyBytes));
        assert.equal(JSON.parse(c.response.body).output.message.content[0].text, out.output?.message?.content?.[0]?.text);

        const streamed = await sdk.send(new ConverseStreamCommand({ modelId: 'openai:gpt-capture', messages: [{ role: 'user', content: [{ text: 'stream over h2' }] }] }));
        let text = '';
        for await (const event of streamed.stream!) text += event.contentBlockDelta?.delta?.text ?? '';
        const s = await capture(h, headers['ngrok-aig-request-id']!);
        assert.deepEqual([s.response.statusCode, s.response.complete, s.response.bodyEncoding], [200, true, 'base64']);
        // Each AWS event-stream frame starts with its total length: the captured frames add up to the body, none twice.
        const frames = Buffer.from(s.response.body, 'base64');
        let at = 0;
        let got = '';
        while (at < frames.length) {
          const length = frames.readUInt32BE(at);
          const payload = frames.subarray(at + 12 + frames.readUInt32BE(at + 4), at + length - 4).toString('utf8');
          got += (JSON.parse(payload) as { delta?: { text?: string } }).delta?.text ?? '';
          at += length;
        }
        assert.deepEqual([at, got], [frames.length, text]);
      } finally {
        sdk.destroy();
      }
    });

    test("the gateway's own error answer is captured with its body; another account reads none of this account's captures", async () => {
      await h.gatewayConfig({ requestCapture: true });
      const refused = await openai.chat.completions.create({ model: 'no-such-model-capture', messages: [{ role: 'user', content: 'x' }] })
        .then(() => undefined, (e: unknown) => e as InstanceType<typeof OpenAI.APIError>);
      assert.equal(refused?.status, 400);
      const id = refused.headers!.get('ngrok-aig-request-id')!;
      const c = await capture(h, id);
      assert.deepEqual([c.response.statusCode, c.response.complete, c.response.headers['ngrok-aig-attempts']], [400, true, '0']);
      assert.equal(JSON.parse(c.response.body).error.message, refused.error && (refused.error as { message: string }).message);
      assert.match(c.response.body, /ERR_NGROK_\d+/);

      const other = await createAccount(h.running.store.db, `other-${kind}`);
      const theirs = await readCapture(h, id, other.apiKey.token);
      assert.equal(theirs.status, 404);
      assert.match(JSON.stringify(theirs.body), /ERR_NGROK_27611/);
    });
  });

  test(`a stopping gateway writes the capture of a request it finished (${kind})`, async () => {
    const secret = randomBytes(32).toString('hex');
    const h = await startHarness(kind, { TOLLGATE_SECRET_KEY: secret });
    try {
      const client = new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: await accessToken(h), maxRetries: 0 });
      await h.gatewayConfig({ requestCapture: true });
      const answer = await client.chat.completions.create({ model: 'openai:gpt-stop', messages: [{ role: 'user', content: 'before the stop' }] }).asResponse();
      const id = answer.headers.get('ngrok-aig-request-id')!;
      const got = await answer.text();
      await h.running.stop();
      const store = await openStore(h.database.url, { existing: true });
      try {
        const row = await store.db.selectFrom('requestCaptures').selectAll().where('requestId', '=', id).executeTakeFirstOrThrow();
        const opened = openCapture(new SecretBox(Buffer.from(secret, 'hex')), h.accountId, id, row.sealed);
        assert.deepEqual([opened.response.body, opened.response.complete], [got, true]);
      } finally {
        await store.close();
      }
    } finally {
      // Stopped above already.
      const stop = h.running.stop;
      h.running.stop = async () => { if (!h.running.controlApp?.server.listening) return; await stop(); };
      await h.close();
    }
  });
}
