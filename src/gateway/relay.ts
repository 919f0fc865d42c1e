// Stage 7: writing the winning upstream answer to the client. JSON answers are sent byte-for-byte with
// the gateway's headers; SSE answers are piped chunk by chunk with backpressure through the stream meter.
// If the stream breaks after bytes went out, the client gets an error event in its format and the stream
// ends — never a clean `[DONE]` / `message_stop`.
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { tollgateError, type TollgateError } from '../domain/errors.ts';
import type { Completion } from '../usage/event.ts';
import { cutByShutdown, type RequestContext } from './context.ts';
import { codecs } from './formats/index.ts';
import { parseJson, type AnswerFacts, type FormatCodec, type StreamFacts } from './formats/types.ts';
import { JsonMembers } from './json-members.ts';
import type { ApiSurface } from '../catalog/types.ts';
import { baseHeaders, copyUpstreamHeaders, headerText, H_ATTEMPTS, H_MODEL, H_REJECTED, H_REMOVED, type OutHeaders } from './headers.ts';
import { StreamMeter } from './stream-meter.ts';
import { EventStreamMeter, MAX_EVENT_STREAM_FRAME_BYTES } from './event-stream-meter.ts';
import { MAX_HELD_BYTES, MAX_HELD_STREAM_BYTES, type BodySink, type UpstreamExchange } from './exchange.ts';
import { formatMs } from './failure.ts';
import { endStreamWithError } from './respond.ts';
import type { AnyTranslator, StreamTranslation, TranslationScope, Translator } from './translate/index.ts';
import type { SurfaceSpec } from '../catalog/types.ts';
import { screeningGuard, type GuardOutput, type ScreeningGuard } from './firewall/decision.ts';
import { withFirewallHeader } from './firewall/index.ts';

/** `translated`: the body is the gateway's rewrite in the client's format, buffered (`'json'`) or streamed. */
export function answerHeaders(ctx: RequestContext, upstream: IncomingHttpHeaders, attempts: number, model: string, removed: readonly string[], managedKey: boolean, translated?: 'json' | 'stream'): OutHeaders {
  const headers = baseHeaders(ctx.requestId);
  copyUpstreamHeaders(upstream, headers, managedKey);
  headers[H_ATTEMPTS] = String(attempts);
  headers[H_MODEL] = headerText(model);
  if (removed.length > 0) headers[H_REMOVED] = headerText(removed.join(', '));
  if (ctx.rejectedModels) headers[H_REJECTED] = ctx.rejectedModels;
  withFirewallHeader(ctx, headers);
  if (translated) asClientsOwn(headers, translated, ctx.route.format === 'bedrock');
  // The AWS SDK's `$metadata.requestId`, as the gateway's own Bedrock errors give it (the provider's id is another API's).
  if (translated && ctx.route.format === 'bedrock') headers['x-amzn-requestid'] = ctx.requestId;
  withRequestId(headers, ctx);
  return headers;
}

const SSE_TYPE = /^text\/event-stream/i;
const EVENT_STREAM_TYPE = 'application/vnd.amazon.eventstream';

/**
 * A translated answer labelled as what it is: JSON the gateway wrote (whatever type the provider's error page had),
 * never under the provider's `content-encoding` (one the exchange could not decode stays on the header for a body
 * passed through, but these bytes are the gateway's own).
 */
function asClientsOwn(headers: OutHeaders, translated: 'json' | 'stream', bedrockClient: boolean): void {
  if (translated === 'json') headers['content-type'] = 'application/json';
  // ConverseStream's client reads AWS event-stream frames, whatever the provider streamed.
  else if (bedrockClient) headers['content-type'] = EVENT_STREAM_TYPE;
  // Bedrock's binary event stream, written out as the client's server-sent events.
  else if (!SSE_TYPE.test(String(headers['content-type'] ?? ''))) headers['content-type'] = 'text/event-stream; charset=utf-8';
  delete headers['content-encoding'];
}

/**
 * A request id in the header the client's SDK reads (`request-id` for Anthropic's, `x-request-id` for OpenAI's,
 * shown on its errors): the provider's own, else its id under the other name (a translated answer), else the
 * gateway's — a provider that sends none (Ollama, vLLM) would leave the SDK's request id empty.
 */
function withRequestId(headers: OutHeaders, ctx: RequestContext): void {
  const [own, other] = ctx.route.format === 'anthropic' ? ['request-id', 'x-request-id'] : ['x-request-id', 'request-id'];
  if (headers[own] === undefined) headers[own] = headers[other] ?? ctx.requestId;
}

/** A buffered upstream answer (JSON success or a provider error passed through), exactly as received. */
export function sendBuffered(res: ServerResponse, status: number, headers: OutHeaders, body: Buffer): void {
  headers['content-length'] = body.length;
  res.writeHead(status, headers);
  res.end(body);
}

/** A stream answered in another format than the client's, and for whom. */
export interface Translating { translator: AnyTranslator; scope: TranslationScope }

export interface StreamOutcome { facts: StreamFacts; completion: Completion; timedOut: boolean }

/** Pipes an SSE answer (or a Bedrock event stream); resolves when the client has it all, the upstream broke, or the client left. */
export function relayStream(ctx: RequestContext, upstream: UpstreamExchange, status: number, headers: OutHeaders, dropUsageChunk: boolean, translating: Translating | undefined, served: SurfaceSpec): Promise<StreamOutcome> {
  const observer = ctx.deps.observer;
  if (!observer) return pipeStream(ctx, upstream, status, headers, dropUsageChunk, translating, served);
  // The open-streams gauge: counted here, read at scrape time.
  observer.openStreams++;
  const piping = pipeStream(ctx, upstream, status, headers, dropUsageChunk, translating, served);
  void piping.then(observer.streamClosed, observer.streamClosed);
  return piping;
}

/**
 * The stream reached its end: the format's final event, or at least a stop reason (a provider that finishes its
 * choices but omits `[DONE]` is lenient, not broken). A provider error event counts too (its client saw it).
 */
function finished(facts: StreamFacts): boolean {
  return facts.terminal || facts.stopReason !== '' || facts.errored;
}

/**
 * Ends a relayed stream whose provider has sent nothing for `limitMs`, and paces it to its client: a chunk only notes
 * the time; the one timer is re-armed when it fires, for what is left of the limit. While the client holds the stream
 * back (backpressure) the provider is not the one that is quiet, so the limit waits, as undici's body timeout does for
 * a paused body; the client's 'drain' reads the provider again. `stop` ends both.
 */
class QuietLimit {
  readonly #upstream: UpstreamExchange;
  readonly #res: ServerResponse;
  readonly #limitMs: number;
  /** Bound once per answer: the 'drain' listener, removed by stop(). */
  readonly #onDrain: () => void;
  #heardAt = performance.now();
  #timer: ReturnType<typeof setTimeout>;
  /** The client is not reading: the upstream is paused by the gateway. */
  held = false;

  constructor(upstream: UpstreamExchange, res: ServerResponse, limitMs: number) {
    this.#upstream = upstream;
    this.#res = res;
    this.#limitMs = limitMs;
    this.#timer = setTimeout(QuietLimit.#check, limitMs, this);
    this.#onDrain = this.resume.bind(this);
    res.on('drain', this.#onDrain);
  }

  heard(): void {
    this.#heardAt = performance.now();
  }

  /** The client took what it was sent (or the gateway stopped holding the provider back): the provider is read again. */
  resume(): void {
    this.held = false;
    this.heard();
    this.#upstream.resume();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#res.off('drain', this.#onDrain);
  }

  /** Static, with the limit as the timer's argument: no closure per stream. */
  static #check(limit: QuietLimit): void {
    if (limit.held) limit.heard();
    const quiet = performance.now() - limit.#heardAt;
    if (quiet >= limit.#limitMs) limit.#upstream.abort('stream-idle');
    else limit.#timer = setTimeout(QuietLimit.#check, limit.#limitMs - quiet, limit);
  }
}

/**
 * How long a provider may hold its connection after the stream's final event went to the client. Ending the
 * response lets the connection be reused, so it is waited for — briefly: nothing after the final event is the
 * client's, and a provider (or a proxy in front of it) that holds on would otherwise keep a socket and a request
 * slot until the stream idle limit, and keep a stopping gateway waiting.
 */
const FINAL_EVENT_LINGER_MS = 1000;

function letGo(upstream: UpstreamExchange): void {
  upstream.abort('answered');
}

function flushIfIdle(res: ServerResponse): void {
  if (!res.headersSent && !res.destroyed) res.flushHeaders();
}

/** A translation's output (SSE text, or a Bedrock client's frames) as a chunk to write; undefined when there is none. */
function bytesOf(out: string | Uint8Array): Buffer | undefined {
  if (out.length === 0) return undefined;
  return typeof out === 'string' ? Buffer.from(out) : Buffer.isBuffer(out) ? out : Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

/** Why an answer that reached the client broke off: the error it is ended with, and whether a time limit cut it. */
function brokenAnswer(ctx: RequestContext, upstream: UpstreamExchange, err: Error, eventLimit = MAX_HELD_BYTES): { error: TollgateError; timedOut: boolean } {
  if (upstream.cause === 'total-timeout') return { error: tollgateError('totalTimeout', { timeout: formatMs(ctx.timeLimitMs) }), timedOut: true };
  if (upstream.cause === 'oversized-event') return { error: tollgateError('upstreamStreamBroken', { reason: `the provider sent one event of more than ${eventLimit / (1024 * 1024)} MiB.` }), timedOut: false };
  if (upstream.cause === 'oversized-call') return { error: tollgateError('upstreamStreamBroken', { reason: `the provider sent a tool call of more than ${MAX_HELD_STREAM_BYTES / (1024 * 1024)} MiB, more than Firewall holds to screen it.` }), timedOut: false };
  if (upstream.cause === 'oversized-answer') return { error: tollgateError('upstreamStreamBroken', { reason: `the provider sent more of one answer than the gateway holds to translate it (${MAX_HELD_STREAM_BYTES / (1024 * 1024)} MiB).` }), timedOut: false };
  const idle = upstream.cause === 'stream-idle' || err.name === 'BodyTimeoutError';
  return { error: tollgateError('upstreamStreamBroken', { reason: idle ? `no data for ${formatMs(ctx.deps.options.streamIdleTimeoutMs)}.` : 'the provider connection was lost.' }), timedOut: idle };
}

function pipeStream(ctx: RequestContext, upstream: UpstreamExchange, status: number, headers: OutHeaders, dropUsageChunk: boolean, translating: Translating | undefined, served: SurfaceSpec): Promise<StreamOutcome> {
  const { res } = ctx;
  const translation = translating?.translator.stream(translating.scope);
  // Bedrock's streams are binary event-stream frames, relayed as they come and metered frame by frame.
  const meter = served.format === 'bedrock' ? new EventStreamMeter(served.surface, translation) : new StreamMeter(codecs[served.format], served.surface, dropUsageChunk, translation);
  // Firewall's response rules: the client's events screened after any translation (only for a key with a policy).
  const guard = ctx.firewall ? screeningGuard(ctx, ctx.firewall) : undefined;
  const nextSequence = ctx.route.surface === 'responses' ? responsesSequence(meter, translation, guard) : undefined;
  ctx.nextSequence = nextSequence;
  res.writeHead(status, headers);
  // Headers go out with the first event when it is already here (one write instead of two), or on their own one
  // loop turn later: either way clients see the 200 while the model is still thinking.
  setImmediate(flushIfIdle, res);
  return new StreamRelay(ctx, upstream, meter, translation, guard, nextSequence, served).outcome;
}

/** A Responses client's numbering (its events alone are numbered): the translation's own, or the provider's as relayed. */
function responsesSequence(meter: StreamMeter | EventStreamMeter, translation: StreamTranslation<string | Uint8Array> | undefined, guard: ScreeningGuard | undefined): () => number {
  return () => (translation?.nextSequence?.() ?? (meter.facts.sequence === undefined ? 0 : meter.facts.sequence + 1)) + (guard?.sequenceShift ?? 0);
}

/**
 * One stream on its way to the client, as the exchange's body sink: its state in fields and its steps in methods, so a
 * stream costs this object rather than a dozen closures and their contexts. `outcome` settles when the client has the
 * whole answer, the upstream broke, or the client left.
 */
class StreamRelay implements BodySink {
  readonly outcome: Promise<StreamOutcome>;
  readonly #ctx: RequestContext;
  readonly #upstream: UpstreamExchange;
  readonly #meter: StreamMeter | EventStreamMeter;
  readonly #translation: StreamTranslation<string | Uint8Array> | undefined;
  readonly #guard: ScreeningGuard | undefined;
  readonly #nextSequence: (() => number) | undefined;
  readonly #served: SurfaceSpec;
  readonly #quiet: QuietLimit;
  #resolve!: (outcome: StreamOutcome) => void;
  /** The provider's final event came: nothing it sends after it is written or metered. */
  #final = false;
  /**
   * The client's answer ended with the final event (then its leaving, or the provider's, is a success). Not so for a
   * final event held behind a judgement when the stop cut the answer or the client left meanwhile.
   */
  #delivered = false;
  /** Relaying threw (`#fail`): the stream was ended then, and nothing more of it is read. */
  #broken = false;
  #lingering: ReturnType<typeof setTimeout> | undefined;
  /**
   * Output the guard gives once the decision model has judged a call (firewall/decision.ts): from then on, until it is
   * all written, every write and the stream's end wait behind it, in order.
   */
  #lane: Promise<void> | undefined;
  #waiting = 0;

  constructor(ctx: RequestContext, upstream: UpstreamExchange, meter: StreamMeter | EventStreamMeter, translation: StreamTranslation<string | Uint8Array> | undefined, guard: ScreeningGuard | undefined, nextSequence: (() => number) | undefined, served: SurfaceSpec) {
    this.#ctx = ctx;
    this.#upstream = upstream;
    this.#meter = meter;
    this.#translation = translation;
    this.#guard = guard;
    this.#nextSequence = nextSequence;
    this.#served = served;
    this.#quiet = new QuietLimit(upstream, ctx.res, ctx.deps.options.streamIdleTimeoutMs);
    this.outcome = new Promise((resolve) => { this.#resolve = resolve; });
    // Last: bytes already received are handed over at once.
    upstream.pipe(this);
  }

  #complete(): StreamOutcome {
    return { facts: this.#meter.facts, completion: this.#meter.facts.errored ? 'stream_failed' : 'succeeded', timedOut: false };
  }

  /**
   * The provider's answer was whole, and the client did not get its end: it got the stop's error event (as for a
   * stream the stop cut mid-way), or it left (as for a stream read on after it left). The usage is the provider's.
   */
  #whole(): StreamOutcome {
    return this.#delivered ? this.#complete() : { facts: this.#meter.facts, completion: cutByShutdown(this.#ctx) ? 'stream_failed' : 'unknown', timedOut: false };
  }

  #inOrder<T>(value: T | Promise<T>, run: (settled: T) => void): void {
    if (this.#waiting === 0 && !(value instanceof Promise)) return run(value);
    this.#waiting++;
    this.#lane = Promise.all([this.#lane, value]).then(([, settled]) => run(settled as T)).catch((error: unknown) => {
      // A screening that failed (a bug): the answer cannot go on unscreened, and the provider's connection, paused
      // for it, is let go.
      this.#ctx.deps.logger.error({ err: error }, 'screening a stream for Firewall failed');
      this.#ctx.res.destroy();
      this.#upstream.abort('abandoned');
      this.#resolve({ facts: this.#meter.facts, completion: 'stream_failed', timedOut: false });
    }).finally(() => {
      if (--this.#waiting === 0) this.#lane = undefined;
    });
  }

  #writable(): boolean {
    const { res } = this.#ctx;
    return !this.#ctx.clientGone && !res.writableEnded && !res.destroyed;
  }

  /** Settles the outcome when the client has the whole answer, or has left; false when the stream is still to end. */
  #concluded(): boolean {
    // The provider held on after the final event (let go, or its connection then dropped).
    if (this.#final) this.#resolve(this.#whole());
    // Read to the end after the client left: the usage is the provider's, the client did not get it all.
    else if (this.#ctx.clientGone) this.#resolve({ facts: this.#meter.facts, completion: 'unknown', timedOut: false });
    return this.#final || this.#ctx.clientGone;
  }

  data(chunk: Buffer): boolean {
    if (this.#broken) return true;
    try {
      return this.#relay(chunk);
    } catch (error) {
      this.#fail(error);
      return true;
    }
  }

  end(): void {
    if (this.#broken) return;
    try {
      this.#finish();
    } catch (error) {
      this.#fail(error);
    }
  }

  /**
   * Metering, translating or screening the answer threw (a bug): the client's stream ends with the gateway's error event
   * rather than staying open with nothing left to end it, the provider is let go, and the attempt is the failed
   * stream it is, metered as far as it was read.
   */
  #fail(error: unknown): void {
    this.#broken = true;
    this.#quiet.stop();
    clearTimeout(this.#lingering);
    const ctx = this.#ctx;
    ctx.deps.logger.error({ requestId: ctx.requestId, err: error instanceof Error ? error.message : String(error) }, 'relaying a stream failed');
    if (this.#writable()) endStreamWithError(ctx, tollgateError('internal'), this.#nextSequence?.());
    this.#upstream.abort('abandoned');
    this.#resolve({ facts: this.#meter.facts, completion: 'stream_failed', timedOut: false });
  }

  #relay(chunk: Buffer): boolean {
    const ctx = this.#ctx;
    const quiet = this.#quiet;
    const meter = this.#meter;
    const translation = this.#translation;
    const guard = this.#guard;
    quiet.heard();
    // Anything a provider sends after its final event is neither written nor metered: the client's answer and
    // its record are what it received (a stray error event in the linger must not mark it failed).
    if (this.#final) return true;
    const metered = meter.push(chunk);
    // An event past the meter's limit (one that never ends would fill memory): the stream ends here, as a broken one.
    if (meter.overflowed) {
      this.#upstream.abort('oversized-event');
      return true;
    }
    const relayed = translation ? bytesOf(translation.take()) : metered;
    // A translation keeping more of the answer than Firewall holds of a call (what it keeps goes out at the end,
    // or again there): the stream ends here, as a broken one, before the gateway's memory or a string's limit does.
    if (translation && (translation.held ?? 0) > MAX_HELD_STREAM_BYTES) {
      this.#upstream.abort('oversized-answer');
      return true;
    }
    const out = guard ? guard.push(relayed) : relayed;
    // A call Firewall holds that grew past its limit: never let out unjudged, so the stream ends here, as a broken one.
    if (guard && guard.held > MAX_HELD_STREAM_BYTES) {
      this.#upstream.abort('oversized-call');
      return true;
    }
    // The client left: the stream is only read on for its usage (see METER_GRACE_MS), nothing is written.
    if (ctx.clientGone) return true;
    if (meter.facts.terminal) {
      // The SDKs read a stream to the end of its body: it ends with the final event, whether or not the provider
      // ends its response there. A translation closes the client's stream in its format: the upstream's is complete.
      this.#final = true;
      this.#lingering = setTimeout(letGo, FINAL_EVENT_LINGER_MS, this.#upstream);
      const closing = guarded(guard, translation ? bytesOf(translation.finish()) : undefined);
      this.#inOrder(both(out, closing), ([last, closed]) => {
        if (!this.#writable()) return;
        if (ctx.firstByteAt === 0) ctx.firstByteAt = performance.now();
        endTranslated(ctx, closed && last ? Buffer.concat([last, closed]) : closed ?? last, translation, this.#nextSequence);
        this.#delivered = true;
      });
      return true;
    }
    if (out instanceof Promise || this.#waiting > 0) {
      // Behind a call the decision model is judging: the provider waits meanwhile (its silence then is not its own).
      quiet.held = true;
      this.#inOrder(out, (settled) => {
        if (settled && this.#writable()) {
          if (ctx.firstByteAt === 0) ctx.firstByteAt = performance.now();
          // The client is slow: its drain resumes the provider.
          if (!ctx.res.write(settled)) return;
        }
        quiet.resume();
      });
      return false;
    }
    if (!out) return true;
    // Time to first byte: when the first streamed bytes go to the client (one compare per chunk).
    if (ctx.firstByteAt === 0) ctx.firstByteAt = performance.now();
    if (ctx.res.write(out)) return true;
    quiet.held = true;
    return false;
  }

  #finish(): void {
    const ctx = this.#ctx;
    const meter = this.#meter;
    const translation = this.#translation;
    const guard = this.#guard;
    this.#quiet.stop();
    clearTimeout(this.#lingering);
    const metered = meter.end();
    const relayed = translation ? bytesOf(translation.take()) : metered;
    this.#inOrder(guard ? guard.push(relayed) : relayed, (tail) => {
      if (this.#concluded()) return;
      if (!finished(meter.facts)) {
        // The provider closed the stream cleanly but before its end (no `[DONE]`, `message_stop` or finish): as
        // for a broken connection, the client gets an error event, never what looks like a complete answer.
        if (tail) ctx.res.write(tail);
        endStreamWithError(ctx, tollgateError('upstreamStreamBroken', { reason: 'the provider ended the stream before its final event.' }), this.#nextSequence?.());
        this.#resolve({ facts: meter.facts, completion: 'stream_failed', timedOut: false });
        return;
      }
      // A translated stream ends in the client's format (its message_stop) once the upstream's is complete.
      this.#inOrder(guarded(guard, translation ? bytesOf(translation.finish()) : undefined), (closing) => {
        if (this.#writable()) {
          if (closing && tail) ctx.res.write(tail);
          endTranslated(ctx, closing ?? tail, translation, this.#nextSequence);
          this.#delivered = true;
        }
        this.#resolve(this.#whole());
      });
    });
  }

  error(err: Error): void {
    if (this.#broken) return;
    const ctx = this.#ctx;
    this.#quiet.stop();
    clearTimeout(this.#lingering);
    // What the guard still owes the client goes first (written only if the answer is still open).
    this.#inOrder(undefined, () => {
      // A stopping gateway ended the answer with its own error event and aborted this read.
      if (cutByShutdown(ctx)) {
        this.#resolve({ facts: this.#meter.facts, completion: 'stream_failed', timedOut: false });
        return;
      }
      if (this.#concluded()) return;
      const broken = brokenAnswer(ctx, this.#upstream, err, this.#served.format === 'bedrock' ? MAX_EVENT_STREAM_FRAME_BYTES : MAX_HELD_BYTES);
      if (this.#writable()) endStreamWithError(ctx, broken.error, this.#nextSequence?.());
      this.#resolve({ facts: this.#meter.facts, completion: broken.timedOut ? 'timed_out' : 'stream_failed', timedOut: broken.timedOut });
    });
  }
}

/** Two outputs, now if both are here, else once both are. */
function both(a: GuardOutput, b: GuardOutput): [Buffer | undefined, Buffer | undefined] | Promise<[Buffer | undefined, Buffer | undefined]> {
  return a instanceof Promise || b instanceof Promise ? Promise.all([a, b]) : [a, b];
}

/**
 * Ends a stream whose upstream finished: with its last bytes, then the error event a translation could not give the
 * answer for (a tool call's arguments that are no JSON object) in place of its final events. The provider's answer
 * was whole, and is metered and recorded as served.
 */
function endTranslated(ctx: RequestContext, last: Buffer | undefined, translation: StreamTranslation<string | Uint8Array> | undefined, nextSequence: (() => number) | undefined): void {
  const refused = translation?.failure?.();
  if (!refused) {
    ctx.res.end(last);
    return;
  }
  if (last) ctx.res.write(last);
  endStreamWithError(ctx, refused, nextSequence?.());
}

/** The stream's last bytes through the Firewall guard, which then gives back what it still held. */
function guarded(guard: ScreeningGuard | undefined, closing: Buffer | undefined): GuardOutput {
  if (!guard) return closing;
  const joined = (pushed: Buffer | undefined, rest: Buffer | undefined) => (pushed && rest ? Buffer.concat([pushed, rest]) : pushed ?? rest);
  const pushed = guard.push(closing);
  const rest = guard.end();
  return pushed instanceof Promise || rest instanceof Promise ? Promise.all([pushed, rest]).then(([p, r]) => joined(p, r)) : joined(pushed, rest);
}

export interface JsonOutcome { facts: AnswerFacts; completion: Completion; timedOut: boolean }

/** What a relayed JSON answer reported, from its top-level members: usage (and, for tracing, its id and model). */
function jsonMemberFacts(members: JsonMembers, codec: FormatCodec, surface: ApiSurface): AnswerFacts {
  const usage = members.text('usage');
  const facts = codec.factsFromJson(usage === undefined ? {} : { usage: parseJson(usage) }, surface);
  if (!facts.usage) Object.assign(facts, { text: '', textChars: 0 });
  for (const [key, field] of [['id', 'responseId'], ['model', 'responseModel']] as const) {
    const value = parseJson(members.text(key) ?? '');
    if (typeof value === 'string') facts[field] = value;
  }
  return facts;
}

/**
 * A JSON answer too large to hold (attempt.ts: embeddings past HELD_ANSWER_BYTES), relayed as it arrives with
 * backpressure, its usage read on the way. A body that breaks off after bytes went out cannot be mended, nor
 * another attempt made: the client's connection is cut (endStreamWithError), so its SDK sees a broken answer, never
 * a short one that parses. The provider's silence is bounded as a stream's is.
 */
export function relayJson(ctx: RequestContext, upstream: UpstreamExchange, status: number, headers: OutHeaders, codec: FormatCodec, surface: ApiSurface): Promise<JsonOutcome> {
  const { res } = ctx;
  const members = new JsonMembers(['usage', 'id', 'model']);
  res.writeHead(status, headers);
  const quiet = new QuietLimit(upstream, res, ctx.deps.options.streamIdleTimeoutMs);
  return new Promise((resolve) => {
    const done = (completion: Completion, timedOut: boolean) => {
      quiet.stop();
      resolve({ facts: jsonMemberFacts(members, codec, surface), completion, timedOut });
    };
    upstream.pipe({
      data(chunk) {
        quiet.heard();
        members.push(chunk);
        // The client left: read on for the usage (see METER_GRACE_MS), nothing is written.
        if (ctx.clientGone) return true;
        if (ctx.firstByteAt === 0) ctx.firstByteAt = performance.now();
        if (res.write(chunk)) return true;
        quiet.held = true;
        return false;
      },
      end() {
        if (ctx.clientGone) return done('unknown', false);
        res.end();
        done('succeeded', false);
      },
      error(err) {
        // A stopping gateway cut the answer itself (endStreamWithError).
        if (cutByShutdown(ctx)) return done('stream_failed', false);
        if (ctx.clientGone) return done('unknown', false);
        const broken = brokenAnswer(ctx, upstream, err);
        endStreamWithError(ctx, broken.error, undefined);
        done(broken.timedOut ? 'timed_out' : 'stream_failed', broken.timedOut);
      },
    });
  });
}
