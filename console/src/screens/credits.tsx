// Credits: balance, transaction history, and buying credits through Stripe Checkout when the operator
// configured payments (otherwise the API's own explanation is shown).
import { useEffect, useState } from 'preact/hooks';
import { api, cents, when, type CreditTransaction, type Schemas } from '../api.ts';
import { Button, Empty, ErrorNote, Field, TableWrap, useAction, Loading } from '../ui.tsx';

/** The hosted page of a transaction (a purchase's receipt, an invoice), when it has one. */
function pageOf(t: CreditTransaction): string | null {
  return t.type === 'usageInvoicePreview' ? null : t.invoiceUrl ?? null;
}

function describe(t: CreditTransaction): { what: string; amount: string; page: string | null } {
  const page = pageOf(t);
  if (t.type === 'credits') return { what: t.category === 'purchase' ? 'Credits bought' : 'Promotional credits', amount: `+${cents(t.amountCents)}`, page };
  const label = t.type === 'usageInvoice' ? 'Usage invoice' : 'Usage so far (preview)';
  return { what: `${label}, ${t.periodStart.slice(0, 10)} – ${t.periodEnd.slice(0, 10)}`, amount: `${cents(t.totalCents)} (${cents(t.appliedCreditsCents)} from credits)`, page };
}

/** `paymentsConfigured`: the server has Stripe set up; otherwise buying is not offered (it could only fail). */
export function Credits({ paymentsConfigured }: { paymentsConfigured: boolean }) {
  const [balance, setBalance] = useState<number | undefined>();
  const [items, setItems] = useState<CreditTransaction[] | undefined>();
  const [amount, setAmount] = useState('25');
  const load = useAction();
  const buy = useAction();
  useEffect(() => {
    void load.run('Loading credits', async () => {
      const [b, t] = await Promise.all([
        api<Schemas['CreditBalance']>('GET', '/credits/balance'),
        api<Schemas['CreditTransactionList']>('GET', '/credits/transactions'),
      ]);
      setBalance(b.balanceCents);
      setItems(t.items);
    }, '');
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    const body = { amount: Math.round(Number(amount) * 100) };
    const s = await buy.run('Starting checkout', () => api<Schemas['CheckoutSession']>('POST', '/credits/checkout-session', body), 'Checkout opened; continue on the payment page.');
    if (s) location.assign(s.sessionUrl);
  };
  return (
    <section aria-labelledby="credits-title">
      <h2 id="credits-title">Credits</h2>
      <ErrorNote error={load.error} />
      <Loading busy={load.busy} />
      <p class="balance">Balance: <strong data-testid="balance">{balance === undefined ? '…' : cents(balance)}</strong></p>
      {!paymentsConfigured ? (
        <p class="card muted" data-testid="payments-off">Buying credits is not set up on this server: its operator grants credits (<code>tollgate credits grant</code>), or enables Stripe payments.</p>
      ) : (
      <form class="card row" onSubmit={(e) => void submit(e)} aria-label="Buy credits">
        <Field label="Amount to buy (USD)" hint="Minimum $5.00.">
          <input type="number" min={5} step={0.01} required value={amount} onInput={(e) => setAmount(e.currentTarget.value)} />
        </Field>
        <Button type="submit" kind="primary" busy={buy.busy}>Buy credits</Button>
        <ErrorNote error={buy.error} />
      </form>
      )}
      {items && items.length === 0 ? <Empty>No transactions yet.</Empty> : null}
      {items && items.length > 0 ? (
        <TableWrap label="Credit transactions">
          <table>
            <thead><tr><th scope="col">When</th><th scope="col">What</th><th scope="col">Amount</th></tr></thead>
            <tbody>
              {items.map((t, i) => {
                const d = describe(t);
                return (
                  <tr key={i}>
                    <td data-label="When">{when(t.createdAt)}</td>
                    <td data-label="What">{d.what}{d.page ? <> · <a href={d.page} target="_blank" rel="noopener noreferrer">{t.type === 'credits' ? 'Receipt' : 'Invoice'}</a></> : null}</td>
                    <td data-label="Amount">{d.amount}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </TableWrap>
      ) : null}
    </section>
  );
}
