// The file beside a gateway's journal that keeps the usage events the store refused (docs/decisions/usage-
// durability.md): one JSON object per line, costs as decimal text. The journal appends to it; `tollgate usage
// import` reads it back, checking every field, since an operator may have edited a line to fix it.
import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { Ajv } from 'ajv';
import { COST_PARTS, type UsageEvent } from './event.ts';

export const REFUSED_SUFFIX = '.refused.jsonl';

function bigintsAsText(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

export function refusedLine(event: UsageEvent): string {
  return `${JSON.stringify(event, bigintsAsText)}\n`;
}

/**
 * Appends `text` whole and waits for the disk: a set-aside event leaves the journal only once it is on disk here. A
 * short or failed write (disk full) is cut back off, so the file never holds half a line.
 */
export function appendDurably(path: string, text: string): void {
  const bytes = Buffer.from(text);
  const fd = openSync(path, 'a', 0o600);
  const size = fstatSync(fd).size;
  try {
    for (let done = 0; done < bytes.length;) {
      const wrote = writeSync(fd, bytes, done);
      if (wrote <= 0) throw new Error(`short write to ${path}`);
      done += wrote;
    }
    fsyncSync(fd);
  } catch (error) {
    try { ftruncateSync(fd, size); } catch { /* the write's error is the one to report */ }
    throw error;
  } finally {
    closeSync(fd);
  }
}

const text = { type: 'string' } as const;
const count = { type: 'integer', minimum: 0 } as const;
const flag = { type: 'boolean' } as const;
/** pico-USD as decimal text; the range (a 64-bit column) is checked after, as a bigint. */
const pico = { type: 'string', pattern: '^(0|[1-9][0-9]{0,18})$' } as const;
const MAX_PICO = 2n ** 63n - 1n;

/** Every field of a UsageEvent, with the values the store's columns and the usage views take. */
const EVENT_SCHEMA = {
  type: 'object',
  properties: {
    id: text, accountId: text, requestId: text, accessKeyId: text, provider: text, providerDisplayName: text, model: text, modelDisplayName: text,
    attemptNumber: { type: 'integer', minimum: 1 }, isFinalAttempt: flag, statusCode: { type: 'integer', minimum: 0, maximum: 999 },
    timedOut: flag, isError: flag, isStreaming: flag, stopReason: text,
    inputTokens: count, outputTokens: count, cacheReadTokens: count, cacheWriteTokens: count, cacheWrite1hTokens: count, reasoningTokens: count,
    usageEstimated: flag, inputTokensEstimate: count, outputTokensEstimate: count,
    costPico: pico, ...Object.fromEntries(COST_PARTS.map((part) => [part, pico])),
    keySource: { enum: ['ngrok', 'user'] },
    providerKeyId: { type: ['string', 'null'] }, providerKeyDisplayName: { type: ['string', 'null'] },
    virtualModel: { type: ['string', 'null'] },
    firewall: {
      type: ['array', 'null'],
      items: {
        type: 'object', additionalProperties: false, required: ['action', 'rule', 'tier', 'policyId', 'phase'],
        properties: { action: { enum: ['blocked', 'flagged', 'unchecked'] }, rule: text, tier: { enum: ['hardDeny', 'softDeny', 'allow'] }, policyId: text, phase: { enum: ['request', 'response'] } },
      },
    },
    retryAction: { enum: ['succeeded', 'next_key', 'next_backend', 'managed_fallback', 'fail_fast', 'exhausted'] satisfies UsageEvent['retryAction'][] },
    completion: { enum: ['succeeded', 'failed', 'timed_out', 'stream_failed', 'unknown'] satisfies UsageEvent['completion'][] },
    upstreamDurationMs: { type: 'number', minimum: 0 },
    eventTime: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,6})?Z$' },
  },
};
const FIELDS = Object.keys(EVENT_SCHEMA.properties);
/** Fields a refused file written before they existed lacks (the store's column takes null). */
const LATER_FIELDS = new Set(['virtualModel', 'firewall']);
const validEvent = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true }).compile({ ...EVENT_SCHEMA, required: FIELDS.filter((f) => !LATER_FIELDS.has(f)) });

/** One line of the file as a UsageEvent, or an Error naming the line and what is wrong with it. */
export function refusedEventFrom(line: string, number: number): UsageEvent {
  let value: unknown;
  try { value = JSON.parse(line); } catch { throw new Error(`line ${number}: not JSON`); }
  if (!validEvent(value)) {
    const [first] = validEvent.errors ?? [];
    throw new Error(`line ${number}: ${first ? `${first.instancePath || 'the event'} ${first.message ?? 'is not valid'}` : 'not a usage event'}`);
  }
  const event: Record<string, unknown> = {};
  for (const field of FIELDS) event[field] = (value as Record<string, unknown>)[field];
  event.virtualModel ??= null;
  event.firewall ??= null;
  // Stored times are compared as text (usage windows, paging, the balance's moments), which is time order only in
  // the one form toISOString writes: an edited `…T10:00:00Z` would sort after every event of that second.
  const time = event.eventTime as string;
  const at = Date.parse(time);
  const canonical = Number.isNaN(at) ? '' : new Date(at).toISOString();
  if (canonical.slice(0, 19) !== time.slice(0, 19)) throw new Error(`line ${number}: /eventTime is not a time (${time})`);
  event.eventTime = canonical;
  for (const key of ['costPico', ...COST_PARTS]) {
    const cost = BigInt(event[key] as string);
    if (cost > MAX_PICO) throw new Error(`line ${number}: /${key} is past what the store holds (2^63 - 1 pico-USD)`);
    event[key] = cost;
  }
  return event as unknown as UsageEvent;
}
