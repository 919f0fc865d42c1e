// Request capture's writer on the gateway plane: captures handed over as exchanges end are sealed, queued in memory
// and written in batches about once a second, off the request path; expired ones are deleted every ten minutes. A
// capture is debugging data, not money: unlike usage events (the journal keeps those on disk until the store has
// them), the queue is bounded and, with the database down, the oldest captures are dropped past the bound — counted
// and logged, never holding the gateway's memory hostage. Decisions: docs/decisions/credits-usage-settings.md,
// "Request capture".
import type { Logger } from 'pino';
import { sealCapture, type RequestCapture } from '../domain/request-capture.ts';
import type { SecretBox } from '../domain/secret-box.ts';
import type { RequestCaptureRow } from '../store/request-captures.ts';
import type { CaptureSink } from '../gateway/request-capture.ts';

/** Captures held while the store cannot take them; past it the oldest are dropped. */
export const CAPTURE_QUEUE_MAX = 1_000;
/**
 * And their sealed bytes: a count alone does not bound memory, since each capture holds two bodies of up to
 * TOLLGATE_REQUEST_CAPTURE_MAX_BYTES (16 MiB at most), sealed as JSON in base64 — 1,000 of those are tens of GB.
 */
export const CAPTURE_QUEUE_MAX_BYTES = 256 * 1024 * 1024;
const FLUSH_EVERY_MS = 1_000;
/** How often expired captures are deleted (each gateway node does; a second delete finds nothing). */
const EXPIRE_EVERY_MS = 10 * 60_000;

export interface CaptureWriterOptions {
  box: SecretBox;
  maxBytes: number;
  retentionMs: number;
  write(rows: readonly RequestCaptureRow[]): Promise<void>;
  /** Deletes the captures expired at `now`; how many. */
  deleteExpired(now: string): Promise<number>;
  logger: Pick<Logger, 'warn' | 'info' | 'debug'>;
  maxQueued?: number;
  maxQueuedBytes?: number;
  flushEveryMs?: number;
  expireEveryMs?: number;
}

export class CaptureWriter implements CaptureSink {
  readonly maxBytes: number;
  readonly #options: CaptureWriterOptions;
  readonly #maxQueued: number;
  readonly #maxQueuedBytes: number;
  #queue: RequestCaptureRow[] = [];
  /** The sealed size of what is queued (a batch being written counts again once it comes back). */
  #queuedBytes = 0;
  /** The flush or expiry under way: one at a time, and close() waits for it. */
  #running: Promise<void> = Promise.resolve();
  readonly #timers: ReturnType<typeof setInterval>[];
  #closed = false;
  /** Writes are failing; captures dropped since they began (the first drop logged, the total when writes resume). */
  #failing = false;
  #droppedInOutage = 0;
  /** Every capture dropped since start (queue full, or handed over after close). */
  dropped = 0;

  constructor(options: CaptureWriterOptions) {
    this.#options = options;
    this.maxBytes = options.maxBytes;
    this.#maxQueued = options.maxQueued ?? CAPTURE_QUEUE_MAX;
    this.#maxQueuedBytes = options.maxQueuedBytes ?? CAPTURE_QUEUE_MAX_BYTES;
    this.#timers = [
      setInterval(() => { if (this.#queue.length > 0) void this.flush(); }, options.flushEveryMs ?? FLUSH_EVERY_MS).unref(),
      setInterval(() => { void this.expire(); }, options.expireEveryMs ?? EXPIRE_EVERY_MS).unref(),
    ];
    void this.expire();
  }

  /** Sealed now (the plaintext is not held), written with the next batch. */
  keep(capture: RequestCapture): void {
    // An exchange that ended after the last write (the gateway closes first, so none should): not written.
    if (this.#closed) {
      this.dropped++;
      return;
    }
    const expiresAt = new Date(Date.parse(capture.capturedAt) + this.#options.retentionMs).toISOString();
    const sealed = sealCapture(this.#options.box, capture);
    this.#queue.push({ accountId: capture.accountId, requestId: capture.requestId, capturedAt: capture.capturedAt, expiresAt, sealed });
    this.#queuedBytes += sealed.length;
    this.#bound();
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** The sealed bytes queued. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Writes what is queued; a batch the store refused goes back in front of the queue for the next try. */
  flush(): Promise<void> {
    return this.#serially(async () => {
      if (this.#queue.length === 0) return;
      const batch = this.#queue;
      this.#queue = [];
      this.#queuedBytes = 0;
      try {
        await this.#options.write(batch);
      } catch (error) {
        this.#queue = batch.concat(this.#queue);
        this.#queuedBytes = sealedBytes(this.#queue);
        if (!this.#failing) this.#options.logger.warn({ err: error instanceof Error ? error.message : String(error), queued: this.#queue.length, max: this.#maxQueued }, 'request captures could not be written; they are held in memory and retried, the oldest dropped past the limit');
        this.#failing = true;
        this.#bound();
        return;
      }
      if (this.#failing) {
        this.#options.logger.info({ dropped: this.#droppedInOutage }, 'request captures are written again');
        this.#failing = false;
        this.#droppedInOutage = 0;
      }
    });
  }

  expire(): Promise<void> {
    return this.#serially(async () => {
      try {
        const deleted = await this.#options.deleteExpired(new Date().toISOString());
        if (deleted > 0) this.#options.logger.debug({ deleted }, 'deleted expired request captures');
      } catch (error) {
        this.#options.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'deleting expired request captures failed; retried later');
      }
    });
  }

  /** At shutdown, after the gateway stopped answering: the captures of every finished exchange are written (one try). */
  async close(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    await this.flush();
    this.#closed = true;
    if (this.#queue.length === 0) return;
    this.#options.logger.warn({ dropped: this.#queue.length }, 'request captures could not be written before stopping and are lost');
    this.dropped += this.#queue.length;
    this.#queue = [];
    this.#queuedBytes = 0;
  }

  #serially(task: () => Promise<void>): Promise<void> {
    this.#running = this.#running.then(task);
    return this.#running;
  }

  #bound(): void {
    let over = Math.max(0, this.#queue.length - this.#maxQueued);
    let bytes = this.#queuedBytes - sealedBytes(this.#queue.slice(0, over));
    // The newest capture stays even alone over the bytes: it is under the bound unless the operator set it below
    // one capture's size.
    while (bytes > this.#maxQueuedBytes && over < this.#queue.length - 1) bytes -= this.#queue[over++]!.sealed.length;
    if (over === 0) return;
    this.#queue.splice(0, over);
    this.#queuedBytes = bytes;
    this.#drop(over);
  }

  #drop(count: number): void {
    // The first drop of an outage is said at once; the rest are counted into the line saying it ended.
    if (this.#droppedInOutage === 0) this.#options.logger.warn({ dropped: count, max: this.#maxQueued, maxBytes: this.#maxQueuedBytes }, 'request captures dropped: the store has not taken them and the queue is full (captures are debugging data, not usage)');
    this.#droppedInOutage += count;
    this.dropped += count;
  }
}

function sealedBytes(rows: readonly RequestCaptureRow[]): number {
  let bytes = 0;
  for (const row of rows) bytes += row.sealed.length;
  return bytes;
}
