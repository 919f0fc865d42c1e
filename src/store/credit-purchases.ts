// Saved-card credit purchases: one row per attempt, pending until Stripe settles the PaymentIntent.
import type { Kysely, Selectable } from 'kysely';
import type { CreditPurchasesTable, Database } from './schema.ts';

export type PurchaseRow = Selectable<CreditPurchasesTable>;

export async function insertPurchase(db: Kysely<Database>, row: PurchaseRow): Promise<void> {
  await db.insertInto('creditPurchases').values(row).execute();
}

export function getPurchase(db: Kysely<Database>, accountId: string, id: string): Promise<PurchaseRow | undefined> {
  return db.selectFrom('creditPurchases').selectAll().where('accountId', '=', accountId).where('id', '=', id).executeTakeFirst();
}

/** Looked up by id alone: webhooks carry the id in PaymentIntent metadata and no account principal. */
export function getPurchaseById(db: Kysely<Database>, id: string): Promise<PurchaseRow | undefined> {
  return db.selectFrom('creditPurchases').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The account's purchase in flight, if any (at most one: ERR_NGROK_27616). */
export function pendingPurchase(db: Kysely<Database>, accountId: string): Promise<PurchaseRow | undefined> {
  return db.selectFrom('creditPurchases').selectAll().where('accountId', '=', accountId).where('status', '=', 'pending').executeTakeFirst();
}

export async function setPurchaseRef(db: Kysely<Database>, id: string, externalRef: string): Promise<void> {
  await db.updateTable('creditPurchases').set({ externalRef, updatedAt: new Date().toISOString() }).where('id', '=', id).execute();
}

/** Moves a purchase in one of `from` (pending) to a final state; false when it was not (a redelivered event). */
export async function settlePurchase(db: Kysely<Database>, id: string, status: 'succeeded' | 'failed', declineReason: string | null, from: readonly ('pending' | 'failed')[] = ['pending']): Promise<boolean> {
  const r = await db.updateTable('creditPurchases').set({ status, declineReason, updatedAt: new Date().toISOString() })
    .where('id', '=', id).where('status', 'in', from).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}
