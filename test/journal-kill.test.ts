// The usage journal under kill -9 with segments small enough to rotate every few milliseconds: whatever instant
// the process dies, every attempt whose begin was confirmed is in the store or comes back from the journal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JournalFile } from '../src/usage/journal-file.ts';

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
