// The token counts observation reports for a usage event (metrics, access line, spans): the ones it was billed on.
import type { UsageEvent } from '../../usage/event.ts';

export interface ReportedTokens {
  input: number;
  output: number;
  /** The counts are the provider's own: its cache and reasoning parts are reported beside them (an estimate has none). */
  providerCounted: boolean;
}

/**
 * An event's counts as billed. An estimated event may hold the provider's own: a stream cut after its opening
 * usage (Anthropic's message_start carries the input and cache tokens) is billed on the provider's input count and
 * on the larger of its output count and the estimate, both already in inputTokens/outputTokens (meter.ts). Only an
 * event without any provider count is billed on the estimates; reporting those instead would show fewer input
 * tokens than the cache reads and writes they include.
 */
export function reportedTokens(e: UsageEvent): ReportedTokens {
  const providerCounted = !e.usageEstimated || e.inputTokens > 0 || e.outputTokens > 0 || e.cacheReadTokens > 0 || e.cacheWriteTokens > 0 || e.reasoningTokens > 0;
  return providerCounted
    ? { input: e.inputTokens, output: e.outputTokens, providerCounted }
    : { input: e.inputTokensEstimate, output: e.outputTokensEstimate, providerCounted };
}
