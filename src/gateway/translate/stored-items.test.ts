import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoredItems, itemReferences } from './stored-items.ts';

test('kept per account, the oldest evicted past the count or byte bound, the stale ones not served', async () => {
  const items = new StoredItems(2, 200, 50);
  items.put('a', { id: 'm1', text: 'one' });
  items.put('a', { id: 'm2', text: 'two' });
  assert.deepEqual([items.get('a', 'm1')?.text, items.get('b', 'm1')], ['one', undefined]);
  items.put('a', { id: 'm3', text: 'three' });
  assert.deepEqual(['m1', 'm2', 'm3'].map((id) => items.get('a', id)?.text), [undefined, 'two', 'three']);
  items.put('a', { id: 'big', text: 'x'.repeat(170) });
  assert.deepEqual(['m2', 'm3', 'big'].map((id) => items.get('a', id) !== undefined), [false, false, true], 'bytes bound the store too');
  items.put('a', { id: 'huge', text: 'x'.repeat(300) });
  assert.equal(items.get('a', 'huge'), undefined, 'an item over the whole bound is not kept');
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(items.get('a', 'big'), undefined, 'too old');
  assert.deepEqual(itemReferences([{ type: 'item_reference', id: 'x' }, { role: 'user', content: 'hi' }, { type: 'item_reference' }]), ['x']);
});
