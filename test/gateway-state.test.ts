// The gateway's in-memory state on both stores: cached authentication, immediate revocation, changes from
// other processes (rows only in state_changes), decrypted provider keys, snapshots read consistently, lastUsed
// flushing.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import pino, { type Logger } from 'pino';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { CamelCasePlugin, Kysely, PostgresDialect, SqliteDialect, sql, type KyselyPlugin, type LogEvent, type PluginTransformQueryArgs, type PluginTransformResultArgs, type QueryResult, type RootOperationNode, type UnknownRow } from 'kysely';
import { STORE_KINDS, type StoreKind } from './helpers/stores.ts';
import { LineCapture } from './helpers/log-capture.ts';
import { accountAndIdSeal } from './helpers/legacy-seal.ts';
import { startControl, type TestControl } from './helpers/control.ts';
import { GatewayState, MAX_KEY_LOOKUPS, MAX_KEY_LOOKUPS_WAITING } from '../src/state/gateway-state.ts';
import { INDEX_PAGE } from '../src/state/key-index-upkeep.ts';
import { PlaygroundTokens } from '../src/domain/playground-token.ts';
import { SecretBox } from '../src/domain/secret-box.ts';
import { newAccessKeyToken, newId, redactSecret, sha256Hex } from '../src/domain/ids.ts';
import { patchGatewaySettings, writeGatewaySettings } from '../src/store/gateway-config.ts';
import type { AccountSnapshot, AuthenticatedKey } from '../src/state/types.ts';
import { loadAccountSnapshot } from '../src/state/snapshot-loader.ts';
import { mcpSecretProvider } from '../src/domain/mcp-server.ts';
import { parseDatabaseUrl } from '../src/store/database.ts';
import type { Database } from '../src/store/schema.ts';
import { pruneStateChanges, STATE_CHANGES_RETENTION_MS } from '../src/store/state-changes.ts';

function newState(c: TestControl, pollIntervalMs = 100): GatewayState {
  return new GatewayState({ store: c.store, secretBox: new SecretBox(c.config.masterKey), changes: c.changes, logger: pino({ level: 'silent' }), pollIntervalMs, flushIntervalMs: 60_000 });
}

async function createKey(c: TestControl, body: Record<string, unknown> = { name: 'app' }): Promise<{ id: string; token: string }> {
  const res = await c.call('POST', '/access-keys', body);
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as { id: string; token: string };
}

/**
 * Counts the lookups of an access key by its token's hash a state sends its store (not the key index's reads by id):
 * how many in all, and the most under way at once. With `delayMs`, each one's answer comes that much late, as a busy
 * store's does (the connection is free meanwhile).
 */
class KeyReads implements KyselyPlugin {
  started = 0;
  running = 0;
  most = 0;
  readonly #ours = new WeakSet<object>();
  readonly #delayMs: number;

  constructor(delayMs = 0) {
    this.#delayMs = delayMs;
  }

  transformQuery({ node, queryId }: PluginTransformQueryArgs): RootOperationNode {
    if (node.kind === 'SelectQueryNode' && JSON.stringify(node.from).includes('access_keys') && JSON.stringify(node.where ?? null).includes('token_hash')) {
      this.#ours.add(queryId);
      this.started++;
      this.most = Math.max(this.most, ++this.running);
    }
    return node;
  }

  async transformResult({ result, queryId }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    if (!this.#ours.delete(queryId)) return result;
    if (this.#delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.#delayMs));
    this.running--;
    return result;
  }
}

/** Runs `check` against a started gateway state whose access-key reads `reads` counts, taking Playground tokens of `grants`. */
async function withCountedReads(kind: StoreKind, check: (c: TestControl, state: GatewayState, reads: KeyReads, grants: PlaygroundTokens) => Promise<void>, options: { readDelayMs?: number; logger?: Logger; resyncIntervalMs?: number; pollIntervalMs?: number; dataVersionIntervalMs?: number; plugins?: KyselyPlugin[] } = {}): Promise<void> {
  const c = await startControl(kind);
  const reads = new KeyReads(options.readDelayMs);
  const grants = new PlaygroundTokens(c.config.masterKey);
  let db = c.store.db.withPlugin(reads);
  for (const plugin of options.plugins ?? []) db = db.withPlugin(plugin);
  const state = new GatewayState({
    store: { ...c.store, db }, secretBox: new SecretBox(c.config.masterKey), changes: c.changes,
    logger: options.logger ?? pino({ level: 'silent' }), pollIntervalMs: options.pollIntervalMs ?? 100, flushIntervalMs: 60_000, playgroundTokens: grants,
    ...(options.resyncIntervalMs !== undefined ? { resyncIntervalMs: options.resyncIntervalMs } : {}),
    ...(options.dataVersionIntervalMs !== undefined ? { dataVersionIntervalMs: options.dataVersionIntervalMs } : {}),
  });
  try {
    await state.start();
    await check(c, state, reads, grants);
  } finally {
    await state.close();
    await c.close();
  }
}

/**
 * Holds back each page of the key index's read of the whole table (not the reads by id) `delayMs` once `delayMs` is
 * set, as a million keys' pages take seconds; counts the pages asked, and the resync's counts of the table.
 */
class SlowIndexPages implements KyselyPlugin {
  delayMs = 0;
  started = 0;
  counts = 0;
  readonly #ours = new WeakSet<object>();

  transformQuery({ node, queryId }: PluginTransformQueryArgs): RootOperationNode {
    const text = JSON.stringify(node);
    if (node.kind === 'SelectQueryNode' && text.includes('access_keys') && text.includes('"func":"count"')) this.counts++;
    if (node.kind === 'SelectQueryNode' && JSON.stringify(node.from).includes('access_keys') && node.limit !== undefined && node.orderBy !== undefined) {
      this.#ours.add(queryId);
      this.started++;
    }
    return node;
  }

  async transformResult({ result, queryId }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    if (this.#ours.delete(queryId) && this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    return result;
  }
}

/** Polls `check` until it holds, failing after `ms`; returns the time it took. */
async function within(ms: number, check: () => boolean | Promise<boolean>): Promise<number> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > ms) assert.fail(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - start;
}

/** Simulates a change made by another process: the row only, no in-process event. */
async function foreignChange(c: TestControl, kind: string, resourceId: string, accountId = c.accountId): Promise<void> {
  await c.store.db.insertInto('stateChanges').values({ accountId, kind, resourceId, createdAt: new Date().toISOString() }).execute();
}

/** Runs `check` against a started gateway state that has loaded the account (one of its keys authenticated). */
async function withLoadedAccount(kind: StoreKind, check: (c: TestControl, state: GatewayState, key: { id: string; token: string }) => Promise<void>): Promise<void> {
  const c = await startControl(kind);
  const state = newState(c, 250);
  try {
    await state.start();
    const key = await createKey(c);
    assert.ok(await state.authenticate(key.token));
    await check(c, state, key);
  } finally {
    await state.close();
    await c.close();
  }
}

/** `count` keys inserted by hand (no change recorded), a thousand rows a statement. */
async function insertKeysDirectly(c: TestControl, count: number): Promise<{ id: string; token: string }[]> {
  const keys: { id: string; token: string }[] = [];
  const now = new Date().toISOString();
  for (let i = 0; i < count; i += 1000) {
    const batch = Array.from({ length: Math.min(1000, count - i) }, () => ({ id: newId('accessKey'), token: newAccessKeyToken() }));
    await c.store.db.insertInto('accessKeys').values(batch.map(({ id, token }) => ({
      id, accountId: c.accountId, name: 'bulk', description: null, metadata: null, tokenHash: sha256Hex(token), keyRedacted: redactSecret(token),
      configurationId: null, lastUsed: null, createdAt: now, updatedAt: now, createdBy: 'test', lastUpdatedBy: 'test',
    }))).execute();
    keys.push(...batch);
  }
  return keys;
}

async function insertKeyDirectly(c: TestControl): Promise<{ id: string; token: string }> {
  const token = newAccessKeyToken();
  const id = newId('accessKey');
  const now = new Date().toISOString();
  await c.store.db.insertInto('accessKeys').values({
    id, accountId: c.accountId, name: 'cli', description: null, metadata: null, tokenHash: sha256Hex(token), keyRedacted: redactSecret(token),
    configurationId: null, lastUsed: null, createdAt: now, updatedAt: now, createdBy: 'test', lastUpdatedBy: 'test',
  }).execute();
  return { id, token };
}

for (const kind of STORE_KINDS) {
  describe(`gateway state on ${kind}`, () => {
    test('authentication is cached, positive and negative', async () => {
      const c = await startControl(kind);
      const state = newState(c);
      try {
        await state.start();
        const key = await createKey(c);
        const first = state.authenticate(key.token);
        assert.ok(first instanceof Promise, 'first lookup loads from the store');
        const loaded = await first;
        assert.equal(loaded?.id, key.id);
        assert.equal(loaded?.accountId, c.accountId);
        assert.equal(loaded?.configurationId, null);
        const second = state.authenticate(key.token);
        assert.ok(!(second instanceof Promise), 'second lookup is synchronous');
        assert.equal((second as AuthenticatedKey).id, key.id);
        assert.equal(state.account(c.accountId).accountId, c.accountId);
        assert.equal(state.configuration(second as AuthenticatedKey), null);

        const unknown = newAccessKeyToken();
        assert.equal(await state.authenticate(unknown), null);
        assert.equal(await state.authenticate(unknown), null, 'still unknown when asked again');
        assert.equal(state.authenticate(''), null);
      } finally {
        await state.close();
        await c.close();
      }
    });

    test('a token no access key can have costs no store read, nor does a well-shaped one no key has, as a Playground token that does not verify costs none', async () => {
      await withCountedReads(kind, async (c, state, reads, grants) => {
        const key = await createKey(c);
        const playground = grants.mint(c.accountId, key.id).token;
        const garbage = ['x', 'ng-unknown-token', `${newAccessKeyToken()}x`, 'tgapi_notakey', 'Bearer ng-', 'é'.repeat(60), 'tgpg_garbage', `${playground.slice(0, -3)}AAA`];
        for (const token of garbage) assert.equal(state.authenticate(token), null, `${token} is refused at once`);
        assert.equal(reads.started, 0, 'no access-key read for tokens that cannot be a key');
        // A well-shaped token no key has is refused from the key index, and a genuine Playground token is served.
        assert.equal(await state.authenticate(newAccessKeyToken()), null);
        assert.equal(reads.started, 0, 'no lookup for a token the key index does not hold');
        assert.equal((await state.authenticate(playground))?.id, key.id);
      });
    });

    test('during a flood of made-up access keys, none costs a store read, and a key not in memory yet is served, as are keys in memory', async () => {
      await withCountedReads(kind, async (c, state, reads) => {
        // Made through the API: in the key index, not in memory (as every key is right after a restart).
        const fresh = await createKey(c);
        const cached = await createKey(c);
        assert.equal((await state.authenticate(cached.token))?.id, cached.id);
        const before = reads.started;
        // More than the lookups that may run and wait (which, made-up tokens filling them, left a real key 27009).
        const size = 2 * (MAX_KEY_LOOKUPS + MAX_KEY_LOOKUPS_WAITING);
        const flood = Array.from({ length: size }, () => state.authenticate(newAccessKeyToken()));
        const served = state.authenticate(fresh.token);
        const inMemory = state.authenticate(cached.token);
        flood.push(...Array.from({ length: size }, () => state.authenticate(newAccessKeyToken())));
        assert.ok(!(inMemory instanceof Promise) && inMemory?.id === cached.id, 'a cached key is answered at once during the flood');
        assert.equal((await served)?.id, fresh.id, 'the key not in memory is served during the flood');
        const answers = await Promise.allSettled(flood);
        assert.ok(answers.every((a) => a.status === 'fulfilled' && a.value === null), 'each made-up key is unknown (401), none "try again later"');
        assert.equal(reads.started - before, 1, 'one lookup: the real key\'s');
      });
    });

    test('the key index stays exact over churn: keys deleted here or elsewhere are refused without a lookup, live, updated and re-created keys are served', async () => {
      await withCountedReads(kind, async (c, state, reads) => {
        const keys: { id: string; token: string }[] = [];
        for (let i = 0; i < 12; i++) keys.push(await createKey(c));
        const cfg = (await c.call('POST', '/access-key-configurations', { name: 'cfg' })).json() as { id: string };
        const deletedHere = keys.slice(0, 4);
        const deletedElsewhere = keys.slice(4, 6);
        const updated = keys.slice(6, 8);
        const recreated = keys[8]!;
        const live = [...updated, recreated, ...keys.slice(9)];
        for (const key of deletedHere) assert.equal((await c.call('DELETE', `/access-keys/${key.id}`)).statusCode, 204);
        for (const key of updated) assert.equal((await c.call('PATCH', `/access-keys/${key.id}`, { name: 'renamed', accessKeyConfigurationId: cfg.id })).statusCode, 200);
        // Another process deletes two keys and deletes then re-creates a third (its row back with the same token).
        const row = await c.store.db.selectFrom('accessKeys').selectAll().where('id', '=', recreated.id).executeTakeFirstOrThrow();
        for (const key of [...deletedElsewhere, recreated]) {
          await c.store.db.deleteFrom('accessKeys').where('id', '=', key.id).execute();
          await foreignChange(c, 'accessKey', key.id);
        }
        await c.store.db.insertInto('accessKeys').values(row).execute();
        await foreignChange(c, 'accessKey', recreated.id);
        // A key created elsewhere last: served once its change is applied, and with it every one before it.
        const last = await insertKeyDirectly(c);
        await foreignChange(c, 'accessKey', last.id);
        await within(10_000, async () => (await state.authenticate(last.token))?.id === last.id);
        const before = reads.started;
        for (const key of [...deletedHere, ...deletedElsewhere]) assert.equal(await state.authenticate(key.token), null);
        assert.equal(reads.started, before, 'no lookup for a deleted key: the index dropped it');
        for (const key of live) assert.equal((await state.authenticate(key.token))?.id, key.id);
        assert.equal((await state.authenticate(updated[0]!.token))?.configurationId, cfg.id);
      });
    });

    test('a key inserted or deleted by hand (no change recorded) is found by the resync: the index is read again when its size differs from the store', async () => {
      await withCountedReads(kind, async (c, state, reads) => {
        const gone = await createKey(c);
        assert.ok(await state.authenticate((await createKey(c)).token));
        await c.store.db.deleteFrom('accessKeys').where('id', '=', gone.id).execute();
        const inserted = [await insertKeyDirectly(c), await insertKeyDirectly(c)];
        await within(10_000, async () => (await state.authenticate(inserted[0]!.token))?.id === inserted[0]!.id);
        assert.equal((await state.authenticate(inserted[1]!.token))?.id, inserted[1]!.id);
        const before = reads.started;
        assert.equal(await state.authenticate(gone.token), null);
        assert.equal(reads.started, before, 'no lookup for the key deleted by hand');
      }, { resyncIntervalMs: 200 });
    });

    test('while the resync reads the whole key index again (seconds for a million keys), a key just created here or elsewhere is served and a made-up token is refused as unknown, not "try again later"', async () => {
      const pages = new SlowIndexPages();
      await withCountedReads(kind, async (c, state) => {
        assert.ok(await state.authenticate((await createKey(c)).token));
        // Three pages' worth, inserted by hand: read again (at once) by the resync, which finds the index's size unlike the table's.
        const many = await insertKeysDirectly(c, 2 * INDEX_PAGE + 1);
        await within(10_000, async () => (await state.authenticate(many.at(-1)!.token))?.id === many.at(-1)!.id);
        // One more: read again whole, each of its three pages answered a second late (a million keys' 100 pages take seconds).
        pages.delayMs = 1000;
        const before = pages.started;
        const byHand = await insertKeyDirectly(c);
        await within(10_000, () => pages.started > before);
        const here = await createKey(c);
        const elsewhere = await insertKeyDirectly(c);
        await foreignChange(c, 'accessKey', elsewhere.id);
        const answers = await Promise.allSettled([state.authenticate(here.token), state.authenticate(elsewhere.token), state.authenticate(newAccessKeyToken())]);
        assert.deepEqual(answers.map((a) => (a.status === 'fulfilled' ? a.value?.id ?? null : String(a.reason))), [here.id, elsewhere.id, null]);
        await within(10_000, async () => (await state.authenticate(byHand.token))?.id === byHand.id);
      }, { resyncIntervalMs: 200, plugins: [pages] });
    });

    test('keys created and deleted elsewhere whose changes are not applied here yet do not make the resync read the whole key index again; a key inserted by hand meanwhile is still found', async () => {
      const pages = new SlowIndexPages();
      await withCountedReads(kind, async (c, state) => {
        // Made elsewhere too, and applied by the catch-up of its first request: no poll is left to come (a key made
        // here would be announced, and on PostgreSQL the poll its NOTIFY wakes could read the changes below).
        const gone = await insertKeyDirectly(c);
        await foreignChange(c, 'accessKey', gone.id);
        assert.equal((await state.authenticate(gone.token))?.id, gone.id);
        const before = pages.started;
        // Another process creates two keys and deletes one, each change recorded; this gateway has not polled since
        // (on a busy deployment, the moment between their commits and its next poll, at every resync).
        const elsewhere = [await insertKeyDirectly(c), await insertKeyDirectly(c)];
        for (const key of elsewhere) await foreignChange(c, 'accessKey', key.id);
        await c.store.db.deleteFrom('accessKeys').where('id', '=', gone.id).execute();
        await foreignChange(c, 'accessKey', gone.id);
        // Two counts: one begun after all of them.
        const counted = pages.counts;
        await within(10_000, () => pages.counts >= counted + 2);
        assert.equal(pages.started, before, 'no page read again: the count agrees with the index and the changes it has not applied');
        // Applied by the next poll (on SQLite these writes share the gateway's connection: data_version does not move).
        await state.poll();
        for (const key of elsewhere) assert.equal((await state.authenticate(key.token))?.id, key.id);
        assert.equal(await state.authenticate(gone.token), null);
        // A key inserted by hand, while another created elsewhere is not applied yet: the index is read again.
        const more = await insertKeyDirectly(c);
        await foreignChange(c, 'accessKey', more.id);
        const byHand = await insertKeyDirectly(c);
        await within(10_000, () => pages.started > before);
        await within(10_000, async () => (await state.authenticate(byHand.token))?.id === byHand.id);
        assert.equal((await state.authenticate(more.token))?.id, more.id);
      }, { resyncIntervalMs: 200, pollIntervalMs: 60_000, dataVersionIntervalMs: 60_000, plugins: [pages] });
    });

    test('a key created while the gateway starts (its index being read, before it hears changes) is served once it has started', async () => {
      const c = await startControl(kind);
      const pages = new SlowIndexPages();
      pages.delayMs = 300;
      // No poll on a timer (production's first is 2 s after the start): the request alone must find the key.
      const state = new GatewayState({
        store: { ...c.store, db: c.store.db.withPlugin(pages) }, secretBox: new SecretBox(c.config.masterKey), changes: c.changes,
        logger: pino({ level: 'silent' }), pollIntervalMs: 60_000, flushIntervalMs: 60_000,
      });
      try {
        const starting = state.start();
        await within(10_000, () => pages.started > 0);
        const key = await createKey(c);
        await starting;
        assert.equal((await state.authenticate(key.token))?.id, key.id);
        assert.equal(await state.authenticate(newAccessKeyToken()), null);
      } finally {
        await state.close();
        await c.close();
      }
    });

    test('a deleted key is refused on the very next request; a new key works at once', async () => {
      const c = await startControl(kind);
      const state = newState(c, 60_000); // only the in-process bus can make this pass
      try {
        await state.start();
        const key = await createKey(c);
        assert.equal((await state.authenticate(key.token))?.id, key.id);
        assert.equal((await c.call('DELETE', `/access-keys/${key.id}`)).statusCode, 204);
        assert.equal(await state.authenticate(key.token), null);

        const fresh = newAccessKeyToken();
        assert.equal(await state.authenticate(fresh), null);
        const created = await createKey(c);
        assert.equal((await state.authenticate(created.token))?.id, created.id);
      } finally {
        await state.close();
        await c.close();
      }
    });

    test('changes recorded only in state_changes (another process) are applied by the poll', async () => {
      await withLoadedAccount(kind, async (c, state, key) => {
        assert.equal(state.account(c.accountId).settings.maxOutputTokens, null);

        // Settings written by another process.
        await patchGatewaySettings(c.store.db, c.accountId, { maxOutputTokens: 321 });
        await foreignChange(c, 'gatewayConfig', c.accountId);
        // Bounds on conditions only, generous for a loaded machine: the poll runs every 100 ms here.
        await within(10_000, () => state.account(c.accountId).settings.maxOutputTokens === 321);

        // A key deleted by another process (e.g. the CLI).
        await c.store.db.deleteFrom('accessKeys').where('id', '=', key.id).execute();
        assert.ok(state.authenticate(key.token), 'still cached until the change is seen');
        await foreignChange(c, 'accessKey', key.id);
        await within(10_000, async () => (await state.authenticate(key.token)) === null);

        // A key created by another process while its token sits in the negative cache.
        const direct = await insertKeyDirectly(c);
        await c.store.db.deleteFrom('accessKeys').where('id', '=', direct.id).execute();
        assert.equal(await state.authenticate(direct.token), null);
        await c.store.db.insertInto('accessKeys').values({
          id: direct.id, accountId: c.accountId, name: 'cli', description: null, metadata: null, tokenHash: sha256Hex(direct.token),
          keyRedacted: '***', configurationId: null, lastUsed: null, createdAt: new Date().toISOString(), updatedAt: new Date().toISOString(), createdBy: 't', lastUpdatedBy: 't',
        }).execute();
        await foreignChange(c, 'accessKey', direct.id);
        await within(10_000, async () => (await state.authenticate(direct.token))?.id === direct.id);

        // A virtual model renamed and retargeted by another process (another node's control plane).
        const virtual = (await c.call('POST', '/virtual-models', { name: 'chat-default', targets: ['gpt-4o'] })).json() as { id: string };
        assert.ok(await state.authenticate(direct.token));
        assert.deepEqual(state.account(c.accountId).virtualModels.get('chat-default')?.targets, ['gpt-4o']);
        await c.store.db.updateTable('virtualModels').set({ name: 'Chat-Main', nameKey: 'chat-main', targets: JSON.stringify(['claude-sonnet-4-6', 'gpt-4o']) }).where('id', '=', virtual.id).execute();
        await foreignChange(c, 'virtualModel', virtual.id);
        await within(10_000, () => state.account(c.accountId).virtualModels.get('chat-main')?.name === 'Chat-Main');
        assert.deepEqual(state.account(c.accountId).virtualModels.get('chat-main')?.targets, ['claude-sonnet-4-6', 'gpt-4o']);
        assert.equal(state.account(c.accountId).virtualModels.has('chat-default'), false);
      });
    });

    test('changes pruned from the log before this gateway read them (cut off from the store for over an hour) are applied as it reads the log again, not by the next minute\'s resync: a key deleted meanwhile is refused, one created meanwhile served', async () => {
      const c = await startControl(kind);
      const pages = new SlowIndexPages();
      // Only the polls this test runs read the log: no timer fires within it, no push arrives (SQLite's data_version is
      // not read, the PostgreSQL listener's server does not exist), and changes made here (the bus) apply at once.
      const state = new GatewayState({
        store: { ...c.store, db: c.store.db.withPlugin(pages) }, secretBox: new SecretBox(c.config.masterKey), changes: c.changes, logger: pino({ level: 'silent' }),
        pollIntervalMs: 60_000, resyncIntervalMs: 60_000, dataVersionIntervalMs: 60_000, flushIntervalMs: 60_000,
        ...(kind === 'postgres' ? { listenUrl: 'postgres://tollgate@127.0.0.1:1/nowhere' } : {}),
      });
      try {
        await state.start();
        const revoked = await createKey(c);
        assert.equal((await state.authenticate(revoked.token))?.id, revoked.id);
        await state.poll();
        // A seq skipped with the log intact (a rolled-back change, here a row deleted) is only a gap: the key index,
        // a million keys' pages, is not read again.
        await foreignChange(c, 'gatewayConfig', c.accountId);
        const newest = await c.store.db.selectFrom('stateChanges').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirstOrThrow();
        await c.store.db.deleteFrom('stateChanges').where('seq', '=', newest.seq!).execute();
        await foreignChange(c, 'gatewayConfig', c.accountId);
        const pagesRead = pages.started;
        await state.poll();
        assert.equal(pages.started, pagesRead);
        // Meanwhile, elsewhere: a key deleted and another created, each with its change; a later change; then an hour
        // passes, and the pruning leaves only the newest row.
        await c.store.db.deleteFrom('accessKeys').where('id', '=', revoked.id).execute();
        await foreignChange(c, 'accessKey', revoked.id);
        const created = await insertKeyDirectly(c);
        await foreignChange(c, 'accessKey', created.id);
        await foreignChange(c, 'gatewayConfig', c.accountId);
        assert.ok(await pruneStateChanges(c.store.db, STATE_CHANGES_RETENTION_MS, Date.now() + STATE_CHANGES_RETENTION_MS + 60_000) >= 2);
        await state.poll();
        await within(10_000, async () => (await state.authenticate(revoked.token)) === null);
        await within(10_000, async () => (await state.authenticate(created.token))?.id === created.id);
      } finally {
        await state.close();
        await c.close();
      }
    });

    test('a Firewall policy reaches the snapshot as it is created, attached, changed (here or by another process), detached and deleted', async () => {
      await withLoadedAccount(kind, async (c, state) => {
        const snap = () => state.account(c.accountId);
        assert.equal(snap().firewallPolicies.size, 0);
        assert.equal(snap().settings.firewallPolicyId ?? null, null);

        const rule = { name: 'Force push', tier: 'hardDeny', type: 'regex', phase: 'response', pattern: 'push --force' };
        const created = await c.call('POST', '/firewall-policies', { name: 'guard', mode: 'audit', onError: 'log', environment: ['CI runner'], rules: [rule] });
        assert.equal(created.statusCode, 201, created.body);
        const policy = created.json() as { id: string };
        await within(1000, () => snap().firewallPolicies.has(policy.id));
        assert.deepEqual(snap().firewallPolicies.get(policy.id), { id: policy.id, name: 'guard', mode: 'audit', onError: 'log', environment: ['CI runner'], rules: [rule] });

        // Attached to every key (the gateway config) and to one configuration's keys.
        assert.equal((await c.call('PATCH', '/gateway-config', { firewallPolicyId: policy.id })).statusCode, 200);
        await within(1000, () => snap().settings.firewallPolicyId === policy.id);
        const configuration = (await c.call('POST', '/access-key-configurations', { name: 'agents', firewallPolicyId: policy.id })).json() as { id: string };
        await within(1000, () => snap().configurations.get(configuration.id)?.firewallPolicyId === policy.id);

        const allowed = { name: 'Git tools', tier: 'allow', type: 'toolNames', phase: 'request', reads: ['toolDefinitions'], toolNames: ['git_*'] };
        assert.equal((await c.call('PATCH', `/firewall-policies/${policy.id}`, { mode: 'enforce', rules: [rule, allowed] })).statusCode, 200);
        await within(1000, () => snap().firewallPolicies.get(policy.id)?.mode === 'enforce');
        assert.deepEqual(snap().firewallPolicies.get(policy.id)?.rules, [rule, allowed]);

        // Changed by another process (another node's control plane): only the state_changes row tells.
        await c.store.db.updateTable('firewallPolicies').set({ name: 'guard 2', onError: 'block', environment: JSON.stringify([]) }).where('id', '=', policy.id).execute();
        await foreignChange(c, 'firewallPolicy', policy.id);
        await within(1000, () => snap().firewallPolicies.get(policy.id)?.name === 'guard 2');
        assert.deepEqual([snap().firewallPolicies.get(policy.id)?.onError, snap().firewallPolicies.get(policy.id)?.environment], ['block', []]);

        assert.equal((await c.call('PATCH', '/gateway-config', { firewallPolicyId: null })).statusCode, 200);
        await within(1000, () => snap().settings.firewallPolicyId === null);
        assert.equal((await c.call('PATCH', `/access-key-configurations/${configuration.id}`, { firewallPolicyId: null })).statusCode, 200);
        await within(1000, () => snap().configurations.get(configuration.id)?.firewallPolicyId === null);
        assert.equal((await c.call('DELETE', `/firewall-policies/${policy.id}`)).statusCode, 204);
        await within(1000, () => !snap().firewallPolicies.has(policy.id));
      });
    });

    test('an MCP server reaches the snapshot as it is created, changed (here or by another process) and deleted, with its secret and the access allow lists', async () => {
      await withLoadedAccount(kind, async (c, state) => {
        const snap = () => state.account(c.accountId);
        assert.equal(snap().mcpServers.size, 0);

        const auth = { type: 'secret', in: 'header', name: 'Authorization', prefix: 'Bearer ' };
        const created = await c.call('POST', '/mcp-servers', { label: 'docs', upstreamUrl: 'https://docs.example.com/mcp', auth });
        assert.equal(created.statusCode, 201, created.body);
        const server = created.json() as { id: string };
        await within(1000, () => snap().mcpServers.has(server.id));
        assert.deepEqual(snap().mcpServers.get(server.id), { id: server.id, label: 'docs', upstreamUrl: 'https://docs.example.com/mcp', auth });

        // Its secret, a provider key of provider mcp:<label>, is in the same snapshot, opened.
        assert.equal((await c.call('POST', '/provider-keys', { providerId: mcpSecretProvider('docs'), name: 'docs token', value: 'docs-secret-1234' })).statusCode, 201);
        await within(1000, () => snap().providerKeysByProvider.has('mcp:docs'));
        assert.equal(snap().providerKeysByProvider.get('mcp:docs')?.[0]?.value, 'docs-secret-1234');

        assert.equal((await c.call('PATCH', `/mcp-servers/${server.id}`, { upstreamUrl: 'https://docs.example.com/v2', auth: { type: 'forwardHeaders', headers: ['X-Tenant'] } })).statusCode, 200);
        await within(1000, () => snap().mcpServers.get(server.id)?.upstreamUrl === 'https://docs.example.com/v2');
        assert.deepEqual(snap().mcpServers.get(server.id)?.auth, { type: 'forwardHeaders', headers: ['X-Tenant'] });

        // Changed by another process (another node's control plane): only the state_changes row tells.
        await c.store.db.updateTable('mcpServers').set({ auth: JSON.stringify({ type: 'oauthPassthrough' }) }).where('id', '=', server.id).execute();
        await foreignChange(c, 'mcpServer', server.id);
        await within(1000, () => snap().mcpServers.get(server.id)?.auth.type === 'oauthPassthrough');

        // A configuration's MCP allow lists ride in its access scope.
        const access = { mcpServers: { allow: ['docs'] }, mcpTools: { allow: ['docs/search', 'docs/get_*'] } };
        const configuration = (await c.call('POST', '/access-key-configurations', { name: 'agents', access })).json() as { id: string };
        await within(1000, () => snap().configurations.has(configuration.id));
        assert.deepEqual(snap().configurations.get(configuration.id)?.access, access);

        assert.equal((await c.call('DELETE', `/mcp-servers/${server.id}`)).statusCode, 204);
        await within(1000, () => !snap().mcpServers.has(server.id));
      });
    });

    test("a reload never waits for the account's balance (a sum over its whole usage history)", async () => {
      const c = await startControl(kind);
      let reads = 0;
      let answer: ((pico: bigint) => void) | undefined;
      // A balance read that takes as long as the test wants: a large account's usage sum.
      const state = new GatewayState({
        store: c.store, secretBox: new SecretBox(c.config.masterKey), changes: c.changes, logger: pino({ level: 'silent' }), pollIntervalMs: 100, flushIntervalMs: 60_000,
        readBalance: () => { reads++; return new Promise((resolve) => { answer = resolve; }); },
      });
      try {
        await state.start();
        const key = await createKey(c);
        const auth = await state.authenticate(key.token);
        assert.equal(auth?.accountId, c.accountId, 'served while the balance is still being read');
        // A change reloads the account; requests see it without waiting for the balance either.
        assert.equal((await c.call('PATCH', '/gateway-config', { maxOutputTokens: 77 })).statusCode, 200);
        assert.ok(await state.authenticate(key.token));
        assert.equal(state.account(c.accountId).settings.maxOutputTokens, 77);
        assert.equal(state.account(c.accountId).balancePico, 0n);
        // The figure lands when the read ends, on the current snapshot; the reload asked for one more read.
        answer!(123n);
        await within(1000, async () => state.account(c.accountId).balancePico === 123n);
        await within(1000, async () => reads === 2);
      } finally {
        await state.close();
        await c.close();
      }
    });

    test('an access key changed or gone is told to onAccessKeyChange (what a realtime session opened with it checks), by its change or, its notice lost, by the resync; accessKeyById reads it as stored now', async () => {
      const c = await startControl(kind);
      const state = new GatewayState({ store: c.store, secretBox: new SecretBox(c.config.masterKey), changes: c.changes, logger: pino({ level: 'silent' }), pollIntervalMs: 100, flushIntervalMs: 60_000, resyncIntervalMs: 200 });
      try {
        await state.start();
        const told: string[] = [];
        state.onAccessKeyChange((id) => told.push(id));
        const edited = await createKey(c);
        const lost = await createKey(c);
        assert.ok(await state.authenticate(edited.token));
        assert.ok(await state.authenticate(lost.token));
        // Each creation was a change to its key too. On PostgreSQL a change may be applied twice (the poll can read it
        // back before the bus delivers it: "applying a change twice is harmless"), and then told twice.
        assert.deepEqual([...new Set(told)], [edited.id, lost.id]);
        told.length = 0;
        assert.equal((await c.call('PATCH', `/access-keys/${edited.id}`, { name: 'renamed' })).statusCode, 200);
        assert.deepEqual([...new Set(told)], [edited.id]);
        assert.equal((await state.accessKeyById(edited.id))?.id, edited.id);
        // Deleted with no change recorded (its notice lost): the minute's resync finds it gone.
        await c.store.db.deleteFrom('accessKeys').where('id', '=', lost.id).execute();
        await within(3000, () => told.includes(lost.id));
        assert.equal(await state.accessKeyById(lost.id), null);
      } finally {
        await state.close();
        await c.close();
      }
    });

    test('snapshot: decrypted provider keys, custom providers, configurations, balance', async () => {
      const c = await startControl(kind);
      const state = newState(c);
      try {
        await state.start();
        const k1 = (await c.call('POST', '/provider-keys', { providerId: 'openai', name: 'first', value: 'sk-first-1111111111111111' })).json() as { id: string };
        const k2 = (await c.call('POST', '/provider-keys', { providerId: 'openai', name: 'second', value: 'sk-second-222222222222222' })).json() as { id: string };
        const provider = await c.call('POST', '/providers', {
          providerId: 'my-ollama', name: 'Ollama', baseUrl: 'http://127.0.0.1:11434/v1',
          supportedApiSurfaces: [{ format: 'openai', surface: 'chat-completions', supportedParams: [{ name: 'messages' }] }],
          models: [{ modelId: 'llama3.2' }],
        });
        assert.equal(provider.statusCode, 201, provider.body);
        const config = await c.call('POST', '/access-key-configurations', {
          name: 'restricted',
          access: { providers: { allow: ['openai', 'my-ollama'] } },
          router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keySelectionStrategy: 'ordered', keys: [{ id: k2.id }, { id: k1.id }] }] }] },
        });
        assert.equal(config.statusCode, 201, config.body);
        const configId = (config.json() as { id: string }).id;
        const key = await createKey(c, { name: 'app', accessKeyConfigurationId: configId });

        const auth = await state.authenticate(key.token);
        assert.ok(auth);
        assert.equal(auth.configurationId, configId);
        const snap = state.account(c.accountId);
        assert.equal(snap.providerKeys.get(k1.id)?.value, 'sk-first-1111111111111111');
        assert.deepEqual(snap.providerKeysByProvider.get('openai')?.map((k) => k.id), [k1.id, k2.id]);
        const ollama = snap.customProviders.get('my-ollama');
        assert.deepEqual(ollama?.models, ['llama3.2']);
        assert.deepEqual(ollama?.surfaces, [{ format: 'openai', surface: 'chat-completions', supportedParams: ['messages'] }]);
        const conf = state.configuration(auth);
        assert.deepEqual(conf?.access, { providers: { allow: ['openai', 'my-ollama'] } });
        assert.deepEqual(conf?.rules?.[0]?.steps[0]?.keys?.map((k) => k.id), [k2.id, k1.id]);

        assert.equal(snap.balancePico, 0n);
        state.debit(c.accountId, 5n);
        assert.equal(state.account(c.accountId).balancePico, -5n);

        // An in-process change applies before the next request is served.
        const k3 = (await c.call('POST', '/provider-keys', { providerId: 'anthropic', name: 'third', value: 'sk-ant-third-33333333333' })).json() as { id: string };
        assert.ok(await state.authenticate(key.token));
        assert.equal(state.account(c.accountId).providerKeys.get(k3.id)?.value, 'sk-ant-third-33333333333');
        // Whoever holds something per provider key (a role key's credentials) is told what the reload replaced.
        const reloads: [boolean, boolean][] = [];
        state.onReload((before, now) => reloads.push([before.providerKeys.has(k3.id), now.providerKeys.has(k3.id)]));
        assert.equal((await c.call('DELETE', `/provider-keys/${k3.id}`)).statusCode, 204);
        assert.ok(await state.authenticate(key.token));
        assert.equal(state.account(c.accountId).providerKeys.has(k3.id), false);
        // Another reload may follow (a change notice arriving after the in-process one): one of them replaced k3.
        assert.ok(reloads.some(([before, now]) => before && !now), JSON.stringify(reloads));
        assert.equal(state.account(c.accountId).providerKeysByProvider.get('anthropic'), undefined);
      } finally {
        await state.close();
        await c.close();
      }
    });

    test('a snapshot never holds half of a change another process commits while it is being read', async () => {
      const c = await startControl(kind);
      // The loader's own connection, as a gateway process has. Its log hook runs right after the loader's first read,
      // while that read still holds the connection (PostgreSQL: a pool of one, so reads made apart cannot overtake it),
      // and commits the other process's change there: exactly between two of the snapshot's table reads.
      let between: (() => Promise<void>) | undefined;
      const log = async (event: LogEvent): Promise<void> => {
        if (event.level !== 'query' || !/^select/i.test(event.query.sql) || !between) return;
        const change = between;
        between = undefined;
        await change();
      };
      const pool = kind === 'postgres' ? new pg.Pool({ connectionString: c.store.url, max: 1 }) : undefined;
      const sqlite = pool ? undefined : new BetterSqlite3(parseDatabaseUrl(c.database.url).path);
      const dialect = pool ? new PostgresDialect({ pool }) : new SqliteDialect({ database: sqlite! });
      const loaderDb = new Kysely<Database>({ dialect, plugins: [new CamelCasePlugin()], log });
      const secretBox = new SecretBox(c.config.masterKey);
      const silent = pino({ level: 'silent' });
      try {
        await patchGatewaySettings(c.store.db, c.accountId, { maxOutputTokens: 111 });
        const leaked = ((await c.call('POST', '/provider-keys', { providerId: 'openai', name: 'leaked', value: 'sk-leaked-111111111111111' })).json() as { id: string }).id;
        assert.equal((await c.call('POST', '/providers', { providerId: 'acme', name: 'Acme', baseUrl: 'http://127.0.0.1:9/v1', models: [{ modelId: 'm' }] })).statusCode, 201);
        const config = await c.call('POST', '/access-key-configurations', {
          name: 'scoped', access: { providers: { allow: ['openai', 'acme'] } },
          router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keySelectionStrategy: 'ordered', keys: [{ id: leaked }] }] }] },
        });
        assert.equal(config.statusCode, 201, config.body);
        const configId = (config.json() as { id: string }).id;

        const seen = (snap: AccountSnapshot) => ({
          maxOutputTokens: snap.settings.maxOutputTokens,
          access: snap.configurations.get(configId)?.access,
          leakedKey: snap.providerKeys.has(leaked),
          acme: snap.customProviders.has('acme'),
        });
        const before = { maxOutputTokens: 111, access: { providers: { allow: ['openai', 'acme'] } }, leakedKey: true, acme: true };
        const after = { maxOutputTokens: 222, access: { providers: { allow: ['anthropic'] } }, leakedKey: false, acme: false };
        assert.deepEqual(seen(await loadAccountSnapshot(loaderDb, secretBox, silent, c.accountId)), before);

        // Another process revokes a leaked key and narrows the scope in one transaction, touching all four tables.
        between = () => c.store.db.transaction().execute(async (trx) => {
          await writeGatewaySettings(trx, c.accountId, { maxOutputTokens: 222 });
          await trx.updateTable('accessKeyConfigurations').set({ access: JSON.stringify(after.access) }).where('id', '=', configId).execute();
          await trx.deleteFrom('providerKeys').where('id', '=', leaked).execute();
          await trx.deleteFrom('providers').where('accountId', '=', c.accountId).where('providerId', '=', 'acme').execute();
        });
        const during = seen(await loadAccountSnapshot(loaderDb, secretBox, silent, c.accountId));
        assert.equal(between, undefined, 'the change was committed between the reads');
        assert.ok(isDeepStrictEqual(during, before) || isDeepStrictEqual(during, after), `half of the change: ${JSON.stringify(during)}`);
        assert.deepEqual(seen(await loadAccountSnapshot(loaderDb, secretBox, silent, c.accountId)), after);
      } finally {
        await loaderDb.destroy();
        await c.close();
      }
    });

    test('a sealed value copied into another row, or its row pointed at another provider, is not used', async () => {
      const c = await startControl(kind);
      const state = newState(c);
      try {
        await state.start();
        const created = async (providerId: string, value: string) => ((await c.call('POST', '/provider-keys', { providerId, name: value, value })).json() as { id: string }).id;
        const victim = await created('openai', 'sk-victim-1111111111111111');
        const other = await created('openai', 'sk-other-2222222222222222');
        const moved = await created('openai', 'sk-moved-3333333333333333');
        assert.equal((await c.call('POST', '/providers', { providerId: 'their-proxy', name: 'Theirs', baseUrl: 'http://127.0.0.1:9/v1', models: [{ modelId: 'm' }] })).statusCode, 201);
        const key = await createKey(c);
        assert.ok(await state.authenticate(key.token));
        assert.equal(state.account(c.accountId).providerKeys.size, 3);
        // Someone with write access to the table but not the master key: another row's value, another provider.
        const { sealedValue } = await c.store.db.selectFrom('providerKeys').select('sealedValue').where('id', '=', victim).executeTakeFirstOrThrow();
        await c.store.db.updateTable('providerKeys').set({ sealedValue }).where('id', '=', other).execute();
        await c.store.db.updateTable('providerKeys').set({ providerId: 'their-proxy' }).where('id', '=', moved).execute();
        await foreignChange(c, 'providerKey', other);
        await within(2_000, () => state.account(c.accountId).providerKeys.size === 1);
        assert.deepEqual([...state.account(c.accountId).providerKeys.keys()], [victim]);
        assert.equal(state.account(c.accountId).providerKeysByProvider.get('their-proxy'), undefined);
      } finally {
        await state.close();
        await c.close();
      }
    });

    test('a provider key sealed before its provider was bound (the builds of 2026-12-03 07:23–08:03) is still used after an upgrade', async () => {
      const c = await startControl(kind);
      const state = newState(c);
      try {
        const id = ((await c.call('POST', '/provider-keys', { providerId: 'openai', name: 'early', value: 'sk-early-4444444444444444' })).json() as { id: string }).id;
        await c.store.db.updateTable('providerKeys').set({ sealedValue: accountAndIdSeal(c.config.masterKey, 'sk-early-4444444444444444', { accountId: c.accountId, id }) }).where('id', '=', id).execute();
        await state.start();
        const key = await createKey(c);
        assert.ok(await state.authenticate(key.token));
        assert.equal(state.account(c.accountId).providerKeys.get(id)?.value, 'sk-early-4444444444444444');
        assert.equal(state.account(c.accountId).unreadableProviderKeys.size, 0);
      } finally {
        await state.close();
        await c.close();
      }
    });

    test('lastUsed is flushed to the store', async () => {
      const c = await startControl(kind);
      const state = newState(c);
      try {
        await state.start();
        const key = await createKey(c);
        const pk = (await c.call('POST', '/provider-keys', { providerId: 'openai', name: 'k', value: 'sk-k-33333333333333333333' })).json() as { id: string };
        assert.ok(await state.authenticate(key.token));
        state.markUsed(key.id, pk.id);
        const before = await c.store.db.selectFrom('accessKeys').select('lastUsed').where('id', '=', key.id).executeTakeFirstOrThrow();
        assert.equal(before.lastUsed, null, 'nothing written per request');
        await state.flushLastUsed();
        const ak = await c.store.db.selectFrom('accessKeys').select('lastUsed').where('id', '=', key.id).executeTakeFirstOrThrow();
        const pkr = await c.store.db.selectFrom('providerKeys').select('lastUsed').where('id', '=', pk.id).executeTakeFirstOrThrow();
        assert.match(ak.lastUsed ?? '', /^\d{4}-\d{2}-\d{2}T/);
        assert.equal(pkr.lastUsed, ak.lastUsed);
        // close() flushes too.
        await new Promise((r) => setTimeout(r, 5));
        state.markUsed(key.id);
        await state.close();
        const later = await c.store.db.selectFrom('accessKeys').select('lastUsed').where('id', '=', key.id).executeTakeFirstOrThrow();
        assert.ok((later.lastUsed ?? '') > (ak.lastUsed ?? ''));
      } finally {
        await state.close();
        await c.close();
      }
    });
  });
}

test('a reload that keeps failing is logged once per streak, retried by every poll, and applied when it can be (sqlite)', async () => {
  const { Writable } = await import('node:stream');
  const { sql } = await import('kysely');
  const c = await startControl('sqlite');
  const lines: { msg: string }[] = [];
  const sink = new Writable({ write(chunk, _e, cb) { for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l) as { msg: string }); cb(); } });
  const state = new GatewayState({ store: c.store, secretBox: new SecretBox(c.config.masterKey), changes: c.changes, logger: pino({ level: 'info' }, sink), pollIntervalMs: 100, flushIntervalMs: 60_000 });
  try {
    await state.start();
    const cfg = (await c.call('POST', '/access-key-configurations', { name: 'wide', access: { models: { allow: ['openai/gpt-4o-mini'] } } })).json() as { id: string };
    const key = (await c.call('POST', '/access-keys', { name: 'app', accessKeyConfigurationId: cfg.id })).json() as { token: string };
    assert.ok(await state.authenticate(key.token));
    // Snapshot reads fail (a broken table, a lock timeout) while the change log still reads; a change comes in.
    await sql`ALTER TABLE providers RENAME TO providers_gone`.execute(c.store.db);
    await c.call('PATCH', `/access-key-configurations/${cfg.id}`, { access: { models: { allow: ['openai/gpt-4o'] } } });
    await new Promise((r) => setTimeout(r, 1000));
    const count = (msg: string) => lines.filter((l) => l.msg === msg).length;
    assert.equal(count('account reload failed; serving the last snapshot'), 1, 'the first failure of the streak');
    assert.equal(count('gateway state reloads from the store again'), 0, 'nothing recovered yet');
    const served = await state.authenticate(key.token);
    assert.deepEqual(state.configuration(served!)!.access, { models: { allow: ['openai/gpt-4o-mini'] } }, 'the last snapshot serves');
    await sql`ALTER TABLE providers_gone RENAME TO providers`.execute(c.store.db);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(state.configuration((await state.authenticate(key.token))!)!.access, { models: { allow: ['openai/gpt-4o'] } });
    assert.equal(count('gateway state reloads from the store again'), 1);
  } finally {
    await state.close();
    await sql`ALTER TABLE providers_gone RENAME TO providers`.execute(c.store.db).catch(() => {});
    await c.close();
  }
});

test('a lookup of a key not in memory that runs out of its 2 s waiting in the queue of such lookups is logged as that, once per burst, as a warning naming no token, not as a store that did not answer (sqlite)', async () => {
  const capture = new LineCapture();
  await withCountedReads('sqlite', async (c, state, reads) => {
    // Each lookup answers 600 ms late, four at a time: the last of 24 keys not in memory (asked at once, as after a
    // restart) wait in the queue past the 2 s a lookup may take.
    const tokens: string[] = [];
    for (let i = 0; i < 24; i++) tokens.push((await createKey(c)).token);
    const answers = await Promise.allSettled(tokens.map((token) => state.authenticate(token)));
    assert.ok(answers.filter((a) => a.status === 'rejected').length >= 4, 'the last ones are given up (27009 at the gateway)');
    assert.ok(reads.most <= MAX_KEY_LOOKUPS);
    // A poll after the burst: a store failure logged for it would be followed by a "recovered" line.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const lines = capture.lines.map((line) => JSON.parse(line) as { level: number; msg: string; queuedMs?: number });
    const queued = lines.filter((l) => l.msg.includes('waiting its turn among such lookups'));
    assert.equal(queued.length, 1, `logged once for the burst: ${JSON.stringify(lines)}`);
    assert.equal(queued[0]!.level, 40, 'a warning: the gateway is busy, the store is fine');
    assert.ok(queued[0]!.queuedMs! >= 1000, `most of its time went in the queue (${queued[0]!.queuedMs} ms)`);
    assert.deepEqual(lines.filter((l) => l.level >= 50 || l.msg.includes('did not answer') || l.msg.includes('from the store again')), [], 'the store answered every read it was sent');
    for (const token of tokens) assert.ok(!capture.lines.some((l) => l.includes(token) || l.includes(sha256Hex(token))), 'no token, nor its hash, is logged');
  }, { readDelayMs: 600, logger: pino({ level: 'info' }, capture) });
});

test('a lookup that waited its turn in the queue and then had an error from the store is logged as the store failing (an error), not as the queue (sqlite)', async () => {
  const capture = new LineCapture();
  await withCountedReads('sqlite', async (c, state, reads) => {
    // Keys not in memory asked at once: the first MAX_KEY_LOOKUPS read (and answer 300 ms late), the rest wait their
    // turn; the store breaks meanwhile, so those it then runs fail at once, well within their 2 s.
    const tokens: string[] = [];
    for (let i = 0; i < 2 * MAX_KEY_LOOKUPS; i++) tokens.push((await createKey(c)).token);
    // The account loaded already: its first load, ending between two of the failed lookups, would end the streak.
    assert.ok(await state.authenticate((await createKey(c)).token));
    const before = reads.started;
    const answers = Promise.allSettled(tokens.map((token) => state.authenticate(token)));
    await within(1000, () => reads.started - before >= MAX_KEY_LOOKUPS);
    await sql`ALTER TABLE access_keys RENAME TO access_keys_gone`.execute(c.store.db);
    try {
      const settled = await answers;
      assert.equal(settled.filter((a) => a.status === 'rejected').length, MAX_KEY_LOOKUPS, 'the queued lookups failed');
    } finally {
      await sql`ALTER TABLE access_keys_gone RENAME TO access_keys`.execute(c.store.db);
    }
    const lines = capture.lines.map((line) => JSON.parse(line) as { level: number; msg: string });
    assert.deepEqual(lines.filter((l) => l.msg.includes('waiting its turn among such lookups')), [], 'not blamed on the queue: none waited long');
    assert.equal(lines.filter((l) => l.level === 50 && l.msg.startsWith('looking up an access key failed')).length, 1, `the store's failure is logged: ${JSON.stringify(lines)}`);
  }, { readDelayMs: 300, logger: pino({ level: 'info' }, capture) });
});

test('a token not in the key index asked just as a poll ends (in the microtask after its last step) is answered by a poll at once, not by the next timer, nor "try again later" after 2 s (sqlite)', async () => {
  const c = await startControl('sqlite');
  let late: Promise<unknown> | undefined;
  let madeUp: string | undefined;
  // The line a poll logs as its last step (a streak of failures ended): a request asking then, as one whose handler
  // resumes in that microtask would.
  const destination = { write(line: string) { if (madeUp && line.includes('reloads from the store again')) queueMicrotask(() => { late = Promise.resolve(state.authenticate(madeUp!)); }); } };
  // No poll on a timer, nor data_version moving (one connection): only a request's catch-up polls.
  const state = new GatewayState({ store: c.store, secretBox: new SecretBox(c.config.masterKey), changes: c.changes, logger: pino({ level: 'info' }, destination), pollIntervalMs: 60_000, flushIntervalMs: 60_000 });
  try {
    await state.start();
    await sql`ALTER TABLE state_changes RENAME TO state_changes_gone`.execute(c.store.db);
    // A key's change being applied: a token not in the index waits for a poll, which fails (a streak begins).
    c.changes.emitLocal({ accountId: c.accountId, kind: 'accessKey', resourceId: newId('accessKey') });
    await assert.rejects(Promise.resolve(state.authenticate(newAccessKeyToken())), 'the change log cannot be read: "try again later"');
    await sql`ALTER TABLE state_changes_gone RENAME TO state_changes`.execute(c.store.db);
    madeUp = newAccessKeyToken();
    assert.equal(await state.authenticate(newAccessKeyToken()), null);
    await within(10_000, () => late !== undefined);
    assert.equal(await late, null);
  } finally {
    await state.close();
    await c.close();
  }
});

/** Holds back each read of access keys by id (the resync's check of the cached keys, the key index's) `delayMs`. */
class SlowReadsById implements KyselyPlugin {
  delayMs = 0;
  readonly #ours = new WeakSet<object>();

  transformQuery({ node, queryId }: PluginTransformQueryArgs): RootOperationNode {
    if (node.kind === 'SelectQueryNode' && JSON.stringify(node.from).includes('access_keys') && JSON.stringify(node.where ?? null).includes('"operator":"in"')) this.#ours.add(queryId);
    return node;
  }

  async transformResult({ result, queryId }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    if (this.#ours.delete(queryId) && this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    return result;
  }
}

test('the resync checks every cached key while other keys keep changing (a busy deployment): a key deleted without its change reaching this gateway is refused (sqlite)', async () => {
  const c = await startControl('sqlite');
  const slow = new SlowReadsById();
  // The resync every 300 ms here; no poll on a timer, nor data_version read, so only the resync can find the deletion.
  const state = new GatewayState({
    store: { ...c.store, db: c.store.db.withPlugin(slow) }, secretBox: new SecretBox(c.config.masterKey), changes: c.changes, logger: pino({ level: 'silent' }),
    pollIntervalMs: 60_000, resyncIntervalMs: 300, dataVersionIntervalMs: 60_000, flushIntervalMs: 60_000,
  });
  let churning = true;
  let churn: Promise<void> = Promise.resolve();
  try {
    await state.start();
    const gone = await createKey(c);
    assert.equal((await state.authenticate(gone.token))?.id, gone.id);
    await c.store.db.deleteFrom('accessKeys').where('id', '=', gone.id).execute();
    // Each of the resync's reads takes 400 ms, and keys are created here all along, each change applied during one.
    slow.delayMs = 400;
    churn = (async () => {
      while (churning) {
        await createKey(c);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    await within(10_000, async () => (await state.authenticate(gone.token)) === null);
  } finally {
    churning = false;
    await churn;
    await state.close();
    await c.close();
  }
});
