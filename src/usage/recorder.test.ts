import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UsageRecorder } from './recorder.ts';
import type { UsageEvent } from './event.ts';

const event = (id: string) => ({ id }) as unknown as UsageEvent;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('UsageRecorder', () => {
  it('batches on a timer and flush waits for the store', async () => {
    const written: string[][] = [];
    const r = new UsageRecorder({ write: async (b) => { await sleep(5); written.push(b.map((e) => e.id)); }, intervalMs: 30 });
    r.record(event('a'));
    r.record(event('b'));
    assert.equal(written.length, 0);
    await sleep(60);
    assert.deepEqual(written, [['a', 'b']]);
    r.record(event('c'));
    await r.flush();
    assert.deepEqual(written, [['a', 'b'], ['c']]);
    await r.close();
  });

  it('writes at once when the batch is full', async () => {
    const written: number[] = [];
    const r = new UsageRecorder({ write: async (b) => { written.push(b.length); }, intervalMs: 10_000, maxBatch: 3 });
    for (const id of ['a', 'b', 'c', 'd']) r.record(event(id));
    await sleep(5);
    assert.deepEqual(written, [3]);
    await r.close();
    assert.deepEqual(written, [3, 1]);
  });

  it('keeps a failed batch and retries it in order', async () => {
    const written: string[] = [];
    let failures = 2;
    const r = new UsageRecorder({
      write: async (b) => { if (failures-- > 0) throw new Error('db down'); written.push(...b.map((e) => e.id)); },
      intervalMs: 5, maxBackoffMs: 20,
    });
    r.record(event('a'));
    await sleep(8);
    r.record(event('b'));
    await r.flush();
    assert.deepEqual(written, ['a', 'b']);
    assert.equal(r.pending, 0);
    await r.close();
  });
});
