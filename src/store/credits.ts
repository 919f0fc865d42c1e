// Credit ledger: grants (purchases, promotions) in cents, spent by usage costs in pico-USD.
//
// Balance = Σ grants − Σ usage cost − forfeited, where an expired grant forfeits only what usage up to its
// expiry had not consumed. Usage is taken to consume the soonest-expiring credit first (the order a
// customer would choose), so spent credits never "expire again" and push a balance negative.
import { sql, type Kysely, type Selectable } from 'kysely';
import type { CreditTransactionsTable, Database } from './schema.ts';
import { bigint } from './schema.ts';
import { newId } from '../domain/ids.ts';
import { centsToPico } from '../domain/money.ts';

export type CreditRow = Selectable<CreditTransactionsTable>;

export interface GrantOptions {
  category: 'purchase' | 'promotional';
  /** Idempotency reference (Stripe session or payment intent id): a second grant with it is a no-op. */
  externalRef?: string;
  expiresAt?: string | null;
}

export interface GrantResult { granted: boolean; id: string }

export async function grantCredits(db: Kysely<Database>, accountId: string, cents: number | bigint, options: GrantOptions): Promise<GrantResult> {
  const amount = BigInt(cents);
  if (amount <= 0n) throw new Error(`a credit grant must be positive, got ${amount}`);
  const id = newId('creditTransaction');
  const result = await db.insertInto('creditTransactions').values({
    id, accountId, type: 'credits', category: options.category, amountCents: amount.toString(),
    expiresAt: options.expiresAt ?? null, externalRef: options.externalRef ?? null, details: null,
    createdAt: new Date().toISOString(),
  }).onConflict((oc) => oc.column('externalRef').doNothing()).executeTakeFirst();
  if (Number(result.numInsertedOrUpdatedRows ?? 0n) > 0) return { granted: true, id };
  const existing = await db.selectFrom('creditTransactions').select('id').where('externalRef', '=', options.externalRef ?? '').executeTakeFirstOrThrow();
  return { granted: false, id: existing.id };
}

export function listCreditRows(db: Kysely<Database>, accountId: string): Promise<CreditRow[]> {
  return db.selectFrom('creditTransactions').selectAll().where('accountId', '=', accountId)
    .orderBy('createdAt', 'desc').orderBy('id', 'desc').execute();
}

/** Exact Σ cost_pico of the account's usage, optionally only events in [from, before). */
export async function usageCostPico(db: Kysely<Database>, accountId: string, window: { from?: string; before?: string } = {}): Promise<bigint> {
  let q = db.selectFrom('usageEvents').select(sql<string | null>`cast(sum(cost_pico) as text)`.as('total')).where('accountId', '=', accountId);
  if (window.from !== undefined) q = q.where('eventTime', '>=', window.from);
  if (window.before !== undefined) q = q.where('eventTime', '<', window.before);
  const row = await q.executeTakeFirstOrThrow();
  return bigint(row.total);
}

export async function balancePico(db: Kysely<Database>, accountId: string, now: Date = new Date()): Promise<bigint> {
  const nowIso = now.toISOString();
  const grants = await db.selectFrom('creditTransactions').select(['amountCents', 'expiresAt'])
    .where('accountId', '=', accountId).where('type', '=', 'credits').execute();
  let granted = 0n;
  const expired: { pico: bigint; at: string }[] = [];
  for (const g of grants) {
    const pico = centsToPico(bigint(g.amountCents));
    granted += pico;
    if (g.expiresAt !== null && g.expiresAt <= nowIso) expired.push({ pico, at: g.expiresAt });
  }
  expired.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  let consumed = 0n;
  let forfeited = 0n;
  for (const g of expired) {
    const usedBefore = await usageCostPico(db, accountId, { before: g.at });
    const available = usedBefore - consumed;
    const used = available <= 0n ? 0n : available < g.pico ? available : g.pico;
    consumed += used;
    forfeited += g.pico - used;
  }
  return granted - forfeited - (await usageCostPico(db, accountId));
}
