// Usage events: one row per upstream attempt, written in batches by the gateway's usage sink.
import { sql, type Insertable, type Kysely, type Selectable } from 'kysely';
import type { Database, UsageEventsTable } from './schema.ts';
import { COST_BILLIONS, COST_REMAINDERS, int, picoSum } from './schema.ts';
import type { UsageEvent } from '../usage/event.ts';
import { sqliteHandle } from './database.ts';
import { inChunks } from './in-chunks.ts';
import type BetterSqlite3 from 'better-sqlite3';


export function toRow(e: UsageEvent): Insertable<UsageEventsTable> {
  return {
    id: e.id, accountId: e.accountId, requestId: e.requestId, accessKeyId: e.accessKeyId,
    provider: e.provider, providerDisplayName: e.providerDisplayName, model: e.model, modelDisplayName: e.modelDisplayName,
    attemptNumber: e.attemptNumber, isFinalAttempt: e.isFinalAttempt ? 1 : 0, statusCode: e.statusCode,
    timedOut: e.timedOut ? 1 : 0, isError: e.isError ? 1 : 0, isStreaming: e.isStreaming ? 1 : 0, stopReason: e.stopReason,
    inputTokens: e.inputTokens, outputTokens: e.outputTokens, cacheReadTokens: e.cacheReadTokens,
    cacheWriteTokens: e.cacheWriteTokens, reasoningTokens: e.reasoningTokens,
    usageEstimated: e.usageEstimated ? 1 : 0, inputTokensEstimate: e.inputTokensEstimate, outputTokensEstimate: e.outputTokensEstimate,
    // Text keeps every digit on both drivers; the bigint column's integer affinity stores it as a number.
    costPico: e.costPico.toString(),
    keySource: e.keySource, providerKeyId: e.providerKeyId, providerKeyDisplayName: e.providerKeyDisplayName,
    retryAction: e.retryAction, completion: e.completion, upstreamDurationMs: e.upstreamDurationMs,
    eventTime: e.eventTime,
    // Bound as bigints (both drivers take them; ~0.3 µs per value cheaper in SQLite than text). A part stays inside
    // 64 bits: the cost prices at most a billion tokens per count (domain/cost.ts).
    cacheWrite1hTokens: e.cacheWrite1hTokens,
    inputCostPico: e.inputCostPico, outputCostPico: e.outputCostPico, cacheReadCostPico: e.cacheReadCostPico,
    cacheWrite5mCostPico: e.cacheWrite5mCostPico, cacheWrite1hCostPico: e.cacheWrite1hCostPico, feePico: e.feePico,
    virtualModel: e.virtualModel,
    firewall: firewallText(e),
  };
}

/**
 * toRow's values in its key order, built directly: the SQLite insert binds this array, so each event costs one
 * array instead of a 38-key object plus `Object.values` (a test holds the two in step).
 */
export function rowValues(e: UsageEvent): unknown[] {
  return [
    e.id, e.accountId, e.requestId, e.accessKeyId, e.provider, e.providerDisplayName, e.model, e.modelDisplayName,
    e.attemptNumber, e.isFinalAttempt ? 1 : 0, e.statusCode, e.timedOut ? 1 : 0, e.isError ? 1 : 0, e.isStreaming ? 1 : 0,
    e.stopReason, e.inputTokens, e.outputTokens, e.cacheReadTokens, e.cacheWriteTokens, e.reasoningTokens,
    e.usageEstimated ? 1 : 0, e.inputTokensEstimate, e.outputTokensEstimate, e.costPico.toString(),
    e.keySource, e.providerKeyId, e.providerKeyDisplayName, e.retryAction, e.completion, e.upstreamDurationMs, e.eventTime,
    e.cacheWrite1hTokens, e.inputCostPico, e.outputCostPico, e.cacheReadCostPico, e.cacheWrite5mCostPico, e.cacheWrite1hCostPico, e.feePico,
    e.virtualModel, firewallText(e),
  ];
}

/** The verdicts as stored: JSON text, read whole by the usage API. */
const firewallText = (e: UsageEvent): string | null => (e.firewall && e.firewall.length > 0 ? JSON.stringify(e.firewall) : null);

type BatchInsert = (events: readonly UsageEvent[]) => void;
const sqliteInserts = new WeakMap<BetterSqlite3.Database, BatchInsert>();

/**
 * SQLite (the single-binary gateway ships here several times a second): one prepared row statement, kept, run
 * per row in one transaction. Building and preparing a 500-row statement per batch through the query builder
 * cost more than the inserts themselves.
 */
function sqliteInsert(sqlite: BetterSqlite3.Database, sample: UsageEvent): BatchInsert {
  let insert = sqliteInserts.get(sqlite);
  if (insert) return insert;
  const columns = Object.keys(toRow(sample)).map((f) => f.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
  const statement = sqlite.prepare(`INSERT INTO usage_events (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')}) ON CONFLICT (id) DO NOTHING`);
  insert = sqlite.transaction((events: readonly UsageEvent[]) => {
    // Spread, not the array: better-sqlite3 binds positional arguments ~1 µs per row faster than one array.
    for (const event of events) statement.run(...rowValues(event));
  });
  sqliteInserts.set(sqlite, insert);
  return insert;
}

/** Idempotent on event id, so a sink may retry a batch after an ambiguous failure. */
export async function insertUsageEvents(db: Kysely<Database>, events: readonly UsageEvent[]): Promise<void> {
  const sqlite = sqliteHandle(db);
  if (sqlite && events.length > 0) {
    // Through Kysely's connection so the insert waits for a control-plane transaction in progress instead of
    // becoming a savepoint inside it (its rollback would erase usage the journal already counts as shipped).
    await db.connection().execute(async () => { sqliteInsert(sqlite, events[0]!)(events); });
    return;
  }
  const slices = [...inChunks(events)];
  const insert = async (into: Kysely<Database>, slice: readonly UsageEvent[]) => {
    await into.insertInto('usageEvents').values(slice.map(toRow)).onConflict((oc) => oc.column('id').doNothing()).execute();
  };
  if (slices.length <= 1) {
    if (slices[0]) await insert(db, slices[0]);
    return;
  }
  // Whole or not at all: slices committed before one failed would be in the store and still unshipped in the
  // journal, counted twice in balances until the retry.
  await db.transaction().execute(async (trx) => { for (const slice of slices) await insert(trx, slice); });
}

/**
 * The store refused the rows themselves, so writing the same rows again fails again: PostgreSQL's data exceptions
 * (SQLSTATE class 22: a value out of range, a NUL byte in text) and integrity violations (23); SQLite's constraint
 * failures (a CHECK, NOT NULL, a trigger's RAISE), type mismatches and oversized values; a value the driver cannot
 * bind. Anything else — a connection refused or lost, a timeout, a closed handle — is the store not
 * answering, and the shipment is retried as it is.
 */
export function isRowRefusal(error: unknown): boolean {
  // better-sqlite3's refusal to bind a value (a bigint past 64 bits); not any RangeError (an allocation failing is not).
  if (error instanceof RangeError) return /bound string, buffer, or bigint is too big/.test(error.message);
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  if (typeof code !== 'string') return false;
  // P0001: a PL/pgSQL trigger's RAISE EXCEPTION, as SQLite's RAISE(ABORT) is a constraint error.
  return /^2[23][0-9A-Z]{3}$/.test(code) || code === 'P0001' || code.startsWith('SQLITE_CONSTRAINT') || code === 'SQLITE_MISMATCH' || code === 'SQLITE_TOOBIG';
}

export type UsageEventRow = Selectable<UsageEventsTable>;

/** The pico-USD columns of an event. */
type MoneyColumn = 'costPico' | 'inputCostPico' | 'outputCostPico' | 'cacheReadCostPico' | 'cacheWrite5mCostPico' | 'cacheWrite1hCostPico' | 'feePico';
const MONEY_COLUMNS: readonly MoneyColumn[] = ['costPico', 'inputCostPico', 'outputCostPico', 'cacheReadCostPico', 'cacheWrite5mCostPico', 'cacheWrite1hCostPico', 'feePico'];
const OTHER_COLUMNS = [
  'id', 'accountId', 'requestId', 'accessKeyId', 'provider', 'providerDisplayName', 'model', 'modelDisplayName', 'attemptNumber',
  'isFinalAttempt', 'statusCode', 'timedOut', 'isError', 'isStreaming', 'stopReason', 'inputTokens', 'outputTokens', 'cacheReadTokens',
  'cacheWriteTokens', 'reasoningTokens', 'cacheWrite1hTokens', 'usageEstimated', 'inputTokensEstimate', 'outputTokensEstimate', 'keySource',
  'providerKeyId', 'providerKeyDisplayName', 'retryAction', 'completion', 'upstreamDurationMs', 'eventTime', 'virtualModel', 'firewall',
] as const satisfies readonly Exclude<keyof UsageEventsTable, MoneyColumn>[];
// Every column is read: a column added to the table and not to these lists fails the typecheck here.
const EVERY_COLUMN_READ: [Exclude<keyof UsageEventsTable, MoneyColumn | (typeof OTHER_COLUMNS)[number]>] extends [never] ? true : never = true;
void EVERY_COLUMN_READ;

/**
 * An event's columns, the pico-USD ones as text: better-sqlite3 reads an integer as a JS number, which is exact only
 * up to 2^53 pico-USD (about $9,007), and one event can cost more (pg reads int8 as text already). Only these reads
 * (the control plane's) pay for the conversion; sums are exact by their own means (COST_BILLIONS).
 */
function eventColumns() {
  return [...OTHER_COLUMNS, ...MONEY_COLUMNS.map((c) => sql<string>`cast(${sql.ref(c)} as text)`.as(c))];
}

/** Position of an event in the newest-first order; pages continue strictly after it. */
export interface UsagePosition { eventTime: string; id: string }

export interface UsageQuery {
  accountId: string;
  /** Inclusive bounds, canonical ISO-8601 UTC (the stored form, so text comparison is time order). */
  start: string;
  end: string;
  accessKeyId?: string | undefined;
  includeRetries: boolean;
  after?: UsagePosition | undefined;
  limit: number;
}

export async function listUsageEvents(db: Kysely<Database>, q: UsageQuery): Promise<{ items: UsageEventRow[]; hasMore: boolean }> {
  let query = db.selectFrom('usageEvents').select(eventColumns())
    .where('accountId', '=', q.accountId).where('eventTime', '>=', q.start).where('eventTime', '<=', q.end);
  if (q.accessKeyId !== undefined) query = query.where('accessKeyId', '=', q.accessKeyId);
  if (!q.includeRetries) query = query.where('isFinalAttempt', '=', 1);
  const after = q.after;
  if (after) {
    query = query.where((eb) => eb.or([
      eb('eventTime', '<', after.eventTime),
      eb.and([eb('eventTime', '=', after.eventTime), eb('id', '<', after.id)]),
    ]));
  }
  const rows = await query.orderBy('eventTime', 'desc').orderBy('id', 'desc').limit(q.limit + 1).execute();
  return { items: rows.slice(0, q.limit), hasMore: rows.length > q.limit };
}

/** Every attempt recorded for one request of the account, in attempt order. */
export function requestAttempts(db: Kysely<Database>, accountId: string, requestId: string): Promise<UsageEventRow[]> {
  return db.selectFrom('usageEvents').select(eventColumns()).where('requestId', '=', requestId).where('accountId', '=', accountId)
    .orderBy('attemptNumber').orderBy('id').execute();
}

export interface DailyUsage { day: string; groupKey: string; costPico: bigint; requests: number; errors: number }

/**
 * Per-UTC-day figures. `substr(event_time, 1, 10)` is the day on both dialects (timestamps are ISO text),
 * and the cost sum is exact past 2^63 pico-USD (COST_BILLIONS / COST_REMAINDERS).
 */
export async function dailyUsage(db: Kysely<Database>, accountId: string, start: string, end: string, groupBy: 'provider' | 'accessKey'): Promise<DailyUsage[]> {
  const groupColumn = sql.ref(groupBy === 'provider' ? 'provider' : 'accessKeyId');
  const day = sql<string>`substr(${sql.ref('eventTime')}, 1, 10)`;
  const rows = await db.selectFrom('usageEvents')
    .select([
      day.as('day'),
      sql<string>`${groupColumn}`.as('groupKey'),
      COST_BILLIONS.as('costBillions'),
      COST_REMAINDERS.as('costRemainders'),
      sql<string | number>`sum(case when ${sql.ref('isFinalAttempt')} = 1 then 1 else 0 end)`.as('requests'),
      sql<string | number>`sum(case when ${sql.ref('isFinalAttempt')} = 1 and ${sql.ref('isError')} = 1 then 1 else 0 end)`.as('errors'),
    ])
    .where('accountId', '=', accountId).where('eventTime', '>=', start).where('eventTime', '<=', end)
    .groupBy([day, groupColumn])
    .execute();
  return rows.map((r) => ({ day: r.day, groupKey: r.groupKey, costPico: picoSum(r.costBillions, r.costRemainders), requests: int(r.requests), errors: int(r.errors) }));
}
