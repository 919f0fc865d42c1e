import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createParser } from 'eventsource-parser';
import { MessageStream } from '@anthropic-ai/sdk/lib/MessageStream';
import { createCatalog } from '../../catalog/index.ts';
import { resolveCandidates } from '../../domain/resolve.ts';
import type { AttemptPlan } from '../../domain/routing.ts';
import { snapshot } from '../../../test/helpers/snapshot.ts';
import { converseUnsendableReason, messagesViaConverse } from './messages-via-converse.ts';
import { translatorFor, untranslatableReason } from './index.ts';
import type { TranslationScope } from './types.ts';
import { TollgateError } from '../../domain/errors.ts';

const catalog = createCatalog({});
const plan = (model: string, format: 'anthropic' | 'openai' = 'anthropic'): AttemptPlan => ({
  candidate: resolveCandidates({ model, models: undefined, format, surface: format === 'anthropic' ? 'messages' : 'chat-completions', body: { messages: [] } }, catalog, snapshot())[0]!, keySource: 'user', credential: 'k',
});
const scope: TranslationScope = { accountId: 'a', keep: false, includeUsage: true };

/** SSE text → [event, data] pairs, as the Anthropic SDK's reader splits them. */
function events(text: string): [string, Record<string, unknown>][] {
  const out: [string, Record<string, unknown>][] = [];
  const parser = createParser({ onEvent: (e) => out.push([e.event ?? '', JSON.parse(e.data) as Record<string, unknown>]) });
  parser.feed(text);
  return out;
}

test('a chat, Messages, Responses or Gemini request naming Nova reaches Converse (its streaming twin for a stream); Claude on Bedrock stays on InvokeModel', () => {
  const messages = plan('bedrock:amazon.nova-pro-v1:0');
  assert.deepEqual([messages.candidate.surface.format, messages.candidate.surface.surface], ['bedrock', 'converse']);
  assert.equal(translatorFor({ format: 'anthropic', surface: 'messages' }, messages.candidate.surface), messagesViaConverse);
  const streamed = resolveCandidates({ model: 'us.amazon.nova-lite-v1:0', models: undefined, format: 'openai', surface: 'chat-completions', body: { messages: [], stream: true } }, catalog, snapshot())[0]!;
  assert.deepEqual([streamed.provider.id, streamed.surface.surface, streamed.surface.path], ['bedrock', 'converse-stream', '/model/{model}/converse-stream']);
  // An uncatalogued Amazon or Meta id too: neither is on Bedrock's OpenAI-compatible endpoint.
  assert.equal(plan('bedrock:meta.llama3-3-70b-instruct-v1:0', 'openai').candidate.surface.surface, 'converse');
  for (const surface of ['responses', 'generate-content'] as const) {
    const [c] = resolveCandidates({ model: 'bedrock:amazon.nova-micro-v1:0', models: undefined, format: surface === 'responses' ? 'openai' : 'gemini', surface, body: {} }, catalog, snapshot());
    assert.equal(c!.surface.surface, 'converse', surface);
    assert.ok(translatorFor({ format: surface === 'responses' ? 'openai' : 'gemini', surface }, c!.surface), surface);
  }
  assert.equal(plan('bedrock:anthropic.claude-sonnet-4-6', 'openai').candidate.surface.surface, 'invoke');
});

test('a Messages request goes up as Converse: system, turns (consecutive ones of a role joined), images, documents, tool calls and results, inference settings, tools and choice; the rest removed and named', () => {
  const { body, removed } = messagesViaConverse.request({
    model: 'amazon.nova-pro-v1:0', stream: true, max_tokens: 300, temperature: 0.2, top_p: 0.9, top_k: 5, stop_sequences: ['END'], metadata: { user_id: 'u' },
    system: [{ type: 'text', text: 'Be brief.' }],
    messages: [
      { role: 'user', content: 'Look.' },
      { role: 'user', content: [
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBO' } },
        { type: 'document', title: 'spec', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBE' } },
        { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'notes' } },
      ] },
      { role: 'assistant', content: [{ type: 'thinking', thinking: 'hm', signature: 's' }, { type: 'text', text: 'Calling.' }, { type: 'tool_use', id: 't1', name: 'weather', input: { city: 'Paris' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', is_error: true, content: [{ type: 'text', text: 'no such city' }] }] },
    ],
    tools: [{ name: 'weather', description: 'Weather', input_schema: { type: 'object' } }, { type: 'web_search_20250305', name: 'web_search' }],
    tool_choice: { type: 'tool', name: 'weather' },
  }, plan('bedrock:amazon.nova-pro-v1:0'));
  assert.deepEqual(body, {
    system: [{ text: 'Be brief.' }],
    messages: [
      { role: 'user', content: [
        { text: 'Look.' },
        { image: { format: 'png', source: { bytes: 'iVBO' } } },
        { document: { format: 'pdf', name: 'spec', source: { bytes: 'JVBE' } } },
        { document: { format: 'txt', name: 'document 2', source: { bytes: Buffer.from('notes').toString('base64') } } },
      ] },
      { role: 'assistant', content: [{ text: 'Calling.' }, { toolUse: { toolUseId: 't1', name: 'weather', input: { city: 'Paris' } } }] },
      { role: 'user', content: [{ toolResult: { toolUseId: 't1', content: [{ text: 'no such city' }], status: 'error' } }] },
    ],
    inferenceConfig: { maxTokens: 300, temperature: 0.2, topP: 0.9, stopSequences: ['END'] },
    toolConfig: { tools: [{ toolSpec: { name: 'weather', description: 'Weather', inputSchema: { json: { type: 'object' } } } }], toolChoice: { tool: { name: 'weather' } } },
  });
  assert.deepEqual(removed, ['top_k', 'metadata', 'tools']);
  // `none` has no Converse form: the tools stay (a history's calls need them), the choice is named as not held.
  assert.deepEqual(messagesViaConverse.request({ messages: [{ role: 'user', content: 'x' }], tools: [{ name: 'f', input_schema: { type: 'object' } }], tool_choice: { type: 'none' } }, plan('bedrock:amazon.nova-pro-v1:0')).removed, ['tool_choice']);
});

test('what Converse cannot take (an image by URL, a file id, a server tool\'s result) refuses the request before Bedrock; chat images by URL too', () => {
  assert.equal(converseUnsendableReason({ messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'x' } }] }] }), undefined);
  assert.match(converseUnsendableReason({ messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'url', url: 'https://x/y.png' } }] }] })!, /Converse cannot take \(image not given as base64 data\)/);
  // An image of another type is named by it, not said to be missing its data.
  assert.match(converseUnsendableReason({ messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/svg+xml', data: 'PHN2Zz4=' } }] }] })!, /Converse cannot take \(an image of type "image\/svg\+xml"\)/);
  assert.match(converseUnsendableReason({ messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0x' } }] }] }] })!, /Converse cannot take \(document in a tool result\)/);
  assert.match(converseUnsendableReason({ messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'file', file_id: 'f' } }] }] })!, /document/);
  assert.match(converseUnsendableReason({ messages: [{ role: 'assistant', content: [{ type: 'server_tool_use', id: 's', name: 'web_search', input: {} }] }] })!, /server_tool_use/);
  assert.match(untranslatableReason('chat-completions', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }] }, 'converse')!, /image by URL/);
  assert.equal(untranslatableReason('chat-completions', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] }] }, 'converse'), undefined);
  assert.match(untranslatableReason('messages', { messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'url', url: 'https://x' } }] }] }, 'converse-stream')!, /Converse cannot take/);
  // A Responses client's image or file by URL (in a message or a tool's output) too: Messages would have taken it.
  const responses = (part: Record<string, unknown>, output = false) => untranslatableReason('responses', { input: [output ? { type: 'function_call_output', call_id: 'c', output: [part] } : { role: 'user', content: [part] }] }, 'converse');
  assert.match(responses({ type: 'input_image', image_url: 'https://x/y.png' })!, /image by URL/);
  assert.match(responses({ type: 'input_image', image_url: 'https://x/y.png' }, true)!, /image by URL/);
  assert.match(responses({ type: 'input_file', file_url: 'https://x/y.pdf' })!, /file by URL/);
  assert.equal(responses({ type: 'input_image', image_url: 'data:image/png;base64,AAAA' }), undefined);
});

test('Converse\'s answer as a Messages message: text, tool calls, reasoning, the stop reason and usage', () => {
  const message = messagesViaConverse.answer({
    output: { message: { role: 'assistant', content: [{ reasoningContent: { reasoningText: { text: 'Let me see.', signature: 'sig' } } }, { text: 'Checking.' }, { toolUse: { toolUseId: 'tooluse_1', name: 'weather', input: { city: 'Paris' } } }] } },
    stopReason: 'tool_use', usage: { inputTokens: 12, outputTokens: 7, totalTokens: 24, cacheReadInputTokens: 5 }, metrics: { latencyMs: 3 },
  }, scope) as Record<string, unknown>;
  assert.match(String(message.id), /^msg_bdrk_[0-9a-f]{24}$/);
  assert.deepEqual(message.content, [
    { type: 'thinking', thinking: 'Let me see.', signature: 'sig' }, { type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 'tooluse_1', name: 'weather', input: { city: 'Paris' } },
  ]);
  assert.deepEqual([message.stop_reason, message.usage], ['tool_use', { input_tokens: 12, output_tokens: 7, cache_read_input_tokens: 5, cache_creation_input_tokens: 0 }]);
  assert.equal((messagesViaConverse.answer({ output: { message: { content: [{ text: 'no' }] } }, stopReason: 'guardrail_intervened' }, scope) as Record<string, unknown>).stop_reason, 'refusal');
  // Bedrock's refusal, `{"message": …}`, as Anthropic's error.
  assert.deepEqual(JSON.parse(messagesViaConverse.error(400, '{"message":"Malformed input request"}')), { type: 'error', error: { type: 'invalid_request_error', message: 'Malformed input request' } });
});

test('ConverseStream\'s events as Anthropic\'s stream: blocks opened where text first comes or a tool call starts, usage from the metadata event, then message_stop', () => {
  const stream = messagesViaConverse.stream(scope);
  const feed = (event: string, body: unknown) => stream.event(event, JSON.stringify(body));
  feed('messageStart', { role: 'assistant' });
  feed('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Checking ' } });
  const early = events(stream.take());
  assert.deepEqual(early.map(([e]) => e), ['message_start', 'content_block_start', 'content_block_delta'], 'text goes out as it comes');
  feed('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'now.' } });
  feed('contentBlockStop', { contentBlockIndex: 0 });
  feed('contentBlockStart', { contentBlockIndex: 1, start: { toolUse: { toolUseId: 'tooluse_2', name: 'weather' } } });
  feed('contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: '{"city":' } } });
  feed('contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: '"Paris"}' } } });
  feed('contentBlockStop', { contentBlockIndex: 1 });
  feed('messageStop', { stopReason: 'tool_use' });
  feed('metadata', { usage: { inputTokens: 20, outputTokens: 9, totalTokens: 29 }, metrics: { latencyMs: 5 } });
  const rest = events(stream.take() + stream.finish());
  assert.deepEqual(rest.map(([e, d]) => [e, d.type]), [
    ['content_block_delta', 'content_block_delta'], ['content_block_stop', 'content_block_stop'], ['content_block_start', 'content_block_start'],
    ['content_block_delta', 'content_block_delta'], ['content_block_delta', 'content_block_delta'], ['content_block_stop', 'content_block_stop'],
    ['message_delta', 'message_delta'], ['message_stop', 'message_stop'],
  ]);
  assert.deepEqual(rest[2]![1].content_block, { type: 'tool_use', id: 'tooluse_2', name: 'weather', input: {} });
  assert.deepEqual(rest[3]![1].delta, { type: 'input_json_delta', partial_json: '{"city":' });
  assert.deepEqual([rest[6]![1].delta, rest[6]![1].usage], [{ stop_reason: 'tool_use', stop_sequence: null }, { input_tokens: 20, output_tokens: 9, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 }]);
});

test('an exception frame mid-stream is Anthropic\'s error event, of the kind the SDKs retry by, and nothing follows it', () => {
  const stream = messagesViaConverse.stream(scope);
  stream.event('messageStart', JSON.stringify({ role: 'assistant' }));
  stream.event('throttlingException', JSON.stringify({ message: 'Too many tokens, please wait before trying again.' }));
  stream.event('contentBlockDelta', JSON.stringify({ contentBlockIndex: 0, delta: { text: 'late' } }));
  const out = events(stream.take() + stream.finish());
  assert.deepEqual(out.map(([e]) => e), ['message_start', 'error']);
  assert.deepEqual(out[1]![1].error, { type: 'rate_limit_error', message: 'Too many tokens, please wait before trying again.' });
});

test('a translated Converse answer names the model Bedrock was asked for (Converse names none), buffered and in the stream\'s message_start', () => {
  const named = { ...scope, model: 'amazon.nova-pro-v1:0' };
  const message = messagesViaConverse.answer({ output: { message: { content: [{ text: 'hi' }] } }, stopReason: 'end_turn' }, named) as Record<string, unknown>;
  assert.equal(message.model, 'amazon.nova-pro-v1:0');
  const stream = messagesViaConverse.stream(named);
  stream.event('messageStart', JSON.stringify({ role: 'assistant' }));
  assert.equal((events(stream.take())[0]![1].message as Record<string, unknown>).model, 'amazon.nova-pro-v1:0');
});

test('an answer Converse stopped as malformed is refused, not given as a finished turn: a call Bedrock could not read as ngrok\'s TOOL_CALL_ARGUMENTS_INVALID, unreadable output as an upstream failure', () => {
  const call = { output: { message: { content: [{ text: 'Checking.' }, { toolUse: { toolUseId: 't1', name: 'weather', input: {} } }] } }, stopReason: 'malformed_tool_use' };
  assert.throws(() => messagesViaConverse.answer(call, scope), (e: unknown) => e instanceof TollgateError && e.spec.code === 'ERR_NGROK_AI_GATEWAY_TOOL_CALL_ARGUMENTS_INVALID' && e.status === 502 && /tool `weather`/.test(e.message));
  assert.throws(() => messagesViaConverse.answer({ output: { message: { content: [{ text: '{"a' }] } }, stopReason: 'malformed_model_output' }, scope), (e: unknown) => e instanceof TollgateError && e.spec.code === 'ERR_NGROK_27613' && e.status === 502 && /malformed_model_output/.test(e.message));

  // Streamed: the blocks close, and the refusal (relay.ts) takes the place of message_delta and message_stop.
  const stream = messagesViaConverse.stream(scope);
  const feed = (event: string, body: unknown) => stream.event(event, JSON.stringify(body));
  feed('messageStart', { role: 'assistant' });
  feed('contentBlockStart', { contentBlockIndex: 0, start: { toolUse: { toolUseId: 't2', name: 'weather' } } });
  feed('contentBlockDelta', { contentBlockIndex: 0, delta: { toolUse: { input: '{"city": Par' } } });
  feed('messageStop', { stopReason: 'malformed_tool_use' });
  feed('metadata', { usage: { inputTokens: 5, outputTokens: 4, totalTokens: 9 } });
  const out = events(stream.take() + stream.finish());
  assert.deepEqual(out.map(([e]) => e), ['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop']);
  assert.match(String(stream.failure?.()?.message), /tool `weather`/);
  const whole = messagesViaConverse.stream(scope);
  whole.event('messageStop', JSON.stringify({ stopReason: 'end_turn' }));
  whole.finish();
  assert.equal(whole.failure?.(), undefined);
});

test('ConverseStream gaps: an end before the metadata event closes the message with an output estimate, not zero; tool input for no call begun is left out (and logged) without a gap in the block indexes; redacted reasoning is a redacted_thinking block', async () => {
  const warned: string[] = [];
  const stream = messagesViaConverse.stream({ ...scope, warn: (_details, message) => warned.push(message) });
  const feed = (event: string, body: unknown) => stream.event(event, JSON.stringify(body));
  feed('messageStart', { role: 'assistant' });
  feed('contentBlockDelta', { contentBlockIndex: 0, delta: { reasoningContent: { redactedContent: 'ZW5jcnlwdGVk' } } });
  feed('contentBlockStop', { contentBlockIndex: 0 });
  // An orphan call streamed in many pieces: logged once for its block, not once a piece.
  for (const piece of ['{"orp', 'han"', ':true}']) feed('contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: piece } } });
  feed('contentBlockStop', { contentBlockIndex: 1 });
  feed('contentBlockDelta', { contentBlockIndex: 2, delta: { text: 'The answer is forty-two, as computed.' } });
  feed('contentBlockStop', { contentBlockIndex: 2 });
  feed('messageStop', { stopReason: 'end_turn' });
  const out = events(stream.take() + stream.finish());
  assert.deepEqual(out.map(([e, d]) => [e, d.index ?? null]), [
    ['message_start', null], ['content_block_start', 0], ['content_block_stop', 0],
    ['content_block_start', 1], ['content_block_delta', 1], ['content_block_stop', 1], ['message_delta', null], ['message_stop', null],
  ]);
  assert.deepEqual(out[1]![1].content_block, { type: 'redacted_thinking', data: 'ZW5jcnlwdGVk' });
  assert.equal(warned.length, 1);
  const usage = out[6]![1].usage as { output_tokens: number };
  assert.ok(usage.output_tokens > 0, `an estimate, not ${usage.output_tokens}`);

  // What the Anthropic SDK makes of it: a whole message, the redacted block and the text in their places.
  const message = await MessageStream.fromReadableStream(new Response(out.map(([, data]) => `${JSON.stringify(data)}\n`).join('')).body!).finalMessage();
  assert.deepEqual(message.content.map((b) => b.type), ['redacted_thinking', 'text']);
  assert.equal(message.stop_reason, 'end_turn');
});

test('the stream\'s message_start carries the prompt\'s estimated size (Converse counts it only in its last event): a stream ending without that event does not tell the client its prompt was empty', async () => {
  const stream = messagesViaConverse.stream({ ...scope, inputTokens: () => 42 });
  const feed = (event: string, body: unknown) => stream.event(event, JSON.stringify(body));
  feed('messageStart', { role: 'assistant' });
  feed('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hello.' } });
  feed('contentBlockStop', { contentBlockIndex: 0 });
  feed('messageStop', { stopReason: 'end_turn' });
  const out = events(stream.take() + stream.finish());
  const message = await MessageStream.fromReadableStream(new Response(out.map(([, data]) => `${JSON.stringify(data)}\n`).join('')).body!).finalMessage();
  assert.equal(message.usage.input_tokens, 42);
  // With Converse's own count, that count is the client's.
  const counted = messagesViaConverse.stream({ ...scope, inputTokens: () => 42 });
  counted.event('messageStart', JSON.stringify({ role: 'assistant' }));
  counted.event('messageStop', JSON.stringify({ stopReason: 'end_turn' }));
  counted.event('metadata', JSON.stringify({ usage: { inputTokens: 7, outputTokens: 1, totalTokens: 8 } }));
  const whole = events(counted.take() + counted.finish());
  const final = await MessageStream.fromReadableStream(new Response(whole.map(([, data]) => `${JSON.stringify(data)}\n`).join('')).body!).finalMessage();
  assert.equal(final.usage.input_tokens, 7);
});

test('a Gemini text file (inlineData text/*, UTF-8) reaches Claude on InvokeModel and Converse\'s models as a text document, as it reaches Claude on Messages', () => {
  const body = { contents: [{ role: 'user', parts: [{ text: 'Summarise.' }, { inlineData: { mimeType: 'text/markdown', data: Buffer.from('# Notes\ncafé').toString('base64') } }] }] };
  for (const [model, document] of [
    ['bedrock:amazon.nova-pro-v1:0', { document: { format: 'txt', name: 'document 1', source: { bytes: Buffer.from('# Notes\ncafé').toString('base64') } } }],
    ['bedrock:anthropic.claude-sonnet-4-6', { type: 'document', source: { type: 'text', media_type: 'text/plain', data: '# Notes\ncafé' } }],
  ] as const) {
    const [candidate] = resolveCandidates({ model, models: undefined, format: 'gemini', surface: 'generate-content', body: {} }, catalog, snapshot());
    assert.equal(untranslatableReason('generate-content', body, candidate!.surface.surface), undefined, model);
    const translator = translatorFor({ format: 'gemini', surface: 'generate-content' }, candidate!.surface)!;
    const sent = translator.request(body, { candidate: candidate!, keySource: 'user', credential: 'k' }).body;
    assert.deepEqual((sent.messages as { content: unknown[] }[])[0]!.content[1], document, model);
  }
});

test('redacted reasoning, sent whole at its block\'s end, is what the stream keeps meanwhile (the relay ends a stream keeping more than 64 MiB); nothing once the block closed', () => {
  const stream = messagesViaConverse.stream(scope);
  const feed = (event: string, body: unknown) => stream.event(event, JSON.stringify(body));
  feed('messageStart', { role: 'assistant' });
  for (let i = 0; i < 3; i++) feed('contentBlockDelta', { contentBlockIndex: 0, delta: { reasoningContent: { redactedContent: 'x'.repeat(1000) } } });
  feed('contentBlockDelta', { contentBlockIndex: 1, delta: { text: 'streamed, not kept' } });
  assert.equal(stream.held, 3000);
  feed('contentBlockStop', { contentBlockIndex: 0 });
  assert.equal(stream.held, 0);
});
