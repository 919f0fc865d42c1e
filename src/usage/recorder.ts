// The gateway's usage sink: events are queued in memory and written to the store in batches (every
// ~100 ms, or at once when 500 are waiting), so the request path never waits on the database. A failed
// write keeps its batch at the head of the queue and is retried with backoff; nothing is dropped.
// The write function is injected: the crash-safe local journal (a later issue) plugs in at this seam.
import type { Logger } from 'pino';
import type { UsageEvent, UsageSink } from './event.ts';

export type UsageWriter = (events: readonly UsageEvent[]) => Promise<void>;

export interface UsageRecorderOptions {
  write: UsageWriter;
  logger?: Pick<Logger, 'warn'>;
  intervalMs?: number;
  maxBatch?: number;
  /** Longest wait between retries of a failing write. */
  maxBackoffMs?: number;
}

export class UsageRecorder implements UsageSink {
  readonly #write: UsageWriter;
  readonly #logger: Pick<Logger, 'warn'> | undefined;
  readonly #intervalMs: number;
  readonly #maxBatch: number;
  readonly #maxBackoffMs: number;
  #queue: UsageEvent[] = [];
  #inflight: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;
  #closed = false;

  constructor(options: UsageRecorderOptions) {
    this.#write = options.write;
    this.#logger = options.logger;
    this.#intervalMs = options.intervalMs ?? 100;
    this.#maxBatch = options.maxBatch ?? 500;
    this.#maxBackoffMs = options.maxBackoffMs ?? 5000;
  }

  /** Events waiting to be written (including a batch being retried). */
  get pending(): number {
    return this.#queue.length;
  }

  record(event: UsageEvent): void {
    this.#queue.push(event);
    if (this.#queue.length >= this.#maxBatch && !this.#inflight && this.#failures === 0) void this.#writeBatch();
    else this.#schedule(this.#intervalMs);
  }

  async flush(): Promise<void> {
    while (this.#queue.length > 0 || this.#inflight) {
      if (this.#inflight) { await this.#inflight; continue; }
      const ok = await this.#writeBatch();
      if (!ok) await new Promise((resolve) => setTimeout(resolve, this.#backoff()));
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(delay: number): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#inflight) void this.#writeBatch();
    }, delay);
    // A pending batch must not keep a stopping process alive; close() drains explicitly.
    this.#timer.unref();
  }

  #backoff(): number {
    return Math.min(this.#maxBackoffMs, this.#intervalMs * 2 ** Math.min(this.#failures, 10));
  }

  /** Writes up to one batch; resolves true on success. Never rejects. */
  #writeBatch(): Promise<boolean> {
    if (this.#queue.length === 0) return Promise.resolve(true);
    const batch = this.#queue.length <= this.#maxBatch ? this.#queue : this.#queue.slice(0, this.#maxBatch);
    this.#queue = batch === this.#queue ? [] : this.#queue.slice(this.#maxBatch);
    let settle!: () => void;
    this.#inflight = new Promise<void>((resolve) => { settle = resolve; });
    return this.#write(batch).then(
      () => {
        this.#failures = 0;
        return true;
      },
      (error: unknown) => {
        // Keep order: the failed batch goes back in front of anything recorded meanwhile.
        this.#queue = batch.concat(this.#queue);
        this.#failures++;
        this.#logger?.warn({ err: error instanceof Error ? error.message : String(error), pending: this.#queue.length }, 'usage write failed; will retry');
        return false;
      },
    ).then((ok) => {
      this.#inflight = undefined;
      settle();
      if (this.#queue.length > 0) this.#schedule(ok ? (this.#queue.length >= this.#maxBatch ? 0 : this.#intervalMs) : this.#backoff());
      return ok;
    });
  }
}
