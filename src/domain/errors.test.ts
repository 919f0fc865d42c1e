import { test } from 'node:test';
import assert from 'node:assert/strict';
import { byteSize } from './byte-size.ts';
import { TollgateError, echoed, tollgateError } from './errors.ts';

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

test('a value is never cut between the two halves of an emoji: the message stays well-formed text', () => {
  // 255 units of ASCII and emoji, then an emoji whose first half is the 256th unit.
  const model = `m${'\u{1F600}'.repeat(3_000)}`;
  const message = tollgateError('managedUncataloged', { model, provider: 'openai' }).message;
  assert.ok(message.isWellFormed(), JSON.stringify(message.slice(0, 300)));
  assert.ok(message.includes(`Model "m${'\u{1F600}'.repeat(127)}…[${model.length - 255} more]"`), message.slice(0, 300));
  // Even cuts are as before.
  assert.equal(echoed(`${'\u{1F600}'.repeat(200)}`), `${'\u{1F600}'.repeat(128)}…[144 more]`);
});

test('a byte limit reads in the largest unit it is a whole number of, as ngrok writes "Max 32 MiB."', () => {
  assert.deepEqual([33_554_432, 1_048_576, 4096, 5000, 268_435_456].map(byteSize), ['32 MiB', '1 MiB', '4 KiB', '5000 bytes', '256 MiB']);
  assert.equal(tollgateError('requestBodyTooLong', { limit: byteSize(33_554_432) }).message, 'Request body is too long. Max 32 MiB.');
});
