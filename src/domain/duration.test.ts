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

test('everything Go\'s time.ParseDuration accepts is accepted, and a positive duration never rounds to 0 ms', () => {
  const cases: [string, number][] = [
    ['.5s', 500], ['5.s', 5000], ['+5s', 5000], ['-5s', -5000], ['-0', 0], ['+0', 0], ['1m30.5s', 90_500],
    ['1500\u00b5s', 2], ['1500\u03bcs', 2], ['1500us', 2], ['300us', 1], ['1ns', 1], ['2000000ns', 2],
    ['2562047h', 2_562_047 * 3_600_000], ['1h0m0s', 3_600_000],
  ];
  for (const [text, ms] of cases) assert.equal(parseGoDuration(text), ms, text);
});

test('what Go refuses is refused', () => {
  for (const bad of ['', '30', 's', '10 s', '1d', 'abc', '5s ', '.s', '.', '-', '+', '1.2.3s', '5 ', ' 5s', '3000000h', '9223372036855ms'])
    assert.equal(parseGoDuration(bad), undefined, bad);
});

test('a megabyte of digits is read as Go reads it, without a megabyte-long number: leading zeros count for nothing, more than 19 digits overflow, a fraction past 19 digits adds no nanosecond', () => {
  const mega = 1_000_000;
  assert.equal(parseGoDuration(`${'0'.repeat(mega)}1s`), 1000);
  assert.equal(parseGoDuration(`${'1'.repeat(mega)}s`), undefined);
  assert.equal(parseGoDuration(`${'1'.repeat(20)}ns`), undefined);
  assert.equal(parseGoDuration(`${'9'.repeat(18)}ns`), 1_000_000_000_000, 'just under 10^18 ns, rounded up to whole ms');
  assert.equal(parseGoDuration(`1.${'9'.repeat(mega)}s`), 2000);
  assert.equal(parseGoDuration(`0.${'0'.repeat(mega)}1h`), 0);
  assert.equal(parseGoDuration(`.${'0'.repeat(12)}36h`), 1, '0.00000000000036 h is 1.296 ns: a positive duration, 1 ms');
});
