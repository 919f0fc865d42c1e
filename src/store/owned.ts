// Row operations shared by the account-owned resource tables (configurations, provider keys, providers, virtual
// models, Firewall policies, MCP servers): every statement is scoped by account, so another account's id behaves exactly like an
// unknown one.
import type { Kysely, Selectable, Updateable } from 'kysely';
import type { Database } from './schema.ts';
import { pageById, type Page } from './paging.ts';

export type OwnedTable = 'accessKeyConfigurations' | 'providerKeys' | 'providers' | 'virtualModels' | 'firewallPolicies' | 'mcpServers';

// Kysely cannot type a query over a table chosen by a type parameter; the casts below pin one member of
// the union for the builder while the public signatures keep the caller's table precise.
type Any = 'providers';

export function pageOwned<T extends OwnedTable>(db: Kysely<Database>, table: T, accountId: string, options: { beforeId?: string | undefined; limit?: number | undefined }, where: Partial<Selectable<Database[T]>> = {}): Promise<Page<Selectable<Database[T]>>> {
  let q = db.selectFrom(table as Any).selectAll().where('accountId', '=', accountId);
  for (const [column, value] of Object.entries(where)) q = q.where(column as 'id', '=', value as string);
  return pageById(q, 'id', options) as Promise<Page<Selectable<Database[T]>>>;
}

/** How many rows the account holds, for the per-account limits its creates check. */
export async function countOwned(db: Kysely<Database>, table: OwnedTable, accountId: string): Promise<number> {
  const row = await db.selectFrom(table as Any).select((eb) => eb.fn.countAll<string | number>().as('n')).where('accountId', '=', accountId).executeTakeFirstOrThrow();
  return Number(row.n);
}

export function getOwned<T extends OwnedTable>(db: Kysely<Database>, table: T, accountId: string, id: string): Promise<Selectable<Database[T]> | undefined> {
  return db.selectFrom(table as Any).selectAll().where('accountId', '=', accountId).where('id', '=', id).executeTakeFirst() as Promise<Selectable<Database[T]> | undefined>;
}

export async function insertOwned<T extends OwnedTable>(db: Kysely<Database>, table: T, row: Selectable<Database[T]>): Promise<void> {
  await db.insertInto(table as Any).values(row as Selectable<Database[Any]>).execute();
}

export async function updateOwned<T extends OwnedTable>(db: Kysely<Database>, table: T, accountId: string, id: string, changes: Updateable<Database[T]>): Promise<boolean> {
  const r = await db.updateTable(table as Any).set(changes as Updateable<Database[Any]>).where('accountId', '=', accountId).where('id', '=', id).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export async function deleteOwned(db: Kysely<Database>, table: OwnedTable, accountId: string, id: string): Promise<boolean> {
  const r = await db.deleteFrom(table as Any).where('accountId', '=', accountId).where('id', '=', id).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}
