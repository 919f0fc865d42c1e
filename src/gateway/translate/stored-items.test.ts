import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { StoredItems, itemReferences } from './stored-items.ts';

test('kept per account, the oldest evicted past the count or byte bound, the stale ones not served', (t) => {
  // The age limit on a clock the test moves: on the real one, a process descheduled for the limit's 50 ms between two
  // lines (a loaded machine, a GC pause) would see items expire that only the bounds should drop.
  mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  t.after(() => mock.timers.reset());
  const items = new StoredItems(2, 200, 50, 2);
  items.put('a', { id: 'm1', text: 'one' });
  items.put('a', { id: 'm2', text: 'two' });
  assert.deepEqual([items.get('a', 'm1')?.text, items.get('b', 'm1')], ['one', undefined]);
  items.put('a', { id: 'm3', text: 'three' });
  assert.deepEqual(['m1', 'm2', 'm3'].map((id) => items.get('a', id)?.text), [undefined, 'two', 'three']);
  items.put('a', { id: 'big', text: 'x'.repeat(170) });
  assert.deepEqual(['m2', 'm3', 'big'].map((id) => items.get('a', id) !== undefined), [false, false, true], 'bytes bound the store too');
  items.put('a', { id: 'huge', text: 'x'.repeat(300) });
  assert.equal(items.get('a', 'huge'), undefined, 'an item over the whole bound is not kept');
  mock.timers.tick(50);
  assert.ok(items.get('a', 'big'), 'kept to the limit');
  mock.timers.tick(1);
  assert.equal(items.get('a', 'big'), undefined, 'too old');
  assert.deepEqual(itemReferences([{ type: 'item_reference', id: 'x' }, { role: 'user', content: 'hi' }, { type: 'item_reference' }]), ['x']);
});

test('one account filling its share evicts its own items only; sizes count bytes', () => {
  const items = new StoredItems(10, 10_000, 60_000, 3);
  items.put('quiet', { id: 'q1' });
  for (let i = 0; i < 5; i++) items.put('busy', { id: `b${i}` });
  assert.ok(items.get('quiet', 'q1'));
  assert.deepEqual(['b0', 'b1', 'b2', 'b3', 'b4'].map((id) => items.get('busy', id) !== undefined), [false, false, true, true, true]);
  const bytes = new StoredItems(10, 60, 60_000);
  bytes.put('a', { id: 'x', text: '語'.repeat(15) });
  assert.equal(bytes.get('a', 'x'), undefined, '15 CJK characters are 45 bytes: with the JSON around them, over 60');
});
