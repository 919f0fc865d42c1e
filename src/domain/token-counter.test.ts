// Counts made on the tokenizer thread equal the estimator's own, the event loop keeps turning while the
// encoder is built, and a stopped thread never leaves a count unanswered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countInputTokens, countTextTokens, stopTokenCounter, tokenCountsIdle } from './token-counter.ts';
import { estimateRequestInputTokens, estimateTokens } from './tokens.ts';

const body = { model: 'gpt-4o', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Wie spät ist es in 東京? 🎉' }] };

test('counts on the thread equal the synchronous estimator, and the loop is never blocked meanwhile', async () => {
  let ticks = 0;
  let longestGapMs = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    longestGapMs = Math.max(longestGapMs, now - last);
    last = now;
    ticks++;
  }, 5);
  const [input, text] = await Promise.all([
    countInputTokens(Buffer.from(JSON.stringify(body)), 'chat-completions', body),
    countTextTokens('The time in Tokyo is 9 pm.'),
  ]);
  clearInterval(timer);
  // Building the encoder takes the thread 0.7–2 s: the main loop ticked all along (no gap near that long).
  assert.ok(ticks > 10, `${ticks} ticks while counting`);
  assert.ok(longestGapMs < 500, `the loop stalled for ${longestGapMs.toFixed(0)} ms`);
  assert.equal(input, estimateRequestInputTokens(body, 'chat-completions'));
  assert.equal(text, estimateTokens('The time in Tokyo is 9 pm.'));
  assert.equal(await countTextTokens(''), 0);
  await tokenCountsIdle();
});

test('a count submitted when the thread is stopped is still answered', async () => {
  const counting = countTextTokens('hello there, general');
  await stopTokenCounter();
  assert.equal(await counting, estimateTokens('hello there, general'));
  // A later count starts a new thread.
  assert.equal(await countTextTokens('again'), estimateTokens('again'));
  await stopTokenCounter();
});
