// Tollgate behind PgBouncer in transaction pooling mode (the pooled connection strings of Supabase and Neon):
// PgBouncer refuses startup parameters it does not track, and delivers no NOTIFY to a LISTEN made through it.
// docs/operations.md, "Connection poolers", says what a deployment gets there; this test holds it to that.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import pino from 'pino';
import { createTestDatabase } from './helpers/stores.ts';
import { startPgBouncer } from './helpers/pgbouncer.ts';
import { startFakeProvider } from './fake-upstream.ts';
import { loadConfig } from '../src/config/config.ts';
import { startTollgate, type RunningTollgate } from '../src/server.ts';

/** Polls `check` every 50 ms until it holds; fails after `ms`. */
async function within(ms: number, what: string, check: () => Promise<boolean>): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) assert.fail(`${what} within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('through PgBouncer in transaction mode: both planes start, usage is shipped, a revocation reaches the gateway by its poll', async () => {
  const database = await createTestDatabase('postgres');
  const bouncer = await startPgBouncer(database.url);
  const fake = await startFakeProvider();
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-pooler-'));
  const bootstrap = `tgapi_${randomBytes(20).toString('hex')}`;
  const secret = randomBytes(32).toString('hex');
  const env = (journal: string) => ({
    TOLLGATE_DATABASE_URL: bouncer.url, TOLLGATE_SECRET_KEY: secret, TOLLGATE_BOOTSTRAP_API_KEY: bootstrap,
    TOLLGATE_GATEWAY_PORT: '0', TOLLGATE_API_PORT: '0', TOLLGATE_JOURNAL_PATH: join(dir, journal),
    TOLLGATE_PROVIDER_OPENAI_BASE_URL: `${fake.url}/v1`, TOLLGATE_MANAGED_OPENAI_API_KEY: 'sk-managed', TOLLGATE_ALLOW_PRIVATE_UPSTREAMS: '1',
  });
  const started: RunningTollgate[] = [];
  const direct = new pg.Client({ connectionString: database.url });
  try {
    // Two processes' worth: the api's changes reach the gateway only through the database.
    const api = await startTollgate(loadConfig(env('api.db')), { planes: ['api'], logger: pino({ level: 'silent' }) });
    started.push(api);
    const gateway = await startTollgate(loadConfig(env('gateway.db')), { planes: ['gateway'], logger: pino({ level: 'silent' }) });
    started.push(gateway);
    const created = await fetch(`${api.apiUrl}/access-keys`, { method: 'POST', headers: { authorization: `Bearer ${bootstrap}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'pooled' }) });
    assert.equal(created.status, 201, await created.clone().text());
    const key = await created.json() as { id: string; token: string };
    const chat = () => fetch(`${gateway.gatewayUrl}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }) });
    const served = await chat();
    assert.equal(served.status, 200, await served.text());

    await direct.connect();
    await within(10_000, 'the usage event shipped through the pooler', async () => {
      const { rows } = await direct.query<{ n: string }>('SELECT count(*) AS n FROM usage_events WHERE access_key_id = $1', [key.id]);
      return rows[0]!.n === '1';
    });
    const revoked = await fetch(`${api.apiUrl}/access-keys/${key.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${bootstrap}` } });
    assert.equal(revoked.status, 204, await revoked.text());
    // No NOTIFY passes a transaction pooler: the gateway's safety-net poll (every 2 s) finds the change.
    await within(5_000, 'the revoked key refused by the gateway', async () => (await chat()).status === 401);
  } finally {
    await direct.end().catch(() => {});
    for (const running of started.reverse()) await running.stop();
    await bouncer.stop();
    await fake.close();
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  }
});
