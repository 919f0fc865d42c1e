import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { createCatalog } from '../../catalog/index.ts';
import { converseAddress, resolveCandidates } from '../../domain/resolve.ts';
import type { AttemptPlan } from '../../domain/routing.ts';
import { snapshot } from '../../../test/helpers/snapshot.ts';
import { converseStreamViaMessages, converseViaMessages } from './converse-via-messages.ts';
import { translatorFor, untranslatableReason } from './index.ts';
import type { TranslationScope } from './types.ts';

const catalog = createCatalog({});
const plan = (model: string): AttemptPlan => ({ candidate: resolveCandidates({ model, models: undefined, format: 'bedrock', surface: 'converse' }, catalog, snapshot())[0]!, keySource: 'user', credential: 'k' });
const scope: TranslationScope = { accountId: 'a', keep: false, includeUsage: false, startedAt: performance.now() };
const sse = (type: string, data: Record<string, unknown>): [string, string] => [type, JSON.stringify({ type, ...data })];
const codec = new EventStreamCodec((b) => Buffer.from(b).toString('utf8'), (s) => Buffer.from(s));

/** Event-stream bytes → [kind, name, body] per frame, as the AWS SDK's reader splits them. */
function frames(bytes: Uint8Array): [string, string, Record<string, unknown>][] {
  const out: [string, string, Record<string, unknown>][] = [];
  let rest = Buffer.from(bytes);
  while (rest.length > 0) {
    const length = rest.readUInt32BE(0);
    const message = codec.decode(rest.subarray(0, length));
    const kind = String(message.headers[':message-type']?.value);
    out.push([kind, String(message.headers[kind === 'event' ? ':event-type' : ':exception-type']?.value), JSON.parse(Buffer.from(message.body).toString('utf8')) as Record<string, unknown>]);
    rest = rest.subarray(length);
  }
  return out;
}

test('a Converse request goes up as Messages: blocks, system, inference settings, tools and choice, Claude\'s own fields; the rest removed and named', () => {
  const { body, removed, clientFields } = converseViaMessages.request({
    system: [{ text: 'Be brief.' }, { cachePoint: { type: 'default' } }],
    messages: [
      { role: 'user', content: [
        { text: 'Read these.' },
        { image: { format: 'jpeg', source: { bytes: 'AAAA' } } },
        { document: { format: 'pdf', name: 'spec', source: { bytes: 'JVBE' } } },
        { document: { format: 'md', name: 'notes', source: { bytes: Buffer.from('# hi').toString('base64') } } },
      ] },
      { role: 'assistant', content: [
        { reasoningContent: { reasoningText: { text: 'thinking', signature: 'sig' } } },
        { reasoningContent: { reasoningText: { text: 'unsigned' } } },
        { text: 'Calling.' },
        { toolUse: { toolUseId: 't1', name: 'weather', input: { city: 'Paris' } } },
      ] },
      { role: 'user', content: [{ toolResult: { toolUseId: 't1', status: 'error', content: [{ text: 'no' }, { json: { code: 7 } }] } }] },
    ],
    inferenceConfig: { maxTokens: 1_000_000, temperature: 0.5, topP: 0.8, stopSequences: ['STOP'] },
    toolConfig: { tools: [{ toolSpec: { name: 'weather', description: 'Weather', inputSchema: { json: { type: 'object', properties: { city: { type: 'string' } } } } } }, { cachePoint: { type: 'default' } }], toolChoice: { tool: { name: 'weather' } } },
    additionalModelRequestFields: { top_k: 3, thinking: { type: 'adaptive' }, anthropic_beta: ['x'] }, guardrailConfig: { guardrailIdentifier: 'g', guardrailVersion: '1' },
    outputConfig: { effort: 'high', textFormat: { type: 'json_schema', structure: { jsonSchema: { schema: '{"type":"object"}', name: 'x' } } } },
  }, plan('claude-sonnet-4-5'));
  assert.deepEqual(removed, ['guardrailConfig', 'additionalModelRequestFields.anthropic_beta']);
  assert.deepEqual([body.top_k, body.thinking, body.output_config], [3, { type: 'adaptive' }, { format: { type: 'json_schema', schema: { type: 'object' } }, effort: 'high' }]);
  assert.deepEqual([clientFields?.thinking, clientFields?.output_config], ['additionalModelRequestFields.thinking', 'outputConfig']);
  assert.equal(clientFields?.stop_sequences, 'inferenceConfig.stopSequences');
  assert.deepEqual(body.system, [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }]);
  assert.deepEqual([body.max_tokens, body.temperature, body.top_p, body.stop_sequences, body.stream], [64_000, 0.5, 0.8, ['STOP'], undefined]);
  assert.deepEqual(body.tools, [{ name: 'weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } }, cache_control: { type: 'ephemeral' } }]);
  assert.deepEqual(body.tool_choice, { type: 'tool', name: 'weather' });
  assert.deepEqual(body.messages, [
    { role: 'user', content: [
      { type: 'text', text: 'Read these.' },
      { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: 'AAAA' } },
      { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBE' }, title: 'spec' },
      { type: 'document', source: { type: 'text', media_type: 'text/plain', data: '# hi' }, title: 'notes' },
    ] },
    { role: 'assistant', content: [
      { type: 'thinking', thinking: 'thinking', signature: 'sig' },
      { type: 'text', text: 'Calling.' },
      { type: 'tool_use', id: 't1', name: 'weather', input: { city: 'Paris' } },
    ] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'no' }, { type: 'text', text: '{"code":7}' }], is_error: true }] },
  ]);
  assert.equal(converseStreamViaMessages.request({ messages: [] }, plan('claude-sonnet-4-5')).body.stream, true);
});

test('a Messages answer comes back as Converse\'s: content blocks, stop reason, usage with the cache apart, latency', () => {
  const out = converseViaMessages.answer({
    id: 'msg_1', type: 'message', role: 'assistant', model: 'claude',
    content: [{ type: 'thinking', thinking: 'hm', signature: 's' }, { type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Paris' } }],
    stop_reason: 'tool_use', usage: { input_tokens: 10, output_tokens: 4, cache_read_input_tokens: 3, cache_creation_input_tokens: 2 },
  }, scope) as Record<string, unknown>;
  assert.deepEqual(out.output, { message: { role: 'assistant', content: [
    { reasoningContent: { reasoningText: { text: 'hm', signature: 's' } } },
    { text: 'Checking.' },
    { toolUse: { toolUseId: 'toolu_1', name: 'weather', input: { city: 'Paris' } } },
  ] } });
  assert.equal(out.stopReason, 'tool_use');
  assert.deepEqual(out.usage, { inputTokens: 10, outputTokens: 4, totalTokens: 19, cacheReadInputTokens: 3, cacheWriteInputTokens: 2 });
  assert.equal(typeof (out.metrics as { latencyMs: unknown }).latencyMs, 'number');
  for (const [stop, converse] of [['end_turn', 'end_turn'], ['max_tokens', 'max_tokens'], ['stop_sequence', 'stop_sequence'], ['refusal', 'content_filtered']]) {
    assert.equal((converseViaMessages.answer({ content: [], stop_reason: stop }, scope) as { stopReason: string }).stopReason, converse);
  }
});

test('a Messages stream becomes ConverseStream frames: start, text and tool deltas, stops, then the stop reason and the usage', () => {
  const stream = converseStreamViaMessages.stream(scope);
  stream.event(...sse('message_start', { message: { id: 'm', usage: { input_tokens: 8, cache_read_input_tokens: 2, output_tokens: 1 } } }));
  stream.event(...sse('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }));
  stream.event(...sse('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hi' } }));
  stream.event(...sse('content_block_stop', { index: 0 }));
  stream.event('ping', '{"type":"ping"}');
  stream.event(...sse('content_block_start', { index: 1, content_block: { type: 'tool_use', id: 'toolu_1', name: 'weather', input: {} } }));
  stream.event(...sse('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '{"city":' } }));
  stream.event(...sse('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '"Paris"}' } }));
  stream.event(...sse('content_block_stop', { index: 1 }));
  stream.event(...sse('content_block_start', { index: 2, content_block: { type: 'tool_use', id: 'toolu_2', name: 'now', input: {} } }));
  stream.event(...sse('content_block_stop', { index: 2 }));
  stream.event(...sse('message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 6 } }));
  stream.event(...sse('message_stop', {}));
  const out = frames(Buffer.concat([stream.take(), stream.finish()]));
  const metadata = out.at(-1)![2];
  assert.deepEqual(out.slice(0, -1), [
    ['event', 'messageStart', { role: 'assistant' }],
    ['event', 'contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hi' } }],
    ['event', 'contentBlockStop', { contentBlockIndex: 0 }],
    ['event', 'contentBlockStart', { contentBlockIndex: 1, start: { toolUse: { toolUseId: 'toolu_1', name: 'weather' } } }],
    ['event', 'contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: '{"city":' } } }],
    ['event', 'contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: '"Paris"}' } } }],
    ['event', 'contentBlockStop', { contentBlockIndex: 1 }],
    ['event', 'contentBlockStart', { contentBlockIndex: 2, start: { toolUse: { toolUseId: 'toolu_2', name: 'now' } } }],
    // A call without arguments streams none: the reader gets the empty object.
    ['event', 'contentBlockDelta', { contentBlockIndex: 2, delta: { toolUse: { input: '{}' } } }],
    ['event', 'contentBlockStop', { contentBlockIndex: 2 }],
    ['event', 'messageStop', { stopReason: 'tool_use' }],
  ]);
  assert.equal(out.at(-1)![1], 'metadata');
  assert.deepEqual(metadata.usage, { inputTokens: 8, outputTokens: 6, totalTokens: 16, cacheReadInputTokens: 2, cacheWriteInputTokens: 0 });
});

test('a stream error event becomes the exception frame the SDK raises by kind; a refusal before the stream is Bedrock\'s error body and type', () => {
  for (const [type, exception] of [['overloaded_error', 'serviceUnavailableException'], ['rate_limit_error', 'throttlingException'], ['invalid_request_error', 'validationException'], ['api_error', 'internalServerException']]) {
    const stream = converseStreamViaMessages.stream(scope);
    stream.event(...sse('message_start', { message: { usage: { input_tokens: 1 } } }));
    stream.event(...sse('error', { error: { type, message: 'Overloaded' } }));
    const out = frames(Buffer.concat([stream.take(), stream.finish()]));
    assert.deepEqual(out, [['event', 'messageStart', { role: 'assistant' }], ['exception', exception, { message: 'Overloaded' }]], type);
  }
  assert.deepEqual(JSON.parse(converseViaMessages.error(400, '{"type":"error","error":{"type":"invalid_request_error","message":"bad"}}')), { message: 'bad' });
  assert.deepEqual(converseViaMessages.errorHeaders?.(429), { 'x-amzn-errortype': 'ThrottlingException' });
});

test('Converse reaches chat-only models through Messages: the chat half\'s removals named as the client sent them', () => {
  const gpt = plan('gpt-4o');
  const translator = translatorFor({ format: 'bedrock', surface: 'converse' }, gpt.candidate.surface)!;
  const { body, removed } = translator.request({ messages: [{ role: 'user', content: [{ text: 'hi' }] }], inferenceConfig: { maxTokens: 100, stopSequences: ['a', 'b', 'c', 'd', 'e'] } }, gpt);
  assert.deepEqual(body.messages, [{ role: 'user', content: 'hi' }]);
  assert.deepEqual(body.stop, ['a', 'b', 'c', 'd']);
  assert.deepEqual(removed, ['inferenceConfig.stopSequences']);
  assert.equal(translatorFor({ format: 'bedrock', surface: 'converse-stream' }, gpt.candidate.surface)!.request({ messages: [] }, gpt).body.stream, true);
});

test('media only Bedrock\'s models read is refused for translation, never dropped', () => {
  const ask = (block: Record<string, unknown>) => untranslatableReason('converse', { messages: [{ role: 'user', content: [{ text: 'x' }, block] }] }, 'messages');
  assert.match(ask({ document: { format: 'docx', name: 'd', source: { bytes: 'UEs=' } } }) ?? '', /docx/);
  assert.match(ask({ image: { format: 'png', source: { s3Location: { uri: 's3://b/k' } } } }) ?? '', /S3/);
  assert.match(ask({ video: { format: 'mp4', source: { bytes: 'AA==' } } }) ?? '', /video/);
  assert.equal(ask({ image: { format: 'png', source: { bytes: 'AA==' } } }), undefined);
});

test('structured output that cannot be read is refused, never dropped', () => {
  const ask = (textFormat: Record<string, unknown>) => untranslatableReason('converse', { messages: [], outputConfig: { textFormat } }, 'chat-completions');
  assert.match(ask({ type: 'json_schema', structure: { jsonSchema: { schema: 'not json' } } }) ?? '', /not a JSON object/);
  assert.match(ask({ type: 'xml' }) ?? '', /not a json_schema format/);
  assert.equal(ask({ type: 'json_schema', structure: { jsonSchema: { schema: '{"type":"object"}' } } }), undefined);
});

test('a Converse path names Bedrock\'s models as before, and any other model the account reaches by its usual name', () => {
  const account = snapshot();
  assert.equal(converseAddress('gpt-4o', catalog, account), 'gpt-4o');
  assert.equal(converseAddress('openai:gpt-4o', catalog, account), 'openai:gpt-4o');
  assert.equal(converseAddress('claude-sonnet-4-5', catalog, account), 'claude-sonnet-4-5');
  assert.equal(converseAddress('anthropic.claude-sonnet-4-6', catalog, account), 'bedrock:anthropic.claude-sonnet-4-6');
  assert.equal(converseAddress('bedrock:gpt-4o', catalog, account), 'bedrock:gpt-4o');
  assert.equal(converseAddress('amazon.nova-unlisted-v9:0', catalog, account), 'bedrock:amazon.nova-unlisted-v9:0');
  assert.equal(converseAddress('arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-6', catalog, account), 'bedrock:arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-6');
});

test('a Converse path naming the account\'s virtual model is that virtual model, before Bedrock\'s catalog; one standing for ngrok/auto is refused, saying why', () => {
  const account = snapshot({ virtualModels: [{ id: 'vm_1', name: 'chat-default', targets: ['openai:gpt-4o', 'anthropic:claude-sonnet-4-5'] }, { id: 'vm_2', name: 'cheapest', targets: ['ngrok/auto'] }] });
  assert.equal(converseAddress('Chat-Default', catalog, account), 'Chat-Default');
  const served = resolveCandidates({ model: converseAddress('chat-default', catalog, account), models: undefined, format: 'bedrock', surface: 'converse' }, catalog, account);
  assert.deepEqual(served.map((c) => [c.provider.id, c.modelId, c.virtualModel]), [['openai', 'gpt-4o', 'chat-default'], ['anthropic', 'claude-sonnet-4-5', 'chat-default']]);
  assert.throws(() => resolveCandidates({ model: converseAddress('cheapest', catalog, account), models: undefined, format: 'bedrock', surface: 'converse' }, catalog, account), /virtual model "cheapest" stands for "ngrok\/auto".*a Converse path does not serve/);
});

test('a Converse conversation ending with an assistant turn: Claude continues it; a chat model answers anew, and prefill is named', () => {
  const messages = [{ role: 'user', content: [{ text: 'JSON please' }] }, { role: 'assistant', content: [{ text: '{"a":' }] }];
  assert.deepEqual(converseViaMessages.request({ messages }, plan('claude-sonnet-4-5')).removed, []);
  const gpt = plan('gpt-4o');
  const { body, removed } = translatorFor({ format: 'bedrock', surface: 'converse' }, gpt.candidate.surface)!.request({ messages }, gpt);
  assert.deepEqual((body.messages as { role: string }[]).map((m) => m.role), ['user', 'assistant']);
  assert.deepEqual(removed, ['prefill']);
});

test('Converse adaptive thinking\'s effort (additionalModelRequestFields.output_config) reaches Claude as it is and GPT reasoning models as reasoning_effort', () => {
  const ask = { messages: [{ role: 'user', content: [{ text: 'hi' }] }], additionalModelRequestFields: { thinking: { type: 'adaptive' }, output_config: { effort: 'low' } } };
  const claude = converseViaMessages.request(ask, plan('claude-sonnet-4-5'));
  assert.deepEqual([claude.body.thinking, claude.body.output_config, claude.removed], [{ type: 'adaptive' }, { effort: 'low' }, []]);
  const effort = (value: string, model: string) => {
    const p = plan(model);
    const asked = { ...ask, additionalModelRequestFields: { thinking: { type: 'adaptive' }, output_config: { effort: value } } };
    const { body, removed } = translatorFor({ format: 'bedrock', surface: 'converse' }, p.candidate.surface)!.request(asked, p);
    return [body.reasoning_effort, removed];
  };
  assert.deepEqual(effort('low', 'gpt-5.4'), ['low', []]);
  assert.deepEqual(effort('medium', 'gpt-5.4'), ['medium', []]);
  assert.deepEqual(effort('max', 'gpt-5.4'), ['high', []], 'OpenAI\'s effort stops at high');
  // A model without reasoning effort: removed, named as the client sent it.
  assert.deepEqual(effort('high', 'gpt-4o'), [undefined, ['additionalModelRequestFields.thinking', 'additionalModelRequestFields.output_config']]);
  // Converse's own outputConfig.effort wins where both are given.
  const both = converseViaMessages.request({ ...ask, outputConfig: { effort: 'high' } }, plan('claude-sonnet-4-5'));
  assert.deepEqual([both.body.output_config, both.clientFields?.output_config], [{ effort: 'high' }, 'outputConfig']);
});
