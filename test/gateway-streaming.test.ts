// Streaming through the gateway with the official SDKs: chunks arrive as they are produced, usage is read
// from the stream (both formats), a broken upstream stream raises in the SDK, and a client that goes away
// aborts the upstream request. SQLite store.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { generateText, streamText } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { gw, startHarness, type Harness } from './helpers/gateway.ts';
import { FAKE_USAGE } from './fake-upstream.ts';

describe('gateway streaming (sqlite)', () => {
  let h: Harness;
  let token: string;
  let openai: OpenAI;
  let anthropic: Anthropic;
  before(async () => {
    h = await startHarness('sqlite');
    const ko = await h.providerKey('openai', 'sk-stream-openai');
    const ka = await h.providerKey('anthropic', 'sk-stream-anthropic');
    token = (await h.accessKey(await h.configuration({ router: { rules: [
      { provider: 'openai', steps: [{ type: 'user', keys: [{ id: ko }] }] },
      { provider: 'anthropic', steps: [{ type: 'user', keys: [{ id: ka }] }] },
    ] } }))).token;
    openai = new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: token, maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: h.gatewayUrl, apiKey: token, maxRetries: 0 });
  });
  after(async () => { await h.close(); });

  test('OpenAI stream: chunks arrive before the end; usage read from the stream without showing the client an extra chunk', async () => {
    const { data: stream, response } = await openai.chat.completions.create({ model: 'openai:drip-chat', stream: true, messages: [{ role: 'user', content: 'stream please' }] }).withResponse();
    const arrivals: number[] = [];
    let text = '';
    for await (const chunk of stream) {
      arrivals.push(Date.now());
      assert.ok(chunk.choices.length > 0, 'the usage-only chunk the gateway asked for is not shown');
      assert.equal(chunk.usage ?? null, null);
      text += chunk.choices[0]!.delta.content ?? '';
    }
    assert.match(text, /fake drip-chat model/);
    assert.ok(arrivals[arrivals.length - 1]! - arrivals[0]! > 600, 'chunks were delivered as produced, not buffered');
    assert.equal(h.fake.requests.at(-1)!.body!.stream_options && (h.fake.requests.at(-1)!.body!.stream_options as { include_usage: boolean }).include_usage, true);
    const [row] = await h.usage(response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([row!.inputTokens, row!.outputTokens, row!.cacheReadTokens, row!.reasoningTokens, Number(row!.isStreaming), Number(row!.usageEstimated), row!.stopReason, row!.completion],
      [FAKE_USAGE.input, FAKE_USAGE.output, FAKE_USAGE.cacheRead, FAKE_USAGE.reasoning, 1, 0, 'stop', 'succeeded']);
  });

  test('OpenAI stream with include_usage: the client gets its usage chunk', async () => {
    const stream = await openai.chat.completions.create({ model: 'gpt-4o', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'u' }] });
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    assert.equal(usage?.prompt_tokens, FAKE_USAGE.input);
  });

  test('Anthropic stream: message_start and message_delta usage recorded once each', async () => {
    const stream = anthropic.messages.stream({ model: 'claude-sonnet-4-6', max_tokens: 100, messages: [{ role: 'user', content: 'stream' }] });
    const final = await stream.finalMessage();
    assert.match((final.content[0] as { text: string }).text, /claude-sonnet-4-6/);
    assert.equal(final.usage.output_tokens, FAKE_USAGE.output);
    const requestId = (await stream.withResponse()).response.headers.get('ngrok-aig-request-id')!;
    const [row] = await h.usage(requestId, 1);
    assert.deepEqual([row!.inputTokens, row!.outputTokens, row!.cacheReadTokens, row!.cacheWriteTokens, row!.stopReason],
      [FAKE_USAGE.input + FAKE_USAGE.cacheRead + FAKE_USAGE.cacheWrite, FAKE_USAGE.output, FAKE_USAGE.cacheRead, FAKE_USAGE.cacheWrite, 'end_turn']);
  });

  test('Vercel AI SDK (provider.chat) generates and streams', async () => {
    const provider = createOpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: token });
    const gen = await generateText({ model: provider.chat('gpt-4o'), prompt: 'vercel', maxRetries: 0 });
    assert.match(gen.text, /fake gpt-4o/);
    assert.equal(gen.usage.inputTokens, FAKE_USAGE.input);
    const streamed = streamText({ model: provider.chat('gpt-4o-mini'), prompt: 'vercel stream', maxRetries: 0 });
    let text = '';
    for await (const part of streamed.textStream) text += part;
    assert.match(text, /fake gpt-4o-mini/);
    assert.equal((await streamed.usage).outputTokens, FAKE_USAGE.output);
  });

  test('a stream cut mid-way ends with an error event and the SDKs raise', async () => {
    const raw = await gw(h, '/v1/chat/completions', { token, body: { model: 'openai:cut-raw', stream: true, messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(raw.status, 200);
    assert.match(raw.text, /data: \{"error":\{"type":"api_error","code":"ERR_NGROK_27235"/);
    assert.ok(!raw.text.includes('[DONE]'));
    const [row] = await h.usage(raw.headers.get('ngrok-aig-request-id')!, 1);
    assert.equal(row!.completion, 'stream_failed');
    assert.equal(Number(row!.isError), 1);

    await assert.rejects(async () => {
      const stream = await openai.chat.completions.create({ model: 'openai:cut-sdk', stream: true, messages: [{ role: 'user', content: 'x' }] });
      for await (const _ of stream) { /* drain */ }
    }, (e: unknown) => e instanceof OpenAI.APIError && /ERR_NGROK_27235/.test(e.message));

    const rawA = await gw(h, '/v1/messages', { headers: { 'x-api-key': token }, body: { model: 'anthropic:cut-raw', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'x' }] } });
    assert.match(rawA.text, /event: error\ndata: \{"type":"error"/);
    assert.ok(!rawA.text.includes('message_stop'));
    await assert.rejects(async () => {
      const stream = await anthropic.messages.create({ model: 'anthropic:cut-sdk', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'x' }] });
      for await (const _ of stream) { /* drain */ }
    }, Anthropic.APIError);

    // Responses streams get Responses' own error event, which the OpenAI SDK raises and the AI SDK (whose
    // default OpenAI model speaks Responses) reports as the gateway's error rather than a validation failure.
    const rawR = await gw(h, '/v1/responses', { token, body: { model: 'openai:cut-raw', stream: true, input: 'x' } });
    assert.match(rawR.text, /event: error\ndata: \{"type":"error","code":"ERR_NGROK_27235"/);
    // Numbered after the provider's last event, as OpenAI numbers every event of a stream.
    const numbers = [...rawR.text.matchAll(/"sequence_number":(\d+)/g)].map((m) => Number(m[1]));
    assert.ok(numbers.length >= 2, rawR.text);
    assert.equal(numbers.at(-1), numbers.at(-2)! + 1, rawR.text);
    // Translated (a Claude model behind), after the translation's own numbering.
    const rawT = await gw(h, '/v1/responses', { token, body: { model: 'anthropic:cut-raw', stream: true, input: 'x' } });
    const translatedNumbers = [...rawT.text.matchAll(/"sequence_number":(\d+)/g)].map((m) => Number(m[1]));
    assert.match(rawT.text, /"type":"error"/);
    assert.deepEqual(translatedNumbers, translatedNumbers.map((_, i) => i), rawT.text);
    await assert.rejects(async () => {
      const stream = await openai.responses.create({ model: 'openai:cut-sdk', stream: true, input: 'x' });
      for await (const _ of stream) { /* drain */ }
    }, (e: unknown) => e instanceof OpenAI.APIError && /ERR_NGROK_27235/.test(e.message));
    const provider = createOpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: token });
    const errors: unknown[] = [];
    const streamed = streamText({ model: provider('openai:cut-ai'), prompt: 'x', maxRetries: 0, onError: ({ error }) => { errors.push(error); } });
    for await (const _ of streamed.fullStream) { /* drain */ }
    assert.equal(errors.length, 1);
    assert.match(JSON.stringify(errors[0]) + String((errors[0] as Error).message ?? ''), /ERR_NGROK_27235/);
    assert.doesNotMatch(String((errors[0] as Error).message ?? ''), /Type validation failed/);
  });

  test('a stream the provider ends cleanly before its final event is an error too, not a complete answer', async () => {
    const raw = await gw(h, '/v1/chat/completions', { token, body: { model: 'openai:short-raw', stream: true, messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(raw.status, 200);
    assert.match(raw.text, /ERR_NGROK_27235.*before its final event/);
    assert.ok(!raw.text.includes('[DONE]'));
    const [row] = await h.usage(raw.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([row!.completion, Number(row!.isError)], ['stream_failed', 1]);
    await assert.rejects(async () => {
      const stream = await openai.chat.completions.create({ model: 'openai:short-sdk', stream: true, messages: [{ role: 'user', content: 'x' }] });
      for await (const _ of stream) { /* drain */ }
    }, (e: unknown) => e instanceof OpenAI.APIError && /ERR_NGROK_27235/.test(e.message));
    await assert.rejects(async () => {
      const stream = await anthropic.messages.create({ model: 'anthropic:short-sdk', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'x' }] });
      for await (const _ of stream) { /* drain */ }
    }, Anthropic.APIError);
  });

  test('a 200 stream that opens with an error event (overloaded) fails over to the next model; alone it is a 503', async () => {
    const stream = anthropic.messages.stream({ model: 'anthropic:overloaded-sonnet', models: ['claude-haiku-4-5'], max_tokens: 20, messages: [{ role: 'user', content: 'fallback' }] } as Anthropic.MessageStreamParams);
    const message = await stream.finalMessage();
    assert.equal(message.stop_reason, 'end_turn');
    const response = (await stream.withResponse()).response;
    assert.equal(response.headers.get('ngrok-aig-attempts'), '2');
    assert.equal(response.headers.get('ngrok-aig-model'), 'claude-haiku-4-5');
    const rows = await h.usage(response.headers.get('ngrok-aig-request-id')!, 2);
    assert.deepEqual(rows.map((r) => [r.model, r.statusCode, Number(r.isError), r.retryAction]), [
      ['overloaded-sonnet', 200, 1, 'next_backend'],
      ['claude-haiku-4-5', 200, 0, 'succeeded'],
    ]);
    const chat = await openai.chat.completions.create({ model: 'openai:overloaded-gpt', models: ['gpt-4o-mini'], stream: true, messages: [{ role: 'user', content: 'fallback' }] } as OpenAI.ChatCompletionCreateParamsStreaming);
    let text = '';
    for await (const chunk of chat) text += chunk.choices[0]?.delta.content ?? '';
    assert.match(text, /gpt-4o-mini/);
    const alone = await gw(h, '/v1/messages', { headers: { 'x-api-key': token }, body: { model: 'anthropic:overloaded-only', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(alone.status, 503);
    assert.match(alone.json().error.message, /then an error event before any output/);
  });

  test('a chat stream that opens with an SSE comment (OpenRouter\'s keep-alive) and then an error event fails over too', async () => {
    // `: PROCESSING`, then the error: no event reached the client before it, so the next model may serve.
    const r = await gw(h, '/v1/chat/completions', { token, body: { model: 'openai:commented-overloaded-gpt', models: ['gpt-4o-mini'], stream: true, messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual([r.headers.get('ngrok-aig-model'), r.headers.get('ngrok-aig-attempts')], ['gpt-4o-mini', '2'], r.text);
    assert.doesNotMatch(r.text, /overloaded/);
    const rows = await h.usage(r.headers.get('ngrok-aig-request-id')!, 2);
    assert.deepEqual(rows.map((row) => [row.model, row.statusCode, Number(row.isError), row.retryAction]), [['commented-overloaded-gpt', 200, 1, 'next_backend'], ['gpt-4o-mini', 200, 0, 'succeeded']]);
    // A comment before an ordinary stream changes nothing: the answer is the first model's.
    const alone = await gw(h, '/v1/chat/completions', { token, body: { model: 'openai:commented-overloaded-only', stream: true, messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(alone.status, 200);
    assert.match(alone.text, /^: PROCESSING/);
  });

  test('a stream whose first event is an error is read by its kind: rate limits stay rate limits, the request\'s own fault is relayed', async () => {
    // Rate limited on every model, in the first event after a 200: the SDKs' RateLimitError, not a 503 "all failed".
    const limited = openai.chat.completions.create({ model: 'openai:ratelimited-a', models: ['openai:ratelimited-b'], stream: true, messages: [{ role: 'user', content: 'x' }] } as OpenAI.ChatCompletionCreateParamsStreaming);
    await assert.rejects(limited, (e: unknown) => e instanceof OpenAI.RateLimitError && /ERR_NGROK_27217/.test(e.message));
    await assert.rejects(anthropic.messages.create({ model: 'anthropic:ratelimited-sonnet', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'x' }] }), Anthropic.RateLimitError);
    // The prompt is over the model's context window: no other key or model is asked, no 503 the SDKs would retry
    // twice for nothing — the provider's own error, which the SDK raises with the provider's message.
    h.fake.reset();
    const retrying = new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: token, maxRetries: 2 });
    const { data: refused, response } = await retrying.chat.completions.create({ model: 'openai:refused-a', models: ['gpt-4o-mini'], stream: true, messages: [{ role: 'user', content: 'x' }] } as OpenAI.ChatCompletionCreateParamsStreaming).withResponse();
    assert.equal(response.headers.get('ngrok-aig-attempts'), '1');
    await assert.rejects(async () => { for await (const _ of refused) { /* drain */ } }, (e: unknown) => e instanceof OpenAI.APIError && /maximum context length is 128000 tokens/.test(e.message));
    assert.equal(h.fake.requests.length, 1, 'one upstream call: neither failed over nor retried by the SDK');
    const [row] = await h.usage(response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([row!.model, row!.statusCode, Number(row!.isFinalAttempt), row!.retryAction, row!.completion, Number(row!.isError)], ['refused-a', 200, 1, 'succeeded', 'stream_failed', 1]);
    const claude = anthropic.messages.stream({ model: 'anthropic:refused-sonnet', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] });
    await assert.rejects(claude.finalMessage(), (e: unknown) => e instanceof Anthropic.APIError && /prompt is too long/.test(e.message));
  });

  test('a failure reported right after a stream\'s opening events (Responses\' error event, Anthropic\'s overload after message_start) fails over too', async () => {
    // Responses: response.created and response.in_progress, then an error event, as OpenAI reports one.
    const { data: responses, response } = await openai.responses.create({ model: 'openai:overloaded-gpt', models: ['gpt-4o-mini'], stream: true, input: 'fallback' } as OpenAI.Responses.ResponseCreateParamsStreaming).withResponse();
    const types: string[] = [];
    let text = '';
    for await (const event of responses) {
      types.push(event.type);
      if (event.type === 'response.output_text.delta') text += event.delta;
    }
    assert.match(text, /gpt-4o-mini/);
    assert.ok(!types.includes('error'), 'the client never saw the first attempt\'s error');
    assert.equal(types.filter((t) => t === 'response.created').length, 1, 'nor its opening events');
    const rows = await h.usage(response.headers.get('ngrok-aig-request-id')!, 2);
    assert.deepEqual(rows.map((r) => [r.model, r.statusCode, Number(r.isError), r.retryAction]), [['overloaded-gpt', 200, 1, 'next_backend'], ['gpt-4o-mini', 200, 0, 'succeeded']]);
    // Anthropic: message_start and a ping, then overloaded_error.
    const late = anthropic.messages.stream({ model: 'anthropic:late-overloaded-sonnet', models: ['claude-haiku-4-5'], max_tokens: 20, messages: [{ role: 'user', content: 'fallback' }] } as Anthropic.MessageStreamParams);
    assert.equal((await late.finalMessage()).model, 'claude-haiku-4-5');
    // A rate limit reported that way is one: recorded as a failed attempt, and the next model serves.
    const limited = await gw(h, '/v1/responses', { token, body: { model: 'openai:ratelimited-gpt', models: ['gpt-4o-mini'], stream: true, input: 'x' } });
    assert.equal(limited.status, 200, limited.text);
    const limitedRows = await h.usage(limited.headers.get('ngrok-aig-request-id')!, 2);
    assert.deepEqual(limitedRows.map((r) => [r.model, r.statusCode, Number(r.isError), r.retryAction]), [['ratelimited-gpt', 200, 1, 'next_backend'], ['gpt-4o-mini', 200, 0, 'succeeded']]);
    // With no attempt left to fail over to, nothing is held (it would only delay the first byte): the provider's
    // stream, its error event included, is the answer.
    const alone = await gw(h, '/v1/responses', { token, body: { model: 'openai:ratelimited-gpt', stream: true, input: 'x' } });
    assert.equal(alone.status, 200);
    assert.match(alone.text, /event: response\.created[\s\S]*event: error[\s\S]*too_many_requests/);
    // A stream that opens normally is committed at its first answer event, not held for the whole answer: its
    // first bytes reach the client while the provider is still sending (events 150 ms apart).
    const drip = await fetch(`${h.gatewayUrl}/v1/messages`, { method: 'POST', headers: { 'x-api-key': token, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'anthropic:drip-sonnet', models: ['claude-haiku-4-5'], max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'x' }] }) });
    const reader = drip.body!.getReader();
    const decoder = new TextDecoder();
    let first = '';
    let firstAt = 0;
    let all = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const piece = decoder.decode(value, { stream: true });
      if (!firstAt) { firstAt = performance.now(); first = piece; }
      all += piece;
    }
    assert.ok(first.startsWith('event: message_start'), first.slice(0, 200));
    assert.ok(performance.now() - firstAt >= 300, 'the first bytes came well before the end');
    assert.match(all, /event: message_stop/);
  });

  test('a 200 stream that drops or ends before its first event fails over: nothing reached the client', async () => {
    for (const failing of ['hangup', 'empty']) {
      const chat = await openai.chat.completions.create({ model: `openai:${failing}-gpt`, models: ['gpt-4o-mini'], stream: true, messages: [{ role: 'user', content: 'fallback' }] } as OpenAI.ChatCompletionCreateParamsStreaming).withResponse();
      let text = '';
      for await (const chunk of chat.data) text += chunk.choices[0]?.delta.content ?? '';
      assert.match(text, /gpt-4o-mini/, failing);
      assert.equal(chat.response.headers.get('ngrok-aig-attempts'), '2', failing);
      const rows = await h.usage(chat.response.headers.get('ngrok-aig-request-id')!, 2);
      assert.deepEqual(rows.map((r) => [r.model, r.statusCode, Number(r.isError), r.retryAction, r.completion]), [
        [`${failing}-gpt`, 200, 1, 'next_backend', 'failed'],
        ['gpt-4o-mini', 200, 0, 'succeeded', 'succeeded'],
      ], failing);
    }
    // Alone: the provider answered, then broke off before the answer — 502 27235, in the request's format.
    const alone = await gw(h, '/v1/messages', { headers: { 'x-api-key': token }, body: { model: 'anthropic:hangup-only', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(alone.status, 502);
    assert.equal(alone.json().type, 'error');
    assert.match(alone.json().error.message, /ERR_NGROK_27235.*answered HTTP 200, then the connection broke/);
    // An empty stream ended cleanly: nothing broke, so it is not called a broken connection.
    const empty = await gw(h, '/v1/chat/completions', { token, body: { model: 'openai:empty-only', stream: true, messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(empty.status, 503);
    assert.match(empty.json().error.message, /ERR_NGROK_3807.*HTTP 200, then a stream that ended without any event/);
    const [emptyRow] = await h.usage(empty.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([Number(emptyRow!.isError), emptyRow!.completion], [1, 'failed']);
  });

  test('a Responses stream whose events carry their type only in data (no `event:` lines) is complete and metered', async () => {
    const stream = await openai.responses.create({ model: 'openai:unnamed-gpt', stream: true, input: 'unnamed events' }).withResponse();
    const types: string[] = [];
    for await (const event of stream.data) types.push(event.type);
    assert.equal(types[0], 'response.created');
    assert.equal(types.at(-1), 'response.completed');
    assert.ok(!types.includes('error'));
    const [row] = await h.usage(stream.response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([row!.completion, Number(row!.usageEstimated), Number(row!.inputTokens) > 0], ['succeeded', 0, true]);
    // An Anthropic-compatible server doing the same: relayed as it came, no error appended, metered on its counts.
    const messages = await gw(h, '/v1/messages', { token, headers: { 'anthropic-version': '2023-06-01' }, body: { model: 'anthropic:unnamed-claude', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'x' }] } });
    assert.ok(messages.text.includes('"type":"message_stop"') && !messages.text.includes('event: error'), messages.text.slice(-300));
    const [claudeRow] = await h.usage(messages.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([claudeRow!.completion, Number(claudeRow!.usageEstimated), claudeRow!.stopReason, Number(claudeRow!.outputTokens)], ['succeeded', 0, 'end_turn', FAKE_USAGE.output]);
    // Translated for a Responses client, its events are read by their type as well.
    const translated = await openai.responses.create({ model: 'anthropic:unnamed-claude', stream: true, input: 'unnamed events' });
    let text = '';
    for await (const event of translated) if (event.type === 'response.output_text.delta') text += event.delta;
    assert.match(text, /fake unnamed-claude model/);
  });

  test('a native Responses stream reaches the SDK\'s stream helper whole: text and a function call, each item opened and closed, metered', async () => {
    const text = openai.responses.stream({ model: 'openai:gpt-4o', input: 'native responses stream' });
    const deltas: string[] = [];
    text.on('response.output_text.delta', (e) => deltas.push(e.delta));
    const final = await text.finalResponse();
    assert.equal(final.output_text, deltas.join(''));
    assert.match(final.output_text, /gpt-4o/);
    assert.equal(final.usage?.output_tokens, FAKE_USAGE.output);

    const { data: call, response } = await openai.responses.create({ model: 'openai:tool-gpt', stream: true, input: 'weather?', tools: [{ type: 'function', name: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: false }] }).withResponse();
    const types: string[] = [];
    let args = '';
    let item: unknown;
    for await (const event of call) {
      types.push(event.type);
      if (event.type === 'response.function_call_arguments.delta') args += event.delta;
      if (event.type === 'response.output_item.done') item = event.item;
    }
    assert.deepEqual(types.filter((t) => t.startsWith('response.output_item')), ['response.output_item.added', 'response.output_item.done']);
    assert.equal(args, '{"city":"Paris"}');
    assert.deepEqual(item, { type: 'function_call', id: 'fc_fake1', call_id: 'call_fake1', name: 'weather', arguments: '{"city":"Paris"}', status: 'completed' });
    const [row] = await h.usage(response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([row!.completion, Number(row!.usageEstimated), Number(row!.outputTokens)], ['succeeded', 0, FAKE_USAGE.output]);
  });

  test('a stream with its stop reason and usage but no final event (some servers) is complete, metered on the provider\'s counts', async () => {
    const raw = await gw(h, '/v1/chat/completions', { token, body: { model: 'openai:nodone-gpt', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'x' }] } });
    assert.ok(!raw.text.includes('[DONE]') && !raw.text.includes('"error"'), 'relayed as it came, no error event');
    const [row] = await h.usage(raw.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([row!.completion, Number(row!.usageEstimated), row!.stopReason, Number(row!.outputTokens)], ['succeeded', 0, 'stop', FAKE_USAGE.output]);
    const messages = await gw(h, '/v1/messages', { token, headers: { 'anthropic-version': '2023-06-01' }, body: { model: 'anthropic:nodone-claude', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'x' }] } });
    assert.ok(!messages.text.includes('message_stop'));
    const [event] = await h.usage(messages.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([event!.completion, Number(event!.usageEstimated), event!.stopReason], ['succeeded', 0, 'end_turn']);
  });

  test('a stream ends for the client at its final event, though the provider holds its connection open a while', async () => {
    // The SDKs read a stream to the end of the body, not to `[DONE]` / `message_stop`: a provider (or a proxy in
    // front of it) that lingers must not keep the client waiting. Bytes relayed unchanged (include_usage asked).
    const { data: stream, response } = await openai.chat.completions.create({ model: 'openai:linger-1500-gpt', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'x' }] }).withResponse();
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    assert.equal(usage?.completion_tokens, FAKE_USAGE.output);
    assert.equal(h.fake.requests.at(-1)!.completed, false, 'the client had its answer before the provider ended it');
    // Metered on the provider's counts once it ends.
    const [row] = await h.usage(response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([row!.completion, Number(row!.usageEstimated), row!.stopReason, Number(row!.outputTokens)], ['succeeded', 0, 'stop', FAKE_USAGE.output]);

    const messages = anthropic.messages.stream({ model: 'anthropic:linger-1500-claude', max_tokens: 50, messages: [{ role: 'user', content: 'x' }] });
    const final = await messages.finalMessage();
    assert.equal(final.usage.output_tokens, FAKE_USAGE.output);
    assert.equal(h.fake.requests.at(-1)!.completed, false);
    const [event] = await h.usage((await messages.withResponse()).response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([event!.completion, Number(event!.usageEstimated), event!.stopReason], ['succeeded', 0, 'end_turn']);
  });

  test('a provider that holds its connection long after the final event is let go: the record does not wait for it', async () => {
    // 20 s of silence after the final event, below the 30 s stream idle limit: the client has its answer at once
    // (its SDK reads to the end of the body), and the gateway stops waiting for the provider after a moment.
    const letGo = async (requestId: string | null, content: string): Promise<void> => {
      assert.match(content, /linger-20000/);
      const [row] = await h.usage(requestId!, 1);
      assert.deepEqual([row!.completion, Number(row!.isError), Number(row!.usageEstimated), Number(row!.outputTokens)], ['succeeded', 0, 0, FAKE_USAGE.output]);
      assert.deepEqual([h.fake.requests.at(-1)!.aborted, h.fake.requests.at(-1)!.completed], [true, false], 'the provider connection was let go');
    };
    // Relayed byte for byte (usage asked for), and filtered (the usage chunk the gateway asked for, hidden).
    for (const streamOptions of [{ include_usage: true }, undefined]) {
      const { data: stream, response } = await openai.chat.completions.create({ model: 'openai:linger-20000-gpt', stream: true, stream_options: streamOptions, messages: [{ role: 'user', content: 'x' }] }).withResponse();
      let content = '';
      for await (const chunk of stream) content += chunk.choices[0]?.delta.content ?? '';
      await letGo(response.headers.get('ngrok-aig-request-id'), content);
    }
    // Responses: its final event (`response.completed`) is recognised once metered.
    const { data: events, response } = await openai.responses.create({ model: 'openai:linger-20000-resp', stream: true, input: 'x' }).withResponse();
    let text = '';
    for await (const event of events) if (event.type === 'response.output_text.delta') text += event.delta;
    await letGo(response.headers.get('ngrok-aig-request-id'), text);
    // Anthropic relayed, and both translated ways (the client's stream closed in its own format).
    for (const model of ['anthropic:linger-20000-claude', 'openai:linger-20000-gpt']) {
      const messages = anthropic.messages.stream({ model, max_tokens: 50, messages: [{ role: 'user', content: 'x' }] });
      const final = await messages.finalMessage();
      await letGo((await messages.withResponse()).response.headers.get('ngrok-aig-request-id'), final.content.map((b) => (b.type === 'text' ? b.text : '')).join(''));
    }
    const { data: translated, response: viaClaude } = await openai.chat.completions.create({ model: 'anthropic:linger-20000-claude', stream: true, messages: [{ role: 'user', content: 'x' }] }).withResponse();
    let fromClaude = '';
    for await (const chunk of translated) fromClaude += chunk.choices[0]?.delta.content ?? '';
    await letGo(viaClaude.headers.get('ngrok-aig-request-id'), fromClaude);
  });

  test('an error event a provider sends after its final event changes neither the answer nor its record', async () => {
    // The client's answer ended at the final event; what a misbehaving provider adds in the linger is not the
    // client's, so the request is not recorded as a failed stream.
    const { data: stream, response } = await openai.chat.completions.create({ model: 'openai:linger-1500-stray-gpt', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'x' }] }).withResponse();
    let content = '';
    for await (const chunk of stream) content += chunk.choices[0]?.delta.content ?? '';
    assert.match(content, /linger-1500-stray-gpt/);
    const [row] = await h.usage(response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([row!.completion, Number(row!.isError), Number(row!.outputTokens)], ['succeeded', 0, FAKE_USAGE.output]);
    const messages = anthropic.messages.stream({ model: 'anthropic:linger-1500-stray-claude', max_tokens: 50, messages: [{ role: 'user', content: 'x' }] });
    assert.equal((await messages.finalMessage()).usage.output_tokens, FAKE_USAGE.output);
    const [event] = await h.usage((await messages.withResponse()).response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([event!.completion, Number(event!.isError), event!.stopReason], ['succeeded', 0, 'end_turn']);
  });

  test('an event stream is recognised whatever the case of its media type', async () => {
    const chunks: string[] = [];
    const stream = await openai.chat.completions.create({ model: 'openai:mixedcase-gpt', stream: true, messages: [{ role: 'user', content: 'case' }] });
    for await (const chunk of stream) chunks.push(chunk.choices[0]?.delta.content ?? '');
    assert.match(chunks.join(''), /mixedcase-gpt/);
    // Relayed as a stream (not collected as one JSON body): metered from the provider's usage chunk, which the
    // gateway asked for and hides.
    const raw = await gw(h, '/v1/chat/completions', { token, body: { model: 'openai:mixedcase-raw', stream: true, messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(raw.headers.get('content-length'), null);
    assert.ok(!raw.text.includes('"choices":[]'), 'the injected usage chunk is not forwarded');
    const [row] = await h.usage(raw.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([Number(row!.usageEstimated), row!.stopReason], [0, 'stop']);
  });

  test("an answer that decodes past what the gateway holds is ngrok's UPSTREAM_RESPONSE_TOO_LONG with its remedy, and listed as such among failures", async () => {
    const error = await openai.chat.completions.create({ model: 'openai:gzip-bomb-chat', messages: [{ role: 'user', content: 'zip' }] }).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof OpenAI.APIError && error.status === 502, String(error));
    assert.equal(error.code, 'ERR_NGROK_AI_GATEWAY_UPSTREAM_RESPONSE_TOO_LONG');
    assert.match(error.message, /The provider's response is too long\. Max 64 MiB\. Stream the response, or ask for less output\./);
    // Beside another kind of failure, the attempt list says what this one was.
    const mixed = await gw(h, '/v1/chat/completions', { token, body: { model: 'openai:gzip-bomb-chat', models: ['openai:fail-500-after'], messages: [{ role: 'user', content: 'zip' }] } });
    assert.equal(mixed.json().error.code, 'ERR_NGROK_3807');
    assert.match(mixed.json().error.message, /openai:gzip-bomb-chat with [^:]+: HTTP 200, then an answer longer than 64 MiB/);
  });

  test('an upstream that compresses despite accept-encoding: identity is decoded: answers, errors and streams', async () => {
    // JSON: the client reads plain JSON (no content-encoding it did not ask for), metered from the provider's usage.
    const { data: answer, response } = await openai.chat.completions.create({ model: 'openai:gzip-chat', messages: [{ role: 'user', content: 'zip' }] }).withResponse();
    assert.match(answer.choices[0]!.message.content!, /gzip-chat/);
    assert.equal(h.fake.requests.at(-1)!.headers['accept-encoding'], 'identity');
    const [row] = await h.usage(response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([row!.inputTokens, row!.outputTokens, Number(row!.usageEstimated)], [FAKE_USAGE.input, FAKE_USAGE.output, 0]);
    const raw = await gw(h, '/v1/chat/completions', { token, headers: { 'accept-encoding': 'identity' }, body: { model: 'openai:gzip-chat', messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(raw.headers.get('content-encoding'), null);
    assert.equal(Number(raw.headers.get('content-length')), Buffer.byteLength(raw.text));
    assert.match(raw.json().choices[0].message.content, /gzip-chat/);
    // A compressed provider error is passed through readable (the SDK sees its status and message).
    await assert.rejects(openai.chat.completions.create({ model: 'openai:gzip-fail-400-chat', messages: [{ role: 'user', content: 'x' }] }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && e.status === 400 && typeof e.message === 'string' && !/ERR_NGROK_3800/.test(e.message));
    // Streams: decoded event by event as they come, with the provider's usage.
    const { data: stream, response: streamed } = await openai.chat.completions.create({ model: 'openai:gzip-drip-chat', stream: true, messages: [{ role: 'user', content: 'zip' }] }).withResponse();
    const arrivals: number[] = [];
    let text = '';
    for await (const chunk of stream) {
      arrivals.push(Date.now());
      text += chunk.choices[0]?.delta.content ?? '';
    }
    assert.match(text, /gzip-drip-chat/);
    assert.ok(arrivals.at(-1)! - arrivals[0]! > 600, 'decoded chunks were delivered as produced');
    const [streamRow] = await h.usage(streamed.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([streamRow!.inputTokens, streamRow!.outputTokens, Number(streamRow!.usageEstimated), streamRow!.completion], [FAKE_USAGE.input, FAKE_USAGE.output, 0, 'succeeded']);
    const anthropicStream = anthropic.messages.stream({ model: 'anthropic:gzip-claude', max_tokens: 10, messages: [{ role: 'user', content: 'zip' }] });
    assert.equal((await anthropicStream.finalMessage()).usage.output_tokens, FAKE_USAGE.output);
  });

  test('a client that goes away aborts the upstream request', async () => {
    const controller = new AbortController();
    const stream = await openai.chat.completions.create({ model: 'openai:drip-abort', stream: true, messages: [{ role: 'user', content: 'x' }] }, { signal: controller.signal });
    const aborted = h.fake.waitForAbort((r) => r.body?.model === 'drip-abort');
    try {
      for await (const _ of stream) controller.abort();
    } catch { /* the SDK may raise or just stop */ }
    const seen = await aborted;
    assert.equal(seen.completed, false);
  });

  test('a client leaving while a JSON answer is on its way is billed what the provider counted; after a second, the call is aborted', async () => {
    const eventsOf = async (model: string, statusCode?: number) => {
      const deadline = Date.now() + 5000;
      for (;;) {
        const rows = (await h.running.store.db.selectFrom('usageEvents').selectAll().where('model', '=', model).execute()).filter((r) => statusCode === undefined || r.statusCode === statusCode);
        if (rows.length > 0 || Date.now() > deadline) return rows;
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    const leave = async (model: string, fallbacks: string[] = [], extra: Record<string, unknown> = {}) => {
      const controller = new AbortController();
      const reached = new Promise<void>((resolve) => h.fake.events.on('request', (r) => { if (r.body?.model === model) resolve(); }));
      const call = openai.chat.completions.create({ model: `openai:${model}`, models: fallbacks, messages: [{ role: 'user', content: 'x' }], ...extra } as OpenAI.ChatCompletionCreateParamsNonStreaming, { signal: controller.signal });
      await reached;
      controller.abort();
      await assert.rejects(call);
    };
    await leave('slow-400-leave');
    const [arrived] = await eventsOf('slow-400-leave');
    assert.deepEqual([Number(arrived!.inputTokens), Number(arrived!.outputTokens), Number(arrived!.usageEstimated), arrived!.completion, arrived!.statusCode], [FAKE_USAGE.input, FAKE_USAGE.output, 0, 'unknown', 200]);
    // An answer later than the grace: the provider sees the call aborted, and nothing came to count.
    const aborted = h.fake.waitForAbort((r) => r.body?.model === 'slow-3000-gone');
    await leave('slow-3000-gone');
    assert.equal((await aborted).completed, false);
    const [gone] = await eventsOf('slow-3000-gone');
    assert.deepEqual([Number(gone!.outputTokens), gone!.completion, gone!.statusCode], [0, 'unknown', 0]);
    // The provider read the prompt all the same (and bills it): its input is billed as estimated, the output it never
    // showed is not. A priced model, kept in flight by the fake for 3 s; a long prompt, so the estimate is no accident.
    const prompt = 'The quick brown fox jumps over the lazy dog. '.repeat(200);
    const reachedPriced = new Promise<void>((resolve) => h.fake.events.on('request', (r) => { if (JSON.stringify(r.body?.messages ?? '').includes('lazy dog')) resolve(); }));
    const controller = new AbortController();
    // On the operator's key (an `ngrok` step), whose price is billed to the account's credit.
    const managedToken = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'ngrok' }] }] } }))).token;
    const managed = new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: managedToken, maxRetries: 0 });
    const priced = managed.chat.completions.create({ model: 'openai:gpt-4o-mini', metadata: { fake_delay_ms: '3000' }, messages: [{ role: 'user', content: prompt }] }, { signal: controller.signal });
    await reachedPriced;
    controller.abort();
    await assert.rejects(priced);
    const [unanswered] = await eventsOf('gpt-4o-mini', 0);
    // As every estimate is stored: the provider's counts (none) apart from the gateway's estimate.
    assert.deepEqual([unanswered!.keySource, unanswered!.completion, unanswered!.statusCode, Number(unanswered!.usageEstimated), Number(unanswered!.inputTokens), Number(unanswered!.outputTokens), Number(unanswered!.outputTokensEstimate)], ['ngrok', 'unknown', 0, 1, 0, 0, 0]);
    const input = Number(unanswered!.inputTokensEstimate);
    assert.ok(input > 1000 && input < 3000, `the prompt's ~1,800 tokens estimated: ${input}`);
    // gpt-4o-mini's input at $0.15 per million tokens (150,000 pico-USD a token), no processing fee (not a success).
    assert.deepEqual([BigInt(unanswered!.costPico), BigInt(unanswered!.feePico)], [BigInt(input) * 150_000n, 0n]);
    // A failure arriving within that second stops the chain there: no fallback is recorded, none is made.
    await leave('slow-300-fail-500-left', ['gpt-4o-mini']);
    const [failed] = await eventsOf('slow-300-fail-500-left');
    assert.deepEqual([failed!.statusCode, failed!.retryAction, failed!.completion, Number(failed!.isFinalAttempt)], [500, 'fail_fast', 'unknown', 1]);
  });

  test('a client hanging up between the last words and the usage event is billed what the provider counted', async () => {
    // The stream is read on for a moment after the client leaves: the usage events come right after the words.
    const controller = new AbortController();
    const { data: stream, response } = await openai.chat.completions.create({ model: 'openai:drip-leave', stream: true, messages: [{ role: 'user', content: 'x' }] }, { signal: controller.signal }).withResponse();
    try {
      for await (const chunk of stream) if (chunk.choices[0]?.finish_reason) controller.abort();
    } catch { /* the SDK may raise or just stop */ }
    const [row] = await h.usage(response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([row!.inputTokens, row!.outputTokens, Number(row!.usageEstimated), row!.completion], [FAKE_USAGE.input, FAKE_USAGE.output, 0, 'unknown']);

    const leaving = new AbortController();
    const { data: messages, response: anthropicResponse } = await anthropic.messages.create({ model: 'anthropic:drip-leave', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'x' }] }, { signal: leaving.signal }).withResponse();
    try {
      for await (const event of messages) if (event.type === 'content_block_stop') leaving.abort();
    } catch { /* the SDK may raise or just stop */ }
    const [anthropicRow] = await h.usage(anthropicResponse.headers.get('ngrok-aig-request-id')!, 1);
    assert.equal(Number(anthropicRow!.outputTokens), FAKE_USAGE.output);
    assert.equal(Number(anthropicRow!.usageEstimated), 0);
  });

  test('a client that stopped reading and then left still gets its stream read for the usage', async () => {
    // A 16 MB answer fills the socket buffers, so the gateway pauses the provider for the client; the client
    // then hangs up without reading. The usage event after the big chunk must still be read in the grace.
    const { hostname, port } = new URL(h.gatewayUrl);
    const body = JSON.stringify({ model: 'openai:flood-leave', stream: true, messages: [{ role: 'user', content: 'flood me' }] });
    const requestId = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => {
        socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n`);
        socket.write(body);
      });
      socket.once('data', (head: Buffer) => {
        socket.pause(); // stop reading: the gateway's writes back up
        const id = /ngrok-aig-request-id: (rq_\w+)/i.exec(head.toString('latin1'))?.[1];
        setTimeout(() => { socket.destroy(); id ? resolve(id) : reject(new Error('no request id')); }, 500);
      });
      socket.on('error', reject);
    });
    const [row] = await h.usage(requestId, 1);
    assert.equal(Number(row!.usageEstimated), 0, 'the provider\'s own usage was read');
    assert.equal(Number(row!.outputTokens), FAKE_USAGE.output);
  });

  test('a stream left early bills what it streamed, never only the provider\'s opening count', async () => {
    // Anthropic reports output_tokens: 1 in message_start; the real count comes in the last events, which a
    // client leaving early (and the abort after the grace) never lets arrive.
    const story = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
    const leaving = new AbortController();
    const { data: messages, response } = await anthropic.messages.create({ model: 'anthropic:drip-early', max_tokens: 500, stream: true, messages: [{ role: 'user', content: story }] }, { signal: leaving.signal }).withResponse();
    let deltas = 0;
    try {
      for await (const event of messages) if (event.type === 'content_block_delta' && ++deltas === 12) leaving.abort();
    } catch { /* the SDK may raise or just stop */ }
    const [row] = await h.usage(response.headers.get('ngrok-aig-request-id')!, 1);
    assert.equal(Number(row!.usageEstimated), 1);
    assert.ok(Number(row!.outputTokens) >= 10, `output tokens ${row!.outputTokens}: the dozen words streamed count`);
    assert.equal(row!.completion, 'unknown');
  });

  test('no usage from the provider: usageEstimated with o200k token estimates', async () => {
    const r = await gw(h, '/v1/chat/completions', { token, body: { model: 'openai:nousage-x', stream: true, messages: [{ role: 'user', content: 'count my tokens please' }] } });
    assert.ok(r.text.includes('[DONE]'));
    const [row] = await h.usage(r.headers.get('ngrok-aig-request-id')!, 1);
    assert.equal(Number(row!.usageEstimated), 1);
    assert.equal(row!.inputTokens, 0);
    assert.ok(Number(row!.inputTokensEstimate) > 0);
    assert.ok(Number(row!.outputTokensEstimate) > 5);
    const j = await gw(h, '/v1/messages', { headers: { 'x-api-key': token }, body: { model: 'anthropic:nousage-y', max_tokens: 5, messages: [{ role: 'user', content: 'hi there' }] } });
    const [jr] = await h.usage(j.headers.get('ngrok-aig-request-id')!, 1);
    assert.equal(Number(jr!.usageEstimated), 1);
    assert.ok(Number(jr!.inputTokensEstimate) > 0);
    // A JSON answer without usage is estimated from what it generated too, not billed as 0 output tokens.
    assert.ok(Number(jr!.outputTokensEstimate) > 5, `anthropic JSON output estimate ${jr!.outputTokensEstimate}`);
    const oj = await gw(h, '/v1/chat/completions', { token, body: { model: 'openai:nousage-z', messages: [{ role: 'user', content: 'hi there' }] } });
    const [ojr] = await h.usage(oj.headers.get('ngrok-aig-request-id')!, 1);
    assert.equal(Number(ojr!.usageEstimated), 1);
    assert.ok(Number(ojr!.outputTokensEstimate) > 5, `openai JSON output estimate ${ojr!.outputTokensEstimate}`);
  });
});

describe('processing fee on streams (sqlite)', () => {
  let h: Harness;
  let token: string;
  before(async () => {
    // A high fee so the cost of a few tokens is visible; the user's own key: the fee is the whole cost.
    h = await startHarness('sqlite', { TOLLGATE_PROCESSING_FEE_USD_PER_MTOK: '1000' });
    const ko = await h.providerKey('openai', 'sk-fee-openai');
    token = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: ko }] }] }] } }))).token;
  });
  after(async () => { await h.close(); });

  test('a completed stream pays the fee; a stream the provider broke does not, though its tokens are still estimated', async () => {
    const whole = await gw(h, '/v1/chat/completions', { token, body: { model: 'openai:gpt-4o', stream: true, messages: [{ role: 'user', content: 'hello there' }] } });
    assert.ok(whole.text.includes('[DONE]'));
    const [paid] = await h.usage(whole.headers.get('ngrok-aig-request-id')!, 1);
    assert.equal(paid!.completion, 'succeeded');
    assert.ok(BigInt(paid!.costPico) > 0n, `a completed stream costs the fee (${paid!.costPico})`);

    const cut = await gw(h, '/v1/chat/completions', { token, body: { model: 'openai:cut-fee', stream: true, messages: [{ role: 'user', content: 'hello there' }] } });
    assert.match(cut.text, /ERR_NGROK_27235/);
    const [broken] = await h.usage(cut.headers.get('ngrok-aig-request-id')!, 1);
    assert.equal(broken!.completion, 'stream_failed');
    assert.ok(Number(broken!.inputTokensEstimate) + Number(broken!.outputTokensEstimate) + Number(broken!.inputTokens) > 0, 'tokens are still counted');
    assert.equal(BigInt(broken!.costPico), 0n, 'no processing fee on a failed request');
  });
});

describe('stream time limits (sqlite)', () => {
  // Short limits so the test runs in seconds: a stream may be quiet 2 s and run 2.5 s (ngrok's: 30 s, 15 min).
  let h: Harness;
  let token: string;
  let openai: OpenAI;
  before(async () => {
    h = await startHarness('sqlite', { TOLLGATE_STREAM_IDLE_TIMEOUT_MS: '2000', TOLLGATE_STREAM_TIMEOUT_MS: '2500' });
    const ko = await h.providerKey('openai', 'sk-limits-openai');
    token = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: ko }] }] }] } }))).token;
    openai = new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: token, maxRetries: 0 });
    // Written alone, so the account's totalTimeout stays its unwritten default (120s).
    await h.gatewayConfig({ perRequestTimeout: '100ms' });
    await new Promise((r) => setTimeout(r, 100));
  });
  after(async () => { await h.close(); });

  const ask = (model: string) => gw(h, '/v1/chat/completions', { token, body: { model: `openai:${model}`, stream: true, messages: [{ role: 'user', content: 'x' }] } });
  const rowOf = async (r: { headers: Headers }) => (await h.usage(r.headers.get('ngrok-aig-request-id')!, 1))[0]!;

  test('the per-request timeout ends at the first event: a stream quiet for 1.6 s passes a 100ms per-request timeout', async () => {
    const arrivals: number[] = [];
    let text = '';
    for await (const chunk of await openai.chat.completions.create({ model: 'openai:quiet-1600-limits', stream: true, messages: [{ role: 'user', content: 'x' }] })) {
      arrivals.push(Date.now());
      text += chunk.choices[0]?.delta.content ?? '';
    }
    assert.match(text, /fake quiet-1600-limits model/);
    assert.ok(arrivals.at(-1)! - arrivals[0]! >= 1500, 'the provider paused mid-stream');
  });

  test('a provider quiet for longer than the stream idle limit: the client gets an error event, the attempt is timed_out', async () => {
    const started = Date.now();
    const r = await ask('quiet-4000-limits');
    assert.equal(r.status, 200);
    // Not before the limit; the error event (and no [DONE]) shows it was cut, not finished when the provider went on.
    assert.ok(Date.now() - started >= 1900, `cut after ${Date.now() - started} ms`);
    assert.match(r.text, /data: \{"error":\{"type":"api_error","code":"ERR_NGROK_27235","message":"[^"]*no data for 2s/);
    assert.doesNotMatch(r.text, /\[DONE\]/);
    const row = await rowOf(r);
    assert.deepEqual([row.completion, Number(row.timedOut)], ['timed_out', 1]);
  });

  test('with no totalTimeout written, a stream runs to the stream limit, not to the total timeout', async () => {
    const started = Date.now();
    const r = await ask('drip-300-limits'); // 13 events 300 ms apart: ~3.6 s
    const took = Date.now() - started;
    // Not before the limit; the 3810 event below shows it was cut rather than finished (a finished stream has none).
    assert.ok(took >= 2400, `cut after ${took} ms`);
    assert.match(r.text, /"code":"ERR_NGROK_3810","message":"ERR_NGROK_3810: Request timed out after 2\.5s\./);
    const row = await rowOf(r);
    assert.deepEqual([row.completion, Number(row.timedOut)], ['timed_out', 1]);
  });

  test('a totalTimeout the account wrote bounds its streams, shorter or longer than the stream limit', async () => {
    await h.gatewayConfig({ totalTimeout: '1s' });
    await new Promise((r) => setTimeout(r, 100));
    let started = Date.now();
    const short = await ask('drip-limits'); // ~1.8 s
    assert.ok(Date.now() - started >= 900, `cut after ${Date.now() - started} ms`);
    assert.match(short.text, /"code":"ERR_NGROK_3810","message":"ERR_NGROK_3810: Request timed out after 1s\./);

    await h.gatewayConfig({ totalTimeout: '6s' });
    await new Promise((r) => setTimeout(r, 100));
    started = Date.now();
    const long = await ask('drip-300-limits');
    assert.ok(Date.now() - started > 3000, 'it ran past the 2.5 s stream limit');
    assert.match(long.text, /data: \[DONE\]/);
    assert.equal((await rowOf(long)).completion, 'succeeded');
  });

  test('a client holding the stream back is not the provider going quiet: the stream waits, then completes', async () => {
    // 16 MB fill the socket buffers, so the gateway pauses the provider; the client reads nothing for 2.5 s (over
    // the 2 s quiet limit), then reads it all.
    const { hostname, port } = new URL(h.gatewayUrl);
    const body = JSON.stringify({ model: 'openai:flood-held', stream: true, messages: [{ role: 'user', content: 'flood me' }] });
    await h.gatewayConfig({ perRequestTimeout: '5s' });
    await new Promise((r) => setTimeout(r, 100));
    const received = await new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let tail = '';
      const socket = connect(Number(port), hostname, () => {
        socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n`);
        socket.write(body);
      });
      const take = (c: Buffer) => {
        chunks.push(c);
        tail = (tail + c.toString('latin1', Math.max(0, c.length - 256))).slice(-512);
        if (tail.includes('data: [DONE]') || tail.includes('ERR_NGROK')) { socket.destroy(); resolve(Buffer.concat(chunks).toString('latin1')); }
      };
      socket.once('data', (head: Buffer) => {
        socket.pause();
        take(head);
        setTimeout(() => { socket.on('data', take); socket.resume(); }, 2500);
      });
      socket.on('error', reject);
    });
    assert.doesNotMatch(received, /ERR_NGROK/);
    assert.match(received, /data: \[DONE\]/);
    const id = /ngrok-aig-request-id: (rq_\w+)/i.exec(received)![1]!;
    const [row] = await h.usage(id, 1);
    assert.equal(row!.completion, 'succeeded');
  });
});
