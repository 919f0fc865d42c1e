import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatCompletionStream } from 'openai/lib/ChatCompletionStream';
import { createCatalog } from '../../catalog/index.ts';
import { resolveCandidates } from '../../domain/resolve.ts';
import type { AttemptPlan } from '../../domain/routing.ts';
import { snapshot } from '../../../test/helpers/snapshot.ts';
import { chatViaMessages } from './chat-via-messages.ts';
import { untranslatableReason } from './index.ts';

const catalog = createCatalog({});
const plan = (model: string): AttemptPlan => ({ candidate: resolveCandidates({ model, models: undefined, format: 'openai', surface: 'chat-completions' }, catalog, snapshot())[0]!, keySource: 'user', credential: 'k' });
const sse = (type: string, data: Record<string, unknown>): [string, string] => [type, JSON.stringify({ type, ...data })];

test('a tool loop goes up as Messages turns: calls as tool_use, a run of results as one user turn', () => {
  const { body, removed } = chatViaMessages.request({
    model: 'gpt-4o', max_completion_tokens: 100_000, n: 2, parallel_tool_calls: false, tool_choice: 'required',
    tools: [{ type: 'function', function: { name: 'weather', description: 'Weather', parameters: { type: 'object' } } }],
    messages: [
      { role: 'developer', content: 'Use tools.' },
      { role: 'user', content: [{ type: 'text', text: 'Paris and Rome?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }, { id: 'c2', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: 'Sunny' },
      { role: 'tool', tool_call_id: 'c2', content: [{ type: 'text', text: 'Rain' }] },
    ],
  }, plan('gpt-4o'));
  assert.deepEqual(removed, ['n']);
  assert.equal(body.system, 'Use tools.');
  assert.equal(body.max_tokens, 16_384, 'fitted to the model');
  assert.deepEqual(body.tool_choice, { type: 'any', disable_parallel_tool_use: true });
  assert.deepEqual(body.tools, [{ name: 'weather', description: 'Weather', input_schema: { type: 'object' } }]);
  assert.deepEqual(body.messages, [
    { role: 'user', content: [{ type: 'text', text: 'Paris and Rome?' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }] },
    { role: 'assistant', content: [{ type: 'tool_use', id: 'c1', name: 'weather', input: { city: 'Paris' } }, { type: 'tool_use', id: 'c2', name: 'weather', input: { city: 'Rome' } }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'c1', content: 'Sunny' }, { type: 'tool_result', tool_use_id: 'c2', content: 'Rain' }] },
  ]);
});

test('a history of tool calls and results with no tools offered (a last turn asking for a summary) declares the called tools and chooses none, as Anthropic requires tools beside tool_use blocks', () => {
  const history = [
    { role: 'user', content: 'Weather in Paris, then the time?' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }, { id: 'c2', type: 'function', function: { name: 'clock', arguments: '{}' } }] },
    { role: 'tool', tool_call_id: 'c1', content: 'Sunny' },
    { role: 'tool', tool_call_id: 'c2', content: '14:00' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'c3', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } }] },
    { role: 'tool', tool_call_id: 'c3', content: 'Rain' },
    { role: 'user', content: 'Sum it up in one line.' },
  ];
  const { body, removed } = chatViaMessages.request({ model: 'claude-sonnet-4-6', messages: history }, plan('claude-sonnet-4-6'));
  assert.deepEqual(body.tools, [
    { name: 'weather', description: 'Called earlier in this conversation; not available now.', input_schema: { type: 'object' } },
    { name: 'clock', description: 'Called earlier in this conversation; not available now.', input_schema: { type: 'object' } },
  ]);
  assert.deepEqual(body.tool_choice, { type: 'none' });
  assert.deepEqual(removed, [], 'nothing the client sent is left out');
  assert.deepEqual((body.messages as { content: { type?: string }[] | string }[]).map((m) => typeof m.content === 'string' ? 'text' : m.content.map((b) => b.type).join()), ['text', 'tool_use,tool_use', 'tool_result,tool_result', 'tool_use', 'tool_result', 'text'], 'the calls and results stay as they were');
  // With tools of the client's own, or no calls in the history, nothing is added.
  const offered = chatViaMessages.request({ model: 'claude-sonnet-4-6', messages: history, tools: [{ type: 'function', function: { name: 'weather', parameters: { type: 'object' } } }] }, plan('claude-sonnet-4-6')).body;
  assert.deepEqual([(offered.tools as unknown[]).length, offered.tool_choice], [1, undefined]);
  const plain = chatViaMessages.request({ model: 'claude-sonnet-4-6', messages: [{ role: 'user', content: 'hi' }] }, plan('claude-sonnet-4-6')).body;
  assert.deepEqual(['tools' in plain, 'tool_choice' in plain], [false, false]);
});

test('a JSON answer calling tools; a stream of text and calls; a provider error event', () => {
  const reply = chatViaMessages.answer({ id: 'msg_9', model: 'm', stop_reason: 'tool_use', usage: { input_tokens: 5, cache_read_input_tokens: 3, output_tokens: 2 },
    content: [{ type: 'thinking', thinking: 'hm' }, { type: 'tool_use', id: 't1', name: 'f', input: { a: 1 } }] }, { accountId: 'a', keep: true, includeUsage: false }) as Record<string, unknown>;
  const choice = (reply.choices as Record<string, unknown>[])[0]!;
  assert.deepEqual([reply.id, choice.finish_reason, choice.message], ['chatcmpl-9', 'tool_calls', { role: 'assistant', content: null, refusal: null, reasoning_content: 'hm', tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] }]);
  assert.deepEqual(reply.usage, { prompt_tokens: 8, completion_tokens: 2, total_tokens: 10, prompt_tokens_details: { cached_tokens: 3 }, completion_tokens_details: { reasoning_tokens: 0 } });

  const t = chatViaMessages.stream({ accountId: 'a', keep: true, includeUsage: true });
  for (const [type, data] of [
    sse('message_start', { message: { id: 'msg_9', model: 'm', usage: { input_tokens: 5, output_tokens: 1 } } }),
    sse('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    sse('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Checking' } }),
    sse('content_block_stop', { index: 0 }),
    sse('content_block_start', { index: 1, content_block: { type: 'tool_use', id: 't1', name: 'f', input: {} } }),
    sse('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '{"a":' } }),
    sse('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '1}' } }),
    sse('message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 7 } }),
    sse('message_stop', {}),
  ]) t.event(type, data);
  const lines = t.finish().split('\n\n').filter(Boolean).map((l) => l.slice('data: '.length));
  assert.equal(lines.at(-1), '[DONE]');
  const chunks = lines.slice(0, -1).map((l) => JSON.parse(l) as { choices: { delta: Record<string, unknown>; finish_reason: string | null }[]; usage?: Record<string, unknown> | null });
  assert.deepEqual(chunks.map((c) => c.choices[0]?.delta), [
    { role: 'assistant', content: '' }, { content: 'Checking' },
    { tool_calls: [{ index: 0, id: 't1', type: 'function', function: { name: 'f', arguments: '' } }] },
    { tool_calls: [{ index: 0, function: { arguments: '{"a":' } }] }, { tool_calls: [{ index: 0, function: { arguments: '1}' } }] },
    {}, undefined,
  ]);
  assert.equal(chunks.at(-2)!.choices[0]!.finish_reason, 'tool_calls');
  assert.deepEqual(chunks.at(-1)!.usage, { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } });

  const failing = chatViaMessages.stream({ accountId: 'a', keep: true, includeUsage: false });
  failing.event(...sse('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }));
  assert.equal(failing.finish(), 'data: {"error":{"message":"Overloaded","type":"overloaded_error","param":null,"code":null}}\n\n');
});

test('empty text is left out, foreign call ids are rewritten, a final assistant turn loses its trailing space', () => {
  const { body } = chatViaMessages.request({ model: 'gpt-4o', messages: [
    { role: 'user', content: '' },
    { role: 'user', content: [{ type: 'text', text: '' }, { type: 'image_url', image_url: { url: 'https://x/y.png' } }] },
    { role: 'assistant', content: ' ', tool_calls: [{ id: 'functions.weather:0', type: 'function', function: { name: 'weather', arguments: '{}' } }] },
    { role: 'tool', tool_call_id: 'functions.weather:0', content: 'Sunny' },
    { role: 'assistant', content: 'Sure: ' },
  ] }, plan('gpt-4o'));
  assert.deepEqual(body.messages, [
    { role: 'user', content: [{ type: 'image', source: { type: 'url', url: 'https://x/y.png' } }] },
    { role: 'assistant', content: [{ type: 'tool_use', id: 'functions_weather_0', name: 'weather', input: {} }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'functions_weather_0', content: 'Sunny' }] },
    { role: 'assistant', content: [{ type: 'text', text: 'Sure:' }] },
  ]);
  // System text alone is asked as the user's turn.
  const alone = chatViaMessages.request({ model: 'gpt-4o', messages: [{ role: 'system', content: 'Say hi.' }] }, plan('gpt-4o')).body;
  assert.deepEqual([alone.system, alone.messages], [undefined, [{ role: 'user', content: 'Say hi.' }]]);
});

test('structured output is asked as one forced tool, and its input comes back as the content (buffered and streamed)', () => {
  const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
  const { body, removed } = chatViaMessages.request({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } } }, plan('gpt-4o'));
  assert.deepEqual([body.tools, body.tool_choice, removed], [[{ name: 'structured_output', description: 'Answer in this shape.', input_schema: schema }], { type: 'tool', name: 'structured_output' }, []]);
  const scope = { accountId: 'a', keep: true, includeUsage: false };
  const reply = chatViaMessages.answer({ id: 'msg_1', stop_reason: 'tool_use', content: [{ type: 'tool_use', id: 't', name: 'structured_output', input: { city: 'Paris' } }] }, scope) as { choices: { message: Record<string, unknown>; finish_reason: string }[] };
  assert.deepEqual([reply.choices[0]!.message.content, reply.choices[0]!.message.tool_calls, reply.choices[0]!.finish_reason], ['{"city":"Paris"}', undefined, 'stop']);
  const t = chatViaMessages.stream(scope);
  for (const [type, data] of [
    sse('message_start', { message: { id: 'msg_1', model: 'm', usage: {} } }),
    sse('content_block_start', { index: 0, content_block: { type: 'tool_use', id: 't', name: 'structured_output', input: {} } }),
    sse('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: '{"city":' } }),
    sse('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: '"Paris"}' } }),
    sse('message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 3 } }),
    sse('message_stop', {}),
  ]) t.event(type, data);
  const chunks = t.finish().split('\n\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)) as { choices: { delta: { content?: string; tool_calls?: unknown }; finish_reason: string | null }[] });
  assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), '{"city":"Paris"}');
  assert.ok(chunks.every((c) => c.choices[0]?.delta.tool_calls === undefined));
  assert.equal(chunks.at(-1)!.choices[0]!.finish_reason, 'stop');
});

test('the deprecated function-calling fields are not translated', async () => {
  const { legacyFunctionsReason } = await import('./chat-via-messages.ts');
  assert.match(legacyFunctionsReason({ functions: [{ name: 'f' }], messages: [] })!, /deprecated function-calling/);
  assert.match(legacyFunctionsReason({ messages: [{ role: 'function', name: 'f', content: 'r' }] })!, /use "tools"/);
  assert.equal(legacyFunctionsReason({ tools: [], messages: [{ role: 'user', content: 'x' }] }), undefined);
});

test('a streamed call of a tool without arguments has arguments "{}", as buffered; a text file goes up as a text document', () => {
  const stream = chatViaMessages.stream({ accountId: 'a', keep: false, includeUsage: false });
  for (const [type, data] of [
    sse('message_start', { message: { id: 'msg_n', model: 'm', usage: { input_tokens: 1 } } }),
    sse('content_block_start', { index: 0, content_block: { type: 'tool_use', id: 'toolu_n', name: 'now', input: {} } }),
    sse('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: '' } }),
    sse('content_block_stop', { index: 0 }),
    sse('content_block_start', { index: 1, content_block: { type: 'tool_use', id: 'toolu_a', name: 'at', input: {} } }),
    sse('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '{"x":1}' } }),
    sse('content_block_stop', { index: 1 }),
    sse('message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 2 } }),
    sse('message_stop', {}),
  ]) stream.event(type, data);
  const chunks = stream.finish().split('\n\n').filter((b) => b.startsWith('data: {')).map((b) => JSON.parse(b.slice(6)) as { choices: { delta: { tool_calls?: { index: number; function: { arguments?: string } }[] } }[] });
  const args = new Map<number, string>();
  for (const c of chunks) for (const call of c.choices[0]?.delta.tool_calls ?? []) args.set(call.index, (args.get(call.index) ?? '') + (call.function.arguments ?? ''));
  assert.deepEqual([...args], [[0, '{}'], [1, '{"x":1}']]);

  const { body } = chatViaMessages.request({ model: 'gpt-4o', messages: [{ role: 'user', content: [{ type: 'text', text: 'Read it' }, { type: 'file', file: { filename: 'n.csv', file_data: 'data:text/csv;base64,YSxiCjEsMg==' } }] }] }, plan('gpt-4o'));
  assert.deepEqual(body.messages, [{ role: 'user', content: [{ type: 'text', text: 'Read it' }, { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'a,b\n1,2' } }] }]);
});

test('files Messages cannot read are refused for it, not dropped: a Word document, a file with no data; text with a charset is read', () => {
  const chat = (file: Record<string, unknown>) => ({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'read' }, { type: 'file', file }] }] });
  const docx = chat({ filename: 'a.docx', file_data: 'data:application/vnd.openxmlformats-officedocument.wordprocessingml.document;base64,UEsDBA==' });
  assert.match(untranslatableReason('chat-completions', docx, 'messages') ?? '', /file Anthropic Messages cannot read/);
  assert.match(untranslatableReason('chat-completions', chat({ file_id: 'file_1' }), 'messages') ?? '', /cannot read/);
  assert.equal(untranslatableReason('chat-completions', docx, 'chat-completions'), undefined, 'another chat model gets it as sent');
  const text = chat({ filename: 'n.txt', file_data: 'data:text/plain;charset=utf-8;base64,aMOp' });
  assert.equal(untranslatableReason('chat-completions', text, 'messages'), undefined);
  assert.deepEqual((chatViaMessages.request(text, plan('gpt-4o')).body.messages as { content: unknown[] }[])[0]!.content[1], { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'hé' } });
  const responses = { model: 'm', input: [{ role: 'user', content: [{ type: 'input_file', filename: 'a.docx', file_data: 'data:application/msword;base64,AA==' }] }] };
  assert.match(untranslatableReason('responses', responses, 'messages') ?? '', /cannot read/);
  // A file by URL with a null file_data: refused for chat (it cannot fetch), carried to Messages.
  const byUrl = { model: 'm', input: [{ role: 'user', content: [{ type: 'input_file', file_url: 'https://x/a.pdf', file_data: null }] }] };
  assert.match(untranslatableReason('responses', byUrl, 'chat-completions') ?? '', /file by URL/);
  assert.equal(untranslatableReason('responses', byUrl, 'messages'), undefined);
});

test('text parts never run together: several in a tool result or an assistant turn stay blocks, a system message\'s parts are paragraphs', () => {
  const { body } = chatViaMessages.request({ model: 'gpt-4o', messages: [
    { role: 'system', content: [{ type: 'text', text: 'You are terse.' }, { type: 'text', text: 'Today is Friday.' }] },
    { role: 'user', content: 'Check the build.' },
    { role: 'assistant', content: [{ type: 'text', text: 'Running it.' }, { type: 'text', text: ' ' }, { type: 'text', text: 'One moment.' }], tool_calls: [{ id: 'c1', type: 'function', function: { name: 'build', arguments: '{}' } }] },
    { role: 'tool', tool_call_id: 'c1', content: [{ type: 'text', text: 'step 1 ok' }, { type: 'text', text: 'step 2 failed' }] },
  ] }, plan('gpt-4o'));
  assert.equal(body.system, 'You are terse.\n\nToday is Friday.');
  assert.deepEqual(body.messages, [
    { role: 'user', content: 'Check the build.' },
    { role: 'assistant', content: [{ type: 'text', text: 'Running it.' }, { type: 'text', text: 'One moment.' }, { type: 'tool_use', id: 'c1', name: 'build', input: {} }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'c1', content: [{ type: 'text', text: 'step 1 ok' }, { type: 'text', text: 'step 2 failed' }] }] },
  ]);
});

test('allowed_tools (a turn narrowed to some tools) offers Claude only those, and required forces a call among them', () => {
  const fn = (name: string) => ({ type: 'function', function: { name, parameters: { type: 'object' } } });
  const ask = (mode: string) => chatViaMessages.request({
    model: 'claude-sonnet-4-6', messages: [{ role: 'user', content: 'hi' }], tools: [fn('city'), fn('other'), fn('third')],
    tool_choice: { type: 'allowed_tools', allowed_tools: { mode, tools: [{ type: 'function', function: { name: 'other' } }, { type: 'function', function: { name: 'third' } }] } },
  }, plan('claude-sonnet-4-6'));
  const required = ask('required');
  assert.deepEqual([(required.body.tools as { name: string }[]).map((t) => t.name), required.body.tool_choice, required.removed], [['other', 'third'], { type: 'any' }, []]);
  assert.deepEqual(ask('auto').body.tool_choice, { type: 'auto' });
});

test('stop sequences of whitespace alone (Messages refuses them, chat takes them) are left out and stop is named', () => {
  const ask = (stop: unknown) => chatViaMessages.request({ model: 'claude-sonnet-4-6', messages: [{ role: 'user', content: 'hi' }], stop }, plan('claude-sonnet-4-6'));
  assert.deepEqual([ask(['\n', 'END', '']).body.stop_sequences, ask(['\n', 'END', '']).removed], [['END'], ['stop']]);
  assert.deepEqual([ask('\n\n').body.stop_sequences, ask('\n\n').removed], [undefined, ['stop']]);
  assert.deepEqual([ask(['###']).body.stop_sequences, ask(['###']).removed], [['###'], []]);
});

test('a strict function reaches Claude as strict tool use on models with JSON outputs (schema closed), and as a plain tool on older ones', () => {
  const parameters = { type: 'object', properties: { city: { type: 'string', maxLength: 40 } }, required: ['city'] };
  const ask = (model: string) => chatViaMessages.request({ model, messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { name: 'city', strict: true, parameters } }] }, plan(model));
  assert.deepEqual(ask('claude-sonnet-4-6').body.tools, [{ name: 'city', strict: true, input_schema: { type: 'object', properties: { city: { type: 'string', description: '{maxLength: 40}' } }, required: ['city'], additionalProperties: false } }]);
  assert.deepEqual(ask('claude-sonnet-4-0').body.tools, [{ name: 'city', input_schema: parameters }]);
  // A nullable object (`type: ["object", "null"]`) is closed too.
  const nullable = chatViaMessages.request({ model: 'claude-sonnet-4-6', messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { name: 'n', strict: true, parameters: { type: 'object', properties: { at: { type: ['object', 'null'], properties: { x: { type: 'number' } } } } } } }] }, plan('claude-sonnet-4-6'));
  assert.equal(((nullable.body.tools as { input_schema: { properties: { at: { additionalProperties: unknown } } } }[])[0]!.input_schema.properties.at.additionalProperties), false);
  // A map (or a recursive schema) cannot be closed without losing its keys: that tool goes plain, its schema untouched.
  const map = { type: 'object', properties: { labels: { type: 'object', additionalProperties: { type: 'string' } } }, required: ['labels'] };
  const tree = { type: 'object', properties: { children: { type: 'array', items: { $ref: '#' } } } };
  // Recursion through other definitions (A → B → A), or by a pointer into the schema itself.
  const mutual = { type: 'object', properties: { a: { $ref: '#/$defs/A' } }, $defs: { A: { type: 'object', properties: { b: { $ref: '#/$defs/B' } } }, B: { type: 'object', properties: { a: { $ref: '#/$defs/A' } } } } };
  const pointer = { type: 'object', properties: { node: { type: 'object', properties: { next: { $ref: '#/properties/node' } } } } };
  // Definitions that refer to one another without looping stay strict.
  const acyclic = { type: 'object', properties: { a: { $ref: '#/$defs/A' } }, required: ['a'], $defs: { A: { type: 'object', properties: { b: { $ref: '#/$defs/B' } } }, B: { type: 'string' } } };
  const kept = chatViaMessages.request({ model: 'claude-sonnet-4-6', messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { name: 'm', strict: true, parameters: acyclic } }] }, plan('claude-sonnet-4-6'));
  assert.equal((kept.body.tools as { strict?: boolean }[])[0]!.strict, true);
  // A long chain of definitions is no recursion, and is judged without deep recursion of the gateway's own.
  const chain: Record<string, unknown> = {};
  for (let i = 0; i < 20_000; i++) chain[`D${i}`] = i === 19_999 ? { type: 'string' } : { type: 'object', properties: { next: { $ref: `#/$defs/D${i + 1}` } } };
  const long = chatViaMessages.request({ model: 'claude-sonnet-4-6', messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { name: 'm', strict: true, parameters: { type: 'object', properties: { d: { $ref: '#/$defs/D0' } }, $defs: chain } } }] }, plan('claude-sonnet-4-6'));
  assert.equal((long.body.tools as { strict?: boolean }[])[0]!.strict, true);
  // A property named `$defs` is a property: a reference inside it is walked like any other.
  const named = { type: 'object', properties: { $defs: { type: 'object', properties: { again: { $ref: '#' } } } } };
  for (const schema of [map, tree, mutual, pointer, named]) {
    const sent = chatViaMessages.request({ model: 'claude-sonnet-4-6', messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { name: 'm', strict: true, parameters: schema } }] }, plan('claude-sonnet-4-6'));
    assert.deepEqual(sent.body.tools, [{ name: 'm', input_schema: schema }]);
  }
});

test('schemas for Claude\'s JSON outputs: oneOf as anyOf, keywords it refuses into the description; maps and recursion go the forced-tool way', () => {
  const ask = (schema: unknown, model = 'claude-sonnet-4-6', tools?: unknown[]) => chatViaMessages.request({
    model, messages: [{ role: 'user', content: 'hi' }], response_format: { type: 'json_schema', json_schema: { name: 'x', schema } }, ...(tools ? { tools } : {}),
  }, plan(model)).body;
  const union = ask({ type: 'object', properties: { pet: { oneOf: [{ type: 'string' }, { type: 'number' }], not: { const: 'x' } } }, required: ['pet'] });
  assert.deepEqual(union.output_config, { format: { type: 'json_schema', schema: {
    type: 'object', properties: { pet: { anyOf: [{ type: 'string' }, { type: 'number' }], description: '{not: {"const":"x"}}' } }, required: ['pet'], additionalProperties: false,
  } } });
  const map = { type: 'object', properties: { scores: { type: 'object', additionalProperties: { type: 'number' } } } };
  const recursive = { $defs: { node: { type: 'object', properties: { children: { type: 'array', items: { $ref: '#/$defs/node' } } } } }, $ref: '#/$defs/node' };
  for (const schema of [map, recursive]) {
    const body = ask(schema);
    assert.deepEqual([body.output_config, body.tool_choice], [undefined, { type: 'tool', name: 'structured_output' }], JSON.stringify(schema));
  }
  // A model refusing a forced tool gets such a schema in words.
  const worded = ask(map, 'claude-sonnet-5-5');
  assert.deepEqual([worded.output_config, worded.tools], [undefined, undefined]);
  assert.match(String(worded.system), /^Answer with one JSON object matching this JSON schema, and nothing else: \{"type":"object"/);
});

test('a Claude stream without message_start (some Anthropic-compatible servers): the first chunk still says the role, and the OpenAI SDK assembles the answer', async () => {
  for (const first of ['text', 'tool'] as const) {
    const t = chatViaMessages.stream({ accountId: 'a', keep: true, includeUsage: false });
    const opening = first === 'text'
      ? [sse('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }), sse('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hi' } })]
      : [sse('content_block_start', { index: 0, content_block: { type: 'tool_use', id: 't1', name: 'f', input: {} } }), sse('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: '{"a":1}' } })];
    for (const [type, data] of [sse('ping', {}), ...opening, sse('content_block_stop', { index: 0 }), sse('message_delta', { delta: { stop_reason: first === 'text' ? 'end_turn' : 'tool_use' }, usage: { output_tokens: 3 } }), sse('message_stop', {})]) t.event(type, data);
    const out = t.finish().split('\n\n').filter(Boolean).map((l) => l.slice('data: '.length)).filter((l) => l !== '[DONE]');
    const stream = ChatCompletionStream.fromReadableStream(new Response(out.map((l) => `${l}\n`).join('')).body!);
    const completion = await stream.finalChatCompletion();
    const message = completion.choices[0]!.message;
    assert.equal(message.role, 'assistant', first);
    if (first === 'text') assert.equal(message.content, 'Hi');
    else assert.deepEqual(message.tool_calls?.map((c) => c.type === 'function' ? [c.id, c.function.name, c.function.arguments] : c.type), [['t1', 'f', '{"a":1}']]);
    assert.equal(completion.choices[0]!.finish_reason, first === 'text' ? 'stop' : 'tool_calls');
  }
});

test('an answer with usage.iterations (compaction) tells the chat client the billed sums, not the top-level counts that leave them out: JSON and streamed', () => {
  // Anthropic's compaction example: the summary step read 180,000 tokens that the top-level counts do not include.
  const iterations = [{ type: 'compaction', input_tokens: 180_000, output_tokens: 3_500 }, { type: 'message', input_tokens: 23_000, output_tokens: 1_000 }];
  const billed = { prompt_tokens: 203_000, completion_tokens: 4_500, total_tokens: 207_500, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } };
  const reply = chatViaMessages.answer({ id: 'msg_c', model: 'm', stop_reason: 'end_turn', usage: { input_tokens: 23_000, output_tokens: 1_000, iterations },
    content: [{ type: 'compaction', content: 'Summary' }, { type: 'text', text: 'Done' }] }, { accountId: 'a', keep: true, includeUsage: false }) as Record<string, unknown>;
  assert.deepEqual(reply.usage, billed);

  const t = chatViaMessages.stream({ accountId: 'a', keep: true, includeUsage: true });
  for (const [type, data] of [
    sse('message_start', { message: { id: 'msg_c', model: 'm', usage: { input_tokens: 23_000, output_tokens: 1 } } }),
    sse('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    sse('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Done' } }),
    sse('content_block_stop', { index: 0 }),
    sse('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 1_000, iterations } }),
    sse('message_stop', {}),
  ]) t.event(type, data);
  const lines = t.finish().split('\n\n').filter(Boolean).map((l) => l.slice('data: '.length));
  assert.deepEqual((JSON.parse(lines.at(-2)!) as { usage: unknown }).usage, billed);
});

test('a chat conversation ending with an assistant turn goes as that turn, and prefill is named: a Messages model continues it', () => {
  const { body, removed } = chatViaMessages.request({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello ' }] }, plan('gpt-4o'));
  assert.deepEqual(body.messages, [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: [{ type: 'text', text: 'Hello' }] }]);
  assert.deepEqual(removed, ['prefill']);
});

test('Claude\'s thinking reaches a chat client as reasoning_content, signed in reasoning_details; redacted thinking only there, never as text: JSON and streamed', async () => {
  const content = [
    { type: 'thinking', thinking: 'Let me think. ', signature: 'sig-1' },
    { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix/LafPsn4a' },
    { type: 'text', text: 'Sunny.' },
  ];
  const details = [
    { type: 'reasoning.text', text: 'Let me think. ', signature: 'sig-1', format: 'anthropic-claude-v1', index: 0 },
    { type: 'reasoning.encrypted', data: 'EmwKAhgBEgy3va3pzix/LafPsn4a', format: 'anthropic-claude-v1', index: 1 },
  ];
  const message = (chatViaMessages.answer({ id: 'msg_1', model: 'claude-sonnet-4-5', content, stop_reason: 'end_turn', usage: { input_tokens: 1, output_tokens: 2 } }, { accountId: 'a', keep: true, includeUsage: false }) as { choices: { message: Record<string, unknown> }[] }).choices[0]!.message;
  assert.deepEqual([message.content, message.reasoning_content, message.reasoning_details], ['Sunny.', 'Let me think. ', details]);

  const t = chatViaMessages.stream({ accountId: 'a', keep: true, includeUsage: false });
  for (const [type, data] of [
    sse('message_start', { message: { id: 'msg_1', model: 'claude-sonnet-4-5', usage: { input_tokens: 1 } } }),
    sse('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }),
    sse('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'Let me ' } }),
    sse('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'think. ' } }),
    sse('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: 'sig-1' } }),
    sse('content_block_stop', { index: 0 }),
    sse('content_block_start', { index: 1, content_block: { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix/LafPsn4a' } }),
    sse('content_block_stop', { index: 1 }),
    sse('content_block_start', { index: 2, content_block: { type: 'text', text: '' } }),
    sse('content_block_delta', { index: 2, delta: { type: 'text_delta', text: 'Sunny.' } }),
    sse('content_block_stop', { index: 2 }),
    sse('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 2 } }),
    sse('message_stop', {}),
  ]) t.event(type, data);
  const out = t.finish().split('\n\n').filter(Boolean).map((l) => l.slice('data: '.length)).filter((l) => l !== '[DONE]');
  const deltas = out.map((l) => (JSON.parse(l) as { choices: { delta: Record<string, unknown> }[] }).choices[0]!.delta);
  assert.equal(deltas.map((d) => d.reasoning_content ?? '').join(''), 'Let me think. ');
  assert.equal(out.filter((l) => l.includes('EmwKAhgBEgy3va3pzix')).length, 1, 'the redacted data is only in reasoning_details');
  assert.deepEqual(deltas.filter((d) => d.reasoning_details !== undefined).map((d) => d.reasoning_details), [details], 'once, whole, in the finish chunk');
  // The OpenAI SDK's stream helper keeps reasoning_details on the final message as it came: sent back, it is whole.
  const completion = await ChatCompletionStream.fromReadableStream(new Response(out.map((l) => `${l}\n`).join('')).body!).finalChatCompletion();
  assert.deepEqual((completion.choices[0]!.message as unknown as Record<string, unknown>).reasoning_details, details);
});

test('reasoning_effort turns Claude\'s thinking on: adaptive at that effort where the model has it, else a budget below the limit; sampling changes thinking refuses are left out', () => {
  const ask = { messages: [{ role: 'user', content: 'Weather?' }], temperature: 0.2, top_p: 0.5 };
  const adaptive = chatViaMessages.request({ model: 'claude-sonnet-4-6', reasoning_effort: 'minimal', ...ask }, plan('claude-sonnet-4-6'));
  assert.deepEqual([adaptive.body.thinking, adaptive.body.output_config, adaptive.body.temperature, adaptive.body.top_p], [{ type: 'adaptive' }, { effort: 'low' }, undefined, undefined]);
  assert.deepEqual(adaptive.removed, ['temperature', 'top_p']);
  const budget = chatViaMessages.request({ model: 'claude-sonnet-4-5', reasoning_effort: 'high', max_completion_tokens: 10_000, messages: ask.messages }, plan('claude-sonnet-4-5'));
  assert.deepEqual([budget.body.thinking, budget.body.output_config, budget.removed], [{ type: 'enabled', budget_tokens: 9_999 }, undefined, []]);
  // `none` is Claude's default; a limit too small for the least budget, or a forced tool under manual thinking
  // (Claude refuses it), go without thinking and name the field.
  const none = chatViaMessages.request({ model: 'claude-sonnet-4-5', reasoning_effort: 'none', messages: ask.messages }, plan('claude-sonnet-4-5'));
  assert.deepEqual([none.body.thinking, none.removed], [undefined, []]);
  const small = chatViaMessages.request({ model: 'claude-sonnet-4-5', reasoning_effort: 'low', max_tokens: 500, messages: ask.messages }, plan('claude-sonnet-4-5'));
  assert.deepEqual([small.body.thinking, small.removed], [undefined, ['reasoning_effort']]);
  const forced = chatViaMessages.request({ model: 'claude-sonnet-4-5', reasoning_effort: 'low', tool_choice: 'required', tools: [{ type: 'function', function: { name: 'weather', parameters: { type: 'object' } } }], messages: ask.messages }, plan('claude-sonnet-4-5'));
  assert.deepEqual([forced.body.thinking, forced.removed], [undefined, ['reasoning_effort']]);
});

test('a tool loop with thinking: reasoning_details sent back become the signed thinking that opens the assistant turn; a turn whose calls came without it goes without thinking, not refused', () => {
  const tools = [{ type: 'function', function: { name: 'weather', parameters: { type: 'object' } } }];
  const call = { id: 'toolu_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } };
  const details = [
    { type: 'reasoning.text', text: 'Let me think. ', signature: 'sig-1', format: 'anthropic-claude-v1', index: 0 },
    { type: 'reasoning.encrypted', data: 'EmwK', format: 'anthropic-claude-v1', index: 1 },
    // Another provider's reasoning (OpenAI's encrypted items) means nothing to Claude: left out.
    { type: 'reasoning.encrypted', data: 'gAAAA', format: 'openai-responses-v1', index: 2 },
  ];
  const history = (assistant: Record<string, unknown>) => [{ role: 'user', content: 'Weather in Paris?' }, { role: 'assistant', content: null, tool_calls: [call], ...assistant }, { role: 'tool', tool_call_id: 'toolu_1', content: 'Sunny' }];
  const kept = chatViaMessages.request({ model: 'claude-sonnet-4-6', reasoning_effort: 'medium', tools, messages: history({ reasoning_content: 'Let me think. ', reasoning_details: details }) }, plan('claude-sonnet-4-6'));
  assert.deepEqual((kept.body.messages as unknown[])[1], { role: 'assistant', content: [
    { type: 'thinking', thinking: 'Let me think. ', signature: 'sig-1' }, { type: 'redacted_thinking', data: 'EmwK' },
    { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Paris' } },
  ] });
  assert.deepEqual([kept.body.thinking, kept.removed], [{ type: 'adaptive' }, []]);
  const dropped = chatViaMessages.request({ model: 'claude-sonnet-4-6', reasoning_effort: 'medium', tools, messages: history({ reasoning_content: 'Let me think. ' }) }, plan('claude-sonnet-4-6'));
  assert.deepEqual([dropped.body.thinking, dropped.body.output_config, dropped.removed], [undefined, undefined, ['reasoning_effort']]);
});

test('a prefill (a final assistant turn, which Claude continues) with reasoning_effort goes without thinking and names it: Claude refuses thinking before a final assistant turn that does not open with it', () => {
  const messages = [{ role: 'user', content: 'JSON please' }, { role: 'assistant', content: '{"a":' }];
  for (const model of ['claude-sonnet-4-5', 'claude-sonnet-4-6']) {
    const { body, removed } = chatViaMessages.request({ model, reasoning_effort: 'low', messages }, plan(model));
    assert.deepEqual([body.thinking, body.output_config, removed], [undefined, undefined, ['prefill', 'reasoning_effort']], model);
  }
  // The same conversation answered after the user's turn thinks.
  assert.deepEqual(chatViaMessages.request({ model: 'claude-sonnet-4-5', reasoning_effort: 'low', messages: messages.slice(0, 1) }, plan('claude-sonnet-4-5')).body.thinking, { type: 'enabled', budget_tokens: 2048 });
});

test('a chat client\'s `thinking` (Anthropic\'s compatibility spelling, sent through extra_body) turns Claude\'s thinking on: its budget on older models, adaptive at the budget\'s effort where the model has it; it wins over reasoning_effort', () => {
  const messages = [{ role: 'user', content: 'Think first.' }];
  const budget = chatViaMessages.request({ model: 'claude-sonnet-4-5', thinking: { type: 'enabled', budget_tokens: 3000 }, max_tokens: 8000, temperature: 0.2, messages }, plan('claude-sonnet-4-5'));
  assert.deepEqual([budget.body.thinking, budget.body.temperature, budget.removed], [{ type: 'enabled', budget_tokens: 3000 }, undefined, ['temperature']]);
  const fitted = chatViaMessages.request({ model: 'claude-sonnet-4-5', thinking: { type: 'enabled', budget_tokens: 30_000 }, max_tokens: 8000, messages }, plan('claude-sonnet-4-5'));
  assert.deepEqual(fitted.body.thinking, { type: 'enabled', budget_tokens: 7999 }, 'below the output limit, as Claude requires');
  const adaptive = chatViaMessages.request({ model: 'claude-sonnet-4-6', thinking: { type: 'enabled', budget_tokens: 20_000 }, reasoning_effort: 'low', messages }, plan('claude-sonnet-4-6'));
  assert.deepEqual([adaptive.body.thinking, adaptive.body.output_config, adaptive.removed], [{ type: 'adaptive' }, { effort: 'high' }, ['reasoning_effort']]);
  const asAdaptive = chatViaMessages.request({ model: 'claude-sonnet-4-6', thinking: { type: 'adaptive' }, messages }, plan('claude-sonnet-4-6'));
  assert.deepEqual([asAdaptive.body.thinking, asAdaptive.body.output_config, asAdaptive.removed], [{ type: 'adaptive' }, { effort: 'medium' }, []]);
  const off = chatViaMessages.request({ model: 'claude-sonnet-4-5', thinking: { type: 'disabled' }, messages }, plan('claude-sonnet-4-5'));
  assert.deepEqual([off.body.thinking, off.removed], [undefined, []]);
  // What Claude would refuse goes without thinking, named as the client sent it.
  const tooSmall = chatViaMessages.request({ model: 'claude-sonnet-4-5', thinking: { type: 'enabled', budget_tokens: 500 }, messages }, plan('claude-sonnet-4-5'));
  assert.deepEqual([tooSmall.body.thinking, tooSmall.removed, tooSmall.clientFields?.thinking], [undefined, ['thinking'], 'thinking']);
  assert.deepEqual(chatViaMessages.request({ model: 'claude-sonnet-4-5', thinking: 'yes', messages }, plan('claude-sonnet-4-5')).removed, ['thinking']);
});

test('a chat part Messages has no block for is refused on every way to Claude (Messages, InvokeModel, Converse), never left out; what it carries passes', () => {
  const audio = { messages: [{ role: 'user', content: [{ type: 'text', text: 'Listen.' }, { type: 'input_audio', input_audio: { data: 'UklG', format: 'wav' } }] }] };
  for (const target of ['messages', 'invoke', 'converse'] as const) assert.match(untranslatableReason('chat-completions', audio, target) ?? '', /"input_audio".*cannot carry/, target);
  // A video part (vLLM's and Qwen's `video_url`) is named as the client sent it.
  assert.match(untranslatableReason('chat-completions', { messages: [{ role: 'user', content: [{ type: 'video_url', video_url: { url: 'https://x/v.mp4' } }] }] }, 'messages') ?? '', /"video_url".*cannot carry/);
  // A type of any size or kind is quoted short: a client's megabyte there is not echoed back.
  const huge = untranslatableReason('chat-completions', { messages: [{ role: 'user', content: [{ type: 'v'.repeat(100_000) }] }] }, 'messages') ?? '';
  assert.ok(huge.includes(`"${'v'.repeat(64)}…"`) && huge.length < 300, `quoted cut (${huge.length} characters)`);
  assert.match(untranslatableReason('chat-completions', { messages: [{ role: 'user', content: [{ type: { big: 'x'.repeat(1000) } }] }] }, 'messages') ?? '', /of type \(a object\), which/);
  const carried = { messages: [{ role: 'user', content: [{ type: 'text', text: 'Read.' }, { type: 'image_url', image_url: { url: 'data:image/png;name=a.png;base64,iVBORw0K' } }, { type: 'file', file: { file_data: 'data:application/pdf;base64,JVBERi0x' } }] }] };
  assert.equal(untranslatableReason('chat-completions', carried, 'messages'), undefined);
});

test('a text file that is not UTF-8 is refused for Messages (its text document would hold U+FFFD for its characters); a file a tool returned is refused for Converse, whose tool results take none; a tool message part of no known type is refused', () => {
  const file = (fileData: string) => ({ messages: [{ role: 'user', content: [{ type: 'text', text: 'read' }, { type: 'file', file: { file_data: fileData } }] }] });
  assert.match(untranslatableReason('chat-completions', file(`data:text/plain;base64,${Buffer.from([0x63, 0x61, 0x66, 0xe9]).toString('base64')}`), 'messages') ?? '', /only PDFs, and text files in UTF-8 or in the charset their data URL names/);
  const tool = (part: Record<string, unknown>) => ({ messages: [
    { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
    { role: 'tool', tool_call_id: 'c1', content: [{ type: 'text', text: 'done' }, part] },
  ] });
  const pdf = tool({ type: 'file', file: { file_data: 'data:application/pdf;base64,JVBERi0x' } });
  assert.equal(untranslatableReason('chat-completions', pdf, 'messages'), undefined);
  assert.match(untranslatableReason('chat-completions', pdf, 'converse') ?? '', /file in a tool message, which Bedrock's Converse cannot take/);
  assert.match(untranslatableReason('chat-completions', tool({ type: 'video_url', video_url: { url: 'https://x/v.mp4' } }), 'messages') ?? '', /tool message content part of type "video_url", which Anthropic Messages cannot carry/);
});

test('a text file whose data URL names its charset (a spreadsheet\'s Windows-1252 CSV) reaches Claude as its text, read in that charset, not refused as not UTF-8; one naming a charset no decoder knows is refused', () => {
  const latin = Buffer.from([0x6e, 0x61, 0x6d, 0x65, 0x0a, 0x63, 0x61, 0x66, 0xe9]).toString('base64');
  const body = (fileData: string) => ({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: [{ type: 'text', text: 'Read.' }, { type: 'file', file: { filename: 'menu.csv', file_data: fileData } }] }] });
  for (const charset of ['windows-1252', 'ISO-8859-1', '"latin1"']) {
    const sent = body(`data:text/csv;charset=${charset};base64,${latin}`);
    assert.equal(untranslatableReason('chat-completions', sent, 'messages'), undefined, charset);
    const { body: up } = chatViaMessages.request(sent, plan('claude-sonnet-4-5'));
    assert.deepEqual((up.messages as { content: unknown[] }[])[0]!.content[1], { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'name\ncafé' } }, charset);
  }
  assert.match(untranslatableReason('chat-completions', body(`data:text/csv;charset=x-unknown;base64,${latin}`), 'messages') ?? '', /cannot read/);
});

test('an image of a type Claude and Converse cannot take (HEIC, BMP, TIFF) is refused before any call on every way to Claude, naming its type; an SVG goes as a text document of its source; the four types pass', () => {
  const image = (url: string, role = 'user') => ({ model: 'claude-sonnet-4-5', messages: role === 'tool'
    ? [{ role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'draw', arguments: '{}' } }] }, { role: 'tool', tool_call_id: 'c1', content: [{ type: 'text', text: 'Drawn.' }, { type: 'image_url', image_url: { url } }] }]
    : [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url } }] }] });
  for (const type of ['image/heic', 'image/bmp', 'image/tiff', 'image/avif']) {
    for (const target of ['messages', 'invoke', 'converse'] as const) {
      for (const role of ['user', 'tool']) {
        assert.match(untranslatableReason('chat-completions', image(`data:${type};base64,AAAA`, role), target) ?? '', new RegExp(`an image of type "${type}", which Claude and Bedrock's Converse cannot take \\(they read JPEG, PNG, GIF and WebP images\\)`), `${type} ${target} ${role}`);
      }
    }
  }
  for (const type of ['image/png', 'image/jpeg', 'image/jpg', 'image/gif', 'image/webp', 'IMAGE/PNG']) assert.equal(untranslatableReason('chat-completions', image(`data:${type};base64,AAAA`), 'converse'), undefined, type);
  // An image by URL: its type is the fetcher's to learn.
  assert.equal(untranslatableReason('chat-completions', image('https://example.com/photo.heic'), 'messages'), undefined);
  const svg = '<svg xmlns="http://www.w3.org/2000/svg"><circle r="4" fill="red"/></svg>';
  const sent = image(`data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`);
  assert.equal(untranslatableReason('chat-completions', sent, 'messages'), undefined);
  assert.equal(untranslatableReason('chat-completions', sent, 'converse'), undefined, 'in a user turn Converse takes it as a txt document');
  const { body } = chatViaMessages.request(sent, plan('claude-sonnet-4-5'));
  assert.deepEqual((body.messages as { content: unknown[] }[])[0]!.content[1], { type: 'document', source: { type: 'text', media_type: 'text/plain', data: svg } });
  // In a tool result it is a document, which Converse's tool results take none of; Messages' do.
  const inTool = image(`data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`, 'tool');
  assert.equal(untranslatableReason('chat-completions', inTool, 'messages'), undefined);
  assert.match(untranslatableReason('chat-completions', inTool, 'converse') ?? '', /SVG image in a tool message.*Converse takes no document in a tool result/);
  // A compressed SVG (.svgz) is no text: refused, named.
  assert.match(untranslatableReason('chat-completions', image(`data:image/svg+xml;base64,${Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xff]).toString('base64')}`), 'messages') ?? '', /image of type "image\/svg\+xml".*nor read as its source text/);
});

test('an image given as data goes to Claude in the type its bytes are (PNG, JPEG, GIF, WebP) when its data URL names none, a generic one or another', () => {
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]).toString('base64');
  const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46]).toString('base64');
  const gif = Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1').toString('base64');
  const webp = Buffer.from('RIFF\x24\x00\x00\x00WEBPVP8 ', 'latin1').toString('base64');
  const cases = [
    [`data:;base64,${png}`, 'image/png'],
    [`data:application/octet-stream;base64,${jpeg}`, 'image/jpeg'],
    [`data:image/png;base64,${jpeg}`, 'image/jpeg'],
    [`data:image/jpeg; charset=binary;base64,${gif}`, 'image/gif'],
    [`data:binary/octet-stream;base64,${webp}`, 'image/webp'],
    [`data:image/PNG;base64,${png}`, 'image/png'],
  ] as const;
  for (const [url, type] of cases) {
    const sent = { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url } }] }] };
    for (const target of ['messages', 'converse'] as const) assert.equal(untranslatableReason('chat-completions', sent, target), undefined, `${url.slice(0, 40)} ${target}`);
    const { body } = chatViaMessages.request(sent, plan('claude-sonnet-4-5'));
    assert.deepEqual((body.messages as { content: { source?: { media_type?: string } }[] }[])[0]!.content[1]!.source?.media_type, type, url.slice(0, 40));
  }
});

test('a chat file given by its file_id alone is refused for Claude saying the id is the client\'s provider\'s, which Claude cannot read, not that the file is unreadable', () => {
  const body = { messages: [{ role: 'user', content: [{ type: 'text', text: 'Summarise.' }, { type: 'file', file: { file_id: 'file-abc123' } }] }] };
  for (const target of ['messages', 'invoke', 'converse'] as const) {
    const reason = untranslatableReason('chat-completions', body, target) ?? '';
    assert.match(reason, /file by "file_id" \("file-abc123"\): file ids are issued by the client's provider \(OpenAI's Files API\).*which Claude cannot read; send the file's data \("file_data"\) instead/, target);
  }
  // Data beside the id carries the file.
  assert.equal(untranslatableReason('chat-completions', { messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-abc123', file_data: 'data:application/pdf;base64,JVBERi0x' } }] }] }, 'messages'), undefined);
});
