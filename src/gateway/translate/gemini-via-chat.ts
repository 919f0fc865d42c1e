// Gemini GenerateContent requests (Google's Gen AI SDK) served by a model that speaks only OpenAI chat completions:
// contents, system instruction, images and PDFs, function declarations, calls and responses, generation settings,
// finish reasons, usage and errors are mapped both ways; the SSE stream (`:streamGenerateContent?alt=sse`) is rebuilt
// chunk by chunk. docs/decisions/translation.md lists what has no place on the other side.
import type { AttemptPlan } from '../../domain/routing.ts';
import { randomBase62 } from '../../domain/ids.ts';
import { googleStatus } from '../formats/gemini.ts';
import { openaiUsage } from '../formats/openai.ts';
import { providerErrorKind } from '../formats/provider-error.ts';
import { obj } from '../formats/types.ts';
import { FromChatStream } from './chat-stream.ts';
import { chatText, objects, providerMessage, toolInput, uniqueCallId, type Json } from './json.ts';
import { meetsStrictRules } from './messages-via-chat.ts';
import { acceptsReasoningEffort, asksUsageChunk, fittedOutputLimit } from './output-limit.ts';
import type { TranslatedRequest, TranslationScope, Translator } from './types.ts';

/** The most stop sequences chat completions takes (OpenAI's `stop`: "Up to 4 sequences"). */
const MAX_CHAT_STOP = 4;

/** GenerateContent fields with a chat-completions counterpart; any other top-level field is removed and reported. */
const MAPPED = new Set(['contents', 'systemInstruction', 'tools', 'toolConfig', 'generationConfig', 'generation_config']);

/**
 * `generationConfig` members with a chat counterpart; any other is removed and reported as `generationConfig.<name>`.
 * The output limit and candidate count are read under their proto names too (`generation_config.max_output_tokens`,
 * which Google reads as it reads the camelCase ones): the credit hold reads them so (params.ts), and the limit the
 * hold was taken for must be the one sent.
 */
const MAPPED_CONFIG = new Set(['temperature', 'topP', 'maxOutputTokens', 'max_output_tokens', 'stopSequences', 'candidateCount', 'candidate_count', 'responseMimeType', 'responseSchema', 'responseJsonSchema', 'seed', 'presencePenalty', 'frequencyPenalty', 'thinkingConfig']);

/**
 * The client's field each chat field came from: Ngrok-AIG-Removed-Params names what the client sent when the model
 * (params.ts), or the Messages half of a composition, drops one.
 */
export const GEMINI_CHAT_FIELDS: Readonly<Record<string, string>> = {
  max_tokens: 'generationConfig.maxOutputTokens', max_completion_tokens: 'generationConfig.maxOutputTokens',
  temperature: 'generationConfig.temperature', top_p: 'generationConfig.topP', stop: 'generationConfig.stopSequences',
  n: 'generationConfig.candidateCount', seed: 'generationConfig.seed', presence_penalty: 'generationConfig.presencePenalty',
  frequency_penalty: 'generationConfig.frequencyPenalty', response_format: 'generationConfig.responseMimeType',
  reasoning_effort: 'generationConfig.thinkingConfig', tools: 'tools', tool_choice: 'toolConfig',
};

/** Inline data chat carries: images (as data URLs) and PDFs (as `file` parts). */
function inlinePart(data: Json): Json | undefined {
  const mime = typeof data.mimeType === 'string' ? data.mimeType.toLowerCase() : '';
  const bytes = typeof data.data === 'string' ? data.data : undefined;
  if (bytes === undefined) return undefined;
  if (mime.startsWith('image/')) return { type: 'image_url', image_url: { url: `data:${mime};base64,${bytes}` } };
  if (mime === 'application/pdf') return { type: 'file', file: { filename: 'document.pdf', file_data: `data:application/pdf;base64,${bytes}` } };
  return undefined;
}

function partsOf(content: unknown): Json[] {
  return objects(obj(content)?.parts);
}

/**
 * Why a GenerateContent request cannot go to a chat model, if it cannot. `cachedContent` is a prefix Google holds
 * (system instruction, turns, files): another model would answer without it, as for a continued Messages thread. A
 * file by `fileData` (a Files API or Cloud Storage URI) is Google's to read; inline data chat has no part for (audio,
 * video, a text file) would be left out.
 */
export function geminiUntranslatableReason(body: Json): string | undefined {
  if (body.cachedContent !== undefined && body.cachedContent !== null) {
    return 'it uses "cachedContent", a prompt prefix held by Google that another model cannot read; send the whole conversation instead';
  }
  for (const content of objects(body.contents)) {
    for (const part of partsOf(content)) {
      const media = [part, ...objects(obj(part.functionResponse)?.parts)];
      if (media.some((p) => p.fileData !== undefined)) return 'it sends a file by "fileData" (a URI only Google reads); send it as "inlineData" instead';
      if (media.some((p) => obj(p.inlineData) !== undefined && inlinePart(obj(p.inlineData)!) === undefined)) {
        return 'it sends inline data chat completions cannot carry (only images and PDFs go to this model)';
      }
    }
  }
  return undefined;
}

/** The text of a Content (or a bare string), its parts' texts joined by a newline; thoughts left out. */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  return partsOf(content).filter((p) => typeof p.text === 'string' && p.thought !== true).map((p) => p.text as string).join('\n');
}

/** A function response as a tool message's text: its `output` when that is all it holds (the SDK's convention), else its JSON. */
function responseText(response: unknown): string {
  const r = obj(response);
  if (r && Object.keys(r).length === 1 && typeof r.output === 'string') return r.output;
  return JSON.stringify(response ?? {});
}

interface OpenCall { id: string; name: unknown }

/**
 * Writes the conversation as chat messages. Gemini pairs a `functionResponse` with its `functionCall` by `id` when
 * both carry one, else by order and name (its API before ids); chat pairs by id alone, so calls without one get ids of
 * the gateway's, the same every turn (`call_g<turn>_<part>`: a changing id would make the provider's prompt cache miss),
 * and each response takes the id of the call it answers: the same id, else the first open call of its name.
 */
class Conversation {
  readonly messages: Json[] = [];
  #open: OpenCall[] = [];
  readonly #used = new Set<string>();

  model(content: Json, turn: number): void {
    let text = '';
    const calls: Json[] = [];
    const open: OpenCall[] = [];
    for (const [at, part] of partsOf(content).entries()) {
      // Thought summaries are the model's own (Gemini's thinking): another model neither needs nor accepts them.
      if (typeof part.text === 'string' && part.thought !== true) text += part.text;
      const call = obj(part.functionCall);
      if (!call) continue;
      const id = uniqueCallId(call.id, 'call_', `g${turn}_`, at, this.#used);
      calls.push({ id, type: 'function', function: { name: call.name, arguments: JSON.stringify(call.args ?? {}) } });
      open.push({ id, name: call.name });
    }
    this.#open = open;
    // A turn that was only thoughts has nothing for another model (some servers refuse an empty message).
    if (text === '' && calls.length === 0) return;
    const message: Json = { role: 'assistant', content: text === '' && calls.length > 0 ? null : text };
    if (calls.length > 0) message.tool_calls = calls;
    this.messages.push(message);
  }

  /**
   * A user turn: its function responses first, as `tool` messages (chat wants a call's result right after the turn
   * that made it), then its text and media. Media a function returned follow in the user message, each after a line
   * naming its call, as for the other translations. A response answering no call becomes the user's text.
   */
  user(content: Json): void {
    const parts: Json[] = [];
    for (const part of partsOf(content)) {
      const response = obj(part.functionResponse);
      if (response) {
        const id = this.#answered(response);
        const text = responseText(response.response);
        if (id === undefined) parts.push({ type: 'text', text: `Output of tool call ${String(response.name)}:\n${text}` });
        else this.messages.push({ role: 'tool', tool_call_id: id, content: text });
        const media = objects(response.parts).map((p) => inlinePart(obj(p.inlineData) ?? {})).filter((p): p is Json => p !== undefined);
        if (media.length > 0) parts.push({ type: 'text', text: `Output of tool call ${id ?? String(response.name)}:` }, ...media);
      } else if (typeof part.text === 'string' && part.thought !== true) {
        parts.push({ type: 'text', text: part.text });
      } else {
        const media = obj(part.inlineData) ? inlinePart(obj(part.inlineData)!) : undefined;
        if (media) parts.push(media);
      }
    }
    this.#open = [];
    if (parts.length === 1 && parts[0]!.type === 'text') this.messages.push({ role: 'user', content: parts[0]!.text });
    else if (parts.length > 0) this.messages.push({ role: 'user', content: parts });
  }

  #answered(response: Json): string | undefined {
    const at = this.#open.findIndex((c) => typeof response.id === 'string' && c.id === response.id);
    const found = at >= 0 ? at : this.#open.findIndex((c) => c.name === response.name);
    if (found < 0) return undefined;
    return this.#open.splice(found, 1)[0]!.id;
  }
}

const SCHEMA_COUNTS = new Set(['minItems', 'maxItems', 'minLength', 'maxLength', 'minProperties', 'maxProperties']);

/**
 * Gemini's Schema (an OpenAPI subset: `type` in capitals, `nullable`, int64 counts written as strings) as the JSON
 * Schema chat takes. `propertyOrdering` is Gemini's alone. A JSON Schema given as one is kept (types lowercased).
 */
function jsonSchemaOf(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(jsonSchemaOf);
  const s = obj(schema);
  if (!s) return schema;
  const out: Json = {};
  for (const [key, value] of Object.entries(s)) {
    if (key === 'nullable' || key === 'propertyOrdering') continue;
    if (key === 'type' && typeof value === 'string') out.type = value.toLowerCase();
    else if (key === 'properties') out.properties = Object.fromEntries(Object.entries(obj(value) ?? {}).map(([name, p]) => [name, jsonSchemaOf(p)]));
    else if (key === 'items' || key === 'anyOf') out[key] = jsonSchemaOf(value);
    else if (SCHEMA_COUNTS.has(key) && typeof value === 'string' && /^\d+$/.test(value)) out[key] = Number(value);
    else out[key] = value;
  }
  if (s.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  return out;
}

/** A function declaration as a chat tool; `parametersJsonSchema` is JSON Schema already, `parameters` Gemini's Schema. */
function chatTool(declaration: Json): Json {
  const parameters = declaration.parametersJsonSchema ?? (declaration.parameters !== undefined ? jsonSchemaOf(declaration.parameters) : { type: 'object', properties: {} });
  return { type: 'function', function: { name: declaration.name, ...(typeof declaration.description === 'string' ? { description: declaration.description } : {}), parameters } };
}

/**
 * `toolConfig.functionCallingConfig` → chat's tool_choice. `allowedFunctionNames` narrows the tools offered (chat's
 * own narrowing, `allowed_tools`, is OpenAI's alone): one name under ANY is that function, forced.
 */
function toolChoice(config: Json | undefined, tools: Json[]): { choice?: unknown; tools: Json[] } {
  const mode = typeof config?.mode === 'string' ? config.mode.toUpperCase() : 'AUTO';
  if (mode === 'NONE') return { choice: 'none', tools };
  const allowed = Array.isArray(config?.allowedFunctionNames) ? config.allowedFunctionNames.filter((n): n is string => typeof n === 'string') : [];
  const offered = allowed.length > 0 ? tools.filter((t) => allowed.includes(String(obj(t.function)?.name))) : tools;
  const kept = offered.length > 0 ? offered : tools;
  if (mode !== 'ANY') return config === undefined ? { tools: kept } : { choice: 'auto', tools: kept };
  return allowed.length === 1 && kept.length === 1 ? { choice: { type: 'function', function: { name: obj(kept[0]!.function)?.name } }, tools: kept } : { choice: 'required', tools: kept };
}

/** Gemini's thinking settings → OpenAI's reasoning effort: its level as it is, a budget by its size (dynamic, -1: medium). */
function effortOf(thinking: Json): string | undefined {
  const level = typeof thinking.thinkingLevel === 'string' ? thinking.thinkingLevel.toLowerCase() : undefined;
  if (level !== undefined) return level === 'high' || level === 'medium' ? level : 'low';
  const budget = thinking.thinkingBudget;
  if (typeof budget !== 'number') return undefined;
  if (budget < 0) return 'medium';
  return budget < 4096 ? 'low' : budget < 16_384 ? 'medium' : 'high';
}

/** Structured output: JSON with a schema → `json_schema` (strict when OpenAI's rules allow it), JSON alone → `json_object`. */
function responseFormat(config: Json): Json | undefined {
  if (config.responseMimeType !== 'application/json') return undefined;
  const schema = obj(config.responseJsonSchema) ?? obj(jsonSchemaOf(config.responseSchema));
  if (!schema) return { type: 'json_object' };
  return { type: 'json_schema', json_schema: { name: 'output', schema, strict: meetsStrictRules(schema) } };
}

function request(body: Json, plan: AttemptPlan, streaming: boolean): TranslatedRequest {
  const removed: string[] = [];
  for (const name of Object.keys(body)) if (!MAPPED.has(name)) removed.push(name);
  const conversation = new Conversation();
  const system = textOf(body.systemInstruction);
  if (system !== '') conversation.messages.push({ role: 'system', content: system });
  for (const [turn, content] of objects(body.contents).entries()) {
    if (content.role === 'model') conversation.model(content, turn);
    else conversation.user(content);
  }
  const out: Json = { model: plan.candidate.upstreamModelId ?? plan.candidate.modelId, messages: conversation.messages };
  const config = obj(body.generationConfig) ?? obj(body.generation_config) ?? {};
  for (const name of Object.keys(config)) if (!MAPPED_CONFIG.has(name)) removed.push(`generationConfig.${name}`);
  const limit = config.maxOutputTokens ?? config.max_output_tokens;
  if (limit !== undefined) out.max_tokens = fittedOutputLimit(limit, plan);
  if (config.temperature !== undefined) out.temperature = config.temperature;
  if (config.topP !== undefined) out.top_p = config.topP;
  if (Array.isArray(config.stopSequences) && config.stopSequences.length > 0) {
    // Chat takes at most 4 (OpenAI's limit; Gemini takes 5): the first 4 go, and the field is reported as not sent whole.
    const fits = plan.candidate.provider.custom || config.stopSequences.length <= MAX_CHAT_STOP;
    out.stop = fits ? config.stopSequences : config.stopSequences.slice(0, MAX_CHAT_STOP);
    if (!fits) removed.push('generationConfig.stopSequences');
  }
  const candidates = config.candidateCount ?? config.candidate_count;
  if (typeof candidates === 'number' && candidates > 1) {
    // A chat stream's choices would interleave in one Gemini stream the translation reads as one candidate.
    if (streaming) removed.push('generationConfig.candidateCount');
    else out.n = candidates;
  }
  if (config.seed !== undefined) out.seed = config.seed;
  if (config.presencePenalty !== undefined) out.presence_penalty = config.presencePenalty;
  if (config.frequencyPenalty !== undefined) out.frequency_penalty = config.frequencyPenalty;
  const format = responseFormat(config);
  if (format) out.response_format = format;
  else if (config.responseMimeType !== undefined && config.responseMimeType !== 'text/plain') {
    // `text/x.enum` and the like: no chat counterpart.
    for (const name of ['responseMimeType', 'responseSchema', 'responseJsonSchema']) if (config[name] !== undefined) removed.push(`generationConfig.${name}`);
  }
  const thinking = obj(config.thinkingConfig);
  const effort = thinking ? effortOf(thinking) : undefined;
  if (effort !== undefined && acceptsReasoningEffort(plan)) out.reasoning_effort = effort;
  else if (thinking) removed.push('generationConfig.thinkingConfig');
  // Function declarations map one to one; Google's own tools (Search grounding, code execution, URL context, Maps…)
  // run only at Google.
  const tools = objects(body.tools);
  const declarations = tools.flatMap((t) => objects(t.functionDeclarations));
  if (tools.some((t) => Object.keys(t).some((k) => k !== 'functionDeclarations'))) removed.push('tools');
  const toolConfig = obj(body.toolConfig);
  if (declarations.length > 0) {
    const calling = toolChoice(obj(toolConfig?.functionCallingConfig), declarations.map(chatTool));
    out.tools = calling.tools;
    if (calling.choice !== undefined) out.tool_choice = calling.choice;
    for (const key of Object.keys(toolConfig ?? {})) if (key !== 'functionCallingConfig') removed.push(`toolConfig.${key}`);
  } else if (toolConfig !== undefined) removed.push('toolConfig');
  if (streaming) {
    out.stream = true;
    if (asksUsageChunk(out, plan)) out.stream_options = { include_usage: true };
  }
  return { body: out, removed, clientFields: GEMINI_CHAT_FIELDS };
}

/**
 * Chat's finish reason → Gemini's. A call ends with STOP at Gemini too (it has no reason of its own for calls); a
 * content filter is SAFETY. A reason chat does not define is OTHER; none at all (a server that names none) STOP.
 */
function finishReason(finish: unknown): string {
  switch (finish) {
    case 'length': return 'MAX_TOKENS';
    case 'content_filter': return 'SAFETY';
    case 'stop': case 'tool_calls': case 'function_call': case null: case undefined: return 'STOP';
    default: return typeof finish === 'string' ? 'OTHER' : 'STOP';
  }
}

/**
 * Chat usage → usageMetadata, read as the meter reads it (formats/openai.ts), so the client is told what it is
 * billed for. Gemini counts thinking apart from the candidates (`thoughtsTokenCount`); chat counts it inside the
 * completion.
 */
function usageMetadata(usage: unknown): Json | undefined {
  const u = openaiUsage(usage);
  if (!u) return undefined;
  const out: Json = { promptTokenCount: u.inputTokens, candidatesTokenCount: Math.max(0, u.outputTokens - u.reasoningTokens), totalTokenCount: u.inputTokens + u.outputTokens };
  if (u.reasoningTokens > 0) out.thoughtsTokenCount = u.reasoningTokens;
  if (u.cacheReadTokens > 0) out.cachedContentTokenCount = u.cacheReadTokens;
  return out;
}

function functionCallPart(id: string, name: unknown, args: unknown): Json {
  return { functionCall: { id, name: typeof name === 'string' ? name : '', args: toolInput(args) } };
}

/** A Content's parts are never empty: the Gen AI SDK's chat session drops a turn holding an empty one from its history. */
function content(parts: Json[]): Json {
  return { role: 'model', parts: parts.length > 0 ? parts : [{ text: '' }] };
}

/** The provider's completion id as `responseId`; one of ours when it gave none. */
function responseId(id: unknown): string {
  return typeof id === 'string' && id !== '' ? id : randomBase62(24);
}

function answer(upstream: unknown, _scope: TranslationScope): unknown {
  const chat = obj(upstream) ?? {};
  const base = randomBase62(20);
  const used = new Set<string>();
  const candidates = objects(chat.choices).map((choice, at) => {
    const message = obj(choice.message) ?? {};
    const parts: Json[] = [];
    const text = chatText(message.content);
    if (text !== '') parts.push({ text });
    if (typeof message.refusal === 'string' && message.refusal !== '') parts.push({ text: message.refusal });
    for (const [index, call] of objects(message.tool_calls).entries()) {
      const fn = obj(call.function);
      parts.push(functionCallPart(uniqueCallId(call.id, 'call_', `${base}${at}_`, index, used), fn?.name, fn?.arguments));
    }
    return { content: content(parts), finishReason: finishReason(choice.finish_reason), index: typeof choice.index === 'number' ? choice.index : at };
  });
  const out: Json = { candidates };
  const usage = usageMetadata(chat.usage);
  if (usage) out.usageMetadata = usage;
  out.modelVersion = typeof chat.model === 'string' ? chat.model : '';
  out.responseId = responseId(chat.id);
  return out;
}

/** A provider refusal in Google's error shape (google.rpc.Status), its HTTP status kept: the SDK raises an ApiError with it. */
function error(status: number, upstream: string): string {
  return JSON.stringify({ error: { code: status, message: providerMessage(upstream), status: googleStatus(status) } });
}

/** A chat provider's stream error → the HTTP status Google would give the same failure, which the SDK raises it with. */
function streamErrorStatus(error: Json): number {
  switch (providerErrorKind(error)) {
    case 'client-fault': return 400;
    case 'rate-limited': case 'quota': return 429;
    case 'overloaded': return 503;
    default: return 500;
  }
}

/**
 * Chat completion chunks → Gemini's SSE chunks, each a whole GenerateContentResponse as Google streams them. Text goes
 * out one piece behind, so the final chunk (finish reason, usage) carries content, as Google's does; calls go whole
 * in it, as Gemini streams calls (never their arguments in pieces).
 */
class ChatToGemini extends FromChatStream {
  #id = '';
  #model = '';
  #held: string | undefined;
  readonly #calls = new Map<number, { id: string | undefined; name: string; args: string }>();
  #finish: unknown;
  #usage: unknown;
  readonly #base = randomBase62(20);

  protected started(chunk: Json): void {
    this.#id = responseId(chunk.id);
    this.#model = typeof chunk.model === 'string' ? chunk.model : '';
  }

  protected usage(usage: unknown): void {
    this.#usage = usage;
  }

  protected text(piece: string): void {
    if (this.#held !== undefined) this.#chunk([{ text: this.#held }]);
    this.#held = piece;
  }

  protected toolCall(call: Json): void {
    const at = typeof call.index === 'number' ? call.index : 0;
    const fn = obj(call.function);
    let held = this.#calls.get(at);
    if (!held) this.#calls.set(at, (held = { id: undefined, name: '', args: '' }));
    if (typeof call.id === 'string' && call.id !== '' && held.id === undefined) held.id = call.id;
    if (typeof fn?.name === 'string' && fn.name !== '' && held.name === '') held.name = fn.name;
    if (typeof fn?.arguments === 'string') held.args += fn.arguments;
  }

  protected finishReason(reason: string): void {
    this.#finish = reason;
  }

  protected failed(error: Json): void {
    if (this.#held !== undefined) this.#chunk([{ text: this.#held }]);
    this.#held = undefined;
    // The Gen AI SDK raises an ApiError with the code of a chunk holding an error, as Google sends one mid-stream.
    const status = streamErrorStatus(error);
    const message = typeof error.message === 'string' && error.message !== '' ? error.message : 'The provider failed.';
    this.out += `data: ${JSON.stringify({ error: { code: status, message, status: googleStatus(status) } })}\r\n\r\n`;
  }

  protected close(): void {
    const parts: Json[] = this.#held !== undefined ? [{ text: this.#held }] : [];
    this.#held = undefined;
    const used = new Set<string>();
    for (const [at, call] of this.#calls) parts.push(functionCallPart(uniqueCallId(call.id, 'call_', this.#base, at, used), call.name, call.args));
    this.#chunk(parts, finishReason(this.#finish), usageMetadata(this.#usage));
  }

  #chunk(parts: Json[], finish?: string, usage?: Json): void {
    const candidate: Json = { content: content(parts) };
    if (finish !== undefined) candidate.finishReason = finish;
    candidate.index = 0;
    const chunk: Json = { candidates: [candidate] };
    if (usage) chunk.usageMetadata = usage;
    chunk.modelVersion = this.#model;
    chunk.responseId = this.#id;
    this.out += `data: ${JSON.stringify(chunk)}\r\n\r\n`;
  }
}

function translator(streaming: boolean): Translator {
  return { request: (body, plan) => request(body, plan, streaming), answer, error, stream: () => new ChatToGemini() };
}

/** `:generateContent`, answered in one JSON body. */
export const geminiViaChat = translator(false);
/** `:streamGenerateContent?alt=sse`: the path says it streams, the body does not. */
export const geminiStreamViaChat = translator(true);
