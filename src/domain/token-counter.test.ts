// Counts made on the tokenizer thread equal the estimator's own, a stopped thread never leaves a count unanswered,
// and a pathological text is answered by its deadline (by length) instead of holding up every count behind it.
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { countInputTokens, countTextTokens, setTokenCountDeadline, stopTokenCounter, tokenCountsIdle } from './token-counter.ts';
import { estimateRequestInputTokens, estimateTokens } from './tokens.ts';
import { lengthEstimate } from './token-bounds.ts';

const body = { model: 'gpt-4o', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Wie spät ist es in 東京? 🎉' }] };

// That the event loop keeps turning meanwhile is structural, not timed here: the tokenizer is never loaded on it
// (the last test below), only on the counting thread.
test('counts on the thread equal the synchronous estimator', async () => {
  const [input, text] = await Promise.all([
    countInputTokens(Buffer.from(JSON.stringify(body)), 'chat-completions'),
    countTextTokens('The time in Tokyo is 9 pm.'),
  ]);
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

test('a text the tokenizer would take seconds over is answered by length at the deadline; the next count is exact again', async () => {
  // A deadline no thread can meet (it starts and loads the ranks first), so the test never races a clock.
  setTokenCountDeadline(1);
  try {
    // One 150,000-letter "word": BPE over a single piece this long takes the tokenizer many seconds.
    const pathological = 'a'.repeat(150_000);
    const queued = 'queued behind it';
    const [slow, behind] = await Promise.all([countTextTokens(pathological), countTextTokens(queued)]);
    assert.equal(slow, lengthEstimate(150_000));
    assert.equal(behind, lengthEstimate(Buffer.byteLength(queued)), 'a count queued behind it is answered too');
    await tokenCountsIdle();
    setTokenCountDeadline(120_000);
    assert.equal(await countTextTokens('after the restart'), estimateTokens('after the restart'));
  } finally {
    setTokenCountDeadline(5000);
    await stopTokenCounter();
  }
});

test('the gateway process never loads the tokenizer on its event loop (only the counting thread does)', () => {
  const root = new URL('../../', import.meta.url);
  const script = `
    import { registerHooks } from 'node:module';
    const loaded = [];
    registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); loaded.push(r.url); return r; } });
    for (const m of ['src/server.ts', 'src/gateway/server.ts', 'src/gateway/pipeline.ts', 'src/gateway/meter.ts', 'src/domain/token-counter.ts']) await import(new URL(m, ${JSON.stringify(root.href)}).href);
    console.log(JSON.stringify(loaded.filter((u) => u.includes('gpt-tokenizer') || u.endsWith('/domain/tokens.ts'))));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out.trim().split('\n').pop()!), []);
});
