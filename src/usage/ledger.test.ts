import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { CreditLedger, type LedgerJournal } from './ledger.ts';

const journal: LedgerJournal = { unshippedPico: () => 0n, exclusive: (fn) => fn() };

/**
 * A ledger whose balance reads (100) fail while `failing(accountId)` holds, on a clock set by hand, with a real
 * logger whose lines are kept as "level: message".
 */
function flakyLedger(failing: (accountId: string) => boolean): { ledger: CreditLedger; said: string[]; clock: { now: number } } {
  const said: string[] = [];
  const clock = { now: 0 };
  const logger = pino({ level: 'info' }, { write: (line: string) => { const { level, msg } = JSON.parse(line) as { level: number; msg: string }; said.push(`${pino.levels.labels[level]}: ${msg}`); } });
  const ledger = new CreditLedger({
    journal, refreshMs: 1000, now: () => clock.now, logger,
    readBalance: async (accountId) => { if (failing(accountId)) throw new Error('statement timeout'); return 100n; },
  });
  return { ledger, said, clock };
}

/** Accounts a and b read at 0 and asked again at 500 ms: busy (a request every half period), so neither comes back from idle. */
async function loadBusy(ledger: CreditLedger, snapshot: object, setClock: (ms: number) => void): Promise<void> {
  await ledger.available('a', snapshot);
  await ledger.available('b', snapshot);
  setClock(500);
  ledger.available('a', snapshot);
  ledger.available('b', snapshot);
}

test("with several gateways, another node's shipped spending is read back within refreshMs of a request", async () => {
  let stored = 1000n;
  let clock = 0;
  const ledger = new CreditLedger({ journal, readBalance: async () => stored, refreshMs: 1000, now: () => clock });
  const snapshot = {};
  assert.equal(await ledger.available('acct', snapshot), 1000n);
  stored = -5n; // the other node spent it all and shipped its events
  clock = 999;
  assert.equal(ledger.available('acct', snapshot), 1000n, 'not yet: the last read is recent');
  clock = 1000;
  ledger.available('acct', snapshot); // starts the read in the background
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(ledger.available('acct', snapshot), -5n);
  assert.equal(ledger.reserve('acct', 1n), undefined, 'refused: the account is spent');
});

test('a single gateway reads the balance again only when the snapshot changes', async () => {
  let reads = 0;
  let clock = 0;
  const ledger = new CreditLedger({ journal, readBalance: async () => { reads++; return 10n; }, now: () => clock });
  const snapshot = {};
  await ledger.available('acct', snapshot);
  clock = 3_600_000;
  ledger.available('acct', snapshot);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(reads, 1);
  ledger.available('acct', {});
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(reads, 2);
});

test('periodic reads run one at a time, and a slow one is repeated less often', async () => {
  let clock = 0;
  const started: string[] = [];
  let finish: (() => void) | undefined;
  const ledger = new CreditLedger({
    journal, refreshMs: 1000, now: () => clock,
    readBalance: (accountId) => {
      started.push(accountId);
      if (started.length <= 2) return Promise.resolve(100n); // the first loads
      return new Promise((resolve) => { finish = () => { clock += 100; resolve(50n); }; });
    },
  });
  const snapshot = {};
  // Neither read jumps the queue.
  await loadBusy(ledger, snapshot, (ms) => { clock = ms; });
  clock = 1000;
  ledger.available('a', snapshot);
  ledger.available('b', snapshot);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(started, ['a', 'b', 'a'], 'b waits: one periodic read holds the fence at a time');
  finish!();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(ledger.available('a', snapshot), 50n);
  // That read took 100 ms: the next is due 2 s (20×) after it ended, not 1 s.
  clock = 1100 + 1999;
  ledger.available('a', snapshot);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(started.filter((id) => id === 'a').length, 2);
});

test('a request the figure would refuse waits for the read under way: a grant just made admits it', async () => {
  let stored = 0n;
  const ledger = new CreditLedger({ journal, readBalance: async () => stored, now: () => 0 });
  await ledger.available('acct', {});
  assert.equal(ledger.reserve('acct', 1n), undefined, 'spent');
  stored = 500n; // a credit grant: the account's snapshot is reloaded
  const afterGrant = ledger.available('acct', {});
  assert.ok(afterGrant instanceof Promise, 'the refusal waits for the new figure');
  assert.equal(await afterGrant, 500n);
  // With credit left, a snapshot change reads in the background and the request goes on at once.
  stored = 400n;
  assert.equal(ledger.available('acct', {}), 500n);
});

test('after the account sat idle, the first request waits for a fresh figure; under traffic none does', async () => {
  let stored = 1000n;
  let clock = 0;
  const ledger = new CreditLedger({ journal, readBalance: async () => stored, refreshMs: 1000, now: () => clock });
  const snapshot = {};
  await ledger.available('acct', snapshot);
  clock = 900;
  assert.equal(ledger.available('acct', snapshot), 1000n);
  clock = 1500; // due, under traffic: read in the background, the request is not held
  assert.equal(ledger.available('acct', snapshot), 1000n);
  await new Promise((resolve) => setImmediate(resolve));
  stored = 10n; // other gateways spent meanwhile
  clock = 1500 + 1500; // back after a refresh period without requests, its figure due: it waits for the read
  const idle = ledger.available('acct', snapshot);
  assert.ok(idle instanceof Promise);
  assert.equal(await idle, 10n);
  // Every request of a burst arriving while that read is under way waits for it, not only the first.
  stored = 5n;
  clock += 2000;
  const burst = [ledger.available('acct', snapshot), ledger.available('acct', snapshot), ledger.available('acct', snapshot)];
  assert.ok(burst.every((b) => b instanceof Promise));
  assert.deepEqual(await Promise.all(burst), [5n, 5n, 5n]);
});

test('a read that never returns (a database gone silent) holds a request only readWaitMs, then the last figure decides', async () => {
  let clock = 0;
  let reads = 0;
  const ledger = new CreditLedger({
    journal, refreshMs: 1000, now: () => clock, readWaitMs: 50,
    readBalance: () => (++reads === 1 ? Promise.resolve(1000n) : new Promise<bigint>(() => {})),
  });
  const snapshot = {};
  assert.equal(await ledger.available('acct', snapshot), 1000n);
  clock = 10_000; // stale: the request waits for a fresh figure…
  const started = performance.now();
  const stale = ledger.available('acct', snapshot);
  assert.ok(stale instanceof Promise);
  // …but not for ever: the last figure (this node's own spending is settled into it) decides.
  assert.equal(await stale, 1000n);
  assert.ok(performance.now() - started < 1000);
});

test('a store that stops answering is reported once, not for every account every period, and its return once', async () => {
  let down = false;
  const { ledger, said, clock } = flakyLedger(() => down);
  const snapshot = {};
  await ledger.available('a', snapshot);
  await ledger.available('b', snapshot);
  down = true;
  for (let period = 1; period <= 5; period++) {
    clock.now = period * 1000;
    await ledger.available('a', snapshot);
    await ledger.available('b', snapshot);
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.deepEqual(said, ['warn: credit balance read failed; keeping the in-memory balances until the store answers']);
  assert.equal(ledger.balance('a'), 100n, 'the last figure is kept');
  down = false;
  clock.now = 60_000;
  await ledger.available('a', {});
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(said.length, 1, 'not over while account b has not read again');
  await ledger.available('b', {});
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(said.slice(1), ['info: credit balances are read from the store again']);
});

test('one account whose reads keep failing while others succeed is one warning, and the end is said only when it reads again', async () => {
  let badDown = false;
  const { ledger, said, clock } = flakyLedger((accountId) => badDown && accountId === 'huge');
  const snapshot = {};
  await ledger.available('huge', snapshot);
  await ledger.available('small', snapshot);
  badDown = true;
  for (let period = 1; period <= 5; period++) {
    clock.now = period * 5000;
    for (const account of ['huge', 'small']) {
      await ledger.available(account, snapshot);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  assert.deepEqual(said, ['warn: credit balance read failed; keeping the in-memory balances until the store answers']);
  badDown = false;
  clock.now = 60_000;
  await ledger.available('huge', {});
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(said.slice(1), ['info: credit balances are read from the store again']);
  // A second outage is said again.
  badDown = true;
  clock.now = 120_000;
  await ledger.available('huge', {});
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(said.length, 3);
  assert.match(said[2]!, /^warn: credit balance read failed/);
});

test('each balance read is handed on (store − unshipped), so the balance gauge is as fresh as admission', async () => {
  let stored = 1000n;
  let clock = 0;
  const told: Array<[string, bigint]> = [];
  const unshipped: LedgerJournal = { unshippedPico: () => 30n, exclusive: (fn) => fn() };
  const ledger = new CreditLedger({ journal: unshipped, readBalance: async () => stored, refreshMs: 1000, now: () => clock, onBalance: (accountId, pico) => { told.push([accountId, pico]); } });
  const snapshot = {};
  await ledger.available('acct', snapshot);
  stored = 400n; // another node's spending, shipped
  clock = 1000;
  ledger.available('acct', snapshot);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(told, [['acct', 970n], ['acct', 370n]]);
});

test('after a restart, events the store already took before the crash are not subtracted twice once they ship again', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { JournalFile, orphanEvent } = await import('./journal-file.ts');
  const { UsageJournal } = await import('./journal.ts');
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-ledger-restart-'));
  try {
    const path = join(dir, 'j.db');
    const event = {
      ...orphanEvent({
        id: 'ev_1', accountId: 'acct', requestId: 'rq_1', accessKeyId: 'aigk_1', provider: 'openai', providerDisplayName: 'OpenAI',
        model: 'gpt-4o', modelDisplayName: 'GPT-4o', attemptNumber: 1, isStreaming: false, inputTokensEstimate: 12,
        keySource: 'ngrok', providerKeyId: null, providerKeyDisplayName: null, retryAction: 'succeeded', eventTime: '2026-01-01T00:00:00.000Z',
        virtualModel: null, firewall: null,
      }, true),
      completion: 'succeeded' as const, statusCode: 200, isError: false, retryAction: 'succeeded' as const, costPico: 100n,
    };
    // The previous run: the event is journaled, the store committed its shipment, and the process died before the
    // journal marked it shipped.
    const previous = JournalFile.open(path);
    previous.write([], [event]);
    previous.close();
    const stored = new Map([[event.id, event.costPico]]);
    const grants = 1000n;
    // The first shipment after the restart fails (the store is briefly unreachable), the next ones go through.
    let writes = 0;
    const journal = new UsageJournal({
      path, intervalMs: 5, maxBackoffMs: 20,
      write: async (events) => {
        if (writes++ === 0) throw new Error('connection reset');
        for (const e of events) if (!stored.has(e.id)) stored.set(e.id, e.costPico);
      },
    });
    const ledger = new CreditLedger({ journal, readBalance: async () => grants - [...stored.values()].reduce((a, b) => a + b, 0n) });
    try {
      for (let i = 0; i < 500 && writes === 0; i++) await new Promise((resolve) => setTimeout(resolve, 2));
      const snapshot = {};
      // Read while the leftover is not shipped again: it is in the store and counted as unshipped.
      await ledger.available('acct', snapshot);
      for (let i = 0; i < 500 && journal.pending > 0; i++) await new Promise((resolve) => setTimeout(resolve, 2));
      assert.equal(journal.pending, 0, 'the leftover shipped again (the store ignored it)');
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(await ledger.available('acct', snapshot), 900n, 'the 100 pico counted once, without waiting for a snapshot change');
    } finally {
      await journal.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a single gateway reads the balance again when a grant in it expires, and the first request after waits for it', async () => {
  let reads = 0;
  let clock = 0;
  // 500 until the grant lapses at 10 s; then nothing is left, and no grant lapses later.
  const ledger = new CreditLedger({ journal, readBalance: async () => { reads++; return clock < 10_000 ? { balance: 500n, lapsesAt: 10_000 } : { balance: 0n }; }, now: () => clock });
  const snapshot = {};
  assert.equal(await ledger.available('acct', snapshot), 500n);
  clock = 9_999;
  assert.equal(ledger.available('acct', snapshot), 500n, 'before the expiry the figure stands, unread');
  assert.equal(reads, 1);
  clock = 10_000;
  assert.equal(await ledger.available('acct', snapshot), 0n, 'at the expiry instant the lapsed credit admits nothing');
  assert.equal(ledger.reserve('acct', 1n), undefined);
  clock = 3_600_000;
  ledger.available('acct', snapshot);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(reads, 2, 'read once for the lapse, not again');
});

// The many-nodes bound (usage-durability.md, "Overshoot bound"): another node's shipped spending reaches this node's
// figure at most max(refreshMs, 20 × the last read's time) + 4 × refreshMs after this node's last read, however long
// other accounts' reads hold the periodic slot; a node admits on a figure no older than that.
test("with the periodic slot held by other accounts' reads, a busy account's figure is at most five periods old", async () => {
  let clock = 0;
  let stored = 1000n;
  const ledger = new CreditLedger({
    journal, refreshMs: 1000, now: () => clock,
    // Account b's reads after its first never end: the one periodic read at a time is always b's.
    readBalance: (accountId) => (accountId === 'b' && clock > 0 ? new Promise<bigint>(() => {}) : Promise.resolve(stored)),
  });
  const snapshot = {};
  await loadBusy(ledger, snapshot, (ms) => { clock = ms; });
  clock = 1000;
  ledger.available('b', snapshot);
  stored = 0n; // another node spent a's credit and shipped it since a's last read (at 0)
  // a busy (a request every 100 ms: never idle), its figure due at 1,000 ms; the slot is b's from then on.
  let seenAt: number | undefined;
  for (clock = 1000; clock <= 10_000 && seenAt === undefined; clock += 100) {
    const figure = ledger.available('a', snapshot);
    if ((figure instanceof Promise ? await figure : figure) === 0n) seenAt = clock;
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.ok(seenAt !== undefined, 'the spending was never read');
  assert.ok(seenAt <= 1000 + 4 * 1000, `read back ${seenAt} ms after the last read; the documented bound is 5,000 ms`);
  assert.ok(seenAt > 2000, `read back after ${seenAt} ms: the slot did not hold it back (the test would not show the bound)`);
});

test('a reservation enlarged holds the more, given back whole once; a released one is enlarged no more', async () => {
  const ledger = new CreditLedger({ journal, readBalance: async () => 100n });
  const snapshot = {};
  await ledger.available('acct', snapshot);
  const held = ledger.reserve('acct', 30n)!;
  ledger.enlarge(held, 50n);
  assert.equal(ledger.headroom('acct'), 20n);
  ledger.enlarge(held, 40n);
  assert.equal(ledger.headroom('acct'), -20n, 'unchecked: its holder was admitted already');
  ledger.settle('acct', held, 25n);
  assert.equal(ledger.headroom('acct'), 75n);
  ledger.enlarge(held, 10n);
  ledger.release(held);
  assert.equal(ledger.headroom('acct'), 75n);
});

test('a grant lapsing while an event spent before its expiry is unshipped: the figure is read again once it ships, not counted twice until the next reload', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { UsageJournal } = await import('./journal.ts');
  const { openStore } = await import('../store/database.ts');
  const { createAccount } = await import('../store/accounts.ts');
  const { balanceAndLapse, grantCredits } = await import('../store/credits.ts');
  const { insertUsageEvents } = await import('../store/usage-events.ts');
  const { usageEvent } = await import('../../test/helpers/usage.ts');
  const CENT = 10_000_000_000n;
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-ledger-lapse-'));
  const store = await openStore(`sqlite:${join(dir, 'store.db')}`);
  let storeDown = false;
  const journal = new UsageJournal({
    path: join(dir, 'j.db'), intervalMs: 5, maxBackoffMs: 20,
    write: async (events) => { if (storeDown) throw new Error('connection refused'); await insertUsageEvents(store.db, events); },
  });
  try {
    const { account } = await createAccount(store.db, 'lapse');
    const id = account.id;
    const start = Date.parse('2026-01-01T00:00:00.000Z');
    const expiry = start + 10_000;
    await grantCredits(store.db, id, 100, { category: 'promotional', grantedAt: '2025-12-01T00:00:00.000Z', expiresAt: new Date(expiry).toISOString() });
    await grantCredits(store.db, id, 500, { category: 'purchase', grantedAt: '2025-12-01T00:00:00.000Z' });
    // A single gateway (no refresh period), on a clock set by hand; the store's figure as the server reads it.
    let clock = start;
    const ledger = new CreditLedger({
      journal, now: () => clock,
      readBalance: async (accountId) => {
        const read = await balanceAndLapse(store.db, accountId, new Date(clock));
        return { balance: read.pico, lapsesAt: read.nextExpiry === null ? undefined : Date.parse(read.nextExpiry) };
      },
    });
    const snapshot = {};
    assert.equal(await ledger.available(id, snapshot), 600n * CENT);
    // 30 cents spent 5 s before the promo expires, left unshipped by a store that is down.
    storeDown = true;
    journal.record(usageEvent(id, { costPico: 30n * CENT, eventTime: new Date(start + 5_000).toISOString() }));
    ledger.settle(id, undefined, 30n * CENT);
    clock = expiry + 1_000;
    // The lapse read: the store forfeits the promo's 100 cents (it has not seen the 30 spent of it), and the 30 are
    // subtracted again as unshipped.
    assert.equal(await ledger.available(id, snapshot), 470n * CENT);
    storeDown = false;
    for (let i = 0; i < 1000 && journal.pending > 0; i++) await new Promise((resolve) => setTimeout(resolve, 2));
    assert.equal(journal.pending, 0, 'the event shipped');
    // The promo forfeits the 70 cents the 30 left of it: 600 − 70 − 30.
    for (let i = 0; i < 500 && ledger.headroom(id) !== 500n * CENT; i++) await new Promise((resolve) => setTimeout(resolve, 2));
    assert.equal(ledger.headroom(id), 500n * CENT, 'read again once the event shipped, with no snapshot change');
    assert.equal(ledger.available(id, snapshot), 500n * CENT);
  } finally {
    await journal.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an account's first balance read failing or unanswered is refused as 27009 \"try again later\" (logged once), and read again by the next request", async () => {
  const { TollgateError } = await import('../domain/errors.ts');
  const said: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => { const { level, msg } = JSON.parse(line) as { level: number; msg: string }; said.push(`${pino.levels.labels[level]}: ${msg}`); } });
  let store: 'down' | 'silent' | 'up' = 'down';
  const ledger = new CreditLedger({
    journal, logger, readWaitMs: 20,
    readBalance: (accountId) => (store === 'down' ? Promise.reject(new Error('connection refused')) : store === 'silent' ? new Promise<bigint>(() => {}) : Promise.resolve(accountId === 'a' ? 100n : 200n)),
  });
  const refusal = async (figure: bigint | Promise<bigint>) => {
    const error = await Promise.resolve(figure).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof TollgateError, `refused with the catalog's error, not ${String(error)}`);
    return [error.status, error.code, error.message];
  };
  const unavailable = [500, 'ERR_NGROK_27009', "Failed to read your account's credit balance. Please try again later."];
  assert.deepEqual(await refusal(ledger.available('a', {})), unavailable);
  assert.deepEqual(await refusal(ledger.available('a', {})), unavailable, 'asked again, and refused again');
  store = 'silent';
  assert.deepEqual(await refusal(ledger.available('b', {})), unavailable, 'given up after readWaitMs');
  assert.deepEqual(said, ['warn: credit balance read failed; keeping the in-memory balances until the store answers']);
  store = 'up';
  assert.equal(await ledger.available('a', {}), 100n);
  assert.deepEqual(said.slice(1), ['info: credit balances are read from the store again']);
});
