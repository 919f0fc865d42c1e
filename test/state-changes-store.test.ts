// Pruning of state_changes on SQLite and PostgreSQL: rows older than the retention window go, newer rows
// and the newest row stay, a second run deletes nothing, and sequence numbers keep growing afterwards.
import { describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { openStore, type Store } from '../src/store/database.ts';
import { STATE_CHANGES_RETENTION_MS, pruneStateChanges, startStateChangesPruning } from '../src/store/state-changes.ts';
import { ChangeBus } from '../src/state/changes.ts';
import { STORE_KINDS, createTestDatabase } from './helpers/stores.ts';

const HOUR = 60 * 60_000;

async function withStore(kind: (typeof STORE_KINDS)[number], body: (store: Store) => Promise<void>): Promise<void> {
  const database = await createTestDatabase(kind);
  const store = await openStore(database.url);
  try {
    await body(store);
  } finally {
    await store.close();
    await database.drop();
  }
}

/** Inserts one row per age (ms before now), oldest first; returns their seqs. */
async function rows(store: Store, ages: number[]): Promise<number[]> {
  const seqs: number[] = [];
  for (const age of ages) {
    const row = await store.db.insertInto('stateChanges')
      .values({ accountId: 'acct', kind: 'accessKey', resourceId: `r${seqs.length}`, createdAt: new Date(Date.now() - age).toISOString() })
      .returning('seq').executeTakeFirstOrThrow();
    seqs.push(Number(row.seq));
  }
  return seqs;
}

const remaining = async (store: Store) => (await store.db.selectFrom('stateChanges').select('seq').orderBy('seq').execute()).map((r) => Number(r.seq));

for (const kind of STORE_KINDS) {
  describe(`state_changes pruning (${kind})`, () => {
    it('deletes rows older than the retention window and keeps the newer ones; a second run deletes nothing', async () => {
      await withStore(kind, async (store) => {
        assert.equal(STATE_CHANGES_RETENTION_MS, HOUR);
        const seqs = await rows(store, [3 * HOUR, 2 * HOUR, HOUR + 60_000, HOUR - 60_000, 1_000]);
        assert.equal(await pruneStateChanges(store.db), 3);
        assert.deepEqual(await remaining(store), seqs.slice(3));
        assert.equal(await pruneStateChanges(store.db), 0);
        assert.deepEqual(await remaining(store), seqs.slice(3));
      });
    });

    it('keeps the newest row even when every row is old, and later changes get higher seqs', async () => {
      await withStore(kind, async (store) => {
        const seqs = await rows(store, [3 * HOUR, 2 * HOUR, 2 * HOUR]);
        assert.equal(await pruneStateChanges(store.db), 2);
        assert.deepEqual(await remaining(store), [seqs[2]!]);
        let published: number | undefined;
        const bus = new ChangeBus(store.db);
        bus.subscribe((_change, seq) => { published = seq; });
        await bus.publish({ accountId: 'acct', kind: 'configuration', resourceId: 'c1' });
        assert.ok(published !== undefined && published > seqs[2]!, `seq ${published} after ${seqs[2]}`);
      });
    });

    it('a shorter window; the periodic runner prunes at once and stops cleanly', async () => {
      await withStore(kind, async (store) => {
        const seqs = await rows(store, [2 * HOUR, 10 * 60_000, 5_000, 1_000]);
        assert.equal(await pruneStateChanges(store.db, 60_000), 2);
        assert.deepEqual(await remaining(store), seqs.slice(2));

        const more = await rows(store, [3 * HOUR, 2 * HOUR, 1_000]);
        const stop = startStateChangesPruning(store.db, pino({ level: 'silent' }), 60_000);
        await stop();
        assert.deepEqual(await remaining(store), [...seqs.slice(2), more[2]!]);
      });
    });
  });
}

describe('state_changes on PostgreSQL: stamped and pruned by the database\'s clock (postgres)', () => {
  it('a change written by a process whose clock is two hours behind is not pruned before the other gateways read it', async () => {
    await withStore('postgres', async (store) => {
      const bus = new ChangeBus(store.db);
      const seqs: number[] = [];
      bus.subscribe((_change, seq) => { if (seq !== undefined) seqs.push(seq); });
      // A host whose clock runs two hours behind the database's (and the pruner's).
      mock.timers.enable({ apis: ['Date'], now: Date.now() - 2 * HOUR });
      try {
        await bus.publish({ accountId: 'acct', kind: 'accessKey', resourceId: 'revoked' });
      } finally {
        mock.timers.reset();
      }
      // A later change, so the first is not kept merely as the newest row.
      await bus.publish({ accountId: 'acct', kind: 'configuration', resourceId: 'c1' });
      assert.equal(seqs.length, 2);
      assert.equal(await pruneStateChanges(store.db), 0);
      assert.deepEqual(await remaining(store), seqs);
    });
  });
});
