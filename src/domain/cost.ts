// Cost of one upstream attempt in pico-USD (gateway.md §10). Integers only: token counts × micro-USD per
// million tokens is exactly pico-USD. Model cost applies only when the operator's (managed) credential
// served; the processing fee applies to successful attempts whatever the credential.
import type { AttemptPlan } from './routing.ts';
import type { PriceMicro } from '../catalog/types.ts';
import type { ContainerTier } from './hosted-tools.ts';
import type { WebSearchTool } from './params.ts';

export interface TokenUsage {
  /** All input tokens, cached ones included (normalise Anthropic's split counts before calling). */
  inputTokens: number;
  /** All output tokens, reasoning tokens included. */
  outputTokens: number;
  /** Part of inputTokens read from the provider's prompt cache. */
  cacheReadTokens: number;
  /** Part of inputTokens written to the provider's prompt cache. */
  cacheWriteTokens: number;
  /** Part of outputTokens spent on reasoning (reported, priced as output). */
  reasoningTokens: number;
  /** Part of cacheWriteTokens kept an hour (Anthropic), dearer than the 5-minute writes. */
  cacheWrite1hTokens?: number;
  /** Server-side web searches the provider ran and bills per search (Anthropic's `web_search` tool). */
  webSearchRequests?: number;
  /**
   * Which of OpenAI's search tools the request offered (params.ts `webSearchTool`), which prices its searches: an
   * answer's `web_search_call` items do not say which tool ran one, so with both offered each is billed at the dearer.
   */
  webSearchTool?: WebSearchTool;
  /** OpenAI containers the answer named (`code_interpreter_call` and hosted `shell_call` items): one session each. */
  containerSessions?: number;
  /** Their memory tier (the request's tool's), which prices a session; 1 GB when absent. */
  containerTier?: ContainerTier;
  /**
   * Input audio billed by its length, in milliseconds, fractions priced to the microsecond (OpenAI's transcription
   * models reporting `duration` usage, in fractional seconds).
   */
  audioDurationMs?: number;
  /**
   * The sampling iterations the provider bills one by one (Anthropic's `usage.iterations`: compaction, the advisor
   * tool), the counts above being their sums: each is priced on its own, a long-context line judged on its input.
   */
  iterations?: readonly IterationUsage[];
}

/** One sampling iteration's counts, as TokenUsage's. */
export interface IterationUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  cacheWrite1hTokens?: number;
  /** The prices of the model it ran on when not the attempt's (Anthropic's advisor); absent: the attempt's. */
  price?: PriceMicro;
}

/**
 * Tokens priced for one count at most (the cap reported counts get, formats/types.ts `num`): whatever adds counts
 * up on the way, an event's cost stays inside the store's 64-bit column (config.ts bounds the fee to match).
 */
const MAX_PRICED_TOKENS = 1_000_000_000;
const MAX_PRICED_TOKENS_BIG = BigInt(MAX_PRICED_TOKENS);

function count(n: number): bigint {
  return Number.isFinite(n) && n > 0 ? BigInt(Math.floor(Math.min(n, MAX_PRICED_TOKENS))) : 0n;
}

/** The prices of a request with `inputTokens` of input: a long-context tier prices all of it once past its line. */
function pricesFor(price: PriceMicro, inputTokens: bigint): PriceMicro {
  const tier = price.longContext;
  return tier !== undefined && inputTokens > BigInt(tier.above) ? tier.price : price;
}

const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);

/**
 * Searches billed for one attempt at most: past this a count is a lie (Anthropic lets a request allow a few dozen),
 * and a billion reported searches at $0.01 would overflow the store's 64-bit cost and refuse the usage batch it sits
 * in. Token counts are capped the same way (MAX_PRICED_TOKENS).
 */
const MAX_BILLED_SEARCHES = 100_000n;

/**
 * OpenAI's price of one code interpreter container session by memory tier (its pricing page: $0.03 for 1 GB, $0.12
 * for 4 GB, $0.48 for 16 GB, $1.92 for 64 GB per 20-minute session). OpenAI has billed sessions by the minute (5 at
 * least) since 2026-06-02 at the same rate; no answer says how long a container ran, so each is billed the full 20
 * minutes (docs/decisions/gateway-routing.md).
 */
export const CONTAINER_SESSION_PICO: Readonly<Record<ContainerTier, bigint>> = {
  '1g': 30_000_000_000n, '4g': 120_000_000_000n, '16g': 480_000_000_000n, '64g': 1_920_000_000_000n,
};

/** Container sessions billed for one attempt at most (a count past it is a lie; see MAX_BILLED_SEARCHES). */
const MAX_BILLED_CONTAINERS = 1_000n;

function peakAt(price: PriceMicro, at: number): boolean {
  return price.peak !== undefined && price.peak.hours[new Date(at).getUTCHours()] === true;
}

/** The prices in force at `at` (epoch ms): the peak ones within the provider's peak hours. */
function pricesAt(price: PriceMicro, at: number): PriceMicro {
  return peakAt(price, at) ? price.peak!.price : price;
}

const HOUR_MS = 3_600_000;
const MINUTE_US = 60_000_000n;

/**
 * The dearest prices in force while the request's attempts may be sent (`from`–`to`, epoch ms: an attempt is
 * priced at the hour it is sent, and the last may be sent up to the total timeout after the first).
 */
function heldPrices(price: PriceMicro, from: number, to: number): PriceMicro {
  if (price.peak === undefined) return price;
  for (let at = from; at < to + HOUR_MS; at += HOUR_MS) if (peakAt(price, Math.min(at, to))) return price.peak.price;
  return price;
}

/**
 * An attempt's cost in pico-USD and its parts, as usage events show them (ngrok's `inputTokenCost`, …): the parts
 * add up to `totalPico`. Web searches and code interpreter containers have no part of their own in the contract; they
 * are in the total only.
 */
export interface AttemptCost {
  /** Input tokens neither read from nor written to the cache. */
  inputPico: bigint;
  outputPico: bigint;
  cacheReadPico: bigint;
  /** Cache writes kept five minutes (every write of a provider with one cache lifetime). */
  cacheWrite5mPico: bigint;
  /** Cache writes kept an hour (Anthropic). */
  cacheWrite1hPico: bigint;
  webSearchPico: bigint;
  /** Code interpreter container sessions (OpenAI); like searches, in the total only. */
  containerPico: bigint;
  /** The processing fee, whatever the credential. */
  feePico: bigint;
  totalPico: bigint;
  /** The hour-long part of the cache writes, as priced (never more than the writes, nor the writes than the input). */
  cacheWrite1hTokens: number;
}

/** `at`: when the attempt was sent (epoch ms), for providers that price by the hour. */
export function attemptCost(usage: TokenUsage, attempt: AttemptPlan, feeMicroUsdPerMtok: bigint, succeeded: boolean, at: number): AttemptCost {
  const input = count(usage.inputTokens);
  const output = count(usage.outputTokens);
  const feePico = succeeded ? (input + output) * feeMicroUsdPerMtok : 0n;
  const priced = attempt.keySource === 'ngrok' ? attempt.candidate.catalogModel?.priceMicro : undefined;
  const cost: AttemptCost = {
    inputPico: 0n, outputPico: 0n, cacheReadPico: 0n, cacheWrite5mPico: 0n, cacheWrite1hPico: 0n, webSearchPico: 0n, containerPico: 0n,
    feePico, totalPico: feePico, cacheWrite1hTokens: 0,
  };
  // Every iteration priced alone; the counts priced in all stay within one count's bound (MAX_PRICED_TOKENS).
  const left = { input: MAX_PRICED_TOKENS_BIG, output: MAX_PRICED_TOKENS_BIG };
  let longWrites = 0n;
  for (const part of usage.iterations !== undefined && usage.iterations.length > 0 ? usage.iterations : [usage]) {
    const partInput = min(count(part.inputTokens), left.input);
    const partOutput = min(count(part.outputTokens), left.output);
    left.input -= partInput;
    left.output -= partOutput;
    // Cached counts never exceed the input they are part of, whatever a provider reports.
    const cachedRead = min(count(part.cacheReadTokens), partInput);
    const cachedWrite = min(count(part.cacheWriteTokens), partInput - cachedRead);
    const longWrite = min(count(part.cacheWrite1hTokens ?? 0), cachedWrite);
    longWrites += longWrite;
    // Model cost applies only when the operator's (managed) credential served.
    if (!priced) continue;
    const partPrice = ('price' in part ? part.price : undefined) ?? priced;
    const price = pricesFor(pricesAt(partPrice, at), partInput);
    const writePrice = price.cacheWrite ?? price.input;
    cost.inputPico += (partInput - cachedRead - cachedWrite) * price.input;
    cost.outputPico += partOutput * price.output;
    cost.cacheReadPico += cachedRead * (price.cacheRead ?? price.input);
    cost.cacheWrite5mPico += (cachedWrite - longWrite) * writePrice;
    cost.cacheWrite1hPico += longWrite * (price.cacheWriteLong ?? writePrice);
  }
  cost.cacheWrite1hTokens = Number(longWrites);
  if (!priced) return cost;
  const price = pricesFor(pricesAt(priced, at), input);
  cost.webSearchPico = min(count(usage.webSearchRequests ?? 0), MAX_BILLED_SEARCHES) * searchPico(price, usage.webSearchTool);
  cost.containerPico = min(count(usage.containerSessions ?? 0), MAX_BILLED_CONTAINERS) * CONTAINER_SESSION_PICO[usage.containerTier ?? '1g'];
  // Audio billed by its length is input: rounded up to the next whole pico-USD (a minute's price need not divide by
  // the microsecond), once per attempt.
  if (price.audioMinutePico !== undefined) cost.inputPico += audioDurationPico(usage.audioDurationMs ?? 0, price.audioMinutePico);
  cost.totalPico = cost.inputPico + cost.outputPico + cost.cacheReadPico + cost.cacheWrite5mPico + cost.cacheWrite1hPico + cost.webSearchPico + cost.containerPico + feePico;
  return cost;
}

/**
 * `ms` of audio at a per-minute price (pico-USD): the length to the microsecond (a provider reports it as fractional
 * seconds), rounded up to the next whole pico-USD once.
 */
export function audioDurationPico(ms: number, minutePico: bigint): bigint {
  const us = Number.isFinite(ms) && ms > 0 ? BigInt(Math.max(0, Math.ceil(Math.min(ms, MAX_PRICED_TOKENS) * 1000 - 1e-6))) : 0n;
  return (us * minutePico + MINUTE_US - 1n) / MINUTE_US;
}

/**
 * What the containers a request's tools may create (code interpreter, hosted shell) add to an attempt's hold: a session each at its tier
 * (hosted-tools.ts `containerTiers`), on the managed key only (the account's own key bills them to the account).
 */
export function containerHoldPico(tiers: readonly ContainerTier[], attempt: AttemptPlan): bigint {
  if (attempt.keySource !== 'ngrok' || !attempt.candidate.catalogModel?.priceMicro) return 0n;
  let held = 0n;
  for (const tier of tiers) held += CONTAINER_SESSION_PICO[tier];
  return held;
}

/**
 * What Anthropic's advisor tool (`advisor_20260301`) may add to an attempt (params.ts `advisorLimit`): `calls`
 * consultations, each writing up to `outputTokens`, priced at `price` (the advisor model's; absent: not priced, as
 * on the account's own key, where only the fee is held).
 */
export interface AdvisorHold { calls: number; outputTokens: number; price: PriceMicro | undefined }

/**
 * What Anthropic's compaction (params.ts `compactionTrigger`) may add to an attempt, once the transcript passes
 * `trigger` input tokens: an iteration at the request's model reading the transcript (at most the model's
 * `contextWindow`) and writing a summary of up to `outputTokens` (its maximum output: Anthropic bounds the summary by
 * nothing else), which the executor then reads with what it kept of the transcript, again at most the window.
 */
export interface CompactionHold { trigger: number; outputTokens: number; contextWindow: number | undefined }

/**
 * One search's price under the tools a request offered: `web_search_preview`'s alone (its own price where the catalog
 * has one), the dearer of the two when both were (the answer cannot tell which ran a search: over-billing the
 * difference is the side an operator paying OpenAI can take, under-billing is not), else `web_search`'s.
 */
function searchPico(price: PriceMicro | undefined, tools: WebSearchTool | undefined): bigint {
  const standard = price?.webSearchPico ?? 0n;
  const preview = price?.webSearchPreviewPico ?? standard;
  if (tools === 'preview') return preview;
  return tools === 'both' && preview > standard ? preview : standard;
}

/** The dearest price one input token can be billed at (a cache write can cost more than plain input). */
function dearestInput(price: PriceMicro | undefined): bigint {
  let most = price?.input ?? 0n;
  for (const p of [price?.cacheWrite, price?.cacheWriteLong, price?.cacheRead]) if (p !== undefined && p > most) most = p;
  return most;
}

/**
 * Upper bound of one attempt's cost for a credit reservation: every input token at the dearest input price
 * (a cache write can cost more than plain input), `outputTokens` at the output price, `webSearches` at the
 * per-search price (the dearer one when `previewSearches` may run on the `web_search_preview` tool), the fee on
 * the tokens — at the dearest prices of the hours it may be sent in (`sentFrom`–`sentTo`). With `advisor`, its
 * consultations too, as Anthropic bills them (`usage.iterations`): each reads the whole transcript so far at the
 * advisor model's prices and writes its advice, and the executor reads the transcript again after each. With
 * `compaction`, one compaction of that transcript (CompactionHold) when it may pass the trigger.
 */
export function reservationPico(inputTokens: number, outputTokens: number, attempt: AttemptPlan, feeMicroUsdPerMtok: bigint, webSearches: number, sentFrom: number, sentTo: number, previewSearches = false, advisor?: AdvisorHold, compaction?: CompactionHold): bigint {
  const input = count(inputTokens);
  const output = count(outputTokens);
  const priced = attempt.keySource === 'ngrok' ? attempt.candidate.catalogModel?.priceMicro : undefined;
  const base = priced ? heldPrices(priced, sentFrom, sentTo) : undefined;
  // The bound is at least the real input: past a tier's line by the bound, the tier's dearer prices hold.
  const price = base ? pricesFor(base, input) : undefined;
  // A search that may run on either tool is held at the dearer price, as it would be billed.
  let held = input * dearestInput(price) + output * (price?.output ?? 0n) + count(webSearches) * searchPico(price, previewSearches ? 'both' : 'standard')
    + (input + output) * feeMicroUsdPerMtok;
  // The longest transcript an iteration can read: the request, all the executor's output and every advice.
  let transcript = input + output;
  if (advisor !== undefined && advisor.calls > 0) {
    const calls = BigInt(Math.floor(advisor.calls));
    const advice = count(advisor.outputTokens);
    transcript += calls * advice;
    const again = base ? pricesFor(base, transcript) : undefined;
    const advisorBase = priced && advisor.price ? heldPrices(advisor.price, sentFrom, sentTo) : undefined;
    const advisorPrice = advisorBase ? pricesFor(advisorBase, transcript) : undefined;
    held += calls * (transcript * dearestInput(again) + transcript * dearestInput(advisorPrice) + advice * (advisorPrice?.output ?? 0n));
    held += calls * (2n * transcript + advice) * feeMicroUsdPerMtok;
  }
  if (compaction === undefined || transcript <= count(compaction.trigger)) return held;
  const window = count(compaction.contextWindow ?? 0);
  const within = (tokens: bigint): bigint => (window > 0n && window < tokens ? window : tokens);
  const read = within(transcript);
  const summary = count(compaction.outputTokens);
  const summarizing = base ? pricesFor(base, read) : undefined;
  // The executor then reads the summary and what it kept of the transcript instead of the input held above (the
  // more, at a long-context line's prices when past it), and the fee on both.
  const after = within(read + summary);
  const afterPrice = base ? pricesFor(base, after) : undefined;
  const reread = after * dearestInput(afterPrice) - input * dearestInput(price);
  held += read * dearestInput(summarizing) + summary * (summarizing?.output ?? 0n) + (reread > 0n ? reread : 0n);
  return held + (read + summary + (after > input ? after - input : 0n)) * feeMicroUsdPerMtok;
}
