// The steps every account-owned resource handler repeats: find the caller's row or answer 404, update it
// with the audit stamp, and announce the change so gateways reload (creates and deletes, which check
// references first, run under withAccountLock and announce after it).
import type { Kysely, Selectable, Updateable } from 'kysely';
import type { Database } from '../store/schema.ts';
import { getOwned, updateOwned, type OwnedTable } from '../store/owned.ts';
import type { ChangeKind } from '../state/changes.ts';
import type { Call, ControlDeps } from './app.ts';
import { notFound } from './resource.ts';
import { updatedStamp } from './audit.ts';

export function ownedResource<T extends OwnedTable>(deps: ControlDeps, table: T, kind: ChangeKind, label: string) {
  const { db } = deps.store;
  type Row = Selectable<Database[T]>;

  const publish = (call: Call, id: string) => deps.changes.publish({ accountId: call.principal.accountId, kind, resourceId: id });

  /** The caller's row or 404; `via` reads inside a transaction (withAccountLock). */
  const existing = async (call: Call, id: string = call.params.id!, via: Kysely<Database> = db): Promise<Row> => {
    const row = await getOwned(via, table, call.principal.accountId, id);
    if (!row) throw notFound(label, id);
    return row;
  };

  return {
    publish,
    existing,
    /** Applies `changes` to the caller's row (404 if it has none) and returns the stored result. */
    async update(call: Call, id: string, changes: Updateable<Database[T]>): Promise<Row> {
      const { accountId, apiKeyId } = call.principal;
      if (!(await updateOwned(db, table, accountId, id, { ...changes, ...updatedStamp(apiKeyId) } as Updateable<Database[T]>))) throw notFound(label, id);
      await publish(call, id);
      return existing(call, id);
    },
  };
}
