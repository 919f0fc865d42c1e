// The steps every account-owned resource handler repeats: find the caller's row or answer 404, write it
// with the audit stamp, and announce the change so gateways reload. Creates, deletes and checked updates run their checks
// (a free slug or name, no references left) and their write under the account's lock. The change is recorded in the
// write's own transaction (a committed write is never left unannounced) and local listeners hear it after.
import type { Kysely, Selectable, Updateable } from 'kysely';
import type { Database } from '../store/schema.ts';
import { deleteOwned, getOwned, insertOwned, updateOwned, type OwnedTable } from '../store/owned.ts';
import { withAccountLock } from '../store/account-lock.ts';
import type { ChangeKind } from '../state/changes.ts';
import type { Call, ControlDeps } from './app.ts';
import { notFound } from './resource.ts';
import { updatedStamp } from './audit.ts';

export function ownedResource<T extends OwnedTable>(deps: ControlDeps, table: T, kind: ChangeKind, label: string) {
  const { db } = deps.store;
  type Row = Selectable<Database[T]>;

  /** Records the row's change inside `trx`; the returned function tells local listeners after the commit. */
  const record = (call: Call, id: string, trx: Kysely<Database>) => deps.changes.recordAll(trx, [{ accountId: call.principal.accountId, kind, resourceId: id }]);

  /** The caller's row or 404; `via` reads inside a transaction. */
  const existing = async (call: Call, id: string = call.params.id!, via: Kysely<Database> = db): Promise<Row> => {
    const row = await getOwned(via, table, call.principal.accountId, id);
    if (!row) throw notFound(label, id);
    return row;
  };

  return {
    existing,
    /** Inserts `row` once `check` passes, both under the account's lock, then announces it. */
    async insert(call: Call, row: Row & { id: string }, check?: (trx: Kysely<Database>) => Promise<void>): Promise<void> {
      const announce = await withAccountLock(deps.store, call.principal.accountId, async (trx) => {
        await check?.(trx);
        await insertOwned(trx, table, row);
        return record(call, row.id, trx);
      });
      announce();
    },
    /** Deletes the caller's row (404 if none) once `check` passes on it, both under the account's lock. */
    async remove(call: Call, check?: (trx: Kysely<Database>, row: Row) => Promise<void>): Promise<void> {
      const id = call.params.id!;
      const announce = await withAccountLock(deps.store, call.principal.accountId, async (trx) => {
        // Looked up whether or not there is a check: a delete of nothing is a 404, not a 204.
        const row = await existing(call, id, trx);
        await check?.(trx, row);
        await deleteOwned(trx, table, call.principal.accountId, id);
        return record(call, id, trx);
      });
      announce();
    },
    /**
     * Applies `changes` to the caller's row (404 if it has none) and returns the stored result. With a `check`, the
     * row is found, checked and written under the account's lock, as a create is (a name two writes could both take).
     */
    async update(call: Call, id: string, changes: Updateable<Database[T]>, check?: (trx: Kysely<Database>) => Promise<void>): Promise<Row> {
      const { accountId, apiKeyId } = call.principal;
      const write = async (trx: Kysely<Database>) => {
        if (check) {
          await existing(call, id, trx);
          await check(trx);
        }
        if (!(await updateOwned(trx, table, accountId, id, { ...changes, ...updatedStamp(apiKeyId) } as Updateable<Database[T]>))) throw notFound(label, id);
        return record(call, id, trx);
      };
      const announce = check ? await withAccountLock(deps.store, accountId, write) : await db.transaction().execute(write);
      announce();
      return existing(call, id);
    },
  };
}
