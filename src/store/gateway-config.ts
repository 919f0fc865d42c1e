// Account-wide gateway settings. One row per account, created on first write; an account that never
// wrote reads the defaults. Token caps are tri-state: never written (`*_set` = 0) reads the account
// default, an explicit null reads null, a number reads that number.
import type { Kysely, Selectable } from 'kysely';
import type { Database, GatewayConfigsTable } from './schema.ts';
import { flag, int } from './schema.ts';
import { parseGoDuration, TIMER_MAX_MS } from '../domain/duration.ts';
import type { AccountSettings } from '../state/types.ts';

export const DEFAULT_TOTAL_TIMEOUT = '120s';
export const DEFAULT_PER_REQUEST_TIMEOUT = '60s';
/** What a never-written cap reads as: the guide says accounts have no caps by default. */
export const ACCOUNT_DEFAULT_MAX_INPUT_TOKENS: number | null = null;
export const ACCOUNT_DEFAULT_MAX_OUTPUT_TOKENS: number | null = null;

export interface GatewaySettings {
  totalTimeout: string;
  perRequestTimeout: string;
  maxInputTokens: number | null;
  maxOutputTokens: number | null;
  metadata: string | null;
  /** The account's all-keys Firewall policy, or null. */
  firewallPolicyId: string | null;
  /** Request capture: the gateway keeps each request's and answer's bodies for a while. */
  requestCapture: boolean;
}

export type GatewaySettingsPatch = Partial<GatewaySettings>;

function fromRow(row: Selectable<GatewayConfigsTable> | undefined): GatewaySettings {
  return {
    totalTimeout: row?.totalTimeout ?? DEFAULT_TOTAL_TIMEOUT,
    perRequestTimeout: row?.perRequestTimeout ?? DEFAULT_PER_REQUEST_TIMEOUT,
    maxInputTokens: row && Number(row.maxInputTokensSet) === 1 ? (row.maxInputTokens === null ? null : int(row.maxInputTokens)) : ACCOUNT_DEFAULT_MAX_INPUT_TOKENS,
    maxOutputTokens: row && Number(row.maxOutputTokensSet) === 1 ? (row.maxOutputTokens === null ? null : int(row.maxOutputTokens)) : ACCOUNT_DEFAULT_MAX_OUTPUT_TOKENS,
    metadata: row?.metadata ?? null,
    firewallPolicyId: row?.firewallPolicyId ?? null,
    requestCapture: flag(row?.requestCapture),
  };
}

function storedRow(db: Kysely<Database>, accountId: string): Promise<Selectable<GatewayConfigsTable> | undefined> {
  return db.selectFrom('gatewayConfigs').selectAll().where('accountId', '=', accountId).executeTakeFirst();
}

export async function getGatewaySettings(db: Kysely<Database>, accountId: string): Promise<GatewaySettings> {
  return fromRow(await storedRow(db, accountId));
}

/** Applies a tri-state patch (absent = keep) and returns the settings after it. */
export function patchGatewaySettings(db: Kysely<Database>, accountId: string, patch: GatewaySettingsPatch): Promise<GatewaySettings> {
  return db.transaction().execute((trx) => writeGatewaySettings(trx, accountId, patch));
}

/** Merges `patch` into the stored row; inside the caller's transaction (a read, then one upsert). */
export async function writeGatewaySettings(trx: Kysely<Database>, accountId: string, patch: GatewaySettingsPatch): Promise<GatewaySettings> {
  const row = await storedRow(trx, accountId);
  const next: Selectable<GatewayConfigsTable> = {
    accountId,
    totalTimeout: row?.totalTimeout ?? null,
    perRequestTimeout: row?.perRequestTimeout ?? null,
    maxInputTokens: row?.maxInputTokens ?? null,
    maxInputTokensSet: row?.maxInputTokensSet ?? 0,
    maxOutputTokens: row?.maxOutputTokens ?? null,
    maxOutputTokensSet: row?.maxOutputTokensSet ?? 0,
    metadata: row?.metadata ?? null,
    updatedAt: new Date().toISOString(),
    firewallPolicyId: row?.firewallPolicyId ?? null,
    requestCapture: Number(row?.requestCapture ?? 0),
  };
  if (patch.totalTimeout !== undefined) next.totalTimeout = patch.totalTimeout;
  if (patch.perRequestTimeout !== undefined) next.perRequestTimeout = patch.perRequestTimeout;
  if (patch.maxInputTokens !== undefined) Object.assign(next, { maxInputTokens: patch.maxInputTokens, maxInputTokensSet: 1 });
  if (patch.maxOutputTokens !== undefined) Object.assign(next, { maxOutputTokens: patch.maxOutputTokens, maxOutputTokensSet: 1 });
  if (patch.metadata !== undefined) next.metadata = patch.metadata;
  if (patch.firewallPolicyId !== undefined) next.firewallPolicyId = patch.firewallPolicyId;
  if (patch.requestCapture !== undefined) next.requestCapture = patch.requestCapture ? 1 : 0;
  const { accountId: _key, ...update } = next;
  await trx.insertInto('gatewayConfigs').values({ ...next, maxInputTokensSet: Number(next.maxInputTokensSet), maxOutputTokensSet: Number(next.maxOutputTokensSet), requestCapture: Number(next.requestCapture) })
    .onConflict((oc) => oc.column('accountId').doUpdateSet({ ...update, maxInputTokensSet: Number(update.maxInputTokensSet), maxOutputTokensSet: Number(update.maxOutputTokensSet), requestCapture: Number(update.requestCapture) }))
    .execute();
  return fromRow(next);
}

/** A stored duration as the gateway's timers can wait it: Go allows ~292 years, a node timer ~24.8 days. */
function timerMs(stored: string, fallback: string): number {
  return Math.min(TIMER_MAX_MS, parseGoDuration(stored) ?? parseGoDuration(fallback)!);
}

/** The settings the gateway enforces, in milliseconds; stored durations were validated on write. */
export async function loadGatewaySettings(db: Kysely<Database>, accountId: string): Promise<AccountSettings> {
  const row = await storedRow(db, accountId);
  const s = fromRow(row);
  return {
    totalTimeoutMs: timerMs(s.totalTimeout, DEFAULT_TOTAL_TIMEOUT),
    totalTimeoutSet: row?.totalTimeout != null,
    perRequestTimeoutMs: timerMs(s.perRequestTimeout, DEFAULT_PER_REQUEST_TIMEOUT),
    maxInputTokens: s.maxInputTokens,
    maxOutputTokens: s.maxOutputTokens,
    firewallPolicyId: s.firewallPolicyId,
    ...(s.requestCapture ? { requestCapture: true } : {}),
  };
}
