// Amazon Bedrock's Converse API (the AWS SDK's ConverseCommand and ConverseStreamCommand) served by a model that does
// not serve Bedrock's surface: Claude over Anthropic Messages here, GPT models through Messages and chat completions
// (translate/index.ts composes the two). Messages, system prompts, images, documents, tools, calls and results,
// reasoning, usage, stop reasons and errors are mapped both ways; a stream is rebuilt as ConverseStream's AWS
// event-stream frames, which the SDK decodes. docs/decisions/translation.md, "Converse → Messages".
import type { ApiSurface, CatalogModel } from '../../catalog/types.ts';
import type { AttemptPlan } from '../../domain/routing.ts';
import { anthropicUsage } from '../formats/anthropic.ts';
import { bedrockErrorType, eventStreamCodec, exceptionFrame } from '../formats/bedrock.ts';
import { obj, parseJson } from '../formats/types.ts';
import { DEFAULT_MAX_TOKENS } from './chat-via-messages.ts';
import { objects, providerMessage, type Json } from './json.ts';
import { fittedOutputLimit } from './output-limit.ts';
import type { StreamTranslation, TranslatedRequest, TranslationScope, Translator } from './types.ts';

/**
 * The request members the translation carries (`additionalModelRequestFields` and `outputConfig` in part); any other
 * (guardrails, prompt variables, request metadata) is removed and named.
 */
const MAPPED = new Set(['modelId', 'messages', 'system', 'inferenceConfig', 'toolConfig', 'additionalModelRequestFields', 'outputConfig']);

/** Messages fields → the Converse member they came from, for Ngrok-AIG-Removed-Params when the model refuses one. */
export const CONVERSE_FIELDS: Readonly<Record<string, string>> = {
  max_tokens: 'inferenceConfig.maxTokens', temperature: 'inferenceConfig.temperature', top_p: 'inferenceConfig.topP',
  stop_sequences: 'inferenceConfig.stopSequences', tools: 'toolConfig', tool_choice: 'toolConfig',
  thinking: 'additionalModelRequestFields.thinking', top_k: 'additionalModelRequestFields.top_k', output_config: 'outputConfig',
};

/**
 * Claude's own request fields a Converse client passes in `additionalModelRequestFields` (Bedrock hands them to Claude
 * as they are): Messages has the same members. `reasoning_config` is thinking under the name AWS's first Claude 3.7
 * examples gave it. Any other member is a Bedrock model's own, removed and named one by one.
 */
function claudeFields(body: Json, out: Json, removed: string[], clientFields: Record<string, string>): void {
  if (body.additionalModelRequestFields === undefined) return;
  const extra = obj(body.additionalModelRequestFields);
  if (!extra) {
    removed.push('additionalModelRequestFields');
    return;
  }
  const thinkingName = obj(extra.thinking) ? 'thinking' : obj(extra.reasoning_config) ? 'reasoning_config' : undefined;
  if (thinkingName) {
    out.thinking = extra[thinkingName];
    clientFields.thinking = `additionalModelRequestFields.${thinkingName}`;
  }
  const topK = typeof extra.top_k === 'number' ? extra.top_k : undefined;
  if (topK !== undefined) out.top_k = topK;
  // Adaptive thinking's depth (`output_config.effort`) travels beside `thinking` here, as Claude takes it on Bedrock.
  const config = obj(extra.output_config);
  if (config) {
    out.output_config = config;
    clientFields.output_config = 'additionalModelRequestFields.output_config';
  }
  for (const name of Object.keys(extra)) {
    if (name !== thinkingName && !(name === 'top_k' && topK !== undefined) && !(name === 'output_config' && config)) removed.push(`additionalModelRequestFields.${name}`);
  }
}

/**
 * Converse's `outputConfig.textFormat` (`{type: "json_schema", structure: {jsonSchema: {schema, name, description}}}`,
 * the schema as JSON text) → the schema; undefined when there is none, a string when it cannot be read (why).
 */
function outputSchema(body: Json): Json | string | undefined {
  const format = obj(obj(body.outputConfig)?.textFormat);
  if (!format) return undefined;
  const schema = obj(obj(format.structure)?.jsonSchema)?.schema;
  if (format.type !== 'json_schema' || typeof schema !== 'string') return 'outputConfig.textFormat is not a json_schema format with its jsonSchema structure';
  return obj(parseJson(schema)) ?? 'outputConfig.textFormat.structure.jsonSchema.schema is not a JSON object';
}

/**
 * `outputConfig` → Messages' `output_config`: the JSON schema as `format` (Claude's JSON outputs; the chat half makes
 * it `response_format` json_schema), `effort` as it is. A schema the model cannot be held to was refused at resolution.
 */
function outputConfig(body: Json, out: Json, removed: string[], clientFields: Record<string, string>): void {
  if (body.outputConfig === undefined) return;
  const config = obj(body.outputConfig);
  const schema = config ? outputSchema(body) : undefined;
  const mapped: Json = {};
  if (schema !== undefined && typeof schema !== 'string') mapped.format = { type: 'json_schema', schema };
  if (typeof config?.effort === 'string') mapped.effort = config.effort;
  if (Object.keys(mapped).length > 0) {
    // Converse's own member wins over Claude's (`additionalModelRequestFields.output_config`) where both say something.
    out.output_config = { ...obj(out.output_config), ...mapped };
    clientFields.output_config = 'outputConfig';
  }
  const left = Object.keys(config ?? {}).filter((name) => !(name === 'textFormat' && mapped.format) && !(name === 'effort' && mapped.effort));
  if (!config || left.length > 0) removed.push(...(config ? left.map((name) => `outputConfig.${name}`) : ['outputConfig']));
}

const IMAGE_TYPES: Readonly<Record<string, string>> = { png: 'image/png', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp' };

/** Document formats whose bytes are text: sent to Messages as a text document. */
const TEXT_DOCUMENTS = new Set(['txt', 'md', 'csv', 'html']);

/** Converse's image block → Messages' base64 image; undefined when Messages cannot take it (an S3 source, another format). */
function image(block: unknown): Json | undefined {
  const img = obj(block);
  const bytes = obj(img?.source)?.bytes;
  const mediaType = IMAGE_TYPES[String(img?.format)];
  return typeof bytes === 'string' && mediaType ? { type: 'image', source: { type: 'base64', media_type: mediaType, data: bytes } } : undefined;
}

/**
 * Converse's document block → a Messages document, titled with its `name`: a PDF as itself, a text format (or a
 * `text` source) as text, `content` blocks as a content document. Undefined for a Word or Excel file or an S3 source,
 * which Messages cannot read.
 */
function documentBlock(block: unknown): Json | undefined {
  const doc = obj(block);
  const source = obj(doc?.source);
  const title = typeof doc?.name === 'string' && doc.name !== '' ? { title: doc.name } : {};
  if (typeof source?.text === 'string') return { type: 'document', source: { type: 'text', media_type: 'text/plain', data: source.text }, ...title };
  if (Array.isArray(source?.content)) {
    const content = objects(source.content).filter((c) => typeof c.text === 'string').map((c) => ({ type: 'text', text: c.text }));
    return { type: 'document', source: { type: 'content', content }, ...title };
  }
  const bytes = source?.bytes;
  if (typeof bytes !== 'string') return undefined;
  if (doc?.format === 'pdf') return { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: bytes }, ...title };
  if (TEXT_DOCUMENTS.has(String(doc?.format))) return { type: 'document', source: { type: 'text', media_type: 'text/plain', data: Buffer.from(bytes, 'base64').toString('utf8') }, ...title };
  return undefined;
}

/** Converse's cache point (`{type: default}`, an optional `ttl`) as Anthropic's cache_control on the block before it. */
function cacheControl(point: Json): Json {
  return point.ttl === '1h' ? { type: 'ephemeral', ttl: '1h' } : { type: 'ephemeral' };
}

/** A tool result's content: text, JSON (as its text), images and documents. */
function toolResultContent(content: unknown): Json[] {
  const out: Json[] = [];
  for (const part of objects(content)) {
    if (typeof part.text === 'string') out.push({ type: 'text', text: part.text });
    else if (part.json !== undefined) out.push({ type: 'text', text: JSON.stringify(part.json) });
    else if (part.image !== undefined) out.push(image(part.image) ?? { type: 'text', text: '' });
    else if (part.document !== undefined) out.push(documentBlock(part.document) ?? { type: 'text', text: '' });
  }
  return out.filter((b) => b.type !== 'text' || b.text !== '');
}

/**
 * One Converse content list → Messages blocks. Reasoning goes back only with its signature (Claude refuses thinking
 * it did not sign; another model never reads it); a cache point marks the block before it.
 */
function blocks(content: unknown, scope: 'message' | 'system'): Json[] {
  const out: Json[] = [];
  for (const block of objects(content)) {
    const point = obj(block.cachePoint);
    if (point) {
      const last = out[out.length - 1];
      if (last) last.cache_control = cacheControl(point);
      continue;
    }
    const guarded = obj(obj(block.guardContent)?.text)?.text;
    if (typeof block.text === 'string' || typeof guarded === 'string') {
      const text = typeof block.text === 'string' ? block.text : guarded as string;
      if (text !== '') out.push({ type: 'text', text });
      continue;
    }
    if (scope === 'system') continue;
    // Media Messages cannot take never gets here: resolution refuses the request (converseUntranslatableReason).
    const media = block.image !== undefined ? image(block.image) : block.document !== undefined ? documentBlock(block.document) : undefined;
    if (media) out.push(media);
    else if (block.toolUse !== undefined) {
      const use = obj(block.toolUse) ?? {};
      out.push({ type: 'tool_use', id: use.toolUseId, name: use.name, input: obj(use.input) ?? {} });
    } else if (block.toolResult !== undefined) {
      const result = obj(block.toolResult) ?? {};
      out.push({ type: 'tool_result', tool_use_id: result.toolUseId, content: toolResultContent(result.content), ...(result.status === 'error' ? { is_error: true } : {}) });
    } else if (block.reasoningContent !== undefined) {
      const reasoning = obj(block.reasoningContent) ?? {};
      const said = obj(reasoning.reasoningText);
      if (typeof said?.signature === 'string' && typeof said.text === 'string') out.push({ type: 'thinking', thinking: said.text, signature: said.signature });
      else if (typeof reasoning.redactedContent === 'string') out.push({ type: 'redacted_thinking', data: reasoning.redactedContent });
    }
  }
  return out;
}

/**
 * The members of a content block (and of a tool result's) that `blocks` reads or refuses by name; a block with none of
 * them (a kind Bedrock added since, a misspelling) would be left out unseen.
 */
const READ_BLOCKS = ['text', 'guardContent', 'cachePoint', 'image', 'document', 'toolUse', 'toolResult', 'reasoningContent', 'video', 'audio'];
const READ_RESULT_BLOCKS = ['text', 'json', 'image', 'document', 'video'];

/** What of a Converse content list Messages cannot carry, described for the client; undefined when all of it goes. */
function unsendable(content: unknown, read = READ_BLOCKS): string | undefined {
  for (const block of objects(content)) {
    if (!read.some((name) => block[name] !== undefined)) return `a content block of a kind this translation does not read (${JSON.stringify(Object.keys(block).join(', ').slice(0, 80))})`;
    if (block.video !== undefined) return 'a video';
    if (block.audio !== undefined) return 'audio';
    if (block.image !== undefined && !image(block.image)) return 'an image from S3 (or in a format other than png, jpeg, gif or webp)';
    if (block.document !== undefined && !documentBlock(block.document)) return `a document in ${String(obj(block.document)?.format ?? 'an unknown')} format (or from S3)`;
    if (block.toolResult !== undefined) {
      const inner = unsendable(obj(block.toolResult)?.content, READ_RESULT_BLOCKS);
      if (inner) return inner;
    }
  }
  return undefined;
}

/**
 * Why a Converse request cannot be translated, if it cannot: content no other model's API takes as it is (video,
 * audio, Word and Excel documents, anything stored in S3) is never dropped; the model would answer without it. Nor is
 * a guardrail, the client's own screening of the prompt and the answer.
 */
export function converseUntranslatableReason(body: Json, target: ApiSurface, model: CatalogModel | undefined): string | undefined {
  // A guardrail screens the prompt and the answer at Bedrock (content filters, denied topics, PII redaction): another
  // model's answer would come back unscreened, which a removed-parameter header does not make safe.
  if (body.guardrailConfig !== undefined && body.guardrailConfig !== null) return 'the request names a Bedrock guardrail ("guardrailConfig"), which only Bedrock applies: another model\'s answer would not be screened by it. Name a Bedrock model, or leave the guardrail out.';
  for (const message of objects(body.messages)) {
    const what = unsendable(message.content);
    if (what) return `the request holds ${what}, which only Bedrock's own models read. Send images as png, jpeg, gif or webp bytes, and documents as PDF or text (bytes or text).`;
  }
  return structuredOutputReason(body, target, model);
}

/**
 * Structured output the model would not be held to is refused, never dropped: the client would parse prose. Chat
 * completions take a JSON schema (`response_format`); on Messages only a model with Claude's JSON outputs does
 * (`jsonOutputs`, the 4.5 generation on), not an older Claude nor a custom provider's model.
 */
function structuredOutputReason(body: Json, target: ApiSurface, model: CatalogModel | undefined): string | undefined {
  const schema = outputSchema(body);
  if (typeof schema === 'string') return `${schema}, the only structured output there is.`;
  if (schema === undefined || target === 'chat-completions' || model?.jsonOutputs) return undefined;
  return 'the request asks for structured output (outputConfig.textFormat), which this model cannot be held to. Name a model that takes a JSON schema, or describe the JSON in the prompt.';
}

/**
 * CountTokens' `input.invokeModel.body` (the InvokeModel body, base64 in the SDK's JSON) when it is Claude's Messages
 * body, the one InvokeModel body a model outside Bedrock reads; undefined otherwise.
 */
function invokedMessagesBody(body: Json): Json | undefined {
  const encoded = obj(obj(body.input)?.invokeModel)?.body;
  if (typeof encoded !== 'string') return undefined;
  const invoked = obj(parseJson(Buffer.from(encoded, 'base64').toString('utf8')));
  return invoked && Array.isArray(invoked.messages) ? invoked : undefined;
}

/** Why a CountTokens request cannot be counted by a model outside Bedrock, if it cannot (as for Converse itself). */
export function converseCountUntranslatableReason(body: Json): string | undefined {
  const converse = obj(obj(body.input)?.converse);
  if (!converse) return invokedMessagesBody(body) ? undefined : 'input.invokeModel.body is not a Claude (Anthropic Messages) body, the only InvokeModel body a model outside Bedrock reads. Count a Converse request (input.converse) instead.';
  for (const message of objects(converse.messages)) {
    const what = unsendable(message.content);
    if (what) return `the request holds ${what}, which only Bedrock's own models read.`;
  }
  return undefined;
}

/** What CountTokens counts, for the gateway's tokenizer: the Converse request, or Claude's InvokeModel body (Messages). */
export function bedrockCountedRequest(body: Json): { request: Json; surface: 'converse' | 'messages' } {
  const converse = obj(obj(body.input)?.converse);
  return converse ? { request: converse, surface: 'converse' } : { request: invokedMessagesBody(body) ?? {}, surface: 'messages' };
}

/**
 * What CountTokens counts, as the Messages request it stands for: `input.converse` translated as a Converse request
 * is (what it removes named under `input.converse.`), or Claude's own body from `input.invokeModel`.
 */
export function converseCountRequest(body: Json, plan: AttemptPlan): TranslatedRequest {
  const converse = obj(obj(body.input)?.converse);
  if (!converse) return { body: invokedMessagesBody(body) ?? { messages: [] }, removed: [] };
  const translated = request(converse, plan, false);
  return { body: translated.body, removed: translated.removed.map((name) => `input.converse.${name}`) };
}

/** Converse's tool choice → Messages'. */
function toolChoice(choice: Json): Json | undefined {
  if (choice.auto !== undefined) return { type: 'auto' };
  if (choice.any !== undefined) return { type: 'any' };
  const tool = obj(choice.tool);
  return typeof tool?.name === 'string' ? { type: 'tool', name: tool.name } : undefined;
}

function request(body: Json, plan: AttemptPlan, stream: boolean): TranslatedRequest {
  const removed = Object.keys(body).filter((name) => !MAPPED.has(name));
  const messages: Json[] = [];
  for (const message of objects(body.messages)) {
    const content = blocks(message.content, 'message');
    if (content.length > 0) messages.push({ role: message.role === 'assistant' ? 'assistant' : 'user', content });
  }
  const out: Json = { messages };
  const system = blocks(body.system, 'system');
  if (system.length > 0) out.system = system;
  const config = obj(body.inferenceConfig) ?? {};
  // Messages requires a limit; a Converse client may leave it to the model: the catalog's, else a common default.
  out.max_tokens = typeof config.maxTokens === 'number' ? fittedOutputLimit(config.maxTokens, plan) : plan.candidate.catalogModel?.maxOutputTokens || DEFAULT_MAX_TOKENS;
  // null is "not given" (a Bedrock SDK's unset member), which Messages takes by leaving the field out.
  if (config.temperature !== undefined && config.temperature !== null) out.temperature = config.temperature;
  if (config.topP !== undefined && config.topP !== null) out.top_p = config.topP;
  if (Array.isArray(config.stopSequences) && config.stopSequences.length > 0) out.stop_sequences = config.stopSequences;
  const toolConfig = obj(body.toolConfig);
  const tools: Json[] = [];
  for (const entry of objects(toolConfig?.tools)) {
    const spec = obj(entry.toolSpec);
    const point = obj(entry.cachePoint);
    if (spec) {
      const schema = obj(obj(spec.inputSchema)?.json) ?? { type: 'object' };
      tools.push({ name: spec.name, ...(typeof spec.description === 'string' ? { description: spec.description } : {}), input_schema: schema });
    } else if (point && tools.length > 0) tools[tools.length - 1]!.cache_control = cacheControl(point);
    // A Bedrock system tool (Nova's grounding) runs only at Bedrock.
    else if (!point && !removed.includes('toolConfig')) removed.push('toolConfig');
  }
  if (tools.length > 0) {
    out.tools = tools;
    const choice = toolChoice(obj(toolConfig?.toolChoice) ?? {});
    if (choice) out.tool_choice = choice;
  }
  const clientFields: Record<string, string> = { ...CONVERSE_FIELDS };
  claudeFields(body, out, removed, clientFields);
  outputConfig(body, out, removed, clientFields);
  if (stream) out.stream = true;
  return { body: out, removed, clientFields };
}

/** Messages' stop reason → Converse's; a refusal is Converse's content filter. */
const STOP_REASONS: Readonly<Record<string, string>> = {
  end_turn: 'end_turn', pause_turn: 'end_turn', tool_use: 'tool_use', max_tokens: 'max_tokens', stop_sequence: 'stop_sequence',
  refusal: 'content_filtered', model_context_window_exceeded: 'model_context_window_exceeded',
};

function stopReason(stop: unknown): string {
  return typeof stop === 'string' ? STOP_REASONS[stop] ?? 'end_turn' : 'end_turn';
}

/**
 * Messages usage → Converse's TokenUsage, read as the meter reads it (the client is told what it is billed):
 * `inputTokens` leaves out the cache's reads and writes, which come apart, as Bedrock counts them.
 */
function converseUsage(usage: unknown): Json {
  const u = anthropicUsage(usage);
  const read = u?.cacheReadTokens ?? 0;
  const write = u?.cacheWriteTokens ?? 0;
  const input = Math.max(0, (u?.inputTokens ?? 0) - read - write);
  const output = u?.outputTokens ?? 0;
  return { inputTokens: input, outputTokens: output, totalTokens: input + read + write + output, cacheReadInputTokens: read, cacheWriteInputTokens: write };
}

function latencyMs(scope: TranslationScope): number {
  return scope.startedAt === undefined ? 0 : Math.max(0, Math.round(performance.now() - scope.startedAt));
}

/** The client's own name for a tool the upstream knows by another (none is renamed today: Converse's names fit every API). */
function clientName(name: unknown, scope: TranslationScope): unknown {
  return typeof name === 'string' ? scope.toolNames?.get(name) ?? name : name;
}

function answer(upstream: unknown, scope: TranslationScope): Json {
  const message = obj(upstream) ?? {};
  const content: Json[] = [];
  for (const b of objects(message.content)) {
    if (b.type === 'text' && typeof b.text === 'string') content.push({ text: b.text });
    else if (b.type === 'tool_use') content.push({ toolUse: { toolUseId: b.id, name: clientName(b.name, scope), input: obj(b.input) ?? {} } });
    else if (b.type === 'thinking') content.push({ reasoningContent: { reasoningText: { text: b.thinking, ...(typeof b.signature === 'string' ? { signature: b.signature } : {}) } } });
    else if (b.type === 'redacted_thinking') content.push({ reasoningContent: { redactedContent: b.data } });
  }
  return {
    output: { message: { role: 'assistant', content } }, stopReason: stopReason(message.stop_reason),
    usage: converseUsage(message.usage), metrics: { latencyMs: latencyMs(scope) },
  };
}

/** A provider's refusal (any shape) as Bedrock's error body; its kind goes in `x-amzn-errortype` (errorHeaders). */
function error(_status: number, upstream: string): string {
  return JSON.stringify({ message: providerMessage(upstream) });
}

/**
 * Anthropic's stream error types → the exceptions of ConverseStream's union, which the SDK raises by name: a rate
 * limit or an overload stays retryable, the request's own fault a ValidationException.
 */
const STREAM_EXCEPTIONS: Readonly<Record<string, string>> = {
  rate_limit_error: 'throttlingException',
  overloaded_error: 'serviceUnavailableException',
  invalid_request_error: 'validationException',
  request_too_large: 'validationException',
  api_error: 'internalServerException',
};

/** One ConverseStream event as the SDK reads it: its `:event-type` names the union member, its body is that member. */
function frame(type: string, payload: Json): Uint8Array {
  return eventStreamCodec.encode({
    headers: {
      ':event-type': { type: 'string', value: type },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'event' },
    },
    body: Buffer.from(JSON.stringify(payload)),
  });
}

/** Messages SSE events → ConverseStream frames. */
class MessagesToConverse implements StreamTranslation<Uint8Array> {
  readonly #scope: TranslationScope;
  #out: Uint8Array[] = [];
  #started = false;
  #done = false;
  #stop: unknown;
  /** message_start's usage, then message_delta's merged over it (cumulative, as Anthropic sends them). */
  #usage: Json = {};
  /** Open tool-use blocks by index, and whether any input came for each. */
  readonly #tools = new Map<number, boolean>();

  constructor(scope: TranslationScope) {
    this.#scope = scope;
  }

  #start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#out.push(frame('messageStart', { role: 'assistant' }));
  }

  #delta(index: number, delta: Json): void {
    this.#out.push(frame('contentBlockDelta', { contentBlockIndex: index, delta }));
  }

  event(event: string, data: string): void {
    if (this.#done) return;
    const e = obj(parseJson(data)) ?? {};
    const type = typeof e.type === 'string' ? e.type : event;
    const index = typeof e.index === 'number' ? e.index : 0;
    switch (type) {
      case 'message_start':
        this.#start();
        this.#usage = { ...obj(obj(e.message)?.usage) };
        return;
      case 'content_block_start': {
        this.#start();
        const block = obj(e.content_block) ?? {};
        if (block.type === 'tool_use') {
          this.#out.push(frame('contentBlockStart', { contentBlockIndex: index, start: { toolUse: { toolUseId: block.id, name: clientName(block.name, this.#scope) } } }));
          // A compatible server may send the whole input with the block's start rather than in deltas.
          const input = obj(block.input);
          const whole = input !== undefined && Object.keys(input).length > 0;
          this.#tools.set(index, whole);
          if (whole) this.#delta(index, { toolUse: { input: JSON.stringify(input) } });
        } else if (block.type === 'text' && typeof block.text === 'string' && block.text !== '') this.#delta(index, { text: block.text });
        else if (block.type === 'redacted_thinking') this.#delta(index, { reasoningContent: { redactedContent: block.data } });
        return;
      }
      case 'content_block_delta': {
        this.#start();
        const delta = obj(e.delta) ?? {};
        if (delta.type === 'text_delta') this.#delta(index, { text: delta.text });
        else if (delta.type === 'input_json_delta') {
          if (typeof delta.partial_json === 'string' && delta.partial_json !== '') {
            this.#tools.set(index, true);
            this.#delta(index, { toolUse: { input: delta.partial_json } });
          }
        } else if (delta.type === 'thinking_delta') this.#delta(index, { reasoningContent: { text: delta.thinking } });
        else if (delta.type === 'signature_delta') this.#delta(index, { reasoningContent: { signature: delta.signature } });
        return;
      }
      case 'content_block_stop':
        // A call of a tool without arguments streams no input: the SDK's reader gets the empty object, as a buffered answer has it.
        if (this.#tools.get(index) === false) this.#delta(index, { toolUse: { input: '{}' } });
        this.#tools.delete(index);
        this.#out.push(frame('contentBlockStop', { contentBlockIndex: index }));
        return;
      case 'message_delta':
        this.#stop = obj(e.delta)?.stop_reason ?? this.#stop;
        this.#usage = { ...this.#usage, ...obj(e.usage) };
        return;
      case 'message_stop':
        this.#end();
        return;
      case 'error': {
        const err = obj(e.error) ?? {};
        const message = typeof err.message === 'string' ? err.message : providerMessage(data);
        this.#out.push(exceptionFrame(STREAM_EXCEPTIONS[String(err.type)] ?? 'modelStreamErrorException', message));
        this.#done = true;
        return;
      }
      default:
    }
  }

  /** messageStop with the stop reason, then the metadata event with the usage: the last event of a Converse stream. */
  #end(): void {
    if (this.#done) return;
    this.#start();
    this.#done = true;
    this.#out.push(frame('messageStop', { stopReason: stopReason(this.#stop) }));
    this.#out.push(frame('metadata', { usage: converseUsage(this.#usage), metrics: { latencyMs: latencyMs(this.#scope) } }));
  }

  take(): Uint8Array {
    const out = this.#out.length === 1 ? this.#out[0]! : Buffer.concat(this.#out);
    this.#out = [];
    return out;
  }

  finish(): Uint8Array {
    this.#end();
    return this.take();
  }
}

function translator(stream: boolean): Translator<Uint8Array> {
  return {
    request: (body, plan) => request(body, plan, stream),
    answer,
    error,
    errorHeaders: (status) => ({ 'x-amzn-errortype': bedrockErrorType(status) }),
    stream: (scope) => new MessagesToConverse(scope),
  };
}

/** ConverseCommand: a buffered answer. */
export const converseViaMessages = translator(false);
/** ConverseStreamCommand: the Messages request streams (Bedrock streams by operation, Messages by `stream: true`). */
export const converseStreamViaMessages = translator(true);
