// The usage journal on disk: an append-only log, owned by exactly one process at a time.
//
// Ownership: a small SQLite file at the journal path opened in SQLite's EXCLUSIVE locking mode — the process holds
// its lock until it exits, and the OS drops the lock when the process dies (kill -9 included). Whoever holds a
// slot's lock may treat every begun attempt in that slot's log without a finished event as an attempt of a dead
// process. A second process pointed at the same path takes the next free sibling (`path.1`, `path.2`, …) and
// adopts the rows of any sibling nobody holds — at open, and every minute while it runs (adoptSiblings), so a gateway
// that dies beside it and is never started again does not keep its events from the store — and N gateways on one
// host need no configuration and no journal is ever orphaned.
//
// The log: segment files `<slot>.log.<n>` holding one line per commit — the attempts begun in an event-loop turn
// (a begun row), the events finished since the last commit (a finished row), the begun rows released and the
// finished rows shipped — written with one write(2), fdatasync'ed off the event loop every second. Nothing is
// rewritten in place; a segment is deleted once it and every older segment hold no live row. This replaced a
// SQLite table, whose B-tree inserts, WAL frames and checkpoint fsyncs on the event loop cost ~12 µs per attempt
// (docs/decisions/usage-durability.md, "Why a log and not SQLite").
import { close, closeSync, existsSync, fdatasync, fdatasyncSync, openSync, readdirSync, readFileSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { ensurePrivateFile, makePrivateDir, PRIVATE_FILE_MODE } from '../store/private-file.ts';
import { COST_PARTS, NO_COST, type BegunAttempt, type UsageEvent } from './event.ts';

const MAX_SLOTS = 32;
/** Past this size the next commit starts a new segment, so settled ones can be deleted. */
const SEGMENT_BYTES = 8 * 1024 * 1024;
/** Commits reach the disk at least this often (a process crash loses nothing either way; see the doc). */
const SYNC_INTERVAL_MS = 1000;
/** How long a start waits for a slot while every one is held (one may be held for a moment: see open). */
const OPEN_WAIT_MS = 5000;

// Rows hold events as arrays of values in these fixed orders (no repeated keys): half the bytes of objects. A new
// field goes at the end of both the list and its encoder, and decode must give it a default: a row written before
// it decodes it as undefined, and the store's columns are NOT NULL.
const EVENT_FIELDS = [
  'id', 'accountId', 'requestId', 'accessKeyId', 'provider', 'providerDisplayName', 'model', 'modelDisplayName',
  'attemptNumber', 'isFinalAttempt', 'statusCode', 'timedOut', 'isError', 'isStreaming', 'stopReason',
  'inputTokens', 'outputTokens', 'cacheReadTokens', 'cacheWriteTokens', 'reasoningTokens', 'usageEstimated',
  'inputTokensEstimate', 'outputTokensEstimate', 'costPico', 'keySource', 'providerKeyId', 'providerKeyDisplayName',
  'retryAction', 'completion', 'upstreamDurationMs', 'eventTime',
  'cacheWrite1hTokens', ...COST_PARTS, 'virtualModel', 'firewall',
] as const satisfies readonly (keyof UsageEvent)[];
const BEGUN_FIELDS = [
  'id', 'accountId', 'requestId', 'accessKeyId', 'provider', 'providerDisplayName', 'model', 'modelDisplayName',
  'attemptNumber', 'isStreaming', 'inputTokensEstimate', 'keySource', 'providerKeyId', 'providerKeyDisplayName',
  'retryAction', 'eventTime', 'virtualModel', 'firewall', 'gatewayCall',
] as const satisfies readonly (keyof BegunAttempt)[];

// Written out field by field (in EVENT_FIELDS / BEGUN_FIELDS order, which a test holds them to): a keyed loop over
// the field list made every load megamorphic, and this runs for every attempt.
export function eventValues(e: UsageEvent): unknown[] {
  return [
    e.id, e.accountId, e.requestId, e.accessKeyId, e.provider, e.providerDisplayName, e.model, e.modelDisplayName,
    e.attemptNumber, e.isFinalAttempt, e.statusCode, e.timedOut, e.isError, e.isStreaming, e.stopReason,
    e.inputTokens, e.outputTokens, e.cacheReadTokens, e.cacheWriteTokens, e.reasoningTokens, e.usageEstimated,
    e.inputTokensEstimate, e.outputTokensEstimate, e.costPico.toString(), e.keySource, e.providerKeyId, e.providerKeyDisplayName,
    e.retryAction, e.completion, e.upstreamDurationMs, e.eventTime,
    e.cacheWrite1hTokens, e.inputCostPico.toString(), e.outputCostPico.toString(), e.cacheReadCostPico.toString(),
    e.cacheWrite5mCostPico.toString(), e.cacheWrite1hCostPico.toString(), e.feePico.toString(), e.virtualModel, e.firewall,
  ];
}

export function begunValues(b: BegunAttempt): unknown[] {
  const values = [
    b.id, b.accountId, b.requestId, b.accessKeyId, b.provider, b.providerDisplayName, b.model, b.modelDisplayName,
    b.attemptNumber, b.isStreaming, b.inputTokensEstimate, b.keySource, b.providerKeyId, b.providerKeyDisplayName,
    b.retryAction, b.eventTime, b.virtualModel, b.firewall,
  ];
  // Only a gateway call's row carries its mark: an attempt's row is written as before.
  if (b.gatewayCall) values.push(true);
  return values;
}

export function eventFrom(values: readonly unknown[]): UsageEvent {
  return completed(Object.fromEntries(EVENT_FIELDS.map((k, i) => [k, values[i]])));
}

/** A cost part written since the row's format (absent in older rows: 0). */
const pico = (value: unknown): bigint => (typeof value === 'string' || typeof value === 'number' ? BigInt(value) : 0n);

/**
 * A journaled event as the gateway uses it: costs back to bigint, and the fields added since the row was written
 * (the cost's parts, the hour-long cache writes) at zero, and no virtual model or Firewall verdicts — such an event's total stays what it was billed. The
 * total itself every row has: one without it is not read as free.
 */
function completed(event: Record<string, unknown>): UsageEvent {
  event.costPico = BigInt(event.costPico as string);
  event.cacheWrite1hTokens ??= 0;
  event.virtualModel ??= null;
  event.firewall ??= null;
  for (const part of COST_PARTS) event[part] = pico(event[part]);
  return event as unknown as UsageEvent;
}

export function begunFrom(values: readonly unknown[]): BegunAttempt {
  const begun = Object.fromEntries(BEGUN_FIELDS.map((k, i) => [k, values[i]]));
  // Rows begun before virtual models (or Firewall verdicts) were recorded have no such value.
  begun.virtualModel ??= null;
  begun.firewall ??= null;
  if (begun.gatewayCall !== true) delete begun.gatewayCall;
  return begun as unknown as BegunAttempt;
}

/** The final event of an attempt that began but was never metered: the process died in between. */
export function orphanEvent(begun: BegunAttempt, isFinalAttempt: boolean): UsageEvent {
  const { gatewayCall: _, ...known } = begun;
  return {
    ...known,
    isFinalAttempt,
    statusCode: 0, timedOut: false, isError: true, stopReason: '',
    inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, cacheWrite1hTokens: 0, reasoningTokens: 0,
    usageEstimated: begun.inputTokensEstimate > 0, outputTokensEstimate: 0,
    // Nothing is charged: the client never received a metered answer (docs/decisions/usage-durability.md).
    ...NO_COST,
    // The chain stopped here; earlier attempts keep the action their failure would have led to.
    retryAction: isFinalAttempt ? 'fail_fast' : begun.retryAction,
    completion: 'unknown',
    upstreamDurationMs: 0,
  };
}

/**
 * Final events for attempts of a dead process: the last attempt begun for a request is its final one. A gateway call
 * (a Firewall judgement) is never one, nor counted among the request's attempts.
 */
function orphanEvents(open: readonly BegunAttempt[]): UsageEvent[] {
  const last = new Map<string, number>();
  for (const b of open) if (!b.gatewayCall) last.set(b.requestId, Math.max(last.get(b.requestId) ?? 0, b.attemptNumber));
  return open.map((b) => orphanEvent(b, !b.gatewayCall && last.get(b.requestId) === b.attemptNumber));
}

/** A committed row of finished events, waiting to be shipped. */
export interface FinishedBatch { seq: number; events: UsageEvent[] }

export interface JournalFileOptions {
  /** Size past which a new segment is started (default 8 MiB). */
  segmentBytes?: number;
  /**
   * Whether an attempt is still open (UsageJournal knows): only those are carried out of an old segment. Without
   * it, a begun row is carried whole.
   */
  isOpen?: (attemptId: string) => boolean;
  /** How often written lines are synced to disk (default 1 s); settled segments are deleted after a sync. */
  syncIntervalMs?: number;
  /** Problems that do not stop the journal (a failed sync, a sibling's file that cannot be deleted). */
  report?: (message: string, details: Record<string, unknown>) => void;
  /**
   * The deployment whose events the journal holds (databaseIdentity): a slot holding another deployment's events is
   * neither taken nor adopted. Unset: every slot is this process's to take.
   */
  owner?: string;
  /** How long open() keeps trying while every slot is held (default 5 s). */
  openWaitMs?: number;
}

/**
 * What adopting a sibling slot brought into this journal: one finished row (its events, the sibling's unshipped ones
 * then its orphans) and how many of them are orphans (attempts its process died in, as `unknown` events).
 */
export interface Adopted { slot: string; batch: FinishedBatch; orphans: number }

/** What one commit wrote: the row numbers a later commit or a shipment refers to. */
export interface Written { begunSeq: number | undefined; finishedSeq: number | undefined }

/**
 * One commit, as one line of JSON: a begun row (its seq and attempts), a finished row (its seq and events), the
 * begun rows it releases and the finished rows it marks shipped. 0 stands for "none" in every position.
 */
type Line = [begunSeq: number, begun: unknown[][] | 0, finishedSeq: number, finished: unknown[][] | 0, released: readonly number[] | 0, shipped: readonly number[] | 0];

function isLine(value: unknown): value is Line {
  return Array.isArray(value) && value.length === 6 && typeof value[0] === 'number' && typeof value[2] === 'number';
}

/** Where a row's line lies in its segment (or the line itself, for a journal kept in memory). */
interface Row { offset: number; length: number; text?: string }

class Segment {
  /** Live rows: begun rows with an attempt still open, finished rows not yet shipped. */
  readonly begun = new Map<number, Row>();
  readonly finished = new Map<number, Row>();
  size = 0;
  /** Bytes of begun rows carried into it: not counted towards rotation, or carrying could rotate again at once. */
  carried = 0;
  /** Open while this is the segment being written. */
  fd: number | undefined;
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  get settled(): boolean {
    return this.begun.size === 0 && this.finished.size === 0;
  }
}

// The lock file keeps the table the journal used before it was a log: rows found there are converted on open, and
// creating it is the write that takes the EXCLUSIVE lock on a new file.
const LEGACY_SCHEMA = `CREATE TABLE IF NOT EXISTS journal_batches (
  seq INTEGER PRIMARY KEY,
  kind INTEGER NOT NULL,
  events TEXT NOT NULL
)`;
const LEGACY_BEGUN = 0;
const OWNER_SCHEMA = 'CREATE TABLE IF NOT EXISTS journal_owner (owner TEXT NOT NULL)';

/** Opens `path` and takes its lock; undefined when another live process holds it. */
function tryLock(path: string): BetterSqlite3.Database | undefined {
  ensurePrivateFile(path);
  // timeout 0: a held lock answers SQLITE_BUSY at once instead of waiting for a process that will not let go.
  const db = new BetterSqlite3(path, { timeout: 0 });
  try {
    // EXCLUSIVE before WAL: no shared-memory index, and the write below takes a lock kept until close.
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.exec(`BEGIN IMMEDIATE; ${LEGACY_SCHEMA}; ${OWNER_SCHEMA}; COMMIT`);
    return db;
  } catch (error) {
    db.close();
    if (error instanceof Error && 'code' in error && (error.code === 'SQLITE_BUSY' || error.code === 'SQLITE_LOCKED')) return undefined;
    throw error;
  }
}

/**
 * The journal slots at `base` a live process holds (a running gateway holds one until it exits): for commands that
 * must not run beside a gateway (`tollgate rotate-secret`). Only existing slot files are tried, so nothing is made.
 */
export function heldJournalSlots(base: string): string[] {
  if (base === ':memory:') return [];
  const held: string[] = [];
  for (let slot = 0; slot < MAX_SLOTS; slot++) {
    const path = slotPath(base, slot);
    if (!existsSync(path)) continue;
    let lock: BetterSqlite3.Database | undefined;
    try {
      lock = tryLock(path);
    } catch (error) {
      // Another user's file, a damaged one: whether a gateway holds it cannot be told, so nothing may go on.
      throw new Error(`cannot open the usage journal ${path} to check whether a running gateway holds it (${error instanceof Error ? error.message : String(error)})`);
    }
    if (lock) lock.close();
    else held.push(path);
  }
  return held;
}

interface Legacy { begun: BegunAttempt[]; finished: UsageEvent[] }

/**
 * Rows of the formats before the log: a `journal_batches` row per commit and kind (values arrays as in the log),
 * and before that a `usage_journal` row per event (`event` as JSON).
 */
function readLegacy(db: BetterSqlite3.Database): Legacy {
  const legacy: Legacy = { begun: [], finished: [] };
  const perEvent = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'usage_journal'").get();
  if (perEvent) {
    for (const r of db.prepare<[], { finished: number; event: string }>('SELECT finished, event FROM usage_journal ORDER BY id').all()) {
      if (r.finished === 1) {
        legacy.finished.push(completed(JSON.parse(r.event) as Record<string, unknown>));
      } else {
        legacy.begun.push(JSON.parse(r.event) as BegunAttempt);
      }
    }
  }
  for (const r of db.prepare<[], { kind: number; events: string }>('SELECT kind, events FROM journal_batches ORDER BY seq').all()) {
    const values = JSON.parse(r.events) as unknown[][];
    if (r.kind === LEGACY_BEGUN) legacy.begun.push(...values.map(begunFrom));
    else legacy.finished.push(...values.map(eventFrom));
  }
  return legacy;
}

/**
 * Whether the locked slot at `path` is `owner`'s to take or adopt; it is then marked as `owner`'s. Gateways of two
 * deployments (two databases) started with one journal path — PostgreSQL's default `./data/usage-journal.db` is
 * relative to the working directory — would otherwise ship each other's events into the wrong database: lost to the
 * balances of one, stored against accounts the other does not have. A slot another deployment left empty is free;
 * one written before slots were marked is taken as ours (nothing tells).
 */
function claimSlot(path: string, lock: BetterSqlite3.Database, owner: string | undefined): boolean {
  if (owner === undefined) return true;
  const marked = lock.prepare<[], { owner: string }>('SELECT owner FROM journal_owner').get()?.owner;
  if (marked === owner) return true;
  if (marked !== undefined) {
    const legacy = readLegacy(lock);
    if (segmentNumbers(path).length > 0 || legacy.begun.length > 0 || legacy.finished.length > 0) return false;
  }
  lock.transaction(() => {
    lock.exec('DELETE FROM journal_owner');
    lock.prepare('INSERT INTO journal_owner (owner) VALUES (?)').run(owner);
  })();
  return true;
}

function clearLegacy(db: BetterSqlite3.Database, legacy: Legacy): void {
  if (legacy.begun.length > 0 || legacy.finished.length > 0) db.exec('DELETE FROM journal_batches; DROP TABLE IF EXISTS usage_journal');
}

function slotPath(base: string, slot: number): string {
  return slot === 0 ? base : `${base}.${slot}`;
}

/** The slot's segment numbers, oldest first. */
function segmentNumbers(slot: string): number[] {
  const prefix = `${basename(slot)}.log.`;
  return readdirSync(dirname(slot))
    .filter((name) => name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length)))
    .map((name) => Number(name.slice(prefix.length)))
    .sort((a, b) => a - b);
}

function segmentPath(slot: string, n: number): string {
  return `${slot}.log.${n}`;
}

export class JournalFile {
  readonly path: string;
  /** The slot's lock; undefined for a journal kept in memory (`:memory:`, the in-memory store). */
  readonly #lock: BetterSqlite3.Database | undefined;
  readonly #segmentBytes: number;
  /** Unset while the journal recovers at open: every begun row found then is carried whole. */
  #isOpen: ((attemptId: string) => boolean) | undefined;
  readonly #syncIntervalMs: number;
  readonly #report: JournalFileOptions['report'];
  /** Settled segments gone from the index, deleted once the lines that settled them are on disk (#sync). */
  #doomed: string[] = [];
  /** The older doomed files an in-flight #sync will delete (close() takes them over). */
  #syncingDoomed: string[] = [];
  #closed = false;
  /** Oldest first; the last one is written while it is `#current`. */
  readonly #segments: Segment[] = [];
  #current: Segment | undefined;
  #nextSegment = 1;
  #nextSeq = 1;
  #dirty = false;
  #syncing = false;
  #syncTimer: NodeJS.Timeout | undefined;
  /** Lines that did not parse when the log was read (a damaged disk): skipped, reported by `skippedLines`. */
  #skipped = 0;
  /**
   * Ids of every finished event in the lines read at open, shipped ones too (only until recovery is done): an attempt
   * whose final event is on disk did not die with the process, whether or not that event is still waiting.
   */
  #finishedIds = new Set<string>();
  /** The journal path, the slot taken there and the deployment: where adoptSiblings looks, and what it may adopt. */
  #base = '';
  #slot = 0;
  #owner: string | undefined;

  /** Takes the first free slot at `base`, converts its orphans, and adopts every other unheld slot's rows. */
  static open(base: string, options: JournalFileOptions = {}): JournalFile {
    if (base === ':memory:') return new JournalFile(base, undefined, options);
    makePrivateDir(dirname(base));
    // A lock held for a moment — a running gateway adopting a dead one's slot (adoptSiblings), `tollgate rotate-secret`
    // checking it — does not make a full house: with every slot busy, the start tries again for a while.
    const until = performance.now() + (options.openWaitMs ?? OPEN_WAIT_MS);
    for (;;) {
      for (let slot = 0; slot < MAX_SLOTS; slot++) {
        const path = slotPath(base, slot);
        const lock = tryLock(path);
        if (!lock) continue;
        const file = new JournalFile(path, lock, options);
        try {
          if (!claimSlot(path, lock, options.owner)) {
            file.close();
            continue;
          }
          file.#replay();
          const legacy = readLegacy(lock);
          const { converted, orphans, released } = file.#recovered(legacy);
          const events = converted.concat(orphans);
          if (events.length > 0 || released.length > 0) file.write([], events, released);
          clearLegacy(lock, legacy);
          file.#base = base;
          file.#slot = slot;
          file.#owner = options.owner;
          for (let sibling = 0; sibling < MAX_SLOTS; sibling++) if (sibling !== slot) file.#adopt(slotPath(base, sibling));
          file.#isOpen = options.isOpen;
        } catch (error) {
          file.close();
          throw error;
        }
        return file;
      }
      if (performance.now() >= until) break;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
    throw new Error(`every usage journal slot at ${base} (.1 … .${MAX_SLOTS - 1}) is held by a running process or holds another database's events`);
  }

  private constructor(path: string, lock: BetterSqlite3.Database | undefined, options: JournalFileOptions) {
    this.path = path;
    this.#lock = lock;
    this.#segmentBytes = options.segmentBytes ?? SEGMENT_BYTES;
    this.#syncIntervalMs = options.syncIntervalMs ?? SYNC_INTERVAL_MS;
    this.#report = options.report;
  }

  /** Lines of the log that could not be read back (0 unless the disk damaged them). */
  get skippedLines(): number {
    return this.#skipped;
  }

  /**
   * One commit: the attempts begun and the events finished since the last commit, and the release of begun rows
   * whose every attempt now has its finished event (`released`). Throws when the line could not be written whole;
   * nothing of it then counts (a torn line is ignored when the log is read).
   */
  write(begun: readonly BegunAttempt[], finished: readonly UsageEvent[], released: readonly number[] = []): Written {
    const begunSeq = begun.length > 0 ? this.#nextSeq++ : 0;
    const finishedSeq = finished.length > 0 ? this.#nextSeq++ : 0;
    const row = this.#append([
      begunSeq, begunSeq > 0 ? begun.map(begunValues) : 0,
      finishedSeq, finishedSeq > 0 ? finished.map(eventValues) : 0,
      released.length > 0 ? released : 0, 0,
    ]);
    const segment = this.#current!;
    if (begunSeq > 0) segment.begun.set(begunSeq, row);
    if (finishedSeq > 0) segment.finished.set(finishedSeq, row);
    if (released.length > 0) {
      for (const seq of released) this.#forget(seq, 'begun');
      this.#trim();
    }
    return { begunSeq: begunSeq || undefined, finishedSeq: finishedSeq || undefined };
  }

  /** Finished rows in commit order, from `afterSeq` on, until at least `minEvents` events (all when fewer). */
  finishedBatches(minEvents: number, afterSeq = 0): FinishedBatch[] {
    const out: FinishedBatch[] = [];
    let count = 0;
    for (const segment of this.#segments) {
      for (const [seq, row] of segment.finished) {
        if (seq <= afterSeq) continue;
        const events = (this.#read(segment, row)[3] || []).map(eventFrom);
        out.push({ seq, events });
        count += events.length;
        if (count >= minEvents) return out;
      }
    }
    return out;
  }

  /** Every finished event waiting to be shipped (read once at start). */
  unshipped(): UsageEvent[] {
    return this.finishedBatches(Number.MAX_SAFE_INTEGER).flatMap((b) => b.events);
  }

  /** Marks shipped rows of finished events; segments left with no live row are deleted. */
  remove(seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    this.#append([0, 0, 0, 0, 0, seqs]);
    for (const seq of seqs) this.#forget(seq, 'finished');
    this.#trim();
  }

  /** Flushes and closes; after a stop with every row settled, no segment is left behind. */
  close(): void {
    if (this.#syncTimer) clearInterval(this.#syncTimer);
    this.#syncTimer = undefined;
    const current = this.#current;
    let synced = true;
    if (current?.fd !== undefined) {
      try {
        fdatasyncSync(current.fd);
      } catch (error) {
        synced = false;
        this.#report?.('usage journal: fdatasync failed', { segment: current.path, err: error instanceof Error ? error.message : String(error) });
      }
      closeSync(current.fd);
      current.fd = undefined;
    }
    this.#current = undefined;
    this.#closed = true;
    this.#trim();
    // The in-flight sync's files are older than ours: deleted first, or (sync failed) none of them.
    if (synced) this.#unlink(this.#syncingDoomed.concat(this.#doomed));
    this.#syncingDoomed = [];
    this.#doomed = [];
    this.#lock?.close();
  }

  /** Appends one line to the current segment (a new one past SEGMENT_BYTES) with one write. */
  #append(line: Line): Row {
    let segment = this.#current;
    if (!segment || segment.size - segment.carried >= this.#segmentBytes) segment = this.#rotate();
    return this.#appendTo(segment, line);
  }

  #appendTo(segment: Segment, line: Line): Row {
    const json = JSON.stringify(line);
    const offset = segment.size;
    if (!this.#lock) {
      const text = json + '\n';
      segment.size += text.length;
      return { offset, length: text.length, text };
    }
    // The line and its newline written into one buffer: `json + '\n'` was a second string, flattened into a copy of
    // the whole line for the write, on every commit.
    const bytes = Buffer.allocUnsafe(Buffer.byteLength(json) + 1);
    bytes[bytes.write(json)] = 10;
    let written = -1;
    try {
      written = writeSync(segment.fd!, bytes);
    } finally {
      // A failed or short write may have left part of the line: nothing more goes after it in this segment.
      if (written !== bytes.length) this.#retire(segment);
    }
    if (written !== bytes.length) throw new Error(`usage journal: short write to ${segment.path} (${written} of ${bytes.length} bytes)`);
    segment.size += written;
    if (!this.#dirty) {
      this.#dirty = true;
      this.#syncTimer ??= setInterval(() => this.#sync(), this.#syncIntervalMs).unref();
    }
    return { offset, length: written };
  }

  /** Starts a new segment; carries open begun rows out of the old ones so those can go. */
  #rotate(): Segment {
    if (this.#current) this.#retire(this.#current);
    const segment = new Segment(this.#lock ? segmentPath(this.path, this.#nextSegment++) : '');
    if (this.#lock) segment.fd = openSync(segment.path, 'ax+', PRIVATE_FILE_MODE);
    this.#segments.push(segment);
    this.#current = segment;
    this.#carryForward();
    this.#trim();
    return segment;
  }

  /** The segment is written no more: its lines reach the disk, then its descriptor closes (off the event loop). */
  #retire(segment: Segment): void {
    if (segment === this.#current) this.#current = undefined;
    const fd = segment.fd;
    if (fd === undefined) return;
    segment.fd = undefined;
    fdatasync(fd, (error) => {
      if (error) this.#report?.('usage journal: fdatasync failed', { segment: segment.path, err: error.message });
      close(fd, () => {});
    });
  }

  /**
   * A long stream keeps its begun row open; rather than keep every segment after it, the oldest segments with only
   * begun rows left have those rows written again (same seq) into the current one. Segments are only deleted from
   * the oldest on, so a release or a shipment marker is never lost while the row it settles is still on disk.
   */
  #carryForward(): void {
    const current = this.#current!;
    for (const segment of this.#segments) {
      if (segment === current || segment.finished.size > 0) return;
      for (const [seq, row] of segment.begun) {
        const attempts = this.#read(segment, row)[1] || [];
        const isOpen = this.#isOpen;
        const open = isOpen ? attempts.filter((values) => isOpen(values[0] as string)) : attempts;
        if (open.length > 0) {
          const before = current.size;
          // Written before it leaves the old segment's index: a failed write keeps the old copy (and its segment).
          current.begun.set(seq, this.#appendTo(current, [seq, open, 0, 0, 0, 0]));
          current.carried += current.size - before;
        }
        segment.begun.delete(seq);
      }
    }
  }

  /**
   * Drops the oldest segments while they hold no live row. Their files go once the lines that settled them are on
   * disk (#sync): after a power loss the disk never holds a marker-less row without its segment or vice versa.
   */
  #trim(): void {
    while (this.#segments.length > 0) {
      const oldest = this.#segments[0]!;
      if (oldest === this.#current || !oldest.settled) return;
      this.#segments.shift();
      if (this.#lock) this.#doomed.push(oldest.path);
    }
  }

  /** Deletes oldest first; stops at a file it cannot delete (newer ones may settle its rows): returns the rest. */
  #unlink(paths: readonly string[]): string[] {
    for (let i = 0; i < paths.length; i++) {
      try {
        unlinkSync(paths[i]!);
      } catch (error) {
        if (!(error instanceof Error && 'code' in error && error.code === 'ENOENT')) {
          this.#report?.('usage journal: a settled segment could not be deleted', { segment: paths[i], err: error instanceof Error ? error.message : String(error) });
          return paths.slice(i);
        }
      }
    }
    return [];
  }

  #forget(seq: number, kind: 'begun' | 'finished'): void {
    // A begun row carried forward exists in two segments until the older one is deleted.
    for (const segment of this.#segments) segment[kind].delete(seq);
  }

  #read(segment: Segment, row: Row): Line {
    if (row.text !== undefined) return JSON.parse(row.text) as Line;
    const fd = segment.fd ?? openSync(segment.path, 'r');
    try {
      const bytes = Buffer.allocUnsafe(row.length);
      const read = readSync(fd, bytes, 0, row.length, row.offset);
      if (read !== row.length) throw new Error(`usage journal: ${segment.path} ends inside a row (offset ${row.offset})`);
      return JSON.parse(bytes.toString('utf8')) as Line;
    } finally {
      if (fd !== segment.fd) closeSync(fd);
    }
  }

  #sync(): void {
    if (this.#syncing || (!this.#dirty && this.#doomed.length === 0)) return;
    const fd = this.#current?.fd;
    const doomed = this.#doomed;
    this.#doomed = [];
    if (fd === undefined) {
      // No segment is being written: every line went out with a retired segment, synced when it was retired.
      this.#doomed = this.#unlink(doomed).concat(this.#doomed);
      return;
    }
    this.#dirty = false;
    this.#syncing = true;
    this.#syncingDoomed = doomed;
    fdatasync(fd, (error) => {
      this.#syncing = false;
      // Closed meanwhile: close() synced and deleted these itself (the fd may already be closed: EBADF).
      if (this.#closed) return;
      this.#syncingDoomed = [];
      if (error) {
        // The lines are still in the OS (a process crash loses nothing); keep the old files until a sync succeeds.
        this.#dirty = true;
        this.#doomed = doomed.concat(this.#doomed);
        this.#report?.('usage journal: fdatasync failed', { segment: this.#current?.path, err: error.message });
        return;
      }
      this.#doomed = this.#unlink(doomed).concat(this.#doomed);
    });
  }

  /** Reads the slot's segments: which rows are live, where they lie, and the next seq and segment number. */
  #replay(): void {
    for (const n of segmentNumbers(this.path)) {
      const segment = new Segment(segmentPath(this.path, n));
      // Markers only ever follow their rows (same or later segment), so every row they settle is indexed by then.
      this.#segments.push(segment);
      const bytes = readFileSync(segment.path);
      // A last line without its newline is a write the process died in: not committed, ignored. Nothing is ever
      // appended to a segment of an earlier run, so it stays last.
      for (let offset = 0, end = bytes.indexOf(10); end !== -1; offset = end + 1, end = bytes.indexOf(10, offset)) {
        let line: unknown;
        try { line = JSON.parse(bytes.toString('utf8', offset, end)); } catch { line = undefined; }
        if (!isLine(line)) { this.#skipped++; continue; }
        const row = { offset, length: end + 1 - offset };
        const [begunSeq, , finishedSeq, finished, released, shipped] = line;
        if (begunSeq > 0) segment.begun.set(begunSeq, row);
        if (finishedSeq > 0) segment.finished.set(finishedSeq, row);
        if (finished) for (const values of finished) this.#finishedIds.add(values[0] as string);
        if (released) for (const seq of released) this.#forget(seq, 'begun');
        if (shipped) for (const seq of shipped) this.#forget(seq, 'finished');
        this.#nextSeq = Math.max(this.#nextSeq, begunSeq + 1, finishedSeq + 1);
      }
      segment.size = bytes.length;
      this.#nextSegment = n + 1;
    }
    this.#trim();
  }

  /**
   * We hold the lock, so every begun attempt without a finished event belongs to a process that died mid-attempt:
   * the final events to write for them (and the older formats' rows), and the begun rows they release.
   */
  #recovered(legacy: Legacy): { converted: UsageEvent[]; orphans: UsageEvent[]; released: number[] } {
    const attempts = new Map<string, BegunAttempt>();
    for (const b of legacy.begun) attempts.set(b.id, b);
    const released = new Set<number>();
    for (const segment of this.#segments) {
      for (const [seq, row] of segment.begun) {
        released.add(seq);
        for (const values of this.#read(segment, row)[1] || []) {
          const b = begunFrom(values);
          attempts.set(b.id, b);
        }
      }
    }
    const finishedIds = this.#finishedIds;
    this.#finishedIds = new Set();
    // A run that died converting the older format left its events in both places: the log's copy is the one.
    const converted = legacy.finished.filter((e) => !finishedIds.has(e.id));
    for (const e of converted) finishedIds.add(e.id);
    // An attempt whose final event is in the log, shipped or not, is no orphan, even in a begun row another attempt
    // kept open. Re-created, it was an unknown event at no cost under the real one's id: for an event the store had
    // refused (set aside, not stored), the store took that copy, and importing the real one found it "already stored".
    const open = [...attempts.values()].filter((b) => !finishedIds.has(b.id));
    return { converted, orphans: orphanEvents(open), released: [...released] };
  }

  /**
   * Adopts the sibling slots no live process holds now: a gateway that died beside this one (kill -9, the OOM killer)
   * and is not started again would otherwise keep its events out of the store, and its tenants' spending out of their
   * balances, until some process opens this path. Cheap when there is nothing to adopt: a lock attempt per existing
   * sibling. A slot that cannot be adopted (its segments unreadable, our log not writable) is reported and left as it
   * was, for the next call.
   */
  adoptSiblings(): Adopted[] {
    if (!this.#lock || this.#closed) return [];
    const adopted: Adopted[] = [];
    for (let slot = 0; slot < MAX_SLOTS; slot++) {
      if (slot === this.#slot) continue;
      const path = slotPath(this.#base, slot);
      try {
        const one = this.#adopt(path);
        if (one) adopted.push(one);
      } catch (error) {
        this.#report?.("usage journal: a stopped gateway's journal slot could not be adopted; trying again later", { slot: path, err: error instanceof Error ? error.message : String(error) });
      }
    }
    return adopted;
  }

  /**
   * Moves the rows of the sibling slot at `path` into this journal when no live process holds it (and it is not
   * another deployment's): what it brought, undefined when nothing.
   */
  #adopt(path: string): Adopted | undefined {
    if (!existsSync(path)) return undefined;
    // Held for the moment this takes: a process starting meanwhile takes another slot, or waits (open).
    const lock = tryLock(path);
    if (!lock) return undefined;
    const sibling = new JournalFile(path, lock, {});
    try {
      if (!claimSlot(path, lock, this.#owner)) return undefined;
      sibling.#replay();
      this.#skipped += sibling.#skipped;
      const legacy = readLegacy(lock);
      const { converted, orphans } = sibling.#recovered(legacy);
      const theirs = sibling.unshipped().concat(converted);
      let adopted: Adopted | undefined;
      if (theirs.length > 0 || orphans.length > 0) {
        // Ours first, then theirs goes. A run that died in between left a copy in both: what we hold already is
        // not taken twice (it would count twice against balances until shipped). Read only when there is something
        // to adopt: during a store outage our log may be large.
        const ours = new Set(this.unshipped().map((e) => e.id));
        const notOurs = (e: UsageEvent): boolean => !ours.has(e.id);
        const events = theirs.filter(notOurs);
        const orphaned = orphans.filter(notOurs);
        events.push(...orphaned);
        if (events.length > 0) {
          const { finishedSeq } = this.write([], events);
          adopted = { slot: path, batch: { seq: finishedSeq!, events }, orphans: orphaned.length };
        }
      }
      // Oldest first: its settled segments (doomed at replay) before the ones whose markers settle them.
      this.#unlink(sibling.#doomed.concat(sibling.#segments.map((segment) => segment.path)));
      sibling.#doomed = [];
      sibling.#segments.length = 0;
      clearLegacy(lock, legacy);
      return adopted;
    } finally {
      sibling.close();
    }
  }
}
