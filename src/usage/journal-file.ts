// The usage journal on disk: one SQLite file in WAL mode, owned by exactly one process at a time through
// SQLite's EXCLUSIVE locking mode (the OS drops the lock when the process dies, kill -9 included). Whoever
// holds a journal's lock may treat every "begun" row in it as an attempt of a dead process. A second process
// pointed at the same path takes the next free sibling (`path.1`, `path.2`, …) and adopts the rows of any
// sibling nobody holds, so N gateways on one host need no configuration and no journal is ever orphaned.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { BegunAttempt, UsageEvent } from './event.ts';

const MAX_SLOTS = 32;

/** A journaled event as stored: the UsageEvent with its bigint cost as a decimal string. */
type StoredEvent = Omit<UsageEvent, 'costPico'> & { costPico: string };

export interface JournalRow { id: string; accountId: string; costPico: bigint }

export function encodeEvent(event: UsageEvent): string {
  return JSON.stringify(event, (key, value: unknown) => (key === 'costPico' && typeof value === 'bigint' ? value.toString() : value));
}

export function decodeEvent(text: string): UsageEvent {
  const stored = JSON.parse(text) as StoredEvent;
  return { ...stored, costPico: BigInt(stored.costPico) };
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

const SCHEMA = `CREATE TABLE IF NOT EXISTS usage_journal (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  finished INTEGER NOT NULL,
  cost_pico TEXT NOT NULL,
  event TEXT NOT NULL
) WITHOUT ROWID`;

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

export class JournalFile {
  readonly path: string;
  readonly #db: BetterSqlite3.Database;
  readonly #begin: BetterSqlite3.Statement<[string, string, string]>;
  readonly #finish: BetterSqlite3.Statement<[string, string, string, string]>;
  readonly #select: BetterSqlite3.Statement<[number], { event: string }>;
  readonly #delete: BetterSqlite3.Statement<[string]>;
  readonly #write: (begun: readonly BegunAttempt[], finished: readonly UsageEvent[]) => void;
  readonly #remove: (ids: readonly string[]) => void;

  /** Takes the first free slot at `base`, converts its orphans, and adopts every other unheld slot's rows. */
  static open(base: string): JournalFile {
    if (base !== ':memory:') mkdirSync(dirname(base), { recursive: true });
    for (let slot = 0; slot < MAX_SLOTS; slot++) {
      const path = slotPath(base, slot);
      const db = base === ':memory:' ? new BetterSqlite3(':memory:') : tryOpen(path);
      if (!db) continue;
      if (base === ':memory:') db.exec(SCHEMA);
      const file = new JournalFile(path, db);
      file.#convertOrphans();
      if (base !== ':memory:') file.#adoptSiblings(base, slot);
      return file;
    }
    throw new Error(`every usage journal slot at ${base} (.1 … .${MAX_SLOTS - 1}) is held by a running process`);
  }

  private constructor(path: string, db: BetterSqlite3.Database) {
    this.path = path;
    this.#db = db;
    this.#begin = db.prepare('INSERT OR IGNORE INTO usage_journal (id, account_id, finished, cost_pico, event) VALUES (?, ?, 0, \'0\', ?)');
    this.#finish = db.prepare(`INSERT INTO usage_journal (id, account_id, finished, cost_pico, event) VALUES (?, ?, 1, ?, ?)
      ON CONFLICT (id) DO UPDATE SET finished = 1, cost_pico = excluded.cost_pico, event = excluded.event`);
    // Event ids sort by creation time, so the primary key gives oldest-first (one b-tree, no rowid table).
    this.#select = db.prepare('SELECT event FROM usage_journal WHERE finished = 1 ORDER BY id LIMIT ?');
    this.#delete = db.prepare('DELETE FROM usage_journal WHERE id = ?');
    this.#write = db.transaction((begun: readonly BegunAttempt[], finished: readonly UsageEvent[]) => {
      for (const b of begun) this.#begin.run(b.id, b.accountId, JSON.stringify(b));
      for (const e of finished) this.#finish.run(e.id, e.accountId, e.costPico.toString(), encodeEvent(e));
    });
    this.#remove = db.transaction((ids: readonly string[]) => {
      for (const id of ids) this.#delete.run(id);
    });
  }

  /** One transaction for a tick's worth of begun attempts and finished events. */
  write(begun: readonly BegunAttempt[], finished: readonly UsageEvent[]): void {
    this.#write(begun, finished);
  }

  /** The oldest finished events, up to `limit`. */
  finishedBatch(limit: number): UsageEvent[] {
    return this.#select.all(limit).map((r) => decodeEvent(r.event));
  }

  remove(ids: readonly string[]): void {
    this.#remove(ids);
  }

  /** Finished events waiting to be shipped (id, account, cost), read once at start. */
  unshipped(): JournalRow[] {
    return this.#db.prepare<[], { id: string; account_id: string; cost_pico: string }>('SELECT id, account_id, cost_pico FROM usage_journal WHERE finished = 1').all()
      .map((r) => ({ id: r.id, accountId: r.account_id, costPico: BigInt(r.cost_pico) }));
  }

  close(): void {
    this.#db.close();
  }

  /** We hold the lock, so every begun-but-unfinished row belongs to a process that died mid-attempt. */
  #convertOrphans(): void {
    const rows = this.#db.prepare<[], { event: string }>('SELECT event FROM usage_journal WHERE finished = 0').all();
    if (rows.length === 0) return;
    const begun = rows.map((r) => JSON.parse(r.event) as BegunAttempt);
    // The last attempt begun for a request is its final one: the process died before another could start.
    const last = new Map<string, number>();
    for (const b of begun) last.set(b.requestId, Math.max(last.get(b.requestId) ?? 0, b.attemptNumber));
    this.write([], begun.map((b) => orphanEvent(b, last.get(b.requestId) === b.attemptNumber)));
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
        orphan.#convertOrphans();
        const events = orphan.finishedBatch(Number.MAX_SAFE_INTEGER);
        // Ours first, then theirs: a crash in between leaves a copy in both, harmless (ids are idempotent).
        this.write([], events);
        orphan.remove(events.map((e) => e.id));
      } finally {
        db.close();
      }
    }
  }
}
