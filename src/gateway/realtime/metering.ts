// A session's usage events: each response's and transcription's, priced by kind of token, a response the session
// ended before it reported billed on what its client was sent of it, and each handshake that opened nothing.
import { attemptCost, type AttemptCost, type IterationUsage, type TokenUsage } from '../../domain/cost.ts';
import { newId } from '../../domain/ids.ts';
import { nowIso } from '../../domain/clock.ts';
import type { Candidate } from '../../domain/resolve.ts';
import type { AttemptPlan } from '../../domain/routing.ts';
import type { PriceMicro } from '../../catalog/types.ts';
import { NO_COST, type BegunAttempt, type Completion, type RetryAction, type UsageEvent } from '../../usage/event.ts';
import { appendText, num, storedStopReason } from '../formats/types.ts';
import { outputEstimate } from '../meter.ts';
import type { Reservation } from '../../usage/ledger.ts';
import { reportedTokens } from '../observe/tokens.ts';
import { TEXT_DELTAS, member } from './events.ts';
import type { OpenResponse, RelayedOutput, Transcribing, Session } from './session.ts';
import { transcriptionPlan } from './holds.ts';

/** Output audio is billed at one token per 50 ms of it (developers.openai.com/api/docs/guides/realtime-costs). */
const AUDIO_OUTPUT_TOKENS_PER_SECOND = 20;

/**
 * A `response.done`'s usage as the gateway prices it: text, audio and image tokens each at their price (an iteration
 * each, cost.ts), whatever the totals hold beyond the parts counted as text.
 */
export function realtimeUsage(usage: Record<string, unknown> | undefined, price: PriceMicro | undefined): TokenUsage {
  const input = num(usage?.input_tokens);
  const output = num(usage?.output_tokens);
  const inDetails = member(usage, 'input_token_details');
  const outDetails = member(usage, 'output_token_details');
  const cachedDetails = member(inDetails, 'cached_tokens_details');
  const cached = Math.min(num(inDetails?.cached_tokens), input);
  const audioIn = Math.min(num(inDetails?.audio_tokens), input);
  const imageIn = Math.min(num(inDetails?.image_tokens), input - audioIn);
  const audioCached = Math.min(num(cachedDetails?.audio_tokens), audioIn, cached);
  const imageCached = Math.min(num(cachedDetails?.image_tokens), imageIn, cached - audioCached);
  const audioOut = Math.min(num(outDetails?.audio_tokens), output);
  // Cached tokens the breakdown does not place (`cached_tokens_details` is optional) are text's as far as text input
  // goes, then audio's, then image's: every cached token is priced as cached, none past the input it is part of
  // (cost.ts would price a text part's excess as nothing and leave the audio it came from at the uncached price).
  const textIn = input - audioIn - imageIn;
  let unplaced = cached - audioCached - imageCached;
  const textCached = Math.min(unplaced, textIn);
  unplaced -= textCached;
  const audioCachedAll = audioCached + Math.min(unplaced, audioIn - audioCached);
  unplaced -= audioCachedAll - audioCached;
  const imageCachedAll = imageCached + Math.min(unplaced, imageIn - imageCached);
  const audio: IterationUsage = { inputTokens: audioIn, outputTokens: audioOut, cacheReadTokens: audioCachedAll, cacheWriteTokens: 0, ...(price?.audio ? { price: price.audio } : {}) };
  const image: IterationUsage = { inputTokens: imageIn, outputTokens: 0, cacheReadTokens: imageCachedAll, cacheWriteTokens: 0, ...(price?.image ? { price: price.image } : {}) };
  const text: IterationUsage = { inputTokens: textIn, outputTokens: output - audioOut, cacheReadTokens: textCached, cacheWriteTokens: 0 };
  return { inputTokens: input, outputTokens: output, cacheReadTokens: cached, cacheWriteTokens: 0, reasoningTokens: 0, iterations: [text, audio, image] };
}

/**
 * A response's output estimated from what was relayed of it, as a `response.done`'s usage: `textTokens` (counted
 * from its text) and its audio at OpenAI's rate, a started 50 ms counted whole (the sum of the deltas' lengths is
 * floating: a millionth of a token of slack). Undefined when nothing was relayed.
 */
function relayedUsage(relayed: RelayedOutput | undefined, textTokens: number): Record<string, unknown> | undefined {
  const audio = Math.max(0, Math.ceil((relayed?.audioSeconds ?? 0) * AUDIO_OUTPUT_TOKENS_PER_SECOND - 1e-6));
  if (audio + textTokens === 0) return undefined;
  return { output_tokens: textTokens + audio, output_token_details: { text_tokens: textTokens, audio_tokens: audio } };
}

/**
 * A transcription's usage as the gateway prices it: `tokens` as a response's (text and audio input apart), `duration`
 * as the audio's length, in milliseconds as reported (not rounded to the millisecond: cost.ts prices it to the
 * microsecond).
 */
export function transcriptionUsage(usage: Record<string, unknown> | undefined, price: PriceMicro | undefined): TokenUsage {
  if (usage?.type !== 'duration') return realtimeUsage(usage, price);
  const seconds = typeof usage.seconds === 'number' && Number.isFinite(usage.seconds) && usage.seconds > 0 ? usage.seconds : 0;
  return { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, audioDurationMs: seconds * 1000 };
}

/**
 * An output delta the client is being sent, noted against its open response: text kept as an HTTP stream's, audio
 * as its length in the session's output format (not when that format's rate is not known).
 */
export function noteRelayed(s: Session, type: string, event: Record<string, unknown>): void {
  const relayed = typeof event.response_id === 'string' ? s.open.get(event.response_id)?.relayed : undefined;
  if (relayed === undefined || typeof event.delta !== 'string') return;
  if (TEXT_DELTAS.has(type)) appendText(relayed, event.delta);
  else if (s.outputAudioBytesPerSecond !== undefined) relayed.audioSeconds += Buffer.byteLength(event.delta, 'base64') / s.outputAudioBytesPerSecond;
}

/**
 * A metered event of the session's: its counts and cost, and how it ended. An `estimated` one's output is the
 * gateway's estimate, kept apart from the provider's counts as an HTTP attempt's is (meter.ts).
 */
function usageEvent(begun: BegunAttempt, usage: TokenUsage, cost: AttemptCost, end: Pick<UsageEvent, 'isError' | 'stopReason' | 'completion' | 'upstreamDurationMs'>, estimated = false): UsageEvent {
  return {
    ...begun, ...end,
    isFinalAttempt: true, statusCode: 200, timedOut: false,
    inputTokens: usage.inputTokens, outputTokens: estimated ? 0 : usage.outputTokens, cacheReadTokens: usage.cacheReadTokens, cacheWriteTokens: 0, cacheWrite1hTokens: 0,
    reasoningTokens: 0, usageEstimated: estimated, outputTokensEstimate: estimated ? usage.outputTokens : 0,
    costPico: cost.totalPico, inputCostPico: cost.inputPico, outputCostPico: cost.outputPico, cacheReadCostPico: cost.cacheReadPico,
    cacheWrite5mCostPico: cost.cacheWrite5mPico, cacheWrite1hCostPico: cost.cacheWrite1hPico, feePico: cost.feePico,
  };
}

/**
 * The responses a session ended before they reported (the provider gone, or silent through the grace): billed as
 * estimated on what the client was sent of their output — the provider bills what it generated, which is at least
 * that — their text counted on the tokenizer thread as an HTTP stream's is. A promise when there is text to count.
 */
export function recordUnreported(s: Session, unreported: readonly OpenResponse[]): void | Promise<void> {
  const record = (texts: readonly number[]) => unreported.forEach((began, i) => recordResponse(s, began, undefined, texts[i] ?? 0));
  if (!unreported.some((began) => (began.relayed?.textChars ?? 0) > 0)) return record([]);
  return Promise.all(unreported.map((began) => outputEstimate(began.relayed))).then(record);
}

export function begunAttempt(s: Session, began: OpenResponse): BegunAttempt {
  const { candidate } = s.plan!;
  return {
    id: began.eventId, accountId: s.key!.accountId, requestId: s.requestId, accessKeyId: s.key!.id,
    provider: candidate.provider.id, providerDisplayName: candidate.provider.displayName, model: candidate.modelId, modelDisplayName: candidate.displayName,
    attemptNumber: s.attemptNumber, isStreaming: true, inputTokensEstimate: 0, keySource: s.plan!.keySource,
    providerKeyId: s.plan!.providerKey?.id ?? null, providerKeyDisplayName: s.plan!.providerKey?.keyRedacted ?? null,
    retryAction: 'succeeded', eventTime: nowIso(), virtualModel: candidate.virtualModel ?? null, firewall: null,
  };
}

/**
 * A response's usage event: from its `response.done`, or (undefined) one the session ended before it reported,
 * estimated from what was relayed of it (`textTokens` counted from its text).
 */
export function recordResponse(s: Session, began: OpenResponse, response: Record<string, unknown> | undefined, textTokens = 0): void {
  const plan = s.plan!;
  const status = typeof response?.status === 'string' ? response.status : '';
  const failed = response === undefined || status === 'failed';
  const estimate = response === undefined ? relayedUsage(began.relayed, textTokens) : undefined;
  const usage = realtimeUsage(estimate ?? member(response, 'usage'), plan.candidate.catalogModel?.priceMicro);
  const durationMs = performance.now() - began.startedAt;
  const cost = attemptCost(usage, plan, s.deps.options.processingFeeMicroUsdPerMtok, !failed, Date.now() - durationMs);
  const reason = member(response, 'status_details')?.reason;
  const completion: Completion = response === undefined ? 'stream_failed' : failed ? 'failed' : 'succeeded';
  s.responses++;
  recordUsage(s, usageEvent(begunAttempt(s, began), usage, cost, {
    isError: failed, stopReason: storedStopReason(typeof reason === 'string' ? reason : status), completion, upstreamDurationMs: Math.round(durationMs),
  }, estimate !== undefined), plan.candidate, began.hold);
}

/** A transcription's begun row: the session's, named after the transcription model, and that model as a candidate. */
export function transcriptionBegun(s: Session, began: Transcribing): { begun: BegunAttempt; candidate: Candidate } {
  const { candidate } = transcriptionPlan(s, began.model);
  return { begun: { ...begunAttempt(s, began), model: candidate.modelId, modelDisplayName: candidate.displayName }, candidate };
}

/**
 * An input audio transcription's usage event: billed by the provider apart from the responses, at the transcription
 * model's prices (the catalog's; an uncatalogued model's usage is recorded unpriced), and named after that model.
 * One begun at its commit keeps that event id, and its hold is settled; `failed` (reported failed, or never
 * reported) is at no cost.
 */
export function recordTranscription(s: Session, given: Transcribing | string | undefined, usage: Record<string, unknown> | undefined, failed?: 'failed' | 'stream_failed'): void {
  const plan = s.plan!;
  const began: Transcribing = typeof given === 'object' ? given : { eventId: newId('usageEvent'), startedAt: performance.now(), model: given ?? 'unknown' };
  const { begun, candidate } = transcriptionBegun(s, began);
  const transcribed = transcriptionUsage(usage, candidate.catalogModel?.priceMicro);
  const cost = attemptCost(transcribed, { ...plan, candidate }, s.deps.options.processingFeeMicroUsdPerMtok, failed === undefined, Date.now());
  const end = failed === undefined
    ? { isError: false, stopReason: '', completion: 'succeeded' as const, upstreamDurationMs: 0 }
    : { isError: true, stopReason: '', completion: failed, upstreamDurationMs: Math.round(performance.now() - began.startedAt) };
  recordUsage(s, usageEvent(begun, transcribed, cost, end), candidate, began.hold);
}

/** A usage event journalled (UsageSink.record), then counted, settled (replacing `hold`) and debited, as every response's is. */
function recordUsage(s: Session, event: UsageEvent, candidate: Candidate, hold?: Reservation): void {
  const accountId = s.key!.accountId;
  s.deps.usage.record(event);
  // The counts billed: a response the provider never reported is billed on what the client was sent of it.
  const billed = reportedTokens(event);
  s.inputTokens += billed.input;
  s.outputTokens += billed.output;
  s.cacheReadTokens += event.cacheReadTokens;
  s.costPico += event.costPico;
  s.usageEstimated ||= event.usageEstimated;
  s.deps.observer?.meteredApart(event, candidate);
  s.deps.ledger?.settle(accountId, hold, event.costPico);
  if (event.costPico > 0n) s.deps.state.debit(accountId, event.costPico);
}

/** A handshake that did not open a session: an attempt like an HTTP one that failed, at no cost. */
export function recordHandshake(s: Session, plan: AttemptPlan, attemptNumber: number, status: number, durationMs: number, retryAction: RetryAction, last: boolean): void {
  const { candidate } = plan;
  const key = s.key!;
  s.deps.usage.record({
    id: newId('usageEvent'), accountId: key.accountId, requestId: s.requestId, accessKeyId: key.id,
    provider: candidate.provider.id, providerDisplayName: candidate.provider.displayName, model: candidate.modelId, modelDisplayName: candidate.displayName,
    attemptNumber, isFinalAttempt: last, statusCode: status, timedOut: false, isError: true, isStreaming: true, stopReason: '',
    inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, cacheWrite1hTokens: 0, reasoningTokens: 0,
    usageEstimated: false, inputTokensEstimate: 0, outputTokensEstimate: 0, ...NO_COST,
    keySource: plan.keySource, providerKeyId: plan.providerKey?.id ?? null, providerKeyDisplayName: plan.providerKey?.keyRedacted ?? null,
    retryAction, completion: 'failed', upstreamDurationMs: Math.round(durationMs), eventTime: nowIso(),
    virtualModel: candidate.virtualModel ?? null, firewall: null,
  });
}
