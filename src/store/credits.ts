// Credit ledger: grants (purchases, promotions) in cents, spent by usage costs in pico-USD.
//
// Balance = Σ grants − Σ usage cost − forfeited, where an expired grant forfeits only what usage up to its
// expiry had not consumed. Usage is taken to consume the soonest-expiring credit first (the order a
// customer would choose), so spent credits never "expire again" and push a balance negative.
import type { Kysely, Selectable } from 'kysely';
import type { CreditTransactionsTable, Database } from './schema.ts';
import { bigint, COST_BILLIONS, COST_REMAINDERS, picoSum } from './schema.ts';
import { newId } from '../domain/ids.ts';
import { centsToPico } from '../domain/money.ts';
import { inOneSnapshot } from './database.ts';

export type CreditRow = Selectable<CreditTransactionsTable>;

export interface GrantOptions {
  category: 'purchase' | 'promotional';
  /** Idempotency reference (Stripe session or payment intent id): a second grant with it is a no-op. */
  externalRef?: string;
  expiresAt?: string | null;
  /** When the grant was made (ISO 8601); now unless given — an import or a test's history. */
  grantedAt?: string;
  /** The hosted page of the charge that paid for it (a Stripe receipt), kept in `details`. */
  invoiceUrl?: string | null;
}

export interface GrantResult { granted: boolean; id: string }

export async function grantCredits(db: Kysely<Database>, accountId: string, cents: number | bigint, options: GrantOptions): Promise<GrantResult> {
  const amount = BigInt(cents);
  if (amount <= 0n) throw new Error(`a credit grant must be positive, got ${amount}`);
  const id = newId('creditTransaction');
  const result = await db.insertInto('creditTransactions').values({
    id, accountId, type: 'credits', category: options.category, amountCents: amount.toString(),
    expiresAt: options.expiresAt ?? null, externalRef: options.externalRef ?? null,
    details: options.invoiceUrl ? JSON.stringify({ invoiceUrl: options.invoiceUrl }) : null,
    createdAt: options.grantedAt ?? new Date().toISOString(),
  }).onConflict((oc) => oc.column('externalRef').doNothing()).executeTakeFirst();
  if (Number(result.numInsertedOrUpdatedRows ?? 0n) > 0) return { granted: true, id };
  const existing = await db.selectFrom('creditTransactions').select('id').where('externalRef', '=', options.externalRef ?? '').executeTakeFirstOrThrow();
  return { granted: false, id: existing.id };
}

/**
 * What Stripe took back of a purchase, as one event states it. A charge's refunds only grow (`amount_refunded` is its
 * total so far), and a dispute goes from withdrawn to reinstated, never back: events come out of order and are
 * retried for days, so the larger refund total and the later dispute state win, and a replay changes nothing.
 */
export type GrantReversal = { refundedCents: number } | { dispute: string; disputedCents: number; reinstated: boolean };

interface ReversalDetails { originalCents?: number; refundedCents?: number; disputes?: Record<string, { cents: number; reinstated: boolean }> }

/**
 * Sets a purchased grant's amount to what it was bought for less what was refunded and what disputes withdrew
 * (never below 0), keeping the original and the figures in `details`. The contract's grants have no negative
 * amounts, so a reversal shows as the grant's smaller amount; the balance (Σ grants − usage) follows, and may go
 * negative for credit already spent. Undefined when no grant has that reference; else whether the amount changed.
 * `lockRow`: PostgreSQL, where two events for one charge may be applied at once (SQLite runs one at a time).
 */
export async function reverseGrant(trx: Kysely<Database>, externalRef: string, reversal: GrantReversal, lockRow: boolean): Promise<{ accountId: string; changed: boolean } | undefined> {
  let query = trx.selectFrom('creditTransactions').select(['id', 'accountId', 'amountCents', 'details'])
    .where('externalRef', '=', externalRef).where('type', '=', 'credits');
  if (lockRow) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  if (!row) return undefined;
  const details = (row.details ? JSON.parse(row.details) : {}) as ReversalDetails & Record<string, unknown>;
  const original = details.originalCents ?? Number(row.amountCents);
  const disputes = { ...details.disputes };
  let refunded = details.refundedCents ?? 0;
  if ('refundedCents' in reversal) refunded = Math.max(refunded, reversal.refundedCents);
  else if (!disputes[reversal.dispute]?.reinstated) disputes[reversal.dispute] = { cents: reversal.disputedCents, reinstated: reversal.reinstated };
  const disputed = Object.values(disputes).reduce((sum, d) => sum + (d.reinstated ? 0 : d.cents), 0);
  const amount = Math.max(0, original - refunded - disputed);
  const next = { ...details, originalCents: original, refundedCents: refunded, disputes };
  if (JSON.stringify(next) === JSON.stringify({ ...details, originalCents: original, refundedCents: details.refundedCents ?? 0, disputes: details.disputes ?? {} })) return { accountId: row.accountId, changed: false };
  await trx.updateTable('creditTransactions').set({ amountCents: String(amount), details: JSON.stringify(next) }).where('id', '=', row.id).execute();
  return { accountId: row.accountId, changed: amount !== Number(row.amountCents) };
}

export function listCreditRows(db: Kysely<Database>, accountId: string): Promise<CreditRow[]> {
  return db.selectFrom('creditTransactions').selectAll().where('accountId', '=', accountId)
    .orderBy('createdAt', 'desc').orderBy('id', 'desc').execute();
}

/** Exact Σ cost_pico of the account's usage, optionally only events in [from, before). */
export async function usageCostPico(db: Kysely<Database>, accountId: string, window: { from?: string; before?: string } = {}): Promise<bigint> {
  let q = db.selectFrom('usageEvents').select([COST_BILLIONS.as('billions'), COST_REMAINDERS.as('remainders')]).where('accountId', '=', accountId);
  if (window.from !== undefined) q = q.where('eventTime', '>=', window.from);
  if (window.before !== undefined) q = q.where('eventTime', '<', window.before);
  const row = await q.executeTakeFirstOrThrow();
  return picoSum(row.billions, row.remainders);
}

/** Purchased credits lapse 12 months after purchase (concepts/credits). */
const PURCHASE_VALIDITY_MONTHS = 12;

/** When credits bought at `now` lapse. */
export function purchaseExpiry(now = new Date()): string {
  const d = new Date(now);
  d.setUTCMonth(d.getUTCMonth() + PURCHASE_VALIDITY_MONTHS);
  return d.toISOString();
}

export async function balancePico(db: Kysely<Database>, accountId: string, now: Date = new Date()): Promise<bigint> {
  return (await balanceAndLapse(db, accountId, now)).pico;
}

/**
 * The balance as balancePico reads it, and when it next changes by itself: the soonest expiry of a grant still
 * valid at `now` (null when none expires), after which the figure must be read again.
 */
export function balanceAndLapse(db: Kysely<Database>, accountId: string, now: Date = new Date()): Promise<{ pico: bigint; nextExpiry: string | null }> {
  // One snapshot: with a grant expired, the figure takes a usage sum per grant moment besides the total, and an event
  // committed between two of them (another gateway's shipment on PostgreSQL, any while the control plane reads) would
  // be in one sum and not the other — the forfeiture, and so the balance, off by its cost.
  return inOneSnapshot(db, (trx) => balanceIn(trx, accountId, now));
}

async function balanceIn(db: Kysely<Database>, accountId: string, now: Date): Promise<{ pico: bigint; nextExpiry: string | null }> {
  const nowIso = now.toISOString();
  const rows = await db.selectFrom('creditTransactions').select(['amountCents', 'expiresAt', 'createdAt'])
    .where('accountId', '=', accountId).where('type', '=', 'credits').execute();
  const grants = rows.map((g): Grant => ({
    pico: centsToPico(bigint(g.amountCents)), from: g.createdAt, expiresAt: g.expiresAt,
    expired: g.expiresAt !== null && g.expiresAt <= nowIso,
  }));
  let nextExpiry: string | null = null;
  for (const g of grants) if (!g.expired && g.expiresAt !== null && (nextExpiry === null || g.expiresAt < nextExpiry)) nextExpiry = g.expiresAt;
  const granted = grants.reduce((sum, g) => sum + g.pico, 0n);
  const total = await usageCostPico(db, accountId);
  if (!grants.some((g) => g.expired)) return { pico: granted - total, nextExpiry };
  return { pico: granted - (await forfeitedPico(db, accountId, grants)) - total, nextExpiry };
}

interface Grant { pico: bigint; from: string; expiresAt: string | null; expired: boolean }

const NEVER = '\uffff';

/** Credit is spent soonest-expiring first (never-expiring last), the order a customer would pick. */
const soonestExpiryFirst = (a: Grant, b: Grant): number => ((a.expiresAt ?? NEVER) < (b.expiresAt ?? NEVER) ? -1 : 1);

/**
 * What expired grants left unused. Replayed in time order over the moments grants were made and expired:
 * the usage between two such moments consumes the credit available then, soonest-expiring first (never a
 * grant made after it, nor one already expired); usage beyond all of it is a debt the next grant pays first;
 * whatever an expired grant still held at its expiry is forfeited.
 */
async function forfeitedPico(db: Kysely<Database>, accountId: string, grants: readonly Grant[]): Promise<bigint> {
  const moments = [...new Set(grants.flatMap((g) => (g.expired ? [g.from, g.expiresAt!] : [g.from])))].sort();
  const active: { grant: Grant; left: bigint }[] = [];
  let debt = 0n;
  let forfeited = 0n;
  let usedSoFar = 0n;
  for (const at of moments) {
    const usedBefore = await usageCostPico(db, accountId, { before: at });
    let use = usedBefore - usedSoFar;
    usedSoFar = usedBefore;
    active.sort((a, b) => soonestExpiryFirst(a.grant, b.grant));
    for (const entry of active) {
      if (use <= 0n) break;
      const taken = entry.left < use ? entry.left : use;
      entry.left -= taken;
      use -= taken;
    }
    debt += use;
    for (let i = active.length - 1; i >= 0; i--) {
      const { grant, left } = active[i]!;
      if (grant.expired && grant.expiresAt === at) {
        forfeited += left;
        active.splice(i, 1);
      }
    }
    // A debt is paid from the grant made now that would expire first.
    for (const grant of grants.filter((g) => g.from === at).sort(soonestExpiryFirst)) {
      const paid = debt < grant.pico ? debt : grant.pico;
      debt -= paid;
      // Made at or after its own expiry: nothing of it was ever available.
      if (grant.expired && grant.expiresAt! <= at) forfeited += grant.pico - paid;
      else active.push({ grant, left: grant.pico - paid });
    }
  }
  return forfeited;
}
