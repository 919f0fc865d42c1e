// Newest-first paging by id (ids are time-ordered): `beforeId` excludes everything at or after it.
import type { SelectQueryBuilder } from 'kysely';

export const DEFAULT_PAGE_LIMIT = 100;

export interface Page<T> { items: T[]; hasMore: boolean }

export async function pageById<DB, TB extends keyof DB & string, O extends { id: string }>(
  query: SelectQueryBuilder<DB, TB, O>,
  idColumn: string,
  options: { beforeId?: string | undefined; limit?: number | undefined },
): Promise<Page<O>> {
  const limit = options.limit ?? DEFAULT_PAGE_LIMIT;
  let q = query;
  // The column reference is checked by the caller's table; Kysely cannot type a dynamic column name.
  if (options.beforeId) q = q.where(idColumn as never, '<', options.beforeId as never);
  const rows = await q.orderBy(idColumn as never, 'desc').limit(limit + 1).execute();
  return { items: rows.slice(0, limit), hasMore: rows.length > limit };
}
