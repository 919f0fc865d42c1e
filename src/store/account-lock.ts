// Check-then-write sequences within one account — is this provider id free, is this provider or key still
// referenced, does the merged gateway config hold — must not interleave with another request's write, or both
// checks pass and the store ends up holding what neither would have allowed (a key of a deleted provider, a
// routing rule naming a deleted key, a per-request timeout above the total). They run in a transaction that
// first takes the account's lock: on PostgreSQL a transaction-scoped advisory lock (released at commit or
// rollback), on SQLite nothing more is needed, since Kysely runs SQLite transactions on its one connection
// one at a time.
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.ts';
import type { Store } from './database.ts';

export async function lockAccount(trx: Kysely<Database>, dialect: Store['dialect'], accountId: string): Promise<void> {
  if (dialect !== 'postgres') return;
  await sql`select pg_advisory_xact_lock(hashtextextended(${`tollgate account ${accountId}`}, 0))`.execute(trx);
}

/** Runs `write` in a transaction holding the account's lock. */
export function withAccountLock<T>(store: Pick<Store, 'db' | 'dialect'>, accountId: string, write: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  return store.db.transaction().execute(async (trx) => {
    await lockAccount(trx, store.dialect, accountId);
    return write(trx);
  });
}
