// Amazon Bedrock through the gateway, driven by the official AWS SDK (`@aws-sdk/client-bedrock-runtime`) with the
// access key as its bearer token, against a fake Bedrock Runtime on loopback that speaks Bedrock's wire formats:
// Converse JSON, InvokeModel's model body with its token-count headers, AWS event-stream frames for both streams,
// ThrottlingException 429s. Provider keys carry their AWS region (`aws.region`), which picks the endpoint. The
// Anthropic SDK's `/v1/messages` reaches the same Claude models through InvokeModel (its body, its event stream). SQLite store.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect as connectH2, constants as h2constants, type ClientHttp2Session, type IncomingHttpHeaders as H2Headers } from 'node:http2';
import { connect as connectTcp, type AddressInfo } from 'node:net';
import {
  AccessDeniedException, BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand, CountTokensCommand, InvokeModelCommand,
  InvokeModelWithResponseStreamCommand, ThrottlingException,
} from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { GoogleGenAI } from '@google/genai';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { startHarness, type Harness } from './helpers/gateway.ts';
import { seeingHeaders } from './helpers/bedrock-client.ts';
import { openStore } from '../src/store/database.ts';
import { STORE_KINDS } from './helpers/stores.ts';
import { MAX_COOL_MS } from '../src/gateway/key-cooldown.ts';

const frames = new EventStreamCodec((b) => Buffer.from(b).toString('utf8'), (s) => Buffer.from(s));

function eventFrame(type: string, body: unknown): Buffer {
  return Buffer.from(frames.encode({
    headers: { ':message-type': { type: 'string', value: 'event' }, ':event-type': { type: 'string', value: type }, ':content-type': { type: 'string', value: 'application/json' } },
    body: Buffer.from(JSON.stringify(body)),
  }));
}

/** An InvokeModel stream's chunk: the model's own event, base64 in `bytes`. */
const chunk = (event: unknown): Buffer => eventFrame('chunk', { bytes: Buffer.from(JSON.stringify(event)).toString('base64') });

/** The processing fee set below, $0.05 per million tokens, in pico-USD per token. */
const FEE_PICO_PER_TOKEN = 50_000n;
const CONVERSE_USAGE = { inputTokens: 100, outputTokens: 20, totalTokens: 180, cacheReadInputTokens: 50, cacheWriteInputTokens: 10 };
const INVOKE_COUNTS = { input: 42, output: 7 };
/** What the fake's CountTokens answers for any request. */
const BEDROCK_COUNT = 57;
const LONG_CACHE_USAGE = { inputTokens: 5, outputTokens: 3, totalTokens: 18, cacheWriteInputTokens: 10 };

interface Seen { path: string; headers: IncomingMessage['headers']; body: string }

/** Bedrock Runtime as the SDK meets it; which key and model decide the answer. */
async function fakeBedrock(): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (p: Buffer) => parts.push(p));
    req.on('end', () => {
      const body = Buffer.concat(parts).toString('utf8');
      seen.push({ path: req.url ?? '', headers: req.headers, body });
      answer(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

function awsError(res: ServerResponse, status: number, type: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`, 'x-amzn-requestid': 'aws-req-err' });
  res.end(JSON.stringify({ message }));
}

/** The members of the Claude body AWS's InvokeModel page documents, and extended thinking's. */
const CLAUDE_BODY_MEMBERS = new Set(['anthropic_version', 'anthropic_beta', 'max_tokens', 'system', 'messages', 'temperature', 'top_p', 'top_k', 'tools', 'tool_choice', 'stop_sequences', 'thinking']);

/** The first user message's text of an Anthropic body: the fake's cue for which answer to give. */
function messagesPrompt(body: string): string | undefined {
  try {
    const content = (JSON.parse(body) as { messages?: { content?: unknown }[] }).messages?.[0]?.content;
    return typeof content === 'string' ? content : undefined;
  } catch {
    return undefined;
  }
}

/** An exception frame as Bedrock ends a failed stream with (`:message-type` exception, named by `:exception-type`). */
function exceptionFrame(type: string, message: string): Buffer {
  return Buffer.from(frames.encode({
    headers: { ':message-type': { type: 'string', value: 'exception' }, ':exception-type': { type: 'string', value: type }, ':content-type': { type: 'string', value: 'application/json' } },
    body: Buffer.from(JSON.stringify({ message })),
  }));
}

/**
 * The open stream's hold after its first text: the test opens it once its client has read that text; after 3 s it
 * opens by itself, which the test then sees (`true`): the gateway held the first text back.
 */
let gate: { opened: Promise<boolean>; open(): void } | undefined;
function armGate(): NonNullable<typeof gate> {
  let settle!: (byTimer: boolean) => void;
  const opened = new Promise<boolean>((resolve) => { settle = resolve; });
  const timer = setTimeout(() => settle(true), 3000);
  gate = { opened, open: () => { clearTimeout(timer); settle(false); } };
  return gate;
}

/** What the fake's OpenAI-compatible chat completions bill (`usage`, as Bedrock's OpenAI-compatible endpoint gives it). */
const CHAT_USAGE = { prompt_tokens: 31, completion_tokens: 9, total_tokens: 40 };

/**
 * Bedrock's OpenAI-compatible chat completions (the `bedrock-mantle` endpoint, `/v1/chat/completions`): OpenAI's chat
 * wire format; its refusals in a shape of its own, `{"code": …, "message": …}` (a validation error), not OpenAI's.
 */
function answerChat(req: IncomingMessage, res: ServerResponse, body: string): void {
  const refuse = (status: number, code: string, message: string) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ code, message }));
  };
  const auth = req.headers.authorization;
  if (auth === 'Bearer bedrock-throttled') return refuse(429, 'throttling_error', 'Too many requests, please wait before trying again.');
  if (auth !== 'Bearer bedrock-good') return refuse(403, 'access_denied', 'Invalid API Key format: Must start with pre-defined prefix');
  const request = JSON.parse(body) as { model: string; stream?: boolean; messages: { content: string }[] };
  if (request.messages[0]?.content === 'refuse me') return refuse(400, 'validation_error', 'Failed to deserialize the JSON body into the target type: messages[0]: unknown variant `refuse`');
  const base = { id: 'chatcmpl-bdrk-1', created: 1_765_000_000, model: request.model };
  if (!request.stream) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ...base, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: `gemma says hi from ${request.model}` }, finish_reason: 'stop' }], usage: CHAT_USAGE }));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const chunk = (choices: unknown[], usage?: unknown) => `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices, ...(usage ? { usage } : {}) })}\n\n`;
  res.write(chunk([{ index: 0, delta: { role: 'assistant', content: 'Gemma ' } }]));
  setTimeout(() => {
    res.write(chunk([{ index: 0, delta: { content: 'streams' } }]));
    res.write(chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]));
    res.end(`${chunk([], CHAT_USAGE)}data: [DONE]\n\n`);
  }, 10);
}

function answer(req: IncomingMessage, res: ServerResponse, body: string): void {
  if (/^\/[a-z0-9-]+\/v1\/chat\/completions$/.test(req.url ?? '')) return answerChat(req, res, body);
  const auth = req.headers.authorization;
  if (auth === 'Bearer bedrock-throttled') return awsError(res, 429, 'ThrottlingException', 'Too many requests, please wait before trying again.');
  if (auth !== 'Bearer bedrock-good') return awsError(res, 403, 'AccessDeniedException', 'Invalid API Key format: Must start with pre-defined prefix');
  const match = /^\/([a-z0-9-]+)\/model\/([^/]+)\/([a-z-]+)$/.exec(req.url ?? '');
  if (!match) return awsError(res, 404, 'UnknownOperationException', 'no such path');
  const [, , model, operation] = match;
  const stream = (status: number) => res.writeHead(status, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': 'aws-req-stream' });
  if (operation === 'converse' && body.includes('"text":"long cache"')) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ output: { message: { role: 'assistant', content: [{ text: 'cached' }] } }, stopReason: 'end_turn', usage: { ...LONG_CACHE_USAGE, cacheDetails: [{ ttl: '1h', inputTokens: 8 }, { ttl: '5m', inputTokens: 2 }] } }));
    return;
  }
  if (operation === 'converse' && body.includes('"text":"converse tool"')) {
    res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': 'aws-req-tool' });
    res.end(JSON.stringify({ output: { message: { role: 'assistant', content: [{ text: 'Looking it up.' }, { toolUse: { toolUseId: 'tooluse_1', name: 'get_weather', input: { city: 'Paris' } } }] } }, stopReason: 'tool_use', usage: CONVERSE_USAGE, metrics: { latencyMs: 12 } }));
    return;
  }
  if (operation === 'converse-stream' && body.includes('"text":"stream tool"')) {
    stream(200);
    res.write(Buffer.concat([eventFrame('messageStart', { role: 'assistant' }), eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Checking ' } })]));
    // The rest waits for the client to have read the first text: a gateway holding text back never lets it go.
    void armGate().opened.then(() => {
      res.write(eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'the weather.' } }));
      res.write(eventFrame('contentBlockStop', { contentBlockIndex: 0 }));
      res.write(eventFrame('contentBlockStart', { contentBlockIndex: 1, start: { toolUse: { toolUseId: 'tooluse_2', name: 'get_weather' } } }));
      res.write(eventFrame('contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: '{"city":' } } }));
      res.write(eventFrame('contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: '"Paris"}' } } }));
      res.write(eventFrame('contentBlockStop', { contentBlockIndex: 1 }));
      res.write(eventFrame('messageStop', { stopReason: 'tool_use' }));
      res.end(eventFrame('metadata', { usage: CONVERSE_USAGE, metrics: { latencyMs: 30 } }));
    });
    return;
  }
  if (operation === 'converse' && body.includes('"text":"malformed call"')) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ output: { message: { role: 'assistant', content: [{ toolUse: { toolUseId: 'tooluse_9', name: 'get_weather', input: {} } }] } }, stopReason: 'malformed_tool_use', usage: CONVERSE_USAGE, metrics: { latencyMs: 12 } }));
    return;
  }
  if (operation === 'converse-stream' && body.includes('"text":"no metadata"')) {
    // The stop reason, then the end: no metadata event, so no usage from Bedrock.
    stream(200);
    res.end(Buffer.concat([
      eventFrame('messageStart', { role: 'assistant' }),
      eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'An answer whose usage never came, long enough to count.' } }),
      eventFrame('contentBlockStop', { contentBlockIndex: 0 }),
      eventFrame('messageStop', { stopReason: 'end_turn' }),
    ]));
    return;
  }
  if (operation === 'converse' && body.includes('"text":"refuse me"')) return awsError(res, 400, 'ValidationException', 'The model returned the following errors: Malformed input request: #/messages/0: extraneous key [refuse] is not permitted');
  if (operation === 'count-tokens') {
    res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': 'aws-req-count' });
    res.end(JSON.stringify({ inputTokens: BEDROCK_COUNT }));
    return;
  }
  if (operation === 'converse') {
    res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': 'aws-req-1' });
    res.end(JSON.stringify({ output: { message: { role: 'assistant', content: [{ text: `converse with ${decodeURIComponent(model!)}` }] } }, stopReason: 'end_turn', usage: CONVERSE_USAGE, metrics: { latencyMs: 12 } }));
    return;
  }
  if (operation === 'converse-stream') {
    stream(200);
    const all = Buffer.concat([
      eventFrame('messageStart', { role: 'assistant' }),
      eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hello ' } }),
      eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'stream' } }),
      eventFrame('contentBlockStop', { contentBlockIndex: 0 }),
      eventFrame('messageStop', { stopReason: 'end_turn' }),
    ]);
    // A frame split across writes: the gateway meters frames, not writes.
    res.write(all.subarray(0, 37));
    if (decodeURIComponent(model!) === 'broken-model') {
      setTimeout(() => res.destroy(), 20);
      return;
    }
    setTimeout(() => {
      res.write(all.subarray(37));
      res.end(eventFrame('metadata', { usage: CONVERSE_USAGE, metrics: { latencyMs: 30 } }));
    }, 10);
    return;
  }
  const prompt = messagesPrompt(body);
  // Bedrock's Claude validates its body as a schema: a member it has no place for is refused with a 400.
  const extraneous = operation!.startsWith('invoke') ? Object.keys(JSON.parse(body) as object).find((key) => !CLAUDE_BODY_MEMBERS.has(key)) : undefined;
  if (extraneous !== undefined) return awsError(res, 400, 'ValidationException', `Malformed input request: #: extraneous key [${extraneous}] is not permitted, please reformat your input and try again.`);
  if (operation === 'invoke-with-response-stream' && prompt === 'odd frames') {
    // Valid JSON that is not on one line, and an event name holding line breaks (SSE framing of its own).
    const raw = (text: string): Buffer => eventFrame('chunk', { bytes: Buffer.from(text).toString('base64') });
    const injected = { type: 'ping\n\nevent: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" INJECTED"}}' };
    stream(200);
    res.write(chunk({ type: 'message_start', message: { id: 'msg_bdrk_odd', type: 'message', role: 'assistant', model: 'claude-sonnet-4-6', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 42, output_tokens: 1 } } }));
    res.write(chunk({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }));
    res.write(raw(JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Pretty' } }, null, 2)));
    res.write(chunk(injected));
    res.write(raw('{"type":"content_block_delta",\r\n\r\n"index":0,"delta":{"type":"text_delta","text":" printed"}}'));
    res.write(chunk({ type: 'content_block_stop', index: 0 }));
    res.write(chunk({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 3 } }));
    res.end(chunk({ type: 'message_stop', 'amazon-bedrock-invocationMetrics': { inputTokenCount: 42, outputTokenCount: 3, invocationLatency: 50, firstByteLatency: 10 } }));
    return;
  }
  if (operation === 'invoke' && prompt === 'long cache') {
    // Bedrock's headers count the cache's writes whole; Claude's usage says which were kept an hour.
    res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-bedrock-input-token-count': '5', 'x-amzn-bedrock-output-token-count': '3', 'x-amzn-bedrock-cache-write-input-token-count': '10' });
    res.end(JSON.stringify({ id: 'msg_bdrk_cache', type: 'message', role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'text', text: 'cached' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 5, output_tokens: 3, cache_creation_input_tokens: 10, cache_creation: { ephemeral_1h_input_tokens: 8, ephemeral_5m_input_tokens: 2 } } }));
    return;
  }
  if (operation === 'invoke' && prompt === 'half counted') {
    // Bedrock's output count without its input count: Claude's own usage is what is left to go by.
    res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-bedrock-output-token-count': '6' });
    res.end(JSON.stringify({ id: 'msg_bdrk_half', type: 'message', role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'text', text: 'half' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 40, output_tokens: 6 } }));
    return;
  }
  if (operation === 'invoke-with-response-stream' && prompt === 'half counted') {
    stream(200);
    res.write(chunk({ type: 'message_start', message: { id: 'msg_bdrk_half', type: 'message', role: 'assistant', model: 'claude-sonnet-4-6', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 42, output_tokens: 1 } } }));
    res.write(chunk({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }));
    res.write(chunk({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'half' } }));
    res.write(chunk({ type: 'content_block_stop', index: 0 }));
    res.write(chunk({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 3 } }));
    res.end(chunk({ type: 'message_stop', 'amazon-bedrock-invocationMetrics': { outputTokenCount: 3, invocationLatency: 50, firstByteLatency: 10 } }));
    return;
  }
  if (operation === 'invoke' && prompt === 'sdk json') {
    res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': 'aws-req-3', 'x-amzn-bedrock-input-token-count': String(INVOKE_COUNTS.input), 'x-amzn-bedrock-output-token-count': String(INVOKE_COUNTS.output) });
    res.end(JSON.stringify({
      id: 'msg_bdrk_json', type: 'message', role: 'assistant', model: 'claude-sonnet-4-6',
      content: [{ type: 'text', text: 'Looking it up.' }, { type: 'tool_use', id: 'toolu_bdrk_1', name: 'get_weather', input: { city: 'Paris' } }],
      stop_reason: 'tool_use', stop_sequence: null, usage: { input_tokens: 40, output_tokens: 6 },
    }));
    return;
  }
  if (operation === 'invoke-with-response-stream' && (prompt === 'sdk stream' || prompt === 'broken stream')) {
    stream(200);
    res.write(chunk({ type: 'message_start', message: { id: 'msg_bdrk_stream', type: 'message', role: 'assistant', model: 'claude-sonnet-4-6', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 42, output_tokens: 1 } } }));
    res.write(Buffer.concat([
      chunk({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
      chunk({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Checking ' } }),
    ]));
    if (prompt === 'broken stream') {
      // Bedrock's failure after the stream opened: an exception frame, then the end of the response.
      res.end(exceptionFrame('modelStreamErrorException', 'The model stream broke off.'));
      return;
    }
    // The rest waits for the client to have read the first text: a gateway holding the stream back never lets it go.
    void armGate().opened.then(() => {
      res.write(chunk({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'the weather.' } }));
      res.write(chunk({ type: 'content_block_stop', index: 0 }));
      res.write(chunk({ type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_bdrk_2', name: 'get_weather', input: {} } }));
      res.write(chunk({ type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"city":' } }));
      res.write(chunk({ type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '"Paris"}' } }));
      res.write(chunk({ type: 'content_block_stop', index: 1 }));
      res.write(chunk({ type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 7 } }));
      res.end(chunk({ type: 'message_stop', 'amazon-bedrock-invocationMetrics': { inputTokenCount: 42, outputTokenCount: 7, invocationLatency: 50, firstByteLatency: 10 } }));
    });
    return;
  }
  if (operation === 'invoke') {
    res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': 'aws-req-2', 'x-amzn-bedrock-input-token-count': String(INVOKE_COUNTS.input), 'x-amzn-bedrock-output-token-count': String(INVOKE_COUNTS.output) });
    res.end(JSON.stringify({ id: 'msg_bdrk_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'text', text: 'invoked' }], stop_reason: 'end_turn', usage: { input_tokens: 1, output_tokens: 1 } }));
    return;
  }
  if (operation === 'invoke-with-response-stream') {
    stream(200);
    res.write(chunk({ type: 'message_start', message: { id: 'msg_bdrk_2', type: 'message', role: 'assistant', content: [], usage: { input_tokens: 42, output_tokens: 1 } } }));
    res.write(chunk({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'streamed invoke' } }));
    res.write(chunk({ type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 7 } }));
    res.end(chunk({ type: 'message_stop', 'amazon-bedrock-invocationMetrics': { inputTokenCount: 42, outputTokenCount: 7, invocationLatency: 50, firstByteLatency: 10 } }));
    return;
  }
  awsError(res, 404, 'UnknownOperationException', 'no such operation');
}

describe('Amazon Bedrock through the AWS SDK (sqlite)', () => {
  let h: Harness;
  let fake: Awaited<ReturnType<typeof fakeBedrock>>;
  let token: string;
  let good: string;
  let throttled: string;
  let lastHeaders: Record<string, string> = {};

  before(async () => {
    fake = await fakeBedrock();
    // `{region}` in the override as in the catalog's URL: the fake sees which region's endpoint was called.
    h = await startHarness('sqlite', { TOLLGATE_PROVIDER_BEDROCK_BASE_URL: `${fake.url}/{region}`, TOLLGATE_PROCESSING_FEE_USD_PER_MTOK: '0.05' });
    throttled = (await h.api<{ id: string }>('POST', '/provider-keys', { providerId: 'bedrock', name: 'throttled', value: 'bedrock-throttled', aws: { region: 'us-east-1' } })).id;
    good = (await h.api<{ id: string }>('POST', '/provider-keys', { providerId: 'bedrock', name: 'good', value: 'bedrock-good', aws: { region: 'eu-west-1' } })).id;
    token = await routedTo(h, good);
  });
  // Each test starts with the throttled key tried first again, not cooling after an earlier test's 429.
  beforeEach(() => h.coolingClock.advance(MAX_COOL_MS));
  after(async () => {
    await h?.close();
    await fake?.close();
  });

  /** The SDK as a Bedrock API key user sets it up, pointed at the gateway; one attempt, so a refusal is seen as it is. */
  function client(bearer: string): BedrockRuntimeClient {
    const c = new BedrockRuntimeClient({
      endpoint: h.gatewayUrl, region: 'us-east-1', token: { token: bearer }, authSchemePreference: ['httpBearerAuth'], maxAttempts: 1,
      // An HTTP/1.1 handler, as a client in front of an HTTP/1.1-only proxy has it; `defaultClient` below speaks HTTP/2.
      requestHandler: new NodeHttpHandler(),
    });
    return seeHeaders(c);
  }

  /** The SDK as its README sets it up: its default handler, which speaks HTTP/2 only (prior knowledge on `http://`). */
  function defaultClient(bearer: string): BedrockRuntimeClient {
    return seeHeaders(new BedrockRuntimeClient({ endpoint: h.gatewayUrl, region: 'us-east-1', token: { token: bearer }, authSchemePreference: ['httpBearerAuth'] }));
  }

  function seeHeaders(c: BedrockRuntimeClient): BedrockRuntimeClient {
    return seeingHeaders(c, (headers) => { lastHeaders = headers; });
  }

  test('the SDK\'s default (HTTP/2) handler: Converse and ConverseStream answered on the gateway port, each billed', async () => {
    const sdk = defaultClient(token);
    try {
      const out = await sdk.send(new ConverseCommand({ modelId: 'anthropic.claude-sonnet-4-6', messages: [{ role: 'user', content: [{ text: 'over h2' }] }] }));
      assert.equal(out.output?.message?.content?.[0]?.text, 'converse with anthropic.claude-sonnet-4-6');
      let [row] = await h.usage(requestId(), 1);
      assert.deepEqual([Number(row!.inputTokens), Number(row!.outputTokens), Number(row!.isStreaming), row!.completion], [160, 20, 0, 'succeeded']);
      const streamed = await sdk.send(new ConverseStreamCommand({ modelId: 'anthropic.claude-sonnet-4-6', messages: [{ role: 'user', content: [{ text: 'stream over h2' }] }] }));
      let text = '';
      for await (const event of streamed.stream!) text += event.contentBlockDelta?.delta?.text ?? '';
      assert.equal(text, 'Hello stream');
      [row] = await h.usage(requestId(), 1);
      assert.deepEqual([Number(row!.inputTokens), Number(row!.outputTokens), Number(row!.usageEstimated), Number(row!.isStreaming), row!.completion], [160, 20, 0, 1, 'succeeded']);
    } finally {
      sdk.destroy();
    }
  });

  test('the default handler gets the gateway\'s refusals as the SDK\'s exceptions too', async () => {
    const sdk = defaultClient('ng-not-a-key');
    try {
      await assert.rejects(sdk.send(new ConverseCommand({ modelId: 'anthropic.claude-sonnet-4-6', messages: [{ role: 'user', content: [{ text: 'x' }] }] })), (e: unknown) => {
        assert.ok(e instanceof AccessDeniedException, String(e));
        assert.match(e.$metadata.requestId ?? '', /^rq_/);
        return true;
      });
    } finally {
      sdk.destroy();
    }
  });

  const requestId = (): string => lastHeaders['ngrok-aig-request-id']!;

  test('Converse: the answer as Bedrock sent it, the key\'s region\'s endpoint, the stored key as bearer, billed from usage at Bedrock\'s price', async () => {
    const out = await client(token).send(new ConverseCommand({ modelId: 'anthropic.claude-sonnet-4-6', messages: [{ role: 'user', content: [{ text: 'hi bedrock' }] }], inferenceConfig: { maxTokens: 50 } }));
    assert.equal(out.output?.message?.content?.[0]?.text, 'converse with anthropic.claude-sonnet-4-6');
    assert.equal(out.stopReason, 'end_turn');
    assert.equal(out.usage?.cacheReadInputTokens, 50);
    const up = fake.seen.at(-1)!;
    assert.equal(up.path, '/eu-west-1/model/anthropic.claude-sonnet-4-6/converse');
    assert.equal(up.headers.authorization, 'Bearer bedrock-good');
    assert.ok(!JSON.stringify(up.headers).includes(token), 'the access key never goes upstream');
    assert.deepEqual(JSON.parse(up.body), { messages: [{ role: 'user', content: [{ text: 'hi bedrock' }] }], inferenceConfig: { maxTokens: 50 } });
    assert.equal(lastHeaders['ngrok-aig-model'], 'anthropic.claude-sonnet-4-6');
    const [row] = await h.usage(requestId(), 1);
    // Input counts the cache's tokens too: 100 + 50 read + 10 written.
    assert.deepEqual([row!.provider, row!.model, Number(row!.inputTokens), Number(row!.outputTokens), Number(row!.cacheReadTokens), Number(row!.cacheWriteTokens), row!.stopReason, Number(row!.isStreaming), row!.completion],
      ['bedrock', 'anthropic.claude-sonnet-4-6', 160, 20, 50, 10, 'end_turn', 0, 'succeeded']);
    // Bring-your-own-key: AWS bills the tokens; the account pays the processing fee on them, as on every provider.
    assert.equal(BigInt(row!.costPico), BigInt(row!.feePico));
    assert.equal(BigInt(row!.feePico), 180n * FEE_PICO_PER_TOKEN);
  });

  test('CountTokens on a Bedrock model: Bedrock\'s own count, the body as the SDK sent it, recorded but never billed; the key\'s scope applies', async () => {
    const sdk = client(token);
    try {
      const input = { converse: { system: [{ text: 'Be brief.' }], messages: [{ role: 'user' as const, content: [{ text: 'count me' }] }] } };
      const out = await sdk.send(new CountTokensCommand({ modelId: 'global.anthropic.claude-haiku-4-5-20251001-v1:0', input }));
      assert.equal(out.inputTokens, BEDROCK_COUNT);
      const up = fake.seen.at(-1)!;
      assert.equal(up.path, '/eu-west-1/model/global.anthropic.claude-haiku-4-5-20251001-v1%3A0/count-tokens');
      assert.equal(up.headers.authorization, 'Bearer bedrock-good');
      assert.deepEqual(JSON.parse(up.body), { input });
      const [row] = await h.usage(requestId(), 1);
      assert.deepEqual([row!.provider, Number(row!.inputTokens), Number(row!.outputTokens), BigInt(row!.costPico), BigInt(row!.feePico), row!.completion], ['bedrock', 0, 0, 0n, 0n, 'succeeded']);
      // InvokeModel's form: Claude's body, base64 in the SDK's JSON.
      const body = new TextEncoder().encode(JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 10, messages: [{ role: 'user', content: 'count me' }] }));
      assert.equal((await sdk.send(new CountTokensCommand({ modelId: 'anthropic.claude-sonnet-4-6', input: { invokeModel: { body } } }))).inputTokens, BEDROCK_COUNT);
      assert.deepEqual(JSON.parse(fake.seen.at(-1)!.body), { input: { invokeModel: { body: Buffer.from(body).toString('base64') } } });
    } finally {
      sdk.destroy();
    }
    const scoped = (await h.accessKey(await h.configuration({ access: { models: { allow: ['bedrock/anthropic.claude-sonnet-4-6'] } }, router: { rules: [{ provider: 'bedrock', steps: [{ type: 'user', keys: [{ id: good }] }] }] } }))).token;
    const before = fake.seen.length;
    await assert.rejects(client(scoped).send(new CountTokensCommand({ modelId: 'anthropic.claude-opus-4-6-v1', input: { converse: { messages: [{ role: 'user', content: [{ text: 'x' }] }] } } })), (e: unknown) => {
      assert.ok(e instanceof AccessDeniedException, String(e));
      assert.match(e.message, /ERR_NGROK/);
      return true;
    });
    assert.equal(fake.seen.length, before, 'a model out of scope is not counted');
  });

  test('CountTokens without a converse or invokeModel input is refused in Bedrock\'s shape', async () => {
    const answer = await rawPost(h.gatewayUrl, '/model/anthropic.claude-sonnet-4-6/count-tokens', { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, '{"input":{}}');
    assert.equal(answer.status, 400);
    assert.equal(answer.headers['x-amzn-errortype'], 'ValidationException');
    assert.match((JSON.parse(answer.body) as { message: string }).message, /^ERR_NGROK_3801: .*"input" must hold one of "converse"/);
  });

  test('a model id with `:` reaches Bedrock percent-encoded, as the SDK sent it', async () => {
    await client(token).send(new ConverseCommand({ modelId: 'global.anthropic.claude-haiku-4-5-20251001-v1:0', messages: [{ role: 'user', content: [{ text: 'x' }] }] }));
    assert.equal(fake.seen.at(-1)!.path, '/eu-west-1/model/global.anthropic.claude-haiku-4-5-20251001-v1%3A0/converse');
    const [row] = await h.usage(requestId(), 1);
    assert.equal(row!.model, 'global.anthropic.claude-haiku-4-5-20251001-v1:0');
  });

  test('a model id that is a dot segment (`..`, `.`, percent-encoded or not) is refused: it would reach another Bedrock path', async () => {
    const before = fake.seen.length;
    for (const path of ['/model/%2E%2E/invoke', '/model/../converse', '/model/%2e/converse', '/model/bedrock%3A../invoke']) {
      const answer = await rawPost(h.gatewayUrl, path, { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, '{"messages":[]}');
      assert.equal(answer.status, 400, path);
      assert.equal(answer.headers['x-amzn-errortype'], 'ValidationException', path);
      assert.match(answer.body, /ERR_NGROK_27229/, path);
    }
    const messages = await fetch(`${h.gatewayUrl}/v1/messages`, { method: 'POST', headers: { 'x-api-key': token, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify({ model: 'bedrock:..', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }) });
    assert.equal(messages.status, 400);
    assert.deepEqual(fake.seen.slice(before).map((s) => s.path), [], 'Bedrock was not called');
  });

  test('cache writes kept an hour are recorded as such: Converse\'s cacheDetails, and Claude\'s cache_creation beside InvokeModel\'s headers', async () => {
    await client(token).send(new ConverseCommand({ modelId: 'anthropic.claude-sonnet-4-6', messages: [{ role: 'user', content: [{ text: 'long cache' }] }] }));
    let [row] = await h.usage(requestId(), 1);
    assert.deepEqual([Number(row!.inputTokens), Number(row!.cacheWriteTokens), Number(row!.cacheWrite1hTokens)], [15, 10, 8]);
    const { response } = await anthropic(token).messages.create({ model: 'bedrock:anthropic.claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user', content: 'long cache' }] }).withResponse();
    [row] = await h.usage(response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([Number(row!.inputTokens), Number(row!.cacheWriteTokens), Number(row!.cacheWrite1hTokens)], [15, 10, 8]);
  });

  test('ConverseStream: event-stream frames relayed as they came (one split across writes), billed from the metadata event', async () => {
    const out = await client(token).send(new ConverseStreamCommand({ modelId: 'anthropic.claude-sonnet-4-6', messages: [{ role: 'user', content: [{ text: 'stream' }] }] }));
    let text = '';
    let stop: string | undefined;
    let usage;
    for await (const event of out.stream!) {
      text += event.contentBlockDelta?.delta?.text ?? '';
      stop ??= event.messageStop?.stopReason;
      usage ??= event.metadata?.usage;
    }
    assert.equal(text, 'Hello stream');
    assert.equal(stop, 'end_turn');
    assert.equal(usage?.outputTokens, 20);
    assert.equal(fake.seen.at(-1)!.path, '/eu-west-1/model/anthropic.claude-sonnet-4-6/converse-stream');
    const [row] = await h.usage(requestId(), 1);
    assert.deepEqual([Number(row!.inputTokens), Number(row!.outputTokens), Number(row!.cacheReadTokens), row!.stopReason, Number(row!.usageEstimated), Number(row!.isStreaming), row!.completion],
      [160, 20, 50, 'end_turn', 0, 1, 'succeeded']);
  });

  test('InvokeModel with an Anthropic body: passed through, billed from Bedrock\'s token-count headers', async () => {
    const body = { anthropic_version: 'bedrock-2023-05-31', max_tokens: 64, messages: [{ role: 'user', content: 'invoke me' }] };
    const out = await client(token).send(new InvokeModelCommand({ modelId: 'anthropic.claude-sonnet-4-6', contentType: 'application/json', accept: 'application/json', body: JSON.stringify(body) }));
    const answer = JSON.parse(Buffer.from(out.body).toString('utf8'));
    assert.equal(answer.content[0].text, 'invoked');
    const up = fake.seen.at(-1)!;
    assert.equal(up.path, '/eu-west-1/model/anthropic.claude-sonnet-4-6/invoke');
    assert.deepEqual(JSON.parse(up.body), body);
    const [row] = await h.usage(requestId(), 1);
    assert.deepEqual([Number(row!.inputTokens), Number(row!.outputTokens), row!.stopReason, Number(row!.usageEstimated), row!.completion], [INVOKE_COUNTS.input, INVOKE_COUNTS.output, 'end_turn', 0, 'succeeded']);
    assert.equal(BigInt(row!.costPico), 49n * FEE_PICO_PER_TOKEN);
  });

  test('InvokeModelWithResponseStream: chunks relayed, billed from the last chunk\'s invocation metrics', async () => {
    const out = await client(token).send(new InvokeModelWithResponseStreamCommand({ modelId: 'anthropic.claude-sonnet-4-6', contentType: 'application/json', body: JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 64, messages: [{ role: 'user', content: 'stream invoke' }] }) }));
    const events: { type: string; delta?: { text?: string } }[] = [];
    for await (const part of out.body!) if (part.chunk?.bytes) events.push(JSON.parse(Buffer.from(part.chunk.bytes).toString('utf8')));
    assert.deepEqual(events.map((e) => e.type), ['message_start', 'content_block_delta', 'message_delta', 'message_stop']);
    assert.equal(events[1]!.delta?.text, 'streamed invoke');
    assert.equal(fake.seen.at(-1)!.path, '/eu-west-1/model/anthropic.claude-sonnet-4-6/invoke-with-response-stream');
    const [row] = await h.usage(requestId(), 1);
    assert.deepEqual([Number(row!.inputTokens), Number(row!.outputTokens), row!.stopReason, Number(row!.usageEstimated), Number(row!.isStreaming), row!.completion], [42, 7, 'end_turn', 0, 1, 'succeeded']);
  });

  test('metrics: Converse, ConverseStream, InvokeModel and its stream are counted under their own surfaces, not with unknown paths as `other`', async () => {
    const res = await fetch(`${h.apiUrl}/metrics`);
    assert.equal(res.status, 200);
    const surfaces = new Set([...(await res.text()).matchAll(/^tollgate_requests_total\{surface="([^"]+)",provider="bedrock"/gm)].map((m) => m[1]));
    assert.deepEqual(['converse', 'converse-stream', 'invoke', 'invoke-stream', 'other'].filter((s) => surfaces.has(s)), ['converse', 'converse-stream', 'invoke', 'invoke-stream']);
  });

  test('a stream that breaks after frames reached the client ends with an exception frame the SDK raises, naming the ngrok code', async () => {
    let text = '';
    // The SDK reads a stream's first event before `send` resolves: the exception comes from there, or from the loop.
    await assert.rejects((async () => {
      const out = await client(token).send(new ConverseStreamCommand({ modelId: 'broken-model', messages: [{ role: 'user', content: [{ text: 'x' }] }] }));
      for await (const event of out.stream!) text += event.contentBlockDelta?.delta?.text ?? '';
    })(), (e: unknown) => {
      assert.equal((e as Error).name, 'ModelStreamErrorException');
      assert.match((e as Error).message, /^ERR_NGROK_27235/);
      return true;
    });
    assert.equal(text, '', 'the split frame never completed');
    const [row] = await h.usage(requestId(), 1);
    assert.equal(row!.completion, 'stream_failed');
  });

  test('a key moved to another region by PATCH: the gateway calls that region\'s endpoint from then on', async () => {
    await h.api('PATCH', `/provider-keys/${good}`, { aws: { region: 'ap-northeast-1' } });
    try {
      await client(token).send(new ConverseCommand({ modelId: 'anthropic.claude-sonnet-4-6', messages: [{ role: 'user', content: [{ text: 'moved' }] }] }));
      assert.equal(fake.seen.at(-1)!.path, '/ap-northeast-1/model/anthropic.claude-sonnet-4-6/converse');
    } finally {
      await h.api('PATCH', `/provider-keys/${good}`, { aws: { region: 'eu-west-1' } });
    }
  });

  test('a ThrottlingException 429 moves on to the next Bedrock key; the SDK gets the second key\'s answer', async () => {
    const failover = await routedTo(h, throttled, good);
    const out = await client(failover).send(new ConverseCommand({ modelId: 'anthropic.claude-sonnet-4-6', messages: [{ role: 'user', content: [{ text: 'retry me' }] }] }));
    assert.equal(out.output?.message?.content?.[0]?.text, 'converse with anthropic.claude-sonnet-4-6');
    assert.equal(lastHeaders['ngrok-aig-attempts'], '2');
    const calls = fake.seen.slice(-2);
    assert.deepEqual(calls.map((c) => [c.path, c.headers.authorization]), [
      ['/us-east-1/model/anthropic.claude-sonnet-4-6/converse', 'Bearer bedrock-throttled'],
      ['/eu-west-1/model/anthropic.claude-sonnet-4-6/converse', 'Bearer bedrock-good'],
    ]);
    const rows = await h.usage(requestId(), 2);
    assert.deepEqual(rows.map((r) => [r.statusCode, r.retryAction, r.providerKeyId]), [[429, 'next_key', throttled], [200, 'succeeded', good]]);
  });

  test('every key throttled: the gateway\'s 429, which the SDK raises as ThrottlingException with the ngrok code', async () => {
    const only = await routedTo(h, throttled);
    await assert.rejects(client(only).send(new ConverseCommand({ modelId: 'anthropic.claude-sonnet-4-6', messages: [{ role: 'user', content: [{ text: 'x' }] }] })), (e: unknown) => {
      assert.ok(e instanceof ThrottlingException, String(e));
      assert.equal(e.$metadata.httpStatusCode, 429);
      assert.match(e.message, /^ERR_NGROK_27217/);
      return true;
    });
  });

  test('a wrong access key: a 401 the SDK raises as AccessDeniedException, with the ngrok code and the gateway\'s request id', async () => {
    const before = fake.seen.length;
    await assert.rejects(client('ng-not-a-key').send(new ConverseCommand({ modelId: 'anthropic.claude-sonnet-4-6', messages: [{ role: 'user', content: [{ text: 'x' }] }] })), (e: unknown) => {
      assert.ok(e instanceof AccessDeniedException, String(e));
      assert.equal(e.$metadata.httpStatusCode, 401);
      assert.match(e.message, /^ERR_NGROK_\d+: /);
      assert.match(e.$metadata.requestId ?? '', /^rq_/);
      return true;
    });
    assert.equal(fake.seen.length, before, 'no provider reached');
  });

  /** The Anthropic SDK as any Messages client sets it up, pointed at the gateway; one attempt. */
  const anthropic = (key: string): Anthropic => new Anthropic({ baseURL: h.gatewayUrl, apiKey: key, maxRetries: 0 });
  const weatherTool = { name: 'get_weather', description: 'Weather of a city', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } } } };

  test('/v1/messages to a Bedrock Claude model: InvokeModel with Bedrock\'s Anthropic body, the answer as Claude gave it, billed from Bedrock\'s counts', async () => {
    const { data, response } = await anthropic(token).messages.create({ model: 'bedrock:anthropic.claude-sonnet-4-6', max_tokens: 64, tools: [weatherTool], messages: [{ role: 'user', content: 'sdk json' }] }).withResponse();
    assert.equal(data.id, 'msg_bdrk_json');
    assert.deepEqual(data.content, [{ type: 'text', text: 'Looking it up.' }, { type: 'tool_use', id: 'toolu_bdrk_1', name: 'get_weather', input: { city: 'Paris' } }]);
    assert.equal(data.stop_reason, 'tool_use');
    assert.equal(response.headers.get('ngrok-aig-model'), 'anthropic.claude-sonnet-4-6');
    assert.equal(response.headers.get('ngrok-aig-attempts'), '1');
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    const up = fake.seen.at(-1)!;
    assert.equal(up.path, '/eu-west-1/model/anthropic.claude-sonnet-4-6/invoke');
    assert.equal(up.headers.authorization, 'Bearer bedrock-good');
    // Bedrock's Claude body: no model (it is in the path), no stream (the operation says it), its API version in the body.
    assert.deepEqual(JSON.parse(up.body), { anthropic_version: 'bedrock-2023-05-31', max_tokens: 64, tools: [weatherTool], messages: [{ role: 'user', content: 'sdk json' }] });
    assert.equal(up.headers['anthropic-version'], undefined);
    const [row] = await h.usage(response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([row!.provider, row!.model, Number(row!.inputTokens), Number(row!.outputTokens), row!.stopReason, Number(row!.usageEstimated), Number(row!.isStreaming), row!.completion],
      ['bedrock', 'anthropic.claude-sonnet-4-6', INVOKE_COUNTS.input, INVOKE_COUNTS.output, 'tool_use', 0, 0, 'succeeded']);
    // Bring-your-own-key: the processing fee on the tokens is the whole cost.
    assert.equal(BigInt(row!.costPico), 49n * FEE_PICO_PER_TOKEN);
  });

  test('/v1/messages streamed: each Bedrock chunk is the SDK\'s event as it arrives (text, then a tool call), billed from the invocation metrics', async () => {
    // A model named bare: the catalog's Bedrock id.
    const stream = anthropic(token).messages.stream({ model: 'anthropic.claude-sonnet-4-6', max_tokens: 64, tools: [weatherTool], messages: [{ role: 'user', content: 'sdk stream' }] });
    let text = '';
    stream.on('text', (delta) => {
      text += delta;
      // The first text reached the SDK while Bedrock still held the rest: nothing was buffered on the way.
      gate?.open();
    });
    const message = await stream.finalMessage();
    assert.equal(await gate!.opened, false, 'the first text came before the stream ended');
    assert.equal(text, 'Checking the weather.');
    assert.equal(message.id, 'msg_bdrk_stream');
    assert.deepEqual(message.content, [{ type: 'text', text: 'Checking the weather.' }, { type: 'tool_use', id: 'toolu_bdrk_2', name: 'get_weather', input: { city: 'Paris' } }]);
    assert.equal(message.stop_reason, 'tool_use');
    assert.deepEqual([message.usage.input_tokens, message.usage.output_tokens], [42, 7]);
    const { response } = await stream.withResponse();
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    const up = fake.seen.at(-1)!;
    assert.equal(up.path, '/eu-west-1/model/anthropic.claude-sonnet-4-6/invoke-with-response-stream');
    assert.equal(JSON.parse(up.body).stream, undefined);
    const [row] = await h.usage(response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([Number(row!.inputTokens), Number(row!.outputTokens), row!.stopReason, Number(row!.usageEstimated), Number(row!.isStreaming), row!.completion], [42, 7, 'tool_use', 0, 1, 'succeeded']);
  });

  test('/v1/messages streamed: a chunk whose JSON spans lines, or whose event name holds line breaks, cannot break or forge the SDK\'s events', async () => {
    const stream = anthropic(token).messages.stream({ model: 'bedrock:anthropic.claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user', content: 'odd frames' }] });
    const message = await stream.finalMessage();
    assert.deepEqual(message.content, [{ type: 'text', text: 'Pretty printed' }]);
    assert.equal(message.stop_reason, 'end_turn');
  });

  test('/v1/messages: Bedrock\'s counts missing the input one (header or invocation metrics) leave Claude\'s own counts, never an input of 0', async () => {
    const { response } = await anthropic(token).messages.create({ model: 'bedrock:anthropic.claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user', content: 'half counted' }] }).withResponse();
    let [row] = await h.usage(response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([Number(row!.inputTokens), Number(row!.outputTokens), Number(row!.usageEstimated)], [40, 6, 0]);
    const stream = anthropic(token).messages.stream({ model: 'bedrock:anthropic.claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user', content: 'half counted' }] });
    await stream.finalMessage();
    [row] = await h.usage((await stream.withResponse()).response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([Number(row!.inputTokens), Number(row!.outputTokens), Number(row!.usageEstimated), row!.completion], [42, 3, 0, 'succeeded']);
  });

  test('/v1/messages with betas: the anthropic-beta values go in Bedrock\'s body as anthropic_beta, not as a header', async () => {
    await anthropic(token).beta.messages.create({ model: 'bedrock:anthropic.claude-sonnet-4-6', max_tokens: 64, betas: ['context-1m-2025-08-07', 'interleaved-thinking-2025-05-14'], messages: [{ role: 'user', content: 'sdk json' }] });
    const up = fake.seen.at(-1)!;
    assert.deepEqual(JSON.parse(up.body).anthropic_beta, ['context-1m-2025-08-07', 'interleaved-thinking-2025-05-14']);
    assert.equal(up.headers['anthropic-beta'], undefined);
  });

  test('/v1/messages: a ThrottlingException 429 moves on to the next Bedrock key, as on every provider', async () => {
    const failover = await routedTo(h, throttled, good);
    const { data, response } = await anthropic(failover).messages.create({ model: 'bedrock:anthropic.claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user', content: 'sdk json' }] }).withResponse();
    assert.equal(data.id, 'msg_bdrk_json');
    assert.equal(response.headers.get('ngrok-aig-attempts'), '2');
    assert.deepEqual(fake.seen.slice(-2).map((c) => [c.path, c.headers.authorization]), [
      ['/us-east-1/model/anthropic.claude-sonnet-4-6/invoke', 'Bearer bedrock-throttled'],
      ['/eu-west-1/model/anthropic.claude-sonnet-4-6/invoke', 'Bearer bedrock-good'],
    ]);
    const rows = await h.usage(response.headers.get('ngrok-aig-request-id')!, 2);
    assert.deepEqual(rows.map((r) => [r.statusCode, r.retryAction, r.providerKeyId]), [[429, 'next_key', throttled], [200, 'succeeded', good]]);
  });

  test('/v1/messages: what Bedrock refuses (an MCP server, Anthropic\'s connector) reaches the SDK as Anthropic\'s 400, Bedrock\'s message kept', async () => {
    const mcp = { model: 'bedrock:anthropic.claude-sonnet-4-6', max_tokens: 64, betas: ['mcp-client-2025-04-04'], mcp_servers: [{ type: 'url' as const, url: 'https://mcp.example.com/sse', name: 'example' }], messages: [{ role: 'user' as const, content: 'sdk json' }] };
    await assert.rejects(anthropic(token).beta.messages.create(mcp), (e: unknown) => {
      assert.ok(e instanceof Anthropic.BadRequestError, String(e));
      assert.equal((e.error as { error?: { type?: string } }).error?.type, 'invalid_request_error');
      assert.match(e.message, /extraneous key \[mcp_servers\] is not permitted/);
      return true;
    });
  });

  test('/v1/messages streamed: an exception frame from Bedrock mid-stream is an error event the SDK raises; the attempt is recorded as a failed stream', async () => {
    const stream = anthropic(token).messages.stream({ model: 'bedrock:anthropic.claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user', content: 'broken stream' }] });
    let text = '';
    stream.on('text', (delta) => { text += delta; });
    await assert.rejects(stream.finalMessage(), (e: unknown) => {
      assert.ok(e instanceof Anthropic.APIError, String(e));
      assert.match(e.message, /The model stream broke off\./);
      assert.match(e.message, /api_error/);
      return true;
    });
    assert.equal(text, 'Checking ');
    const { response } = await stream.withResponse();
    const [row] = await h.usage(response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([row!.completion, Number(row!.isStreaming)], ['stream_failed', 1]);
  });

  test('chat completions and Responses naming a Bedrock Claude model: through Messages to InvokeModel, answered in the SDK\'s format (calls, streams), billed from Bedrock\'s counts', async () => {
    const openai = new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: token, maxRetries: 0 });
    const chatTool = { type: 'function' as const, function: { name: weatherTool.name, description: weatherTool.description, parameters: weatherTool.input_schema } };
    const { data: chat, response } = await openai.chat.completions.create({ model: 'bedrock:anthropic.claude-sonnet-4-6', max_tokens: 64, tools: [chatTool], messages: [{ role: 'user', content: 'sdk json' }] }).withResponse();
    assert.deepEqual(chat.choices[0]!.message.tool_calls?.map((c) => [c.id, c.type === 'function' ? c.function.name : '', c.type === 'function' ? JSON.parse(c.function.arguments) : undefined]), [['toolu_bdrk_1', 'get_weather', { city: 'Paris' }]]);
    assert.equal(chat.choices[0]!.finish_reason, 'tool_calls');
    let up = fake.seen.at(-1)!;
    assert.equal(up.path, '/eu-west-1/model/anthropic.claude-sonnet-4-6/invoke');
    assert.deepEqual(JSON.parse(up.body), { anthropic_version: 'bedrock-2023-05-31', max_tokens: 64, tools: [weatherTool], messages: [{ role: 'user', content: 'sdk json' }] });
    let [row] = await h.usage(response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([row!.provider, Number(row!.inputTokens), Number(row!.outputTokens), row!.completion], ['bedrock', INVOKE_COUNTS.input, INVOKE_COUNTS.output, 'succeeded']);

    let text = '';
    const stream = await openai.chat.completions.create({ model: 'bedrock:anthropic.claude-sonnet-4-6', messages: [{ role: 'user', content: 'stream it' }], stream: true, stream_options: { include_usage: true } });
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const piece of stream) {
      text += piece.choices[0]?.delta.content ?? '';
      usage ??= piece.usage;
    }
    assert.equal(text, 'streamed invoke');
    assert.deepEqual([usage?.prompt_tokens, usage?.completion_tokens], [42, 7]);
    up = fake.seen.at(-1)!;
    assert.equal(up.path, '/eu-west-1/model/anthropic.claude-sonnet-4-6/invoke-with-response-stream');
    assert.equal((JSON.parse(up.body) as { stream?: unknown }).stream, undefined);

    const { data: responses, response: answered } = await openai.responses.create({ model: 'bedrock:anthropic.claude-sonnet-4-6', input: 'sdk json', tools: [{ type: 'function', name: weatherTool.name, parameters: weatherTool.input_schema, strict: false }] }).withResponse();
    assert.deepEqual(responses.output.filter((o) => o.type === 'function_call').map((o) => [o.call_id, o.name, o.arguments]), [['toolu_bdrk_1', 'get_weather', '{"city":"Paris"}']]);
    assert.equal(fake.seen.at(-1)!.path, '/eu-west-1/model/anthropic.claude-sonnet-4-6/invoke');
    [row] = await h.usage(answered.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([row!.provider, Number(row!.inputTokens), Number(row!.outputTokens), row!.completion], ['bedrock', INVOKE_COUNTS.input, INVOKE_COUNTS.output, 'succeeded']);
  });

  /** The OpenAI SDK pointed at the gateway; one attempt. */
  const openai = (key: string): OpenAI => new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: key, maxRetries: 0 });

  test('chat completions to Gemma 4 on Bedrock: Bedrock\'s OpenAI-compatible endpoint in the key\'s region, the body as sent, the stored key as bearer, billed from its usage', async () => {
    const { data, response } = await openai(token).chat.completions.create({ model: 'bedrock:google.gemma-4-31b', max_tokens: 50, messages: [{ role: 'user', content: 'hi gemma' }] }).withResponse();
    assert.equal(data.choices[0]!.message.content, 'gemma says hi from google.gemma-4-31b');
    assert.equal(response.headers.get('ngrok-aig-model'), 'google.gemma-4-31b');
    const up = fake.seen.at(-1)!;
    assert.equal(up.path, '/eu-west-1/v1/chat/completions');
    assert.equal(up.headers.authorization, 'Bearer bedrock-good');
    assert.deepEqual(JSON.parse(up.body), { model: 'google.gemma-4-31b', max_tokens: 50, messages: [{ role: 'user', content: 'hi gemma' }] });
    const [row] = await h.usage(response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([row!.provider, row!.model, Number(row!.inputTokens), Number(row!.outputTokens), Number(row!.usageEstimated), row!.completion], ['bedrock', 'google.gemma-4-31b', 31, 9, 0, 'succeeded']);
    // Bring-your-own-key: AWS bills the tokens; the account pays the processing fee on them.
    assert.equal(BigInt(row!.costPico), 40n * FEE_PICO_PER_TOKEN);
    // A catalogued Bedrock id bare is Bedrock's, as Claude's are.
    const bare = await openai(token).chat.completions.create({ model: 'google.gemma-4-e2b', messages: [{ role: 'user', content: 'bare' }] });
    assert.equal(bare.choices[0]!.message.content, 'gemma says hi from google.gemma-4-e2b');
  });

  test('chat completions streamed to Gemma 4 on Bedrock: chunks as they come, with usage, billed from it', async () => {
    const { data: stream, response } = await openai(token).chat.completions.create({ model: 'bedrock:google.gemma-4-26b-a4b', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'stream gemma' }] }).withResponse();
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const part of stream) {
      text += part.choices[0]?.delta.content ?? '';
      usage = part.usage ?? usage;
    }
    assert.equal(text, 'Gemma streams');
    assert.deepEqual([usage?.prompt_tokens, usage?.completion_tokens], [31, 9]);
    const up = fake.seen.at(-1)!;
    assert.equal(up.path, '/eu-west-1/v1/chat/completions');
    assert.equal((JSON.parse(up.body) as { stream?: unknown }).stream, true);
    const [row] = await h.usage(response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([row!.model, Number(row!.inputTokens), Number(row!.outputTokens), Number(row!.usageEstimated), Number(row!.isStreaming), row!.completion], ['google.gemma-4-26b-a4b', 31, 9, 0, 1, 'succeeded']);
  });

  test('Gemma 4 on Bedrock refusing a request: its own error shape reaches the OpenAI SDK as OpenAI\'s error, the status and message kept', async () => {
    await assert.rejects(openai(token).chat.completions.create({ model: 'bedrock:google.gemma-4-31b', messages: [{ role: 'user', content: 'refuse me' }] }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.BadRequestError, String(e));
      assert.equal(e.status, 400);
      assert.equal(e.type, 'invalid_request_error');
      assert.match(e.message, /^400 Failed to deserialize the JSON body/);
      return true;
    });
  });

  test('chat completions to Nova on Bedrock: translated to Converse (Bedrock serves Nova nowhere else), the answer as a chat completion, billed from Converse\'s usage', async () => {
    const { data, response } = await openai(token).chat.completions.create({ model: 'bedrock:amazon.nova-pro-v1:0', max_tokens: 50, temperature: 0.3, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi nova' }] }).withResponse();
    assert.equal(data.choices[0]!.message.content, 'converse with amazon.nova-pro-v1:0');
    assert.equal(data.choices[0]!.finish_reason, 'stop');
    // Converse's input leaves the cache out; the chat usage, as OpenAI's, counts it in.
    assert.deepEqual([data.usage?.prompt_tokens, data.usage?.completion_tokens], [160, 20]);
    const up = fake.seen.at(-1)!;
    assert.equal(up.path, '/eu-west-1/model/amazon.nova-pro-v1%3A0/converse');
    assert.equal(up.headers.authorization, 'Bearer bedrock-good');
    assert.deepEqual(JSON.parse(up.body), { system: [{ text: 'Be brief.' }], messages: [{ role: 'user', content: [{ text: 'hi nova' }] }], inferenceConfig: { maxTokens: 50, temperature: 0.3 } });
    const [row] = await h.usage(response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([row!.provider, row!.model, Number(row!.inputTokens), Number(row!.outputTokens), Number(row!.usageEstimated), row!.completion], ['bedrock', 'amazon.nova-pro-v1:0', 160, 20, 0, 'succeeded']);
    assert.equal(BigInt(row!.costPico), 180n * FEE_PICO_PER_TOKEN);
  });

  test('Nova on Bedrock: the account\'s output cap reaches Converse\'s inferenceConfig.maxTokens, as it reaches max_tokens on every other model', async () => {
    await h.gatewayConfig({ maxOutputTokens: 40 });
    try {
      await new Anthropic({ baseURL: h.gatewayUrl, apiKey: token, maxRetries: 0 }).messages.create({ model: 'bedrock:amazon.nova-pro-v1:0', max_tokens: 4000, messages: [{ role: 'user', content: 'capped' }] });
      assert.deepEqual(JSON.parse(fake.seen.at(-1)!.body).inferenceConfig, { maxTokens: 40 });
      await openai(token).chat.completions.create({ model: 'bedrock:amazon.nova-pro-v1:0', messages: [{ role: 'user', content: 'capped' }] });
      assert.deepEqual(JSON.parse(fake.seen.at(-1)!.body).inferenceConfig, { maxTokens: 40 });
    } finally {
      await h.gatewayConfig({ maxOutputTokens: null });
    }
  });

  test('chat completions streamed to Nova on Bedrock: ConverseStream\'s frames as chat chunks, the usage chunk from its metadata event', async () => {
    const { data: stream, response } = await openai(token).chat.completions.create({ model: 'us.amazon.nova-lite-v1:0', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'stream nova' }] }).withResponse();
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null = null;
    for await (const part of stream) {
      text += part.choices[0]?.delta.content ?? '';
      finish = part.choices[0]?.finish_reason ?? finish;
      usage = part.usage ?? usage;
    }
    assert.deepEqual([text, finish, usage?.prompt_tokens, usage?.completion_tokens], ['Hello stream', 'stop', 160, 20]);
    assert.equal(fake.seen.at(-1)!.path, '/eu-west-1/model/us.amazon.nova-lite-v1%3A0/converse-stream');
    assert.equal((JSON.parse(fake.seen.at(-1)!.body) as { stream?: unknown }).stream, undefined);
    const [row] = await h.usage(response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([Number(row!.inputTokens), Number(row!.outputTokens), Number(row!.isStreaming), row!.completion], [160, 20, 1, 'succeeded']);
  });

  test('Nova on Bedrock: Bedrock\'s refusal reaches the OpenAI SDK in OpenAI\'s shape; a 429 moves on to the next key; Messages and Responses clients reach it through Converse too', async () => {
    await assert.rejects(openai(token).chat.completions.create({ model: 'bedrock:amazon.nova-pro-v1:0', messages: [{ role: 'user', content: 'refuse me' }] }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.BadRequestError, String(e));
      assert.equal(e.type, 'invalid_request_error');
      assert.match(e.message, /^400 The model returned the following errors: Malformed input request/);
      return true;
    });
    const { data, response } = await openai(await routedTo(h, throttled, good)).chat.completions.create({ model: 'bedrock:amazon.nova-pro-v1:0', messages: [{ role: 'user', content: 'retry nova' }] }).withResponse();
    assert.equal(data.choices[0]!.message.content, 'converse with amazon.nova-pro-v1:0');
    assert.equal(response.headers.get('ngrok-aig-attempts'), '2');
    const rows = await h.usage(response.headers.get('ngrok-aig-request-id')!, 2);
    assert.deepEqual(rows.map((r) => [r.statusCode, r.retryAction, r.providerKeyId]), [[429, 'next_key', throttled], [200, 'succeeded', good]]);

    const anthropic = new Anthropic({ baseURL: h.gatewayUrl, apiKey: token, maxRetries: 0 });
    const message = await anthropic.messages.create({ model: 'bedrock:amazon.nova-micro-v1:0', max_tokens: 32, messages: [{ role: 'user', content: 'through messages' }] });
    assert.deepEqual([message.content, message.stop_reason, message.usage.input_tokens], [[{ type: 'text', text: 'converse with amazon.nova-micro-v1:0' }], 'end_turn', 100]);
    const answered = await openai(token).responses.create({ model: 'bedrock:amazon.nova-micro-v1:0', input: 'through responses', store: false });
    assert.equal(answered.output_text, 'converse with amazon.nova-micro-v1:0');
    assert.equal(fake.seen.at(-1)!.path, '/eu-west-1/model/amazon.nova-micro-v1%3A0/converse');
  });

  test('Nova on Bedrock: the translated answer names the model Bedrock was asked for (Converse names none), for the OpenAI and Anthropic SDKs, buffered and streamed', async () => {
    const chat = await openai(token).chat.completions.create({ model: 'bedrock:amazon.nova-pro-v1:0', messages: [{ role: 'user', content: 'name it' }] });
    assert.equal(chat.model, 'amazon.nova-pro-v1:0');
    const message = await new Anthropic({ baseURL: h.gatewayUrl, apiKey: token, maxRetries: 0 }).messages.create({ model: 'bedrock:amazon.nova-micro-v1:0', max_tokens: 32, messages: [{ role: 'user', content: 'name it' }] });
    assert.equal(message.model, 'amazon.nova-micro-v1:0');
    assert.equal((await openai(token).responses.create({ model: 'bedrock:amazon.nova-micro-v1:0', input: 'name it', store: false })).model, 'amazon.nova-micro-v1:0');
    const stream = await openai(token).chat.completions.create({ model: 'us.amazon.nova-lite-v1:0', stream: true, messages: [{ role: 'user', content: 'stream nova' }] });
    const models = new Set<string>();
    for await (const part of stream) models.add(part.model);
    assert.deepEqual([...models], ['us.amazon.nova-lite-v1:0']);
  });

  test('Nova on Bedrock: an answer Converse stopped as malformed_tool_use reaches the SDKs as ngrok\'s TOOL_CALL_ARGUMENTS_INVALID (502, not retried), not as a finished turn; the attempt is billed', async () => {
    const { response } = await openai(token).chat.completions.create({ model: 'bedrock:amazon.nova-pro-v1:0', messages: [{ role: 'user', content: 'malformed call' }] }).withResponse().then(
      () => assert.fail('a malformed call answered as a success'),
      (e: unknown) => {
        assert.ok(e instanceof OpenAI.APIError, String(e));
        assert.equal(e.status, 502);
        assert.equal(e.code, 'ERR_NGROK_AI_GATEWAY_TOOL_CALL_ARGUMENTS_INVALID');
        assert.match(e.message, /tool `get_weather`/);
        return { response: e.headers! };
      },
    );
    await assert.rejects(new Anthropic({ baseURL: h.gatewayUrl, apiKey: token, maxRetries: 0 }).messages.create({ model: 'bedrock:amazon.nova-pro-v1:0', max_tokens: 32, messages: [{ role: 'user', content: 'malformed call' }] }), (e: unknown) => e instanceof Anthropic.APIError && e.status === 502);
    const [row] = await h.usage(response.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([Number(row!.inputTokens), Number(row!.outputTokens), row!.completion], [160, 20, 'succeeded']);
  });

  test('Nova on Bedrock: a ConverseStream ending after its stop reason but before its metadata event closes the Anthropic SDK\'s message with an output estimate, and the estimate is billed', async () => {
    const anthropic = new Anthropic({ baseURL: h.gatewayUrl, apiKey: token, maxRetries: 0 });
    const { data: stream, response } = await anthropic.messages.stream({ model: 'bedrock:amazon.nova-pro-v1:0', max_tokens: 100, messages: [{ role: 'user', content: 'no metadata' }] }).withResponse();
    const message = await stream.finalMessage();
    assert.equal(message.stop_reason, 'end_turn');
    assert.ok(message.usage.output_tokens > 0, `output_tokens ${message.usage.output_tokens}`);
    const [row] = await h.usage(response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([Number(row!.usageEstimated), row!.completion], [1, 'succeeded']);
    // The gateway's own count of what was relayed, billed (the fee, on the account's own key) as any estimate is.
    assert.ok(Number(row!.outputTokensEstimate) > 0, `estimated ${row!.outputTokensEstimate}`);
    assert.equal(BigInt(row!.costPico), BigInt(Number(row!.inputTokensEstimate) + Number(row!.outputTokensEstimate)) * FEE_PICO_PER_TOKEN);
  });

  test('Gemma 4 on Bedrock: a 429 moves on to the next Bedrock key, each attempt recorded; Responses and Messages clients reach it through chat completions', async () => {
    const failover = await routedTo(h, throttled, good);
    const { data, response } = await openai(failover).chat.completions.create({ model: 'bedrock:google.gemma-4-31b', messages: [{ role: 'user', content: 'retry gemma' }] }).withResponse();
    assert.equal(data.choices[0]!.message.content, 'gemma says hi from google.gemma-4-31b');
    assert.equal(response.headers.get('ngrok-aig-attempts'), '2');
    assert.deepEqual(fake.seen.slice(-2).map((c) => [c.path, c.headers.authorization]), [
      ['/us-east-1/v1/chat/completions', 'Bearer bedrock-throttled'],
      ['/eu-west-1/v1/chat/completions', 'Bearer bedrock-good'],
    ]);
    const rows = await h.usage(response.headers.get('ngrok-aig-request-id')!, 2);
    assert.deepEqual(rows.map((r) => [r.statusCode, r.retryAction, r.providerKeyId]), [[429, 'next_key', throttled], [200, 'succeeded', good]]);

    const answered = await openai(token).responses.create({ model: 'bedrock:google.gemma-4-31b', input: 'through responses', store: false });
    assert.equal(answered.output_text, 'gemma says hi from google.gemma-4-31b');
    assert.equal(fake.seen.at(-1)!.path, '/eu-west-1/v1/chat/completions');
    const anthropic = new Anthropic({ baseURL: h.gatewayUrl, apiKey: token, maxRetries: 0 });
    const message = await anthropic.messages.create({ model: 'bedrock:google.gemma-4-31b', max_tokens: 32, messages: [{ role: 'user', content: 'through messages' }] });
    assert.deepEqual(message.content, [{ type: 'text', text: 'gemma says hi from google.gemma-4-31b' }]);
    assert.equal(fake.seen.at(-1)!.path, '/eu-west-1/v1/chat/completions');
  });
  const weatherFunction = { type: 'function' as const, function: { name: weatherTool.name, description: weatherTool.description, parameters: weatherTool.input_schema } };

  test('chat completions (the OpenAI SDK) to a Bedrock Claude model: translated to Messages and sent on InvokeModel; the answer as a chat completion with its tool call, billed from Bedrock\'s counts', async () => {
    const { data, response } = await openai(token).chat.completions.create({ model: 'bedrock:anthropic.claude-sonnet-4-6', max_tokens: 64, tools: [weatherFunction], messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'sdk json' }] }).withResponse();
    const [choice] = data.choices;
    assert.equal(choice!.message.content, 'Looking it up.');
    assert.deepEqual(choice!.message.tool_calls?.map((c) => c.type === 'function' ? [c.id, c.function.name, JSON.parse(c.function.arguments)] : []), [['toolu_bdrk_1', 'get_weather', { city: 'Paris' }]]);
    assert.equal(choice!.finish_reason, 'tool_calls');
    assert.equal(response.headers.get('ngrok-aig-model'), 'anthropic.claude-sonnet-4-6');
    const up = fake.seen.at(-1)!;
    assert.equal(up.path, '/eu-west-1/model/anthropic.claude-sonnet-4-6/invoke');
    const sent = JSON.parse(up.body) as Record<string, unknown>;
    assert.deepEqual([sent.anthropic_version, sent.max_tokens, sent.system, sent.messages, sent.model], ['bedrock-2023-05-31', 64, 'Be brief.', [{ role: 'user', content: 'sdk json' }], undefined]);
    assert.deepEqual(sent.tools, [{ name: 'get_weather', description: 'Weather of a city', input_schema: weatherTool.input_schema }]);
    const [row] = await h.usage(response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([row!.provider, Number(row!.inputTokens), Number(row!.outputTokens), row!.stopReason, Number(row!.isStreaming), row!.completion], ['bedrock', INVOKE_COUNTS.input, INVOKE_COUNTS.output, 'tool_use', 0, 'succeeded']);
  });

  test('chat completions streamed to a Bedrock Claude model: InvokeModel\'s stream read as chat chunks as they arrive (text, then the tool call, then usage)', async () => {
    const stream = await openai(token).chat.completions.create({ model: 'anthropic.claude-sonnet-4-6', max_tokens: 64, tools: [weatherFunction], stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'sdk stream' }] });
    let text = '';
    let args = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const part of stream) {
      const delta = part.choices[0]?.delta;
      if (delta?.content) {
        text += delta.content;
        gate?.open();
      }
      for (const call of delta?.tool_calls ?? []) args += call.function?.arguments ?? '';
      finish = part.choices[0]?.finish_reason ?? finish;
      usage = part.usage ?? usage;
    }
    assert.equal(await gate!.opened, false, 'the first text came before the stream ended');
    assert.deepEqual([text, JSON.parse(args), finish], ['Checking the weather.', { city: 'Paris' }, 'tool_calls']);
    assert.deepEqual([usage?.prompt_tokens, usage?.completion_tokens], [42, 7]);
    assert.equal(fake.seen.at(-1)!.path, '/eu-west-1/model/anthropic.claude-sonnet-4-6/invoke-with-response-stream');
  });

  test('Responses (the OpenAI SDK) and Gemini\'s generateContent to a Bedrock Claude model: through Messages on InvokeModel, JSON and streamed', async () => {
    const response = await openai(token).responses.create({ model: 'bedrock:anthropic.claude-sonnet-4-6', max_output_tokens: 64, input: 'sdk json', store: false });
    assert.equal(response.output_text, 'Looking it up.');
    assert.equal(fake.seen.at(-1)!.path, '/eu-west-1/model/anthropic.claude-sonnet-4-6/invoke');
    const streamed = openai(token).responses.stream({ model: 'bedrock:anthropic.claude-sonnet-4-6', max_output_tokens: 64, input: 'sdk stream', store: false });
    streamed.on('response.output_text.delta', () => gate?.open());
    const final = await streamed.finalResponse();
    assert.equal(final.output_text, 'Checking the weather.');
    assert.equal(fake.seen.at(-1)!.path, '/eu-west-1/model/anthropic.claude-sonnet-4-6/invoke-with-response-stream');
    const google = new GoogleGenAI({ apiKey: token, apiVersion: 'v1beta', httpOptions: { baseUrl: h.gatewayUrl } });
    const generated = await google.models.generateContent({ model: 'bedrock:anthropic.claude-sonnet-4-6', contents: 'hello', config: { maxOutputTokens: 64 } });
    assert.equal(generated.text, 'invoked');
    assert.equal(fake.seen.at(-1)!.path, '/eu-west-1/model/anthropic.claude-sonnet-4-6/invoke');
    let geminiText = '';
    for await (const part of await google.models.generateContentStream({ model: 'bedrock:anthropic.claude-sonnet-4-6', contents: 'half counted', config: { maxOutputTokens: 64 } })) geminiText += part.text ?? '';
    assert.equal(geminiText, 'half');
    assert.equal(fake.seen.at(-1)!.path, '/eu-west-1/model/anthropic.claude-sonnet-4-6/invoke-with-response-stream');
  });

  test('/v1/messages/count_tokens for a Bedrock Claude model: counted by the gateway, Bedrock not called', async () => {
    const before = fake.seen.length;
    const { data, response } = await anthropic(token).messages.countTokens({ model: 'bedrock:anthropic.claude-sonnet-4-6', messages: [{ role: 'user', content: 'How many tokens is this?' }] }).withResponse();
    assert.ok(data.input_tokens > 0 && data.input_tokens < 30, String(data.input_tokens));
    assert.equal(response.headers.get('ngrok-aig-model'), 'anthropic.claude-sonnet-4-6');
    assert.equal(fake.seen.length, before);
  });

  test('Firewall: a Messages client served by Bedrock has its tool calls screened (JSON and streamed); InvokeModel with a body other than Claude\'s, which Firewall cannot read, is refused under an enforcing policy', async () => {
    const policy = await h.api<{ id: string }>('POST', '/firewall-policies', { name: 'No weather', rules: [{ name: 'No weather', tier: 'hardDeny', type: 'toolNames', phase: 'response', toolNames: ['get_*'] }] });
    const guarded = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'bedrock', steps: [{ type: 'user', keys: [{ id: good }] }] }] }, firewallPolicyId: policy.id }))).token;
    const json = await anthropic(guarded).messages.create({ model: 'bedrock:anthropic.claude-sonnet-4-6', max_tokens: 64, tools: [weatherTool], messages: [{ role: 'user', content: 'sdk json' }] });
    assert.deepEqual(json.content.map((b) => b.type), ['text', 'text']);
    assert.match((json.content[1] as Anthropic.TextBlock).text, /rule "No weather" \(hard block\) flagged the call to tool "get_weather"/);
    assert.equal(json.stop_reason, 'end_turn');
    const stream = anthropic(guarded).messages.stream({ model: 'bedrock:anthropic.claude-sonnet-4-6', max_tokens: 64, tools: [weatherTool], messages: [{ role: 'user', content: 'sdk stream' }] });
    stream.on('text', () => gate?.open());
    const streamed = await stream.finalMessage();
    assert.deepEqual(streamed.content.map((b) => b.type), ['text', 'text']);
    assert.match((streamed.content[1] as Anthropic.TextBlock).text, /flagged the call to tool "get_weather"/);
    assert.equal(streamed.stop_reason, 'end_turn');
    const before = fake.seen.length;
    await assert.rejects(client(guarded).send(new InvokeModelCommand({ modelId: 'meta.llama3-70b-instruct-v1:0', contentType: 'application/json', body: JSON.stringify({ prompt: 'x', max_gen_len: 64 }) })), (e: unknown) => {
      assert.equal((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode, 400, String(e));
      assert.match(String((e as Error).message), /Firewall does not screen Bedrock's InvokeModel for a body other than Claude's Messages: nothing would be checked/);
      return true;
    });
    assert.equal(fake.seen.length, before, 'Bedrock not called');
  });

  describe('Firewall on Bedrock\'s own operations, through the AWS SDK', () => {
    let policyId: string;
    let auditId: string;
    let guarded: string;
    let audited: string;
    const toolConfig = { tools: [{ toolSpec: { name: 'get_weather', description: 'Weather of a city', inputSchema: { json: { type: 'object', properties: { city: { type: 'string' } } } } } }] };
    const claudeBody = (prompt: string, extra: Record<string, unknown> = {}) => JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 64, tools: [weatherTool], messages: [{ role: 'user', content: prompt }], ...extra });
    const verdicts = async (): Promise<unknown> => {
      const [row] = await h.usage(requestId(), 1);
      return row!.firewall ? JSON.parse(row!.firewall) : null;
    };

    before(async () => {
      const rules = [
        { name: 'No rm -rf', tier: 'hardDeny', type: 'regex', phase: 'request', reads: ['messages'], pattern: '(?i)rm -rf' },
        { name: 'No deleting tools', tier: 'hardDeny', type: 'toolNames', phase: 'request', reads: ['toolDefinitions'], toolNames: ['delete_*'] },
        { name: 'No weather', tier: 'hardDeny', type: 'toolNames', phase: 'response', toolNames: ['get_*'] },
      ];
      policyId = (await h.api<{ id: string }>('POST', '/firewall-policies', { name: 'Bedrock guard', rules })).id;
      auditId = (await h.api<{ id: string }>('POST', '/firewall-policies', { name: 'Bedrock dry run', mode: 'audit', rules })).id;
      const router = { rules: [{ provider: 'bedrock', steps: [{ type: 'user', keys: [{ id: good }] }] }] };
      guarded = (await h.accessKey(await h.configuration({ router, firewallPolicyId: policyId }))).token;
      audited = (await h.accessKey(await h.configuration({ router, firewallPolicyId: auditId }))).token;
    });

    test('a request rule blocks Converse, ConverseStream and InvokeModel: Bedrock is not called, the answer names the rule, usage records the verdict', async () => {
      const before = fake.seen.length;
      const blockedText = 'Blocked by the gateway\'s Firewall: rule "No rm -rf" (hard block) flagged this request.';
      const out = await client(guarded).send(new ConverseCommand({ modelId: 'anthropic.claude-sonnet-4-6', system: [{ text: 'You are a shell agent.' }], messages: [{ role: 'user', content: [{ text: 'please RM -RF the build directory' }] }] }));
      assert.deepEqual(out.output?.message?.content, [{ text: blockedText }]);
      assert.equal(out.stopReason, 'end_turn');
      assert.equal(lastHeaders['ngrok-aig-firewall'], `blocked; rule="No rm -rf"; tier=hardDeny; policy=${policyId}`);
      assert.deepEqual(await verdicts(), [{ action: 'blocked', rule: 'No rm -rf', tier: 'hardDeny', policyId, phase: 'request' }]);
      // A tool result the agent sends back is read too (as `messages`, by this rule: a tool call in the history).
      const history = await client(guarded).send(new ConverseCommand({ modelId: 'anthropic.claude-sonnet-4-6', messages: [
        { role: 'user', content: [{ text: 'clean up' }] },
        { role: 'assistant', content: [{ toolUse: { toolUseId: 't1', name: 'shell', input: { cmd: 'rm -rf /' } } }] },
        { role: 'user', content: [{ toolResult: { toolUseId: 't1', content: [{ text: 'done' }] } }] },
      ] }));
      assert.equal(history.output?.message?.content?.[0]?.text, blockedText);
      // A tool offered in toolConfig, by name.
      const offered = await client(guarded).send(new ConverseCommand({ modelId: 'anthropic.claude-sonnet-4-6', messages: [{ role: 'user', content: [{ text: 'tidy up' }] }], toolConfig: { tools: [{ toolSpec: { name: 'delete_file', inputSchema: { json: { type: 'object' } } } }] } }));
      assert.match(offered.output?.message?.content?.[0]?.text ?? '', /rule "No deleting tools" \(hard block\) flagged this request/);
      const streamed = await client(guarded).send(new ConverseStreamCommand({ modelId: 'anthropic.claude-sonnet-4-6', messages: [{ role: 'user', content: [{ text: 'rm -rf it' }] }] }));
      let text = '';
      let stopReason: string | undefined;
      for await (const event of streamed.stream!) {
        text += event.contentBlockDelta?.delta?.text ?? '';
        stopReason ??= event.messageStop?.stopReason;
      }
      assert.deepEqual([text, stopReason], [blockedText, 'end_turn']);
      const invoked = await client(guarded).send(new InvokeModelCommand({ modelId: 'anthropic.claude-sonnet-4-6', contentType: 'application/json', body: claudeBody('rm -rf the repo') }));
      const message = JSON.parse(Buffer.from(invoked.body).toString('utf8')) as { content: { type: string; text?: string }[]; stop_reason: string };
      assert.deepEqual([message.content, message.stop_reason], [[{ type: 'text', text: blockedText }], 'end_turn']);
      assert.equal(fake.seen.length, before, 'Bedrock not called');
    });

    test('Converse: a response rule removes the toolUse block and says which rule, in its place; the turn ends', async () => {
      const out = await client(guarded).send(new ConverseCommand({ modelId: 'anthropic.claude-sonnet-4-6', messages: [{ role: 'user', content: [{ text: 'converse tool' }] }], toolConfig }));
      assert.deepEqual(out.output?.message?.content, [
        { text: 'Looking it up.' },
        { text: 'Blocked by the gateway\'s Firewall: rule "No weather" (hard block) flagged the call to tool "get_weather". The call was removed from this response and was not run.' },
      ]);
      assert.equal(out.stopReason, 'end_turn');
      assert.equal(lastHeaders['ngrok-aig-firewall'], `blocked; rule="No weather"; tier=hardDeny; policy=${policyId}`);
      assert.deepEqual(await verdicts(), [{ action: 'blocked', rule: 'No weather', tier: 'hardDeny', policyId, phase: 'response' }]);
    });

    test('ConverseStream: text streams through as it comes; the held toolUse block is replaced by the rule\'s text, the stop reason by end_turn', async () => {
      const streamed = await client(guarded).send(new ConverseStreamCommand({ modelId: 'anthropic.claude-sonnet-4-6', messages: [{ role: 'user', content: [{ text: 'stream tool' }] }], toolConfig }));
      let text = '';
      let toolStarts = 0;
      let stopReason: string | undefined;
      let usage: unknown;
      for await (const event of streamed.stream!) {
        const delta = event.contentBlockDelta?.delta?.text;
        if (delta !== undefined) {
          text += delta;
          // The first text reached the SDK while Bedrock still held the rest: text is not held.
          gate?.open();
        }
        if (event.contentBlockStart?.start?.toolUse) toolStarts++;
        if (event.contentBlockDelta?.delta?.toolUse) toolStarts++;
        stopReason ??= event.messageStop?.stopReason;
        usage ??= event.metadata?.usage;
      }
      assert.equal(await gate!.opened, false, 'the first text came before the stream ended');
      assert.equal(text, 'Checking the weather.Blocked by the gateway\'s Firewall: rule "No weather" (hard block) flagged the call to tool "get_weather". The call was removed from this response and was not run.');
      assert.equal(toolStarts, 0, 'no frame of the blocked call reached the SDK');
      assert.equal(stopReason, 'end_turn');
      assert.ok(usage, 'the metadata event passed');
      const [row] = await h.usage(requestId(), 1);
      assert.deepEqual([Number(row!.inputTokens), Number(row!.outputTokens), row!.completion], [160, 20, 'succeeded']);
      assert.deepEqual(JSON.parse(row!.firewall!), [{ action: 'blocked', rule: 'No weather', tier: 'hardDeny', policyId, phase: 'response' }]);
    });

    test('InvokeModel for Claude: the Messages answer\'s tool_use is screened, JSON and streamed (each chunk\'s Messages event)', async () => {
      const out = await client(guarded).send(new InvokeModelCommand({ modelId: 'anthropic.claude-sonnet-4-6', contentType: 'application/json', body: claudeBody('sdk json') }));
      const message = JSON.parse(Buffer.from(out.body).toString('utf8')) as { content: { type: string; text?: string }[]; stop_reason: string };
      assert.deepEqual(message.content.map((b) => b.type), ['text', 'text']);
      assert.match(message.content[1]!.text!, /rule "No weather" \(hard block\) flagged the call to tool "get_weather"/);
      assert.equal(message.stop_reason, 'end_turn');
      assert.equal(lastHeaders['ngrok-aig-firewall'], `blocked; rule="No weather"; tier=hardDeny; policy=${policyId}`);
      const streamed = await client(guarded).send(new InvokeModelWithResponseStreamCommand({ modelId: 'anthropic.claude-sonnet-4-6', contentType: 'application/json', body: claudeBody('sdk stream') }));
      const events: { type: string; content_block?: { type: string }; delta?: { type?: string; text?: string; stop_reason?: string } }[] = [];
      for await (const part of streamed.body!) {
        if (!part.chunk?.bytes) continue;
        const event = JSON.parse(Buffer.from(part.chunk.bytes).toString('utf8')) as (typeof events)[number];
        events.push(event);
        if (event.delta?.type === 'text_delta') gate?.open();
      }
      assert.equal(await gate!.opened, false, 'the first text came before the stream ended');
      assert.ok(!events.some((e) => e.content_block?.type === 'tool_use' || e.delta?.type === 'input_json_delta'), 'no event of the blocked call');
      assert.equal(events.filter((e) => e.delta?.type === 'text_delta').map((e) => e.delta!.text).join(''), 'Checking the weather.Blocked by the gateway\'s Firewall: rule "No weather" (hard block) flagged the call to tool "get_weather". The call was removed from this response and was not run.');
      assert.equal(events.find((e) => e.type === 'message_delta')?.delta?.stop_reason, 'end_turn');
      assert.equal(events.at(-1)?.type, 'message_stop');
      const [row] = await h.usage(requestId(), 1);
      assert.deepEqual([Number(row!.inputTokens), Number(row!.outputTokens), row!.completion], [42, 7, 'succeeded']);
    });

    test('a request\'s own rules (`plugins`) in a Claude InvokeModel body, on a key with no policy: enforced, and never sent to Bedrock (which refuses an unknown member)', async () => {
      const plugins = [{ id: 'firewall', hard_deny: [
        { name: 'No rm -rf', type: 'regex', phase: 'request', pattern: '(?i)rm -rf' },
        { name: 'No weather', type: 'toolNames', phase: 'response', toolNames: ['get_*'] },
      ] }];
      const before = fake.seen.length;
      const blocked = await client(token).send(new InvokeModelCommand({ modelId: 'anthropic.claude-sonnet-4-6', contentType: 'application/json', body: claudeBody('rm -rf the repo', { plugins }) }));
      const refusal = JSON.parse(Buffer.from(blocked.body).toString('utf8')) as { content: { type: string; text?: string }[] };
      assert.deepEqual(refusal.content, [{ type: 'text', text: 'Blocked by the gateway\'s Firewall: rule "No rm -rf" (hard block) flagged this request.' }]);
      assert.equal(lastHeaders['ngrok-aig-firewall'], 'blocked; rule="No rm -rf"; tier=hardDeny; policy=plugins[0]');
      assert.equal(fake.seen.length, before, 'Bedrock not called');
      const out = await client(token).send(new InvokeModelCommand({ modelId: 'anthropic.claude-sonnet-4-6', contentType: 'application/json', body: claudeBody('sdk json', { plugins }) }));
      const message = JSON.parse(Buffer.from(out.body).toString('utf8')) as { content: { type: string; text?: string }[]; stop_reason: string };
      assert.deepEqual(message.content.map((b) => b.type), ['text', 'text']);
      assert.match(message.content[1]!.text!, /rule "No weather" \(hard block\) flagged the call to tool "get_weather"/);
      assert.equal(lastHeaders['ngrok-aig-firewall'], 'blocked; rule="No weather"; tier=hardDeny; policy=plugins[0]');
      assert.doesNotMatch(fake.seen.at(-1)!.body, /plugins/);
      // Converse from a client writing its own HTTP (the SDK sends no member it does not model).
      const converse = async (body: unknown) => (await fetch(`${h.gatewayUrl}/model/anthropic.claude-sonnet-4-6/converse`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ ...body as object, plugins }) })).json() as Promise<{ output: { message: { content: { text?: string; toolUse?: unknown }[] } }; stopReason: string }>;
      const sent = fake.seen.length;
      const refused = await converse({ messages: [{ role: 'user', content: [{ text: 'rm -rf the repo' }] }] });
      assert.deepEqual(refused.output.message.content, [{ text: 'Blocked by the gateway\'s Firewall: rule "No rm -rf" (hard block) flagged this request.' }]);
      assert.equal(fake.seen.length, sent, 'Bedrock not called');
      const screened = await converse({ messages: [{ role: 'user', content: [{ text: 'converse tool' }] }], toolConfig });
      assert.deepEqual(screened.output.message.content.map((b) => b.text?.replace(/^Blocked[\s\S]*(rule "No weather")[\s\S]*$/, '$1')), ['Looking it up.', 'rule "No weather"']);
      assert.equal(screened.stopReason, 'end_turn');
      assert.doesNotMatch(fake.seen.at(-1)!.body, /plugins/);
    });

    test('audit mode: Converse, ConverseStream and InvokeModel\'s stream go through unchanged, the verdicts reported in Ngrok-AIG-Firewall and usage', async () => {
      const out = await client(audited).send(new ConverseCommand({ modelId: 'anthropic.claude-sonnet-4-6', messages: [{ role: 'user', content: [{ text: 'converse tool' }] }, { role: 'assistant', content: [{ text: 'ok' }] }, { role: 'user', content: [{ text: 'and rm -rf' }] }], toolConfig }));
      assert.equal(out.output?.message?.content?.[1]?.toolUse?.name, 'get_weather');
      assert.equal(out.stopReason, 'tool_use');
      assert.equal(lastHeaders['ngrok-aig-firewall'], `flagged; rule="No rm -rf"; tier=hardDeny; policy=${auditId}, flagged; rule="No weather"; tier=hardDeny; policy=${auditId}`);
      assert.deepEqual(await verdicts(), [
        { action: 'flagged', rule: 'No rm -rf', tier: 'hardDeny', policyId: auditId, phase: 'request' },
        { action: 'flagged', rule: 'No weather', tier: 'hardDeny', policyId: auditId, phase: 'response' },
      ]);
      const streamed = await client(audited).send(new ConverseStreamCommand({ modelId: 'anthropic.claude-sonnet-4-6', messages: [{ role: 'user', content: [{ text: 'stream tool' }] }], toolConfig }));
      let input = '';
      let stopReason: string | undefined;
      for await (const event of streamed.stream!) {
        if (event.contentBlockDelta?.delta?.text !== undefined) gate?.open();
        input += event.contentBlockDelta?.delta?.toolUse?.input ?? '';
        stopReason ??= event.messageStop?.stopReason;
      }
      assert.deepEqual([input, stopReason], ['{"city":"Paris"}', 'tool_use']);
      assert.deepEqual(await verdicts(), [{ action: 'flagged', rule: 'No weather', tier: 'hardDeny', policyId: auditId, phase: 'response' }]);
      // InvokeModel's stream: the held tool_use's chunks released as Claude sent them.
      const invoked = await client(audited).send(new InvokeModelWithResponseStreamCommand({ modelId: 'anthropic.claude-sonnet-4-6', contentType: 'application/json', body: claudeBody('sdk stream') }));
      const events: unknown[] = [];
      for await (const part of invoked.body!) {
        if (!part.chunk?.bytes) continue;
        const event = JSON.parse(Buffer.from(part.chunk.bytes).toString('utf8')) as { type: string };
        events.push(event);
        if (event.type === 'content_block_delta') gate?.open();
      }
      assert.deepEqual(events.slice(5, 9), [
        { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_bdrk_2', name: 'get_weather', input: {} } },
        { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"city":' } },
        { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '"Paris"}' } },
        { type: 'content_block_stop', index: 1 },
      ]);
      assert.equal((events.at(-2) as { delta: { stop_reason: string } }).delta.stop_reason, 'tool_use');
      assert.deepEqual(await verdicts(), [{ action: 'flagged', rule: 'No weather', tier: 'hardDeny', policyId: auditId, phase: 'response' }]);
    });
  });

});

for (const kind of STORE_KINDS) describe(`Bedrock provider keys: AWS settings (${kind})`, () => {
  let h: Harness;
  before(async () => { h = await startHarness(kind); });
  after(async () => { await h.close(); });

  const post = (body: Record<string, unknown>) => fetch(`${h.apiUrl}/provider-keys`, { method: 'POST', headers: { authorization: `Bearer ${bootstrap()}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const bootstrap = () => 'tgapi_bootstraptestkey0000000000000000000000000';

  test('a Bedrock key keeps its region (shown, changeable by PATCH), its secret sealed and redacted', async () => {
    const created = await h.api<Record<string, unknown>>('POST', '/provider-keys', { providerId: 'bedrock', name: 'bk', value: 'ABSKQmVkcm9ja0FQSUtleS1leGFtcGxl', aws: { region: 'us-west-2' } });
    assert.deepEqual(created.aws, { region: 'us-west-2' });
    assert.ok(!JSON.stringify(created).includes('ABSKQmVkcm9ja0FQSUtleS1leGFtcGxl'));
    const patched = await h.api<Record<string, unknown>>('PATCH', `/provider-keys/${String(created.id)}`, { aws: { region: 'eu-central-1' } });
    assert.deepEqual(patched.aws, { region: 'eu-central-1' });
    assert.deepEqual((await h.api<Record<string, unknown>>('GET', `/provider-keys/${String(created.id)}`)).aws, { region: 'eu-central-1' });
    const row = await h.running.store.db.selectFrom('providerKeys').select(['sealedValue', 'awsRegion']).where('id', '=', String(created.id)).executeTakeFirstOrThrow();
    assert.equal(row.awsRegion, 'eu-central-1');
    assert.ok(!row.sealedValue.includes('ABSKQmVkcm9ja0FQSUtleS1leGFtcGxl'), 'the key stays encrypted at rest');
    // Another provider's key shows no AWS settings.
    const openai = await h.api<Record<string, unknown>>('POST', '/provider-keys', { providerId: 'openai', name: 'o', value: 'sk-x' });
    assert.equal(openai.aws, undefined);
  });

  test('AWS settings on another provider\'s key: ERR_NGROK_AI_GATEWAY_PROVIDER_KEY_AWS_NOT_ALLOWED, on create and on PATCH', async () => {
    const res = await post({ providerId: 'openai', name: 'o', value: 'sk-x', aws: { region: 'us-east-1' } });
    assert.equal(res.status, 400);
    const error = await res.json() as { errorCode: string; msg: string };
    assert.equal(error.errorCode, 'ERR_NGROK_AI_GATEWAY_PROVIDER_KEY_AWS_NOT_ALLOWED');
    assert.equal(error.msg, 'AWS settings apply only to a Bedrock key. This key is for openai.');
    const id = await h.providerKey('anthropic', 'sk-ant-x');
    const patch = await fetch(`${h.apiUrl}/provider-keys/${id}`, { method: 'PATCH', headers: { authorization: `Bearer ${bootstrap()}`, 'content-type': 'application/json' }, body: JSON.stringify({ aws: { region: 'us-east-1' } }) });
    assert.equal(patch.status, 400);
    assert.equal((await patch.json() as { errorCode: string }).errorCode, 'ERR_NGROK_AI_GATEWAY_PROVIDER_KEY_AWS_NOT_ALLOWED');
  });

  test('a region where Bedrock does not run: ERR_NGROK_AI_GATEWAY_PROVIDER_KEY_AWS_REGION_NOT_ALLOWED', async () => {
    for (const region of ['mars-north-1', 'us-gov-west-1', 'cn-north-1']) {
      const res = await post({ providerId: 'bedrock', name: 'b', value: 'k', aws: { region } });
      assert.equal(res.status, 400);
      const error = await res.json() as { errorCode: string; msg: string };
      assert.equal(error.errorCode, 'ERR_NGROK_AI_GATEWAY_PROVIDER_KEY_AWS_REGION_NOT_ALLOWED');
      assert.equal(error.msg, `${region} is not a region where Bedrock runs. Use a commercial AWS region, such as us-east-1 or eu-west-1.`);
    }
  });

  test('a Bedrock key without a region is refused with a 400 naming aws.region', async () => {
    const res = await post({ providerId: 'bedrock', name: 'b', value: 'k' });
    assert.equal(res.status, 400);
    const error = await res.json() as { errorCode: string; msg: string };
    assert.equal(error.errorCode, 'ERR_NGROK_27510');
    assert.match(error.msg, /aws\.region/);
  });
});

/** An access key whose Bedrock requests use these stored keys, in order. */
async function routedTo(h: Harness, ...keyIds: string[]): Promise<string> {
  return (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'bedrock', steps: [{ type: 'user', keys: keyIds.map((id) => ({ id })) }] }] } }))).token;
}

/** A POST with its path sent exactly as written (fetch would resolve its dot segments first). */
function rawPost(base: string, path: string, headers: Record<string, string>, body: string): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(base);
    const req = request({ host: hostname, port, method: 'POST', path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (part: string) => { text += part; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** One answer on an HTTP/2 stream: its headers and its body as text. */
function h2Exchange(session: ClientHttp2Session, headers: Record<string, string>, body?: string): Promise<{ headers: H2Headers; text: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers);
    let answered: H2Headers = {};
    let text = '';
    stream.setEncoding('utf8');
    stream.on('response', (h) => { answered = h; });
    stream.on('data', (part: string) => { text += part; });
    stream.on('end', () => resolve({ headers: answered, text }));
    stream.on('error', reject);
    stream.end(body);
  });
}

/** HTTP/2 once the connection is up (its SETTINGS exchanged). */
function openH2(url: string): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = connectH2(url);
    session.once('remoteSettings', () => resolve(session));
    session.once('error', reject);
  });
}

async function openaiRoutedToken(h: Harness): Promise<string> {
  const keyId = await h.providerKey('openai', 'sk-h2c');
  return (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: keyId }] }] }] } }))).token;
}

const chatHeaders = (token: string): Record<string, string> => ({ ':method': 'POST', ':path': '/v1/chat/completions', authorization: `Bearer ${token}`, 'content-type': 'application/json' });

describe('HTTP/2 with prior knowledge on the gateway port, beside HTTP/1.1 (sqlite)', () => {
  let h: Harness;
  let token: string;
  before(async () => {
    h = await startHarness('sqlite', { TOLLGATE_CLIENT_HEADERS_TIMEOUT_MS: '400', TOLLGATE_CLIENT_REQUEST_TIMEOUT_MS: '600' });
    token = await openaiRoutedToken(h);
  });
  after(async () => { await h?.close(); });

  test('chat completions over h2c, JSON and SSE, with usage recorded; an HTTP/1.1 request on the same port meanwhile', async () => {
    const session = await openH2(h.gatewayUrl);
    try {
      assert.equal(session.remoteSettings.maxConcurrentStreams, 100, 'a bound on requests per connection');
      const json = await h2Exchange(session, chatHeaders(token), JSON.stringify({ model: 'openai:gpt-4o-mini', messages: [{ role: 'user', content: 'hello h2' }] }));
      assert.equal(json.headers[':status'], 200);
      const id = String(json.headers['ngrok-aig-request-id']);
      assert.equal(JSON.parse(json.text).object, 'chat.completion');
      let [row] = await h.usage(id, 1);
      assert.deepEqual([row!.provider, Number(row!.isStreaming), row!.completion], ['openai', 0, 'succeeded']);
      assert.ok(Number(row!.outputTokens) > 0);

      const sse = await h2Exchange(session, chatHeaders(token), JSON.stringify({ model: 'openai:gpt-4o-mini', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'stream h2' }] }));
      assert.equal(sse.headers[':status'], 200);
      assert.match(String(sse.headers['content-type']), /^text\/event-stream/);
      assert.match(sse.text, /data: \[DONE\]/);
      [row] = await h.usage(String(sse.headers['ngrok-aig-request-id']), 1);
      assert.deepEqual([Number(row!.isStreaming), Number(row!.usageEstimated), row!.completion], [1, 0, 'succeeded']);

      // HTTP/1.1 on the same port while the HTTP/2 connection is open.
      const http1 = await fetch(`${h.gatewayUrl}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'openai:gpt-4o-mini', messages: [{ role: 'user', content: 'hello h1' }] }) });
      assert.equal(http1.status, 200);
      assert.equal(((await http1.json()) as { object: string }).object, 'chat.completion');
      // A refusal answered before the body is read ends that stream only; the connection serves the next request.
      const refused = await h2Exchange(session, { ...chatHeaders('ng-not-a-key') }, JSON.stringify({ model: 'openai:gpt-4o-mini', messages: [] }));
      assert.equal(refused.headers[':status'], 401);
      const health = await h2Exchange(session, { ':method': 'GET', ':path': '/healthz' });
      assert.deepEqual([health.headers[':status'], health.text], [200, '{"status":"ok"}']);
    } finally {
      session.close();
    }
  });

  test('a connection that sends nothing, and an HTTP/2 connection that opens no request, are closed after the header timeout', { timeout: 30_000 }, async () => {
    const { port } = new URL(h.gatewayUrl);
    const silent = connectTcp(Number(port), '127.0.0.1');
    const silentClosed = new Promise<void>((resolve) => silent.on('close', () => resolve()));
    silent.on('error', () => {});
    const session = await openH2(h.gatewayUrl);
    const sessionClosed = new Promise<void>((resolve) => session.on('close', () => resolve()));
    session.on('error', () => {});
    // Neither is ever closed here: only the gateway's header timeout ends them (the test's own timeout is the bound).
    await Promise.all([silentClosed, sessionClosed]);
  });

  test('a client trickling the HTTP/2 preface a byte at a time is closed after the header timeout, not held a timeout per byte', async () => {
    const { port } = new URL(h.gatewayUrl);
    const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
    const socket = connectTcp(Number(port), '127.0.0.1');
    socket.on('error', () => {});
    socket.resume();
    let sent = 0;
    // Each byte well within the 400 ms header timeout of the last one: only a deadline from the start bounds it.
    const trickle = setInterval(() => { if (sent < preface.length) socket.write(preface.subarray(sent, ++sent)); }, 150);
    await new Promise<void>((resolve) => socket.on('close', () => resolve()));
    clearInterval(trickle);
    // Held a timeout per byte, the whole preface would have gone out (24 bytes, one per 150 ms) before any close.
    assert.ok(sent < preface.length, `closed only after all ${sent} bytes of the preface were sent`);
  });

  test('an HTTP/2 request whose body does not arrive in time gets a 408 in its format, with its request id', async () => {
    const session = await openH2(h.gatewayUrl);
    try {
      const answer = await new Promise<{ headers: H2Headers; text: string }>((resolve, reject) => {
        const stream = session.request(chatHeaders(token));
        let headers: H2Headers = {};
        let text = '';
        stream.setEncoding('utf8');
        stream.on('response', (h2) => { headers = h2; });
        stream.on('data', (part: string) => { text += part; });
        stream.on('close', () => resolve({ headers, text }));
        stream.on('error', reject);
        stream.write('{"model":"openai:gpt-4o-mini",');
      });
      assert.equal(answer.headers[':status'], 408);
      const error = (JSON.parse(answer.text) as { error: { message: string } }).error;
      assert.match(error.message, /did not arrive in time/);
      assert.match(String(answer.headers['ngrok-aig-request-id']), /^rq_/);
    } finally {
      session.close();
    }
  });
});

/**
 * A stream opened over HTTP/2 on a gateway that is stopped once its first bytes came: what the client read, whether
 * GOAWAY came while the stream was still open (and its code), and the stopped gateway's usage rows.
 */
async function stopDuringH2Stream(env: Record<string, string>, model: string, prompt: string) {
  const h = await startHarness('sqlite', env);
  let stopped = false;
  try {
    const token = await openaiRoutedToken(h);
    const session = await openH2(h.gatewayUrl);
    session.on('error', () => {});
    const stream = session.request(chatHeaders(token));
    let goawayWhileOpen: number | undefined;
    session.once('goaway', (code: number) => { if (!stream.closed) goawayWhileOpen = code; });
    stream.setEncoding('utf8');
    stream.on('error', () => {});
    let text = '';
    const closed = new Promise<void>((resolve) => stream.on('close', () => resolve()));
    const first = new Promise<void>((resolve) => stream.once('data', (part: string) => { text += part; stream.on('data', (more: string) => { text += more; }); resolve(); }));
    stream.end(JSON.stringify({ model: `openai:${model}`, stream: true, messages: [{ role: 'user', content: prompt }] }));
    await first;
    const stopping = h.running.stop();
    stopped = true;
    await closed;
    await stopping;
    session.destroy();
    const store = await openStore(h.database.url, { migrate: false });
    try {
      const rows = await store.db.selectFrom('usageEvents').selectAll().execute();
      return { text, goawayWhileOpen, rows };
    } finally {
      await store.close();
    }
  } finally {
    if (!stopped) await h.running.stop();
    await h.fake.close();
    await h.database.drop();
  }
}

test('a gateway stopping with an HTTP/2 connection open: GOAWAY, its stream in flight finishes and is recorded, and the stop completes', async () => {
  const { text, goawayWhileOpen, rows } = await stopDuringH2Stream({}, 'drip-during-h2-shutdown', 'a b c');
  assert.equal(goawayWhileOpen, h2constants.NGHTTP2_NO_ERROR, 'GOAWAY at once: no new requests on this connection');
  assert.match(text, /data: \[DONE\]/);
  assert.deepEqual(rows.map((r) => [r.model, r.completion, Number(r.isStreaming)]), [['drip-during-h2-shutdown', 'succeeded', 1]]);
});

test('an HTTP/2 stream still open when the shutdown grace period ends gets the error event, is recorded as failed, and the stop completes', async () => {
  // One word every 150 ms: far longer than the grace period.
  const { text, rows } = await stopDuringH2Stream({ TOLLGATE_SHUTDOWN_GRACE_MS: '300' }, 'drip-outlives-h2-grace', 'a b c d e f g h i j k l m n o p q r s t u v w x y z');
  assert.match(text, /data: \{"error":\{"type":"api_error","code":"ERR_NGROK_27235","message":"[^"]*gateway stopped/);
  assert.ok(!text.includes('[DONE]'));
  assert.deepEqual(rows.map((r) => [r.model, r.completion, Number(r.isError)]), [['drip-outlives-h2-grace', 'stream_failed', 1]]);
});
