// Tollgate behind PgBouncer in transaction pooling mode (the pooled connection strings of Supabase and Neon):
// PgBouncer refuses startup parameters it does not track, and delivers no NOTIFY to a LISTEN made through it.
// docs/operations.md, "Connection poolers", says what a deployment gets there; these tests hold it to that.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import pino from 'pino';
import { createTestDatabase, type TestDatabase } from './helpers/stores.ts';
import { startPgBouncer } from './helpers/pgbouncer.ts';
import { startFakeProvider } from './fake-upstream.ts';
import { loadConfig } from '../src/config/config.ts';
import { startTollgate, type RunningTollgate } from '../src/server.ts';
import { openStore } from '../src/store/database.ts';

/** Polls `check` every 50 ms until it holds; fails after `ms`. */
async function within(ms: number, what: string, check: () => Promise<boolean>): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) assert.fail(`${what} within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Pooled {
  database: TestDatabase;
  /** The gateway process's log lines (JSON, debug level up). */
  gatewayLog: Record<string, unknown>[];
  /** The gateway's `tollgate_state_listen_deaf` as scraped now. */
  listenDeaf(): Promise<number | undefined>;
  api: RunningTollgate;
  gateway: RunningTollgate;
  /** A control-plane call with the bootstrap API key. */
  call(method: string, path: string, body?: unknown): Promise<Response>;
  chat(token: string): Promise<Response>;
}

/** A database behind PgBouncer, an api and a gateway process's worth on it (changes reach the gateway only through the database). */
async function withPooledTollgate(gatewayEnv: (databaseUrl: string) => Record<string, string>, use: (t: Pooled) => Promise<void>): Promise<void> {
  const database = await createTestDatabase('postgres');
  const bouncer = await startPgBouncer(database.url);
  const fake = await startFakeProvider();
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-pooler-'));
  const bootstrap = `tgapi_${randomBytes(20).toString('hex')}`;
  const base = {
    TOLLGATE_DATABASE_URL: bouncer.url, TOLLGATE_SECRET_KEY: randomBytes(32).toString('hex'), TOLLGATE_BOOTSTRAP_API_KEY: bootstrap,
    TOLLGATE_GATEWAY_PORT: '0', TOLLGATE_API_PORT: '0',
    TOLLGATE_PROVIDER_OPENAI_BASE_URL: `${fake.url}/v1`, TOLLGATE_MANAGED_OPENAI_API_KEY: 'sk-managed', TOLLGATE_ALLOW_PRIVATE_UPSTREAMS: '1',
  };
  const started: RunningTollgate[] = [];
  const gatewayLog: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => { gatewayLog.push(JSON.parse(line) as Record<string, unknown>); } });
  try {
    const api = await startTollgate(loadConfig({ ...base, TOLLGATE_JOURNAL_PATH: join(dir, 'api.db') }), { planes: ['api'], logger: pino({ level: 'silent' }) });
    started.push(api);
    const gateway = await startTollgate(loadConfig({ ...base, TOLLGATE_JOURNAL_PATH: join(dir, 'gateway.db'), ...gatewayEnv(database.url) }), { planes: ['gateway'], logger });
    started.push(gateway);
    await use({
      database, api, gateway, gatewayLog,
      // A gateway-only process serves /metrics on its gateway port (loopback: no token needed).
      listenDeaf: async () => {
        const text = await (await fetch(`${gateway.gatewayUrl}/metrics`)).text();
        const value = /^tollgate_state_listen_deaf (\d+)$/m.exec(text)?.[1];
        return value === undefined ? undefined : Number(value);
      },
      call: (method, path, body) => fetch(`${api.apiUrl}${path}`, { method, headers: { authorization: `Bearer ${bootstrap}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) }),
      chat: (token) => fetch(`${gateway.gatewayUrl}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }) }),
    });
  } finally {
    for (const running of started.reverse()) await running.stop();
    await bouncer.stop();
    await fake.close();
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The deaf listener's warnings in a gateway's log. */
const deafWarnings = (log: Record<string, unknown>[]) => log.filter((line) => line.level === 40 && /hears no notifications/.test(String(line.msg)));

test('through PgBouncer in transaction mode: both planes start, usage is shipped, a revocation reaches the gateway by its poll, and the gateway says once that its LISTEN hears nothing', () => withPooledTollgate(() => ({}), async ({ database, call, chat, gatewayLog, listenDeaf }) => {
  // LISTEN "succeeds" through the pooler: only the probe the listener sends itself shows it hears nothing.
  await within(20_000, 'the deaf listener reported in tollgate_state_listen_deaf', async () => (await listenDeaf()) === 1);
  const warnings = deafWarnings(gatewayLog);
  assert.equal(warnings.length, 1, 'one warning');
  assert.match(String(warnings[0]!.msg), /TOLLGATE_DATABASE_LISTEN_URL/);
  const created = await call('POST', '/access-keys', { name: 'pooled' });
  assert.equal(created.status, 201, await created.clone().text());
  const key = await created.json() as { id: string; token: string };
  const served = await chat(key.token);
  assert.equal(served.status, 200, await served.text());
  const direct = new pg.Client({ connectionString: database.url });
  await direct.connect();
  try {
    await within(10_000, 'the usage event shipped through the pooler', async () => {
      const { rows } = await direct.query<{ n: string }>('SELECT count(*) AS n FROM usage_events WHERE access_key_id = $1', [key.id]);
      return rows[0]!.n === '1';
    });
  } finally {
    await direct.end();
  }
  assert.equal((await call('DELETE', `/access-keys/${key.id}`)).status, 204);
  // No NOTIFY passes a transaction pooler: the gateway's safety-net poll (every 2 s) finds the change.
  await within(5_000, 'the revoked key refused by the gateway', async () => (await chat(key.token)).status === 401);
}));

test('TOLLGATE_DATABASE_LISTEN_URL at the database itself: through the pooler, revocations reach the gateway within a second again, and no warning', () => withPooledTollgate((databaseUrl) => ({ TOLLGATE_DATABASE_LISTEN_URL: databaseUrl }), async ({ call, chat, gatewayLog, listenDeaf }) => {
  // The probe goes through the pooler, the LISTEN session to the database itself: heard.
  await within(20_000, 'the listener\'s probe heard', async () => gatewayLog.some((line) => line.msg === 'state-change listener hears notifications'));
  assert.deepEqual(deafWarnings(gatewayLog), []);
  assert.equal(await listenDeaf(), 0);
  // Five in a row, each within 700 ms: the 2-second poll alone would meet that for all five about once in 200 runs.
  for (let i = 0; i < 5; i++) {
    const created = await call('POST', '/access-keys', { name: `listened ${i}` });
    assert.equal(created.status, 201, await created.clone().text());
    const key = await created.json() as { id: string; token: string };
    assert.equal((await chat(key.token)).status, 200);
    assert.equal((await call('DELETE', `/access-keys/${key.id}`)).status, 204);
    await within(700, `revocation ${i + 1} seen by the gateway through LISTEN`, async () => (await chat(key.token)).status === 401);
  }
}));

test('processes starting together through the pooler all start, and leave no migration lock held on a pooled connection', async () => {
  const database = await createTestDatabase('postgres');
  const bouncer = await startPgBouncer(database.url);
  const direct = new pg.Client({ connectionString: database.url });
  await direct.connect();
  try {
    // A rolling deploy: every process migrates (mostly nothing to do) at start, six at a time; the first round on an
    // empty database. Kysely's session lock was taken on one server connection and released on another: the lock
    // stayed on a connection nobody owned, and the starts after it waited for it without end.
    for (let round = 0; round < 3; round++) {
      const starts = Array.from({ length: 6 }, async () => { const store = await openStore(bouncer.url); await store.close(); });
      let timer: NodeJS.Timeout | undefined;
      const hung = new Promise<'hung'>((resolve) => { timer = setTimeout(() => resolve('hung'), 20_000); });
      const outcome = await Promise.race([Promise.all(starts), hung]).finally(() => clearTimeout(timer));
      assert.notEqual(outcome, 'hung', `round ${round + 1}: starts through the pooler still waiting after 20 s`);
      // pg_locks is the whole cluster's: other test files' databases on it take advisory locks of their own (account locks).
      const { rows } = await direct.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
      assert.equal(rows[0]!.n, 0, `round ${round + 1}: an advisory lock is left held`);
    }
  } finally {
    await direct.end();
    await bouncer.stop();
    await database.drop();
  }
});
