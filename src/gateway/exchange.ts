// One upstream HTTP exchange, driven through undici's dispatch API. The head arrives as a promise; the body is
// then collected into one Buffer (JSON answers, provider errors), discarded (failed attempts), or handed chunk by
// chunk to a sink with backpressure (streams). undici's `request()` builds a Readable body stream, an async
// resource and an AbortSignal listener per call, and the gateway consumed that stream only to rebuild a Buffer or
// re-emit its chunks: this handler does the same job without them.
import type { Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import { getHeapStatistics } from 'node:v8';
import type { AbortCause } from './context.ts';
import { decoderFor } from './content-coding.ts';

export interface UpstreamHead { statusCode: number; headers: IncomingHttpHeaders }

/** Where a streamed body goes. `data` returning false stops reading until `resume()`. */
export interface BodySink {
  data(chunk: Buffer): boolean;
  end(): void;
  error(error: Error): void;
}

type BodyMode = 'pending' | 'collect' | 'discard' | 'sink';

/**
 * The most a compressed answer may decode to when it is collected whole: a few KB of gzip can inflate to
 * gigabytes, and a tenant's custom provider is not trusted with the gateway's memory. (Streams decode only as fast
 * as the client reads.)
 */
export const MAX_DECODED_BYTES = 64 * 1024 * 1024;

/**
 * The most of an uncompressed answer held in memory at once: a collected (JSON) answer, or a stream's opening
 * before the gateway commits to it. A tenant's custom provider can send without end as fast as the link goes;
 * the largest real answers (2,048 embeddings of 3,072 floats as JSON) are near 140 MB, and a JavaScript string
 * cannot hold much more than 512 MiB of text.
 */
export const MAX_HELD_BYTES = 256 * 1024 * 1024;

/**
 * The most of one streamed answer held back: by Firewall's guard while calls are open (their events, and for Responses
 * what follows them) — the relay ends a stream whose guard holds more. A held call can be neither judged nor let out
 * unjudged before it ends, and the client, sent nothing meanwhile, holds back nothing: a provider streaming a call
 * without end (a tenant's custom provider can) filled the gateway's memory at the link's speed. Real calls are far smaller: 128k output tokens of
 * arguments streamed a token a delta are ~32 MB of chat events. A translated stream keeps no more of one answer
 * (StreamTranslation.held, counted in characters): docs/decisions/translation.md, "What a translated stream keeps".
 */
export const MAX_HELD_STREAM_BYTES = 64 * 1024 * 1024;

/**
 * What every exchange of one process holds at once while collecting answers whole. MAX_HELD_BYTES bounds one answer,
 * not how many arrive together: a tenant's custom provider answering its own concurrent requests with 256 MB each
 * held gigabytes (16 at once: ~5 GB of RSS), and each is parsed and copied again once whole. Past the tally's limit the
 * answer that would cross it fails as one too long (an attempt's failure, so the request may fail over), and the
 * answers already held finish. Bytes count from the moment the collector takes them until it is handed the body.
 *
 * One account's answers hold at most `accountLimit` of it: a tenant's provider can send answers as large as it likes
 * and leave them unfinished for as long as the tenant's own timeouts say, and with the whole tally to itself it had
 * every other account's answers that arrive in more than one read refused as "busy" meanwhile.
 */
export class HeldAnswers {
  held = 0;
  readonly limit: number;
  readonly accountLimit: number;
  readonly #byAccount = new Map<string, number>();

  /** `accountLimit`: half the tally by default, and never less than one whole answer the tally can hold. */
  constructor(limit: number, accountLimit = Math.max(Math.floor(limit / 2), Math.min(limit, MAX_HELD_BYTES))) {
    this.limit = limit;
    this.accountLimit = accountLimit;
  }

  /** What `account`'s answers hold now. */
  heldBy(account: string): number {
    return this.#byAccount.get(account) ?? 0;
  }

  /** Counts `bytes` for `account`; nothing is counted when that would cross the tally's limit or the account's share. */
  take(account: string, bytes: number): 'taken' | HeldRoom {
    const own = this.heldBy(account);
    if (own + bytes > this.accountLimit) return 'account';
    if (this.held + bytes > this.limit) return 'gateway';
    this.held += bytes;
    this.#byAccount.set(account, own + bytes);
    return 'taken';
  }

  give(account: string, bytes: number): void {
    if (bytes === 0) return;
    this.held -= bytes;
    const left = this.heldBy(account) - bytes;
    if (left > 0) this.#byAccount.set(account, left);
    else this.#byAccount.delete(account);
  }
}

/**
 * An eighth of the heap's limit (512 MiB under Node's default 4 GiB; it grows with --max-old-space-size), never less
 * than one whole answer: a held answer is copied into a string and parsed on the heap once whole. The MCP gateway's
 * JSON answers count in it too (mcp/gateway.ts): they are held whole as well.
 */
export const PROCESS_HELD_ANSWERS = new HeldAnswers(Math.max(MAX_HELD_BYTES, Math.floor(getHeapStatistics().heap_size_limit / 8)));

/** Where an exchange's answer may be held: its own limit, the tally it counts in, and the account it counts for. */
export interface HeldAnswerOptions {
  /** Held bytes past which the exchange fails (MAX_HELD_BYTES unless the caller holds less). */
  maxHeldBytes?: number;
  /** The process's tally unless a test gives its own. */
  tally?: HeldAnswers;
  /** The account whose request the answer serves: its share of the tally (HeldAnswers.accountLimit) bounds it. */
  account?: string;
}

/** Which shared room an answer could not be held in: what the process holds at once, or the account's share of it. */
export type HeldRoom = 'gateway' | 'account';

/** An answer grew past what the gateway holds of it (`limit` bytes, decoded ones for a compressed answer). */
export class AnswerTooLong extends Error {
  override name = 'AnswerTooLong';
  readonly limit: number;
  /** Set when the limit is a room shared with other answers (HeldAnswers), not this answer's own. */
  readonly shared: HeldRoom | undefined;
  constructor(limit: number, compressed: boolean, shared?: HeldRoom) {
    super(shared === 'account'
      ? `the provider's answer could not be held: this account's answers being collected already hold near its share of ${limit} bytes of what the gateway holds at once`
      : shared === 'gateway'
        ? `the provider's answer could not be held: the gateway already holds answers near its limit of ${limit} bytes for all answers at once`
        : compressed ? `the provider's compressed answer decodes to more than ${limit} bytes` : `the provider's answer is more than ${limit} bytes`);
    this.limit = limit;
    this.shared = shared;
  }
}

class ExchangeAborted extends Error {
  override name = 'AbortError';
  constructor(cause: AbortCause) {
    super(`upstream exchange aborted: ${cause}`);
  }
}

export class UpstreamExchange implements Dispatcher.DispatchHandler {
  /** Settles once with the response head, or rejects when the exchange fails before it. */
  readonly head: Promise<UpstreamHead>;
  #resolveHead!: (head: UpstreamHead) => void;
  #rejectHead!: (error: Error) => void;
  #headSeen = false;

  #controller: Dispatcher.DispatchController | undefined;
  #cause: AbortCause | undefined;
  #sent = false;

  #mode: BodyMode = 'pending';
  /** Body bytes received before a mode was chosen (they can arrive with the head) or while collecting. */
  #chunks: Buffer[] = [];
  #size = 0;
  #ended = false;
  #failure: Error | undefined;
  #sink: BodySink | undefined;
  /** collect() or discard() waiting for the end. */
  #waiter: { resolve: (body: Buffer) => void; reject: (error: Error) => void } | undefined;
  /** collectWithin(): how much may be held before the waiter is told the body is larger. */
  #within: { limit: number; larger: () => void } | undefined;
  /** firstData() waiting for the first body bytes. */
  #onFirst: (() => void) | undefined;
  /** Decodes a compressed answer (content-coding.ts); its output goes where raw bytes would. */
  #decoder: ReturnType<typeof decoderFor>;
  /** The upstream's (raw) body ended; with a decoder, `#ended` waits for its last output. */
  #rawEnded = false;

  /** Held bytes past which the exchange fails (the decoded limit applies to a compressed answer). */
  readonly #maxHeldBytes: number;
  /** The process's tally of collected bytes, the account they count for, and how much of it is this exchange's. */
  readonly #tally: HeldAnswers;
  readonly #account: string;
  #tallied = 0;

  constructor({ maxHeldBytes = MAX_HELD_BYTES, tally = PROCESS_HELD_ANSWERS, account = '' }: HeldAnswerOptions = {}) {
    this.#maxHeldBytes = maxHeldBytes;
    this.#tally = tally;
    this.#account = account;
    this.head = new Promise((resolve, reject) => {
      this.#resolveHead = resolve;
      this.#rejectHead = reject;
    });
  }

  /** The response ended or failed: nothing more will arrive. */
  get settled(): boolean {
    return this.#ended || this.#failure !== undefined;
  }

  /** The exchange failed (connection lost, aborted, refused), as opposed to ending. */
  get failed(): boolean {
    return this.#failure !== undefined;
  }

  /** The gateway's reason for aborting, if it did. */
  get cause(): AbortCause | undefined {
    return this.#cause;
  }

  /**
   * The whole request was written to the connection (undici's onRequestSent): from here the provider can have read
   * the prompt. False for a call cut while connecting (TCP, TLS) or before it was dispatched. Written means handed to
   * the socket, not read: a body larger than the socket's buffers, still going out when the call is cut, counts too.
   */
  get sent(): boolean {
    return this.#sent;
  }

  abort(cause: AbortCause): void {
    if (this.#cause !== undefined) return;
    this.#cause = cause;
    this.#release();
    this.#decoder?.destroy();
    const error = new ExchangeAborted(cause);
    const controller = this.#controller;
    // Not started yet (queued, connecting, a role key's call being signed): onRequestStart aborts at once, and the head
    // fails now — undici would only start it once connected, so a timeout ran on to its connect timeout (10 s) first.
    if (controller === undefined) this.refuse(error);
    else controller.abort(error);
    // undici ignores an abort once the raw body is all in, and the destroyed decoder will never end the body: the
    // exchange fails itself, or its reader would wait for an end that never comes.
    if (this.#rawEnded && !this.settled) this.refuse(error);
  }

  /**
   * Resolves once the first body bytes are here (or the body ended or failed), which stay buffered for pipe()
   * or collect(); `received` shows them.
   */
  firstData(): Promise<void> {
    if (this.#chunks.length > 0 || this.settled) return Promise.resolve();
    return new Promise((resolve) => { this.#onFirst = resolve; });
  }

  /** Resolves once more than `count` chunks are buffered (or the body ended or failed). */
  dataBeyond(count: number): Promise<void> {
    if (this.#chunks.length > count || this.settled) return Promise.resolve();
    return new Promise((resolve) => { this.#onFirst = resolve; });
  }

  /** Body bytes received and not yet handed on (before pipe/collect chose where they go). */
  get received(): readonly Buffer[] {
    return this.#chunks;
  }

  #first(): void {
    const waiting = this.#onFirst;
    this.#onFirst = undefined;
    waiting?.();
  }

  /** The whole body as one Buffer (rejects if the exchange fails first). */
  collect(): Promise<Buffer> {
    this.#mode = 'collect';
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
      if (!this.settled) this.#hold(this.#size);
      this.#settle();
    });
  }

  /**
   * The whole body when it ends within `limit` bytes; undefined as soon as more than that is here, the bytes then
   * held for pipe() (see `received`). Rejects if the exchange fails first.
   */
  collectWithin(limit: number): Promise<Buffer | undefined> {
    if (this.#size > limit && !this.settled) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      this.#mode = 'collect';
      this.#within = { limit, larger: () => resolve(undefined) };
      this.#waiter = { resolve, reject };
      if (!this.settled) this.#hold(this.#size);
      this.#settle();
    });
  }

  /** Reads the body to its end and drops it, so the connection goes back to the pool; never rejects. */
  discard(): Promise<void> {
    this.#mode = 'discard';
    this.#chunks = [];
    this.#release();
    if (this.#decoder) {
      // Nothing is read from a discarded body: its raw bytes need no decoding. The decoder may have paused the
      // connection, or already have all the raw bytes (the end then comes from here, not from the decoder).
      this.#decoder.destroy();
      this.#decoder = undefined;
      if (this.#rawEnded) this.#ended = true;
      this.#controller?.resume();
    }
    this.#size = 0;
    return new Promise((resolve) => {
      this.#waiter = { resolve: () => resolve(), reject: () => resolve() };
      this.#settle();
    });
  }

  /** Streams the body into `sink`, starting with any bytes that already arrived. */
  pipe(sink: BodySink): void {
    this.#sink = sink;
    this.#mode = 'sink';
    const early = this.#chunks;
    this.#chunks = [];
    for (const chunk of early) if (!sink.data(chunk)) this.#pause();
    if (this.#failure) sink.error(this.#failure);
    else if (this.#ended) sink.end();
  }

  /**
   * The sink is full. With a decoder, it is the decoder that stops: its buffers then fill and its `write` refuses
   * the raw bytes, which pauses the connection — so a small compressed body never inflates faster than it is read.
   */
  #pause(): void {
    if (this.#decoder) this.#decoder.pause();
    else this.#controller?.pause();
  }

  resume(): void {
    if (this.#decoder) this.#decoder.resume();
    else this.#controller?.resume();
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#cause !== undefined) controller.abort(new ExchangeAborted(this.#cause));
  }

  onRequestSent(): void {
    this.#sent = true;
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    // 1xx interim responses: the real head follows.
    if (statusCode < 200) return;
    this.#headSeen = true;
    const decoder = decoderFor(headers);
    if (decoder) this.#decodeWith(decoder);
    this.#resolveHead({ statusCode, headers });
  }

  #decodeWith(decoder: NonNullable<ReturnType<typeof decoderFor>>): void {
    this.#decoder = decoder;
    decoder.on('data', (chunk: Buffer) => this.#take(chunk));
    decoder.on('end', () => this.#bodyEnded());
    decoder.on('drain', () => this.#controller?.resume());
    decoder.on('error', (error: Error) => {
      if (this.settled || this.#cause !== undefined) return;
      this.#controller?.abort(error);
      this.refuse(error);
    });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const decoder = this.#decoder;
    if (decoder && this.#mode !== 'discard') {
      if (!decoder.write(chunk)) controller.pause();
      return;
    }
    this.#take(chunk);
  }

  /** Body bytes (decoded ones for a compressed answer) to wherever the body goes. */
  #take(chunk: Buffer): void {
    switch (this.#mode) {
      case 'sink':
        if (!this.#sink!.data(chunk)) this.#pause();
        return;
      case 'discard':
        return;
      default:
        this.#chunks.push(chunk);
        this.#size += chunk.length;
        // A compressed answer's decoded bytes count against the smaller of the two: a caller holding little (a
        // Firewall judgement's 64 KiB) holds no more of an answer because it came gzipped.
        const limit = this.#decoder ? Math.min(MAX_DECODED_BYTES, this.#maxHeldBytes) : this.#maxHeldBytes;
        if (this.#size > limit) return this.#tooLong(new AnswerTooLong(limit, this.#decoder !== undefined));
        if (this.#within && this.#size > this.#within.limit) {
          // Larger than the caller holds: the bytes wait for pipe(), the waiter is told. Relayed as it arrives, the
          // answer needs none of the room collected answers share.
          const { larger } = this.#within;
          this.#within = undefined;
          this.#waiter = undefined;
          this.#mode = 'pending';
          this.#release();
          larger();
        } else if (this.#mode === 'collect' && !this.#hold(chunk.length)) return;
        this.#first();
    }
  }

  /** Counts `bytes` more of this exchange's in the process's tally; past its limit or the account's share the exchange fails instead. */
  #hold(bytes: number): boolean {
    const tally = this.#tally;
    const crossed = tally.take(this.#account, bytes);
    if (crossed !== 'taken') {
      this.#tooLong(new AnswerTooLong(crossed === 'account' ? tally.accountLimit : tally.limit, this.#decoder !== undefined, crossed));
      return false;
    }
    this.#tallied += bytes;
    return true;
  }

  /** This exchange's bytes leave the tally: handed to the collector, dropped, or waiting for pipe() instead. */
  #release(): void {
    this.#tally.give(this.#account, this.#tallied);
    this.#tallied = 0;
  }

  #tooLong(error: AnswerTooLong): void {
    this.#decoder?.destroy();
    this.#controller?.abort(error);
    this.refuse(error);
  }

  onResponseEnd(): void {
    this.#rawEnded = true;
    const decoder = this.#decoder;
    if (decoder && this.#mode !== 'discard') {
      // The body ends when the decoder has given out its last bytes.
      decoder.end();
      return;
    }
    this.#bodyEnded();
  }

  #bodyEnded(): void {
    this.#ended = true;
    this.#first();
    if (this.#mode === 'sink') this.#sink!.end();
    else this.#settle();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.refuse(error);
  }

  /** Fails the exchange before (or instead of) any dispatch: the call is not made. */
  refuse(error: Error): void {
    if (this.#failure) return;
    this.#failure = error;
    this.#release();
    this.#decoder?.destroy();
    this.#first();
    if (!this.#headSeen) {
      this.#headSeen = true;
      this.#rejectHead(error);
      return;
    }
    if (this.#mode === 'sink') this.#sink!.error(error);
    else this.#settle();
  }

  #settle(): void {
    const waiter = this.#waiter;
    if (!waiter || (!this.#failure && !this.#ended)) return;
    this.#waiter = undefined;
    this.#within = undefined;
    this.#release();
    if (this.#failure) {
      waiter.reject(this.#failure);
      return;
    }
    const chunks = this.#chunks;
    this.#chunks = [];
    waiter.resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.#size));
  }
}
