import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs, { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { Writable } from 'node:stream';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import BetterSqlite3 from 'better-sqlite3';
import { join } from 'node:path';
import { begunFrom, begunValues, eventFrom, eventValues, JournalFile, orphanEvent } from './journal-file.ts';
import { UsageJournal } from './journal.ts';
import { createLogger } from '../config/logger.ts';
import { openStore } from '../store/database.ts';
import type { BegunAttempt, UsageEvent } from './event.ts';

function begun(id: string, requestId: string, attemptNumber: number): BegunAttempt {
  return {
    id, accountId: 'acct_1', requestId, accessKeyId: 'aigk_1', provider: 'openai', providerDisplayName: 'OpenAI',
    model: 'gpt-4o', modelDisplayName: 'GPT-4o', attemptNumber, isStreaming: false, inputTokensEstimate: 12,
    keySource: 'ngrok', providerKeyId: null, providerKeyDisplayName: null, retryAction: 'next_backend', eventTime: '2026-01-01T00:00:00.000Z',
    virtualModel: null, firewall: null,
  };
}

function finished(b: BegunAttempt, costPico: bigint): UsageEvent {
  return { ...orphanEvent(b, true), completion: 'succeeded', statusCode: 200, isError: false, retryAction: 'succeeded', costPico };
}

function withDir(fn: (dir: string) => Promise<void> | void): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-journal-test-'));
    try { await fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
  };
}

type FsFunction = 'writeSync' | 'unlinkSync';

/**
 * Runs `body` with one node:fs function replaced — for the journal's own imports too (syncBuiltinESMExports) — and
 * puts the real one back however `body` ends (an async body: once it settles). `replace` is given the real one.
 */
function withFs<K extends FsFunction, T>(name: K, replace: (real: (typeof fs)[K]) => (typeof fs)[K], body: () => T): T {
  const functions = fs as Record<FsFunction, unknown>;
  const real = fs[name];
  functions[name] = replace(real);
  syncBuiltinESMExports();
  const restore = () => { functions[name] = real; syncBuiltinESMExports(); };
  let result: T;
  try { result = body(); } catch (error) { restore(); throw error; }
  if (result instanceof Promise) return result.finally(restore) as T;
  restore();
  return result;
}

/** An error as the failing syscall raises it. */
function fsError(code: string, syscall: string): Error {
  return Object.assign(new Error(`${code}: ${syscall} failed`), { code });
}

/** unlinkSync failing with `code` for the paths `matches` picks. */
function failingUnlink(matches: (path: string) => boolean, code: string) {
  return (real: typeof fs.unlinkSync) => ((target: fs.PathLike) => {
    if (matches(String(target))) throw fsError(code, 'unlink');
    real(target);
  }) as typeof fs.unlinkSync;
}

/** Waits (up to 5 s) for a condition that a background sync makes true. */
async function eventually(condition: () => boolean, message: () => string): Promise<void> {
  for (const started = Date.now(); !condition(); await new Promise((resolve) => setTimeout(resolve, 2))) {
    if (Date.now() - started > 5000) assert.fail(message());
  }
}

function retried<T>(operation: () => T): T {
  try { return operation(); } catch { return operation(); }
}

/** The slot's log segments on disk. */
function segmentsIn(dir: string, slot = 'j.db'): string[] {
  return readdirSync(dir).filter((name) => name.startsWith(`${slot}.log.`)).sort();
}

/** A journal over a store that refuses (as PostgreSQL's CHECK does, 23514) every write holding an event `refuses` picks. */
function refusingJournal(dir: string, refuses: (e: UsageEvent) => boolean): { journal: UsageJournal; stored: Map<string, UsageEvent> } {
  const stored = new Map<string, UsageEvent>();
  const journal = new UsageJournal({
    path: join(dir, 'j.db'), intervalMs: 5, maxBackoffMs: 20,
    isRefusal: (error) => (error as { code?: string }).code === '23514',
    write: async (events) => {
      if (events.some(refuses)) throw Object.assign(new Error('new row violates check constraint'), { code: '23514' });
      for (const e of events) stored.set(e.id, e);
    },
  });
  return { journal, stored };
}

describe('usage journal', () => {
  it('writes every field of an event and of a begun attempt in the order it reads them back', () => {
    const event: UsageEvent = {
      id: 'ev', accountId: 'acct', requestId: 'rq', accessKeyId: 'aigk', provider: 'anthropic', providerDisplayName: 'Anthropic',
      model: 'claude', modelDisplayName: 'Claude', attemptNumber: 2, isFinalAttempt: true, statusCode: 429, timedOut: true,
      isError: true, isStreaming: true, stopReason: 'max_tokens', inputTokens: 3, outputTokens: 4, cacheReadTokens: 5,
      cacheWriteTokens: 6, reasoningTokens: 7, usageEstimated: true, inputTokensEstimate: 8, outputTokensEstimate: 9,
      costPico: 123456789012345678901n, keySource: 'user', providerKeyId: 'pk', providerKeyDisplayName: 'Main key',
      retryAction: 'next_key', completion: 'timed_out', upstreamDurationMs: 10.5, eventTime: '2026-12-02T01:02:03.456Z',
      cacheWrite1hTokens: 2, inputCostPico: 11n, outputCostPico: 12n, cacheReadCostPico: 13n, cacheWrite5mCostPico: 14n,
      cacheWrite1hCostPico: 123456789012345678902n, feePico: 15n, virtualModel: 'chat-default',
      firewall: [{ action: 'blocked', rule: 'No deletes', tier: 'hardDeny', policyId: 'aigfwp_1', phase: 'response' }],
    };
    assert.deepEqual(eventFrom(JSON.parse(JSON.stringify(eventValues(event))) as unknown[]), event);
    // A row written before the cost's parts were journaled (its first 31 values) keeps its total, with parts at 0.
    const older = eventFrom((JSON.parse(JSON.stringify(eventValues(event))) as unknown[]).slice(0, 31));
    assert.deepEqual(older, { ...event, cacheWrite1hTokens: 0, inputCostPico: 0n, outputCostPico: 0n, cacheReadCostPico: 0n, cacheWrite5mCostPico: 0n, cacheWrite1hCostPico: 0n, feePico: 0n, virtualModel: null, firewall: null });
    // One written before virtual models were journaled (its first 38 values) names none.
    assert.deepEqual(eventFrom((JSON.parse(JSON.stringify(eventValues(event))) as unknown[]).slice(0, 38)), { ...event, virtualModel: null, firewall: null });
    // One written before Firewall verdicts were journaled (its first 39 values) has none.
    assert.deepEqual(eventFrom((JSON.parse(JSON.stringify(eventValues(event))) as unknown[]).slice(0, 39)), { ...event, firewall: null });
    const attempt: BegunAttempt = { ...begun('ev', 'rq', 3), isStreaming: true, keySource: 'user', providerKeyId: 'pk', providerKeyDisplayName: 'Main key', virtualModel: 'chat-default', firewall: [{ action: 'flagged', rule: 'r', tier: 'softDeny', policyId: 'aigfwp_1', phase: 'request' }] };
    assert.deepEqual(begunFrom(JSON.parse(JSON.stringify(begunValues(attempt))) as unknown[]), attempt);
    assert.deepEqual(begunFrom((JSON.parse(JSON.stringify(begunValues(attempt))) as unknown[]).slice(0, 16)), { ...attempt, virtualModel: null, firewall: null });
    assert.deepEqual(begunFrom((JSON.parse(JSON.stringify(begunValues(attempt))) as unknown[]).slice(0, 17)), { ...attempt, firewall: null });
  });

  it('is readable by its owner only: the directory it makes, the lock file, its -wal and every log segment', withDir(async (dir) => {
    const path = join(dir, 'made', 'j.db');
    const file = JournalFile.open(path);
    file.write([begun('b1', 'rq_b1', 1)], [finished(begun('e1', 'rq_e1', 1), 1n)]);
    // The embedded database beside it, made by the store the same way.
    const store = await openStore(`sqlite:${join(dir, 'made', 'tollgate.db')}`);
    await store.close();
    const files = readdirSync(join(dir, 'made'));
    assert.ok(files.some((f) => f.includes('.log.')) && files.includes('tollgate.db') && files.includes('j.db'), files.join(' '));
    for (const f of files) assert.equal(statSync(join(dir, 'made', f)).mode & 0o077, 0, `${f} is ${(statSync(join(dir, 'made', f)).mode & 0o777).toString(8)}`);
    assert.equal(statSync(join(dir, 'made')).mode & 0o077, 0, 'the directory');
    file.close();
  }));

  it('ignores a commit the process died writing, and skips and counts a damaged line', withDir((dir) => {
    const path = join(dir, 'j.db');
    const first = JournalFile.open(path);
    for (const id of ['e1', 'e2', 'e3']) first.write([], [finished(begun(id, `rq_${id}`, 1), 1n)]);
    first.close();
    const [segment] = segmentsIn(dir);
    const file = join(dir, segment!);
    // The write a kill -9 interrupted: no newline, so it was never a commit.
    appendFileSync(file, '[0,0,9,[["e9","acct_1"');
    const torn = JournalFile.open(path);
    assert.equal(torn.skippedLines, 0);
    assert.deepEqual(torn.unshipped().map((e) => e.id), ['e1', 'e2', 'e3']);
    torn.close();
    // A byte the disk damaged in the second commit: that line is lost, the others are read.
    const lines = readFileSync(file, 'utf8').split('\n');
    lines[1] = lines[1]!.replace('"e2"', '"e2\u0000');
    writeFileSync(file, lines.join('\n'));
    const damaged = JournalFile.open(path);
    assert.equal(damaged.skippedLines, 1);
    assert.deepEqual(damaged.unshipped().map((e) => e.id), ['e1', 'e3']);
    damaged.close();
  }));

  it('starts new segments and deletes settled ones, carrying a long-open attempt forward', withDir(async (dir) => {
    const path = join(dir, 'j.db');
    const file = JournalFile.open(path, { segmentBytes: 2000, syncIntervalMs: 1 });
    file.write([begun('long', 'rq_long', 1)], []);
    for (let i = 0; i < 60; i++) {
      const b = begun(`e${i}`, `rq_${i}`, 1);
      const { begunSeq } = file.write([b], []);
      const { finishedSeq } = file.write([], [finished(b, 1n)], [begunSeq!]);
      file.remove([finishedSeq!]);
      // 60 rounds of ~1 KB fill ~30 segments; an open stream must not keep them all. Settled segments are deleted
      // after the next sync of the log, however long the disk takes.
      await eventually(() => segmentsIn(dir).length <= 3, () => `${segmentsIn(dir).length} segments on disk after round ${i}`);
    }
    file.close(); // the process dies with the long stream open
    const again = JournalFile.open(path);
    const [batch] = again.finishedBatches(1);
    assert.deepEqual(batch!.events.map((e) => [e.id, e.completion]), [['long', 'unknown']]);
    again.remove([batch!.seq]);
    again.close();
    assert.deepEqual(segmentsIn(dir), [], 'a stop with every row settled leaves no segment');
  }));

  it('carries only the open attempts of a begun row, and carried bytes do not start segment after segment', withDir((dir) => {
    const path = join(dir, 'j.db');
    const open = new Set<string>();
    const file = JournalFile.open(path, { segmentBytes: 2000, isOpen: (id) => open.has(id) });
    // 40 turns, each beginning three attempts of which one stays open (a long stream), the other two finished and
    // shipped: ~1.5 KB of new lines per turn. Settled files are deleted only after a sync (none runs here), so the
    // files on disk are everything written.
    for (let i = 0; i < 40; i++) {
      const row = [begun(`long${i}`, `rq_l${i}`, 1), begun(`a${i}`, `rq_a${i}`, 1), begun(`b${i}`, `rq_b${i}`, 1)];
      open.add(`long${i}`);
      file.write(row, []);
      const { finishedSeq } = file.write([], [finished(row[1]!, 1n), finished(row[2]!, 1n)]);
      file.remove([finishedSeq!]);
    }
    const names = segmentsIn(dir);
    const started = Math.max(...names.map((name) => Number(name.split('.').pop())));
    const written = names.reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
    // 17 segments for the new lines; counting carried bytes towards the size started 26, and carrying whole rows
    // (the finished attempts too) wrote 107 KB.
    assert.ok(started <= 20, `${started} segments started`);
    assert.ok(written < 80_000, `${written} bytes written`);
    file.close();
    const again = JournalFile.open(path);
    const unknown = new Set(again.unshipped().filter((e) => e.completion === 'unknown').map((e) => e.id));
    assert.ok([...open].every((id) => unknown.has(id)), 'every open attempt recovered');
    // Finished (and shipped) attempts come back, under the same id the store ignores, only from rows never carried.
    assert.ok(unknown.size - open.size <= 4, `${unknown.size - open.size} settled attempts re-created`);
    again.close();
  }));

  it('keeps a long-open attempt when the write carrying it forward fails (disk full)', withDir((dir) => {
    const path = join(dir, 'j.db');
    const file = JournalFile.open(path, { segmentBytes: 1500 });
    file.write([begun('long', 'rq_long', 1)], []);
    let carries = 0;
    const fullOnFirstCarry = (real: typeof fs.writeSync) => ((...args: Parameters<typeof fs.writeSync>) => {
      // The second line naming 'long' is its first carry into a new segment: the disk is full right then.
      if (Buffer.isBuffer(args[1]) && args[1].includes('"long"') && ++carries === 2) throw fsError('ENOSPC', 'write');
      return (real as (...a: unknown[]) => number)(...args);
    }) as typeof fs.writeSync;
    withFs('writeSync', fullOnFirstCarry, () => {
      for (let i = 0; i < 30; i++) {
        const b = begun(`e${i}`, `rq_${i}`, 1);
        // As UsageJournal does, a commit or a removal that failed is tried again.
        const { begunSeq } = retried(() => file.write([b], []));
        const { finishedSeq } = retried(() => file.write([], [finished(b, 1n)], [begunSeq!]));
        retried(() => file.remove([finishedSeq!]));
      }
    });
    assert.ok(carries >= 2, 'a carry failed');
    file.close(); // dies with the stream open
    const again = JournalFile.open(path);
    assert.deepEqual(again.unshipped().map((e) => [e.id, e.completion]), [['long', 'unknown']]);
    again.close();
  }));

  it('a start whose recovery cannot be written (disk full) leaves the dead run\'s attempts for the next start', withDir((dir) => {
    const path = join(dir, 'j.db');
    const first = JournalFile.open(path);
    first.write([begun('e1', 'rq_1', 1)], []);
    first.close(); // dies with e1 open
    const diskFull = () => (() => { throw fsError('ENOSPC', 'write'); }) as typeof fs.writeSync;
    // As UsageJournal opens it: nothing is open yet in this process.
    withFs('writeSync', diskFull, () => assert.throws(() => JournalFile.open(path, { isOpen: () => false }), /ENOSPC/));
    const again = JournalFile.open(path, { isOpen: () => false });
    assert.deepEqual(again.unshipped().map((e) => [e.id, e.completion]), [['e1', 'unknown']]);
    again.close();
  }));

  it('deletes settled segments oldest first: one it cannot delete keeps the newer ones, whose lines settle it', withDir(async (dir) => {
    const path = join(dir, 'j.db');
    const file = JournalFile.open(path, { segmentBytes: 1500, syncIntervalMs: 2 });
    const settleOne = (i: number) => {
      const b = begun(`e${i}`, `rq_${i}`, 1);
      const { begunSeq } = file.write([b], []);
      const { finishedSeq } = file.write([], [finished(b, 1n)], [begunSeq!]);
      file.remove([finishedSeq!]);
    };
    const stuck = join(dir, 'j.db.log.1');
    let unlinkAttempts = 0;
    await withFs('unlinkSync', failingUnlink((target) => {
      if (target !== stuck) return false;
      unlinkAttempts++;
      return true;
    }, 'EIO'), async () => {
      for (let i = 0; i < 12; i++) settleOne(i);
      // Two deletion attempts of segment 1 means a sync after every line above went by.
      await eventually(() => unlinkAttempts >= 2, () => 'no sync tried to delete the settled segments');
      // Segment 1 could not go: every segment after it stays too (their markers are what settle its rows).
      const left = segmentsIn(dir).map((name) => Number(name.split('.').pop()));
      assert.deepEqual(left, Array.from({ length: left.length }, (_, i) => i + 1), `segments on disk: ${left.join(', ')}`);
      assert.ok(left.length >= 3);
    });
    settleOne(12);
    await eventually(() => !segmentsIn(dir).includes('j.db.log.1'), () => 'segment 1 not deleted once the disk lets it');
    file.close();
    const again = JournalFile.open(path);
    assert.deepEqual(again.unshipped(), [], 'no shipped event comes back');
    again.close();
  }));

  it('adopting a slot also deletes its settled segments, oldest first', withDir((dir) => {
    const path = join(dir, 'j.db');
    const holder = JournalFile.open(path);
    const sibling = JournalFile.open(path, { segmentBytes: 1500 });
    for (let i = 0; i < 8; i++) {
      const b = begun(`e${i}`, `rq_${i}`, 1);
      const { begunSeq } = sibling.write([b], []);
      const { finishedSeq } = sibling.write([], [finished(b, 1n)], [begunSeq!]);
      sibling.remove([finishedSeq!]);
    }
    sibling.write([], [finished(begun('live', 'rq_live', 1), 2n)]);
    // The sibling dies before its settled segments were deleted (its unlinks fail until then).
    withFs('unlinkSync', failingUnlink(() => true, 'EIO'), () => sibling.close());
    assert.ok(segmentsIn(dir, 'j.db.1').length >= 3);
    holder.close();
    // A crash amid the deletions must never leave an older segment without the newer ones that settle it.
    const order: number[] = [];
    const recording = (real: typeof fs.unlinkSync) => ((target: fs.PathLike) => {
      if (String(target).includes('j.db.1.log.')) order.push(Number(String(target).split('.').pop()));
      real(target);
    }) as typeof fs.unlinkSync;
    const adopting = withFs('unlinkSync', recording, () => JournalFile.open(path));
    assert.deepEqual(adopting.unshipped().map((e) => e.id), ['live']);
    assert.deepEqual(segmentsIn(dir, 'j.db.1'), [], 'nothing of the adopted slot is left to be adopted again');
    assert.deepEqual(order, [...order].sort((x, y) => x - y), `deleted in the order ${order.join(', ')}`);
    adopting.close();
  }));

  it('logs what the journal meets while it opens (a slot\'s file it cannot delete) and still ships its events', withDir(async (dir) => {
    const path = join(dir, 'j.db');
    const holder = JournalFile.open(path);
    const sibling = JournalFile.open(path);
    sibling.write([], [finished(begun('e1', 'rq_1', 1), 1n)]);
    sibling.close();
    holder.close();
    const lines: string[] = [];
    const logger = createLogger('info', new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } }));
    const stored: string[] = [];
    const journal = withFs('unlinkSync', failingUnlink((target) => target.includes('.1.log.'), 'EACCES'),
      () => new UsageJournal({ path, logger, write: async (events) => { stored.push(...events.map((e) => e.id)); } }));
    assert.ok(lines.some((l) => l.includes('could not be deleted')), `logged: ${lines.join('')}`);
    await journal.close();
    assert.deepEqual(stored, ['e1']);
  }));

  it('a start that died converting or adopting a journal does not take its events twice', withDir((dir) => {
    const path = join(dir, 'j.db');
    // A journal in the SQLite batch format; the conversion dies after writing the log, before clearing the table.
    const old = new BetterSqlite3(path);
    old.exec('CREATE TABLE journal_batches (seq INTEGER PRIMARY KEY, kind INTEGER NOT NULL, events TEXT NOT NULL)');
    old.prepare('INSERT INTO journal_batches (kind, events) VALUES (?, ?)').run(1, JSON.stringify([finished(begun('e1', 'rq_1', 1), 9n)].map(eventValues)));
    old.close();
    const exec = BetterSqlite3.prototype.exec;
    BetterSqlite3.prototype.exec = function (this: BetterSqlite3.Database, source: string) {
      if (source.startsWith('DELETE FROM journal_batches')) throw new Error('killed');
      return exec.call(this, source);
    };
    try {
      assert.throws(() => JournalFile.open(path), /killed/);
    } finally {
      BetterSqlite3.prototype.exec = exec;
    }
    const converted = JournalFile.open(path);
    assert.deepEqual(converted.unshipped().map((e) => e.id), ['e1']);
    // A sibling slot whose segments cannot be deleted once adopted (as if the adopting run died first).
    const sibling = JournalFile.open(path);
    assert.equal(sibling.path, `${path}.1`);
    sibling.write([begun('e3', 'rq_3', 1)], [finished(begun('e2', 'rq_2', 1), 5n)]);
    sibling.close();
    converted.close();
    const reports: string[] = [];
    withFs('unlinkSync', failingUnlink((target) => target.includes('.1.log.'), 'EACCES'), () => {
      for (let start = 0; start < 2; start++) {
        const adopting = JournalFile.open(path, { report: (message) => reports.push(message) });
        assert.deepEqual(adopting.unshipped().map((e) => [e.id, e.completion]).sort(), [['e1', 'succeeded'], ['e2', 'succeeded'], ['e3', 'unknown']]);
        adopting.close();
      }
    });
    assert.ok(reports.some((m) => m.includes('could not be deleted')), 'the undeletable segment was reported');
  }));

  it('converts a journal of SQLite batch rows (the format before the log) when it opens it', withDir((dir) => {
    const path = join(dir, 'j.db');
    const old = new BetterSqlite3(path);
    old.exec('CREATE TABLE journal_batches (seq INTEGER PRIMARY KEY, kind INTEGER NOT NULL, events TEXT NOT NULL)');
    const [a, b] = [begun('e1', 'rq_1', 1), begun('e2', 'rq_2', 1)];
    const insert = old.prepare('INSERT INTO journal_batches (kind, events) VALUES (?, ?)');
    insert.run(0, JSON.stringify([a, b].map(begunValues)));
    insert.run(1, JSON.stringify([finished(a, 9n)].map(eventValues)));
    old.close();
    const file = JournalFile.open(path);
    const events = new Map(file.unshipped().map((e) => [e.id, e]));
    assert.deepEqual([events.get('e1')!.completion, events.get('e1')!.costPico], ['succeeded', 9n]);
    assert.equal(events.get('e2')!.completion, 'unknown');
    file.close();
    const check = new BetterSqlite3(path, { readonly: true });
    assert.equal((check.prepare('SELECT count(*) AS n FROM journal_batches').get() as { n: number }).n, 0);
    check.close();
    const reopened = JournalFile.open(path);
    assert.equal(reopened.unshipped().length, 2, 'converted once, kept in the log');
    reopened.close();
  }));

  it('turns attempts begun but never finished into final events when reopened', withDir((dir) => {
    const path = join(dir, 'j.db');
    const first = JournalFile.open(path);
    const [a1, a2, other] = [begun('e1', 'rq_a', 1), begun('e2', 'rq_a', 2), begun('e3', 'rq_b', 1)];
    first.write([a1, a2], []);
    first.write([other], []);
    first.write([], [finished(other, 7n)]);
    first.close(); // as if the process died here
    const again = JournalFile.open(path);
    const events = new Map(again.unshipped().map((e) => [e.id, e]));
    assert.equal(events.size, 3);
    assert.equal(events.get('e3')!.completion, 'succeeded');
    assert.equal(events.get('e3')!.costPico, 7n);
    assert.deepEqual([events.get('e1')!.isFinalAttempt, events.get('e1')!.retryAction], [false, 'next_backend']);
    assert.deepEqual([events.get('e2')!.isFinalAttempt, events.get('e2')!.retryAction, events.get('e2')!.completion], [true, 'fail_fast', 'unknown']);
    assert.equal(events.get('e2')!.costPico, 0n);
    assert.equal(events.get('e2')!.inputTokensEstimate, 12);
    again.close();
  }));

  it('a second process takes the next slot; a later one adopts slots nobody holds', withDir((dir) => {
    const path = join(dir, 'j.db');
    const a = JournalFile.open(path);
    const b = JournalFile.open(path);
    assert.equal(a.path, path);
    assert.equal(b.path, `${path}.1`);
    b.write([], [finished(begun('e9', 'rq_z', 1), 5n)]);
    b.close();
    a.close();
    const c = JournalFile.open(path);
    assert.equal(c.path, path);
    assert.deepEqual(c.unshipped().map((e) => e.id), ['e9']);
    c.close();
    const d = JournalFile.open(`${path}.1`);
    assert.deepEqual(d.unshipped(), [], 'the adopted rows left the orphaned slot');
    d.close();
  }));

  it("a gateway of another deployment started on the same path neither takes nor adopts a slot holding this one's events", { timeout: 10_000 }, withDir(async (dir) => {
    const path = join(dir, 'j.db');
    // Deployment X's gateway stops while its database does not answer: its event stays in the journal.
    const x = new UsageJournal({ path, owner: 'X', intervalMs: 2, closeShippingMs: 100, write: () => new Promise<void>(() => {}) });
    const b = begun('e1', 'rq_1', 1);
    await x.begin(b);
    x.record(finished(b, 3n));
    await x.close();
    // Deployment Y's gateway starts from the same directory (PostgreSQL's default path is ./data/usage-journal.db).
    const toY: string[] = [];
    const y = new UsageJournal({ path, owner: 'Y', intervalMs: 2, write: async (events) => { toY.push(...events.map((e) => e.id)); } });
    assert.equal(y.path, `${path}.1`);
    assert.equal(y.unshippedPico('acct_1'), 0n, "X's spending is not Y's");
    await y.close();
    assert.deepEqual(toY, [], "X's event is not shipped into Y's database");
    const toX: string[] = [];
    const x2 = new UsageJournal({ path, owner: 'X', intervalMs: 2, write: async (events) => { toX.push(...events.map((e) => e.id)); } });
    assert.equal(x2.path, path);
    await x2.close();
    assert.deepEqual(toX, ['e1'], "X's next start ships it");
  }));

  it("a running journal adopts the slot of a journal that stopped beside it, counting its spend at once; another deployment's slot is left alone", { timeout: 10_000 }, withDir(async (dir) => {
    const path = join(dir, 'j.db');
    const silent = () => new Promise<void>(() => {});
    // A: a gateway of deployment X, alive; its store does not answer.
    const a = new UsageJournal({ path, owner: 'X', intervalMs: 2, closeShippingMs: 50, write: silent });
    // A gateway of deployment Y stopped on the same path with an event its store never took.
    const y = new UsageJournal({ path, owner: 'Y', intervalMs: 2, closeShippingMs: 50, write: silent });
    y.record(finished(begun('y1', 'rq_y', 1), 9n));
    await y.close();
    // B: another gateway of X, started while A runs: A's slot is held, Y's is not X's.
    let open!: () => void;
    const storeAnswers = new Promise<void>((resolve) => { open = resolve; });
    const stored = new Map<string, UsageEvent>();
    const b = new UsageJournal({
      path, owner: 'X', intervalMs: 2, adoptIntervalMs: 5,
      write: async (events) => { await storeAnswers; for (const e of events) stored.set(e.id, e); },
    });
    assert.equal(b.path, `${path}.2`);
    const e1 = begun('e1', 'rq_1', 1);
    await a.begin(e1);
    await a.begin(begun('e2', 'rq_2', 1));
    a.record(finished(e1, 5n));
    assert.equal(b.adoptSiblings(), 0, 'nothing is adopted while its journal is open');
    // A stops without shipping (as a kill would leave it): its finished event and its open attempt stay in its slot.
    await a.close();
    await eventually(() => b.unshippedPico('acct_1') === 5n, () => `B counts ${b.unshippedPico('acct_1')} pico unshipped`);
    assert.equal(b.pending, 2, "A's event and its orphan");
    open();
    await b.flush();
    assert.deepEqual([...stored.values()].map((e) => [e.id, e.completion, e.costPico]).sort(), [['e1', 'succeeded', 5n], ['e2', 'unknown', 0n]]);
    assert.equal(b.adoptSiblings(), 0, 'an adopted slot is not adopted again');
    await b.close();
    assert.deepEqual(segmentsIn(dir, 'j.db'), [], "A's slot was emptied");
    assert.equal(segmentsIn(dir, 'j.db.1').length, 1, "Y's slot keeps its event");
    const toY: string[] = [];
    const y2 = new UsageJournal({ path, owner: 'Y', intervalMs: 2, write: async (events) => { toY.push(...events.map((e) => e.id)); } });
    await y2.close();
    assert.deepEqual(toY, ['y1']);
  }));

  it('adopting later takes no event this journal already holds (a copy left by an adopting run that died)', withDir((dir) => {
    const path = join(dir, 'j.db');
    const ours = JournalFile.open(path);
    const theirs = JournalFile.open(path);
    const copy = finished(begun('e1', 'rq_1', 1), 5n);
    ours.write([], [copy]);
    theirs.write([begun('e3', 'rq_3', 1)], [copy, finished(begun('e2', 'rq_2', 1), 2n)]);
    theirs.close();
    const adopted = ours.adoptSiblings();
    assert.deepEqual(adopted.map(({ slot, batch, orphans }) => ({ slot, ids: batch.events.map((e) => e.id), orphans })), [{ slot: `${path}.1`, ids: ['e2', 'e3'], orphans: 1 }]);
    assert.deepEqual(ours.unshipped().map((e) => e.id), ['e1', 'e2', 'e3']);
    assert.deepEqual(ours.adoptSiblings(), []);
    ours.close();
  }));

  it('a start finding every slot held waits for one let go of moments later (a running gateway adopting it) rather than failing', { timeout: 60_000 }, withDir(async (dir) => {
    const path = join(dir, 'j.db');
    const held = Array.from({ length: 31 }, () => JournalFile.open(path));
    const marker = join(dir, 'go');
    // The last slot is held by another process until this one starts opening, and for a moment after.
    const code = `import { JournalFile } from ${JSON.stringify(join(import.meta.dirname, 'journal-file.ts'))};
      import { existsSync } from 'node:fs';
      const file = JournalFile.open(process.argv[1]);
      process.stdout.write(file.path + '\\n');
      const poll = setInterval(() => { if (existsSync(process.argv[2])) { clearInterval(poll); setTimeout(() => process.exit(0), 100); } }, 5);`;
    const holder = spawn(process.execPath, ['--input-type=module', '-e', code, path, marker], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const slot = await new Promise<string>((resolve, reject) => {
        let out = '';
        holder.stdout.on('data', (chunk: Buffer) => { out += String(chunk); if (out.endsWith('\n')) resolve(out.trim()); });
        holder.once('exit', (code) => reject(new Error(`the holding process exited (${code})`)));
      });
      assert.equal(slot, `${path}.31`);
      writeFileSync(marker, '');
      const started = JournalFile.open(path, { openWaitMs: 30_000 });
      assert.equal(started.path, `${path}.31`);
      started.close();
    } finally {
      holder.kill('SIGKILL');
      for (const file of held) file.close();
    }
  }));

  it('keeps events while the store fails, ships each once when it returns, and tracks unshipped cost', withDir(async (dir) => {
    let failures = 3;
    const stored = new Map<string, UsageEvent>();
    const journal = new UsageJournal({
      path: join(dir, 'j.db'), intervalMs: 5, maxBackoffMs: 20,
      write: async (events) => {
        if (failures-- > 0) throw new Error('store down');
        for (const e of events) stored.set(e.id, e);
      },
    });
    const b = begun('e1', 'rq_1', 1);
    await journal.begin(b);
    journal.record(finished(b, 40n));
    journal.record(finished(begun('e2', 'rq_2', 1), 2n));
    assert.equal(journal.unshippedPico('acct_1'), 42n);
    await journal.flush();
    assert.deepEqual([...stored.keys()].sort(), ['e1', 'e2']);
    assert.equal(journal.unshippedPico('acct_1'), 0n);
    assert.equal(journal.pending, 0);
    await journal.close();
  }));

  it('a shipment the store refuses ships around the refused event: the rest are stored, it is set aside on disk and logged', withDir(async (dir) => {
    const stored = new Map<string, UsageEvent>();
    const writes: number[] = [];
    let down = false;
    const refusal = Object.assign(new Error('new row violates check constraint'), { code: '23514' });
    const lines: string[] = [];
    const logger = createLogger('error', new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } }));
    const journal = new UsageJournal({
      path: join(dir, 'j.db'), intervalMs: 5, maxBackoffMs: 20, logger,
      isRefusal: (error) => (error as { code?: string }).code === '23514',
      write: async (events) => {
        writes.push(events.length);
        if (down) throw new Error('connection refused');
        if (events.some((e) => e.model === 'poison')) throw refusal;
        for (const e of events) stored.set(e.id, e);
      },
    });
    const events = Array.from({ length: 7 }, (_, i) => ({ ...finished(begun(`e${i}`, `rq_${i}`, 1), 10n), ...(i === 4 ? { model: 'poison' } : {}) }));
    for (const e of events) journal.record(e);
    await journal.flush();
    assert.deepEqual([...stored.keys()].sort(), ['e0', 'e1', 'e2', 'e3', 'e5', 'e6']);
    assert.equal(journal.pending, 0, 'nothing left to retry');
    assert.equal(journal.unshippedPico('acct_1'), 0n);
    // The shipment, at most two events alone (the refused one may be picked first), then halves down to it.
    assert.ok(writes.length <= 3 + 2 * Math.ceil(Math.log2(7)), `halves, not one write per event: ${writes.join(', ')}`);
    const aside = readFileSync(join(dir, 'j.db.refused.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(aside.map((e) => [e.id, e.model, e.costPico]), [['e4', 'poison', '10']]);
    assert.equal(journal.refused, 1);
    assert.match(lines.join(''), /the store refused a usage event.*"eventId":"e4"|"eventId":"e4".*the store refused a usage event/);
    // A store that does not answer is not a refusal: nothing is set aside, the shipment waits and ships whole.
    down = true;
    const before = writes.length;
    journal.record(finished(begun('e7', 'rq_7', 1), 1n));
    await eventually(() => writes.length >= before + 2, () => `retried: ${writes.join(', ')}`);
    assert.deepEqual(writes.slice(before), writes.slice(before).map(() => 1), 'the one event, retried as it is');
    down = false;
    await journal.flush();
    assert.ok(stored.has('e7'));
    assert.equal(readFileSync(join(dir, 'j.db.refused.jsonl'), 'utf8').trim().split('\n').length, 1);
    await journal.close();
  }));

  it('a refused event whose line cannot be written whole (disk full) stays in the journal, and the file keeps no half line', withDir(async (dir) => {
    const { journal, stored } = refusingJournal(dir, (e) => e.model === 'poison');
    const refusedFile = join(dir, 'j.db.refused.jsonl');
    let fullDisk = true;
    await withFs('writeSync', (real) => ((fd: number, data: string | NodeJS.ArrayBufferView, ...rest: unknown[]) => {
      // The set-aside line: part of it fits, then the disk is full.
      if (fullDisk && typeof data !== 'string' && Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString().startsWith('{"id":"bad"')) {
        if ((rest[0] ?? 0) === 0) return 10;
        throw fsError('ENOSPC', 'write');
      }
      return (real as (...args: unknown[]) => number)(fd, data, ...rest);
    }) as typeof fs.writeSync, async () => {
      journal.record(finished(begun('good', 'rq_1', 1), 1n));
      journal.record({ ...finished(begun('bad', 'rq_2', 1), 2n), model: 'poison' });
      await eventually(() => stored.has('good'), () => 'the good event shipped');
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(journal.pending, 2, 'the shipment is retried: the refused event was not set aside');
      assert.equal(statSync(refusedFile).size, 0, 'the half-written line was cut off');
      fullDisk = false;
      await journal.flush();
    });
    assert.equal(journal.pending, 0);
    assert.deepEqual(readFileSync(refusedFile, 'utf8').trim().split('\n').map((line) => (JSON.parse(line) as { id: string }).id), ['bad']);
    await journal.close();
  }));

  it('an event set aside while another attempt of its begun row was open does not come back as an unknown, zero-cost event after a crash', withDir(async (dir) => {
    const path = join(dir, 'j.db');
    const { journal, stored } = refusingJournal(dir, (e) => e.costPico === 666n);
    // Begun in one turn: one begun row, released only once both have their final events.
    const [refused, open] = [begun('e1', 'rq_1', 1), begun('e2', 'rq_2', 1)];
    await Promise.all([journal.begin(refused), journal.begin(open)]);
    journal.record(finished(refused, 666n));
    journal.record(finished(begun('e3', 'rq_3', 1), 1n));
    await eventually(() => journal.refused === 1 && stored.has('e3'), () => 'e1 set aside, e3 stored');
    // The process dies with e2 still open (a stop does not wait for open attempts: this leaves the file as a crash would).
    await journal.close();
    const restarted = refusingJournal(dir, (e) => e.costPico === 666n);
    await restarted.journal.close();
    // The open attempt comes back, as every attempt a dead process left open does.
    assert.equal(restarted.stored.get('e2')?.completion, 'unknown');
    // Re-created, e1 was an unknown event at no cost under its id: the store took it, and `tollgate usage import` then
    // found the real one "already stored" — its cost never reached a balance.
    assert.equal(restarted.stored.get('e1'), undefined, 'the set-aside event is not stored under its id as unknown');
    const aside = readFileSync(`${path}.refused.jsonl`, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { id: string; costPico: string });
    assert.deepEqual(aside.map((e) => [e.id, e.costPico]), [['e1', '666']], 'set aside once, with its cost');
  }));

  it('most of a shipment refused (one tenant\'s events) still ships the rest and sets those aside: no arrangement stalls it', withDir(async (dir) => {
    const { journal, stored } = refusingJournal(dir, (e) => e.accountId === 'acct_bad');
    // 36 refused and 4 taken, the taken ones all at the start: samples at fixed places would find none.
    for (let i = 0; i < 40; i++) journal.record({ ...finished(begun(`e${i}`, `rq_${i}`, 1), 1n), ...(i >= 4 ? { accountId: 'acct_bad' } : {}) });
    await journal.flush();
    assert.deepEqual([...stored.keys()].sort(), ['e0', 'e1', 'e2', 'e3']);
    assert.equal(journal.refused, 36);
    assert.equal(journal.pending, 0);
    await journal.close();
  }));

  it('a store that refuses every row is failing, not refusing rows: nothing is set aside, the events wait and ship once it takes rows', withDir(async (dir) => {
    const stored = new Map<string, UsageEvent>();
    let broken = true;
    const writes: number[] = [];
    const journal = new UsageJournal({
      path: join(dir, 'j.db'), intervalMs: 5, maxBackoffMs: 20,
      isRefusal: (error) => (error as { code?: string }).code === '23514',
      write: async (events) => {
        writes.push(events.length);
        // As PostgreSQL answers a row for which no partition exists yet.
        if (broken) throw Object.assign(new Error('no partition of relation "usage_events" found for row'), { code: '23514' });
        for (const e of events) stored.set(e.id, e);
      },
    });
    for (let i = 0; i < 40; i++) journal.record(finished(begun(`e${i}`, `rq_${i}`, 1), 1n));
    await eventually(() => writes.length >= 30, () => `retried: ${writes.length} writes`);
    // Each retry: the shipment, then 8 events alone (spread over it) before it counts as the store failing.
    const retries = writes.join(',').split('40,').filter(Boolean).map((singles) => singles.split(',').filter(Boolean).length);
    assert.ok(retries.length >= 3 && retries.every((n) => n <= 8), `no event-by-event split of a store refusing everything: ${writes.join(', ')}`);
    assert.equal(journal.pending, 40);
    assert.equal(journal.unshippedPico('acct_1'), 40n);
    assert.equal(readdirSync(dir).some((name) => name.endsWith('.refused.jsonl')), false, 'nothing set aside');
    broken = false;
    await journal.flush();
    assert.equal(stored.size, 40);
    assert.equal(journal.pending, 0);
    await journal.close();
  }));

  it('ships every event exactly once through an outage longer than its memory queue, reading the file', withDir(async (dir) => {
    let down = true;
    const stored = new Map<string, UsageEvent>();
    let writes = 0;
    const path = join(dir, 'j.db');
    const journal = new UsageJournal({
      path, intervalMs: 2, maxBackoffMs: 5, maxBatch: 7, memoryQueueEvents: 10,
      write: async (events) => {
        writes++;
        if (down) throw new Error('store down');
        for (const e of events) {
          assert.ok(!stored.has(e.id), `${e.id} shipped twice`);
          stored.set(e.id, e);
        }
      },
    });
    const all: UsageEvent[] = [];
    for (let i = 0; i < 60; i++) {
      const b = begun(`e${String(i).padStart(3, '0')}`, `rq_${i}`, 1);
      await journal.begin(b);
      const e = finished(b, BigInt(i));
      all.push(e);
      journal.record(e);
      if (i % 9 === 0) await new Promise((resolve) => setTimeout(resolve, 3));
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(writes > 0, 'the shipper met the outage');
    assert.equal(journal.pending, 60);
    assert.equal(journal.unshippedPico('acct_1'), all.reduce((sum, e) => sum + e.costPico, 0n));
    down = false;
    await journal.flush();
    assert.equal(stored.size, 60);
    assert.equal(journal.pending, 0);
    assert.equal(journal.unshippedPico('acct_1'), 0n);
    await journal.close();
    // Shipped rows and begun rows whose attempts all finished are gone from the file.
    const reopened = JournalFile.open(path);
    assert.deepEqual(reopened.unshipped(), []);
    reopened.close();
  }));

  it('recovers a Firewall judgement begun and never finished as the gateway\'s own call, never the request\'s final attempt', withDir((dir) => {
    const path = join(dir, 'j.db');
    const first = JournalFile.open(path);
    const judgement: BegunAttempt = { ...begun('judged', 'rq_1', 1), model: 'gpt-4o-mini', retryAction: 'fail_fast', gatewayCall: true };
    // Its row reads back with its mark; an attempt's row is written as before, without one.
    assert.deepEqual(begunFrom(JSON.parse(JSON.stringify(begunValues(judgement))) as unknown[]), judgement);
    assert.equal(begunValues(begun('attempt', 'rq_1', 1)).length, 18);
    first.write([judgement, begun('attempt', 'rq_1', 1)], []);
    first.write([{ ...judgement, id: 'judged-alone', requestId: 'rq_2' }], []);
    first.close(); // as if the process died during the calls
    const again = JournalFile.open(path);
    const events = new Map(again.unshipped().map((e) => [e.id, e]));
    // The request's attempt stays its final one; a judgement is never one, even the only row of its request.
    assert.deepEqual(['attempt', 'judged', 'judged-alone'].map((id) => [events.get(id)?.isFinalAttempt, events.get(id)?.retryAction, events.get(id)?.completion, events.get(id)?.costPico]), [[true, 'fail_fast', 'unknown', 0n], [false, 'fail_fast', 'unknown', 0n], [false, 'fail_fast', 'unknown', 0n]]);
    assert.equal(events.get('judged')!.model, 'gpt-4o-mini');
    assert.equal('gatewayCall' in events.get('judged')!, false, 'an event has no such field');
    again.close();
  }));

  it('a begun row stays until every attempt in it finished; a crash then recovers only the open ones', withDir(async (dir) => {
    const path = join(dir, 'j.db');
    const first = JournalFile.open(path);
    const [a, b, c] = [begun('e1', 'rq_1', 1), begun('e2', 'rq_2', 1), begun('e3', 'rq_3', 1)];
    const { begunSeq } = first.write([a, b, c], []);
    assert.ok(begunSeq !== undefined);
    const { finishedSeq } = first.write([], [finished(a, 1n), finished(b, 2n)]);
    first.remove([finishedSeq!]); // a and b shipped
    first.close(); // the process dies with c open
    const again = JournalFile.open(path);
    // a and b were shipped: only c comes back (their begun row still names them, but their final events are in the log).
    assert.deepEqual(again.unshipped().map((e) => [e.id, e.completion]), [['e3', 'unknown']]);
    again.close();
  }));

  it('converts a journal of the earlier one-row-per-event format when it opens it', withDir((dir) => {
    const path = join(dir, 'j.db');
    const old = new BetterSqlite3(path);
    old.exec(`CREATE TABLE usage_journal (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, finished INTEGER NOT NULL, cost_pico TEXT NOT NULL, event TEXT NOT NULL) WITHOUT ROWID`);
    // That format's events had none of the fields added since (the cost's parts, the hour-long cache writes).
    const { cacheWrite1hTokens, inputCostPico, outputCostPico, cacheReadCostPico, cacheWrite5mCostPico, cacheWrite1hCostPico, feePico, ...done } = finished(begun('e1', 'rq_1', 1), 123n);
    old.prepare('INSERT INTO usage_journal VALUES (?, ?, 1, ?, ?)').run('e1', 'acct_1', '123', JSON.stringify({ ...done, costPico: '123' }));
    old.prepare("INSERT INTO usage_journal VALUES (?, ?, 0, '0', ?)").run('e2', 'acct_1', JSON.stringify(begun('e2', 'rq_2', 1)));
    old.close();
    const file = JournalFile.open(path);
    const events = new Map(file.unshipped().map((e) => [e.id, e]));
    assert.equal(events.get('e1')!.costPico, 123n);
    assert.equal(events.get('e1')!.feePico, 0n);
    assert.equal(events.get('e1')!.completion, 'succeeded');
    assert.equal(events.get('e2')!.completion, 'unknown', 'an attempt begun under the old format is recovered like any other');
    file.close();
    const check = new BetterSqlite3(path, { readonly: true });
    assert.equal((check.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'usage_journal'").get() as { n: number }).n, 0);
    check.close();
  }));

  it('keeps shipping from the file while shipped rows cannot be removed from it, each event once', { timeout: 20_000 }, withDir(async (dir) => {
    const path = join(dir, 'j.db');
    let down = true;
    let failRemoves = false;
    const stored = new Map<string, UsageEvent>();
    const journal = new UsageJournal({
      path, intervalMs: 2, maxBackoffMs: 5, maxBatch: 5, memoryQueueEvents: 4,
      write: async (events) => {
        if (down) throw new Error('store down');
        for (const e of events) {
          assert.ok(!stored.has(e.id), `${e.id} shipped twice`);
          stored.set(e.id, e);
        }
      },
    });
    // A disk fault on the delete only (fault injection on the real file class).
    const remove = JournalFile.prototype.remove;
    JournalFile.prototype.remove = function (this: JournalFile, seqs: readonly number[]) {
      if (failRemoves) throw new Error('disk I/O error');
      remove.call(this, seqs);
    };
    try {
      for (let i = 0; i < 20; i++) {
        const b = begun(`e${String(i).padStart(2, '0')}`, `rq_${i}`, 1);
        await journal.begin(b);
        journal.record(finished(b, 1n));
        await new Promise((resolve) => setTimeout(resolve, 3));
      }
      assert.equal(journal.pending, 20);
      failRemoves = true;
      down = false;
      // Every event reaches the store although none of the shipped rows leaves the file.
      for (let waited = 0; stored.size < 20 && waited < 5000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(stored.size, 20);
      failRemoves = false;
      await journal.flush();
      assert.equal(journal.pending, 0);
      await journal.close();
    } finally {
      JournalFile.prototype.remove = remove;
    }
    const reopened = JournalFile.open(path);
    assert.deepEqual(reopened.unshipped(), [], 'shipped rows were removed once the disk recovered');
    reopened.close();
  }));

  it('stopping while the journal cannot write at all (disk full) puts the events in the store instead of waiting forever', { timeout: 10_000 }, withDir(async (dir) => {
    const path = join(dir, 'j.db');
    const stored: UsageEvent[] = [];
    const journal = new UsageJournal({ path, intervalMs: 2, maxBackoffMs: 5, write: async (events) => { stored.push(...events); } });
    const write = JournalFile.prototype.write;
    JournalFile.prototype.write = () => { throw fsError('ENOSPC', 'write'); };
    try {
      const [a, b] = [begun('e1', 'rq_1', 1), begun('e2', 'rq_2', 1)];
      await Promise.all([journal.begin(a), journal.begin(b)]); // refused: both wait in memory
      journal.record(finished(a, 3n));
      journal.record(finished(b, 4n));
      assert.equal(journal.unshippedPico(a.accountId), 7n);
      await journal.close();
    } finally {
      JournalFile.prototype.write = write;
    }
    assert.deepEqual(stored.map((e) => [e.id, e.costPico]).sort(), [['e1', 3n], ['e2', 4n]]);
    assert.equal(journal.pending, 0);
    assert.equal(journal.unshippedPico('acct_1'), 0n);
  }));

  it('while the journal cannot write (disk full), finished events go to the store as they come, not at a stop a crash may never reach; their begun rows are released once it writes again', { timeout: 10_000 }, withDir(async (dir) => {
    const path = join(dir, 'j.db');
    const stored = new Map<string, UsageEvent>();
    const lines: string[] = [];
    const logger = createLogger('info', new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } }));
    const journal = new UsageJournal({ path, intervalMs: 2, maxBackoffMs: 5, logger, write: async (events) => { for (const e of events) stored.set(e.id, e); } });
    const [a, b] = [begun('e1', 'rq_1', 1), begun('e2', 'rq_2', 1)];
    // Journaled while the disk takes writes: one begun row for both.
    await Promise.all([journal.begin(a), journal.begin(b)]);
    const write = JournalFile.prototype.write;
    JournalFile.prototype.write = () => { throw fsError('ENOSPC', 'write'); };
    try {
      journal.record(finished(a, 3n));
      const c = begun('e3', 'rq_3', 1);
      await journal.begin(c); // refused: the begin waits in memory
      journal.record(finished(c, 4n));
      const d = begun('e4', 'rq_4', 1);
      await journal.begin(d);
      journal.record(finished(d, 5n));
      // Held in memory until a stop, they were lost to a kill -9 or an OOM meanwhile, however long the disk stayed full.
      await eventually(() => ['e1', 'e3', 'e4'].every((id) => stored.has(id)), () => `in the store: ${[...stored.keys()].join(', ')}`);
      assert.equal(journal.pending, 0);
      assert.equal(journal.unshippedPico('acct_1'), 0n);
    } finally {
      JournalFile.prototype.write = write;
    }
    assert.equal(lines.filter((l) => l.includes('events written straight to the store')).length, 1, 'said once, not for every event');
    // The disk takes writes again: b finishes, and the row it shared with a is released.
    journal.record(finished(b, 6n));
    await journal.close();
    assert.deepEqual([...stored.keys()].sort(), ['e1', 'e2', 'e3', 'e4']);
    const reopened = JournalFile.open(path);
    assert.deepEqual(reopened.unshipped(), [], 'no begun row left to come back as an unknown attempt');
    reopened.close();
  }));

  it('stopping with the journal disk full once nothing is held only in memory gives up on a journaled event the store will not take, as with a sound disk', { timeout: 10_000 }, withDir(async (dir) => {
    const path = join(dir, 'j.db');
    const stored = new Map<string, UsageEvent>();
    const journal = new UsageJournal({
      path, intervalMs: 2, maxBackoffMs: 5, closeShippingMs: 100,
      isRefusal: (error) => (error as { code?: string }).code === '23514',
      write: async (events) => {
        if (events.some((e) => e.costPico === 666n)) throw Object.assign(new Error('new row violates check constraint'), { code: '23514' });
        for (const e of events) stored.set(e.id, e);
      },
    });
    // Journaled, and refused alone by the store: it waits for company, in the file.
    journal.record(finished(begun('e1', 'rq_1', 1), 666n));
    await eventually(() => journal.pending === 1 && segmentsIn(dir).length > 0, () => 'e1 journaled');
    const write = JournalFile.prototype.write;
    JournalFile.prototype.write = () => { throw fsError('ENOSPC', 'write'); };
    try {
      journal.record(finished(begun('e2', 'rq_2', 1), 2n));
      // Stopping: e2, held only in memory, goes to the store; e1 is on disk for the next start. The stop waited on e1
      // for good (the disk never took another write), though nothing it waited for was only in memory.
      await journal.close();
    } finally {
      JournalFile.prototype.write = write;
    }
    assert.deepEqual([...stored.keys()], ['e2']);
    const reopened = JournalFile.open(path);
    assert.deepEqual(reopened.unshipped().map((e) => e.id), ['e1'], 'left in the journal for the next start');
    reopened.close();
  }));

  it('stopping while the store never answers leaves the journaled events for the next start, which ships each once', { timeout: 10_000 }, withDir(async (dir) => {
    const path = join(dir, 'j.db');
    const written: string[] = [];
    // A database gone silent: the write is sent and never answered, nor refused.
    const silent = new UsageJournal({ path, intervalMs: 2, closeShippingMs: 200, write: () => new Promise<void>(() => {}) });
    const [a, b] = [begun('e1', 'rq_1', 1), begun('e2', 'rq_2', 1)];
    await Promise.all([silent.begin(a), silent.begin(b)]);
    silent.record(finished(a, 3n));
    silent.record(finished(b, 4n));
    const started = Date.now();
    await silent.close();
    assert.ok(Date.now() - started < 2_000, `close() took ${Date.now() - started} ms`);
    const next = new UsageJournal({ path, intervalMs: 2, write: async (events) => { written.push(...events.map((e) => e.id)); } });
    assert.equal(next.unshippedPico('acct_1'), 7n, 'the events still count against the balance until shipped');
    await next.close();
    assert.deepEqual(written.sort(), ['e1', 'e2']);
    assert.deepEqual(segmentsIn(dir), [], 'shipped and removed');
  }));

  it('stopping with the journal disk full and the store refusing for a while: retries, logs once, stores everything', { timeout: 10_000 }, withDir(async (dir) => {
    const path = join(dir, 'j.db');
    const stored: UsageEvent[] = [];
    let refusals = 3;
    const lines: string[] = [];
    const logger = createLogger('info', new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } }));
    const journal = new UsageJournal({
      path, intervalMs: 2, maxBackoffMs: 5, logger,
      write: async (events) => { if (refusals-- > 0) throw new Error('store unavailable'); stored.push(...events); },
    });
    const write = JournalFile.prototype.write;
    JournalFile.prototype.write = () => { throw fsError('ENOSPC', 'write'); };
    try {
      const a = begun('e1', 'rq_1', 1);
      await journal.begin(a);
      journal.record(finished(a, 5n));
      await journal.close();
    } finally {
      JournalFile.prototype.write = write;
    }
    assert.deepEqual(stored.map((e) => [e.id, e.costPico]), [['e1', 5n]]);
    assert.equal(journal.unshippedPico('acct_1'), 0n);
    assert.equal(lines.filter((l) => l.includes('the store refused its events too')).length, 1, lines.join(''));
  }));

  it('an attempt whose begin and final event are committed together (after a failed commit) leaves no begun row', withDir(async (dir) => {
    const path = join(dir, 'j.db');
    const stored: UsageEvent[] = [];
    const journal = new UsageJournal({ path, intervalMs: 2, maxBackoffMs: 5, write: async (events) => { stored.push(...events); } });
    const write = JournalFile.prototype.write;
    let failWrites = 1;
    JournalFile.prototype.write = function (this: JournalFile, ...args: Parameters<JournalFile['write']>) {
      if (failWrites-- > 0) throw new Error('disk full');
      return write.apply(this, args);
    };
    try {
      const b = begun('e1', 'rq_1', 1);
      await journal.begin(b); // this commit fails: the begin waits in memory
      journal.record(finished(b, 3n));
      await journal.flush();
      await journal.close();
    } finally {
      JournalFile.prototype.write = write;
    }
    assert.deepEqual(stored.map((e) => [e.id, e.completion]), [['e1', 'succeeded']]);
    const reopened = JournalFile.open(path);
    assert.deepEqual(reopened.unshipped(), [], 'no begun row left behind to come back as an unknown attempt');
    reopened.close();
  }));

  it('an attempt begun and finished in one turn (a realtime transcription committed and reported in one read) leaves no begun row: a stop leaves no segment, a restart no second event', withDir(async (dir) => {
    const path = join(dir, 'j.db');
    const stored: UsageEvent[] = [];
    const write = async (events: readonly UsageEvent[]) => { stored.push(...events); };
    const journal = new UsageJournal({ path, intervalMs: 2, write });
    const b = begun('e1', 'rq_1', 1);
    // Not awaited, as the realtime gateway notes a transcription at its commit: the report may come in the same read.
    void journal.begin(b);
    journal.record(finished(b, 3n));
    await journal.close();
    assert.deepEqual(segmentsIn(dir), [], 'everything shipped: no segment left behind');
    const restarted = new UsageJournal({ path, write });
    await restarted.close();
    assert.deepEqual(stored.map((e) => [e.id, e.completion]), [['e1', 'succeeded']]);
  }));

  it('reads a balance between shipments without waiting behind them, and says when a store write overlapped the read', withDir(async (dir) => {
    let release: (() => void) | undefined;
    const stored: UsageEvent[] = [];
    const journal = new UsageJournal({
      path: join(dir, 'j.db'), intervalMs: 5,
      write: async (events) => { await new Promise<void>((resolve) => { release = resolve; }); stored.push(...events); },
    });
    try {
      journal.record(finished(begun('e1', 'rq1', 1), 700n));
      // Idle: the store's figure less the unshipped cost.
      assert.equal(await journal.balanceBetweenShipments(begun('e1', 'rq1', 1).accountId, async () => 10_000n), 9_300n);
      // A shipment in flight (its write waits): not read, rather than counting its event twice or not at all.
      await eventually(() => release !== undefined, () => 'the shipment never began');
      assert.equal(await journal.balanceBetweenShipments(begun('e1', 'rq1', 1).accountId, async () => 10_000n), undefined);
      // Another account's figure is read meanwhile: that shipment carries none of its events.
      assert.equal(await journal.balanceBetweenShipments('acct_other', async () => 5_000n), 5_000n);
      // A shipment that ends while the store is being read: the figure is dropped too.
      const overlapped = journal.balanceBetweenShipments(begun('e1', 'rq1', 1).accountId, async () => { release!(); await eventually(() => stored.length === 1, () => 'not shipped'); return 9_300n; });
      assert.equal(await overlapped, undefined);
    } finally {
      release?.();
      await journal.close();
    }
  }));

  it('says when the events an account recorded so far are in the store', withDir(async (dir) => {
    let open = false;
    let refusals = 0;
    const stored: string[] = [];
    const journal = new UsageJournal({ path: join(dir, 'j.db'), intervalMs: 2, maxBackoffMs: 5, write: async (events) => {
      if (!open) { refusals++; throw new Error('connection refused'); }
      stored.push(...events.map((e) => e.id));
    } });
    try {
      assert.equal(journal.whenShipped('acct_1'), undefined, 'nothing unshipped');
      journal.record(finished(begun('ev_1', 'rq_1', 1), 5n));
      let told = false;
      const shipped = journal.whenShipped('acct_1')!.then(() => { told = true; });
      journal.record(finished(begun('ev_2', 'rq_2', 1), 0n));
      journal.record({ ...finished(begun('ev_3', 'rq_3', 1), 7n), accountId: 'acct_2' });
      for (let i = 0; i < 500 && refusals < 2; i++) await new Promise((resolve) => setTimeout(resolve, 2));
      assert.equal(told, false, 'the store is down: not shipped');
      open = true;
      await shipped;
      assert.ok(stored.includes('ev_1'));
      await journal.flush();
      assert.equal(journal.whenShipped('acct_1'), undefined);
      assert.equal(journal.whenShipped('acct_2'), undefined);
    } finally {
      await journal.close();
    }
  }));
});
