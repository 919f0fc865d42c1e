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
