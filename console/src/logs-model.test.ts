/// <reference types="node" />
// The console's Logs model: events (one per attempt, newest first, paged) grouped into requests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REQUEST_ON_ITS_WAY_MS, requestMayBeLogged, requestStartedAt, CAPTURE_ON_ITS_WAY_MS, captureMayArrive, capturedSize, groupRequests, mergeEvents, partialRequests, shownTokens } from './logs-model.ts';
import type { UsageEvent } from './api.ts';
import { newId } from '../../src/domain/ids.ts';

function event(id: string, requestId: string, attemptNumber: number, isFinalAttempt: boolean, eventTime: string): UsageEvent {
  return { id, requestId, attemptNumber, isFinalAttempt, eventTime, totalCost: '0.00001' } as unknown as UsageEvent;
}

test('a failover cut by the page boundary is found, completed from its own resource, and its attempts are counted once', () => {
  // Page 1 (newest first): request b whole, then request a's final attempt; a's first attempt is on page 2.
  const page1 = [event('e4', 'b', 1, true, '2026-12-04T10:00:04Z'), event('e3', 'a', 2, true, '2026-12-04T10:00:03Z')];
  assert.deepEqual(partialRequests(page1), ['a']);
  const fromResource = [event('e2', 'a', 1, false, '2026-12-04T10:00:02Z'), event('e3', 'a', 2, true, '2026-12-04T10:00:03Z')];
  const completed = mergeEvents(page1, fromResource);
  assert.deepEqual(groupRequests(completed).map((r) => [r.requestId, r.attempts.length]), [['b', 1], ['a', 2]]);
  assert.deepEqual(partialRequests(completed), []);
  // Page 2 then brings a's first attempt again, and request c: nothing is counted twice.
  const page2 = [event('e2', 'a', 1, false, '2026-12-04T10:00:02Z'), event('e1', 'c', 1, true, '2026-12-04T10:00:01Z')];
  assert.deepEqual(groupRequests(mergeEvents(completed, page2)).map((r) => [r.requestId, r.attempts.length]), [['b', 1], ['a', 2], ['c', 1]]);
});

test('tokens shown: the provider\'s counts, else the estimates the cost was priced on (marked), never both added', () => {
  const counts = (fields: Record<string, unknown>) => shownTokens({ inputTokens: 0, outputTokens: 0, inputTokensEstimate: 0, outputTokensEstimate: 0, usageEstimated: false, ...fields } as unknown as UsageEvent);
  assert.deepEqual(counts({ inputTokens: 17, outputTokens: 9 }), { input: 17, output: 9, estimated: false });
  // A stream cut before any usage: the estimates.
  assert.deepEqual(counts({ usageEstimated: true, inputTokensEstimate: 6, outputTokensEstimate: 9 }), { input: 6, output: 9, estimated: true });
  // Cut after Claude's message_start: its input count stands, the output is already the larger of both.
  assert.deepEqual(counts({ usageEstimated: true, inputTokens: 650, outputTokens: 80, inputTokensEstimate: 146, outputTokensEstimate: 80 }), { input: 650, output: 80, estimated: true });
});

test('a cut capture says how many bytes it kept, whether shown as base64 or as UTF-8 text', () => {
  const binary = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 256));
  assert.equal(capturedSize({ body: binary.toString('base64'), bodyEncoding: 'base64', bodyBytes: 100_000, bodyTruncated: true }), 'First 4,096 of 100,000 bytes');
  assert.equal(capturedSize({ body: binary.subarray(0, 4095).toString('base64'), bodyEncoding: 'base64', bodyBytes: 100_000, bodyTruncated: true }), 'First 4,095 of 100,000 bytes');
  assert.equal(capturedSize({ body: 'é'.repeat(2048), bodyEncoding: 'utf8', bodyBytes: 9_000, bodyTruncated: true }), 'First 4,096 of 9,000 bytes');
  assert.equal(capturedSize({ body: '{}', bodyEncoding: 'utf8', bodyBytes: 2, bodyTruncated: false }), '2 bytes');
});

test('a capture not found is looked for again only while it may still be written: the account captures and the request just ended', () => {
  const ended = '2026-12-07T18:00:00.000Z';
  const at = (ms: number) => Date.parse(ended) + ms;
  // Its usage is listed ~100 ms after the end, its capture written about a second later.
  assert.equal(captureMayArrive(ended, at(300), true), true);
  assert.equal(captureMayArrive(ended, at(CAPTURE_ON_ITS_WAY_MS - 1), true), true);
  assert.equal(captureMayArrive(ended, at(CAPTURE_ON_ITS_WAY_MS), true), false, 'long enough ago: not captured');
  assert.equal(captureMayArrive(ended, at(300), false), false, 'an account that does not capture: nothing is on its way');
  // The browser's clock behind the server's: still just ended (the number of asks bounds it).
  assert.equal(captureMayArrive(ended, at(-5_000), true), true);
  assert.equal(captureMayArrive('not a time', at(300), true), false);
});

test('a linked request not found is looked for again only while it just began: its id says when', () => {
  // rq_ + a ULID: 01M98V78ZT is 2026-12-07T17:17:59.386Z in milliseconds (Crockford base32).
  const id = 'rq_01M98V78ZTE7W8D2GB8TV3W4HS';
  const started = requestStartedAt(id)!;
  assert.equal(new Date(started).toISOString().slice(0, 10), '2026-12-07');
  assert.equal(requestMayBeLogged(id, started + 500), true);
  assert.equal(requestMayBeLogged(id, started + REQUEST_ON_ITS_WAY_MS - 1), true);
  assert.equal(requestMayBeLogged(id, started + REQUEST_ON_ITS_WAY_MS), false, 'long begun and not logged: not on its way');
  // As the gateway makes them.
  const at = Date.parse('2026-12-07T18:00:00.123Z');
  assert.equal(requestStartedAt(newId('request', at)), at);
  for (const other of ['rq_short', 'aigk_01M98V78ZTE7W8D2GB8TV3W4HS', 'rq_01M98V78ZTE7W8D2GB8TV3W4Hs', 'rq_81M98V78ZTE7W8D2GB8TV3W4HS']) {
    assert.equal(requestStartedAt(other), undefined, other);
    assert.equal(requestMayBeLogged(other, started), false, other);
  }
});
