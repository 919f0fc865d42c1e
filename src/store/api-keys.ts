// Control-plane API keys. Tokens are stored only as SHA-256; updates and deletes are shared with access
// keys (token-keys.ts).
import type { Kysely, Selectable } from 'kysely';
import type { ApiKeysTable, Database } from './schema.ts';
import { pageById, type Page } from './paging.ts';

export type ApiKeyRow = Selectable<ApiKeysTable>;

export function listApiKeys(db: Kysely<Database>, accountId: string, options: { beforeId?: string; limit?: number }): Promise<Page<ApiKeyRow>> {
  return pageById(db.selectFrom('apiKeys').selectAll().where('accountId', '=', accountId), 'id', options);
}

export function getApiKey(db: Kysely<Database>, accountId: string, id: string): Promise<ApiKeyRow | undefined> {
  return db.selectFrom('apiKeys').selectAll().where('accountId', '=', accountId).where('id', '=', id).executeTakeFirst();
}

export async function insertApiKey(db: Kysely<Database>, row: ApiKeyRow): Promise<void> {
  await db.insertInto('apiKeys').values(row).execute();
}
