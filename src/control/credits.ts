// /credits: balance, transaction history (grants plus a live preview of this month's usage invoice),
// Stripe Checkout, and saved-card purchases.
import type Stripe from 'stripe';
import type { components } from './spec-types.ts';
import { Errors, TollgateError } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import { PICO_PER_CENT, picoToCentsFloor } from '../domain/money.ts';
import { balancePico, listCreditRows, purchaseExpiry, usageCostPico, type CreditRow } from '../store/credits.ts';
import * as purchases from '../store/credit-purchases.ts';
import type { Call, ControlDeps, HandlerTable } from './app.ts';
import { notFound } from './resource.ts';
import { nowIso } from '../domain/clock.ts';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { withAccountLock } from '../store/account-lock.ts';
import { STRIPE_SECRET_SETTING, stripeClient, stripeFailure, stripeNotConfigured } from './stripe-client.ts';
import { chargeSavedCard, createCheckout, reconcilePurchase, savedCard } from './stripe-payments.ts';

type Schemas = components['schemas'];
type Transaction = Schemas['CreditTransactionItem'];
type Purchase = Schemas['CreditPurchase'];

/** The dashboard's minimum purchase (USD 5.00); Stripe's own ceiling for one USD charge (Checkout). */
export const MIN_PURCHASE_CENTS = 500;
export const MAX_PURCHASE_CENTS = 99_999_999;
/** A saved-card purchase's ceiling in ngrok's published contract (USD 500). */
const MAX_CARD_PURCHASE_CENTS = 50_000;
const MAX_IDEMPOTENCY_KEY = 255;

function checkAmount(amount: number): void {
  if (amount < MIN_PURCHASE_CENTS || amount > MAX_PURCHASE_CENTS) {
    throw new TollgateError(Errors.validationFailed, { field: 'amount', reason: `"amount" must be between ${MIN_PURCHASE_CENTS} and ${MAX_PURCHASE_CENTS} cents (USD 5.00 minimum), got ${amount}.` });
  }
}

function creditView(row: CreditRow): Transaction | undefined {
  if (row.type === 'credits') {
    // A purchase's receipt is kept in `details` since grants record it; older grants and promotions have none.
    const invoiceUrl = row.details ? (JSON.parse(row.details) as { invoiceUrl?: string }).invoiceUrl ?? null : null;
    return { type: 'credits', amountCents: Number(row.amountCents), category: row.category ?? 'promotional', expiresAt: row.expiresAt, invoiceUrl, createdAt: row.createdAt };
  }
  // Finalized invoices are written with their fields in `details` by whoever closes a billing period.
  if (row.type === 'usageInvoice' && row.details) return { ...(JSON.parse(row.details) as Schemas['CreditTransactionUsageInvoice']), type: 'usageInvoice', createdAt: row.createdAt };
  return undefined;
}

function ceilCents(pico: bigint): bigint {
  return (pico + PICO_PER_CENT - 1n) / PICO_PER_CENT;
}

/** The current UTC month's invoice so far: usage rounded up to cents, covered by credits as far as they go. */
async function invoicePreview(deps: ControlDeps, accountId: string, now: Date): Promise<Schemas['CreditTransactionUsageInvoicePreview'] | undefined> {
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const next = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  const monthPico = await usageCostPico(deps.store.db, accountId, { from: start.toISOString(), before: next.toISOString() });
  if (monthPico <= 0n) return undefined;
  const total = ceilCents(monthPico);
  const creditsForMonth = picoToCentsFloor((await balancePico(deps.store.db, accountId, now)) + monthPico);
  const applied = creditsForMonth <= 0n ? 0n : creditsForMonth < total ? creditsForMonth : total;
  const due = total - applied;
  return {
    type: 'usageInvoicePreview', createdAt: now.toISOString(),
    periodStart: start.toISOString(), periodEnd: new Date(next.getTime() - 1).toISOString(),
    totalCents: Number(total), appliedCreditsCents: Number(applied), amountDueCents: Number(due), amountPaidCents: 0, amountRemainingCents: Number(due),
  };
}

const FAILURE_MESSAGES: Record<string, string> = {
  stripe_error: 'Stripe did not complete the charge; no credits were granted.',
  payment_failed: 'The payment failed; no credits were granted.',
};

/**
 * `failureCode` / `failureMessage` from the stored decline reason: a Stripe decline code (`expired_card`), our own
 * (`stripe_error`), or `code: message` as older rows have it. While pending only `ambiguous_upstream` is shown.
 */
function failure(row: purchases.PurchaseRow): Pick<Purchase, 'failureCode' | 'failureMessage'> {
  const reason = row.declineReason;
  if (reason === null) return { failureCode: null, failureMessage: null };
  const colon = reason.indexOf(': ');
  const code = colon > 0 ? reason.slice(0, colon) : reason;
  if (row.status !== 'failed') return { failureCode: code === purchases.AMBIGUOUS ? code : null, failureMessage: null };
  return { failureCode: code, failureMessage: colon > 0 ? reason.slice(colon + 2) : FAILURE_MESSAGES[code] ?? `The card was declined (${code}).` };
}

function purchaseView(row: purchases.PurchaseRow): Purchase {
  return {
    id: row.id, status: row.status, amountCents: Number(row.amount), currency: 'usd', createdAt: row.createdAt,
    expiresAt: purchaseExpiry(new Date(row.createdAt)), ...failure(row),
  };
}

/** A purchase still charging right now is not asked about at Stripe (its own request settles it). */
const CHARGE_CALL_MS = 2 * 60_000;

/**
 * An unresolved purchase whose charge call is over: Stripe answered it (its PaymentIntent is recorded: processing,
 * or waiting for the cardholder), it ended without Stripe's answer (`ambiguous_upstream`), or it began long enough
 * ago that its request is gone (a process that died mid-charge). Only such a one is asked about at Stripe when
 * another purchase meets it; one being charged at this moment is simply in progress.
 */
function charged(row: purchases.PurchaseRow): boolean {
  return row.externalRef !== null || row.declineReason === purchases.AMBIGUOUS || Date.now() - Date.parse(row.createdAt) > CHARGE_CALL_MS;
}

/** The trimmed Idempotency-Key, or undefined when absent or empty (no replay protection). */
function idempotencyKey(call: Call): string | undefined {
  const raw = call.headers['idempotency-key'];
  const key = (Array.isArray(raw) ? raw[0] : raw)?.trim();
  if (!key) return undefined;
  if (key.length > MAX_IDEMPOTENCY_KEY) throw new TollgateError(Errors.purchaseKeyInvalid, { reason: 'invalid_idempotency_key' });
  return key;
}

export function creditHandlers(deps: ControlDeps): HandlerTable {
  const { db } = deps.store;
  const requireStripe = async (): Promise<Stripe> => {
    const client = await stripeClient(deps.config);
    if (!client) throw stripeNotConfigured(STRIPE_SECRET_SETTING);
    return client;
  };
  /** Asks Stripe about a purchase in flight; Stripe unreachable leaves it pending (it is asked again next time). */
  const reconcile = async (row: purchases.PurchaseRow): Promise<void> => {
    const client = await stripeClient(deps.config);
    if (!client) return;
    try {
      await reconcilePurchase(client, deps, row);
    } catch (err) {
      deps.logger.warn({ purchase: row.id, err: err instanceof Error ? err.message : String(err) }, 'could not ask Stripe about a pending purchase; it stays pending');
    }
  };
  return {
    async GetCreditBalance(call: Call) {
      return { balanceCents: Number(picoToCentsFloor(await balancePico(db, call.principal.accountId))) };
    },
    async GetCreditTransactions(call: Call) {
      const items = (await listCreditRows(db, call.principal.accountId)).map(creditView).filter((t) => t !== undefined);
      const preview = await invoicePreview(deps, call.principal.accountId, new Date());
      // First before the (stable) sort: the running month is as of now, so a grant made in the same millisecond
      // comes after it (pushed last, it followed such a grant, and the order depended on the clock's tick).
      if (preview) items.unshift(preview);
      items.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
      return { items };
    },
    async CreateCheckoutSession(call: Call) {
      const { amount } = call.body as Schemas['CheckoutSessionCreate'];
      checkAmount(amount);
      const client = await requireStripe();
      try {
        return await createCheckout(client, deps, call.principal.accountId, amount);
      } catch (err) {
        throw stripeFailure(err);
      }
    },
    async CreateCreditPurchase(call: Call) {
      const { amount } = call.body as Schemas['CreditPurchaseCreate'];
      const { accountId } = call.principal;
      if (amount < MIN_PURCHASE_CENTS || amount > MAX_CARD_PURCHASE_CENTS) {
        throw new TollgateError(Errors.validationFailed, { field: 'amount', reason: `"amount" must be between ${MIN_PURCHASE_CENTS} and ${MAX_CARD_PURCHASE_CENTS} cents (USD 5.00 to 500.00), got ${amount}.` });
      }
      const key = idempotencyKey(call);
      const client = await requireStripe();
      // A repeated key is answered with the attempt it started, whatever its state: it never charges twice.
      const replayed = async (from: Kysely<Database>): Promise<Purchase | undefined> => {
        const earlier = key === undefined ? undefined : await purchases.purchaseByIdempotencyKey(from, accountId, key);
        if (!earlier) return undefined;
        if (Number(earlier.amount) !== amount) throw new TollgateError(Errors.purchaseKeyReused, { reason: 'idempotency_key_reuse', purchase_id: earlier.id });
        return purchaseView(earlier);
      };
      const replay = await replayed(db);
      if (replay) return replay;
      const card = await savedCard(client, accountId).catch((err: unknown) => { throw stripeFailure(err); });
      if (!card) throw new TollgateError(Errors.purchaseNoCard, { reason: 'no_default_payment_method' });
      const now = nowIso();
      const row: purchases.PurchaseRow = { id: newId('creditPurchase'), accountId, amount, status: 'pending', declineReason: null, externalRef: null, createdAt: now, updatedAt: now, idempotencyKey: key ?? null };
      // The check for an unresolved purchase and the insert hold the account's lock: two purchases started at once
      // (with different keys, or none) cannot both pass it and charge the card twice. The same key sent twice at
      // once finds the first one's attempt here.
      const begin = () => withAccountLock(deps.store, accountId, async (trx): Promise<{ replay?: Purchase; unresolved?: purchases.PurchaseRow }> => {
        const earlier = await replayed(trx);
        if (earlier) return { replay: earlier };
        const unresolved = await purchases.pendingPurchase(trx, accountId);
        if (unresolved) return { unresolved };
        await purchases.insertPurchase(trx, row);
        return {};
      });
      let begun = await begin();
      if (begun.unresolved && charged(begun.unresolved)) {
        // One whose charge ended without Stripe's answer may be settled by now: Stripe is asked (outside the lock).
        await reconcile(begun.unresolved);
        begun = await begin();
      }
      if (begun.replay) return begun.replay;
      if (begun.unresolved) throw new TollgateError(Errors.purchaseInProgress, { reason: 'purchase_in_progress', purchase_id: begun.unresolved.id });
      let outcome;
      try {
        outcome = await chargeSavedCard(client, deps, row, card);
      } catch (err) {
        await purchases.settlePurchase(db, row.id, 'failed', 'stripe_error');
        throw stripeFailure(err);
      }
      if (outcome.status !== 'pending') await purchases.settlePurchase(db, row.id, outcome.status, outcome.status === 'failed' ? outcome.reason : null);
      return purchaseView((await purchases.getPurchase(db, accountId, row.id))!);
    },
    async GetCreditPurchase(call: Call) {
      let row = await purchases.getPurchase(db, call.principal.accountId, call.params.id!);
      if (!row) throw notFound('Credit purchase', call.params.id!);
      if (row.status === 'pending' || row.status === 'actionRequired') {
        // Polled while unresolved: settled from Stripe's word when it has one (a lost or ignored webhook included).
        await reconcile(row);
        row = (await purchases.getPurchase(db, call.principal.accountId, row.id))!;
      }
      return purchaseView(row);
    },
  };
}
