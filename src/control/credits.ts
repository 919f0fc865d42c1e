// /credits: balance, transaction history (grants plus a live preview of this month's usage invoice),
// Stripe Checkout, and saved-card purchases.
import type Stripe from 'stripe';
import type { components } from './spec-types.ts';
import { Errors, TollgateError } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import { PICO_PER_CENT, picoToCentsFloor } from '../domain/money.ts';
import { balancePico, listCreditRows, usageCostPico, type CreditRow } from '../store/credits.ts';
import * as purchases from '../store/credit-purchases.ts';
import type { Call, ControlDeps, HandlerTable } from './app.ts';
import { notFound } from './resource.ts';
import { nowIso } from '../domain/clock.ts';
import { STRIPE_SECRET_SETTING, createStripeClient, stripeFailure, stripeNotConfigured } from './stripe-client.ts';
import { chargeSavedCard, createCheckout, reconcilePurchase } from './stripe-payments.ts';

type Schemas = components['schemas'];
type Transaction = Schemas['CreditTransactionItem'];
type Purchase = Schemas['CreditPurchase'];

/** The dashboard's minimum purchase (USD 5.00); Stripe's own ceiling for one USD charge. */
export const MIN_PURCHASE_CENTS = 500;
export const MAX_PURCHASE_CENTS = 99_999_999;

function checkAmount(amount: number): void {
  if (amount < MIN_PURCHASE_CENTS || amount > MAX_PURCHASE_CENTS) {
    throw new TollgateError(Errors.validationFailed, { field: 'amount', reason: `"amount" must be between ${MIN_PURCHASE_CENTS} and ${MAX_PURCHASE_CENTS} cents (USD 5.00 minimum), got ${amount}.` });
  }
}

function creditView(row: CreditRow): Transaction | undefined {
  if (row.type === 'credits') {
    return { type: 'credits', amountCents: Number(row.amountCents), category: row.category ?? 'promotional', expiresAt: row.expiresAt, createdAt: row.createdAt };
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

function purchaseView(base: string, row: purchases.PurchaseRow): Purchase {
  return {
    id: row.id, uri: `${base}/credits/purchases/${row.id}`, status: row.status, amount: Number(row.amount),
    declineReason: row.declineReason, createdAt: row.createdAt, updatedAt: row.updatedAt,
  };
}

export function creditHandlers(deps: ControlDeps): HandlerTable {
  const { db } = deps.store;
  let stripe: Promise<Stripe | undefined> | undefined;
  const requireStripe = async (): Promise<Stripe> => {
    const client = await (stripe ??= createStripeClient(deps.config));
    if (!client) throw stripeNotConfigured(STRIPE_SECRET_SETTING);
    return client;
  };
  /** Asks Stripe about a purchase in flight; Stripe unreachable leaves it pending (it is asked again next time). */
  const reconcile = async (row: purchases.PurchaseRow): Promise<void> => {
    const client = await (stripe ??= createStripeClient(deps.config));
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
      if (preview) items.push(preview);
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
      checkAmount(amount);
      const client = await requireStripe();
      const inFlight = await purchases.pendingPurchase(db, accountId);
      if (inFlight) {
        // One whose charge ended without Stripe's answer may be settled by now: Stripe is asked before refusing.
        await reconcile(inFlight);
        if (await purchases.pendingPurchase(db, accountId)) throw new TollgateError(Errors.purchaseInProgress);
      }
      const now = nowIso();
      const row: purchases.PurchaseRow = { id: newId('creditPurchase'), accountId, amount, status: 'pending', declineReason: null, externalRef: null, createdAt: now, updatedAt: now };
      await purchases.insertPurchase(db, row);
      let outcome;
      try {
        outcome = await chargeSavedCard(client, deps, row);
      } catch (err) {
        await purchases.settlePurchase(db, row.id, 'failed', 'stripe_error');
        throw stripeFailure(err);
      }
      if (outcome.status !== 'pending') await purchases.settlePurchase(db, row.id, outcome.status, outcome.status === 'failed' ? outcome.reason : null);
      return purchaseView(call.base, (await purchases.getPurchase(db, accountId, row.id))!);
    },
    async GetCreditPurchase(call: Call) {
      let row = await purchases.getPurchase(db, call.principal.accountId, call.params.id!);
      if (!row) throw notFound('Credit purchase', call.params.id!);
      if (row.status === 'pending' && !row.externalRef) {
        // Polled while its charge's outcome is unknown: settled from Stripe's word when it has one.
        await reconcile(row);
        row = (await purchases.getPurchase(db, call.principal.accountId, row.id))!;
      }
      return purchaseView(call.base, row);
    },
  };
}
