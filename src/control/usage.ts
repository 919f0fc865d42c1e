// /usage and /usage/overview: the account's usage events (one per upstream attempt) and per-day figures; a request's
// attempts and its capture (request capture).
import type { components } from './spec-types.ts';
import { Errors, TollgateError, echoed } from '../domain/errors.ts';
import { formatUsd5 } from '../domain/money.ts';
import { bigint, flag, int } from '../store/schema.ts';
import { dailyUsage, listUsageEvents, requestAttempts, type UsageEventRow, type UsagePosition } from '../store/usage-events.ts';
import { DEFAULT_PAGE_LIMIT } from '../store/paging.ts';
import type { Call, ControlDeps, HandlerTable } from './app.ts';
import { notFound } from './resource.ts';
import { getRequestCapture } from '../store/request-captures.ts';
import { openCapture } from '../domain/request-capture.ts';

type Schemas = components['schemas'];
type UsageEventView = Schemas['AIGatewayUsageEvent'];
type RequestAttemptView = Schemas['AIGatewayRequestAttempt'];

interface UsageListQuery { startTime: string; endTime?: string; accessKeyId?: string; includeRetries?: boolean; cursor?: string; limit?: number }
interface OverviewQuery { startTime: string; endTime?: string; groupBy?: 'provider' | 'accessKey' }

function invalid(field: string, reason: string): TollgateError {
  return new TollgateError(Errors.validationFailed, { field, reason });
}

/**
 * Stored times are compared as text, which orders ISO-8601 only within four-digit years: an instant outside
 * them (`9999-12-31T23:59:59-23:59` is in year 10000, written `+010000-…`) is clamped to the nearest end.
 */
const EARLIEST = Date.parse('0000-01-01T00:00:00.000Z');
const LATEST = Date.parse('9999-12-31T23:59:59.999Z');

/** The seconds of an RFC 3339 time and their fraction (`:59.1234` → 59, 1234), before its offset. */
const SECONDS = /:(\d\d)(?:\.(\d+))?(?=[Zz]$|[+-]\d\d:\d\d$)/;

/**
 * A window bound as stored times compare (ISO text, millisecond precision). Times are kept to the millisecond, so
 * a finer `start` is rounded up (an event at .000 is before .0005) and a finer `end` down. A leap second
 * (`23:59:60`, valid RFC 3339, which Date.parse refuses) is the end of second 59 as an end and the next second
 * as a start.
 */
function instant(field: string, value: string | undefined, fallback: Date, bound: 'start' | 'end'): string {
  if (value === undefined) return fallback.toISOString();
  const seconds = SECONDS.exec(value);
  const leap = seconds?.[1] === '60';
  let t = Date.parse(leap ? value.replace(SECONDS, ':59') : value);
  if (Number.isNaN(t)) throw invalid(field, `"${field}" must be an RFC 3339 date-time, got "${echoed(value)}".`);
  if (leap) t += bound === 'start' ? 1000 : 999;
  else if (bound === 'start' && /[1-9]/.test(seconds?.[2]?.slice(3) ?? '')) t += 1;
  return new Date(Math.min(LATEST, Math.max(EARLIEST, t))).toISOString();
}

function window(q: { startTime: string; endTime?: string | undefined }): { start: string; end: string } {
  const now = new Date();
  const start = instant('startTime', q.startTime, now, 'start');
  const end = instant('endTime', q.endTime, now, 'end');
  // Compared as given, not as rounded: equal bounds finer than a millisecond are a window (inclusive at both ends),
  // one no stored time falls in, so an empty page rather than a 400.
  const startFloor = instant('startTime', q.startTime, now, 'end');
  if (startFloor > end || (startFloor === end && subMillisecond(q.startTime) > subMillisecond(q.endTime))) {
    throw invalid('startTime', '"startTime" must not be after "endTime".');
  }
  return { start, end };
}

/** The digits of a time past the millisecond, as a comparable fixed-width string ('' for a bound left out). */
function subMillisecond(value: string | undefined): string {
  return (SECONDS.exec(value ?? '')?.[2]?.slice(3) ?? '').padEnd(6, '0');
}

function encodeCursor(p: UsagePosition): string {
  return Buffer.from(JSON.stringify([p.eventTime, p.id])).toString('base64url');
}

/** What encodeCursor writes: an event's time (ISO 8601, as either store returns it) and its id. */
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/;
const EVENT_ID = /^[A-Za-z0-9_-]{1,128}$/;

function decodeCursor(cursor: string): UsagePosition {
  try {
    const position = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    const [eventTime, id] = Array.isArray(position) && position.length === 2 ? position : [];
    if (typeof eventTime === 'string' && ISO_TIME.test(eventTime) && !Number.isNaN(Date.parse(eventTime)) && typeof id === 'string' && EVENT_ID.test(id)) {
      return { eventTime, id };
    }
  } catch { /* fall through */ }
  throw invalid('cursor', 'The cursor is not one this API issued; take it from nextPageUri.');
}

function eventView(r: UsageEventRow): UsageEventView {
  const view: UsageEventView = {
    id: r.id, eventTime: r.eventTime, requestId: r.requestId, accessKeyId: r.accessKeyId,
    provider: r.provider, providerDisplayName: r.providerDisplayName, model: r.model, modelDisplayName: r.modelDisplayName,
    attemptNumber: r.attemptNumber, isFinalAttempt: flag(r.isFinalAttempt), statusCode: r.statusCode,
    timedOut: flag(r.timedOut), isError: flag(r.isError), isStreaming: flag(r.isStreaming), stopReason: r.stopReason,
    inputTokens: int(r.inputTokens), outputTokens: int(r.outputTokens), cacheReadTokens: int(r.cacheReadTokens),
    cacheWriteTokens: int(r.cacheWriteTokens), cacheWrite5mTokens: int(r.cacheWriteTokens) - int(r.cacheWrite1hTokens),
    cacheWrite1hTokens: int(r.cacheWrite1hTokens), reasoningTokens: int(r.reasoningTokens),
    inputTokensEstimate: int(r.inputTokensEstimate), outputTokensEstimate: int(r.outputTokensEstimate), usageEstimated: flag(r.usageEstimated),
    totalCost: formatUsd5(bigint(r.costPico)),
    // Each part is rounded on its own, so five-decimal parts may differ from the total's rounding in the last digit.
    inputTokenCost: formatUsd5(bigint(r.inputCostPico)), outputTokenCost: formatUsd5(bigint(r.outputCostPico)),
    ngrokProcessingFee: formatUsd5(bigint(r.feePico)), cacheReadCost: formatUsd5(bigint(r.cacheReadCostPico)),
    cacheWriteCost: formatUsd5(bigint(r.cacheWrite5mCostPico) + bigint(r.cacheWrite1hCostPico)),
    cacheWrite5mCost: formatUsd5(bigint(r.cacheWrite5mCostPico)), cacheWrite1hCost: formatUsd5(bigint(r.cacheWrite1hCostPico)),
    keySource: r.keySource,
  };
  if (r.keySource === 'user') {
    if (r.providerKeyId !== null) view.providerKeyId = r.providerKeyId;
    if (r.providerKeyDisplayName !== null) view.providerKeyDisplayName = r.providerKeyDisplayName;
  }
  if (r.virtualModel !== null) view.virtualModel = r.virtualModel;
  // Written by the gateway as FirewallVerdict[] (store/usage-events.ts), never by a client.
  if (r.firewall !== null) view.firewall = JSON.parse(r.firewall) as Schemas['AIGatewayFirewallVerdict'][];
  return view;
}

const RETRY_ACTIONS: ReadonlySet<string> = new Set<Schemas['AIGatewayRetryAction']>(['succeeded', 'next_key', 'next_quota_pool', 'next_backend', 'managed_fallback', 'retry_same_backend', 'fail_fast', 'exhausted']);
const COMPLETIONS: ReadonlySet<string> = new Set<Schemas['AIGatewayAttemptCompletion']>(['succeeded', 'failed', 'timed_out', 'stream_failed', 'unknown']);

/**
 * Whether the attempt's answer is the one the client received: an answer relayed (`succeeded`, even if its stream
 * then broke or timed out), or the provider's refusal of the request passed through (`fail_fast` with completion
 * `failed`). Not an attempt nobody is known to have received (completion `unknown`: the client had left), nor any
 * attempt of a request the gateway answered with its own error (every candidate failed).
 */
function served(r: UsageEventRow): boolean {
  if (r.completion === 'unknown') return false;
  return r.retryAction === 'succeeded' || (r.retryAction === 'fail_fast' && r.completion === 'failed');
}

/** One attempt with the gateway's verdict on it. Request duration and time to first token are not recorded per attempt: null. */
function attemptView(r: UsageEventRow): RequestAttemptView {
  const view: RequestAttemptView = {
    event: eventView(r),
    served: served(r),
    completion: (COMPLETIONS.has(r.completion) ? r.completion : 'unknown') as RequestAttemptView['completion'],
    requestDurationMs: null,
    upstreamDurationMs: Math.round(r.upstreamDurationMs),
    timeToFirstTokenMs: null,
  };
  if (RETRY_ACTIONS.has(r.retryAction)) view.retryAction = r.retryAction as RequestAttemptView['retryAction'];
  return view;
}

function pageUri(call: Call, cursor?: string): string {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(call.query)) if (v !== undefined && k !== 'cursor') search.set(k, String(v));
  if (cursor !== undefined) search.set('cursor', cursor);
  const qs = search.toString();
  return `${call.base}${call.path}${qs ? `?${qs}` : ''}`;
}

export function usageHandlers(deps: ControlDeps): HandlerTable {
  const { db } = deps.store;
  return {
    async ListAIGatewayUsage(call: Call) {
      const q = call.query as unknown as UsageListQuery;
      const page = await listUsageEvents(db, {
        accountId: call.principal.accountId, ...window(q), accessKeyId: q.accessKeyId,
        includeRetries: q.includeRetries === true, after: q.cursor !== undefined ? decodeCursor(q.cursor) : undefined,
        limit: q.limit ?? DEFAULT_PAGE_LIMIT,
      });
      const last = page.items[page.items.length - 1];
      return {
        aiGatewayUsage: page.items.map(eventView),
        uri: pageUri(call, q.cursor),
        nextPageUri: page.hasMore && last ? pageUri(call, encodeCursor(last)) : null,
      };
    },
    async GetAIGatewayRequestAttempts(call: Call) {
      const requestId = call.params.requestId!;
      // Another account's request reads as missing, not forbidden (ngrok's guide).
      const rows = await requestAttempts(db, call.principal.accountId, requestId);
      if (rows.length === 0) throw notFound('Request', requestId);
      return { uri: `${call.base}${call.path}`, requestId, attempts: rows.map(attemptView) };
    },
    async GetAIGatewayRequestCapture(call: Call) {
      const requestId = call.params.requestId!;
      const { accountId } = call.principal;
      const row = await getRequestCapture(db, accountId, requestId, new Date().toISOString());
      if (!row) throw notFound('Request capture', requestId);
      let bodies;
      try {
        bodies = openCapture(deps.secretBox, accountId, requestId, row.sealed);
      } catch {
        // Sealed under a master key this process does not hold (rotated away): as good as gone.
        throw notFound('Request capture', requestId);
      }
      return { uri: `${call.base}${call.path}`, requestId, capturedAt: row.capturedAt, expiresAt: row.expiresAt, ...bodies };
    },
    async GetAIGatewayUsageOverview(call: Call) {
      const q = call.query as unknown as OverviewQuery;
      const { start, end } = window(q);
      const days = await dailyUsage(db, call.principal.accountId, start, end, q.groupBy ?? 'provider');
      // Sorted here rather than in SQL so the order is byte order on both databases, whatever their collation.
      days.sort((a, b) => (a.day !== b.day ? (a.day < b.day ? -1 : 1) : a.groupKey < b.groupKey ? -1 : a.groupKey > b.groupKey ? 1 : 0));
      let cost = 0n;
      let requests = 0;
      let errors = 0;
      const buckets = days.map((d) => {
        cost += d.costPico;
        requests += d.requests;
        errors += d.errors;
        return { bucketStart: `${d.day}T00:00:00Z`, groupKey: d.groupKey, cost: formatUsd5(d.costPico), requests: d.requests, errors: d.errors };
      });
      return { uri: pageUri(call), buckets, totals: { cost: formatUsd5(cost), requests, errors } };
    },
  };
}
