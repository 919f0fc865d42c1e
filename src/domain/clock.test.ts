import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { nowIso } from './clock.ts';

test('nowIso is the current time in ISO form, and moves with the clock', (t) => {
  mock.timers.enable({ apis: ['Date'], now: Date.parse('2026-12-02T10:00:00.000Z') });
  t.after(() => mock.timers.reset());
  assert.equal(nowIso(), '2026-12-02T10:00:00.000Z');
  assert.equal(nowIso(), '2026-12-02T10:00:00.000Z');
  mock.timers.tick(1);
  assert.equal(nowIso(), '2026-12-02T10:00:00.001Z');
  mock.timers.tick(86_400_000);
  assert.equal(nowIso(), new Date(Date.parse('2026-12-03T10:00:00.001Z')).toISOString());
});
