// Access keys: the credentials apps send to the gateway. Tokens are stored only as SHA-256.
import type { Kysely, Selectable, Updateable } from 'kysely';
import type { AccessKeysTable, Database } from './schema.ts';
import { pageById, type Page } from './paging.ts';
import { deleteTokenKey, updateTokenKey } from './token-keys.ts';

export type AccessKeyRow = Selectable<AccessKeysTable> & { configurationName: string | null };

function selectWithConfiguration(db: Kysely<Database>, accountId: string) {
  return db.selectFrom('accessKeys')
    .leftJoin('accessKeyConfigurations', 'accessKeyConfigurations.id', 'accessKeys.configurationId')
    .selectAll('accessKeys')
    .select('accessKeyConfigurations.name as configurationName')
    .where('accessKeys.accountId', '=', accountId);
}

export function listAccessKeys(db: Kysely<Database>, accountId: string, options: { beforeId?: string; limit?: number; configurationId?: string }): Promise<Page<AccessKeyRow>> {
  let query = selectWithConfiguration(db, accountId);
  if (options.configurationId !== undefined) query = query.where('accessKeys.configurationId', '=', options.configurationId);
  return pageById(query, 'accessKeys.id', options);
}

/** How many of the account's access keys each of these configurations has linked (absent: none). */
export async function accessKeyCounts(db: Kysely<Database>, accountId: string, configurationIds: readonly string[]): Promise<Map<string, number>> {
  if (configurationIds.length === 0) return new Map();
  const rows = await db.selectFrom('accessKeys').select(['configurationId', (eb) => eb.fn.countAll<string | number>().as('keys')])
    .where('accountId', '=', accountId).where('configurationId', 'in', [...configurationIds]).groupBy('configurationId').execute();
  return new Map(rows.map((r) => [r.configurationId!, Number(r.keys)]));
}

export function getAccessKey(db: Kysely<Database>, accountId: string, id: string): Promise<AccessKeyRow | undefined> {
  return selectWithConfiguration(db, accountId).where('accessKeys.id', '=', id).executeTakeFirst();
}

export async function insertAccessKey(db: Kysely<Database>, row: Selectable<AccessKeysTable>): Promise<void> {
  await db.insertInto('accessKeys').values(row).execute();
}

export function updateAccessKey(db: Kysely<Database>, accountId: string, id: string, changes: Updateable<AccessKeysTable>): Promise<boolean> {
  return updateTokenKey(db, 'accessKeys', accountId, id, changes);
}

export function deleteAccessKey(db: Kysely<Database>, accountId: string, id: string): Promise<boolean> {
  return deleteTokenKey(db, 'accessKeys', accountId, id);
}

export async function accessKeysUsingConfiguration(db: Kysely<Database>, accountId: string, configurationId: string): Promise<string[]> {
  const rows = await db.selectFrom('accessKeys').select('id').where('accountId', '=', accountId).where('configurationId', '=', configurationId).execute();
  return rows.map((r) => r.id);
}
