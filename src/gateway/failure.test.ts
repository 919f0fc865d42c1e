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
