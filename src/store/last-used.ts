// `lastUsed` writes from in-memory trackers (the gateway's for access and provider keys, the control
// plane's for API keys): flushed in batches every few seconds, never per request. One statement per
// distinct timestamp keeps it portable across SQLite and PostgreSQL.
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { inChunks } from './in-chunks.ts';

type KeyTable = 'accessKeys' | 'providerKeys' | 'apiKeys';

function byTime(lastUsed: ReadonlyMap<string, string>): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const [id, at] of lastUsed) {
    const ids = groups.get(at);
    if (ids) ids.push(id);
    else groups.set(at, [id]);
  }
  return groups;
}

/**
 * Sets `lastUsed` of each key id in `table` to its timestamp (ids no longer there are skipped), unless the store
 * already holds a later one: several processes (gateways, api processes) flush their times in any order, and one
 * flushing an older use after another wrote a newer one must not move the time back. Times are ISO text of one
 * form (toISOString), so text order is time order.
 */
export async function writeLastUsedOf(db: Kysely<Database>, table: KeyTable, lastUsed: ReadonlyMap<string, string>): Promise<void> {
  for (const [at, ids] of byTime(lastUsed)) {
    for (const slice of inChunks(ids)) {
      await db.updateTable(table).set({ lastUsed: at }).where('id', 'in', slice)
        .where((eb) => eb.or([eb('lastUsed', 'is', null), eb('lastUsed', '<', at)])).execute();
    }
  }
}

export async function writeLastUsed(db: Kysely<Database>, accessKeys: ReadonlyMap<string, string>, providerKeys: ReadonlyMap<string, string>): Promise<void> {
  await writeLastUsedOf(db, 'accessKeys', accessKeys);
  await writeLastUsedOf(db, 'providerKeys', providerKeys);
}
