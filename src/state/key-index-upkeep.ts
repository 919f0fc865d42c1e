// Keeps the gateway's access-key index (key-index.ts) as the store has it: read whole at start, the keys named by
// accessKey changes read again by id, and counted against the table by the minute's resync — read whole again, a page
// at a time, when it differs. The change log's poll, its gaps and the catch-ups stay in gateway-state.ts, which tells
// this module what changed and when to count.
import { KeyIndex } from './key-index.ts';

/** Rows read at a time when the key index is (re)built: a million keys are not one result held whole. */
export const INDEX_PAGE = 10_000;

interface KeyHash { id: string; tokenHash: string }

/** The store reads the index is kept with (state/snapshot-loader.ts). */
export interface KeyIndexReads {
  /** A page of every access key's id and token hash, by id after `afterId`. */
  page: (afterId: string, limit: number) => Promise<KeyHash[]>;
  /** The keys with these ids as stored now (a key gone has no row). */
  byIds: (ids: readonly string[]) => Promise<KeyHash[]>;
  /**
   * How many keys the store has, and the token hash (undefined: gone) of each key named by the changes not applied
   * here yet, both as of one snapshot; undefined when more than `limit` are named.
   */
  asOfUnapplied: (limit: number) => Promise<{ total: number; named: Map<string, string | undefined> } | undefined>;
}

export class KeyIndexUpkeep {
  readonly #reads: KeyIndexReads;
  /** Logs a failure (the gateway state logs a streak's first only). */
  readonly #failed: (error: unknown, message: string) => void;
  #index = new KeyIndex();
  /** Keys whose change is still to be read into the key index (their rows read again by id). */
  readonly #pending = new Set<string>();
  /** The resync asked for the index's size to be checked against the store's (a key written without its change): see #agrees. */
  #recount = false;
  /** The index being brought up to date (#readKeys), while it has anything to read. */
  #indexing: Promise<void> | undefined;
  /** Those waiting for the keys pending (or being read) to be read into the index: see update(). */
  #idsRead: PromiseWithResolvers<void> | undefined;
  /**
   * The index being read again whole, a page at a time, and the last id read: the live index serves meanwhile, and
   * the keys changes name are read in between the pages (into both), so a catch-up never waits for the whole table.
   */
  #rebuild: { index: KeyIndex; after: string } | undefined;
  #closed = false;

  constructor(reads: KeyIndexReads, failed: (error: unknown, message: string) => void) {
    this.#reads = reads;
    this.#failed = failed;
  }

  /** Reads every access key's id and token hash, a page at a time, and serves them from then on. */
  async load(): Promise<void> {
    const index = new KeyIndex();
    let after = '';
    for (;;) {
      const rows = await this.#reads.page(after, INDEX_PAGE);
      for (const row of rows) index.set(row.id, row.tokenHash);
      if (rows.length < INDEX_PAGE) break;
      after = rows[rows.length - 1]!.id;
    }
    this.#index = index;
  }

  /** Whether some live key's token hash may be `hash` (a hex SHA-256). */
  has(hash: string): boolean {
    return this.#index.has(hash);
  }

  /** An accessKey change named the key `id`: its row is read again. */
  keyChanged(id: string): void {
    this.#pending.add(id);
    void this.update();
  }

  /** The index's size is checked against the store's (a key inserted or deleted by hand, no change recorded). */
  recount(): void {
    this.#recount = true;
    void this.update();
  }

  /**
   * The index is read again whole: changes to it went unread (the change log was pruned past them), and as many keys
   * created as deleted meanwhile leave a recount's sizes equal. The live index serves while it is read, as in a recount's.
   */
  reread(): void {
    this.#rebuild ??= { index: new KeyIndex(), after: '' };
    void this.update();
  }

  /** No key named by a change is still to be read into the index, nor being read. */
  settled(): boolean {
    return this.#idsRead === undefined && this.#pending.size === 0;
  }

  /**
   * Reads the keys changed since into the key index. Resolves once every key pending now is read — not after a rebuild
   * under way, whose pages take seconds for a million keys and the 2 s a catch-up may take; rejects when a read failed
   * (the keys stay pending: the next change, catch-up or resync reads them again).
   */
  update(): Promise<void> {
    let read: Promise<void> = Promise.resolve();
    if (this.#pending.size > 0 || this.#idsRead) {
      if (!this.#idsRead) {
        this.#idsRead = Promise.withResolvers<void>();
        // Logged by #readKeys; a change applying this read has nobody waiting for it.
        this.#idsRead.promise.catch(() => {});
      }
      read = this.#idsRead.promise;
    }
    if (!this.#indexing && !this.#closed && (this.#pending.size > 0 || this.#recount || this.#rebuild)) this.#indexing = this.#readKeys();
    return read;
  }

  /** Starts no more reads; resolves when the one under way (if any) ends. */
  close(): Promise<void> | undefined {
    this.#closed = true;
    return this.#indexing;
  }

  /**
   * One read at a time, so a key's later state is never overwritten by an earlier read of it: the keys pending first,
   * then the resync's count, then a page of a rebuild (the keys changed meanwhile are read between two pages).
   */
  async #readKeys(): Promise<void> {
    try {
      while (!this.#closed) {
        if (this.#pending.size > 0) {
          const ids = [...this.#pending];
          this.#pending.clear();
          let rows: KeyHash[];
          try {
            rows = await this.#reads.byIds(ids);
          } catch (error) {
            for (const id of ids) this.#pending.add(id);
            const waiting = this.#idsRead;
            this.#idsRead = undefined;
            waiting?.reject(error);
            this.#failed(error, 'reading changed access keys failed; a key created elsewhere is answered "try again later" until the store answers');
            return;
          }
          const live = new Map(rows.map((row) => [row.id, row.tokenHash]));
          for (const id of ids) {
            this.#index.set(id, live.get(id));
            this.#rebuild?.index.set(id, live.get(id));
          }
          continue;
        }
        const waiting = this.#idsRead;
        this.#idsRead = undefined;
        waiting?.resolve();
        const rebuild = this.#rebuild;
        try {
          if (rebuild) {
            const rows = await this.#reads.page(rebuild.after, INDEX_PAGE);
            for (const row of rows) rebuild.index.set(row.id, row.tokenHash);
            if (rows.length === INDEX_PAGE) rebuild.after = rows[rows.length - 1]!.id;
            else {
              // Read after every change applied before it, each one since read into it too: exact again.
              this.#index = rebuild.index;
              this.#rebuild = undefined;
            }
          } else if (this.#recount) {
            this.#recount = false;
            if (!(await this.#agrees())) this.#rebuild = { index: new KeyIndex(), after: '' };
          } else return;
        } catch (error) {
          // The live index stands, and the rebuild waits where it was: the next change or resync goes on with it. Not
          // dropped for the next resync's count to start again: after changes the log lost (reread), the sizes may agree.
          this.#failed(error, 'reading the access-key index again failed; a key inserted or deleted by hand is not seen until it can be');
          return;
        }
      }
    } finally {
      // As it ends, not a microtask later: a key pending meanwhile would wait for a loop no longer running. (Started
      // only with something to read, it awaits first: #indexing is set before this clears it.)
      this.#indexing = undefined;
    }
  }

  /**
   * Whether the index holds as many keys as the table, both as of one snapshot of the store. The table's count alone
   * differed whenever keys were created or deleted elsewhere a moment before and their changes not applied here yet
   * — on a busy deployment about every minute, and every gateway then read every key again. So the count comes with
   * the keys named by the changes not applied yet (after the last seq read, or in a gap), as that snapshot has them,
   * and the index is compared with those put in it as they stand there: what still differs was written without its
   * change. Run by #readKeys only, with no key pending: nothing writes the index while this reads, and every change
   * up to the last seq read (gaps aside) is in it. Never waits for a poll (a catch-up waits for #readKeys).
   */
  async #agrees(): Promise<boolean> {
    const asOf = await this.#reads.asOfUnapplied(INDEX_PAGE);
    // This far behind, the poll has the changes to read first; the next resync counts again.
    if (!asOf) return true;
    let size = this.#index.size;
    for (const [id, hash] of asOf.named) size += (hash === undefined ? 0 : 1) - (this.#index.holds(id) ? 1 : 0);
    return size === asOf.total;
  }
}
