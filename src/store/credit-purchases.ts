// Saved-card credit purchases: one row per attempt, pending until Stripe settles the PaymentIntent.
import type { Kysely, Selectable } from 'kysely';
import type { CreditPurchasesTable, Database, PurchaseStatus } from './schema.ts';

export type PurchaseRow = Selectable<CreditPurchasesTable>;

export async function insertPurchase(db: Kysely<Database>, row: PurchaseRow): Promise<void> {
  await db.insertInto('creditPurchases').values(row).execute();
}

export function getPurchase(db: Kysely<Database>, accountId: string, id: string): Promise<PurchaseRow | undefined> {
  return db.selectFrom('creditPurchases').selectAll().where('accountId', '=', accountId).where('id', '=', id).executeTakeFirst();
}

/** The saved-card purchase a Stripe PaymentIntent charged, if any. */
export function getPurchaseByRef(db: Kysely<Database>, externalRef: string): Promise<PurchaseRow | undefined> {
  return db.selectFrom('creditPurchases').selectAll().where('externalRef', '=', externalRef).executeTakeFirst();
}

/** Looked up by id alone: webhooks carry the id in PaymentIntent metadata and no account principal. */
export function getPurchaseById(db: Kysely<Database>, id: string): Promise<PurchaseRow | undefined> {
  return db.selectFrom('creditPurchases').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The account's purchase started with this Idempotency-Key, if any. */
export function purchaseByIdempotencyKey(db: Kysely<Database>, accountId: string, key: string): Promise<PurchaseRow | undefined> {
  return db.selectFrom('creditPurchases').selectAll().where('accountId', '=', accountId).where('idempotencyKey', '=', key).executeTakeFirst();
}

/** The account's unresolved purchase (pending, or waiting for the cardholder), if any: at most one (ERR_NGROK_27616). */
export function pendingPurchase(db: Kysely<Database>, accountId: string): Promise<PurchaseRow | undefined> {
  return db.selectFrom('creditPurchases').selectAll().where('accountId', '=', accountId).where('status', 'in', ['pending', 'actionRequired']).executeTakeFirst();
}

export async function setPurchaseRef(db: Kysely<Database>, id: string, externalRef: string): Promise<void> {
  await db.updateTable('creditPurchases').set({ externalRef, updatedAt: new Date().toISOString() }).where('id', '=', id).execute();
}

/** A pending purchase whose charge ended without Stripe's answer: said so (`failureCode` ambiguous_upstream) until settled. */
export async function markAmbiguous(db: Kysely<Database>, id: string): Promise<void> {
  await db.updateTable('creditPurchases').set({ declineReason: AMBIGUOUS, updatedAt: new Date().toISOString() }).where('id', '=', id).where('status', '=', 'pending').execute();
}

export const AMBIGUOUS = 'ambiguous_upstream';

/** Moves a purchase in one of `from` (pending, actionRequired) to a later state; false when it was not (a redelivered event). */
export async function settlePurchase(db: Kysely<Database>, id: string, status: Exclude<PurchaseStatus, 'pending'>, declineReason: string | null, from: readonly PurchaseStatus[] = ['pending', 'actionRequired']): Promise<boolean> {
  const r = await db.updateTable('creditPurchases').set({ status, declineReason, updatedAt: new Date().toISOString() })
    .where('id', '=', id).where('status', 'in', from).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}
