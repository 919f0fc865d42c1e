// Pruning of state_changes, the log other processes replay control-plane changes from. A gateway reads
// rows newer than the last seq it saw and also resyncs fully every 60 s, so a row older than the retention
// window (an hour by default) is never needed again. The newest row always stays: a process that starts
// reads max(seq) as its starting point. Idempotent, so any number of processes may run it.
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from './schema.ts';

export const STATE_CHANGES_RETENTION_MS = 60 * 60_000;
export const STATE_CHANGES_PRUNE_EVERY_MS = 10 * 60_000;

/** Deletes the rows created more than `retentionMs` before `now`, except the newest; returns how many. */
export async function pruneStateChanges(db: Kysely<Database>, retentionMs = STATE_CHANGES_RETENTION_MS, now = Date.now()): Promise<number> {
  const cutoff = new Date(now - retentionMs).toISOString();
  const result = await db.deleteFrom('stateChanges')
    .where('createdAt', '<', cutoff)
    .where('seq', '<', (eb) => eb.selectFrom('stateChanges').select((s) => s.fn.max('seq').as('newest')))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
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
