// Pruning of state_changes, the log other processes replay control-plane changes from. A gateway reads
// rows newer than the last seq it saw and also resyncs fully every 60 s, so a row older than the retention
// window (an hour by default) is never needed again; a gateway cut off longer finds rows it had not read gone, and
// resyncs at once (gateway-state.ts #prunedAfter). The newest row always stays: a process that starts
// reads max(seq) as its starting point. Idempotent, so any number of processes may run it.
import { PostgresAdapter, sql, type Kysely, type RawBuilder } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from './schema.ts';

export const STATE_CHANGES_RETENTION_MS = 60 * 60_000;
export const STATE_CHANGES_PRUNE_EVERY_MS = 10 * 60_000;

/**
 * The database's own time, as the ISO text `created_at` holds. On PostgreSQL the processes writing and pruning the
 * log run on several hosts: stamped and compared by each one's clock, a writer an hour behind the pruner would have
 * its fresh rows pruned before the other gateways read them. SQLite has one host, and its clock.
 */
export function storeNowIso(db: Kysely<Database>): RawBuilder<string> | string {
  return db.getExecutor().adapter instanceof PostgresAdapter
    ? sql<string>`to_char(statement_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
    : new Date().toISOString();
}

/**
 * Deletes the rows created more than `retentionMs` before `now` (by default the store's time: storeNowIso), except
 * the newest; returns how many.
 */
export async function pruneStateChanges(db: Kysely<Database>, retentionMs = STATE_CHANGES_RETENTION_MS, now?: number): Promise<number> {
  const current = now ?? Date.parse(await storeNow(db));
  const cutoff = new Date(current - retentionMs).toISOString();
  const result = await db.deleteFrom('stateChanges')
    .where('createdAt', '<', cutoff)
    .where('seq', '<', (eb) => eb.selectFrom('stateChanges').select((s) => s.fn.max('seq').as('newest')))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

async function storeNow(db: Kysely<Database>): Promise<string> {
  const at = storeNowIso(db);
  if (typeof at === 'string') return at;
  return (await sql<{ now: string }>`SELECT ${at} AS now`.execute(db)).rows[0]!.now;
}

/** Prunes now and every `everyMs`; the returned function stops it and waits for a run in progress. */
export function startStateChangesPruning(db: Kysely<Database>, logger: Logger, everyMs = STATE_CHANGES_PRUNE_EVERY_MS): () => Promise<void> {
  let running: Promise<void> = Promise.resolve();
  const prune = () => {
    running = running.then(async () => {
      try {
        const deleted = await pruneStateChanges(db);
        if (deleted > 0) logger.debug({ deleted }, 'pruned state_changes');
      } catch (error) {
        logger.warn({ err: error instanceof Error ? { message: error.message } : String(error) }, 'pruning state_changes failed');
      }
    });
  };
  prune();
  const timer = setInterval(prune, everyMs).unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
