// Stage 6: the attempt loop. Each planned (model, key) is tried once, in order, until one answers. Rate
// limits, rejected credentials, 5xx, timeouts and connection errors move on to the next attempt; a 404 (a model
// the provider does not know) moves on to the next model; any other provider 4xx stops the chain and is passed
// through unchanged. Once bytes reached the client there is no
// failover. Every attempt becomes one usage event (meter.ts).
import type { IncomingHttpHeaders } from 'node:http';
import type { AttemptPlan } from '../domain/routing.ts';
import { prepareUpstreamBody } from '../domain/params.ts';
import type { RetryAction } from '../usage/event.ts';
import { cutByShutdown, type RequestContext } from './context.ts';
import { codecs } from './formats/index.ts';
import { rejectsGoogleKey } from './formats/gemini.ts';
import { invokeHeaderUsage, withLongWrites } from './formats/bedrock.ts';
import { answerIdOf, answerModelOf, obj, streamOpeningOf, parseJson, TEXT_ESTIMATE_CAP, type AnswerFacts, type FormatCodec } from './formats/types.ts';
import type { ApiSurface } from '../catalog/types.ts';
import { answerHeaders, relayJson, relayStream, sendBuffered } from './relay.ts';
import { AnswerTooLong, UpstreamExchange } from './exchange.ts';
import { editedBodyText } from './body-edit.ts';
import { begunAttempt, meterAttempts, type AttemptRecord, type FailureKind } from './meter.ts';
import { newId } from '../domain/ids.ts';
import { exhaustedError } from './failure.ts';
import type { KeyCooldowns } from './key-cooldown.ts';
import { OpeningReader, PREAMBLE_HOLD_MS } from './stream-opening.ts';
import { writeError } from './respond.ts';
import { translatorFor, type TranslationScope } from './translate/index.ts';
import { Errors, TollgateError, tollgateError } from '../domain/errors.ts';
import { countInputTokens } from '../domain/token-counter.ts';
import { streamsAnswer } from '../domain/request-shape.ts';
import type { TranslatedRequest } from './translate/types.ts';
import { hasRules } from '../domain/firewall.ts';
import { screenAnswer } from './firewall/decision.ts';
import { RoleKeyError } from './bedrock-role.ts';
import { openaiError } from './translate/openai-error.ts';

/** `next-model`: skip the rest of this model's keys (they would get the same answer) for the next model's. */
type Verdict = 'served' | 'next' | 'next-model' | 'stop';

const DELAY_SECONDS = /^\d+(\.\d+)?$/;
/**
 * RFC 9110's HTTP-date: IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), and the obsolete RFC 850
 * (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`) forms a recipient must read.
 */
const HTTP_DATE = /^(?:[a-z]{3}, \d{2} [a-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT|[a-z]{6,9}, \d{2}-[a-z]{3}-\d{2} \d{2}:\d{2}:\d{2} GMT|[a-z]{3} [a-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4})$/i;

/**
 * A `Retry-After` the gateway can read, or undefined. Not Date.parse alone: V8 reads `-1`, `-5` or `1,5` as days in
 * 2001, a wait already over, which outranked the other keys' real hints and was passed on to the client as it came.
 */
function readableRetryAfter(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  if (DELAY_SECONDS.test(trimmed)) return trimmed;
  return HTTP_DATE.test(trimmed) && !Number.isNaN(Date.parse(trimmed)) ? trimmed : undefined;
}

/** How long until a rate-limited attempt's key takes requests again, by its provider's hint; undefined without one. */
function hintMs(r: AttemptRecord, now: number): number | undefined {
  if (r.retryAfterMs) return Number(r.retryAfterMs);
  const value = r.retryAfter;
  if (value === undefined) return undefined;
  if (DELAY_SECONDS.test(value)) return Number(value) * 1000;
  return Math.max(0, Date.parse(value) - now);
}

/**
 * When to try again, for the gateway's own 429: the soonest hint among the attempts (the retry goes through the
 * whole chain, so the first key free again can serve it) — `Retry-After` as that provider sent it, and Azure's
 * `retry-after-ms` too (the OpenAI SDKs read it first); from that alone, `Retry-After` in whole seconds for the rest.
 */
function retryHeaders(records: readonly AttemptRecord[]): Record<string, string> | undefined {
  const now = Date.now();
  let soonest: AttemptRecord | undefined;
  let soonestMs = Infinity;
  for (const r of records) {
    const ms = hintMs(r, now);
    if (ms !== undefined && ms < soonestMs) { soonest = r; soonestMs = ms; }
  }
  if (!soonest) return undefined;
  const headers: Record<string, string> = {};
  if (soonest.retryAfterMs) headers['retry-after-ms'] = soonest.retryAfterMs;
  headers['Retry-After'] = soonest.retryAfter ?? String(Math.ceil(Number(soonest.retryAfterMs) / 1000));
  return headers;
}

/** OpenAI's durations in its rate-limit headers: `6m0s`, `1s`, `20ms`, `1h2m3.5s`. */
const OPENAI_DURATION = /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+(?:\.\d+)?)ms)?$/;

function durationMs(value: unknown): number | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const m = OPENAI_DURATION.exec(value.trim());
  if (!m) return undefined;
  const ms = Math.ceil(Number(m[1] ?? 0) * 3_600_000 + Number(m[2] ?? 0) * 60_000 + Number(m[3] ?? 0) * 1000 + Number(m[4] ?? 0));
  // A limit resets within the day at most: anything longer (or not a number) is a garbled header, capped at an hour.
  return Number.isFinite(ms) ? Math.min(ms, MAX_RESET_MS) : undefined;
}
const MAX_RESET_MS = 3_600_000;

/**
 * When an OpenAI 429 says when to retry only through its limits (`x-ratelimit-reset-requests`/`-tokens`, no
 * Retry-After, as it often answers): the reset of the limit that ran out, or the later of the two.
 */
function rateLimitResetMs(headers: IncomingHttpHeaders): number | undefined {
  const requests = durationMs(headers['x-ratelimit-reset-requests']);
  const tokens = durationMs(headers['x-ratelimit-reset-tokens']);
  if (headers['x-ratelimit-remaining-requests'] === '0' && requests !== undefined) return requests;
  if (headers['x-ratelimit-remaining-tokens'] === '0' && tokens !== undefined) return tokens;
  if (requests === undefined && tokens === undefined) return undefined;
  return Math.max(requests ?? 0, tokens ?? 0);
}

/** Google's `google.rpc.RetryInfo` in an error's `details`: a protobuf duration, decimal seconds (`53s`, `45.837906927s`). */
const RETRY_INFO_DELAY = /"retryDelay"\s*:\s*"(\d{1,9}(?:\.\d{1,9})?)s"/;

/** The wait a Google error body asks for (Gemini's API answers its 429s so, with no Retry-After), capped like a reset. */
function retryInfoDelayMs(text: string): number | undefined {
  const m = RETRY_INFO_DELAY.exec(text);
  return m ? Math.min(Math.ceil(Number(m[1]) * 1000), MAX_RESET_MS) : undefined;
}

/** OpenAI's (and the compatible servers') error for an account out of credit: `type` or `code` `insufficient_quota`. */
const QUOTA_EXHAUSTED = /"(?:type|code)"\s*:\s*"insufficient_quota"/;
/**
 * OpenAI's 429 for one request bigger than the key's whole tokens-per-minute limit ("Request too large for gpt-4o in
 * organization … The input or output tokens must be reduced"): the request's size, not a busy key.
 */
const REQUEST_TOO_LARGE = /"message"\s*:\s*"Request too large for /;
/** Anthropic's answer (a 400) for a key whose account has no credit left. */
const CREDIT_TOO_LOW = /credit balance is too low/i;

function failureOf(status: number): FailureKind | undefined {
  if (status === 429) return 'rate-limited';
  // 402: the key's account ran out of money (DeepSeek, OpenRouter) — an exhausted key, which gateway.md §8
  // lists with invalid and expired ones as a reason to try the next key.
  if (status === 401 || status === 402 || status === 403) return 'auth';
  // 508: a gateway behind this provider URL found a routing loop (27237); passed through like a 4xx, since
  // another key or model of the same loop would only loop again.
  if (status === 408 || (status >= 500 && status !== 508)) return 'server';
  // A redirect is never followed (a provider API does not redirect; a misconfigured base URL might, and the
  // client must not be sent on with its access key): the attempt failed, like a 5xx.
  if (status >= 300 && status < 400) return 'server';
  return undefined;
}

/**
 * Resolves on the loop's next turn, once the answer's last bytes were handed to the socket. A bare promise and
 * immediate: node:timers/promises' setImmediate builds an abortable promise (and its options) on every call.
 */
function afterFlush(): Promise<void> {
  return new Promise(resolveNextTurn);
}

function resolveNextTurn(resolve: () => void): void {
  setImmediate(resolve);
}

function onAttemptTimeout(exchange: UpstreamExchange): void {
  exchange.abort('attempt-timeout');
}

/** A function, not an inline check: the cause changes from a timer while the loop awaits. */
function totalTimedOut(ctx: RequestContext): boolean {
  return ctx.abortCause === 'total-timeout';
}

function onTotalTimeout(ctx: RequestContext): void {
  ctx.abortCause = 'total-timeout';
  ctx.current?.abort('total-timeout');
}

/**
 * Whether the total ran out, its timer fired yet or not: armed with nothing left (Firewall judgements used the time),
 * it fires a millisecond on, after a begin that took less — and the attempt went out past the client's 504.
 */
function outOfTime(ctx: RequestContext): boolean {
  if (!totalTimedOut(ctx) && performance.now() - ctx.startedAt >= ctx.timeLimitMs) onTotalTimeout(ctx);
  return totalTimedOut(ctx);
}

function armTotalTimer(ctx: RequestContext, limitMs: number): void {
  clearTimeout(ctx.totalTimer);
  ctx.timeLimitMs = limitMs;
  ctx.totalTimer = setTimeout(onTotalTimeout, Math.max(1, limitMs - (performance.now() - ctx.startedAt)), ctx);
}

/**
 * A stream that reached the client may run past the total timeout, as ngrok's do since 2026-10: to the stream limit
 * (15 minutes), counted from the request's start — unless the account set its own totalTimeout, which still applies.
 * Until its first event a stream waits like any request, so a client is never kept 15 minutes for nothing.
 */
function extendForStream(ctx: RequestContext): void {
  const limit = ctx.deps.options.streamTimeoutMs;
  if (!ctx.account!.settings.totalTimeoutSet && limit !== ctx.timeLimitMs) armTotalTimer(ctx, limit);
}

/** The attempt failed for its key alone (the provider refused it, its account has no funds, HTTP cannot carry it). */
function refusedKey(r: AttemptRecord): boolean {
  return r.failure === 'auth' || r.failure === 'unsendable' || r.quotaExhausted === true;
}

/** What follows a failed attempt: another key of the same model, a managed fallback, the next model, or nothing. */
function nextAction(attempts: readonly AttemptPlan[], i: number): RetryAction {
  const next = attempts[i + 1];
  if (!next) return 'exhausted';
  if (next.candidate !== attempts[i]!.candidate) return 'next_backend';
  return next.keySource === 'ngrok' && attempts[i]!.keySource === 'user' ? 'managed_fallback' : 'next_key';
}

/** The client left before this attempt's answer reached it: the chain ends here, its outcome unknown. */
function leftByClient(record: AttemptRecord): Verdict {
  record.retryAction = 'fail_fast';
  record.completion = 'unknown';
  return 'stop';
}

/** Index of the first attempt after `i` on another model; -1 when the rest are all the same model's. */
function nextModelAt(attempts: readonly AttemptPlan[], i: number): number {
  for (let j = i + 1; j < attempts.length; j++) if (attempts[j]!.candidate !== attempts[i]!.candidate) return j;
  return -1;
}

/** OpenAI chat/completions streams report usage only when asked; see docs/decisions/gateway-behaviour.md. */
function needsUsageInjection(ctx: RequestContext, plan: AttemptPlan, body: Record<string, unknown>): boolean {
  const s = ctx.route.surface;
  if ((s !== 'chat-completions' && s !== 'completions') || plan.candidate.surface.format !== 'openai') return false;
  if (body.stream !== true || plan.candidate.provider.custom) return false;
  return obj(body.stream_options)?.include_usage !== true;
}

/** The first SSE event of a stream, when it is an error (`event: error`, or an OpenAI `data: {"error": …}`). */
const ERROR_EVENT = /^(?:event: ?error[ \t]*$|data: ?\{\s*"error"\s*:)/m;
const BOM = 0xfeff;

/** A stream's first bytes (at most 16 KiB): where its first data event, naming the answer, is found. */
function openingText(received: readonly Buffer[]): string {
  const pieces: Buffer[] = [];
  let length = 0;
  for (const piece of received) {
    pieces.push(piece);
    length += piece.length;
    if (length >= 16_384) break;
  }
  return Buffer.concat(pieces, Math.min(length, 16_384)).toString('utf8');
}

function opensWithError(received: readonly Buffer[]): boolean {
  if (received.length === 0) return false;
  // Ordinary first events never say "error" in their first bytes: one native search decides for them.
  const at = received[0]!.indexOf('error');
  if (at < 0 || at > 256) return false;
  // An error event says so in its first line or two: only the first bytes are decoded (once per stream).
  let text = received[0]!.toString('utf8', 0, 256);
  if (text.charCodeAt(0) === BOM) text = text.slice(1);
  const end = text.search(/\r?\n\r?\n|\r\r/);
  return ERROR_EVENT.test(end < 0 ? text : text.slice(0, end));
}

/**
 * A stream whose first bytes are an SSE comment (`: …`) or a blank line, which carry no event: its first event is
 * still to come.
 */
function opensWithComment(received: readonly Buffer[]): boolean {
  const first = received[0];
  if (!first || first.length === 0) return false;
  // A leading byte-order mark (EF BB BF) is not part of the stream.
  const at = first.length >= 3 && first[0] === 0xef && first[1] === 0xbb && first[2] === 0xbf ? 3 : 0;
  const byte = first[at];
  return byte === 0x3a || byte === 0x0a || byte === 0x0d;
}

/**
 * The stream's opening once past its preamble events (stream-opening.ts): `content` to commit to it, or the failure
 * it reported. A stream that ends or breaks with only its preamble failed like one with no event at all.
 */
async function pastPreamble(ctx: RequestContext, exchange: UpstreamExchange, deadline: number): Promise<'content' | { failure: FailureKind; quotaExhausted: boolean }> {
  const reader = new OpeningReader();
  for (;;) {
    const opening = reader.read(exchange.received);
    if (opening !== 'preamble') return opening;
    if (exchange.settled) return { failure: exchange.failed ? 'connection' : 'empty', quotaExhausted: false };
    const left = deadline - performance.now();
    // Out of time, or nobody left to fail over for: committed as it is (a client that left is handled there).
    if (left <= 0 || ctx.clientGone) return 'content';
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exchange.dataBeyond(exchange.received.length), new Promise<void>((resolve) => { timer = setTimeout(resolve, left); })]);
    clearTimeout(timer);
    if (exchange.cause !== undefined) return 'content';
  }
}

/**
 * Holds a stream until its first event (pastPreamble); true when that event is a failure another attempt may serve,
 * recorded on the attempt. A stream aborted meanwhile (a timeout, the client gone) fails the attempt.
 */
async function openingFailed(ctx: RequestContext, exchange: UpstreamExchange, record: AttemptRecord, started: number, deadline: number): Promise<boolean> {
  const opening = await pastPreamble(ctx, exchange, deadline);
  if (exchange.cause !== undefined) throw new Error(`stream aborted before its first event: ${exchange.cause}`);
  if (opening === 'content') return false;
  record.failure = opening.failure;
  if (opening.quotaExhausted) record.quotaExhausted = true;
  record.durationMs = performance.now() - started;
  return true;
}

/** Media types are case-insensitive (`Text/Event-Stream` is one too). Bedrock streams AWS event-stream frames. */
const EVENT_STREAM = /^(?:text\/event-stream|application\/vnd\.amazon\.eventstream)/i;

/**
 * How much of an untranslated embeddings answer is held before it is relayed as it arrives (relayJson): 2,048
 * vectors of 3,072 floats are near 140 MB of JSON, which held whole (and then decoded to a string to read its usage)
 * cost the gateway twice that per request. Smaller answers are held, so one that breaks off still fails over.
 */
export const HELD_ANSWER_BYTES = 1024 * 1024;

/**
 * Facts of a JSON answer the quick text read could not settle. One without usage keeps its generated output, so
 * its output tokens can be estimated (capped as a stream's text is; `textChars` scales the estimate).
 */
function jsonFacts(codec: FormatCodec, body: unknown, surface: ApiSurface): AnswerFacts {
  const facts = codec.factsFromJson(body, surface);
  if (facts.usage) return facts;
  const text = codec.answerText(body, surface);
  return { ...facts, text: text.length > TEXT_ESTIMATE_CAP ? text.slice(0, TEXT_ESTIMATE_CAP) : text, textChars: text.length };
}

/** A call to Bedrock's OpenAI-compatible chat completions (providers.ts), not to Bedrock Runtime's own operations. */
function isBedrockChat(candidate: AttemptPlan['candidate']): boolean {
  return candidate.provider.id === 'bedrock' && !candidate.provider.custom && candidate.surface.format === 'openai';
}

function isEventStream(headers: IncomingHttpHeaders): boolean {
  const type = headers['content-type'];
  return typeof type === 'string' && EVENT_STREAM.test(type);
}

/**
 * What an attempt taught about its key: rate limited, it cools for the wait its provider gave (key-cooldown.ts); an
 * answer from it, it is ready again.
 */
function noteKey(cooldowns: KeyCooldowns, record: AttemptRecord): void {
  if (record.failure === 'rate-limited') {
    // Too large for the key's limit: smaller requests still pass on it now, so it is not held back from them.
    if (!record.requestTooLarge) cooldowns.cool(record.plan, hintMs(record, Date.now()));
  } else if (record.served && record.failure === undefined) cooldowns.served(record.plan);
}

export async function runAttempts(ctx: RequestContext, planned: readonly AttemptPlan[]): Promise<void> {
  const settings = ctx.account!.settings;
  const cooldowns = ctx.deps.keyCooldowns;
  const order = cooldowns?.order(planned);
  const attempts = order ? order.attempts : planned;
  if (order && order.deferred.length > 0) ctx.deferredAttempts = order.deferred;
  const isStreaming = streamsAnswer(ctx.body, ctx.route.surface);
  const records: AttemptRecord[] = [];
  armTotalTimer(ctx, settings.totalTimeoutMs);
  let verdict: Verdict = 'next';
  try {
    for (let i = 0; i < attempts.length && verdict === 'next'; i++) {
      // Cut by the stop, or left by its client, before its first attempt (mostly while its request rules were judged,
      // when pipeline.ts holds nothing for it): that attempt is still begun and recorded, never sent (below), so the
      // request admitted (the one the stop answered 503) is in usage, not only its judgements.
      if (totalTimedOut(ctx) || ((ctx.clientGone || cutByShutdown(ctx)) && records.length > 0)) break;
      // `facts` from the start: set on every answered attempt, added later it grew the record's property store.
      const record: AttemptRecord = { plan: attempts[i]!, eventId: newId('usageEvent'), statusCode: 0, timedOut: false, retryAction: 'succeeded', completion: 'failed', durationMs: 0, startedAt: 0, served: false, facts: undefined };
      records.push(record);
      const nextModel = nextModelAt(attempts, i);
      // Durably noted before the upstream can see it: a crash from here on still yields its usage event.
      await ctx.deps.usage.begin(begunAttempt(ctx, record, records.length, isStreaming, nextAction(attempts, i)));
      if (ctx.clientGone) {
        // Left while the attempt was being noted: it is never sent (its begun row still gets its event).
        record.failure = 'cancelled';
        verdict = leftByClient(record);
        break;
      }
      if (outOfTime(ctx)) {
        // The total ran out while it was being noted: no upstream call was open for the timer to abort, so sent now
        // it would run on past the client's 504, bounded only by its own timeout. Never sent; its begun row gets its event.
        record.failure = 'timeout';
        record.timedOut = true;
        record.completion = 'timed_out';
        record.retryAction = 'exhausted';
        break;
      }
      if (cutByShutdown(ctx)) {
        // The grace period ran out while it was being noted, and the client has its 503 ("retry"): sent now, the
        // provider would bill an answer nobody receives and the client repeats. Never sent; its begun row gets its event.
        record.failure = 'cancelled';
        record.retryAction = 'fail_fast';
        verdict = 'stop';
        break;
      }
      verdict = await attemptOnce(ctx, record, records.length, isStreaming, nextModel >= 0, i < attempts.length - 1);
      if (cooldowns) noteKey(cooldowns, record);
      // Left while this attempt was answered (read on for METER_GRACE_MS): the chain stops here.
      if (ctx.clientGone && verdict !== 'served') verdict = leftByClient(record);
      else if (verdict === 'next-model') {
        record.retryAction = totalTimedOut(ctx) ? 'exhausted' : 'next_backend';
        verdict = 'next';
        i = nextModel - 1;
      } else if (verdict === 'next') record.retryAction = totalTimedOut(ctx) ? 'exhausted' : nextAction(attempts, i);
      else if (verdict === 'stop') record.retryAction = 'fail_fast';
    }
  } catch (error) {
    // A gateway bug inside the loop: the attempts made so far are still metered (their begun rows released).
    ctx.endedAt = performance.now();
    const metered = meterAttempts(ctx, records, isStreaming);
    if (metered) await metered;
    throw error;
  } finally {
    clearTimeout(ctx.totalTimer);
  }
  if (verdict === 'next' && !ctx.clientGone) {
    const last = records[records.length - 1];
    if (last) last.retryAction = 'exhausted';
    const error = exhaustedError(records, totalTimedOut(ctx), settings);
    // Out of quota everywhere: writeError says no retry will help (x-should-retry), where a plain 429 is retried.
    // Every key refused for itself (rejected, out of funds, unsendable): the SDKs' two retries of the 503 would only run
    // the chain again against the same keys, which an operator has to fix.
    const headers = error.spec !== Errors.upstreamQuotaExhausted && error.status === 429 ? retryHeaders(records)
      : error.spec === Errors.allProvidersFailed && records.every(refusedKey) ? { 'x-should-retry': 'false' } : undefined;
    writeError(ctx, error, headers);
  }
  ctx.endedAt = performance.now();
  // After the answer is flushed: estimating tokens must not delay the client's last bytes. The
  // request's promise settles only once its events are recorded, so a stopping gateway can wait for them.
  await afterFlush();
  const metered = meterAttempts(ctx, records, isStreaming);
  if (metered) await metered;
}

/**
 * A translated stream's opening event carries the input count before the provider's (Claude's message_start does;
 * chat reports it only at the end): counted on the tokenizer thread while the provider starts, read when the first
 * chunk comes (not yet counted → 0). The meter reuses it for an estimated event.
 */
function streamInputEstimate(ctx: RequestContext): () => number | undefined {
  if (ctx.inputEstimate === undefined && ctx.rawBody) {
    countInputTokens(ctx.rawBody, ctx.route.surface).then((tokens) => { ctx.inputEstimate ??= tokens; }, () => {});
  }
  return () => ctx.inputEstimate;
}

/**
 * What a translated request lost, by the client's field names: the translation's own removals, then the model's. A
 * field the model refused that the client never sent, under its name or another, was the translation's or the
 * gateway's own addition (a usage-chunk request), and is not named.
 */
function clientRemoved(translated: TranslatedRequest, removedUpstream: readonly string[], client: Record<string, unknown>): readonly string[] {
  if (translated.removed.length === 0 && !translated.clientFields) return removedUpstream;
  const names = new Set(translated.removed);
  const own = translated.clientFields ?? {};
  for (const field of removedUpstream) {
    const named = Object.hasOwn(own, field) ? own[field]! : field;
    if (sentField(client, named)) names.add(named);
  }
  return [...names];
}

/** Whether the client sent the field: a top-level one, or one inside another (Gemini's `generationConfig.seed`). */
function sentField(client: Record<string, unknown>, name: string): boolean {
  let at: unknown = client;
  for (const key of name.split('.')) {
    const holder = obj(at);
    if (!holder || !Object.hasOwn(holder, key)) return false;
    at = holder[key];
  }
  return true;
}

/**
 * What a translation reads of its request. Made here, not in attemptOnce: the closure `warn` would otherwise have every
 * attempt, translated or not, allocate a context for `ctx`.
 */
function translationScope(ctx: RequestContext, plan: AttemptPlan, translated: TranslatedRequest, isStreaming: boolean): TranslationScope {
  return {
    accountId: ctx.key!.accountId, keep: ctx.body!.store !== false, includeUsage: obj(ctx.body!.stream_options)?.include_usage === true, toolNames: translated.toolNames, request: ctx.body!,
    inputTokens: isStreaming && ctx.route.surface === 'messages' ? streamInputEstimate(ctx) : undefined, startedAt: performance.now(), model: plan.candidate.upstreamModelId ?? plan.candidate.modelId,
    warn: (details: Record<string, unknown>, message: string) => ctx.deps.logger.warn({ requestId: ctx.requestId, ...details }, message),
  };
}

async function attemptOnce(ctx: RequestContext, record: AttemptRecord, attemptNumber: number, isStreaming: boolean, modelFollows: boolean, attemptFollows: boolean): Promise<Verdict> {
  const { plan } = record;
  const settings = ctx.account!.settings;
  // A model that does not serve the client's surface: the request goes up in the model's format (translate/).
  const translator = translatorFor(ctx.route, plan.candidate.surface);
  // A client that asked Responses not to store (`store: false`) will not refer back: nothing is kept for it.
  const translated = translator?.request(ctx.body!, plan, ctx.req.headers);
  const scope = translated ? translationScope(ctx, plan, translated, isStreaming) : undefined;
  const prepared = prepareUpstreamBody(translated?.body ?? ctx.body!, plan, settings, translated?.limitSurface);
  const removed = translated ? clientRemoved(translated, prepared.removed, ctx.body!) : prepared.removed;
  let body = prepared.body;
  let changed = prepared.changed;
  const dropUsageChunk = needsUsageInjection(ctx, plan, body);
  if (dropUsageChunk) {
    body = { ...body, stream_options: { ...obj(body.stream_options), include_usage: true } };
    changed = true;
  }
  // Same bytes as the client sent whenever nothing had to change: no re-serialisation on the hot path.
  const bytes = translated ? Buffer.from(JSON.stringify(body)) : changed ? Buffer.from(editedBodyText(ctx.rawBody!.toString('utf8'), ctx.body!, body)) : ctx.rawBody!;
  const exchange = new UpstreamExchange({ account: ctx.key!.accountId });
  ctx.current = exchange;
  const started = performance.now();
  record.startedAt = started;
  ctx.attemptsMade++;
  const timer = setTimeout(onAttemptTimeout, settings.perRequestTimeoutMs, exchange);
  try {
    // Tracing on: the attempt's span starts here and its trace headers go upstream; off: one undefined check.
    const trace = ctx.deps.observer?.tracer?.startAttempt(ctx, plan, attemptNumber, started);
    const idleTimeoutMs = Math.max(settings.perRequestTimeoutMs, ctx.deps.options.streamIdleTimeoutMs);
    ctx.deps.upstreams.dispatch({ plan, body: bytes, clientHeaders: ctx.req.headers, idleTimeoutMs, trace }, exchange);
    const response = await exchange.head;
    const status = response.statusCode;
    record.statusCode = status;
    // The upstream model as the provider knows it, without the provider: ngrok's failover guide shows
    // `gemini-3.6-flash` for a request that listed `google:gemini-3.6-flash`, comparable with the body's `model`.
    const model = plan.candidate.upstreamModelId ?? plan.candidate.modelId;
    const managedKey = plan.keySource === 'ngrok';
    if (status >= 200 && status < 300) {
      if (isStreaming && isEventStream(response.headers)) {
        // The first event decides: a provider that opens its 200 stream with an error event (Anthropic's
        // overloaded_error) failed like a 5xx, and nothing has reached the client yet — the next attempt may serve.
        await exchange.firstData();
        // Timed out (or the client left) before any event: classified like any failure before the head.
        if (exchange.cause !== undefined) throw new Error(`stream aborted before its first event: ${exchange.cause}`);
        // Broken off (or ended) with no byte of a body: nothing reached the client, so the next attempt may serve.
        if (exchange.received.length === 0) {
          record.failure = exchange.failed ? 'connection' : 'empty';
          record.durationMs = performance.now() - started;
          return 'next';
        }
        // Read by its kind, as a failure after a preamble is: a rate limit stays one (all limited → the SDKs'
        // RateLimitError, with the providers' hints), and the request's own fault (a prompt over the context window)
        // is relayed as the provider sent it — another key or model would refuse it too, and a 503 in its place
        // would have the SDKs retry it twice for nothing. The per-attempt timer still bounds the wait for its end.
        // Bedrock's frames are binary: no SSE error event or comment opens them (its failures come as an HTTP error).
        const sse = plan.candidate.surface.format !== 'bedrock';
        if (sse && opensWithError(exchange.received) && await openingFailed(ctx, exchange, record, started, ctx.startedAt + ctx.timeLimitMs - 1)) return 'next';
        // Responses, Messages and Gemini Interactions streams report a failure after their opening events
        // (`interaction.created`), and any stream may open with
        // SSE comments (OpenRouter's `: OPENROUTER PROCESSING` while its upstream starts), which are no event: held
        // until past them, when another attempt could serve (with none left, holding would only delay the client's
        // first byte).
        const upstreamSurface = plan.candidate.surface.surface;
        if (sse && attemptFollows && (upstreamSurface === 'responses' || upstreamSurface === 'messages' || upstreamSurface === 'interactions' || opensWithComment(exchange.received))) {
          // The attempt's timeout is for the first bytes, which came; the hold has its own bound, within the total.
          clearTimeout(timer);
          if (await openingFailed(ctx, exchange, record, started, Math.min(performance.now() + PREAMBLE_HOLD_MS, ctx.startedAt + ctx.timeLimitMs - 1))) return 'next';
        }
        // Committed: from here on the answer is this attempt's, whatever happens to the stream.
        clearTimeout(timer);
        extendForStream(ctx);
        record.served = true;
        ctx.relaying = true;
        const headers = answerHeaders(ctx, response.headers, attemptNumber, model, removed, managedKey, translator && 'stream');
        // Tracing on: the provider's id of the answer and the model it names, from the stream's opening bytes (once per stream).
        const said = ctx.trace && streamOpeningOf(openingText(exchange.received));
        const outcome = await relayStream(ctx, exchange, status, headers, dropUsageChunk, translator && { translator, scope: scope! }, plan.candidate.surface);
        record.facts = outcome.facts;
        if (said && said.id !== undefined) record.facts.responseId = said.id;
        if (said && said.model !== undefined) record.facts.responseModel = said.model;
        record.completion = outcome.completion;
        record.timedOut = outcome.timedOut;
        record.durationMs = performance.now() - started;
        return 'served';
      }
      // Embeddings answers are passed through as they came: a large one is relayed as it arrives, not held whole.
      const embedding = plan.candidate.surface.surface === 'embeddings' || plan.candidate.surface.surface === 'embed-content';
      const answer = !translator && embedding ? await exchange.collectWithin(HELD_ANSWER_BYTES) : await exchange.collect();
      clearTimeout(timer);
      if (answer === undefined) {
        // Committed: the client gets this answer's bytes from here on.
        extendForStream(ctx);
        record.served = true;
        ctx.relaying = true;
        const { format, surface } = plan.candidate.surface;
        const outcome = await relayJson(ctx, exchange, status, answerHeaders(ctx, response.headers, attemptNumber, model, removed, managedKey), codecs[format], surface);
        record.facts = outcome.facts;
        record.completion = outcome.completion;
        record.timedOut = outcome.timedOut;
        record.durationMs = performance.now() - started;
        return 'served';
      }
      record.durationMs = performance.now() - started;
      const text = answer.toString('utf8');
      // A translation writes the client's answer from the provider's JSON: a 2xx body that is none (a proxy's page,
      // nothing at all) has no answer in it, and the client must not get an empty "success" — the next attempt may serve.
      const upstreamAnswer = translator ? obj(parseJson(text)) : undefined;
      if (translator && !upstreamAnswer) {
        record.failure = 'unreadable';
        return 'next';
      }
      record.served = true;
      // The client left while the answer was on its way: it is read for its usage, and nobody received it.
      record.completion = ctx.clientGone ? 'unknown' : 'succeeded';
      // Usage is the upstream's, read in its own format (the client's, unless translated).
      const { format, surface } = plan.candidate.surface;
      const codec = codecs[format];
      record.facts = codec.factsFromText(text, surface) ?? jsonFacts(codec, upstreamAnswer ?? parseJson(text), surface);
      // InvokeModel: what Bedrock counted, in its headers, whatever the model's own body says.
      if (surface === 'invoke') {
        const counted = invokeHeaderUsage(response.headers);
        if (counted) record.facts = { usage: withLongWrites(counted, record.facts.usage?.cacheWrite1hTokens), stopReason: record.facts.stopReason };
      }
      if (ctx.trace) {
        const responseId = answerIdOf(text);
        if (responseId) record.facts.responseId = responseId;
        const responseModel = answerModelOf(text);
        if (responseModel) record.facts.responseModel = responseModel;
      }
      let sent: Buffer;
      try {
        sent = translator ? Buffer.from(JSON.stringify(translator.answer(upstreamAnswer, scope!))) : answer;
      } catch (error) {
        // An answer the client's format cannot carry (a tool call's arguments that are no JSON object): served and
        // billed all the same — the provider did the work, and another attempt would be billed for the same cut. A
        // translation that threw otherwise (a bug) is the gateway's failure, said as one: taken for a broken
        // connection, it had the next attempt bill the same answer again and the client read a 502 blaming the provider.
        if (!(error instanceof TollgateError)) ctx.deps.logger.error({ requestId: ctx.requestId, err: error }, 'translating an answer failed');
        if (!ctx.clientGone) writeError(ctx, error instanceof TollgateError ? error : tollgateError('internal'), answerHeaders(ctx, response.headers, attemptNumber, model, removed, managedKey, 'json'));
        return 'served';
      }
      // Firewall's response rules on the answer's tool calls, in the client's format (only for a key with a policy).
      if (ctx.firewall && hasRules(ctx.firewall, 'response')) {
        // Decision rules wait on the decision model; other rules answer at once.
        const screened = screenAnswer(ctx, ctx.route.surface, sent, ctx.firewall, ctx.firewallFindings ??= []);
        sent = screened instanceof Promise ? await screened : screened;
        // The record tells what the client got, as a stream held behind a judgement is (relay.ts): the provider's
        // tokens and cost stand either way (it produced and billed the answer). The shutdown grace period ran out
        // meanwhile: the client has its 503 ("retry"), never this answer — failed, as an attempt the stop cut before
        // anything of it was written (no fee), and nothing is written over the 503. It left meanwhile: `unknown`,
        // as an answer that arrived after its client left.
        if (cutByShutdown(ctx)) {
          record.completion = 'failed';
          return 'served';
        }
        if (ctx.clientGone) record.completion = 'unknown';
      }
      if (!ctx.clientGone) sendBuffered(ctx.res, status, answerHeaders(ctx, response.headers, attemptNumber, model, removed, managedKey, translator && 'json'), sent);
      return 'served';
    }
    const failure = failureOf(status);
    if (failure) {
      // A hint the gateway cannot read is no hint: the reset headers or Google's body may still say when.
      const retryAfter = readableRetryAfter(response.headers['retry-after']);
      if (retryAfter !== undefined) record.retryAfter = retryAfter;
      const retryAfterMsHeader = response.headers['retry-after-ms'];
      const retryAfterMs = typeof retryAfterMsHeader === 'string' && DELAY_SECONDS.test(retryAfterMsHeader.trim()) ? retryAfterMsHeader.trim() : undefined;
      if (retryAfterMs !== undefined) record.retryAfterMs = retryAfterMs;
      else if (status === 429 && retryAfter === undefined) {
        const resetMs = rateLimitResetMs(response.headers);
        if (resetMs !== undefined) record.retryAfterMs = String(resetMs);
      }
      record.failure = failure;
      if (failure === 'rate-limited') {
        // OpenAI answers a key whose account is out of credit with a 429 too, told apart only by its body: read it,
        // so a client whose every key is out of quota is told so (and its SDK stops retrying), not "rate limited".
        const body = await exchange.collect().catch(() => undefined);
        const head = body?.toString('utf8', 0, 4096);
        if (head !== undefined && QUOTA_EXHAUSTED.test(head)) record.quotaExhausted = true;
        if (head !== undefined && REQUEST_TOO_LARGE.test(head)) record.requestTooLarge = true;
        // Gemini sends no Retry-After: its wait is in the body only. Without it the SDKs retried the gateway's 429
        // after half a second, running the whole chain again against keys that had said how long they needed.
        if (body && retryAfter === undefined && retryAfterMs === undefined) {
          const delayMs = retryInfoDelayMs(body.toString('utf8', 0, 16_384));
          if (delayMs !== undefined) record.retryAfterMs = String(delayMs);
        }
      } else {
        await exchange.discard();
      }
      record.durationMs = performance.now() - started;
      return 'next';
    }
    // The provider does not know the model (or the account cannot use it): gateway.md §8 moves a model error on to
    // the next model the client listed. The last one's 404 is passed through like any refusal.
    if (status === 404 && modelFollows) {
      record.failure = 'rejected';
      await exchange.discard();
      record.durationMs = performance.now() - started;
      return 'next-model';
    }
    // The provider refused the request itself (400, 404, 422…): no other key or model would do better.
    const errorBody = await exchange.collect();
    record.durationMs = performance.now() - started;
    // Except Google's 400 for a key that is not valid (API_KEY_INVALID: mistyped, deleted, revoked), its answer on
    // the native API and the OpenAI-compatible one: the key failed, as a 401 says elsewhere — the next key is tried,
    // and with none left the client learns a credential was rejected (a managed key's tenant is not told "API key not
    // valid", as if the key were theirs to fix).
    if (status === 400 && rejectsGoogleKey(errorBody)) {
      record.failure = 'auth';
      return 'next';
    }
    // And Anthropic's 400 for a key whose account is out of credit: another key may have some. The last one's
    // answer is passed through as Anthropic gave it.
    if (status === 400 && attemptFollows && plan.candidate.surface.format === 'anthropic' && CREDIT_TOO_LOW.test(errorBody.toString('utf8', 0, 4096))) {
      record.failure = 'auth';
      record.quotaExhausted = true;
      return 'next';
    }
    record.failure = 'rejected';
    record.served = true;
    // In the client's error format when translated: its SDK raises the class it knows for the status. Bedrock's
    // OpenAI-compatible endpoint refuses in a shape of its own (`{"code": "validation_error", "message": …}`, or
    // AWS's `{"message": …}`): written as OpenAI's, as a translated refusal is.
    const reshaped = !translator && isBedrockChat(plan.candidate) ? openaiError(status, errorBody.toString('utf8')) : undefined;
    const sent = translator ? Buffer.from(translator.error(status, errorBody.toString('utf8'))) : reshaped !== undefined ? Buffer.from(reshaped) : errorBody;
    const labelled = translator || reshaped !== undefined ? 'json' : undefined;
    if (!ctx.clientGone) sendBuffered(ctx.res, status, { ...answerHeaders(ctx, response.headers, attemptNumber, model, removed, managedKey, labelled), ...translator?.errorHeaders?.(status) }, sent);
    return 'stop';
  } catch (error) {
    record.durationMs = performance.now() - started;
    const reason = exchange.cause;
    const name = error instanceof Error ? error.name : '';
    const timedOut = reason === 'attempt-timeout' || reason === 'total-timeout' || name === 'HeadersTimeoutError' || name === 'BodyTimeoutError';
    // Cut for the client (a second after it left) or by a timeout once the provider had the whole request, before an
    // answer that would carry its count: the provider read the prompt and bills it (a JSON answer's generation goes
    // on after the socket closes), so its input is billed as estimated (meter.ts) — else a tenant with a short
    // perRequestTimeout, or one hanging up, had large prompts run on the operator's key for nothing. A call cut while
    // still connecting never reached the provider; a refusal's head (4xx, 5xx) is not billed by it.
    if ((timedOut || reason === 'client-gone') && exchange.sent && (record.statusCode === 0 || (record.statusCode >= 200 && record.statusCode < 300))) record.abandonedInFlight = true;
    if (ctx.clientGone) {
      record.failure = 'cancelled';
      record.completion = 'unknown';
      return 'stop';
    }
    if (timedOut) {
      record.failure = 'timeout';
      record.timedOut = true;
      record.completion = 'timed_out';
    } else if (error instanceof AnswerTooLong) {
      record.failure = 'too-long';
      record.heldLimit = error.limit;
      if (error.shared) record.heldShared = error.shared;
    } else if (error instanceof RoleKeyError) {
      // The key could not be used (a role key without its role, AWS refusing it): failed as a rejected key is.
      record.failure = 'auth';
      record.keyError = error;
    } else if ((error as { code?: unknown } | null | undefined)?.code === 'UND_ERR_INVALID_ARG') {
      // undici refused to write the request (a stored key with a line break): the provider was never reached.
      record.failure = 'unsendable';
    } else {
      record.failure = 'connection';
    }
    return 'next';
  } finally {
    clearTimeout(timer);
    ctx.current = undefined;
    // Only when something threw between the head and the body's end: no body left buffering unread.
    if (!exchange.settled) exchange.abort('abandoned');
  }
}
