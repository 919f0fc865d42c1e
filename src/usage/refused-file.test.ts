import { test } from 'node:test';
import assert from 'node:assert/strict';
import { orphanEvent } from './journal-file.ts';
import { refusedEventFrom, refusedLine } from './refused-file.ts';
import type { UsageEvent } from './event.ts';

const event: UsageEvent = {
  ...orphanEvent({
    id: 'ue_1', accountId: 'acct_1', requestId: 'rq_1', accessKeyId: 'aigk_1', provider: 'openai', providerDisplayName: 'OpenAI',
    model: 'gpt-4o', modelDisplayName: 'GPT-4o', attemptNumber: 1, isStreaming: true, inputTokensEstimate: 0, keySource: 'user',
    providerKeyId: 'pk_1', providerKeyDisplayName: 'sk-…abcd', retryAction: 'succeeded', eventTime: '2026-12-03T21:00:00.123Z',
    virtualModel: 'chat-default', firewall: [{ action: 'flagged', rule: 'No "rm -rf"', tier: 'hardDeny', policyId: 'aigfwp_1', phase: 'request' }],
  }, true),
  statusCode: 200, isError: false, completion: 'succeeded', retryAction: 'succeeded', stopReason: 'stop',
  inputTokens: 12, outputTokens: 7, costPico: 9_223_372_036_854_775_807n, inputCostPico: 5n, feePico: 2n, upstreamDurationMs: 41.5,
};

test('a set-aside line reads back as the event it was, every field and the costs exact to 2^63 - 1', () => {
  assert.deepEqual(refusedEventFrom(refusedLine(event), 1), event);
  assert.deepEqual(refusedEventFrom(JSON.stringify({ ...JSON.parse(refusedLine(event)), note: 'fixed by hand' }), 1), event, 'extra keys are ignored');
});

test('a line written before Firewall verdicts were recorded reads as none; a verdict edited wrongly is refused', () => {
  const { firewall: _dropped, ...older } = JSON.parse(refusedLine(event)) as Record<string, unknown>;
  assert.deepEqual(refusedEventFrom(JSON.stringify(older), 1), { ...event, firewall: null });
  const wrong = JSON.stringify({ ...JSON.parse(refusedLine(event)), firewall: [{ action: 'denied', rule: 'r', tier: 'hardDeny', policyId: 'p', phase: 'request' }] });
  assert.throws(() => refusedEventFrom(wrong, 4), /line 4: \/firewall\/0\/action must be equal to one of the allowed values/);
});

test('a line edited wrongly is refused with its line number and the field, before anything is stored', () => {
  const line = (change: Record<string, unknown>) => JSON.stringify({ ...JSON.parse(refusedLine(event)), ...change });
  const { isFinalAttempt: _dropped, ...missing } = JSON.parse(refusedLine(event)) as Record<string, unknown>;
  const cases: [string, RegExp][] = [
    [JSON.stringify(missing), /line 3: the event must have required property 'isFinalAttempt'/],
    [line({ isFinalAttempt: 'false' }), /line 3: \/isFinalAttempt must be boolean/],
    [line({ statusCode: 'abc' }), /line 3: \/statusCode must be integer/],
    [line({ inputTokens: 1.5 }), /line 3: \/inputTokens must be integer/],
    [line({ stopReason: true }), /line 3: \/stopReason must be string/],
    [line({ costPico: '-1' }), /line 3: \/costPico must match pattern/],
    [line({ costPico: 10 }), /line 3: \/costPico must be string/],
    [line({ feePico: '9223372036854775808' }), /line 3: \/feePico is past what the store holds/],
    [line({ completion: 'done' }), /line 3: \/completion must be equal to one of the allowed values/],
    [line({ eventTime: 'yesterday' }), /line 3: \/eventTime must match pattern/],
    ['{"id":', /line 3: not JSON/],
  ];
  for (const [text, error] of cases) assert.throws(() => refusedEventFrom(text, 3), error, text);
});

test('an edited event time is read in the one form stored times take, so usage windows (compared as text) still find it', async () => {
  const { openStore } = await import('../store/database.ts');
  const { insertUsageEvents, listUsageEvents } = await import('../store/usage-events.ts');
  const line = (eventTime: string) => JSON.stringify({ ...JSON.parse(refusedLine(event)), id: `ue_${eventTime.length}`, eventTime });
  // Valid by the import's checks, but not as toISOString writes them: no fraction, and six digits of one.
  const whole = refusedEventFrom(line('2026-12-03T21:00:00Z'), 1);
  const micro = refusedEventFrom(line('2026-12-03T21:00:00.123456Z'), 2);
  assert.equal(whole.eventTime, '2026-12-03T21:00:00.000Z');
  assert.equal(micro.eventTime, '2026-12-03T21:00:00.123Z');
  const store = await openStore('sqlite::memory:');
  try {
    await insertUsageEvents(store.db, [whole, micro]);
    const page = await listUsageEvents(store.db, { accountId: 'acct_1', start: '2026-12-03T21:00:00.000Z', end: '2026-12-03T21:00:00.123Z', includeRetries: true, limit: 10 });
    assert.deepEqual(page.items.map((r) => r.eventTime), ['2026-12-03T21:00:00.123Z', '2026-12-03T21:00:00.000Z'], 'both inside the inclusive window');
  } finally {
    await store.close();
  }
  assert.throws(() => refusedEventFrom(line('2026-02-30T21:00:00Z'), 4), /line 4: \/eventTime is not a time/);
});
