import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCatalog } from '../../catalog/index.ts';
import { resolveCandidates } from '../../domain/resolve.ts';
import type { AttemptPlan } from '../../domain/routing.ts';
import { snapshot } from '../../../test/helpers/snapshot.ts';
import { translatorFor } from './index.ts';

const catalog = createCatalog({});
const candidate = resolveCandidates({ model: 'claude-sonnet-4-6', models: undefined, format: 'openai', surface: 'responses' }, catalog, snapshot())[0]!;
const plan: AttemptPlan = { candidate, keySource: 'ngrok', credential: 'k' };
const translator = translatorFor({ format: 'openai', surface: 'responses' }, candidate.surface)!;
const scope = { accountId: 'acct_composed', keep: false, includeUsage: false };
const sse = (type: string, data: Record<string, unknown>): [string, string] => [type, JSON.stringify({ type, ...data })];

test('Claude serves Responses requests over its own Messages API, not the chat-completions compatibility layer', () => {
  assert.equal(candidate.surface.surface, 'messages');
  const chat = resolveCandidates({ model: 'claude-sonnet-4-6', models: undefined, format: 'openai', surface: 'chat-completions' }, catalog, snapshot())[0]!;
  assert.equal(chat.surface.surface, 'chat-completions', 'a chat client still gets the surface it called');
});

test('a Responses request goes up as Messages; fields with no place are named as the client sent them', () => {
  const { body, removed } = translator.request({
    model: 'claude-sonnet-4-6', instructions: 'Be brief.', input: [{ role: 'user', content: 'Hi' }], max_output_tokens: 1_000_000,
    reasoning: { effort: 'high' }, store: true, temperature: 1.5,
    tools: [{ type: 'function', name: 'f', parameters: { type: 'object' } }],
    text: { format: { type: 'json_schema', name: 'r', schema: { type: 'object' } } },
  }, plan);
  assert.deepEqual(body.messages, [{ role: 'user', content: 'Hi' }]);
  assert.equal(body.system, 'Be brief.');
  assert.equal(body.max_tokens, candidate.catalogModel!.maxOutputTokens, 'fitted to the model');
  assert.equal(body.temperature, 1, 'Messages takes at most 1');
  assert.deepEqual(body.tools, [{ name: 'f', input_schema: { type: 'object' } }]);
  // Claude's JSON outputs carry the schema beside the client's own tools (closed, as Claude requires); the reasoning
  // effort is adaptive thinking's.
  assert.deepEqual(body.output_config, { format: { type: 'json_schema', schema: { type: 'object', additionalProperties: false } }, effort: 'high' });
  assert.deepEqual(body.thinking, { type: 'adaptive' });
  assert.deepEqual(removed.sort(), ['store']);
});

test('structured output: JSON outputs where the model has them, its schema made acceptable to Claude; a forced tool on older models', () => {
  const schema = {
    type: 'object', additionalProperties: false, required: ['city', 'days'],
    properties: { city: { type: 'string', maxLength: 40 }, days: { type: 'array', minItems: 3, items: { type: 'object', properties: { t: { type: 'number', minimum: -90, description: 'Celsius' } } } } },
  };
  const ask = (model: string) => {
    const c = resolveCandidates({ model, models: undefined, format: 'openai', surface: 'responses' }, catalog, snapshot())[0]!;
    return translatorFor({ format: 'openai', surface: 'responses' }, c.surface)!.request({ model, input: 'Weather?', text: { format: { type: 'json_schema', name: 'w', strict: true, schema } } }, { candidate: c, keySource: 'ngrok', credential: 'k' });
  };
  const json = ask('claude-sonnet-5-5');
  assert.deepEqual(json.body.output_config, { format: { type: 'json_schema', schema: {
    type: 'object', additionalProperties: false, required: ['city', 'days'],
    properties: {
      city: { type: 'string', description: '{maxLength: 40}' },
      days: { type: 'array', description: '{minItems: 3}', items: { type: 'object', additionalProperties: false, properties: { t: { type: 'number', description: 'Celsius\n\n{minimum: -90}' } } } },
    },
  } } });
  assert.equal(json.body.tool_choice, undefined, 'no forced tool: Sonnet 5.5 refuses one');
  // Claude Sonnet 4 has no JSON outputs: the forced tool, its schema as sent.
  const tool = ask('claude-sonnet-4-0');
  assert.equal(tool.body.output_config, undefined);
  assert.deepEqual([tool.body.tool_choice, (tool.body.tools as { input_schema: unknown }[])[0]!.input_schema], [{ type: 'tool', name: 'structured_output' }, schema]);
  // JSON mode has no schema: the forced tool where the model takes one, asked in words where it refuses one.
  const jsonMode = (model: string) => {
    const c = resolveCandidates({ model, models: undefined, format: 'openai', surface: 'responses' }, catalog, snapshot())[0]!;
    return translatorFor({ format: 'openai', surface: 'responses' }, c.surface)!.request({ model, instructions: 'Be brief.', input: 'Paris as JSON', text: { format: { type: 'json_object' } } }, { candidate: c, keySource: 'ngrok', credential: 'k' }).body;
  };
  assert.deepEqual(jsonMode('claude-sonnet-4-6').tool_choice, { type: 'tool', name: 'structured_output' });
  const refuses = jsonMode('claude-opus-5-5');
  assert.deepEqual([refuses.tools, refuses.tool_choice, refuses.system], [undefined, undefined, 'Be brief.\n\nAnswer with one JSON object and nothing else.']);
});

test('a Messages answer comes back as a Responses object with every input token counted', () => {
  const response = translator.answer({
    id: 'msg_1', type: 'message', model: 'claude-sonnet-4-6', stop_reason: 'end_turn',
    content: [{ type: 'text', text: 'Hello.' }], usage: { input_tokens: 10, cache_read_input_tokens: 5, cache_creation_input_tokens: 2, output_tokens: 3, output_tokens_details: { thinking_tokens: 2 } },
  }, scope) as { object: string; status: string; output: { content: { text: string }[] }[]; usage: Record<string, unknown> };
  assert.equal(response.object, 'response');
  assert.equal(response.status, 'completed');
  assert.equal(response.output[0]!.content[0]!.text, 'Hello.');
  assert.deepEqual([response.usage.input_tokens, response.usage.input_tokens_details, response.usage.output_tokens], [17, { cached_tokens: 5 }, 3]);
  // Claude's thinking is the client's reasoning: counted inside the output on both sides.
  assert.deepEqual(response.usage.output_tokens_details, { reasoning_tokens: 2 });
});

test('a Messages stream comes back as Responses events, usage included though the client asked no usage chunk', () => {
  const stream = translator.stream(scope);
  let out = '';
  for (const [type, data] of [
    sse('message_start', { message: { id: 'msg_2', model: 'claude-sonnet-4-6', usage: { input_tokens: 10, output_tokens: 1 } } }),
    sse('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    sse('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hel' } }),
    sse('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'lo' } }),
    sse('content_block_stop', { index: 0 }),
    sse('content_block_start', { index: 1, content_block: { type: 'tool_use', id: 'toolu_1', name: 'f', input: {} } }),
    sse('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '{"a":' } }),
    sse('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '1}' } }),
    sse('message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 7, output_tokens_details: { thinking_tokens: 4 } } }),
    sse('message_stop', {}),
  ]) {
    stream.event(type, data);
    out += stream.take();
  }
  out += stream.finish();
  const events = out.split('\n\n').filter(Boolean).map((block) => JSON.parse(block.split('\ndata: ')[1]!) as Record<string, unknown>);
  assert.deepEqual(events.map((e) => e.sequence_number), events.map((_, i) => i), 'numbered in order');
  assert.equal(events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join(''), 'Hello');
  assert.equal(events.filter((e) => e.type === 'response.function_call_arguments.delta').map((e) => e.delta).join(''), '{"a":1}');
  const completed = events.at(-1)!;
  assert.equal(completed.type, 'response.completed');
  const response = completed.response as { output: { type: string; call_id?: string }[]; usage: { input_tokens: number; output_tokens: number; output_tokens_details: unknown } };
  assert.deepEqual(response.output.map((o) => [o.type, o.call_id]), [['message', undefined], ['function_call', 'toolu_1']]);
  assert.deepEqual([response.usage.input_tokens, response.usage.output_tokens, response.usage.output_tokens_details], [10, 7, { reasoning_tokens: 4 }]);
});

test('a stream the provider breaks with an error event ends with the client\'s error event; a refusal keeps its status', () => {
  const stream = translator.stream(scope);
  stream.event(...sse('message_start', { message: { id: 'msg_3', model: 'm', usage: { input_tokens: 1 } } }));
  stream.event(...sse('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }));
  const out = stream.take() + stream.finish();
  assert.match(out, /event: error\ndata: \{"type":"error","sequence_number":\d+,"code":"server_error","message":"Overloaded"/);
  assert.doesNotMatch(out, /response\.completed/);
  assert.deepEqual(JSON.parse(translator.error(429, JSON.stringify({ type: 'error', error: { type: 'rate_limit_error', message: 'Slow down' } }))),
    { error: { message: 'Slow down', type: 'rate_limit_error', param: null, code: null } });
});

test('a Responses allowed_tools choice reaches Claude as only those tools, required as a forced call among them', () => {
  const { body } = translator.request({
    model: 'claude-sonnet-4-6', input: 'hi',
    tools: [{ type: 'function', name: 'city', parameters: { type: 'object' } }, { type: 'function', name: 'other', parameters: { type: 'object' } }],
    tool_choice: { type: 'allowed_tools', mode: 'required', tools: [{ type: 'function', name: 'other' }] },
  }, plan);
  assert.deepEqual([(body.tools as { name: string }[]).map((t) => t.name), body.tool_choice], [['other'], { type: 'any' }]);
});

test('chat completions and Responses reach Claude on Bedrock through Messages: InvokeModel\'s body, its stream operation, the account\'s cap on max_tokens', () => {
  for (const [surface, body] of [['chat-completions', { model: 'bedrock:anthropic.claude-sonnet-4-6', stream: true, max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }], ['responses', { model: 'bedrock:anthropic.claude-sonnet-4-6', stream: true, max_output_tokens: 50, input: 'hi' }]] as const) {
    const bedrock = resolveCandidates({ model: body.model, models: undefined, format: 'openai', surface, body }, catalog, snapshot())[0]!;
    // Bedrock streams by operation: the request asking for a stream goes to its twin.
    assert.equal(bedrock.surface.surface, 'invoke-stream', surface);
    const translated = translatorFor({ format: 'openai', surface }, bedrock.surface)!.request(body, { candidate: bedrock, keySource: 'user', credential: 'k' });
    assert.deepEqual(translated.body, { anthropic_version: 'bedrock-2023-05-31', messages: [{ role: 'user', content: 'hi' }], max_tokens: 50 }, surface);
    assert.equal(translated.limitSurface, 'messages', surface);
  }
});

test('a Responses conversation ending with an assistant turn reaches Claude as that turn, and prefill is named: Claude continues it, not answering anew', () => {
  const { body, removed } = translator.request({ model: 'claude-sonnet-4-6', input: [{ role: 'user', content: 'JSON please' }, { role: 'assistant', content: '{"a": ' }] }, plan);
  assert.deepEqual(body.messages, [{ role: 'user', content: 'JSON please' }, { role: 'assistant', content: [{ type: 'text', text: '{"a":' }] }]);
  assert.deepEqual(removed, ['prefill']);
  assert.deepEqual(translator.request({ model: 'claude-sonnet-4-6', input: [{ role: 'user', content: 'Hi' }] }, plan).removed, []);
});

test('Claude\'s thinking reaches a Responses client as a reasoning item (its summary; signed thinking as encrypted_content), buffered and streamed, and the item sent back opens Claude\'s turn as the signed thinking', () => {
  const content = [{ type: 'thinking', thinking: 'Let me think.', signature: 'sig-1' }, { type: 'tool_use', id: 'toolu_1', name: 'f', input: { a: 1 } }];
  const response = translator.answer({ id: 'msg_1', type: 'message', model: 'claude-sonnet-4-6', stop_reason: 'tool_use', content, usage: { input_tokens: 1, output_tokens: 2 } }, scope) as { output: Record<string, unknown>[] };
  const reasoning = response.output[0]!;
  assert.deepEqual([reasoning.type, reasoning.summary, response.output.map((i) => i.type)], ['reasoning', [{ type: 'summary_text', text: 'Let me think.' }], ['reasoning', 'function_call']]);
  assert.equal(typeof reasoning.encrypted_content, 'string');

  const stream = translator.stream(scope);
  let out = '';
  for (const [type, data] of [
    sse('message_start', { message: { id: 'msg_2', model: 'claude-sonnet-4-6', usage: { input_tokens: 1 } } }),
    sse('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }),
    sse('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'Let me ' } }),
    sse('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'think.' } }),
    sse('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: 'sig-1' } }),
    sse('content_block_stop', { index: 0 }),
    sse('content_block_start', { index: 1, content_block: { type: 'tool_use', id: 'toolu_1', name: 'f', input: {} } }),
    sse('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '{"a":1}' } }),
    sse('content_block_stop', { index: 1 }),
    sse('message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 7 } }),
    sse('message_stop', {}),
  ]) {
    stream.event(type, data);
    out += stream.take();
  }
  out += stream.finish();
  const events = out.split('\n\n').filter(Boolean).map((e) => JSON.parse(e.split('\n')[1]!.slice('data: '.length)) as Record<string, unknown>);
  assert.equal(events.filter((e) => e.type === 'response.reasoning_summary_text.delta').map((e) => e.delta).join(''), 'Let me think.');
  const completed = (events.at(-1)!.response as { output: Record<string, unknown>[] }).output;
  assert.deepEqual([completed[0]!.summary, completed.map((i) => i.type)], [[{ type: 'summary_text', text: 'Let me think.' }], ['reasoning', 'function_call']]);
  assert.equal(completed[0]!.encrypted_content, reasoning.encrypted_content, 'the same signed thinking');

  const next = translator.request({
    model: 'claude-sonnet-4-6', reasoning: { effort: 'low' }, tools: [{ type: 'function', name: 'f', parameters: { type: 'object' } }],
    input: [{ role: 'user', content: 'Go' }, ...completed, { type: 'function_call_output', call_id: completed[1]!.call_id, output: 'done' }],
  }, plan);
  assert.deepEqual((next.body.messages as { content: unknown[] }[])[1]!.content, [{ type: 'thinking', thinking: 'Let me think.', signature: 'sig-1' }, { type: 'tool_use', id: 'toolu_1', name: 'f', input: { a: 1 } }]);
  assert.deepEqual(next.body.thinking, { type: 'adaptive' });
});
