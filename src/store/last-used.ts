// `lastUsed` writes from the gateway's in-memory tracker: flushed in batches every few seconds, never
// per request. One statement per distinct timestamp keeps it portable across SQLite and PostgreSQL.
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

function byTime(lastUsed: ReadonlyMap<string, string>): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const [id, at] of lastUsed) {
    const ids = groups.get(at);
    if (ids) ids.push(id);
    else groups.set(at, [id]);
  }
  return groups;
}

export async function writeLastUsed(db: Kysely<Database>, accessKeys: ReadonlyMap<string, string>, providerKeys: ReadonlyMap<string, string>): Promise<void> {
  for (const [at, ids] of byTime(accessKeys)) await db.updateTable('accessKeys').set({ lastUsed: at }).where('id', 'in', ids).execute();
  for (const [at, ids] of byTime(providerKeys)) await db.updateTable('providerKeys').set({ lastUsed: at }).where('id', 'in', ids).execute();
}
