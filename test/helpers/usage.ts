// Builds usage events for tests that seed the usage table directly.
import { NO_COST, type UsageEvent } from '../../src/usage/event.ts';

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
