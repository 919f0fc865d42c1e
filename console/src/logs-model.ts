// Groups usage events (one per upstream attempt) into requests, newest first. The API filters by time and
// access key; provider, model and status are filtered here over what has been loaded.
import type { UsageEvent } from './api.ts';

export interface RequestRow {
  requestId: string;
  /** The attempt that ended the request, or the latest one seen so far. */
  final: UsageEvent;
  attempts: UsageEvent[];
  cost: number;
}

export function groupRequests(events: UsageEvent[]): RequestRow[] {
  const byId = new Map<string, UsageEvent[]>();
  for (const e of events) byId.set(e.requestId, [...(byId.get(e.requestId) ?? []), e]);
  const rows: RequestRow[] = [];
  for (const [requestId, list] of byId) {
    const attempts = [...list].sort((a, b) => a.attemptNumber - b.attemptNumber);
    const final = attempts.find((a) => a.isFinalAttempt) ?? attempts[attempts.length - 1]!;
    rows.push({ requestId, final, attempts, cost: attempts.reduce((sum, a) => sum + Number(a.totalCost), 0) });
  }
  return rows.sort((a, b) => b.final.eventTime.localeCompare(a.final.eventTime));
}

/**
 * Requests of a page whose first attempts are not on it: events come newest first, so a failover's earlier attempts
 * can fall on the next page, and the row would read "1 attempt" until it is loaded.
 */
export function partialRequests(events: UsageEvent[]): string[] {
  return groupRequests(events).filter((r) => r.attempts[0]!.attemptNumber > 1).map((r) => r.requestId);
}

/** `held` and then those of `added` not already held (an attempt fetched ahead comes again with its page). */
export function mergeEvents(held: readonly UsageEvent[], added: readonly UsageEvent[]): UsageEvent[] {
  const seen = new Set(held.map((e) => e.id));
  return [...held, ...added.filter((e) => !seen.has(e.id))];
}

/**
 * The tokens to show for an attempt: the provider's counts, or, when it reported none (a stream cut short, an
 * answer without usage), the gateway's estimates the cost was priced on — never both added (credits-usage-settings.md).
 */
export function shownTokens(e: UsageEvent): { input: number; output: number; estimated: boolean } {
  if (!e.usageEstimated) return { input: e.inputTokens, output: e.outputTokens, estimated: false };
  const reported = e.inputTokens > 0 || e.outputTokens > 0;
  return { input: reported ? e.inputTokens : e.inputTokensEstimate, output: reported ? e.outputTokens : e.outputTokensEstimate, estimated: true };
}

export interface ClientFilter { provider: string; model: string; status: 'all' | 'ok' | 'error' }

/** Whether any filter the API cannot apply is set (then the loaded pages are only part of the answer). */
export function isFiltering(f: ClientFilter): boolean {
  return f.provider !== '' || f.model !== '' || f.status !== 'all';
}

export function matches(row: RequestRow, f: ClientFilter): boolean {
  const e = row.final;
  if (f.provider && !e.provider.toLowerCase().includes(f.provider.toLowerCase())) return false;
  if (f.model && !e.model.toLowerCase().includes(f.model.toLowerCase())) return false;
  if (f.status === 'ok' && e.isError) return false;
  if (f.status === 'error' && !e.isError) return false;
  return true;
}

export const RANGES = [
  { id: '1h', label: 'Last hour', ms: 3_600_000 },
  { id: '24h', label: 'Last 24 hours', ms: 86_400_000 },
  { id: '7d', label: 'Last 7 days', ms: 7 * 86_400_000 },
  { id: '30d', label: 'Last 30 days', ms: 30 * 86_400_000 },
] as const;
export type RangeId = (typeof RANGES)[number]['id'];

export function startOf(range: RangeId): string {
  const r = RANGES.find((x) => x.id === range)!;
  return new Date(Date.now() - r.ms).toISOString();
}

/**
 * How a captured body's size reads: "First N of M bytes" when it was cut. N is the bytes kept, not the characters
 * shown: base64 holds 3 bytes in 4 characters, and UTF-8 text may hold several bytes in one.
 */
export function capturedSize(part: { body: string; bodyEncoding: 'utf8' | 'base64'; bodyBytes: number; bodyTruncated: boolean }): string {
  const total = `${part.bodyBytes.toLocaleString('en-US')} bytes`;
  if (!part.bodyTruncated) return total;
  const kept = part.bodyEncoding === 'base64'
    ? Math.floor(part.body.length * 3 / 4) - (part.body.endsWith('==') ? 2 : part.body.endsWith('=') ? 1 : 0)
    : new TextEncoder().encode(part.body).length;
  return `First ${kept.toLocaleString('en-US')} of ${total}`;
}

/**
 * A request's usage is stored about 100 ms after it ends, its capture with the capture writer's next batch, about a
 * second later (src/usage/capture-writer.ts), and later still when the database is slow: Logs lists a request before
 * its capture is there. A capture not found for a request that ended within this window, of an account that captures,
 * may still be on its way and is asked for again, rather than said to be off (credits-usage-settings.md, "Request
 * capture").
 */
export const CAPTURE_ON_ITS_WAY_MS = 15_000;
/** How often a capture on its way is asked for again, and at most how many times (a browser clock far behind the server's never ends the window). */
export const CAPTURE_ASK_EVERY_MS = 1_000;
export const CAPTURE_ASKS = 15;

/** Whether a capture not found yet may still be written: the account captures and the request ended within the window. */
export function captureMayArrive(endedAt: string, now: number, capturing: boolean): boolean {
  const ended = Date.parse(endedAt);
  return capturing && Number.isFinite(ended) && now - ended < CAPTURE_ON_ITS_WAY_MS;
}

/**
 * When a request began, read from its id (a ULID after `rq_`: its first ten digits are the milliseconds, Crockford
 * base32); undefined for an id of another shape.
 */
export function requestStartedAt(requestId: string): number | undefined {
  const m = /^rq_([0-7][0-9A-HJKMNP-TV-Z]{9})[0-9A-HJKMNP-TV-Z]{16}$/.exec(requestId);
  if (!m) return undefined;
  let ms = 0;
  for (const c of m[1]!) ms = ms * 32 + '0123456789ABCDEFGHJKMNPQRSTVWXYZ'.indexOf(c);
  return ms;
}

/**
 * A request is listed once it ends and its usage is stored (~100 ms later): the Playground links a request the moment
 * its answer arrives, often before. A linked request not found yet is asked for again while it may still be on its
 * way — begun within this window — rather than said to be missing at once.
 */
export const REQUEST_ON_ITS_WAY_MS = 120_000;
export const REQUEST_ASK_EVERY_MS = 1_000;
export const REQUEST_ASKS = 30;

export function requestMayBeLogged(requestId: string, now: number): boolean {
  const started = requestStartedAt(requestId);
  return started !== undefined && now - started < REQUEST_ON_ITS_WAY_MS;
}
