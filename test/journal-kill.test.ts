// The usage journal under kill -9 with segments small enough to rotate every few milliseconds: whatever instant
// the process dies, every attempt whose begin was confirmed is in the store or comes back from the journal. And a
// gateway killed beside a running one: the running one adopts its slot without waiting for a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../src/config/logger.ts';
import { JournalFile } from '../src/usage/journal-file.ts';
import { UsageJournal } from '../src/usage/journal.ts';
import type { UsageEvent } from '../src/usage/event.ts';

const child = join(import.meta.dirname, 'helpers', 'journal-child.ts');

function lines(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').filter(Boolean);
}

test('kill -9 at any moment of a rotating journal: every confirmed attempt is stored or recovered', async (t) => {
  for (const runTo of [300, 900, 1800]) {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-journal-kill-'));
    try {
      const proc = spawn(process.execPath, [child, dir], { stdio: ['ignore', 'inherit', 'inherit'] });
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      // Run until that many attempts are confirmed, then die without warning. A count, not a time: how many a child
      // confirms in 250 ms depends on how much CPU a loaded machine gives it (~350 idle here, and 100 were required).
      const begun = join(dir, 'begun.txt');
      for (let waited = 0; waited < 60_000; waited += 20) {
        if (readdirSync(dir).includes('begun.txt') && lines(begun).length >= runTo) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      proc.kill('SIGKILL');
      await exited;
      const confirmed = lines(begun);
      const stored = new Set(lines(join(dir, 'store.txt')));
      const segments = readdirSync(dir).filter((name) => name.startsWith('journal.db.log.')).length;
      const journal = JournalFile.open(join(dir, 'journal.db'));
      const recovered = journal.unshipped().map((e) => e.id);
      journal.close();
      t.diagnostic(`run to ${runTo}: ${confirmed.length} attempts confirmed, ${stored.size} stored, ${recovered.length} recovered, ${segments} segments on disk`);
      assert.equal(new Set(recovered).size, recovered.length, 'no event twice in the journal');
      const missing = confirmed.filter((id) => !stored.has(id) && !recovered.includes(id));
      assert.deepEqual(missing, [], 'confirmed attempts neither stored nor recovered');
      assert.ok(confirmed.length >= runTo, 'the load really ran');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('a gateway killed beside a running one, and not started again: the running one ships its events and orphans', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-journal-adopt-'));
  const holder = join(import.meta.dirname, 'helpers', 'journal-holder.ts');
  const proc = spawn(process.execPath, [holder, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  let survivor: UsageJournal | undefined;
  try {
    let out = '';
    await new Promise<void>((resolve, reject) => {
      proc.stdout.on('data', (chunk: Buffer) => { out += String(chunk); if (out.includes('\n')) resolve(); });
      proc.once('exit', (code) => reject(new Error(`the journal's process exited (${code}) before it was ready`)));
    });
    assert.equal(out.trim(), `ready ${join(dir, 'journal.db')}`);
    const stored = new Map<string, UsageEvent>();
    const logged: { msg: string; events?: number; orphans?: number; slot?: string }[] = [];
    const logger = createLogger('info', new Writable({ write(chunk, _encoding, done) { logged.push(JSON.parse(String(chunk))); done(); } }));
    survivor = new UsageJournal({
      path: join(dir, 'journal.db'), intervalMs: 5, adoptIntervalMs: 20, logger,
      write: async (events) => { for (const e of events) stored.set(e.id, e); },
    });
    assert.equal(survivor.path, join(dir, 'journal.db.1'));
    assert.equal(survivor.adoptSiblings(), 0, 'nothing is adopted from a slot its process still holds');
    assert.equal(survivor.unshippedPico('acct_1'), 0n);
    proc.kill('SIGKILL');
    await exited;
    // No restart on the dead one's slot: the running journal's periodic look finds it.
    for (const started = Date.now(); stored.size < 4; await new Promise((resolve) => setTimeout(resolve, 10))) {
      if (Date.now() - started > 30_000) assert.fail(`stored only ${[...stored.keys()].join(', ') || 'nothing'}`);
    }
    assert.deepEqual([...stored.values()].map((e) => [e.id, e.completion, e.costPico]).sort(), [
      ['dead1', 'succeeded', 7n], ['dead2', 'succeeded', 7n], ['dead3', 'unknown', 0n], ['dead4', 'unknown', 0n],
    ]);
    const adoptions = logged.filter((line) => line.msg.startsWith("usage journal: adopted a stopped gateway's journal slot"));
    assert.deepEqual(adoptions.map(({ events, orphans, slot }) => ({ events, orphans, slot })), [{ events: 2, orphans: 2, slot: join(dir, 'journal.db') }], 'logged once');
    await survivor.close();
    survivor = undefined;
    assert.deepEqual(readdirSync(dir).filter((name) => name.includes('.log.')), [], 'nothing is left to adopt again');
  } finally {
    proc.kill('SIGKILL');
    await survivor?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
