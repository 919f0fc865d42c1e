// User-defined providers. Surfaces and models are JSON columns: they are always read and written whole.
import type { Kysely, Selectable } from 'kysely';
import type { Database, ProvidersTable } from './schema.ts';
import type { Page } from './paging.ts';
import { pageOwned } from './owned.ts';

export type ProviderRow = Selectable<ProvidersTable>;

export function listProviders(db: Kysely<Database>, accountId: string, options: { beforeId?: string; limit?: number }): Promise<Page<ProviderRow>> {
  return pageOwned(db, 'providers', accountId, options);
}

export async function providerSlugTaken(db: Kysely<Database>, accountId: string, providerId: string): Promise<boolean> {
  const row = await db.selectFrom('providers').select('id').where('accountId', '=', accountId).where('providerId', '=', providerId).executeTakeFirst();
  return row !== undefined;
}

/** The providerId slugs of the account's own providers. */
export async function customProviderIds(db: Kysely<Database>, accountId: string): Promise<Set<string>> {
  const rows = await db.selectFrom('providers').select('providerId').where('accountId', '=', accountId).execute();
  return new Set(rows.map((r) => r.providerId));
}
