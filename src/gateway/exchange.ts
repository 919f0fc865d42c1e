// One upstream HTTP exchange, driven through undici's dispatch API. The head arrives as a promise; the body is
// then collected into one Buffer (JSON answers, provider errors), discarded (failed attempts), or handed chunk by
// chunk to a sink with backpressure (streams). undici's `request()` builds a Readable body stream, an async
// resource and an AbortSignal listener per call, and the gateway consumed that stream only to rebuild a Buffer or
// re-emit its chunks: this handler does the same job without them.
import type { Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import type { AbortCause } from './context.ts';

export interface UpstreamHead { statusCode: number; headers: IncomingHttpHeaders }

/** Where a streamed body goes. `data` returning false stops reading until `resume()`. */
export interface BodySink {
  data(chunk: Buffer): boolean;
  end(): void;
  error(error: Error): void;
}

type BodyMode = 'pending' | 'collect' | 'discard' | 'sink';

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

  #mode: BodyMode = 'pending';
  /** Body bytes received before a mode was chosen (they can arrive with the head) or while collecting. */
  #chunks: Buffer[] = [];
  #size = 0;
  #ended = false;
  #failure: Error | undefined;
  #sink: BodySink | undefined;
  /** collect() or discard() waiting for the end. */
  #waiter: { resolve: (body: Buffer) => void; reject: (error: Error) => void } | undefined;
  /** firstData() waiting for the first body bytes. */
  #onFirst: (() => void) | undefined;

  constructor() {
    this.head = new Promise((resolve, reject) => {
      this.#resolveHead = resolve;
      this.#rejectHead = reject;
    });
  }

  /** The response ended or failed: nothing more will arrive. */
  get settled(): boolean {
    return this.#ended || this.#failure !== undefined;
  }

  /** The gateway's reason for aborting, if it did. */
  get cause(): AbortCause | undefined {
    return this.#cause;
  }

  abort(cause: AbortCause): void {
    if (this.#cause !== undefined) return;
    this.#cause = cause;
    // Not started yet: onRequestStart aborts at once.
    this.#controller?.abort(new ExchangeAborted(cause));
  }

  /**
   * Resolves once the first body bytes are here (or the body ended or failed), which stay buffered for pipe()
   * or collect(); `received` shows them.
   */
  firstData(): Promise<void> {
    if (this.#chunks.length > 0 || this.settled) return Promise.resolve();
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
      this.#settle();
    });
  }

  /** Reads the body to its end and drops it, so the connection goes back to the pool; never rejects. */
  discard(): Promise<void> {
    this.#mode = 'discard';
    this.#chunks = [];
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
    for (const chunk of early) if (!sink.data(chunk)) this.#controller?.pause();
    if (this.#failure) sink.error(this.#failure);
    else if (this.#ended) sink.end();
  }

  resume(): void {
    this.#controller?.resume();
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#cause !== undefined) controller.abort(new ExchangeAborted(this.#cause));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    // 1xx interim responses: the real head follows.
    if (statusCode < 200) return;
    this.#headSeen = true;
    this.#resolveHead({ statusCode, headers });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    switch (this.#mode) {
      case 'sink':
        if (!this.#sink!.data(chunk)) controller.pause();
        return;
      case 'discard':
        return;
      default:
        this.#chunks.push(chunk);
        this.#size += chunk.length;
        this.#first();
    }
  }

  onResponseEnd(): void {
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
    this.#failure = error;
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
    if (this.#failure) {
      waiter.reject(this.#failure);
      return;
    }
    const chunks = this.#chunks;
    this.#chunks = [];
    waiter.resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.#size));
  }
}
