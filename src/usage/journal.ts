// The gateway's usage sink: a local journal (journal-file.ts) in front of the store. An attempt is noted as
// begun before its upstream request is sent, and its final event is written when it is metered; both are
// batched per event-loop tick (one transaction, one shared promise per batch). A shipper then moves finished
// events to the store in idempotent batches and deletes them from the journal only after the store commit,
// retrying with backoff while the store is unreachable. See docs/decisions/usage-durability.md.
import type { Logger } from 'pino';
import type { BegunAttempt, UsageEvent, UsageSink } from './event.ts';
import { JournalFile } from './journal-file.ts';

export type UsageWriter = (events: readonly UsageEvent[]) => Promise<void>;

export interface UsageJournalOptions {
  /** Journal file (siblings `.1`, `.2`, … are used when it is held by another process). */
  path: string;
  /** Idempotent on event id (insertUsageEvents): a batch may be written again after an ambiguous failure. */
  write: UsageWriter;
  logger?: Pick<Logger, 'warn' | 'info' | 'error'>;
  /** Shipping period while events wait (default 100 ms). */
  intervalMs?: number;
  maxBatch?: number;
  /** Longest wait between retries of a failing store write (default 5 s). */
  maxBackoffMs?: number;
}

export class UsageJournal implements UsageSink {
  readonly #file: JournalFile;
  readonly #write: UsageWriter;
  readonly #logger: Pick<Logger, 'warn' | 'info' | 'error'> | undefined;
  readonly #intervalMs: number;
  readonly #maxBatch: number;
  readonly #maxBackoffMs: number;

  #begun: BegunAttempt[] = [];
  #finished: UsageEvent[] = [];
  /** The pending tick's commit; every begin() of the tick shares it. */
  #tick: Promise<void> | undefined;
  #tickFailures = 0;

  /** Finished events not yet confirmed in the store: count, and cost per account (for the credit ledger). */
  #unshippedCount = 0;
  readonly #unshippedPico = new Map<string, bigint>();

  /** Serialises store writes with fenced balance reads (exclusive()). */
  #lock: Promise<unknown> = Promise.resolve();
  #shipping: Promise<number> | undefined;
  #shipTimer: NodeJS.Timeout | undefined;
  #shipFailures = 0;
  #closed = false;

  constructor(options: UsageJournalOptions) {
    this.#file = JournalFile.open(options.path);
    this.#write = options.write;
    this.#logger = options.logger;
    this.#intervalMs = options.intervalMs ?? 100;
    this.#maxBatch = options.maxBatch ?? 500;
    this.#maxBackoffMs = options.maxBackoffMs ?? 5000;
    // What a previous run (or a dead neighbour) left: its events still count against balances until shipped.
    for (const row of this.#file.unshipped()) this.#count(row.accountId, row.costPico);
    if (this.#unshippedCount > 0) {
      this.#logger?.info({ events: this.#unshippedCount, journal: this.#file.path }, 'usage journal: shipping events left by a previous run');
      this.#scheduleShip(0);
    }
  }

  get path(): string {
    return this.#file.path;
  }

  /** Finished events waiting for the store. */
  get pending(): number {
    return this.#unshippedCount;
  }

  /** Cost of this account's events recorded here but not yet in the store. */
  unshippedPico(accountId: string): bigint {
    return this.#unshippedPico.get(accountId) ?? 0n;
  }

  /**
   * Runs `fn` while no shipment is in flight: a balance read inside sees exactly the events shipped so far,
   * so `store balance − unshippedPico()` counts every recorded event once.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn);
    this.#lock = run.catch(() => {});
    return run;
  }

  begin(attempt: BegunAttempt): Promise<void> {
    this.#begun.push(attempt);
    return this.#commitSoon();
  }

  record(event: UsageEvent): void {
    this.#finished.push(event);
    this.#count(event.accountId, event.costPico);
    void this.#commitSoon();
  }

  async flush(): Promise<void> {
    for (;;) {
      if (this.#tick) { await this.#tick; continue; }
      if (this.#shipping) { await this.#shipping; continue; }
      if (this.#unshippedCount === 0) return;
      const shipped = await this.#ship();
      // A failed write backs off; an empty read means rows still wait in memory (a failed journal write).
      if (shipped <= 0) await new Promise((resolve) => setTimeout(resolve, shipped < 0 ? this.#backoff() : this.#intervalMs));
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    // Metering runs on setImmediate after an answer completes: let the last ones record first.
    await new Promise((resolve) => setImmediate(resolve));
    await this.flush();
    if (this.#shipTimer) clearTimeout(this.#shipTimer);
    this.#shipTimer = undefined;
    this.#file.close();
  }

  #count(accountId: string, pico: bigint): void {
    this.#unshippedCount++;
    if (pico !== 0n) this.#unshippedPico.set(accountId, (this.#unshippedPico.get(accountId) ?? 0n) + pico);
  }

  #uncount(accountId: string, pico: bigint): void {
    this.#unshippedCount--;
    if (pico === 0n) return;
    const left = (this.#unshippedPico.get(accountId) ?? 0n) - pico;
    if (left === 0n) this.#unshippedPico.delete(accountId);
    else this.#unshippedPico.set(accountId, left);
  }

  #commitSoon(): Promise<void> {
    // setImmediate: every attempt that began in this turn of the loop joins the same transaction.
    this.#tick ??= new Promise<void>((resolve) => setImmediate(() => this.#commit(resolve)));
    return this.#tick;
  }

  #commit(resolve: () => void): void {
    const begun = this.#begun;
    const finished = this.#finished;
    this.#begun = [];
    this.#finished = [];
    this.#tick = undefined;
    try {
      this.#file.write(begun, finished);
      this.#tickFailures = 0;
      if (finished.length > 0) this.#scheduleShip(this.#unshippedCount >= this.#maxBatch ? 0 : this.#intervalMs);
    } catch (error) {
      // A broken disk must not stop traffic: keep the rows in memory and try again (logged once per streak).
      this.#begun = begun.concat(this.#begun);
      this.#finished = finished.concat(this.#finished);
      if (this.#tickFailures++ === 0) this.#logger?.error({ err: error instanceof Error ? error.message : String(error) }, 'usage journal write failed; retrying');
      setTimeout(() => void this.#commitSoon(), Math.min(this.#maxBackoffMs, 10 * 2 ** Math.min(this.#tickFailures, 10))).unref();
    }
    resolve();
  }

  #backoff(): number {
    return Math.min(this.#maxBackoffMs, this.#intervalMs * 2 ** Math.min(this.#shipFailures, 10));
  }

  #scheduleShip(delay: number): void {
    if (this.#shipTimer || this.#shipping || this.#closed) return;
    this.#shipTimer = setTimeout(() => {
      this.#shipTimer = undefined;
      void this.#ship();
    }, delay);
    // Waiting events must not keep a stopping process alive; close() drains explicitly.
    this.#shipTimer.unref();
  }

  /** Ships one batch from the journal to the store; resolves to the events shipped, −1 on failure. Never rejects. */
  #ship(): Promise<number> {
    if (this.#shipping) return this.#shipping;
    const shipping = this.exclusive(async () => {
      const batch = this.#file.finishedBatch(this.#maxBatch);
      if (batch.length === 0) return 0;
      try {
        await this.#write(batch);
      } catch (error) {
        if (this.#shipFailures++ === 0) {
          this.#logger?.warn({ err: error instanceof Error ? error.message : String(error), pending: this.#unshippedCount }, 'usage shipping failed; the journal keeps the events and retries');
        }
        return -1;
      }
      // Only after the store committed: a crash before this line ships the batch again, a no-op there.
      this.#file.remove(batch.map((e) => e.id));
      for (const e of batch) this.#uncount(e.accountId, e.costPico);
      if (this.#shipFailures > 0) this.#logger?.info({ pending: this.#unshippedCount }, 'usage shipping resumed');
      this.#shipFailures = 0;
      return batch.length;
    }).catch((error: unknown) => {
      this.#logger?.error({ err: error instanceof Error ? error.message : String(error) }, 'usage journal read failed');
      return -1;
    });
    this.#shipping = shipping.then((shipped) => {
      this.#shipping = undefined;
      if (this.#unshippedCount > 0) this.#scheduleShip(shipped < 0 ? this.#backoff() : this.#unshippedCount >= this.#maxBatch ? 0 : this.#intervalMs);
      return shipped;
    });
    return this.#shipping;
  }
}
