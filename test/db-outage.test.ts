// A PostgreSQL deployment whose database misbehaves under the gateway: the connection reset mid-query (a failover,
// a restarted pooler), the database silently unreachable (a partition), a table locked long enough for a snapshot
// reload to fail. operations.md: the gateway keeps serving its last snapshot, and a change reaches it within a
// second once the database answers. Real PostgreSQL behind a loopback proxy that plays the network.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import pg from 'pg';
import { sql } from 'kysely';
import { startFakeProvider, type FakeProvider } from './fake-upstream.ts';
import { createTestDatabase } from './helpers/stores.ts';
import { Children, freePort, waitHealthy } from './helpers/processes.ts';
import { startPgProxy, type PgProxy } from './helpers/pg-proxy.ts';
import { startControl, type TestControl } from './helpers/control.ts';
import { GatewayState } from '../src/state/gateway-state.ts';
import { ChangeBus } from '../src/state/changes.ts';
import { SecretBox } from '../src/domain/secret-box.ts';
import { openStore } from '../src/store/database.ts';
import { newAccessKeyToken } from '../src/domain/ids.ts';
import { creditsGrant } from '../src/cli/admin.ts';
import { startHarness } from './helpers/gateway.ts';
import { connect } from 'node:net';
import { createAccount } from '../src/store/accounts.ts';

const BOOTSTRAP = 'tgapi_dboutagetestkey0000000000000000000000000';
/** The advisory lock Kysely's migrator takes on PostgreSQL (its MIGRATION_LOCK_ID). */
const KYSELY_MIGRATION_LOCK = '3853314791062309107';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * An api process on the database and a gateway process that reaches it through `proxy` (its network path), with
 * a provider key and an access key made; `chat()` sends one request through the gateway and resolves to its status (or why none came).
 */
async function apiAndGateway(children: Children, databaseUrl: string, proxy: PgProxy, journals: string, fakeUrl: string, gatewayExtraEnv: Record<string, string> = {}) {
  const [apiPort, gwPort] = [await freePort(), await freePort()];
  const common = { TOLLGATE_SECRET_KEY: randomBytes(32).toString('hex'), TOLLGATE_PROVIDER_OPENAI_BASE_URL: `${fakeUrl}/v1`, TOLLGATE_ALLOW_PRIVATE_UPSTREAMS: '1', TOLLGATE_HOST: '127.0.0.1' };
  const api = children.spawn('api', ['api'], { ...common, TOLLGATE_DATABASE_URL: databaseUrl, TOLLGATE_API_PORT: String(apiPort), TOLLGATE_BOOTSTRAP_API_KEY: BOOTSTRAP });
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  await waitHealthy(api, apiUrl);
  const gatewayEnv = { ...common, TOLLGATE_DATABASE_URL: proxy.url, TOLLGATE_GATEWAY_PORT: String(gwPort), TOLLGATE_JOURNAL_PATH: join(journals, 'j.db'), ...gatewayExtraEnv };
  const gatewayUrl = `http://127.0.0.1:${gwPort}`;
  const gateway = children.spawn('gateway', ['gateway'], gatewayEnv);
  await waitHealthy(gateway, gatewayUrl);
  const headers = { authorization: `Bearer ${BOOTSTRAP}`, 'content-type': 'application/json' };
  await fetch(`${apiUrl}/provider-keys`, { method: 'POST', headers, body: JSON.stringify({ providerId: 'openai', name: 'p', value: 'sk-x' }) });
  const key = await (await fetch(`${apiUrl}/access-keys`, { method: 'POST', headers, body: JSON.stringify({ name: 'app' }) })).json() as { id: string; token: string };
  const chat = () => fetch(`${gatewayUrl}/v1/chat/completions`, {
    method: 'POST', headers: { authorization: `Bearer ${key.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  }).then((r) => r.status, (e: Error) => `no answer: ${String(e.cause ?? e)}`);
  return { gateway, gatewayEnv, gatewayUrl, apiUrl, key, chat };
}

/** A test's own database behind a proxy, a directory for its journals and a set of processes; `end()` removes them. */
async function outageSetting() {
  const children = new Children();
  const database = await createTestDatabase('postgres');
  const proxy = await startPgProxy(database.url);
  const journals = mkdtempSync(join(tmpdir(), 'tollgate-outage-'));
  const end = async (): Promise<void> => {
    await children.killAll();
    await proxy.close().catch(() => {});
    await database.drop();
    rmSync(journals, { recursive: true, force: true });
  };
  return { children, database, proxy, journals, end };
}

describe('database outages (postgres)', () => {
  let fake: FakeProvider;
  before(async () => { fake = await startFakeProvider(); });
  after(async () => { await fake.close(); });

  test('a connection reset while a query is in flight leaves the gateway process serving', async () => {
    const children = new Children();
    const database = await createTestDatabase('postgres');
    const proxy = await startPgProxy(database.url);
    const journals = mkdtempSync(join(tmpdir(), 'tollgate-outage-'));
    const locker = new pg.Client({ connectionString: database.url });
    try {
      const { gateway: gw, chat } = await apiAndGateway(children, database.url, proxy, journals, fake.url);
      assert.equal(await chat(), 200, gw.output().slice(-2000));
      // The gateway's next safety-net poll (every 2 s) held in flight by a lock, then the network path resets.
      await locker.connect();
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE state_changes IN ACCESS EXCLUSIVE MODE');
      await sleep(2500);
      proxy.reset();
      await locker.query('ROLLBACK');
      await sleep(1000);
      assert.equal(gw.proc.exitCode, null, `the gateway exited: ${gw.output().split('\n').filter((l) => /Error|terminated/.test(l)).slice(0, 3).join(' | ')}`);
      assert.equal(await chat(), 200);
    } finally {
      await locker.end().catch(() => {});
      await children.killAll();
      await proxy.close();
      await database.drop();
      rmSync(journals, { recursive: true, force: true });
    }
  });

  test('SIGTERM while the database is silently unreachable: the gateway exits, and its next start ships what the journal kept', async (t) => {
    const children = new Children();
    const database = await createTestDatabase('postgres');
    const proxy = await startPgProxy(database.url);
    const journals = mkdtempSync(join(tmpdir(), 'tollgate-outage-'));
    const store = await openStore(database.url, { migrate: false });
    try {
      const { gateway: gw, gatewayEnv: gwEnv, gatewayUrl: gwUrl, key, chat } = await apiAndGateway(children, database.url, proxy, journals, fake.url);
      assert.equal(await chat(), 200);
      // The key's own creation may reach this gateway after that first request (it drops the key from the cache, by
      // design): once every change is in (the 2 s safety-net poll at the latest), the key is cached for good.
      await sleep(2500);
      assert.equal(await chat(), 200);
      // The partition: answers are served from memory, their events wait in the journal for the store.
      proxy.blackhole();
      const statuses = await Promise.all(Array.from({ length: 10 }, chat));
      assert.deepEqual(statuses, Array(10).fill(200));
      const stopping = Date.now();
      gw.proc.kill('SIGTERM');
      const exited = await Promise.race([gw.exited.then((code) => `exit ${code}`), sleep(30_000).then(() => 'still running after 30 s')]);
      const tookMs = Date.now() - stopping;
      assert.equal(exited, 'exit 0', gw.output().slice(-2000));
      assert.ok(tookMs < 20_000, `stopped in ${tookMs} ms`);
      t.diagnostic(`SIGTERM → exit in ${tookMs} ms with the database silent`);
      assert.match(gw.output(), /left in the journal/);
      // The network heals; the next start on the same journal ships every event once.
      proxy.heal();
      proxy.reset();
      const again = children.spawn('gateway-again', ['gateway'], gwEnv);
      await waitHealthy(again, gwUrl);
      let rows: { id: string }[] = [];
      for (let i = 0; i < 50 && rows.length < 12; i++) {
        await sleep(200);
        rows = await store.db.selectFrom('usageEvents').select('id').where('accessKeyId', '=', key.id).execute();
      }
      assert.equal(rows.length, 12, 'the two warm-up requests and the ten served during the partition');
      assert.equal(new Set(rows.map((r) => r.id)).size, 12);
    } finally {
      await children.killAll();
      await store.close().catch(() => {});
      await proxy.close();
      await database.drop();
      rmSync(journals, { recursive: true, force: true });
    }
  });

  test('a key not in memory while the database is down or silent: ngrok\'s 27009 "try again later" within 2 s, never a hang', async () => {
    const children = new Children();
    const database = await createTestDatabase('postgres');
    const proxy = await startPgProxy(database.url);
    const journals = mkdtempSync(join(tmpdir(), 'tollgate-outage-'));
    try {
      const { gateway: gw, gatewayUrl, key } = await apiAndGateway(children, database.url, proxy, journals, fake.url);
      const ask = async (token: string) => {
        const started = Date.now();
        const r = await fetch(`${gatewayUrl}/v1/chat/completions`, {
          method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
        });
        const body = await r.json() as { error: { code: string; type: string } };
        return { status: r.status, code: body.error.code, ms: Date.now() - started };
      };
      // Silent (a partition): the lookup is given up after 2 s.
      proxy.blackhole();
      // Of a key's shape: only such a token is looked up (one of no key's shape is a 401 with no store read).
      const wrong = newAccessKeyToken();
      const silent = await ask(wrong);
      assert.deepEqual([silent.status, silent.code], [500, 'ERR_NGROK_27009']);
      assert.ok(silent.ms < 4000, `answered after ${silent.ms} ms`);
      // Down (connections refused): at once, for a wrong token and for a valid key not used since the start alike.
      proxy.heal();
      await proxy.close();
      for (const token of [wrong, key.token]) {
        const down = await ask(token);
        assert.deepEqual([down.status, down.code], [500, 'ERR_NGROK_27009']);
      }
      assert.doesNotMatch(gw.output(), /gateway request failed/, 'not logged as a gateway failure per request');
    } finally {
      await children.killAll();
      await proxy.close().catch(() => {});
      await database.drop();
      rmSync(journals, { recursive: true, force: true });
    }
  });

  test('billing on, an account whose balance was never read while the database is silent or down: ngrok\'s 27009 "try again later", not an internal error', async () => {
    const { children, database, proxy, journals, end } = await outageSetting();
    const store = await openStore(database.url, { migrate: false });
    try {
      const { gateway: gw, gatewayUrl, apiUrl, key } = await apiAndGateway(children, database.url, proxy, journals, fake.url, { TOLLGATE_BILLING: 'on' });
      // A second account, whose balance is read apart from the first's.
      const other = await createAccount(store.db, 'other');
      const otherKey = await (await fetch(`${apiUrl}/access-keys`, { method: 'POST', headers: { authorization: `Bearer ${other.apiKey.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'app' }) })).json() as { token: string };
      // Both keys in memory, no balance read: listing models authenticates without asking for credit. Once every
      // change is in (the 2 s safety-net poll at the latest), the keys are cached for good.
      const models = async (token: string) => (await fetch(`${gatewayUrl}/v1/models`, { headers: { authorization: `Bearer ${token}` } })).status;
      assert.deepEqual([await models(key.token), await models(otherKey.token)], [200, 200]);
      await sleep(2500);
      assert.deepEqual([await models(key.token), await models(otherKey.token)], [200, 200]);
      const ask = async (token: string) => {
        const r = await fetch(`${gatewayUrl}/v1/chat/completions`, {
          method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
        });
        const body = await r.json() as { error: { code: string; message: string } };
        return [r.status, body.error.code, body.error.message];
      };
      const unavailable = [500, 'ERR_NGROK_27009', 'ERR_NGROK_27009: Failed to read your account\'s credit balance. Please try again later.'];
      // Silent (a partition): the read is given up after 2 s, as a key's lookup is.
      proxy.blackhole();
      assert.deepEqual(await ask(key.token), unavailable);
      // Down (connections refused), another account's first read: the same (behind the silent read, which holds the
      // journal's fence until its connection is dropped, or failed at once).
      proxy.heal();
      await proxy.close();
      assert.deepEqual(await ask(otherKey.token), unavailable);
      assert.doesNotMatch(gw.output(), /gateway request failed/, 'not logged as a gateway failure per request');
    } finally {
      await store.close();
      await end();
    }
  });

  test('a key not in memory, of an account whose reload is slow, is served from the last snapshot like a cached one', async () => {
    const h = await startHarness('postgres');
    const locker = new pg.Client({ connectionString: h.database.url });
    try {
      const cfg = await h.configuration({ access: { models: { allow: ['openai/gpt-4o-mini'] } } });
      const [a, b] = [await h.accessKey(cfg), await h.accessKey(cfg)];
      await h.providerKey('openai', 'sk-snapshot');
      const chat = async (token: string) => (await fetch(`${h.gatewayUrl}/v1/chat/completions`, {
        method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
      })).status;
      assert.equal(await chat(a.token), 200);
      // A change under way whose reload waits (a table locked by a migration): key B was never used here.
      await locker.connect();
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE providers IN ACCESS EXCLUSIVE MODE');
      await h.api('PATCH', `/access-key-configurations/${cfg}`, { description: 'edited' });
      await sleep(200);
      const [ra, rb] = await Promise.all([chat(a.token), chat(b.token)]);
      await locker.query('ROLLBACK');
      assert.deepEqual([ra, rb], [200, 200]);
    } finally {
      await locker.end().catch(() => {});
      await h.close();
    }
  });

  test('a client that leaves while its key is looked up (a slow database) leaves no request behind: the gateway stops', async () => {
    const h = await startHarness('postgres');
    let stopped = false;
    const locker = new pg.Client({ connectionString: h.database.url });
    try {
      const key = await h.accessKey();
      // The key is not cached yet: its lookup waits on the locked table while the client gives up.
      await locker.connect();
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE access_keys IN ACCESS EXCLUSIVE MODE');
      const { port } = new URL(h.gatewayUrl);
      const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
      const socket = connect(Number(port), '127.0.0.1');
      socket.on('error', () => {});
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${key.token}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      await sleep(300);
      socket.destroy();
      await sleep(200);
      await locker.query('ROLLBACK');
      await sleep(500);
      const outcome = await Promise.race([h.running.stop().then(() => 'stopped'), sleep(10_000).then(() => 'still stopping after 10 s')]);
      stopped = outcome === 'stopped';
      assert.equal(outcome, 'stopped');
      assert.equal(h.fake.requests.length, 0, 'nothing was sent for a client that had left');
    } finally {
      await locker.end().catch(() => {});
      if (!stopped) await Promise.race([h.running.stop(), sleep(2000)]).catch(() => {});
      await h.fake.close();
      await h.database.drop();
    }
  });

  test('migrations are not held to the silence limit: a start waits out a peer migrating longer than it', async () => {
    const database = await createTestDatabase('postgres');
    const peer = new pg.Client({ connectionString: database.url });
    await peer.connect();
    try {
      // A peer process migrating (building an index over a big table) holds Kysely's migration lock.
      await peer.query(`select pg_advisory_lock(${KYSELY_MIGRATION_LOCK})`);
      const release = setTimeout(() => { void peer.query(`select pg_advisory_unlock(${KYSELY_MIGRATION_LOCK})`); }, 2500);
      const store = await openStore(database.url, { silentConnectionMs: 1000 }).catch((e: Error) => e);
      clearTimeout(release);
      assert.ok(!(store instanceof Error), `the start failed: ${store instanceof Error ? store.message : ''}`);
      await store.close();
    } finally {
      await peer.end();
      await database.drop();
    }
  });

  test('a statement waiting on a lock past the silence limit is ended by the server, leaving no backend behind', async () => {
    const database = await createTestDatabase('postgres');
    const store = await openStore(database.url, { silentConnectionMs: 2000 });
    const locker = new pg.Client({ connectionString: database.url });
    await locker.connect();
    try {
      // A migration building an index holds writes to usage_events; a gateway ships meanwhile.
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE usage_events IN SHARE MODE');
      const insert = await sql`INSERT INTO usage_events (id) VALUES ('ue_waiting') ON CONFLICT DO NOTHING`.execute(store.db).then(() => 'inserted', (e: Error) => e.message);
      assert.match(insert, /statement timeout|canceling statement/, 'the server ended it, with an answer');
      const waiting = await locker.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
      assert.equal(waiting.rows[0].n, 0, 'no backend left waiting for the lock');
      await locker.query('ROLLBACK');
    } finally {
      await locker.end().catch(() => {});
      await store.close();
      await database.drop();
    }
  });

  describe('gateway state', () => {
    let c: TestControl;
    before(async () => { c = await startControl('postgres'); });
    after(async () => { await c.close(); });

    test('a silently unreachable database: cached keys are served from the last snapshot while the resync hangs', async () => {
      const proxy = await startPgProxy(c.database.url);
      const store = await openStore(proxy.url, { migrate: false });
      // The minute's resync, every second here, so it runs during the partition.
      const state = new GatewayState({ store, secretBox: new SecretBox(c.config.masterKey), changes: new ChangeBus(store.db), logger: pino({ level: 'silent' }), resyncIntervalMs: 1000 });
      try {
        await state.start();
        const key = (await c.call('POST', '/access-keys', { name: 'partitioned' })).json() as { token: string };
        // The key's creation applied here first (it drops the key from the cache), then the key cached.
        await sleep(300);
        await state.poll();
        assert.ok(await state.authenticate(key.token));
        const cached = state.authenticate(key.token);
        assert.ok(cached && !(cached instanceof Promise), 'served from memory while the database answers');
        proxy.blackhole();
        await sleep(1500);
        const during = state.authenticate(key.token);
        const outcome = await Promise.race([Promise.resolve(during).then((k) => (k ? 'served' : 'refused')), sleep(3000).then(() => 'still waiting after 3 s')]);
        assert.equal(outcome, 'served');
      } finally {
        proxy.reset();
        await proxy.close();
        await state.close().catch(() => {});
        await store.close().catch(() => {});
      }
    });

    for (const [path, body] of [['/access-keys', { name: 'to revoke' }], ['/provider-keys', { providerId: 'openai', name: 'compromised', value: 'sk-compromised' }]] as const) {
    test(`a deletion (${path}) and its announcement commit together: a connection lost between them leaves neither`, async () => {
      const key = (await c.call('POST', path, body)).json() as { id: string };
      const locker = new pg.Client({ connectionString: c.database.url });
      await locker.connect();
      try {
        // The change log is held, as a long migration would; the deletion's connection is then lost.
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE state_changes IN ACCESS EXCLUSIVE MODE');
        const deletion = c.call('DELETE', `${path}/${key.id}`);
        await sleep(500);
        await locker.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`);
        const answer = await deletion;
        await locker.query('ROLLBACK');
        const gone = (await c.store.db.selectFrom(path === '/access-keys' ? 'accessKeys' : 'providerKeys').select('id').where('id', '=', key.id).executeTakeFirst()) === undefined;
        const changes = await c.store.db.selectFrom('stateChanges').select('seq').where('resourceId', '=', key.id).execute();
        // Created (one change); deleted only together with its second change.
        assert.equal(gone, changes.length === 2, `gone: ${gone}, changes recorded: ${changes.length}, answer ${answer.statusCode}`);
        if (!gone) assert.ok(answer.statusCode >= 500, 'a failed deletion is not reported as done');
      } finally {
        await locker.end().catch(() => {});
      }
    });
    }

    test('a credit grant (`tollgate credits grant`) and its announcement commit together: a connection lost between them leaves neither', async () => {
      const locker = new pg.Client({ connectionString: c.database.url });
      await locker.connect();
      const credits = () => c.store.db.selectFrom('creditTransactions').select('id').where('accountId', '=', c.accountId).where('type', '=', 'credits').execute();
      const grantsBefore = (await credits()).length;
      try {
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE state_changes IN ACCESS EXCLUSIVE MODE');
        const grant = creditsGrant(['grant', '--account', c.accountId, '--cents', '700', '--database-url', c.database.url]).then(() => 'granted', (e: Error) => e.message);
        await sleep(500);
        await locker.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`);
        const outcome = await grant;
        await locker.query('ROLLBACK');
        const granted = (await credits()).length - grantsBefore;
        const announced = (await c.store.db.selectFrom('stateChanges').select('seq').where('accountId', '=', c.accountId).where('kind', '=', 'credits').execute()).length;
        assert.equal(granted, announced, `grants made: ${granted}, announced: ${announced}, command: ${outcome}`);
        assert.equal(granted === 0, outcome !== 'granted', 'the command reports what happened');
      } finally {
        await locker.end().catch(() => {});
      }
    });

    test('a key whose lookup was given up during a partition is looked up afresh once the database answers', async () => {
      const proxy = await startPgProxy(c.database.url);
      const store = await openStore(proxy.url, { migrate: false });
      const state = new GatewayState({ store, secretBox: new SecretBox(c.config.masterKey), changes: new ChangeBus(store.db), logger: pino({ level: 'silent' }) });
      const outcome = async (found: unknown) => { try { return (await found) ? 'served' : 'unknown key'; } catch { return 'given up'; } };
      try {
        await state.start();
        const key = (await c.call('POST', '/access-keys', { name: 'partitioned lookup' })).json() as { token: string };
        await sleep(300);
        proxy.blackhole();
        assert.equal(await outcome(state.authenticate(key.token)), 'given up');
        proxy.heal();
        // Its first lookup is still stuck on a connection the partition left dead: the next request asks again.
        assert.equal(await outcome(state.authenticate(key.token)), 'served');
      } finally {
        proxy.reset();
        await proxy.close();
        await state.close().catch(() => {});
        await store.close().catch(() => {});
      }
    });

    test('after a partition heals, a revocation reaches the gateway within seconds (not when TCP gives up on the dead connections)', async (t) => {
      const proxy = await startPgProxy(c.database.url);
      // Connections silent for 3 s are dropped here (30 s by default).
      const store = await openStore(proxy.url, { migrate: false, silentConnectionMs: 3000 });
      const state = new GatewayState({ store, secretBox: new SecretBox(c.config.masterKey), changes: new ChangeBus(store.db), logger: pino({ level: 'silent' }), pollIntervalMs: 250 });
      try {
        await state.start();
        const key = (await c.call('POST', '/access-keys', { name: 'revoked after the partition' })).json() as { id: string; token: string };
        await sleep(600);
        await state.poll();
        assert.ok(await state.authenticate(key.token));
        // Partitioned while the gateway polls (every 250 ms here): queries are sent and never answered.
        proxy.blackhole();
        await sleep(1500);
        proxy.heal();
        assert.equal((await c.call('DELETE', `/access-keys/${key.id}`)).statusCode, 204);
        const healed = Date.now();
        let revoked = false;
        while (!revoked && Date.now() - healed < 90_000) {
          await sleep(250);
          try { revoked = (await state.authenticate(key.token)) === null; } catch { /* a lookup given up: ask again */ }
        }
        t.diagnostic(`revocation applied ${Date.now() - healed} ms after the network healed`);
        // Within the silence limit plus a poll or two, far before the minute's resync would apply it.
        assert.ok(revoked && Date.now() - healed < 10_000, `revoked: ${revoked} after ${Date.now() - healed} ms`);
      } finally {
        proxy.reset();
        await proxy.close();
        await state.close().catch(() => {});
        await store.close().catch(() => {});
      }
    });

    test('a change whose reload failed once (a table locked past lock_timeout) is applied by the next poll', async () => {
      const dbName = new URL(c.database.url).pathname.slice(1);
      // The gateway's sessions give up on a lock after 200 ms, as production settings often have them.
      await sql.raw(`ALTER DATABASE ${dbName} SET lock_timeout = '200ms'`).execute(c.store.db);
      const gwStore = await openStore(c.database.url, { migrate: false });
      const state = new GatewayState({ store: gwStore, secretBox: new SecretBox(c.config.masterKey), changes: new ChangeBus(gwStore.db), logger: pino({ level: 'silent' }) });
      const locker = new pg.Client({ connectionString: c.database.url });
      try {
        await state.start();
        const cfg = (await c.call('POST', '/access-key-configurations', { name: 'mini', access: { models: { allow: ['openai/gpt-4o-mini'] } } })).json() as { id: string };
        const key = (await c.call('POST', '/access-keys', { name: 'locked', accessKeyConfigurationId: cfg.id })).json() as { token: string };
        const found = await state.authenticate(key.token);
        assert.deepEqual(state.configuration(found!)!.access, { models: { allow: ['openai/gpt-4o-mini'] } });
        await locker.connect();
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE providers IN ACCESS EXCLUSIVE MODE');
        await c.call('PATCH', `/access-key-configurations/${cfg.id}`, { access: { models: { allow: ['openai/gpt-4o'] } } }).catch(() => undefined);
        await sleep(1000);
        await locker.query('ROLLBACK');
        const start = Date.now();
        let applied = false;
        while (!applied && Date.now() - start < 5000) {
          applied = JSON.stringify(state.configuration((await state.authenticate(key.token))!)?.access) === JSON.stringify({ models: { allow: ['openai/gpt-4o'] } });
          if (!applied) await sleep(100);
        }
        assert.ok(applied, 'the narrowed scope reached the gateway once the lock was released');
      } finally {
        await sql.raw(`ALTER DATABASE ${dbName} RESET lock_timeout`).execute(c.store.db);
        await locker.end().catch(() => {});
        await state.close();
        await gwStore.close();
      }
    });
  });
});
