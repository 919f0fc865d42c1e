// Bad input on every model surface, as a seeded, deterministic sweep (design.md: "Bad input gets a clear error and
// loses nothing"). For each surface a valid request is taken and mutated — each member the gateway reads set to each
// wrong JSON type, nested 10,000 deep, numbers JSON cannot hold exactly, lone surrogates, NULs; the body itself not an
// object, not JSON, not UTF-8-clean, compressed in a coding the gateway does not read, sent with odd headers — and sent
// to a model serving the surface natively and to models only translation reaches (translate/). Every answer must be
// either the provider's (the gateway may pass a field it does not read on as it is: the provider judges its own
// fields) or the gateway's error in the surface's documented shape with a catalog code; never a 5xx the provider did
// not answer, never the gateway's `internal`. A body the gateway rewrote (translation, removed parameters) must be one
// the target API takes; and every request that reached a provider has its usage stored. SQLite store: the store plays
// no part in any of it. TOLLGATE_SWEEP_SEED replays another sample; TOLLGATE_SWEEP=full sends every combination.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import pino from 'pino';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { startHarness, storedUsage, type Harness } from './helpers/gateway.ts';
import { LineCapture } from './helpers/log-capture.ts';
import { seeded } from './helpers/seeded.ts';
import { Errors } from '../src/domain/errors.ts';
import { messagesViaChat } from '../src/gateway/translate/messages-via-chat.ts';

type Json = Record<string, unknown>;

const SEED = Number(process.env.TOLLGATE_SWEEP_SEED ?? 4501);
const FULL = process.env.TOLLGATE_SWEEP === 'full';
const CATALOG_CODES = new Set(Object.values(Errors).map((e) => e.code));

// ---------------------------------------------------------------------------------------------------------------
// Bedrock Runtime, faked: each operation's success in Bedrock's wire format (event-stream frames for the streams),
// a ValidationException for a body that is not a JSON object.
const frames = new EventStreamCodec((b) => Buffer.from(b).toString('utf8'), (s) => Buffer.from(s));
const eventFrame = (type: string, body: unknown): Buffer => Buffer.from(frames.encode({
  headers: { ':message-type': { type: 'string', value: 'event' }, ':event-type': { type: 'string', value: type }, ':content-type': { type: 'string', value: 'application/json' } },
  body: Buffer.from(JSON.stringify(body)),
}));
const invokeChunk = (event: unknown): Buffer => eventFrame('chunk', { bytes: Buffer.from(JSON.stringify(event)).toString('base64') });

interface BedrockCall { path: string; body: string; status: number }

async function fakeBedrock(): Promise<{ url: string; calls: BedrockCall[]; close(): Promise<void> }> {
  const calls: BedrockCall[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const parts: Buffer[] = [];
    req.on('data', (p: Buffer) => parts.push(p));
    req.on('end', () => {
      const body = Buffer.concat(parts).toString('utf8');
      const call: BedrockCall = { path: req.url ?? '', body, status: 0 };
      calls.push(call);
      const answer = (status: number, headers: Record<string, string>, payload: string | Buffer) => {
        call.status = status;
        res.writeHead(status, headers);
        res.end(payload);
      };
      let parsed: unknown;
      try { parsed = JSON.parse(body); } catch { /* refused below */ }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        return answer(400, { 'content-type': 'application/json', 'x-amzn-errortype': 'ValidationException' }, JSON.stringify({ message: 'Malformed input request' }));
      }
      const operation = /\/model\/[^/]+\/([a-z-]+)$/.exec(call.path)?.[1];
      const usage = { inputTokens: 11, outputTokens: 4, totalTokens: 15 };
      const claude = { id: 'msg_bdrk', type: 'message', role: 'assistant', model: 'claude', content: [{ type: 'text', text: 'ok' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 11, output_tokens: 4 } };
      const stream = { 'content-type': 'application/vnd.amazon.eventstream' };
      switch (operation) {
        case 'converse':
          return answer(200, { 'content-type': 'application/json' }, JSON.stringify({ output: { message: { role: 'assistant', content: [{ text: 'ok' }] } }, stopReason: 'end_turn', usage, metrics: { latencyMs: 1 } }));
        case 'converse-stream':
          return answer(200, stream, Buffer.concat([
            eventFrame('messageStart', { role: 'assistant' }), eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'ok' } }),
            eventFrame('contentBlockStop', { contentBlockIndex: 0 }), eventFrame('messageStop', { stopReason: 'end_turn' }), eventFrame('metadata', { usage, metrics: { latencyMs: 1 } }),
          ]));
        case 'invoke':
          return answer(200, { 'content-type': 'application/json', 'x-amzn-bedrock-input-token-count': '11', 'x-amzn-bedrock-output-token-count': '4' }, JSON.stringify(claude));
        case 'invoke-with-response-stream':
          return answer(200, stream, Buffer.concat([
            invokeChunk({ type: 'message_start', message: { ...claude, content: [], stop_reason: null, usage: { input_tokens: 11, output_tokens: 1 } } }),
            invokeChunk({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
            invokeChunk({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'ok' } }),
            invokeChunk({ type: 'content_block_stop', index: 0 }),
            invokeChunk({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 4 } }),
            invokeChunk({ type: 'message_stop', 'amazon-bedrock-invocationMetrics': { inputTokenCount: 11, outputTokenCount: 4, invocationLatency: 1, firstByteLatency: 1 } }),
          ]));
        case 'count-tokens':
          return answer(200, { 'content-type': 'application/json' }, JSON.stringify({ inputTokens: 9 }));
        default:
          return answer(404, { 'content-type': 'application/json', 'x-amzn-errortype': 'UnknownOperationException' }, JSON.stringify({ message: 'no such operation' }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The surfaces, each with a valid request and the members the gateway (or a translator) reads.

type Format = 'openai' | 'anthropic' | 'gemini' | 'bedrock';

interface Surface {
  name: string;
  format: Format;
  path(model: string): string;
  body(model: string): Json;
  /** The first serves the surface natively; the others are reached by translation (or answered by the gateway). */
  targets: readonly string[];
  /** Dotted paths into the body (array indexes as numbers): each is set to every wrong value, and removed. */
  members: readonly string[];
}

const PARAMETERS = { type: 'object', properties: { city: { type: 'string' } } };
const CHAT_MESSAGES = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: [{ type: 'text', text: 'hello there' }] },
  { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
  { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
  { role: 'user', content: 'thanks' },
];
const CHAT_TOOLS = [{ type: 'function', function: { name: 'get_weather', description: 'Weather in a city', parameters: PARAMETERS } }];
const MESSAGES = [
  { role: 'user', content: [{ type: 'text', text: 'hello there' }] },
  { role: 'assistant', content: [{ type: 'text', text: 'Looking.' }, { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }] },
  { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' }, { type: 'text', text: 'thanks' }] },
];
const MESSAGES_TOOLS = [{ name: 'get_weather', description: 'Weather in a city', input_schema: PARAMETERS }];
const RESPONSES_INPUT = [
  { role: 'user', content: [{ type: 'input_text', text: 'hello there' }] },
  { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
  { type: 'function_call_output', call_id: 'call_1', output: 'sunny' },
  { role: 'user', content: 'thanks' },
];
const GEMINI_CONTENTS = [
  { role: 'user', parts: [{ text: 'hello there' }] },
  { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }] },
  { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { result: 'sunny' } } }, { text: 'thanks' }] },
];
const GEMINI_TOOLS = [{ functionDeclarations: [{ name: 'get_weather', description: 'Weather in a city', parameters: { type: 'OBJECT', properties: { city: { type: 'STRING' } } } }] }];
const CONVERSE_MESSAGES = [
  { role: 'user', content: [{ text: 'hello there' }] },
  { role: 'assistant', content: [{ text: 'Looking.' }, { toolUse: { toolUseId: 'tooluse_1', name: 'get_weather', input: { city: 'Paris' } } }] },
  { role: 'user', content: [{ toolResult: { toolUseId: 'tooluse_1', content: [{ text: 'sunny' }] } }, { text: 'thanks' }] },
];
const CONVERSE_TOOLS = { tools: [{ toolSpec: { name: 'get_weather', description: 'Weather in a city', inputSchema: { json: PARAMETERS } } }], toolChoice: { auto: {} } };

const CHAT_MEMBERS = [
  'model', 'stream', 'stream_options', 'stream_options.include_usage', 'messages', 'messages.0', 'messages.0.role', 'messages.0.content',
  'messages.1.content', 'messages.1.content.0', 'messages.1.content.0.type', 'messages.1.content.0.text', 'messages.2.content', 'messages.2.tool_calls',
  'messages.2.tool_calls.0', 'messages.2.tool_calls.0.id', 'messages.2.tool_calls.0.function', 'messages.2.tool_calls.0.function.name',
  'messages.2.tool_calls.0.function.arguments', 'messages.3.tool_call_id', 'messages.3.content', 'messages.4.role', 'messages.4.content', 'messages.4.name',
  'tools', 'tools.0', 'tools.0.type', 'tools.0.function', 'tools.0.function.name', 'tools.0.function.parameters', 'tool_choice',
  'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'n', 'stop', 'metadata', 'user', 'seed', 'response_format', 'response_format.type',
  'reasoning_effort', 'parallel_tool_calls', 'logit_bias', 'logprobs', 'top_logprobs', 'modalities', 'audio', 'prediction', 'web_search_options',
  'service_tier', 'models', 'presence_penalty', 'store', 'functions', 'thinking',
];
const MESSAGES_MEMBERS = [
  'model', 'stream', 'max_tokens', 'system', 'system.0', 'system.0.text', 'system.0.type', 'messages', 'messages.0', 'messages.0.role', 'messages.0.content',
  'messages.0.content.0', 'messages.0.content.0.type', 'messages.0.content.0.text', 'messages.1.content', 'messages.1.content.1', 'messages.1.content.1.id',
  'messages.1.content.1.name', 'messages.1.content.1.input', 'messages.2.content', 'messages.2.content.0', 'messages.2.content.0.tool_use_id',
  'messages.2.content.0.content', 'messages.2.content.0.is_error', 'tools', 'tools.0', 'tools.0.name', 'tools.0.input_schema', 'tools.0.type', 'tool_choice',
  'tool_choice.type', 'tool_choice.disable_parallel_tool_use', 'temperature', 'top_p', 'top_k', 'stop_sequences', 'metadata', 'metadata.user_id', 'thinking',
  'thinking.budget_tokens', 'thinking.type', 'output_config', 'service_tier', 'models', 'container', 'mcp_servers', 'betas', 'fallbacks', 'thread',
];
const RESPONSES_MEMBERS = [
  'model', 'stream', 'instructions', 'input', 'input.0', 'input.0.role', 'input.0.content', 'input.0.content.0', 'input.0.content.0.type',
  'input.0.content.0.text', 'input.1', 'input.1.type', 'input.1.call_id', 'input.1.name', 'input.1.arguments', 'input.2.output', 'input.2.call_id',
  'input.3.content', 'tools', 'tools.0', 'tools.0.type', 'tools.0.name', 'tools.0.parameters', 'tool_choice', 'max_output_tokens', 'temperature', 'top_p',
  'store', 'metadata', 'text', 'text.format', 'text.format.type', 'reasoning', 'reasoning.effort', 'parallel_tool_calls', 'truncation', 'user',
  'previous_response_id', 'include', 'service_tier', 'models', 'background', 'max_tool_calls', 'prompt', 'conversation',
];
const GEMINI_MEMBERS = [
  'contents', 'contents.0', 'contents.0.role', 'contents.0.parts', 'contents.0.parts.0', 'contents.0.parts.0.text', 'contents.1.parts.0.functionCall',
  'contents.1.parts.0.functionCall.name', 'contents.1.parts.0.functionCall.args', 'contents.2.parts.0.functionResponse',
  'contents.2.parts.0.functionResponse.response', 'contents.2.parts.0.functionResponse.name', 'contents.0.parts.0.inlineData', 'systemInstruction',
  'systemInstruction.parts', 'systemInstruction.parts.0.text', 'tools', 'tools.0', 'tools.0.functionDeclarations', 'tools.0.functionDeclarations.0',
  'tools.0.functionDeclarations.0.name', 'tools.0.functionDeclarations.0.parameters', 'toolConfig', 'toolConfig.functionCallingConfig',
  'toolConfig.functionCallingConfig.mode', 'toolConfig.functionCallingConfig.allowedFunctionNames', 'generationConfig', 'generationConfig.maxOutputTokens',
  'generationConfig.temperature', 'generationConfig.topP', 'generationConfig.topK', 'generationConfig.stopSequences', 'generationConfig.candidateCount',
  'generationConfig.responseMimeType', 'generationConfig.responseSchema', 'generationConfig.thinkingConfig', 'generationConfig.thinkingConfig.thinkingBudget',
  'generationConfig.seed', 'safetySettings', 'cachedContent', 'generation_config', 'system_instruction', 'model', 'stream',
];
const CONVERSE_MEMBERS = [
  'messages', 'messages.0', 'messages.0.role', 'messages.0.content', 'messages.0.content.0', 'messages.0.content.0.text', 'messages.1.content.1.toolUse',
  'messages.1.content.1.toolUse.name', 'messages.1.content.1.toolUse.input', 'messages.1.content.1.toolUse.toolUseId', 'messages.2.content.0.toolResult',
  'messages.2.content.0.toolResult.content', 'messages.2.content.0.toolResult.toolUseId', 'messages.2.content.0.toolResult.status', 'system', 'system.0',
  'system.0.text', 'inferenceConfig', 'inferenceConfig.maxTokens', 'inferenceConfig.temperature', 'inferenceConfig.topP', 'inferenceConfig.stopSequences',
  'toolConfig', 'toolConfig.tools', 'toolConfig.tools.0', 'toolConfig.tools.0.toolSpec', 'toolConfig.tools.0.toolSpec.name',
  'toolConfig.tools.0.toolSpec.inputSchema', 'toolConfig.tools.0.toolSpec.inputSchema.json', 'toolConfig.toolChoice', 'additionalModelRequestFields',
  'additionalModelResponseFieldPaths', 'guardrailConfig', 'promptVariables', 'requestMetadata', 'performanceConfig', 'outputConfig', 'modelId', 'stream',
];

const GEMINI_BASE = (): Json => ({
  contents: GEMINI_CONTENTS, systemInstruction: { parts: [{ text: 'Be brief.' }] }, tools: GEMINI_TOOLS, toolConfig: { functionCallingConfig: { mode: 'AUTO' } },
  generationConfig: { maxOutputTokens: 50, temperature: 0.5, topP: 0.9, topK: 5, stopSequences: ['END'], candidateCount: 1, responseMimeType: 'text/plain' },
  safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }],
});
const CONVERSE_BASE = (): Json => ({
  messages: CONVERSE_MESSAGES, system: [{ text: 'Be brief.' }], inferenceConfig: { maxTokens: 50, temperature: 0.5, topP: 0.9, stopSequences: ['END'] }, toolConfig: CONVERSE_TOOLS,
});
const gemini = (method: string) => (model: string) => `/v1beta/models/${encodeURIComponent(model)}:${method}`;
const bedrock = (operation: string) => (model: string) => `/model/${encodeURIComponent(model)}/${operation}`;

const CLAUDE = 'claude-sonnet-4-5';
const MESSAGES_ONLY = 'claudeish:mimic-1';
const BEDROCK_CLAUDE = 'anthropic.claude-sonnet-4-6';
const NOVA = 'amazon.nova-lite-v1:0';

const SURFACES: readonly Surface[] = [
  {
    name: 'chat completions', format: 'openai', path: () => '/v1/chat/completions', targets: ['gpt-4o', MESSAGES_ONLY, BEDROCK_CLAUDE, NOVA], members: CHAT_MEMBERS,
    body: (model) => ({
      model, messages: CHAT_MESSAGES, tools: CHAT_TOOLS, tool_choice: 'auto', max_tokens: 50, temperature: 0.5, top_p: 0.9, n: 1, stop: ['END'], stream: false,
      metadata: { tag: 'fuzz' }, user: 'u-1', seed: 7, response_format: { type: 'text' }, parallel_tool_calls: true,
    }),
  },
  {
    name: 'chat completions, streamed', format: 'openai', path: () => '/v1/chat/completions', targets: ['gpt-4o', MESSAGES_ONLY, BEDROCK_CLAUDE, NOVA], members: CHAT_MEMBERS,
    body: (model) => ({ model, messages: CHAT_MESSAGES, tools: CHAT_TOOLS, max_tokens: 50, stream: true, stream_options: { include_usage: true } }),
  },
  {
    name: 'Messages', format: 'anthropic', path: () => '/v1/messages', targets: [CLAUDE, 'gpt-4o', BEDROCK_CLAUDE, NOVA], members: MESSAGES_MEMBERS,
    body: (model) => ({
      model, max_tokens: 50, system: [{ type: 'text', text: 'Be brief.' }], messages: MESSAGES, tools: MESSAGES_TOOLS, tool_choice: { type: 'auto' },
      temperature: 0.5, top_k: 5, stop_sequences: ['END'], metadata: { user_id: 'u-1' }, stream: false,
    }),
  },
  {
    name: 'Messages, streamed', format: 'anthropic', path: () => '/v1/messages', targets: [CLAUDE, 'gpt-4o', BEDROCK_CLAUDE, NOVA], members: MESSAGES_MEMBERS,
    body: (model) => ({ model, max_tokens: 50, system: 'Be brief.', messages: MESSAGES, tools: MESSAGES_TOOLS, stream: true }),
  },
  {
    name: 'Messages count_tokens', format: 'anthropic', path: () => '/v1/messages/count_tokens', targets: [CLAUDE, 'gpt-4o'], members: MESSAGES_MEMBERS,
    body: (model) => ({ model, system: 'Be brief.', messages: MESSAGES, tools: MESSAGES_TOOLS }),
  },
  {
    name: 'Responses', format: 'openai', path: () => '/v1/responses', targets: ['gpt-4o', 'gemini-2.5-flash', CLAUDE, NOVA], members: RESPONSES_MEMBERS,
    body: (model) => ({
      model, instructions: 'Be brief.', input: RESPONSES_INPUT, tools: [{ type: 'function', name: 'get_weather', description: 'Weather in a city', parameters: PARAMETERS }],
      tool_choice: 'auto', max_output_tokens: 50, temperature: 0.5, top_p: 0.9, store: false, metadata: { tag: 'fuzz' }, text: { format: { type: 'text' } },
      parallel_tool_calls: true, truncation: 'disabled', user: 'u-1', stream: false,
    }),
  },
  {
    name: 'Responses, streamed', format: 'openai', path: () => '/v1/responses', targets: ['gpt-4o', 'gemini-2.5-flash', CLAUDE, BEDROCK_CLAUDE], members: RESPONSES_MEMBERS,
    body: (model) => ({ model, input: RESPONSES_INPUT, tools: [{ type: 'function', name: 'get_weather', parameters: PARAMETERS }], max_output_tokens: 50, store: false, stream: true }),
  },
  {
    name: 'completions', format: 'openai', path: () => '/v1/completions', targets: ['gpt-3.5-turbo-instruct'],
    members: ['model', 'prompt', 'prompt.0', 'max_tokens', 'temperature', 'n', 'best_of', 'echo', 'stop', 'stream', 'stream_options', 'logprobs', 'suffix', 'user', 'logit_bias'],
    body: (model) => ({ model, prompt: ['Say hi'], max_tokens: 20, temperature: 0.5, n: 1, stop: ['END'], user: 'u-1' }),
  },
  {
    name: 'embeddings', format: 'openai', path: () => '/v1/embeddings', targets: ['text-embedding-3-small'],
    members: ['model', 'input', 'input.0', 'dimensions', 'encoding_format', 'user', 'stream'],
    body: (model) => ({ model, input: ['hello', 'world'], dimensions: 8, encoding_format: 'float', user: 'u-1' }),
  },
  {
    name: 'Gemini generateContent', format: 'gemini', path: gemini('generateContent'), targets: ['gemini-2.5-flash', 'gpt-4o', CLAUDE, BEDROCK_CLAUDE, NOVA],
    members: GEMINI_MEMBERS, body: GEMINI_BASE,
  },
  {
    name: 'Gemini streamGenerateContent', format: 'gemini', path: (model) => `${gemini('streamGenerateContent')(model)}?alt=sse`, targets: ['gemini-2.5-flash', 'gpt-4o', CLAUDE, NOVA],
    members: GEMINI_MEMBERS, body: GEMINI_BASE,
  },
  {
    name: 'Gemini countTokens', format: 'gemini', path: gemini('countTokens'), targets: ['gemini-2.5-flash', CLAUDE, 'gpt-4o'],
    members: [...GEMINI_MEMBERS.filter((m) => m.startsWith('contents')), 'generateContentRequest', 'generateContentRequest.contents', 'generateContentRequest.model'],
    body: () => ({ contents: GEMINI_CONTENTS }),
  },
  {
    name: 'Gemini embedContent', format: 'gemini', path: gemini('embedContent'), targets: ['gemini-embedding-001', 'text-embedding-3-small'],
    members: ['content', 'content.parts', 'content.parts.0', 'content.parts.0.text', 'content.role', 'taskType', 'title', 'outputDimensionality', 'model'],
    body: () => ({ content: { parts: [{ text: 'hello' }] }, taskType: 'RETRIEVAL_QUERY', outputDimensionality: 8 }),
  },
  {
    name: 'Gemini batchEmbedContents', format: 'gemini', path: gemini('batchEmbedContents'), targets: ['gemini-embedding-001', 'text-embedding-3-small'],
    members: ['requests', 'requests.0', 'requests.0.model', 'requests.0.content', 'requests.0.content.parts', 'requests.0.content.parts.0.text', 'requests.0.outputDimensionality', 'requests.0.taskType', 'requests.1'],
    body: (model) => ({ requests: [{ model: `models/${model}`, content: { parts: [{ text: 'hello' }] }, outputDimensionality: 8 }, { model: `models/${model}`, content: { parts: [{ text: 'world' }] }, outputDimensionality: 8 }] }),
  },
  {
    name: 'Gemini Interactions', format: 'gemini', path: () => '/v1beta/interactions', targets: ['gemini-2.5-flash'],
    members: ['model', 'input', 'input.0', 'input.0.type', 'input.0.text', 'system_instruction', 'tools', 'tools.0', 'tools.0.name', 'generation_config', 'generation_config.max_output_tokens', 'generation_config.temperature', 'stream', 'store', 'background', 'previous_interaction_id', 'response_modalities', 'agent'],
    body: (model) => ({ model, input: [{ type: 'text', text: 'hello there' }], system_instruction: 'Be brief.', tools: [{ type: 'function', name: 'get_weather', parameters: PARAMETERS }], generation_config: { max_output_tokens: 50, temperature: 0.5 }, store: false }),
  },
  {
    name: 'Bedrock Converse', format: 'bedrock', path: bedrock('converse'), targets: [BEDROCK_CLAUDE, 'gpt-4o', CLAUDE], members: CONVERSE_MEMBERS, body: CONVERSE_BASE,
  },
  {
    name: 'Bedrock ConverseStream', format: 'bedrock', path: bedrock('converse-stream'), targets: [NOVA, 'gpt-4o', CLAUDE], members: CONVERSE_MEMBERS, body: CONVERSE_BASE,
  },
  {
    name: 'Bedrock InvokeModel', format: 'bedrock', path: bedrock('invoke'), targets: [BEDROCK_CLAUDE], members: MESSAGES_MEMBERS.filter((m) => m !== 'model' && m !== 'stream').concat('anthropic_version', 'anthropic_beta'),
    body: () => ({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 50, system: 'Be brief.', messages: MESSAGES, tools: MESSAGES_TOOLS, temperature: 0.5 }),
  },
  {
    name: 'Bedrock InvokeModelWithResponseStream', format: 'bedrock', path: bedrock('invoke-with-response-stream'), targets: [BEDROCK_CLAUDE],
    members: ['max_tokens', 'messages', 'messages.0.content', 'system', 'tools', 'anthropic_version', 'anthropic_beta', 'stream'],
    body: () => ({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 50, messages: MESSAGES, tools: MESSAGES_TOOLS }),
  },
  {
    name: 'Bedrock CountTokens', format: 'bedrock', path: bedrock('count-tokens'), targets: [BEDROCK_CLAUDE, CLAUDE, 'gpt-4o'],
    members: ['input', 'input.converse', ...CONVERSE_MEMBERS.filter((m) => /^(messages|system|toolConfig)/.test(m)).map((m) => `input.converse.${m}`), 'input.invokeModel', 'input.invokeModel.body'],
    body: () => ({ input: { converse: { messages: CONVERSE_MESSAGES, system: [{ text: 'Be brief.' }], toolConfig: { tools: CONVERSE_TOOLS.tools } } } }),
  },
];

// ---------------------------------------------------------------------------------------------------------------
// Wrong values. RAW values are written into the JSON text as they are (JSON.stringify cannot write them).

const RAW = '\u0000raw\u0000';
interface Wrong { label: string; value: unknown; raw?: string }
const DEEP = 10_000;
const WRONG: readonly Wrong[] = [
  { label: 'null', value: null }, { label: 'true', value: true }, { label: '0', value: 0 }, { label: '-1', value: -1 }, { label: '1.5', value: 1.5 },
  { label: '""', value: '' }, { label: '"x"', value: 'x' }, { label: '[]', value: [] }, { label: '[null]', value: [null] }, { label: '[1]', value: [1] },
  { label: '["x"]', value: ['x'] }, { label: '[[]]', value: [[]] }, { label: '{}', value: {} }, { label: '{"x":1}', value: { x: 1 } },
  { label: '1e400', value: RAW, raw: '1e400' }, { label: '-1e400', value: RAW, raw: '-1e400' }, { label: '-0', value: RAW, raw: '-0' },
  { label: '2^64', value: RAW, raw: '18446744073709551616' }, { label: '1e-400', value: RAW, raw: '1e-400' },
  { label: 'deep arrays', value: RAW, raw: `${'['.repeat(DEEP)}${']'.repeat(DEEP)}` },
  { label: 'deep objects', value: RAW, raw: `${'{"a":'.repeat(DEEP)}1${'}'.repeat(DEEP)}` },
  { label: 'lone surrogate', value: RAW, raw: '"\\ud800 x \\udfff"' }, { label: 'escaped NUL', value: 'a\u0000b' },
  { label: 'long string', value: 'word '.repeat(14_000) },
];
/** Wrong values each member gets on each model in the default sample, drawn afresh each time (all in full). */
const PER_MEMBER = 3;

/** A copy of `body` with the member at `path` set to `value` (`undefined`: removed). */
function withMember(body: Json, path: string, value: unknown): Json | undefined {
  const copy = structuredClone(body);
  const keys = path.split('.');
  let at: unknown = copy;
  for (const key of keys.slice(0, -1)) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  if (at === null || typeof at !== 'object') return undefined;
  const last = keys.at(-1)!;
  if (value === undefined) {
    if (Array.isArray(at)) at.splice(Number(last), 1);
    else delete (at as Record<string, unknown>)[last];
  } else (at as Record<string, unknown>)[last] = value;
  return copy;
}

function text(body: Json, raw?: string): string {
  const json = JSON.stringify(body);
  return raw === undefined ? json : json.replace(JSON.stringify(RAW), raw);
}

// ---------------------------------------------------------------------------------------------------------------
// Sending, and what an answer must be.

const ANSWER_WAIT_MS = 10_000;
const agent = new Agent({ keepAlive: true, maxSockets: 8 });

interface Sent { status: number; headers: IncomingMessage['headers']; text: string }

function send(url: string, path: string, headers: Record<string, string>, body: Buffer | string): Promise<Sent> {
  const target = new URL(path, url);
  return new Promise((resolve, reject) => {
    const req = request(target, { method: 'POST', agent, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    // An answer that never comes is a finding, not a test that hangs.
    req.setTimeout(ANSWER_WAIT_MS, () => req.destroy(new Error(`no answer within ${ANSWER_WAIT_MS} ms`)));
    req.end(body);
  });
}

interface Upstream { path: string; rawBody: string; body: Json | undefined; status: number }

/** What is wrong with an error answer's shape for its surface, if anything; `provider`: the provider's own refusal relayed. */
function errorShapeProblem(format: Format, answer: Sent, provider: boolean): string | undefined {
  let j: any;
  try { j = JSON.parse(answer.text); } catch { return 'the error body is not JSON'; }
  if (j === null || typeof j !== 'object') return 'the error body is not a JSON object';
  let code: unknown;
  switch (format) {
    case 'openai':
      if (typeof j.error !== 'object' || j.error === null || typeof j.error.message !== 'string' || typeof j.error.type !== 'string' || !('code' in j.error)) return 'not OpenAI\'s {error:{message,type,code}}';
      code = j.error.code;
      break;
    case 'anthropic':
      if (j.type !== 'error' || typeof j.error !== 'object' || j.error === null || typeof j.error.type !== 'string' || typeof j.error.message !== 'string') return 'not Anthropic\'s {type:"error",error:{type,message}}';
      code = j.error.code;
      break;
    case 'gemini':
      if (typeof j.error !== 'object' || j.error === null || j.error.code !== answer.status || typeof j.error.message !== 'string' || typeof j.error.status !== 'string') return 'not Google\'s {error:{code,message,status}}';
      code = j.error.details?.[0]?.reason;
      break;
    case 'bedrock':
      if (typeof j.message !== 'string' || typeof answer.headers['x-amzn-errortype'] !== 'string') return 'not Bedrock\'s {message} with x-amzn-errortype';
      code = j.code;
      break;
  }
  if (!provider && !CATALOG_CODES.has(code as string)) return `code ${JSON.stringify(code)} is not in the catalog`;
  return undefined;
}

// What a provider API takes, for a body the gateway wrote: each member it has, of the type the API gives it.
type Check = (v: unknown) => boolean;
const isObj = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);
const isStr: Check = (v) => typeof v === 'string';
const isNum: Check = (v) => typeof v === 'number' && Number.isFinite(v);
// A number's range is the provider's to judge (a limit of -1 goes as the client sent it); its type is the rewrite's.
const isInt: Check = (v) => Number.isInteger(v);
const isBool: Check = (v) => typeof v === 'boolean';
const listOf = (item: Check): Check => (v) => Array.isArray(v) && v.every(item);
const either = (...checks: Check[]): Check => (v) => checks.some((c) => c(v));

const chatContent = either(isStr, (v) => v === null, listOf((p) => isObj(p) && isStr(p.type)));
const CHAT_SCHEMA: Record<string, Check> = {
  model: isStr, stream: isBool, stream_options: isObj, max_tokens: isInt, max_completion_tokens: isInt, temperature: isNum, top_p: isNum, n: isInt,
  stop: either(isStr, listOf(isStr)), tools: listOf((t) => isObj(t) && isStr(t.type)), tool_choice: either(isStr, isObj), response_format: isObj,
  metadata: isObj, user: isStr, seed: isInt, parallel_tool_calls: isBool, reasoning_effort: isStr, presence_penalty: isNum, frequency_penalty: isNum,
  messages: listOf((m) => isObj(m) && isStr(m.role) && (m.content === undefined || chatContent(m.content))
    && (m.tool_calls === undefined || listOf((c) => isObj(c) && isStr(c.id) && isObj(c.function) && isStr(c.function.name) && isStr(c.function.arguments))(m.tool_calls))),
};
const messagesContent = either(isStr, listOf((b) => isObj(b) && isStr(b.type) && (b.text === undefined || isStr(b.text))));
const MESSAGES_SCHEMA: Record<string, Check> = {
  model: isStr, stream: isBool, max_tokens: isInt, temperature: isNum, top_p: isNum, top_k: isInt, stop_sequences: listOf(isStr),
  system: either(isStr, listOf((b) => isObj(b) && b.type === 'text' && isStr(b.text))), metadata: isObj, tool_choice: (v) => isObj(v) && isStr(v.type),
  tools: listOf((t) => isObj(t) && (isStr(t.type) || isStr(t.name))), thinking: (v) => isObj(v) && isStr(v.type), anthropic_version: isStr,
  messages: listOf((m) => isObj(m) && (m.role === 'user' || m.role === 'assistant') && messagesContent(m.content)),
};
const CONVERSE_SCHEMA: Record<string, Check> = {
  messages: listOf((m) => isObj(m) && (m.role === 'user' || m.role === 'assistant') && listOf(isObj)(m.content)), system: listOf(isObj),
  inferenceConfig: (v) => isObj(v) && (v.maxTokens == null || isInt(v.maxTokens)) && (v.temperature == null || isNum(v.temperature))
    && (v.topP == null || isNum(v.topP)) && (v.stopSequences == null || listOf(isStr)(v.stopSequences)),
  toolConfig: (v) => isObj(v) && listOf(isObj)(v.tools), additionalModelRequestFields: isObj,
};
const EMBEDDINGS_SCHEMA: Record<string, Check> = {
  model: isStr, input: either(isStr, listOf(isStr), listOf(isInt), listOf(listOf(isInt))), dimensions: isInt, encoding_format: isStr, user: isStr,
};
const GEMINI_SCHEMA: Record<string, Check> = { contents: listOf(isObj), model: isStr, requests: listOf(isObj), content: isObj, generationConfig: isObj };

/**
 * OpenAI's APIs read null as "not given" for an optional member, and Google's proto JSON too: the client's own null
 * may go on as it came. Anthropic's and Bedrock's are not said to: a translation leaves such a member out.
 */
const orNull = (schema: Record<string, Check>, except: readonly string[]): Record<string, Check> =>
  Object.fromEntries(Object.entries(schema).map(([name, check]) => [name, except.includes(name) ? check : either(check, (v) => v === null)]));

function schemaFor(path: string): Record<string, Check> | undefined {
  if (/\/model\/[^/]+\/(invoke|invoke-with-response-stream)$/.test(path) || path.endsWith('/messages') || path.endsWith('/count_tokens')) return MESSAGES_SCHEMA;
  if (/\/model\/[^/]+\/(converse|converse-stream)$/.test(path)) return CONVERSE_SCHEMA;
  if (path.endsWith('/chat/completions')) return orNull(CHAT_SCHEMA, ['model', 'messages']);
  if (path.endsWith('/embeddings')) return orNull(EMBEDDINGS_SCHEMA, ['input']);
  if (path.includes('/models/')) return orNull(GEMINI_SCHEMA, []);
  return undefined;
}

/**
 * The members of a body the gateway wrote that the target API would not take. `sent`: the client's body when the
 * request went to its own API (only the members the gateway changed are the gateway's to answer for); undefined when
 * it was translated (all of them are).
 */
/** JSON text of a value nested past what JSON.stringify recurses through: said so, not thrown. */
function jsonText(value: unknown): string {
  try { return JSON.stringify(value) ?? 'undefined'; } catch { return '(nested too deeply to write)'; }
}
const sameJson = (a: unknown, b: unknown): boolean => jsonText(a) === jsonText(b);

function rewriteProblems(up: Upstream, sent: Buffer | string | undefined): string[] {
  const schema = schemaFor(up.path);
  if (!schema) return [];
  const sentText = sent === undefined ? undefined : sent.toString();
  if (sentText !== undefined && up.rawBody === sentText) return [];
  if (up.body === undefined) return [`the body sent to ${up.path} is not a JSON object`];
  let client: Json | undefined;
  try { client = sentText === undefined ? undefined : JSON.parse(sentText) as Json; } catch { /* not JSON: every member is the gateway's */ }
  const problems: string[] = [];
  for (const [name, check] of Object.entries(schema)) {
    if (!(name in up.body)) continue;
    if (client !== undefined && sameJson(client[name], up.body[name])) continue;
    if (!check(up.body[name])) problems.push(`${up.path} got "${name}": ${jsonText(up.body[name]).slice(0, 600)}`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------

describe('bad request bodies on every surface: never a 500, a documented error, a usage record kept (sqlite)', () => {
  let h: Harness;
  let bedrockFake: Awaited<ReturnType<typeof fakeBedrock>>;
  let tokens: string[];
  const log = new LineCapture();
  const problems: string[] = [];
  /** Requests a provider saw, by the gateway's request id: how many attempts reached it. */
  const reached = new Map<string, number>();
  const random = seeded(SEED);
  /** `count` of `items`, drawn without repeats. */
  const sample = <T,>(items: readonly T[], count: number): T[] => {
    const left = [...items];
    return Array.from({ length: Math.min(count, left.length) }, () => left.splice(Math.floor(random() * left.length), 1)[0]!);
  };

  before(async () => {
    bedrockFake = await fakeBedrock();
    h = await startHarness('sqlite', { TOLLGATE_PROVIDER_BEDROCK_BASE_URL: `${bedrockFake.url}/{region}` }, { logger: pino({ level: 'error' }, log) });
    await h.api('POST', '/providers', {
      providerId: 'claudeish', name: 'Messages-only endpoint', baseUrl: `${h.fake.url}/v1`,
      supportedApiSurfaces: [{ format: 'anthropic', surface: 'messages' }], models: [{ modelId: 'mimic-1' }],
    });
    await h.providerKey('openai', 'sk-fuzz-openai');
    await h.providerKey('anthropic', 'sk-ant-fuzz');
    await h.providerKey('google', 'AIza-fuzz');
    await h.providerKey('claudeish', 'sk-fuzz-claudeish');
    await h.api('POST', '/provider-keys', { providerId: 'bedrock', name: 'bedrock', value: 'bedrock-good', aws: { region: 'us-east-1' } });
    const policy = await h.api<{ id: string }>('POST', '/firewall-policies', { name: 'fuzz guard', rules: [
      { name: 'No rm -rf', tier: 'hardDeny', type: 'regex', phase: 'request', pattern: '(?i)rm -rf' },
      { name: 'No deletes', tier: 'hardDeny', type: 'toolNames', phase: 'request', toolNames: ['delete_*'] },
      { name: 'No deletes answered', tier: 'hardDeny', type: 'toolNames', phase: 'response', toolNames: ['delete_*'] },
    ] });
    const guarded = await h.api<{ id: string }>('POST', '/access-key-configurations', { name: 'guarded', firewallPolicyId: policy.id });
    tokens = [(await h.accessKey()).token, (await h.accessKey(guarded.id)).token];
  });
  let stopped = false;
  after(async () => {
    agent.destroy();
    await bedrockFake.close();
    if (!stopped) await h.close();
  });

  /** Fails the test with what its requests found (the first of them, and how many), and starts the next one afresh. */
  function settle(): void {
    const found = problems.splice(0);
    if (found.length > 0) assert.fail(`${found.length} answers broke the rules (seed ${SEED}):\n${found.slice(0, 30).join('\n')}`);
  }

  /**
   * One request (as `token`, else one of the two keys at random) and the provider calls it made: requests go one at a
   * time, so the calls recorded meanwhile are its own. A request a provider saw is noted for the usage check.
   */
  async function exchange(path: string, body: Buffer | string, headers: Record<string, string> = {}, token = tokens[Math.floor(random() * tokens.length)]!): Promise<{ answer: Sent; upstream: Upstream[] }> {
    const fakeBefore = h.fake.requests.length;
    const bedrockBefore = bedrockFake.calls.length;
    const answer = await send(h.gatewayUrl, path, { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers }, body);
    const upstream: Upstream[] = [
      ...h.fake.requests.slice(fakeBefore).map((r) => ({ path: r.path, rawBody: r.rawBody, body: r.body, status: r.status })),
      ...bedrockFake.calls.slice(bedrockBefore).map((c) => {
        let parsed: unknown;
        try { parsed = JSON.parse(c.body); } catch { /* not JSON */ }
        return { path: c.path, rawBody: c.body, body: isObj(parsed) ? parsed : undefined, status: c.status };
      }),
    ];
    const requestId = answer.headers['ngrok-aig-request-id'];
    if (typeof requestId === 'string' && upstream.length > 0) reached.set(requestId, upstream.length);
    return { answer, upstream };
  }

  /** Sends one request and holds its answer to the rules; `label` names it in a failure. */
  async function check(label: string, format: Format, path: string, body: Buffer | string, options: { headers?: Record<string, string>; translated?: boolean } = {}): Promise<void> {
    let sent: Awaited<ReturnType<typeof exchange>>;
    try {
      sent = await exchange(path, body, options.headers);
    } catch (error) {
      problems.push(`${label}: ${(error as Error).message}`);
      return;
    }
    const { answer, upstream } = sent;
    const fail = (why: string) => problems.push(`${label} → ${answer.status}: ${why} ${JSON.stringify(answer.text.slice(0, 300))}`);
    if (typeof answer.headers['ngrok-aig-request-id'] !== 'string') fail('no Ngrok-AIG-Request-Id');
    const providerFailed = upstream.some((u) => u.status === 0 || u.status >= 500);
    if (answer.status >= 500 && !providerFailed) fail('a 5xx no provider answered');
    if (answer.status >= 400) {
      const providerRefused = upstream.length > 0 && upstream.at(-1)!.status >= 400;
      const shape = errorShapeProblem(format, answer, providerRefused);
      if (shape) fail(shape);
    }
    if (answer.text.includes(Errors.internal.code)) fail('the gateway\'s internal error in the answer');
    for (const up of upstream) {
      // Passed on unchanged, a body is the provider's to judge; rewritten, it is the gateway's. Claude's InvokeModel
      // body is the Messages body the client wrote (less `model` and `stream`): what it passes on unchanged is the
      // provider's to judge, as on Messages.
      const asSent = !options.translated || (format === 'anthropic' && /\/invoke(-with-response-stream)?$/.test(up.path));
      for (const p of rewriteProblems(up, asSent ? body : undefined)) fail(`rewritten into what the API refuses: ${p}`);
    }
  }

  for (const surface of SURFACES) {
    test(`${surface.name}: every member of every wrong type, natively and translated`, async () => {
      const paths = surface.targets.map((model) => surface.path(model));
      const bodies = surface.targets.map((model) => surface.body(model));
      for (const [t, model] of surface.targets.entries()) {
        // The unmutated request is served: every refusal below is the mutation's.
        const { answer } = await exchange(paths[t]!, JSON.stringify(bodies[t]));
        assert.ok(answer.status < 300, `${surface.name} → ${model}: the valid request was refused (${answer.status}): ${answer.text.slice(0, 400)}`);
      }
      for (const member of surface.members) {
        // Without the member on one of the models (on each, in full).
        const bare = Math.floor(random() * surface.targets.length);
        for (const [t, model] of surface.targets.entries()) {
          const removed = (FULL || t === bare) ? withMember(bodies[t]!, member, undefined) : undefined;
          if (removed) await check(`${surface.name} → ${model}: without ${member}`, surface.format, paths[t]!, JSON.stringify(removed), { translated: t > 0 });
          for (const wrong of FULL ? WRONG : sample(WRONG, PER_MEMBER)) {
            const body = withMember(bodies[t]!, member, wrong.value);
            if (body) await check(`${surface.name} → ${model}: ${member} = ${wrong.label}`, surface.format, paths[t]!, text(body, wrong.raw), { translated: t > 0 });
          }
        }
      }
      settle();
    });
  }

  test('bodies that are not a JSON object, or not clean JSON, on every surface', async () => {
    for (const surface of SURFACES) {
      const model = surface.targets[0]!;
      const path = surface.path(model);
      const valid = JSON.stringify(surface.body(model));
      const dup = valid.replace(/^\{/, surface.format === 'gemini' || surface.format === 'bedrock' ? '{"messages":5,"contents":5,' : '{"model":"nope","messages":5,');
      const bodies: [string, Buffer | string][] = [
        ['an array', '[]'], ['a JSON array of the request', `[${valid}]`], ['a string', '"hello"'], ['a number', '42'], ['null', 'null'], ['true', 'true'], ['empty', ''],
        ['whitespace', ' \n\t '], ['truncated', valid.slice(0, -1)], ['trailing garbage', `${valid}x`], ['two objects', `${valid}${valid}`],
        ['a BOM first', `\ufeff${valid}`], ['a raw NUL inside a string', valid.replace('Be brief.', 'Be\u0000brief.').replace('hello', 'hel\u0000lo')],
        ['a NUL after the object', `${valid}\u0000`], ['duplicate keys', dup], ['duplicate keys, the valid one last', valid.replace(/^\{/, '{"stream":"yes","max_tokens":"x",')],
        ['invalid UTF-8', Buffer.concat([Buffer.from(valid.slice(0, 20)), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from(valid.slice(20))])],
        ['UTF-16', Buffer.from(valid, 'utf16le')], ['deep arrays', `${'['.repeat(DEEP)}${']'.repeat(DEEP)}`],
        ['a lone surrogate key', valid.replace(/^\{/, '{"\\ud800":1,')], ['a __proto__ key', valid.replace(/^\{/, '{"__proto__":{"model":"x","stream":true},')],
        ['a constructor key', valid.replace(/^\{/, '{"constructor":{"prototype":1},"toString":5,')],
      ];
      for (const [label, body] of bodies) await check(`${surface.name}: ${label}`, surface.format, path, body);
    }
    settle();
  });

  test('wrong Content-Type, codings the gateway does not read, and odd headers, on every surface', async () => {
    for (const surface of SURFACES) {
      const model = surface.targets[0]!;
      const path = surface.path(model);
      const valid = surface.body(model);
      const body = JSON.stringify(valid);
      const cases: [string, Record<string, string>, Buffer | string][] = [
        ['text/plain', { 'content-type': 'text/plain' }, body], ['a form', { 'content-type': 'application/x-www-form-urlencoded' }, 'model=gpt-4o&messages=hi'],
        ['multipart', { 'content-type': 'multipart/form-data; boundary=x' }, '--x\r\nContent-Disposition: form-data; name="model"\r\n\r\ngpt-4o\r\n--x--\r\n'],
        ['a type of garbage', { 'content-type': ';;;=\u00ff' }, body], ['JSON in latin1', { 'content-type': 'application/json; charset=latin1' }, Buffer.from(body.replace('hello', 'h\u00e9llo'), 'latin1')],
        ['gzip that is not', { 'content-encoding': 'gzip' }, body], ['compress', { 'content-encoding': 'compress' }, body], ['two codings', { 'content-encoding': 'gzip, br' }, gzipSync(body)],
        ['a coding of garbage', { 'content-encoding': '\u00ff\u00fe' }, body], ['gzip of a non-object', { 'content-encoding': 'gzip' }, gzipSync('[1,2,3]')],
        ['zstd that is not', { 'content-encoding': 'zstd' }, body], ['deflate of nothing', { 'content-encoding': 'deflate' }, Buffer.alloc(0)],
        ['anthropic-version empty', { 'anthropic-version': '' }, body], ['anthropic-version of garbage', { 'anthropic-version': '\u00ff'.repeat(300) }, body],
        ['anthropic-beta of commas', { 'anthropic-beta': ',,, ,' }, body], ['anthropic-beta long', { 'anthropic-beta': 'x,'.repeat(4000) }, body],
        ['x-goog-api-key empty', { 'x-goog-api-key': '' }, body], ['x-goog-api-key latin1', { 'x-goog-api-key': '\u00e9\u00ff' }, body],
        ['openai-beta odd', { 'openai-beta': '\u00ff' }, body], ['accept odd', { accept: '*/*;q=x, \u00ff' }, body],
      ];
      for (const [label, headers, payload] of cases) await check(`${surface.name}: ${label}`, surface.format, path, payload, { headers });
    }
    settle();
  });

  // What the sweep found, each on its own.

  test('a Gemini generateContent body saying "stream": true is answered in JSON by Claude on Bedrock and by Nova: its path, not its body, says it does not stream', async () => {
    for (const [model, operation] of [[BEDROCK_CLAUDE, 'invoke'], [NOVA, 'converse']] as const) {
      const { answer, upstream } = await exchange(gemini('generateContent')(model), JSON.stringify({ ...GEMINI_BASE(), stream: true }));
      // Sent to the streaming twin, the event-stream frames that came back were no JSON answer: a 503.
      assert.equal(answer.status, 200, `${model}: ${answer.text.slice(0, 300)}`);
      assert.ok(Array.isArray(JSON.parse(answer.text).candidates), model);
      assert.deepEqual(upstream.map((u) => u.path.split('/').at(-1)), [operation]);
    }
  });

  test('a translated request nested 10,000 deep in what its answer repeats (a Responses tool_choice) is refused before any provider is called', async () => {
    const deep = `${'['.repeat(DEEP)}${']'.repeat(DEEP)}`;
    for (const model of ['gemini-2.5-flash', CLAUDE]) {
      for (const stream of [false, true]) {
        // Translated, the request went (its tool_choice dropped), and the answer repeating it overflowed the stack:
        // a 502 blaming the provider, already paid, or a stream left open.
        const { answer, upstream } = await exchange('/v1/responses', `{"model":"${model}","input":"hi","store":false,"stream":${stream},"tool_choice":${deep}}`);
        assert.equal(answer.status, 400, `${model}, stream ${stream}: ${answer.text.slice(0, 300)}`);
        assert.equal(JSON.parse(answer.text).error.code, Errors.badRequestBody.code);
        assert.match(JSON.parse(answer.text).error.message, /nested too deeply/);
        assert.equal(upstream.length, 0);
      }
    }
  });

  test('a number past what JSON numbers hold here (1e400) in a translated request is refused naming it; sent natively it goes on as the client wrote it', async () => {
    const body = (model: string) => `{"model":"${model}","max_tokens":50,"temperature":1e400,"messages":[{"role":"user","content":"hi"}]}`;
    // Read as Infinity, it was written as null ("not given") for gpt-4o: the model ran at its default temperature.
    const translated = await exchange('/v1/messages', body('gpt-4o'));
    assert.equal(translated.answer.status, 400, translated.answer.text);
    assert.deepEqual([JSON.parse(translated.answer.text).error.code, translated.upstream.length], [Errors.badRequestBody.code, 0]);
    assert.match(JSON.parse(translated.answer.text).error.message, /"temperature" is out of range/);
    const native = await exchange('/v1/messages', body(CLAUDE));
    assert.equal(native.upstream.length, 1);
    assert.match(native.upstream[0]!.rawBody, /"temperature":1e400/);
  });

  test('members of the wrong type in a translated request are refused naming them as the client wrote them, before any call; sent natively, they are the provider\'s to judge', async () => {
    const cases: [string, string, Json, RegExp][] = [
      ['/v1/messages', 'gpt-4o', { model: 'gpt-4o', max_tokens: 50, messages: [{ role: 'user', content: [{ type: 'text', text: true }] }] }, /"messages\[0\]\.content\[0\]\.text" must be a string/],
      ['/v1/messages', BEDROCK_CLAUDE, { model: BEDROCK_CLAUDE, max_tokens: 50, messages: MESSAGES, tools: [{ name: 7, input_schema: PARAMETERS }] }, /"tools\[0\]\.name" must be a string/],
      ['/v1/chat/completions', MESSAGES_ONLY, { model: MESSAGES_ONLY, messages: CHAT_MESSAGES, tools: [{ type: 'function', function: { parameters: PARAMETERS } }] }, /"tools\[0\]\.function\.name" is required/],
      ['/v1/chat/completions', NOVA, { model: NOVA, messages: CHAT_MESSAGES, top_p: 'high' }, /"top_p" must be a number/],
      ['/v1/responses', 'gemini-2.5-flash', { model: 'gemini-2.5-flash', input: [RESPONSES_INPUT[0], { ...RESPONSES_INPUT[1], call_id: 5 }, RESPONSES_INPUT[2]] }, /"input\[1\]\.call_id" must be a string/],
      [gemini('generateContent')('gpt-4o'), 'gpt-4o', { contents: GEMINI_CONTENTS, generation_config: { temperature: 'warm' } }, /"generation_config\.temperature" must be a number/],
      [bedrock('converse')('gpt-4o'), 'gpt-4o', { messages: [CONVERSE_MESSAGES[0], { role: 'assistant', content: [{ toolUse: null }] }] }, /"messages\[1\]\.content\[0\]" holds nothing/],
    ];
    for (const [path, model, body, why] of cases) {
      const { answer, upstream } = await exchange(path, JSON.stringify(body));
      assert.equal(answer.status, 400, `${model}: ${answer.text.slice(0, 300)}`);
      // Each format's error names the code and the member (Google's and Bedrock's message lead with the code too).
      const refusal = JSON.parse(answer.text) as { error?: { message?: string }; message?: string };
      const message = refusal.error?.message ?? refusal.message ?? '';
      assert.match(message, why);
      assert.match(message, new RegExp(Errors.invalidRequest.code));
      assert.equal(upstream.length, 0, model);
    }
    // The same mistake on the model's own API goes as it came, for the provider to answer.
    const native = await exchange('/v1/messages', JSON.stringify({ model: CLAUDE, max_tokens: 50, messages: [{ role: 'user', content: [{ type: 'text', text: true }] }] }));
    assert.equal(native.upstream.length, 1);
  });

  test('null ("not given") in a chat or Converse request is left out of the Messages request it becomes, not sent as null', async () => {
    const chat = await exchange('/v1/chat/completions', JSON.stringify({ model: MESSAGES_ONLY, messages: CHAT_MESSAGES, stream: null }));
    const converse = await exchange(bedrock('converse')(CLAUDE), JSON.stringify({ messages: CONVERSE_MESSAGES, toolConfig: CONVERSE_TOOLS, inferenceConfig: { maxTokens: 50, temperature: null, topP: null } }));
    for (const { answer, upstream } of [chat, converse]) {
      assert.equal(answer.status, 200, answer.text);
      const sent = upstream[0]!.body!;
      assert.deepEqual(['stream', 'temperature', 'top_p'].filter((name) => name in sent), []);
    }
  });

  test('a translation that throws while writing the answer is the gateway\'s error in the client\'s format, once (no second attempt billed for it); its stream ends with the error event, never left open', async () => {
    const { answer: translate, stream } = messagesViaChat;
    const logged = log.lines.length;
    messagesViaChat.answer = () => { throw new TypeError('a translation bug'); };
    messagesViaChat.stream = (scope) => {
      const translation = stream(scope);
      return { ...translation, event: () => { throw new TypeError('a translation bug'); }, take: () => translation.take(), finish: () => translation.finish() };
    };
    try {
      const json = await exchange('/v1/messages', JSON.stringify({ model: 'gpt-4o', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }));
      // It was taken for a broken connection: a 502 blaming the provider, after a second attempt where there was one.
      assert.equal(json.answer.status, 500, json.answer.text);
      assert.equal(JSON.parse(json.answer.text).error.code, Errors.internal.code);
      assert.equal(json.upstream.length, 1);
      const streamed = await exchange('/v1/messages', JSON.stringify({ model: 'gpt-4o', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'hi' }] }));
      assert.equal(streamed.answer.status, 200);
      assert.match(streamed.answer.text, new RegExp(`event: error\ndata: .*${Errors.internal.code}`));
      assert.equal(streamed.upstream.length, 1);
    } finally {
      messagesViaChat.answer = translate;
      messagesViaChat.stream = stream;
    }
    // Said in the log, as any failure of the gateway's own (and taken out: the next test finds no other).
    const failures = log.lines.splice(logged).map((line) => JSON.parse(line).msg as string);
    assert.deepEqual(failures, ['translating an answer failed', 'relaying a stream failed']);
  });

  test('no request failed inside the gateway, and every request a provider saw has its usage stored', async () => {
    stopped = true;
    await h.running.stop();
    try {
      // The log holds errors only: any line is a failure of the gateway's own (`gateway request failed`, a 500).
      assert.deepEqual(log.lines.map((line) => JSON.parse(line).msg as string), []);
      const rows = await storedUsage(h);
      const stored = new Map<string, number>();
      for (const row of rows) stored.set(row.requestId, (stored.get(row.requestId) ?? 0) + 1);
      const lost = [...reached].filter(([id, attempts]) => (stored.get(id) ?? 0) < attempts).map(([id, attempts]) => `${id}: ${attempts} attempts, ${stored.get(id) ?? 0} stored`);
      assert.deepEqual(lost, []);
      assert.ok(reached.size > 100, `only ${reached.size} requests reached a provider`);
    } finally {
      await h.fake.close();
      await h.database.drop();
    }
  });
});
