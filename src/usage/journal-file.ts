// The usage journal on disk: one SQLite file in WAL mode, owned by exactly one process at a time through
// SQLite's EXCLUSIVE locking mode (the OS drops the lock when the process dies, kill -9 included). Whoever
// holds a journal's lock may treat every begun attempt in it without a finished event as an attempt of a dead
// process. A second process pointed at the same path takes the next free sibling (`path.1`, `path.2`, …) and
// adopts the rows of any sibling nobody holds, so N gateways on one host need no configuration and no journal
// is ever orphaned.
//
// Rows are batches, not events: one row holds every attempt begun in a tick, another every event finished in
// it. A commit then costs two small B-tree inserts whatever the traffic, where a row per event cost 25–35 µs of
// CPU per event on this machine's disk (docs/decisions/usage-durability.md, "Journal cost").
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { BegunAttempt, UsageEvent } from './event.ts';

const MAX_SLOTS = 32;
const BEGUN = 0;
const FINISHED = 1;

// Rows hold events as arrays of values in these fixed orders (no repeated keys): half the bytes of objects, and
// the bytes a commit writes are what it costs. A new field goes at the end, and decode must give it a default:
// a row written before it decodes it as undefined, and the store's columns are NOT NULL.
const EVENT_FIELDS = [
  'id', 'accountId', 'requestId', 'accessKeyId', 'provider', 'providerDisplayName', 'model', 'modelDisplayName',
  'attemptNumber', 'isFinalAttempt', 'statusCode', 'timedOut', 'isError', 'isStreaming', 'stopReason',
  'inputTokens', 'outputTokens', 'cacheReadTokens', 'cacheWriteTokens', 'reasoningTokens', 'usageEstimated',
  'inputTokensEstimate', 'outputTokensEstimate', 'costPico', 'keySource', 'providerKeyId', 'providerKeyDisplayName',
  'retryAction', 'completion', 'upstreamDurationMs', 'eventTime',
] as const satisfies readonly (keyof UsageEvent)[];
const BEGUN_FIELDS = [
  'id', 'accountId', 'requestId', 'accessKeyId', 'provider', 'providerDisplayName', 'model', 'modelDisplayName',
  'attemptNumber', 'isStreaming', 'inputTokensEstimate', 'keySource', 'providerKeyId', 'providerKeyDisplayName',
  'retryAction', 'eventTime',
] as const satisfies readonly (keyof BegunAttempt)[];

export function encodeEvents(events: readonly UsageEvent[]): string {
  return JSON.stringify(events.map((e) => EVENT_FIELDS.map((k) => (k === 'costPico' ? e.costPico.toString() : e[k]))));
}

export function decodeEvents(text: string): UsageEvent[] {
  return (JSON.parse(text) as unknown[][]).map((values) => {
    const event = Object.fromEntries(EVENT_FIELDS.map((k, i) => [k, values[i]])) as Record<string, unknown>;
    event.costPico = BigInt(event.costPico as string);
    return event as unknown as UsageEvent;
  });
}

export function encodeBegun(begun: readonly BegunAttempt[]): string {
  return JSON.stringify(begun.map((b) => BEGUN_FIELDS.map((k) => b[k])));
}

export function decodeBegun(text: string): BegunAttempt[] {
  return (JSON.parse(text) as unknown[][]).map((values) => Object.fromEntries(BEGUN_FIELDS.map((k, i) => [k, values[i]])) as unknown as BegunAttempt);
}

/** The final event of an attempt that began but was never metered: the process died in between. */
export function orphanEvent(begun: BegunAttempt, isFinalAttempt: boolean): UsageEvent {
  return {
    ...begun,
    isFinalAttempt,
    statusCode: 0, timedOut: false, isError: true, stopReason: '',
    inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0,
    usageEstimated: begun.inputTokensEstimate > 0, outputTokensEstimate: 0,
    // Nothing is charged: the client never received a metered answer (docs/decisions/usage-durability.md).
    costPico: 0n,
    // The chain stopped here; earlier attempts keep the action their failure would have led to.
    retryAction: isFinalAttempt ? 'fail_fast' : begun.retryAction,
    completion: 'unknown',
    upstreamDurationMs: 0,
  };
}

/** A committed row of finished events, waiting to be shipped. */
export interface FinishedBatch { seq: number; events: UsageEvent[] }

const SCHEMA = `CREATE TABLE IF NOT EXISTS journal_batches (
  seq INTEGER PRIMARY KEY,
  kind INTEGER NOT NULL,
  events TEXT NOT NULL
)`;

/** Opens `path` and takes its lock; undefined when another live process holds it. */
function tryOpen(path: string): BetterSqlite3.Database | undefined {
  // timeout 0: a held lock answers SQLITE_BUSY at once instead of waiting for a process that will not let go.
  const db = new BetterSqlite3(path, { timeout: 0 });
  try {
    // EXCLUSIVE before WAL: no shared-memory index, and the write below takes a lock kept until close.
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    // NORMAL: a commit is in the OS once it returns, which is what survives a process crash (see the doc).
    db.pragma('synchronous = NORMAL');
    db.exec(`BEGIN IMMEDIATE; ${SCHEMA}; COMMIT`);
    return db;
  } catch (error) {
    db.close();
    if (error instanceof Error && 'code' in error && (error.code === 'SQLITE_BUSY' || error.code === 'SQLITE_LOCKED')) return undefined;
    throw error;
  }
}

function slotPath(base: string, slot: number): string {
  return slot === 0 ? base : `${base}.${slot}`;
}

/** What one commit wrote: the row numbers a later commit or a shipment refers to. */
export interface Written { begunSeq: number | undefined; finishedSeq: number | undefined }

export class JournalFile {
  readonly path: string;
  readonly #db: BetterSqlite3.Database;
  readonly #insert: BetterSqlite3.Statement<[number, string]>;
  readonly #delete: BetterSqlite3.Statement<[number]>;
  readonly #write: (begun: readonly BegunAttempt[], finished: readonly UsageEvent[], released: readonly number[]) => Written;
  readonly #remove: (seqs: readonly number[]) => void;

  /** Takes the first free slot at `base`, converts its orphans, and adopts every other unheld slot's rows. */
  static open(base: string): JournalFile {
    if (base !== ':memory:') mkdirSync(dirname(base), { recursive: true });
    for (let slot = 0; slot < MAX_SLOTS; slot++) {
      const path = slotPath(base, slot);
      const db = base === ':memory:' ? new BetterSqlite3(':memory:') : tryOpen(path);
      if (!db) continue;
      if (base === ':memory:') db.exec(SCHEMA);
      const file = new JournalFile(path, db);
      file.#convertLegacyRows();
      file.#convertOrphans();
      if (base !== ':memory:') file.#adoptSiblings(base, slot);
      return file;
    }
    throw new Error(`every usage journal slot at ${base} (.1 … .${MAX_SLOTS - 1}) is held by a running process`);
  }

  private constructor(path: string, db: BetterSqlite3.Database) {
    this.path = path;
    this.#db = db;
    this.#insert = db.prepare('INSERT INTO journal_batches (kind, events) VALUES (?, ?)');
    this.#delete = db.prepare('DELETE FROM journal_batches WHERE seq = ?');
    this.#write = db.transaction((begun: readonly BegunAttempt[], finished: readonly UsageEvent[], released: readonly number[]): Written => {
      const begunSeq = begun.length > 0 ? Number(this.#insert.run(BEGUN, encodeBegun(begun)).lastInsertRowid) : undefined;
      const finishedSeq = finished.length > 0 ? Number(this.#insert.run(FINISHED, encodeEvents(finished)).lastInsertRowid) : undefined;
      for (const seq of released) this.#delete.run(seq);
      return { begunSeq, finishedSeq };
    });
    this.#remove = db.transaction((seqs: readonly number[]) => {
      for (const seq of seqs) this.#delete.run(seq);
    });
  }

  /**
   * One transaction: the attempts begun and the events finished since the last commit, and the deletion of
   * begun rows whose every attempt now has its finished event (`released`).
   */
  write(begun: readonly BegunAttempt[], finished: readonly UsageEvent[], released: readonly number[] = []): Written {
    return this.#write(begun, finished, released);
  }

  /** Finished rows in commit order, from `afterSeq` on, until at least `minEvents` events (all when fewer). */
  finishedBatches(minEvents: number, afterSeq = 0): FinishedBatch[] {
    const out: FinishedBatch[] = [];
    let count = 0;
    for (const row of this.#db.prepare<[number, number], { seq: number; events: string }>('SELECT seq, events FROM journal_batches WHERE kind = ? AND seq > ? ORDER BY seq').iterate(FINISHED, afterSeq)) {
      const batch = { seq: row.seq, events: decodeEvents(row.events) };
      out.push(batch);
      count += batch.events.length;
      if (count >= minEvents) break;
    }
    return out;
  }

  /** Every finished event waiting to be shipped (read once at start). */
  unshipped(): UsageEvent[] {
    return this.finishedBatches(Number.MAX_SAFE_INTEGER).flatMap((b) => b.events);
  }

  /** Drops shipped rows of finished events. */
  remove(seqs: readonly number[]): void {
    this.#remove(seqs);
  }

  close(): void {
    this.#db.close();
  }

  /**
   * A journal written before rows were batches (one `usage_journal` row per event, `event` as JSON): its
   * finished events and begun attempts move into batch rows, then the old table goes — in one transaction.
   */
  #convertLegacyRows(): void {
    const legacy = this.#db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'usage_journal'").get();
    if (!legacy) return;
    const rows = this.#db.prepare<[], { finished: number; event: string }>('SELECT finished, event FROM usage_journal ORDER BY id').all();
    const finished = rows.filter((r) => r.finished === 1).map((r) => {
      const stored = JSON.parse(r.event) as Omit<UsageEvent, 'costPico'> & { costPico: string };
      return { ...stored, costPico: BigInt(stored.costPico) };
    });
    const begun = rows.filter((r) => r.finished === 0).map((r) => JSON.parse(r.event) as BegunAttempt);
    this.#db.transaction(() => {
      this.write(begun, finished);
      this.#db.exec('DROP TABLE usage_journal');
    })();
  }

  /** We hold the lock, so every begun attempt without a finished event belongs to a process that died mid-attempt. */
  #convertOrphans(): void {
    const begunRows = this.#db.prepare<[number], { seq: number; events: string }>('SELECT seq, events FROM journal_batches WHERE kind = ?').all(BEGUN);
    if (begunRows.length === 0) return;
    const finishedIds = new Set(this.unshipped().map((e) => e.id));
    const begun = begunRows.flatMap((r) => decodeBegun(r.events)).filter((b) => !finishedIds.has(b.id));
    // The last attempt begun for a request is its final one: the process died before another could start.
    const last = new Map<string, number>();
    for (const b of begun) last.set(b.requestId, Math.max(last.get(b.requestId) ?? 0, b.attemptNumber));
    const orphans = begun.map((b) => orphanEvent(b, last.get(b.requestId) === b.attemptNumber));
    this.write([], orphans, begunRows.map((r) => r.seq));
  }

  /** Moves the rows of every sibling slot no live process holds into this journal. */
  #adoptSiblings(base: string, own: number): void {
    for (let slot = 0; slot < MAX_SLOTS; slot++) {
      const path = slotPath(base, slot);
      if (slot === own || !existsSync(path)) continue;
      const db = tryOpen(path);
      if (!db) continue;
      try {
        const orphan = new JournalFile(path, db);
        orphan.#convertLegacyRows();
        orphan.#convertOrphans();
        const batches = orphan.finishedBatches(Number.MAX_SAFE_INTEGER);
        // Ours first, then theirs: a crash in between leaves a copy in both, harmless (ids are idempotent).
        if (batches.length > 0) this.write([], batches.flatMap((b) => b.events));
        orphan.remove(batches.map((b) => b.seq));
      } finally {
        db.close();
      }
    }
  }
}
