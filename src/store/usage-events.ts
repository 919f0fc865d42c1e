// Usage events: one row per upstream attempt, written in batches by the gateway's usage sink.
import type { Insertable, Kysely } from 'kysely';
import type { Database, UsageEventsTable } from './schema.ts';
import type { UsageEvent } from '../usage/event.ts';

// 31 columns per row: 500 rows stays well under SQLite's bound-parameter limit and pg's 65535.
const CHUNK = 500;

function toRow(e: UsageEvent): Insertable<UsageEventsTable> {
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
  };
}

/** Idempotent on event id, so a sink may retry a batch after an ambiguous failure. */
export async function insertUsageEvents(db: Kysely<Database>, events: readonly UsageEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += CHUNK) {
    const rows = events.slice(i, i + CHUNK).map(toRow);
    await db.insertInto('usageEvents').values(rows).onConflict((oc) => oc.column('id').doNothing()).execute();
  }
}
