import { test } from 'node:test';
import assert from 'node:assert/strict';
import { realtimeUsage } from './realtime/index.ts';
import { MAX_REPORTED_TOKENS } from './formats/types.ts';

test('a realtime response.done reporting counts past a billion is held to the bound every HTTP answer\'s counts are (no token column past 64 bits)', () => {
  // 2^64 input tokens did not fit PostgreSQL's bigint: the event was refused by the store and set aside, its cost
  // out of every balance until an operator imported it. Priced, the counts were capped already (cost.ts).
  const usage = realtimeUsage({
    input_tokens: 2 ** 64, output_tokens: 1e300,
    input_token_details: { cached_tokens: 2 ** 63, audio_tokens: 2 ** 53 }, output_token_details: { audio_tokens: 2 ** 31 },
  }, undefined);
  assert.deepEqual([usage.inputTokens, usage.outputTokens, usage.cacheReadTokens], [MAX_REPORTED_TOKENS, MAX_REPORTED_TOKENS, MAX_REPORTED_TOKENS]);
  for (const part of usage.iterations!) {
    for (const n of [part.inputTokens, part.outputTokens, part.cacheReadTokens]) assert.ok(Number.isSafeInteger(n) && n <= MAX_REPORTED_TOKENS, `${n} within the bound`);
  }
  // Ordinary counts are as reported.
  const plain = realtimeUsage({ input_tokens: 1200, output_tokens: 300, input_token_details: { cached_tokens: 200, audio_tokens: 1000 }, output_token_details: { audio_tokens: 250 } }, undefined);
  assert.deepEqual([plain.inputTokens, plain.outputTokens, plain.cacheReadTokens], [1200, 300, 200]);
});
