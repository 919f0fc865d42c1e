import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyIndexUpkeep, type KeyIndexReads } from './key-index-upkeep.ts';

const hash = (n: number) => String(n).repeat(64);

test('a reread asked for (changes the log lost) survives a page read that fails: the next update goes on with it, though a count would agree', async () => {
  const keys = new Map([['ak_1', hash(1)]]);
  let failPages = false;
  const reads: KeyIndexReads = {
    page: async (after) => {
      if (failPages) throw new Error('store down');
      return [...keys].filter(([id]) => id > after).sort().map(([id, tokenHash]) => ({ id, tokenHash }));
    },
    byIds: async (ids) => ids.filter((id) => keys.has(id)).map((id) => ({ id, tokenHash: keys.get(id)! })),
    asOfUnapplied: async () => ({ total: keys.size, named: new Map() }),
  };
  const failures: string[] = [];
  const upkeep = new KeyIndexUpkeep(reads, (_error, message) => failures.push(message));
  await upkeep.load();
  // While this gateway could not read the log: one key deleted, one created, no change of theirs left to read.
  keys.delete('ak_1');
  keys.set('ak_2', hash(2));
  failPages = true;
  upkeep.reread();
  await until(() => failures.length === 1);
  failPages = false;
  // The minute's resync: its count agrees (one key before, one now), so only the kept rebuild can find the swap.
  upkeep.recount();
  await until(() => upkeep.has(hash(2)));
  assert.equal(upkeep.has(hash(1)), false);
  await upkeep.close();
});

async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 5));
}
