import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TollgateError, tollgateError } from './errors.ts';

test('a TollgateError carries its code, status and filled message, and leaves other errors their stacks', () => {
  const error = tollgateError('unsupportedPath', { method: 'GET', path: '/v2/nothing' });
  assert.ok(error instanceof TollgateError && error instanceof Error);
  assert.equal(error.status, 404);
  assert.match(error.code, /^ERR_NGROK_\d+$/);
  assert.match(error.message, /GET/);
  assert.match(error.message, /\/v2\/nothing/);
  // The stack is skipped for gateway errors only: the process-wide limit is back afterwards.
  const other = new Error('a bug');
  assert.match(other.stack ?? '', /\n\s+at /);
});

test('a value the client chose is repeated in a message at most 256 characters long, with how much more there was', () => {
  const model = `long-${'x'.repeat(5_000)}`;
  const error = tollgateError('managedUncataloged', { model, provider: 'openai' });
  assert.ok(error.message.includes(`Model "${model.slice(0, 256)}…[${model.length - 256} more]" is not available`), error.message.slice(0, 300));
  assert.ok(error.message.length < 500);
  // The gateway's own text (a provider's error list) is never cut.
  const errors = 'e'.repeat(1_000);
  assert.ok(tollgateError('allProvidersFailed', { errors }).message.includes(errors));
});
