import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exhaustedError } from './failure.ts';
import type { AttemptRecord } from './meter.ts';
import type { AttemptPlan } from '../domain/routing.ts';

const plan = { candidate: { provider: { id: 'openai' }, modelId: 'gpt-4o' }, keySource: 'user', providerKey: { id: 'aigpk_1' } } as unknown as AttemptPlan;
const record = (failure: AttemptRecord['failure']): AttemptRecord => ({ plan, eventId: 'e', statusCode: 0, timedOut: false, retryAction: 'exhausted', completion: 'unknown', durationMs: 1, startedAt: 0, served: false, failure });
const settings = { totalTimeoutMs: 120_000, perRequestTimeoutMs: 60_000 };

test('a request never written (a stored key HTTP cannot carry) is not reported as a provider out of reach, and says what to do', () => {
  const error = exhaustedError([record('unsendable')], false, settings);
  assert.equal(error.code, 'ERR_NGROK_3807');
  assert.match(error.message, /\[1\] openai:gpt-4o with key aigpk_1: not sent: a header value holds characters HTTP forbids \(rotate the provider key/);
  assert.equal(exhaustedError([record('connection')], false, settings).code, 'ERR_NGROK_3800');
});

test('answers refused only for the room other answers held are the gateway being busy (503, retried by SDKs); one too long itself is said as such', () => {
  const shared = (): AttemptRecord => ({ ...record('too-long'), statusCode: 200, heldLimit: 512 * 1024 * 1024, heldShared: 'gateway' });
  const own = (): AttemptRecord => ({ ...record('too-long'), statusCode: 200, heldLimit: 256 * 1024 * 1024 });
  const busy = exhaustedError([shared(), shared()], false, settings);
  assert.equal(busy.status, 503);
  assert.equal(busy.code, 'ERR_NGROK_AI_GATEWAY_REQUEST_CAPACITY_UNAVAILABLE');
  const tooLong = exhaustedError([own(), shared()], false, settings);
  assert.equal(tooLong.code, 'ERR_NGROK_AI_GATEWAY_UPSTREAM_RESPONSE_TOO_LONG');
  assert.match(tooLong.message, /Max 256 MiB\./);
  // Among other failures, the attempt says what happened to it.
  const listed = exhaustedError([shared(), record('connection'), record('server')], false, settings);
  assert.match(listed.message, /\[1\] openai:gpt-4o with key aigpk_1: HTTP 200, then an answer the gateway could not hold beside the others it held \(512 MiB of answers at once\)/);
});

test("an answer refused for its account's share of the room is the gateway being busy too, and says whose answers held it", () => {
  const ownShare = (): AttemptRecord => ({ ...record('too-long'), statusCode: 200, heldLimit: 268 * 1024 * 1024, heldShared: 'account' });
  assert.equal(exhaustedError([ownShare()], false, settings).code, 'ERR_NGROK_AI_GATEWAY_REQUEST_CAPACITY_UNAVAILABLE');
  const listed = exhaustedError([ownShare(), record('connection')], false, settings);
  assert.match(listed.message, /\[1\] openai:gpt-4o with key aigpk_1: HTTP 200, then an answer the gateway could not hold beside this account's others it held \(268 MiB of one account's answers at once\)/);
});
