import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { CaptureWriter } from './capture-writer.ts';
import { SecretBox } from '../domain/secret-box.ts';
import { openCapture, type RequestCapture } from '../domain/request-capture.ts';
import type { RequestCaptureRow } from '../store/request-captures.ts';

const box = new SecretBox(randomBytes(32));

function capture(requestId: string, text = requestId): RequestCapture {
  const body = { headers: {}, body: text, bodyEncoding: 'utf8' as const, bodyBytes: requestId.length, bodyTruncated: false };
  return { accountId: 'acct', requestId, capturedAt: '2026-01-01T00:00:00.000Z', request: { method: 'POST', path: '/v1/chat/completions', ...body }, response: { statusCode: 200, complete: true, ...body } };
}

/** A writer whose timers never fire in the test (flushes are called by hand), over a store that fails while `down`. */
function writer(maxQueued: number, maxQueuedBytes?: number): { w: CaptureWriter; stored: RequestCaptureRow[]; store: { down: boolean }; said: string[] } {
  const stored: RequestCaptureRow[] = [];
  const store = { down: false };
  const said: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => { const { level, msg } = JSON.parse(line) as { level: number; msg: string }; said.push(`${pino.levels.labels[level]}: ${msg}`); } });
  const w = new CaptureWriter({
    box, maxBytes: 1024, retentionMs: 3_600_000, logger, maxQueued, ...(maxQueuedBytes === undefined ? {} : { maxQueuedBytes }), flushEveryMs: 3_600_000, expireEveryMs: 3_600_000,
    write: async (rows) => { if (store.down) throw new Error('connection refused'); stored.push(...rows); },
    deleteExpired: async () => 0,
  });
  return { w, stored, store, said };
}

test('captures are sealed for their account and request, expire after the retention, and are written in one batch', async () => {
  const { w, stored } = writer(10);
  w.keep(capture('rq_1'));
  w.keep(capture('rq_2'));
  assert.equal(stored.length, 0, 'nothing is written on the request path');
  await w.flush();
  assert.deepEqual(stored.map((r) => [r.requestId, r.expiresAt]), [['rq_1', '2026-01-01T01:00:00.000Z'], ['rq_2', '2026-01-01T01:00:00.000Z']]);
  assert.equal(openCapture(box, 'acct', 'rq_2', stored[1]!.sealed).request.body, 'rq_2');
  await w.close();
});

test('with the store down, captures wait in a bounded queue: past it the oldest are dropped, counted and said once; the rest are written when it is back', async () => {
  const { w, stored, store, said } = writer(3);
  store.down = true;
  for (const id of ['rq_1', 'rq_2']) w.keep(capture(id));
  await w.flush();
  for (const id of ['rq_3', 'rq_4', 'rq_5']) w.keep(capture(id));
  await w.flush();
  assert.deepEqual([w.queued, w.dropped], [3, 2]);
  store.down = false;
  await w.flush();
  assert.deepEqual(stored.map((r) => r.requestId), ['rq_3', 'rq_4', 'rq_5']);
  assert.deepEqual(said, [
    'warn: request captures could not be written; they are held in memory and retried, the oldest dropped past the limit',
    'warn: request captures dropped: the store has not taken them and the queue is full (captures are debugging data, not usage)',
    'info: request captures are written again',
  ]);
  await w.close();
});

test('the queue is bounded in bytes too: large captures held through an outage never hold more than the bound', async () => {
  const bound = 1024 * 1024;
  const { w, stored, store } = writer(1_000, bound);
  store.down = true;
  // Each capture holds two bodies of 64 KiB: 100 of them are over 12 MiB sealed, well under the count bound.
  const big = 'x'.repeat(64 * 1024);
  let peak = 0;
  for (let i = 1; i <= 100; i++) {
    w.keep(capture(`rq_${i}`, big));
    if (i % 10 === 0) await w.flush();
    peak = Math.max(peak, w.queuedBytes);
  }
  store.down = false;
  await w.flush();
  const held = stored.reduce((n, r) => n + r.sealed.length, 0);
  assert.ok(held <= bound, `what was held through the outage is at most ${bound} sealed bytes, not ${held}`);
  assert.equal(stored.at(-1)!.requestId, 'rq_100', 'the newest are kept');
  assert.ok(w.dropped > 80, `the oldest were dropped (${w.dropped})`);
  assert.ok(peak <= bound, `at most ${bound} sealed bytes queued at any time, not ${peak}`);
  assert.equal(w.queuedBytes, 0);
  await w.close();
});

test('closing writes what is queued', async () => {
  const { w, stored } = writer(10);
  w.keep(capture('rq_last'));
  await w.close();
  assert.deepEqual(stored.map((r) => r.requestId), ['rq_last']);
});
