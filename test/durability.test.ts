// Usage durability and exact money with real processes (issue 5): `tollgate start` as a child in front of
// the fake provider, a bounded load (streamed and not, ~10 at a time), and faults — kill -9 mid-load and a
// restart on the same files; PostgreSQL stopped mid-load and started again; SIGTERM with answers in flight.
// Afterwards the store must hold one usage event per attempt that reached the upstream, none twice, and
// the balance must be grants − Σ recorded cost to the pico-USD. With TOLLGATE_BILLING=on, 100 concurrent
// requests on a small balance must not overspend by more than one reservation.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { sql } from 'kysely';
import { startFakeProvider, type FakeProvider } from './fake-upstream.ts';
import { FAKE_AUDIO, startFakeRealtime } from './helpers/fake-realtime.ts';
import { WebSocket } from 'ws';
import { Children, freePort, until, waitHealthy, type Child } from './helpers/processes.ts';
import { startPgCluster, type PgCluster } from './helpers/pg-cluster.ts';
import { openStore } from '../src/store/database.ts';
import { balancePico } from '../src/store/credits.ts';
import { createCatalog } from '../src/catalog/index.ts';
import { estimateRequestInputTokens } from '../src/domain/tokens.ts';
import { PICO_PER_CENT, picoToCentsFloor } from '../src/domain/money.ts';

const BOOTSTRAP = 'tgapi_durabilitytestkey00000000000000000000000';
const CONCURRENCY = 10;

interface Outcome { status: number; requestId: string | null; code?: string }

/** One gateway process (`tollgate start`) that can be killed and started again on the same files and ports. */
class GatewayNode {
  readonly children: Children;
  readonly env: Record<string, string>;
  readonly gatewayUrl: string;
  readonly apiUrl: string;
  child!: Child;
  constructor(children: Children, env: Record<string, string>, gatewayPort: number, apiPort: number) {
    this.children = children;
    this.env = { ...env, TOLLGATE_GATEWAY_PORT: String(gatewayPort), TOLLGATE_API_PORT: String(apiPort), TOLLGATE_BOOTSTRAP_API_KEY: BOOTSTRAP };
    this.gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    this.apiUrl = `http://127.0.0.1:${apiPort}`;
  }

  async start(): Promise<void> {
    this.child = this.children.spawn('tollgate start', ['start'], this.env);
    await waitHealthy(this.child, this.apiUrl);
    await waitHealthy(this.child, this.gatewayUrl);
  }

  async api<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(this.apiUrl + path, {
      method,
      headers: { authorization: `Bearer ${BOOTSTRAP}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
    return (text ? JSON.parse(text) : {}) as T;
  }

  accountId(): string {
    const created = /Created account (\S+) /.exec(this.child.output());
    assert.ok(created, this.child.output());
    return created[1]!;
  }

  /** SIGTERM (graceful: drains usage), or another stopping signal, and the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    this.child.proc.kill(signal);
    return this.child.exited;
  }
}

function body(i: number, model: string, stream: boolean): Record<string, unknown> {
  // Long enough that the input estimate exceeds what the fake reports (17), so reservations bound the cost.
  const text = `request number ${i}: please answer this short question about durable usage journals and exact money in a gateway`;
  return { model, max_tokens: 50, stream, messages: [{ role: 'user', content: text }] };
}

async function send(gatewayUrl: string, token: string, payload: Record<string, unknown>): Promise<Outcome> {
  try {
    const res = await fetch(`${gatewayUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(payload),
    });
    const text = await res.text();
    const requestId = res.headers.get('ngrok-aig-request-id');
    if (res.status !== 200) return { status: res.status, requestId, code: (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? '' };
    // A stream counts as answered only once complete (a kill may cut it).
    if (payload.stream === true && !text.includes('[DONE]')) return { status: 0, requestId };
    return { status: 200, requestId };
  } catch {
    return { status: 0, requestId: null };
  }
}

/**
 * Sends requests `from…to-1` with `concurrency` workers; `onDone(n)` runs after each answer, and workers take
 * no new request once `halt()` is true. Returns the outcomes by index and the next index not sent.
 */
async function drive(gatewayUrl: string, token: string, model: string, from: number, to: number, concurrency: number,
  onDone: (done: number) => void | Promise<void> = () => {}, halt: () => boolean = () => false): Promise<{ outcomes: Map<number, Outcome>; next: number }> {
  const outcomes = new Map<number, Outcome>();
  let next = from;
  let done = 0;
  const worker = async () => {
    while (next < to && !halt()) {
      const i = next++;
      outcomes.set(i, await send(gatewayUrl, token, body(i, model, i % 2 === 0)));
      await onDone(++done);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { outcomes, next };
}

/** A realtime session through the gateway on a raw WebSocket: send an event, or send one and wait for an event type. */
async function realtimeSession(gatewayUrl: string, token: string): Promise<{ send(event: unknown): void; call(event: unknown, type: string): Promise<void>; close(): void }> {
  const ws = new WebSocket(`${gatewayUrl.replace('http', 'ws')}/v1/realtime?model=gpt-realtime`, { headers: { authorization: `Bearer ${token}` } });
  ws.on('error', () => {});
  const seen: string[] = [];
  const waiting = new Map<string, () => void>();
  ws.on('message', (data) => {
    const type = (JSON.parse(String(data)) as { type: string }).type;
    seen.push(type);
    waiting.get(type)?.();
  });
  const reached = (type: string) => new Promise<void>((resolve) => {
    if (seen.includes(type)) resolve();
    else waiting.set(type, resolve);
  });
  await reached('session.created');
  const send = (event: unknown) => ws.send(JSON.stringify(event));
  return {
    send,
    async call(event, type) {
      seen.length = 0;
      const answered = reached(type);
      send(event);
      await answered;
    },
    close: () => ws.close(),
  };
}

interface StoreFacts {
  events: { id: string; requestId: string; attemptNumber: number; completion: string; statusCode: number; costPico: bigint }[];
  costPico: bigint;
  grantsPico: bigint;
  balancePico: bigint;
}

async function storeFacts(url: string, accountId: string): Promise<StoreFacts> {
  const store = await openStore(url, { migrate: false });
  try {
    const rows = await store.db.selectFrom('usageEvents').select(['id', 'requestId', 'attemptNumber', 'completion', 'statusCode', 'costPico']).where('accountId', '=', accountId).execute();
    const sum = await store.db.selectFrom('usageEvents').select(sql<string | null>`cast(sum(cost_pico) as text)`.as('total')).where('accountId', '=', accountId).executeTakeFirstOrThrow();
    const grants = await store.db.selectFrom('creditTransactions').select(sql<string | null>`cast(sum(amount_cents) as text)`.as('cents')).where('accountId', '=', accountId).executeTakeFirstOrThrow();
    return {
      events: rows.map((r) => ({ id: r.id, requestId: r.requestId, attemptNumber: Number(r.attemptNumber), completion: r.completion, statusCode: Number(r.statusCode), costPico: BigInt(r.costPico) })),
      costPico: BigInt(sum.total ?? '0'),
      grantsPico: BigInt(grants.cents ?? '0') * PICO_PER_CENT,
      balancePico: await balancePico(store.db, accountId),
    };
  } finally {
    await store.close();
  }
}

/** Waits until the store holds at least `count` events of the account (the journal shipped). */
async function shipped(url: string, accountId: string, count: number, limitMs = 20_000): Promise<void> {
  await until(limitMs, async () => (await storeFacts(url, accountId)).events.length >= count, `${count} usage events in the store`);
}

/** No event twice, exactly one per upstream request, and the money adds up to the pico-USD. */
function assertExact(facts: StoreFacts, upstream: number, answered: readonly Outcome[], options: { inFlightAtCrash?: number } = {}): void {
  const ids = new Set(facts.events.map((e) => e.id));
  assert.equal(ids.size, facts.events.length, 'no event id twice');
  const attempts = new Set(facts.events.map((e) => `${e.requestId}#${e.attemptNumber}`));
  assert.equal(attempts.size, facts.events.length, 'no attempt counted twice');
  const orphans = facts.events.filter((e) => e.completion === 'unknown');
  const finished = facts.events.length - orphans.length;
  const slack = options.inFlightAtCrash ?? 0;
  // Every request the upstream received has an event; beyond that only attempts begun in the instant of a
  // crash, before their bytes left (completion unknown, cost 0), can be extra.
  assert.ok(facts.events.length >= upstream, `${facts.events.length} events for ${upstream} upstream requests`);
  assert.ok(facts.events.length - upstream <= slack, `${facts.events.length - upstream} events without an upstream request (allowed ${slack})`);
  assert.ok(finished <= upstream, 'a finished event per upstream request at most');
  for (const e of orphans) assert.equal(e.costPico, 0n, 'an attempt cut by a crash is not charged');
  const byRequest = new Map(facts.events.map((e) => [e.requestId, e]));
  for (const o of answered) {
    if (o.status !== 200) continue;
    const e = byRequest.get(o.requestId!);
    assert.ok(e, `answered request ${o.requestId} has its event`);
    // After a crash an answered request may not have been metered yet: it is then a recovered attempt.
    if (slack === 0) assert.equal(e.completion, 'succeeded');
  }
  assert.equal(facts.costPico, facts.events.reduce((sum, e) => sum + e.costPico, 0n));
  assert.equal(facts.balancePico, facts.grantsPico - facts.costPico, 'balance = grants − Σ recorded cost, exactly');
}

async function balanceCents(node: GatewayNode): Promise<number> {
  return (await node.api<{ balanceCents: number }>('GET', '/credits/balance')).balanceCents;
}

describe('usage durability with real processes', () => {
  const children = new Children();
  const dirs: string[] = [];
  const clusters: PgCluster[] = [];
  const fakes: FakeProvider[] = [];
  after(async () => {
    await children.killAll();
    for (const f of fakes) await f.close();
    for (const c of clusters) c.destroy();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function setup(database: 'sqlite' | PgCluster, extra: Record<string, string> = {}): Promise<{ node: GatewayNode; fake: FakeProvider; url: string; journal: string }> {
    const fake = await startFakeProvider();
    fakes.push(fake);
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-durability-'));
    dirs.push(dir);
    const url = database === 'sqlite' ? `sqlite://${join(dir, 'tollgate.db')}` : database.url;
    const journal = join(dir, 'usage-journal.db');
    const node = new GatewayNode(children, {
      TOLLGATE_DATABASE_URL: url,
      TOLLGATE_JOURNAL_PATH: journal,
      TOLLGATE_SECRET_KEY: randomBytes(32).toString('hex'),
      TOLLGATE_PROVIDER_OPENAI_BASE_URL: `${fake.url}/v1`,
      TOLLGATE_MANAGED_OPENAI_API_KEY: 'sk-managed-openai',
      TOLLGATE_ALLOW_PRIVATE_UPSTREAMS: '1',
      ...extra,
    }, await freePort(), await freePort());
    await node.start();
    return { node, fake, url, journal };
  }

  async function grant(node: GatewayNode, cents: number): Promise<void> {
    await children.run('credits grant', ['credits', 'grant', '--account', node.accountId(), '--cents', String(cents)], node.env);
  }

  test('kill -9 mid-load, restart on the same files: one event per upstream attempt, balance exact (SQLite)', async (t) => {
    const { node, fake, url, journal } = await setup('sqlite');
    const accountId = node.accountId();
    await grant(node, 10_000);
    const { token } = await node.api<{ token: string }>('POST', '/access-keys', { name: 'load' });
    const N = 200;
    let killed = false;
    const first = await drive(node.gatewayUrl, token, 'gpt-4o', 0, N, CONCURRENCY, (done) => {
      if (done === 80 && !killed) {
        killed = true;
        node.child.proc.kill('SIGKILL');
      }
    }, () => killed);
    await node.child.exited;
    const atKill = fake.requests.length;
    await node.start();
    const second = await drive(node.gatewayUrl, token, 'gpt-4o', first.next, N, CONCURRENCY);
    const outcomes = [...first.outcomes.values(), ...second.outcomes.values()];
    const upstream = fake.requests.length;
    await shipped(url, accountId, upstream);
    assert.equal(await node.stop(), 0, node.child.output());
    const facts = await storeFacts(url, accountId);
    t.diagnostic(`${outcomes.length} requests sent, ${outcomes.filter((o) => o.status === 200).length} answered; upstream received ${upstream} (${atKill} before the kill); store ${facts.events.length} events (${facts.events.filter((e) => e.completion === 'unknown').length} recovered from begun attempts)`);
    assertExact(facts, upstream, outcomes, { inFlightAtCrash: CONCURRENCY });
    assert.ok(outcomes.filter((o) => o.status === 200).length >= 150, 'the load really ran on both sides of the kill');
    // Nothing left behind in the journal once the drained process exited.
    assert.deepEqual(readdirSync(dirname(journal)).filter((name) => name.startsWith(`${basename(journal)}.log.`)), []);
    await node.start();
    assert.equal(await balanceCents(node), Number(picoToCentsFloor(facts.grantsPico - facts.costPico)));
    await node.stop();
  });

  test('kill -9 while a Firewall judgement is open, restart on the same files: the judgement is recovered as the operator\'s call, never as the request', async () => {
    const { node, fake, url } = await setup('sqlite', { TOLLGATE_FIREWALL_DECISION_MODEL: 'openai:gpt-4o-mini', TOLLGATE_FIREWALL_DECISION_TIMEOUT_MS: '120000' });
    const accountId = node.accountId();
    await grant(node, 10_000);
    const { token } = await node.api<{ token: string }>('POST', '/access-keys', { name: 'judged' });
    // A request rule of its own (`plugins`), judged by a decision model that answers only once it is let go.
    const rule = { name: 'Wipes the disk', type: 'decision', phase: 'request', reads: ['messages'], instructions: 'Asks to delete everything, as "rm -rf /".' };
    const asked = send(node.gatewayUrl, token, { ...body(0, 'gpt-4o', false), messages: [{ role: 'user', content: 'tidy up FAKE-JUDGE-HANG' }], plugins: [{ id: 'firewall', hard_deny: [rule] }] });
    const judging = () => fake.requests.filter((r) => r.body?.model === 'gpt-4o-mini');
    await until(10_000, async () => judging().length === 1, 'the judgement at the decision model');
    node.child.proc.kill('SIGKILL');
    await node.child.exited;
    assert.equal((await asked).status, 0, 'cut by the kill');
    await node.start();
    await shipped(url, accountId, 1);
    assert.equal(await node.stop(), 0, node.child.output());
    const store = await openStore(url, { migrate: false });
    try {
      const rows = await store.db.selectFrom('usageEvents').select(['model', 'keySource', 'isFinalAttempt', 'completion', 'isError', 'costPico']).where('accountId', '=', accountId).execute();
      // Begun before the call, so the kill could not lose it: the operator's (managed key), at no cost to the tenant,
      // and not the request's final attempt (request counts leave it out). The request itself never reached an attempt.
      assert.deepEqual(rows.map((r) => [r.model, r.keySource, Number(r.isFinalAttempt), r.completion, Number(r.isError), BigInt(r.costPico)]), [['gpt-4o-mini', 'ngrok', 0, 'unknown', 1, 0n]]);
    } finally {
      await store.close();
    }
    assert.equal(fake.requests.filter((r) => r.body?.model === 'gpt-4o').length, 0);
  });

  test('kill -9 during a realtime session, a response open, one asked for and not yet created, and committed audio being transcribed: all are in usage after the restart; a later clean stop leaves no journal behind', async () => {
    const rtFake = await startFakeRealtime();
    try {
      const { node, url, journal } = await setup('sqlite', { TOLLGATE_PROVIDER_OPENAI_BASE_URL: rtFake.baseUrl });
      const accountId = node.accountId();
      const { token } = await node.api<{ token: string }>('POST', '/access-keys', { name: 'voice' });
      const rt = await realtimeSession(node.gatewayUrl, token);
      await rt.call({ type: 'session.update', session: { type: 'realtime', audio: { input: { transcription: { model: 'gpt-4o-transcribe', prompt: 'slow' } } } } }, 'session.updated');
      // A response the provider holds open, and audio it is transcribing (300 ms) and bills: both under way at the kill.
      await rt.call({ type: 'response.create', response: { instructions: 'hold' } }, 'response.created');
      rt.send({ type: 'input_audio_buffer.append', audio: FAKE_AUDIO });
      await rt.call({ type: 'input_audio_buffer.commit' }, 'input_audio_buffer.committed');
      // Relayed, and the provider takes 200 ms to start it (out of band: beside the held one, never refused). Killed once
      // the provider has it (relayed only after its begun row is journaled), not after a fixed wait: a gateway process
      // not scheduled within it was killed before reading the create, and its event never existed.
      const lateAsked = () => rtFake.received.some((e) => (e as { response?: { instructions?: string } }).response?.instructions === 'late hold');
      rt.send({ type: 'response.create', response: { instructions: 'late hold', conversation: 'none' } });
      // Looked for often: the committed audio's transcription (300 ms) must still be under way at the kill.
      for (let i = 0; i < 1000 && !lateAsked(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
      assert.ok(lateAsked(), 'the late create reached the provider');
      node.child.proc.kill('SIGKILL');
      await node.child.exited;
      await node.start();
      await shipped(url, accountId, 3);
      const store = await openStore(url, { migrate: false });
      try {
        const rows = await store.db.selectFrom('usageEvents').select(['model', 'completion', 'costPico']).where('accountId', '=', accountId).orderBy('model').execute();
        assert.deepEqual(rows.map((r) => [r.model, r.completion, BigInt(r.costPico)]), [['gpt-4o-transcribe', 'unknown', 0n], ['gpt-realtime', 'unknown', 0n], ['gpt-realtime', 'unknown', 0n]]);
      } finally {
        await store.close();
      }
      // A transcription committed and reported in one read: its begin and its event are committed together.
      const again = await realtimeSession(node.gatewayUrl, token);
      await again.call({ type: 'session.update', session: { type: 'realtime', audio: { input: { transcription: { model: 'gpt-4o-transcribe' } } } } }, 'session.updated');
      again.send({ type: 'input_audio_buffer.append', audio: FAKE_AUDIO });
      await again.call({ type: 'input_audio_buffer.commit' }, 'conversation.item.input_audio_transcription.completed');
      await shipped(url, accountId, 4);
      again.close();
      assert.equal(await node.stop(), 0, node.child.output());
      assert.deepEqual(readdirSync(dirname(journal)).filter((name) => name.startsWith(`${basename(journal)}.log.`)), [], 'nothing left to come back at the next start');
    } finally {
      await rtFake.close();
    }
  });

  test('PostgreSQL stopped mid-load and started again: every request served, every event shipped once', async (t) => {
    const cluster = await startPgCluster();
    clusters.push(cluster);
    const { node, fake, url } = await setup(cluster);
    const accountId = node.accountId();
    await grant(node, 10_000);
    const { token } = await node.api<{ token: string }>('POST', '/access-keys', { name: 'load' });
    // Warm: the key and the account are in the gateway's memory before the database goes away.
    assert.equal((await send(node.gatewayUrl, token, body(-1, 'gpt-4o', false))).status, 200);
    // Three phases so the outage is certain to cover real traffic however fast the machine is: the stop begins
    // with requests in flight, a whole phase runs while the database is down, the restart happens under load.
    let stopping: Promise<void> = Promise.resolve();
    const before = await drive(node.gatewayUrl, token, 'gpt-4o', 0, 100, CONCURRENCY, (done) => {
      if (done === 50) stopping = cluster.stop('fast');
    });
    await stopping;
    const during = await drive(node.gatewayUrl, token, 'gpt-4o', 100, 200, CONCURRENCY);
    const servedWhileDown = [...during.outcomes.values()].filter((o) => o.status === 200).length;
    let starting: Promise<void> = Promise.resolve();
    const after = await drive(node.gatewayUrl, token, 'gpt-4o', 200, 260, CONCURRENCY, (done) => {
      if (done === 1) starting = cluster.start();
    });
    await starting;
    const N = 260;
    assert.equal(servedWhileDown, 100, `every request answered while PostgreSQL was down; others: ${JSON.stringify([...during.outcomes.values()].filter((o) => o.status !== 200).slice(0, 5))}\n${node.child.output().slice(-3000)}`);
    const outcomes = [...before.outcomes.values(), ...during.outcomes.values(), ...after.outcomes.values()];
    assert.deepEqual(outcomes.filter((o) => o.status !== 200), [], 'served from memory throughout the outage');
    const upstream = fake.requests.length;
    await shipped(url, accountId, upstream, 30_000);
    assert.equal(await node.stop(), 0, node.child.output());
    // Logs are buffered: read them once the process has exited.
    assert.match(node.child.output(), /usage shipping failed/, 'the shipper met the outage');
    const facts = await storeFacts(url, accountId);
    t.diagnostic(`${N + 1} requests answered (${servedWhileDown} while PostgreSQL was down); upstream received ${upstream}; store ${facts.events.length} events`);
    assert.equal(facts.events.length, upstream, 'exactly one event per upstream request (nothing was killed)');
    assertExact(facts, upstream, outcomes);
    await node.start();
    assert.equal(await balanceCents(node), Number(picoToCentsFloor(facts.grantsPico - facts.costPico)));
    await node.stop();
  });

  // SIGHUP too: the terminal it ran in closed (node's default would end the process at once, cutting the answers).
  for (const [signal, count] of [['SIGTERM', 20], ['SIGHUP', 4]] as const) {
    test(`${signal} with answers in flight: all answered, every event in the store when the process exits`, async () => {
      const { node, fake, url } = await setup('sqlite');
      const accountId = node.accountId();
      await node.api('POST', '/provider-keys', { providerId: 'openai', name: 'primary', value: 'sk-user-key' });
      const { token } = await node.api<{ token: string }>('POST', '/access-keys', { name: 'drain' });
      const inFlight = Array.from({ length: count }, (_, i) => send(node.gatewayUrl, token, body(i, 'openai:slow-400-drain', i % 2 === 0)));
      await until(5_000, async () => fake.requests.length === count, `all ${count} requests at the upstream`);
      const exit = node.stop(signal);
      const outcomes = await Promise.all(inFlight);
      assert.equal(await exit, 0, node.child.output());
      assert.deepEqual(outcomes.map((o) => o.status), Array(count).fill(200));
      const facts = await storeFacts(url, accountId);
      assert.equal(facts.events.length, count);
      assertExact(facts, count, outcomes);
    });
  }

  test('billing on: waves of 100 concurrent requests spend a small balance, overspending by less than one reservation', async (t) => {
    const { node, url } = await setup('sqlite', { TOLLGATE_BILLING: 'on', TOLLGATE_PROCESSING_FEE_USD_PER_MTOK: '0.05' });
    const accountId = node.accountId();
    const { token } = await node.api<{ token: string }>('POST', '/access-keys', { name: 'spender' });
    await grant(node, 1);
    // The grant reaches the running gateway through its change feed; one request proves it.
    await until(2_000, async () => (await send(node.gatewayUrl, token, body(-1, 'gpt-4o', false))).status === 200, 'credit granted');
    // Until a whole wave is refused: the balance is then spent (no reservation was open when it began).
    const outcomes: Outcome[] = [];
    let waves = 0;
    for (let served = 1; served > 0 && waves < 20; waves++) {
      const wave = await Promise.all(Array.from({ length: 100 }, (_, i) => send(node.gatewayUrl, token, body(i, 'gpt-4o', i % 2 === 0))));
      outcomes.push(...wave);
      served = wave.filter((o) => o.status === 200).length;
    }
    const served = outcomes.filter((o) => o.status === 200).length;
    const refused = outcomes.filter((o) => o.status === 403 && o.code === 'ERR_NGROK_4026').length;
    assert.equal(served + refused, outcomes.length, JSON.stringify(outcomes.filter((o) => o.status !== 200 && o.status !== 403)));
    assert.ok(refused >= 100 && served > 0, `${served} served, ${refused} refused in ${waves} waves`);
    assert.equal(await node.stop(), 0, node.child.output());
    const facts = await storeFacts(url, accountId);
    // The reservation of one request: every input token (estimated) at gpt-4o's dearest input price, the
    // output limit (max_tokens 50) at its output price, the 0.05 USD/Mtok fee on both.
    const price = createCatalog().model('openai', 'gpt-4o')!.priceMicro!;
    const input = BigInt(estimateRequestInputTokens(body(99, 'gpt-4o', false), 'chat-completions'));
    const reservation = input * price.input + 50n * price.output + (input + 50n) * 50_000n;
    const overshoot = facts.costPico - facts.grantsPico;
    t.diagnostic(`grant 1 cent = ${facts.grantsPico} pico; ${waves} waves of 100: ${served} served, ${refused} refused; recorded ${facts.costPico} pico; overshoot ${overshoot} pico (bound: one reservation, ${reservation} pico)`);
    assert.ok(overshoot >= 0n, 'the whole grant was spent before the last wave was refused');
    assert.ok(overshoot < reservation, `recorded cost exceeds the grant by ${overshoot} pico, more than one reservation (${reservation})`);
    assertExact(facts, facts.events.length, outcomes);
  });
});
