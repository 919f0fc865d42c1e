import { test } from 'node:test';
import assert from 'node:assert/strict';
import { estimateRawRequestInputTokens, estimateRequestInputTokens, estimateTokens } from './tokens.ts';
import { inputTokensUpperBound } from './token-bounds.ts';

test('estimateTokens uses o200k_base', () => {
  assert.equal(estimateTokens(''), 0);
  assert.equal(estimateTokens('Hello, world!'), 4);
  const long = 'word '.repeat(1000);
  assert.ok(Math.abs(estimateTokens(long) - 1000) <= 2);
});

test('chat and messages count system and every message', () => {
  const chat = estimateRequestInputTokens({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: [{ type: 'text', text: 'Hello, world!' }] }] }, 'chat-completions');
  assert.equal(chat, 4 + estimateTokens('Be brief.') + 4 + 4);
  const messages = estimateRequestInputTokens({ system: [{ type: 'text', text: 'Be brief.' }], messages: [{ role: 'user', content: 'Hello, world!' }] }, 'messages');
  assert.equal(messages, estimateTokens('Be brief.') + 4 + 4);
});

test('responses, completions and embeddings', () => {
  assert.equal(estimateRequestInputTokens({ input: 'Hello, world!', instructions: 'Be brief.' }, 'responses'), 4 + estimateTokens('Be brief.'));
  assert.equal(estimateRequestInputTokens({ input: [{ role: 'user', content: [{ type: 'input_text', text: 'Hello, world!' }] }] }, 'responses'), 8);
  assert.equal(estimateRequestInputTokens({ prompt: ['Hello, world!', 'Hello, world!'] }, 'completions'), 8);
  assert.equal(estimateRequestInputTokens({ input: [[1, 2, 3]] }, 'embeddings'), 3);
  assert.equal(estimateRequestInputTokens({}, 'chat-completions'), 0);
});

test('a big input grows the estimate roughly linearly', () => {
  const text = 'lorem ipsum dolor sit amet '.repeat(20_000);
  const n = estimateRequestInputTokens({ messages: [{ role: 'user', content: text }] }, 'chat-completions');
  assert.ok(n > 100_000, String(n));
});

test('the byte bound admission relies on is never below the estimate', () => {
  const cases: [Record<string, unknown>, Parameters<typeof estimateRequestInputTokens>[1]][] = [
    [{ messages: [{ role: 'user', content: '' }, { role: 'assistant', content: '' }, { role: 'user', content: 'x' }] }, 'chat-completions'],
    [{ messages: ['a', 'b', 'c'] }, 'chat-completions'],
    [{ messages: [{ role: 'user', content: '日本語のテキスト、絵文字 🎉🎉🎉 и кириллица' }] }, 'chat-completions'],
    [{ system: 'be brief', messages: [{ role: 'user', content: [{ type: 'text', text: 'a b c d e f g' }] }], tools: [{ name: 't', input_schema: {} }] }, 'messages'],
    [{ instructions: 'x', input: [{ role: 'user', content: 'hi' }, { type: 'function_call_output', output: '{"a":1}' }] }, 'responses'],
    [{ input: [[1, 2, 3, 4, 5, 6, 7, 8, 9]] }, 'embeddings'],
    [{ prompt: ['one', 'two', 'three'] }, 'completions'],
    // Degenerate bodies whose framing and re-serialised JSON outgrow their bytes: the count is clamped.
    [{ messages: Array.from({ length: 1000 }, () => ({})) }, 'chat-completions'],
    [{ messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f', parameters: { maximum: 1e300 } } }] }, 'chat-completions'],
  ];
  for (const [body, surface] of cases) {
    const raw = Buffer.from(JSON.stringify(body));
    const estimate = estimateRawRequestInputTokens(raw, surface);
    assert.ok(estimate <= inputTokensUpperBound(raw), `${surface}: estimate ${estimate} > ${raw.length} bytes`);
    assert.ok(estimate > 0);
  }
  const ordinary = { messages: [{ role: 'user', content: 'How many tokens is this?' }] };
  assert.equal(estimateRawRequestInputTokens(Buffer.from(JSON.stringify(ordinary)), 'chat-completions'), estimateRequestInputTokens(ordinary, 'chat-completions'));
});

test('special-token text in a prompt is counted as ordinary text, not refused', () => {
  assert.ok(estimateTokens('hi <|endoftext|> there') > 3);
});

test('what the model reads besides messages counts: function definitions, structured-output schemas, a legacy function call', () => {
  const schema = { type: 'json_schema', json_schema: { name: 'a', schema: { type: 'object', description: 'word '.repeat(500) } } };
  const long = (tokens: number) => tokens >= 500;
  const bare = estimateRequestInputTokens({ messages: [{ role: 'user', content: 'hi' }] }, 'chat-completions');
  assert.ok(long(estimateRequestInputTokens({ messages: [{ role: 'user', content: 'hi' }], response_format: schema }, 'chat-completions') - bare));
  assert.ok(long(estimateRequestInputTokens({ messages: [{ role: 'user', content: 'hi' }], functions: [{ name: 'f', description: 'word '.repeat(500) }] }, 'chat-completions') - bare));
  assert.ok(long(estimateRequestInputTokens({ messages: [{ role: 'assistant', content: null, function_call: { name: 'f', arguments: 'word '.repeat(500) } }] }, 'chat-completions')));
  assert.ok(long(estimateRequestInputTokens({ input: 'hi', text: { format: { type: 'json_schema', name: 'a', schema: schema.json_schema.schema } } }, 'responses')));
  assert.ok(long(estimateRequestInputTokens({ messages: [{ role: 'user', content: 'hi' }], output_format: { type: 'json_schema', schema: schema.json_schema.schema } }, 'messages')));
});

test('a Responses request\'s tool history counts whatever form it takes: outputs given as parts, a freeform call\'s input, a refusal', () => {
  const long = 'the quick brown fox jumps over the lazy dog '.repeat(50);
  const size = estimateTokens(long);
  const bare = estimateRequestInputTokens({ input: [{ type: 'function_call_output', call_id: 'c', output: [] }] }, 'responses');
  // A tool output as an array of parts (the Vercel AI SDK sends them so, Codex too).
  assert.equal(estimateRequestInputTokens({ input: [{ type: 'function_call_output', call_id: 'c', output: [{ type: 'input_text', text: long }] }] }, 'responses'), bare + size);
  assert.equal(estimateRequestInputTokens({ input: [{ type: 'custom_tool_call_output', call_id: 'c', output: [{ type: 'input_text', text: long }] }] }, 'responses'), bare + size);
  // Codex's apply_patch call: the patch is in `input`.
  assert.equal(estimateRequestInputTokens({ input: [{ type: 'custom_tool_call', call_id: 'c', name: 'apply_patch', input: long }] }, 'responses'), bare + size);
  assert.equal(estimateRequestInputTokens({ input: [{ type: 'message', role: 'assistant', content: [{ type: 'refusal', refusal: long }] }] }, 'responses'), bare + size);
});

test('a Gemini request counts the same in Google\'s REST spelling (system_instruction, function_call, function_response, response_schema) as in the SDK\'s', () => {
  const long = 'Answer as a pirate would, at length. '.repeat(40);
  const camel = {
    systemInstruction: { parts: [{ text: long }] },
    contents: [
      { role: 'user', parts: [{ text: 'Weather?' }] },
      { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: long } } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { output: long } } }] },
    ],
    tools: [{ functionDeclarations: [{ name: 'get_weather', description: long }] }],
    generationConfig: { responseSchema: { type: 'OBJECT', description: long } },
  };
  const snake = {
    system_instruction: { parts: [{ text: long }] },
    contents: [
      { role: 'user', parts: [{ text: 'Weather?' }] },
      { role: 'model', parts: [{ function_call: { name: 'get_weather', args: { city: long } } }] },
      { role: 'user', parts: [{ function_response: { name: 'get_weather', response: { output: long } } }] },
    ],
    tools: [{ function_declarations: [{ name: 'get_weather', description: long }] }],
    generation_config: { response_schema: { type: 'OBJECT', description: long } },
  };
  const expected = estimateRequestInputTokens(camel, 'generate-content');
  assert.ok(expected > 5 * estimateTokens(long), `every piece is counted (${expected})`);
  const got = estimateRequestInputTokens(snake, 'stream-generate-content');
  // The tool JSON differs by its key's spelling by a token or two; nothing else may.
  assert.ok(Math.abs(got - expected) <= 3, `${got} vs ${expected}`);
  // Google reads a lone Content (and a lone Part) as a list of one.
  assert.equal(estimateRequestInputTokens({ contents: { parts: { text: long } } }, 'generate-content'), estimateRequestInputTokens({ contents: [{ parts: [{ text: long }] }] }, 'generate-content'));
});

test('a Gemini Interactions request counts its system instruction and response format under either of Google\'s names', () => {
  const long = 'Answer as a pirate would, at length. '.repeat(40);
  const schema = { type: 'object', description: long };
  const snake = estimateRequestInputTokens({ input: 'hi', system_instruction: long, response_format: schema }, 'interactions');
  assert.ok(snake > 2 * estimateTokens(long), `both are counted (${snake})`);
  const camel = estimateRequestInputTokens({ input: 'hi', systemInstruction: long, responseFormat: schema }, 'interactions');
  assert.equal(camel, snake);
});
