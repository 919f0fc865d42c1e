// The in-memory view the gateway serves from. Steady state does no database I/O per request: access keys
// are found by SHA-256 in a Map, account snapshots are immutable objects swapped whole on reload.
// Freshness: in-process changes (ChangeBus) apply before the next request. Other processes' changes are
// read from `state_changes` as soon as we hear of them — PostgreSQL NOTIFY on a dedicated LISTEN connection,
// or SQLite's `PRAGMA data_version` moving — with a slower poll and a full resync every minute as safety nets.
import type { Logger } from 'pino';
import { sql } from 'kysely';
import { parseDatabaseUrl, preferResolved, type Store } from '../store/database.ts';
import type { SecretBox } from '../domain/secret-box.ts';
import { isAccessKeyToken, sha256Hex } from '../domain/ids.ts';
import { PLAYGROUND_TOKEN_PREFIX, type PlaygroundTokens } from '../domain/playground-token.ts';
import type { Change, ChangeBus } from './changes.ts';
import type { AccountSnapshot, AuthenticatedKey, ConfigurationState } from './types.ts';
import { accessKeyHashesAfter, accessKeysAsOfChanges, findAccessKeyByHash, findAccessKeysByIds, loadAccountSnapshot, type AccessKeyRecord } from './snapshot-loader.ts';
import { KeyIndexUpkeep } from './key-index-upkeep.ts';
import { writeLastUsed } from '../store/last-used.ts';
import { balancePico } from '../store/credits.ts';
import { CHANGES_CHANNEL } from './changes.ts';
import type { PgChangeListener } from './pg-listener.ts';
import { watchDataVersion, type DataVersionWatch } from './sqlite-watch.ts';
import { answeredWithin, settledWithin } from '../domain/settled.ts';

export interface GatewayStateOptions {
  store: Store;
  secretBox: SecretBox;
  changes: ChangeBus;
  logger: Logger;
  /**
   * How often `state_changes` is polled for other processes' changes. Default: 2 s while a push channel
   * (LISTEN, data_version) works, 250 ms while it does not. When given, this period is used throughout.
   */
  pollIntervalMs?: number;
  /** PostgreSQL: the URL the LISTEN session connects to (default: the store's; see Config.databaseListenUrl). */
  listenUrl?: string;
  /** How often SQLite's `PRAGMA data_version` is compared (default 100 ms). */
  dataVersionIntervalMs?: number;
  /** Full resync period (default 60 s). */
  resyncIntervalMs?: number;
  /** How long a seq skipped by a poll is looked for again (default 10 s; see GAP_TTL_MS). */
  gapTtlMs?: number;
  /** How often lastUsed timestamps are written (default 5 s). */
  flushIntervalMs?: number;
  /** How long an unknown token is remembered as unknown (default 2 s). */
  negativeTtlMs?: number;
  /**
   * Reads an account's credit balance for the balance gauge, in the background after its snapshot loads (default:
   * the store's balance).
   */
  readBalance?: (accountId: string) => Promise<bigint>;
  /** Checks the console Playground's tokens; without it they are refused like any unknown key. */
  playgroundTokens?: PlaygroundTokens;
}

const MAX_KEYS = 100_000;
const POLL_PUSHED_MS = 2_000;
const POLL_UNPUSHED_MS = 250;
/** A seq skipped by a poll may belong to a transaction that commits later (PostgreSQL); it is re-read this long. */
const GAP_TTL_MS = 10_000;
/**
 * How long a gap given up on is remembered: its notification brings it back, and a catch-up for a token not in the key
 * index and the minute's resync look for it once more (a pooler delivers no notification). Beyond: the resync's count.
 */
const ABANDONED_GAP_MS = 600_000;
const MAX_GAPS = 1_000;
const MAX_OWN = 10_000;
const MAX_NEGATIVE = 10_000;
/**
 * Store reads for keys not in memory under way at once. A token no key has is refused from the key index without one,
 * so these are real keys not cached yet (all of them after a restart): unbounded, their reads queued in the pool
 * (10 connections on PostgreSQL) ahead of the poll that applies other nodes' revocations, the reloads and the usage
 * writes, and a read its request had given up on still ran. Bounded, they hold at most this many connections.
 */
export const MAX_KEY_LOOKUPS = 4;
/** Lookups waiting for one of those; a request beyond is answered 27009 ("try again later") at once. */
export const MAX_KEY_LOOKUPS_WAITING = 1_000;

/** Too many keys not in memory asked for at once: nothing is known of this one. */
class KeyLookupsBusy extends Error {
  constructor() { super('too many access-key lookups under way'); }
}

/**
 * `urgent`: a change (or a first load) that requests must see, so they wait for it — at most RELOAD_WAIT_MS when a
 * snapshot is there to fall back on. The minute's safety-net resync is not urgent: nobody waits for it, so a
 * database that stopped answering never holds requests up.
 */
interface Reload { again: boolean; urgent: boolean; promise: Promise<void>; error?: unknown }

/** Longest a request waits for a change's reload before it is served from the last snapshot. */
const RELOAD_WAIT_MS = 2_000;

/**
 * A catch-up read of the change log for tokens not in the key index: every request that asked before `take`n shares
 * it, and `bounded` is its outcome within RELOAD_WAIT_MS (one timer a read, not one a request).
 */
interface CatchUp { resolve: (indexed: Promise<void>) => void; reject: (error: unknown) => void; bounded: Promise<void> }

/** Longest close() waits for the database (the last lastUsed stamps, a poll under way). */
const CLOSE_WAIT_MS = 2_000;

export class GatewayState {
  readonly #store: Store;
  readonly #listenUrl: string;
  readonly #secretBox: SecretBox;
  readonly #changes: ChangeBus;
  readonly #logger: Logger;
  readonly #pollMs: number | undefined;
  readonly #dataVersionMs: number;
  readonly #resyncMs: number;
  readonly #gapTtlMs: number;
  readonly #flushMs: number;
  readonly #negativeTtlMs: number;
  readonly #balanceOf: (accountId: string) => Promise<bigint>;
  readonly #grants: PlaygroundTokens | undefined;
  /** Accounts whose balance is being read (value: read once more when it ends). */
  readonly #balanceReads = new Map<string, boolean>();

  /** token hash → key; key id → token hash (to drop a key when it changes). */
  readonly #keys = new Map<string, AuthenticatedKey>();
  readonly #hashById = new Map<string, string>();
  /** token hash (`id:<key id>` for a Playground token's key) → time until which it is known not to exist. */
  readonly #negative = new Map<string, number>();
  readonly #keyLoads = new Map<string, Promise<AuthenticatedKey | null>>();
  /**
   * token → its hash, for tokens of cached keys only: a SHA-256 per request was ~1 % of the gateway's CPU. Process
   * memory only (the token passes through it anyway); an unknown token is never remembered, so junk cannot grow it,
   * and a key's token is forgotten when the key leaves the cache (changed, deleted, evicted), so it never lingers.
   */
  readonly #tokenHashes = new Map<string, string>();
  /** key id → its memoised token, so dropping one key forgets only its own token. */
  readonly #tokenById = new Map<string, string>();
  /** Every live access key's token hash (built by start, kept current by accessKey changes): see #unindexed. */
  readonly #keyIndex: KeyIndexUpkeep;
  /** The catch-up that the next poll serves (see #caughtUp). */
  #catchUp: CatchUp | undefined;
  /**
   * A poll read the change log through since the index was read, and the last one did not fail (one may have left a
   * key's creation unread). False until the first: a key created while start read the index, before it heard changes
   * (on SQLite, by this process: data_version unmoved), is in neither.
   */
  #pollOk = false;
  /** Bumped on every access-key change, so a lookup racing with one is not cached. */
  #keyGeneration = 0;
  /** Store reads for unknown keys running (at most MAX_KEY_LOOKUPS), and those waiting to, each handed a slot in turn. */
  #lookupsRunning = 0;
  readonly #lookupsWaiting: (() => void)[] = [];
  #busyLogged = false;

  readonly #accounts = new Map<string, AccountSnapshot>();
  readonly #reloads = new Map<string, Reload>();
  /** Accounts whose last reload failed, and whether it carried a change: every poll tries them again. */
  readonly #failedReloads = new Map<string, boolean>();
  /** When reloadAccount last read an account for each missing id (ms). */
  readonly #askedReloads = new Map<string, number>();

  /** Last use of each key since the last flush, epoch ms (made ISO text only when flushed, not per request). */
  #accessUsed = new Map<string, number>();
  #providerUsed = new Map<string, number>();

  #lastSeq = 0;
  /** Told each account snapshot replacing one (what was held for the old one may have to go: gateway/bedrock-role.ts). */
  readonly #reloadListeners: ((before: AccountSnapshot, now: AccountSnapshot) => void)[] = [];
  /** Told each access key dropped by a change (what was opened with it may have to end: gateway/realtime/gateway.ts). */
  readonly #keyListeners: ((accessKeyId: string) => void)[] = [];
  #unsubscribe: (() => void) | undefined;
  #timers: NodeJS.Timeout[] = [];
  #pollTimer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #pollAgain = false;
  /** seq → time until which it is looked for again (see GAP_TTL_MS). */
  readonly #gaps = new Map<number, number>();
  /** Gaps no longer looked for, seq → until when a notification naming one brings it back (#notified). */
  readonly #abandonedGaps = new Map<number, number>();
  /** The next poll looks for the gaps given up on too (asked by a catch-up or the resync; see ABANDONED_GAP_MS). */
  #lookAbandoned = false;
  /** Seqs this process published and already applied through the bus; the poll skips them once. */
  readonly #own = new Set<number>();
  #listener: PgChangeListener | undefined;
  #watch: DataVersionWatch | undefined;
  #closed = false;
  #failing = false;

  constructor(options: GatewayStateOptions) {
    this.#store = options.store;
    // With its `sslmode` read as the store's URL is (parseDatabaseUrl).
    this.#listenUrl = options.listenUrl === undefined ? options.store.url : parseDatabaseUrl(options.listenUrl).url;
    this.#secretBox = options.secretBox;
    this.#changes = options.changes;
    this.#logger = options.logger;
    this.#pollMs = options.pollIntervalMs;
    this.#dataVersionMs = options.dataVersionIntervalMs ?? 100;
    this.#resyncMs = options.resyncIntervalMs ?? 60_000;
    this.#gapTtlMs = options.gapTtlMs ?? GAP_TTL_MS;
    this.#flushMs = options.flushIntervalMs ?? 5_000;
    this.#negativeTtlMs = options.negativeTtlMs ?? 2_000;
    this.#balanceOf = options.readBalance ?? ((accountId) => balancePico(options.store.db, accountId));
    this.#grants = options.playgroundTokens;
    this.#keyIndex = new KeyIndexUpkeep({
      page: (afterId, limit) => accessKeyHashesAfter(this.#store.db, afterId, limit),
      byIds: (ids) => findAccessKeysByIds(this.#store.db, ids),
      // The changes not applied here yet: after the last seq read, or in a gap.
      asOfUnapplied: (limit) => accessKeysAsOfChanges(this.#store.db, this.#lastSeq, [...this.#gaps.keys(), ...this.#abandonedGaps.keys()], limit),
    }, (error, message) => this.#failed(error, message));
  }

  async start(): Promise<void> {
    const row = await this.#store.db.selectFrom('stateChanges').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirst();
    this.#lastSeq = Number(row?.seq ?? 0);
    // A seq below the newest that is not there yet may belong to a transaction still open (PostgreSQL takes seqs at
    // insert, shows them at commit): looked for as a gap, as the poll does for those it skips, or a revocation
    // committing just after this start would wait for the minute's resync.
    const floor = Math.max(0, this.#lastSeq - MAX_GAPS);
    if (this.#lastSeq > 0 && !this.#store.sqlite) {
      const present = await this.#store.db.selectFrom('stateChanges').select('seq').where('seq', '>', floor).execute();
      const seen = new Set(present.map((r) => Number(r.seq)));
      const until = Date.now() + this.#gapTtlMs;
      for (let seq = floor + 1; seq < this.#lastSeq; seq++) if (!seen.has(seq)) this.#gaps.set(seq, until);
    }
    // After the seq: a key created or deleted while the pages are read is a change the poll reads after it.
    await this.#keyIndex.load();
    this.#unsubscribe = this.#changes.subscribe((change, seq) => {
      // Re-applying our own change when the poll reads it back (at once, now that NOTIFY wakes the poll)
      // would reload for nothing and keep racing lookups from being cached.
      if (seq !== undefined) {
        if (this.#own.size >= MAX_OWN) this.#own.clear();
        this.#own.add(seq);
      }
      this.#apply(change);
    });
    await this.#startPush();
    this.#schedulePoll();
    this.#timers.push(setInterval(() => void this.#resync(), this.#resyncMs).unref());
    this.#timers.push(setInterval(() => void this.#flushLastUsed(), this.#flushMs).unref());
  }

  /** Sync when cached (positive or negative); a Promise only on a cache miss or while the account reloads. */
  authenticate(token: string): AuthenticatedKey | null | Promise<AuthenticatedKey | null> {
    if (token === '') return null;
    if (token.startsWith(PLAYGROUND_TOKEN_PREFIX)) return this.#authenticateGrant(token);
    const memo = this.#tokenHashes.get(token);
    if (memo === undefined && !isAccessKeyToken(token)) return null;
    return this.#byHash(memo ?? sha256Hex(token), memo === undefined ? token : undefined);
  }

  /**
   * A Playground token (domain/playground-token.ts): the access key it names, found by id in memory, served as that
   * key's own request while the key exists in the token's account. A key not in memory yet is read once by id, as an
   * unknown access key is by hash, and cached as if its token had been seen.
   */
  #authenticateGrant(token: string): AuthenticatedKey | null | Promise<AuthenticatedKey | null> {
    const grant = this.#grants?.verify(token);
    if (!grant) return null;
    const found = this.accessKeyById(grant.accessKeyId);
    // A copy carrying the token's expiry (a realtime session it opens ends then): an access key's own object, shared
    // by all its requests, carries none.
    const granted = (key: AuthenticatedKey | null) => (key?.id === grant.accessKeyId && key.accountId === grant.accountId ? Object.freeze({ ...key, expiresAt: grant.expiresAt }) : null);
    return found instanceof Promise ? found.then(granted) : granted(found);
  }

  /**
   * The access key with this id as the store has it now, null when it is gone: from memory when cached, else read
   * once by id (remembered as unknown a while, as an unknown token is).
   */
  accessKeyById(id: string): AuthenticatedKey | null | Promise<AuthenticatedKey | null> {
    const hash = this.#hashById.get(id);
    return hash !== undefined ? this.#byHash(hash, undefined) : this.#lookup(`id:${id}`, async () => (await findAccessKeysByIds(this.#store.db, [id]))[0]);
  }

  /** `unmemoised`: the access key's token, to remember its hash once the key is known (undefined: nothing to remember). */
  #byHash(hash: string, unmemoised: string | undefined): AuthenticatedKey | null | Promise<AuthenticatedKey | null> {
    const key = this.#keys.get(hash);
    if (key) {
      const reload = this.#reloads.get(key.accountId);
      if (reload?.urgent) {
        // A change is being applied: the request sees it — unless the database is too slow to answer, when the last
        // snapshot serves (operations.md: an unreachable database is served from memory).
        return this.#awaitReload(key.accountId, reload).then(() => {
          // Still reloading: served as the key stands in the last snapshot (if the change did not drop it).
          const stillReloading = this.#reloads.get(key.accountId)?.urgent === true && this.#accounts.has(key.accountId);
          return (stillReloading ? this.#keys.get(hash) : undefined) ?? this.#byHash(hash, unmemoised);
        });
      }
      if (this.#accounts.has(key.accountId)) {
        if (unmemoised !== undefined) this.#memoHash(unmemoised, hash, key.id);
        return key;
      }
    }
    if (!this.#keyIndex.has(hash)) return this.#unindexed(hash, unmemoised);
    return this.#lookup(hash, () => findAccessKeyByHash(this.#store.db, hash));
  }

  /**
   * A token no key in the index has: refused without a store read — once the changes committed before it came are
   * applied, for it may be a key another process created a moment ago. On SQLite, `data_version` tells at once
   * (µs, no table read) whether another connection committed since the last poll; with nothing new and nothing still
   * being applied, it is refused now. Otherwise it waits for a poll of the change log begun after it came, shared by
   * every such request (a flood costs one poll at a time, whatever its size), and at most RELOAD_WAIT_MS: a store
   * that does not answer gets "try again later" (27009), as a lookup of a key not in memory does.
   */
  #unindexed(hash: string, unmemoised: string | undefined): null | Promise<AuthenticatedKey | null> {
    if (this.#watch && this.#indexSettled() && !this.#watch.check()) return null;
    return this.#caughtUp().then(() => (this.#keyIndex.has(hash) ? this.#byHash(hash, unmemoised) : null));
  }

  /** Nothing read from the change log is still being applied to the key index, nor was left unread by a failure. */
  #indexSettled(): boolean {
    return this.#pollOk && !this.#polling && this.#catchUp === undefined && this.#keyIndex.settled();
  }

  /** Resolves once a poll begun after this call has been applied to the key index; see #unindexed. */
  #caughtUp(): Promise<void> {
    if (!this.#catchUp) {
      const { promise, resolve, reject } = Promise.withResolvers<void>();
      const bounded = this.#answeredWithin(promise, 'a read of the change log for a token not in the key index');
      // Logged once per streak; each request waiting for it is answered 27009 by its own rejection.
      bounded.catch((error: unknown) => this.#failed(error, 'a token not in the access-key index could not be checked against the change log; such tokens are answered "try again later" until the store answers'));
      this.#catchUp = { resolve, reject, bounded };
    }
    const { bounded } = this.#catchUp;
    this.#kick();
    return bounded;
  }

  /** A key not in memory: remembered as unknown a while under `missKey`, one store read shared by concurrent requests. */
  #lookup(missKey: string, find: () => Promise<AccessKeyRecord | undefined>): null | Promise<AuthenticatedKey | null> {
    const until = this.#negative.get(missKey);
    if (until !== undefined) {
      if (until > Date.now()) return null;
      this.#negative.delete(missKey);
    }
    let load = this.#keyLoads.get(missKey);
    if (!load) {
      const started: Promise<AuthenticatedKey | null> = this.#loadKey(missKey, find).finally(() => {
        // An access-key change may have replaced it meanwhile (#apply): the newer lookup stays joinable.
        if (this.#keyLoads.get(missKey) === started) this.#keyLoads.delete(missKey);
      });
      load = started;
      this.#keyLoads.set(missKey, load);
    }
    return load;
  }

  /** `listener` is called with an account's snapshot and the one it replaced, on each reload. */
  onReload(listener: (before: AccountSnapshot, now: AccountSnapshot) => void): void {
    this.#reloadListeners.push(listener);
  }

  /**
   * `listener` is called with an access key's id each time a change to it is applied here (deleted, re-linked,
   * edited), or the minute's resync finds it gone or changed: the key was dropped from memory, and accessKeyById
   * reads it again.
   */
  onAccessKeyChange(listener: (accessKeyId: string) => void): void {
    this.#keyListeners.push(listener);
  }

  /** The account's current snapshot; present once one of its keys authenticated. */
  account(accountId: string): AccountSnapshot {
    const snapshot = this.#accounts.get(accountId);
    if (!snapshot) throw new Error(`account ${accountId} is not loaded`);
    return snapshot;
  }

  /** Every loaded account (those whose keys authenticated here), for the credit-balance gauge at scrape time. */
  accounts(): IterableIterator<AccountSnapshot> {
    return this.#accounts.values();
  }

  /**
   * Reads the account's snapshot again now and resolves when it is loaded: for a key naming a configuration (`missing`)
   * this snapshot does not hold yet (the key was loaded on its own, after the snapshot, in another process's
   * deployment), before concluding the configuration is gone. Resolves false when the read failed: the snapshot
   * may be stale, and the configuration's absence proves nothing.
   */
  async reloadAccount(accountId: string, missing: string): Promise<boolean> {
    // At most once a second for one missing thing: a key whose configuration really is gone must not turn each
    // of its requests into a snapshot read. The read of under a second ago stands.
    const now = Date.now();
    if (now - (this.#askedReloads.get(missing) ?? 0) < 1000) return true;
    if (this.#askedReloads.size >= MAX_NEGATIVE) this.#askedReloads.clear();
    this.#askedReloads.set(missing, now);
    const reload = this.#reload(accountId, true)!;
    await reload.promise;
    if (reload.error === undefined) return true;
    // Asked again on the next request, not a second later: this read said nothing.
    this.#askedReloads.delete(missing);
    return false;
  }

  /**
   * For a request about to be refused for credit: a change another process committed but this gateway has not
   * applied yet may be the grant that admits it (`tollgate credits grant` returns before the 100 ms data_version
   * poll sees it). On SQLite, data_version is read now (µs, no table read); when it moved, or a poll or this
   * account's reload is under way, resolves once they are applied (at most RELOAD_WAIT_MS). Undefined when nothing
   * is pending, so an empty account's refusals cost no database I/O.
   */
  changesArriving(accountId: string): Promise<void> | undefined {
    if (this.#closed) return undefined;
    this.#watch?.check();
    if (!this.#polling && !this.#reloads.has(accountId)) return undefined;
    const applied = (async () => {
      while (this.#polling) await this.#polling;
      await this.#reloads.get(accountId)?.promise;
    })();
    return settledWithin(applied, RELOAD_WAIT_MS).then(() => undefined);
  }

  configuration(key: AuthenticatedKey): ConfigurationState | null {
    if (key.configurationId === null) return null;
    return this.#accounts.get(key.accountId)?.configurations.get(key.configurationId) ?? null;
  }

  markUsed(accessKeyId: string, providerKeyId?: string): void {
    const now = Date.now();
    this.#accessUsed.set(accessKeyId, now);
    if (providerKeyId !== undefined) this.#providerUsed.set(providerKeyId, now);
  }

  /** A balance read (the gauge's own, or the credit ledger's: store − unshipped): the gauge shows the freshest figure. */
  setBalance(accountId: string, pico: bigint): void {
    const snapshot = this.#accounts.get(accountId);
    if (snapshot) snapshot.balancePico = pico;
  }

  /** Keeps the in-memory balance current between reloads (a reload reads the store's balance again). */
  debit(accountId: string, pico: bigint): void {
    const snapshot = this.#accounts.get(accountId);
    if (snapshot) snapshot.balancePico -= pico;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#unsubscribe?.();
    this.#watch?.stop();
    for (const t of this.#timers) clearInterval(t);
    if (this.#pollTimer) clearTimeout(this.#pollTimer);
    // A database gone silent must not keep a stopping process alive: what is left is a poll, reloads nobody needs any
    // more, and lastUsed stamps (a convenience, not a record).
    const finishing = Promise.allSettled([this.#listener?.close(), this.#polling, this.#keyIndex.close(), ...[...this.#reloads.values()].map((r) => r.promise)])
      .then(() => this.#flushLastUsed());
    if (!(await settledWithin(finishing, CLOSE_WAIT_MS))) this.#logger.warn({ waitedMs: CLOSE_WAIT_MS }, 'the database did not answer while the gateway state closed; stopping without it (lastUsed stamps not yet written are dropped)');
  }

  /** Writes pending lastUsed timestamps now (also done every few seconds and on close). */
  async flushLastUsed(): Promise<void> {
    await this.#flushLastUsed();
  }

  /** Applies every change recorded by other processes so far (on a push, and every poll interval). */
  async poll(): Promise<void> {
    const now = Date.now();
    for (const [seq, until] of this.#gaps) {
      if (until > now) continue;
      this.#gaps.delete(seq);
      // Full (rolled-back seqs, which no notification ever names, fill it): the oldest makes room for the newest.
      if (this.#abandonedGaps.size >= MAX_GAPS) this.#abandonedGaps.delete(this.#abandonedGaps.keys().next().value!);
      this.#abandonedGaps.set(seq, now + ABANDONED_GAP_MS);
    }
    for (const [seq, until] of this.#abandonedGaps) if (until <= now) this.#abandonedGaps.delete(seq);
    // Looked for once here, not by every poll: a flood's catch-ups run one at a time, and a pooler's 250 ms polls would
    // each carry up to MAX_GAPS more seqs (rolled-back ones are never found) for changes that are almost never there.
    const abandoned = this.#lookAbandoned ? new Set(this.#abandonedGaps.keys()) : undefined;
    this.#lookAbandoned = false;
    /** The last seq read before the first run of seqs this poll skipped (see #prunedAfter). */
    let skippedAfter: number | undefined;
    for (;;) {
      const gaps = [...this.#gaps.keys(), ...(abandoned ?? [])];
      const rows = await this.#store.db.selectFrom('stateChanges').select(['seq', 'accountId', 'kind', 'resourceId'])
        .where((eb) => gaps.length > 0 ? eb.or([eb('seq', '>', this.#lastSeq), eb('seq', 'in', gaps)]) : eb('seq', '>', this.#lastSeq))
        .orderBy('seq').limit(1000).execute();
      for (const row of rows) {
        const seq = Number(row.seq);
        const own = this.#own.delete(seq);
        if (this.#gaps.delete(seq) || abandoned?.delete(seq)) {
          // A late commit: applying a change twice is harmless (drop a key, reload an account).
          this.#abandonedGaps.delete(seq);
        } else if (seq > this.#lastSeq) {
          if (seq > this.#lastSeq + 1) skippedAfter ??= this.#lastSeq;
          // Sequence values are taken at insert and become visible at commit, so on PostgreSQL a lower seq
          // can appear after a higher one was read. Remember what was skipped and look for it again.
          for (let missing = Math.max(this.#lastSeq + 1, seq - MAX_GAPS); missing < seq && this.#gaps.size < MAX_GAPS; missing++) {
            this.#gaps.set(missing, now + this.#gapTtlMs);
          }
          this.#lastSeq = seq;
        }
        if (!own) this.#apply({ accountId: row.accountId, kind: row.kind as Change['kind'], resourceId: row.resourceId });
      }
      if (rows.length < 1000) break;
    }
    if (skippedAfter !== undefined && await this.#prunedAfter(skippedAfter)) {
      this.#logger.warn({ lastSeq: skippedAfter }, 'state changes this gateway had not read yet were pruned (it could not read them for over an hour); reading its accounts, cached access keys and access-key index again now');
      this.#keyIndex.reread();
      void this.#resync();
    }
  }

  /**
   * Whether changes after `seq` may have been pruned unread (store/state-changes.ts keeps an hour): a gateway cut off
   * from the store longer would otherwise go on serving a key revoked meanwhile until the minute's resync after the
   * store answers again. The oldest row left is then above `seq`; when only rolled-back or still-open seqs were
   * skipped, rows up to `seq` are still there (an hour of them, or the newest). Unanswered: said pruned, as the
   * skipped seqs are not looked for again by this check.
   */
  async #prunedAfter(seq: number): Promise<boolean> {
    const row = await this.#store.db.selectFrom('stateChanges').select((eb) => eb.fn.min('seq').as('oldest')).executeTakeFirst().catch(() => undefined);
    return row === undefined || (row.oldest !== null && Number(row.oldest) > seq);
  }

  async #loadKey(missKey: string, find: () => Promise<AccessKeyRecord | undefined>): Promise<AuthenticatedKey | null> {
    const generation = this.#keyGeneration;
    let row: AccessKeyRecord | undefined;
    // The 2 s run from the ask, a wait for a slot included (#limited decides the same way, synchronously).
    const queued = this.#lookupsRunning >= MAX_KEY_LOOKUPS;
    const askedAt = Date.now();
    let ranAt: number | undefined;
    // The store's own answer was an error: a failing store, however long the lookup waited for its turn first.
    let storeFailed = false;
    try {
      row = await this.#answeredWithin(this.#limited(() => {
        ranAt = Date.now();
        return find().catch((error: unknown) => {
          storeFailed = true;
          throw error;
        });
      }), 'an access key lookup');
    } catch (error) {
      if (error instanceof KeyLookupsBusy) this.#busy();
      // Its time went in the queue (a burst of keys not in memory), not in a store that did not answer: a store failure
      // logged for it would also hide a real one that follows (#failed logs a streak once).
      else if (queued && !storeFailed) this.#busy((ranAt ?? Date.now()) - askedAt);
      else this.#failed(error, 'looking up an access key failed; keys not in memory cannot be checked until the store answers');
      throw error;
    }
    if (!row) {
      if (generation === this.#keyGeneration) this.#rememberUnknown(missKey);
      return null;
    }
    await this.#ensureAccount(row.accountId);
    const key = toKey(row);
    if (generation === this.#keyGeneration) this.#cacheKey(row.tokenHash, key);
    return key;
  }

  /** `find` once fewer than MAX_KEY_LOOKUPS run; not run at all when its request gave up waiting (RELOAD_WAIT_MS). */
  async #limited<T>(find: () => Promise<T>): Promise<T> {
    if (this.#lookupsRunning < MAX_KEY_LOOKUPS) this.#lookupsRunning++;
    else {
      if (this.#lookupsWaiting.length >= MAX_KEY_LOOKUPS_WAITING) throw new KeyLookupsBusy();
      const queued = Date.now();
      // Resolved by a finishing lookup, whose slot it takes over.
      await new Promise<void>((resolve) => this.#lookupsWaiting.push(resolve));
      if (Date.now() - queued >= RELOAD_WAIT_MS) {
        this.#releaseLookup();
        throw new KeyLookupsBusy();
      }
    }
    try {
      return await find();
    } finally {
      this.#releaseLookup();
    }
  }

  #releaseLookup(): void {
    const next = this.#lookupsWaiting.shift();
    if (next) next();
    // The burst is over once no lookup runs: not when a slot first frees with nobody waiting — the lookups given up in
    // the queue report themselves a few microtasks after freeing theirs, and under load the burst was logged twice.
    else if (--this.#lookupsRunning === 0) this.#busyLogged = false;
  }

  /**
   * Logged once per burst: requests for keys not in memory were answered 27009, without a store read (the queue was
   * full) or after waiting their turn in it for `queuedMs` (given up at RELOAD_WAIT_MS).
   */
  #busy(queuedMs?: number): void {
    if (this.#busyLogged) return;
    this.#busyLogged = true;
    if (queuedMs === undefined) this.#logger.warn({ running: MAX_KEY_LOOKUPS, waiting: MAX_KEY_LOOKUPS_WAITING }, 'too many lookups of access keys not in memory (many keys not cached yet asked at once, as after a restart?); keys not cached are answered "try again later" until they drain');
    else this.#logger.warn({ queuedMs, limitMs: RELOAD_WAIT_MS, running: MAX_KEY_LOOKUPS, waiting: this.#lookupsWaiting.length }, `a lookup of an access key not in memory was given up after ${RELOAD_WAIT_MS} ms, queuedMs of them spent waiting its turn among such lookups (${MAX_KEY_LOOKUPS} run at once; many keys not cached yet asked at once, as after a restart?); keys not cached are answered "try again later" until the queue drains`);
  }

  #cacheKey(hash: string, key: AuthenticatedKey): void {
    if (this.#keys.size >= MAX_KEYS) {
      const oldest = this.#keys.entries().next().value;
      if (oldest) this.#dropKey(oldest[1].id);
    }
    this.#keys.set(hash, key);
    this.#hashById.set(key.id, hash);
  }

  #memoHash(token: string, hash: string, keyId: string): void {
    // Only cached keys' tokens are here and each leaves with its key, so this bound is a safety net.
    if (this.#tokenHashes.size >= MAX_KEYS) { this.#tokenHashes.clear(); this.#tokenById.clear(); }
    this.#tokenHashes.set(token, hash);
    this.#tokenById.set(keyId, token);
  }

  #dropKey(id: string): void {
    const hash = this.#hashById.get(id);
    if (hash === undefined) return;
    this.#hashById.delete(id);
    this.#keys.delete(hash);
    const token = this.#tokenById.get(id);
    if (token === undefined) return;
    this.#tokenById.delete(id);
    this.#tokenHashes.delete(token);
  }

  #rememberUnknown(hash: string): void {
    if (this.#negative.size >= MAX_NEGATIVE) {
      const now = Date.now();
      for (const [h, until] of this.#negative) if (until <= now) this.#negative.delete(h);
      if (this.#negative.size >= MAX_NEGATIVE) this.#negative.clear();
    }
    this.#negative.set(hash, Date.now() + this.#negativeTtlMs);
  }

  /** A reload's end — with a snapshot to fall back on, at most RELOAD_WAIT_MS: a slow database holds a request only so long. */
  async #awaitReload(accountId: string, reload: Reload): Promise<void> {
    if (this.#accounts.has(accountId)) await settledWithin(reload.promise, RELOAD_WAIT_MS);
    else await this.#answeredWithin(reload.promise, "an account's first load");
  }

  /**
   * `work`, or a rejection after RELOAD_WAIT_MS: a database gone silent holds no request longer, and a given-up key
   * lookup is dropped so the next request asks again rather than joining one stuck on a dead connection. With no
   * snapshot to fall back on, the request is answered 27009 ("try again later").
   */
  #answeredWithin<T>(work: Promise<T>, what: string): Promise<T> {
    return answeredWithin(work, RELOAD_WAIT_MS, `the store did not answer ${what} within ${RELOAD_WAIT_MS} ms`);
  }

  async #ensureAccount(accountId: string): Promise<void> {
    const loaded = this.#accounts.has(accountId);
    if (loaded && !this.#reloads.get(accountId)?.urgent) return;
    const reload = this.#reload(accountId, true)!;
    await this.#awaitReload(accountId, reload);
    if (!this.#accounts.has(accountId)) throw reload.error instanceof Error ? reload.error : new Error(`account ${accountId} could not be loaded`);
  }

  /**
   * The balance gauge's figure, read after the snapshot without holding up requests: the sum over an account's
   * usage grows with its history (hundreds of ms for a large account), and a reload is waited for by requests.
   */
  #readBalance(accountId: string): void {
    if (this.#closed) return;
    if (this.#balanceReads.has(accountId)) {
      this.#balanceReads.set(accountId, true);
      return;
    }
    this.#balanceReads.set(accountId, false);
    void this.#balanceOf(accountId).then((balance) => this.setBalance(accountId, balance), (error: unknown) => {
      this.#logger.debug({ accountId, err: error instanceof Error ? error.message : String(error) }, 'credit balance read for the gauge failed');
    }).finally(() => {
      const again = this.#balanceReads.get(accountId);
      this.#balanceReads.delete(accountId);
      if (again) this.#readBalance(accountId);
    });
  }

  /** Reloads an account's snapshot (only if it is served here, unless forced); a change mid-load loads again. */
  #reload(accountId: string, force: boolean, urgent = true): Reload | undefined {
    const running = this.#reloads.get(accountId);
    if (running) {
      running.again = true;
      if (urgent) running.urgent = true;
      return running;
    }
    if (!force && !this.#accounts.has(accountId)) return undefined;
    const reload: Reload = { again: true, urgent, promise: Promise.resolve() };
    reload.promise = (async () => {
      try {
        while (reload.again) {
          reload.again = false;
          const snapshot = await loadAccountSnapshot(this.#store.db, this.#secretBox, this.#logger, accountId);
          // The balance as it stands now, not as the load began: a request debited meanwhile stays debited.
          const before = this.#accounts.get(accountId);
          snapshot.balancePico = before?.balancePico ?? snapshot.balancePico;
          this.#accounts.set(accountId, snapshot);
          if (before) for (const listener of this.#reloadListeners) listener(before, snapshot);
        }
        this.#failedReloads.delete(accountId);
        this.#readBalance(accountId);
        if (this.#failedReloads.size === 0) this.#recovered();
      } catch (error) {
        // Keep serving the last snapshot; the next poll tries again (the change it applies was read already).
        reload.error = error;
        if (this.#accounts.has(accountId)) this.#failedReloads.set(accountId, reload.urgent || this.#failedReloads.get(accountId) === true);
        this.#failed(error, 'account reload failed; serving the last snapshot');
      } finally {
        this.#reloads.delete(accountId);
      }
    })();
    this.#reloads.set(accountId, reload);
    return reload;
  }

  #apply(change: Change): void {
    switch (change.kind) {
      case 'accessKey':
        // Revocation and re-linking take effect on the very next request: the key is looked up again.
        this.#keyGeneration++;
        this.#dropKey(change.resourceId);
        this.#negative.clear();
        // A lookup under way may have read the key's row before the change (and then waits for its account's first
        // load, up to RELOAD_WAIT_MS): the requests that already joined it get its answer, a request arriving from
        // now on looks the token up again — or a revoked key would be served after its revocation was applied.
        this.#keyLoads.clear();
        this.#keyIndex.keyChanged(change.resourceId);
        for (const listener of this.#keyListeners) listener(change.resourceId);
        return;
      case 'apiKey':
        return;
      default:
        this.#reload(change.accountId, false);
    }
  }

  /** LISTEN on PostgreSQL, data_version on SQLite: both only trigger #kick, the poll does the reading. */
  async #startPush(): Promise<void> {
    if (this.#store.dialect === 'postgres') {
      // Imported here, like the driver in store/database.ts: SQLite deployments never load pg.
      const { PgChangeListener } = await import('./pg-listener.ts');
      // The store's URL had sslmode=prefer resolved when it opened; a listen URL of its own is resolved here.
      const listenUrl = this.#listenUrl === this.#store.url ? this.#listenUrl : await preferResolved((await import('pg')).default, this.#listenUrl);
      // close() may have run while the module loaded: start nothing it would not stop.
      if (this.#closed) return;
      this.#listener = new PgChangeListener({
        connectionString: listenUrl, channel: CHANGES_CHANNEL, logger: this.#logger,
        onNotify: (payload) => this.#notified(payload),
        onConnect: () => this.#kick(),
        // Back to the fast poll at once, not after the slow period already scheduled.
        onDisconnect: () => { if (!this.#polling) this.#schedulePoll(); },
        // Over the pool the changes' own NOTIFYs take: what the listener hears of it is what it hears of them.
        probe: async (channel, payload) => { await sql`SELECT pg_notify(${channel}, ${payload})`.execute(this.#store.db); },
      });
      await this.#listener.start();
    } else if (this.#store.sqlite) {
      this.#watch = watchDataVersion(this.#store.sqlite, this.#dataVersionMs, () => this.#kick(),
        (error) => this.#failed(error, 'reading PRAGMA data_version failed'));
    }
  }

  /**
   * A notification names its change's seq and comes at its commit. A gap given up on (a transaction that stayed
   * open longer than GAP_TTL_MS) is looked for again when its notification comes: a revocation that committed late
   * must not wait for the minute's resync. A seq already read is not read twice.
   */
  #notified(payload: string | undefined): void {
    const seq = payload === undefined ? NaN : Number(payload);
    if (Number.isSafeInteger(seq) && (this.#gaps.has(seq) || (this.#abandonedGaps.delete(seq) && this.#gaps.size < MAX_GAPS))) this.#gaps.set(seq, Date.now() + this.#gapTtlMs);
    this.#kick();
  }

  /** PostgreSQL: LISTEN is in place but hears nothing (a transaction pooler; see PgChangeListener.deaf). */
  get listenDeaf(): boolean {
    return this.#listener?.deaf ?? false;
  }

  #pushHealthy(): boolean {
    if (this.#listener) return this.#listener.healthy;
    return this.#watch !== undefined;
  }

  /** Polls now; a push arriving mid-poll runs one more poll after it (a burst costs at most two). */
  #kick(): void {
    if (this.#closed) return;
    if (this.#polling) {
      this.#pollAgain = true;
      return;
    }
    if (this.#pollTimer) clearTimeout(this.#pollTimer);
    this.#polling = (async () => {
      try {
        do {
          this.#pollAgain = false;
          // The requests that asked before this poll began are answered by it (see #caughtUp).
          const catchUp = this.#catchUp;
          this.#catchUp = undefined;
          // The token may be a key whose change committed after its gap was given up on, through a pooler (no NOTIFY).
          if (catchUp) this.#lookAbandoned = true;
          try {
            await this.poll();
            this.#pollOk = true;
            // Also reads again the keys a failed read left pending.
            catchUp?.resolve(this.#keyIndex.update());
            for (const [accountId, urgent] of this.#failedReloads) this.#reload(accountId, false, urgent);
            // Recovered only when nothing is still failing: a streak is logged once, not once per poll.
            if (this.#failedReloads.size === 0) this.#recovered();
          } catch (error) {
            this.#pollOk = false;
            catchUp?.reject(error);
            this.#failed(error, 'polling state changes failed');
          }
        } while (this.#pollAgain && !this.#closed);
      } finally {
        // As the loop ends, not a microtask later: a request asking in between would find a poll under way, leave its
        // catch-up to it, and wait for the next timer (2 s: "try again later"). (The loop awaits first: #polling is set.)
        this.#polling = undefined;
        this.#schedulePoll();
      }
    })();
  }

  #schedulePoll(): void {
    if (this.#closed) return;
    if (this.#pollTimer) clearTimeout(this.#pollTimer);
    const period = this.#pollMs ?? (this.#pushHealthy() ? POLL_PUSHED_MS : POLL_UNPUSHED_MS);
    this.#pollTimer = setTimeout(() => this.#kick(), period);
    this.#pollTimer.unref();
  }

  async #resync(): Promise<void> {
    try {
      for (const accountId of this.#accounts.keys()) this.#reload(accountId, false, false);
      // A key inserted or deleted by hand (no change recorded) would otherwise be missing from the index, or linger.
      this.#keyIndex.recount();
      // A change whose transaction committed after its gap was given up on, which no notification brought back.
      if (this.#abandonedGaps.size > 0) {
        this.#lookAbandoned = true;
        this.#kick();
      }
      // Each cached key as held when the read begins. One changed meanwhile was dropped (and is another object if cached
      // again), one first cached meanwhile was not read: both are left as they are. Not the whole check set aside for
      // any access-key change during the read: where keys change more often than it takes (100,000 cached keys are 200
      // reads), a key deleted without its change reaching this gateway was served for as long as they did.
      const held = new Map<string, AuthenticatedKey>();
      for (const [id, hash] of this.#hashById) held.set(id, this.#keys.get(hash)!);
      const rows = await findAccessKeysByIds(this.#store.db, [...held.keys()]);
      const live = new Map(rows.map((r) => [r.id, r]));
      for (const [id, was] of held) {
        const hash = this.#hashById.get(id);
        if (hash === undefined || this.#keys.get(hash) !== was) continue;
        const row = live.get(id);
        if (!row || row.tokenHash !== hash) this.#dropKey(id);
        else this.#keys.set(hash, toKey(row));
        // A change missed (its notice lost): told as if it had come.
        if (!row || row.tokenHash !== hash || was.configurationId !== row.configurationId) for (const listener of this.#keyListeners) listener(id);
      }
    } catch (error) {
      this.#failed(error, 'full resync failed');
    }
  }

  async #flushLastUsed(): Promise<void> {
    if (this.#accessUsed.size === 0 && this.#providerUsed.size === 0) return;
    const access = this.#accessUsed;
    const provider = this.#providerUsed;
    this.#accessUsed = new Map();
    this.#providerUsed = new Map();
    try {
      await writeLastUsed(this.#store.db, isoTimes(access), isoTimes(provider));
    } catch (error) {
      // Put them back unless a newer use was recorded meanwhile.
      for (const [id, at] of access) if (!this.#accessUsed.has(id)) this.#accessUsed.set(id, at);
      for (const [id, at] of provider) if (!this.#providerUsed.has(id)) this.#providerUsed.set(id, at);
      this.#failed(error, 'writing lastUsed failed');
    }
  }

  /** Logs the first failure of a streak only, so a database outage does not flood the log. */
  #failed(error: unknown, message: string): void {
    if (this.#failing) return;
    this.#failing = true;
    this.#logger.error({ err: error instanceof Error ? { message: error.message } : String(error) }, message);
  }

  #recovered(): void {
    if (!this.#failing) return;
    this.#failing = false;
    this.#logger.info('gateway state reloads from the store again');
  }
}

function toKey(row: AccessKeyRecord): AuthenticatedKey {
  return Object.freeze({ id: row.id, accountId: row.accountId, configurationId: row.configurationId });
}

function isoTimes(times: ReadonlyMap<string, number>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [id, at] of times) out.set(id, new Date(at).toISOString());
  return out;
}
