// Writes shared by the two token-bearing key tables (access keys, API keys): same audited columns, same
// account scoping, so one implementation serves both.
import type { Kysely, Updateable } from 'kysely';
import type { AccessKeysTable, ApiKeysTable, Database } from './schema.ts';

export type TokenKeyTable = 'accessKeys' | 'apiKeys';

export function updateTokenKey(db: Kysely<Database>, table: 'accessKeys', accountId: string, id: string, changes: Updateable<AccessKeysTable>): Promise<boolean>;
export function updateTokenKey(db: Kysely<Database>, table: 'apiKeys', accountId: string, id: string, changes: Updateable<ApiKeysTable>): Promise<boolean>;
export async function updateTokenKey(db: Kysely<Database>, table: TokenKeyTable, accountId: string, id: string, changes: Updateable<AccessKeysTable>): Promise<boolean> {
  const r = await db.updateTable(table).set(changes).where('accountId', '=', accountId).where('id', '=', id).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export async function deleteTokenKey(db: Kysely<Database>, table: TokenKeyTable, accountId: string, id: string): Promise<boolean> {
  const r = await db.deleteFrom(table).where('accountId', '=', accountId).where('id', '=', id).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}
