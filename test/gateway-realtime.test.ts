// OpenAI's Realtime API through the gateway, driven by the official SDK's OpenAIRealtimeWS (and raw `ws` where the
// SDK hides the HTTP answer to a refused upgrade), against a fake realtime server speaking OpenAI's event shapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import { WebSocket, WebSocketServer } from 'ws';
import { once } from 'node:events';
import { MANAGED_OPENAI_KEY, startHarness, storedUsage, type Harness } from './helpers/gateway.ts';
import { grantCredits, usageCostPico } from '../src/store/credits.ts';
import { CreditLedger } from '../src/usage/ledger.ts';
import { ChangeBus } from '../src/state/changes.ts';
import { FAKE_AUDIO, FAKE_CANCELLED_USAGE, FAKE_DROPPED_TRANSCRIPT, FAKE_REALTIME_USAGE, FAKE_REQUESTS_PER_MINUTE, FAKE_ORGANIZATION, FAKE_TRANSCRIPTION_SECONDS, FAKE_TRANSCRIPTION_USAGE, startFakeRealtime, type FakeRealtime } from './helpers/fake-realtime.ts';
import { countTextTokens, tokenCountsIdle } from '../src/domain/token-counter.ts';
import { audioByteRate } from '../src/gateway/realtime/index.ts';
import { randomBytes } from 'node:crypto';
import { queryObjects } from 'node:v8';
import { PLAYGROUND_TOKEN_TTL_MS, PlaygroundTokens } from '../src/domain/playground-token.ts';
import { GatewayState } from '../src/state/gateway-state.ts';
import { PROCESS_HELD_ANSWERS } from '../src/gateway/exchange.ts';
import { UsageJournal } from '../src/usage/journal.ts';
import { createAccount } from '../src/store/accounts.ts';
import pino from 'pino';

interface Setup { h: Harness; fake: FakeRealtime; close(): Promise<void> }

async function setup(env: Record<string, string> = {}, options: Parameters<typeof startHarness>[2] = {}): Promise<Setup> {
  const fake = await startFakeRealtime();
  const h = await startHarness('sqlite', { TOLLGATE_PROVIDER_OPENAI_BASE_URL: fake.baseUrl, ...env }, options);
  return { h, fake, async close() { await h.close(); await fake.close(); } };
}

/**
 * The SDK always dials `wss://` (it builds the URL from the client's base URL): the gateway under test is plain
 * HTTP, so its socket is handed to the SDK's `ws` ready-made, as a TLS terminator in front of it would.
 */
function realtime(h: Harness, token: string, model: string, headers: Record<string, string> = {}): { rt: OpenAIRealtimeWS; requestId: Promise<string> } {
  const port = Number(new URL(h.gatewayUrl).port);
  const client = new OpenAI({ apiKey: token, baseURL: `${h.gatewayUrl}/v1` });
  const rt = new OpenAIRealtimeWS({ model, options: { headers, createConnection: () => connect(port, '127.0.0.1') } }, client);
  const requestId = new Promise<string>((resolve) => rt.socket.once('upgrade', (res) => resolve(String(res.headers['ngrok-aig-request-id']))));
  return { rt, requestId };
}

function next<T = Record<string, unknown>>(rt: OpenAIRealtimeWS, type: string): Promise<T> {
  return new Promise((resolve) => {
    const listener = (event: { type: string }) => {
      if (event.type !== type) return;
      rt.off('event', listener);
      resolve(event as T);
    };
    rt.on('event', listener);
  });
}

function closed(rt: OpenAIRealtimeWS): Promise<number> {
  return new Promise((resolve) => rt.socket.once('close', (code) => resolve(code)));
}

/** A raw upgrade: the HTTP answer when refused, the socket when taken. */
function rawUpgrade(h: Harness, query: string, init: { token?: string; protocols?: string[] } = {}): Promise<{ status: number; body: Record<string, unknown> } | { socket: WebSocket }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${h.gatewayUrl.replace('http', 'ws')}/v1/realtime${query}`, init.protocols ?? [], init.token ? { headers: { authorization: `Bearer ${init.token}` } } : {});
    ws.once('open', () => resolve({ socket: ws }));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
    });
    ws.once('error', (e) => { if (!String(e.message).startsWith('Unexpected server response')) reject(e); });
  });
}

function errorCode(answer: { status: number; body: Record<string, unknown> } | { socket: WebSocket }): [number, string] {
  assert.ok('status' in answer, 'the upgrade is refused');
  return [answer.status, String((answer.body.error as Record<string, unknown>).code)];
}

/** A session whose response has begun (`response.created`): the fake holds it per its instructions ("hold", "hang"). */
async function responding(h: Harness, token: string, instructions: string): Promise<{ rt: OpenAIRealtimeWS; requestId: Promise<string> }> {
  const session = realtime(h, token, 'gpt-realtime');
  await next(session.rt, 'session.created');
  const began = next(session.rt, 'response.created');
  session.rt.send({ type: 'response.create', response: { instructions } });
  await began;
  return session;
}

/** The next `error` event the SDK raises: the OpenAI error it carries. */
function told(rt: OpenAIRealtimeWS): Promise<{ code: string; message: string }> {
  return new Promise((resolve) => rt.on('error', (e) => resolve((e as unknown as { error: { code: string; message: string } }).error)));
}

async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check());
}

test('a realtime session through the gateway: the provider key goes upstream, frames both ways unchanged, each response.done metered at its audio and text prices', async () => {
  const { h, fake, close } = await setup();
  try {
    const { token } = await h.accessKey();
    const { rt, requestId } = realtime(h, token, 'gpt-realtime', { 'openai-beta': 'realtime=v1' });
    const created = await next<{ session: { model: string } }>(rt, 'session.created');
    assert.equal(created.session.model, 'gpt-realtime');
    const [handshake] = fake.handshakes;
    assert.equal(handshake!.headers.authorization, `Bearer ${MANAGED_OPENAI_KEY}`);
    assert.equal(handshake!.headers['openai-beta'], 'realtime=v1');
    assert.ok(!JSON.stringify(handshake).includes(token), 'the access key never goes upstream');
    assert.equal(new URL(handshake!.url, 'http://x').searchParams.get('model'), 'gpt-realtime');

    const delta = next<{ delta: string }>(rt, 'response.output_audio.delta');
    const done = next<{ response: { usage: unknown } }>(rt, 'response.done');
    rt.send({ type: 'response.create' });
    assert.equal((await delta).delta, FAKE_AUDIO);
    assert.deepEqual((await done).response.usage, FAKE_REALTIME_USAGE);
    assert.deepEqual(fake.received.filter((e) => !Buffer.isBuffer(e)), [{ type: 'response.create' }]);

    const [row] = await h.usage(await requestId, 1);
    assert.equal(row!.model, 'gpt-realtime');
    assert.equal(row!.keySource, 'ngrok');
    assert.equal(row!.completion, 'succeeded');
    assert.deepEqual([Number(row!.inputTokens), Number(row!.outputTokens), Number(row!.cacheReadTokens)], [789, 32, 640]);
    // Text at $4 / $0.40 cached / $16, audio at $32 / $0.40 / $64 per million: 57 + 92 uncached input, 256 + 384 cached, 9 + 23 output.
    assert.equal(BigInt(row!.inputCostPico), 57n * 4_000_000n + 92n * 32_000_000n);
    assert.equal(BigInt(row!.cacheReadCostPico), 640n * 400_000n);
    assert.equal(BigInt(row!.outputCostPico), 9n * 16_000_000n + 23n * 64_000_000n);
    assert.equal(BigInt(row!.costPico) - BigInt(row!.feePico), 5_044_000_000n);
    rt.close();
  } finally {
    await close();
  }
});

test('cached tokens a response.done does not break down by kind are still priced as cached, never past the input they are part of', async () => {
  const { h, close } = await setup();
  try {
    const { token } = await h.accessKey();
    const { rt, requestId } = realtime(h, token, 'gpt-realtime');
    await next(rt, 'session.created');
    const done = next(rt, 'response.done');
    rt.send({ type: 'response.create', response: { instructions: 'no cache details' } });
    await done;
    rt.close();
    const [row] = await h.usage(await requestId, 1);
    assert.equal(Number(row!.cacheReadTokens), 640);
    // 313 text tokens, all cached; of 476 audio, the other 327 cached and 149 not: every cached token at $0.40 per million.
    assert.equal(BigInt(row!.cacheReadCostPico), 640n * 400_000n);
    assert.equal(BigInt(row!.inputCostPico), 149n * 32_000_000n);
  } finally {
    await close();
  }
});

test('refused before the upgrade, in the gateway error shape: a bad key (401), a model the key may not use, ngrok/auto, a custom provider, a chat model', async () => {
  const { h, fake, close } = await setup();
  try {
    assert.deepEqual(errorCode(await rawUpgrade(h, '?model=gpt-realtime', { token: 'ng-not-a-key' })), [401, 'ERR_NGROK_27201']);
    assert.deepEqual(errorCode(await rawUpgrade(h, '?model=gpt-realtime')), [401, 'ERR_NGROK_27201']);
    const { token } = await h.accessKey();
    assert.deepEqual(errorCode(await rawUpgrade(h, '?model=ngrok/auto', { token })), [400, 'ERR_NGROK_AI_GATEWAY_REALTIME_AUTO_MODEL_UNSUPPORTED']);
    await h.api('POST', '/virtual-models', { name: 'voice-auto', targets: ['ngrok/auto'] });
    assert.deepEqual(errorCode(await rawUpgrade(h, '?model=voice-auto', { token })), [400, 'ERR_NGROK_AI_GATEWAY_REALTIME_AUTO_MODEL_UNSUPPORTED']);
    await h.api('POST', '/providers', { providerId: 'my-voice', name: 'Voice', baseUrl: 'http://127.0.0.1:9/v1', models: [{ modelId: 'speechy' }] });
    const custom = await rawUpgrade(h, '?model=my-voice:speechy', { token });
    assert.deepEqual(errorCode(custom), [400, 'ERR_NGROK_AI_GATEWAY_REALTIME_CUSTOM_PROVIDER_UNSUPPORTED']);
    assert.match(String(((custom as { body: Record<string, unknown> }).body.error as Record<string, unknown>).message), /my-voice is a custom provider/);
    // A chat model does not serve realtime, and a realtime model does not serve chat.
    assert.deepEqual(errorCode(await rawUpgrade(h, '?model=gpt-4o', { token })), [400, 'ERR_NGROK_27226']);
    const chat = await fetch(`${h.gatewayUrl}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-realtime', messages: [{ role: 'user', content: 'hi' }] }) });
    assert.equal(chat.status, 400);
    const scoped = (await h.accessKey(await h.configuration({ access: { models: { allow: ['openai:gpt-realtime-mini'] } } }))).token;
    assert.deepEqual(errorCode(await rawUpgrade(h, '?model=gpt-realtime', { token: scoped })), [403, 'ERR_NGROK_27232']);
    assert.equal(fake.handshakes.length, 0, 'no refused session reached the provider');

    // The browser's form: the key in a subprotocol, the `realtime` subprotocol answered (never the key's).
    const taken = await rawUpgrade(h, '?model=gpt-realtime-mini', { protocols: ['realtime', `openai-insecure-api-key.${scoped}`] });
    assert.ok('socket' in taken);
    assert.equal(taken.socket.protocol, 'realtime');
    assert.ok(!JSON.stringify(fake.handshakes[0]!.headers).includes(scoped));
    // Binary frames both ways, unchanged (the SDK sends none; the gateway relays what it is given).
    const echoed = new Promise<Buffer>((resolve) => taken.socket.on('message', (data, isBinary) => { if (isBinary) resolve(data as Buffer); }));
    taken.socket.send(Buffer.from([0, 1, 2, 255]));
    assert.deepEqual([...await echoed], [0, 1, 2, 255]);
    taken.socket.close();
  } finally {
    await close();
  }
});

test('a credential the provider refuses at the handshake fails over to the next; the refused attempt is recorded', async () => {
  const { h, fake, close } = await setup();
  try {
    const rejected = await h.providerKey('openai', 'sk-rejected-1');
    const good = await h.providerKey('openai', 'sk-good-1');
    const { token } = await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: rejected }, { id: good }] }] }] } }));
    const { rt, requestId } = realtime(h, token, 'gpt-realtime-mini');
    await next(rt, 'session.created');
    assert.deepEqual(fake.handshakes.map((s) => s.headers.authorization), ['Bearer sk-rejected-1', 'Bearer sk-good-1']);
    const done = next(rt, 'response.done');
    rt.send({ type: 'response.create' });
    await done;
    const rows = await h.usage(await requestId, 2);
    assert.deepEqual(rows.map((r) => [Number(r.attemptNumber), Number(r.statusCode), r.retryAction, r.providerKeyId]), [[1, 401, 'next_key', rejected], [2, 200, 'succeeded', good]]);
    assert.equal(rows[1]!.keySource, 'user');
    rt.close();

    // Every credential refused: one 503 naming each attempt, never a provider's body.
    const { token: only } = await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: rejected }] }] }] } }));
    assert.deepEqual(errorCode(await rawUpgrade(h, '?model=gpt-realtime', { token: only })), [503, 'ERR_NGROK_3807']);
  } finally {
    await close();
  }
});

test('the 101 and a refused upgrade carry the request id as x-request-id too, where the OpenAI SDK and HTTP tooling read it', async () => {
  const { h, close } = await setup();
  try {
    const { token } = await h.accessKey();
    const headersOf = (auth: string) => new Promise<Record<string, unknown>>((resolve) => {
      const ws = new WebSocket(`${h.gatewayUrl.replace('http', 'ws')}/v1/realtime?model=gpt-realtime`, { headers: { authorization: `Bearer ${auth}` } });
      ws.once('upgrade', (res) => { resolve(res.headers); ws.close(); });
      ws.once('unexpected-response', (_req, res) => { resolve(res.headers); res.resume(); });
      ws.once('error', () => undefined);
    });
    const taken = await headersOf(token);
    assert.match(String(taken['ngrok-aig-request-id']), /^rq_/);
    assert.equal(taken['x-request-id'], taken['ngrok-aig-request-id']);
    const refused = await headersOf('ng-abcde-g1-not-a-key-000000000000000000000000');
    assert.match(String(refused['ngrok-aig-request-id']), /^rq_/);
    assert.deepEqual([refused['x-request-id'], refused['request-id']], [refused['ngrok-aig-request-id'], refused['ngrok-aig-request-id']]);
  } finally {
    await close();
  }
});

test('the provider key and the access key are marked used when the provider accepts the session, not only when it ends', async () => {
  const { h, close } = await setup();
  try {
    const pk = await h.providerKey('openai', 'sk-user-used-1');
    const { id, token } = await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: pk }] }] }] } }));
    const before = Date.now();
    const { rt } = realtime(h, token, 'gpt-realtime');
    // A failed assertion leaves the session to the gateway's shutdown, whose error event is no failure of this test.
    rt.on('error', () => undefined);
    await next(rt, 'session.created');
    // lastUsed is written in batches (every 5 s): the session stays open meanwhile.
    const db = h.running.store.db;
    let stamps: (string | null)[] = [null, null];
    for (let i = 0; i < 80 && stamps.includes(null); i++) {
      await new Promise((r) => setTimeout(r, 100));
      const pkRow = await db.selectFrom('providerKeys').select('lastUsed').where('id', '=', pk).executeTakeFirstOrThrow();
      const akRow = await db.selectFrom('accessKeys').select('lastUsed').where('id', '=', id).executeTakeFirstOrThrow();
      stamps = [pkRow.lastUsed, akRow.lastUsed];
    }
    assert.equal(rt.socket.readyState, WebSocket.OPEN, 'the session is still open');
    for (const stamp of stamps) {
      assert.ok(stamp, 'marked used while the session is open');
      assert.ok(Date.parse(stamp) >= before - 1000);
    }
    rt.close();
  } finally {
    await close();
  }
});

interface Funded { rt: OpenAIRealtimeWS; requestId: Promise<string>; errors: { code: string; message: string; event_id: string | null }[] }

/**
 * A session (billing on) of an account granted one cent, which two responses spend (some half a cent each), once the
 * provider's `session.created` came. The `error` events the client gets are collected.
 */
async function funded(h: Harness): Promise<Funded> {
  await grantCredits(h.running.store.db, h.accountId, 1, { category: 'promotional' });
  const { token } = await h.accessKey();
  const { rt, requestId } = realtime(h, token, 'gpt-realtime');
  const errors: Funded['errors'] = [];
  rt.on('error', (e) => errors.push((e as unknown as { error: Funded['errors'][number] }).error));
  await next(rt, 'session.created');
  return { rt, requestId, errors };
}

/** A funded() session whose credit is spent: the first response leaves credit, the second takes the balance below zero. */
async function overdrawn(h: Harness): Promise<Funded> {
  const { rt, requestId, errors } = await funded(h);
  for (let i = 1; i <= 2; i++) {
    const done = next(rt, 'response.done');
    rt.send({ type: 'response.create', event_id: `evt_paid_${i}` });
    await done;
  }
  return { rt, requestId, errors };
}

test('credit running out during a session: a response.create, audio or an audio commit the account cannot pay for is refused with an error event naming the client event, the session stays open, and credit bought lets the next one through', async () => {
  const { h, fake, close } = await setup({ TOLLGATE_BILLING: 'on' });
  try {
    const { rt, requestId, errors } = await overdrawn(h);
    const creates = () => fake.received.filter((e) => (e as { type?: string }).type === 'response.create').length;
    assert.equal(creates(), 2);

    rt.send({ type: 'response.create', event_id: 'evt_unpaid' });
    rt.send({ type: 'input_audio_buffer.append', audio: FAKE_AUDIO });
    rt.send({ type: 'input_audio_buffer.append', audio: FAKE_AUDIO });
    // Not billable: relayed as before.
    rt.send({ type: 'conversation.item.create', event_id: 'evt_item', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hello' }] } });
    // A commit starts the transcription of the audio committed, which the provider bills: refused, told each time.
    rt.send({ type: 'input_audio_buffer.commit', event_id: 'evt_commit' });
    await waitFor(() => errors.length === 3);
    assert.deepEqual(errors.map((e) => [e.code, e.event_id]), [['ERR_NGROK_4026', 'evt_unpaid'], ['ERR_NGROK_4026', null], ['ERR_NGROK_4026', 'evt_commit']], 'one error for the response, one for the audio (not one per append), one for the commit');
    assert.match(errors[0]!.message, /run out of credit/);
    assert.equal(creates(), 2, 'the refused response.create never reached the provider');
    assert.ok(!fake.received.some((e) => ['input_audio_buffer.append', 'input_audio_buffer.commit'].includes((e as { type?: string }).type ?? '')), 'nor the audio, nor its commit');
    assert.deepEqual(fake.received.filter((e) => (e as { type: string }).type === 'conversation.item.create').map((e) => (e as { event_id: string }).event_id), ['evt_item']);
    assert.equal(rt.socket.readyState, WebSocket.OPEN, 'the session stays open');
    const metrics = await (await fetch(`${h.apiUrl}/metrics`)).text();
    assert.match(metrics, /tollgate_realtime_events_refused_total\{provider="openai",code="ERR_NGROK_4026"\} 4\b/);

    // Credit bought: the next response.create goes through, in the same session.
    await grantCredits(h.running.store.db, h.accountId, 100, { category: 'purchase' });
    await new ChangeBus(h.running.store.db).publish({ accountId: h.accountId, kind: 'credits', resourceId: h.accountId });
    let served = false;
    for (let i = 0; i < 40 && !served; i++) {
      // The grant reaches this gateway's state shortly (SQLite's change check): until then the refusal stands.
      const outcome = new Promise<boolean>((resolve) => {
        const onEvent = (event: { type: string }) => { if (event.type === 'response.done') { off(); resolve(true); } };
        const onError = () => { off(); resolve(false); };
        const off = () => { rt.off('event', onEvent); rt.off('error', onError); };
        rt.on('event', onEvent);
        rt.on('error', onError);
      });
      rt.send({ type: 'response.create', event_id: `evt_after_${i}` });
      served = await outcome;
      if (!served) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(served, 'a response after the grant');
    assert.equal(creates(), 3);
    const rows = await h.usage(await requestId, 3);
    assert.equal(rows.length, 3, 'three responses metered, none for the refused ones');
    rt.close();
  } finally {
    await close();
  }
});

test('with the credit gone, a response.create or audio append spelled with JSON escapes, or sent as a binary frame, is refused like any other: the provider reads the same event', async () => {
  const { h, fake, close } = await setup({ TOLLGATE_BILLING: 'on' });
  try {
    const { rt, errors } = await overdrawn(h);
    // What OpenAI's JSON parser reads as `response.create` and `input_audio_buffer.append`.
    rt.socket.send('{"type":"response\\u002ecreate","event_id":"evt_escaped"}');
    rt.socket.send(`{"type":"input_audio_buffer\\u002eappend","event_id":"evt_audio","audio":"${FAKE_AUDIO}"}`);
    rt.socket.send(Buffer.from('{"type":"response.create","event_id":"evt_binary"}'), { binary: true });
    await waitFor(() => errors.length === 3);
    assert.deepEqual(errors.map((e) => [e.code, e.event_id]), [['ERR_NGROK_4026', 'evt_escaped'], ['ERR_NGROK_4026', 'evt_audio'], ['ERR_NGROK_4026', 'evt_binary']]);
    const relayed = fake.received.map((e) => (Buffer.isBuffer(e) ? JSON.parse(e.toString()) as { type: string } : e as { type: string }).type);
    assert.deepEqual(relayed, ['response.create', 'response.create'], 'only the two paid responses reached the provider');
    rt.close();
  } finally {
    await close();
  }
});

test('a response the provider starts by itself (server VAD) on audio appended before the credit ran out is cancelled upstream at once, the client told naming it, and what it produced still billed; with credit one is left alone', async () => {
  const { h, fake, close } = await setup({ TOLLGATE_BILLING: 'on' });
  try {
    const { rt, requestId, errors } = await funded(h);
    const seen: string[] = [];
    rt.on('event', (event) => seen.push(event.type));
    const kinds = () => fake.received.map((e) => (e as { type: string }).type);
    // Three utterances streamed while the account can pay: all reach the provider.
    for (let i = 0; i < 3; i++) rt.send({ type: 'input_audio_buffer.append', audio: FAKE_AUDIO });
    await waitFor(() => kinds().filter((k) => k === 'input_audio_buffer.append').length === 3);

    // With credit, the provider's own response runs its course untouched.
    let done = next<{ response: { id: string; status: string } }>(rt, 'response.done');
    fake.speechStopped();
    assert.deepEqual([(await done).response.id, (await done).response.status], ['resp_1', 'completed']);
    // A response running holds the most it can cost, more than the cent: a second create while it runs is refused by
    // the gateway, in the words for credit held, and never reaches the provider.
    const created = next(rt, 'response.created');
    rt.send({ type: 'response.create', event_id: 'evt_hold', response: { instructions: 'hold' } });
    await created;
    rt.send({ type: 'response.create', event_id: 'evt_busy' });
    await waitFor(() => errors.length === 1);
    assert.deepEqual([errors[0]!.code, errors[0]!.event_id], ['ERR_NGROK_4026', 'evt_busy']);
    assert.match(errors[0]!.message, /held by requests still in flight/);
    assert.ok(!fake.received.some((e) => (e as { event_id?: string }).event_id === 'evt_busy'));
    done = next(rt, 'response.done');
    rt.send({ type: 'response.cancel' });
    await done;
    // A paid response.create takes the balance below zero; all were the client's to pay.
    done = next(rt, 'response.done');
    rt.send({ type: 'response.create', event_id: 'evt_paid' });
    await done;
    assert.deepEqual(fake.received.filter((e) => (e as { type: string }).type === 'response.cancel'), [{ type: 'response.cancel' }], 'only the client cancelled anything while the account could pay');
    assert.equal(errors.length, 1);

    // The credit gone, speech already in the buffer ends: the provider starts a response nobody paid for.
    const updated = next(rt, 'session.updated');
    rt.send({ type: 'session.update', session: { type: 'realtime', instructions: 'hold' } });
    await updated;
    done = next(rt, 'response.done');
    fake.speechStopped();
    await waitFor(() => errors.length === 2);
    const cancelled = await done;
    assert.deepEqual(fake.received.filter((e) => (e as { type: string }).type === 'response.cancel').map((e) => (e as { response_id?: string }).response_id), [undefined, 'resp_4']);
    assert.equal(errors[1]!.code, 'ERR_NGROK_4026');
    assert.equal(errors[1]!.event_id, null, 'no event of the client\'s is refused');
    assert.match(errors[1]!.message, /run out of credit.*resp_4.*cancelled/);
    assert.equal((cancelled.response as { status: string }).status, 'cancelled');
    assert.ok(seen.indexOf('response.created') < seen.indexOf('error'), 'told after the response.created it names');
    assert.ok(!kinds().includes('input_audio_buffer.clear'), 'the client\'s audio is left in the provider\'s buffer');

    // One that ends before the cancel reaches the provider: the provider's "no active response" answers the
    // gateway's cancel, not anything the client sent, and is not relayed.
    const plain = next(rt, 'session.updated');
    rt.send({ type: 'session.update', session: { type: 'realtime', instructions: 'answer' } });
    await plain;
    fake.speechStopped();
    await waitFor(() => errors.length === 3 && kinds().filter((k) => k === 'response.cancel').length === 3);
    assert.match(errors[2]!.message, /resp_5/);
    // The provider answers in order: its answer to the cancel came before this one.
    const after = next(rt, 'session.updated');
    rt.send({ type: 'session.update', session: { type: 'realtime' } });
    await after;
    assert.deepEqual(errors.map((e) => e.code), ['ERR_NGROK_4026', 'ERR_NGROK_4026', 'ERR_NGROK_4026']);
    assert.equal(rt.socket.readyState, WebSocket.OPEN, 'the session stays open');

    const rows = await h.usage(await requestId, 5);
    assert.deepEqual(rows.map((r) => [r.completion, r.stopReason, Number(r.inputTokens), Number(r.outputTokens), BigInt(r.costPico) > 0n]), [
      ['succeeded', 'completed', 789, 32, true], ['succeeded', 'client_cancelled', 100, 10, true],
      ['succeeded', 'completed', 789, 32, true], ['succeeded', 'client_cancelled', 100, 10, true], ['succeeded', 'completed', 789, 32, true],
    ]);
    const metrics = await (await fetch(`${h.apiUrl}/metrics`)).text();
    assert.match(metrics, /tollgate_realtime_events_refused_total\{provider="openai",code="ERR_NGROK_4026"\} 3\b/);
    rt.close();
  } finally {
    await close();
  }
});

test('a response.create without an event_id that the provider refuses while a response runs (its error can name no event) gives its hold back at once: a response the provider starts by itself later holds its own, paid, and nothing stays held; the client reads the refusal as it would from the provider', async () => {
  const ledger = catchLedger();
  const { h, fake, close } = await setup({ TOLLGATE_BILLING: 'on' });
  try {
    // A dollar in all: enough for the second create to be admitted beside the first's hold, and reach the provider.
    await grantCredits(h.running.store.db, h.accountId, 99, { category: 'promotional' });
    const { rt, errors } = await funded(h);
    rt.send({ type: 'input_audio_buffer.append', audio: FAKE_AUDIO });
    const created = next(rt, 'response.created');
    rt.send({ type: 'response.create', event_id: 'evt_hold', response: { instructions: 'hold' } });
    await created;
    // Refused by the provider (one is in progress): its error names no event, as the client gave none.
    rt.send({ type: 'response.create' });
    await waitFor(() => errors.length === 1);
    assert.deepEqual([errors[0]!.code, errors[0]!.event_id], ['conversation_already_has_active_response', null]);
    let done = next(rt, 'response.done');
    rt.send({ type: 'response.cancel' });
    await done;
    assert.equal(ledger.held(h.accountId), 0n, 'the refused create holds nothing: the provider answers in order, so its refusal is the oldest create without an event_id');

    done = next(rt, 'response.done');
    fake.speechStopped();
    const answered = await within(done as Promise<{ response: { id: string; status: string } }>, 'the provider\'s own response');
    assert.deepEqual([answered.response.id, answered.response.status], ['resp_2', 'completed']);
    assert.equal(ledger.held(h.accountId), 0n, 'its own hold was settled');
    assert.deepEqual(fake.received.filter((e) => (e as { type: string }).type === 'response.cancel'), [{ type: 'response.cancel' }], 'the gateway cancelled nothing');
    assert.equal(errors.length, 1);
    rt.close();
  } finally {
    ledger.restore();
    await close();
  }
});

test('a client that creates its responses itself (no server VAD) at a small balance: a response.create without an event_id the provider refuses while a response runs leaves nothing held, so the next create is served, not refused for credit held until the session ends', async () => {
  const ledger = catchLedger();
  const { h, fake, close } = await setup({ TOLLGATE_BILLING: 'on' });
  try {
    // Ten cents: room for a create holding gpt-realtime's 4,096 tokens of audio output (about 26 cents) beside a small
    // one, not for a second such hold once the first is taken.
    await grantCredits(h.running.store.db, h.accountId, 9, { category: 'promotional' });
    const { rt, errors } = await funded(h);
    const created = next(rt, 'response.created');
    rt.send({ type: 'response.create', event_id: 'evt_running', response: { instructions: 'hold', max_output_tokens: 1 } });
    await created;
    rt.send({ type: 'response.create' });
    await waitFor(() => errors.length === 1);
    assert.deepEqual([errors[0]!.code, errors[0]!.event_id], ['conversation_already_has_active_response', null]);
    await sentUntilDone(rt, { type: 'response.cancel' });
    assert.equal(ledger.held(h.accountId), 0n, 'nothing is held once the running response is settled');

    const served = await within(sentUntilDone(rt, { type: 'response.create', event_id: 'evt_next', response: { instructions: 'answer' } }) as Promise<{ response: { status: string } }>, 'the next response');
    assert.equal(served.response.status, 'completed');
    assert.equal(errors.length, 1, 'the next create is not refused');
    assert.equal(fake.received.filter((e) => (e as { type?: string }).type === 'response.create').length, 3);
    assert.equal(ledger.held(h.accountId), 0n);
    rt.close();
  } finally {
    ledger.restore();
    await close();
  }
});

test('a response.create without an event_id that the provider refuses for a reason of its own (an invalid parameter, no response running) gives its hold back when the refusal comes, not at the next response or the session\'s end: the create reaches the provider named by the gateway, and the client reads the refusal naming no event, as the provider would send it', async () => {
  const ledger = catchLedger();
  const { h, fake, close } = await setup({ TOLLGATE_BILLING: 'on' });
  try {
    // Ten cents: room for one create's hold (gpt-realtime's 4,096 tokens of audio output, about 26 cents) at a time.
    await grantCredits(h.running.store.db, h.accountId, 9, { category: 'promotional' });
    const { rt, requestId, errors } = await funded(h);
    rt.send({ type: 'response.create', response: { instructions: 'refuse' } });
    await waitFor(() => errors.length === 1);
    assert.deepEqual([errors[0]!.code, errors[0]!.event_id], ['invalid_value', null], 'the client gave no event_id: the refusal names none');
    assert.equal(ledger.held(h.accountId), 0n, 'the refused create holds nothing');
    const [sent] = fake.received.filter((e) => (e as { type?: string }).type === 'response.create') as { event_id?: unknown; response?: unknown }[];
    assert.equal(typeof sent!.event_id, 'string', 'the provider was sent the create with an event_id, which its refusal named');
    assert.deepEqual(sent!.response, { instructions: 'refuse' });

    const served = await within(sentUntilDone(rt, { type: 'response.create', response: { instructions: 'answer' } }) as Promise<{ response: { status: string } }>, 'the next response');
    assert.equal(served.response.status, 'completed');
    assert.equal(errors.length, 1, 'the next create is not refused for credit the refused one held');
    assert.equal(ledger.held(h.accountId), 0n);
    rt.close();
    const rows = await events(h, await requestId, 2);
    assert.deepEqual(rows.map((r) => [r.completion, r.stopReason, BigInt(r.costPico) > 0n]), [['failed', 'invalid_value', false], ['succeeded', 'completed', true]], 'the refused create recorded failed at no cost, as the refusal said');
  } finally {
    ledger.restore();
    await close();
  }
});

test('the event_id given to a create without one fits any JSON text the client may send: leading whitespace, a type spelled with escapes, duplicate members, an event_id null; the provider reads one event_id, the client never reads it', async () => {
  const ledger = catchLedger();
  const { h, fake, close } = await setup({ TOLLGATE_BILLING: 'on' });
  try {
    await grantCredits(h.running.store.db, h.accountId, 9, { category: 'promotional' });
    const { rt, errors } = await funded(h);
    const frames = [
      ' \r\n\t{"type":"response.create","response":{"instructions":"refuse"}}',
      '{"type":"response\\u002ecreate","response":{"instructions":"refuse"}}',
      '{"type":"session.update","type":"response.create","response":{"instructions":"x"},"response":{"instructions":"refuse"}}',
      '{ "type" : "response.create" , "response" : { "instructions" : "refuse" } }\n',
      // Null is no name either: replaced where it stands (before, sent as it was, and its hold kept past the refusal).
      '{"type":"response.create","event_id":null,"response":{"instructions":"refuse"}}',
    ];
    const seen: string[] = [];
    rt.socket.on('message', (data) => seen.push(String(data)));
    for (const [i, frame] of frames.entries()) {
      rt.socket.send(frame);
      await waitFor(() => errors.length === i + 1);
      assert.deepEqual([errors[i]!.code, errors[i]!.event_id], ['invalid_value', null], `frame ${i}: the refusal names no event`);
      assert.equal(ledger.held(h.accountId), 0n, `frame ${i}: its hold is given back at the refusal`);
    }
    const sent = fake.received.filter((e) => (e as { type?: string }).type === 'response.create') as { event_id?: unknown }[];
    assert.equal(sent.length, frames.length);
    assert.ok(sent.every((e) => typeof e.event_id === 'string' && e.event_id !== ''), 'each reached the provider as JSON, named');
    for (const e of sent) assert.ok(!seen.some((text) => text.includes(String(e.event_id))), 'no message to the client carries the id the gateway gave');
    rt.close();
  } finally {
    ledger.restore();
    await close();
  }
});

test('an event_id null that the gateway names leaves the rest of the client\'s event as sent — numbers as written, past 2^53 or past a double\'s range; an event_id within a member — for a response.create and a session.update asking for a transcription alike', async () => {
  const { fake, close, rt, errors, ledger, held } = await audioSession();
  try {
    // Each frame, and the provider's text of it with ID for the event_id the gateway gave.
    const frames: [string, string][] = [
      ['{"type":"response.create", "event_id" : null,"response":{"instructions":"refuse","metadata":{"order":12345678901234567890,"ratio":1.50,"far":1e400,"name":"caf\\u00e9 \\ud83d\\ude00"},"event_id":null}}',
        '{"type":"response.create", "event_id" : ID,"response":{"instructions":"refuse","metadata":{"order":12345678901234567890,"ratio":1.50,"far":1e400,"name":"caf\\u00e9 \\ud83d\\ude00"},"event_id":null}}'],
      ['{"type":"session.update","event_id":null,"session":{"type":"realtime","audio":{"input":{"transcription":{"model":"gpt-4o-mini-transcribe","prompt":"refuse"}}}},"n":-0}',
        '{"type":"session.update","event_id":ID,"session":{"type":"realtime","audio":{"input":{"transcription":{"model":"gpt-4o-mini-transcribe","prompt":"refuse"}}}},"n":-0}'],
      // Named twice, null last (as parsed): both named, whichever one the provider reads.
      ['{"event\\u005fid":"evt_first","type":"response.create","response":{"instructions":"refuse","n":1E2},"event_id":null}',
        '{"event\\u005fid":ID,"type":"response.create","response":{"instructions":"refuse","n":1E2},"event_id":ID}'],
    ];
    for (const [i, [frame, expected]] of frames.entries()) {
      rt.socket.send(frame);
      await waitFor(() => errors.length === i + 1);
      assert.deepEqual([errors[i]!.code, errors[i]!.event_id], ['invalid_value', null], `frame ${i}: the refusal names no event`);
      assert.equal(held(), 0n, `frame ${i}: nothing held past the refusal`);
      const text = fake.texts.at(-1)!;
      const named = (JSON.parse(text) as { event_id: unknown }).event_id;
      assert.ok(typeof named === 'string' && named.startsWith('event_tollgate_'), `frame ${i}: named by the gateway`);
      // Before, the frame was written again from the event as parsed: 12345678901234567000, 1.5, null for 1e400, é.
      // Every other member is written as the client wrote it; of a member given twice, the last (the one parsed).
      assert.deepEqual(JSON.parse(text), JSON.parse(expected.replaceAll('ID', JSON.stringify(named))), `frame ${i}: only its event_id changed`);
      for (const written of ['12345678901234567890', '1.50', '1e400', '"n":-0', '1E2', 'caf\\u00e9 \\ud83d\\ude00'].filter((w) => frame.includes(w))) assert.ok(text.includes(written), `frame ${i}: ${written} as written`);
    }
    rt.close();
  } finally {
    ledger.restore();
    await close();
  }
});

test('with billing on, a message naming billable work that is no JSON text (a byte order mark, a trailing comma) is refused, not relayed past the credit check unread', async () => {
  const ledger = catchLedger();
  const { h, fake, close } = await setup({ TOLLGATE_BILLING: 'on' });
  try {
    const { rt, errors } = await funded(h);
    // (Bytes that are not UTF-8 close a text frame's socket in ws itself; in a binary frame they read as U+FFFD and the
    // event is read and checked like any other.)
    const frames = [
      '\uFEFF{"type":"response.create"}',
      '{"type":"response.create",}',
      '\uFEFF{"type":"input_audio_buffer.append","audio":"AAAA"}',
    ];
    for (const [i, frame] of frames.entries()) {
      rt.socket.send(frame);
      await waitFor(() => errors.length === i + 1);
      assert.equal(errors[i]!.code, 'ERR_NGROK_27228', `frame ${i}`);
      assert.match(String(errors[i]!.message), /not a JSON text/);
      assert.equal(ledger.held(h.accountId), 0n);
    }
    // The session goes on: a readable create is served.
    const done = next(rt, 'response.done');
    rt.send({ type: 'response.create' });
    await done;
    const billable = fake.received.filter((e) => ['response.create', 'input_audio_buffer.append'].includes(String((e as { type?: unknown }).type)));
    assert.equal(billable.length, 1, 'only the readable create reached the provider');
    rt.close();
  } finally {
    ledger.restore();
    await close();
  }
});

test('a long session whose unpaid responses the gateway cancels keeps nothing of a cancel once it is settled, and the provider\'s answer to none of them, early or late, reaches the client', async () => {
  const { h, fake, close } = await setup({ TOLLGATE_BILLING: 'on' });
  try {
    const { rt, errors } = await funded(h);
    const cancels = () => fake.received.filter((e) => (e as { type: string }).type === 'response.cancel') as { event_id: string }[];
    // Speech streamed while the account can pay, then two paid responses take the balance below zero.
    const utterances = 21;
    for (let i = 0; i < utterances; i++) rt.send({ type: 'input_audio_buffer.append', audio: FAKE_AUDIO });
    await waitFor(() => fake.received.filter((e) => (e as { type: string }).type === 'input_audio_buffer.append').length === utterances);
    for (const eventId of ['evt_paid_1', 'evt_paid_2']) {
      const done = next(rt, 'response.done');
      rt.send({ type: 'response.create', event_id: eventId });
      await done;
    }
    const say = async (instructions: string) => {
      const updated = next(rt, 'session.updated');
      rt.send({ type: 'session.update', session: { type: 'realtime', instructions } });
      await updated;
    };
    // Each response the provider starts by itself is stopped by the gateway's cancel: the provider answers it with
    // the response's response.done alone.
    await say('hold');
    for (let i = 0; i < utterances - 1; i++) {
      const done = next<{ response: { status: string } }>(rt, 'response.done');
      fake.speechStopped();
      assert.equal((await within(done, 'the cancelled response')).response.status, 'cancelled');
    }
    // One that ends before the cancel reaches the provider: the cancel's error comes after its response.done.
    await say('answer');
    fake.speechStopped();
    await waitFor(() => cancels().length === utterances);
    // The provider answers in order: its answer to that cancel came before this one.
    await say('answer');
    assert.equal(new Set(cancels().map((c) => c.event_id)).size, utterances, 'each cancel has an id of its own');
    assert.deepEqual(errors.map((e) => [e.code, e.event_id]), Array.from({ length: utterances }, () => ['ERR_NGROK_4026', null]), 'the client is told of each unpaid response, and of none of the gateway\'s cancels');
    // Nothing of a settled cancel is kept for the rest of the session (an hour of speech cancels many responses).
    const kept = queryObjects(Set, { format: 'summary' }).filter((set) => set.includes('event_tollgate_'));
    assert.deepEqual(kept, [], 'no set holds the ids of settled cancels');
    assert.equal(rt.socket.readyState, WebSocket.OPEN);
    rt.close();
  } finally {
    await close();
  }
});

test('a response.create without an event_id sent while the session\'s response holds the credit is refused at once, naming no event, and never reaches the provider; a response the provider starts by itself once the credit is gone is told as its own', async () => {
  const { h, fake, close } = await setup({ TOLLGATE_BILLING: 'on' });
  try {
    const { rt, errors } = await funded(h);
    rt.send({ type: 'input_audio_buffer.append', audio: FAKE_AUDIO });
    let done = next(rt, 'response.done');
    rt.send({ type: 'response.create', event_id: 'evt_paid_1' });
    await done;
    // The second paid create holds more than the half cent left: the create behind it is refused while it runs (before,
    // both were admitted and the second's response cancelled once the first one's usage took the balance below zero).
    done = next(rt, 'response.done');
    rt.send({ type: 'response.create', event_id: 'evt_paid_2' });
    rt.send({ type: 'response.create', response: { instructions: 'hold' } });
    await done;
    await waitFor(() => errors.length === 1);
    assert.deepEqual([errors[0]!.code, errors[0]!.event_id], ['ERR_NGROK_4026', null]);
    assert.match(errors[0]!.message, /held by requests still in flight/);
    assert.equal(fake.received.filter((e) => (e as { type: string }).type === 'response.create').length, 2, 'only the paid creates reached the provider');
    assert.ok(!fake.received.some((e) => (e as { type: string }).type === 'response.cancel'));

    // With no create of the client's outstanding, a response the provider starts by itself is told as that.
    const updated = next(rt, 'session.updated');
    rt.send({ type: 'session.update', session: { type: 'realtime', instructions: 'hold' } });
    await updated;
    done = next(rt, 'response.done');
    fake.speechStopped();
    await within(done, 'the provider\'s own response cancelled');
    await waitFor(() => errors.length === 2);
    assert.match(errors[1]!.message, /run out of credit.*resp_3, which the provider started by itself \(server voice activity detection\), is cancelled/);
    rt.close();
  } finally {
    await close();
  }
});

/** Sends `event` and waits for the next `response.done`. */
function sentUntilDone(rt: OpenAIRealtimeWS, event: Parameters<OpenAIRealtimeWS['send']>[0]): Promise<Record<string, unknown>> {
  const done = next(rt, 'response.done');
  rt.send(event);
  return done;
}

/**
 * The gateway's credit ledger (billing on), caught the first time it is asked about an account: how much of the
 * account's credit realtime responses hold (balance − headroom) is read from it.
 */
function catchLedger(): { held(accountId: string): bigint; balance(accountId: string): bigint; restore(): void } {
  const available = CreditLedger.prototype.available;
  let caught: CreditLedger | undefined;
  CreditLedger.prototype.available = function (this: CreditLedger, accountId: string, snapshot: object) {
    caught ??= this;
    return available.call(this, accountId, snapshot);
  };
  return {
    held: (accountId) => caught!.balance(accountId) - caught!.headroom(accountId),
    balance: (accountId) => caught!.balance(accountId),
    restore: () => { CreditLedger.prototype.available = available; },
  };
}

test('two sessions of one account at a small balance: while the first one\'s response holds the credit, the second\'s response.create is refused (credit held by requests in flight) and so is a response its provider starts by itself; once the first is settled the second runs', async () => {
  const { h, fake, close } = await setup({ TOLLGATE_BILLING: 'on' });
  try {
    const first = await funded(h);
    const { token } = await h.accessKey();
    const second = realtime(h, token, 'gpt-realtime');
    const errors: Funded['errors'] = [];
    second.rt.on('error', (e) => errors.push((e as unknown as { error: Funded['errors'][number] }).error));
    await next(second.rt, 'session.created');
    const creates = () => fake.received.filter((e) => (e as { type?: string }).type === 'response.create').length;
    // Speech in the second session's buffer while the account can pay; its responses would stay open until cancelled.
    second.rt.send({ type: 'input_audio_buffer.append', audio: FAKE_AUDIO });
    const updated = next(second.rt, 'session.updated');
    second.rt.send({ type: 'session.update', session: { type: 'realtime', instructions: 'hold' } });
    await updated;

    const created = next(first.rt, 'response.created');
    first.rt.send({ type: 'response.create', event_id: 'evt_first', response: { instructions: 'hold' } });
    await created;
    // The cent is left, but the first response may cost far more (its output limit at the audio output price).
    second.rt.send({ type: 'response.create', event_id: 'evt_second' });
    await waitFor(() => errors.length === 1);
    assert.deepEqual([errors[0]!.code, errors[0]!.event_id], ['ERR_NGROK_4026', 'evt_second']);
    assert.match(errors[0]!.message, /held by requests still in flight/);
    assert.equal(creates(), 1, 'the refused create never reached the provider');

    const cancelled = next<{ response: { id: string; status: string } }>(second.rt, 'response.done');
    fake.speechStopped();
    assert.equal((await within(cancelled, 'the unpaid response cancelled')).response.status, 'cancelled');
    await waitFor(() => errors.length === 2);
    assert.equal(errors[1]!.event_id, null);
    assert.match(errors[1]!.message, /held by requests still in flight.*which the provider started by itself/);
    assert.equal(second.rt.socket.readyState, WebSocket.OPEN, 'the session stays open');

    // The first response ends: its hold is settled to its cost, and the second session's next response runs.
    const done = next(first.rt, 'response.done');
    first.rt.send({ type: 'response.cancel' });
    await done;
    const served = next<{ response: { status: string } }>(second.rt, 'response.done');
    second.rt.send({ type: 'response.create', event_id: 'evt_second_again', response: { instructions: 'answer' } });
    assert.equal((await within(served, 'the second session\'s response')).response.status, 'completed');
    assert.equal(errors.length, 2);
    first.rt.close();
    second.rt.close();
  } finally {
    await close();
  }
});

test('a realtime response holds its bound while it runs — the session\'s input so far at the input prices (audio at the audio one) and its output limit at the output price, the audio one when it may speak, with the fee — and gives it back exactly once however it ends: done, cancelled, refused by the provider, the client leaving, the provider gone, the key revoked', async () => {
  const ledger = catchLedger();
  const { h, fake, close } = await setup({ TOLLGATE_BILLING: 'on', TOLLGATE_PROCESSING_FEE_USD_PER_MTOK: '1' });
  try {
    await grantCredits(h.running.store.db, h.accountId, 100, { category: 'promotional' });
    const account = h.accountId;
    const held = () => ledger.held(account);
    const key = await h.accessKey();
    const { rt, requestId } = realtime(h, key.token, 'gpt-realtime');
    const errors: Funded['errors'] = [];
    rt.on('error', (e) => errors.push((e as unknown as { error: Funded['errors'][number] }).error));
    await next(rt, 'session.created');
    assert.equal(held(), 0n);

    // A fresh conversation: the create's own instructions (a token a byte: held before the tokenizer could count them)
    // and its 100 output tokens at gpt-realtime's audio output price ($64/M); $1/M of fee on all of it.
    let created = next(rt, 'response.created');
    rt.send({ type: 'response.create', event_id: 'evt_1', response: { instructions: 'hold', max_output_tokens: 100 } });
    await created;
    const own = BigInt(Buffer.byteLength(JSON.stringify({ instructions: 'hold' })));
    assert.equal(held(), own * 4_000_000n + 100n * 64_000_000n + (own + 100n) * 1_000_000n);
    // A second create while it runs: admitted (credit is left), refused by the provider, its hold given back.
    rt.send({ type: 'response.create', event_id: 'evt_busy', response: { max_output_tokens: 100 } });
    await waitFor(() => errors.length === 1);
    assert.equal(errors[0]!.code, 'conversation_already_has_active_response');
    await waitFor(() => held() === own * 4_000_000n + 100n * 64_000_000n + (own + 100n) * 1_000_000n);
    await sentUntilDone(rt, { type: 'response.cancel' });
    assert.equal(held(), 0n, 'the cancelled response\'s hold is settled');

    // The conversation now holds what the cancelled response read and wrote (100 text tokens in; 2 text and 8 audio
    // out), and the session's instructions; a text-only session with a 50-token limit holds its output at the text price.
    const updated = next(rt, 'session.updated');
    rt.send({ type: 'session.update', session: { type: 'realtime', instructions: 'answer', max_output_tokens: 50, output_modalities: ['text'] } });
    await updated;
    const instructions = BigInt(await countTextTokens(JSON.stringify({ instructions: 'answer' })));
    // The gateway's own count of them is back (until then a hold counts their bytes).
    await tokenCountsIdle();
    // One second of 24 kHz PCM appended: 10 audio tokens at $32/M.
    rt.send({ type: 'input_audio_buffer.append', audio: Buffer.alloc(48_000).toString('base64') });
    await waitFor(() => fake.received.some((e) => (e as { type?: string }).type === 'input_audio_buffer.append'));
    created = next(rt, 'response.created');
    rt.send({ type: 'response.create', event_id: 'evt_2', response: { instructions: 'hold' } });
    await created;
    const text = 102n + instructions + own;
    assert.equal(held(), text * 4_000_000n + 18n * 32_000_000n + 50n * 16_000_000n + (text + 18n + 50n) * 1_000_000n);
    await sentUntilDone(rt, { type: 'response.cancel' });
    // Done as asked (the session's instructions answer at once).
    await sentUntilDone(rt, { type: 'response.create', event_id: 'evt_3' });
    assert.equal(held(), 0n);
    fake.speechStopped();
    await h.usage(await requestId, 5);
    await waitFor(() => held() === 0n);

    // The client leaving mid-response; a response that never reports, the client gone; the provider gone; the key revoked.
    const leaving = await responding(h, key.token, 'hold');
    assert.ok(held() > 0n);
    leaving.rt.close();
    await h.usage(await leaving.requestId, 1);
    assert.equal(held(), 0n, 'the hold of the response the client left is settled');
    const silent = await responding(h, key.token, 'hang');
    assert.ok(held() > 0n);
    silent.rt.close();
    await h.usage(await silent.requestId, 1);
    assert.equal(held(), 0n, 'the hold of the response that never reported is settled');
    const dropped = await responding(h, key.token, 'drop');
    await h.usage(await dropped.requestId, 1);
    assert.equal(held(), 0n, 'the hold of the response the provider dropped is settled');
    const doomed = await h.accessKey();
    const revoked = await responding(h, doomed.token, 'hold');
    assert.ok(held() > 0n);
    const why = told(revoked.rt);
    const ended = closed(revoked.rt);
    await h.api('DELETE', `/access-keys/${doomed.id}`);
    assert.equal((await within(why, 'the revoked session told')).code, 'ERR_NGROK_27201');
    assert.equal(await within(ended, 'the revoked session closed'), 1008);
    await h.usage(await revoked.requestId, 1);
    assert.equal(held(), 0n, 'the hold of the revoked session\'s response is settled');

    // Whole: what the ledger has left is the grant less what was billed, nothing held.
    rt.close();
    await waitFor(() => held() === 0n);
    const billed = await usageCostPico(h.running.store.db, account);
    assert.equal(ledger.balance(account), 100n * 10_000_000_000n - billed);
  } finally {
    ledger.restore();
    await close();
  }
});

/** The gateway's end of each client socket from now until `restore()` (its WebSocketServer tracks no clients; the fake's does). */
function gatewaySides(): { sides: WebSocket[]; restore(): void } {
  const sides: WebSocket[] = [];
  const handleUpgrade = WebSocketServer.prototype.handleUpgrade;
  WebSocketServer.prototype.handleUpgrade = function (this: WebSocketServer, req, socket, head, cb) {
    handleUpgrade.call(this, req, socket, head, (ws, request) => {
      if (this.options.clientTracking === false) sides.push(ws);
      cb(ws, request);
    });
  };
  return { sides, restore() { WebSocketServer.prototype.handleUpgrade = handleUpgrade; } };
}

test('while a client event waits for a credit check, the client socket stays paused even when a relay it sent before drains: what the client sends meanwhile waits in the network, not in the gateway, and then goes on in order', async () => {
  const { h, fake, close } = await setup({ TOLLGATE_BILLING: 'on' });
  const { sides, restore } = gatewaySides();
  // A grant arriving while the balance is gone: the credit check waits for it until the test lets it through.
  let gate: Promise<void> | undefined;
  const changesArriving = GatewayState.prototype.changesArriving;
  GatewayState.prototype.changesArriving = function (this: GatewayState, accountId: string) {
    return gate ?? changesArriving.call(this, accountId);
  };
  try {
    const { rt, errors } = await overdrawn(h);
    const side = sides.at(-1)!;
    let holding = false;
    let resumes = 0;
    const resume = side.resume.bind(side);
    side.resume = () => {
      if (holding) resumes++;
      resume();
    };
    // Whether the gateway's socket was left paused after each message it read once a drain resumed it.
    const pausedAfter: boolean[] = [];
    side.on('message', () => { if (holding && resumes > 0) pausedAfter.push(side.isPaused); });

    // Over the 4 MiB high-water mark, so relaying it pauses the client socket until the provider has it. Sent in two
    // fragments, the first read whole (the ping's answer says so): the second ends in the same read as what follows.
    const text = JSON.stringify({ type: 'conversation.item.create', event_id: 'evt_big', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'a'.repeat(5 * 1024 * 1024) }] } });
    rt.socket.send(text.slice(0, -10), { fin: false });
    rt.socket.ping();
    await once(rt.socket, 'pong');
    let open!: () => void;
    gate = new Promise((resolve) => { open = resolve; });
    holding = true;
    rt.socket.send(text.slice(-10), { fin: true });
    rt.socket.send(JSON.stringify({ type: 'response.create', event_id: 'evt_waits' }));
    const FLOOD = 128;
    for (let i = 0; i < FLOOD; i++) {
      rt.socket.send(JSON.stringify({ type: 'conversation.item.create', event_id: `evt_flood_${i}`, item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'b'.repeat(16 * 1024) }] } }));
    }
    // The big message's relay drained and resumed the socket, and the gateway read on: each message it took in left
    // the socket paused again, so it holds no more than one read's worth while the check waits.
    await waitFor(() => pausedAfter.length > 0);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(pausedAfter.filter((paused) => !paused), [], 'the socket is paused again after each message held');
    assert.ok(pausedAfter.length < FLOOD, `held ${pausedAfter.length} of ${FLOOD} after the drain`);
    assert.ok(!fake.received.some((e) => String((e as { event_id?: string }).event_id).startsWith('evt_flood_')), 'nothing behind the check has gone on');

    gate = undefined;
    open();
    await waitFor(() => errors.some((e) => e.event_id === 'evt_waits'));
    const flood = () => fake.received.map((e) => (e as { event_id?: string }).event_id).filter((id) => id?.startsWith('evt_flood_'));
    await waitFor(() => flood().length === FLOOD);
    assert.deepEqual(flood(), Array.from({ length: FLOOD }, (_, i) => `evt_flood_${i}`), 'every message behind the check reaches the provider, in order');
    assert.ok(!fake.received.some((e) => (e as { event_id?: string }).event_id === 'evt_waits'), 'the refused response.create never reached the provider');
    rt.close();
  } finally {
    restore();
    GatewayState.prototype.changesArriving = changesArriving;
    await close();
  }
});

test('an account has at most TOLLGATE_REALTIME_MAX_SESSIONS sessions open; a session quiet for the idle limit is told and closed', async () => {
  const { h, fake, close } = await setup({ TOLLGATE_REALTIME_MAX_SESSIONS: '1', TOLLGATE_REALTIME_IDLE_TIMEOUT_MS: '300' });
  try {
    const { token } = await h.accessKey();
    const { rt } = realtime(h, token, 'gpt-realtime');
    await next(rt, 'session.created');
    assert.deepEqual(errorCode(await rawUpgrade(h, '?model=gpt-realtime', { token })), [429, 'ERR_NGROK_AI_GATEWAY_REALTIME_SESSIONS_LIMIT_EXCEEDED']);
    const idle = told(rt);
    const code = closed(rt);
    const error = await idle;
    assert.equal(error.code, 'ERR_NGROK_AI_GATEWAY_REALTIME_SESSION_IDLE_LIMIT_EXCEEDED');
    assert.match(error.message, /no data frames for 300ms/);
    assert.equal(await code, 1008);
    await waitFor(() => fake.open() === 0);
    // The slot is free again.
    const again = await rawUpgrade(h, '?model=gpt-realtime', { token });
    assert.ok('socket' in again);
    again.socket.close();
  } finally {
    await close();
  }
});

test('frames keep a session from the idle limit, not from the duration limit; a provider message over 16 MiB ends the session', async () => {
  // The idle limit 20 keep-alive periods long: a loaded machine stalling the test's timer a while cannot end it idle.
  const { h, close } = await setup({ TOLLGATE_REALTIME_IDLE_TIMEOUT_MS: '1000', TOLLGATE_REALTIME_MAX_DURATION_MS: '2500' });
  try {
    const { token } = await h.accessKey();
    const { rt } = realtime(h, token, 'gpt-realtime');
    await next(rt, 'session.created');
    const ended = told(rt);
    const keepAlive = setInterval(() => rt.send({ type: 'input_audio_buffer.append', audio: FAKE_AUDIO }), 50);
    const error = await ended;
    clearInterval(keepAlive);
    assert.equal(error.code, 'ERR_NGROK_AI_GATEWAY_REALTIME_SESSION_DURATION_LIMIT_EXCEEDED');
    assert.match(error.message, /reached its 2\.5s duration limit/);

    const big = realtime(h, token, 'gpt-realtime');
    await next(big.rt, 'session.created');
    const tooLong = told(big.rt);
    big.rt.send({ type: 'response.create', response: { instructions: 'huge' } });
    assert.equal((await tooLong).code, 'ERR_NGROK_AI_GATEWAY_REALTIME_UPSTREAM_FRAME_TOO_LONG');
    // Its response never reported: recorded as failed.
    const [row] = await h.usage(await big.requestId, 1);
    assert.equal(row!.completion, 'stream_failed');
  } finally {
    await close();
  }
});

/** A raw session: its socket, its request id, and the messages it was sent (parsed). */
async function rawSession(h: Harness, token: string): Promise<{ ws: WebSocket; requestId: string; received: Record<string, unknown>[]; closed: Promise<number> }> {
  const ws = new WebSocket(`${h.gatewayUrl.replace('http', 'ws')}/v1/realtime?model=gpt-realtime`, { headers: { authorization: `Bearer ${token}` } });
  const requestId = new Promise<string>((resolve) => ws.once('upgrade', (res) => resolve(String(res.headers['ngrok-aig-request-id']))));
  const received: Record<string, unknown>[] = [];
  ws.on('message', (data, isBinary) => { if (!isBinary) received.push(JSON.parse(String(data)) as Record<string, unknown>); });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  ws.on('error', () => {});
  await once(ws, 'open');
  await waitFor(() => received.some((e) => e.type === 'session.created'));
  return { ws, requestId: await requestId, received, closed };
}

/** The gateway's metrics once they name `text` (a session's end is observed after its last usage event). */
async function metricsNaming(h: Harness, text: string): Promise<string> {
  let metrics = '';
  for (let i = 0; i < 100 && !metrics.includes(text); i++) {
    metrics = await (await fetch(`${h.apiUrl}/metrics`)).text();
    if (!metrics.includes(text)) await new Promise((r) => setTimeout(r, 20));
  }
  return metrics;
}

/** Part of a masked text frame of `length` bytes (mask key 0: the payload as is), written on the raw socket. */
function partialFrame(ws: WebSocket, length: number, payload: Buffer): void {
  const header = Buffer.alloc(14);
  header[0] = 0x81;
  header[1] = 0x80 | 127;
  header.writeBigUInt64BE(BigInt(length), 2);
  (ws as unknown as { _socket: import('node:net').Socket })._socket.write(Buffer.concat([header, payload]));
}

test('a client message still arriving counts in the process\'s held answers as it is read, and leaves them once whole; one its account\'s share has no room for ends the session — a 503 CAPACITY_UNAVAILABLE error event naming why, a 1013 close — its open response cancelled and metered, and every byte given back', async () => {
  const { h, fake, close } = await setup();
  const tally = PROCESS_HELD_ANSWERS;
  let ownTaken = 0;
  try {
    const { token } = await h.accessKey();
    const s = await rawSession(h, token);
    const base = tally.heldBy(h.accountId);
    // 1 MiB of a message of 1 MiB and a bit, the rest later: counted while it arrives, relayed and given back once whole.
    const item = JSON.stringify({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'x'.repeat(1024 * 1024) }] } });
    const bytes = Buffer.from(item);
    partialFrame(s.ws, bytes.length, bytes.subarray(0, 1024 * 1024));
    await waitFor(() => tally.heldBy(h.accountId) - base > 512 * 1024);
    (s.ws as unknown as { _socket: import('node:net').Socket })._socket.write(bytes.subarray(1024 * 1024));
    await waitFor(() => fake.received.some((e) => (e as { type?: string }).type === 'conversation.item.create'));
    assert.equal(tally.heldBy(h.accountId), base, 'a whole message leaves the tally');

    const created = new Promise<void>((resolve) => s.ws.on('message', (d) => { if (String(d).includes('"response.created"')) resolve(); }));
    s.ws.send(JSON.stringify({ type: 'response.create', response: { instructions: 'hold' } }));
    await created;
    // The account's other answers hold all but 1 MiB of its share: 2 MiB of a message still arriving cannot be held.
    ownTaken = tally.accountLimit - base - 1024 * 1024;
    assert.equal(tally.take(h.accountId, ownTaken), 'taken');
    partialFrame(s.ws, 8 * 1024 * 1024, Buffer.alloc(2 * 1024 * 1024, 0x20));
    assert.equal(await s.closed, 1013);
    const told = s.received.find((e) => e.type === 'error')?.error as { code: string; message: string; type: string };
    assert.equal(told.code, 'ERR_NGROK_AI_GATEWAY_REQUEST_CAPACITY_UNAVAILABLE');
    assert.match(told.message, /The AI gateway is busy: the rest of a message of this session's client could not be held: this account's messages and answers still arriving already hold as much as one account's may at once\./);
    // The response was cancelled and reported: metered as the provider billed it.
    const [row] = await h.usage(s.requestId, 1);
    assert.deepEqual([row!.completion, row!.stopReason], ['succeeded', 'client_cancelled']);
    await waitFor(() => tally.heldBy(h.accountId) === base + ownTaken);
    await waitFor(() => fake.open() === 0);
  } finally {
    tally.give(h.accountId, ownTaken);
    await close();
  }
});

test('a provider message still arriving counts in the held answers too: one the gateway has no room for ends the session — the client told 503 CAPACITY_UNAVAILABLE naming the provider\'s message, 1013 — the response under way recorded as it stands, and every byte given back', async () => {
  const { h, close } = await setup();
  const tally = PROCESS_HELD_ANSWERS;
  // Two other accounts hold all of the gateway's room but 1 MiB.
  const others: [string, number][] = [['acct_other_a', tally.accountLimit], ['acct_other_b', tally.limit - tally.held - tally.accountLimit - 1024 * 1024]];
  try {
    const { token } = await h.accessKey();
    const s = await rawSession(h, token);
    for (const [account, bytes] of others) assert.equal(tally.take(account, bytes), 'taken');
    s.ws.send(JSON.stringify({ type: 'response.create', response: { instructions: 'unfinished' } }));
    assert.equal(await s.closed, 1013);
    const told = s.received.find((e) => e.type === 'error')?.error as { code: string; message: string };
    assert.equal(told.code, 'ERR_NGROK_AI_GATEWAY_REQUEST_CAPACITY_UNAVAILABLE');
    assert.match(told.message, /the rest of a message the provider is sending could not be held: it already holds as much of messages and answers still arriving as it holds at once\./);
    // The response never reported (its response.done would come behind the message): billed on what was relayed of it.
    const [row] = await h.usage(s.requestId, 1);
    assert.equal(row!.completion, 'stream_failed');
    await waitFor(() => tally.heldBy(h.accountId) === 0);
  } finally {
    for (const [account, bytes] of others) tally.give(account, bytes);
    await close();
  }
});

test('a client message over 16 MiB ends the session telling the client why — a 413 REQUEST_BODY_TOO_LONG error event naming the limit, then ws\'s 1009 close — its open response cancelled and metered, and the outcome client_frame_too_long', async () => {
  const { h, close } = await setup();
  try {
    const { token } = await h.accessKey();
    const s = await rawSession(h, token);
    const created = new Promise<void>((resolve) => s.ws.on('message', (d) => { if (String(d).includes('"response.created"')) resolve(); }));
    s.ws.send(JSON.stringify({ type: 'response.create', response: { instructions: 'hold' } }));
    await created;
    // ws refuses it at its header: the payload need not come.
    partialFrame(s.ws, 16 * 1024 * 1024 + 1, Buffer.alloc(1024, 0x20));
    assert.equal(await s.closed, 1009);
    const told = s.received.find((e) => e.type === 'error')?.error as { code: string; message: string; type: string };
    assert.ok(told, 'an error event before the close');
    assert.deepEqual([told.code, told.type], ['ERR_NGROK_AI_GATEWAY_REQUEST_BODY_TOO_LONG', 'invalid_request_error']);
    assert.match(told.message, /over the 16 MiB limit/);
    const [row] = await h.usage(s.requestId, 1);
    assert.deepEqual([row!.completion, row!.stopReason], ['succeeded', 'client_cancelled']);
    await waitFor(() => PROCESS_HELD_ANSWERS.heldBy(h.accountId) === 0);
    assert.match(await metricsNaming(h, 'client_frame_too_long'), /tollgate_realtime_sessions_ended_total\{provider="openai",model="gpt-realtime",outcome="client_frame_too_long"\} 1\b/);
  } finally {
    await close();
  }
});

/** A whole frame of under 126 bytes, its first byte `head` (FIN, RSV bits, opcode), masked (key 0) unless told, on the raw socket. */
function rawFrame(ws: WebSocket, head: number, payload: Buffer, masked = true): void {
  const header = Buffer.from([head, (masked ? 0x80 : 0) | payload.length]);
  (ws as unknown as { _socket: import('node:net').Socket })._socket.write(Buffer.concat([header, masked ? Buffer.alloc(4) : Buffer.alloc(0), payload]));
}

test('a client frame ws refuses (invalid UTF-8, a reserved opcode, RSV1, no mask, a bad close code, a fragmented ping) ends the session telling the client why — a 400 27228 error event naming the fault, then ws\'s own close (1007, 1002) — its open response cancelled and metered, and the outcome client_protocol_error; a frame whose length is past 2^53 is a message too long', async () => {
  const { h, close } = await setup();
  try {
    const { token } = await h.accessKey();
    const closeCode = (code: number) => { const b = Buffer.alloc(2); b.writeUInt16BE(code); return b; };
    const cases: [string, (ws: WebSocket) => void, number, RegExp][] = [
      ['invalid UTF-8', (ws) => rawFrame(ws, 0x81, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), 1007, /malformed \(invalid UTF-8 sequence\)/],
      ['a reserved opcode', (ws) => rawFrame(ws, 0x83, Buffer.from('{}')), 1002, /malformed \(invalid opcode 3\)/],
      ['RSV1 without an extension', (ws) => rawFrame(ws, 0xc1, Buffer.from('{}')), 1002, /malformed \(RSV1 must be clear\)/],
      ['an unmasked frame', (ws) => rawFrame(ws, 0x81, Buffer.from('{}'), false), 1002, /malformed \(MASK must be set\)/],
      ['a close code no endpoint may send', (ws) => rawFrame(ws, 0x88, closeCode(1004)), 1002, /malformed \(invalid status code 1004\)/],
      ['a fragmented ping', (ws) => rawFrame(ws, 0x09, Buffer.alloc(0)), 1002, /malformed \(FIN must be set\)/],
    ];
    for (const [what, send, code, reason] of cases) {
      const s = await rawSession(h, token);
      const created = new Promise<void>((resolve) => s.ws.on('message', (d) => { if (String(d).includes('"response.created"')) resolve(); }));
      s.ws.send(JSON.stringify({ type: 'response.create', response: { instructions: 'hold' } }));
      await created;
      send(s.ws);
      assert.equal(await s.closed, code, what);
      const told = s.received.find((e) => e.type === 'error')?.error as { code: string; message: string; type: string } | undefined;
      assert.ok(told, `an error event before the close: ${what}`);
      assert.deepEqual([told.code, told.type], ['ERR_NGROK_27228', 'invalid_request_error'], what);
      assert.match(told.message, reason, what);
      assert.match(told.message, /the session ended/, what);
      const [row] = await h.usage(s.requestId, 1);
      assert.deepEqual([row!.completion, row!.stopReason], ['succeeded', 'client_cancelled'], what);
    }
    assert.match(await metricsNaming(h, `outcome="client_protocol_error"} ${cases.length}`), new RegExp(`tollgate_realtime_sessions_ended_total\\{provider="openai",model="gpt-realtime",outcome="client_protocol_error"\\} ${cases.length}\\b`));

    // ws refuses a frame saying more than 2^53 - 1 bytes before its own limit: a message too long all the same.
    const s = await rawSession(h, token);
    partialFrame(s.ws, 2 ** 53, Buffer.alloc(0));
    assert.equal(await s.closed, 1009);
    const told = s.received.find((e) => e.type === 'error')?.error as { code: string } | undefined;
    assert.equal(told?.code, 'ERR_NGROK_AI_GATEWAY_REQUEST_BODY_TOO_LONG');
    assert.match(await metricsNaming(h, 'client_frame_too_long'), /outcome="client_frame_too_long"\} 1\b/);
    await waitFor(() => PROCESS_HELD_ANSWERS.heldBy(h.accountId) === 0);
  } finally {
    await close();
  }
});

test('a provider frame ws refuses (invalid UTF-8, a reserved opcode, RSV1, a masked frame, a bad close code, a fragmented ping) ends the session telling the client why — a 502 27235 error event naming the fault, then a 1011 close — its open response metered as it stands, and the outcome provider_protocol_error; a frame whose length is past 2^53 is a message too long', async () => {
  const { h, close } = await setup();
  try {
    const { token } = await h.accessKey();
    // The frames as the provider writes them (unmasked, but the fourth), in hex.
    const cases: [string, string, RegExp][] = [
      ['invalid UTF-8', '81047bfffe7d', /malformed WebSocket frame \(invalid UTF-8 sequence\)/],
      ['a reserved opcode', '83027b7d', /malformed WebSocket frame \(invalid opcode 3\)/],
      ['RSV1 without an extension', 'c1027b7d', /malformed WebSocket frame \(RSV1 must be clear\)/],
      ['a masked frame', '8182000000007b7d', /malformed WebSocket frame \(MASK must be clear\)/],
      ['a close code no endpoint may send', '880203ec', /malformed WebSocket frame \(invalid status code 1004\)/],
      ['a fragmented ping', '0900', /malformed WebSocket frame \(FIN must be set\)/],
    ];
    for (const [what, frame, reason] of cases) {
      const s = await rawSession(h, token);
      const created = new Promise<void>((resolve) => s.ws.on('message', (d) => { if (String(d).includes('"response.created"')) resolve(); }));
      s.ws.send(JSON.stringify({ type: 'response.create', response: { instructions: `frame ${frame}` } }));
      await created;
      assert.equal(await s.closed, 1011, what);
      const told = s.received.find((e) => e.type === 'error')?.error as { code: string; message: string; type: string } | undefined;
      assert.ok(told, `an error event before the close: ${what}`);
      assert.deepEqual([told.code, told.type], ['ERR_NGROK_27235', 'api_error'], what);
      assert.match(told.message, /^The upstream stream ended unexpectedly: /, what);
      assert.match(told.message, reason, what);
      assert.match(told.message, /the session ended/, what);
      // Nothing more is read from the provider: its response is recorded as it stands, on what the client was sent.
      const [row] = await h.usage(s.requestId, 1);
      assert.deepEqual([row!.completion, Number(row!.usageEstimated)], ['stream_failed', 1], what);
    }
    assert.match(await metricsNaming(h, `outcome="provider_protocol_error"} ${cases.length}`), new RegExp(`tollgate_realtime_sessions_ended_total\\{provider="openai",model="gpt-realtime",outcome="provider_protocol_error"\\} ${cases.length}\\b`));
    assert.doesNotMatch(await metricsNaming(h, 'provider_protocol_error'), /outcome="provider_closed"/);

    // ws refuses a frame saying more than 2^53 - 1 bytes before its own limit: a message too long all the same.
    const s = await rawSession(h, token);
    s.ws.send(JSON.stringify({ type: 'response.create', response: { instructions: 'frame 817f0020000000000000' } }));
    assert.equal(await s.closed, 1011);
    const told = s.received.find((e) => e.type === 'error')?.error as { code: string } | undefined;
    assert.equal(told?.code, 'ERR_NGROK_AI_GATEWAY_REALTIME_UPSTREAM_FRAME_TOO_LONG');
    assert.match(await metricsNaming(h, 'outcome="frame_too_long"'), /tollgate_realtime_sessions_ended_total\{provider="openai",model="gpt-realtime",outcome="frame_too_long"\} 1\b/);
  } finally {
    await close();
  }
});

test('a provider frame ws refuses in the read that carries the provider\'s 101, before the client\'s socket is attached, ends the session as it starts, the client told why (502 27235, or UPSTREAM_FRAME_TOO_LONG for a frame over the limit) after the provider\'s first messages, then 1011', async () => {
  const { h, close } = await setup();
  try {
    const cases: [string, string, string, string][] = [
      ['invalid UTF-8', '81047bfffe7d', 'ERR_NGROK_27235', 'provider_protocol_error'],
      ['a frame over 16 MiB', '817f0000000001000001', 'ERR_NGROK_AI_GATEWAY_REALTIME_UPSTREAM_FRAME_TOO_LONG', 'frame_too_long'],
    ];
    for (const [what, frame, code, outcome] of cases) {
      const key = await h.providerKey('openai', `sk-frame-${frame}`);
      const { token } = await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: key }] }] }] } }));
      const s = await rawSession(h, token);
      assert.equal(await s.closed, 1011, what);
      assert.deepEqual(s.received.map((e) => e.type), ['session.created', 'error'], what);
      assert.equal((s.received[1]!.error as { code: string }).code, code, what);
      assert.match(await metricsNaming(h, `outcome="${outcome}"`), new RegExp(`outcome="${outcome}"\\} 1\\b`), what);
    }
  } finally {
    await close();
  }
});

test('messages waiting for a client that does not read count in the held answers past 64 KiB while they wait, and leave them once it reads them', async () => {
  const { h, close } = await setup();
  const { sides, restore } = gatewaySides();
  const tally = PROCESS_HELD_ANSWERS;
  try {
    const { token } = await h.accessKey();
    const s = await rawSession(h, token);
    const side = sides.at(-1)!;
    const base = tally.heldBy(h.accountId);
    // The client reads nothing more: of the provider's three 6 MiB messages, what the network does not take waits in
    // the gateway (the provider paused once 4 MiB wait), counted — all of it but the free 64 KiB.
    s.ws.pause();
    s.ws.send(JSON.stringify({ type: 'response.create', response: { instructions: 'flood' } }));
    await waitFor(() => side.bufferedAmount > 1024 * 1024);
    const waiting = side.bufferedAmount;
    // Less the frames' headers (ws counts them; the relay counts what it sends).
    assert.ok(tally.heldBy(h.accountId) - base >= waiting - 64 * 1024 - 3 * 10, `${waiting} bytes wait for the client, ${tally.heldBy(h.accountId) - base} counted`);
    s.ws.resume();
    await waitFor(() => s.received.filter((e) => e.type === 'conversation.item.done').length === 3);
    await waitFor(() => tally.heldBy(h.accountId) === base);
  } finally {
    restore();
    await close();
  }
});

/**
 * A client that stops reading while a response runs and the provider sends 24 MiB behind it in 4 KiB messages (none
 * counts as a message still arriving), the account's share having `room` left: what waits for the client soon cannot
 * be held, and the session must end as a client-side busy end, its response cancelled and billed from its response.done.
 */
async function slowClientEnds(room: number, responseId: string): Promise<void> {
  const tally = PROCESS_HELD_ANSWERS;
  const { h, fake, close } = await setup();
  const base = tally.heldBy(h.accountId);
  let ownTaken = 0;
  try {
    ownTaken = tally.accountLimit - base - room;
    assert.equal(tally.take(h.accountId, ownTaken), 'taken');
    const s = await rawSession(h, (await h.accessKey()).token);
    s.ws.pause();
    s.ws.send(JSON.stringify({ type: 'response.create', response: { instructions: 'trickle' } }));
    const [row] = await h.usage(s.requestId, 1);
    assert.ok(fake.received.some((e) => (e as { type?: string }).type === 'response.cancel' && (e as { response_id?: string }).response_id === responseId), 'the open response is cancelled');
    // Metered from the provider's response.done answering the cancel, not estimated on what was relayed.
    assert.deepEqual([row!.completion, row!.stopReason, Number(row!.usageEstimated), Number(row!.inputTokens), Number(row!.outputTokens)], ['succeeded', 'client_cancelled', 0, FAKE_CANCELLED_USAGE.input_tokens, FAKE_CANCELLED_USAGE.output_tokens]);
    s.ws.resume();
    assert.equal(await s.closed, 1013);
    const told = s.received.find((e) => e.type === 'error')?.error as { code: string; message: string };
    assert.equal(told.code, 'ERR_NGROK_AI_GATEWAY_REQUEST_CAPACITY_UNAVAILABLE');
    assert.match(told.message, /messages waiting for this session's client to read them could not be held: this account's messages and answers still arriving already hold as much as one account's may at once\./);
    await waitFor(() => tally.heldBy(h.accountId) === base + ownTaken);
    assert.match(await metricsNaming(h, 'gateway_busy'), /tollgate_realtime_sessions_ended_total\{provider="openai",model="gpt-realtime",outcome="gateway_busy"\} 1\b/);
  } finally {
    tally.give(h.accountId, ownTaken);
    await close();
  }
}

test('messages waiting for a client that does not read that cannot be held end the session as a client-side busy end — 503 CAPACITY_UNAVAILABLE naming them, 1013, outcome gateway_busy — its open response cancelled and billed on the provider\'s response.done', async () => {
  // 512 KiB of room: full long before 4 MiB wait, the provider never paused by the relay.
  await slowClientEnds(512 * 1024, 'resp_1');
});

test('messages waiting for a client that does not read that cannot be held once the relay paused the provider (4 MiB waiting): the provider is read again, for the cancelled response\'s response.done', async () => {
  // Room for the message that crosses 4 MiB (one 4 KiB message and its frame, at most) and not for the ones after it
  // in the same socket read, which ws still delivers once the relay has paused the provider for it.
  await slowClientEnds(4 * 1024 * 1024 + 4 * 1024 + 512 - 64 * 1024, 'resp_1');
});

test('a session that reaches its duration limit while the relay has paused the provider for a client not reading still bills its open response on the provider\'s response.done', async () => {
  const { h, fake, close } = await setup({ TOLLGATE_REALTIME_MAX_DURATION_MS: '2500' });
  try {
    const s = await rawSession(h, (await h.accessKey()).token);
    s.ws.pause();
    // 24 MiB behind the open response: past 4 MiB waiting for the client, the relay stops reading the provider.
    s.ws.send(JSON.stringify({ type: 'response.create', response: { instructions: 'trickle' } }));
    const [row] = await h.usage(s.requestId, 1);
    assert.ok(fake.received.some((e) => (e as { type?: string }).type === 'response.cancel'), 'the open response is cancelled');
    assert.deepEqual([row!.completion, Number(row!.usageEstimated), Number(row!.inputTokens), Number(row!.outputTokens)], ['succeeded', 0, FAKE_CANCELLED_USAGE.input_tokens, FAKE_CANCELLED_USAGE.output_tokens]);
    s.ws.resume();
    await s.closed;
  } finally {
    await close();
  }
});

test('after a receiver error of ws (a reserved opcode), what it still reads only to discard is not counted in the held answers, either way: the client\'s and the provider\'s', async () => {
  const { h, fake, close } = await setup();
  const { sides, restore } = gatewaySides();
  // The gateway's end of its provider socket (ws's client side, as the test's own), to see how much of it was read.
  const proto = WebSocket.prototype as unknown as { setSocket(this: WebSocket, ...args: unknown[]): void };
  const setSocket = proto.setSocket;
  const dialed: WebSocket[] = [];
  proto.setSocket = function (this: WebSocket, ...args: unknown[]) {
    if (!(this as unknown as { _isServer: boolean })._isServer) dialed.push(this);
    setSocket.apply(this, args);
  };
  const tally = PROCESS_HELD_ANSWERS;
  const bytesRead = (ws: WebSocket) => (ws as unknown as { _socket: import('node:net').Socket })._socket.bytesRead;
  try {
    const { token } = await h.accessKey();
    const base = tally.heldBy(h.accountId);
    // The client's: a frame of opcode 3 (masked, empty), then 2 MiB. The client reads nothing more, so it never
    // answers ws's 1002 close and the socket stays open while the gateway reads the rest.
    const s = await rawSession(h, token);
    const side = sides.at(-1)!;
    const before = bytesRead(side);
    s.ws.pause();
    (s.ws as unknown as { _socket: import('node:net').Socket })._socket.write(Buffer.concat([Buffer.from([0x83, 0x80, 0, 0, 0, 0]), Buffer.alloc(2 * 1024 * 1024, 0x20)]));
    await waitFor(() => bytesRead(side) - before >= 2 * 1024 * 1024 + 6);
    assert.equal(tally.heldBy(h.accountId), base, 'the client\'s discarded bytes are not counted');
    s.ws.terminate();
    await s.closed;

    // The provider's, likewise (the fake reads nothing more once it sent them: the socket stays open).
    const p = await rawSession(h, token);
    const upstream = dialed.filter((ws) => ws.url.startsWith(fake.baseUrl.replace('http', 'ws'))).at(-1)!;
    const start = bytesRead(upstream);
    p.ws.send(JSON.stringify({ type: 'response.create', response: { instructions: 'garbage' } }));
    await waitFor(() => bytesRead(upstream) - start >= 2 * 1024 * 1024);
    assert.equal(tally.heldBy(h.accountId), base, 'the provider\'s discarded bytes are not counted');
    p.ws.terminate();
    await p.closed;
    await waitFor(() => tally.heldBy(h.accountId) === base);
  } finally {
    proto.setSocket = setSocket;
    restore();
    await close();
  }
});

test('a client socket paused because its message could not be held stays paused: neither a relay\'s drain nor a create noted meanwhile resumes it, so ws takes in none of the rest of that message, counted nowhere, while the session closes', async () => {
  const { h, fake, close } = await setup();
  const { sides, restore } = gatewaySides();
  const tally = PROCESS_HELD_ANSWERS;
  const begin = UsageJournal.prototype.begin;
  let ownTaken = 0;
  try {
    const { token } = await h.accessKey();
    const s = await rawSession(h, token);
    const side = sides.at(-1)!;
    const raw = (s.ws as unknown as { _socket: import('node:net').Socket })._socket;
    // Over the 4 MiB high-water mark, so relaying it pauses the client socket until the provider has it. Its first
    // fragment is read whole (the ping's answer says so); its last ends in the same read as the create behind it.
    const text = JSON.stringify({ type: 'conversation.item.create', event_id: 'evt_big', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'a'.repeat(5 * 1024 * 1024) }] } });
    s.ws.send(text.slice(0, -10), { fin: false });
    s.ws.ping();
    await once(s.ws, 'pong');
    // The create's usage row is noted when the test says: the client socket is paused meanwhile (#ask).
    let noted!: () => void;
    const noting = new Promise<void>((resolve) => { noted = resolve; });
    UsageJournal.prototype.begin = function (this: UsageJournal, attempt) {
      return noting.then(() => begin.call(this, attempt));
    };
    raw.cork();
    s.ws.send(text.slice(-10), { fin: true });
    s.ws.send(JSON.stringify({ type: 'response.create', event_id: 'evt_noted_late', response: { instructions: 'hold' } }));
    raw.uncork();
    // The account's share has 1 MiB of room left: 2 MiB of the next message, read once the big one's relay drains
    // and resumes the socket, cannot be held.
    await waitFor(() => fake.received.some((e) => (e as { event_id?: string }).event_id === 'evt_big'));
    ownTaken = tally.accountLimit - tally.heldBy(h.accountId) - 1024 * 1024;
    assert.equal(tally.take(h.accountId, ownTaken), 'taken');
    partialFrame(s.ws, 8 * 1024 * 1024, Buffer.alloc(2 * 1024 * 1024, 0x20));
    await waitFor(() => s.received.some((e) => e.type === 'error'));
    assert.equal((s.received.find((e) => e.type === 'error')?.error as { code: string }).code, 'ERR_NGROK_AI_GATEWAY_REQUEST_CAPACITY_UNAVAILABLE');
    assert.ok(side.isPaused, 'paused when the message could not be held');
    // The create's row noted now: the session ended meanwhile, so it is recorded not sent, and its wait is over.
    noted();
    const [row] = await h.usage(s.requestId, 1);
    assert.deepEqual([row!.completion, row!.stopReason], ['failed', 'not_sent']);
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(side.isPaused, 'still paused once the create behind which it waited is done with');
    assert.equal(await s.closed, 1013);
  } finally {
    UsageJournal.prototype.begin = begin;
    restore();
    tally.give(h.accountId, ownTaken);
    await close();
  }
});

test('a response.create whose usage row cannot be noted (the journal refuses it) is never sent: the client is told at once naming its event, its row recorded failed at no cost, and its hold given back then, not at the session\'s end; logged and counted as the journal\'s refusal, not as a credit check\'s', async () => {
  const ledger = catchLedger();
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>); } });
  const { h, fake, close } = await setup({ TOLLGATE_BILLING: 'on' }, { logger });
  const begin = UsageJournal.prototype.begin;
  try {
    await grantCredits(h.running.store.db, h.accountId, 9, { category: 'promotional' });
    const { rt, requestId, errors } = await funded(h);
    UsageJournal.prototype.begin = () => Promise.reject(new Error('journal unwritable'));
    rt.send({ type: 'response.create', event_id: 'evt_unnoted', response: { instructions: 'answer' } });
    await waitFor(() => errors.length === 1);
    assert.deepEqual([errors[0]!.code, errors[0]!.event_id], ['ERR_NGROK_27009', 'evt_unnoted']);
    assert.equal(ledger.held(h.accountId), 0n);
    assert.equal(fake.received.filter((e) => (e as { type?: string }).type === 'response.create').length, 0);
    UsageJournal.prototype.begin = begin;
    const [row] = await h.usage(await requestId, 1);
    assert.deepEqual([row!.completion, BigInt(row!.costPico)], ['failed', 0n]);
    const logged = lines.filter((l) => l.level === 50).map((l) => [l.msg, l.err]);
    assert.deepEqual(logged, [['realtime response.create not noted in the usage journal', 'journal unwritable']]);
    const metrics = await (await fetch(`${h.apiUrl}/metrics`)).text();
    assert.match(metrics, /tollgate_realtime_events_refused_total\{provider="openai",code="ERR_NGROK_27009"\} 1\b/);
    assert.match(metrics, /# HELP tollgate_realtime_events_refused_total [^\n]*ERR_NGROK_27009 the gateway failed \(a response asked for whose usage row the journal refused/);
    rt.close();
  } finally {
    UsageJournal.prototype.begin = begin;
    ledger.restore();
    await close();
  }
});

test('an account that cannot pay is refused before the upgrade, as on HTTP requests', async () => {
  const { h, fake, close } = await setup({ TOLLGATE_BILLING: 'on' });
  try {
    const { token } = await h.accessKey();
    assert.deepEqual(errorCode(await rawUpgrade(h, '?model=gpt-realtime', { token })), [403, 'ERR_NGROK_4026']);
    assert.equal(fake.handshakes.length, 0);
  } finally {
    await close();
  }
});

test('a client leaving mid-response: the response is cancelled and metered with what the provider reports; one that never reports is recorded as failed', async () => {
  const { h, fake, close } = await setup();
  try {
    const { token } = await h.accessKey();
    const { rt, requestId } = await responding(h, token, 'hold');
    rt.close();
    const [row] = await h.usage(await requestId, 1);
    assert.equal(row!.stopReason, 'client_cancelled');
    assert.deepEqual([Number(row!.inputTokens), Number(row!.outputTokens)], [100, 10]);
    assert.ok(BigInt(row!.costPico) > 0n);
    assert.ok(fake.received.some((e) => (e as { type?: string }).type === 'response.cancel'));

    const second = await responding(h, token, 'hang');
    second.rt.close();
    const [failed] = await h.usage(await second.requestId, 1);
    assert.equal(failed!.completion, 'stream_failed');
    assert.equal(Number(failed!.isError), 1);
  } finally {
    await close();
  }
});

test('the provider closing its socket mid-response (no response.done ever comes): the response is billed as estimated on what the client was sent of it, its transcript as text tokens and its audio at 20 tokens a second', async () => {
  const { h, close } = await setup();
  try {
    const { token } = await h.accessKey();
    const { rt, requestId } = realtime(h, token, 'gpt-realtime');
    await next(rt, 'session.created');
    let transcript = '';
    rt.on('event', (e) => { if (e.type === 'response.output_audio_transcript.delta') transcript += e.delta; });
    const code = closed(rt);
    rt.send({ type: 'response.create', response: { instructions: 'drop' } });
    assert.equal(await code, 1011, 'the provider\'s close is passed on');
    assert.equal(transcript, FAKE_DROPPED_TRANSCRIPT, 'the client was sent the transcript');
    const [row] = await h.usage(await requestId, 1);
    // Before, such a response was recorded at $0 although OpenAI bills what it generated.
    assert.equal(row!.completion, 'stream_failed');
    assert.deepEqual([Number(row!.usageEstimated), Number(row!.inputTokens), Number(row!.outputTokens)], [1, 0, 0], 'an estimate, kept apart from provider counts');
    // One second of 24 kHz 16-bit PCM and the 16 bytes before it: 20 audio tokens and one begun.
    const audio = Math.ceil((Buffer.from(FAKE_AUDIO, 'base64').length + 48_000) / 2400);
    assert.equal(audio, 21);
    const text = await countTextTokens(FAKE_DROPPED_TRANSCRIPT);
    assert.ok(text > 0);
    assert.equal(Number(row!.outputTokensEstimate), text + audio);
    // gpt-realtime's output: text at $16, audio at $64 per million tokens; no fee on a failed response.
    assert.equal(BigInt(row!.outputCostPico), BigInt(text) * 16_000_000n + BigInt(audio) * 64_000_000n);
    assert.equal(BigInt(row!.costPico), BigInt(row!.outputCostPico));
    // The output format decides the audio's length per byte: G.711 is a byte a sample at 8 kHz.
    assert.deepEqual([audioByteRate({ audio: { output: { format: { type: 'audio/pcmu' } } } }), audioByteRate({ output_audio_format: 'g711_alaw' }), audioByteRate({ output_audio_format: 'pcm16' }), audioByteRate({ audio: { output: { format: { type: 'audio/opus' } } } }), audioByteRate({})], [8000, 8000, 48_000, null, undefined]);
  } finally {
    await close();
  }
});

test('a client leaving with an out-of-band response (conversation "none") open beside the conversation\'s: each is cancelled by its id, and each metered with what the provider reports', async () => {
  const { h, fake, close } = await setup();
  try {
    const { token } = await h.accessKey();
    const { rt, requestId } = realtime(h, token, 'gpt-realtime');
    await next(rt, 'session.created');
    let created = next(rt, 'response.created');
    rt.send({ type: 'response.create', response: { instructions: 'hold' } });
    await created;
    created = next(rt, 'response.created');
    rt.send({ type: 'response.create', response: { conversation: 'none', instructions: 'hold' } });
    await created;
    rt.close();
    const rows = await h.usage(await requestId, 2);
    // Before, one bare response.cancel stopped the conversation's response only: the out-of-band one ran on at the
    // provider's bill and was recorded failed, with nothing metered.
    assert.deepEqual(rows.map((r) => [r.completion, r.stopReason, Number(r.inputTokens), Number(r.outputTokens)]), [
      ['succeeded', 'client_cancelled', 100, 10], ['succeeded', 'client_cancelled', 100, 10],
    ]);
    const cancels = fake.received.filter((e) => (e as { type?: string }).type === 'response.cancel').map((e) => (e as { response_id?: string }).response_id).sort();
    assert.deepEqual(cancels, ['resp_1', 'resp_2']);
  } finally {
    await close();
  }
});

test('a session the gateway ended (the idle limit) relays nothing more its client sends while it closes: no response is started past the limit', async () => {
  const { h, fake, close } = await setup({ TOLLGATE_REALTIME_IDLE_TIMEOUT_MS: '300' });
  try {
    const { token } = await h.accessKey();
    const { rt, requestId } = await responding(h, token, 'hang');
    const code = closed(rt);
    // Sent the moment the client is told, before its socket has seen the close.
    rt.on('error', () => rt.send({ type: 'response.create', response: { instructions: 'after the limit' } }));
    assert.equal(await code, 1008);
    // The response open at the limit is cancelled and, never reporting, recorded failed once the grace is over.
    const [row] = await h.usage(await requestId, 1);
    assert.equal(row!.completion, 'stream_failed');
    const creates = fake.received.filter((e) => (e as { type?: string }).type === 'response.create');
    assert.equal(creates.length, 1, 'only the response started before the limit reached the provider');
  } finally {
    await close();
  }
});

test('gateway shutdown: an open session is told and closed at the deadline, and its response in progress is recorded before stop() returns', async () => {
  const fake = await startFakeRealtime();
  const h = await startHarness('sqlite', { TOLLGATE_PROVIDER_OPENAI_BASE_URL: fake.baseUrl, TOLLGATE_SHUTDOWN_GRACE_MS: '300' });
  let stopped = false;
  try {
    const { token } = await h.accessKey();
    const { rt, requestId } = await responding(h, token, 'hold');
    const error = told(rt);
    const code = closed(rt);
    stopped = true;
    await h.running.stop();
    assert.equal((await error).code, 'ERR_NGROK_AI_GATEWAY_REQUEST_CAPACITY_UNAVAILABLE');
    assert.equal(await code, 1012);
    const id = await requestId;
    const rows = (await storedUsage(h)).filter((r) => r.requestId === id);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.stopReason, 'client_cancelled');
  } finally {
    if (!stopped) await h.running.stop();
    await h.fake.close();
    await h.database.drop();
    await fake.close();
  }
});

test('a key under an enforcing Firewall policy is refused a realtime session (nothing in it would be screened); an audit policy lets it through', async () => {
  const { h, close } = await setup();
  try {
    const rules = [{ name: 'No shell', tier: 'hardDeny', type: 'toolNames', phase: 'response', toolNames: ['shell'] }];
    const enforce = await h.api<{ id: string }>('POST', '/firewall-policies', { name: 'Agent guard', rules });
    const audit = await h.api<{ id: string }>('POST', '/firewall-policies', { name: 'Dry run', mode: 'audit', rules });
    const guarded = await h.accessKey(await h.configuration({ name: 'guarded', firewallPolicyId: enforce.id }));
    const watched = await h.accessKey(await h.configuration({ name: 'watched', firewallPolicyId: audit.id }));
    assert.deepEqual(errorCode(await rawUpgrade(h, '?model=gpt-realtime', { token: guarded.token })), [400, 'ERR_NGROK_27228']);
    const open = await rawUpgrade(h, '?model=gpt-realtime', { token: watched.token });
    assert.ok('socket' in open, 'the audit policy lets the session open');
    open.socket.close();
  } finally {
    await close();
  }
});

/** A request written on a raw connection: what the gateway answers, '' when it closes without an answer. */
function rawRequest(h: Harness, text: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(Number(new URL(h.gatewayUrl).port), '127.0.0.1', () => socket.write(text));
    let answer = '';
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
      // One answer is enough: the connection may be kept alive.
      if (answer.includes('\r\n\r\n')) socket.destroy();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => resolve(answer));
  });
}

test('an upgrade to a target node:http cannot parse as a URL, a plain GET /v1/realtime and an upgrade to another path are ordinary requests: answered, and the gateway keeps serving', async () => {
  const { h, close } = await setup();
  try {
    const upgrade = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
    for (const target of ['//', 'http://[/v1/realtime?model=gpt-realtime']) {
      assert.match(await rawRequest(h, `GET ${target} HTTP/1.1\r\nHost: gw\r\n${upgrade}\r\n`), /^HTTP\/1\.1 4\d\d /, target);
    }
    assert.match(await rawRequest(h, 'GET /v1/realtime?model=gpt-realtime HTTP/1.1\r\nHost: gw\r\n\r\n'), /^HTTP\/1\.1 4\d\d /);
    assert.match(await rawRequest(h, `GET /v1/models HTTP/1.1\r\nHost: gw\r\n${upgrade}\r\n`), /^HTTP\/1\.1 401 /);
    const { token } = await h.accessKey();
    const taken = await rawUpgrade(h, '?model=gpt-realtime', { token });
    assert.ok('socket' in taken, 'a realtime session still opens');
    taken.socket.close();
  } finally {
    await close();
  }
});

test('a malformed upgrade (its key, version or subprotocol list; HTTP/1.0; two models) is refused 400 in the OpenAI error shape before any provider session opens, and the gateway keeps serving', async () => {
  const { h, fake, close } = await setup();
  try {
    const { token } = await h.accessKey();
    const port = Number(new URL(h.gatewayUrl).port);
    /** The whole answer: a refusal closes the connection. */
    const answer = (text: string) => new Promise<{ status: number; body: { error?: { type: string; code: string; message: string } } }>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(text));
      let got = '';
      socket.on('data', (chunk: Buffer) => {
        got += chunk.toString('utf8');
        // Taken (101): the session would stay open.
        if (got.startsWith('HTTP/1.1 101 ') && got.includes('\r\n\r\n')) socket.destroy();
      });
      socket.on('error', () => socket.destroy());
      socket.on('close', () => {
        const text = got.slice(got.indexOf('\r\n\r\n') + 4);
        let body = {};
        try { body = JSON.parse(text); } catch { /* not JSON: the assertions below name it */ }
        resolve({ status: Number(got.split(' ')[1]), body });
      });
    });
    const upgrade = (query: string, headers: Record<string, string | undefined>, version = '1.1') => {
      const all: Record<string, string | undefined> = { Host: 'gw', Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', Authorization: `Bearer ${token}`, ...headers };
      return `GET /v1/realtime${query} HTTP/${version}\r\n${Object.entries(all).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
    };
    const cases: [string, string, RegExp][] = [
      ['short key', upgrade('?model=gpt-realtime', { 'Sec-WebSocket-Key': 'short' }), /Sec-WebSocket-Key/],
      ['no key', upgrade('?model=gpt-realtime', { 'Sec-WebSocket-Key': undefined }), /Sec-WebSocket-Key/],
      ['version abc', upgrade('?model=gpt-realtime', { 'Sec-WebSocket-Version': 'abc' }), /Sec-WebSocket-Version/],
      ['empty subprotocols', upgrade('?model=gpt-realtime', { 'Sec-WebSocket-Protocol': 'realtime, , openai-insecure-api-key.' }), /Sec-WebSocket-Protocol/],
      ['a subprotocol twice', upgrade('?model=gpt-realtime', { 'Sec-WebSocket-Protocol': 'realtime, realtime' }), /Sec-WebSocket-Protocol/],
      ['HTTP/1.0', upgrade('?model=gpt-realtime', {}, '1.0'), /HTTP\/1\.1/],
      ['two models', upgrade('?model=gpt-realtime&model=gpt-realtime-mini', {}), /"model" query parameter is given more than once/],
      // A body would follow the 101 and be read as WebSocket frames: the client got a 101, then a 1002 close.
      ['a body', `${upgrade('?model=gpt-realtime', { 'Content-Length': '5' })}hello`, /without a body/],
      ['a chunked body', `${upgrade('?model=gpt-realtime', { 'Transfer-Encoding': 'chunked' })}5\r\nhello\r\n0\r\n\r\n`, /without a body/],
    ];
    for (const [name, text, why] of cases) {
      const { status, body } = await answer(text);
      assert.equal(status, 400, name);
      assert.deepEqual([body.error?.type, body.error?.code], ['invalid_request_error', 'ERR_NGROK_27228'], name);
      assert.match(body.error?.message ?? '', why, name);
    }
    assert.equal(fake.handshakes.length, 0, 'no provider session was opened for a doomed handshake');
    const taken = await rawUpgrade(h, '?model=gpt-realtime', { token });
    assert.ok('socket' in taken, 'a realtime session still opens');
    taken.socket.close();
  } finally {
    await close();
  }
});

test('a plain GET /v1/realtime (no WebSocket upgrade) is 426 Upgrade Required naming websocket, in the OpenAI error shape', async () => {
  const { h, close } = await setup();
  try {
    const { token } = await h.accessKey();
    const r = await fetch(`${h.gatewayUrl}/v1/realtime?model=gpt-realtime`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 426);
    assert.equal(r.headers.get('upgrade'), 'websocket');
    assert.match(r.headers.get('connection') ?? '', /upgrade/i);
    const body = await r.json() as { error: { code: string; type: string; message: string } };
    assert.equal(body.error.code, 'ERR_NGROK_27228');
    assert.equal(body.error.type, 'invalid_request_error');
    assert.match(body.error.message, /WebSocket/);
    assert.ok(r.headers.get('ngrok-aig-request-id'));
    // Any other method on the path is still no route.
    assert.equal((await fetch(`${h.gatewayUrl}/v1/realtime`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status, 404);
    // A client asking to close gets the connection closed after the 426, as after any answer.
    const { port, hostname } = new URL(h.gatewayUrl);
    const socket = connect(Number(port), hostname);
    socket.write(`GET /v1/realtime?model=gpt-realtime HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`);
    let raw = '';
    socket.setEncoding('utf8').on('data', (piece: string) => { raw += piece; });
    await once(socket, 'end');
    socket.destroy();
    assert.match(raw, /^HTTP\/1\.1 426 /);
    assert.match(raw, /\r\nconnection: upgrade, close\r\n/i);
  } finally {
    await close();
  }
});

test("a browser's openai-beta.realtime-v1 subprotocol reaches the provider as the openai-beta: realtime=v1 header; the subprotocol answered stays realtime", async () => {
  const { h, fake, close } = await setup();
  try {
    const { token } = await h.accessKey();
    const taken = await rawUpgrade(h, '?model=gpt-realtime', { protocols: ['realtime', `openai-insecure-api-key.${token}`, 'openai-beta.realtime-v1'] });
    assert.ok('socket' in taken);
    assert.equal(taken.socket.protocol, 'realtime');
    const [handshake] = fake.handshakes;
    assert.equal(handshake!.headers['openai-beta'], 'realtime=v1');
    assert.ok(!JSON.stringify(handshake!.headers).includes(token), 'the access key never goes upstream');
    taken.socket.close();
  } finally {
    await close();
  }
});

test('gateway shutdown with a provider handshake under way: the handshake is dropped at the deadline, the client refused (503), the attempt recorded', async () => {
  const fake = await startFakeRealtime();
  const h = await startHarness('sqlite', { TOLLGATE_PROVIDER_OPENAI_BASE_URL: fake.baseUrl, TOLLGATE_SHUTDOWN_GRACE_MS: '300' });
  let stopped = false;
  try {
    const silent = await h.providerKey('openai', 'sk-silent-1');
    const { token } = await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: silent }] }] }] } }));
    const refused = rawUpgrade(h, '?model=gpt-realtime', { token });
    await waitFor(() => fake.handshakes.length === 1);
    stopped = true;
    await h.running.stop();
    assert.deepEqual(errorCode(await refused), [503, 'ERR_NGROK_AI_GATEWAY_REQUEST_CAPACITY_UNAVAILABLE']);
    const rows = (await storedUsage(h)).filter((r) => r.providerKeyId === silent);
    assert.deepEqual(rows.map((r) => [r.retryAction, Number(r.isFinalAttempt)]), [['exhausted', 1]]);
  } finally {
    if (!stopped) await h.running.stop();
    await h.fake.close();
    await h.database.drop();
    await fake.close();
  }
});

/** `promise`, or a failure naming `what` after `ms`: a behaviour missing fails its test rather than hang it. */
function within<T>(promise: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** The usage events of a session recorded so far, `count` of them at least, in the order they were recorded. */
async function events(h: Harness, requestId: string, count: number): Promise<Awaited<ReturnType<Harness['usage']>>> {
  const rows = await h.usage(requestId, count);
  return rows.sort((a, b) => String(a.eventTime).localeCompare(String(b.eventTime)));
}

test('input audio transcription is metered from each transcription.completed at the transcription model\'s prices: tokens (text and audio apart, gpt-4o-transcribe-diarize too) or the audio\'s length, GA and beta session shapes', async () => {
  const { h, close } = await setup();
  try {
    const { token } = await h.accessKey();
    const { rt, requestId } = realtime(h, token, 'gpt-realtime');
    // A failed assertion leaves the session to the gateway's shutdown, whose error event is no failure of this test.
    rt.on('error', () => undefined);
    await next(rt, 'session.created');
    const transcribe = async (transcription: { model: string }) => {
      const updated = next(rt, 'session.updated');
      rt.send({ type: 'session.update', session: { type: 'realtime', audio: { input: { transcription } } } });
      await updated;
      const completed = next<{ usage: unknown }>(rt, 'conversation.item.input_audio_transcription.completed');
      rt.send({ type: 'input_audio_buffer.append', audio: FAKE_AUDIO });
      rt.send({ type: 'input_audio_buffer.commit' });
      return (await completed).usage;
    };
    assert.deepEqual(await transcribe({ model: 'gpt-4o-transcribe' }), FAKE_TRANSCRIPTION_USAGE);
    assert.deepEqual(await transcribe({ model: 'whisper-1' }), { type: 'duration', seconds: FAKE_TRANSCRIPTION_SECONDS });
    assert.deepEqual(await transcribe({ model: 'gpt-4o-transcribe-diarize' }), FAKE_TRANSCRIPTION_USAGE);
    const [tokens, duration, diarized] = await events(h, await requestId, 3);
    assert.deepEqual([tokens!.model, tokens!.completion, tokens!.keySource], ['gpt-4o-transcribe', 'succeeded', 'ngrok']);
    assert.deepEqual([Number(tokens!.inputTokens), Number(tokens!.outputTokens)], [1000, 50]);
    // gpt-4o-transcribe: text in $2.50, audio in $6, text out $10 per million.
    assert.equal(BigInt(tokens!.inputCostPico), 200n * 2_500_000n + 800n * 6_000_000n);
    assert.equal(BigInt(tokens!.outputCostPico), 50n * 10_000_000n);
    assert.equal(BigInt(tokens!.costPico) - BigInt(tokens!.feePico), 5_800_000_000n);
    // whisper-1: $0.006 a minute, 2.5004 s of audio — priced to the microsecond (rounded to the millisecond it was
    // 2.5 s, 40,000 pico-USD less than reported).
    assert.equal(duration!.model, 'whisper-1');
    assert.deepEqual([Number(duration!.inputTokens), Number(duration!.outputTokens), BigInt(duration!.feePico)], [0, 0, 0n]);
    assert.equal(BigInt(duration!.costPico), 250_040_000n);
    assert.equal(BigInt(duration!.inputCostPico), 250_040_000n);
    // gpt-4o-transcribe-diarize: gpt-4o-transcribe's prices.
    assert.deepEqual([diarized!.model, Number(diarized!.inputTokens), Number(diarized!.outputTokens)], ['gpt-4o-transcribe-diarize', 1000, 50]);
    assert.equal(BigInt(diarized!.inputCostPico), 200n * 2_500_000n + 800n * 6_000_000n);
    assert.equal(BigInt(diarized!.outputCostPico), 50n * 10_000_000n);
    assert.equal(BigInt(diarized!.costPico) - BigInt(diarized!.feePico), 5_800_000_000n);
    rt.close();

    // The beta protocol's `input_audio_transcription`; a per-minute price that does not divide by the millisecond is
    // rounded up to the pico-dollar.
    const beta = realtime(h, token, 'gpt-realtime', { 'openai-beta': 'realtime=v1' });
    await next(beta.rt, 'session.created');
    const updated = next(beta.rt, 'session.updated');
    (beta.rt as unknown as { send(e: unknown): void }).send({ type: 'session.update', session: { input_audio_transcription: { model: 'gpt-realtime-whisper' } } });
    await updated;
    const completed = next(beta.rt, 'conversation.item.input_audio_transcription.completed');
    beta.rt.send({ type: 'input_audio_buffer.commit' });
    await completed;
    const [whisper] = await events(h, await beta.requestId, 1);
    assert.equal(whisper!.model, 'gpt-realtime-whisper');
    // $0.017 a minute: 2,500,400 µs × 17,000,000,000 pico-USD / 60,000,000 µs = 708,446,666⅔.
    assert.equal(BigInt(whisper!.costPico), 708_446_667n);
    beta.rt.close();
  } finally {
    await close();
  }
});

test('a commit the provider announces twice for one item (billing on): one transcription recorded and billed, and no hold left behind', async () => {
  const ledger = catchLedger();
  const { h, close } = await setup({ TOLLGATE_BILLING: 'on' });
  try {
    const { rt, requestId } = await funded(h);
    const updated = next(rt, 'session.updated');
    rt.send({ type: 'session.update', session: { type: 'realtime', audio: { input: { transcription: { model: 'gpt-4o-transcribe', prompt: 'twice' } } } } });
    await updated;
    rt.send({ type: 'input_audio_buffer.append', audio: FAKE_AUDIO });
    const completed = next(rt, 'conversation.item.input_audio_transcription.completed');
    rt.send({ type: 'input_audio_buffer.commit' });
    await within(completed, 'the transcription');
    rt.close();
    // The second announcement's hold replaced nothing: every hold of the session is given back or settled.
    await waitFor(() => ledger.held(h.accountId) === 0n);
    const rows = (await h.usage(await requestId, 1)).filter((r) => r.model === 'gpt-4o-transcribe');
    assert.equal(rows.filter((r) => r.completion === 'succeeded').length, 1, 'billed once');
  } finally {
    ledger.restore();
    await close();
  }
});

test('input audio transcription holds credit (billing on): the audio buffer holds the most its transcription can cost — its audio at the model\'s audio price, priced on the whole buffer rather than rounded append by append, its prompt and the model\'s output limit; a per-minute model its length — from the first append until the transcription is recorded, so a second session of the account at a small balance is refused its audio and its commit meanwhile; a clear, or the session ending, gives it back', async () => {
  const ledger = catchLedger();
  const { h, fake, close } = await setup({ TOLLGATE_BILLING: 'on' });
  try {
    const account = h.accountId;
    const held = () => ledger.held(account);
    const sent = (type: string) => fake.received.filter((e) => (e as { type?: string }).type === type).length;
    const transcribe = async (rt: OpenAIRealtimeWS, transcription: { model: string; prompt?: string }) => {
      const updated = next(rt, 'session.updated');
      rt.send({ type: 'session.update', session: { type: 'realtime', audio: { input: { transcription } } } });
      await updated;
    };
    // One cent, and two sessions of the account transcribing (opened while it can pay: an upgrade is refused too).
    const first = await funded(h);
    await transcribe(first.rt, { model: 'gpt-4o-transcribe', prompt: 'slow' });
    const { token } = await h.accessKey();
    const second = realtime(h, token, 'gpt-realtime');
    const errors: Funded['errors'] = [];
    second.rt.on('error', (e) => errors.push((e as unknown as { error: Funded['errors'][number] }).error));
    await next(second.rt, 'session.created');
    await transcribe(second.rt, { model: 'gpt-4o-transcribe' });
    // A second of 24 kHz PCM in three appends of a third of a second: 10 audio tokens (3⅓ an append: 12 if each were
    // rounded up), admitted though the buffer's own hold is past the cent.
    for (let i = 0; i < 3; i++) first.rt.send({ type: 'input_audio_buffer.append', audio: Buffer.alloc(16_000).toString('base64') });
    await waitFor(() => sent('input_audio_buffer.append') === 3);
    // gpt-4o-transcribe: the prompt ("slow", a token a byte) at $2.50, its 2,000 output tokens at $10, the audio at $6 per million.
    assert.equal(held(), 4n * 2_500_000n + 2000n * 10_000_000n + 10n * 6_000_000n);
    assert.equal(first.errors.length, 0);

    // The second session: the cent is left, but the first one's buffer may cost two.
    second.rt.send({ type: 'input_audio_buffer.append', audio: FAKE_AUDIO });
    second.rt.send({ type: 'input_audio_buffer.commit', event_id: 'evt_second_commit' });
    await waitFor(() => errors.length === 2);
    assert.deepEqual(errors.map((e) => [e.code, e.event_id]), [['ERR_NGROK_4026', null], ['ERR_NGROK_4026', 'evt_second_commit']]);
    assert.match(errors[0]!.message, /held by requests still in flight/);
    assert.deepEqual([sent('input_audio_buffer.append'), sent('input_audio_buffer.commit')], [3, 0], 'neither reached the provider');

    // The first buffer committed and transcribed: its hold is settled to what the transcription cost.
    const completed = next(first.rt, 'conversation.item.input_audio_transcription.completed');
    first.rt.send({ type: 'input_audio_buffer.commit' });
    await within(completed, 'the transcription');
    await waitFor(() => held() === 0n);

    // The second session's audio goes through now, holding its own bound (no prompt; 16 bytes, a token); a clear
    // gives it back.
    second.rt.send({ type: 'input_audio_buffer.append', audio: FAKE_AUDIO });
    await waitFor(() => sent('input_audio_buffer.append') === 4);
    assert.equal(held(), 2000n * 10_000_000n + 6_000_000n);
    const cleared = next(second.rt, 'input_audio_buffer.cleared');
    second.rt.send({ type: 'input_audio_buffer.clear' });
    await within(cleared, 'the clear');
    assert.equal(held(), 0n);

    // whisper-1, by the minute: two seconds of audio at $0.006 a minute; never committed, given back as the session ends.
    await transcribe(second.rt, { model: 'whisper-1' });
    second.rt.send({ type: 'input_audio_buffer.append', audio: Buffer.alloc(96_000).toString('base64') });
    await waitFor(() => sent('input_audio_buffer.append') === 5);
    assert.equal(held(), 200_000_000n);
    second.rt.close();
    await waitFor(() => held() === 0n);
    assert.equal(errors.length, 2);

    first.rt.close();
    await events(h, await first.requestId, 1);
    assert.equal(ledger.balance(account), 10_000_000_000n - await usageCostPico(h.running.store.db, account), 'the ledger\'s figure is the cent less what was billed');
  } finally {
    ledger.restore();
    await close();
  }
});

/** A dollar's session with billing on, the account's holds, the appends the provider received, and a second of audio. */
async function audioSession(): Promise<Setup & Funded & { ledger: ReturnType<typeof catchLedger>; held(): bigint; appends(): number; second: string }> {
  const ledger = catchLedger();
  const set = await setup({ TOLLGATE_BILLING: 'on' });
  await grantCredits(set.h.running.store.db, set.h.accountId, 99, { category: 'promotional' });
  const session = await funded(set.h);
  const appends = () => set.fake.received.filter((e) => (e as { type?: string }).type === 'input_audio_buffer.append').length;
  return { ...set, ...session, ledger, held: () => ledger.held(set.h.accountId), appends, second: Buffer.alloc(48_000).toString('base64') };
}

test('a transcription is held by the model that will run it: audio appended right behind the session.update turning transcription on is held at that model before the provider reports it, and audio appended while it was off is held once the provider commits it for transcription (server VAD)', async () => {
  const { h, fake, close, rt, requestId, ledger, held, appends, second } = await audioSession();
  try {
    // gpt-4o-mini-transcribe: its prompt a token a byte at $1.25, 2,000 output tokens at $5, audio at $3 per million.
    const mini = (prompt: string) => BigInt(prompt.length) * 1_250_000n + 2000n * 5_000_000n + 10n * 3_000_000n;
    rt.send({ type: 'session.update', session: { type: 'realtime', audio: { input: { transcription: { model: 'gpt-4o-mini-transcribe', prompt: 'hang' } } } } });
    rt.send({ type: 'input_audio_buffer.append', audio: second });
    await waitFor(() => appends() === 1);
    assert.equal(held(), mini('hang'));
    const cleared = next(rt, 'input_audio_buffer.cleared');
    rt.send({ type: 'input_audio_buffer.clear' });
    await within(cleared, 'the clear');
    assert.equal(held(), 0n);

    let updated = next(rt, 'session.updated');
    rt.socket.send(JSON.stringify({ type: 'session.update', session: { type: 'realtime', audio: { input: { transcription: null } } } }));
    await updated;
    rt.send({ type: 'input_audio_buffer.append', audio: second });
    await waitFor(() => appends() === 2);
    assert.equal(held(), 0n, 'no transcription, nothing held');
    updated = next(rt, 'session.updated');
    rt.send({ type: 'session.update', session: { type: 'realtime', audio: { input: { transcription: { model: 'gpt-4o-mini-transcribe', prompt: 'hang' } } } } });
    await updated;
    // The provider's detector commits the speech (and transcribes it, never to report here) and answers it.
    const done = next(rt, 'response.done');
    fake.speechStopped();
    await within(done, 'the provider\'s response');
    await waitFor(() => held() === mini('hang'));
    rt.close();
    await waitFor(() => held() === 0n);
    const rows = await events(h, await requestId, 2);
    assert.deepEqual(rows.map((r) => [r.model, r.completion]).sort(), [['gpt-4o-mini-transcribe', 'stream_failed'], ['gpt-realtime', 'succeeded']]);
  } finally {
    ledger.restore();
    await close();
  }
});

/** A session whose audio is committed for gpt-4o-transcribe, which the fake takes 300 ms to transcribe. */
async function transcribing(h: Harness): Promise<{ rt: OpenAIRealtimeWS; requestId: Promise<string> }> {
  const { token } = await h.accessKey();
  const session = realtime(h, token, 'gpt-realtime');
  session.rt.on('error', () => undefined);
  await next(session.rt, 'session.created');
  const updated = next(session.rt, 'session.updated');
  session.rt.send({ type: 'session.update', session: { type: 'realtime', audio: { input: { transcription: { model: 'gpt-4o-transcribe', prompt: 'slow' } } } } });
  await updated;
  const committed = next(session.rt, 'input_audio_buffer.committed');
  session.rt.send({ type: 'input_audio_buffer.append', audio: FAKE_AUDIO });
  session.rt.send({ type: 'input_audio_buffer.commit' });
  await committed;
  return session;
}

/** The one usage event of a gpt-4o-transcribe transcription of FAKE_TRANSCRIPTION_USAGE, priced as that model. */
async function assertTranscribed(h: Harness, requestId: string): Promise<void> {
  const [row] = await events(h, requestId, 1);
  assert.deepEqual([row!.model, row!.completion, Number(row!.inputTokens), Number(row!.outputTokens)], ['gpt-4o-transcribe', 'succeeded', 1000, 50]);
  assert.equal(BigInt(row!.costPico) - BigInt(row!.feePico), 5_800_000_000n);
}

test('a session.update asking for a transcription that the provider refuses no longer holds the audio buffer at that model: the buffer is held at what the session really has (nothing with transcription off), whether the update named its event_id or gave none (the gateway names it, and the client reads the refusal naming none)', async () => {
  const { close, rt, errors, ledger, held, appends, second } = await audioSession();
  try {
    const asks = [{ event_id: 'evt_upd' }, {}, { event_id: null }];
    for (const [i, named] of asks.entries()) {
      // Audio right behind the update is held at the model it asks for, before any answer could say otherwise.
      rt.socket.send(JSON.stringify({ type: 'session.update', ...named, session: { type: 'realtime', audio: { input: { transcription: { model: 'gpt-4o-mini-transcribe', prompt: 'refuse' } } } } }));
      rt.send({ type: 'input_audio_buffer.append', audio: second });
      await waitFor(() => errors.length === i + 1 && appends() === i + 1);
      assert.deepEqual([errors[i]!.code, errors[i]!.event_id], ['invalid_value', i === 0 ? 'evt_upd' : null]);
      await waitFor(() => held() === 0n);
    }
    // Transcription on for real: the buffer is held at it, and a refused ask for a dearer one falls back to it.
    const updated = next(rt, 'session.updated');
    rt.send({ type: 'session.update', session: { type: 'realtime', audio: { input: { transcription: { model: 'gpt-4o-mini-transcribe', prompt: 'hang' } } } } });
    await updated;
    rt.send({ type: 'input_audio_buffer.append', audio: second });
    await waitFor(() => appends() === asks.length + 1);
    const own = held();
    assert.ok(own > 0n);
    rt.socket.send(JSON.stringify({ type: 'session.update', session: { type: 'realtime', audio: { input: { transcription: { model: 'gpt-4o-transcribe', prompt: 'refuse' } } } } }));
    rt.send({ type: 'input_audio_buffer.append', audio: second });
    await waitFor(() => errors.length === asks.length + 1 && appends() === asks.length + 2);
    // Two seconds of audio at the session's own model: the first second's hold and one more second of audio at $3 per million.
    await waitFor(() => held() === own + 10n * 3_000_000n);
    rt.close();
  } finally {
    ledger.restore();
    await close();
  }
});

test('a transcription still under way when the client leaves is metered: the session waits for it as for an open response', async () => {
  const { h, close } = await setup();
  try {
    const { rt, requestId } = await transcribing(h);
    // The provider transcribes the committed audio (and bills it) after the client has gone.
    rt.close();
    await assertTranscribed(h, await requestId);
  } finally {
    await close();
  }
});

test('a client that asks for a response and leaves at once: the response the provider starts is cancelled as it is created, and metered', async () => {
  const { h, fake, close } = await setup();
  try {
    const { token } = await h.accessKey();
    const { rt, requestId } = realtime(h, token, 'gpt-realtime');
    await next(rt, 'session.created');
    // Gone before the provider's response.created: the provider starts the response (and bills it) all the same.
    rt.send({ type: 'response.create', response: { instructions: 'late hold' } });
    rt.close();
    const [row] = await events(h, await requestId, 1);
    assert.deepEqual([row!.model, row!.completion, Number(row!.inputTokens), Number(row!.outputTokens)], ['gpt-realtime', 'succeeded', 100, 10]);
    assert.ok(BigInt(row!.costPico) > 0n);
    assert.deepEqual(fake.received.map((e) => (e as { type: string; response_id?: string }).type === 'response.cancel' ? (e as { response_id?: string }).response_id : undefined).filter(Boolean), ['resp_1']);
  } finally {
    await close();
  }
});

test('a transcription under way when the provider hangs up is recorded, failed and at no cost: its begun row gets its event', async () => {
  const { h, fake, close } = await setup();
  try {
    const { rt, requestId } = await transcribing(h);
    rt.on('error', () => undefined);
    await fake.close();
    const [row] = await events(h, await requestId, 1);
    assert.deepEqual([row!.model, row!.completion, Number(row!.isError), BigInt(row!.costPico)], ['gpt-4o-transcribe', 'stream_failed', 1, 0n]);
  } finally {
    await close();
  }
});

test('a transcription is billed as the model in force when its audio was committed: transcription turned off before it reports changes nothing', async () => {
  const { h, close } = await setup();
  try {
    const { rt, requestId } = await transcribing(h);
    const off = next(rt, 'session.updated');
    rt.socket.send(JSON.stringify({ type: 'session.update', session: { type: 'realtime', audio: { input: { transcription: null } } } }));
    await off;
    await next(rt, 'conversation.item.input_audio_transcription.completed');
    await assertTranscribed(h, await requestId);
    rt.close();
  } finally {
    await close();
  }
});

test('an access key deleted, or whose configuration stops allowing the model, ends its open sessions: an error event naming why, a 1008 close, the open response cancelled and metered; an edit that still allows it leaves the session be', async () => {
  const { h, fake, close } = await setup();
  try {
    // Deleted.
    const doomed = await h.accessKey();
    const { rt, requestId } = await responding(h, doomed.token, 'hold');
    const error = told(rt);
    const code = closed(rt);
    await h.api('DELETE', `/access-keys/${doomed.id}`);
    const why = await within(error, 'error event after the key was deleted');
    assert.equal(why.code, 'ERR_NGROK_27201');
    assert.match(why.message, /invalid or has been deleted/);
    assert.equal(await code, 1008);
    const [row] = await h.usage(await requestId, 1);
    assert.equal(row!.stopReason, 'client_cancelled', 'the open response was cancelled and metered with what the provider reported');
    assert.ok(fake.received.some((e) => (e as { type?: string }).type === 'response.cancel'));

    // Its configuration narrowed past the session's model; a narrowing that still allows it, and a rename of the key,
    // leave the session open.
    const configuration = await h.configuration({ access: { models: { allow: ['openai:gpt-realtime', 'openai:gpt-realtime-mini'] } } });
    const scoped = await h.accessKey(configuration);
    const other = await h.accessKey();
    const session = realtime(h, scoped.token, 'gpt-realtime');
    const bystander = realtime(h, other.token, 'gpt-realtime');
    await Promise.all([next(session.rt, 'session.created'), next(bystander.rt, 'session.created')]);
    const errors: string[] = [];
    session.rt.on('error', (e) => errors.push((e as unknown as { error: { code: string } }).error.code));
    bystander.rt.on('error', (e) => errors.push((e as unknown as { error: { code: string } }).error.code));
    await h.api('PATCH', `/access-key-configurations/${configuration}`, { access: { models: { allow: ['openai:gpt-realtime'] } } });
    await h.api('PATCH', `/access-keys/${scoped.id}`, { name: 'renamed' });
    // Both changes applied (a request with the key sees them) and the session still open.
    const probe = await rawUpgrade(h, '?model=gpt-realtime', { token: scoped.token });
    assert.ok('socket' in probe);
    probe.socket.close();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(session.rt.socket.readyState, WebSocket.OPEN);
    assert.deepEqual(errors, []);
    const narrowed = told(session.rt);
    const narrowedCode = closed(session.rt);
    await h.api('PATCH', `/access-key-configurations/${configuration}`, { access: { models: { allow: ['openai:gpt-realtime-mini'] } } });
    assert.equal((await within(narrowed, 'error event after the configuration was narrowed')).code, 'ERR_NGROK_27232');
    assert.equal(await narrowedCode, 1008);
    assert.equal(bystander.rt.socket.readyState, WebSocket.OPEN, "another key's session is not touched");
    bystander.rt.close();
  } finally {
    await close();
  }
});

test("the account's provider key a session runs on deleted, or rotated, ends the session as a revoked access key does: an error event naming the key and why (never its secret), a 1008 close, the open response cancelled and metered; sessions on another key of the account and on the managed key run on", async () => {
  const { h, fake, close } = await setup();
  try {
    const first = await h.providerKey('openai', 'sk-own-first');
    const second = await h.providerKey('openai', 'sk-own-second');
    // No routing rule: the account's keys, oldest first. The second key's session is routed to it by a rule (which
    // keeps it from being deleted, not from being rotated); the managed key's by a rule naming it.
    const onFirst = await h.accessKey();
    const onSecond = await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: second }] }] }] } }));
    const onManaged = await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'ngrok' }] }] } }));
    const { rt, requestId } = await responding(h, onFirst.token, 'hold');
    const bystander = realtime(h, onSecond.token, 'gpt-realtime');
    const managed = realtime(h, onManaged.token, 'gpt-realtime');
    await Promise.all([next(bystander.rt, 'session.created'), next(managed.rt, 'session.created')]);
    assert.deepEqual(fake.handshakes.map((s) => s.headers.authorization), ['Bearer sk-own-first', 'Bearer sk-own-second', `Bearer ${MANAGED_OPENAI_KEY}`]);
    const errors: string[] = [];
    const managedErrors: string[] = [];
    bystander.rt.on('error', (e) => errors.push((e as unknown as { error: { code: string } }).error.code));
    managed.rt.on('error', (e) => managedErrors.push((e as unknown as { error: { code: string } }).error.code));

    const error = told(rt);
    const code = closed(rt);
    await h.api('DELETE', `/provider-keys/${first}`);
    const why = await within(error, 'error event after the provider key was deleted');
    assert.equal(why.code, 'ERR_NGROK_27202');
    assert.equal(why.message, `Provider key "${first}" for provider "openai", which this realtime session was opened with, was deleted, so the session ended. Open a new session to continue.`);
    assert.equal(await code, 1008);
    const [row] = await h.usage(await requestId, 1);
    assert.equal(row!.stopReason, 'client_cancelled', 'the open response was cancelled and metered with what the provider reported');
    assert.equal(row!.providerKeyId, first);
    assert.ok(fake.received.some((e) => (e as { type?: string }).type === 'response.cancel'));

    // The sessions on the other keys were checked against the same reload: a response of each still goes through,
    // after any error event the check would have sent them.
    for (const other of [bystander, managed]) {
      const done = next(other.rt, 'response.done');
      other.rt.send({ type: 'response.create' });
      await within(done, 'response.done of a session on another key');
    }
    assert.deepEqual([errors, managedErrors], [[], []]);

    // Rotated: the session still speaks with the old secret, which the account replaced.
    const rotatedError = told(bystander.rt);
    const rotatedCode = closed(bystander.rt);
    await h.api('POST', `/provider-keys/${second}/rotate`, { name: 'second, rotated', value: 'sk-own-second-new' });
    const rotated = await within(rotatedError, 'error event after the provider key was rotated');
    assert.equal(rotated.code, 'ERR_NGROK_27202');
    assert.match(rotated.message, new RegExp(`^Provider key "${second}" .* was rotated, so the session ended`));
    assert.ok(!rotated.message.includes('sk-own'), 'no secret, old or new, in the message');
    assert.equal(await rotatedCode, 1008);
    const done = next(managed.rt, 'response.done');
    managed.rt.send({ type: 'response.create' });
    await within(done, 'response.done of the managed key\'s session');
    assert.deepEqual(managedErrors, [], "the managed key's session runs on");
    managed.rt.close();
  } finally {
    await close();
  }
});

test("a session opened with a Playground token ends when the token expires, as at the duration limit; an access key's session runs on", async () => {
  const secret = randomBytes(32);
  const { h, close } = await setup({ TOLLGATE_SECRET_KEY: secret.toString('hex') });
  try {
    const key = await h.accessKey();
    // Minted so that three seconds of its 15 minutes are left.
    const { token, expiresAt } = new PlaygroundTokens(secret).mint(h.accountId, key.id, Date.now() - PLAYGROUND_TOKEN_TTL_MS + 3000);
    const { rt, requestId } = await responding(h, token, 'hold');
    const plain = realtime(h, key.token, 'gpt-realtime');
    plain.rt.on('error', () => undefined);
    await next(plain.rt, 'session.created');
    const error = told(rt);
    const code = closed(rt);
    const why = await within(error, 'error event when the token expired', 8000);
    assert.ok(Date.now() >= expiresAt - 50, 'not before the token expires');
    assert.equal(why.code, 'ERR_NGROK_AI_GATEWAY_REALTIME_SESSION_DURATION_LIMIT_EXCEEDED');
    assert.match(why.message, /reached its \d+(\.\d+)?s duration limit/);
    assert.equal(await code, 1008);
    const [row] = await h.usage(await requestId, 1);
    assert.equal(row!.stopReason, 'client_cancelled', 'its open response cancelled and metered');
    assert.equal(row!.accessKeyId, key.id);
    assert.equal(plain.rt.socket.readyState, WebSocket.OPEN);
    plain.rt.close();
  } finally {
    await close();
  }
});

test('on the managed key a session.update turning on transcription by a model the catalog cannot price is refused (27238), never reaching the provider, sent as a text frame or a binary one; the account\'s own key takes it', async () => {
  const { h, fake, close } = await setup();
  try {
    // A dated snapshot the catalog does not list: OpenAI would transcribe (and bill the operator) at its own price,
    // while the gateway, finding no price, recorded each transcription at no cost.
    const unpriced = { model: 'gpt-4o-transcribe-2025-03-20' };
    const updates = () => fake.received.filter((e) => (e as { type?: string }).type === 'session.update').length;
    const { token } = await h.accessKey();
    const managed = realtime(h, token, 'gpt-realtime');
    await next(managed.rt, 'session.created');
    const refusal = told(managed.rt);
    managed.rt.send({ type: 'session.update', event_id: 'evt_asr', session: { type: 'realtime', audio: { input: { transcription: unpriced } } } });
    const error = await within(refusal, 'error event refusing the transcription model');
    assert.equal(error.code, 'ERR_NGROK_27238');
    assert.match(error.message, /input audio transcription by "gpt-4o-transcribe-2025-03-20" for "gpt-realtime" on provider "openai"/);
    assert.equal((error as { event_id?: string }).event_id, 'evt_asr');
    // Sent as a binary frame, which the provider reads as the same event (as a binary response.create is refused for
    // credit): refused too, never relayed.
    const binaryRefusal = told(managed.rt);
    managed.rt.socket.send(Buffer.from(JSON.stringify({ type: 'session.update', event_id: 'evt_asr_binary', session: { type: 'realtime', audio: { input: { transcription: unpriced } } } })), { binary: true });
    const binaryError = await within(binaryRefusal, 'error event refusing the transcription model sent as a binary frame');
    assert.deepEqual([binaryError.code, (binaryError as { event_id?: string }).event_id], ['ERR_NGROK_27238', 'evt_asr_binary']);
    assert.ok(!fake.received.some((e) => Buffer.isBuffer(e)), 'the binary session.update did not reach the provider');
    // The beta protocol's spelling is refused the same way; a catalogued model and turning transcription off pass.
    (managed.rt as unknown as { send(e: unknown): void }).send({ type: 'session.update', session: { input_audio_transcription: unpriced } });
    const priced = next(managed.rt, 'session.updated');
    managed.rt.send({ type: 'session.update', session: { type: 'realtime', audio: { input: { transcription: { model: 'gpt-4o-transcribe' } } } } });
    await priced;
    const off = next(managed.rt, 'session.updated');
    managed.rt.socket.send(JSON.stringify({ type: 'session.update', session: { type: 'realtime', audio: { input: { transcription: null } } } }));
    await off;
    assert.equal(updates(), 2, 'only the priced model and the switch-off reached the provider');
    assert.equal(managed.rt.socket.readyState, WebSocket.OPEN, 'the session stays open');
    managed.rt.close();

    // The account's own key: its transcriptions are billed to that account by OpenAI, whatever the model.
    await h.providerKey('openai', 'sk-own-1');
    const own = realtime(h, (await h.accessKey()).token, 'gpt-realtime');
    await next(own.rt, 'session.created');
    const updated = next(own.rt, 'session.updated');
    own.rt.send({ type: 'session.update', session: { type: 'realtime', audio: { input: { transcription: unpriced } } } });
    await updated;
    own.rt.close();
  } finally {
    await close();
  }
});

test("the managed key's rate_limits.updated never reaches a tenant: they are the operator's limits and every account's use of them (another account's responses showed in its remaining); an account's own key's reach it", async () => {
  const { h, close } = await setup();
  try {
    const limitsOf = (rt: OpenAIRealtimeWS): { name: string; remaining: number }[][] => {
      const seen: { name: string; remaining: number }[][] = [];
      rt.on('event', (event) => { if ((event as { type: string }).type === 'rate_limits.updated') seen.push((event as unknown as { rate_limits: { name: string; remaining: number }[] }).rate_limits); });
      return seen;
    };
    const respond = async (rt: OpenAIRealtimeWS): Promise<void> => {
      const done = next(rt, 'response.done');
      rt.send({ type: 'response.create' });
      await within(done, 'response.done');
    };
    // Account A, on the managed key: three responses.
    const mine = realtime(h, (await h.accessKey()).token, 'gpt-realtime');
    const mineLimits = limitsOf(mine.rt);
    await next(mine.rt, 'session.created');
    for (let i = 0; i < 3; i++) await respond(mine.rt);
    mine.rt.close();
    // Account B, on the managed key too: told nothing of A's responses, nor of the operator's limits.
    const other = await createAccount(h.running.store.db, 'other-realtime');
    const asOther = async <T,>(path: string, body: unknown): Promise<T> => (await fetch(`${h.apiUrl}${path}`, {
      method: 'POST', headers: { authorization: `Bearer ${other.apiKey.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    })).json() as Promise<T>;
    const theirToken = (await asOther<{ token: string }>('/access-keys', { name: 'theirs' })).token;
    const theirs = realtime(h, theirToken, 'gpt-realtime');
    const theirLimits = limitsOf(theirs.rt);
    await next(theirs.rt, 'session.created');
    await respond(theirs.rt);
    theirs.rt.close();
    assert.deepEqual([mineLimits, theirLimits], [[], []], "no rate_limits.updated of the managed key's reached either account");

    // B's own key: its limits are B's business, passed on as the provider sent them.
    await asOther('/provider-keys', { providerId: 'openai', value: 'sk-own-other', name: 'own' });
    const own = realtime(h, theirToken, 'gpt-realtime');
    const ownLimits = limitsOf(own.rt);
    await next(own.rt, 'session.created');
    await respond(own.rt);
    own.rt.close();
    assert.deepEqual(ownLimits.map((l) => l.find((x) => x.name === 'requests')?.remaining), [FAKE_REQUESTS_PER_MINUTE - 1]);

    // An in-session limit refusal names the credential's organization and its use: not the operator's to a tenant.
    const refusal = async (token: string): Promise<string> => {
      const session = realtime(h, token, 'gpt-realtime');
      await next(session.rt, 'session.created');
      const error = told(session.rt);
      session.rt.send({ type: 'response.create', response: { instructions: 'rate-limited' } });
      const { message } = await within(error, 'error');
      session.rt.close();
      return message;
    };
    const managed = await refusal((await h.accessKey()).token);
    assert.equal(managed, "Rate limit reached for gpt-4o-mini-realtime on the gateway's managed key on requests per day (RPD): Please try again in 1m26.4s. Visit https://platform.openai.com/account/rate-limits to learn more.");
    assert.ok(!managed.includes(FAKE_ORGANIZATION));
    assert.match(await refusal(theirToken), new RegExp(`in organization ${FAKE_ORGANIZATION} on requests per day \\(RPD\\): Limit 1000, Used 1000, Requested 1\\.`), 'its own key: as OpenAI sent it');
  } finally {
    await close();
  }
});
