// Credit ledger of the gateway process (TOLLGATE_BILLING=on): per account, the spendable balance and the
// reservations of requests in flight. A request reserves an upper bound of its cost before dispatch and is
// admitted only while balance − open reservations > 0; metering settles it to the real cost.
//
// The balance is read from the store under the journal's fence (no shipment in flight), minus the cost of
// events recorded here but not yet shipped, so an event is counted exactly once whether or not it has
// reached the store. It is read again whenever the account's snapshot is reloaded (a credit grant, any
// change, the periodic resync) and, with several gateways, at most a second after the last read. Requests do
// not wait for those reads, except a request the current figure would refuse while a read is under way (a
// grant may be arriving), and the first request after the account sat idle long enough for the figure to be
// stale (other gateways may have spent meanwhile). See docs/decisions/usage-durability.md.
import type { Logger } from 'pino';
import { settledWithin } from '../domain/settled.ts';
import { tollgateError } from '../domain/errors.ts';

export interface LedgerJournal {
  unshippedPico(accountId: string): bigint;
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** Events a previous run left have shipped again: a read before it may have counted them twice. */
  onLeftoversShipped?(listener: (accounts: ReadonlySet<string>) => void): () => void;
  /** Resolves once the account's events recorded so far are in the store; undefined when none is unshipped. */
  whenShipped?(accountId: string): Promise<void> | undefined;
}

/** A balance read, with when it changes by itself: a grant counted in it lapses then (ms since the epoch). */
export interface BalanceRead { balance: bigint; lapsesAt?: number | undefined }

/** After a failed read of an account whose grant lapsed, the next request asks the store again this much later. */
const LAPSE_RETRY_MS = 1_000;

export interface LedgerOptions {
  journal: LedgerJournal;
  /** The store's balance (grants − recorded cost), exact; with `lapsesAt` when a grant in it expires. */
  readBalance(accountId: string): Promise<bigint | BalanceRead>;
  /**
   * Also read an account's balance again when the last read is older than this, on its next request: other
   * gateway processes spend the same credit, and their shipped spending changes no snapshot here. Omit it
   * for a single gateway, which sees every spend of its accounts itself.
   */
  refreshMs?: number;
  logger?: Pick<Logger, 'warn' | 'info'>;
  /** Told each balance read (store − unshipped), so the balance gauge is as fresh as admission's figure. */
  onBalance?: (accountId: string, balancePico: bigint) => void;
  now?: () => number;
  /**
   * Longest a request waits for a read under way (a refusal it may overturn, a stale figure) before it is decided
   * on the last figure: a database that stopped answering must not hold every request of the account (2 s).
   */
  readWaitMs?: number;
}

export interface Reservation {
  readonly accountId: string;
  /** What it holds; grown by enlarge(). */
  pico: bigint;
  open: boolean;
}

interface Account {
  balance: bigint;
  reserved: bigint;
  /** The snapshot the balance was last read for; a different one means the store may have changed. */
  seen: object;
  /** When the account is due for a periodic read (ms; refreshMs after the last read ended, longer if it was slow). */
  dueAt: number;
  readAgain: boolean;
  /** The read under way (every readAgain included), for requests that must wait for its figure. */
  inflight: Promise<void> | undefined;
  /** When this node last admitted or refused a request of the account (ms). */
  lastAskedAt: number;
  /** A read started because the account came back from idle: every request until it ends waits for it. */
  idleRead: Promise<void> | undefined;
  /**
   * When a grant the balance counts expires (ms; Infinity for none): from then the figure holds credit that is gone,
   * and requests wait for it to be read again — nothing else would, on a single gateway, before the next reload.
   */
  lapsesAt: number;
}

/**
 * Past its due time by this many refresh periods, the balance is too old to admit on without reading it, however
 * busy the account (its periodic reads queue behind others' on the journal's fence). An account that comes back
 * after a refresh period without requests waits for its read sooner (see available()).
 */
const STALE_PERIODS = 4;

export class CreditLedger {
  readonly #journal: LedgerJournal;
  readonly #readBalance: (accountId: string) => Promise<bigint | BalanceRead>;
  readonly #logger: Pick<Logger, 'warn' | 'info'> | undefined;
  readonly #onBalance: ((accountId: string, balancePico: bigint) => void) | undefined;
  readonly #accounts = new Map<string, Account>();
  readonly #loads = new Map<string, Promise<void>>();
  readonly #refreshMs: number;
  readonly #now: () => number;
  readonly #readWaitMs: number;
  /** One periodic read at a time: each holds the journal's fence, which shipping needs too. */
  #periodicReading = false;
  /**
   * Accounts whose last balance read failed: an outage is said once (not for every account every period), and its
   * end once the last of them reads again — one account failing alone (a statement timeout) keeps it open.
   */
  readonly #failingReads = new Set<string>();

  constructor(options: LedgerOptions) {
    this.#journal = options.journal;
    this.#readBalance = options.readBalance;
    this.#logger = options.logger;
    this.#onBalance = options.onBalance;
    this.#refreshMs = options.refreshMs ?? Infinity;
    this.#now = options.now ?? Date.now;
    this.#readWaitMs = options.readWaitMs ?? 2_000;
    // After a restart the journal's leftovers may already be in the store (the previous run died between the store's
    // commit and marking them shipped): a figure read before they shipped again subtracts them twice, and nothing else
    // reads it again on a single gateway until the snapshot changes. Read again as soon as they have.
    this.#journal.onLeftoversShipped?.((accounts) => {
      for (const accountId of accounts) {
        const account = this.#accounts.get(accountId);
        if (account) void this.#refresh(accountId, account);
      }
    });
  }

  /**
   * Balance − open reservations. `snapshot` is the account's current state object: when it changed since
   * the last read, the balance is read again in the background. A Promise only the first time an account
   * is seen (its balance must be read before anything is admitted): rejected with 27009 "try again later" when that
   * read fails or is not answered within readWaitMs.
   */
  available(accountId: string, snapshot: object): bigint | Promise<bigint> {
    const account = this.#accounts.get(accountId);
    if (!account) return this.#firstLoaded(accountId, snapshot).then(() => this.available(accountId, snapshot));
    const now = this.#now();
    // Back from idle with a figure due: other nodes may have spent meanwhile, and a burst admitted on the old
    // figure could overshoot by all of it (a node idle 1.5–3.5 s admitted a burst 4.7 cents past a 20-cent grant).
    // A busy account is never idle, so queued periodic reads do not hold its requests.
    const backFromIdle = now - account.lastAskedAt >= this.#refreshMs && now >= account.dueAt;
    account.lastAskedAt = now;
    const stale = backFromIdle || now >= account.dueAt + STALE_PERIODS * this.#refreshMs;
    // A grant in the figure has expired: what it had left is forfeited, which only the store can say (a read under
    // way may have begun before the expiry: it reads once more).
    const lapsed = now >= account.lapsesAt;
    if (account.seen !== snapshot || lapsed) {
      account.seen = snapshot;
      void this.#refresh(accountId, account);
    } else if (!account.inflight && now >= account.dueAt) {
      // One periodic read at a time across accounts, except for a stale figure, which is read at once.
      if (!this.#periodicReading) {
        this.#periodicReading = true;
        void this.#refresh(accountId, account).finally(() => { this.#periodicReading = false; });
      } else if (stale) {
        void this.#refresh(accountId, account);
      }
    }
    if (backFromIdle && account.inflight) {
      const read = account.inflight;
      account.idleRead = read;
      void read.finally(() => { if (account.idleRead === read) account.idleRead = undefined; });
    }
    const headroom = account.balance - account.reserved;
    // A refusal the read under way may overturn (a grant), or an admission on a stale figure — the rest of a burst
    // that came back from idle included — waits for it.
    if (account.inflight && (headroom <= 0n || stale || lapsed || account.idleRead !== undefined)) return settledWithin(account.inflight, this.#readWaitMs).then(() => account.balance - account.reserved);
    return headroom;
  }

  /** Balance minus open reservations of a loaded account (0 when not loaded). */
  headroom(accountId: string): bigint {
    const account = this.#accounts.get(accountId);
    return account ? account.balance - account.reserved : 0n;
  }

  /** The account's balance as last read and settled, reservations not deducted (0 when not loaded). */
  balance(accountId: string): bigint {
    return this.#accounts.get(accountId)?.balance ?? 0n;
  }

  /** Reserves `pico` when the account has credit left (see available()); undefined means refuse. */
  reserve(accountId: string, pico: bigint): Reservation | undefined {
    const account = this.#accounts.get(accountId);
    if (!account || account.balance - account.reserved <= 0n) return undefined;
    account.reserved += pico;
    return { accountId, pico, open: true };
  }

  /** The request's real cost replaces its reservation (cost is charged even without one). */
  settle(accountId: string, reservation: Reservation | undefined, costPico: bigint): void {
    this.release(reservation);
    const account = this.#accounts.get(accountId);
    if (account) account.balance -= costPico;
  }

  /**
   * Adds `pico` to an open reservation, with no check: for work admitted already that grows as it goes (a realtime
   * input audio buffer, one append at a time), whose growth is checked by its holder. A closed one stays closed.
   */
  enlarge(reservation: Reservation, pico: bigint): void {
    if (!reservation.open || pico <= 0n) return;
    reservation.pico += pico;
    const account = this.#accounts.get(reservation.accountId);
    if (account) account.reserved += pico;
  }

  /** Gives back `pico` of an open reservation (no more than it holds): work admitted that turned out to need less. */
  reduce(reservation: Reservation, pico: bigint): void {
    const less = pico < reservation.pico ? pico : reservation.pico;
    if (!reservation.open || less <= 0n) return;
    reservation.pico -= less;
    const account = this.#accounts.get(reservation.accountId);
    if (account) account.reserved -= less;
  }

  release(reservation: Reservation | undefined): void {
    if (!reservation?.open) return;
    reservation.open = false;
    const account = this.#accounts.get(reservation.accountId);
    if (account) account.reserved -= reservation.pico;
  }

  /**
   * The account's first read, which nothing of it is admitted without: a store that is down or silent is the store's
   * outage, not the gateway's fault (it was an unexpected error, 500 "Internal error" logged per request, and a silent
   * store held the request until its connection was dropped, 15 s). Given up after readWaitMs, as a key's lookup is;
   * a read answering later still loads the account for the requests after.
   */
  async #firstLoaded(accountId: string, snapshot: object): Promise<void> {
    let loaded = false;
    const load = this.#firstLoad(accountId, snapshot).then(() => { loaded = true; });
    if (!(await settledWithin(load, this.#readWaitMs)) || !loaded) throw tollgateError('creditBalanceUnavailable');
  }

  #firstLoad(accountId: string, snapshot: object): Promise<void> {
    let load = this.#loads.get(accountId);
    if (!load) {
      load = this.#fencedRead(accountId, (balance, lapsesAt) => {
        this.#accounts.set(accountId, { balance, reserved: 0n, seen: snapshot, dueAt: this.#now() + this.#refreshMs, readAgain: false, inflight: undefined, lastAskedAt: this.#now(), idleRead: undefined, lapsesAt });
      }).then(() => this.#readSucceeded(accountId), (error: unknown) => {
        this.#readFailed(accountId, error);
        throw error;
      }).finally(() => this.#loads.delete(accountId));
      this.#loads.set(accountId, load);
    }
    return load;
  }

  /** Said once an outage (#failingReads), whether of a first read or a later one. */
  #readFailed(accountId: string, error: unknown): void {
    if (this.#failingReads.size === 0) {
      this.#logger?.warn({ accountId, err: error instanceof Error ? error.message : String(error) }, 'credit balance read failed; keeping the in-memory balances until the store answers');
    }
    this.#failingReads.add(accountId);
  }

  #readSucceeded(accountId: string): void {
    if (this.#failingReads.delete(accountId) && this.#failingReads.size === 0) this.#logger?.info('credit balances are read from the store again');
  }

  /**
   * Store balance − unshipped local cost, applied in the very turn the read returns: nothing ships while the
   * fence is held, and a cost settled after the store's answer is still unshipped, so it is counted once.
   */
  #fencedRead(accountId: string, apply: (balance: bigint, lapsesAt: number, unshipped: bigint) => void): Promise<void> {
    return this.#journal.exclusive(async () => {
      const read = await this.#readBalance(accountId);
      const stored = typeof read === 'bigint' ? read : read.balance;
      const unshipped = this.#journal.unshippedPico(accountId);
      const balance = stored - unshipped;
      apply(balance, typeof read === 'bigint' ? Infinity : read.lapsesAt ?? Infinity, unshipped);
      this.#onBalance?.(accountId, balance);
    });
  }

  #refresh(accountId: string, account: Account): Promise<void> {
    if (account.inflight) {
      account.readAgain = true;
      return account.inflight;
    }
    // #read clears it when done (it never rejects: a failed read keeps the figure).
    account.inflight = this.#read(accountId, account);
    return account.inflight;
  }

  async #read(accountId: string, account: Account): Promise<void> {
    const started = this.#now();
    // A grant in the figure has lapsed: the store forfeits what it had left at its expiry, less what the events in the
    // store by then spent of it. One recorded here before the expiry and still unshipped is left out of that, so its
    // cost is forfeited as well as subtracted as unshipped: the figure is short of it until read again once it has
    // shipped — at once, not at the next snapshot reload (up to a minute on a single gateway).
    const lapsed = account.lapsesAt <= started;
    let readOnceShipped = false;
    let failed = false;
    try {
      do {
        account.readAgain = false;
        await this.#fencedRead(accountId, (balance, lapsesAt, unshipped) => {
          account.balance = balance;
          account.lapsesAt = lapsesAt;
          readOnceShipped = lapsed && unshipped !== 0n;
        });
      } while (account.readAgain);
      if (readOnceShipped) void this.#journal.whenShipped?.(accountId)?.then(() => this.#refresh(accountId, account));
      this.#readSucceeded(accountId);
    } catch (error) {
      // Keep the current figure; the next snapshot change or period reads again.
      this.#readFailed(accountId, error);
      failed = true;
    } finally {
      // A slow read (a large account) is repeated less often: periodic reads hold the fence at most ~5 % of the
      // time. A failed one waits its turn too, so a store that is down is not asked on every request.
      const ended = this.#now();
      account.dueAt = ended + Math.max(this.#refreshMs, 20 * (ended - started));
      // A lapsed grant whose read failed: the last figure decides until the store is asked again, a little later.
      if (failed && account.lapsesAt <= ended) account.lapsesAt = ended + LAPSE_RETRY_MS;
      account.inflight = undefined;
    }
  }
}
