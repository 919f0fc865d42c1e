// A translated stream keeps parts of the answer until its end (a Messages client's tool calls, checked whole at the
// close; a Responses client's whole output, repeated by its final events; a Gemini client's calls, sent whole; a chat
// client's thinking, sent as reasoning_details): a provider streaming without end (a tenant's custom one can) must
// not fill the gateway's memory with it. Each direction, against a provider streaming past the limit as fast as the
// link goes; the gateway runs on a stub of its state, everything else real.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { startGatewayServer, type GatewayServer } from '../src/gateway/server.ts';
import { Upstreams } from '../src/gateway/upstream.ts';
import { MAX_HELD_STREAM_BYTES } from '../src/gateway/exchange.ts';
import { createCatalog } from '../src/catalog/index.ts';
import type { BegunAttempt, UsageEvent } from '../src/usage/event.ts';
import { snapshot } from './helpers/snapshot.ts';
import { collectingSink, finalEvent, stubState } from './helpers/stub-gateway.ts';

const TOKEN = 'ng-translation-limit-key';
const REASON = /ERR_NGROK_27235: The upstream stream ended unexpectedly: the provider sent more of one answer than the gateway holds to translate it \(64 MiB\)\./;
/** What the provider streams of the piece that grows: past the limit by half of it. */
const TOTAL = MAX_HELD_STREAM_BYTES + 32 * 1024 * 1024;
const PIECE = 'x'.repeat(64 * 1024);

/** A provider's stream: what opens it, one piece repeated past TOTAL (or until the gateway lets go), what ends it. */
interface Endless { head: string; piece: string; tail: string }

const chatChunk = (delta: unknown, finish: string | null = null) => `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const messagesEvent = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;

/** A chat call whose arguments (a JSON object, once whole) grow past the limit. */
const CHAT_CALL: Endless = {
  head: chatChunk({ role: 'assistant', tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"' } }] }),
  piece: chatChunk({ tool_calls: [{ index: 0, function: { arguments: PIECE } }] }),
  tail: `${chatChunk({ tool_calls: [{ index: 0, function: { arguments: '"}' } }] })}${chatChunk({}, 'tool_calls')}data: [DONE]\n\n`,
};
const CHAT_TOOLS = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];

describe('a translated stream keeps at most 64 MiB of one answer', () => {
  let provider: Server;
  let gateway: GatewayServer;
  let stream: Endless = CHAT_CALL;
  let written = 0;
  const usage: (BegunAttempt | UsageEvent)[] = [];

  before(async () => {
    provider = createServer(async (req, res) => {
      for await (const _ of req);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(stream.head);
      written = 0;
      while (written < TOTAL && !res.destroyed) {
        written += stream.piece.length;
        if (!res.write(stream.piece)) await once(res, 'drain');
      }
      res.end(stream.tail);
    });
    provider.listen(0, '127.0.0.1');
    await once(provider, 'listening');
    const url = `http://127.0.0.1:${(provider.address() as AddressInfo).port}`;
    const account = snapshot({ providerKeys: ['openai', 'anthropic', 'deepseek'].map((id) => ({ id: `aigpk_${id}`, providerId: id, value: `sk-${id}` })) });
    gateway = await startGatewayServer({
      state: stubState(() => account, new Map([[TOKEN, { id: 'aigak_1', configurationId: null }]])), usage: collectingSink(usage), logger: pino({ level: 'silent' }),
      catalog: createCatalog({ openai: `${url}/v1`, anthropic: `${url}/v1`, deepseek: url }),
      upstreams: new Upstreams({ loopId: 'translation-limit-test', allowPrivate: true }),
      options: { maxBodyBytes: 1024 * 1024, managedKeys: {}, processingFeeMicroUsdPerMtok: 0n, loopId: 'translation-limit-test', clientHeadersTimeoutMs: 10_000, clientRequestTimeoutMs: 30_000, streamIdleTimeoutMs: 30_000, streamTimeoutMs: 60_000 },
    }, '127.0.0.1', 0);
  });
  after(async () => {
    await gateway.close(0);
    provider.close();
  });

  /**
   * Streams `body` to `path` while the provider sends `endless`: the client's events, the attempt's record. The
   * client reads with fetch: the SDKs' stream helpers reparse a call's whole arguments at every piece.
   */
  async function streamed(endless: Endless, path: string, body: Record<string, unknown>): Promise<{ events: string[]; record: UsageEvent }> {
    stream = endless;
    const response = await fetch(`${gateway.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(response.status, 200);
    const events = (await response.text()).split(/\r?\n\r?\n/).filter((e) => e !== '');
    // Counting the output relayed (its estimate) takes the tokenizer thread a while: 64 MiB of it.
    const record = await finalEvent(usage, response.headers.get('ngrok-aig-request-id')!, 10_000);
    // The provider was let go at the limit: it never got to write all it had.
    assert.ok(written < TOTAL, `the provider was let go once the limit was passed (it wrote ${written} of ${TOTAL} bytes)`);
    assert.equal(record.completion, 'stream_failed');
    // The usage seen so far: the output relayed, estimated when the provider had not counted it yet.
    assert.ok(record.outputTokens > 0 || (record.usageEstimated && record.outputTokensEstimate > 0), 'the output relayed so far is counted');
    return { events, record };
  }

  test('Messages ← chat: a tool call past the limit ends the stream with an Anthropic error event naming it', async () => {
    const { events } = await streamed(CHAT_CALL, '/v1/messages', { model: 'openai:gpt-4o', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'weather?' }], tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }] });
    assert.ok(events.some((e) => e.includes('"input_json_delta"')), 'the call streamed live up to the limit');
    assert.match(events.at(-1)!, /^event: error\ndata: \{"type":"error","error":\{"type":"api_error","code":"ERR_NGROK_27235"/);
    assert.match(events.at(-1)!, REASON);
    assert.equal(events.some((e) => e.startsWith('event: message_stop')), false);
  });

  test('Responses ← chat: a text answer past the limit (the whole output is kept for the final events) ends with an `error` event naming it', async () => {
    const text: Endless = { head: chatChunk({ role: 'assistant', content: '' }), piece: chatChunk({ content: PIECE }), tail: `${chatChunk({}, 'stop')}data: [DONE]\n\n` };
    const { events } = await streamed(text, '/v1/responses', { model: 'deepseek:deepseek-flash', stream: true, input: 'write on' });
    assert.ok(events.some((e) => e.startsWith('event: response.output_text.delta')), 'the text streamed live up to the limit');
    assert.match(events.at(-1)!, /^event: error\ndata: \{"type":"error",/);
    assert.match(events.at(-1)!, REASON);
    assert.equal(events.some((e) => e.startsWith('event: response.completed')), false);
  });

  test('Gemini ← chat: a call past the limit (Gemini sends calls whole) ends with Google\'s error chunk naming it', async () => {
    const { events } = await streamed(CHAT_CALL, '/v1beta/models/openai:gpt-4o:streamGenerateContent?alt=sse', { contents: [{ role: 'user', parts: [{ text: 'weather?' }] }], tools: [{ functionDeclarations: [{ name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } }] }] });
    assert.equal(events.some((e) => e.includes('functionCall')), false, 'nothing of the call went out');
    assert.match(events.at(-1)!, /^data: \{"error":\{"code":502,/);
    assert.match(events.at(-1)!, REASON);
  });

  test('Responses ← Messages (through chat): what the composed halves keep counts, text past the limit ending the stream', async () => {
    const text: Endless = {
      head: messagesEvent('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-6', content: [], usage: { input_tokens: 5, output_tokens: 1 } } })
        + messagesEvent('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
      piece: messagesEvent('content_block_delta', { index: 0, delta: { type: 'text_delta', text: PIECE } }),
      tail: messagesEvent('content_block_stop', { index: 0 }) + messagesEvent('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 9 } }) + messagesEvent('message_stop', {}),
    };
    const { events } = await streamed(text, '/v1/responses', { model: 'anthropic:claude-sonnet-4-6', stream: true, input: 'write on' });
    assert.match(events.at(-1)!, /^event: error\ndata: \{"type":"error",/);
    assert.match(events.at(-1)!, REASON);
    assert.equal(events.some((e) => e.startsWith('event: response.completed')), false);
  });

  test('chat ← Messages: thinking past the limit (kept for the finish chunk\'s reasoning_details) ends with a chat error chunk naming it', async () => {
    const thinking: Endless = {
      head: messagesEvent('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-6', content: [], usage: { input_tokens: 5, output_tokens: 1 } } })
        + messagesEvent('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }),
      piece: messagesEvent('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: PIECE } }),
      tail: messagesEvent('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: 'sig' } }) + messagesEvent('content_block_stop', { index: 0 })
        + messagesEvent('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 9 } }) + messagesEvent('message_stop', {}),
    };
    const { events, record } = await streamed(thinking, '/v1/chat/completions', { model: 'anthropic:claude-sonnet-4-6', stream: true, messages: [{ role: 'user', content: 'think' }], reasoning_effort: 'high' });
    assert.ok(events.some((e) => e.includes('"reasoning_content"')), 'the thinking streamed live up to the limit');
    assert.match(events.at(-1)!, /^data: \{"error":\{/);
    assert.match(events.at(-1)!, REASON);
    assert.equal(events.some((e) => e === 'data: [DONE]'), false);
    assert.equal(record.inputTokens, 5, 'the usage the provider reported so far');
  });
});
