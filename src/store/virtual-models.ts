// Virtual models. `targets` is a JSON column, always read and written whole.
import type { Kysely, Selectable } from 'kysely';
import type { Database, VirtualModelsTable } from './schema.ts';
import type { Page } from './paging.ts';
import { pageOwned } from './owned.ts';

export type VirtualModelRow = Selectable<VirtualModelsTable>;

export function listVirtualModels(db: Kysely<Database>, accountId: string, options: { beforeId?: string; limit?: number }): Promise<Page<VirtualModelRow>> {
  return pageOwned(db, 'virtualModels', accountId, options);
}

/** The key a name is unique under: requests match model names whatever their case. */
export const nameKey = (name: string): string => name.toLowerCase();

/** The account's virtual models with their targets, for the checks a write runs (names, nesting, allow lists). */
export async function virtualModelNames(db: Kysely<Database>, accountId: string): Promise<{ id: string; name: string; nameKey: string }[]> {
  return db.selectFrom('virtualModels').select(['id', 'name', 'nameKey']).where('accountId', '=', accountId).execute();
}

export function targetsOf(row: Pick<VirtualModelRow, 'targets'>): string[] {
  const parsed: unknown = JSON.parse(row.targets);
  return Array.isArray(parsed) ? parsed.filter((t): t is string => typeof t === 'string') : [];
}
