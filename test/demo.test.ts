import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDemo } from '../src/cli/demo.ts';

test('the demo runs end to end without a provider account and prints answers and usage', async () => {
  const lines: string[] = [];
  await runDemo((line) => lines.push(line));
  const out = lines.join('\n');
  assert.match(out, /chat answer \(gpt-4o-mini/);
  assert.match(out, /streamed answer \(\d+ chunks\)/);
  assert.match(out, /openai:gpt-4o-mini\s+json\s+in=17 out=9/);
  assert.match(out, /openai:gpt-4o\s+stream\s+in=17 out=9/);
  assert.match(out, /stopped; temporary data removed\./);
});
