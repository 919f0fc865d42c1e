import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGoDuration } from './duration.ts';

test('Go duration strings parse to milliseconds', () => {
  assert.equal(parseGoDuration('30s'), 30_000);
  assert.equal(parseGoDuration('2m'), 120_000);
  assert.equal(parseGoDuration('1h30m'), 5_400_000);
  assert.equal(parseGoDuration('250ms'), 250);
  assert.equal(parseGoDuration('1.5s'), 1500);
  assert.equal(parseGoDuration('0'), 0);
});

test('malformed durations are refused', () => {
  for (const bad of ['', '30', 's', '10 s', '-5s', '1d', 'abc', '5s ']) assert.equal(parseGoDuration(bad), undefined, bad);
});
