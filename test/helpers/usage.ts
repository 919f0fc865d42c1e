// Builds usage events (and request captures) for tests that seed the store directly.
import type { Kysely } from 'kysely';
import { NO_COST, type UsageEvent } from '../../src/usage/event.ts';
import type { Database } from '../../src/store/schema.ts';
import type { SecretBox } from '../../src/domain/secret-box.ts';
import { insertRequestCaptures } from '../../src/store/request-captures.ts';
import { sealCapture } from '../../src/domain/request-capture.ts';

let seq = 0;

export function usageEvent(accountId: string, overrides: Partial<UsageEvent> = {}): UsageEvent {
  return {
    id: `ue_t${String(++seq).padStart(6, '0')}`, accountId, requestId: 'req_1', accessKeyId: 'ak_1',
    provider: 'openai', providerDisplayName: 'OpenAI', model: 'gpt-4o', modelDisplayName: 'GPT-4o',
    attemptNumber: 1, isFinalAttempt: true, statusCode: 200, timedOut: false, isError: false, isStreaming: false,
    stopReason: 'stop', inputTokens: 10, outputTokens: 20, cacheReadTokens: 0, cacheWriteTokens: 0, cacheWrite1hTokens: 0, reasoningTokens: 0,
    usageEstimated: false, inputTokensEstimate: 0, outputTokensEstimate: 0, ...NO_COST, costPico: 1n, keySource: 'ngrok',
    providerKeyId: null, providerKeyDisplayName: null, retryAction: 'succeeded', completion: 'succeeded',
    upstreamDurationMs: 5, eventTime: '2025-01-01T00:00:00.000Z', virtualModel: null, firewall: null, ...overrides,
  };
}

/** Stores a small sealed capture of `requestId` (a JSON body both ways), as the gateway would write one. */
export async function storeCapture(db: Kysely<Database>, box: SecretBox, accountId: string, requestId: string, expiresInMs = 3_600_000): Promise<void> {
  const now = new Date().toISOString();
  const captured = { headers: { 'content-type': 'application/json' }, body: '{}', bodyEncoding: 'utf8' as const, bodyBytes: 2, bodyTruncated: false };
  await insertRequestCaptures(db, [{ accountId, requestId, capturedAt: now, expiresAt: new Date(Date.now() + expiresInMs).toISOString(),
    sealed: sealCapture(box, { accountId, requestId, capturedAt: now, request: { method: 'POST', path: '/v1/chat/completions', ...captured }, response: { statusCode: 200, complete: true, ...captured } }) }]);
}
