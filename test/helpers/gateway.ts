// A real Tollgate (both planes, ports 0) in front of the fake provider, on a fresh store, plus small
// helpers to drive its control plane over HTTP and read the usage events it recorded.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { loadConfig } from '../../src/config/config.ts';
import { startTollgate, type RunningTollgate } from '../../src/server.ts';
import { openStore } from '../../src/store/database.ts';
import type { UsageEventsTable } from '../../src/store/schema.ts';
import type { Selectable } from 'kysely';
import { startFakeProvider, type FakeProvider } from '../fake-upstream.ts';
import { createTestDatabase, type StoreKind, type TestDatabase } from './stores.ts';
import assert from 'node:assert/strict';
import { grantCredits } from '../../src/store/credits.ts';
import { ChangeBus } from '../../src/state/changes.ts';

export const MANAGED_OPENAI_KEY = 'sk-managed-openai-secret';
export const MANAGED_ANTHROPIC_KEY = 'sk-managed-anthropic-secret';
export const BOOTSTRAP = 'tgapi_bootstraptestkey0000000000000000000000000';

export type UsageRow = Selectable<UsageEventsTable>;

export interface Harness {
  fake: FakeProvider;
  running: RunningTollgate;
  database: TestDatabase;
  gatewayUrl: string;
  apiUrl: string;
  accountId: string;
  /** Control-plane call with the bootstrap API key; throws unless the status is 2xx. */
  api<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T>;
  accessKey(configurationId?: string): Promise<{ id: string; token: string }>;
  providerKey(providerId: string, value: string, name?: string): Promise<string>;
  configuration(body: Record<string, unknown>): Promise<string>;
  gatewayConfig(patch: Record<string, unknown>): Promise<void>;
  /**
   * The clock rate-limited provider keys cool on (key-cooldown.ts): it moves only when a test advances it, so a key's
   * wait is over exactly when the test says, never because the machine was slow.
   */
  coolingClock: { advance(ms: number): void };
  /** The request's usage events (all attempts) once `count` of them are in the store. */
  usage(requestId: string, count: number): Promise<UsageRow[]>;
  close(): Promise<void>;
}

/**
 * `env` may be a function of the fake provider's URL, to point more providers at it. `options.logger`: where Tollgate
 * logs (silent by default; the observability test captures it).
 */
export async function startHarness(kind: StoreKind = 'sqlite', env: Record<string, string> | ((fakeUrl: string) => Record<string, string>) = {}, options: { logger?: Logger } = {}): Promise<Harness> {
  // The store first: without PostgreSQL (TOLLGATE_TEST_PG_URL unset, or nothing listening there) the harness fails
  // before it opens anything.
  const database = await createTestDatabase(kind);
  const fake = await startFakeProvider().catch(async (e: unknown) => {
    await database.drop();
    throw e;
  });
  // Each harness its own usage journal (PostgreSQL's default would be ./data in the repository).
  const journalDir = mkdtempSync(join(tmpdir(), 'tollgate-journal-'));
  // A configuration refused at start (a provider id this catalog lacks), or a start that fails, fails the test instead
  // of leaving the fake provider listening, which would keep the test process from ever ending.
  const refused = async (e: unknown): Promise<never> => {
    await fake.close();
    await database.drop();
    rmSync(journalDir, { recursive: true, force: true });
    throw e;
  };
  const config = await Promise.resolve().then(() => loadConfig({
    TOLLGATE_JOURNAL_PATH: join(journalDir, 'usage-journal.db'),
    TOLLGATE_DATABASE_URL: database.url,
    TOLLGATE_SECRET_KEY: randomBytes(32).toString('hex'),
    TOLLGATE_BOOTSTRAP_API_KEY: BOOTSTRAP,
    TOLLGATE_GATEWAY_PORT: '0',
    TOLLGATE_API_PORT: '0',
    TOLLGATE_PROVIDER_OPENAI_BASE_URL: `${fake.url}/v1`,
    TOLLGATE_PROVIDER_ANTHROPIC_BASE_URL: `${fake.url}/v1`,
    // As the catalog has Google's (its OpenAI-compatible layer): Gemini's native API is found beside it, at /v1beta.
    TOLLGATE_PROVIDER_GOOGLE_BASE_URL: `${fake.url}/v1beta/openai`,
    TOLLGATE_MANAGED_OPENAI_API_KEY: MANAGED_OPENAI_KEY,
    TOLLGATE_MANAGED_ANTHROPIC_API_KEY: MANAGED_ANTHROPIC_KEY,
    TOLLGATE_ALLOW_PRIVATE_UPSTREAMS: '1',
    ...(typeof env === 'function' ? env(fake.url) : env),
  })).catch(refused);
  let coolingNow = 0;
  const running = await startTollgate(config, { logger: options.logger ?? pino({ level: 'silent' }), keyCooldownClock: () => coolingNow }).catch(refused);
  const apiUrl = running.apiUrl!;
  const gatewayUrl = running.gatewayUrl!;
  const api = async <T,>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(apiUrl + path, {
      method,
      headers: { authorization: `Bearer ${BOOTSTRAP}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
    return (text ? JSON.parse(text) : {}) as T;
  };
  const h: Harness = {
    fake, running, database, gatewayUrl, apiUrl,
    accountId: running.bootstrap!.accountId,
    api,
    coolingClock: { advance(ms) { coolingNow += ms; } },
    async accessKey(configurationId) {
      return api<{ id: string; token: string }>('POST', '/access-keys', { name: 'test key', ...(configurationId ? { accessKeyConfigurationId: configurationId } : {}) });
    },
    async providerKey(providerId, value, name = value) {
      return (await api<{ id: string }>('POST', '/provider-keys', { providerId, value, name })).id;
    },
    async configuration(body) {
      return (await api<{ id: string }>('POST', '/access-key-configurations', { name: 'test configuration', ...body })).id;
    },
    async gatewayConfig(patch) {
      await api('PATCH', '/gateway-config', patch);
    },
    async usage(requestId, count) {
      const deadline = Date.now() + 5000;
      for (;;) {
        const rows = await running.store.db.selectFrom('usageEvents').selectAll().where('requestId', '=', requestId).orderBy('attemptNumber').execute();
        if (rows.length >= count) return rows;
        if (Date.now() > deadline) throw new Error(`expected ${count} usage events for ${requestId}, found ${rows.length}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async close() {
      await running.stop();
      await fake.close();
      await database.drop();
      rmSync(journalDir, { recursive: true, force: true });
    },
  };
  return h;
}

/** Raw call to the gateway (for what SDKs hide: headers, exact bodies, odd requests). */
export async function gw(h: Harness, path: string, init: { method?: string; token?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<{ status: number; headers: Headers; text: string; json: () => any }> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  let body: string | undefined;
  if (init.body !== undefined) {
    body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(h.gatewayUrl + path, { method: init.method ?? (body !== undefined ? 'POST' : 'GET'), headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

/** Every usage row in a stopped gateway's store (its own connection is closed by then). */
export async function storedUsage(h: Harness): Promise<UsageRow[]> {
  const store = await openStore(h.database.url, { migrate: false });
  try {
    return await store.db.selectFrom('usageEvents').selectAll().execute();
  } finally {
    await store.close();
  }
}

/**
 * Grants `cents` of promotional credit to `accountId`, announced as the CLI announces it, then sends `body` (a chat
 * completion) with `token` until it is served: a billing gateway admits it once it has read the grant.
 */
export async function grantUntilServed(h: Harness, accountId: string, cents: number, token: string, body: unknown): Promise<Awaited<ReturnType<typeof gw>>> {
  await grantCredits(h.running.store.db, accountId, cents, { category: 'promotional' });
  await new ChangeBus(h.running.store.db).publish({ accountId, kind: 'credits', resourceId: accountId });
  let served = await gw(h, '/v1/chat/completions', { token, body });
  for (let i = 0; i < 40 && served.status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 100));
    served = await gw(h, '/v1/chat/completions', { token, body });
  }
  assert.equal(served.status, 200, served.text);
  return served;
}
