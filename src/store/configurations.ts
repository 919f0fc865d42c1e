// Access key configurations. `access` and `router` are JSON text in their stored forms (see schema.ts);
// this file parses them so no caller handles raw JSON.
import type { Kysely, Selectable } from 'kysely';
import type { AccessKeyConfigurationsTable, Database } from './schema.ts';
import type { Page } from './paging.ts';
import type { AccessScope, StoredRouterRule } from '../state/types.ts';
import { getOwned, pageOwned } from './owned.ts';
import type { Dialect } from './database.ts';

export interface StoredRouter { rules: StoredRouterRule[] }

type Parsed<T> = Omit<T, 'access' | 'router'> & { access: AccessScope | null; router: StoredRouter | null };

function parse<T extends { access: string | null; router: string | null }>(row: T): Parsed<T> {
  return {
    ...row,
    access: row.access === null ? null : JSON.parse(row.access) as AccessScope,
    router: row.router === null ? null : JSON.parse(row.router) as StoredRouter,
  };
}

/** The stored text of a JSON column (`access` or `router`). */
export function jsonColumn(value: AccessScope | StoredRouter | null): string | null {
  return value === null ? null : JSON.stringify(value);
}

export type ConfigurationRow = Parsed<Selectable<AccessKeyConfigurationsTable>>;

export async function listConfigurations(db: Kysely<Database>, accountId: string, options: { beforeId?: string; limit?: number }): Promise<Page<ConfigurationRow>> {
  const page = await pageOwned(db, 'accessKeyConfigurations', accountId, options);
  return { items: page.items.map(parse), hasMore: page.hasMore };
}

export async function getConfiguration(db: Kysely<Database>, accountId: string, id: string): Promise<ConfigurationRow | undefined> {
  const row = await getOwned(db, 'accessKeyConfigurations', accountId, id);
  return row && parse(row);
}

/** Every configuration of the account with its scope and rules, for "still referenced?" checks. */
export async function configurationRules(db: Kysely<Database>, accountId: string): Promise<Pick<ConfigurationRow, 'id' | 'access' | 'router'>[]> {
  const rows = await db.selectFrom('accessKeyConfigurations').select(['id', 'access', 'router']).where('accountId', '=', accountId).orderBy('id').execute();
  return rows.map(parse);
}

/**
 * Whether the account's configuration exists, locking its row until the transaction ends — `share` while an
 * access key is linked to it, `update` while it is deleted — so a link and a delete cannot both pass their
 * checks and leave a key pointing at nothing (PostgreSQL; a SQLite transaction holds the store's only
 * connection, so it runs alone anyway).
 */
export async function lockConfiguration(trx: Kysely<Database>, dialect: Dialect, accountId: string, id: string, mode: 'share' | 'update'): Promise<boolean> {
  let query = trx.selectFrom('accessKeyConfigurations').select('id').where('accountId', '=', accountId).where('id', '=', id);
  if (dialect === 'postgres') query = mode === 'share' ? query.forShare() : query.forUpdate();
  return (await query.executeTakeFirst()) !== undefined;
}
