/// <reference types="node" />
// Money in the console: the API states costs in USD with five decimal places; the console shows them as stated,
// and sums (a request's attempts, a chart's total) come out as the sum of what is shown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { usd } from './api.ts';
import { groupRequests } from './logs-model.ts';
import type { UsageEvent } from './api.ts';

test('a cost is shown as the API states it: never rounded to a cent it is not, nor by binary floating point', () => {
  // 1.005 and 0.015 have no exact binary form: toFixed(2) gave $1.00 and $0.01.
  assert.equal(usd('1.00500'), '$1.005');
  assert.equal(usd('0.01500'), '$0.015');
  // A total of $12.34567 is not $12.35: it is what the day's requests add up to.
  assert.equal(usd('12.34567'), '$12.34567');
  // Whole cents keep two places; nothing is shown past the API's fifth.
  assert.equal(usd('0.30000'), '$0.30');
  assert.equal(usd('7.00000'), '$7.00');
  assert.equal(usd('0.00010'), '$0.0001');
  assert.equal(usd('0.00000'), '$0.00');
  assert.equal(usd('-0.25000'), '-$0.25');
  // A sum made in binary floating point (0.1 + 0.2) shows no artifact of it.
  assert.equal(usd(0.1 + 0.2), '$0.30');
});

test('a request\'s cost is the exact sum of its attempts\' costs, as the attempts show them', () => {
  const attempt = (n: number, totalCost: string) => ({
    id: `e${n}`, requestId: 'r', attemptNumber: n, isFinalAttempt: n === 2, eventTime: `2026-12-04T10:00:0${n}Z`, totalCost,
  }) as unknown as UsageEvent;
  const [row] = groupRequests([attempt(1, '0.01000'), attempt(2, '0.00500')]);
  assert.equal(usd(row!.cost), '$0.015');
  assert.equal(usd(groupRequests([attempt(1, '0.10000'), attempt(2, '0.20000')])[0]!.cost), '$0.30');
});
