// A loopback stand-in for the Stripe API, answering the few endpoints Tollgate calls the way Stripe does
// and recording every request (form-decoded) so tests can assert what the SDK sent.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest { method: string; path: string; form: URLSearchParams }

/**
 * `unknown`: the charge succeeds but Stripe answers 500 (its "outcome unknown"); `lost`: 500 and no charge made.
 * Either way the intent, if any, is found by PaymentIntent search afterwards.
 */
export type IntentBehaviour = 'succeeded' | 'processing' | 'requires_action' | 'decline' | 'unknown' | 'unknown_requires_action' | 'lost';

export interface FakeStripe {
  url: string;
  requests: RecordedRequest[];
  /** How the next PaymentIntent confirmations end. */
  intentBehaviour: IntentBehaviour;
  /** Whether customers have a saved card. */
  savedCard: boolean;
  /** Every answer waits this long (a slow Stripe: races between requests widen). */
  delayMs: number;
  /** What Stripe now says about an intent (the cardholder authenticated, the operator cancelled it…). */
  setIntentStatus(id: string, status: string): void;
  /** An intent Stripe made itself (a Checkout session's payment), retrievable by id. */
  addIntent(id: string, status: string, amount: number): void;
  /** A Checkout session that was paid by `paymentIntent`, found by listing sessions by PaymentIntent. */
  addSession(id: string, paymentIntent: string, fields?: Record<string, unknown>): void;
  /** A refund of a charge: its `amount_refunded` (the total so far) is then `cents`. */
  refundCharge(chargeId: string, cents: number): void;
  /**
   * A dispute of a charge as Stripe states it now (`status`: `needs_response`, `under_review` and `lost` have the
   * funds withdrawn, `won` reinstated; `warning_*` is an inquiry that withdrew nothing): the charge is then
   * `disputed`, and the dispute is listed by its charge.
   */
  disputeCharge(chargeId: string, dispute: { id: string; amount: number; status: string }): void;
  close(): Promise<void>;
}

/** The receipt page Stripe hosts for a charge (`receipt_url`). */
export function receiptUrlOf(chargeId: string): string {
  return `https://pay.stripe.test/receipts/${chargeId}`;
}

/** Each charge's refunded total (`amount_refunded`), by charge id. */
const refunded = new Map<string, number>();

/** Each charge's disputes, by charge id. */
const disputes = new Map<string, Array<{ id: string; amount: number; status: string }>>();

function charge(id: string) {
  return { id, object: 'charge', paid: true, currency: 'usd', receipt_url: receiptUrlOf(id), amount_refunded: refunded.get(id) ?? 0, disputed: disputes.has(id) };
}

/** A dispute as Stripe's API answers it (the fields Tollgate reads, and those beside them). */
function disputeView(chargeId: string, d: { id: string; amount: number; status: string }) {
  return {
    id: d.id, object: 'dispute', amount: d.amount, balance_transactions: [], charge: chargeId, created: 1, currency: 'usd',
    is_charge_refundable: false, livemode: false, metadata: {}, payment_intent: `pi_${chargeId.slice(3)}`, reason: 'fraudulent', status: d.status,
  };
}

/** An intent as Stripe answers it: a succeeded one names its charge, whole when `expand` asked for it. */
function intentView(intent: { id: string; status: string }, form: URLSearchParams) {
  const chargeId = intent.status === 'succeeded' ? `ch_${intent.id.slice(3)}` : null;
  const expanded = [...form.entries()].some(([k, v]) => k.startsWith('expand') && v === 'latest_charge');
  return { ...intent, latest_charge: chargeId && expanded ? charge(chargeId) : chargeId };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'request-id': 'req_fake' });
  res.end(JSON.stringify(body));
}

export async function startFakeStripe(): Promise<FakeStripe> {
  const intents: Array<{ id: string; object: 'payment_intent'; status: string; amount: number; metadata: Record<string, string> }> = [];
  const customers: Array<{ id: string; object: 'customer'; metadata: Record<string, string>; invoice_settings: { default_payment_method: null } }> = [];
  const sessions: Array<Record<string, unknown> & { id: string; payment_intent: string }> = [];
  let seq = 0;
  const fake: FakeStripe = {
    url: '', requests: [], intentBehaviour: 'succeeded', savedCard: true, delayMs: 0, close: async () => {},
    setIntentStatus(id, status) { const intent = intents.find((i) => i.id === id); if (intent) intent.status = status; },
    addIntent(id, status, amount) { intents.push({ id, object: 'payment_intent', status, amount, metadata: {} }); },
    addSession(id, paymentIntent, fields = {}) { sessions.push({ id, object: 'checkout.session', payment_intent: paymentIntent, metadata: {}, ...fields }); },
    refundCharge(chargeId, cents) { refunded.set(chargeId, cents); },
    disputeCharge(chargeId, dispute) { disputes.set(chargeId, [...(disputes.get(chargeId) ?? []).filter((d) => d.id !== dispute.id), dispute]); },
  };

  const handle = async (req: IncomingMessage, raw: string, res: ServerResponse) => {
    if (fake.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, fake.delayMs));
    const url = new URL(req.url ?? '/', 'http://fake');
    const form = new URLSearchParams(req.method === 'GET' ? url.search : raw);
    fake.requests.push({ method: req.method ?? '', path: url.pathname, form });
    if (req.method === 'GET' && url.pathname === '/v1/customers/search') {
      const account = /'([^']+)'$/.exec(form.get('query') ?? '')?.[1];
      return send(res, 200, { object: 'search_result', url: url.pathname, has_more: false, data: customers.filter((c) => Object.values(c.metadata).includes(account ?? '')) });
    }
    if (req.method === 'POST' && url.pathname === '/v1/customers') {
      const metadata: Record<string, string> = {};
      for (const [k, v] of form) { const m = /^metadata\[(.+)\]$/.exec(k); if (m) metadata[m[1]!] = v; }
      const customer = { id: `cus_fake${++seq}`, object: 'customer' as const, metadata, invoice_settings: { default_payment_method: null } };
      customers.push(customer);
      return send(res, 200, customer);
    }
    if (req.method === 'GET' && /^\/v1\/customers\/[^/]+\/payment_methods$/.test(url.pathname)) {
      return send(res, 200, { object: 'list', url: url.pathname, has_more: false, data: fake.savedCard ? [{ id: 'pm_fake_card', object: 'payment_method', type: 'card' }] : [] });
    }
    if (req.method === 'POST' && url.pathname === '/v1/checkout/sessions') {
      const id = `cs_test_fake${++seq}`;
      return send(res, 200, { id, object: 'checkout.session', url: `https://checkout.stripe.test/c/pay/${id}`, payment_status: 'unpaid' });
    }
    if (req.method === 'GET' && url.pathname === '/v1/checkout/sessions') {
      const data = sessions.filter((c) => c.payment_intent === form.get('payment_intent'));
      return send(res, 200, { object: 'list', url: url.pathname, has_more: false, data });
    }
    if (req.method === 'GET' && url.pathname === '/v1/payment_intents/search') {
      const purchase = /'([^']+)'$/.exec(form.get('query') ?? '')?.[1];
      return send(res, 200, { object: 'search_result', url: url.pathname, has_more: false, data: intents.filter((i) => i.metadata.purchase_id === purchase).map((i) => intentView(i, form)) });
    }
    const retrieved = req.method === 'GET' ? /^\/v1\/payment_intents\/(pi_[^/]+)$/.exec(url.pathname) : null;
    if (retrieved) {
      const intent = intents.find((i) => i.id === retrieved[1]);
      return intent ? send(res, 200, intentView(intent, form)) : send(res, 404, { error: { type: 'invalid_request_error', code: 'resource_missing', message: `No such payment_intent: '${retrieved[1]}'` } });
    }
    if (req.method === 'POST' && url.pathname === '/v1/payment_intents') {
      const id = `pi_fake${++seq}`;
      if (fake.intentBehaviour === 'unknown' || fake.intentBehaviour === 'unknown_requires_action' || fake.intentBehaviour === 'lost') {
        const metadata: Record<string, string> = {};
        for (const [k, v] of form) { const m = /^metadata\[(.+)\]$/.exec(k); if (m) metadata[m[1]!] = v; }
        // Stripe replays an idempotent request's first answer: one intent per purchase, however often it is asked.
        if (fake.intentBehaviour !== 'lost' && !intents.some((i) => i.metadata.purchase_id === metadata.purchase_id)) {
          intents.push({ id, object: 'payment_intent', status: fake.intentBehaviour === 'unknown' ? 'succeeded' : 'requires_action', amount: Number(form.get('amount')), metadata });
        }
        return send(res, 500, { error: { type: 'api_error', message: 'An unknown error occurred' } });
      }
      if (fake.intentBehaviour === 'decline') {
        return send(res, 402, { error: { type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.', payment_intent: { id, object: 'payment_intent', status: 'requires_payment_method' } } });
      }
      const metadata: Record<string, string> = {};
      for (const [k, v] of form) { const m = /^metadata\[(.+)\]$/.exec(k); if (m) metadata[m[1]!] = v; }
      const intent = { id, object: 'payment_intent' as const, status: fake.intentBehaviour, amount: Number(form.get('amount')), metadata };
      intents.push(intent);
      return send(res, 200, intentView(intent, form));
    }
    if (req.method === 'GET' && url.pathname === '/v1/disputes') {
      const chargeId = form.get('charge') ?? '';
      return send(res, 200, { object: 'list', url: url.pathname, has_more: false, data: (disputes.get(chargeId) ?? []).map((d) => disputeView(chargeId, d)) });
    }
    const charged = req.method === 'GET' ? /^\/v1\/charges\/(ch_[^/]+)$/.exec(url.pathname) : null;
    if (charged) return send(res, 200, charge(charged[1]!));
    return send(res, 404, { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${url.pathname})` } });
  };

  const server: Server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => { raw += chunk; });
    req.on('end', () => void handle(req, raw, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  return fake;
}
