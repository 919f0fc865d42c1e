// The token counts observation reports for a usage event (metrics, access line, spans): the ones it was billed on.
import type { UsageEvent } from '../../usage/event.ts';

/**
 * Whether the event holds the provider's own counts. An estimated event may: a stream cut after its opening usage
 * (Anthropic's message_start carries the input and cache tokens) is billed on the provider's input count and on the
 * larger of its output count and the estimate, both already in inputTokens/outputTokens (meter.ts). Only an event
 * without any provider count is billed on the estimates; reporting those instead would show fewer input tokens
 * than the cache reads and writes they include.
 */
export function providerCounted(e: UsageEvent): boolean {
  return !e.usageEstimated || e.inputTokens > 0 || e.outputTokens > 0 || e.cacheReadTokens > 0 || e.cacheWriteTokens > 0 || e.reasoningTokens > 0;
}

export function inputTokensOf(e: UsageEvent): number {
  return providerCounted(e) ? e.inputTokens : e.inputTokensEstimate;
}

export function outputTokensOf(e: UsageEvent): number {
  return providerCounted(e) ? e.outputTokens : e.outputTokensEstimate;
}
