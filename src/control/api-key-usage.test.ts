import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { openStore } from '../store/database.ts';
import { createAccount } from '../store/accounts.ts';
import { ApiKeyUsage } from './api-key-usage.ts';

test('a flush from another api process holding an older use never moves lastUsed back', async (t) => {
  const store = await openStore('sqlite::memory:');
  t.after(() => store.close());
  const { apiKey } = await createAccount(store.db, 'a');
  const logger = pino({ level: 'silent' });
  // Two api processes behind one load balancer: each saw a call of the key, the second one later.
  const first = new ApiKeyUsage(store.db, logger, 3_600_000);
  const second = new ApiKeyUsage(store.db, logger, 3_600_000);
  t.mock.timers.enable({ apis: ['Date'], now: Date.parse('2026-12-01T10:00:00.000Z') });
  first.mark(apiKey.id);
  t.mock.timers.setTime(Date.parse('2026-12-01T10:00:10.000Z'));
  second.mark(apiKey.id);
  t.mock.timers.reset();
  // The later use is written first (its process flushed first), the earlier one after it.
  await second.close();
  await first.close();
  const row = await store.db.selectFrom('apiKeys').select('lastUsed').where('id', '=', apiKey.id).executeTakeFirstOrThrow();
  assert.equal(row.lastUsed, '2026-12-01T10:00:10.000Z');
});
