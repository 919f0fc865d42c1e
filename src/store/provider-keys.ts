// Provider keys: upstream credentials, stored only sealed (AES-256-GCM) plus a redacted form for display.
import type { Kysely, Selectable } from 'kysely';
import type { Database, ProviderKeysTable } from './schema.ts';
import type { Page } from './paging.ts';
import { pageOwned } from './owned.ts';
import { inChunks } from './in-chunks.ts';

export type ProviderKeyRow = Selectable<ProviderKeysTable>;

export function listProviderKeys(db: Kysely<Database>, accountId: string, options: { beforeId?: string; limit?: number; provider?: string }): Promise<Page<ProviderKeyRow>> {
  return pageOwned(db, 'providerKeys', accountId, options, !options.provider ? {} : { providerId: options.provider });
}

/** The account's keys among `ids` (unknown and foreign ids are simply absent), without their secrets. */
export async function providerKeysByIds(db: Kysely<Database>, accountId: string, ids: readonly string[]): Promise<Map<string, Pick<ProviderKeyRow, 'id' | 'providerId' | 'name' | 'keyRedacted'>>> {
  const found = new Map<string, Pick<ProviderKeyRow, 'id' | 'providerId' | 'name' | 'keyRedacted'>>();
  // A router may name any number of keys: read in slices (one bound parameter per id).
  for (const slice of inChunks([...new Set(ids)])) {
    const rows = await db.selectFrom('providerKeys').select(['id', 'providerId', 'name', 'keyRedacted'])
      .where('accountId', '=', accountId).where('id', 'in', slice).execute();
    for (const r of rows) found.set(r.id, r);
  }
  return found;
}

export async function countProviderKeys(db: Kysely<Database>, accountId: string, providerId: string): Promise<number> {
  const row = await db.selectFrom('providerKeys').select((eb) => eb.fn.countAll<string | number>().as('n'))
    .where('accountId', '=', accountId).where('providerId', '=', providerId).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Ids of the account's keys for one provider (a provider cannot be deleted while any exist). */
export async function providerKeyIdsFor(db: Kysely<Database>, accountId: string, providerId: string): Promise<string[]> {
  const rows = await db.selectFrom('providerKeys').select('id').where('accountId', '=', accountId).where('providerId', '=', providerId).orderBy('id').execute();
  return rows.map((r) => r.id);
}
