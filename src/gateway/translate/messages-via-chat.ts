// Anthropic Messages requests (the Anthropic SDK, Claude Code) served by a model that speaks only OpenAI chat
// completions: messages, system prompt, images, function tools, tool calls and results, reasoning (effort, and the
// model's reasoning as thinking blocks), stop reasons, usage and errors are mapped both ways; streams are rebuilt
// event by event. docs/decisions/translation.md lists what has no place on the other side.
import { createHash } from 'node:crypto';
import type { AttemptPlan } from '../../domain/routing.ts';
import { randomBase62 } from '../../domain/ids.ts';
import { anthropicErrorType } from '../formats/anthropic.ts';
import { openaiUsage } from '../formats/openai.ts';
import { obj } from '../formats/types.ts';
import type { TranslatedRequest, TranslationScope, Translator } from './types.ts';
import { FromChatStream, UnnamedCalls } from './chat-stream.ts';
import { providerErrorKind } from '../formats/provider-error.ts';
import { answerToolInput, chatReasoning, chatText, invalidToolArguments, jsonSchemaFormat, meetsStrictRules, objects, providerMessage, quotedPartType, toolArgumentsProblem, uniqueCallId, type Json } from './json.ts';
import { acceptsReasoningEffort, asksUsageChunk, chatStops, effortFor, fittedOutputLimit } from './output-limit.ts';
import { ChatToolNames, clientToolName } from './tool-names.ts';

/** Messages fields with a chat-completions counterpart; any other top-level field is removed and reported. */
const MAPPED = new Set(['model', 'models', 'messages', 'system', 'max_tokens', 'stop_sequences', 'temperature', 'top_p', 'stream', 'tools', 'tool_choice', 'thinking', 'metadata', 'output_config', 'output_format']);

/**
 * Claude Code's first system block, `x-anthropic-billing-header: cc_version=…; cch=…;`, is for Anthropic's billing and
 * changes every request: kept, it would make another provider's prompt cache miss on every turn (the prefix differs).
 */
function isBillingLine(block: Json): boolean {
  return block.type === 'text' && typeof block.text === 'string' && block.text.startsWith('x-anthropic-billing-header:');
}

function blocks(content: unknown): Json[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  return Array.isArray(content) ? content.filter((b): b is Json => obj(b) !== undefined) : [];
}

function textOf(content: unknown): string {
  return blocks(content).filter((b) => b.type === 'text' && typeof b.text === 'string').map((b) => b.text as string).join('\n');
}

/**
 * The text chat gets for a block whose content is text under another name: a search result (a RAG tool's result,
 * which Anthropic's docs return inside a tool result or as the user's block) — its title and source before its
 * text, as a document's title goes before it —, and a tool reference (a client's tool search naming a deferred
 * tool: chat is offered every tool at once, so it names one offered). Only the citations Claude would make of a
 * search result are lost, as a document's are.
 */
function textOfBlock(block: Json): string | undefined {
  if (block.type === 'text') return typeof block.text === 'string' ? block.text : undefined;
  if (block.type === 'search_result') return [`Search result: ${String(block.title ?? '')} (${String(block.source ?? '')})`, textOf(block.content)].join('\n');
  if (block.type === 'tool_reference') return `Tool found: ${String(block.tool_name ?? '')}`;
  return undefined;
}

/**
 * An image or document block as chat content parts; undefined for one chat cannot carry (then the request is not
 * translated at all: `unsendableMediaReason`). A document's title goes before it, so several stay told apart.
 */
function mediaParts(block: Json): Json[] | undefined {
  const source = obj(block.source);
  if (!source) return undefined;
  if (block.type === 'image') {
    if (source.type === 'base64') return [{ type: 'image_url', image_url: { url: `data:${String(source.media_type)};base64,${String(source.data)}` } }];
    if (source.type === 'url') return [{ type: 'image_url', image_url: { url: String(source.url) } }];
    return undefined;
  }
  if (block.type !== 'document') return undefined;
  let parts: Json[] | undefined;
  if (source.type === 'base64' && source.media_type === 'application/pdf') parts = [{ type: 'file', file: { filename: 'document.pdf', file_data: `data:application/pdf;base64,${String(source.data)}` } }];
  else if (source.type === 'text') parts = [{ type: 'text', text: String(source.data) }];
  // A custom-content document: its own text and image blocks.
  else if (source.type === 'content') {
    const inner = blocks(source.content).map((b) => (b.type === 'text' ? [{ type: 'text', text: typeof b.text === 'string' ? b.text : '' }] : mediaParts(b)));
    if (inner.some((p) => p === undefined)) return undefined;
    parts = inner.flat() as Json[];
  }
  if (!parts) return undefined;
  return typeof block.title === 'string' && block.title !== '' ? [{ type: 'text', text: `Document: ${block.title}` }, ...parts] : parts;
}

/** The blocks a user turn, or a tool result, may hold that chat has a place for (a tool result's own aside). */
const CARRIED_BLOCKS = new Set(['text', 'image', 'document', 'tool_result', 'search_result', 'tool_reference']);

/** Blocks chat can only carry some of: an image or a document. */
function isMedia(block: Json): boolean {
  return block.type === 'image' || block.type === 'document';
}

/**
 * Why a Messages request cannot go to a chat model, if it cannot: an image or document chat has no way to carry (a
 * PDF by URL — chat takes files only as data —, a file from Anthropic's Files API, a document of another kind) would
 * be left out, and the model would answer without it.
 */
export function unsendableMediaReason(messages: unknown): string | undefined {
  for (const m of objects(messages)) {
    for (const block of blocks(m.content)) {
      const inner = block.type === 'tool_result' ? blocks(block.content) : [block];
      // A user's block (or a tool result's) of another type (a `container_upload`, for Claude's code execution)
      // has no place in chat: left out, the model answered without it. An assistant turn's others are Claude's own
      // server tools' (its web search), as its thinking is.
      const uncarried = m.role === 'assistant' ? undefined : inner.find((b) => !CARRIED_BLOCKS.has(String(b.type)));
      if (uncarried) return `it sends a content block of type ${quotedPartType(uncarried.type)}${block.type === 'tool_result' ? ' in a tool result' : ''}, which chat completions cannot carry; send it as text instead`;
      if (inner.some((b) => isMedia(b) && mediaParts(b) === undefined)) {
        return 'it sends an image or document chat completions cannot carry (chat takes images as data or by URL and PDFs and text as data only: not a PDF by URL, nor a file from the Files API); send it as base64 data instead';
      }
    }
  }
  return undefined;
}

/**
 * The `previous_message_id` a request continues a message thread from (`thread: {type: "continue", …}`, '' when it
 * names none), undefined when it continues none: only Anthropic holds the turns before it, so it is never translated.
 */
export function continuedThread(body: Json): string | undefined {
  const thread = obj(body.thread);
  if (thread?.type !== 'continue') return undefined;
  return typeof thread.previous_message_id === 'string' ? thread.previous_message_id : '';
}

/**
 * A tool result answers the previous assistant turn's call: chat carries it as a `tool` message of its own, text
 * only, marked when the tool failed (`is_error`). Images the tool returned (Claude Code's Read of a picture) go in
 * the user message that follows, after a line saying which call they came from.
 */
function toolResult(block: Json, out: Json[], parts: Json[]): void {
  const text = typeof block.content === 'string' ? block.content : blocks(block.content).map(textOfBlock).filter((t) => t !== undefined).join('\n');
  out.push({ role: 'tool', tool_call_id: block.tool_use_id, content: block.is_error === true ? `Error: ${text}` : text });
  const media = blocks(block.content).flatMap((b) => (isMedia(b) ? mediaParts(b) ?? [] : []));
  if (media.length > 0) parts.push({ type: 'text', text: `Output of tool call ${String(block.tool_use_id)}:` }, ...media);
}

function userMessages(content: unknown, out: Json[]): void {
  if (typeof content === 'string') {
    out.push({ role: 'user', content });
    return;
  }
  const parts: Json[] = [];
  for (const block of blocks(content)) {
    if (block.type === 'tool_result') toolResult(block, out, parts);
    else if (block.type === 'text') parts.push({ type: 'text', text: block.text });
    else if (isMedia(block)) parts.push(...mediaParts(block) ?? []);
    else {
      const text = textOfBlock(block);
      if (text !== undefined) parts.push({ type: 'text', text });
    }
  }
  if (parts.length === 1 && parts[0]!.type === 'text') out.push({ role: 'user', content: parts[0]!.text });
  else if (parts.length > 0) out.push({ role: 'user', content: parts });
}

/** The names of a Messages request's tools and earlier calls (ChatToolNames keeps those that fit for themselves). */
function requestToolNames(body: Json): unknown[] {
  const names: unknown[] = [];
  for (const tool of Array.isArray(body.tools) ? body.tools : []) names.push(obj(tool)?.name);
  for (const message of Array.isArray(body.messages) ? body.messages : []) {
    for (const block of blocks(obj(message)?.content)) if (block.type === 'tool_use') names.push(block.name);
  }
  return names;
}

/**
 * Thinking the gateway made from a chat model's reasoning (messagesViaChat's answers): unsigned, as no one signed it.
 * Claude's own thinking always carries its signature.
 */
const UNSIGNED_THINKING = '';

function unsigned(block: Json): boolean {
  return block.type === 'thinking' && typeof block.thinking === 'string' && (block.signature === undefined || block.signature === UNSIGNED_THINKING);
}

/**
 * `reasoningBack`: whether the model takes its reasoning back (`reasoningGoesBack`). A turn's unsigned thinking (a
 * chat model's reasoning, as messagesViaChat answered it) then goes back as `reasoning_content` on a turn that called
 * tools — DeepSeek's thinking mode refuses a tool loop without it (400) — and on no other turn (DeepSeek ignores it
 * there; its first reasoner refused it). Claude's signed thinking is Claude's: another model neither needs nor accepts it.
 */
function assistantMessage(content: unknown, renamed: ChatToolNames, reasoningBack: boolean): Json {
  if (typeof content === 'string') return { role: 'assistant', content };
  let text = '';
  let thought = '';
  const calls: Json[] = [];
  for (const block of blocks(content)) {
    if (block.type === 'text' && typeof block.text === 'string') text += block.text;
    else if (unsigned(block)) thought += block.thinking as string;
    else if (block.type === 'tool_use') calls.push({ id: block.id, type: 'function', function: { name: renamed.nameOf(block.name), arguments: JSON.stringify(block.input ?? {}) } });
  }
  const message: Json = { role: 'assistant', content: text === '' && calls.length > 0 ? null : text };
  if (calls.length > 0 && reasoningBack && thought !== '') message.reasoning_content = thought;
  if (calls.length > 0) message.tool_calls = calls;
  return message;
}

/**
 * The providers whose chat models take `reasoning_content` back on an assistant turn and need it in a tool loop in
 * thinking mode: DeepSeek, Moonshot's Kimi and Z.ai's GLM (their docs), and a custom server (vLLM and SGLang serve
 * those models, and take the field). Others may refuse a field they do not know (Groq: "property
 * 'reasoning_content' is unsupported"; OpenAI's own models never wrote it).
 */
const REASONING_BACK: ReadonlySet<string> = new Set(['deepseek', 'moonshotai', 'z-ai']);

function reasoningGoesBack(plan: AttemptPlan): boolean {
  return plan.candidate.provider.custom === true || REASONING_BACK.has(plan.candidate.provider.id);
}

/**
 * `metadata.user_id` → chat's `user`, which OpenAI limits to 64 characters (Claude Code's ids are longer): a
 * longer id goes as its SHA-256, which identifies the same user as steadily.
 */
function chatUser(id: string): string {
  return id.length <= 64 ? id : createHash('sha256').update(id).digest('hex');
}

/** Anthropic's `tool_choice` → chat's. */
function toolChoice(choice: Json, renamed: ChatToolNames): { choice?: unknown; parallel?: boolean } {
  const parallel = choice.disable_parallel_tool_use === true ? false : undefined;
  switch (choice.type) {
    case 'any': return { choice: 'required', ...(parallel === false ? { parallel } : {}) };
    case 'tool': return { choice: { type: 'function', function: { name: renamed.nameOf(choice.name) } }, ...(parallel === false ? { parallel } : {}) };
    case 'none': return { choice: 'none' };
    default: return { choice: 'auto', ...(parallel === false ? { parallel } : {}) };
  }
}

/**
 * Claude's efforts → OpenAI's reasoning effort (which stops at high). Any other value is one Anthropic refuses: it is
 * named removed, not read as high (the costliest effort, bought for a typo).
 */
const CHAT_EFFORTS: Readonly<Record<string, string>> = { low: 'low', medium: 'medium', high: 'high', xhigh: 'high', max: 'high' };

function request(body: Json, plan: AttemptPlan): TranslatedRequest {
  const removed: string[] = [];
  const renamed = new ChatToolNames(requestToolNames(body));
  const reasoningBack = reasoningGoesBack(plan);
  for (const name of Object.keys(body)) if (!MAPPED.has(name)) removed.push(name);
  const messages: Json[] = [];
  const system = typeof body.system === 'string' ? body.system : textOf(blocks(body.system).filter((b) => !isBillingLine(b)));
  if (system !== '') messages.push({ role: 'system', content: system });
  for (const m of Array.isArray(body.messages) ? body.messages : []) {
    const message = obj(m);
    if (!message) continue;
    if (message.role === 'system') {
      // Claude Code's mid-conversation instructions (its environment, plan-mode reminders): system-level where they
      // stand, not the user speaking; moved to the top, they would change the cached prefix every turn.
      const text = textOf(message.content);
      if (text !== '') messages.push({ role: 'system', content: text });
    } else if (message.role === 'assistant') {
      const turn = assistantMessage(message.content, renamed, reasoningBack);
      // A turn that was only thinking has nothing for another model (some servers refuse an empty message).
      if (turn.content !== '' || turn.tool_calls !== undefined) messages.push(turn);
    }
    else userMessages(message.content, messages);
  }
  // A final assistant turn is Claude's prefill: the answer continues it (`{"a":` to force JSON). Chat models take it as
  // a finished turn and answer anew; it still goes (it steers the answer), and the header says it was not honoured.
  const turns = Array.isArray(body.messages) ? body.messages : [];
  if (obj(turns[turns.length - 1])?.role === 'assistant' && messages[messages.length - 1]?.role === 'assistant') removed.push('prefill');
  const out: Json = { model: body.model, messages };
  if (body.max_tokens !== undefined) out.max_tokens = fittedOutputLimit(body.max_tokens, plan);
  if (Array.isArray(body.stop_sequences) && body.stop_sequences.length > 0) {
    const sent = chatStops(body.stop_sequences, plan);
    out.stop = sent;
    if (sent.length < body.stop_sequences.length) removed.push('stop_sequences');
  }
  if (body.temperature !== undefined) out.temperature = body.temperature;
  if (body.top_p !== undefined) out.top_p = body.top_p;
  if (asksUsageChunk(body, plan)) out.stream_options = { include_usage: true };
  if (body.stream !== undefined) out.stream = body.stream;
  const user = obj(body.metadata)?.user_id;
  if (typeof user === 'string') out.user = chatUser(user);
  else if (body.metadata !== undefined) removed.push('metadata');
  // Function tools map one to one; Anthropic's own tools (web search, bash, the text editor…) have no counterpart.
  const tools = Array.isArray(body.tools) ? body.tools.map(obj).filter((t): t is Json => t !== undefined) : [];
  const functions = tools.filter((t) => t.type === undefined || t.type === 'custom');
  if (functions.length < tools.length) removed.push('tools');
  if (functions.length > 0) {
    out.tools = functions.map((t) => {
      const parameters = t.input_schema ?? { type: 'object' };
      // Claude's strict tool use is OpenAI's strict function calling, where the schema meets OpenAI's rules (it refuses one that does not).
      const strict = t.strict === true && meetsStrictRules(parameters) ? { strict: true } : {};
      return { type: 'function', function: { name: renamed.nameOf(t.name), ...(t.description !== undefined ? { description: t.description } : {}), parameters, ...strict } };
    });
    const choice = obj(body.tool_choice);
    if (choice) {
      const mapped = toolChoice(choice, renamed);
      out.tool_choice = mapped.choice;
      if (mapped.parallel === false) out.parallel_tool_calls = false;
    }
  } else if (body.tool_choice !== undefined) removed.push('tool_choice');
  const thinking = obj(body.thinking);
  // Only Claude's own kinds turn thinking on; another (Anthropic refuses it) is named removed, as one a model lacks.
  const thinks = thinking?.type === 'enabled' || thinking?.type === 'adaptive';
  if (body.thinking !== undefined && body.thinking !== null && !thinks && thinking?.type !== 'disabled') removed.push('thinking');
  // Claude's effort (Claude Code's /effort) is what OpenAI's reasoning effort means; a thinking budget says less.
  const config = obj(body.output_config);
  // A model that thinks unless told not to (DeepSeek's V4) is told either way the client asked: thinking it did not
  // ask for is slower, billed, and answered as thinking blocks. Its effort goes too: DeepSeek takes Claude's effort
  // names as they are (`max` is its deepest, above `high`), where OpenAI's stop at high.
  const switchable = plan.candidate.catalogModel?.thinkingSwitch === true;
  const claudeEffort = typeof config?.effort === 'string' && Object.hasOwn(CHAT_EFFORTS, config.effort) ? config.effort : undefined;
  const effort = claudeEffort !== undefined && !switchable ? CHAT_EFFORTS[claudeEffort] : claudeEffort;
  if (switchable && (thinks || thinking?.type === 'disabled')) out.thinking = { type: thinks ? 'enabled' : 'disabled' };
  const thinkingOff = switchable && thinking?.type === 'disabled';
  if ((thinks || effort !== undefined) && !thinkingOff && acceptsReasoningEffort(plan)) out.reasoning_effort = effort ?? effortFor(thinking!);
  else if (thinks) removed.push('thinking');
  // Claude's JSON outputs (`output_config.format`, or the beta's top-level `output_format`) are chat's json_schema
  // response_format: the model answers the JSON as its text either way.
  const format = jsonOutputFormat(config?.format) ?? jsonOutputFormat(body.output_format);
  if (format) out.response_format = format;
  if (body.output_format !== undefined && !jsonOutputFormat(body.output_format)) removed.push('output_format');
  const configLeft = Object.keys(config ?? {}).filter((key) => !(key === 'effort' && effort !== undefined && out.reasoning_effort !== undefined) && !(key === 'format' && jsonOutputFormat(config?.format)));
  if (body.output_config !== undefined && (config === undefined || configLeft.length > 0)) removed.push('output_config');
  const clientFields = { stop: 'stop_sequences', user: 'metadata', reasoning_effort: effort !== undefined ? 'output_config' : 'thinking' };
  return renamed.back.size > 0 ? { body: out, removed, toolNames: renamed.back, clientFields } : { body: out, removed, clientFields };
}

/** `{type: 'json_schema', schema}` (Claude's JSON outputs) as chat's response_format; undefined for anything else. */
function jsonOutputFormat(format: unknown): Json | undefined {
  const f = obj(format);
  const schema = obj(f?.schema);
  if (f?.type !== 'json_schema' || !schema) return undefined;
  // Claude's own rules ask additionalProperties: false too, but not every property listed as required.
  return jsonSchemaFormat(schema);
}

const STOP_REASONS: Readonly<Record<string, string>> = { stop: 'end_turn', length: 'max_tokens', tool_calls: 'tool_use', function_call: 'tool_use', content_filter: 'refusal' };

function stopReason(finish: unknown): string {
  return typeof finish === 'string' ? STOP_REASONS[finish] ?? 'end_turn' : 'end_turn';
}

/**
 * Messages' refusal (`stop_reason` "refusal") for a chat answer that refused: OpenAI's content filter, or a model
 * declining in chat's `refusal` field (OpenAI's structured outputs refuse so, `finish_reason` "stop") — Anthropic's
 * structured outputs tell a refusal the same way, by the stop reason, and a client checks it before parsing the text
 * as its schema. The output limit cutting the refusal short still says `max_tokens`.
 */
function refusalStop(stop: string, refused: boolean): string {
  return refused && stop !== 'max_tokens' ? 'refusal' : stop;
}

/** `stop_details` beside a stop reason: a refusal's, in no category Anthropic names (chat says none), else null. */
function stopDetails(stop: string): Json | null {
  return stop === 'refusal' ? { type: 'refusal', category: null, explanation: null } : null;
}

/**
 * An answer that calls tools stops for them (`tool_use`: the SDKs' tool loops run the calls only then), whatever
 * finish reason the provider gave (Google's endpoint says `stop`) — unless the output limit cut it.
 */
function stopWithCalls(stop: string): string {
  return stop === 'max_tokens' ? stop : 'tool_use';
}

/**
 * Chat usage → Messages usage, whose `input_tokens` leaves out cache reads. Read as the meter reads it
 * (formats/openai.ts), so the client is told what it is billed for: cache hits where DeepSeek and Kimi put them (top
 * level), reasoning that Gemini counts only in its total.
 */
function messagesUsage(usage: unknown): Json {
  const u = openaiUsage(usage);
  const cached = u?.cacheReadTokens ?? 0;
  const out: Json = { input_tokens: Math.max(0, (u?.inputTokens ?? 0) - cached), cache_creation_input_tokens: 0, cache_read_input_tokens: cached, output_tokens: u?.outputTokens ?? 0 };
  // Reasoning inside the output, as Claude reports its thinking (`output_tokens_details.thinking_tokens`).
  const reasoning = u?.reasoningTokens ?? 0;
  if (reasoning > 0) out.output_tokens_details = { thinking_tokens: reasoning };
  return out;
}

/** A tool_use block's id (uniqueCallId): `tool_result` blocks pair with their call by it. */
function toolUseId(id: unknown, base: string, index: number, used: Set<string>): string {
  return uniqueCallId(id, 'toolu_', base, index, used);
}

/**
 * The provider's completion id as a message id; one of ours when it gave none (a client may key a conversation's
 * messages by id: a shared placeholder would make every such answer the same message).
 */
function messageId(id: unknown): string {
  return `msg_${typeof id === 'string' && id !== '' ? id.replace(/^chatcmpl-/, '') : randomBase62(24)}`;
}

/** The model the provider named, else the one the client asked for (a server may name none). */
function modelName(model: unknown, scope: TranslationScope): string {
  if (typeof model === 'string' && model !== '') return model;
  const asked = scope.request?.model;
  return typeof asked === 'string' ? asked : '';
}


function answer(upstream: unknown, scope: TranslationScope): unknown {
  const chat = obj(upstream) ?? {};
  const choice = obj(Array.isArray(chat.choices) ? chat.choices[0] : undefined);
  const message = obj(choice?.message) ?? {};
  const content: Json[] = [];
  // The model's reasoning (DeepSeek's reasoning_content) first, as Claude's thinking comes; unsigned (UNSIGNED_THINKING).
  const thought = chatReasoning(message);
  if (thought !== '') content.push(thinkingBlock(thought));
  const text = chatText(message.content);
  if (text !== '') content.push({ type: 'text', text });
  if (typeof message.refusal === 'string' && message.refusal !== '') content.push({ type: 'text', text: message.refusal });
  const base = randomBase62(20);
  const used = new Set<string>();
  for (const [index, call] of (Array.isArray(message.tool_calls) ? message.tool_calls : []).entries()) {
    const fn = obj(obj(call)?.function);
    const name = clientToolName(fn?.name, scope.toolNames);
    content.push({ type: 'tool_use', id: toolUseId(obj(call)?.id, base, index, used), name, input: answerToolInput(fn?.arguments, name) });
  }
  const refused = typeof message.refusal === 'string' && message.refusal !== '';
  const stop = content.some((b) => b.type === 'tool_use') ? stopWithCalls(stopReason(choice?.finish_reason)) : refusalStop(stopReason(choice?.finish_reason), refused);
  return {
    id: messageId(chat.id), type: 'message', role: 'assistant', model: modelName(chat.model, scope), content, stop_reason: stop,
    // Fields the Anthropic SDK's Message type declares (nullable): strict validators expect them present.
    stop_sequence: null, stop_details: stopDetails(stop), container: null, usage: messagesUsage(chat.usage),
  };
}


/** A chat model's reasoning as a Messages thinking block: the SDK's type requires a signature, and there is none. */
function thinkingBlock(thinking: string): Json {
  return { type: 'thinking', thinking, signature: UNSIGNED_THINKING };
}

/** A provider's refusal (any shape) as Anthropic's error body, its status kept: the Anthropic SDK raises the class it knows for it. */
export function anthropicProviderError(status: number, upstream: string): string {
  return JSON.stringify({ type: 'error', error: { type: anthropicErrorType(status), message: providerMessage(upstream) } });
}

/**
 * A chat provider's stream error (`{"error": {…}}`) → the type Anthropic gives the same failure in its own stream,
 * where the SDKs and Claude Code tell a retryable overload or rate limit from a failure. The request's own fault
 * (a context-length refusal, vLLM's `"code": 400`) is `invalid_request_error`, as the same refusal answered before
 * the stream is: the stream opening relays it rather than fail over, and an agent must not retry it as an
 * `api_error`. Anything else, an out-of-credit account included, is `api_error`.
 */
function streamErrorType(error: Json): string {
  switch (providerErrorKind(error)) {
    case 'client-fault': return 'invalid_request_error';
    case 'rate-limited': return 'rate_limit_error';
    case 'overloaded': return 'overloaded_error';
    default: return 'api_error';
  }
}

function sse(type: string, data: Json): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
}

/** Chat completion chunks → Messages events: message_start, one content block per text run or tool call, message_delta, message_stop. */
class ChatToMessages extends FromChatStream {
  /** Index of the open content block, -1 when none; its kind. */
  #open = -1;
  #openKind: 'thinking' | 'text' | 'tool' | undefined;
  #blocks = 0;
  /** Chat's tool-call index → its content block's index. */
  #toolBlocks = new Map<number, number>();
  /** Each call's block index → the tool's name (the client's) and its arguments so far, checked at the close. */
  readonly #calls = new Map<number, { name: string; args: string }>();
  /** Calls whose name has not come yet: the block's start carries the name (the client's SDK takes it from there). */
  readonly #unnamed = new UnnamedCalls();
  /** Chat's index of the call whose block streams live: the first call to get a block. */
  #live: number | undefined;
  /** The other calls, by chat index in arrival order: sent whole (one block each) when the stream ends. */
  #held = new Map<number, { id: string | undefined; name: string; args: string }>();
  #stopReason = 'end_turn';
  /** The model refused in chat's `refusal` field (refusalStop). */
  #refused = false;
  #usage: Json | undefined;
  /** Makes the ids of calls the provider left without one, or with one taken (toolUseId). */
  readonly #base = randomBase62(20);
  readonly #usedIds = new Set<string>();
  readonly #scope: TranslationScope;
  /**
   * Text that came while a call's block was open, sent as a block of its own when the stream ends: closing the call's
   * block for it would leave the call's later argument pieces after its content_block_stop.
   */
  #pendingText = '';
  /** Reasoning that came while a call's block was open, sent as a thinking block when the stream ends (reasoning()). */
  #pendingReasoning = '';

  constructor(scope: TranslationScope) {
    super();
    this.#scope = scope;
  }

  protected started(chunk: Json): void {
    // Chat reports usage only at its end; Anthropic's clients read the input where Claude puts it, here (LangChain reads
    // nothing else): the gateway's estimate stands in, and message_delta carries the provider's exact counts.
    this.out += sse('message_start', { message: {
      id: messageId(chunk.id), type: 'message', role: 'assistant', model: modelName(chunk.model, this.#scope), content: [], stop_reason: null, stop_sequence: null, stop_details: null, container: null,
      usage: { input_tokens: this.#scope.inputTokens?.() ?? 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0 },
    } });
  }

  protected usage(usage: unknown): void {
    this.#usage = messagesUsage(usage);
  }

  /**
   * Reasoning streams as a thinking block, before the text and calls it leads to (as Claude's does). Reasoning
   * after a call's block opened (a server reasoning between its calls) is held as that text is, and sent as a
   * thinking block of its own after the call: the buffered answer has it, and DeepSeek wants it back with the turn.
   */
  protected override reasoning(piece: string): void {
    if (this.#openKind === 'tool') {
      this.kept += piece.length;
      this.#pendingReasoning += piece;
      return;
    }
    if (this.#openKind !== 'thinking') this.#startBlock('thinking', thinkingBlock(''));
    this.out += sse('content_block_delta', { index: this.#open, delta: { type: 'thinking_delta', thinking: piece } });
  }

  protected override refusal(piece: string): void {
    this.#refused = true;
    this.text(piece);
  }

  protected text(piece: string): void {
    // A call's block, once open, stays open to the end (later calls are held): its arguments may still come.
    if (this.#openKind === 'tool') {
      this.kept += piece.length;
      this.#pendingText += piece;
      return;
    }
    if (this.#openKind !== 'text') this.#startBlock('text', { type: 'text', text: '' });
    this.out += sse('content_block_delta', { index: this.#open, delta: { type: 'text_delta', text: piece } });
  }

  protected toolCall(call: Json): void {
    const at = typeof call.index === 'number' ? call.index : 0;
    const fn = obj(call.function);
    const index = this.#toolBlocks.get(at);
    // Messages streams one block at a time. A server interleaving its calls' chunks (call 0, call 1, call 0…) would
    // have a delta land after its block's stop, where a client finalising a call's input at the stop reads it cut
    // short: the first call streams live, and every other is held and sent whole when the stream ends.
    if (index === undefined && this.#live !== undefined) {
      this.#hold(at, call.id, fn);
      return;
    }
    if (index !== undefined) {
      this.#inputDelta(index, typeof fn?.arguments === 'string' ? fn.arguments : '');
      return;
    }
    const named = this.#unnamed.named(at, call);
    if (named) this.#inputDelta(this.#startToolBlock(at, named.id, named.name), named.args);
  }

  #inputDelta(index: number, piece: string): void {
    const call = this.#calls.get(index);
    if (call) call.args += piece;
    if (piece !== '') this.out += sse('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: piece } });
  }

  #startToolBlock(at: number, id: string | undefined, name: unknown): number {
    const named = clientToolName(name, this.#scope.toolNames) ?? '';
    this.#startBlock('tool', { type: 'tool_use', id: toolUseId(id, this.#base, at, this.#usedIds), name: named, input: {} });
    this.#toolBlocks.set(at, this.#open);
    this.#calls.set(this.#open, { name: typeof named === 'string' ? named : '', args: '' });
    if (this.#live === undefined) {
      this.#live = at;
      // Calls still waiting for their names are not live either.
      for (const [waitingAt, waiting] of this.#unnamed.take()) this.#hold(waitingAt, waiting.id, { arguments: waiting.args });
    }
    return this.#open;
  }

  #hold(at: number, id: unknown, fn: Json | undefined): void {
    let held = this.#held.get(at);
    if (!held) this.#held.set(at, (held = { id: undefined, name: '', args: '' }));
    if (typeof id === 'string') held.id = id;
    if (typeof fn?.name === 'string' && fn.name !== '' && held.name === '') held.name = fn.name;
    if (typeof fn?.arguments === 'string') held.args += fn.arguments;
  }

  protected finishReason(reason: string): void {
    this.#stopReason = stopReason(reason);
  }

  protected failed(error: Json): void {
    // The client's SDK raises on Anthropic's error event.
    this.out += sse('error', { error: { type: streamErrorType(error), message: typeof error.message === 'string' ? error.message : 'The provider failed.' } });
  }

  protected close(): void {
    // Reasoning and text held behind the live call's block: after it, before the held calls.
    if (this.#pendingReasoning !== '') {
      this.#startBlock('thinking', thinkingBlock(''));
      this.out += sse('content_block_delta', { index: this.#open, delta: { type: 'thinking_delta', thinking: this.#pendingReasoning } });
      this.#pendingReasoning = '';
    }
    if (this.#pendingText !== '') {
      this.#startBlock('text', { type: 'text', text: '' });
      this.out += sse('content_block_delta', { index: this.#open, delta: { type: 'text_delta', text: this.#pendingText } });
      this.#pendingText = '';
    }
    // A call still waiting for its name is a call all the same.
    for (const [at, waiting] of this.#unnamed.take()) this.#inputDelta(this.#startToolBlock(at, waiting.id, ''), waiting.args);
    for (const [at, held] of this.#held) this.#inputDelta(this.#startToolBlock(at, held.id, held.name), held.args);
    this.#closeBlock();
    // A call whose arguments are no input object (cut at the output limit): the SDK would hand the client what its
    // partial-JSON reader made of them. The stream ends with the error event instead of message_delta and message_stop.
    for (const call of this.#calls.values()) {
      const problem = toolArgumentsProblem(call.args);
      if (problem === undefined) continue;
      this.refused = invalidToolArguments(call.name, problem);
      return;
    }
    const stop = this.#toolBlocks.size > 0 ? stopWithCalls(this.#stopReason) : refusalStop(this.#stopReason, this.#refused);
    // Every field of Anthropic's message_delta delta, as the non-streamed answer has them: strict validators expect them.
    this.out += sse('message_delta', { delta: { stop_reason: stop, stop_sequence: null, stop_details: stopDetails(stop), container: null }, usage: this.#usage ?? { output_tokens: 0 } });
    this.out += sse('message_stop', {});
  }

  #startBlock(kind: 'thinking' | 'text' | 'tool', block: Json): void {
    this.#closeBlock();
    this.#open = this.#blocks++;
    this.#openKind = kind;
    this.out += sse('content_block_start', { index: this.#open, content_block: block });
  }

  #closeBlock(): void {
    if (this.#open < 0) return;
    this.out += sse('content_block_stop', { index: this.#open });
    this.#open = -1;
    this.#openKind = undefined;
  }
}

// Nothing of a Messages answer is referred back to later (nothing is stored): the scope gives the tools' names, the
// model asked for and the input estimate.
export const messagesViaChat: Translator = { request, answer, error: anthropicProviderError, stream: (scope) => new ChatToMessages(scope) };
