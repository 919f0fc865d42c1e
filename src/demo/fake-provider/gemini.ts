// The fake provider's Gemini native API (`…/models/{model}:generateContent` and `:streamGenerateContent?alt=sse`, and
// `:countTokens` and `:batchEmbedContents` beside them),
// shaped like Google's own answers so the Gen AI SDK (and the gateway's meter) read them unchanged: JSON written
// with a space after each colon, pretty-printed answers, SSE chunks each a whole GenerateContentResponse ended by
// CRLF CRLF with cumulative `usageMetadata`, and google.rpc.Status error bodies. Scripted like the rest of the fake:
//   key `sk-NNN`         → that HTTP status, with Google's error body (429: no Retry-After, the wait in RetryInfo)
//   key `sk-invalid-key` → Google's answer to a key that is not valid: 400 INVALID_ARGUMENT, reason API_KEY_INVALID
//   model `fail-NNN-…`   → the same, whatever the key
//   model `nousage-…`    → no usageMetadata anywhere
//   model `overloaded-…` → (stream) a 200 stream whose first chunk is Google's 503 error
//   model `broken-…`     → (stream) a first chunk, then the connection drops
//   model `short-…`      → (stream) a first chunk, then a clean end with no finishReason
// `:countTokens` answers `{"totalTokens": FAKE_GEMINI_TOKEN_COUNT, …}`; `:batchEmbedContents` one embedding a request
// (`outputDimensionality` values, 8 without it) and no usageMetadata (the Gemini API's answer has none), refusing
// with Google's 400 a request whose `model` is not the path's; `:embedContent` the one embedding of its `content`
// (`{"embedding": {"values": …}}`), members read by either of Google's names (`output_dimensionality` too), refusing
// one without a content or naming another model than the path's.
// `POST …/interactions` (the Interactions API, model in the body): an Interaction (`steps`, `status`, `usage` with
// FAKE_INTERACTIONS_USAGE), or with `"stream": true` its SSE events (`interaction.created`, `interaction.status_update`,
// `step.start`, `step.delta` text, `step.stop`, `interaction.completed` carrying the usage, then `data: [DONE]`),
// scripted by key and model as above (`overloaded-…` opens with Google's `error` event); Google's 400 without a model.
// Model `tool-…` with function tools offered (and no function result last in `input`) answers a text step then a
// `function_call` step to the first tool (`tool-each-…`: to each, in order) with `{"city": "Paris"}`, status
// `requires_action`; streamed, each call's `step.start` names it and its arguments follow in two `arguments_delta`s.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { embeddingDimensions } from './wire.ts';

/**
 * What every fake Gemini answer reports. Billed as the gateway reads it: input = prompt + tool-use prompt (17),
 * output = candidates + thoughts (9), cache reads 5, reasoning 2 — FAKE_USAGE's totals, from Gemini's own fields.
 */
export const FAKE_GEMINI_USAGE = { prompt: 14, toolUsePrompt: 3, cached: 5, candidates: 7, thoughts: 2 } as const;

/**
 * What every fake interaction reports (Google's Usage). Billed as the gateway reads it: input = input + tool use (17),
 * output = output + thoughts (9), cache reads 5, reasoning 2 — the same totals as FAKE_GEMINI_USAGE.
 */
export const FAKE_INTERACTIONS_USAGE = { total_input_tokens: 14, total_tool_use_tokens: 3, total_cached_tokens: 5, total_output_tokens: 7, total_thought_tokens: 2 } as const;

/** What every fake `:countTokens` answers. */
export const FAKE_GEMINI_TOKEN_COUNT = 23;

const GEMINI_PATH = /\/models\/([^/:]+):(generateContent|streamGenerateContent|countTokens|batchEmbedContents|embedContent)$/;

type GeminiMethod = 'generateContent' | 'streamGenerateContent' | 'countTokens' | 'batchEmbedContents' | 'embedContent';

/** The model and method of a Gemini native call's path; undefined for any other path. */
export function geminiCallOf(path: string): { model: string; stream: boolean; method: GeminiMethod } | undefined {
  const m = GEMINI_PATH.exec(path);
  return m ? { model: decodeURIComponent(m[1]!), stream: m[2] === 'streamGenerateContent', method: m[2] as GeminiMethod } : undefined;
}

/** Google's JSON: `"key": value`, items joined by `,` — what its API writes (so compact-JSON readers would miss it). */
export function googleJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => googleJson(v)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${googleJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const STATUS_NAMES: Readonly<Record<number, { status: string; message: string }>> = {
  400: { status: 'INVALID_ARGUMENT', message: 'Request contains an invalid argument.' },
  401: { status: 'UNAUTHENTICATED', message: 'Request had invalid authentication credentials.' },
  403: { status: 'PERMISSION_DENIED', message: 'Method doesn\'t allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.' },
  404: { status: 'NOT_FOUND', message: 'models/unknown is not found for API version v1beta, or is not supported for generateContent.' },
  429: { status: 'RESOURCE_EXHAUSTED', message: 'You exceeded your current quota, please check your plan and billing details.' },
  500: { status: 'INTERNAL', message: 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting' },
  503: { status: 'UNAVAILABLE', message: 'The model is overloaded. Please try again later.' },
};

/** Google's error body for a status; a 429's says when to retry only in its RetryInfo detail, as Gemini's API does. */
export function geminiErrorBody(status: number): string {
  const e = STATUS_NAMES[status] ?? STATUS_NAMES[500]!;
  const details = status === 429 ? [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1.2s' }] : undefined;
  return JSON.stringify({ error: { code: status, message: e.message, status: e.status, details } }, null, 2);
}

/** A key the fake answers as Google answers a mistyped, deleted or revoked key (here and on its OpenAI-compatible API). */
export const INVALID_GOOGLE_KEY = 'sk-invalid-key';

/** Google's error for a key that is not valid, as its API sends it: a 400, the cause in an ErrorInfo reason. */
export function googleKeyInvalidError() {
  const message = 'API key not valid. Please pass a valid API key.';
  return {
    error: {
      code: 400, message, status: 'INVALID_ARGUMENT',
      details: [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
        { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message },
      ],
    },
  };
}

function usageMetadata(done: boolean, withUsage: boolean) {
  if (!withUsage) return undefined;
  const u = FAKE_GEMINI_USAGE;
  // Every chunk carries the prompt's counts; the candidates' grow, and thoughts are counted once thinking is done.
  const candidates = done ? u.candidates : 1;
  const thoughts = done ? u.thoughts : 0;
  return {
    promptTokenCount: u.prompt, candidatesTokenCount: candidates, totalTokenCount: u.prompt + u.toolUsePrompt + candidates + thoughts,
    cachedContentTokenCount: u.cached, toolUsePromptTokenCount: u.toolUsePrompt, thoughtsTokenCount: done ? thoughts : undefined,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: u.prompt }],
  };
}

function response(model: string, text: string, finish: boolean, withUsage: boolean) {
  return {
    candidates: [{ content: { parts: [{ text }], role: 'model' }, finishReason: finish ? 'STOP' : undefined, index: 0 }],
    usageMetadata: usageMetadata(finish, withUsage),
    modelVersion: model,
    responseId: 'fake-gemini-response-1',
  };
}

/** The text of the last `user` turn's parts. */
function lastUserText(body: Record<string, unknown>): string {
  const contents = Array.isArray(body.contents) ? body.contents as { role?: unknown; parts?: unknown }[] : [];
  for (let i = contents.length - 1; i >= 0; i--) {
    const turn = contents[i]!;
    if (turn.role !== undefined && turn.role !== 'user') continue;
    return (Array.isArray(turn.parts) ? turn.parts as { text?: unknown }[] : []).map((p) => (typeof p.text === 'string' ? p.text : '')).join(' ');
  }
  return '';
}

const chunk = (data: unknown): string => `data: ${googleJson(data)}\r\n\r\n`;

/** Google's answer to `:countTokens`: the total and its split by modality. */
function countTokensAnswer(): string {
  return JSON.stringify({ totalTokens: FAKE_GEMINI_TOKEN_COUNT, promptTokensDetails: [{ modality: 'TEXT', tokenCount: FAKE_GEMINI_TOKEN_COUNT }] }, null, 2);
}

/** A made-up but stable vector for a text: the same text embeds the same, whatever else is in the batch. */
function fakeVector(text: string, dimensions: number): number[] {
  const values: number[] = [];
  for (let i = 0; i < dimensions; i++) values.push(Number((((text.charCodeAt(i % Math.max(text.length, 1)) || 0) % 97) / 97 - 0.5).toFixed(6)));
  return values;
}

/**
 * Google's `:batchEmbedContents`: one embedding a request, in order; undefined (a 400) when a request is malformed or
 * names another model than the path's ("Model in the request does not match the model in the batch request").
 */
function batchEmbedAnswer(model: string, body: Record<string, unknown>): string | undefined {
  if (!Array.isArray(body.requests) || body.requests.length === 0) return undefined;
  const embeddings: { values: number[] }[] = [];
  for (const item of body.requests as unknown[]) {
    if (typeof item !== 'object' || item === null) return undefined;
    const request = item as { model?: unknown; content?: { parts?: unknown }; outputDimensionality?: unknown };
    if (request.model !== `models/${model}` || !Array.isArray(request.content?.parts)) return undefined;
    const text = (request.content.parts as { text?: unknown }[]).map((p) => (typeof p.text === 'string' ? p.text : '')).join(' ');
    const dimensions = embeddingDimensions(request.outputDimensionality, 8);
    if (dimensions === undefined) return undefined;
    embeddings.push({ values: fakeVector(text, dimensions) });
  }
  return JSON.stringify({ embeddings }, null, 2);
}

/**
 * Google's `:embedContent`: the one embedding of `content`, as Google answers it; undefined (a 400) without a content
 * of parts, or when the body names another model than the path's. Its members by either name Google's parser takes.
 */
function embedAnswer(model: string, body: Record<string, unknown>): string | undefined {
  const content = body.content as { parts?: unknown } | undefined;
  if (typeof content !== 'object' || content === null || !Array.isArray(content.parts)) return undefined;
  if (body.model !== undefined && body.model !== `models/${model}`) return undefined;
  const text = (content.parts as { text?: unknown }[]).map((p) => (typeof p.text === 'string' ? p.text : '')).join(' ');
  const dimensions = embeddingDimensions(body.outputDimensionality ?? body.output_dimensionality, 8);
  return dimensions === undefined ? undefined : JSON.stringify({ embedding: { values: fakeVector(text, dimensions) } }, null, 2);
}

/** Google's error answer with a status. */
function sendGeminiError(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' }).end(geminiErrorBody(status));
}

/**
 * The status the script answers with instead (no key: 403, key `sk-NNN` or model `fail-NNN-…`: NNN; INVALID_GOOGLE_KEY:
 * Google's API_KEY_INVALID), if any.
 */
function scriptedStatus(req: IncomingMessage, model: string): number | 'invalid-key' | undefined {
  const key = req.headers['x-goog-api-key'];
  if (typeof key !== 'string' || key === '') return 403;
  if (key === INVALID_GOOGLE_KEY) return 'invalid-key';
  const status = /^sk-(\d{3})$/.exec(key) ?? /^fail-(\d{3})-/.exec(model);
  return status ? Number(status[1]) : undefined;
}

/** Answers as scripted (scriptedStatus), if the script says to: true when it did. */
function sendScripted(req: IncomingMessage, res: ServerResponse, model: string): boolean {
  const scripted = scriptedStatus(req, model);
  if (scripted === undefined) return false;
  if (scripted === 'invalid-key') res.writeHead(400, { 'content-type': 'application/json; charset=UTF-8' }).end(JSON.stringify(googleKeyInvalidError(), null, 2));
  else sendGeminiError(res, scripted);
  return true;
}

export function handleGemini(req: IncomingMessage, res: ServerResponse, call: { model: string; stream: boolean; method: GeminiMethod }, query: URLSearchParams, body: Record<string, unknown> | undefined): void {
  const sendError = (status: number) => sendGeminiError(res, status);
  const { model } = call;
  if (sendScripted(req, res, model)) return;
  const sendJson = (json: string) => { res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' }).end(json); };
  if (call.method === 'batchEmbedContents' || call.method === 'embedContent') {
    const answer = body && (call.method === 'embedContent' ? embedAnswer(model, body) : batchEmbedAnswer(model, body));
    return answer ? sendJson(answer) : sendError(400);
  }
  // Google counts `contents`, or the whole `generateContentRequest` given instead.
  if (call.method === 'countTokens') return body && (Array.isArray(body.contents) || typeof body.generateContentRequest === 'object') ? sendJson(countTokensAnswer()) : sendError(400);
  if (!body || !Array.isArray(body.contents)) return sendError(400);
  const text = `Hello from the fake ${model} model! You said: "${lastUserText(body).replace(/\s+/g, ' ').trim().slice(0, 60)}".`;
  const withUsage = !model.startsWith('nousage-');
  if (!call.stream) {
    sendJson(JSON.stringify(response(model, text, true, withUsage), null, 2));
    return;
  }
  // Without alt=sse Google streams one JSON array; the fake answers only what the SDKs ask for.
  if (query.get('alt') !== 'sse') return sendError(400);
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  if (model.startsWith('overloaded-')) {
    res.end(`data: ${googleJson(JSON.parse(geminiErrorBody(503)))}\r\n\r\n`);
    return;
  }
  const cut = Math.ceil(text.length / 3);
  const pieces = [text.slice(0, cut), text.slice(cut, 2 * cut), text.slice(2 * cut)];
  res.write(chunk(response(model, pieces[0]!, false, withUsage)));
  if (model.startsWith('broken-')) {
    setTimeout(() => res.socket?.destroy(), 20);
    return;
  }
  if (model.startsWith('short-')) {
    res.end();
    return;
  }
  res.write(chunk(response(model, pieces[1]!, false, withUsage)));
  res.end(chunk(response(model, pieces[2]!, true, withUsage)));
}

/** Whether `path` is the Interactions API's create (`…/v1beta/interactions`). */
export function isInteractionsCall(path: string): boolean {
  return path.endsWith('/interactions');
}

/** The text an interaction's `input` ends with: a string, a text content, or the last user turn's text contents. */
function interactionInputText(input: unknown): string {
  if (typeof input === 'string') return input;
  const items = Array.isArray(input) ? input as unknown[] : [input];
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i] as { type?: unknown; text?: unknown; content?: unknown } | null;
    if (item === null || typeof item !== 'object') continue;
    if (item.type === 'text' && typeof item.text === 'string') return item.text;
    if (item.type === 'user_input' && Array.isArray(item.content)) return (item.content as { text?: unknown }[]).map((c) => (typeof c.text === 'string' ? c.text : '')).join(' ');
  }
  return '';
}

/** The function tools a `tool-…` model calls: the first (`tool-each-…`: all), none once a function result ends the input. */
function interactionCalls(model: string, body: Record<string, unknown>): string[] {
  if (!model.startsWith('tool-') || !Array.isArray(body.tools)) return [];
  const last = Array.isArray(body.input) ? body.input.at(-1) as { type?: unknown } | null : undefined;
  if (last?.type === 'function_result') return [];
  const names = (body.tools as { type?: unknown; name?: unknown }[]).filter((t) => t?.type === 'function' && typeof t.name === 'string').map((t) => t.name as string);
  return model.startsWith('tool-each-') ? names : names.slice(0, 1);
}

const interactionEvent = (type: string, data: Record<string, unknown>): string => `event: ${type}\ndata: ${googleJson({ ...data, event_type: type })}\n\n`;

/** Google's Interactions API, as the Gen AI SDK's `interactions.create` calls it. */
export function handleInteractions(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown> | undefined): void {
  const model = typeof body?.model === 'string' ? body.model : '';
  if (sendScripted(req, res, model)) return;
  if (!body || model === '') return sendGeminiError(res, 400);
  const text = `Hello from the fake ${model} model! You said: "${interactionInputText(body.input).replace(/\s+/g, ' ').trim().slice(0, 60)}".`;
  const usage = model.startsWith('nousage-') ? undefined : { ...FAKE_INTERACTIONS_USAGE, total_tokens: 14 + 3 + 7 + 2 };
  const id = 'v1_fake-interaction-1';
  const stamp = '2026-12-06T00:00:00Z';
  const calls = interactionCalls(model, body);
  const status = calls.length > 0 ? 'requires_action' : 'completed';
  if (body.stream !== true) {
    const steps = [{ type: 'model_output', content: [{ type: 'text', text }] }, ...calls.map((name, i) => ({ type: 'function_call', id: `call_fake${i + 1}`, name, arguments: { city: 'Paris' } }))];
    const interaction = { id, status, object: 'interaction', model, created: stamp, updated: stamp, steps, usage };
    res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' }).end(JSON.stringify(interaction, null, 2));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  res.write(interactionEvent('interaction.created', { interaction: { id, status: 'in_progress', object: 'interaction', model, created: stamp } }));
  if (model.startsWith('overloaded-')) {
    res.end(interactionEvent('error', { error: { code: 'UNAVAILABLE', message: 'The model is overloaded. Please try again later.' } }));
    return;
  }
  res.write(interactionEvent('interaction.status_update', { interaction_id: id, status: 'in_progress' }));
  res.write(interactionEvent('step.start', { index: 0, step: { type: 'model_output' } }));
  const cut = Math.ceil(text.length / 3);
  const pieces = [text.slice(0, cut), text.slice(cut, 2 * cut), text.slice(2 * cut)];
  res.write(interactionEvent('step.delta', { index: 0, delta: { type: 'text', text: pieces[0] } }));
  if (model.startsWith('broken-')) {
    setTimeout(() => res.socket?.destroy(), 20);
    return;
  }
  for (const piece of pieces.slice(1)) res.write(interactionEvent('step.delta', { index: 0, delta: { type: 'text', text: piece } }));
  res.write(interactionEvent('step.stop', { index: 0 }));
  calls.forEach((name, i) => {
    res.write(interactionEvent('step.start', { index: i + 1, step: { type: 'function_call', id: `call_fake${i + 1}`, name } }));
    for (const piece of ['{"city":', '"Paris"}']) res.write(interactionEvent('step.delta', { index: i + 1, delta: { type: 'arguments_delta', arguments: piece } }));
    res.write(interactionEvent('step.stop', { index: i + 1 }));
  });
  if (calls.length > 0) res.write(interactionEvent('interaction.status_update', { interaction_id: id, status }));
  res.write(interactionEvent('interaction.completed', { interaction: { id, status, object: 'interaction', model, created: stamp, updated: stamp, usage } }));
  res.end('data: [DONE]\n\n');
}
