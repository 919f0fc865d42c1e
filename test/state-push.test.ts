// Cross-process invalidation inside one test process: a second store connection plays "another process".
// The gateway state polls only once a minute here, so only a push (PostgreSQL LISTEN/NOTIFY, SQLite
// PRAGMA data_version) can make these changes visible within the 1 s the operations guide promises.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../src/store/schema.ts';
import { startControl, type TestControl } from './helpers/control.ts';
import { GatewayState } from '../src/state/gateway-state.ts';
import { ChangeBus, CHANGES_CHANNEL } from '../src/state/changes.ts';
import { SecretBox } from '../src/domain/secret-box.ts';
import { openStore, type Store } from '../src/store/database.ts';
import { patchGatewaySettings } from '../src/store/gateway-config.ts';
import { MAX_KEY_LOOKUPS, MAX_KEY_LOOKUPS_WAITING } from '../src/state/gateway-state.ts';
import { newAccessKeyToken, newId, redactSecret, sha256Hex } from '../src/domain/ids.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { startTollgate } from '../src/server.ts';
import { loadConfig } from '../src/config/config.ts';
import { startFakeProvider, type FakeProvider } from './fake-upstream.ts';

const ONLY_PUSH = 60_000;

function newState(c: TestControl, gapTtlMs?: number): GatewayState {
  return new GatewayState({
    store: c.store, secretBox: new SecretBox(c.config.masterKey), changes: c.changes, logger: pino({ level: 'silent' }),
    pollIntervalMs: ONLY_PUSH, resyncIntervalMs: ONLY_PUSH, flushIntervalMs: ONLY_PUSH, ...(gapTtlMs !== undefined ? { gapTtlMs } : {}),
  });
}

async function createKey(c: TestControl): Promise<{ id: string; token: string }> {
  const res = await c.call('POST', '/access-keys', { name: 'app' });
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as { id: string; token: string };
}

/** Polls `check` every 20 ms until it holds; fails after `ms`; returns how long it took. */
async function within(ms: number, check: () => boolean | Promise<boolean>): Promise<number> {
  const start = performance.now();
  while (!(await check())) {
    if (performance.now() - start > ms) assert.fail(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Math.round(performance.now() - start);
}

/** What another process does to revoke a key: delete the row, then announce it. */
async function revokeElsewhere(other: Store, accountId: string, keyId: string): Promise<void> {
  await other.db.deleteFrom('accessKeys').where('id', '=', keyId).execute();
  await new ChangeBus(other.db).publish({ accountId, kind: 'accessKey', resourceId: keyId });
}

/**
 * Another process writing in a transaction it holds open: what `write` did (a change taking its seq) is not visible
 * until `release()`; `slow` settles at the commit.
 */
async function heldOpen(other: Store, write: (trx: Kysely<Database>) => Promise<void>): Promise<{ release: () => void; slow: Promise<void> }> {
  let release!: () => void;
  const held = new Promise<void>((r) => { release = r; });
  let written!: () => void;
  const writtenP = new Promise<void>((r) => { written = r; });
  const slow = other.db.transaction().execute(async (trx) => {
    await write(trx);
    written();
    await held;
  });
  await writtenP;
  return { release, slow };
}

/** Another process revoking a key in a transaction it holds open, its change announced (queued till the commit). */
function revocationHeldOpen(other: Store, accountId: string, keyId: string): Promise<{ release: () => void; slow: Promise<void> }> {
  return heldOpen(other, async (trx) => {
    await trx.deleteFrom('accessKeys').where('id', '=', keyId).execute();
    await sql`WITH row AS (INSERT INTO state_changes (account_id, kind, resource_id, created_at)
      VALUES (${accountId}, 'accessKey', ${keyId}, ${new Date().toISOString()}) RETURNING seq)
      SELECT pg_notify(${CHANGES_CHANNEL}, seq::text) FROM row`.execute(trx);
  });
}

async function withSetup(kind: 'sqlite' | 'postgres', body: (c: TestControl, state: GatewayState, other: Store) => Promise<void>, gapTtlMs?: number): Promise<void> {
  const c = await startControl(kind);
  const state = newState(c, gapTtlMs);
  const other = await openStore(c.database.url, { migrate: false });
  try {
    await state.start();
    await body(c, state, other);
  } finally {
    await state.close();
    await other.close();
    await c.close();
  }
}

describe('cross-process invalidation by push', () => {
  test('sqlite: a commit by another connection is seen through PRAGMA data_version', async (t) => {
    await withSetup('sqlite', async (c, state, other) => {
      const key = await createKey(c);
      assert.ok(await state.authenticate(key.token));
      await revokeElsewhere(other, c.accountId, key.id);
      const took = await within(1000, async () => (await state.authenticate(key.token)) === null);
      t.diagnostic(`revocation seen after ${took} ms`);

      const second = await createKey(c);
      assert.ok(await state.authenticate(second.token));
      await patchGatewaySettings(other.db, c.accountId, { maxOutputTokens: 77 });
      await new ChangeBus(other.db).publish({ accountId: c.accountId, kind: 'gatewayConfig', resourceId: c.accountId });
      t.diagnostic(`gateway config seen after ${await within(1000, () => state.account(c.accountId).settings.maxOutputTokens === 77)} ms`);
    });
  });

  test('postgres: NOTIFY wakes the gateway at once', async (t) => {
    await withSetup('postgres', async (c, state, other) => {
      const key = await createKey(c);
      assert.ok(await state.authenticate(key.token));
      await revokeElsewhere(other, c.accountId, key.id);
      const took = await within(1000, async () => (await state.authenticate(key.token)) === null);
      t.diagnostic(`revocation seen after ${took} ms`);
    });
  });

  test('postgres: the listener reconnects after its connection is killed and reads what it missed', async (t) => {
    await withSetup('postgres', async (c, state, other) => {
      const key = await createKey(c);
      const later = await createKey(c);
      assert.ok(await state.authenticate(key.token));
      assert.ok(await state.authenticate(later.token));
      const listeners = async () => (await sql<{ pid: number }>`SELECT pid FROM pg_stat_activity
        WHERE application_name = 'tollgate-listen' AND datname = current_database()`.execute(other.db)).rows.map((r) => r.pid);
      const [old] = await listeners();
      assert.ok(old, 'one listening connection');
      await sql`SELECT pg_terminate_backend(${old})`.execute(other.db);
      await within(1000, async () => !(await listeners()).includes(old));
      // Announced (almost surely) while nobody listens, the reconnect waiting ≥ 50 ms: the notification is
      // lost and the poll that follows reconnecting finds the row.
      await revokeElsewhere(other, c.accountId, key.id);
      t.diagnostic(`change made during the outage seen after ${await within(1000, async () => (await state.authenticate(key.token)) === null)} ms`);
      await within(2000, async () => (await listeners()).some((pid) => pid !== old));
      // And notifications flow again.
      await revokeElsewhere(other, c.accountId, later.id);
      t.diagnostic(`next change seen after ${await within(1000, async () => (await state.authenticate(later.token)) === null)} ms`);
    });
  });

  for (const late of [false, true]) test(`postgres: a change that commits after a later one (sequence gap) is still applied${late ? ', even after the gap was given up on' : ''}`, async () => {
    await withSetup('postgres', async (c, state, other) => {
      const key = await createKey(c);
      assert.ok(await state.authenticate(key.token));
      // Transaction A takes the lower seq but commits last.
      const { release, slow } = await revocationHeldOpen(other, c.accountId, key.id);
      // Transaction B takes the higher seq and commits first; the gateway reads past A's seq.
      await patchGatewaySettings(c.store.db, c.accountId, { maxOutputTokens: 5 });
      await new ChangeBus(other.db).publish({ accountId: c.accountId, kind: 'gatewayConfig', resourceId: c.accountId });
      await within(1000, () => state.account(c.accountId).settings.maxOutputTokens === 5);
      if (late) {
        // A holds its transaction open past the time gaps are looked for (a stalled fsync, a script's open
        // transaction); another change's poll gives A's seq up meanwhile.
        await new Promise((r) => setTimeout(r, 400));
        await patchGatewaySettings(c.store.db, c.accountId, { maxOutputTokens: 6 });
        await new ChangeBus(other.db).publish({ accountId: c.accountId, kind: 'gatewayConfig', resourceId: c.accountId });
        await within(1000, () => state.account(c.accountId).settings.maxOutputTokens === 6);
      }
      assert.ok(await state.authenticate(key.token), 'A is not committed yet');
      release();
      await slow;
      // Its notification, which comes at its commit, brings the given-up seq back: not the minute's resync.
      await within(1000, async () => (await state.authenticate(key.token)) === null);
    }, 200);
  });

  test('postgres: a key whose creation commits after its gap was given up on, announced to nobody (through a pooler), is served at its first request, and made-up tokens are still refused', async () => {
    await withSetup('postgres', async (c, state, other) => {
      assert.ok(await state.authenticate((await createKey(c)).token));
      // Transaction A creates a key and records its change (as through a pooler: no NOTIFY), and commits last.
      let key!: { id: string; token: string };
      const { release, slow } = await heldOpen(other, async (trx) => { key = await createKeyElsewhere(trx, c.accountId, false); });
      // Later changes commit first: the gateway reads past A's seq, and gives it up after the gap's 200 ms.
      for (const maxOutputTokens of [5, 6]) {
        if (maxOutputTokens === 6) await new Promise((r) => setTimeout(r, 400));
        await patchGatewaySettings(c.store.db, c.accountId, { maxOutputTokens });
        await new ChangeBus(other.db).publish({ accountId: c.accountId, kind: 'gatewayConfig', resourceId: c.accountId });
        await within(10_000, () => state.account(c.accountId).settings.maxOutputTokens === maxOutputTokens);
      }
      release();
      await slow;
      // Not in the key index: the catch-up that precedes a refusal looks for the gaps given up on too.
      assert.equal((await state.authenticate(key.token))?.id, key.id);
      assert.equal(await state.authenticate(newAccessKeyToken()), null);
    }, 200);
  });

  test('postgres: a request that comes after a revocation was applied is refused, even while a lookup of the key begun before it is still under way', async () => {
    await withSetup('postgres', async (c, state, other) => {
      const key = await createKey(c);
      // The account's first load is held up (another session locks a table it reads: a slow database, a migration),
      // so the lookup of the key, which has read the key's row already, stays under way.
      let unlock!: () => void;
      const held = new Promise<void>((r) => { unlock = r; });
      let locked!: () => void;
      const lockedP = new Promise<void>((r) => { locked = r; });
      const lock = other.db.transaction().execute(async (trx) => {
        await sql`LOCK TABLE providers IN ACCESS EXCLUSIVE MODE`.execute(trx);
        locked();
        await held;
      });
      await lockedP;
      try {
        const before = state.authenticate(key.token);
        assert.ok(before instanceof Promise, 'a cache miss');
        const waiting = async () => (await sql<{ n: string }>`SELECT count(*) AS n FROM pg_stat_activity
          WHERE wait_event_type = 'Lock' AND datname = current_database()`.execute(other.db)).rows[0]!.n !== '0';
        await within(1000, waiting);
        // The key is revoked elsewhere and this gateway applies it; then a new request with the token arrives.
        await revokeElsewhere(other, c.accountId, key.id);
        await state.poll();
        const after = state.authenticate(key.token);
        unlock();
        await lock;
        await before.catch(() => null);
        assert.equal(await after, null, 'a request that arrived after the revocation was applied was served with the revoked key');
        assert.equal(await state.authenticate(key.token), null);
      } finally {
        unlock();
        await lock.catch(() => {});
      }
    });
  });
});

test('postgres: a change whose transaction is still open when the gateway starts is applied when it commits', async () => {
  // The gateway starts from the newest seq; a lower one still uncommitted then is a gap from the start.
  const c = await startControl('postgres');
  const other = await openStore(c.database.url, { migrate: false });
  let state: GatewayState | undefined;
  try {
    const key = await createKey(c);
    const { release, slow } = await revocationHeldOpen(other, c.accountId, key.id);
    // A later change commits first: the newest seq at start is past the open one.
    await patchGatewaySettings(c.store.db, c.accountId, { maxOutputTokens: 5 });
    await new ChangeBus(other.db).publish({ accountId: c.accountId, kind: 'gatewayConfig', resourceId: c.accountId });
    state = newState(c);
    await state.start();
    assert.ok(await state.authenticate(key.token), 'the revocation is not committed yet');
    release();
    await slow;
    await within(1000, async () => (await state!.authenticate(key.token)) === null);
  } finally {
    await state?.close();
    await other.close();
    await c.close();
  }
});

/**
 * What another process does to create a key: the row, then its change — announced (NOTIFY on PostgreSQL), or as
 * through a pooler in transaction mode, which delivers no notification (`notify` false): only a poll reads it.
 */
async function createKeyElsewhere(db: Kysely<Database>, accountId: string, notify: boolean): Promise<{ id: string; token: string }> {
  const token = newAccessKeyToken();
  const id = newId('accessKey');
  const now = new Date().toISOString();
  await db.insertInto('accessKeys').values({
    id, accountId, name: 'elsewhere', description: null, metadata: null, tokenHash: sha256Hex(token), keyRedacted: redactSecret(token),
    configurationId: null, lastUsed: null, createdAt: now, updatedAt: now, createdBy: 'test', lastUpdatedBy: 'test',
  }).execute();
  const change = { accountId, kind: 'accessKey', resourceId: id } as const;
  if (notify) await new ChangeBus(db).publish(change);
  else await db.insertInto('stateChanges').values({ ...change, createdAt: now }).execute();
  return { id, token };
}

for (const kind of ['sqlite', 'postgres'] as const) {
  test(`${kind}: during a flood of made-up tokens, a key another process just created is served at once (its change announced or not), and the made-up tokens are refused as unknown`, async () => {
    await withSetup(kind, async (c, state, other) => {
      const size = 2 * (MAX_KEY_LOOKUPS + MAX_KEY_LOOKUPS_WAITING);
      const flood: Promise<unknown>[] = [];
      const made = () => { for (let i = 0; i < size; i++) flood.push(Promise.resolve(state.authenticate(newAccessKeyToken()))); };
      for (const notify of [true, false]) {
        made();
        const key = await createKeyElsewhere(other.db, c.accountId, notify);
        made();
        const served = state.authenticate(key.token);
        made();
        assert.equal((await served)?.id, key.id, `served (${notify ? 'announced' : 'no notification'})`);
      }
      const answers = await Promise.allSettled(flood);
      assert.ok(answers.every((a) => a.status === 'fulfilled' && a.value === null), 'each made-up token is unknown (401), none "try again later"');
    });
  });
}

/** An api process and a gateway process on one SQLite database: changes reach the gateway only through the store. */
async function withSplitPlanes(use: (planes: {
  fake: FakeProvider;
  /** A control-plane POST answered 2xx, with the bootstrap API key. */
  call: <T>(path: string, body: unknown) => Promise<T>;
  chat: (token: string) => Promise<Response>;
}) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-split-'));
  const fake = await startFakeProvider();
  const bootstrap = 'tgapi_splitplanestestkey000000000000000000000000';
  const env = (journal: string) => ({
    TOLLGATE_DATABASE_URL: `sqlite:${join(dir, 't.db')}`, TOLLGATE_SECRET_KEY: randomBytes(32).toString('hex'),
    TOLLGATE_BOOTSTRAP_API_KEY: bootstrap, TOLLGATE_GATEWAY_PORT: '0', TOLLGATE_API_PORT: '0', TOLLGATE_JOURNAL_PATH: join(dir, journal),
    TOLLGATE_PROVIDER_OPENAI_BASE_URL: `${fake.url}/v1`, TOLLGATE_MANAGED_OPENAI_API_KEY: 'sk-managed', TOLLGATE_ALLOW_PRIVATE_UPSTREAMS: '1',
  });
  const shared = env('api.db');
  const api = await startTollgate(loadConfig(shared), { planes: ['api'], logger: pino({ level: 'silent' }) });
  const gateway = await startTollgate(loadConfig({ ...env('gateway.db'), TOLLGATE_SECRET_KEY: shared.TOLLGATE_SECRET_KEY }), { planes: ['gateway'], logger: pino({ level: 'silent' }) });
  try {
    await use({
      fake,
      call: async <T,>(path: string, body: unknown): Promise<T> => {
        const res = await fetch(api.apiUrl + path, { method: 'POST', headers: { authorization: `Bearer ${bootstrap}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
        assert.ok(res.ok, `${res.status} ${await res.clone().text()}`);
        return res.json() as Promise<T>;
      },
      chat: (token) => fetch(`${gateway.gatewayUrl}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [] }) }),
    });
  } finally {
    await gateway.stop();
    await api.stop();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('a key and its configuration made by another process', () => {
  test('the gateway reads the account again instead of refusing a configuration it has not seen yet', () => withSplitPlanes(async ({ call, chat }) => {
    // The gateway serves the account already (its snapshot is loaded), then each round makes a configuration
    // and a key in the other process and uses the key at once, before any change could reach the gateway.
    const first = await call<{ token: string }>('/access-keys', { name: 'warm' });
    assert.equal((await chat(first.token)).status, 200);
    for (let i = 0; i < 10; i++) {
      const cfg = await call<{ id: string }>('/access-key-configurations', { name: `open ${i}`, access: { providers: { allow: ['openai'] } } });
      const key = await call<{ token: string }>('/access-keys', { name: `new ${i}`, accessKeyConfigurationId: cfg.id });
      const res = await chat(key.token);
      assert.equal(res.status, 200, await res.text());
    }
  }));
});

test('a provider key cooling on a gateway after its 429 is tried first again once another process rotates it', () => withSplitPlanes(async ({ fake, call, chat }) => {
  const limited = await call<{ id: string }>('/provider-keys', { providerId: 'openai', value: 'sk-429-after-60', name: 'limited' });
  const good = await call<{ id: string }>('/provider-keys', { providerId: 'openai', value: 'sk-good', name: 'good' });
  const cfg = await call<{ id: string }>('/access-key-configurations', { name: 'two keys', router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: limited.id }, { id: good.id }] }] }] } });
  const key = await call<{ token: string }>('/access-keys', { name: 'app', accessKeyConfigurationId: cfg.id });
  const firstTried = async () => {
    fake.reset();
    const res = await chat(key.token);
    assert.equal(res.status, 200, await res.text());
    return fake.requests[0]!.headers.authorization;
  };
  assert.equal(await firstTried(), 'Bearer sk-429-after-60');
  assert.equal(await firstTried(), 'Bearer sk-good', 'cooling for the 60 s it asked');
  await call(`/provider-keys/${limited.id}/rotate`, { name: 'limited', value: 'sk-rotated' });
  // The gateway applies the rotation when it reads the change (within a second: data_version); until then the old
  // secret cools, then the new one is tried first.
  const until = Date.now() + 5000;
  let tried: string | undefined;
  while ((tried = await firstTried()) !== 'Bearer sk-rotated') {
    assert.equal(tried, 'Bearer sk-good', 'before the rotation is applied');
    if (Date.now() > until) assert.fail('the rotated key tried first within 5 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}));
