import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../src/store/database.ts';
import { createAccount } from '../src/store/accounts.ts';
import { insertUsageEvents, isRowRefusal, rowValues, toRow } from '../src/store/usage-events.ts';
import { usageEvent } from './helpers/usage.ts';
import { STORE_KINDS, createTestDatabase } from './helpers/stores.ts';

describe('usage event rows', () => {
  it('binds the values of every column in the order the SQLite statement names them', () => {
    const e = usageEvent('acct_1', {
      isFinalAttempt: true, timedOut: true, isError: true, isStreaming: true, usageEstimated: true, stopReason: 'length',
      inputTokens: 1, outputTokens: 2, cacheReadTokens: 3, cacheWriteTokens: 4, reasoningTokens: 5, inputTokensEstimate: 6,
      outputTokensEstimate: 7, costPico: 8n, providerKeyId: 'pk', providerKeyDisplayName: 'Key', upstreamDurationMs: 9,
    });
    assert.deepEqual(rowValues(e), Object.values(toRow(e)));
  });
});

for (const kind of STORE_KINDS) {
  describe(`insertUsageEvents (${kind})`, () => {
    it('inserts booleans as flags, keeps big costs exact, ignores duplicate ids', async () => {
      const database = await createTestDatabase(kind);
      const store = await openStore(database.url);
      try {
        const { account } = await createAccount(store.db, 'a');
        const big = 123_456_789_012_345_678n;
        const e = usageEvent(account.id, { id: 'ue_dup', costPico: big, isStreaming: true });
        await insertUsageEvents(store.db, [e, usageEvent(account.id)]);
        await insertUsageEvents(store.db, [{ ...e, costPico: 1n }]);
        const rows = await store.db.selectFrom('usageEvents').selectAll().orderBy('id').execute();
        assert.equal(rows.length, 2);
        const dup = rows.find((r) => r.id === 'ue_dup');
        assert.ok(dup);
        assert.equal(Number(dup.isStreaming), 1);
        assert.equal(Number(dup.isError), 0);
        const { sql } = await import('kysely');
        const exact = await sql<{ c: string }>`select cast(cost_pico as text) as c from usage_events where id = 'ue_dup'`.execute(store.db);
        assert.equal(BigInt(exact.rows[0]!.c), big);
      } finally {
        await store.close();
        await database.drop();
      }
    });

    it('a row the store refuses is told apart from a store that does not answer (the journal ships around the first, retries the second)', async () => {
      const database = await createTestDatabase(kind);
      const store = await openStore(database.url);
      const refusal = async (events: Parameters<typeof insertUsageEvents>[1]): Promise<unknown> => {
        try {
          await insertUsageEvents(store.db, events);
        } catch (error) {
          return error;
        }
        return assert.fail('the store took the rows');
      };
      try {
        const { account } = await createAccount(store.db, 'a');
        const { sql } = await import('kysely');
        // A constraint the rows break, as a future column's CHECK or a bad value would.
        if (kind === 'sqlite') await sql`CREATE TRIGGER refuse_poison BEFORE INSERT ON usage_events WHEN NEW.model = 'poison' BEGIN SELECT RAISE(ABORT, 'poison'); END`.execute(store.db);
        else await sql`ALTER TABLE usage_events ADD CONSTRAINT refuse_poison CHECK (model <> 'poison')`.execute(store.db);
        const refused = await refusal([usageEvent(account.id), usageEvent(account.id, { model: 'poison' })]);
        assert.ok(isRowRefusal(refused), `a refusal: ${String(refused)} ${(refused as { code?: string }).code}`);
        // A cost past 64 bits: the driver cannot bind it (SQLite) or the column cannot hold it (PostgreSQL).
        assert.ok(isRowRefusal(await refusal([usageEvent(account.id, { costPico: 2n ** 64n, inputCostPico: 2n ** 64n })])));
        // PostgreSQL text holds no NUL (SQLite does).
        if (kind === 'postgres') assert.ok(isRowRefusal(await refusal([usageEvent(account.id, { stopReason: 'st\u0000op' })])));
        await store.close();
        const gone = await refusal([usageEvent(account.id)]);
        assert.equal(isRowRefusal(gone), false, `not a refusal: ${String(gone)}`);
      } finally {
        await store.close().catch(() => {});
        await database.drop();
      }
    });

    it('a shipment larger than one statement is stored whole or not at all', async () => {
      // Half a shipment in the store and all of it still in the journal would count that half twice in balances
      // until the retry; the retry itself then adds nothing.
      const database = await createTestDatabase(kind);
      const store = await openStore(database.url);
      try {
        const { account } = await createAccount(store.db, 'a');
        const { sql } = await import('kysely');
        if (kind === 'sqlite') await sql`CREATE TRIGGER refuse_poison BEFORE INSERT ON usage_events WHEN NEW.model = 'poison' BEGIN SELECT RAISE(ABORT, 'poison'); END`.execute(store.db);
        else await sql`ALTER TABLE usage_events ADD CONSTRAINT refuse_poison CHECK (model <> 'poison')`.execute(store.db);
        const events = Array.from({ length: 700 }, (_, i) => usageEvent(account.id, i === 650 ? { model: 'poison' } : {}));
        await assert.rejects(insertUsageEvents(store.db, events));
        const stored = await store.db.selectFrom('usageEvents').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
        assert.equal(Number(stored.n), 0);
        await insertUsageEvents(store.db, events.filter((_, i) => i !== 650));
        const after = await store.db.selectFrom('usageEvents').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
        assert.equal(Number(after.n), 699);
      } finally {
        await store.close();
        await database.drop();
      }
    });

    it('a batch shipped while a control-plane transaction is open survives that transaction rolling back', async () => {
      const database = await createTestDatabase(kind);
      const store = await openStore(database.url);
      try {
        const { account } = await createAccount(store.db, 'a');
        let shipped: Promise<void> | undefined;
        await assert.rejects(store.db.transaction().execute(async (trx) => {
          await trx.updateTable('accounts').set({ name: 'renamed' }).where('id', '=', account.id).execute();
          shipped = insertUsageEvents(store.db, [usageEvent(account.id, { id: 'ue_during_tx' })]);
          // Give the insert every chance to run inside the transaction before it fails.
          await new Promise((resolve) => setTimeout(resolve, 20));
          throw new Error('rollback');
        }), /rollback/);
        await shipped;
        const rows = await store.db.selectFrom('usageEvents').select('id').execute();
        assert.deepEqual(rows.map((r) => r.id), ['ue_during_tx']);
        const renamed = await store.db.selectFrom('accounts').select('name').where('id', '=', account.id).executeTakeFirstOrThrow();
        assert.equal(renamed.name, 'a');
      } finally {
        await store.close();
        await database.drop();
      }
    });
  });
}
