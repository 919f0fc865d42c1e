import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wrongTypeReason, writeProblem } from './client-types.ts';

test('a member of the wrong type is named by its path as the client wrote it, the deepest problem first', () => {
  const text = { model: 'gpt-4o', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'text', text: true }] }] };
  assert.equal(wrongTypeReason('messages', text), '"messages[0].content[0].text" must be a string');
  // A string where a list goes: said as what the member may be.
  assert.equal(wrongTypeReason('messages', { messages: [{ role: 'user', content: 5 }] }), '"messages[0].content" must be a string or a list of content blocks');
  assert.equal(wrongTypeReason('chat-completions', { messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: {} }] }), '"tools[0].function.name" is required');
  assert.equal(wrongTypeReason('responses', { input: [{ type: 'function_call', call_id: 5, name: 'f' }] }), '"input[0].call_id" must be a string');
  assert.equal(wrongTypeReason('converse', { messages: [{ role: 'assistant', content: [{ toolUse: null }] }] }), '"messages[0].content[0]" holds nothing: a content block gives one of "text", "image", "document", "toolUse" or "toolResult"');
});

test('null is "not given"; ranges and reasoning settings are not this check\'s', () => {
  assert.equal(wrongTypeReason('chat-completions', { messages: [{ role: 'user', content: 'hi' }], temperature: null, stop: null, max_tokens: -1 }), undefined);
  assert.equal(wrongTypeReason('chat-completions', { messages: [{ role: 'user', content: 'hi' }], reasoning_effort: 7 }), undefined);
  assert.equal(wrongTypeReason('generate-content', { contents: [{ parts: [{ text: 'hi' }] }], generationConfig: { thinkingConfig: { thinkingBudget: 1.5 } } }), undefined);
});

test('Gemini members under either of Google\'s names, a lone value read as a list of one', () => {
  assert.equal(wrongTypeReason('generate-content', { contents: { parts: { text: 'hi' } }, generation_config: { top_p: 'high' } }), '"generation_config.top_p" must be a number');
  assert.equal(wrongTypeReason('generate-content', { contents: { parts: { text: 5 } } }), '"contents[0].parts[0].text" must be a string');
  assert.equal(wrongTypeReason('count-tokens', { generateContentRequest: { contents: [{ parts: [{ function_call: { args: {} } }] }] } }), '"contents[0].parts[0].function_call.name" is required');
});

test('a body no translation can write: nested past 1,000 levels, or a number JSON.parse read as Infinity (named)', () => {
  assert.match(writeProblem(JSON.parse(`{"a":${'['.repeat(1001)}${']'.repeat(1001)}}`) as Record<string, unknown>) ?? '', /nested too deeply/);
  assert.equal(writeProblem(JSON.parse(`{"a":${'['.repeat(900)}${']'.repeat(900)}}`) as Record<string, unknown>), undefined);
  assert.match(writeProblem(JSON.parse('{"inferenceConfig":{"topP":-1e400},"x":[1,2]}') as Record<string, unknown>) ?? '', /^"inferenceConfig\.topP" is out of range/);
  assert.match(writeProblem(JSON.parse('{"stop":[1,1e999]}') as Record<string, unknown>) ?? '', /^"stop\[1\]" is out of range/);
  assert.equal(writeProblem({ seed: 18446744073709551616, temperature: -0 }), undefined);
});
