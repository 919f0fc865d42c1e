// The gateway's usage sink: a local journal (journal-file.ts) in front of the store. An attempt is noted as
// begun before its upstream request is sent (batched per event-loop tick: one transaction, one shared promise),
// and its final event is written when it is metered (joining the next begin commit, or within FINISH_WINDOW_MS).
// A shipper then moves finished events to the store in idempotent batches — from memory, the journal being the
// copy that survives a crash — and deletes them from the journal only after the store commit, retrying with
// backoff while the store is unreachable. See docs/decisions/usage-durability.md.
import type { Logger } from 'pino';
import type { BegunAttempt, UsageEvent, UsageSink } from './event.ts';
import { JournalFile, type FinishedBatch } from './journal-file.ts';
import { appendDurably, REFUSED_SUFFIX, refusedLine } from './refused-file.ts';

export type UsageWriter = (events: readonly UsageEvent[]) => Promise<void>;

export interface UsageJournalOptions {
  /** Journal file (siblings `.1`, `.2`, … are used when it is held by another process). */
  path: string;
  /** The deployment (its database) the events belong to: slots holding another's are left alone (journal-file.ts). */
  owner?: string;
  /** Idempotent on event id (insertUsageEvents): a batch may be written again after an ambiguous failure. */
  write: UsageWriter;
  logger?: Pick<Logger, 'warn' | 'info' | 'error'>;
  /** Shipping period while events wait (default 100 ms). */
  intervalMs?: number;
  maxBatch?: number;
  /** Longest wait between retries of a failing store write (default 5 s). */
  maxBackoffMs?: number;
  /** Finished events kept in memory for shipping (default 50,000); beyond it (a long store outage) shipping reads the file. */
  memoryQueueEvents?: number;
  /** Size of the log's segments (default 8 MiB; tests use small ones to rotate often). */
  segmentBytes?: number;
  /**
   * How long close() keeps trying a store that takes no shipment, once the journal file holds every event (default
   * 10 s): a database gone silent must not keep a stopping process alive; the next start on the file ships them.
   * A store that keeps taking shipments (a backlog draining) is waited for.
   */
  closeShippingMs?: number;
  /**
   * Whether a failed write was the store refusing rows (bad data, a constraint: the same rows fail again, forever)
   * rather than the store being unreachable. Such a shipment is split until the events the store refuses on their own
   * are found; those are set aside in `<journal>.refused.jsonl` and logged, and the rest ship — one bad event must not
   * hold back every event after it. Default: no failure is a refusal (every shipment is retried as it is).
   */
  isRefusal?: (error: unknown) => boolean;
  /**
   * How often the journal looks for sibling slots no live process holds — a gateway beside it that died and was not
   * started again — and adopts their events and orphans (default 60 s; see adoptSiblings).
   */
  adoptIntervalMs?: number;
}

/** `count` distinct indexes below `n` (all of them when fewer), in random order. */
function randomPicks(n: number, count: number): number[] {
  const indexes = Array.from({ length: n }, (_, i) => i);
  const picks = Math.min(n, count);
  for (let i = 0; i < picks; i++) {
    const j = i + Math.floor(Math.random() * (n - i));
    [indexes[i], indexes[j]] = [indexes[j]!, indexes[i]!];
  }
  return indexes.slice(0, picks);
}

/** Events of a refused shipment tried alone, picked at random, to see whether the store takes any row at all. */
const REFUSAL_SAMPLES = 8;

/** Longest a finished event waits for a begin commit to join before it is committed on its own. */
const FINISH_WINDOW_MS = 2;

export class UsageJournal implements UsageSink {
  readonly #file: JournalFile;
  readonly #write: UsageWriter;
  readonly #logger: Pick<Logger, 'warn' | 'info' | 'error'> | undefined;
  readonly #intervalMs: number;
  readonly #maxBatch: number;
  readonly #maxBackoffMs: number;
  readonly #memoryQueueEvents: number;

  #begun: BegunAttempt[] = [];
  #finished: UsageEvent[] = [];
  /** The pending begin commit; every begin() of the tick shares it. */
  #tick: Promise<void> | undefined;
  #finishTimer: NodeJS.Timeout | undefined;
  #tickFailures = 0;
  #retryTimer: NodeJS.Timeout | undefined;

  /** Begun row of each attempt not yet finished, and how many of each row's attempts are still open. */
  readonly #begunRowOf = new Map<string, number>();
  readonly #openInRow = new Map<number, number>();
  /** Begun rows whose last open attempts' events went straight to the store (#storeUnjournaled): the next commit releases them. */
  #releasable: number[] = [];
  /** #storeUnjournaled said so since the journal last took a write (said once per streak, not per shipment). */
  #straightSaid = false;
  /** Events #storeUnjournaled took out of #finished and is writing: held only in memory until the store has them. */
  #straightInFlight = 0;

  /** Committed finished rows not yet shipped, oldest first, while they fit in memory. */
  #queue: FinishedBatch[] = [];
  #queuedEvents = 0;
  /** Some committed rows are only on disk (start-up leftovers, or the memory queue overflowed): ship from the file. */
  #spilled = false;
  /** Shipped rows whose deletion from the file failed: never shipped (and uncounted) twice. */
  readonly #shippedRows = new Set<number>();

  /** Finished events not yet confirmed in the store: count, and cost per account (for the credit ledger). */
  #unshippedCount = 0;
  readonly #unshippedPico = new Map<string, bigint>();
  /**
   * Per account: how many of its events were counted and uncounted (shipped, or set aside) so far, and who waits for
   * the first `target` to be uncounted (whenShipped). Entries stay, as #accountWrites' do (no allocation per shipment).
   */
  readonly #shipmentsOf = new Map<string, { counted: number; uncounted: number; waiting: { target: number; resolve: () => void }[] }>();

  /**
   * Per account, store writes carrying its events begun plus ended: odd while one runs (balanceBetweenShipments).
   * Entries stay (an account's counter going back to absent would look unchanged to a read across it).
   */
  readonly #accountWrites = new Map<string, number>();
  /** Serialises store writes with fenced balance reads (exclusive()). */
  #lock: Promise<unknown> = Promise.resolve();
  #shipping: Promise<number> | undefined;
  #shipTimer: NodeJS.Timeout | undefined;
  #shipFailures = 0;
  #closed = false;
  /** close() stopped waiting for the store: the file is closed, and the rows still in it are left for the next start. */
  #abandoned = false;
  readonly #closeShippingMs: number;
  readonly #isRefusal: (error: unknown) => boolean;
  #refused = 0;
  /** When the store last took a shipment (performance.now()). */
  #shippedAt = 0;
  /**
   * Finished rows found in the file at start and not shipped since. The previous run may have died after the store
   * committed them and before they were marked shipped: until they ship again (the store ignoring them), a balance
   * read counts them twice (in the store and as unshipped). Whoever read one is told when they have shipped.
   */
  readonly #leftoverRows = new Set<number>();
  readonly #leftoverListeners = new Set<(accounts: ReadonlySet<string>) => void>();
  #adoptTimer: NodeJS.Timeout | undefined;

  constructor(options: UsageJournalOptions) {
    // Before the file opens: what it meets while recovering and adopting (an undeletable file) is reported too.
    this.#logger = options.logger;
    this.#file = JournalFile.open(options.path, {
      ...(options.segmentBytes !== undefined ? { segmentBytes: options.segmentBytes } : {}),
      // Only attempts still open are carried out of an old segment (the rest are settled or being settled).
      isOpen: (attemptId) => this.#begunRowOf.has(attemptId),
      report: (message, details) => this.#logger?.error(details, message),
      ...(options.owner !== undefined ? { owner: options.owner } : {}),
    });
    this.#write = options.write;
    this.#intervalMs = options.intervalMs ?? 100;
    this.#maxBatch = options.maxBatch ?? 500;
    this.#maxBackoffMs = options.maxBackoffMs ?? 5000;
    this.#memoryQueueEvents = options.memoryQueueEvents ?? 50_000;
    this.#closeShippingMs = options.closeShippingMs ?? 10_000;
    this.#isRefusal = options.isRefusal ?? (() => false);
    if (this.#file.skippedLines > 0) {
      this.#logger?.error({ lines: this.#file.skippedLines, journal: this.#file.path }, 'usage journal: lines that could not be read were skipped (damaged disk?)');
    }
    // What a previous run (or a dead neighbour) left: its events still count against balances until shipped.
    for (const batch of this.#file.finishedBatches(Number.MAX_SAFE_INTEGER)) {
      this.#leftoverRows.add(batch.seq);
      for (const event of batch.events) this.#count(event.accountId, event.costPico);
    }
    if (this.#unshippedCount > 0) {
      this.#spilled = true;
      this.#logger?.info({ events: this.#unshippedCount, journal: this.#file.path }, 'usage journal: shipping events left by a previous run');
      this.#scheduleShip(0);
    }
    if (this.#file.path !== ':memory:') {
      this.#adoptTimer = setInterval(() => this.adoptSiblings(), options.adoptIntervalMs ?? 60_000);
      this.#adoptTimer.unref();
    }
  }

  get path(): string {
    return this.#file.path;
  }

  /** Finished events waiting for the store. */
  get pending(): number {
    return this.#unshippedCount;
  }

  /** Events the store refused that were set aside (`<journal>.refused.jsonl`) since this journal opened. */
  get refused(): number {
    return this.#refused;
  }

  /**
   * `listener` hears the accounts of start-up leftover events each time some of them have shipped: a balance read
   * before that may have counted them twice (see #leftoverRows), and should be read again.
   */
  onLeftoversShipped(listener: (accounts: ReadonlySet<string>) => void): () => void {
    this.#leftoverListeners.add(listener);
    return () => this.#leftoverListeners.delete(listener);
  }

  /**
   * Adopts the slots of gateways that died beside this one since it opened (run every adoptIntervalMs): their events
   * count against balances from now on and ship as this journal's own. The number of events adopted.
   */
  adoptSiblings(): number {
    if (this.#closed) return 0;
    const skipped = this.#file.skippedLines;
    let adopted = 0;
    for (const { slot, batch, orphans } of this.#file.adoptSiblings()) {
      // The dead process may have stored them and died before marking them shipped, as with a previous run's.
      this.#leftoverRows.add(batch.seq);
      for (const event of batch.events) this.#count(event.accountId, event.costPico);
      this.#enqueue(batch);
      adopted += batch.events.length;
      this.#logger?.info({ events: batch.events.length - orphans, orphans, slot, journal: this.#file.path }, "usage journal: adopted a stopped gateway's journal slot; shipping its events");
    }
    if (this.#file.skippedLines > skipped) {
      this.#logger?.error({ lines: this.#file.skippedLines - skipped, journal: this.#file.path }, 'usage journal: lines that could not be read were skipped (damaged disk?)');
    }
    if (adopted > 0) this.#scheduleShip(0);
    return adopted;
  }

  /** Cost of this account's events recorded here but not yet in the store. */
  unshippedPico(accountId: string): bigint {
    return this.#unshippedPico.get(accountId) ?? 0n;
  }

  /**
   * Resolves once every event of the account recorded so far is in the store (or set aside), later ones aside;
   * undefined when none is unshipped. Events ship in the order they were recorded.
   */
  whenShipped(accountId: string): Promise<void> | undefined {
    const shipments = this.#shipmentsOf.get(accountId);
    if (!shipments || shipments.uncounted >= shipments.counted) return undefined;
    return new Promise<void>((resolve) => shipments.waiting.push({ target: shipments.counted, resolve }));
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

  /**
   * `read()` (the store's balance) less this account's unshipped cost, without waiting behind shipments as
   * exclusive() would: undefined when a store write carrying this account's events began or ended meanwhile (the
   * figure might count one twice or not at all), for the caller to try again. A gauge reading every account each
   * minute must not hold shipping up, and other accounts' shipments do not concern it.
   */
  async balanceBetweenShipments(accountId: string, read: () => Promise<bigint>): Promise<bigint | undefined> {
    const before = this.#accountWrites.get(accountId) ?? 0;
    if (before % 2 === 1) return undefined;
    const stored = await read();
    return (this.#accountWrites.get(accountId) ?? 0) === before ? stored - this.unshippedPico(accountId) : undefined;
  }

  /** `write` of `events` to the store, with their accounts' write counters odd while it runs (and its uncounting). */
  async #storeWrite<T>(events: readonly UsageEvent[], write: () => Promise<T>): Promise<T> {
    const accounts = new Set(events.map((e) => e.accountId));
    const bump = (): void => { for (const a of accounts) this.#accountWrites.set(a, (this.#accountWrites.get(a) ?? 0) + 1); };
    bump();
    try {
      return await write();
    } finally {
      bump();
    }
  }

  begin(attempt: BegunAttempt): Promise<void> {
    this.#begun.push(attempt);
    // setImmediate: every attempt that began in this turn of the loop joins the same transaction.
    this.#tick ??= new Promise<void>((resolve) => setImmediate(() => { this.#commit(); resolve(); }));
    return this.#tick;
  }

  record(event: UsageEvent): void {
    this.#finished.push(event);
    this.#count(event.accountId, event.costPico);
    // Under load a begin commit comes first and takes this event along; when idle, the timer commits it.
    if (!this.#tick && !this.#finishTimer) this.#finishTimer = setTimeout(() => this.#commit(), FINISH_WINDOW_MS);
  }

  async flush(): Promise<void> {
    for (;;) {
      if (this.#abandoned) return;
      if (this.#begun.length > 0 || this.#finished.length > 0) {
        this.#commit();
        // Stopping while the journal refuses writes (disk full or failed): these events exist only in memory, and a
        // supervisor's SIGKILL would take them — they go straight to the store instead.
        if (this.#tickFailures > 0 && this.#closed && this.#finished.length > 0 && await this.#storeUnjournaled()) continue;
        // A failing disk: give it the commit backoff rather than spinning.
        await new Promise((resolve) => (this.#tickFailures > 0 ? setTimeout(resolve, this.#backoff()) : setImmediate(resolve)));
        continue;
      }
      if (this.#shipping) { await this.#shipping; continue; }
      if (this.#unshippedCount === 0) {
        // Rows shipped while the disk refused their deletion: a last try, so a restart does not count them again.
        if (this.#shippedRows.size > 0) this.#removeRows([...this.#shippedRows]);
        // Begun rows settled in the store alone: released if the disk takes it now; else the next start makes copies of
        // their events, which the store ignores (same ids).
        if (this.#releasable.length > 0) this.#commit();
        return;
      }
      const shipped = await this.#ship();
      // A failed write backs off; an empty read means rows still wait in memory (a failed journal write).
      if (shipped <= 0) await new Promise((resolve) => setTimeout(resolve, shipped < 0 ? this.#backoff() : this.#intervalMs));
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#adoptTimer);
    // Metering runs on setImmediate after an answer completes: let the last ones record first.
    await new Promise((resolve) => setImmediate(resolve));
    if (!(await this.#flushWithin(this.#closeShippingMs))) {
      this.#abandoned = true;
      this.#logger?.warn({ events: this.#unshippedCount, journal: this.#file.path }, 'usage events the store did not take in time were left in the journal; the next start on this journal ships them');
    }
    for (const timer of [this.#shipTimer, this.#finishTimer, this.#retryTimer]) if (timer) clearTimeout(timer);
    this.#shipTimer = this.#finishTimer = this.#retryTimer = undefined;
    this.#file.close();
  }

  /**
   * flush(), given up after `ms` once every event is in the journal file (true when it finished). Events only in
   * memory (a failing disk) are waited for however long it takes: a stop now would lose them.
   */
  #flushWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const since = performance.now();
    const giveUp = new Promise<boolean>((resolve) => {
      const check = (): void => {
        const idle = performance.now() - Math.max(since, this.#shippedAt);
        // Whether the disk takes writes does not matter once nothing is held only in memory: with a full disk and a
        // journaled event the store does not take (silent, or refusing it alone), the stop waited for good.
        if (idle >= ms && this.#begun.length === 0 && this.#finished.length === 0 && this.#straightInFlight === 0) resolve(false);
        else timer = setTimeout(check, Math.max(100, ms - idle));
      };
      timer = setTimeout(check, ms);
    });
    return Promise.race([this.flush().then(() => true), giveUp]).finally(() => clearTimeout(timer));
  }

  /**
   * Writes the finished events the journal could not take directly to the store; true once they are there. Their
   * begun rows are released by the next commit the disk takes; until then (or if the process dies first) such a row
   * comes back at the next start as an `unknown` event with the same id, which the store ignores.
   */
  #storeUnjournaled(): Promise<boolean> {
    return this.exclusive(async () => {
      // Taken out before the await: a retry commit meanwhile must not journal (and later ship and uncount) them too.
      const events = this.#finished;
      this.#finished = [];
      if (events.length === 0) return true;
      this.#straightInFlight += events.length;
      const written = await this.#storeWrite(events, async () => {
        try {
          await this.#write(events);
        } catch (error) {
          this.#finished = events.concat(this.#finished);
          // Counted as a failed shipment: the retries back off (#backoff) and the error is logged once per streak.
          if (this.#shipFailures++ === 0) {
            this.#logger?.error({ err: error instanceof Error ? error.message : String(error), events: events.length }, 'usage journal unwritable, and the store refused its events too; retrying');
          }
          return false;
        }
        for (const e of events) this.#uncount(e.accountId, e.costPico);
        return true;
      }).finally(() => { this.#straightInFlight -= events.length; });
      if (!written) return false;
      const stored = new Set(events.map((e) => e.id));
      this.#begun = this.#begun.filter((b) => !stored.has(b.id));
      for (const e of events) this.#settledInStore(e.id);
      this.#shipFailures = 0;
      if (!this.#straightSaid) {
        this.#straightSaid = true;
        this.#logger?.warn({ events: events.length }, 'usage journal unwritable: events written straight to the store until it takes writes again');
      }
      return true;
    });
  }

  /** An attempt whose final event is in the store but not in the journal: its begun row no longer waits for it. */
  #settledInStore(attemptId: string): void {
    const seq = this.#begunRowOf.get(attemptId);
    if (seq === undefined) return;
    this.#begunRowOf.delete(attemptId);
    const open = this.#openInRow.get(seq)! - 1;
    if (open > 0) {
      this.#openInRow.set(seq, open);
      return;
    }
    this.#openInRow.delete(seq);
    this.#releasable.push(seq);
  }

  #count(accountId: string, pico: bigint): void {
    this.#unshippedCount++;
    let shipments = this.#shipmentsOf.get(accountId);
    if (!shipments) this.#shipmentsOf.set(accountId, shipments = { counted: 0, uncounted: 0, waiting: [] });
    shipments.counted++;
    if (pico !== 0n) this.#unshippedPico.set(accountId, (this.#unshippedPico.get(accountId) ?? 0n) + pico);
  }

  #uncount(accountId: string, pico: bigint): void {
    this.#unshippedCount--;
    const shipments = this.#shipmentsOf.get(accountId);
    if (shipments) {
      shipments.uncounted++;
      // Targets only grow (counts do): the waiters are in target order.
      while (shipments.waiting.length > 0 && shipments.waiting[0]!.target <= shipments.uncounted) shipments.waiting.shift()!.resolve();
    }
    if (pico === 0n) return;
    const left = (this.#unshippedPico.get(accountId) ?? 0n) - pico;
    if (left === 0n) this.#unshippedPico.delete(accountId);
    else this.#unshippedPico.set(accountId, left);
  }

  #commit(): void {
    this.#tick = undefined;
    if (this.#finishTimer) { clearTimeout(this.#finishTimer); this.#finishTimer = undefined; }
    let begun = this.#begun;
    const finished = this.#finished;
    if (begun.length === 0 && finished.length === 0 && this.#releasable.length === 0) return;
    this.#begun = [];
    this.#finished = [];
    // Begun rows whose last open attempt finishes in this commit go in the same transaction.
    let released: number[] | undefined = this.#releasable.length > 0 ? [...this.#releasable] : undefined;
    let closing: Map<number, number> | undefined;
    let unbegun: Set<string> | undefined;
    for (const e of finished) {
      const seq = this.#begunRowOf.get(e.id);
      if (seq === undefined) {
        if (begun.length > 0) (unbegun ??= new Set()).add(e.id);
        continue;
      }
      closing ??= new Map();
      const open = (closing.get(seq) ?? this.#openInRow.get(seq)!) - 1;
      closing.set(seq, open);
      if (open === 0) (released ??= []).push(seq);
    }
    // An attempt's begin and its final event can meet here: after a failed commit, or when its begin was not awaited
    // (a realtime transcription committed and reported in one read). The event alone is enough: a begun row written with it would
    // never be released, kept for the life of the process and recovered again, as `unknown`, at the next start.
    if (unbegun) begun = begun.filter((b) => !unbegun.has(b.id));
    try {
      const written = this.#file.write(begun, finished, released);
      this.#tickFailures = 0;
      this.#straightSaid = false;
      if (released !== undefined && this.#releasable.length > 0) this.#releasable = [];
      if (written.begunSeq !== undefined) {
        this.#openInRow.set(written.begunSeq, begun.length);
        for (const b of begun) this.#begunRowOf.set(b.id, written.begunSeq);
      }
      if (closing) {
        for (const e of finished) this.#begunRowOf.delete(e.id);
        for (const [seq, open] of closing) {
          if (open === 0) this.#openInRow.delete(seq);
          else this.#openInRow.set(seq, open);
        }
      }
      if (written.finishedSeq !== undefined) {
        this.#enqueue({ seq: written.finishedSeq, events: finished });
        this.#scheduleShip(this.#unshippedCount >= this.#maxBatch ? 0 : this.#intervalMs);
      }
    } catch (error) {
      // A broken disk must not stop traffic: keep the rows in memory and try again (logged once per streak).
      this.#begun = begun.concat(this.#begun);
      this.#finished = finished.concat(this.#finished);
      if (this.#tickFailures++ === 0) this.#logger?.error({ err: error instanceof Error ? error.message : String(error) }, 'usage journal write failed; retrying');
      this.#retryTimer ??= setTimeout(() => { this.#retryTimer = undefined; this.#commit(); }, Math.min(this.#maxBackoffMs, 10 * 2 ** Math.min(this.#tickFailures, 10)));
      this.#retryTimer.unref();
      // Held in memory until the disk is back, finished events would be lost to any crash meanwhile (a kill -9, the OOM
      // killer): the shipper writes them straight to the store (#ship).
      if (this.#finished.length > 0) this.#scheduleShip(this.#intervalMs);
    }
  }

  #enqueue(batch: FinishedBatch): void {
    if (this.#spilled) return;
    if (this.#queuedEvents + batch.events.length > this.#memoryQueueEvents) {
      // Everything queued is also in the file: drop the memory copy and read the file until it is drained.
      this.#spill();
      return;
    }
    this.#queue.push(batch);
    this.#queuedEvents += batch.events.length;
  }

  #spill(): void {
    this.#spilled = true;
    this.#queue = [];
    this.#queuedEvents = 0;
  }

  /** The next shipment: from memory, or from the file while it holds rows memory does not. */
  #nextBatches(): FinishedBatch[] {
    if (this.#shippedRows.size > 0) this.#removeRows([...this.#shippedRows]);
    // Safety net: events counted as unshipped that are neither in memory nor being committed are in the file.
    if (!this.#spilled && this.#queue.length === 0 && this.#finished.length === 0 && this.#unshippedCount > 0) this.#spill();
    if (this.#spilled) return this.#fileBatches();
    const out: FinishedBatch[] = [];
    let events = 0;
    while (this.#queue.length > 0 && (out.length === 0 || events + this.#queue[0]!.events.length <= this.#maxBatch)) {
      const batch = this.#queue.shift()!;
      out.push(batch);
      events += batch.events.length;
    }
    this.#queuedEvents -= events;
    return out;
  }

  /**
   * Up to maxBatch events of committed rows read from the file, skipping rows already shipped whose removal
   * failed. A read that reaches the end of the file ends the spill: later rows queue in memory again.
   */
  #fileBatches(): FinishedBatch[] {
    const out: FinishedBatch[] = [];
    let events = 0;
    let afterSeq = 0;
    while (events < this.#maxBatch) {
      const wanted = this.#maxBatch - events;
      const read = this.#file.finishedBatches(wanted, afterSeq);
      let readEvents = 0;
      for (const batch of read) {
        readEvents += batch.events.length;
        afterSeq = batch.seq;
        if (this.#shippedRows.has(batch.seq)) continue;
        out.push(batch);
        events += batch.events.length;
      }
      // Fewer than asked for (counting skipped rows): nothing committed lies beyond.
      if (readEvents < wanted) {
        this.#spilled = false;
        break;
      }
    }
    return out;
  }

  #removeRows(seqs: number[]): void {
    try {
      this.#file.remove(seqs);
      for (const seq of seqs) this.#shippedRows.delete(seq);
    } catch (error) {
      // Shipped, but still in the file: remembered so they are not shipped again (a restart would, idempotently).
      for (const seq of seqs) this.#shippedRows.add(seq);
      this.#logger?.error({ err: error instanceof Error ? error.message : String(error) }, 'usage journal cleanup failed');
    }
  }

  /** A shipment failed: its rows wait again, in memory when they came from there. */
  #putBack(batches: FinishedBatch[], fromFile: boolean): void {
    if (fromFile) { this.#spill(); return; }
    if (this.#spilled) return;
    this.#queue = batches.concat(this.#queue);
    this.#queuedEvents += batches.reduce((n, b) => n + b.events.length, 0);
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

  /**
   * After the store refused `events` (`refusal`): ships them in halves, down to single events, and sets aside those the
   * store refuses alone — but only when it takes others: a store that refuses every row (a partition not made yet, a
   * broken trigger) is failing, and its events wait for it as for an outage. A few of its events picked at random,
   * tried one by one first, tell the two apart. False, and the shipment is retried whole (the store ignores the events
   * it already took), when the store took none of them, stopped answering meanwhile, the journal was abandoned (a stop
   * gave up), or the refused could not be kept on disk.
   */
  async #shipAround(events: readonly UsageEvent[], refusal: unknown): Promise<boolean> {
    let refused: { event: UsageEvent; error: unknown }[] = [];
    let accepted = 0;
    const ship = async (part: readonly UsageEvent[]): Promise<boolean> => {
      try {
        await this.#write(part);
      } catch (error) {
        return this.#isRefusal(error) && await split(part, error);
      }
      accepted += part.length;
      // A stop waiting for the store sees it taking shipments.
      this.#shippedAt = performance.now();
      return true;
    };
    // `part` was refused as a whole: a single event is set aside, more are shipped in halves.
    const split = async (part: readonly UsageEvent[], error: unknown): Promise<boolean> => {
      if (part.length === 1) {
        refused.push({ event: part[0]!, error });
        return true;
      }
      const half = Math.ceil(part.length / 2);
      return await ship(part.slice(0, half)) && await ship(part.slice(half));
    };
    // At random, so no arrangement of refused events (one tenant's, or those at fixed places) looks like a failing
    // store on every retry.
    for (const i of randomPicks(events.length, REFUSAL_SAMPLES)) {
      if (!(await ship([events[i]!]))) return false;
      if (accepted > 0) break;
    }
    if (accepted === 0) return false;
    // The split finds the sampled refusals again.
    refused = [];
    if (!(await split(events, refusal)) || this.#abandoned) return false;
    if (refused.length === 0) return true;
    const file = `${this.#file.path}${REFUSED_SUFFIX}`;
    try {
      appendDurably(file, refused.map(({ event }) => refusedLine(event)).join(''));
    } catch (error) {
      this.#logger?.error({ err: error instanceof Error ? error.message : String(error), events: refused.length }, 'usage events the store refused could not be set aside; they stay in the journal and are tried again');
      return false;
    }
    this.#refused += refused.length;
    for (const { event, error } of refused) {
      this.#logger?.error({ eventId: event.id, accountId: event.accountId, err: error instanceof Error ? error.message : String(error), file }, 'the store refused a usage event: it is set aside in the file named here, and the events after it ship');
    }
    return true;
  }

  #leftoversShipped(batches: readonly FinishedBatch[]): void {
    const accounts = new Set<string>();
    for (const batch of batches) {
      if (!this.#leftoverRows.delete(batch.seq)) continue;
      for (const e of batch.events) accounts.add(e.accountId);
    }
    if (accounts.size === 0) return;
    for (const listener of this.#leftoverListeners) listener(accounts);
  }

  /** Ships one batch to the store; resolves to the events shipped (1 for events held only in memory), −1 on failure. Never rejects. */
  #ship(): Promise<number> {
    if (this.#shipping) return this.#shipping;
    // The journal refuses writes: events held only in memory go first, straight to the store.
    const shipping = this.#tickFailures > 0 && this.#finished.length > 0 ? this.#storeUnjournaled().then((stored) => (stored ? 1 : -1)) : this.#shipJournaled();
    this.#shipping = shipping.then((shipped) => {
      this.#shipping = undefined;
      if (this.#unshippedCount > 0) this.#scheduleShip(shipped < 0 ? this.#backoff() : this.#unshippedCount >= this.#maxBatch ? 0 : this.#intervalMs);
      return shipped;
    });
    return this.#shipping;
  }

  /** The next shipment of journaled rows: the events shipped, -1 on failure. Never rejects. */
  #shipJournaled(): Promise<number> {
    return this.exclusive(async () => {
      const fromFile = this.#spilled;
      const batches = this.#nextBatches();
      if (batches.length === 0) return 0;
      const events = batches.length === 1 ? batches[0]!.events : batches.flatMap((b) => b.events);
      const shipped = await this.#storeWrite(events, async () => {
        try {
          await this.#write(events);
        } catch (error) {
          // Refused rows: the rest ship now and the refused are set aside (kept on disk, never retried).
          if (!this.#isRefusal(error) || !(await this.#shipAround(events, error))) {
            this.#putBack(batches, fromFile);
            if (this.#shipFailures++ === 0) {
              this.#logger?.warn({ err: error instanceof Error ? error.message : String(error), pending: this.#unshippedCount }, 'usage shipping failed; the journal keeps the events and retries');
            }
            return false;
          }
        }
        // Only after the store committed: a crash before this line ships the rows again, a no-op there. So does the
        // next start when close() gave up on this write and closed the file.
        if (!this.#abandoned) this.#removeRows(batches.map((b) => b.seq));
        this.#shippedAt = performance.now();
        for (const e of events) this.#uncount(e.accountId, e.costPico);
        if (this.#leftoverRows.size > 0) this.#leftoversShipped(batches);
        return true;
      });
      if (!shipped) return -1;
      if (this.#shipFailures > 0) this.#logger?.info({ pending: this.#unshippedCount }, 'usage shipping resumed');
      this.#shipFailures = 0;
      return events.length;
    }).catch((error: unknown) => {
      this.#logger?.error({ err: error instanceof Error ? error.message : String(error) }, 'usage journal read failed');
      return -1;
    });
  }
}
