// Stage 8: one usage event per upstream attempt (and one for a request Firewall blocked), priced, debited and
// handed to the usage sink. Runs after the answer is complete (for streams, after the last byte), off the client's
// critical path.
import type { HeldRoom } from './exchange.ts';
import type { AttemptPlan } from '../domain/routing.ts';
import { attemptCost, type TokenUsage } from '../domain/cost.ts';
import { countInputTokens, countTextTokens } from '../domain/token-counter.ts';
import { NO_COST, type BegunAttempt, type Completion, type RetryAction, type UsageEvent } from '../usage/event.ts';
import { verdictOf } from '../domain/firewall.ts';
import type { FirewallVerdict } from '../domain/firewall-policy.ts';
import type { RequestContext } from './context.ts';
import { storedStopReason, type AnswerFacts, type ReportedUsage, type StreamFacts } from './formats/types.ts';
import { nowIso } from '../domain/clock.ts';
import { newId } from '../domain/ids.ts';
import type { TollgateError } from '../domain/errors.ts';
import { webSearchTool } from '../domain/params.ts';
import { billedContainerTier } from '../domain/hosted-tools.ts';

const NO_EVENTS: readonly UsageEvent[] = [];

/** How an attempt that did not serve the answer failed. */
/** `empty`: a 2xx event stream that ended cleanly before its first event. */
/** `unsendable`: the request could not even be written (a header value HTTP forbids: a stored key from before values were checked). */
/** `too-long`: an answer held whole (JSON) grew past what the gateway holds; `heldLimit` says how much that is. */
export type FailureKind = 'rate-limited' | 'auth' | 'server' | 'timeout' | 'connection' | 'empty' | 'unreadable' | 'rejected' | 'cancelled' | 'unsendable' | 'too-long';

export interface AttemptRecord {
  plan: AttemptPlan;
  /** The usage event's id, fixed when the attempt begins (the journal's begun row and final event share it). */
  eventId: string;
  statusCode: number;
  timedOut: boolean;
  retryAction: RetryAction;
  completion: Completion;
  durationMs: number;
  /** When the attempt started (performance.now()); with durationMs, when it finished. */
  startedAt: number;
  /** Set on the attempt whose answer went to the client (success, or a provider error passed through). */
  served: boolean;
  facts?: AnswerFacts | StreamFacts;
  failure?: FailureKind;
  /** For a `too-long` failure: the most bytes of the answer the gateway held. */
  heldLimit?: number;
  /**
   * `heldLimit` is a room shared with other answers, not one answer's limit: what the process holds of all answers at
   * once (`gateway`), or the account's share of it (`account`: its own answers held the rest).
   */
  heldShared?: HeldRoom;
  /** The provider's `Retry-After`, kept only when readable: delay-seconds or an HTTP-date (attempt.ts). */
  retryAfter?: string;
  /** The provider's `retry-after-ms` (Azure OpenAI's, which the OpenAI SDKs read first). */
  retryAfterMs?: string;
  /** The key's account is out of credit: OpenAI's `insufficient_quota` 429 (not a busy provider), Anthropic's 400. */
  quotaExhausted?: boolean;
  /** A 429 for this request's size alone (OpenAI's "Request too large for …"): its key is not cooled (key-cooldown.ts). */
  requestTooLarge?: boolean;
  /** An `auth` failure before any call: the key could not be used (a Bedrock role key's, gateway/bedrock-role.ts). */
  keyError?: TollgateError;
  /**
   * The call was cut after the whole request went to the provider and before an answer with its count: the client
   * left and, a second on (METER_GRACE_MS), it was still in flight, or a timeout (the attempt's, the request's) ran
   * out. The provider read the prompt and bills it, so the input is billed as estimated (needsEstimate). Not set for
   * a call cut while connecting (the provider never had it) nor after a refusal's head.
   */
  abandonedInFlight?: boolean;
}

const ZERO: ReportedUsage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 };

/**
 * A stream that ended before its end — no final event and no stop reason either (relay.ts takes a stop reason
 * without `[DONE]` as complete, as lenient servers end so): any usage it carried is what the provider said at the
 * start (Anthropic's `message_start`: output 1), not what it produced. A stop reason comes with the final counts
 * or before them (Anthropic's `message_delta`; OpenAI's usage chunk follows its finish chunk).
 */
function cutShort(r: AttemptRecord): boolean {
  const facts = r.facts;
  return facts !== undefined && 'terminal' in facts && !facts.terminal && facts.stopReason === '';
}

/** The attempt whose 2xx answer went to the client. */
function servedSuccess(r: AttemptRecord): boolean {
  return r.served && r.statusCode >= 200 && r.statusCode < 300;
}

/**
 * Attempts whose answer was served without a (final) provider usage report: their output must be estimated. And an
 * attempt cut while the provider worked on it (abandonedInFlight: its client left, or a timeout ran out): its input,
 * which the provider bills whether or not anyone reads the answer — else a client hanging up before the answer's
 * head, or a tenant whose perRequestTimeout cut every attempt, paid nothing for a prompt of any size. Its output,
 * never seen, is not estimated (nothing to count it from).
 */
function needsEstimate(r: AttemptRecord): boolean {
  return (servedSuccess(r) && (r.facts?.usage === undefined || cutShort(r))) || r.abandonedInFlight === true;
}

/**
 * Token counting (`/v1/messages/count_tokens`) generates nothing and providers do not bill it. Its attempts are
 * still recorded — status, key, retry action, like any attempt, and the journal's begun rows need their events —
 * but with zero tokens, no estimate and zero cost: the count in its answer is a number for the client, not usage.
 */
function isTokenCount(ctx: RequestContext): boolean {
  return ctx.route.surface === 'count-tokens';
}

/** Estimates counted on the tokenizer thread, keyed by record (the input once per request). */
interface Estimates { input: number; output: Map<AttemptRecord, number> }
const NO_ESTIMATES: Estimates = { input: 0, output: new Map() };

/** Output tokens of the kept text, scaled up when more was generated than kept (TEXT_ESTIMATE_CAP). */
export async function outputEstimate(facts: Pick<AnswerFacts, 'text' | 'textChars'> | undefined): Promise<number> {
  const text = facts?.text ?? '';
  if (text === '') return 0;
  const tokens = await countTextTokens(text);
  const chars = facts?.textChars ?? 0;
  return chars > text.length ? Math.ceil((tokens * chars) / text.length) : tokens;
}

/**
 * Firewall's verdicts for an attempt's event: the request rules' (every attempt carried that request) and, on the
 * attempt whose answer the client got, its tool calls' (JSON, or a stream's as its guard judged them). Null when none.
 */
function firewallVerdicts(ctx: RequestContext, withAnswer: boolean): FirewallVerdict[] | null {
  const findings = ctx.firewallFindings;
  if (!findings || findings.length === 0) return null;
  const verdicts = (withAnswer ? findings : findings.filter((f) => f.phase === 'request')).map(verdictOf);
  return verdicts.length > 0 ? verdicts : null;
}

/**
 * A request a request rule blocked: no attempt was made and nothing is billed, but it is recorded (zero tokens, zero
 * cost, no upstream time) with its verdicts, so a user auditing what Firewall stopped finds it in usage as in the
 * access log, as ngrok's Logs list each request. Provider and model are those it would have gone to first.
 */
export function recordBlockedRequest(ctx: RequestContext, plan: AttemptPlan, isStreaming: boolean): void {
  const { candidate } = plan;
  const key = ctx.key!;
  const event: UsageEvent = {
    id: newId('usageEvent'), accountId: key.accountId, requestId: ctx.requestId, accessKeyId: key.id,
    provider: candidate.provider.id, providerDisplayName: candidate.provider.displayName, model: candidate.modelId, modelDisplayName: candidate.displayName,
    attemptNumber: 1, isFinalAttempt: true, statusCode: 200, timedOut: false, isError: false,
    isStreaming, stopReason: storedStopReason('stop'),
    inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, cacheWrite1hTokens: 0, reasoningTokens: 0,
    usageEstimated: false, inputTokensEstimate: 0, outputTokensEstimate: 0, ...NO_COST,
    keySource: plan.keySource, providerKeyId: plan.providerKey?.id ?? null, providerKeyDisplayName: plan.providerKey?.keyRedacted ?? null,
    retryAction: 'succeeded', completion: 'succeeded', upstreamDurationMs: 0, eventTime: nowIso(),
    virtualModel: candidate.virtualModel ?? null, firewall: firewallVerdicts(ctx, true),
  };
  ctx.deps.usage.record(event);
  ctx.deps.state.markUsed(key.id, undefined);
}

/** What the journal keeps of an attempt about to be sent (see UsageSink.begin). */
export function begunAttempt(ctx: RequestContext, record: AttemptRecord, attemptNumber: number, isStreaming: boolean, ifFailed: RetryAction): BegunAttempt {
  const { candidate } = record.plan;
  return {
    id: record.eventId,
    accountId: ctx.key!.accountId,
    requestId: ctx.requestId,
    accessKeyId: ctx.key!.id,
    provider: candidate.provider.id,
    providerDisplayName: candidate.provider.displayName,
    model: candidate.modelId,
    modelDisplayName: candidate.displayName,
    attemptNumber,
    isStreaming,
    // Only when already computed (billing, input caps): tokenising here would slow every request.
    inputTokensEstimate: ctx.inputEstimate ?? 0,
    keySource: record.plan.keySource,
    providerKeyId: record.plan.providerKey?.id ?? null,
    providerKeyDisplayName: record.plan.providerKey?.keyRedacted ?? null,
    retryAction: ifFailed,
    eventTime: nowIso(),
    virtualModel: candidate.virtualModel ?? null,
    firewall: firewallVerdicts(ctx, false),
  };
}

/**
 * Meters the request's attempts. Synchronous in the ordinary case (the provider reported usage); when tokens
 * must be estimated they are counted on the tokenizer thread first, and the returned promise settles once
 * the events are recorded.
 */
export function meterAttempts(ctx: RequestContext, records: readonly AttemptRecord[], isStreaming: boolean): void | Promise<void> {
  const { deps, key, account } = ctx;
  if (!key || !account || records.length === 0) {
    deps.ledger?.release(ctx.reservation);
    deps.observer?.finished(ctx, records, NO_EVENTS);
    return;
  }
  // The provider reported every attempt's usage (the usual case): no list of those to estimate is made.
  if (isTokenCount(ctx) || !records.some(needsEstimate)) {
    recordEvents(ctx, records, isStreaming, NO_ESTIMATES);
    return;
  }
  const estimated = records.filter(needsEstimate);
  const input = ctx.inputEstimate !== undefined || !ctx.body || !ctx.rawBody ? Promise.resolve(ctx.inputEstimate ?? 0) : countInputTokens(ctx.rawBody, ctx.route.surface);
  return Promise.all([input, ...estimated.map((r) => outputEstimate(r.facts))]).then(([inputTokens, ...outputs]) => {
    ctx.inputEstimate = inputTokens;
    recordEvents(ctx, records, isStreaming, { input: inputTokens!, output: new Map(estimated.map((r, i) => [r, outputs[i]!])) });
  });
}

/**
 * Usage whose iterations ran on other models (Anthropic's advisor) with those models' catalog prices. One the catalog
 * cannot price is priced as the attempt's model (a managed request naming such an advisor or fallback is refused,
 * routing.ts).
 */
function withIterationPrices(usage: ReportedUsage, ctx: RequestContext, providerId: string): TokenUsage {
  const iterations = usage.iterations;
  if (iterations === undefined || !iterations.some((it) => it.model !== undefined)) return usage;
  return {
    ...usage,
    iterations: iterations.map((it) => {
      const price = it.model === undefined ? undefined : ctx.deps.catalog.model(providerId, it.model)?.priceMicro;
      return price ? { ...it, price } : it;
    }),
  };
}

function recordEvents(ctx: RequestContext, records: readonly AttemptRecord[], isStreaming: boolean, estimates: Estimates): void {
  const { deps } = ctx;
  const key = ctx.key!;
  const account = ctx.account!;
  const events: UsageEvent[] = [];
  // The last attempt finishes now (a stream's last byte, or the tokenizer's count just after it); earlier ones
  // failed over earlier — by up to the total timeout — and are stamped when they did.
  const now = nowIso();
  const nowMs = Date.now();
  const nowPerf = performance.now();
  let total = 0n;
  let servedKeyId: string | undefined;
  const counting = isTokenCount(ctx);
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const { candidate } = r.plan;
    const succeeded = servedSuccess(r);
    const reported = counting ? undefined : r.facts?.usage;
    // Only an answer that was served, or a prompt the provider read for a call cut in flight, can be estimated; failed
    // attempts produced nothing to count.
    const estimated = !counting && needsEstimate(r);
    const inEstimate = estimated ? estimates.input : 0;
    const outEstimate = estimated ? estimates.output.get(r) ?? 0 : 0;
    let usage: ReportedUsage = reported ?? ZERO;
    // A stream cut short after an early usage report: what it streamed counts when it is more.
    if (reported !== undefined && outEstimate > usage.outputTokens) {
      const more = { inputTokens: 0, outputTokens: outEstimate - usage.outputTokens, cacheReadTokens: 0, cacheWriteTokens: 0, cacheWrite1hTokens: 0 };
      usage = { ...usage, outputTokens: outEstimate, ...(usage.iterations ? { iterations: [...usage.iterations, more] } : {}) };
    }
    let priced: TokenUsage = reported === undefined && estimated ? { ...ZERO, inputTokens: inEstimate, outputTokens: outEstimate } : withIterationPrices(usage, ctx, candidate.provider.id);
    // Searches seen running are billed only when no count of the provider's came (a stream cut before its final
    // usage, an answer without usage): the provider's count leaves out the searches that failed.
    const searchesSeen = counting || priced.webSearchRequests !== undefined || (reported !== undefined && !cutShort(r)) ? 0 : r.facts?.webSearches ?? 0;
    if (searchesSeen > 0) priced = { ...priced, webSearchRequests: searchesSeen };
    // OpenAI's answer does not say which search tool ran a search: the tools the request offered price it (cost.ts).
    const searchTools = (priced.webSearchRequests ?? 0) > 0 && ctx.body !== undefined ? webSearchTool(ctx.body) : undefined;
    if (searchTools !== undefined) priced = { ...priced, webSearchTool: searchTools };
    // Each container the answer named (code interpreter, hosted shell) is a session OpenAI bills, at the tier the
    // request asked for.
    const containers = counting ? 0 : r.facts?.containers?.length ?? 0;
    if (containers > 0 && ctx.body !== undefined) priced = { ...priced, containerSessions: containers, containerTier: billedContainerTier(ctx.body) };
    // A body that broke off after a 2xx head (`connection`) failed as surely as a 5xx, and the client got a 502. A 2xx
    // answer `failed` never reached the client (the stop cut it while a Firewall judgement held it: attempt.ts).
    const isError = r.timedOut || r.statusCode === 0 || r.statusCode >= 400 || r.completion === 'stream_failed' || r.completion === 'failed' || r.failure === 'connection' || r.failure === 'empty' || r.failure === 'unreadable' || r.failure === 'timeout' || r.failure === 'server' || r.failure === 'rate-limited' || r.failure === 'unsendable' || r.failure === 'too-long';
    // The processing fee is for a successful request: not for a 2xx stream the provider broke or that timed out, nor
    // for an answer the stop kept from the client (an error for the client too). A client that hung up mid-stream
    // still pays for what it received.
    // Priced at the hour the attempt was sent (DeepSeek bills peak hours double).
    const sentAt = nowMs - (nowPerf - r.startedAt);
    const cost = attemptCost(priced, r.plan, deps.options.processingFeeMicroUsdPerMtok, succeeded && !isError, sentAt);
    total += cost.totalPico;
    if (r.served) servedKeyId = r.plan.providerKey?.id;
    const event: UsageEvent = {
      id: r.eventId,
      accountId: account.accountId,
      requestId: ctx.requestId,
      accessKeyId: key.id,
      provider: candidate.provider.id,
      providerDisplayName: candidate.provider.displayName,
      model: candidate.modelId,
      modelDisplayName: candidate.displayName,
      attemptNumber: i + 1,
      isFinalAttempt: i === records.length - 1,
      statusCode: r.statusCode,
      timedOut: r.timedOut,
      isError,
      isStreaming,
      stopReason: storedStopReason(r.facts?.stopReason ?? ''),
      inputTokens: usage.inputTokens,
      outputTokens: usage.outputTokens,
      cacheReadTokens: usage.cacheReadTokens,
      cacheWriteTokens: usage.cacheWriteTokens,
      cacheWrite1hTokens: cost.cacheWrite1hTokens,
      reasoningTokens: usage.reasoningTokens,
      usageEstimated: estimated,
      inputTokensEstimate: inEstimate,
      outputTokensEstimate: outEstimate,
      costPico: cost.totalPico,
      inputCostPico: cost.inputPico,
      outputCostPico: cost.outputPico,
      cacheReadCostPico: cost.cacheReadPico,
      cacheWrite5mCostPico: cost.cacheWrite5mPico,
      cacheWrite1hCostPico: cost.cacheWrite1hPico,
      feePico: cost.feePico,
      keySource: r.plan.keySource,
      providerKeyId: r.plan.providerKey?.id ?? null,
      providerKeyDisplayName: r.plan.providerKey?.keyRedacted ?? null,
      retryAction: r.retryAction,
      completion: r.completion,
      upstreamDurationMs: Math.round(r.durationMs),
      eventTime: i === records.length - 1 ? now : new Date(nowMs - (nowPerf - (r.startedAt + r.durationMs))).toISOString(),
      virtualModel: r.plan.candidate.virtualModel ?? null,
      firewall: firewallVerdicts(ctx, r.served),
    };
    deps.usage.record(event);
    events.push(event);
  }
  deps.ledger?.settle(account.accountId, ctx.reservation, total);
  if (total > 0n) deps.state.debit(account.accountId, total);
  deps.state.markUsed(key.id, servedKeyId);
  deps.observer?.finished(ctx, records, events);
}
