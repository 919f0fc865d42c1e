// The steps every account-owned resource handler repeats: find the caller's row or answer 404, write it
// with the audit stamp, and announce the change so gateways reload.
import type { Selectable, Updateable } from 'kysely';
import type { Database } from '../store/schema.ts';
import { deleteOwned, getOwned, insertOwned, updateOwned, type OwnedTable } from '../store/owned.ts';
import type { ChangeKind } from '../state/changes.ts';
import type { Call, ControlDeps } from './app.ts';
import { notFound } from './resource.ts';
import { updatedStamp } from './audit.ts';

export function ownedResource<T extends OwnedTable>(deps: ControlDeps, table: T, kind: ChangeKind, label: string) {
  const { db } = deps.store;
  type Row = Selectable<Database[T]>;

  const publish = (call: Call, id: string) => deps.changes.publish({ accountId: call.principal.accountId, kind, resourceId: id });

  const existing = async (call: Call, id: string = call.params.id!): Promise<Row> => {
    const row = await getOwned(db, table, call.principal.accountId, id);
    if (!row) throw notFound(label, id);
    return row;
  };

  return {
    publish,
    existing,
    async insert(call: Call, row: Row & { id: string }): Promise<void> {
      await insertOwned(db, table, row);
      await publish(call, row.id);
    },
    /** Applies `changes` to the caller's row (404 if it has none) and returns the stored result. */
    async update(call: Call, id: string, changes: Updateable<Database[T]>): Promise<Row> {
      const { accountId, apiKeyId } = call.principal;
      if (!(await updateOwned(db, table, accountId, id, { ...changes, ...updatedStamp(apiKeyId) } as Updateable<Database[T]>))) throw notFound(label, id);
      await publish(call, id);
      return existing(call, id);
    },
    async remove(call: Call, id: string): Promise<void> {
      if (!(await deleteOwned(db, table, call.principal.accountId, id))) throw notFound(label, id);
      await publish(call, id);
    },
  };
}
