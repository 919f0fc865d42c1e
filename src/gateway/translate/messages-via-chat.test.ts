import { test } from 'node:test';
import assert from 'node:assert/strict';
import type Anthropic from '@anthropic-ai/sdk';
import { MessageStream } from '@anthropic-ai/sdk/lib/MessageStream';
import { createCatalog } from '../../catalog/index.ts';
import { resolveCandidates } from '../../domain/resolve.ts';
import type { AttemptPlan } from '../../domain/routing.ts';
import { snapshot } from '../../../test/helpers/snapshot.ts';
import { messagesViaChat } from './messages-via-chat.ts';
import { untranslatable, untranslatableReason } from './index.ts';
import { Errors, TollgateError } from '../../domain/errors.ts';
import { codecs } from '../formats/index.ts';

const catalog = createCatalog({});
const scope = { accountId: 'acct_test', keep: true, includeUsage: false };
const plan = (model: string): AttemptPlan => ({ candidate: resolveCandidates({ model, models: undefined, format: 'anthropic', surface: 'messages' }, catalog, snapshot())[0]!, keySource: 'user', credential: 'k' });

/** The Messages events a translated stream writes, as [type, data] pairs. */
function events(text: string): [string, Record<string, unknown>][] {
  return text.split('\n\n').filter(Boolean).map((block) => {
    const [line1, line2] = block.split('\n');
    return [line1!.slice('event: '.length), JSON.parse(line2!.slice('data: '.length)) as Record<string, unknown>];
  });
}

const chunk = (delta: Record<string, unknown>, finish: string | null = null) => JSON.stringify({ id: 'chatcmpl-9', model: 'gpt-x', choices: [{ index: 0, delta, finish_reason: finish }] });

test('thinking becomes a reasoning effort only for OpenAI reasoning models; tool_choice and parallel calls map', () => {
  const body = { model: 'x', max_tokens: 10, messages: [], thinking: { type: 'enabled', budget_tokens: 20_000 }, tools: [{ name: 'f', input_schema: { type: 'object' } }], tool_choice: { type: 'tool', name: 'f', disable_parallel_tool_use: true } };
  const reasoning = messagesViaChat.request({ ...body, model: 'gpt-5.4' }, plan('gpt-5.4'));
  assert.deepEqual([reasoning.body.reasoning_effort, reasoning.body.tool_choice, reasoning.body.parallel_tool_calls, reasoning.removed], ['high', { type: 'function', function: { name: 'f' } }, false, []]);
  const plain = messagesViaChat.request({ ...body, model: 'gpt-4o' }, plan('gpt-4o'));
  assert.deepEqual([plain.body.reasoning_effort, plain.removed], [undefined, ['thinking']]);
  assert.deepEqual(messagesViaChat.request({ ...body, tools: undefined }, plan('gpt-4o')).removed, ['tool_choice', 'thinking']);
});

test('a final assistant turn (Claude\'s prefill) still goes, and is named as not honoured: chat models do not continue a turn', () => {
  const prefill = messagesViaChat.request({ model: 'gpt-4o', max_tokens: 10, messages: [{ role: 'user', content: 'JSON please' }, { role: 'assistant', content: '{"a":' }] }, plan('gpt-4o'));
  assert.deepEqual((prefill.body.messages as { role: string }[]).map((m) => m.role), ['user', 'assistant']);
  assert.deepEqual(prefill.removed, ['prefill']);
  const conversation = messagesViaChat.request({ model: 'gpt-4o', max_tokens: 10, messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c' }] }, plan('gpt-4o'));
  assert.deepEqual(conversation.removed, []);
});

test('an output limit above what the model allows is fitted to it (Claude Code asks for 32,000 tokens)', () => {
  assert.equal(messagesViaChat.request({ model: 'gpt-4o', max_tokens: 32_000, messages: [] }, plan('gpt-4o')).body.max_tokens, 16_384);
  assert.equal(messagesViaChat.request({ model: 'gpt-4o', max_tokens: 1000, messages: [] }, plan('gpt-4o')).body.max_tokens, 1000);
  assert.equal(messagesViaChat.request({ model: 'openai:unlisted', max_tokens: 32_000, messages: [] }, plan('openai:unlisted')).body.max_tokens, 32_000);
});

test('a JSON answer with text and a call, cut at the length limit; provider errors keep their status', () => {
  const message = messagesViaChat.answer({
    id: 'chatcmpl-1', model: 'gpt-x', usage: { prompt_tokens: 10, completion_tokens: 4 },
    choices: [{ finish_reason: 'length', message: { content: 'Let me check.', tool_calls: [{ id: 'c1', function: { name: 'f', arguments: '{"a":1}' } }, { id: 'c2', function: { name: 'g', arguments: '' } }] } }],
  }, scope) as Record<string, unknown>;
  assert.deepEqual(message.content, [{ type: 'text', text: 'Let me check.' }, { type: 'tool_use', id: 'c1', name: 'f', input: { a: 1 } }, { type: 'tool_use', id: 'c2', name: 'g', input: {} }]);
  assert.deepEqual([message.id, message.stop_reason, message.usage], ['msg_1', 'max_tokens', { input_tokens: 10, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 4 }]);
  assert.deepEqual(JSON.parse(messagesViaChat.error(429, '{"error":{"message":"slow down","type":"requests"}}')), { type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } });
  assert.deepEqual(JSON.parse(messagesViaChat.error(503, 'upstream down')), { type: 'error', error: { type: 'overloaded_error', message: 'upstream down' } });
});

test('a stream with text and two calls: one block each, closed in order; no [DONE] still ends with message_stop', () => {
  const t = messagesViaChat.stream(scope);
  t.event('', chunk({ role: 'assistant', content: '' }));
  t.event('', chunk({ content: 'Checking' }));
  t.event('', chunk({ tool_calls: [{ index: 0, id: 'c1', function: { name: 'a', arguments: '{"x"' } }] }));
  t.event('', chunk({ tool_calls: [{ index: 0, function: { arguments: ':1}' } }] }));
  t.event('', chunk({ tool_calls: [{ index: 1, id: 'c2', function: { name: 'b', arguments: '{}' } }] }));
  t.event('', chunk({}, 'tool_calls'));
  t.event('', JSON.stringify({ id: 'chatcmpl-9', choices: [], usage: { prompt_tokens: 7, completion_tokens: 3, prompt_tokens_details: { cached_tokens: 2 } } }));
  const out = events(t.take() + t.finish());
  assert.deepEqual(out.map(([type, data]) => `${type}${data.index ?? ''}`), [
    'message_start', 'content_block_start0', 'content_block_delta0', 'content_block_stop0',
    'content_block_start1', 'content_block_delta1', 'content_block_delta1', 'content_block_stop1',
    'content_block_start2', 'content_block_delta2', 'content_block_stop2', 'message_delta', 'message_stop',
  ]);
  assert.deepEqual(out[4]![1].content_block, { type: 'tool_use', id: 'c1', name: 'a', input: {} });
  assert.deepEqual(out.at(-2)![1], { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null, stop_details: null, container: null }, usage: { input_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 2, output_tokens: 3 } });
  assert.equal(t.finish(), '', 'closed once');
});

test('an error chunk from the provider becomes an Anthropic error event, and nothing follows it', () => {
  const t = messagesViaChat.stream(scope);
  t.event('', chunk({ content: 'Hi' }));
  t.event('', JSON.stringify({ error: { message: 'The server had an error', type: 'server_error' } }));
  t.event('', '[DONE]');
  const out = events(t.take() + t.finish());
  assert.deepEqual(out.map(([type]) => type), ['message_start', 'content_block_start', 'content_block_delta', 'error']);
  assert.deepEqual(out.at(-1)![1], { type: 'error', error: { type: 'api_error', message: 'The server had an error' } });
});

test('calls without an index (Google\'s OpenAI-compatible endpoint) are one block each, and stop for tool use', () => {
  const t = messagesViaChat.stream(scope);
  t.event('', chunk({ tool_calls: [{ id: 'g1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }] }));
  t.event('', chunk({ tool_calls: [{ id: 'g2', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } }] }, 'stop'));
  const out = events(t.finish());
  const starts = out.filter(([type]) => type === 'content_block_start').map(([, data]) => data.content_block);
  assert.deepEqual(starts, [{ type: 'tool_use', id: 'g1', name: 'weather', input: {} }, { type: 'tool_use', id: 'g2', name: 'weather', input: {} }]);
  assert.deepEqual(out.filter(([type]) => type === 'content_block_delta').map(([, data]) => [data.index, (data.delta as { partial_json: string }).partial_json]), [[0, '{"city":"Paris"}'], [1, '{"city":"Rome"}']]);
  assert.equal((out.at(-2)![1].delta as { stop_reason: string }).stop_reason, 'tool_use');
  // The same in a JSON answer.
  const answer = messagesViaChat.answer({ choices: [{ finish_reason: 'stop', message: { content: null, tool_calls: [{ id: 'g1', function: { name: 'weather', arguments: '{}' } }] } }] }, scope) as { stop_reason: string };
  assert.equal(answer.stop_reason, 'tool_use');
});

test('a streamed refusal is text; a failed tool result says so; images a tool returned follow its result', () => {
  const t = messagesViaChat.stream(scope);
  t.event('', chunk({ refusal: 'I can\'t help with that.' }));
  const deltas = events(t.finish()).filter(([type]) => type === 'content_block_delta').map(([, data]) => data.delta);
  assert.deepEqual(deltas, [{ type: 'text_delta', text: 'I can\'t help with that.' }]);
  const { body } = messagesViaChat.request({ model: 'gpt-4o', max_tokens: 10, messages: [{ role: 'user', content: [
    { type: 'tool_result', tool_use_id: 't1', is_error: true, content: 'exit 2' },
    { type: 'tool_result', tool_use_id: 't2', content: [{ type: 'text', text: 'the picture' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }] },
    { type: 'text', text: 'go on' },
  ] }] }, plan('gpt-4o'));
  assert.deepEqual(body.messages, [
    { role: 'tool', tool_call_id: 't1', content: 'Error: exit 2' },
    { role: 'tool', tool_call_id: 't2', content: 'the picture' },
    { role: 'user', content: [{ type: 'text', text: 'Output of tool call t2:' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }, { type: 'text', text: 'go on' }] },
  ]);
});

test('parallel calls all numbered 0 but with their own ids (Ollama) are separate blocks', () => {
  const t = messagesViaChat.stream(scope);
  t.event('', chunk({ tool_calls: [{ index: 0, id: 'o1', function: { name: 'weather', arguments: '{"city":"Paris"}' } }] }));
  t.event('', chunk({ tool_calls: [{ index: 0, id: 'o2', function: { name: 'weather', arguments: '{"city":' } }] }));
  t.event('', chunk({ tool_calls: [{ index: 0, function: { arguments: '"Rome"}' } }] }, 'tool_calls'));
  const deltas = events(t.finish()).filter(([type]) => type === 'content_block_delta').map(([, data]) => [data.index, (data.delta as { partial_json: string }).partial_json]);
  // The first call streams live; later ones come whole at the end (see the interleaving test below).
  assert.deepEqual(deltas, [[0, '{"city":"Paris"}'], [1, '{"city":"Rome"}']]);
});

test('calls whose chunks a server interleaves: every delta lands inside its own block, blocks one at a time', () => {
  const t = messagesViaChat.stream(scope);
  t.event('', chunk({ content: 'Checking.' }));
  t.event('', chunk({ tool_calls: [{ index: 0, id: 'c0', function: { name: 'weather', arguments: '{"city":' } }] }));
  t.event('', chunk({ tool_calls: [{ index: 1, id: 'c1', function: { name: 'time', arguments: '{"zone":' } }] }));
  t.event('', chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }));
  t.event('', chunk({ tool_calls: [{ index: 1, function: { arguments: '"CET"}' } }] }, 'tool_calls'));
  const sent = events(t.finish());
  const open = new Set<unknown>();
  const inputs = new Map<unknown, string>();
  for (const [type, data] of sent) {
    if (type === 'content_block_start') { assert.equal(open.size, 0, 'one block at a time'); open.add(data.index); }
    if (type === 'content_block_delta') {
      assert.ok(open.has(data.index), `delta for block ${String(data.index)} while it is open`);
      const delta = data.delta as { partial_json?: string };
      if (delta.partial_json !== undefined) inputs.set(data.index, (inputs.get(data.index) ?? '') + delta.partial_json);
    }
    if (type === 'content_block_stop') open.delete(data.index);
  }
  assert.deepEqual([...inputs.values()].map((json) => JSON.parse(json)), [{ city: 'Paris' }, { zone: 'CET' }]);
  const names = sent.filter(([type]) => type === 'content_block_start').map(([, data]) => (data.content_block as { name?: string; id?: string }));
  assert.deepEqual(names.slice(1).map((b) => [b.id, b.name]), [['c0', 'weather'], ['c1', 'time']]);
  assert.equal((sent.find(([type]) => type === 'message_delta')![1].delta as { stop_reason: string }).stop_reason, 'tool_use');
});

test('a long metadata.user_id (Claude Code\'s) goes as its SHA-256, within OpenAI\'s 64 characters; thinking-only turns are left out', () => {
  const long = `user_${'a'.repeat(64)}_account_${'b'.repeat(36)}_session_${'c'.repeat(36)}`;
  const { body } = messagesViaChat.request({ model: 'gpt-4o', max_tokens: 5, metadata: { user_id: long }, messages: [
    { role: 'user', content: 'hi' }, { role: 'assistant', content: [{ type: 'thinking', thinking: 'hmm', signature: 's' }] }, { role: 'user', content: 'again' },
  ] }, plan('gpt-4o'));
  assert.match(String(body.user), /^[0-9a-f]{64}$/);
  assert.equal(messagesViaChat.request({ model: 'gpt-4o', max_tokens: 5, metadata: { user_id: 'u1' }, messages: [] }, plan('gpt-4o')).body.user, 'u1');
  assert.deepEqual(body.messages, [{ role: 'user', content: 'hi' }, { role: 'user', content: 'again' }]);
});

test('a long tool name is never shortened to another tool\'s own name, and calls map back to the right one', () => {
  const long = `mcp__weather_service_for_the_whole_planet__get_current_conditions_by_city_name`;
  const first = messagesViaChat.request({ model: 'gpt-4o', max_tokens: 5, messages: [], tools: [{ name: long, input_schema: { type: 'object' } }] }, plan('gpt-4o'));
  const usual = (first.body.tools as { function: { name: string } }[])[0]!.function.name;
  // A second tool named exactly what the long one is usually shortened to.
  const { body, toolNames } = messagesViaChat.request({ model: 'gpt-4o', max_tokens: 5, messages: [], tools: [{ name: long, input_schema: { type: 'object' } }, { name: usual, input_schema: { type: 'object' } }] }, plan('gpt-4o'));
  const [sentLong, sentOther] = (body.tools as { function: { name: string } }[]).map((t) => t.function.name);
  assert.equal(sentOther, usual);
  assert.notEqual(sentLong, usual);
  assert.ok(sentLong!.length <= 64);
  const called = (name: string) => (messagesViaChat.answer({ choices: [{ message: { tool_calls: [{ id: 'c', type: 'function', function: { name, arguments: '{}' } }] }, finish_reason: 'tool_calls' }] }, { ...scope, toolNames }) as { content: { name: string }[] }).content[0]!.name;
  assert.deepEqual([called(sentLong!), called(sentOther!)], [long, usual]);
});

test('a call named in a later chunk than its first (some chat servers) starts its block with the name', () => {
  const t = messagesViaChat.stream(scope);
  t.event('', chunk({ tool_calls: [{ index: 0, id: 'c1', type: 'function', function: { arguments: '' } }] }));
  t.event('', chunk({ tool_calls: [{ index: 0, function: { name: 'weather' } }] }));
  t.event('', chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":"Paris"}' } }] }, 'tool_calls'));
  const starts = events(t.finish()).filter(([type]) => type === 'content_block_start').map(([, data]) => data.content_block);
  assert.deepEqual(starts, [{ type: 'tool_use', id: 'c1', name: 'weather', input: {} }]);
});

test('a call whose name comes after its first argument pieces still starts its block with the name: the pieces wait for it, the SDK assembles the whole input', async () => {
  const t = messagesViaChat.stream({ ...scope, toolNames: new Map([['short_name', 'mcp__server__long_tool']]) });
  t.event('', chunk({ tool_calls: [{ index: 0, id: 'c1', type: 'function', function: { arguments: '{"city":' } }] }));
  t.event('', chunk({ tool_calls: [{ index: 0, function: { arguments: '"Par' } }] }));
  const before = t.take();
  t.event('', chunk({ tool_calls: [{ index: 0, function: { name: 'short_name', arguments: 'is"}' } }] }, 'tool_calls'));
  const sse = before + t.take() + t.finish();
  assert.equal(events(before).some(([type]) => type.startsWith('content_block')), false, 'nothing of the call before its name');
  const starts = events(sse).filter(([type]) => type === 'content_block_start').map(([, data]) => data.content_block);
  assert.deepEqual(starts, [{ type: 'tool_use', id: 'c1', name: 'mcp__server__long_tool', input: {} }]);
  const message = await sdkMessage(sse);
  assert.deepEqual(message.content, [{ type: 'tool_use', id: 'c1', name: 'mcp__server__long_tool', input: { city: 'Paris' } }]);
  assert.equal(message.stop_reason, 'tool_use');
  // Two calls, the first named only after the second opened: the second streams, the first comes whole after it.
  const u = messagesViaChat.stream(scope);
  u.event('', chunk({ tool_calls: [{ index: 0, id: 'c1', function: { arguments: '{"city":"Rome"}' } }] }));
  u.event('', chunk({ tool_calls: [{ index: 1, id: 'c2', function: { name: 'time', arguments: '{}' } }] }));
  u.event('', chunk({ tool_calls: [{ index: 0, function: { name: 'weather' } }] }, 'tool_calls'));
  const both = await sdkMessage(u.finish());
  assert.deepEqual(both.content.map((b) => b.type === 'tool_use' ? [b.id, b.name, b.input] : b.type), [['c2', 'time', {}], ['c1', 'weather', { city: 'Rome' }]]);
});

test('Claude Code\'s shapes: its billing line leaves the system prompt (the cached prefix stays the same), mid-conversation system messages stay system, /effort sets the reasoning effort', () => {
  const system = [
    { type: 'text', text: 'x-anthropic-billing-header: cc_version=2.1.0; cch=4f2a9c;' },
    { type: 'text', text: 'You are Claude Code.', cache_control: { type: 'ephemeral' } },
  ];
  const messages = [
    { role: 'user', content: 'fix the bug' },
    { role: 'system', content: [{ type: 'text', text: '# Environment\ncwd: /repo' }] },
    { role: 'user', content: 'go on' },
  ];
  const { body, removed } = messagesViaChat.request({ model: 'gpt-5.4', max_tokens: 5, system, messages, thinking: { type: 'adaptive' }, output_config: { effort: 'low' } }, plan('gpt-5.4'));
  assert.deepEqual(body.messages, [
    { role: 'system', content: 'You are Claude Code.' },
    { role: 'user', content: 'fix the bug' },
    { role: 'system', content: '# Environment\ncwd: /repo' },
    { role: 'user', content: 'go on' },
  ]);
  assert.deepEqual([body.reasoning_effort, removed], ['low', []]);
  const effort = (value: string, model = 'gpt-5.4') => messagesViaChat.request({ model, max_tokens: 5, messages: [], output_config: { effort: value } }, plan(model));
  assert.deepEqual([effort('max').body.reasoning_effort, effort('medium').body.reasoning_effort], ['high', 'medium']);
  assert.deepEqual([effort('high', 'gpt-4o').body.reasoning_effort, effort('high', 'gpt-4o').removed], [undefined, ['output_config']]);
  // Other output settings have no place in chat: named as removed.
  assert.deepEqual(messagesViaChat.request({ model: 'gpt-5.4', max_tokens: 5, messages: [], output_config: { effort: 'low', verbosity: 'low' } }, plan('gpt-5.4')).removed, ['output_config']);
});

test('an effort or a thinking kind Anthropic lacks is named removed, not read as high (or medium) effort', () => {
  const sent = (fields: Record<string, unknown>) => {
    const { body, removed } = messagesViaChat.request({ model: 'gpt-5.4', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }], ...fields }, plan('gpt-5.4'));
    return [body.reasoning_effort, removed];
  };
  for (const effort of ['ULTRA', '', 'none', 'minimal', 'HIGH']) assert.deepEqual(sent({ output_config: { effort } }), [undefined, ['output_config']], effort);
  for (const thinking of [{ type: 'bogus' }, { type: 5 }, 'on', 5]) assert.deepEqual(sent({ thinking }), [undefined, ['thinking']], JSON.stringify(thinking));
  // Beside thinking, an odd effort leaves the thinking's effort, and the effort is still named.
  assert.deepEqual(sent({ thinking: { type: 'enabled', budget_tokens: 2048 }, output_config: { effort: 'ULTRA' } }), ['low', ['output_config']]);
  assert.deepEqual([sent({ output_config: { effort: 'xhigh' } }), sent({ thinking: { type: 'disabled' } })], [['high', []], [undefined, []]]);
});

test('Claude\'s JSON outputs (output_config.format, the beta\'s output_format) go up as chat\'s json_schema response_format, strict when OpenAI\'s rules allow it', () => {
  const closed = { type: 'object', properties: { city: { type: 'string' }, days: { type: 'array', items: { type: 'object', properties: { t: { type: 'number' } }, required: ['t'], additionalProperties: false } } }, required: ['city', 'days'], additionalProperties: false };
  const asked = messagesViaChat.request({ model: 'gpt-4o', max_tokens: 5, messages: [], output_config: { format: { type: 'json_schema', schema: closed } } }, plan('gpt-4o'));
  assert.deepEqual([asked.body.response_format, asked.removed], [{ type: 'json_schema', json_schema: { name: 'output', schema: closed, strict: true } }, []]);
  // Claude does not ask every property to be required; OpenAI's strict mode does (and refuses the schema): not strict then.
  const optional = { type: 'object', properties: { city: { type: 'string' }, note: { type: 'string' } }, required: ['city'], additionalProperties: false };
  const beta = messagesViaChat.request({ model: 'gpt-4o', max_tokens: 5, messages: [], output_format: { type: 'json_schema', schema: optional } }, plan('gpt-4o'));
  assert.deepEqual([beta.body.response_format, beta.removed], [{ type: 'json_schema', json_schema: { name: 'output', schema: optional, strict: false } }, []]);
  // With tools and an effort beside it, as Claude Code and the AI SDK's agents send it.
  const both = messagesViaChat.request({
    model: 'gpt-5.4', max_tokens: 5, messages: [], tools: [{ name: 'weather', input_schema: { type: 'object' } }],
    output_config: { effort: 'low', format: { type: 'json_schema', schema: closed } },
  }, plan('gpt-5.4'));
  assert.deepEqual([both.body.reasoning_effort, (both.body.response_format as { type: string }).type, (both.body.tools as unknown[]).length, both.removed], ['low', 'json_schema', 1, []]);
});

test('documents chat can carry go up with their title; one it cannot (a PDF by URL, a Files API file) keeps the request from chat', () => {
  const messages = [{ role: 'user', content: [
    { type: 'document', title: 'Q3 notes', source: { type: 'text', media_type: 'text/plain', data: 'Revenue up.' } },
    { type: 'document', source: { type: 'content', content: [{ type: 'text', text: 'Clause 1.' }, { type: 'image', source: { type: 'url', url: 'https://x/sig.png' } }] } },
    { type: 'text', text: 'Summarize.' },
  ] }];
  const { body } = messagesViaChat.request({ model: 'gpt-4o', max_tokens: 10, messages }, plan('gpt-4o'));
  assert.deepEqual(body.messages, [{ role: 'user', content: [
    { type: 'text', text: 'Document: Q3 notes' }, { type: 'text', text: 'Revenue up.' },
    { type: 'text', text: 'Clause 1.' }, { type: 'image_url', image_url: { url: 'https://x/sig.png' } },
    { type: 'text', text: 'Summarize.' },
  ] }]);
  assert.equal(untranslatableReason('messages', { messages }, 'chat-completions'), undefined);
  const pdfByUrl = { type: 'document', source: { type: 'url', url: 'https://x/report.pdf' } };
  const fromFilesApi = { type: 'image', source: { type: 'file', file_id: 'file_011' } };
  for (const unsendable of [
    [{ role: 'user', content: [pdfByUrl, { type: 'text', text: 'Summarize.' }] }],
    [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [fromFilesApi] }] }],
  ]) assert.match(untranslatableReason('messages', { messages: unsendable }, 'chat-completions') ?? '', /cannot carry/);
});

test('more stop sequences than chat takes: the first 4 go, and stop_sequences is named as not sent whole', () => {
  const stop_sequences = ['a', 'b', 'c', 'd', 'e'];
  const { body, removed } = messagesViaChat.request({ model: 'gpt-4o', max_tokens: 10, stop_sequences, messages: [{ role: 'user', content: 'x' }] }, plan('gpt-4o'));
  assert.deepEqual([body.stop, removed], [['a', 'b', 'c', 'd'], ['stop_sequences']]);
  assert.deepEqual(messagesViaChat.request({ model: 'gpt-4o', max_tokens: 10, stop_sequences: ['a'], messages: [] }, plan('gpt-4o')).body.stop, ['a']);
});

test('a strict Claude tool reaches a chat model as a strict function when its schema meets OpenAI\'s rules, else as a plain one', () => {
  const closed = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
  const open = { type: 'object', properties: { city: { type: 'string' }, note: { type: 'string' } }, required: ['city'], additionalProperties: false };
  const { body } = messagesViaChat.request({ model: 'gpt-4o', max_tokens: 5, messages: [], tools: [{ name: 'a', strict: true, input_schema: closed }, { name: 'b', strict: true, input_schema: open }] }, plan('gpt-4o'));
  assert.deepEqual(body.tools, [
    { type: 'function', function: { name: 'a', parameters: closed, strict: true } },
    { type: 'function', function: { name: 'b', parameters: open } },
  ]);
});

test('strict only for schemas OpenAI takes as strict: an object root, every object closed, no allOf/oneOf/not', () => {
  const format = (schema: unknown) => messagesViaChat.request({ model: 'gpt-4o', max_tokens: 5, messages: [], output_config: { format: { type: 'json_schema', schema } } }, plan('gpt-4o')).body.response_format as { json_schema: { strict: boolean } };
  const closed = { type: 'object', properties: { a: { type: 'string' } }, required: ['a'], additionalProperties: false };
  assert.equal(format(closed).json_schema.strict, true);
  for (const schema of [{}, { type: 'object' }, { type: 'array', items: closed }, { allOf: [closed] }, { ...closed, properties: { a: { type: 'object' } } }, { ...closed, properties: { a: { oneOf: [{ type: 'string' }] } } }]) {
    assert.equal(format(schema).json_schema.strict, false, JSON.stringify(schema));
  }
  const tool = (input_schema: unknown) => (messagesViaChat.request({ model: 'gpt-4o', max_tokens: 5, messages: [], tools: [{ name: 't', strict: true, input_schema }] }, plan('gpt-4o')).body.tools as { function: { strict?: boolean } }[])[0]!.function.strict;
  assert.deepEqual([tool({ type: 'object' }), tool(closed)], [undefined, true]);
});

test('a translated message carries the nullable fields the SDK types declare, and reasoning as thinking tokens', () => {
  const message = messagesViaChat.answer({ id: 'chatcmpl-7', model: 'o3', choices: [{ index: 0, message: { content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 10, completion_tokens: 300, completion_tokens_details: { reasoning_tokens: 256 } } }, scope) as Record<string, unknown>;
  assert.deepEqual([message.container, message.stop_details, message.stop_sequence], [null, null, null]);
  assert.deepEqual((message.usage as Record<string, unknown>).output_tokens_details, { thinking_tokens: 256 });
});

test('a translated stream\'s message_delta carries every field of Anthropic\'s delta, as the buffered message does (strict validators need them)', () => {
  const t = messagesViaChat.stream(scope);
  t.event('', chunk({ role: 'assistant', content: 'hi' }));
  t.event('', chunk({}, 'length'));
  const delta = events(t.take() + t.finish()).find(([type]) => type === 'message_delta')![1].delta;
  assert.deepEqual(delta, { stop_reason: 'max_tokens', stop_sequence: null, stop_details: null, container: null });
});

test('a request continuing a message thread is never translated: Anthropic alone holds its earlier turns; refused as Anthropic refuses a thread it lacks', () => {
  const continued = { model: 'gpt-4o', max_tokens: 10, thread: { type: 'continue', previous_message_id: 'msg_01abc' }, messages: [{ role: 'user', content: 'and then?' }] };
  for (const target of ['chat-completions', 'responses'] as const) {
    assert.deepEqual(untranslatable('messages', continued, target), { error: 'threadNotHeld', details: { id: 'msg_01abc' } }, target);
  }
  // Starting a thread, or none, translates (the thread is dropped and named; a later continue is refused).
  assert.equal(untranslatable('messages', { ...continued, thread: { type: 'create' } }, 'chat-completions'), undefined);
  assert.equal(untranslatable('messages', { ...continued, thread: undefined }, 'chat-completions'), undefined);
  assert.deepEqual(messagesViaChat.request({ ...continued, thread: { type: 'create' } }, plan('gpt-4o')).removed, ['thread']);
  // Resolution skips the translated candidate and keeps a model serving Messages itself (a failover never translates it).
  const both = resolveCandidates({ model: 'gpt-4o', models: ['claude-sonnet-4-6'], format: 'anthropic', surface: 'messages', untranslatable, body: continued }, catalog, snapshot());
  assert.deepEqual(both.map((c) => [c.modelId, c.surface.surface]), [['claude-sonnet-4-6', 'messages']]);
  // None left: Anthropic's 404 with its error code, which the Anthropic SDK raises as ThreadNotFoundError.
  assert.throws(() => resolveCandidates({ model: 'gpt-4o', models: undefined, format: 'anthropic', surface: 'messages', untranslatable, body: continued }, catalog, snapshot()), (e: unknown) => {
    assert.ok(e instanceof TollgateError && e.spec === Errors.threadNotHeld, String(e));
    const body = JSON.parse(codecs.anthropic.errorBody(e, 'req_1')) as { type: string; error: Record<string, unknown> };
    assert.equal(e.status, 404);
    assert.deepEqual([body.type, body.error.type, body.error.code, body.error.details], ['error', 'not_found_error', 'ERR_NGROK_27226', { error_code: 'thread_not_found' }]);
    assert.match(String(body.error.message), /"gpt-4o" of provider "openai".*previous_message_id "msg_01abc".*Replay the full conversation/);
    return true;
  });
});

test('an answer whose content is an array of parts (Mistral\'s reasoning models: thinking and text parts) keeps its text, buffered and streamed', () => {
  const message = messagesViaChat.answer({
    id: 'chatcmpl-2', model: 'magistral', usage: { prompt_tokens: 10, completion_tokens: 4 },
    choices: [{ finish_reason: 'stop', message: { role: 'assistant', content: [{ type: 'thinking', thinking: [{ type: 'text', text: 'hmm' }] }, { type: 'text', text: 'Paris.' }] } }],
  }, scope) as Record<string, unknown>;
  assert.deepEqual(message.content, [{ type: 'text', text: 'Paris.' }]);
  const t = messagesViaChat.stream(scope);
  t.event('', chunk({ role: 'assistant', content: [{ type: 'thinking', thinking: [{ type: 'text', text: 'hmm' }] }] }));
  t.event('', chunk({ content: [{ type: 'text', text: 'Par' }] }));
  t.event('', chunk({ content: 'is.' }, 'stop'));
  t.event('', '[DONE]');
  const text = events(t.take()).filter(([type]) => type === 'content_block_delta').map(([, e]) => (e.delta as { text: string }).text).join('');
  assert.equal(text, 'Paris.');
});

test('usage is what the meter bills, wherever a chat server puts it: Kimi\'s in its last choice, top-level cache hits, reasoning counted only in the total', () => {
  // DeepSeek's cache hits at the top level; Gemini's thinking only in total_tokens (OpenAI counts it inside the output).
  const message = messagesViaChat.answer({ id: 'chatcmpl-3', model: 'deepseek-chat', choices: [{ finish_reason: 'stop', message: { content: 'ok' } }], usage: { prompt_tokens: 100, completion_tokens: 10, total_tokens: 150, prompt_cache_hit_tokens: 60 } }, scope) as { usage: unknown };
  assert.deepEqual(message.usage, { input_tokens: 40, cache_creation_input_tokens: 0, cache_read_input_tokens: 60, output_tokens: 50, output_tokens_details: { thinking_tokens: 40 } });
  const t = messagesViaChat.stream(scope);
  t.event('', chunk({ role: 'assistant', content: 'Hi' }));
  t.event('', JSON.stringify({ id: 'chatcmpl-9', model: 'kimi-k2.6', choices: [{ index: 0, delta: {}, finish_reason: 'stop', usage: { prompt_tokens: 19, completion_tokens: 13, total_tokens: 32, cached_tokens: 8 } }] }));
  t.event('', '[DONE]');
  const delta = events(t.take() + t.finish()).find(([type]) => type === 'message_delta')!;
  assert.deepEqual(delta[1].usage, { input_tokens: 11, cache_creation_input_tokens: 0, cache_read_input_tokens: 8, output_tokens: 13 });
});

test('calls a chat server gives empty or no ids (LM Studio, Gemini\'s OpenAI-compatible endpoint) get tool_use ids of their own, distinct across answers, buffered and streamed', () => {
  const calls = (id: string | undefined) => [
    { ...(id === undefined ? {} : { id }), type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
    { ...(id === undefined ? {} : { id }), type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } },
  ];
  const ids = (answer: unknown) => (answer as { content: { type: string; id: string }[] }).content.filter((b) => b.type === 'tool_use').map((b) => b.id);
  const buffered = [
    ...ids(messagesViaChat.answer({ choices: [{ finish_reason: 'tool_calls', message: { content: null, tool_calls: calls('') } }] }, scope)),
    ...ids(messagesViaChat.answer({ choices: [{ finish_reason: 'tool_calls', message: { content: null, tool_calls: calls(undefined) } }] }, scope)),
  ];
  assert.ok(buffered.every((id) => typeof id === 'string' && id !== '') && new Set(buffered).size === 4, `tool_use ids ${JSON.stringify(buffered)}`);
  const streamed: string[] = [];
  for (let turn = 0; turn < 2; turn++) {
    const t = messagesViaChat.stream(scope);
    t.event('', chunk({ tool_calls: [{ index: 0, id: '', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }] }));
    t.event('', chunk({ tool_calls: [{ index: 1, id: '', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } }] }));
    t.event('', chunk({}, 'tool_calls'));
    t.event('', '[DONE]');
    for (const [type, data] of events(t.take() + t.finish())) if (type === 'content_block_start') streamed.push((data.content_block as { id: string }).id);
  }
  assert.ok(streamed.every((id) => id !== '') && new Set(streamed).size === 4, `tool_use ids ${JSON.stringify(streamed)}`);
});

test('two calls of one answer the provider gave the same id get distinct tool_use ids (the first keeps it), buffered and streamed: each tool_result pairs with one call', () => {
  const ids = (answer: unknown) => (answer as { content: { type: string; id: string }[] }).content.filter((b) => b.type === 'tool_use').map((b) => b.id);
  const buffered = ids(messagesViaChat.answer({ choices: [{ finish_reason: 'tool_calls', message: { content: null, tool_calls: [
    { id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
    { id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } },
  ] } }] }, scope));
  assert.equal(buffered[0], 'call_1');
  assert.equal(new Set(buffered).size, 2, `tool_use ids ${JSON.stringify(buffered)}`);
  const t = messagesViaChat.stream(scope);
  t.event('', chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }] }));
  t.event('', chunk({ tool_calls: [{ index: 1, id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } }] }));
  t.event('', chunk({}, 'tool_calls'));
  t.event('', '[DONE]');
  const streamed = events(t.take() + t.finish()).filter(([type]) => type === 'content_block_start').map(([, data]) => (data.content_block as { id: string }).id);
  assert.equal(streamed[0], 'call_1');
  assert.equal(new Set(streamed).size, 2, `tool_use ids ${JSON.stringify(streamed)}`);
});

/** What the Anthropic SDK's MessageStream assembles from a translated stream (its events fed to the SDK as they are). */
async function sdkMessage(sse: string, blocks: Anthropic.ContentBlock[] = []): Promise<Anthropic.Message> {
  const lines = events(sse).map(([, data]) => `${JSON.stringify(data)}\n`).join('');
  // `contentBlock`: each block as the SDK has it at its content_block_stop (where Claude Code takes a call's input).
  return MessageStream.fromReadableStream(new Response(lines).body!).on('contentBlock', (b) => blocks.push(structuredClone(b))).finalMessage();
}

test('a mid-stream provider error keeps its kind, as Anthropic reports it: the request\'s own fault, overloaded, rate limited, else api_error (OpenAI\'s types and codes, OpenRouter\'s numeric codes)', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ message: 'Rate limit reached for gpt-4o', type: 'requests', code: 'rate_limit_exceeded' }, 'rate_limit_error'],
    [{ message: 'Too many requests', code: 429 }, 'rate_limit_error'],
    [{ message: 'No provider available', code: 503 }, 'overloaded_error'],
    [{ message: 'Overloaded', code: 529 }, 'overloaded_error'],
    [{ message: 'Overloaded', type: 'overloaded_error' }, 'overloaded_error'],
    [{ message: 'The engine is currently overloaded', type: 'server_error', code: 'engine_overloaded' }, 'overloaded_error'],
    [{ message: 'The server had an error', type: 'server_error' }, 'api_error'],
    [{ message: 'Provider returned error', code: 502 }, 'api_error'],
    [{ message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota' }, 'api_error'],
    // A type naming only what ran out, as OpenAI's rate limits are sometimes sent.
    [{ message: 'Rate limit reached', type: 'requests' }, 'rate_limit_error'],
    // The request's own fault, which the stream opening relays rather than fail over: an agent must not retry it.
    [{ message: 'odd', code: 400 }, 'invalid_request_error'],
    [{ message: 'This model\'s maximum context length is 8192 tokens', type: 'invalid_request_error', code: 'context_length_exceeded' }, 'invalid_request_error'],
  ];
  // The same statuses answered before the stream (Anthropic's own overload status among them).
  assert.equal((JSON.parse(messagesViaChat.error(529, 'Overloaded')) as { error: { type: string } }).error.type, 'overloaded_error');
  for (const [error, type] of cases) {
    const t = messagesViaChat.stream(scope);
    t.event('', chunk({ content: 'Hi' }));
    t.event('', JSON.stringify({ error }));
    assert.deepEqual(events(t.take()).at(-1), ['error', { type: 'error', error: { type, message: error.message } }], JSON.stringify(error));
  }
});

test('a first chunk with no choices (Azure\'s prompt_filter_results, id and model empty) does not name the message: the first real chunk does', async () => {
  const t = messagesViaChat.stream(scope);
  t.event('', JSON.stringify({ id: '', choices: [], created: 0, model: '', object: '', prompt_filter_results: [{ prompt_index: 0, content_filter_results: {} }] }));
  t.event('', JSON.stringify({ id: 'chatcmpl-CECImr5', model: 'gpt-5-mini-2025-08-07', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }));
  t.event('', JSON.stringify({ id: 'chatcmpl-CECImr5', model: 'gpt-5-mini-2025-08-07', choices: [{ index: 0, delta: { content: 'Sol' }, finish_reason: null }] }));
  t.event('', JSON.stringify({ id: 'chatcmpl-CECImr5', model: 'gpt-5-mini-2025-08-07', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }));
  const sse = t.take() + t.finish();
  const start = events(sse)[0]![1].message as Record<string, unknown>;
  assert.deepEqual([start.id, start.model], ['msg_CECImr5', 'gpt-5-mini-2025-08-07']);
  const message = await sdkMessage(sse);
  assert.deepEqual([message.id, message.model, message.content], ['msg_CECImr5', 'gpt-5-mini-2025-08-07', [{ type: 'text', text: 'Sol' }]]);
  // A stream or answer naming nothing at all: an id of its own (one a client may key on, never a shared
  // placeholder), and the model the client asked for.
  const ids = new Set<unknown>();
  for (let i = 0; i < 2; i++) {
    const bare = messagesViaChat.stream({ ...scope, request: { model: 'gpt-4o' } });
    bare.event('', JSON.stringify({ choices: [{ index: 0, delta: { content: 'x' }, finish_reason: 'stop' }] }));
    const named = events(bare.take() + bare.finish())[0]![1].message as Record<string, unknown>;
    assert.match(String(named.id), /^msg_\w{20,}$/);
    assert.equal(named.model, 'gpt-4o');
    ids.add(named.id);
  }
  const answered = messagesViaChat.answer({ choices: [{ finish_reason: 'stop', message: { content: 'x' } }] }, { ...scope, request: { model: 'gpt-4o' } }) as Record<string, unknown>;
  assert.equal(answered.model, 'gpt-4o');
  ids.add(answered.id);
  assert.equal(ids.size, 3);
});

test('text between a call\'s argument pieces: the call\'s block stays whole (no delta after its stop), and the SDK assembles the call and the text', async () => {
  const t = messagesViaChat.stream(scope);
  t.event('', chunk({ content: 'Checking.' }));
  t.event('', chunk({ tool_calls: [{ index: 0, id: 'c0', type: 'function', function: { name: 'weather', arguments: '{"city":' } }] }));
  t.event('', chunk({ content: ' One moment.' }));
  t.event('', chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }));
  t.event('', chunk({}, 'tool_calls'));
  const sse = t.take() + t.finish();
  const stopped = new Set<unknown>();
  for (const [type, data] of events(sse)) {
    if (type === 'content_block_delta') assert.ok(!stopped.has(data.index), `delta for block ${String(data.index)} after its stop`);
    if (type === 'content_block_stop') stopped.add(data.index);
  }
  const atStop: Anthropic.ContentBlock[] = [];
  const message = await sdkMessage(sse, atStop);
  const shown = (b: Anthropic.ContentBlock) => (b.type === 'text' ? b.text : b.type === 'tool_use' ? b.input : b.type);
  assert.deepEqual(message.content.map(shown), ['Checking.', { city: 'Paris' }, ' One moment.']);
  assert.deepEqual(atStop.map(shown), message.content.map(shown), 'each block whole at its stop');
  assert.equal(message.stop_reason, 'tool_use');
});

test('a call whose arguments are not a JSON object is refused, never handed to the client as {}: a JSON answer throws ngrok\'s error naming the tool (as the client knows it) and why', () => {
  const answer = (args: string) => messagesViaChat.answer({
    id: 'chatcmpl-1', model: 'gpt-x', usage: { prompt_tokens: 10, completion_tokens: 4 },
    choices: [{ finish_reason: 'length', message: { content: 'Let me check.', tool_calls: [{ id: 'c1', function: { name: 'short_name', arguments: args } }] } }],
  }, { ...scope, toolNames: new Map([['short_name', 'mcp__server__long_tool']]) });
  for (const [args, reason] of [['{"path": "/tmp/a', 'valid JSON'], ['["a"]', 'a JSON object'], ['null', 'a JSON object']] as const) {
    assert.throws(() => answer(args), (e: unknown) => {
      assert.ok(e instanceof TollgateError && e.spec === Errors.toolCallArgumentsInvalid, String(e));
      assert.equal(e.status, 502);
      assert.equal(e.message, `The model wrote arguments for tool \`mcp__server__long_tool\` that aren't ${reason}. A model at its output token limit can stop inside the arguments.`);
      return true;
    }, args);
  }
});

test('a streamed call whose arguments end cut: its pieces went out, then the stream ends with ngrok\'s error in place of message_delta and message_stop (the SDK raises, no call is finalised as {})', async () => {
  const t = messagesViaChat.stream(scope);
  t.event('', chunk({ content: 'Writing the file.' }));
  t.event('', chunk({ tool_calls: [{ index: 0, id: 'c1', function: { name: 'write_file', arguments: '{"path":"/tmp/a",' } }] }));
  t.event('', chunk({ tool_calls: [{ index: 0, function: { arguments: '"content":"hel' } }] }));
  t.event('', chunk({}, 'length'));
  t.event('', JSON.stringify({ id: 'chatcmpl-9', choices: [], usage: { prompt_tokens: 7, completion_tokens: 3 } }));
  const sse = t.take() + t.finish();
  assert.deepEqual(events(sse).map(([type]) => type), ['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_stop']);
  const refused = t.failure?.();
  assert.ok(refused instanceof TollgateError && refused.spec === Errors.toolCallArgumentsInvalid, String(refused));
  assert.match(refused.message, /^The model wrote arguments for tool `write_file` that aren't valid JSON\./);
  // The SDK finalises no message from it (the gateway's error event follows: respond.ts, endStreamWithError).
  await assert.rejects(sdkMessage(sse), /without producing a Message/);
  // Whole arguments close as before, with no failure.
  const whole = messagesViaChat.stream(scope);
  whole.event('', chunk({ tool_calls: [{ index: 0, id: 'c1', function: { name: 'write_file', arguments: '{"path":"/tmp/a"}' } }] }, 'tool_calls'));
  assert.equal(events(whole.finish()).at(-1)![0], 'message_stop');
  assert.equal(whole.failure?.(), undefined);
});

test('a chat model\'s reasoning (DeepSeek\'s reasoning_content, or `reasoning`) comes back as an unsigned thinking block first, buffered and streamed; the SDK\'s stream reader assembles it', async () => {
  const message = messagesViaChat.answer({
    id: 'chatcmpl-1', model: 'deepseek-reasoner',
    choices: [{ finish_reason: 'tool_calls', message: { reasoning_content: 'Paris, then.', content: 'Checking.', tool_calls: [{ id: 'c1', function: { name: 'f', arguments: '{"a":1}' } }] } }],
  }, scope) as Anthropic.Message;
  assert.deepEqual(message.content, [{ type: 'thinking', thinking: 'Paris, then.', signature: '' }, { type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 'c1', name: 'f', input: { a: 1 } }]);
  const other = messagesViaChat.answer({ choices: [{ finish_reason: 'stop', message: { reasoning: 'Hmm.', content: 'Hi.' } }] }, scope) as Anthropic.Message;
  assert.deepEqual(other.content.map((b) => b.type), ['thinking', 'text']);

  const stream = messagesViaChat.stream(scope);
  for (const delta of [{ role: 'assistant', content: '' }, { reasoning_content: 'Paris, ' }, { reasoning_content: 'then.' }, { content: 'Checking.' }, { tool_calls: [{ index: 0, id: 'c1', function: { name: 'f', arguments: '{"a":1}' } }] }]) stream.event('', chunk(delta));
  stream.event('', chunk({}, 'tool_calls'));
  const text = stream.take() + stream.finish();
  const starts = events(text).filter(([type]) => type === 'content_block_start').map(([, e]) => e.content_block);
  assert.deepEqual(starts, [{ type: 'thinking', thinking: '', signature: '' }, { type: 'text', text: '' }, { type: 'tool_use', id: 'c1', name: 'f', input: {} }]);
  const final = await sdkMessage(text);
  assert.deepEqual(final.content.map((b) => b.type), ['thinking', 'text', 'tool_use']);
  assert.equal((final.content[0] as Anthropic.ThinkingBlock).thinking, 'Paris, then.');
});

test('unsigned thinking sent back goes to the chat model as reasoning_content on a turn that called tools (DeepSeek refuses a thinking tool loop without it), to providers that take it; never as text, never on a turn without calls', () => {
  const messages = [
    { role: 'user', content: 'Weather?' },
    { role: 'assistant', content: [{ type: 'thinking', thinking: 'Ask the tool.', signature: '' }, { type: 'tool_use', id: 'c1', name: 'f', input: {} }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'c1', content: 'Sunny' }] },
    { role: 'assistant', content: [{ type: 'thinking', thinking: 'Say it.', signature: '' }, { type: 'text', text: 'Sunny.' }] },
    { role: 'user', content: 'Thanks' },
  ];
  const body = { model: 'deepseek-reasoner', max_tokens: 100, tools: [{ name: 'f', input_schema: { type: 'object' } }], messages };
  const sent = messagesViaChat.request(body, plan('deepseek-reasoner')).body.messages as Record<string, unknown>[];
  assert.deepEqual(sent[1], { role: 'assistant', content: null, reasoning_content: 'Ask the tool.', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] });
  assert.deepEqual(sent[3], { role: 'assistant', content: 'Sunny.' });
  // OpenAI's models never wrote it (and a strict server refuses a field it does not know); Claude's signed thinking is Claude's.
  const openai = messagesViaChat.request({ ...body, model: 'gpt-4o' }, plan('gpt-4o')).body.messages as Record<string, unknown>[];
  assert.equal(openai[1]!.reasoning_content, undefined);
  const signed = structuredClone(body);
  (signed.messages[1]!.content as Record<string, unknown>[])[0]!.signature = 'EqQBClaude';
  assert.equal((messagesViaChat.request(signed, plan('deepseek-reasoner')).body.messages as Record<string, unknown>[])[1]!.reasoning_content, undefined);
});

test('reasoning a server streams after a call opened (between its calls) is a thinking block after that call, not lost: the SDK assembles every piece, and sent back the turn carries all of it as reasoning_content', async () => {
  const stream = messagesViaChat.stream(scope);
  for (const delta of [{ reasoning_content: 'First the weather. ' }, { tool_calls: [{ index: 0, id: 'c1', function: { name: 'f', arguments: '{"a":' } }] }, { reasoning_content: 'Then the time.' }, { tool_calls: [{ index: 0, function: { arguments: '1}' } }] }, { tool_calls: [{ index: 1, id: 'c2', function: { name: 'f', arguments: '{"a":2}' } }] }]) stream.event('', chunk(delta));
  stream.event('', chunk({}, 'tool_calls'));
  const text = stream.take() + stream.finish();
  const final = await sdkMessage(text);
  assert.deepEqual(final.content.map((b) => b.type), ['thinking', 'tool_use', 'thinking', 'tool_use']);
  assert.deepEqual((final.content[1] as Anthropic.ToolUseBlock).input, { a: 1 }, 'the live call\'s arguments whole');
  const indexes = events(text).filter(([type]) => type === 'content_block_start').map(([, e]) => e.index);
  assert.deepEqual(indexes, [0, 1, 2, 3]);
  const body = { model: 'deepseek-reasoner', max_tokens: 100, tools: [{ name: 'f', input_schema: { type: 'object' } }], messages: [{ role: 'user', content: 'Go' }, { role: 'assistant', content: final.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'c1', content: '1' }, { type: 'tool_result', tool_use_id: 'c2', content: '2' }] }] };
  const sent = messagesViaChat.request(body, plan('deepseek-reasoner')).body.messages as Record<string, unknown>[];
  assert.equal(sent[1]!.reasoning_content, 'First the weather. Then the time.');
});

test('DeepSeek\'s V4 models think unless told not to: Messages `thinking` goes as DeepSeek\'s own switch (with the effort when on); a model without the switch is never sent it', () => {
  const ask = { max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] };
  const off = messagesViaChat.request({ ...ask, model: 'deepseek-v4-pro', thinking: { type: 'disabled' } }, plan('deepseek-v4-pro'));
  assert.deepEqual([off.body.thinking, off.body.reasoning_effort, off.removed], [{ type: 'disabled' }, undefined, []]);
  const on = messagesViaChat.request({ ...ask, model: 'deepseek-flash', thinking: { type: 'enabled', budget_tokens: 2048 } }, plan('deepseek-flash'));
  assert.deepEqual([on.body.thinking, on.body.reasoning_effort, on.removed], [{ type: 'enabled' }, 'low', []]);
  const adaptive = messagesViaChat.request({ ...ask, model: 'deepseek-v4-flash', thinking: { type: 'adaptive' }, output_config: { effort: 'high' } }, plan('deepseek-v4-flash'));
  assert.deepEqual([adaptive.body.thinking, adaptive.body.reasoning_effort], [{ type: 'enabled' }, 'high']);
  // No thinking asked: DeepSeek's default stands, nothing is written.
  assert.equal(messagesViaChat.request({ ...ask, model: 'deepseek-v4-pro' }, plan('deepseek-v4-pro')).body.thinking, undefined);
  // `deepseek-chat` and `deepseek-reasoner` name their mode; GPT has no such field.
  for (const model of ['deepseek-chat', 'deepseek-reasoner', 'gpt-4o']) {
    const sent = messagesViaChat.request({ ...ask, model, thinking: { type: 'disabled' } }, plan(model));
    assert.equal(sent.body.thinking, undefined, model);
  }
});

test('Claude\'s effort reaches DeepSeek V4 by its own name (DeepSeek takes Claude\'s efforts; `max` is its deepest), where OpenAI\'s reasoning models stop at high', () => {
  const ask = (model: string, effort: string) => messagesViaChat.request({ model, max_tokens: 100, messages: [{ role: 'user', content: 'hi' }], thinking: { type: 'adaptive' }, output_config: { effort } }, plan(model));
  assert.deepEqual([ask('deepseek-v4-pro', 'max').body.reasoning_effort, ask('deepseek-v4-pro', 'max').removed], ['max', []]);
  assert.equal(ask('deepseek-flash', 'xhigh').body.reasoning_effort, 'xhigh');
  assert.equal(ask('gpt-5.4', 'max').body.reasoning_effort, 'high');
});

test('a search result (a RAG tool\'s result, or the user\'s block) and a tool reference (a client\'s tool search) reach a chat model as text, in the tool message or the user\'s turn; a block chat has no place for (a container upload) is refused naming it; an assistant\'s server tool blocks are Claude\'s own', () => {
  const search = { type: 'search_result', source: 'https://docs.example/kb/1', title: 'Refunds', content: [{ type: 'text', text: 'Refunds take 5 days.' }], citations: { enabled: true }, cache_control: { type: 'ephemeral' } };
  const messages = [
    { role: 'user', content: [{ type: 'text', text: 'How long do refunds take?' }, search] },
    { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'kb', input: {} }, { type: 'tool_use', id: 't2', name: 'find_tools', input: { query: 'refund' } }] },
    { role: 'user', content: [
      { type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'Top hit:' }, search] },
      { type: 'tool_result', tool_use_id: 't2', content: [{ type: 'tool_reference', tool_name: 'issue_refund' }] },
    ] },
  ];
  assert.equal(untranslatableReason('messages', { messages }, 'chat-completions'), undefined);
  const { body } = messagesViaChat.request({ model: 'gpt-4o', max_tokens: 10, messages }, plan('gpt-4o'));
  const said = 'Search result: Refunds (https://docs.example/kb/1)\nRefunds take 5 days.';
  assert.deepEqual(body.messages, [
    { role: 'user', content: [{ type: 'text', text: 'How long do refunds take?' }, { type: 'text', text: said }] },
    { role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'kb', arguments: '{}' } }, { id: 't2', type: 'function', function: { name: 'find_tools', arguments: '{"query":"refund"}' } }] },
    { role: 'tool', tool_call_id: 't1', content: `Top hit:\n${said}` },
    { role: 'tool', tool_call_id: 't2', content: 'Tool found: issue_refund' },
  ]);
  assert.match(untranslatableReason('messages', { messages: [{ role: 'user', content: [{ type: 'container_upload', file_id: 'file_1' }, { type: 'text', text: 'Plot it.' }] }] }, 'chat-completions') ?? '', /block of type "container_upload", which chat completions cannot carry/);
  assert.equal(untranslatableReason('messages', { messages: [
    { role: 'user', content: 'Search the web.' },
    { role: 'assistant', content: [{ type: 'server_tool_use', id: 's1', name: 'web_search', input: {} }, { type: 'text', text: 'Found it.' }] },
    { role: 'user', content: 'Thanks.' },
  ] }, 'chat-completions'), undefined);
});
