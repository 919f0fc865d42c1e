// Buying credits through Stripe: Checkout sessions, off-session charges of the saved card, and applying
// the webhook events that settle them. Credits are granted only from Stripe's word (a completed, paid
// session or a succeeded PaymentIntent), each once: the Stripe object id is the grant's externalRef.
//
// Customer mapping: Stripe itself holds it. Each account has one Stripe Customer carrying metadata
// `tollgate_account_id`, found by Customer search and created (idempotently) on the first checkout, so
// no local table is needed. Checkout saves the card on that customer for later off-session purchases.
import type Stripe from 'stripe';
import type { ControlDeps } from './app.ts';
import { Errors, TollgateError } from '../domain/errors.ts';
import { grantCredits, purchaseExpiry, reverseGrant, type GrantReversal } from '../store/credits.ts';
import * as purchases from '../store/credit-purchases.ts';
import { accountExists } from '../store/accounts.ts';
import { stripeClient } from './stripe-client.ts';

const ACCOUNT_KEY = 'tollgate_account_id';

async function findCustomer(stripe: Stripe, accountId: string): Promise<Stripe.Customer | undefined> {
  const found = await stripe.customers.search({ query: `metadata['${ACCOUNT_KEY}']:'${accountId}'`, limit: 1 });
  return found.data[0];
}

async function ensureCustomer(stripe: Stripe, accountId: string): Promise<string> {
  const existing = await findCustomer(stripe, accountId);
  if (existing) return existing.id;
  // Search is eventually consistent; the idempotency key stops two quick checkouts making two customers.
  const created = await stripe.customers.create({ metadata: { [ACCOUNT_KEY]: accountId } }, { idempotencyKey: `tollgate-customer-${accountId}` });
  return created.id;
}

export async function createCheckout(stripe: Stripe, deps: ControlDeps, accountId: string, amountCents: number): Promise<{ sessionId: string; sessionUrl: string }> {
  const metadata = { [ACCOUNT_KEY]: accountId, amount_cents: String(amountCents) };
  const session = await stripe.checkout.sessions.create({
    mode: 'payment',
    customer: await ensureCustomer(stripe, accountId),
    client_reference_id: accountId,
    line_items: [{ quantity: 1, price_data: { currency: 'usd', unit_amount: amountCents, product_data: { name: 'Tollgate AI gateway credits' } } }],
    payment_intent_data: { setup_future_usage: 'off_session', metadata },
    metadata,
    success_url: deps.config.checkoutSuccessUrl,
    cancel_url: deps.config.checkoutCancelUrl,
  });
  if (!session.url) throw new Error(`Stripe returned checkout session ${session.id} without a url`);
  return { sessionId: session.id, sessionUrl: session.url };
}

/**
 * `expiresAt`: when the credits lapse (a saved-card purchase's: 12 months after it began, as its view says).
 * `paidWith`: what Stripe says of the charge now (its receipt, and what of it was refunded already).
 */
async function grant(deps: ControlDeps, accountId: string, cents: number, externalRef: string, paidWith: ChargeFacts, expiresAt = purchaseExpiry(), grantedAt?: string): Promise<boolean> {
  // The grant's announcement commits with it, so a grant is never left unannounced to the other gateways.
  const [granted, announce] = await deps.store.db.transaction().execute(async (trx) => {
    const result = await grantCredits(trx, accountId, cents, { category: 'purchase', externalRef, expiresAt, invoiceUrl: paidWith.invoiceUrl, grantedAt });
    // A refund whose charge.refunded event came before this grant, and was let go after waiting for it, is
    // taken back now: otherwise the purchase's late event granted credits Stripe had already given back.
    if (result.granted && paidWith.refundedCents > 0) {
      await reverseGrant(trx, externalRef, { refundedCents: paidWith.refundedCents }, deps.store.dialect === 'postgres');
    }
    // So is a dispute's withdrawal (or its reinstatement, which a later withdrawal delivered again must not undo).
    if (result.granted) for (const dispute of paidWith.disputes) await reverseGrant(trx, externalRef, dispute, deps.store.dialect === 'postgres');
    return [result.granted, result.granted ? await deps.changes.recordAll(trx, [{ accountId, kind: 'credits', resourceId: externalRef }]) : undefined] as const;
  });
  announce?.();
  return granted;
}

/** How long the receipt lookup may hold a grant: Stripe's answer is wanted, not waited for. */
const RECEIPT_LOOKUP = { timeout: 5000, maxNetworkRetries: 0 };

/** The charge that paid for a grant, as Stripe states it when the grant is made. */
interface ChargeFacts { invoiceUrl: string | null; refundedCents: number; disputes: readonly DisputeReversal[] }

type DisputeReversal = Extract<GrantReversal, { dispute: string }>;

const UNKNOWN_CHARGE: ChargeFacts = { invoiceUrl: null, refundedCents: 0, disputes: [] };

/**
 * A dispute's statuses with its funds withdrawn from the payment (`won`: given back). An inquiry (`warning_*`)
 * withdraws nothing, as no `funds_withdrawn` event comes for it; `prevented` never opened one.
 */
const FUNDS_WITHDRAWN: ReadonlySet<string> = new Set(['needs_response', 'under_review', 'lost']);

/**
 * The charge that paid: its hosted receipt (`receipt_url`, the grant's `invoiceUrl`), its refunded total so far
 * (`amount_refunded`, in USD cents as Tollgate charges) and, when it is `disputed`, its disputes' state (listed by
 * the charge: the charge says only that it was disputed). `paid` is the PaymentIntent (its `latest_charge` an id, or
 * expanded) or its id. Nothing known when Stripe has no charge or cannot say now: the credits are granted either
 * way, the receipt stays in Stripe's dashboard, and a refund or dispute is taken back when its own event comes.
 */
async function chargeFacts(deps: ControlDeps, stripe: Stripe | undefined, paid: Stripe.PaymentIntent | string | null | undefined): Promise<ChargeFacts> {
  if (!paid) return UNKNOWN_CHARGE;
  try {
    const client = stripe ?? await stripeClient(deps.config);
    if (!client) return UNKNOWN_CHARGE;
    const intent = typeof paid === 'string' ? await client.paymentIntents.retrieve(paid, { expand: ['latest_charge'] }, RECEIPT_LOOKUP) : paid;
    const charge = intent.latest_charge;
    if (!charge) return UNKNOWN_CHARGE;
    const found = typeof charge === 'string' ? await client.charges.retrieve(charge, {}, RECEIPT_LOOKUP) : charge;
    const usd = found.currency === undefined || found.currency === 'usd';
    const refunded = usd ? Number(found.amount_refunded ?? 0) : 0;
    const disputes = usd && found.disputed === true ? await chargeDisputes(deps, client, found.id) : [];
    return { invoiceUrl: found.receipt_url ?? null, refundedCents: Number.isSafeInteger(refunded) && refunded > 0 ? refunded : 0, disputes };
  } catch (err) {
    deps.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'the receipt of a credit purchase could not be read from Stripe; granted without its invoiceUrl');
    return UNKNOWN_CHARGE;
  }
}

/**
 * The disputes of a charge whose funds were withdrawn, or withdrawn and given back. None when Stripe cannot say now
 * (a restricted key without dispute access): the receipt and refund still count, and a dispute's own event applies it.
 */
async function chargeDisputes(deps: ControlDeps, client: Stripe, charge: string): Promise<DisputeReversal[]> {
  let listed: Stripe.Dispute[];
  try {
    listed = (await client.disputes.list({ charge, limit: 10 }, RECEIPT_LOOKUP)).data;
  } catch (err) {
    deps.logger.warn({ charge, err: err instanceof Error ? err.message : String(err) }, 'the disputes of a credit purchase\'s charge could not be read from Stripe; granted without them');
    return [];
  }
  const out: DisputeReversal[] = [];
  for (const d of listed) {
    const reinstated = d.status === 'won';
    if ((!reinstated && !FUNDS_WITHDRAWN.has(d.status)) || d.currency !== 'usd' || !Number.isSafeInteger(d.amount) || d.amount <= 0) continue;
    out.push({ dispute: d.id, disputedCents: d.amount, reinstated });
  }
  return out;
}

export type ChargeOutcome = { status: 'succeeded' | 'pending' | 'actionRequired' } | { status: 'failed'; reason: string };

/** The card a saved-card purchase charges: the account's Stripe customer and its default card (else its first). */
export interface SavedCard { customer: string; method: string }

export async function savedCard(stripe: Stripe, accountId: string): Promise<SavedCard | undefined> {
  const customer = await findCustomer(stripe, accountId);
  if (!customer) return undefined;
  const defaultMethod = customer.invoice_settings?.default_payment_method;
  const method = (typeof defaultMethod === 'string' ? defaultMethod : defaultMethod?.id)
    ?? (await stripe.customers.listPaymentMethods(customer.id, { type: 'card', limit: 1 })).data[0]?.id;
  return method ? { customer: customer.id, method } : undefined;
}

/** Charges the saved card off-session for a recorded purchase; card declines come back as outcomes. */
export async function chargeSavedCard(stripe: Stripe, deps: ControlDeps, purchase: purchases.PurchaseRow, card: SavedCard): Promise<ChargeOutcome> {
  const cents = Number(purchase.amount);
  try {
    const intent = await stripe.paymentIntents.create({
      amount: cents, currency: 'usd', customer: card.customer, payment_method: card.method, off_session: true, confirm: true,
      metadata: { [ACCOUNT_KEY]: purchase.accountId, purchase_id: purchase.id, amount_cents: String(cents) },
      // The charge comes back whole, with its receipt: no second call before the grant.
      expand: ['latest_charge'],
    }, { idempotencyKey: `tollgate-purchase-${purchase.id}` });
    await purchases.setPurchaseRef(deps.store.db, purchase.id, intent.id);
    if (intent.status === 'succeeded') {
      await grant(deps, purchase.accountId, cents, intent.id, await chargeFacts(deps, stripe, intent), purchaseExpiry(new Date(purchase.createdAt)));
      return { status: 'succeeded' };
    }
    if (intent.status === 'canceled' || intent.status === 'requires_payment_method') {
      return { status: 'failed', reason: intent.last_payment_error?.decline_code ?? intent.last_payment_error?.code ?? intent.status };
    }
    // The card's bank wants the cardholder to authenticate (3-D Secure), which an off-session charge cannot do.
    if (intent.status === 'requires_action') return { status: 'actionRequired' };
    return { status: 'pending' };
  } catch (err) {
    const e = err as Stripe.errors.StripeError;
    if (e.type === 'StripeCardError') {
      if (e.payment_intent?.id) await purchases.setPurchaseRef(deps.store.db, purchase.id, e.payment_intent.id);
      return { status: 'failed', reason: e.decline_code ?? e.code ?? e.message };
    }
    if (REFUSED.has(e.type)) throw err;
    // Stripe's 5xx or a lost connection: the card may have been charged. The purchase stays pending (so a retry
    // cannot charge again) until Stripe's webhook, or reconcilePurchase asking Stripe, settles it.
    deps.logger.warn({ purchase: purchase.id, err: e.message }, 'saved-card charge outcome unknown; the purchase stays pending until Stripe settles it');
    await purchases.markAmbiguous(deps.store.db, purchase.id);
    return { status: 'pending' };
  }
}

/** Stripe errors that say the charge was not made: the purchase fails at once. */
const REFUSED = new Set(['StripeInvalidRequestError', 'StripeAuthenticationError', 'StripePermissionError', 'StripeRateLimitError', 'StripeIdempotencyError']);

/** With no PaymentIntent found this long after the purchase began, its charge never reached Stripe. */
const ABANDONED_AFTER_MS = 15 * 60_000;

/**
 * A pending purchase with no PaymentIntent recorded: its charge call ended without Stripe's answer. Stripe is
 * asked (a search by the purchase id the intent carries) and the purchase settled by what it says; found nowhere
 * after ABANDONED_AFTER_MS (search trails writes by about a minute), it failed. No-op for any other purchase.
 */
export async function reconcilePurchase(stripe: Stripe, deps: ControlDeps, purchase: purchases.PurchaseRow, now = Date.now()): Promise<void> {
  if (purchase.status !== 'pending' && purchase.status !== 'actionRequired') return;
  if (purchase.externalRef) {
    // Its charge reached Stripe (processing, or waiting for the cardholder): Stripe says how it stands now. A
    // lost webhook, or a cancellation, would otherwise leave it unresolved — and every later purchase refused.
    const intent = await stripe.paymentIntents.retrieve(purchase.externalRef);
    if (intent.status === 'succeeded') await settleIntent(deps, intent, true, stripe);
    else if (intent.status === 'canceled' || intent.status === 'requires_payment_method') await settleIntent(deps, intent, false);
    else if (intent.status === 'requires_action') await purchases.settlePurchase(deps.store.db, purchase.id, 'actionRequired', null, ['pending']);
    return;
  }
  const found = await stripe.paymentIntents.search({ query: `metadata['purchase_id']:'${purchase.id}'`, limit: 1 });
  const intent = found.data[0];
  if (intent) {
    await purchases.setPurchaseRef(deps.store.db, purchase.id, intent.id);
    if (intent.status === 'succeeded') await settleIntent(deps, intent, true, stripe);
    else if (intent.status === 'canceled' || intent.status === 'requires_payment_method') await settleIntent(deps, intent, false);
    // The charge reached Stripe and waits for the cardholder: no longer an unknown outcome.
    else if (intent.status === 'requires_action') await purchases.settlePurchase(deps.store.db, purchase.id, 'actionRequired', null, ['pending']);
    return;
  }
  if (now - Date.parse(purchase.createdAt) >= ABANDONED_AFTER_MS) await purchases.settlePurchase(deps.store.db, purchase.id, 'failed', 'stripe_error');
}

/** `stripe`: a client at hand (else the server's, for the receipt, as for a webhook). */
async function settleIntent(deps: ControlDeps, intent: Stripe.PaymentIntent, succeeded: boolean, stripe?: Stripe): Promise<void> {
  const purchaseId = intent.metadata?.purchase_id;
  if (!purchaseId) return; // a Checkout PaymentIntent: its session event grants
  const purchase = await purchases.getPurchaseById(deps.store.db, purchaseId);
  if (!purchase) return;
  if (succeeded) {
    // A purchase granted when its charge answered has its receipt already: Stripe's later event grants nothing more.
    const paidWith = purchase.status === 'succeeded' ? UNKNOWN_CHARGE : await chargeFacts(deps, stripe, intent);
    await grant(deps, purchase.accountId, Number(purchase.amount), intent.id, paidWith, purchaseExpiry(new Date(purchase.createdAt)));
    // Granted, so it succeeded — also when it was marked failed before Stripe's word came.
    await purchases.settlePurchase(deps.store.db, purchase.id, 'succeeded', null, ['pending', 'actionRequired', 'failed']);
  } else {
    const error = intent.last_payment_error;
    await purchases.settlePurchase(deps.store.db, purchase.id, 'failed', error?.decline_code ?? error?.code ?? error?.message ?? (intent.status === 'canceled' ? 'canceled' : 'payment_failed'));
  }
}

/** A saved-card charge that went on to need the cardholder's authentication (after `processing`). */
async function awaitingCardholder(deps: ControlDeps, intent: Stripe.PaymentIntent): Promise<void> {
  const purchaseId = intent.metadata?.purchase_id;
  if (purchaseId) await purchases.settlePurchase(deps.store.db, purchaseId, 'actionRequired', null, ['pending']);
}

/**
 * The account and amount a paid session grants, or why it grants nothing. Only sessions Tollgate created grant: they
 * carry the account and the amount in their metadata, set server-side. Any other paid session on the same Stripe
 * account (a Payment Link for something else, whose buyer may set `client_reference_id` to an account id in its URL)
 * is not a credit purchase, whatever it cost or in which currency. Credits are US cents, and the session's one line
 * item must cost exactly the amount it grants.
 */
async function sessionGrant(deps: ControlDeps, session: Stripe.Checkout.Session): Promise<{ accountId: string; cents: number } | string> {
  const accountId = session.metadata?.[ACCOUNT_KEY];
  const tollgateAmount = session.metadata?.amount_cents;
  const cents = Number(tollgateAmount);
  if (!accountId || tollgateAmount === undefined) return 'paid checkout session Tollgate did not create; no credits granted';
  if (session.currency !== 'usd' || session.amount_subtotal !== cents) return 'paid checkout session whose price is not its credits in USD; no credits granted';
  if (!Number.isSafeInteger(cents) || cents <= 0 || !(await accountExists(deps.store.db, accountId))) return 'paid checkout session without a known account or amount; no credits granted';
  return { accountId, cents };
}

/**
 * `paidAt`: when Stripe says the session was paid (its event's `created`). The credits are dated, and lapse 12 months,
 * from then — not from when the event reached Tollgate, which Stripe retries for up to 3 days while the server is down.
 */
async function settleSession(deps: ControlDeps, session: Stripe.Checkout.Session, paidAt: Date): Promise<void> {
  if (session.payment_status !== 'paid') return; // async methods settle later with async_payment_succeeded
  const granted = await sessionGrant(deps, session);
  if (typeof granted === 'string') {
    deps.logger.warn({ session: session.id, currency: session.currency, amountSubtotal: session.amount_subtotal }, granted);
    return;
  }
  const { accountId, cents } = granted;
  // A clock ahead of this server's (or a test's event) never dates credits in the future.
  const at = new Date(Math.min(paidAt.getTime(), Date.now()));
  await grant(deps, accountId, cents, session.id, await chargeFacts(deps, undefined, session.payment_intent), purchaseExpiry(at), at.toISOString());
}

/** How long a refund of Tollgate's payment waits (redelivered) for its grant; after that it is logged and dropped. */
const GRANT_WAIT_S = 3600;

/**
 * A refund (`charge.refunded`: `amount_refunded` is the charge's total so far) or a dispute that withdrew the
 * funds (and one that gave them back) takes the credits it paid for back from the grant. The grant is found by the
 * charge's PaymentIntent: a saved-card purchase's reference, or the Checkout session that made it (asked of Stripe).
 * A payment of Tollgate's whose grant is not there yet (its refund came before the purchase's own event) is an error,
 * so that Stripe delivers the refund again later; a payment Tollgate never sold credit for is ignored.
 */
async function reverse(deps: ControlDeps, paymentIntent: string | Stripe.PaymentIntent | null, currency: string, reversal: GrantReversal, eventCreated: number): Promise<void> {
  const intent = typeof paymentIntent === 'string' ? paymentIntent : paymentIntent?.id;
  if (!intent || currency !== 'usd') return;
  if (await reverseOnce(deps, intent, reversal) !== undefined) return;
  const stripe = await stripeClient(deps.config);
  const session = stripe ? (await stripe.checkout.sessions.list({ payment_intent: intent, limit: 1 })).data[0] : undefined;
  if (session && await reverseOnce(deps, session.id, reversal) !== undefined) return;
  // A grant may still come only for a session settleSession would grant (its account here, its price its credits in
  // USD) or a saved-card purchase of this database; and not for ever — a refund never followed by its grant (a
  // session of another deployment on the same Stripe account) must not be redelivered until Stripe gives up.
  const grantable = session
    ? typeof (await sessionGrant(deps, session)) !== 'string'
    : ((await purchases.getPurchaseByRef(deps.store.db, intent))?.status ?? 'failed') !== 'failed';
  if (grantable && Date.now() / 1000 - eventCreated < GRANT_WAIT_S) {
    // A 409 (not a 2xx): Stripe delivers the event again, by when the purchase's own event will have granted.
    throw new TollgateError(Errors.validationFailed, { reason: `A refund or dispute of payment ${intent} came before its credit grant; deliver it again later.` }, 409);
  }
  deps.logger.warn({ paymentIntent: intent }, 'a refund or dispute names a payment no credit grant came from; nothing taken back');
}

async function reverseOnce(deps: ControlDeps, externalRef: string, reversal: GrantReversal): Promise<boolean | undefined> {
  const [result, announce] = await deps.store.db.transaction().execute(async (trx) => {
    const done = await reverseGrant(trx, externalRef, reversal, deps.store.dialect === 'postgres');
    return [done, done?.changed ? await deps.changes.recordAll(trx, [{ accountId: done.accountId, kind: 'credits', resourceId: externalRef }]) : undefined] as const;
  });
  announce?.();
  return result?.changed;
}

/** Applies one verified Stripe event; unrelated event types are acknowledged and ignored. */
export async function applyStripeEvent(deps: ControlDeps, event: Stripe.Event): Promise<void> {
  switch (event.type) {
    case 'checkout.session.completed':
    case 'checkout.session.async_payment_succeeded':
      return settleSession(deps, event.data.object, new Date(event.created * 1000));
    case 'payment_intent.succeeded':
      return settleIntent(deps, event.data.object, true);
    case 'payment_intent.payment_failed':
      return settleIntent(deps, event.data.object, false);
    case 'payment_intent.requires_action':
      return awaitingCardholder(deps, event.data.object);
    case 'payment_intent.canceled':
      return settleIntent(deps, event.data.object, false);
    case 'charge.refunded':
      return reverse(deps, event.data.object.payment_intent, event.data.object.currency, { refundedCents: event.data.object.amount_refunded }, event.created);
    case 'charge.dispute.funds_withdrawn':
    case 'charge.dispute.funds_reinstated': {
      const dispute = event.data.object;
      return reverse(deps, dispute.payment_intent, dispute.currency, { dispute: dispute.id, disputedCents: dispute.amount, reinstated: event.type === 'charge.dispute.funds_reinstated' }, event.created);
    }
    default:
      return undefined;
  }
}
