// Anthropic Messages served by a Bedrock model reached on Converse alone (Amazon Nova, Meta Llama: neither Claude's
// Messages body on InvokeModel nor Bedrock's OpenAI-compatible chat completions serve them). Chat completions,
// Responses and Gemini clients reach it through Messages (translate/index.ts composes the halves), as they reach
// Claude on InvokeModel. The reverse of converse-via-messages.ts: system prompts, text, images, PDF and text
// documents, tools, calls and results, reasoning, usage, stop reasons and errors are mapped both ways; ConverseStream's
// event-stream frames (decoded by event-stream-meter.ts) are written out as Anthropic's SSE events.
// docs/decisions/translation.md, "Messages → Converse".
import { randomBytes } from 'node:crypto';
import { tollgateError, type TollgateError } from '../../domain/errors.ts';
import { lengthEstimate } from '../../domain/token-bounds.ts';
import { obj, parseJson } from '../formats/types.ts';
import { invalidToolArguments, objects, providerMessage, type Json } from './json.ts';
import { anthropicProviderError } from './messages-via-chat.ts';
import { STREAM_ERROR_TYPES } from './messages-via-invoke.ts';
import type { StreamTranslation, TranslatedRequest, TranslationScope, Translator } from './types.ts';

/** The Messages members Converse has a place for; any other (`top_k`, `thinking`, `metadata`, `service_tier`…) is removed and named. */
const MAPPED = new Set(['model', 'messages', 'system', 'max_tokens', 'temperature', 'top_p', 'stop_sequences', 'stream', 'tools', 'tool_choice']);

/** Converse members written from a Messages field of another name, for Ngrok-AIG-Removed-Params. */
const CLIENT_FIELDS: Readonly<Record<string, string>> = {
  inferenceConfig: 'max_tokens', toolConfig: 'tools',
};

const IMAGE_FORMATS: Readonly<Record<string, string>> = { 'image/png': 'png', 'image/jpeg': 'jpeg', 'image/gif': 'gif', 'image/webp': 'webp' };

/** A base64 image Converse takes (`{image: {format, source: {bytes}}}`); undefined for a URL source or another type. */
function image(block: Json): Json | undefined {
  const source = obj(block.source);
  const format = IMAGE_FORMATS[String(source?.media_type)];
  return source?.type === 'base64' && typeof source.data === 'string' && format ? { image: { format, source: { bytes: source.data } } } : undefined;
}

/**
 * A Messages document as Converse's: a base64 PDF, or text (as a `txt` document's bytes). Converse requires a name
 * (letters, digits, spaces, hyphens, brackets), unique in the request: the title when it fits, else one of ours.
 */
function document(block: Json, index: number): Json | undefined {
  const source = obj(block.source);
  const title = typeof block.title === 'string' && /^[A-Za-z0-9 ()[\]-]{1,200}$/.test(block.title) ? block.title : `document ${index + 1}`;
  if (source?.type === 'base64' && source.media_type === 'application/pdf' && typeof source.data === 'string') return { document: { format: 'pdf', name: title, source: { bytes: source.data } } };
  if (source?.type === 'text' && typeof source.data === 'string') return { document: { format: 'txt', name: title, source: { bytes: Buffer.from(source.data).toString('base64') } } };
  return undefined;
}

/** A tool result's content as Converse's: text, and images. */
function resultContent(content: unknown): Json[] {
  if (typeof content === 'string') return content === '' ? [] : [{ text: content }];
  return objects(content).flatMap((b) => {
    if (b.type === 'text' && typeof b.text === 'string') return [{ text: b.text }];
    const img = b.type === 'image' ? image(b) : undefined;
    return img ? [img] : [];
  });
}

/** Content blocks as Converse's; `documents` numbers the request's documents for their names. */
function blocks(content: unknown, documents: { count: number }): Json[] {
  if (typeof content === 'string') return content.trim() === '' ? [] : [{ text: content }];
  const out: Json[] = [];
  for (const b of objects(content)) {
    if (b.type === 'text' && typeof b.text === 'string' && b.text.trim() !== '') out.push({ text: b.text });
    else if (b.type === 'image' || b.type === 'document') {
      // One Converse cannot take was refused before (converseUnsendableReason).
      const media = b.type === 'image' ? image(b) : document(b, documents.count++);
      if (media) out.push(media);
    } else if (b.type === 'tool_use') out.push({ toolUse: { toolUseId: b.id, name: b.name, input: obj(b.input) ?? {} } });
    else if (b.type === 'tool_result') {
      const result: Json = { toolUseId: b.tool_use_id, content: resultContent(b.content) };
      if (b.is_error === true) result.status = 'error';
      out.push({ toolResult: result });
    }
    // Thinking blocks stay behind: Converse takes back only reasoning its own model signed.
  }
  return out;
}

/** The blocks a request may hold that Converse takes; anything else is refused before the model is asked (unsendableReason). */
const SENDABLE = new Set(['text', 'image', 'document', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking']);

/**
 * Why a Messages request cannot go to Converse, if it cannot: an image or document Converse cannot take (by URL, a
 * file id, another type) or a block it has no place for would be left out, and the model would answer without it.
 */
export function converseUnsendableReason(body: Json): string | undefined {
  for (const m of objects(body.messages)) {
    for (const b of objects(m.content)) {
      const inResult = b.type === 'tool_result' ? objects(b.content).filter((c) => c.type !== 'text' && (c.type !== 'image' || !image(c))) : [];
      if (!SENDABLE.has(String(b.type)) || (b.type === 'image' && !image(b)) || (b.type === 'document' && !document(b, 0)) || inResult.length > 0) {
        return `it sends content Bedrock's Converse cannot take (${inResult[0] ? `${String(inResult[0].type)} in a tool result` : unsendable(b)}); send images as base64 PNG, JPEG, GIF or WebP, documents as base64 PDF or text`;
      }
    }
  }
  return undefined;
}

/** What of a block Converse cannot take: an image of another type is named by it (an SVG, a HEIC photo), else how it is given. */
function unsendable(block: Json): string {
  const source = obj(block.source);
  if (block.type === 'image' && source?.type === 'base64') return `an image of type "${String(source.media_type).slice(0, 100)}"`;
  return `${String(block.type)}${block.type === 'image' || block.type === 'document' ? ' not given as base64 data' : ''}`;
}

/** Turns alternate on Converse: consecutive turns of one role (a Messages request may have them) are joined. */
function turns(messages: unknown, documents: { count: number }): Json[] {
  const out: Json[] = [];
  for (const m of objects(messages)) {
    const role = m.role === 'assistant' ? 'assistant' : 'user';
    const content = blocks(m.content, documents);
    if (content.length === 0) continue;
    const last = out.at(-1);
    if (last?.role === role) (last.content as Json[]).push(...content);
    else out.push({ role, content });
  }
  return out;
}

function systemBlocks(system: unknown): Json[] {
  if (typeof system === 'string') return system.trim() === '' ? [] : [{ text: system }];
  return objects(system).filter((b) => typeof b.text === 'string' && b.text.trim() !== '').map((b) => ({ text: b.text }));
}

/** Messages' tool_choice → Converse's (`auto`, `any`, `tool`); `none` has no Converse form. */
function toolChoice(choice: unknown): Json | undefined {
  const c = obj(choice);
  if (c?.type === 'any') return { any: {} };
  if (c?.type === 'tool' && typeof c.name === 'string') return { tool: { name: c.name } };
  return c?.type === 'auto' ? { auto: {} } : undefined;
}

function request(body: Json): TranslatedRequest {
  const removed = Object.keys(body).filter((name) => !MAPPED.has(name));
  const documents = { count: 0 };
  const out: Json = { messages: turns(body.messages, documents) };
  const system = systemBlocks(body.system);
  if (system.length > 0) out.system = system;
  const inference: Json = {};
  if (typeof body.max_tokens === 'number') inference.maxTokens = body.max_tokens;
  if (typeof body.temperature === 'number') inference.temperature = body.temperature;
  if (typeof body.top_p === 'number') inference.topP = body.top_p;
  if (Array.isArray(body.stop_sequences) && body.stop_sequences.length > 0) inference.stopSequences = body.stop_sequences;
  if (Object.keys(inference).length > 0) out.inferenceConfig = inference;
  // Only the client's own functions: a server tool (web search, code execution) runs at Anthropic alone.
  const all = objects(body.tools);
  const tools = all.filter((t) => t.type === undefined || t.type === 'custom');
  if (tools.length < all.length) removed.push('tools');
  if (tools.length > 0) {
    const config: Json = { tools: tools.map((t) => ({ toolSpec: { name: t.name, ...(typeof t.description === 'string' ? { description: t.description } : {}), inputSchema: { json: t.input_schema ?? { type: 'object' } } } })) };
    const choice = toolChoice(body.tool_choice);
    if (choice) config.toolChoice = choice;
    // `none` (chat's, or the tools of an earlier turn offered to read the history by): Converse would still let the
    // model call one; named, as what the model was not held to.
    else if (obj(body.tool_choice)?.type === 'none') removed.push('tool_choice');
    out.toolConfig = config;
  } else if (body.tool_choice !== undefined) removed.push('tool_choice');
  // `inferenceConfig.maxTokens` is the limit the account's cap clamps (params.ts), as a Messages body's on InvokeModel.
  return { body: out, removed, clientFields: CLIENT_FIELDS, limitSurface: 'converse' };
}

/** Converse's stop reason → Messages'; a filter or a guardrail is Messages' refusal. */
const STOP_REASONS: Readonly<Record<string, string>> = {
  end_turn: 'end_turn', tool_use: 'tool_use', max_tokens: 'max_tokens', stop_sequence: 'stop_sequence',
  content_filtered: 'refusal', guardrail_intervened: 'refusal', model_context_window_exceeded: 'model_context_window_exceeded',
};

function stopReason(stop: unknown): string {
  return typeof stop === 'string' ? STOP_REASONS[stop] ?? 'end_turn' : 'end_turn';
}

/**
 * The refusal of an answer Converse stopped as malformed, which no Messages stop reason names: given as `end_turn`,
 * a client would take a broken answer for a whole one (an agent would end its turn on it). A call Bedrock could not
 * read is refused as a chat model's unreadable arguments are (ngrok's TOOL_CALL_ARGUMENTS_INVALID, not retried),
 * naming the last call the answer began (`tool`); output Bedrock could not read, as an upstream failure.
 */
function malformed(stop: unknown, tool: unknown): TollgateError | undefined {
  if (stop === 'malformed_tool_use') return invalidToolArguments(typeof tool === 'string' && tool !== '' ? tool : 'unknown', 'a call Bedrock could read (Converse stopped with malformed_tool_use)');
  if (stop === 'malformed_model_output') return tollgateError('modelOutputMalformed', { reason: 'Bedrock could not read the model\'s output (Converse stopped with malformed_model_output), so there is no answer to give. Retry the request.' });
  return undefined;
}

/** Converse's TokenUsage → Messages' (both leave the cache's reads and writes out of the input count). */
function messagesUsage(usage: unknown): Json {
  const u = obj(usage) ?? {};
  const count = (v: unknown) => (typeof v === 'number' ? v : 0);
  return { input_tokens: count(u.inputTokens), output_tokens: count(u.outputTokens), cache_read_input_tokens: count(u.cacheReadInputTokens), cache_creation_input_tokens: count(u.cacheWriteInputTokens) };
}

/** Converse answers carry no id: one of ours, in Anthropic's `msg_` form. */
function messageId(): string {
  return `msg_bdrk_${randomBytes(12).toString('hex')}`;
}

/** Converse's reasoning block → Messages' thinking (its text and signature), or redacted thinking. */
function thinking(reasoning: unknown): Json | undefined {
  const r = obj(reasoning);
  const text = obj(r?.reasoningText);
  if (typeof text?.text === 'string') return { type: 'thinking', thinking: text.text, signature: typeof text.signature === 'string' ? text.signature : '' };
  return typeof r?.redactedContent === 'string' ? { type: 'redacted_thinking', data: r.redactedContent } : undefined;
}

function answer(upstream: unknown, scope: TranslationScope): Json {
  const converse = obj(upstream) ?? {};
  const content: Json[] = [];
  for (const b of objects(obj(obj(converse.output)?.message)?.content)) {
    if (typeof b.text === 'string') content.push({ type: 'text', text: b.text });
    const use = obj(b.toolUse);
    if (use) content.push({ type: 'tool_use', id: use.toolUseId, name: use.name, input: obj(use.input) ?? {} });
    const thought = thinking(b.reasoningContent);
    if (thought) content.push(thought);
  }
  const refused = malformed(converse.stopReason, content.findLast((b) => b.type === 'tool_use')?.name);
  if (refused) throw refused;
  return {
    id: messageId(), type: 'message', role: 'assistant', model: scope.model ?? '', content,
    stop_reason: stopReason(converse.stopReason), stop_sequence: null, usage: messagesUsage(converse.usage),
  };
}

/**
 * ConverseStream's events → Anthropic's SSE events, a block opened where Converse starts (or first fills) one. Blocks
 * are numbered as they open: the Anthropic SDK finds a delta's block by its index among those begun, so a Converse
 * block left out must leave no gap.
 */
class ConverseToMessages implements StreamTranslation {
  readonly #scope: TranslationScope;
  #out = '';
  #started = false;
  #done = false;
  #stop: unknown;
  #failure: TollgateError | undefined;
  /** Open blocks by Converse's index: their own index in the client's stream, and their Messages type. */
  readonly #open = new Map<number, { index: number; type: string }>();
  #blocks = 0;
  /** The last tool call begun, named in the refusal of a call Bedrock could not read. */
  #tool: unknown;
  /** Redacted reasoning by Converse's index, held whole: a `redacted_thinking` block has no delta to stream it in. */
  readonly #redacted = new Map<number, string>();
  /** Blocks whose orphan tool input was logged already. */
  readonly #orphanLogged = new Set<number>();
  /** What the answer wrote, for an estimate of its output when the stream ends without Converse's usage. */
  #chars = 0;
  /** Characters of redacted reasoning kept in `#redacted` until its block closes (StreamTranslation.held). */
  #held = 0;

  constructor(scope: TranslationScope) {
    this.#scope = scope;
  }

  get held(): number {
    return this.#held;
  }

  #event(type: string, payload: Json): void {
    this.#out += `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`;
  }

  #start(): void {
    if (this.#started) return;
    this.#started = true;
    // The input as estimated when already counted (Anthropic counts it before the answer starts, Converse only in its
    // last event), as messages-via-chat gives it: a stream that ends without that event still tells the client how
    // long its prompt was (finish()).
    this.#event('message_start', { message: { id: messageId(), type: 'message', role: 'assistant', model: this.#scope.model ?? '', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: this.#scope.inputTokens?.() ?? 0, output_tokens: 0 } } });
  }

  /** The client's index of the block open at Converse's `at`, opened with `contentBlock` when none is. */
  #block(at: number, contentBlock: Json): number {
    const open = this.#open.get(at);
    if (open) return open.index;
    const index = this.#blocks++;
    this.#open.set(at, { index, type: String(contentBlock.type) });
    this.#event('content_block_start', { index, content_block: contentBlock });
    return index;
  }

  #closeBlock(at: number): void {
    const data = this.#redacted.get(at);
    if (data !== undefined) {
      this.#redacted.delete(at);
      this.#held -= data.length;
      this.#block(at, { type: 'redacted_thinking', data });
    }
    const open = this.#open.get(at);
    if (!open) return;
    this.#open.delete(at);
    this.#event('content_block_stop', { index: open.index });
  }

  #closeBlocks(): void {
    for (const at of new Set([...this.#open.keys(), ...this.#redacted.keys()])) this.#closeBlock(at);
  }

  event(event: string, data: string): void {
    if (this.#done) return;
    const e = obj(parseJson(data)) ?? {};
    if (event.endsWith('Exception')) {
      this.#event('error', { error: { type: STREAM_ERROR_TYPES[event] ?? 'api_error', message: providerMessage(data) } });
      this.#done = true;
      return;
    }
    this.#start();
    const at = typeof e.contentBlockIndex === 'number' ? e.contentBlockIndex : 0;
    if (event === 'contentBlockStart') {
      const use = obj(obj(e.start)?.toolUse);
      if (use) {
        this.#tool = use.name;
        this.#block(at, { type: 'tool_use', id: use.toolUseId, name: use.name, input: {} });
      }
    } else if (event === 'contentBlockDelta') {
      this.#delta(at, obj(e.delta) ?? {});
    } else if (event === 'contentBlockStop') {
      this.#closeBlock(at);
    } else if (event === 'messageStop') {
      this.#stop = e.stopReason;
      this.#failure = malformed(e.stopReason, this.#tool);
    } else if (event === 'metadata') {
      // ConverseStream's last event: its usage is the answer's, and the message ends with it.
      this.#end(messagesUsage(e.usage));
    }
  }

  #delta(at: number, delta: Json): void {
    const reasoning = obj(delta.reasoningContent);
    const input = obj(delta.toolUse)?.input;
    if (typeof delta.text === 'string') {
      this.#chars += delta.text.length;
      this.#event('content_block_delta', { index: this.#block(at, { type: 'text', text: '' }), delta: { type: 'text_delta', text: delta.text } });
    } else if (typeof input === 'string') {
      // A call's input with no call begun (no contentBlockStart) has no id or name to begin one with: a block
      // without them is no call an SDK can run, so the piece is left out, and logged once a block (a model that never
      // begins its calls would otherwise write a line per piece).
      const open = this.#open.get(at);
      if (open?.type !== 'tool_use') {
        if (!this.#orphanLogged.has(at)) this.#scope.warn?.({ contentBlockIndex: at }, 'ConverseStream sent tool input for no call it began; left out of the translated stream');
        this.#orphanLogged.add(at);
        return;
      }
      this.#chars += input.length;
      this.#event('content_block_delta', { index: open.index, delta: { type: 'input_json_delta', partial_json: input } });
    } else if (typeof reasoning?.text === 'string') {
      this.#chars += reasoning.text.length;
      this.#event('content_block_delta', { index: this.#block(at, { type: 'thinking', thinking: '', signature: '' }), delta: { type: 'thinking_delta', thinking: reasoning.text } });
    } else if (typeof reasoning?.signature === 'string' && this.#open.get(at)?.type === 'thinking') {
      this.#event('content_block_delta', { index: this.#open.get(at)!.index, delta: { type: 'signature_delta', signature: reasoning.signature } });
    } else if (typeof reasoning?.redactedContent === 'string') {
      this.#held += reasoning.redactedContent.length;
      this.#redacted.set(at, (this.#redacted.get(at) ?? '') + reasoning.redactedContent);
    }
  }

  #end(usage: Json): void {
    if (this.#done) return;
    this.#start();
    this.#closeBlocks();
    this.#done = true;
    // A malformed answer ends with the refusal (failure()) in place of its final events.
    if (this.#failure) return;
    this.#event('message_delta', { delta: { stop_reason: stopReason(this.#stop), stop_sequence: null }, usage });
    this.#event('message_stop', {});
  }

  take(): string {
    const out = this.#out;
    this.#out = '';
    return out;
  }

  // A stream that ended without its metadata event: the message is closed with an estimate of its output (about
  // four characters a token). The account is billed on the gateway's own estimate of what was relayed (meter.ts).
  finish(): string {
    // The prompt's estimate too, when counted by now (message_start may have gone before it was).
    const input = this.#scope.inputTokens?.();
    this.#end({ ...(input !== undefined ? { input_tokens: input } : {}), output_tokens: lengthEstimate(this.#chars) });
    return this.take();
  }

  failure(): TollgateError | undefined {
    return this.#done ? this.#failure : undefined;
  }
}

export const messagesViaConverse: Translator = {
  request: (body) => request(body),
  answer: (upstream, scope) => answer(upstream, scope),
  // Bedrock's `{"message": …}` refusals (ValidationException…) as Anthropic's errors, the status kept.
  error: anthropicProviderError,
  stream: (scope) => new ConverseToMessages(scope),
};
