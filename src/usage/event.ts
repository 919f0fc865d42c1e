// One usage event per upstream attempt: the contract's AIGatewayUsageEvent plus the internal fields
// (account, cost in pico-USD, retry verdict) that the store keeps and the API derives views from.

import type { FirewallVerdict } from '../domain/firewall-policy.ts';

export type RetryAction =
  | 'succeeded' | 'next_key' | 'next_backend' | 'managed_fallback' | 'fail_fast' | 'exhausted';
export type Completion = 'succeeded' | 'failed' | 'timed_out' | 'stream_failed' | 'unknown';

export interface UsageEvent {
  id: string;
  accountId: string;
  requestId: string;
  accessKeyId: string;
  provider: string;
  providerDisplayName: string;
  model: string;
  modelDisplayName: string;
  attemptNumber: number;
  isFinalAttempt: boolean;
  /** Upstream HTTP status; 0 when no response arrived (connection error or timeout before headers). */
  statusCode: number;
  timedOut: boolean;
  isError: boolean;
  isStreaming: boolean;
  stopReason: string;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  /** Part of cacheWriteTokens kept an hour (Anthropic); the rest were kept five minutes. */
  cacheWrite1hTokens: number;
  reasoningTokens: number;
  usageEstimated: boolean;
  inputTokensEstimate: number;
  outputTokensEstimate: number;
  /** The whole cost; the parts below add up to it, with the hosted tools (web searches, code interpreter containers), which have no part of their own. */
  costPico: bigint;
  /** Uncached input tokens. */
  inputCostPico: bigint;
  outputCostPico: bigint;
  cacheReadCostPico: bigint;
  cacheWrite5mCostPico: bigint;
  cacheWrite1hCostPico: bigint;
  /** The processing fee. */
  feePico: bigint;
  keySource: 'ngrok' | 'user';
  providerKeyId: string | null;
  providerKeyDisplayName: string | null;
  retryAction: RetryAction;
  completion: Completion;
  upstreamDurationMs: number;
  eventTime: string;
  /** The virtual model the request named, by its name at request time; null when it named none. */
  virtualModel: string | null;
  /**
   * Firewall's verdicts (gateway-behaviour.md "Firewall"): the request rules' on every attempt of the request, the
   * response rules' on the attempt whose answer was screened. Null when none (and on events before migration 0012).
   * A request a request rule blocked has one event of its own, with no attempt behind it (`upstreamDurationMs` 0).
   */
  firewall: readonly FirewallVerdict[] | null;
}

/** The parts of an event's cost, in pico-USD (the contract's `inputTokenCost`, …). */
export const COST_PARTS = ['inputCostPico', 'outputCostPico', 'cacheReadCostPico', 'cacheWrite5mCostPico', 'cacheWrite1hCostPico', 'feePico'] as const satisfies readonly (keyof UsageEvent)[];

/** An event that cost nothing: its total and every part. */
export const NO_COST = {
  costPico: 0n, inputCostPico: 0n, outputCostPico: 0n, cacheReadCostPico: 0n, cacheWrite5mCostPico: 0n, cacheWrite1hCostPico: 0n, feePico: 0n,
} as const satisfies Pick<UsageEvent, 'costPico' | (typeof COST_PARTS)[number]>;

/**
 * What is known of an attempt before its request is sent: enough to write a final usage event for it if
 * the process dies before the attempt is metered. `id` is the event id the finished event will carry.
 */
export type BegunAttempt = Pick<UsageEvent,
  | 'id' | 'accountId' | 'requestId' | 'accessKeyId' | 'provider' | 'providerDisplayName' | 'model' | 'modelDisplayName'
  | 'attemptNumber' | 'isStreaming' | 'inputTokensEstimate' | 'keySource' | 'providerKeyId' | 'providerKeyDisplayName'
  | 'retryAction' | 'eventTime' | 'virtualModel' | 'firewall'> & {
  /**
   * The gateway's own call on the request (a Firewall decision rule's judgement), not one of its attempts: a crash
   * recovers it as an event that is never the request's final attempt (request counts leave it out).
   */
  gatewayCall?: true;
};

/** Where the gateway hands usage events; implementations make them durable, ship them to the store, drain on stop. */
export interface UsageSink {
  /**
   * Called just before an attempt's upstream request is sent; resolves once the attempt is durably noted, so
   * an attempt that reached the upstream is never missing from usage, whatever happens to the process next.
   */
  begin(attempt: BegunAttempt): Promise<void>;
  /** The attempt's final event (same id as its begin). */
  record(event: UsageEvent): void;
  /** Writes everything recorded so far; resolves when it is in the store. */
  flush(): Promise<void>;
  close(): Promise<void>;
}
